//! MPack bundles (SPEC §7): round trips, `have` negotiation, idempotence,
//! and one test per lie a hostile bundle can tell — each must end in a
//! clear error naming the bad entry, with nothing new under `.muse/`.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{new_repo, tree, ts};
use muse_core::commits::{read_commit, write_commit};
use muse_core::ids::{blob_id, fake_id, hash_snapshot};
use muse_core::mpack::{
    apply_mpack, build_mpack, decode_mpack, encode_mpack, ApplyStats, Limits, MPack, MPackBlob, SnapshotDelta,
    MPACK_FORMAT_VERSION,
};
use muse_core::object_store::{has_object, read_object, write_object};
use muse_core::records::{CommitRecord, SnapshotRecord};
use muse_core::refs::{list_branches, read_branch_ref, write_branch_ref};
use muse_core::snapshots::{read_snapshot, write_snapshot};
use muse_core::{Error, ErrorKind};

type Manifest = BTreeMap<String, String>;

/// One commit of a test history.
#[derive(Clone, Debug)]
struct Made {
    commit: String,
    snapshot: String,
    manifest: Manifest,
}

/// Writes one commit with `manifest` (blobs must be stored) on `parents`.
fn write_one(root: &Path, parents: &[&str], manifest: &Manifest, message: &str, secs: u32) -> Made {
    let rec = SnapshotRecord::new(manifest.clone());
    write_snapshot(root, &rec, None).unwrap();
    let mut c = CommitRecord {
        branch: "main".into(),
        snapshot_id: rec.snapshot_id.clone(),
        message: message.into(),
        committed_at: ts(secs),
        parent_commit_id: parents.first().map(|s| s.to_string()),
        parent2_commit_id: parents.get(1).map(|s| s.to_string()),
        author: "tester".into(),
        ..Default::default()
    };
    c.commit_id = c.compute_id();
    write_commit(root, &c, None).unwrap();
    Made { commit: c.commit_id, snapshot: rec.snapshot_id, manifest: manifest.clone() }
}

fn put_blob(root: &Path, content: &[u8]) -> String {
    let id = blob_id(content);
    write_object(root, &id, content, None).unwrap();
    id
}

/// A chain of `n` commits on top of `parent` (or a root with 5 files):
/// commit `i` changes one file, every third adds a file, which the commit
/// two later removes (exercising `delta_remove`).
fn chain(root: &Path, parent: Option<&Made>, n: usize, label: &str, start_secs: u32) -> Vec<Made> {
    let mut manifest: Manifest = match parent {
        Some(p) => p.manifest.clone(),
        None => (0..5)
            .map(|i| (format!("dir/f{i}.txt"), put_blob(root, format!("{label} base {i}\n").as_bytes())))
            .collect(),
    };
    let mut prev = parent.map(|p| p.commit.clone());
    let mut out = Vec::new();
    for i in 0..n {
        if i > 0 || parent.is_some() {
            let id = put_blob(root, format!("{label} change {i}\n").repeat(3).as_bytes());
            manifest.insert(format!("dir/f{}.txt", i % 5), id);
            if i % 3 == 0 {
                let id = put_blob(root, format!("{label} extra {i}\n").as_bytes());
                manifest.insert(format!("extra/{label}-{i}.txt"), id);
            }
            if i % 3 == 2 {
                manifest.remove(&format!("extra/{label}-{}.txt", i - 2));
            }
        }
        let parents: Vec<&str> = prev.iter().map(String::as_str).collect();
        let made = write_one(root, &parents, &manifest, &format!("{label}-{i}"), start_secs + i as u32);
        prev = Some(made.commit.clone());
        out.push(made);
    }
    out
}

fn s(x: &str) -> String {
    x.to_string()
}

/// Asserts that `m` is refused by `apply_mpack` into `root` with an error
/// whose message contains `needle`, and that nothing under `.muse/`
/// changed (no file, no directory, no ref). Returns the error.
fn assert_refused(root: &Path, m: &MPack, needle: &str) -> Error {
    let before = tree(&root.join(".muse"));
    let branches = list_branches(root).unwrap();
    let err = apply_mpack(root, m, &Limits::default()).expect_err("a lying bundle was accepted");
    let msg = err.to_string();
    assert!(msg.contains(needle), "error {msg:?} does not mention {needle:?}");
    assert_eq!(tree(&root.join(".muse")), before, "a refused bundle changed .muse/ ({msg})");
    assert_eq!(list_branches(root).unwrap(), branches);
    err
}

/// A fully consistent one-commit bundle of `files` (hashes all right), so
/// that the only lie is whatever the test puts in the paths.
fn forge(files: &[(&str, &[u8])]) -> MPack {
    let mut manifest = Manifest::new();
    let mut blobs = Vec::new();
    for (path, content) in files {
        let id = blob_id(content);
        manifest.insert(path.to_string(), id.clone());
        if !blobs.iter().any(|b: &MPackBlob| b.blob_id == id) {
            blobs.push(MPackBlob { blob_id: id, content: content.to_vec() });
        }
    }
    let sid = hash_snapshot(manifest.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let mut c = CommitRecord {
        snapshot_id: sid.clone(),
        message: "forged".into(),
        committed_at: ts(1),
        author: "mallory".into(),
        ..Default::default()
    };
    c.commit_id = c.compute_id();
    MPack {
        version: MPACK_FORMAT_VERSION,
        commits: vec![c.clone()],
        snapshots: vec![SnapshotDelta {
            snapshot_id: sid,
            parent_snapshot_id: None,
            delta_upsert: manifest,
            delta_remove: vec![],
        }],
        blobs,
        branch_heads: [(s("main"), c.commit_id)].into(),
    }
}

/// Source repository with a 12-commit chain on `main`.
fn source(n: usize) -> (tempfile::TempDir, PathBuf, Vec<Made>) {
    let (dir, root) = new_repo(true);
    let made = chain(&root, None, n, "a", 0);
    write_branch_ref(&root, "main", &made.last().unwrap().commit).unwrap();
    (dir, root, made)
}

fn build_all(root: &Path, tip: &str) -> MPack {
    build_mpack(root, &[s(tip)], &[]).unwrap()
}

/// Every commit, snapshot and blob of `made` is readable (and verified) in
/// `root`, with the same manifests.
fn assert_has_all(root: &Path, made: &[Made]) {
    for m in made {
        assert!(read_commit(root, &m.commit).unwrap().is_some(), "commit {} missing", m.commit);
        let snap = read_snapshot(root, &m.snapshot).unwrap().expect("snapshot missing");
        assert_eq!(snap.manifest, m.manifest);
        for oid in m.manifest.values() {
            read_object(root, oid).unwrap();
        }
    }
}

// ---------------------------------------------------------------------------
// build / round trips
// ---------------------------------------------------------------------------

#[test]
fn build_emits_deltas_parents_first_and_reconstructs_every_snapshot() {
    let (_d, a, made) = source(12);
    let m = build_all(&a, &made[11].commit);
    assert_eq!(m.version, MPACK_FORMAT_VERSION);
    let ids: Vec<&str> = m.commits.iter().map(|c| c.commit_id.as_str()).collect();
    let want: Vec<&str> = made.iter().map(|x| x.commit.as_str()).collect();
    assert_eq!(ids, want, "commits oldest first");
    assert_eq!(m.snapshots.len(), 12);
    assert_eq!(m.snapshots[0].parent_snapshot_id, None);
    assert_eq!(m.snapshots[0].delta_upsert, made[0].manifest, "root entry carries the full manifest");
    // Reconstruct like the seed suite does.
    let mut resolved: BTreeMap<String, Manifest> = BTreeMap::new();
    for (i, e) in m.snapshots.iter().enumerate() {
        let mut base = e.parent_snapshot_id.as_ref().map(|p| resolved[p].clone()).unwrap_or_default();
        if i > 0 {
            assert_eq!(e.parent_snapshot_id.as_deref(), Some(made[i - 1].snapshot.as_str()));
            assert!(e.delta_upsert.len() <= 2, "entry {i}: {:?}", e.delta_upsert);
        }
        base.extend(e.delta_upsert.clone());
        for p in &e.delta_remove {
            base.remove(p);
        }
        assert_eq!(hash_snapshot(base.iter().map(|(k, v)| (k.as_str(), v.as_str()))), e.snapshot_id);
        assert_eq!(base, made[i].manifest);
        resolved.insert(e.snapshot_id.clone(), base);
    }
    assert!(m.snapshots.iter().any(|e| !e.delta_remove.is_empty()), "history exercises delta_remove");
    // Every blob once, each the one its ID names.
    let all: BTreeSet<&String> = made.iter().flat_map(|x| x.manifest.values()).collect();
    let sent: BTreeSet<&String> = m.blobs.iter().map(|b| &b.blob_id).collect();
    assert_eq!(sent, all);
    assert_eq!(m.blobs.len(), sent.len());
    assert_eq!(m.branch_heads, [(s("main"), made[11].commit.clone())].into());
}

/// The seed suite's `test_mpack_delta.py` shape (50 files, 100 commits,
/// one file changed per commit): one entry per commit, small deltas, and
/// delta entries under 10% of the full manifests' wire size.
#[test]
fn seed_shaped_chain_is_delta_encoded_and_small() {
    let (_d, a) = new_repo(true);
    let base: Manifest = (0..50)
        .map(|i| (format!("file_{i:04}.txt"), put_blob(&a, format!("base-{i:04}{}", "x".repeat(256)).as_bytes())))
        .collect();
    let mut parent: Option<String> = None;
    let mut sids = Vec::new();
    for i in 0..100 {
        let mut m = base.clone();
        m.insert(format!("file_{:04}.txt", i % 50), put_blob(&a, format!("commit-{i:05}-variant").as_bytes()));
        let parents: Vec<&str> = parent.iter().map(String::as_str).collect();
        let made = write_one(&a, &parents, &m, &format!("c{i:05}"), i);
        sids.push(made.snapshot);
        parent = Some(made.commit);
    }
    let m = build_all(&a, parent.as_deref().unwrap());
    assert_eq!(m.snapshots.len(), 100);
    assert_eq!(m.snapshots[0].delta_upsert.len(), 50);
    assert!(m.snapshots[1..].iter().all(|e| e.delta_upsert.len() <= 2));
    let delta: usize = m.snapshots.iter().map(|e| rmp_serde::to_vec(e).unwrap().len()).sum();
    let full: usize = sids
        .iter()
        .map(|sid| {
            let manifest = read_snapshot(&a, sid).unwrap().unwrap().manifest;
            let mut map = BTreeMap::new();
            map.insert("snapshot_id", rmpv::Value::from(sid.as_str()));
            map.insert("manifest", rmpv::ext::to_value(&manifest).unwrap());
            rmp_serde::to_vec(&map).unwrap().len()
        })
        .sum();
    assert!((delta as f64) / (full as f64) < 0.10, "delta {delta} vs full {full}");
    let (_e, b) = new_repo(true);
    assert_eq!(apply_mpack(&b, &m, &Limits::default()).unwrap().snapshots_written, 100);
    for sid in &sids {
        let snap = read_snapshot(&b, sid).unwrap().unwrap();
        assert_eq!(&hash_snapshot(snap.manifest.iter().map(|(k, v)| (k.as_str(), v.as_str()))), sid);
    }
}

#[test]
fn wire_form_is_a_string_keyed_map_without_manifest_keys_and_bin_content() {
    let (_d, a, made) = source(3);
    let m = build_all(&a, &made[2].commit);
    let bytes = encode_mpack(&m).unwrap();
    let v = rmpv::decode::read_value(&mut &bytes[..]).unwrap();
    let map = v.as_map().expect("a map");
    let keys: Vec<&str> = map.iter().map(|(k, _)| k.as_str().unwrap()).collect();
    assert_eq!(keys, ["version", "commits", "snapshots", "blobs", "branch_heads"]);
    let get = |k: &str| map.iter().find(|(kk, _)| kk.as_str() == Some(k)).map(|(_, v)| v).unwrap();
    assert_eq!(get("version").as_u64(), Some(1));
    for e in get("snapshots").as_array().unwrap() {
        let keys: Vec<&str> = e.as_map().unwrap().iter().map(|(k, _)| k.as_str().unwrap()).collect();
        assert_eq!(keys, ["snapshot_id", "parent_snapshot_id", "delta_upsert", "delta_remove"]);
    }
    assert!(get("snapshots").as_array().unwrap()[0].as_map().unwrap()[1].1.is_nil());
    for b in get("blobs").as_array().unwrap() {
        assert!(matches!(b.as_map().unwrap()[1].1, rmpv::Value::Binary(_)));
    }
    // rmpv::Value round trip (the Python binding's path) and bytes round trip.
    let back: MPack = rmpv::ext::from_value(rmpv::ext::to_value(&m).unwrap()).unwrap();
    assert_eq!(back, m);
    assert_eq!(decode_mpack(&bytes, &Limits::default()).unwrap(), m);
    // A map without "version" reads as version 1.
    let mut no_version = v.clone();
    if let rmpv::Value::Map(entries) = &mut no_version {
        entries.retain(|(k, _)| k.as_str() != Some("version"));
    }
    let mut raw = Vec::new();
    rmpv::encode::write_value(&mut raw, &no_version).unwrap();
    assert_eq!(decode_mpack(&raw, &Limits::default()).unwrap(), m);
}

#[test]
fn round_trip_into_an_empty_repository() {
    let (_d, a, made) = source(12);
    let tip = &made[11].commit;
    let bytes = encode_mpack(&build_all(&a, tip)).unwrap();
    let m = decode_mpack(&bytes, &Limits::default()).unwrap();
    let (_e, b) = new_repo(true);
    let stats = apply_mpack(&b, &m, &Limits::default()).unwrap();
    assert_eq!(
        stats,
        ApplyStats {
            commits_written: 12,
            snapshots_written: 12,
            blobs_written: m.blobs.len(),
            blobs_skipped: 0,
            branch_heads: [(s("main"), tip.clone())].into(),
        }
    );
    assert_has_all(&b, &made);
    assert_eq!(read_branch_ref(&b, "main").unwrap(), None, "apply moves no ref");
    assert!(
        !b.join(".muse/tmp").exists() || std::fs::read_dir(b.join(".muse/tmp")).unwrap().next().is_none(),
        "the batch left its staging directory"
    );
}

#[test]
fn applying_the_same_bundle_twice_writes_nothing_the_second_time() {
    let (_d, a, made) = source(8);
    let m = build_all(&a, &made[7].commit);
    let (_e, b) = new_repo(true);
    let first = apply_mpack(&b, &m, &Limits::default()).unwrap();
    assert_eq!((first.commits_written, first.snapshots_written), (8, 8));
    let before = tree(&b.join(".muse"));
    let second = apply_mpack(&b, &m, &Limits::default()).unwrap();
    assert_eq!((second.commits_written, second.snapshots_written, second.blobs_written), (0, 0, 0));
    assert_eq!(second.blobs_skipped, m.blobs.len());
    assert_eq!(tree(&b.join(".muse")), before);
    // Applying into the source itself is a no-op too.
    let again = apply_mpack(&a, &m, &Limits::default()).unwrap();
    assert_eq!((again.commits_written, again.snapshots_written, again.blobs_written), (0, 0, 0));
}

#[test]
fn have_negotiation_sends_only_what_the_receiver_lacks() {
    let (_d, a, made) = source(10);
    let (_e, b) = new_repo(true);
    // B gets the first half.
    let half = build_mpack(&a, &[made[4].commit.clone()], &[]).unwrap();
    assert_eq!(half.commits.len(), 5);
    apply_mpack(&b, &half, &Limits::default()).unwrap();
    // The rest, negotiated against B's tip.
    let rest = build_mpack(&a, &[made[9].commit.clone()], &[made[4].commit.clone()]).unwrap();
    let ids: Vec<&str> = rest.commits.iter().map(|c| c.commit_id.as_str()).collect();
    let want: Vec<&str> = made[5..].iter().map(|x| x.commit.as_str()).collect();
    assert_eq!(ids, want, "only the new commits");
    assert_eq!(rest.snapshots.len(), 5);
    assert_eq!(rest.snapshots[0].parent_snapshot_id.as_deref(), Some(made[4].snapshot.as_str()));
    assert!(rest.snapshots.iter().all(|e| e.delta_upsert.len() <= 2), "deltas, even at the boundary");
    for blob in &rest.blobs {
        assert!(!has_object(&b, &blob.blob_id).unwrap(), "sent blob {} that B has", blob.blob_id);
    }
    let lacking: BTreeSet<&String> =
        made[5..].iter().flat_map(|x| x.manifest.values()).filter(|oid| !has_object(&b, oid).unwrap()).collect();
    let sent: BTreeSet<&String> = rest.blobs.iter().map(|x| &x.blob_id).collect();
    assert_eq!(sent, lacking, "exactly the blobs B lacks");
    let stats = apply_mpack(&b, &rest, &Limits::default()).unwrap();
    assert_eq!((stats.commits_written, stats.snapshots_written, stats.blobs_skipped), (5, 5, 0));
    assert_has_all(&b, &made);
    // Nothing left to send.
    let none = build_mpack(&a, &[made[9].commit.clone()], &[made[9].commit.clone()]).unwrap();
    assert!(none.commits.is_empty() && none.snapshots.is_empty() && none.blobs.is_empty());
    // Unknown `have` IDs are ignored.
    let all = build_mpack(&a, &[made[9].commit.clone()], &[fake_id("unknown to A")]).unwrap();
    assert_eq!(all.commits.len(), 10);
}

#[test]
fn have_negotiation_across_a_merge() {
    let (_d, a) = new_repo(true);
    let root = chain(&a, None, 1, "r", 0).remove(0);
    let main = chain(&a, Some(&root), 3, "m", 100);
    let side = chain(&a, Some(&root), 3, "s", 200);
    let mut merged = main[2].manifest.clone();
    merged.extend(side[2].manifest.clone());
    merged.insert(s("MERGED"), put_blob(&a, b"resolved"));
    let merge = write_one(&a, &[&main[2].commit, &side[2].commit], &merged, "merge", 300);
    write_branch_ref(&a, "main", &merge.commit).unwrap();
    write_branch_ref(&a, "side", &side[2].commit).unwrap();
    let (_e, b) = new_repo(true);
    apply_mpack(&b, &build_mpack(&a, &[main[2].commit.clone()], &[]).unwrap(), &Limits::default()).unwrap();
    let m = build_mpack(&a, std::slice::from_ref(&merge.commit), std::slice::from_ref(&main[2].commit)).unwrap();
    let ids: Vec<&str> = m.commits.iter().map(|c| c.commit_id.as_str()).collect();
    assert_eq!(ids, [&side[0].commit, &side[1].commit, &side[2].commit, &merge.commit].map(String::as_str));
    // The side chain's first entry is a delta against the root's snapshot,
    // which B has; the merge's against main's tip (its first parent).
    assert_eq!(m.snapshots[0].parent_snapshot_id.as_deref(), Some(root.snapshot.as_str()));
    assert_eq!(m.snapshots[3].parent_snapshot_id.as_deref(), Some(main[2].snapshot.as_str()));
    for blob in &m.blobs {
        assert!(!has_object(&b, &blob.blob_id).unwrap());
    }
    assert_eq!(m.branch_heads, [(s("main"), merge.commit.clone())].into());
    let stats = apply_mpack(&b, &m, &Limits::default()).unwrap();
    assert_eq!(stats.commits_written, 4);
    assert_has_all(&b, &[root, main[2].clone(), side[2].clone(), merge]);
    // Two tips at once, one of them an ancestor of the other.
    let both = build_mpack(&a, &[side[2].commit.clone(), side[1].commit.clone()], &[]).unwrap();
    assert_eq!(both.commits.len(), 4);
    assert_eq!(both.branch_heads, [(s("side"), side[2].commit.clone())].into());
}

#[test]
fn build_does_not_walk_history_behind_have() {
    let (_d, a, made) = source(10);
    // Remove the oldest commit records: a walk that reached them would fail.
    for m in &made[..6] {
        let p = muse_core::paths::commit_path(&a, &m.commit).unwrap();
        common::make_writable(&p);
        std::fs::remove_file(p).unwrap();
    }
    let m = build_mpack(&a, &[made[9].commit.clone()], &[made[7].commit.clone()]).unwrap();
    assert_eq!(m.commits.len(), 2);
    assert!(build_mpack(&a, &[made[9].commit.clone()], &[]).is_err(), "sanity: the full walk needs them");
}

#[test]
fn commits_sharing_a_snapshot_get_one_entry() {
    let (_d, a) = new_repo(true);
    let c = chain(&a, None, 2, "x", 0);
    let again = write_one(&a, &[&c[1].commit], &c[1].manifest, "empty commit", 50);
    let m = build_mpack(&a, std::slice::from_ref(&again.commit), &[]).unwrap();
    assert_eq!(m.commits.len(), 3);
    assert_eq!(m.snapshots.len(), 2);
    let (_e, b) = new_repo(true);
    let stats = apply_mpack(&b, &m, &Limits::default()).unwrap();
    assert_eq!((stats.commits_written, stats.snapshots_written), (3, 2));
    assert_has_all(&b, &[c[0].clone(), c[1].clone(), again]);
}

#[test]
fn apply_refuses_a_directory_that_is_not_a_repository() {
    let m = forge(&[("a.txt", b"a")]);
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(apply_mpack(dir.path(), &m, &Limits::default()), Err(Error::NotARepository { .. })));
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none(), "created something");
}

#[test]
fn build_refuses_bad_want_and_missing_commits() {
    let (_d, a, _made) = source(2);
    assert!(matches!(build_mpack(&a, &[s("sha256:../../etc")], &[]), Err(Error::InvalidId { .. })));
    assert!(matches!(build_mpack(&a, &[fake_id("nope")], &[]), Err(Error::NotFound { .. })));
    assert!(matches!(build_mpack(&a, &[], &[s("nope")]), Err(Error::InvalidId { .. })));
    assert!(build_mpack(&a, &[], &[]).unwrap().commits.is_empty());
}

// ---------------------------------------------------------------------------
// lies
// ---------------------------------------------------------------------------

fn small_bundle() -> (tempfile::TempDir, MPack, Vec<Made>) {
    let (d, a, made) = source(4);
    let m = build_all(&a, &made[3].commit);
    (d, m, made)
}

#[test]
fn lie_tampered_blob_bytes() {
    let (_d, mut m, _) = small_bundle();
    m.blobs[3].content.push(b'!');
    let (_e, b) = new_repo(true);
    let err = assert_refused(&b, &m, &format!("blob #3 {}: content hashes to sha256:", m.blobs[3].blob_id));
    assert_eq!(err.kind(), ErrorKind::Integrity);
}

#[test]
fn lie_blob_id_that_is_not_sha256_hex() {
    let (_d, m, _) = small_bundle();
    let (_e, b) = new_repo(true);
    let hex = m.blobs[1].blob_id[7..].to_string();
    for bad in [
        format!("sha1:{hex}"),
        format!("sha256:{}", hex.to_uppercase()),
        format!("sha256:{}", &hex[..63]),
        format!("sha256:../../{}", &hex[6..]),
        format!("sha256:{}\0", &hex[..63]),
        String::new(),
    ] {
        let mut m = m.clone();
        m.blobs[1].blob_id = bad;
        assert_refused(&b, &m, "blob #1: invalid ID");
    }
}

#[test]
fn lie_delta_upsert_paths_that_escape_or_are_unclean() {
    let (_e, b) = new_repo(true);
    // Control: the forger's bundle is otherwise valid.
    let (_f, ok_repo) = new_repo(true);
    apply_mpack(&ok_repo, &forge(&[("ok.txt", b"fine")]), &Limits::default()).unwrap();
    for bad in ["../x", "/etc/passwd", "a//b", "a/./b", "a\0b", ".muse/HEAD", "a/", "a\\b", ""] {
        let m = forge(&[("ok.txt", b"fine"), (bad, b"evil")]);
        let err = assert_refused(&b, &m, &format!("delta_upsert path {bad:?}"));
        assert!(err.to_string().contains("(entry 0)"), "{err}");
    }
    // The same lie in delta_remove.
    let mut m = forge(&[("ok.txt", b"fine")]);
    m.snapshots[0].delta_remove.push(s("../x"));
    assert_refused(&b, &m, "delta_remove path \"../x\"");
}

#[test]
fn lie_delta_that_does_not_hash_to_its_snapshot_id() {
    let (_d, m, _) = small_bundle();
    let (_e, b) = new_repo(true);
    // Point a path at another blob of the bundle: every ID is valid, the
    // blob exists, only the math is wrong.
    let mut bad = m.clone();
    let other = bad.blobs[0].blob_id.clone();
    let (path, _) = bad.snapshots[2].delta_upsert.iter().next().map(|(k, v)| (k.clone(), v.clone())).unwrap();
    bad.snapshots[2].delta_upsert.insert(path, other);
    assert_refused(&b, &bad, &format!("snapshot {} (entry 2): rebuilt manifest", m.snapshots[2].snapshot_id));
    // Dropping a removal is caught the same way.
    let mut bad = m.clone();
    if let Some(e) = bad.snapshots.iter_mut().find(|e| !e.delta_remove.is_empty()) {
        e.delta_remove.clear();
        assert_refused(&b, &bad, "hashes to");
    }
}

#[test]
fn lie_parent_snapshot_the_bundle_and_repository_lack() {
    let (_d, m, _) = small_bundle();
    let (_e, b) = new_repo(true);
    let mut bad = m.clone();
    let ghost = fake_id("ghost snapshot");
    bad.snapshots[0].parent_snapshot_id = Some(ghost.clone());
    assert_refused(&b, &bad, &format!("parent snapshot {ghost} is neither in the bundle nor in the repository"));
    // A negotiated bundle applied to a repository that lacks its base.
    let (_d2, a, made) = source(6);
    let rest = build_mpack(&a, &[made[5].commit.clone()], &[made[2].commit.clone()]).unwrap();
    assert_refused(&b, &rest, "neither in the bundle nor in the repository");
}

#[test]
fn lie_commit_whose_id_does_not_verify() {
    let (_d, m, _) = small_bundle();
    let (_e, b) = new_repo(true);
    let mut bad = m.clone();
    bad.commits[2].message.push('!');
    assert_refused(&b, &bad, &format!("commit #2 {}: hash mismatch for commit", m.commits[2].commit_id));
    let mut bad = m.clone();
    bad.commits[1].commit_id = s("sha256:nope");
    assert_refused(&b, &bad, "commit #1: commit_id: invalid ID");
}

#[test]
fn lie_commit_graph_out_of_order_or_cyclic() {
    let (_d, m, _) = small_bundle();
    let (_e, b) = new_repo(true);
    // Children before parents: commit #0 names a parent listed after it.
    let mut bad = m.clone();
    bad.commits.reverse();
    assert_refused(&b, &bad, "after this one; commits must list parents first");
    // A two-commit cycle cannot hash right; it is refused either way.
    let mut bad = m.clone();
    bad.commits[0].parent_commit_id = Some(bad.commits[1].commit_id.clone());
    assert_refused(&b, &bad, "commit #0");
    // Snapshot entries out of order.
    let mut bad = m.clone();
    bad.snapshots.swap(1, 2);
    assert_refused(&b, &bad, "entries must list parents first");
    // A parent commit that is nowhere.
    let mut bad = m.clone();
    bad.commits.remove(0);
    assert_refused(&b, &bad, "is neither earlier in the bundle nor in the repository");
}

#[test]
fn lie_missing_blob_snapshot_or_duplicates() {
    let (_d, m, _) = small_bundle();
    let (_e, b) = new_repo(true);
    let mut bad = m.clone();
    let gone = bad.blobs.remove(0).blob_id;
    assert_refused(&b, &bad, &format!("blob {gone} of path"));
    let mut bad = m.clone();
    bad.snapshots.pop();
    assert_refused(&b, &bad, "is neither in the bundle nor in the repository");
    let mut bad = m.clone();
    bad.blobs.push(bad.blobs[0].clone());
    assert_refused(&b, &bad, "listed twice");
    let mut bad = m.clone();
    bad.commits.push(bad.commits[0].clone());
    assert_refused(&b, &bad, "listed twice");
    let mut bad = m.clone();
    bad.branch_heads.insert(s("../evil"), m.commits[0].commit_id.clone());
    assert_refused(&b, &bad, "branch_heads[\"../evil\"]");
    let mut bad = m.clone();
    bad.branch_heads.insert(s("x"), fake_id("no such commit"));
    assert_refused(&b, &bad, "branch_heads[\"x\"]: commit");
    let mut bad = m.clone();
    bad.version = 2;
    assert_refused(&b, &bad, "unsupported MPack format version 2");
}

#[test]
fn lie_sizes_over_the_limits() {
    let (_d, m, _) = small_bundle();
    let (_e, b) = new_repo(true);
    let before = tree(&b.join(".muse"));
    let tight = Limits { max_blob_bytes: 10, ..Limits::default() };
    assert!(matches!(apply_mpack(&b, &m, &tight), Err(Error::TooLarge { .. })));
    let tight = Limits { max_entries: 5, ..Limits::default() };
    assert!(apply_mpack(&b, &m, &tight).unwrap_err().to_string().contains("max_entries"));
    let bytes = encode_mpack(&m).unwrap();
    let tight = Limits { max_bundle_bytes: bytes.len() as u64 - 1, ..Limits::default() };
    assert!(matches!(decode_mpack(&bytes, &tight), Err(Error::TooLarge { .. })));
    let tight = Limits { max_rebuilt_entries: 20, ..Limits::default() };
    assert!(apply_mpack(&b, &m, &tight).unwrap_err().to_string().contains("max_rebuilt_entries"));
    let tight = Limits { max_depth: 3, ..Limits::default() };
    assert!(decode_mpack(&bytes, &tight).unwrap_err().to_string().contains("max_depth"));
    assert_eq!(tree(&b.join(".muse")), before);
}

/// Wraps `value` as the value of `key` in a one-entry bundle map.
fn bundle_with(key: &str, value: &[u8]) -> Vec<u8> {
    let mut out = vec![0x81, 0xa0 | key.len() as u8];
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(value);
    out
}

#[test]
fn lie_declared_length_of_gigabytes_fails_fast() {
    let limits = Limits::default();
    let blob = |content_header: &[u8]| {
        // {"blobs": [{"blob_id": "...", "content": <header>}]}
        let mut v = vec![0x91, 0x82, 0xa7];
        v.extend_from_slice(b"blob_id");
        v.extend_from_slice(&[0xd9, 71]);
        v.extend_from_slice(blob_id(b"x").as_bytes());
        v.push(0xa7);
        v.extend_from_slice(b"content");
        v.extend_from_slice(content_header);
        bundle_with("blobs", &v)
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("bin32 of 4 GiB - 1", blob(&[0xc6, 0xff, 0xff, 0xff, 0xff])),
        ("bin32 of 2 GiB", blob(&[0xc6, 0x80, 0, 0, 0])),
        ("bin32 of 1 GiB", blob(&[0xc6, 0x40, 0, 0, 0])),
        ("str32 of 4 GiB - 1", bundle_with("branch_heads", &[0x81, 0xdb, 0xff, 0xff, 0xff, 0xff])),
        ("array32 of 2^31", bundle_with("commits", &[0xdd, 0x80, 0, 0, 0])),
        ("map32 of 2^32 - 1", bundle_with("branch_heads", &[0xdf, 0xff, 0xff, 0xff, 0xff])),
        ("ext32 of 4 GiB - 1", bundle_with("x", &[0xc9, 0xff, 0xff, 0xff, 0xff, 0x01])),
        ("top-level map32 of 2^32 - 1", vec![0xdf, 0xff, 0xff, 0xff, 0xff]),
        ("nested array16 bomb", bundle_with("commits", &[0xdc, 0xff, 0xff, 0x90])),
    ];
    for (what, bytes) in cases {
        let t = Instant::now();
        let err = decode_mpack(&bytes, &limits).expect_err(what);
        assert!(t.elapsed() < Duration::from_secs(1), "{what} took {:?}", t.elapsed());
        let msg = err.to_string();
        assert!(matches!(err, Error::TooLarge { .. }) || msg.contains("truncated"), "{what}: unexpected error {msg}");
    }
    // A 10 GiB bundle is refused by its size alone (simulated with a small
    // limit: the check is on the input length, before any parsing).
    let tiny = Limits { max_bundle_bytes: 4, ..limits };
    assert!(matches!(decode_mpack(&[0x80; 5], &tiny), Err(Error::TooLarge { .. })));
    // Deep nesting is refused before recursion gets deep.
    let mut deep = vec![0x81, 0xa1, b'x'];
    deep.extend(std::iter::repeat_n(0x91, 100_000));
    deep.push(0xc0);
    assert!(decode_mpack(&deep, &limits).unwrap_err().to_string().contains("max_depth"));
}

#[test]
fn lie_truncated_msgpack_every_prefix() {
    let (_d, m, _) = small_bundle();
    let bytes = encode_mpack(&m).unwrap();
    assert!(bytes.len() < 20_000);
    for len in 0..bytes.len() {
        let err = decode_mpack(&bytes[..len], &Limits::default()).expect_err("a prefix decoded");
        let msg = err.to_string();
        assert!(len == 0 || msg.contains("truncated"), "prefix {len}: {msg}");
        assert_eq!(err.kind(), ErrorKind::Integrity, "prefix {len}: {msg}");
    }
    let mut trailing = bytes.clone();
    trailing.push(0xc0);
    assert!(decode_mpack(&trailing, &Limits::default()).unwrap_err().to_string().contains("unexpected bytes"));
}

#[test]
fn lie_wrong_shapes_on_the_wire() {
    let (_d, m, _) = small_bundle();
    let limits = Limits::default();
    let mut v = rmpv::ext::to_value(&m).unwrap();
    let edit = |v: &mut rmpv::Value, f: &dyn Fn(&mut rmpv::Value)| {
        let mut v2 = v.clone();
        f(&mut v2);
        let mut raw = Vec::new();
        rmpv::encode::write_value(&mut raw, &v2).unwrap();
        raw
    };
    fn get<'a>(v: &'a mut rmpv::Value, k: &str) -> &'a mut rmpv::Value {
        let rmpv::Value::Map(es) = v else { panic!("not a map") };
        &mut es.iter_mut().find(|(kk, _)| kk.as_str() == Some(k)).unwrap().1
    }
    // Blob content as str, not bin.
    let raw = edit(&mut v, &|v| {
        let blobs = get(v, "blobs");
        let rmpv::Value::Array(bs) = blobs else { panic!() };
        *get(&mut bs[1], "content") = rmpv::Value::from("text, not bin");
    });
    let msg = decode_mpack(&raw, &limits).unwrap_err().to_string();
    assert!(msg.contains("blob #1") && msg.contains("msgpack bin"), "{msg}");
    // A snapshot entry carrying a full manifest.
    let raw = edit(&mut v, &|v| {
        let rmpv::Value::Array(ss) = get(v, "snapshots") else { panic!() };
        let rmpv::Value::Map(es) = &mut ss[2] else { panic!() };
        es.push((rmpv::Value::from("manifest"), rmpv::Value::Map(vec![])));
    });
    let msg = decode_mpack(&raw, &limits).unwrap_err().to_string();
    assert!(msg.contains("snapshot #2") && msg.contains("manifest"), "{msg}");
    // Version 2, wherever the key sits.
    let raw = edit(&mut v, &|v| {
        let rmpv::Value::Map(es) = v else { panic!() };
        es.retain(|(k, _)| k.as_str() != Some("version"));
        es.push((rmpv::Value::from("version"), rmpv::Value::from(2)));
    });
    let err = decode_mpack(&raw, &limits).unwrap_err();
    assert!(err.to_string().contains("unsupported MPack format version 2"), "{err}");
    let raw = edit(&mut v, &|v| *get(v, "version") = rmpv::Value::from("1"));
    assert!(decode_mpack(&raw, &limits).unwrap_err().to_string().contains("version"));
    // Not a map at all; a string with invalid UTF-8.
    assert!(decode_mpack(&[0x90], &limits).unwrap_err().to_string().contains("is not a map"));
    let bad_utf8 = bundle_with("branch_heads", &[0x81, 0xa2, 0xff, 0xfe, 0xa1, b'x']);
    assert!(decode_mpack(&bad_utf8, &limits).unwrap_err().to_string().contains("UTF-8"));
    // rmpv path refuses the same shapes.
    let mut bad = rmpv::ext::to_value(&m).unwrap();
    let rmpv::Value::Array(bs) = get(&mut bad, "blobs") else { panic!() };
    *get(&mut bs[0], "content") = rmpv::Value::from("str");
    assert!(rmpv::ext::from_value::<MPack>(bad).is_err());
}

/// The seed suite's musehub dimensions (1 031 commits × 700 files, 5
/// changed per commit, 512 B blobs): prints build / encode / decode /
/// apply times. Run by hand, in release:
/// `cargo test --release -p muse-core --test mpack -- --ignored --nocapture e2e_dimensions_timing`.
#[test]
#[ignore]
fn e2e_dimensions_timing() {
    let (_d, a) = new_repo(true);
    let (files, commits, changed, size) = (700usize, 1031usize, 5usize, 512usize);
    let t = Instant::now();
    let base: Manifest = (0..files)
        .map(|i| {
            let mut c = format!("base-{i:06}").into_bytes();
            c.resize(c.len() + size, b'x');
            (format!("src/file_{i:04}.py"), put_blob(&a, &c))
        })
        .collect();
    let mut parent: Option<String> = None;
    for i in 0..commits {
        let mut m = base.clone();
        for j in 0..changed {
            let mut c = format!("commit-{i:05}-file-{j}").into_bytes();
            c.resize(c.len() + size, b'y');
            m.insert(format!("src/file_{:04}.py", (i * changed + j) % files), put_blob(&a, &c));
        }
        let parents: Vec<&str> = parent.iter().map(String::as_str).collect();
        parent = Some(write_one(&a, &parents, &m, &format!("commit-{i:05}"), i as u32).commit);
    }
    let tip = parent.unwrap();
    eprintln!("history written in {:?}", t.elapsed());
    let t = Instant::now();
    let m = build_all(&a, &tip);
    let t_build = t.elapsed();
    let t = Instant::now();
    let bytes = encode_mpack(&m).unwrap();
    let t_encode = t.elapsed();
    let t = Instant::now();
    let back = decode_mpack(&bytes, &Limits::default()).unwrap();
    let t_decode = t.elapsed();
    let (_e, b) = new_repo(true);
    let t = Instant::now();
    let stats = apply_mpack(&b, &back, &Limits::default()).unwrap();
    let t_apply = t.elapsed();
    assert_eq!((stats.commits_written, stats.snapshots_written), (commits, commits));
    eprintln!(
        "build {t_build:?}  encode {t_encode:?}  decode {t_decode:?}  apply {t_apply:?}  total {:?}  wire {} bytes ({} blobs)",
        t_build + t_encode + t_decode + t_apply,
        bytes.len(),
        m.blobs.len()
    );
}

// ---------------------------------------------------------------------------
// fuzz corpus
// ---------------------------------------------------------------------------

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/decode_apply")
}

/// The limits the fuzz target uses (small, so that huge inputs fail fast).
fn fuzz_limits() -> Limits {
    Limits {
        max_bundle_bytes: 1 << 20,
        max_blob_bytes: 64 << 10,
        max_entries: 10_000,
        max_depth: 32,
        max_rebuilt_entries: 1_000_000,
    }
}

/// Replays the fuzz corpus without libFuzzer (CI runs this on stable):
/// decode + apply must never panic.
#[test]
fn fuzz_corpus_replays_without_panic() {
    // The fuzz target's properties (fuzz/fuzz_targets/decode_apply.rs), on
    // every committed corpus input, on stable Rust without libFuzzer.
    let dir = corpus_dir();
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(&dir).expect("fuzz corpus directory").map(|e| e.unwrap().path()).collect();
    files.sort();
    assert!(!files.is_empty(), "empty corpus at {}", dir.display());
    let count = |root: &Path| -> usize {
        fn files_under(d: &Path) -> usize {
            std::fs::read_dir(d)
                .map(|rd| {
                    rd.map(|e| {
                        let e = e.unwrap();
                        if e.file_type().unwrap().is_dir() {
                            files_under(&e.path())
                        } else {
                            1
                        }
                    })
                    .sum()
                })
                .unwrap_or(0)
        }
        ["commits", "snapshots", "objects", "refs"].iter().map(|d| files_under(&root.join(".muse").join(d))).sum()
    };
    let (mut applied, mut refused) = (0, 0);
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        let Ok(m) = decode_mpack(&bytes, &fuzz_limits()) else { continue };
        let once = encode_mpack(&m).unwrap();
        let back = decode_mpack(&once, &Limits::default()).unwrap();
        assert_eq!(encode_mpack(&back).unwrap(), once, "{}: unstable round trip", f.display());
        let (_d, root) = new_repo(true);
        let before = count(&root);
        match apply_mpack(&root, &m, &fuzz_limits()) {
            Ok(_) => {
                let again = apply_mpack(&root, &m, &fuzz_limits()).unwrap();
                assert_eq!(
                    (again.commits_written, again.snapshots_written, again.blobs_written),
                    (0, 0, 0),
                    "{}: second apply wrote something",
                    f.display()
                );
                applied += 1;
            }
            Err(_) => {
                assert_eq!(count(&root), before, "{}: a refused bundle left files behind", f.display());
                refused += 1;
            }
        }
    }
    assert!(applied > 0, "no corpus entry applies: the seeds are gone");
    assert!(refused > 0, "no corpus entry is refused: the found inputs are gone");
}

/// Writes the seed corpus of the fuzz target. Run by hand:
/// `cargo test -p muse-core --test mpack -- --ignored write_fuzz_seed_corpus`.
#[test]
#[ignore]
fn write_fuzz_seed_corpus() {
    let dir = corpus_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let mut seeds: Vec<(&str, Vec<u8>)> = Vec::new();
    let (_d, a, made) = source(4);
    let full = build_all(&a, &made[3].commit);
    seeds.push(("seed-chain4", encode_mpack(&full).unwrap()));
    let rest = build_mpack(&a, &[made[3].commit.clone()], &[made[1].commit.clone()]).unwrap();
    seeds.push(("seed-negotiated", encode_mpack(&rest).unwrap()));
    seeds.push(("seed-forged", encode_mpack(&forge(&[("a.txt", b"a"), ("d/b.txt", b"bb")])).unwrap()));
    seeds.push(("seed-empty", encode_mpack(&MPack::default()).unwrap()));
    let (_m, mrepo) = new_repo(true);
    let root = chain(&mrepo, None, 1, "r", 0).remove(0);
    let x = chain(&mrepo, Some(&root), 1, "x", 10).remove(0);
    let y = chain(&mrepo, Some(&root), 1, "y", 20).remove(0);
    let mut mm = x.manifest.clone();
    mm.extend(y.manifest.clone());
    let mc = write_one(&mrepo, &[&x.commit, &y.commit], &mm, "merge", 30);
    seeds.push(("seed-merge", encode_mpack(&build_mpack(&mrepo, &[mc.commit], &[]).unwrap()).unwrap()));
    let mut total = 0;
    for (name, bytes) in seeds {
        total += bytes.len();
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    assert!(total < 100_000);
}
