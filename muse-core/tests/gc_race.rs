//! The GC racing live writers (SPEC §4, §12): the startup GC never removes
//! a live batch's staging directory, and `prune` with no grace period never
//! makes a ref point at missing data.
//!
//! Writers are threads doing many small batches, each storing a new blob, a
//! snapshot and a commit and moving the writer's branch inside the batch;
//! the GC runs in a tight loop beside them.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::new_repo;
use muse_core::batch::Batch;
use muse_core::commits::read_commit;
use muse_core::ids::blob_id;
use muse_core::object_store::read_object;
use muse_core::reachability::{find_unreachable, prune};
use muse_core::records::{CommitRecord, SnapshotRecord};
use muse_core::refs::{list_branches, read_branch_ref};
use muse_core::repo::startup_gc;
use muse_core::snapshots::read_snapshot;

const WRITERS: usize = 4;

/// Writer `w`'s `n` batches on branch `w<w>`; `pause` between batches.
/// Returns the first error, with the batch number.
fn writer(root: &Path, w: usize, n: usize, pause: Duration) -> Result<(), String> {
    let branch = format!("w{w}");
    let mut parent: Option<String> = None;
    let mut parent_snap: Option<String> = None;
    for i in 0..n {
        let run = || -> muse_core::Result<(String, String)> {
            let own = format!("writer {w} item {i}").into_bytes();
            // Also a blob every writer stores (mostly skipped as stored).
            let pool = format!("pool blob {}", i % 3).into_bytes();
            let mut b = Batch::begin(root)?;
            b.write_object(&blob_id(&own), &own)?;
            b.write_object(&blob_id(&pool), &pool)?;
            let snap = SnapshotRecord::new(BTreeMap::from([
                ("own.txt".to_string(), blob_id(&own)),
                ("pool.txt".to_string(), blob_id(&pool)),
            ]));
            b.write_snapshot_with_base(&snap, parent_snap.as_deref())?;
            let mut rec = CommitRecord {
                branch: branch.clone(),
                snapshot_id: snap.snapshot_id.clone(),
                message: format!("{w}/{i}"),
                committed_at: common::ts(u32::try_from(i).unwrap()),
                parent_commit_id: parent.clone(),
                author: "race".into(),
                ..Default::default()
            };
            rec.commit_id = rec.compute_id();
            b.write_commit(&rec)?;
            b.compare_and_swap_branch_ref(&branch, parent.as_deref(), &rec.commit_id)?;
            b.commit()?;
            Ok((rec.commit_id, snap.snapshot_id))
        };
        match run() {
            Ok((c, s)) => {
                parent = Some(c);
                parent_snap = Some(s);
            }
            Err(e) => return Err(format!("writer {w}, batch {i}: {e}")),
        }
        if !pause.is_zero() {
            std::thread::sleep(pause);
        }
    }
    Ok(())
}

/// Runs `WRITERS` writers of `n` batches each while `gc` runs in a loop on
/// another thread until they are done. Returns the writers' errors, the
/// GC's errors and the number of GC passes.
fn race(
    root: &Path,
    n: usize,
    pause: Duration,
    gc: impl Fn(&Path) -> Result<(), String> + Send + 'static,
) -> (Vec<String>, Vec<String>, usize) {
    let done = Arc::new(AtomicBool::new(false));
    let passes = Arc::new(AtomicUsize::new(0));
    let barrier = Arc::new(Barrier::new(WRITERS + 1));
    let gc_thread = {
        let (root, done, passes, barrier) = (root.to_path_buf(), done.clone(), passes.clone(), barrier.clone());
        std::thread::spawn(move || {
            let mut errors = Vec::new();
            barrier.wait();
            while !done.load(Ordering::Relaxed) {
                if let Err(e) = gc(&root) {
                    errors.push(e);
                }
                passes.fetch_add(1, Ordering::Relaxed);
            }
            errors
        })
    };
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (root, barrier): (PathBuf, _) = (root.to_path_buf(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                writer(&root, w, n, pause)
            })
        })
        .collect();
    let writer_errors: Vec<String> = writers.into_iter().filter_map(|h| h.join().unwrap().err()).collect();
    done.store(true, Ordering::Relaxed);
    let gc_errors = gc_thread.join().unwrap();
    (writer_errors, gc_errors, passes.load(Ordering::Relaxed))
}

/// Every branch → commit → (parents…) → snapshot → blob is stored and reads
/// back verified; returns the number of commits walked.
fn assert_history_complete(root: &Path) -> usize {
    let mut walked = 0;
    for (branch, tip) in list_branches(root).unwrap() {
        let mut next = Some(tip);
        while let Some(c) = next {
            let rec = read_commit(root, &c)
                .unwrap()
                .unwrap_or_else(|| panic!("branch {branch} reaches missing commit {c}"));
            let snap = read_snapshot(root, &rec.snapshot_id)
                .unwrap_or_else(|e| panic!("commit {c}: snapshot {}: {e}", rec.snapshot_id))
                .unwrap_or_else(|| panic!("commit {c} names missing snapshot {}", rec.snapshot_id));
            for (path, blob) in &snap.manifest {
                read_object(root, blob).unwrap_or_else(|e| panic!("snapshot {}: {path}: {e}", rec.snapshot_id));
            }
            walked += 1;
            next = rec.parent_commit_id;
        }
    }
    walked
}

#[test]
fn the_startup_gc_in_a_tight_loop_never_breaks_a_live_batch() {
    const BATCHES: usize = 250;
    let (_tmp, root) = new_repo(true);
    let start = Instant::now();
    let (writer_errors, gc_errors, passes) =
        race(&root, BATCHES, Duration::ZERO, |root| startup_gc(root).map(|_| ()).map_err(|e| e.to_string()));
    assert!(writer_errors.is_empty(), "writers failed beside the startup GC ({passes} passes): {writer_errors:#?}");
    assert!(gc_errors.is_empty(), "the startup GC failed: {:#?}", &gc_errors[..gc_errors.len().min(5)]);
    eprintln!("startup GC passes: {passes}");
    assert!(passes > 10, "the GC barely ran ({passes} passes)");
    for w in 0..WRITERS {
        assert!(read_branch_ref(&root, &format!("w{w}")).unwrap().is_some());
    }
    assert_eq!(assert_history_complete(&root), WRITERS * BATCHES);
    // Nothing is left in .muse/tmp/ but (maybe) the directory itself.
    let left: Vec<_> = std::fs::read_dir(root.join(".muse/tmp"))
        .map(|rd| rd.map(|e| e.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
    assert!(start.elapsed() < Duration::from_secs(60));
}

#[test]
fn prune_with_no_grace_in_a_loop_never_leaves_a_ref_pointing_at_missing_data() {
    const BATCHES: usize = 120;
    let (_tmp, root) = new_repo(true);
    let start = Instant::now();
    // The prune as the old CLI ran it: find, then prune what was found.
    let (writer_errors, prune_errors, passes) = race(&root, BATCHES, Duration::ZERO, |root| {
        let un = find_unreachable(root).map_err(|e| format!("find_unreachable: {e}"))?;
        prune(root, &un, Duration::ZERO).map(|_| ()).map_err(|e| format!("prune: {e}"))
    });
    assert!(writer_errors.is_empty(), "writers failed beside prune ({passes} passes): {writer_errors:#?}");
    assert!(prune_errors.is_empty(), "prune failed: {:#?}", &prune_errors[..prune_errors.len().min(5)]);
    eprintln!("prune passes: {passes}");
    assert!(passes > 10, "prune barely ran ({passes} passes)");
    let report = muse_core::verify::verify_repo(&root).unwrap();
    assert!(report.problems.is_empty(), "{:#?}", &report.problems[..report.problems.len().min(10)]);
    assert_eq!(assert_history_complete(&root), WRITERS * BATCHES);
    assert!(find_unreachable(&root).unwrap().is_empty());
    assert!(start.elapsed() < Duration::from_secs(60));
}
