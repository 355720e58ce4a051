//! Packs: a large batch writes one pack file; every reader finds its
//! items; damage is reported, never returned as data (`muse_core::pack`).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{make_commit, new_repo, set_config};
use muse_core::batch::Batch;
use muse_core::commits::{get_all_commits, has_commit, list_commit_ids, read_commit};
use muse_core::ids::blob_id;
use muse_core::object_store::{has_object, object_size, read_object, restore_object, write_object};
use muse_core::pack::{digest_of, packs_dir, EntryKind, Pack, PACK_MIN_ENTRIES};
use muse_core::records::{CommitRecord, SnapshotRecord};
use muse_core::refs::read_branch_ref;
use muse_core::snapshots::{has_snapshot, read_snapshot, snapshot_bases};
use muse_core::Error;

/// A linear history of `n` commits over 20 files, 2 changed per commit,
/// written through one batch; returns (blobs, snapshots, commits).
/// Blobs (ID, bytes), snapshots and commits of a generated history.
type History = (Vec<(String, Vec<u8>)>, Vec<SnapshotRecord>, Vec<CommitRecord>);

fn history(root: &Path, n: usize) -> History {
    let mut batch = Batch::begin(root).unwrap();
    let mut manifest = BTreeMap::new();
    let (mut blobs, mut snaps, mut commits) = (Vec::new(), Vec::new(), Vec::<CommitRecord>::new());
    let mut prev_snap: Option<String> = None;
    for c in 0..n {
        let touched: Vec<usize> = if c == 0 { (0..20).collect() } else { vec![c % 20, (c * 7) % 20] };
        for f in touched {
            let body = format!("file {f} at commit {c}\n").repeat(3).into_bytes();
            let id = blob_id(&body);
            batch.write_object(&id, &body).unwrap();
            manifest.insert(format!("d{}/f{f}.txt", f % 3), id.clone());
            blobs.push((id, body));
        }
        let snap = SnapshotRecord::new(manifest.clone());
        batch.write_snapshot_with_base(&snap, prev_snap.as_deref()).unwrap();
        let mut rec = make_commit(commits.last().map(|r| r.commit_id.as_str()), None, &format!("c{c}"), c as u32);
        rec.snapshot_id = snap.snapshot_id.clone();
        rec.commit_id = rec.compute_id();
        batch.write_commit(&rec).unwrap();
        prev_snap = Some(snap.snapshot_id.clone());
        snaps.push(snap);
        commits.push(rec);
    }
    batch.write_branch_ref("main", &commits.last().unwrap().commit_id).unwrap();
    let stats = batch.commit().unwrap();
    assert_eq!(stats.commits_written, n);
    assert_eq!(stats.snapshots_written, n);
    (blobs, snaps, commits)
}

fn pack_files(root: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = match std::fs::read_dir(packs_dir(root)) {
        Ok(rd) => rd.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    };
    v.sort();
    v
}

fn loose_files(dir: &Path) -> usize {
    common::files_under(dir).len()
}

#[test]
fn a_large_batch_writes_one_pack_and_every_reader_finds_its_items() {
    let (_tmp, root) = new_repo(false);
    let (blobs, snaps, commits) = history(&root, 60);
    assert!(blobs.len() + 120 > PACK_MIN_ENTRIES);
    // One pack, no loose records or objects, no staging left.
    assert_eq!(pack_files(&root).len(), 1);
    assert_eq!(loose_files(&root.join(".muse/objects")), 0);
    assert_eq!(loose_files(&root.join(".muse/commits")), 0);
    assert_eq!(loose_files(&root.join(".muse/snapshots")), 0);
    assert!(!root.join(".muse/tmp").exists() || loose_files(&root.join(".muse/tmp")) == 0);
    assert_eq!(read_branch_ref(&root, "main").unwrap().as_deref(), Some(commits[59].commit_id.as_str()));
    for (id, body) in &blobs {
        assert!(has_object(&root, id).unwrap());
        assert_eq!(&read_object(&root, id).unwrap(), body);
        assert_eq!(object_size(&root, id).unwrap(), body.len() as u64);
    }
    for s in &snaps {
        assert!(has_snapshot(&root, &s.snapshot_id).unwrap());
        assert_eq!(read_snapshot(&root, &s.snapshot_id).unwrap().unwrap().manifest, s.manifest);
    }
    // Stored as deltas inside the pack.
    assert!(!snapshot_bases(&root, &snaps[59].snapshot_id).unwrap().is_empty());
    for c in &commits {
        assert!(has_commit(&root, &c.commit_id).unwrap());
        assert_eq!(read_commit(&root, &c.commit_id).unwrap().as_ref(), Some(c));
    }
    let mut want: Vec<String> = commits.iter().map(|c| c.commit_id.clone()).collect();
    want.sort();
    assert_eq!(list_commit_ids(&root).unwrap(), want);
    assert_eq!(get_all_commits(&root).unwrap().len(), 60);
    // A packed blob restores into the working tree.
    let dest = root.join("restored.txt");
    restore_object(&root, &blobs[0].0, &dest, false, None).unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), blobs[0].1);
    // Written again one by one: already stored, nothing written.
    assert!(!write_object(&root, &blobs[0].0, &blobs[0].1, None).unwrap());
    assert!(!muse_core::commits::write_commit(&root, &commits[3], None).unwrap());
    assert!(!muse_core::snapshots::write_snapshot(&root, &snaps[3], None).unwrap());
    assert_eq!(loose_files(&root.join(".muse/objects")), 0);
    let report = muse_core::verify::verify_repo(&root).unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!(report.commits, 60);
    assert_eq!(report.snapshots, 60);
}

#[test]
fn a_small_batch_writes_loose_files_and_the_limit_is_configurable() {
    let (_tmp, root) = new_repo(false);
    history(&root, 3); // 20 + 4 blobs, 3 snapshots, 3 commits: under 100
    assert!(pack_files(&root).is_empty());
    assert_eq!(loose_files(&root.join(".muse/commits")), 3);
    // unpack_limit = 0: even one item goes to a pack.
    let (_tmp2, root2) = new_repo(false);
    set_config(&root2, "[pack]\nunpack_limit = 0\n");
    history(&root2, 1);
    assert_eq!(pack_files(&root2).len(), 1);
    assert_eq!(loose_files(&root2.join(".muse/commits")), 0);
}

#[test]
fn a_second_batch_chains_deltas_onto_packed_snapshots_and_skips_packed_objects() {
    let (_tmp, root) = new_repo(false);
    let (blobs, snaps, commits) = history(&root, 60);
    let mut batch = Batch::begin(&root).unwrap();
    // Every object of the first pack is known: nothing is staged twice.
    for (id, body) in &blobs {
        assert!(!batch.write_object(id, body).unwrap());
    }
    assert!(!batch.write_commit(&commits[10]).unwrap());
    let mut m = snaps[59].manifest.clone();
    let body = b"new content".to_vec();
    m.insert("new.txt".into(), blob_id(&body));
    batch.write_object(&blob_id(&body), &body).unwrap();
    let next = SnapshotRecord::new(m);
    assert!(batch.write_snapshot_with_base(&next, Some(&snaps[59].snapshot_id)).unwrap());
    batch.commit().unwrap();
    // Small: loose, a delta on a packed base.
    assert_eq!(pack_files(&root).len(), 1);
    assert_eq!(read_snapshot(&root, &next.snapshot_id).unwrap().unwrap().manifest, next.manifest);
    let bases = snapshot_bases(&root, &next.snapshot_id).unwrap();
    assert!(!bases.is_empty() && snaps.iter().any(|s| s.snapshot_id == bases[0]), "{bases:?}");
}

#[test]
fn a_pack_written_by_another_process_is_found() {
    // The pack is made in one repository and copied into another one whose
    // pack directory this process has already listed (and found empty).
    let (_tmp, src) = new_repo(false);
    let (blobs, _, commits) = history(&src, 60);
    let (_tmp2, dst) = new_repo(false);
    assert!(!has_object(&dst, &blobs[0].0).unwrap());
    std::fs::create_dir_all(packs_dir(&dst)).unwrap();
    let pack = &pack_files(&src)[0];
    std::fs::copy(pack, packs_dir(&dst).join(pack.file_name().unwrap())).unwrap();
    assert!(has_object(&dst, &blobs[0].0).unwrap());
    assert_eq!(read_object(&dst, &blobs[1].0).unwrap(), blobs[1].1);
    assert!(read_commit(&dst, &commits[0].commit_id).unwrap().is_some());
}

#[test]
fn a_flipped_byte_in_a_pack_is_corruption_and_verify_names_it() {
    let (_tmp, root) = new_repo(false);
    let (blobs, _, _) = history(&root, 60);
    let pack = pack_files(&root)[0].clone();
    // Flip one byte in the middle of the first blob's stored bytes (found
    // through the index: in a v2 pack they may be compressed).
    let entry = Pack::open(&pack)
        .unwrap()
        .find(EntryKind::Object, &digest_of(&blobs[0].0).unwrap())
        .expect("the blob is in the pack");
    let mut bytes = std::fs::read(&pack).unwrap();
    let at = (entry.offset + entry.stored_len / 2) as usize;
    bytes[at] ^= 1;
    common::make_writable(&pack);
    std::fs::write(&pack, &bytes).unwrap();
    let err = read_object(&root, &blobs[0].0).unwrap_err();
    assert!(matches!(err, Error::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains(pack.file_name().unwrap().to_str().unwrap()), "{err}");
    let report = muse_core::verify::verify_repo(&root).unwrap();
    assert!(report.problems.iter().any(|(item, _)| item == &format!("object {}", blobs[0].0)), "{:?}", report.problems);
}

#[test]
fn a_truncated_pack_is_skipped_with_a_warning_and_reported_by_verify() {
    let (_tmp, root) = new_repo(false);
    let (blobs, _, _) = history(&root, 60);
    let pack = pack_files(&root)[0].clone();
    let bytes = std::fs::read(&pack).unwrap();
    // Another repository gets the damaged copy (this process has the intact
    // one of `root` cached).
    let (_tmp2, other) = new_repo(false);
    std::fs::create_dir_all(packs_dir(&other)).unwrap();
    std::fs::write(packs_dir(&other).join(pack.file_name().unwrap()), &bytes[..bytes.len() - 10]).unwrap();
    assert!(!has_object(&other, &blobs[0].0).unwrap());
    assert!(matches!(read_object(&other, &blobs[0].0), Err(Error::NotFound { .. })));
    let report = muse_core::verify::verify_repo(&other).unwrap();
    assert!(report.problems.iter().any(|(item, why)| item.starts_with("pack ") && why.contains("trailer")), "{:?}", report.problems);
}

#[test]
fn an_aborted_pack_batch_leaves_nothing() {
    let (_tmp, root) = new_repo(false);
    let mut batch = Batch::begin(&root).unwrap();
    let mut ids = Vec::new();
    for i in 0..(PACK_MIN_ENTRIES * 2) {
        let c = format!("aborted {i}").into_bytes();
        ids.push(blob_id(&c));
        batch.write_object(&blob_id(&c), &c).unwrap();
    }
    batch.write_branch_ref("main", &muse_core::ids::fake_id("x")).unwrap();
    drop(batch);
    assert!(pack_files(&root).is_empty());
    assert!(!has_object(&root, &ids[0]).unwrap());
    assert!(!root.join(".muse/tmp").exists());
    assert_eq!(read_branch_ref(&root, "main").unwrap(), None);
}

#[test]
fn gc_reports_unreachable_packed_items_and_prunes_them_from_packs_only_past_the_grace() {
    let (_tmp, root) = new_repo(false);
    let (blobs, _, commits) = history(&root, 60);
    // Nothing reaches the history any more.
    std::fs::remove_file(root.join(".muse/refs/heads/main")).unwrap();
    let un = muse_core::reachability::find_unreachable(&root).unwrap();
    assert_eq!(un.commits.len(), 60);
    assert_eq!(un.snapshots.len(), 60);
    assert!(un.objects.contains(&blobs[0].0));
    // A young pack keeps everything (a writer may be about to use it).
    muse_core::reachability::prune(&root, &un, std::time::Duration::from_secs(3600)).unwrap();
    assert_eq!(pack_files(&root).len(), 1);
    assert!(read_commit(&root, &commits[0].commit_id).unwrap().is_some());
    // Past the grace period the packed items go, and so does the pack.
    muse_core::reachability::prune(&root, &un, std::time::Duration::ZERO).unwrap();
    assert_eq!(pack_files(&root).len(), 0);
    assert!(read_commit(&root, &commits[0].commit_id).unwrap().is_none());
    assert!(!has_object(&root, &blobs[0].0).unwrap());
    assert_eq!(muse_core::reachability::find_unreachable(&root).unwrap(), Default::default());
}

#[test]
fn a_repository_made_again_at_the_same_path_does_not_see_the_old_packs() {
    let (_tmp, root) = new_repo(false);
    let (blobs, _, _) = history(&root, 60);
    assert!(has_object(&root, &blobs[0].0).unwrap());
    std::fs::remove_dir_all(&root).unwrap();
    muse_core::repo::init_repo(&root, &muse_core::repo::InitOptions::default()).unwrap();
    assert!(!has_object(&root, &blobs[0].0).unwrap());
    assert!(matches!(read_object(&root, &blobs[0].0), Err(Error::NotFound { .. })));
    assert!(list_commit_ids(&root).unwrap().is_empty());
}

#[test]
fn a_removed_pack_is_no_longer_found() {
    let (_tmp, root) = new_repo(false);
    let (blobs, _, _) = history(&root, 60);
    assert!(has_object(&root, &blobs[0].0).unwrap());
    std::fs::remove_file(&pack_files(&root)[0]).unwrap();
    assert!(!has_object(&root, &blobs[0].0).unwrap());
    assert!(get_all_commits(&root).unwrap().is_empty());
}

#[test]
fn a_pack_that_cannot_be_written_fails_the_batch_for_good() {
    let (_tmp, root) = new_repo(false);
    let mut batch = Batch::begin(&root).unwrap();
    let staging = std::fs::read_dir(root.join(".muse/tmp")).unwrap().next().unwrap().unwrap().path();
    std::fs::remove_dir_all(&staging).unwrap();
    let item = |i: usize| format!("item {i}").into_bytes();
    let mut failed_at = None;
    for i in 0..=PACK_MIN_ENTRIES {
        if let Err(e) = batch.write_object(&blob_id(&item(i)), &item(i)) {
            assert!(e.to_string().contains("pack.tmp"), "{e}");
            failed_at = Some(i);
            break;
        }
    }
    assert_eq!(failed_at, Some(PACK_MIN_ENTRIES), "the item past the limit starts the pack");
    std::fs::create_dir(&staging).unwrap();
    let c = b"after".to_vec();
    assert!(batch.write_object(&blob_id(&c), &c).is_err());
    batch.write_branch_ref("main", &muse_core::ids::fake_id("c")).unwrap();
    assert!(batch.commit().is_err());
    assert!(!has_object(&root, &blob_id(&item(0))).unwrap());
    assert!(pack_files(&root).is_empty());
    assert_eq!(read_branch_ref(&root, "main").unwrap(), None);
}
