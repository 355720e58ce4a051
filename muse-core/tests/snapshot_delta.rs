//! Snapshot records stored as skip deltas on a base snapshot (SPEC §3):
//! small on disk and growing with the paths changed, always read back full
//! and verified, at most `popcount(depth)` bases read, a checkpoint every
//! `CHECKPOINT_INTERVAL`, corruption of a base detected on every snapshot
//! whose chain holds it, and GC never pruning a base a kept snapshot needs.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{age_tree, make_writable, new_repo, shift_mtime_back, ts};
use muse_core::batch::Batch;
use muse_core::commits::write_commit;
use muse_core::error::Error;
use muse_core::ids::blob_id;
use muse_core::paths::snapshot_path;
use muse_core::reachability::{find_unreachable, prune};
use muse_core::records::{CommitRecord, SnapshotRecord};
use muse_core::refs::write_branch_ref;
use muse_core::snapshots::{
    read_snapshot, snapshot_bases, write_snapshot, write_snapshot_with_base, CHECKPOINT_INTERVAL,
};

type Manifest = BTreeMap<String, String>;

/// `n` manifests over `files` paths, each changing `changes` files of the
/// previous one (one of them removed and re-added under a new name every
/// other step, so removals are covered too).
fn history(n: usize, files: usize, changes: usize) -> Vec<Manifest> {
    let mut m: Manifest =
        (0..files).map(|i| (format!("src/dir{:02}/file_{i:04}.rs", i % 37), blob_id(format!("v0 {i}").as_bytes()))).collect();
    let mut out = vec![m.clone()];
    for step in 1..n {
        let keys: Vec<String> = m.keys().cloned().collect();
        for c in 0..changes {
            let k = &keys[(step * 7 + c * 131) % keys.len()];
            m.insert(k.clone(), blob_id(format!("v{step} {k}").as_bytes()));
        }
        if step % 2 == 0 {
            let k = keys[(step * 13) % keys.len()].clone();
            m.remove(&k);
            m.insert(format!("{k}.moved{step}"), blob_id(k.as_bytes()));
        }
        out.push(m.clone());
    }
    out
}

fn size(root: &Path, id: &str) -> u64 {
    std::fs::metadata(snapshot_path(root, id).unwrap()).unwrap().len()
}

fn is_full(root: &Path, id: &str) -> bool {
    let bytes = std::fs::read(snapshot_path(root, id).unwrap()).unwrap();
    let v: rmpv::Value = rmp_serde::from_slice(&bytes).unwrap();
    v.as_map().unwrap().iter().any(|(k, _)| k.as_str() == Some("manifest"))
}

fn field(root: &Path, id: &str, key: &str) -> Option<rmpv::Value> {
    let bytes = std::fs::read(snapshot_path(root, id).unwrap()).unwrap();
    let v: rmpv::Value = rmp_serde::from_slice(&bytes).unwrap();
    v.as_map().unwrap().iter().find(|(k, _)| k.as_str() == Some(key)).map(|(_, v)| v.clone())
}

fn map_mut(v: &mut rmpv::Value) -> &mut Vec<(rmpv::Value, rmpv::Value)> {
    match v {
        rmpv::Value::Map(m) => m,
        other => panic!("not a map: {other:?}"),
    }
}

fn overwrite(path: &PathBuf, bytes: &[u8]) {
    make_writable(path);
    std::fs::write(path, bytes).unwrap();
}

/// Writes `hist` as one chain, each snapshot on top of the previous one.
fn write_chain(root: &Path, hist: Vec<Manifest>) -> Vec<SnapshotRecord> {
    let recs: Vec<SnapshotRecord> = hist.into_iter().map(SnapshotRecord::new).collect();
    let mut prev: Option<String> = None;
    for r in &recs {
        assert!(write_snapshot_with_base(root, r, prev.as_deref(), None).unwrap());
        prev = Some(r.snapshot_id.clone());
    }
    recs
}

#[test]
fn a_chain_of_100_is_small_on_disk_reads_back_full_and_skips() {
    let (_tmp, root) = new_repo(true);
    let recs = write_chain(&root, history(100, 700, 5));
    // Writing again is a no-op.
    assert!(!write_snapshot_with_base(&root, &recs[5], Some(&recs[4].snapshot_id), None).unwrap());

    let full_bytes = recs[50].to_msgpack().unwrap().len() as u64;
    for (i, r) in recs.iter().enumerate() {
        let back = read_snapshot(&root, &r.snapshot_id).unwrap().unwrap();
        assert_eq!(back.manifest, r.manifest, "snapshot {i}");
        assert_eq!(back.snapshot_id, r.snapshot_id);
        assert_eq!(is_full(&root, &r.snapshot_id), i == 0, "snapshot {i}");
        // Skip deltas: position i is a delta on position i & (i - 1), so a
        // read follows popcount(i) bases.
        assert_eq!(snapshot_bases(&root, &r.snapshot_id).unwrap().len(), i.count_ones() as usize, "snapshot {i}");
        if i > 0 {
            assert_eq!(field(&root, &r.snapshot_id, "depth"), Some(rmpv::Value::from(i)));
            let base = &recs[i & (i - 1)].snapshot_id;
            assert_eq!(field(&root, &r.snapshot_id, "base_snapshot_id"), Some(base.clone().into()), "snapshot {i}");
            // A delta spans (i & -i) commits of 5-7 changes, ~100 bytes each.
            let s = size(&root, &r.snapshot_id);
            let span = 1u64 << i.trailing_zeros();
            assert!(s < 400 + span * 7 * 110, "delta {i} is {s} bytes");
        }
    }
    let total: u64 = recs.iter().map(|r| size(&root, &r.snapshot_id)).sum();
    println!(
        "700 files x 100 snapshots, 5 changes each: full record {full_bytes} B; stored {total} B total = {} B/snapshot; \
         all-full would be {} B",
        total / 100,
        full_bytes * 100
    );
    assert!(total * 10 < full_bytes * 100, "{total} vs {}", full_bytes * 100);
}

#[test]
fn a_long_chain_checkpoints_every_interval_and_reads_few_records() {
    let (_tmp, root) = new_repo(true);
    // Loose records, so that `is_full` can read each one's file (a batch
    // this large would otherwise write a pack; tests/pack.rs covers that).
    common::set_config(&root, "[core]\nfsync = \"off\"\n[pack]\nunpack_limit = 1000000\n");
    let n = CHECKPOINT_INTERVAL as usize + 40;
    // 600 paths, one changed per snapshot (made as we go: only IDs kept).
    let mut m: Manifest = (0..600).map(|i| (format!("d{}/f{i}", i % 9), blob_id(format!("v0 {i}").as_bytes()))).collect();
    let keys: Vec<String> = m.keys().cloned().collect();
    let mut ids = Vec::new();
    let mut batch = Batch::begin(&root).unwrap();
    for step in 0..n {
        if step > 0 {
            m.insert(keys[(step * 7) % keys.len()].clone(), blob_id(format!("v{step}").as_bytes()));
        }
        let r = SnapshotRecord::new(m.clone());
        assert!(batch.write_snapshot_with_base(&r, ids.last().map(String::as_str)).unwrap());
        ids.push(r.snapshot_id);
    }
    batch.commit().unwrap();
    let mut most = 0;
    for (i, id) in ids.iter().enumerate() {
        let pos = i % CHECKPOINT_INTERVAL as usize;
        assert_eq!(is_full(&root, id), pos == 0, "snapshot {i}");
        let bases = snapshot_bases(&root, id).unwrap().len();
        assert_eq!(bases, pos.count_ones() as usize, "snapshot {i}");
        most = most.max(bases);
        // read_snapshot verifies the rebuilt manifest against the ID.
        assert!(read_snapshot(&root, id).unwrap().is_some());
    }
    assert_eq!(most, CHECKPOINT_INTERVAL.trailing_zeros() as usize);
}

#[test]
fn stored_bytes_per_snapshot_grow_with_paths_changed_not_with_files() {
    // 2,000 files; 3 vs 12 changed paths per snapshot; 300 snapshots each.
    let per_snapshot = |changes: usize| {
        let (_tmp, root) = new_repo(true);
        let recs = write_chain(&root, history(300, 2000, changes));
        let total: u64 = recs.iter().map(|r| size(&root, &r.snapshot_id)).sum();
        let full = recs[299].to_msgpack().unwrap().len() as u64;
        // The first (full) record is the fixed cost of a chain.
        ((total - size(&root, &recs[0].snapshot_id)) / 299, full)
    };
    let (few, full) = per_snapshot(3);
    let (many, _) = per_snapshot(12);
    println!("2,000 files: {few} B/snapshot with 3 changes, {many} B with 12; a full record is {full} B");
    assert!(few * 20 < full, "{few} vs {full}");
    let ratio = many as f64 / few as f64;
    assert!((2.5..5.5).contains(&ratio), "4x the changes gives {ratio:.2}x the bytes");
}

#[test]
fn delta_bytes_grow_with_changed_paths_not_with_files() {
    let (_tmp, root) = new_repo(true);
    let size_of_delta = |files: usize, changes: usize| {
        let h = history(2, files, changes);
        let (a, b) = (SnapshotRecord::new(h[0].clone()), SnapshotRecord::new(h[1].clone()));
        write_snapshot(&root, &a, None).unwrap();
        write_snapshot_with_base(&root, &b, Some(&a.snapshot_id), None).unwrap();
        assert!(!is_full(&root, &b.snapshot_id));
        size(&root, &b.snapshot_id)
    };
    let small_tree = size_of_delta(300, 5);
    let big_tree = size_of_delta(3000, 5);
    let many_changes = size_of_delta(3000, 50);
    assert!(big_tree < small_tree + 64, "{small_tree} vs {big_tree}");
    assert!(many_changes > 5 * big_tree, "{big_tree} vs {many_changes}");
}

#[test]
fn a_batch_chains_deltas_on_snapshots_staged_in_the_same_batch() {
    let (_tmp, root) = new_repo(true);
    let recs: Vec<SnapshotRecord> = history(70, 600, 3).into_iter().map(SnapshotRecord::new).collect();
    let mut batch = Batch::begin(&root).unwrap();
    let mut prev: Option<String> = None;
    for (i, r) in recs.iter().enumerate() {
        // One uses an older base, staged but out of the batch's recent cache.
        let base = if i == 65 { Some(recs[40].snapshot_id.clone()) } else { prev.clone() };
        assert!(batch.write_snapshot_with_base(r, base.as_deref()).unwrap());
        prev = Some(r.snapshot_id.clone());
    }
    assert!(!batch.write_snapshot_with_base(&recs[3], None).unwrap());
    let stats = batch.commit().unwrap();
    assert_eq!(stats.snapshots_written, 70);
    let mut fulls = 0;
    for r in &recs {
        assert_eq!(read_snapshot(&root, &r.snapshot_id).unwrap().unwrap().manifest, r.manifest);
        fulls += is_full(&root, &r.snapshot_id) as usize;
    }
    assert_eq!(fulls, 1, "one checkpoint, at 0");
    // 65 sits on 40 (depth 40): position 41, a delta on 41 & 40 = 40.
    assert_eq!(field(&root, &recs[65].snapshot_id, "base_snapshot_id"), Some(recs[40].snapshot_id.clone().into()));
    assert_eq!(field(&root, &recs[65].snapshot_id, "depth"), Some(rmpv::Value::from(41)));
    // 67 (position 43) is a delta on 66 (42), 68 (44) on 40, skipping 65-67.
    assert_eq!(field(&root, &recs[67].snapshot_id, "base_snapshot_id"), Some(recs[66].snapshot_id.clone().into()));
    assert_eq!(field(&root, &recs[68].snapshot_id, "base_snapshot_id"), Some(recs[40].snapshot_id.clone().into()));
}

#[test]
fn full_records_stay_readable_and_unknown_keys_survive_deltas() {
    let (_tmp, root) = new_repo(true);
    let h = history(3, 50, 2);
    let a = SnapshotRecord::new(h[0].clone());
    write_snapshot(&root, &a, None).unwrap();
    assert!(is_full(&root, &a.snapshot_id));
    let mut b = SnapshotRecord::new(h[1].clone());
    b.extra.push(("future_field".into(), rmpv::Value::from("kept")));
    write_snapshot_with_base(&root, &b, Some(&a.snapshot_id), None).unwrap();
    assert!(!is_full(&root, &b.snapshot_id));
    assert_eq!(field(&root, &b.snapshot_id, "depth"), Some(rmpv::Value::from(1)));
    let back = read_snapshot(&root, &b.snapshot_id).unwrap().unwrap();
    assert_eq!(back, b);
    // An absent or unreadable base gives a full record.
    let c = SnapshotRecord::new(h[2].clone());
    write_snapshot_with_base(&root, &c, Some(&blob_id(b"no such snapshot")), None).unwrap();
    assert!(is_full(&root, &c.snapshot_id));
    // A malformed base ID is refused.
    let d = SnapshotRecord::new(BTreeMap::from([("x".to_string(), blob_id(b"x"))]));
    assert!(matches!(write_snapshot_with_base(&root, &d, Some("../evil"), None), Err(Error::InvalidId { .. })));
}

#[test]
fn a_corrupt_or_missing_base_is_corrupt_on_every_snapshot_built_on_it() {
    let (_tmp, root) = new_repo(true);
    let recs = write_chain(&root, history(8, 100, 2));
    let chains: Vec<Vec<String>> = recs.iter().map(|r| snapshot_bases(&root, &r.snapshot_id).unwrap()).collect();
    // Damage to record `bad` breaks exactly the records whose chain holds
    // it (3 and 7 sit on 2; 4, 5 and 6 do not).
    assert!(chains[3].contains(&recs[2].snapshot_id) && chains[7].contains(&recs[6].snapshot_id));
    assert!(!chains[4].contains(&recs[2].snapshot_id));
    let expect_corrupt = |what: &str, bad: usize, gone: bool| {
        for (i, r) in recs.iter().enumerate() {
            let hit = chains[i].contains(&recs[bad].snapshot_id);
            match read_snapshot(&root, &r.snapshot_id) {
                Err(Error::Corrupt { .. }) if hit || (i == bad && !gone) => {}
                Ok(None) if i == bad && gone => {}
                Ok(Some(back)) if !hit && i != bad => assert_eq!(back.manifest, r.manifest),
                other => panic!("{what}: snapshot {i} (chain holds {bad}: {hit}): got {other:?}"),
            }
        }
    };
    let p2 = snapshot_path(&root, &recs[2].snapshot_id).unwrap();
    let good = std::fs::read(&p2).unwrap();
    overwrite(&p2, b"\xff\x00garbage");
    expect_corrupt("garbage base", 2, false);
    // A base holding a valid delta with another upsert: manifest hash fails.
    let mut v: rmpv::Value = rmp_serde::from_slice(&good).unwrap();
    for (k, val) in map_mut(&mut v) {
        if k.as_str() == Some("delta_upsert") {
            *val = rmpv::Value::Map(vec![("evil".into(), blob_id(b"evil").into())]);
        }
    }
    overwrite(&p2, &rmp_serde::to_vec(&v).unwrap());
    expect_corrupt("tampered base", 2, false);
    // A missing base.
    std::fs::remove_file(&p2).unwrap();
    expect_corrupt("missing base", 2, true);
    std::fs::write(&p2, &good).unwrap();
    // Record 7 (depth 7) made to point at itself, then at 6 with the same
    // depth, then at a record that points back at it: refused, no endless
    // loop.
    let p7 = snapshot_path(&root, &recs[7].snapshot_id).unwrap();
    let orig7: rmpv::Value = rmp_serde::from_slice(&std::fs::read(&p7).unwrap()).unwrap();
    let set = |v: &mut rmpv::Value, base: &str, depth: u64| {
        for (k, val) in map_mut(v) {
            if k.as_str() == Some("base_snapshot_id") {
                *val = base.into();
            }
            if k.as_str() == Some("depth") {
                *val = depth.into();
            }
        }
    };
    let mut v = orig7.clone();
    set(&mut v, &recs[7].snapshot_id, 7);
    overwrite(&p7, &rmp_serde::to_vec(&v).unwrap());
    expect_corrupt("self base", 7, false);
    let mut v = orig7.clone();
    set(&mut v, &recs[6].snapshot_id, 6);
    overwrite(&p7, &rmp_serde::to_vec(&v).unwrap());
    expect_corrupt("base of equal depth", 7, false);
    let p6 = snapshot_path(&root, &recs[6].snapshot_id).unwrap();
    let good6 = std::fs::read(&p6).unwrap();
    let mut v6: rmpv::Value = rmp_serde::from_slice(&good6).unwrap();
    set(&mut v6, &recs[7].snapshot_id, 8);
    overwrite(&p6, &rmp_serde::to_vec(&v6).unwrap());
    let mut v = orig7.clone();
    set(&mut v, &recs[6].snapshot_id, 9);
    overwrite(&p7, &rmp_serde::to_vec(&v).unwrap());
    for r in &recs[6..] {
        assert!(matches!(read_snapshot(&root, &r.snapshot_id), Err(Error::Corrupt { .. })), "cycle 7 -> 6 -> 7");
    }
    overwrite(&p6, &good6);
    // Over-deep.
    let mut v = orig7;
    set(&mut v, &recs[6].snapshot_id, 1_000_000);
    overwrite(&p7, &rmp_serde::to_vec(&v).unwrap());
    expect_corrupt("over depth", 7, false);
}

fn commit_on(root: &Path, snapshot: &str, parent: Option<&str>, msg: &str) -> String {
    let mut c = CommitRecord {
        branch: "main".into(),
        snapshot_id: snapshot.into(),
        message: msg.into(),
        committed_at: ts(1),
        parent_commit_id: parent.map(Into::into),
        author: "t".into(),
        ..Default::default()
    };
    c.commit_id = c.compute_id();
    write_commit(root, &c, None).unwrap();
    c.commit_id
}

#[test]
fn gc_never_prunes_a_base_a_kept_snapshot_needs() {
    let (_tmp, root) = new_repo(true);
    let recs: Vec<SnapshotRecord> = history(5, 100, 2).into_iter().map(SnapshotRecord::new).collect();
    let ids: Vec<&str> = recs.iter().map(|r| r.snapshot_id.as_str()).collect();
    write_snapshot(&root, &recs[0], None).unwrap();
    write_snapshot_with_base(&root, &recs[1], Some(ids[0]), None).unwrap();
    write_snapshot_with_base(&root, &recs[2], Some(ids[1]), None).unwrap();
    // Unreachable chain: 3 (old, full) <- 4 (young delta).
    write_snapshot(&root, &recs[3], None).unwrap();
    write_snapshot_with_base(&root, &recs[4], Some(ids[3]), None).unwrap();
    assert!(!is_full(&root, ids[2]) && !is_full(&root, ids[4]));
    // Only snapshot 2 is a commit's; 0 and 1 are reachable only as its bases.
    let c = commit_on(&root, ids[2], None, "tip");
    commit_on(&root, ids[0], None, "dropped");
    write_branch_ref(&root, "main", &c).unwrap();

    let un = find_unreachable(&root).unwrap();
    assert_eq!(un.commits.len(), 1);
    // Skip deltas: 2 (position 2) is a delta on 0, so 1 is no one's base.
    assert_eq!(snapshot_bases(&root, ids[2]).unwrap(), vec![ids[0].to_string()]);
    let mut expect: Vec<String> = vec![ids[1].into(), ids[3].into(), ids[4].into()];
    expect.sort();
    assert_eq!(un.snapshots, expect);

    age_tree(&root.join(".muse"), Duration::from_secs(7200));
    // Snapshot 4 is young: its base 3 must stay.
    let p4 = snapshot_path(&root, ids[4]).unwrap();
    std::fs::File::open(&p4).unwrap().set_modified(std::time::SystemTime::now()).unwrap();
    prune(&root, &un, Duration::from_secs(3600)).unwrap();
    for (i, r) in recs.iter().enumerate() {
        match read_snapshot(&root, &r.snapshot_id).unwrap() {
            Some(back) => assert_eq!(back.manifest, r.manifest),
            None => assert_eq!(i, 1, "only the old unreachable 1 goes"),
        }
    }
    // Once 4 is old too, both go; the reachable chain stays.
    shift_mtime_back(&p4, Duration::from_secs(7200));
    prune(&root, &find_unreachable(&root).unwrap(), Duration::from_secs(3600)).unwrap();
    assert!(read_snapshot(&root, ids[4]).unwrap().is_none());
    assert!(read_snapshot(&root, ids[3]).unwrap().is_none());
    for i in [0, 2] {
        assert_eq!(read_snapshot(&root, ids[i]).unwrap().unwrap().manifest, recs[i].manifest);
    }
    assert!(muse_core::verify::verify_repo(&root).unwrap().problems.iter().all(|(_, p)| p.contains("blob")));
}

#[test]
fn worktree_commits_and_applied_bundles_store_deltas() {
    use muse_core::commit::CommitOptions;
    let (_tmp, root) = new_repo(true);
    let repo = muse_core::Repository::open(&root).unwrap();
    for i in 0..40 {
        std::fs::write(root.join(format!("f{i}.txt")), format!("v0 {i}")).unwrap();
    }
    let mut tips = Vec::new();
    for step in 0..4 {
        if step > 0 {
            std::fs::write(root.join(format!("f{step}.txt")), format!("v{step}")).unwrap();
        }
        repo.add_all().unwrap();
        let opts = CommitOptions { message: format!("c{step}"), author: "t".into(), ..Default::default() };
        tips.push(repo.commit(&opts).unwrap());
    }
    assert!(is_full(&root, &tips[0].snapshot_id));
    for c in &tips[1..] {
        assert!(!is_full(&root, &c.snapshot_id), "worktree commit stored full");
        read_snapshot(&root, &c.snapshot_id).unwrap().unwrap();
    }
    // Apply a bundle of that history into a fresh repository.
    let (_tmp2, other) = new_repo(true);
    let m = muse_core::mpack::build_mpack(&root, &[tips[3].commit_id.clone()], &[]).unwrap();
    muse_core::mpack::apply_mpack(&other, &m, &muse_core::mpack::Limits::default()).unwrap();
    assert!(is_full(&other, &tips[0].snapshot_id));
    for c in &tips[1..] {
        assert!(!is_full(&other, &c.snapshot_id), "applied snapshot stored full");
        let a = read_snapshot(&root, &c.snapshot_id).unwrap().unwrap();
        assert_eq!(read_snapshot(&other, &c.snapshot_id).unwrap().unwrap().manifest, a.manifest);
    }
    assert!(muse_core::verify::verify_repo(&other).unwrap().is_ok());
}

/// Two branches staged in one batch with `changed` sets (as a bundle's
/// apply does), alternating every few records so that each branch's
/// skip-delta bases leave the batch's level cache: every record still
/// reads back (its manifest hash verified) and keeps the skip-delta shape
/// (`popcount(depth)` bases).
#[test]
fn interleaved_branches_staged_with_changed_sets_keep_skip_deltas() {
    use muse_core::store::{Backend, FsStore};
    use muse_core::SnapshotId;
    use std::collections::BTreeSet;
    let (_tmp, root) = new_repo(true);
    common::set_config(&root, "[core]\nfsync = \"off\"\n[pack]\nunpack_limit = 1000000\n");
    let start: Manifest = (0..300).map(|i| (format!("d{}/f{i}", i % 7), blob_id(format!("v0 {i}").as_bytes()))).collect();
    let keys: Vec<String> = start.keys().cloned().collect();
    let store = FsStore::new(&root);
    let mut batch = store.batch().unwrap();
    let root_rec = SnapshotRecord::new(start.clone());
    batch.write_snapshot(&root_rec, None).unwrap();
    // Each branch: its manifest and its last snapshot.
    let mut branches: Vec<(Manifest, String)> = vec![(start.clone(), root_rec.snapshot_id.clone()); 2];
    let mut written: Vec<(String, usize)> = Vec::new();
    for round in 0..60 {
        let b = round % 2;
        for k in 0..(3 + round % 4) {
            let (m, last) = &mut branches[b];
            let mut changed = BTreeSet::new();
            let p = keys[(round * 31 + k * 7 + b * 101) % keys.len()].clone();
            m.insert(p.clone(), blob_id(format!("{b} {round} {k}").as_bytes()));
            changed.insert(p);
            if k == 1 {
                let gone = keys[(round * 17 + b) % keys.len()].clone();
                m.remove(&gone);
                changed.insert(gone);
            }
            let rec = SnapshotRecord::new(m.clone());
            let base = SnapshotId::parse(last).unwrap();
            batch.write_snapshot_delta(&rec, Some(&base), &changed).unwrap();
            *last = rec.snapshot_id.clone();
            written.push((rec.snapshot_id, b));
        }
    }
    batch.commit().unwrap();
    let mut per_branch = [0usize; 2];
    for (id, b) in &written {
        per_branch[*b] += 1;
        let pos = per_branch[*b];
        assert!(read_snapshot(&root, id).unwrap().is_some(), "{id}");
        let bases = snapshot_bases(&root, id).unwrap().len();
        assert_eq!(bases, pos.count_ones() as usize, "branch {b} record {pos}");
    }
}
