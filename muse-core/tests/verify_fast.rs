//! `muse verify` and `muse gc`'s reachability walk over delta-stored
//! snapshots (issue 20): verify rebuilds each manifest once per delta tree
//! and still finds every problem the record-by-record reading finds (with
//! the same messages); `find_unreachable` collects blobs from the stored
//! entries without rebuilding manifests and gives exactly the sets of the
//! original walk (commit parents incl. octopus extras, every snapshot read
//! in full, every base chain walked).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{make_writable, new_repo, set_config, ts};
use muse_core::batch::Batch;
use muse_core::commits::{list_commit_ids, read_commit, write_commit};
use muse_core::ids::{blob_id, fake_id};
use muse_core::object_store::{has_object, write_object};
use muse_core::pack::EntryKind;
use muse_core::paths::{object_path, snapshot_path};
use muse_core::reachability::{find_unreachable, prune_unreachable};
use muse_core::records::{CommitRecord, SnapshotRecord};
use muse_core::refs::{
    delete_branch_ref, list_branches, list_remote_refs, list_tags, read_stash, update_remote_refs, update_stash,
    update_tag, write_branch_ref,
};
use muse_core::snapshots::{list_snapshot_ids, read_snapshot, snapshot_bases, write_snapshot, write_snapshot_with_base};
use muse_core::verify::verify_repo;

type Manifest = BTreeMap<String, String>;

/// Writes the blob `content` (loose) and returns its ID.
fn blob(root: &Path, content: &str) -> String {
    let id = blob_id(content.as_bytes());
    write_object(root, &id, content.as_bytes(), None).unwrap();
    id
}

/// A commit record on `snapshot` with `parents` (the third and later ones
/// as an octopus merge's `extra_parents`).
fn commit_rec(snapshot: &str, parents: &[&str], msg: &str) -> CommitRecord {
    let mut c = CommitRecord {
        branch: "main".into(),
        snapshot_id: snapshot.into(),
        message: msg.into(),
        committed_at: ts(7),
        parent_commit_id: parents.first().map(|p| p.to_string()),
        parent2_commit_id: parents.get(1).map(|p| p.to_string()),
        author: "t".into(),
        ..Default::default()
    };
    if parents.len() > 2 {
        c.metadata.insert("extra_parents".into(), parents[2..].join(","));
    }
    c.commit_id = c.compute_id();
    c
}

/// A line of history: each step changes a few files of the previous
/// manifest (one removed and another added every third step), stores its
/// blobs, a snapshot (a delta on the previous one) and a commit.
struct Line<'a> {
    root: &'a Path,
    tag: String,
    manifest: Manifest,
    snapshot: String,
    tip: String,
    step: usize,
}

impl<'a> Line<'a> {
    fn start(root: &'a Path, tag: &str, files: usize) -> Line<'a> {
        let manifest: Manifest =
            (0..files).map(|i| (format!("d{}/f{i}.txt", i % 5), blob(root, &format!("{tag} base {i}")))).collect();
        let rec = SnapshotRecord::new(manifest.clone());
        write_snapshot(root, &rec, None).unwrap();
        let c = commit_rec(&rec.snapshot_id, &[], &format!("{tag} root"));
        write_commit(root, &c, None).unwrap();
        Line { root, tag: tag.into(), manifest, snapshot: rec.snapshot_id, tip: c.commit_id, step: 0 }
    }

    fn fork(&self, tag: &str) -> Line<'a> {
        Line { root: self.root, tag: tag.into(), manifest: self.manifest.clone(), snapshot: self.snapshot.clone(), tip: self.tip.clone(), step: 0 }
    }

    /// One more commit; `extra` are further parents (a merge).
    fn step(&mut self, extra: &[&str]) -> String {
        self.step += 1;
        let keys: Vec<String> = self.manifest.keys().cloned().collect();
        for c in 0..3 {
            let k = &keys[(self.step * 7 + c * 11) % keys.len()];
            let v = blob(self.root, &format!("{} {} {k}", self.tag, self.step));
            self.manifest.insert(k.clone(), v);
        }
        if self.step % 3 == 0 {
            let k = keys[(self.step * 5) % keys.len()].clone();
            self.manifest.remove(&k);
            let v = blob(self.root, &format!("{} new {}", self.tag, self.step));
            self.manifest.insert(format!("{k}.{}{}", self.tag, self.step), v);
        }
        let rec = SnapshotRecord::new(self.manifest.clone());
        write_snapshot_with_base(self.root, &rec, Some(&self.snapshot), None).unwrap();
        let mut parents = vec![self.tip.as_str()];
        parents.extend(extra);
        let c = commit_rec(&rec.snapshot_id, &parents, &format!("{} {}", self.tag, self.step));
        write_commit(self.root, &c, None).unwrap();
        self.snapshot = rec.snapshot_id;
        self.tip = c.commit_id.clone();
        c.commit_id
    }

    fn steps(&mut self, n: usize) -> String {
        for _ in 0..n {
            self.step(&[]);
        }
        self.tip.clone()
    }
}

/// A repository with a packed start of history, branches, merges (one an
/// octopus), a deleted branch, a stash entry, a tag, a remote-tracking
/// ref, and unreachable records and blobs (loose and packed).
fn rich_repo() -> (tempfile::TempDir, PathBuf) {
    let (tmp, root) = new_repo(true);
    set_config(&root, "[core]\nfsync = \"off\"\n[pack]\nunpack_limit = 20\n");
    // A packed first part: one batch of many items writes a pack.
    let mut main = Line::start(&root, "main", 40);
    {
        let mut b = Batch::begin(&root).unwrap();
        let mut m = main.manifest.clone();
        let mut prev_snap = main.snapshot.clone();
        let mut prev = main.tip.clone();
        for i in 0..30 {
            let content = format!("packed {i}");
            let id = blob_id(content.as_bytes());
            b.write_object(&id, content.as_bytes()).unwrap();
            m.insert(format!("packed/{}.txt", i % 12), id);
            let rec = SnapshotRecord::new(m.clone());
            b.write_snapshot_with_base(&rec, Some(&prev_snap)).unwrap();
            let c = commit_rec(&rec.snapshot_id, &[&prev], &format!("packed {i}"));
            b.write_commit(&c).unwrap();
            prev_snap = rec.snapshot_id;
            prev = c.commit_id;
        }
        // Packed but unreachable: a blob and a snapshot on a reachable base.
        let lost = b"packed but unreachable".to_vec();
        b.write_object(&blob_id(&lost), &lost).unwrap();
        let mut m2 = m.clone();
        m2.insert("lost.txt".into(), blob_id(&lost));
        b.write_snapshot_with_base(&SnapshotRecord::new(m2), Some(&prev_snap)).unwrap();
        b.commit().unwrap();
        main.manifest = m;
        main.snapshot = prev_snap;
        main.tip = prev;
    }
    assert!(!muse_core::pack::packed_ids(&root, EntryKind::Snapshot).is_empty(), "the batch wrote a pack");
    main.steps(10);
    let mut feature = main.fork("feature");
    let mut gone = main.fork("gone");
    feature.steps(12);
    gone.steps(9);
    main.steps(5);
    let mut side = main.fork("side");
    side.steps(4);
    let mut third = main.fork("third");
    third.steps(3);
    main.step(&[&feature.tip]);
    let mut octo = main.fork("octo");
    octo.step(&[&side.tip, &third.tip]);
    main.steps(6);
    // Only a tag, a remote-tracking ref and a stash entry reach these.
    let mut tagged = main.fork("tagged");
    tagged.steps(3);
    let mut remote = octo.fork("remote");
    remote.steps(4);
    let mut stashed = main.fork("stash");
    stashed.steps(1);
    write_branch_ref(&root, "main", &main.tip).unwrap();
    write_branch_ref(&root, "feature", &feature.tip).unwrap();
    write_branch_ref(&root, "octo", &octo.tip).unwrap();
    write_branch_ref(&root, "gone", &gone.tip).unwrap();
    assert!(delete_branch_ref(&root, "gone", None).unwrap());
    update_tag(&root, "v1.0", Some(None), Some(&tagged.tip)).unwrap();
    update_remote_refs(&root, &[("origin/main", None, Some(remote.tip.as_str()))]).unwrap();
    update_stash(&root, &[], std::slice::from_ref(&stashed.tip)).unwrap();
    // Unreachable: a loose blob, a full snapshot and a delta on a reachable
    // one, a commit on it.
    blob(&root, "orphan blob");
    let mut m = main.manifest.clone();
    m.insert("orphan.txt".into(), blob(&root, "orphan in snapshot"));
    let delta = SnapshotRecord::new(m);
    write_snapshot_with_base(&root, &delta, Some(&main.snapshot), None).unwrap();
    write_commit(&root, &commit_rec(&delta.snapshot_id, &[&main.tip], "dangling"), None).unwrap();
    let full = SnapshotRecord::new(BTreeMap::from([("solo.txt".to_string(), blob(&root, "solo"))]));
    write_snapshot(&root, &full, None).unwrap();
    (tmp, root)
}

/// Every stored object ID, loose and packed.
fn stored_objects(root: &Path) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = muse_core::pack::packed_ids(root, EntryKind::Object).into_iter().collect();
    for f in common::files_under(&root.join(".muse/objects/sha256")) {
        let shard = f.parent().unwrap().file_name().unwrap().to_string_lossy().into_owned();
        out.insert(format!("sha256:{shard}{}", f.file_name().unwrap().to_string_lossy()));
    }
    out
}

/// The original reachability walk: every root's commits by all parents,
/// every snapshot read in full and its base chain walked too.
fn reference_unreachable(root: &Path) -> (Vec<String>, Vec<String>, Vec<String>) {
    let mut stack: Vec<String> = list_branches(root).unwrap().into_iter().map(|(_, c)| c).collect();
    stack.extend(list_tags(root).unwrap().into_iter().map(|(_, c)| c));
    stack.extend(list_remote_refs(root).unwrap().into_iter().map(|(_, c)| c));
    stack.extend(read_stash(root).unwrap());
    let (mut commits, mut snapshots, mut blobs) = (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    let mut snap_stack = Vec::new();
    while let Some(c) = stack.pop() {
        if commits.insert(c.clone()) {
            let rec = read_commit(root, &c).unwrap().unwrap();
            stack.extend(rec.all_parents().into_iter().map(str::to_string));
            snap_stack.push(rec.snapshot_id);
        }
    }
    while let Some(s) = snap_stack.pop() {
        if snapshots.insert(s.clone()) {
            blobs.extend(read_snapshot(root, &s).unwrap().unwrap().manifest.into_values());
            snap_stack.extend(snapshot_bases(root, &s).unwrap());
        }
    }
    let un = |all: BTreeSet<String>, reach: &BTreeSet<String>| all.into_iter().filter(|x| !reach.contains(x)).collect();
    (
        un(list_commit_ids(root).unwrap().into_iter().collect(), &commits),
        un(list_snapshot_ids(root).unwrap().into_iter().collect(), &snapshots),
        un(stored_objects(root), &blobs),
    )
}

#[test]
fn find_unreachable_matches_the_full_manifest_walk() {
    let (_tmp, root) = rich_repo();
    let (commits, snapshots, objects) = reference_unreachable(&root);
    // The repository has something of each kind to find, loose and packed.
    assert_eq!(commits.len(), 10, "9 on the deleted branch + 1 dangling");
    assert!(snapshots.len() >= 10, "{snapshots:?}");
    let packed: BTreeSet<String> = muse_core::pack::packed_ids(&root, EntryKind::Object).into_iter().collect();
    assert!(objects.iter().any(|o| packed.contains(o)) && objects.iter().any(|o| !packed.contains(o)));
    let un = find_unreachable(&root).unwrap();
    assert_eq!(un.commits, commits);
    assert_eq!(un.snapshots, snapshots);
    assert_eq!(un.objects, objects);
    // The repository verifies, and pruning what is unreachable loses
    // nothing reachable.
    assert_eq!(verify_repo(&root).unwrap().problems, Vec::<(String, String)>::new());
    let (_, removed) = prune_unreachable(&root, Duration::ZERO).unwrap();
    assert!(removed > 0);
    let after = verify_repo(&root).unwrap();
    assert!(after.is_ok(), "{:?}", after.problems);
    assert_eq!(reference_unreachable(&root).0, Vec::<String>::new());
}

#[test]
fn a_missing_base_of_a_reachable_snapshot_fails_the_walk() {
    let (_tmp, root) = new_repo(true);
    let mut main = Line::start(&root, "m", 20);
    main.steps(6);
    write_branch_ref(&root, "main", &main.tip).unwrap();
    let bases = snapshot_bases(&root, &main.snapshot).unwrap();
    assert!(!bases.is_empty());
    std::fs::remove_file(snapshot_path(&root, &bases[0]).unwrap()).unwrap();
    let err = find_unreachable(&root).unwrap_err().to_string();
    assert!(err.contains("is missing"), "{err}");
}

#[test]
fn a_clean_repository_verifies_with_counts() {
    let (_tmp, root) = rich_repo();
    let r = verify_repo(&root).unwrap();
    assert!(r.is_ok(), "{:?}", r.problems);
    assert_eq!(r.commits, list_commit_ids(&root).unwrap().len());
    assert_eq!(r.snapshots, list_snapshot_ids(&root).unwrap().len());
    assert_eq!(r.objects, stored_objects(&root).len());
    // Branches main, feature, octo; the tag; the remote ref; the stash.
    assert_eq!(r.refs, 6);
}

/// For every snapshot: the problem `read_snapshot` (reading its whole
/// chain) and a blob check give it, as `verify` words it.
fn expected_snapshot_problems(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for s in list_snapshot_ids(root).unwrap() {
        match read_snapshot(root, &s) {
            Err(e) => {
                out.insert(format!("snapshot {s}"), e.to_string());
            }
            Ok(Some(rec)) => {
                let missing = rec.manifest.values().filter(|b| !has_object(root, b).unwrap()).count();
                if missing > 0 {
                    out.insert(format!("snapshot {s}"), format!("{missing} blob(s) missing"));
                }
            }
            Ok(None) => panic!("listed snapshot {s} vanished"),
        }
    }
    out
}

fn snapshot_problems(root: &Path) -> BTreeMap<String, String> {
    verify_repo(root).unwrap().problems.into_iter().filter(|(i, _)| i.starts_with("snapshot ")).collect()
}

fn overwrite(path: &Path, bytes: &[u8]) {
    make_writable(path);
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn snapshot_problems_are_those_of_reading_each_chain() {
    let (_tmp, root) = new_repo(true);
    let mut main = Line::start(&root, "m", 30);
    let mut snaps = vec![main.snapshot.clone()];
    for _ in 0..40 {
        main.step(&[]);
        snaps.push(main.snapshot.clone());
    }
    let mut branch = main.fork("b");
    let mut bsnaps = Vec::new();
    for _ in 0..20 {
        branch.step(&[]);
        bsnaps.push(branch.snapshot.clone());
    }
    assert!(snapshot_problems(&root).is_empty());
    // A tampered delta (another upsert): its manifest hash fails, and so
    // do those of the records stored on it.
    let p = snapshot_path(&root, &snaps[6]).unwrap();
    let mut v: rmpv::Value = rmp_serde::from_slice(&std::fs::read(&p).unwrap()).unwrap();
    let rmpv::Value::Map(entries) = &mut v else { panic!("not a map") };
    for (k, val) in entries.iter_mut() {
        if k.as_str() == Some("delta_upsert") {
            *val = rmpv::Value::Map(vec![("evil".into(), blob_id(b"evil").into())]);
        }
    }
    overwrite(&p, &rmp_serde::to_vec(&v).unwrap());
    // A deleted base in the middle of the chain (a delta several others
    // are stored on), a garbage record, and deleted blobs.
    let base_of_many = snapshot_bases(&root, &snaps[24]).unwrap()[0].clone();
    std::fs::remove_file(snapshot_path(&root, &base_of_many).unwrap()).unwrap();
    overwrite(&snapshot_path(&root, &bsnaps[3]).unwrap(), b"\xff\x00garbage");
    for content in ["m 12 d1/f11.txt", "b 5 d3/f18.txt", "m base 3"] {
        let o = object_path(&root, &blob_id(content.as_bytes())).unwrap();
        if o.exists() {
            std::fs::remove_file(o).unwrap();
        }
    }
    let expected = expected_snapshot_problems(&root);
    assert!(expected.len() > 20, "the damage reaches many snapshots: {}", expected.len());
    assert!(expected.values().any(|p| p.contains("blob(s) missing")));
    assert!(expected.values().any(|p| p.contains("hashes to")));
    assert!(expected.values().any(|p| p.contains("is missing")));
    let mut got = snapshot_problems(&root);
    // The deleted base itself is no longer listed (nothing to report on it).
    got.remove(&format!("snapshot {base_of_many}"));
    assert_eq!(got, expected);
}

#[test]
fn a_delta_whose_base_is_missing_is_reported_with_its_dependants() {
    let (_tmp, root) = new_repo(true);
    let mut main = Line::start(&root, "m", 40);
    main.steps(4);
    // Skip deltas: record 4's base is the root record 0; 2 is a delta on 0.
    let base = snapshot_bases(&root, &main.snapshot).unwrap()[0].clone();
    std::fs::remove_file(snapshot_path(&root, &base).unwrap()).unwrap();
    let r = verify_repo(&root).unwrap();
    let bad: Vec<&(String, String)> = r.problems.iter().filter(|(i, _)| i.starts_with("snapshot ")).collect();
    assert!(bad.iter().any(|(i, p)| *i == format!("snapshot {}", main.snapshot) && p.contains(&format!("base snapshot {base} is missing"))), "{bad:?}");
    // The commit whose snapshot it was reports it missing.
    assert!(r.problems.iter().any(|(i, p)| i.starts_with("commit ") && p.contains(&format!("snapshot {base} is missing"))));
}

#[test]
fn a_flipped_byte_in_a_loose_blob_is_found() {
    let (_tmp, root) = new_repo(true);
    let id = blob(&root, "some content to damage");
    let other = blob(&root, "intact");
    let p = object_path(&root, &id).unwrap();
    let mut bytes = std::fs::read(&p).unwrap();
    bytes[3] ^= 0x20;
    overwrite(&p, &bytes);
    let r = verify_repo(&root).unwrap();
    assert_eq!(r.objects, 2);
    assert_eq!(r.problems.len(), 1, "{:?}", r.problems);
    assert_eq!(r.problems[0].0, format!("object {id}"));
    assert!(r.problems[0].1.contains("content hashes to"));
    assert!(!r.problems.iter().any(|(i, _)| i.contains(&other)));
}

#[test]
fn a_flipped_byte_in_a_packed_blob_is_found() {
    let (_tmp, root) = new_repo(true);
    set_config(&root, "[core]\nfsync = \"off\"\n[pack]\nunpack_limit = 5\n");
    let mut b = Batch::begin(&root).unwrap();
    let mut ids = Vec::new();
    for i in 0..40 {
        let c = format!("packed blob number {i} ").repeat(50);
        let id = blob_id(c.as_bytes());
        b.write_object(&id, c.as_bytes()).unwrap();
        ids.push(id);
    }
    b.commit().unwrap();
    assert_eq!(verify_repo(&root).unwrap().problems, Vec::<(String, String)>::new());
    let set = muse_core::pack::refresh(&root);
    assert_eq!(set.packs().len(), 1);
    let pack = &set.packs()[0];
    let victim = &ids[17];
    let e = pack.find(EntryKind::Object, &muse_core::pack::digest_of(victim).unwrap()).unwrap();
    let path = pack.path().to_path_buf();
    let mut bytes = std::fs::read(&path).unwrap();
    // The last byte of the entry's data, whatever its encoding.
    bytes[(e.offset + e.stored_len - 1) as usize] ^= 0x01;
    overwrite(&path, &bytes);
    muse_core::pack::forget(&root);
    let r = verify_repo(&root).unwrap();
    assert_eq!(r.objects, 40);
    let bad: Vec<&String> = r.problems.iter().map(|(i, _)| i).collect();
    assert_eq!(bad, vec![&format!("object {victim}")], "{:?}", r.problems);
}

#[test]
fn missing_parents_are_found_including_an_octopus_extra_parent() {
    let (_tmp, root) = new_repo(true);
    let s = SnapshotRecord::new(BTreeMap::from([("a".to_string(), blob(&root, "a"))]));
    write_snapshot(&root, &s, None).unwrap();
    let base = commit_rec(&s.snapshot_id, &[], "base");
    write_commit(&root, &base, None).unwrap();
    let gone = fake_id("never stored");
    let orphan = commit_rec(&s.snapshot_id, &[&gone], "orphan");
    write_commit(&root, &orphan, None).unwrap();
    let gone_extra = fake_id("extra parent never stored");
    let octo = commit_rec(&s.snapshot_id, &[&base.commit_id, &orphan.commit_id, &base.commit_id, &gone_extra], "octopus");
    write_commit(&root, &octo, None).unwrap();
    write_branch_ref(&root, "main", &octo.commit_id).unwrap();
    let r = verify_repo(&root).unwrap();
    assert_eq!(r.commits, 3);
    assert_eq!(
        r.problems,
        {
            let mut v = vec![
                (format!("commit {}", orphan.commit_id), format!("parent {gone} is missing")),
                (format!("commit {}", octo.commit_id), format!("parent {gone_extra} is missing")),
            ];
            v.sort();
            v
        }
    );
}

#[test]
fn missing_blobs_are_counted_through_a_delta_chain() {
    let (_tmp, root) = new_repo(true);
    let m0: Manifest = (0..20).map(|i| (format!("f{i}"), blob(&root, &format!("c{i}")))).collect();
    let s0 = SnapshotRecord::new(m0.clone());
    write_snapshot(&root, &s0, None).unwrap();
    let absent = blob_id(b"never stored");
    let absent2 = blob_id(b"never stored either");
    // s1 adds a missing blob; s2 removes it again; s3 replaces it with a
    // stored one; s4 adds a second missing one on top of s1.
    let mut m1 = m0.clone();
    m1.insert("x".into(), absent.clone());
    let s1 = SnapshotRecord::new(m1.clone());
    write_snapshot_with_base(&root, &s1, Some(&s0.snapshot_id), None).unwrap();
    let mut m2 = m1.clone();
    m2.remove("x");
    m2.insert("f0".into(), blob(&root, "f0 again"));
    let s2 = SnapshotRecord::new(m2);
    write_snapshot_with_base(&root, &s2, Some(&s1.snapshot_id), None).unwrap();
    let mut m3 = m1.clone();
    m3.insert("x".into(), blob(&root, "x stored"));
    let s3 = SnapshotRecord::new(m3);
    write_snapshot_with_base(&root, &s3, Some(&s1.snapshot_id), None).unwrap();
    let mut m4 = m1.clone();
    m4.insert("y".into(), absent2);
    let s4 = SnapshotRecord::new(m4);
    write_snapshot_with_base(&root, &s4, Some(&s1.snapshot_id), None).unwrap();
    assert!(!snapshot_bases(&root, &s3.snapshot_id).unwrap().is_empty(), "stored as deltas");
    let got = snapshot_problems(&root);
    let want: BTreeMap<String, String> = BTreeMap::from([
        (format!("snapshot {}", s1.snapshot_id), "1 blob(s) missing".to_string()),
        (format!("snapshot {}", s4.snapshot_id), "2 blob(s) missing".to_string()),
    ]);
    assert_eq!(got, want);
    assert_eq!(got, expected_snapshot_problems(&root));
}

#[test]
fn tags_remote_refs_and_stash_entries_must_name_stored_commits() {
    let (_tmp, root) = new_repo(true);
    let s = SnapshotRecord::new(BTreeMap::from([("a".to_string(), blob(&root, "a"))]));
    write_snapshot(&root, &s, None).unwrap();
    let c = commit_rec(&s.snapshot_id, &[], "c");
    write_commit(&root, &c, None).unwrap();
    write_branch_ref(&root, "main", &c.commit_id).unwrap();
    let gone = fake_id("gone commit");
    update_tag(&root, "v1", Some(None), Some(&gone)).unwrap();
    update_remote_refs(&root, &[("origin/main", None, Some(gone.as_str()))]).unwrap();
    update_stash(&root, &[], std::slice::from_ref(&gone)).unwrap();
    let r = verify_repo(&root).unwrap();
    assert_eq!(r.refs, 4);
    let items: Vec<&str> = r.problems.iter().map(|(i, _)| i.as_str()).collect();
    assert_eq!(items, vec!["ref refs/remotes/origin/main", "ref refs/tags/v1", "stash@{0}"]);
    assert!(r.problems.iter().all(|(_, p)| p == &format!("points at missing commit {gone}")));
}
