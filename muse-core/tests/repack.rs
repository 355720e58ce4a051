//! Repacking (`muse_core::repack`): everything stored reads the same
//! after; pruning drops only old unkept entries; readers and writers
//! running beside a repack lose nothing.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use common::{make_commit, new_repo, set_mtime};
use muse_core::batch::Batch;
use muse_core::commits::{list_commit_ids, read_commit_bytes, write_commit};
use muse_core::ids::blob_id;
use muse_core::object_store::{has_object, read_object, write_object};
use muse_core::pack::{digest_of, packs_dir, Encoding, EntryKind, Pack};
use muse_core::records::SnapshotRecord;
use muse_core::refs::read_branch_ref;
use muse_core::repack::{repack, RepackOptions};
use muse_core::snapshots::{list_snapshot_ids, read_snapshot, write_snapshot_with_base};

/// Version `v` of file `f`: source-like lines, a few changed per version.
fn body(f: usize, v: usize) -> Vec<u8> {
    let mut s = String::new();
    for l in 0..120 {
        let t = if l % 23 == v % 23 { v } else { 0 };
        s.push_str(&format!("let value_{f}_{l} = compute({l}, {t}); // file {f}\n"));
    }
    s.into_bytes()
}

/// A writer of a linear history over 12 files (2 changed per commit).
struct History {
    manifest: BTreeMap<String, String>,
    last_commit: Option<String>,
    last_snap: Option<String>,
    n: usize,
    branch: String,
}

impl History {
    fn new(branch: &str) -> History {
        History { manifest: BTreeMap::new(), last_commit: None, last_snap: None, n: 0, branch: branch.into() }
    }

    /// The blobs, snapshot and commit of the next commit.
    fn next(&mut self) -> (Vec<(String, Vec<u8>)>, SnapshotRecord, muse_core::records::CommitRecord) {
        let c = self.n;
        self.n += 1;
        let files: Vec<usize> = if c == 0 { (0..12).collect() } else { vec![c % 12, (c * 5 + 1) % 12] };
        let mut blobs = Vec::new();
        for f in files {
            let b = body(f, c);
            let id = blob_id(&b);
            self.manifest.insert(format!("{}/src/f{f}.rs", self.branch), id.clone());
            blobs.push((id, b));
        }
        let snap = SnapshotRecord::new(self.manifest.clone());
        let mut rec = make_commit(self.last_commit.as_deref(), None, &format!("{} {c}", self.branch), c as u32);
        rec.branch = self.branch.clone();
        rec.snapshot_id = snap.snapshot_id.clone();
        rec.commit_id = rec.compute_id();
        (blobs, snap, rec)
    }

    /// `n` commits through one batch (a pack when large enough), ref moved.
    fn batch(&mut self, root: &Path, n: usize) {
        let mut b = Batch::begin(root).unwrap();
        for _ in 0..n {
            let (blobs, snap, rec) = self.next();
            for (id, bytes) in &blobs {
                b.write_object(id, bytes).unwrap();
            }
            b.write_snapshot_with_base(&snap, self.last_snap.as_deref()).unwrap();
            b.write_commit(&rec).unwrap();
            self.last_snap = Some(snap.snapshot_id.clone());
            self.last_commit = Some(rec.commit_id.clone());
        }
        b.write_branch_ref(&self.branch, self.last_commit.as_deref().unwrap()).unwrap();
        b.commit().unwrap();
    }

    /// `n` commits as loose files (per-call writes), ref moved.
    fn loose(&mut self, root: &Path, n: usize) {
        for _ in 0..n {
            let (blobs, snap, rec) = self.next();
            for (id, bytes) in &blobs {
                write_object(root, id, bytes, None).unwrap();
            }
            write_snapshot_with_base(root, &snap, self.last_snap.as_deref(), None).unwrap();
            write_commit(root, &rec, None).unwrap();
            self.last_snap = Some(snap.snapshot_id.clone());
            self.last_commit = Some(rec.commit_id.clone());
        }
        muse_core::refs::write_branch_ref(root, &self.branch, self.last_commit.as_deref().unwrap()).unwrap();
    }
}

/// Everything readable: (blob ID → bytes, commit ID → record bytes,
/// snapshot ID → manifest).
type Contents = (BTreeMap<String, Vec<u8>>, BTreeMap<String, Vec<u8>>, BTreeMap<String, BTreeMap<String, String>>);

fn contents(root: &Path) -> Contents {
    let mut blobs = BTreeMap::new();
    let mut snaps = BTreeMap::new();
    for s in list_snapshot_ids(root).unwrap() {
        let rec = read_snapshot(root, &s).unwrap().unwrap();
        for id in rec.manifest.values() {
            blobs.entry(id.clone()).or_insert_with(|| read_object(root, id).unwrap());
        }
        snaps.insert(s, rec.manifest);
    }
    let commits =
        list_commit_ids(root).unwrap().into_iter().map(|c| (c.clone(), read_commit_bytes(root, &c).unwrap().unwrap())).collect();
    (blobs, commits, snaps)
}

fn pack_files(root: &Path) -> Vec<PathBuf> {
    match std::fs::read_dir(packs_dir(root)) {
        Ok(rd) => {
            let mut v: Vec<PathBuf> = rd.map(|e| e.unwrap().path()).collect();
            v.sort();
            v
        }
        Err(_) => Vec::new(),
    }
}

/// Loose object, commit and snapshot files.
fn loose_files(root: &Path) -> usize {
    let dot = root.join(".muse");
    let mut n = 0;
    for d in ["commits", "snapshots"] {
        n += std::fs::read_dir(dot.join(d)).map(|rd| rd.count()).unwrap_or(0);
    }
    if let Ok(rd) = std::fs::read_dir(dot.join("objects/sha256")) {
        for shard in rd {
            n += std::fs::read_dir(shard.unwrap().path()).unwrap().count();
        }
    }
    n
}

#[test]
fn repack_keeps_every_item_and_reads_the_same() {
    let (_d, root) = new_repo(true);
    let mut h = History::new("main");
    h.batch(&root, 40);
    h.loose(&root, 5);
    h.batch(&root, 40);
    let mut side = History::new("side");
    side.loose(&root, 3);
    // A blob no manifest names.
    let stray = b"a blob no snapshot names".to_vec();
    write_object(&root, &blob_id(&stray), &stray, None).unwrap();
    let before = contents(&root);
    assert_eq!(pack_files(&root).len(), 2);
    let loose_before = loose_files(&root);
    assert!(loose_before > 20);

    let report = repack(&root, &RepackOptions::default()).unwrap();
    assert_eq!(report.packs_replaced, 2);
    assert_eq!(report.loose_removed, loose_before);
    assert_eq!(report.dropped, 0);
    assert!(report.deltas > 50, "{report:?}");
    assert!(report.bytes_after < report.bytes_before, "{report:?}");
    let packs = pack_files(&root);
    assert_eq!(packs, vec![report.pack.clone().unwrap()]);
    assert_eq!(loose_files(&root), 0);

    let after = contents(&root);
    assert!(before == after, "the store reads differently after the repack");
    assert_eq!(read_object(&root, &blob_id(&stray)).unwrap(), stray);
    assert_eq!(read_branch_ref(&root, "main").unwrap(), h.last_commit);
    assert!(muse_core::verify::verify_repo(&root).unwrap().problems.is_empty());
    // Blobs are deltas on the previous version of the same path.
    let pack = Pack::open(&packs[0]).unwrap();
    let v1 = blob_id(&body(1, 1));
    let e = pack.find(EntryKind::Object, &digest_of(&v1).unwrap()).unwrap();
    assert_eq!(e.encoding, Encoding::Delta);

    // A second repack of the single pack keeps everything too.
    let again = repack(&root, &RepackOptions::default()).unwrap();
    assert_eq!(again.entries, report.entries);
    assert!(contents(&root) == after);
    // An incremental repack with nothing small to merge does nothing.
    let auto = repack(&root, &RepackOptions { all: false, small_pack_bytes: 1, ..Default::default() }).unwrap();
    assert_eq!(auto.pack, None);
}

#[test]
fn incremental_repack_merges_small_packs_and_loose_files_only() {
    let (_d, root) = new_repo(true);
    let mut h = History::new("main");
    h.batch(&root, 60);
    let big = pack_files(&root)[0].clone();
    let big_size = std::fs::metadata(&big).unwrap().len();
    h.batch(&root, 40);
    h.loose(&root, 2);
    let before = contents(&root);
    let report =
        repack(&root, &RepackOptions { all: false, small_pack_bytes: big_size, ..Default::default() }).unwrap();
    assert_eq!(report.packs_replaced, 1, "{report:?}");
    assert!(big.exists(), "the large pack is kept");
    assert_eq!(pack_files(&root).len(), 2);
    assert_eq!(loose_files(&root), 0);
    assert!(contents(&root) == before);
}

#[test]
fn prune_drops_old_unkept_entries_and_keeps_young_ones() {
    let (_d, root) = new_repo(true);
    let mut h = History::new("main");
    h.batch(&root, 40);
    // Unreachable blobs: one in an old pack, one in a young pack, one old
    // loose, one young loose.
    let blob = |s: &str| s.as_bytes().repeat(30);
    let (old_packed, young_packed, old_loose, young_loose) =
        (blob("old packed "), blob("young packed "), blob("old loose "), blob("young loose "));
    let write_pack = |extra: &[u8]| {
        let mut b = Batch::begin(&root).unwrap();
        b.write_object(&blob_id(extra), extra).unwrap();
        for i in 0..110 {
            let x = format!("filler {} {i}", String::from_utf8_lossy(&extra[..5])).into_bytes();
            b.write_object(&blob_id(&x), &x).unwrap();
        }
        b.commit().unwrap();
    };
    write_pack(&old_packed);
    let old = SystemTime::now() - Duration::from_secs(7200);
    for p in pack_files(&root) {
        set_mtime(&p, old);
    }
    write_pack(&young_packed);
    write_object(&root, &blob_id(&old_loose), &old_loose, None).unwrap();
    set_mtime(&muse_core::paths::object_path(&root, &blob_id(&old_loose)).unwrap(), old);
    write_object(&root, &blob_id(&young_loose), &young_loose, None).unwrap();
    let reachable_before = contents(&root);

    let unkept: HashSet<[u8; 32]> =
        [&old_packed, &young_packed, &old_loose, &young_loose].iter().map(|b| digest_of(&blob_id(b)).unwrap()).collect();
    let keep = |k: EntryKind, d: &[u8; 32]| !(k == EntryKind::Object && unkept.contains(d));
    let opts = RepackOptions { keep: Some(&keep), grace: Duration::from_secs(3600), ..Default::default() };
    let report = repack(&root, &opts).unwrap();
    // The old pack's unkept blob and the old loose one are gone; the young
    // pack is copied whole, the young loose file kept.
    assert_eq!(report.dropped, 2, "{report:?}");
    assert!(!has_object(&root, &blob_id(&old_packed)).unwrap());
    assert!(!has_object(&root, &blob_id(&old_loose)).unwrap());
    assert_eq!(read_object(&root, &blob_id(&young_packed)).unwrap(), young_packed);
    assert_eq!(read_object(&root, &blob_id(&young_loose)).unwrap(), young_loose);
    // Everything kept reads the same.
    assert!(contents(&root) == reachable_before);
    assert_eq!(pack_files(&root).len(), 1);
}

#[test]
fn a_reader_holding_the_old_packs_still_reads_after_a_repack() {
    let (_d, root) = new_repo(true);
    let mut h = History::new("main");
    h.batch(&root, 40);
    h.batch(&root, 40);
    let before = contents(&root);
    // A reader that listed the packs (and opened them) before the swap.
    let old_set = muse_core::pack::cached(&root);
    assert_eq!(old_set.packs().len(), 2);
    repack(&root, &RepackOptions::default()).unwrap();
    for p in old_set.packs() {
        assert!(!p.path().exists(), "replaced packs are removed");
        for e in p.entries() {
            let b = p.read(e, "item", u64::MAX).unwrap();
            if e.kind == EntryKind::Object {
                assert_eq!(blob_id(&b), e.id());
            }
        }
    }
    // A reader whose cached listing names removed packs re-lists.
    assert!(contents(&root) == before);
}

#[test]
fn a_writer_committing_batches_during_repacks_loses_nothing() {
    let (_d, root) = new_repo(true);
    let mut h = History::new("main");
    h.batch(&root, 30);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let root = root.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut w = History::new("writer");
            let mut rounds = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) || rounds < 6 {
                // Alternately a pack-sized batch and a small (loose) one.
                w.batch(&root, if rounds % 2 == 0 { 40 } else { 3 });
                rounds += 1;
            }
            w.last_commit.unwrap()
        })
    };
    let mut repacks = 0;
    for _ in 0..5 {
        let r = repack(&root, &RepackOptions::default()).unwrap();
        repacks += usize::from(r.pack.is_some());
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let tip = writer.join().unwrap();
    assert!(repacks >= 1);
    assert_eq!(read_branch_ref(&root, "writer").unwrap().as_deref(), Some(tip.as_str()));
    // Every commit the writer made, with its snapshot and blobs, reads.
    let mut n = 0;
    let mut at = Some(tip);
    while let Some(c) = at {
        let rec = muse_core::commits::read_commit(&root, &c).unwrap().unwrap();
        let snap = read_snapshot(&root, &rec.snapshot_id).unwrap().unwrap();
        for id in snap.manifest.values() {
            read_object(&root, id).unwrap();
        }
        at = rec.parent_commit_id.clone();
        n += 1;
    }
    assert!(n >= 6 * 3);
    // A final repack leaves one pack and a clean store.
    repack(&root, &RepackOptions::default()).unwrap();
    assert_eq!(pack_files(&root).len(), 1);
    assert!(muse_core::verify::verify_repo(&root).unwrap().problems.is_empty());
}

#[test]
fn repack_stores_records_as_deltas_on_their_parents() {
    let (_d, root) = new_repo(true);
    let mut h = History::new("main");
    h.batch(&root, 60);
    h.loose(&root, 4);
    let before = contents(&root);
    let report = repack(&root, &RepackOptions::default()).unwrap();
    assert!(contents(&root) == before, "the store reads differently after the repack");
    let pack = Pack::open(report.pack.as_ref().unwrap()).unwrap();
    let deltas = |k: EntryKind| pack.entries_of(k).iter().filter(|e| e.encoding == Encoding::Delta).count();
    let commits = pack.entries_of(EntryKind::Commit).len();
    // Every commit but the root has its parent's record as base.
    assert!(deltas(EntryKind::Commit) * 10 >= commits * 8, "{} of {commits}", deltas(EntryKind::Commit));
    assert!(deltas(EntryKind::Snapshot) > 0, "snapshot records are deltas on their bases");
    // The tip's record is a delta on its first parent's record.
    let tip = h.last_commit.clone().unwrap();
    let e = pack.find(EntryKind::Commit, &digest_of(&tip).unwrap()).unwrap();
    let stored = pack.raw_entry(&e).unwrap();
    let parent = muse_core::commits::read_commit(&root, &tip).unwrap().unwrap().parents().next().unwrap().to_string();
    assert_eq!(&stored[..32], &digest_of(&parent).unwrap());
    assert!(muse_core::verify::verify_repo(&root).unwrap().problems.is_empty());
}

#[test]
fn writing_an_item_an_old_pack_holds_freshens_the_pack_so_prune_keeps_it() {
    let (_d, root) = new_repo(true);
    let mut h = History::new("main");
    h.batch(&root, 10);
    // An unreachable blob in its own pack, older than the grace period.
    let stray = b"a blob a writer is about to reference again ".repeat(20);
    let mut b = Batch::begin(&root).unwrap();
    b.write_object(&blob_id(&stray), &stray).unwrap();
    for i in 0..110 {
        let x = format!("filler {i}").into_bytes();
        b.write_object(&blob_id(&x), &x).unwrap();
    }
    b.commit().unwrap();
    let old = SystemTime::now() - Duration::from_secs(7200);
    for p in pack_files(&root) {
        set_mtime(&p, old);
    }
    // This process must not trust the mtime it knew before the backdating
    // (another process, in real use, sees the pack as old).
    muse_core::pack::forget(&root);
    let stray_pack = pack_files(&root)
        .into_iter()
        .find(|p| Pack::open(p).unwrap().find(EntryKind::Object, &digest_of(&blob_id(&stray)).unwrap()).is_some())
        .unwrap();
    // The writer finds it stored and writes nothing: the pack is young again.
    assert!(!write_object(&root, &blob_id(&stray), &stray, None).unwrap());
    let age = |p: &Path| SystemTime::now().duration_since(std::fs::metadata(p).unwrap().modified().unwrap()).unwrap();
    assert!(age(&stray_pack) < Duration::from_secs(60), "{:?}", age(&stray_pack));
    // Within the freshen window a second find does not touch it again.
    set_mtime(&stray_pack, old);
    assert!(!write_object(&root, &blob_id(&stray), &stray, None).unwrap());
    assert!(age(&stray_pack) > Duration::from_secs(3600));
    // A batch finding it in a pack freshens too (a fresh process view).
    muse_core::pack::forget(&root);
    let mut b = Batch::begin(&root).unwrap();
    b.write_object(&blob_id(&stray), &stray).unwrap();
    b.commit().unwrap();
    assert!(age(&stray_pack) < Duration::from_secs(60));

    let d = digest_of(&blob_id(&stray)).unwrap();
    let keep = |k: EntryKind, x: &[u8; 32]| !(k == EntryKind::Object && *x == d);
    let report =
        repack(&root, &RepackOptions { keep: Some(&keep), grace: Duration::from_secs(3600), ..Default::default() }).unwrap();
    assert_eq!(report.dropped, 0, "{report:?}");
    assert_eq!(read_object(&root, &blob_id(&stray)).unwrap(), stray);
}
