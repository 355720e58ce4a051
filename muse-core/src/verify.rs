//! Whole-repository verification (`muse verify`, git's `fsck --full`):
//! every object's hash, every record's ID, every manifest's hash, every
//! ref's target, loose and packed; a pack that cannot be opened is a
//! problem too.
//!
//! # How the work is shared out
//!
//! * **Objects**: every stored copy of every blob (each loose file, each
//!   pack entry) is hashed exactly once, in parallel; blobs over
//!   [`STREAM_OVER`] bytes are streamed, never loaded whole.
//! * **Commits**: read in parallel slices (one `pread` per run of packed
//!   records, [`crate::commits::read_commits_opt`]), each ID recomputed;
//!   every parent ([`crate::records::CommitRecord::all_parents`], so an
//!   octopus merge's extra parents too) and the snapshot are looked up in
//!   the listing of stored records, not on disk one by one.
//! * **Snapshots**: a snapshot is stored as a delta on a base snapshot
//!   (SPEC §3, [`crate::snapshots`]), so rebuilding each manifest from
//!   scratch would walk its chain every time. Instead a first pass reads
//!   only each record's chain link ([`crate::snapshots::read_stored_snapshot_head`]),
//!   which makes a forest: full records are the roots, each delta hangs
//!   under its base (depths strictly decrease, so there is no cycle). Each
//!   tree is then walked depth first, in parallel across trees, with one
//!   manifest per tree: going down to a child applies its delta and logs
//!   what it replaced, coming back up undoes it. Every manifest is built
//!   once, from its base's, and hashed against its ID; memory is one
//!   manifest per worker thread plus the undo logs of one path. The blobs
//!   a manifest names are checked as they enter it (its delta's upserts),
//!   with a running count of missing ones.
//! * **Refs**: branches, a detached HEAD, tags, remote-tracking refs and
//!   stash entries point at stored commits.
//!
//! A record that is broken (undecodable, holding another ID, a missing
//! base, a base that is not shallower) is reported with the same message
//! `read_snapshot` gives for it, and so is every snapshot whose chain holds
//! it.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rayon::prelude::*;

use crate::error::{Error, IoContext, Result};
use crate::ids::{digest_from_id, is_hex64, Digest};
use crate::manifest::Manifest;
use crate::pack::{EntryKind, Pack, PackEntry};
use crate::records::CommitRecord;
use crate::snapshots::{StoredForm, StoredHead, MAX_DELTA_DEPTH};

/// Packed blobs larger than this (bytes, as stored) are hashed through a
/// streaming reader ([`crate::pack::EntryReader`]) instead of being read
/// whole: 8 MiB.
pub const STREAM_OVER: u64 = 8 << 20;

/// Commit records are read and checked in slices of this many.
const COMMIT_SLICE: usize = 2048;

/// What [`verify_repo`] checked and found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Objects checked.
    pub objects: usize,
    /// Commit records checked.
    pub commits: usize,
    /// Snapshot records checked.
    pub snapshots: usize,
    /// Refs checked.
    pub refs: usize,
    /// `(item, problem)` for every failure, sorted.
    pub problems: Vec<(String, String)>,
}

impl VerifyReport {
    /// True when no problem was found.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// A progress sink: `(what is being done, items done, items in all)`,
/// called from any thread.
pub type ProgressFn<'a> = &'a (dyn Fn(&str, u64, u64) + Sync);

/// Counts items of one phase and reports every 256th, and the last, to a
/// [`ProgressFn`].
struct Ticker<'a> {
    what: &'static str,
    total: u64,
    done: AtomicU64,
    sink: ProgressFn<'a>,
}

impl<'a> Ticker<'a> {
    fn new(what: &'static str, total: usize, sink: ProgressFn<'a>) -> Ticker<'a> {
        let t = Ticker { what, total: total as u64, done: AtomicU64::new(0), sink };
        (t.sink)(what, 0, t.total);
        t
    }

    fn tick(&self) {
        let d = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        if d.is_multiple_of(256) || d == self.total {
            (self.sink)(self.what, d, self.total);
        }
    }
}

fn list(dir: &Path) -> Result<Vec<std::fs::DirEntry>> {
    match std::fs::read_dir(dir) {
        Ok(rd) => rd.map(|e| e.ctx("list", dir)).collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(Error::io("list", dir, e)),
    }
}

/// Checks the whole store, in parallel: every object hashes to its name,
/// every commit and snapshot record decodes and verifies, every branch and
/// HEAD point at a stored commit, every commit's snapshot and parents are
/// stored. Temps are ignored. Problems are collected, not raised.
///
/// # Errors
/// [`Error::Io`] only for directories that cannot be listed.
pub fn verify_repo(root: &Path) -> Result<VerifyReport> {
    verify_repo_with_progress(root, &|_, _, _| {})
}

/// [`verify_repo`], reporting each phase's progress to `progress`
/// (`"checking objects"`, `"checking commits"`, `"reading snapshot
/// records"`, `"checking snapshots"`).
///
/// # Errors
/// As [`verify_repo`].
pub fn verify_repo_with_progress(root: &Path, progress: ProgressFn<'_>) -> Result<VerifyReport> {
    let mut report = VerifyReport::default();
    let stored_blobs = check_objects(root, &mut report, progress)?;
    let commit_ids = crate::commits::list_commit_ids(root)?;
    let snapshot_ids = crate::snapshots::list_snapshot_ids(root)?;
    check_commits(root, &commit_ids, &snapshot_ids, &mut report, progress);
    check_snapshots(root, &snapshot_ids, &stored_blobs, &mut report, progress);
    check_refs(root, &mut report);
    report.problems.sort();
    Ok(report)
}

/// One stored copy of a blob.
enum BlobCopy {
    /// A loose file: its path and the digest its name spells.
    Loose(PathBuf, Digest),
    /// A pack entry.
    Packed(Arc<Pack>, PackEntry),
}

/// Hashes every stored blob copy; returns the digests of the stored blobs
/// (loose regular files and packed entries, whatever their content).
fn check_objects(root: &Path, report: &mut VerifyReport, progress: ProgressFn<'_>) -> Result<HashSet<Digest>> {
    let shards = crate::object_store::list_shards(root)?;
    let listed: Vec<Result<Vec<(String, std::fs::DirEntry)>>> = shards
        .par_iter()
        .map(|shard| {
            let prefix = shard.file_name().and_then(|n| n.to_str()).unwrap_or("").to_string();
            Ok(list(shard)?.into_iter().map(|e| (prefix.clone(), e)).collect())
        })
        .collect();
    let mut copies: Vec<BlobCopy> = Vec::new();
    let mut stored: HashSet<Digest> = HashSet::new();
    for shard in listed {
        for (prefix, e) in shard? {
            let name = e.file_name();
            let Some(name) = name.to_str() else { continue };
            if crate::repo::is_temp_name(name) {
                continue;
            }
            let hex = format!("{prefix}{name}");
            let Some(digest) = is_hex64(hex.as_bytes()).then(|| digest_from_id(&format!("sha256:{hex}"))).flatten() else {
                report.problems.push((e.path().display().to_string(), "not an object name".into()));
                continue;
            };
            // `has_object`'s rule: a loose object is a regular file.
            if e.file_type().map(|t| t.is_file()).unwrap_or(false) {
                stored.insert(digest);
            }
            copies.push(BlobCopy::Loose(e.path(), digest));
        }
    }
    let packs = crate::pack::refresh(root);
    for (path, why) in packs.broken() {
        report.problems.push((format!("pack {}", path.display()), why.clone()));
    }
    for p in packs.packs() {
        // In pack order, not ID order: a delta's base lies earlier in the
        // pack and repack keeps a path's versions together, so the parallel
        // workers (each given a contiguous run) find most bases in the
        // pack's base cache instead of decoding chains from their roots.
        let mut entries: Vec<_> = p.entries_of(EntryKind::Object).to_vec();
        entries.sort_unstable_by_key(|e| e.offset);
        for e in entries {
            stored.insert(e.digest);
            copies.push(BlobCopy::Packed(Arc::clone(p), e));
        }
    }
    report.objects = copies.len();
    let ticker = Ticker::new("checking objects", copies.len(), progress);
    let bad: Vec<(String, String)> = copies
        .par_iter()
        .with_min_len(64)
        .filter_map(|c| {
            let r = check_blob(c);
            ticker.tick();
            r
        })
        .collect();
    report.problems.extend(bad);
    Ok(stored)
}

/// Hashes one blob copy: `Some((item, problem))` when it does not match
/// its name.
fn check_blob(copy: &BlobCopy) -> Option<(String, String)> {
    match copy {
        BlobCopy::Loose(path, digest) => {
            let id = crate::ids::id_from_digest(digest);
            let res = std::fs::File::open(path).and_then(|f| crate::ids::blob_digest_reader(f).map(|(h, _)| h));
            match res {
                Ok(h) if &h == digest => None,
                Ok(h) => Some((format!("object {id}"), format!("content hashes to {}", crate::ids::id_from_digest(&h)))),
                Err(e) => Some((format!("object {id}"), e.to_string())),
            }
        }
        BlobCopy::Packed(p, e) => {
            let id = e.id();
            let hashed = if e.len > STREAM_OVER {
                crate::ids::blob_digest_reader(crate::pack::EntryReader::new(Arc::clone(p), *e))
                    .map(|(h, _)| h)
                    .map_err(|err| Error::io("read", p.path(), err))
            } else {
                p.read(e, "object", u64::MAX).map(|b| <sha2::Sha256 as sha2::Digest>::digest(&b).into())
            };
            match hashed {
                Ok(h) if h == e.digest => None,
                Ok(h) => Some((
                    format!("object {id}"),
                    format!("content in {} hashes to {}", p.path().display(), crate::ids::id_from_digest(&h)),
                )),
                Err(err) => Some((format!("object {id}"), err.to_string())),
            }
        }
    }
}

/// Reads every commit record (in parallel slices), recomputes its ID and
/// checks that its snapshot and every parent are stored.
fn check_commits(
    root: &Path,
    commit_ids: &[String],
    snapshot_ids: &[String],
    report: &mut VerifyReport,
    progress: ProgressFn<'_>,
) {
    report.commits = commit_ids.len();
    let commits: HashSet<&str> = commit_ids.iter().map(String::as_str).collect();
    let snapshots: HashSet<&str> = snapshot_ids.iter().map(String::as_str).collect();
    // An item stored after the listing is looked up on disk.
    let has_commit = |id: &str| commits.contains(id) || crate::commits::has_commit(root, id).unwrap_or(false);
    let has_snapshot = |id: &str| snapshots.contains(id) || crate::snapshots::has_snapshot(root, id).unwrap_or(false);
    let ticker = Ticker::new("checking commits", commit_ids.len(), progress);
    let check = |id: &String, rec: Result<CommitRecord>| -> Option<(String, String)> {
        ticker.tick();
        let rec = match rec {
            Ok(r) => r,
            Err(e) => return Some((format!("commit {id}"), e.to_string())),
        };
        let mut probs = Vec::new();
        if !crate::ids::is_valid_id(&rec.snapshot_id) {
            probs.push(format!("snapshot ID {:?} is malformed", rec.snapshot_id));
        } else if !has_snapshot(&rec.snapshot_id) {
            probs.push(format!("snapshot {} is missing", rec.snapshot_id));
        }
        for p in rec.all_parents() {
            if !crate::ids::is_valid_id(p) {
                probs.push(format!("parent ID {p:?} is malformed"));
            } else if !has_commit(p) {
                probs.push(format!("parent {p} is missing"));
            }
        }
        (!probs.is_empty()).then(|| (format!("commit {id}"), probs.join("; ")))
    };
    let bad: Vec<(String, String)> = commit_ids
        .par_chunks(COMMIT_SLICE)
        .flat_map_iter(|slice| {
            // A slice holding a bad record is read again one by one, so
            // that each problem is reported against its own commit.
            let recs: Vec<Result<CommitRecord>> = match crate::commits::read_commits_opt(root, slice) {
                Ok(v) => v
                    .into_iter()
                    .zip(slice)
                    .map(|(r, id)| r.map_or_else(|| crate::commits::load_commit(root, id), Ok))
                    .collect(),
                Err(_) => slice.par_iter().map(|id| crate::commits::load_commit(root, id)).collect(),
            };
            slice.iter().zip(recs).filter_map(|(id, r)| check(id, r)).collect::<Vec<_>>()
        })
        .collect();
    report.problems.extend(bad);
}

/// Where a snapshot record hangs in the forest of delta chains.
enum Link {
    /// A full record: the root of a tree.
    Full,
    /// A delta on the record at this index.
    On(usize),
    /// Broken by itself: the problem, also reported on every record
    /// stored on it.
    Broken(String),
}

/// The link of record `id` read as `head` (see [`Link`]); the checks and
/// messages of [`crate::snapshots::read_snapshot`].
fn link_of(
    id: &str,
    head: &Result<Option<StoredHead>>,
    heads: &[Result<Option<StoredHead>>],
    index: &HashMap<&str, usize>,
) -> Link {
    let h = match head {
        Err(e) => return Link::Broken(e.to_string()),
        Ok(None) => return Link::Broken("vanished".into()),
        Ok(Some(h)) => h,
    };
    let corrupt = |d: String| Link::Broken(Error::corrupt("snapshot record", &h.path, d).to_string());
    if h.snapshot_id != id {
        return corrupt(format!("holds snapshot {} instead", h.snapshot_id));
    }
    if h.depth > MAX_DELTA_DEPTH {
        return corrupt(format!("delta depth {} is over {MAX_DELTA_DEPTH}", h.depth));
    }
    let Some(base) = &h.base else { return Link::Full };
    if h.depth == 0 {
        return corrupt("delta record with depth 0".into());
    }
    if let Err(e) = crate::ids::validate_id(base) {
        return corrupt(format!("bad base_snapshot_id: {e}"));
    }
    let Some(&j) = index.get(base.as_str()) else {
        return corrupt(format!("base snapshot {base} is missing"));
    };
    match &heads[j] {
        Ok(None) => corrupt(format!("base snapshot {base} is missing")),
        Ok(Some(b)) if b.snapshot_id == *base && (if b.base.is_some() { b.depth } else { 0 }) >= h.depth => {
            corrupt(format!("depth {} but base {base} has depth {}", h.depth, if b.base.is_some() { b.depth } else { 0 }))
        }
        // A base broken by itself passes its problem on (its own link is
        // `Broken`, so no cycle can form through it).
        _ => Link::On(j),
    }
}

/// Rebuilds every snapshot's manifest once (see the module docs) and checks
/// its hash and that every blob it names is stored.
fn check_snapshots(
    root: &Path,
    ids: &[String],
    stored_blobs: &HashSet<Digest>,
    report: &mut VerifyReport,
    progress: ProgressFn<'_>,
) {
    report.snapshots = ids.len();
    let ticker = Ticker::new("reading snapshot records", ids.len(), progress);
    let heads: Vec<Result<Option<StoredHead>>> = ids
        .par_iter()
        .map(|id| {
            let h = crate::snapshots::read_stored_snapshot_head(root, id);
            ticker.tick();
            h
        })
        .collect();
    let index: HashMap<&str, usize> = ids.iter().enumerate().map(|(i, id)| (id.as_str(), i)).collect();
    let links: Vec<Link> = ids.iter().zip(&heads).map(|(id, h)| link_of(id, h, &heads, &index)).collect();
    drop(index);
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); ids.len()];
    let mut tops: Vec<usize> = Vec::new();
    for (i, l) in links.iter().enumerate() {
        match l {
            Link::On(j) => children[*j].push(i),
            Link::Full | Link::Broken(_) => tops.push(i),
        }
    }
    // The largest trees first, so that parallel workers finish together.
    let mut sizes = vec![1usize; ids.len()];
    let mut order: Vec<usize> = Vec::with_capacity(ids.len());
    let mut stack: Vec<usize> = tops.clone();
    while let Some(i) = stack.pop() {
        order.push(i);
        stack.extend(&children[i]);
    }
    for &i in order.iter().rev() {
        if let Link::On(j) = links[i] {
            sizes[j] += sizes[i];
        }
    }
    let visited = order.len();
    drop(order);
    tops.sort_unstable_by_key(|&i| std::cmp::Reverse(sizes[i]));
    let ticker = Ticker::new("checking snapshots", ids.len(), progress);
    let tree = TreeCheck { root, ids, children: &children, stored_blobs, ticker: &ticker };
    let bad: Vec<(String, String)> = tops
        .par_iter()
        .with_max_len(1)
        .flat_map_iter(|&top| match &links[top] {
            Link::Broken(why) => {
                let mut out = Vec::new();
                tree.fail_subtree(top, why, &mut out);
                out
            }
            _ => tree.check_tree(top),
        })
        .collect();
    report.problems.extend(bad);
    // Every link points at a shallower record or at a broken one, so every
    // record hangs under a top; this only guards that reasoning.
    if visited != ids.len() {
        report.problems.push(("snapshots".into(), format!("{} record(s) in a delta cycle", ids.len() - visited)));
    }
}

/// The shared state of the per-tree snapshot checks.
struct TreeCheck<'a> {
    root: &'a Path,
    ids: &'a [String],
    children: &'a [Vec<usize>],
    stored_blobs: &'a HashSet<Digest>,
    ticker: &'a Ticker<'a>,
}

/// A record on the current path of a tree walk.
struct Frame {
    node: usize,
    next_child: usize,
    /// `(path, entry it replaced or removed)`, in the order applied.
    undo: Vec<(String, Option<String>)>,
    missing_before: usize,
}

impl TreeCheck<'_> {
    /// Reports `why` on `top` and every record stored on it.
    fn fail_subtree(&self, top: usize, why: &str, out: &mut Vec<(String, String)>) {
        let mut stack = vec![top];
        while let Some(i) = stack.pop() {
            out.push((format!("snapshot {}", self.ids[i]), why.to_string()));
            self.ticker.tick();
            stack.extend(&self.children[i]);
        }
    }

    /// True when blob `id` is not stored (`cache` remembers the blobs that
    /// were not in the listing, looked up on disk once each).
    fn missing(&self, id: &str, cache: &mut HashMap<String, bool>) -> bool {
        if digest_from_id(id).is_some_and(|d| self.stored_blobs.contains(&d)) {
            return false;
        }
        if let Some(m) = cache.get(id) {
            return *m;
        }
        let m = !crate::object_store::has_object(self.root, id).unwrap_or(false);
        cache.insert(id.to_string(), m);
        m
    }

    /// The problem with the manifest of record `i`, if any: its hash, then
    /// missing blobs.
    fn judge(&self, i: usize, path: &Path, manifest: &Manifest, missing: usize) -> Option<(String, String)> {
        let id = &self.ids[i];
        let actual = crate::ids::hash_sorted_snapshot(manifest.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let item = format!("snapshot {id}");
        if actual != *id {
            let e = Error::corrupt("snapshot record", path, format!("manifest hashes to {actual}"));
            return Some((item, e.to_string()));
        }
        (missing > 0).then(|| (item, format!("{missing} blob(s) missing")))
    }

    /// Walks the tree of full record `top` depth first, one manifest for
    /// the whole tree (see the module docs).
    fn check_tree(&self, top: usize) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut cache: HashMap<String, bool> = HashMap::new();
        let id = &self.ids[top];
        let (mut manifest, path) = match crate::snapshots::read_stored_snapshot(self.root, id) {
            Ok(Some(s)) if s.snapshot_id == *id => match s.form {
                StoredForm::Full(m) => (m, s.path),
                StoredForm::Delta { .. } => {
                    self.fail_subtree(top, "changed while being verified", &mut out);
                    return out;
                }
            },
            Ok(Some(s)) => {
                let e = Error::corrupt("snapshot record", &s.path, format!("holds snapshot {} instead", s.snapshot_id));
                self.fail_subtree(top, &e.to_string(), &mut out);
                return out;
            }
            Ok(None) => {
                self.fail_subtree(top, "vanished", &mut out);
                return out;
            }
            Err(e) => {
                self.fail_subtree(top, &e.to_string(), &mut out);
                return out;
            }
        };
        let mut missing = manifest.values().filter(|v| self.missing(v, &mut cache)).count();
        self.ticker.tick();
        out.extend(self.judge(top, &path, &manifest, missing));
        let mut stack = vec![Frame { node: top, next_child: 0, undo: Vec::new(), missing_before: missing }];
        while let Some(f) = stack.last_mut() {
            let Some(&c) = self.children[f.node].get(f.next_child) else {
                // Done with this record: back to its base's manifest.
                let f = stack.pop().expect("a frame");
                for (p, old) in f.undo.into_iter().rev() {
                    match old {
                        Some(v) => manifest.insert(p, v),
                        None => manifest.remove(&p),
                    };
                }
                missing = f.missing_before;
                continue;
            };
            f.next_child += 1;
            let base = &self.ids[f.node];
            let cid = &self.ids[c];
            let (upsert, remove, path) = match crate::snapshots::read_stored_snapshot(self.root, cid) {
                Ok(Some(s)) if s.snapshot_id == *cid => match s.form {
                    StoredForm::Delta { base: b, upsert, remove, .. } if b == *base => (upsert, remove, s.path),
                    _ => {
                        self.fail_subtree(c, "changed while being verified", &mut out);
                        continue;
                    }
                },
                Ok(Some(s)) => {
                    let e = Error::corrupt("snapshot record", &s.path, format!("holds snapshot {} instead", s.snapshot_id));
                    self.fail_subtree(c, &e.to_string(), &mut out);
                    continue;
                }
                Ok(None) => {
                    self.fail_subtree(c, "vanished", &mut out);
                    continue;
                }
                Err(e) => {
                    self.fail_subtree(c, &e.to_string(), &mut out);
                    continue;
                }
            };
            let missing_before = missing;
            let mut undo: Vec<(String, Option<String>)> = Vec::with_capacity(upsert.len() + remove.len());
            for p in remove {
                if let Some(old) = manifest.remove(&p) {
                    if self.missing(&old, &mut cache) {
                        missing -= 1;
                    }
                    undo.push((p, Some(old)));
                }
            }
            for (p, v) in upsert {
                if self.missing(&v, &mut cache) {
                    missing += 1;
                }
                let old = manifest.insert(p.clone(), v);
                if let Some(o) = &old {
                    if self.missing(o, &mut cache) {
                        missing -= 1;
                    }
                }
                undo.push((p, old));
            }
            self.ticker.tick();
            out.extend(self.judge(c, &path, &manifest, missing));
            stack.push(Frame { node: c, next_child: 0, undo, missing_before });
        }
        out
    }
}

/// Branches, a detached HEAD, tags, remote-tracking refs and stash entries
/// must point at stored commits.
fn check_refs(root: &Path, report: &mut VerifyReport) {
    let mut refs: Vec<(String, String)> = Vec::new();
    match crate::refs::list_branches(root) {
        Ok(branches) => refs.extend(branches.into_iter().map(|(name, id)| (format!("ref refs/heads/{name}"), id))),
        Err(e) => report.problems.push(("refs".into(), e.to_string())),
    }
    match crate::refs::read_head(root) {
        Ok(crate::refs::Head::Detached(id)) => refs.push(("HEAD".into(), id)),
        Ok(_) => {}
        Err(e) => report.problems.push(("HEAD".into(), e.to_string())),
    }
    match crate::refs::list_tags(root) {
        Ok(tags) => refs.extend(tags.into_iter().map(|(name, id)| (format!("ref refs/tags/{name}"), id))),
        Err(e) => report.problems.push(("refs/tags".into(), e.to_string())),
    }
    match crate::refs::list_remote_refs(root) {
        Ok(remotes) => refs.extend(remotes.into_iter().map(|(name, id)| (format!("ref refs/remotes/{name}"), id))),
        Err(e) => report.problems.push(("refs/remotes".into(), e.to_string())),
    }
    match crate::refs::read_stash(root) {
        Ok(entries) => refs.extend(entries.into_iter().enumerate().map(|(i, id)| (format!("stash@{{{i}}}"), id))),
        Err(e) => report.problems.push(("refs/stash".into(), e.to_string())),
    }
    report.refs = refs.len();
    for (item, id) in refs {
        if !crate::commits::has_commit(root, &id).unwrap_or(false) {
            report.problems.push((item, format!("points at missing commit {id}")));
        }
    }
}

impl crate::Repository {
    /// Checks the whole store ([`verify_repo`]; `muse verify`, git's
    /// `fsck`), reporting progress to this handle's sink
    /// ([`crate::Repository::with_progress`]). Filesystem store only.
    ///
    /// # Errors
    /// As [`verify_repo`]; [`Error::InvalidInput`] on another store.
    pub fn verify(&self) -> Result<VerifyReport> {
        let root = self.fs_store("verify")?.root().to_path_buf();
        verify_repo_with_progress(&root, &|what: &str, done: u64, total: u64| self.report_progress(what, done, total))
    }
}
