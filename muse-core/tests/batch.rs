//! Write batches: staged writes are invisible until commit, refs move only
//! after, an abandoned batch leaves nothing (SPEC §4).

mod common;

use std::collections::BTreeMap;

use common::{make_commit, new_repo, tree};
use muse_core::batch::{Batch, BatchStats};
use muse_core::commits::{has_commit, read_commit};
use muse_core::ids::{blob_id, fake_id};
use muse_core::object_store::{has_object, read_object, write_object};
use muse_core::records::SnapshotRecord;
use muse_core::refs::{read_branch_ref, write_branch_ref};
use muse_core::repo::startup_gc;
use muse_core::snapshots::{has_snapshot, read_snapshot};
use muse_core::Error;

fn staging_entries(root: &std::path::Path) -> Vec<String> {
    match std::fs::read_dir(root.join(".muse/tmp")) {
        Ok(rd) => rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect(),
        Err(_) => Vec::new(),
    }
}

struct Fixture {
    blobs: Vec<(String, Vec<u8>)>,
    snap: SnapshotRecord,
    commit: muse_core::records::CommitRecord,
}

fn fixture(tag: &str) -> Fixture {
    let blobs: Vec<(String, Vec<u8>)> = (0..5)
        .map(|i| {
            let c = format!("{tag} blob {i}").repeat(100).into_bytes();
            (blob_id(&c), c)
        })
        .collect();
    let manifest: BTreeMap<String, String> =
        blobs.iter().enumerate().map(|(i, (id, _))| (format!("dir/f{i}.txt"), id.clone())).collect();
    let snap = SnapshotRecord::new(manifest);
    let mut commit = make_commit(None, None, &format!("{tag} commit"), 1);
    commit.snapshot_id = snap.snapshot_id.clone();
    commit.commit_id = commit.compute_id();
    Fixture { blobs, snap, commit }
}

fn stage(batch: &mut Batch, fx: &Fixture) {
    for (id, c) in &fx.blobs {
        assert!(batch.write_object(id, c).unwrap());
    }
    assert!(batch.write_snapshot(&fx.snap).unwrap());
    assert!(batch.write_commit(&fx.commit).unwrap());
}

fn assert_invisible(root: &std::path::Path, fx: &Fixture) {
    for (id, _) in &fx.blobs {
        assert!(!has_object(root, id).unwrap(), "object visible before commit");
        assert!(matches!(read_object(root, id), Err(Error::NotFound { .. })));
    }
    assert!(!has_snapshot(root, &fx.snap.snapshot_id).unwrap());
    assert_eq!(read_snapshot(root, &fx.snap.snapshot_id).unwrap(), None);
    assert!(!has_commit(root, &fx.commit.commit_id).unwrap());
    assert_eq!(read_commit(root, &fx.commit.commit_id).unwrap(), None);
}

fn run_commit_visibility(fsync_off: bool) {
    let (_tmp, root) = new_repo(fsync_off);
    let fx = fixture("vis");
    let mut batch = Batch::begin(&root).unwrap();
    stage(&mut batch, &fx);
    batch.write_branch_ref("main", &fx.commit.commit_id).unwrap();
    batch.compare_and_swap_branch_ref("topic", None, &fx.commit.commit_id).unwrap();
    assert_eq!(batch.len(), 7);
    // Staged again: not staged twice.
    assert!(!batch.write_object(&fx.blobs[0].0, &fx.blobs[0].1).unwrap());
    assert!(!batch.write_commit(&fx.commit).unwrap());
    assert!(!batch.write_snapshot(&fx.snap).unwrap());
    assert_eq!(batch.len(), 7);

    assert_invisible(&root, &fx);
    assert_eq!(read_branch_ref(&root, "main").unwrap(), None, "ref moved before commit");
    assert_eq!(read_branch_ref(&root, "topic").unwrap(), None);
    assert_eq!(staging_entries(&root).len(), 1);

    let stats = batch.commit().unwrap();
    assert_eq!(
        stats,
        BatchStats { objects_written: 5, objects_skipped: 1, commits_written: 1, snapshots_written: 1, refs_updated: 2 }
    );
    for (id, c) in &fx.blobs {
        assert_eq!(&read_object(&root, id).unwrap(), c);
    }
    assert_eq!(read_snapshot(&root, &fx.snap.snapshot_id).unwrap().unwrap().manifest, fx.snap.manifest);
    assert_eq!(read_commit(&root, &fx.commit.commit_id).unwrap(), Some(fx.commit.clone()));
    assert_eq!(read_branch_ref(&root, "main").unwrap(), Some(fx.commit.commit_id.clone()));
    assert_eq!(read_branch_ref(&root, "topic").unwrap(), Some(fx.commit.commit_id.clone()));
    assert!(staging_entries(&root).is_empty(), "staging dir left: {:?}", staging_entries(&root));
    // Committed objects are read-only, like directly written ones.
    use std::os::unix::fs::PermissionsExt;
    let p = muse_core::object_store::object_path(&root, &fx.blobs[0].0).unwrap();
    assert_eq!(std::fs::metadata(p).unwrap().permissions().mode() & 0o777, 0o444);
}

#[test]
fn staged_writes_are_invisible_until_commit_then_visible_fsync_off() {
    run_commit_visibility(true);
}

#[test]
fn staged_writes_are_invisible_until_commit_then_visible_fsync_full() {
    run_commit_visibility(false);
}

#[test]
fn a_dropped_or_aborted_batch_leaves_nothing() {
    let (tmp, root) = new_repo(true);
    // Make .muse/tmp exist beforehand so the tree comparison is exact.
    std::fs::create_dir_all(root.join(".muse/tmp")).unwrap();
    let before = tree(tmp.path());
    let fx = fixture("drop");
    {
        let mut batch = Batch::begin(&root).unwrap();
        stage(&mut batch, &fx);
        batch.write_branch_ref("main", &fx.commit.commit_id).unwrap();
        assert_eq!(staging_entries(&root).len(), 1);
        // dropped here
    }
    assert_invisible(&root, &fx);
    assert_eq!(read_branch_ref(&root, "main").unwrap(), None);
    assert!(staging_entries(&root).is_empty());
    assert_eq!(tree(tmp.path()), before);

    let mut batch = Batch::begin(&root).unwrap();
    stage(&mut batch, &fx);
    batch.abort();
    assert_invisible(&root, &fx);
    assert!(staging_entries(&root).is_empty());
    assert_eq!(tree(tmp.path()), before);
}

#[test]
fn a_batch_whose_process_died_is_removed_by_startup_gc_and_a_live_one_is_kept() {
    let (_tmp, root) = new_repo(true);
    let fx = fixture("live");
    let mut live = Batch::begin(&root).unwrap();
    stage(&mut live, &fx);
    // A dead batch: a staging dir with a staged file and nobody holding its lock.
    let dead = root.join(".muse/tmp/batch-x");
    std::fs::create_dir_all(&dead).unwrap();
    std::fs::write(dead.join("0"), b"staged by a process that was killed").unwrap();
    std::fs::write(root.join(".muse/tmp/stray-file"), b"x").unwrap();
    // A file there (a killed repack's) is removed once it is old enough; a
    // young one could be a live repack's between create and lock.
    let young = root.join(".muse/tmp/repack-young.pack");
    std::fs::write(&young, b"y").unwrap();
    let old = std::time::SystemTime::now()
        - std::time::Duration::from_secs(2 * muse_core::object_store::CLEANUP_MIN_AGE_SECS + 10);
    std::fs::File::options().write(true).open(root.join(".muse/tmp/stray-file")).unwrap().set_modified(old).unwrap();
    assert_eq!(staging_entries(&root).len(), 4);

    let report = startup_gc(&root).unwrap();
    assert!(!dead.exists(), "dead batch not removed");
    assert!(!root.join(".muse/tmp/stray-file").exists());
    assert!(report.removed >= 2, "{report:?}");
    assert!(report.kept_live >= 1, "{report:?}");
    assert!(young.exists(), "a young file in .muse/tmp/ is kept");
    std::fs::remove_file(&young).unwrap();
    assert_eq!(staging_entries(&root).len(), 1, "the live batch's dir is kept");
    // The live batch still commits everything.
    let stats = live.commit().unwrap();
    assert_eq!(stats.objects_written, 5);
    assert_eq!(read_commit(&root, &fx.commit.commit_id).unwrap(), Some(fx.commit.clone()));
    assert!(staging_entries(&root).is_empty());
}

#[test]
fn an_object_stored_meanwhile_is_skipped_not_overwritten() {
    let (_tmp, root) = new_repo(true);
    let content = b"raced".to_vec();
    let id = blob_id(&content);
    let mut batch = Batch::begin(&root).unwrap();
    assert!(batch.write_object(&id, &content).unwrap());
    // Somebody stores the same object directly before the batch commits.
    assert!(write_object(&root, &id, &content, None).unwrap());
    let stats = batch.commit().unwrap();
    assert_eq!(stats.objects_written, 0);
    assert_eq!(stats.objects_skipped, 1);
    assert_eq!(read_object(&root, &id).unwrap(), content);
    assert!(staging_entries(&root).is_empty());
    // An already-stored object is skipped at staging time.
    let mut batch = Batch::begin(&root).unwrap();
    assert!(!batch.write_object(&id, &content).unwrap());
    assert!(batch.is_empty());
    assert_eq!(batch.commit().unwrap().objects_skipped, 1);
}

#[test]
fn a_queued_cas_that_lost_the_race_fails_the_commit_and_keeps_the_ref() {
    let (_tmp, root) = new_repo(true);
    let fx = fixture("cas");
    let (old, other) = (fake_id("old"), fake_id("other"));
    write_branch_ref(&root, "main", &old).unwrap();
    let mut batch = Batch::begin(&root).unwrap();
    stage(&mut batch, &fx);
    batch.compare_and_swap_branch_ref("main", Some(&old), &fx.commit.commit_id).unwrap();
    write_branch_ref(&root, "main", &other).unwrap();
    match batch.commit() {
        Err(Error::RefConflict { expected, actual, .. }) => {
            assert_eq!(expected, Some(old));
            assert_eq!(actual, Some(other.clone()));
        }
        other => panic!("expected RefConflict, got {other:?}"),
    }
    assert_eq!(read_branch_ref(&root, "main").unwrap(), Some(other));
    // The data itself is stored (durable but unreferenced), and no staging is left.
    assert!(has_commit(&root, &fx.commit.commit_id).unwrap());
    assert!(staging_entries(&root).is_empty());
}

#[test]
fn a_large_batch_commits_every_file() {
    let (_tmp, root) = new_repo(true);
    let mut batch = Batch::begin(&root).unwrap();
    let mut ids = Vec::new();
    for i in 0..2_000 {
        let c = format!("object number {i}").into_bytes();
        let id = blob_id(&c);
        assert!(batch.write_object(&id, &c).unwrap());
        ids.push((id, c));
    }
    assert!(!has_object(&root, &ids[0].0).unwrap());
    let stats = batch.commit().unwrap();
    assert_eq!(stats.objects_written, 2_000);
    for (id, c) in &ids {
        assert_eq!(&read_object(&root, id).unwrap(), c);
    }
    assert!(staging_entries(&root).is_empty());
}

#[test]
fn more_bytes_than_the_writers_may_hold_are_staged_and_committed() {
    // 48 objects of 1 MiB: the caller has to wait for the staging writers
    // (their queue holds at most PENDING_BYTES), and nothing is lost.
    const { assert!(48 * 1024 * 1024 > muse_core::batch::PENDING_BYTES) };
    let (_tmp, root) = new_repo(true);
    let mut batch = Batch::begin(&root).unwrap();
    let mut ids = Vec::new();
    for i in 0..48u8 {
        let c = vec![i; 1024 * 1024];
        let id = blob_id(&c);
        assert!(batch.write_object(&id, &c).unwrap());
        ids.push((id, i));
    }
    assert_eq!(batch.commit().unwrap().objects_written, 48);
    for (id, i) in &ids {
        let c = read_object(&root, id).unwrap();
        assert_eq!(c.len(), 1024 * 1024);
        assert!(c.iter().all(|b| b == i));
    }
}

#[test]
fn a_failed_staging_write_fails_the_batch_and_nothing_becomes_visible() {
    let (_tmp, root) = new_repo(false);
    let mut batch = Batch::begin(&root).unwrap();
    // Take the staging writers' directories away: their creates fail.
    let staging = root.join(".muse/tmp").join(&staging_entries(&root)[0]);
    for k in 0..muse_core::batch::WRITERS {
        std::fs::remove_dir(staging.join(k.to_string())).unwrap();
    }
    let fx = fixture("poisoned");
    let mut first_err = None;
    for (id, c) in &fx.blobs {
        if let Err(e) = batch.write_object(id, c) {
            first_err = Some(e);
            break;
        }
    }
    batch.write_branch_ref("main", &fx.commit.commit_id).unwrap();
    // The error surfaces at the latest on commit, naming the staged file.
    let err = match first_err {
        Some(e) => e,
        None => batch.commit().unwrap_err(),
    };
    assert!(matches!(err, Error::Io { .. }), "{err}");
    assert!(err.to_string().contains(".muse/tmp/batch-"), "{err}");
    assert_invisible(&root, &fx);
    assert_eq!(read_branch_ref(&root, "main").unwrap(), None);
}

#[test]
fn a_batch_that_failed_once_refuses_to_commit() {
    let (_tmp, root) = new_repo(false);
    // Loose files only: the staging writers are what fails here.
    common::set_config(&root, "[pack]\nunpack_limit = 1000000\n");
    let mut batch = Batch::begin(&root).unwrap();
    let staging = root.join(".muse/tmp").join(&staging_entries(&root)[0]);
    for k in 0..muse_core::batch::WRITERS {
        std::fs::remove_dir(staging.join(k.to_string())).unwrap();
    }
    // Stage until the failure is seen (it is asynchronous), then recreate
    // the directories: the batch stays failed.
    // Fillers of 128 KiB: past HOLD_BYTES the batch decides for loose
    // files and hands them to the writers.
    let filler = |i: usize| {
        let mut c = format!("filler {i}").into_bytes();
        c.resize(128 * 1024, b'x');
        c
    };
    let mut seen = false;
    for i in 0..1_000 {
        let c = filler(i);
        if batch.write_object(&blob_id(&c), &c).is_err() {
            seen = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    assert!(seen, "the staging failure was never reported");
    for k in 0..muse_core::batch::WRITERS {
        std::fs::create_dir(staging.join(k.to_string())).unwrap();
    }
    let c = b"after the failure".to_vec();
    assert!(batch.write_object(&blob_id(&c), &c).is_err());
    assert!(batch.commit().is_err());
    assert!(!has_object(&root, &blob_id(&filler(0))).unwrap());
    assert!(!has_object(&root, &blob_id(&c)).unwrap());
}
