//! Every malformed input is a clear error, and nothing reaches the disk
//! (SPEC §2: an ID never injects `/`, `..` or NUL into a path).

mod common;

use std::collections::BTreeMap;

use common::{make_commit, new_repo, tree};
use muse_core::batch::Batch;
use muse_core::commits::{has_commit, load_commit, read_commit, write_commit};
use muse_core::ids::{blob_id, fake_id};
use muse_core::merge_base::find_merge_base;
use muse_core::object_store::{has_object, object_path, object_size, read_object, restore_object, write_object};
use muse_core::records::SnapshotRecord;
use muse_core::refs::{compare_and_swap_branch_ref, write_branch_ref, write_head_detached};
use muse_core::snapshots::{has_snapshot, read_snapshot, write_snapshot};
use muse_core::Error;

/// Malformed IDs, one per class, each paired with a description.
fn bad_ids() -> Vec<(&'static str, String)> {
    let good = blob_id(b"some content");
    let hex = good.strip_prefix("sha256:").unwrap().to_string();
    vec![
        ("wrong prefix sha1", format!("sha1:{hex}")),
        ("upper-case prefix", format!("SHA256:{hex}")),
        ("no prefix", hex.clone()),
        ("63 hex digits", format!("sha256:{}", &hex[..63])),
        ("65 hex digits", format!("sha256:{hex}0")),
        ("upper-case hex", format!("sha256:{}", hex.to_uppercase())),
        ("one upper-case digit", format!("sha256:{}A", &hex[..63])),
        ("contains /", format!("sha256:{}/{}", &hex[..2], &hex[3..])),
        ("contains ..", format!("sha256:..{}", &hex[2..])),
        ("traversal", format!("sha256:../../../../../../../../etc/passwd{}", &hex[..26])),
        ("contains NUL", format!("sha256:{}\0", &hex[..63])),
        ("trailing newline", format!("{good}\n")),
        ("leading space", format!(" {good}")),
        ("non-ASCII of the right byte length", format!("sha256:{}é", &hex[..62])),
        ("non-hex letter", format!("sha256:{}g", &hex[..63])),
        ("empty string", String::new()),
        ("prefix only", "sha256:".into()),
    ]
}

fn assert_invalid_id<T: std::fmt::Debug>(what: &str, case: &str, r: muse_core::Result<T>) {
    match r {
        Err(Error::InvalidId { .. }) => {}
        other => panic!("{what} with {case}: expected Err(InvalidId), got {other:?}"),
    }
}

#[test]
fn malformed_ids_are_rejected_before_touching_the_disk() {
    let (tmp, root) = new_repo(false);
    // A valid commit and ref exist, so that "nothing written" is checked
    // against a non-empty store.
    let base = make_commit(None, None, "base", 0);
    write_commit(&root, &base, None).unwrap();
    write_branch_ref(&root, "main", &base.commit_id).unwrap();
    let before = tree(tmp.path());
    let good = fake_id("good");
    let dest = tmp.path().join("restored.txt");

    for (case, id) in bad_ids() {
        let content = b"some content";
        assert_invalid_id("write_object", case, write_object(&root, &id, content, None));
        assert_invalid_id("read_object", case, read_object(&root, &id));
        assert_invalid_id("has_object", case, has_object(&root, &id));
        assert_invalid_id("object_path", case, object_path(&root, &id));
        assert_invalid_id("object_size", case, object_size(&root, &id));
        assert_invalid_id("restore_object", case, restore_object(&root, &id, &dest, false, None));
        assert_invalid_id("read_commit", case, read_commit(&root, &id));
        assert_invalid_id("load_commit", case, load_commit(&root, &id));
        assert_invalid_id("has_commit", case, has_commit(&root, &id));
        assert_invalid_id("read_snapshot", case, read_snapshot(&root, &id));
        assert_invalid_id("has_snapshot", case, has_snapshot(&root, &id));
        assert_invalid_id("write_branch_ref", case, write_branch_ref(&root, "main", &id));
        assert_invalid_id("write_branch_ref (new branch)", case, write_branch_ref(&root, "fresh", &id));
        assert_invalid_id("cas new", case, compare_and_swap_branch_ref(&root, "main", Some(&base.commit_id), &id));
        assert_invalid_id("cas expected", case, compare_and_swap_branch_ref(&root, "main", Some(&id), &good));
        assert_invalid_id("write_head_detached", case, write_head_detached(&root, &id));
        let repo = muse_core::Repository::open(&root).unwrap();
        assert_invalid_id("walk_between tip", case, repo.walk_between(&id, None, 10));
        assert_invalid_id("walk_between base", case, repo.walk_between(&base.commit_id, Some(&id), 10));
        assert_invalid_id("find_merge_base", case, find_merge_base(&root, &id, &base.commit_id));

        // A commit record whose commit_id (or a parent) is malformed.
        let mut rec = make_commit(None, None, "x", 1);
        rec.commit_id = id.clone();
        assert_invalid_id("write_commit commit_id", case, write_commit(&root, &rec, None));
        let mut rec = make_commit(None, None, "y", 1);
        rec.parent_commit_id = Some(id.clone());
        rec.commit_id = rec.compute_id();
        assert_invalid_id("write_commit parent", case, write_commit(&root, &rec, None));

        // A snapshot whose ID or one of whose blob IDs is malformed.
        let snap = SnapshotRecord { snapshot_id: id.clone(), ..Default::default() };
        assert_invalid_id("write_snapshot id", case, write_snapshot(&root, &snap, None));
        let snap = SnapshotRecord::new(BTreeMap::from([("a.txt".to_string(), id.clone())]));
        assert_invalid_id("write_snapshot blob id", case, write_snapshot(&root, &snap, None));
    }
    assert_eq!(tree(tmp.path()), before, "a rejected call wrote something");
    assert_eq!(std::fs::read_to_string(root.join(".muse/refs/heads/main")).unwrap().trim(), base.commit_id);
}

#[test]
fn malformed_ids_in_a_batch_are_rejected_and_stage_nothing() {
    let (_tmp, root) = new_repo(true);
    let muse_before = tree(&root.join(".muse/objects"));
    let mut batch = Batch::begin(&root).unwrap();
    for (case, id) in bad_ids() {
        assert_invalid_id("Batch::write_object", case, batch.write_object(&id, b"some content"));
        assert_invalid_id("Batch::write_branch_ref", case, batch.write_branch_ref("main", &id));
        assert_invalid_id("Batch::cas", case, batch.compare_and_swap_branch_ref("main", Some(&id), &fake_id("n")));
    }
    assert!(batch.is_empty());
    let stats = batch.commit().unwrap();
    assert_eq!(stats, Default::default());
    assert_eq!(tree(&root.join(".muse/objects")), muse_before);
    assert_eq!(muse_core::refs::read_branch_ref(&root, "main").unwrap(), None);
    assert_eq!(std::fs::read_dir(root.join(".muse/tmp")).unwrap().count(), 0);
}

#[test]
fn content_that_does_not_match_its_id_is_a_hash_mismatch_and_writes_nothing() {
    let (tmp, root) = new_repo(false);
    let claimed = blob_id(b"the real content");
    let before = tree(tmp.path());
    match write_object(&root, &claimed, b"something else", None) {
        Err(Error::HashMismatch { what, expected, actual }) => {
            assert_eq!(what, "object");
            assert_eq!(expected, claimed);
            assert_eq!(actual, blob_id(b"something else"));
        }
        other => panic!("expected HashMismatch, got {other:?}"),
    }
    // Also with an empty body and with the right content of another ID.
    assert!(matches!(write_object(&root, &claimed, b"", None), Err(Error::HashMismatch { .. })));
    assert!(matches!(
        write_object(&root, &blob_id(b"a"), b"b", Some(muse_core::atomic::Durability::Deferred)),
        Err(Error::HashMismatch { .. })
    ));
    assert_eq!(tree(tmp.path()), before, "no object file, no shard, no temp");
    assert!(!has_object(&root, &claimed).unwrap());
    assert!(matches!(read_object(&root, &claimed), Err(Error::NotFound { .. })));

    // The same through a batch: nothing staged, nothing left after commit.
    let mut batch = Batch::begin(&root).unwrap();
    assert!(matches!(batch.write_object(&claimed, b"something else"), Err(Error::HashMismatch { .. })));
    assert!(batch.is_empty());
    let staging: Vec<_> = std::fs::read_dir(root.join(".muse/tmp")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(staging.len(), 1, "one staging dir for the live batch");
    // The staging dir holds only the (empty) directories of its writers.
    let staged_files: usize = std::fs::read_dir(&staging[0])
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            assert!(e.file_type().unwrap().is_dir(), "{:?} staged", e.path());
            std::fs::read_dir(e.path()).unwrap().count()
        })
        .sum();
    assert_eq!(staged_files, 0, "nothing staged");
    let stats = batch.commit().unwrap();
    assert_eq!(stats.objects_written, 0);
    assert!(!has_object(&root, &claimed).unwrap());
    let mut after = tree(tmp.path());
    after.remove("repo/.muse/tmp/");
    assert_eq!(after, before);
}

#[test]
fn a_commit_whose_id_does_not_verify_is_refused_and_nothing_is_written() {
    let (tmp, root) = new_repo(false);
    let before = tree(tmp.path());
    let good = make_commit(None, None, "m", 5);
    for tweak in 0..5 {
        let mut rec = good.clone();
        match tweak {
            0 => rec.message.push('!'),
            1 => rec.author = "someone else".into(),
            2 => rec.committed_at = common::ts(6),
            3 => rec.snapshot_id = fake_id("other snapshot"),
            _ => rec.parent_commit_id = Some(fake_id("a parent")),
        }
        match write_commit(&root, &rec, None) {
            Err(Error::HashMismatch { what: "commit", expected, actual }) => {
                assert_eq!(expected, good.commit_id);
                assert_eq!(actual, rec.compute_id());
            }
            other => panic!("tweak {tweak}: expected HashMismatch, got {other:?}"),
        }
        let mut batch = Batch::begin(&root).unwrap();
        assert!(matches!(batch.write_commit(&rec), Err(Error::HashMismatch { .. })), "batch, tweak {tweak}");
        batch.abort();
    }
    // An unknown sem_ver_bump and a non-map structured_delta are refused too.
    let mut rec = good.clone();
    rec.sem_ver_bump = "huge".into();
    assert!(matches!(write_commit(&root, &rec, None), Err(Error::InvalidInput(_))));
    let rec = with_integer_delta(&good);
    assert!(matches!(write_commit(&root, &rec, None), Err(Error::InvalidInput(_))));

    let mut after = tree(tmp.path());
    after.remove("repo/.muse/tmp/");
    assert_eq!(after, before);
    assert_eq!(read_commit(&root, &good.commit_id).unwrap(), None);
}

/// `rec` with a non-map `structured_delta` (the integer 7), built without
/// naming the `rmpv` crate (not a dev-dependency): the msgpack nil after the
/// "structured_delta" key is patched to 0x07 and decoded.
fn with_integer_delta(rec: &muse_core::records::CommitRecord) -> muse_core::records::CommitRecord {
    let mut bytes = rec.to_msgpack().unwrap();
    let key = b"structured_delta";
    let pos = bytes.windows(key.len()).position(|w| w == key).unwrap() + key.len();
    assert_eq!(bytes[pos], 0xc0, "structured_delta is nil");
    bytes[pos] = 0x07;
    let back = muse_core::records::CommitRecord::from_msgpack(&bytes, std::path::Path::new("x")).unwrap();
    assert!(back.structured_delta.is_some());
    back
}
