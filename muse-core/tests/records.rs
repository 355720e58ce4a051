//! Stored commit and snapshot records that are not what they must be are
//! integrity errors, never `Ok(None)`, never a panic (SPEC §3).

mod common;

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

use common::{make_commit, make_writable, new_repo, tree};
use muse_core::commits::{get_all_commits, list_commit_ids, load_commit, read_commit, write_commit};
use muse_core::ids::{blob_id, fake_id, hash_snapshot};
use muse_core::paths::{commit_path, snapshot_path};
use muse_core::records::{CommitRecord, SnapshotRecord, MAX_MSGPACK_BYTES};
use muse_core::snapshots::{has_snapshot, read_snapshot, write_snapshot};
use muse_core::Error;

fn stored_commit(root: &Path, msg: &str) -> (CommitRecord, PathBuf) {
    let rec = make_commit(None, None, msg, 7);
    assert!(write_commit(root, &rec, None).unwrap());
    let path = commit_path(root, &rec.commit_id).unwrap();
    (rec, path)
}

/// Replaces the content of a (read-only) record file.
fn overwrite(path: &Path, bytes: &[u8]) {
    make_writable(path);
    std::fs::write(path, bytes).unwrap();
}

fn assert_corrupt(what: &str, r: muse_core::Result<Option<CommitRecord>>) {
    match r {
        Err(Error::Corrupt { what: w, .. }) => assert_eq!(w, "commit record", "{what}"),
        other => panic!("{what}: expected Err(Corrupt), got {other:?}"),
    }
}

#[test]
fn a_valid_commit_round_trips_and_an_absent_one_is_none() {
    let (_tmp, root) = new_repo(true);
    let mut rec = make_commit(Some(&fake_id("p1")), Some(&fake_id("p2")), "merge", 9);
    rec.metadata.insert("k".into(), "v".into());
    rec.breaking_changes.push("dropped x".into());
    rec.sem_ver_bump = "major".into();
    rec.agent_id = "agent".into();
    assert!(write_commit(&root, &rec, None).unwrap());
    assert!(!write_commit(&root, &rec, None).unwrap(), "second write is a no-op");
    assert_eq!(read_commit(&root, &rec.commit_id).unwrap(), Some(rec.clone()));
    assert_eq!(read_commit(&root, &fake_id("absent")).unwrap(), None);
    assert!(matches!(load_commit(&root, &fake_id("absent")), Err(Error::NotFound { .. })));
    assert_eq!(get_all_commits(&root).unwrap(), vec![rec]);
}

#[test]
fn a_truncated_commit_record_is_corrupt() {
    let (_tmp, root) = new_repo(true);
    let (rec, path) = stored_commit(&root, "to be truncated");
    let full = std::fs::read(&path).unwrap();
    make_writable(&path);
    let f = OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(full.len() as u64 / 2).unwrap();
    drop(f);
    assert_corrupt("half", read_commit(&root, &rec.commit_id));
    assert!(matches!(load_commit(&root, &rec.commit_id), Err(Error::Corrupt { .. })));
    assert!(matches!(get_all_commits(&root), Err(Error::Corrupt { .. })));
    // Every other truncation length, including empty, is corrupt too.
    for len in 0..full.len() {
        overwrite(&path, &full[..len]);
        assert_corrupt(&format!("truncated to {len}"), read_commit(&root, &rec.commit_id));
    }
}

#[test]
fn corrupt_bytes_in_a_commit_record_are_corrupt() {
    let (_tmp, root) = new_repo(true);
    let (rec, path) = stored_commit(&root, "hello world");
    let full = std::fs::read(&path).unwrap();
    // Garbage.
    overwrite(&path, b"\xff\x00 this is not msgpack \x13\x37");
    assert_corrupt("garbage", read_commit(&root, &rec.commit_id));
    assert!(matches!(get_all_commits(&root), Err(Error::Corrupt { .. })));
    // One changed character in a hashed field (the message).
    let pos = full.windows(11).position(|w| w == b"hello world").unwrap();
    let mut bytes = full.clone();
    bytes[pos] = b'j';
    overwrite(&path, &bytes);
    assert_corrupt("flipped message byte", read_commit(&root, &rec.commit_id));
    // Invalid UTF-8 in a string.
    bytes[pos] = 0xff;
    overwrite(&path, &bytes);
    assert_corrupt("invalid utf-8", read_commit(&root, &rec.commit_id));
    // Every single-byte change either is detected, or leaves a record whose
    // hashed fields still verify; none panics and none reads as absent.
    for i in 0..full.len() {
        for mask in [0x01u8, 0x80, 0xff] {
            let mut bytes = full.clone();
            bytes[i] ^= mask;
            overwrite(&path, &bytes);
            match read_commit(&root, &rec.commit_id) {
                Err(Error::Corrupt { .. }) => {}
                Ok(Some(back)) => {
                    assert_eq!(back.compute_id(), rec.commit_id, "byte {i} ^ {mask:#x}");
                    assert_eq!(back.commit_id, rec.commit_id);
                }
                other => panic!("byte {i} ^ {mask:#x}: {other:?}"),
            }
        }
    }
}

/// Appending bytes after the record's msgpack map does not make it
/// unreadable: rmp-serde's `from_slice` ignores trailing input.
#[test]
// (was ignored as a bug; fixed)
fn trailing_garbage_after_a_commit_record_is_corrupt() {
    let (_tmp, root) = new_repo(true);
    let (rec, path) = stored_commit(&root, "tail");
    let mut bytes = std::fs::read(&path).unwrap();
    let good_len = bytes.len() as u64;
    bytes.extend_from_slice(b"\x00garbage appended by a broken copy");
    overwrite(&path, &bytes);
    assert_corrupt("trailing garbage", read_commit(&root, &rec.commit_id));
    // A zero-filled tail (what a file extended but not written looks like).
    let f = OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(good_len).unwrap();
    f.set_len(good_len + 4096).unwrap();
    drop(f);
    assert_corrupt("zero-filled tail", read_commit(&root, &rec.commit_id));
}

/// Builds a msgpack map `{key: value}` of short strings by hand.
fn fixmap(entries: &[(&str, MsgVal)]) -> Vec<u8> {
    let mut out = vec![0x80 | entries.len() as u8];
    for (k, v) in entries {
        push_str(&mut out, k);
        match v {
            MsgVal::Str(s) => push_str(&mut out, s),
            MsgVal::Int(i) => out.push(*i),
            MsgVal::Nil => out.push(0xc0),
            MsgVal::Array0 => out.push(0x90),
        }
    }
    out
}

enum MsgVal {
    Str(String),
    Int(u8),
    Nil,
    Array0,
}

fn push_str(out: &mut Vec<u8>, s: &str) {
    assert!(s.len() < 256);
    out.push(0xd9);
    out.push(s.len() as u8);
    out.extend_from_slice(s.as_bytes());
}

#[test]
fn a_msgpack_value_of_the_wrong_shape_is_corrupt() {
    let (_tmp, root) = new_repo(true);
    let (rec, path) = stored_commit(&root, "shape");
    let id = rec.commit_id.clone();
    let s = |v: &str| MsgVal::Str(v.to_string());
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty map", vec![0x80]),
        ("empty array", vec![0x90]),
        ("an integer", vec![0x07]),
        ("nil", vec![0xc0]),
        ("a string", { let mut v = Vec::new(); push_str(&mut v, &id); v }),
        ("map without snapshot_id", fixmap(&[("commit_id", s(&id)), ("committed_at", s(&rec.committed_at))])),
        ("map with an integer commit_id", fixmap(&[
            ("commit_id", MsgVal::Int(5)),
            ("snapshot_id", s(&rec.snapshot_id)),
            ("committed_at", s(&rec.committed_at)),
        ])),
        ("map with nil commit_id", fixmap(&[
            ("commit_id", MsgVal::Nil),
            ("snapshot_id", s(&rec.snapshot_id)),
            ("committed_at", s(&rec.committed_at)),
        ])),
        ("map with an array snapshot_id", fixmap(&[
            ("commit_id", s(&id)),
            ("snapshot_id", MsgVal::Array0),
            ("committed_at", s(&rec.committed_at)),
        ])),
        ("map whose metadata is a string", fixmap(&[
            ("commit_id", s(&id)),
            ("snapshot_id", s(&rec.snapshot_id)),
            ("committed_at", s(&rec.committed_at)),
            ("metadata", s("nope")),
        ])),
        // Well-formed but its fields do not hash to its ID (message dropped).
        ("map whose fields do not hash", fixmap(&[
            ("commit_id", s(&id)),
            ("snapshot_id", s(&rec.snapshot_id)),
            ("committed_at", s(&rec.committed_at)),
        ])),
        // A snapshot record in the commit's place.
        ("a snapshot record", SnapshotRecord::new(BTreeMap::new()).to_msgpack().unwrap()),
    ];
    for (what, bytes) in cases {
        overwrite(&path, &bytes);
        assert_corrupt(what, read_commit(&root, &id));
        assert!(matches!(get_all_commits(&root), Err(Error::Corrupt { .. })), "get_all_commits, {what}");
    }
}

#[test]
fn a_record_stored_under_another_commits_name_is_corrupt() {
    let (_tmp, root) = new_repo(true);
    let (a, a_path) = stored_commit(&root, "a");
    let (b, b_path) = stored_commit(&root, "b");
    let b_bytes = std::fs::read(&b_path).unwrap();
    overwrite(&a_path, &b_bytes);
    match read_commit(&root, &a.commit_id) {
        Err(Error::Corrupt { path, detail, .. }) => {
            assert_eq!(path, a_path);
            assert!(detail.contains(&b.commit_id), "{detail}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    // b itself is fine; the listing as a whole is not.
    assert_eq!(read_commit(&root, &b.commit_id).unwrap(), Some(b));
    assert!(matches!(get_all_commits(&root), Err(Error::Corrupt { .. })));
}

#[test]
fn an_oversized_commit_record_is_too_large_and_not_read() {
    let (_tmp, root) = new_repo(true);
    let (rec, path) = stored_commit(&root, "big");
    make_writable(&path);
    let f = OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(MAX_MSGPACK_BYTES + 1).unwrap(); // sparse
    drop(f);
    match read_commit(&root, &rec.commit_id) {
        Err(Error::TooLarge { size, limit, path: p, .. }) => {
            assert_eq!(size, MAX_MSGPACK_BYTES + 1);
            assert_eq!(limit, MAX_MSGPACK_BYTES);
            assert_eq!(p, path);
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    assert!(matches!(get_all_commits(&root), Err(Error::TooLarge { .. })));
    // Exactly at the limit is read (and then fails to decode: all zeros).
    let f = OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(0).unwrap();
    f.set_len(MAX_MSGPACK_BYTES).unwrap();
    drop(f);
    assert!(matches!(read_commit(&root, &rec.commit_id), Err(Error::Corrupt { .. })));
}

#[test]
fn get_all_commits_reports_the_one_bad_record_among_many_and_skips_non_records() {
    let (_tmp, root) = new_repo(true);
    let ids = common::chain(&root, None, 200, "many", 0);
    // Files that are not `<hex>.msgpack` are not commits.
    let dir = root.join(".muse/commits");
    std::fs::write(dir.join("README"), "x").unwrap();
    std::fs::write(dir.join(".muse-tmp-abc"), "partial").unwrap();
    std::fs::write(dir.join(format!("{}.msgpack", "A".repeat(64))), "x").unwrap();
    assert_eq!(list_commit_ids(&root).unwrap().len(), 200);
    assert_eq!(get_all_commits(&root).unwrap().len(), 200);
    // One bad record makes the whole listing fail.
    let victim = commit_path(&root, &ids[137]).unwrap();
    overwrite(&victim, b"\x80");
    assert!(matches!(get_all_commits(&root), Err(Error::Corrupt { .. })));
}

#[test]
fn snapshot_roundtrip() {
    let (_tmp, root) = new_repo(true);
    let manifest: BTreeMap<String, String> = [
        ("a.txt", blob_id(b"a")),
        ("dir/b.txt", blob_id(b"b")),
        ("dir with space/ü.txt", blob_id(b"c")),
        (".museignore", blob_id(b"d")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let rec = SnapshotRecord::new(manifest.clone());
    assert_eq!(rec.snapshot_id, hash_snapshot(manifest.iter().map(|(k, v)| (k.as_str(), v.as_str()))));
    assert!(write_snapshot(&root, &rec, None).unwrap());
    assert!(!write_snapshot(&root, &rec, None).unwrap());
    assert!(has_snapshot(&root, &rec.snapshot_id).unwrap());
    let back = read_snapshot(&root, &rec.snapshot_id).unwrap().unwrap();
    assert_eq!(back.manifest, manifest);
    assert_eq!(back.snapshot_id, rec.snapshot_id);
    assert_eq!(back.created_at, rec.created_at);
    // The empty snapshot.
    let empty = SnapshotRecord::new(BTreeMap::new());
    assert_eq!(empty.snapshot_id, blob_id(b""));
    write_snapshot(&root, &empty, None).unwrap();
    assert!(read_snapshot(&root, &empty.snapshot_id).unwrap().unwrap().manifest.is_empty());
    assert_eq!(read_snapshot(&root, &fake_id("absent")).unwrap(), None);
}

#[test]
fn a_snapshot_whose_manifest_does_not_hash_to_its_id_is_refused() {
    let (tmp, root) = new_repo(true);
    let before = tree(tmp.path());
    let mut rec = SnapshotRecord::new(BTreeMap::from([("a.txt".to_string(), blob_id(b"a"))]));
    let real = rec.snapshot_id.clone();
    rec.manifest.insert("b.txt".into(), blob_id(b"b"));
    match write_snapshot(&root, &rec, None) {
        Err(Error::HashMismatch { what, expected, actual }) => {
            assert_eq!(what, "snapshot");
            assert_eq!(expected, real);
            assert_eq!(actual, rec.compute_id());
        }
        other => panic!("expected HashMismatch, got {other:?}"),
    }
    let mut rec2 = SnapshotRecord::new(BTreeMap::new());
    rec2.snapshot_id = fake_id("not the empty manifest");
    assert!(matches!(write_snapshot(&root, &rec2, None), Err(Error::HashMismatch { .. })));
    assert_eq!(tree(tmp.path()), before);
    assert_eq!(read_snapshot(&root, &real).unwrap(), None);
}

#[test]
fn unsafe_manifest_paths_are_invalid_paths_and_nothing_is_written() {
    let (tmp, root) = new_repo(true);
    let before = tree(tmp.path());
    for bad in ["../x", "/etc/passwd", "a//b", ".muse/HEAD", ".muse", "a/../b", "./a", "a/", "", "a\0b", "a\\b", "a/."] {
        // The ID is right for the manifest, so only the path is wrong.
        let rec = SnapshotRecord::new(BTreeMap::from([
            ("ok.txt".to_string(), blob_id(b"ok")),
            (bad.to_string(), blob_id(b"x")),
        ]));
        match write_snapshot(&root, &rec, None) {
            Err(Error::InvalidPath { path, .. }) => assert_eq!(path, bad),
            other => panic!("{bad:?}: expected InvalidPath, got {other:?}"),
        }
        let mut batch = muse_core::batch::Batch::begin(&root).unwrap();
        assert!(matches!(batch.write_snapshot(&rec), Err(Error::InvalidPath { .. })), "batch, {bad:?}");
        batch.abort();
    }
    let mut after = tree(tmp.path());
    after.remove("repo/.muse/tmp/");
    assert_eq!(after, before);
}

#[test]
fn a_corrupt_stored_snapshot_is_corrupt() {
    let (_tmp, root) = new_repo(true);
    let a = SnapshotRecord::new(BTreeMap::from([("a".to_string(), blob_id(b"a"))]));
    let b = SnapshotRecord::new(BTreeMap::from([("b".to_string(), blob_id(b"b"))]));
    write_snapshot(&root, &a, None).unwrap();
    write_snapshot(&root, &b, None).unwrap();
    let path = snapshot_path(&root, &a.snapshot_id).unwrap();
    let good = std::fs::read(&path).unwrap();
    let check = |what: &str| match read_snapshot(&root, &a.snapshot_id) {
        Err(Error::Corrupt { .. }) => {}
        other => panic!("{what}: expected Corrupt, got {other:?}"),
    };
    overwrite(&path, &good[..good.len() / 2]);
    check("truncated");
    overwrite(&path, b"\x93\x01\x02\x03");
    check("array");
    overwrite(&path, &std::fs::read(snapshot_path(&root, &b.snapshot_id).unwrap()).unwrap());
    check("another snapshot's record");
    // Same ID field, tampered manifest.
    let mut tampered = a.clone();
    tampered.manifest.insert("a".into(), blob_id(b"evil"));
    overwrite(&path, &tampered.to_msgpack().unwrap());
    check("tampered manifest");
    let f = OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(MAX_MSGPACK_BYTES + 1).unwrap();
    drop(f);
    assert!(matches!(read_snapshot(&root, &a.snapshot_id), Err(Error::TooLarge { .. })));
}
