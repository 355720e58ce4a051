//! What is reachable from the refs, and pruning what is not (`muse gc`).
//!
//! # Roots
//!
//! Every branch, HEAD (when detached), the tags in `.muse/tags/` (files
//! holding a commit ID, written by `import-git`), the remote-tracking refs
//! (`.muse/refs/remotes/<remote>/<branch>`), the stash entries
//! (`.muse/refs/stash`), `MERGE_HEAD`, the blobs
//! of the stage (`.muse/index.msgpack`), and the commits and snapshots an
//! in-progress operation journal names. From each root commit every parent
//! is followed; a reachable commit keeps its snapshot, a snapshot keeps its
//! blobs and the base chain it is stored as a delta on ([`crate::snapshots`]):
//! a base is never pruned while a kept snapshot needs it.
//!
//! The walk reads every stored commit record in parallel up front and
//! follows parents in memory, and collects a snapshot's blobs from its
//! stored entries (a full manifest, or a delta's upserts) and its base
//! chain's, without rebuilding manifests: the union is the same (see
//! `Reach::walk`).
//!
//! Items in packs ([`crate::pack`]) are reported when unreachable but never
//! removed: a pack is immutable (a repack would drop them).
//!
//! # Pruning beside writers
//!
//! [`prune`] never makes a ref point at missing data, whatever runs beside
//! it (SPEC §12). Three rules together give that:
//!
//! 1. **The write lock** ([`crate::lock::write_lock`], `.muse/gc.lock`).
//!    [`prune`] takes it *exclusively* and computes reachability and deletes
//!    under it (through a gate that new writers queue at while it waits, so
//!    that a stream of overlapping writers cannot starve it). Every
//!    [`crate::batch::Batch`] holds it *shared* from `begin` until it is
//!    committed or dropped, and applies its queued ref updates inside
//!    `commit`: a batch's data is reachable before a prune can look (`muse
//!    commit`). A writer that makes its data reachable *after* its batch
//!    commits (the stage written after `add`'s batch, refs moved after
//!    `import-git`'s or `bundle apply`'s batch, a journal naming a merge
//!    commit) holds the lock shared across both: shared holders never wait
//!    for each other, and a thread that holds it does not queue behind a
//!    waiting prune, so a batch nests inside. A per-call write
//!    ([`crate::object_store::write_object`]) holds it shared for the call,
//!    so a prune never deletes an item between "it is already stored" and
//!    the call's return.
//! 2. **Freshen** (git's rule): a writer that finds the item it was asked to
//!    store already stored as a loose file sets that file's mtime to now
//!    instead of writing it ([`crate::atomic::freshen`]; `write_object`, and a batch's
//!    skipped items). A lock cannot span several per-call writes (Python's
//!    `write_object`, then `write_snapshot`, then `write_commit`, then
//!    `write_branch_ref`), but with freshening every item such a sequence
//!    relies on is younger than the grace period when its ref moves.
//! 3. **Grace period** (default one hour, [`DEFAULT_PRUNE_GRACE`], like git's
//!    `gc.pruneExpire`): an unreachable loose item younger than it is kept,
//!    and so is everything it reaches (its parents, snapshot, delta bases,
//!    blobs), like git's "recent objects are roots": a young commit never
//!    loses its history. Unreachable packed items are kept with what they
//!    reach too.
//!
//! A sequence of per-call writes that runs while `gc --prune --grace 0`
//! runs is not protected (nothing makes its items reachable until its last
//! call): grace 0 is for a repository nobody is writing to per call.

use std::collections::{HashMap, HashSet};

use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::ids::is_hex64;
use crate::lock::{write_lock, FileLock, LockMode};

/// Default grace period of [`prune`]: one hour.
pub const DEFAULT_PRUNE_GRACE: Duration = Duration::from_secs(3600);

/// Stored items no root reaches.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Unreachable {
    /// Commit IDs.
    pub commits: Vec<String>,
    /// Snapshot IDs.
    pub snapshots: Vec<String>,
    /// Blob IDs.
    pub objects: Vec<String>,
}

impl Unreachable {
    /// Number of items.
    pub fn len(&self) -> usize {
        self.commits.len() + self.snapshots.len() + self.objects.len()
    }
    /// True when nothing is unreachable.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The root commits and blobs (see the module docs).
fn roots(root: &Path) -> Result<(Vec<String>, Vec<String>, Vec<String>)> {
    let mut commits: Vec<String> = crate::refs::list_branches(root)?.into_iter().map(|(_, c)| c).collect();
    if let crate::refs::Head::Detached(c) = crate::refs::read_head(root)? {
        commits.push(c);
    }
    if let Some(m) = crate::merge::read_merge_head(root)? {
        commits.push(m);
    }
    commits.extend(tag_targets(root)?);
    // Remote-tracking refs keep what was fetched (git's refs/remotes/).
    commits.extend(crate::refs::list_remote_refs(root)?.into_iter().map(|(_, c)| c));
    // Stashed work is kept until the entry is dropped.
    commits.extend(crate::refs::read_stash(root)?);
    // --- operation journal roots: the commits an interrupted or conflicted
    // checkout/merge (`.muse/OPERATION`) still needs to finish or abort. A
    // commit it names that is not stored yet (a merge commit about to be
    // written) has nothing to keep; its parents are named too.
    for c in crate::operation::gc_roots(root)? {
        if crate::commits::has_commit(root, &c).unwrap_or(true) {
            commits.push(c);
        }
    }
    // --- end operation journal roots.
    let mut blobs: Vec<String> = crate::stage::read_stage(root)?.entries.into_values().flatten().collect();
    // Blobs that imported git tags name (git's own history tags a blob).
    blobs.extend(crate::import_git::git_tag_blob_roots(root)?);
    // Snapshots named as roots on their own (besides the commits'): none yet.
    let snapshots: Vec<String> = Vec::new();
    Ok((commits, snapshots, blobs))
}

/// The commit IDs held by the tag files under `.muse/tags/` (any depth);
/// files that hold no ID, and temps, are ignored.
fn tag_targets(root: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut stack = vec![crate::paths::tags_dir(root)];
    while let Some(dir) = stack.pop() {
        let rd = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io("list", &dir, e)),
        };
        for e in rd.flatten() {
            let Ok(t) = e.file_type() else { continue };
            if t.is_dir() {
                stack.push(e.path());
            } else if t.is_file() && !crate::repo::is_temp_name(&e.file_name().to_string_lossy()) {
                let Ok(text) = std::fs::read_to_string(e.path()) else { continue };
                let id = text.trim();
                if crate::ids::is_valid_id(id) {
                    out.push(id.to_string());
                }
            }
        }
    }
    Ok(out)
}

/// What the roots reach. Closed: a commit in `commits` has its parents in
/// `commits` and its snapshot in `snapshots`, a snapshot its blobs in
/// `blobs` and its delta bases in `snapshots` (records never change, so a
/// closed set stays closed; [`walk`] extends it from new roots).
#[derive(Debug, Default)]
struct Reach {
    commits: HashSet<String>,
    snapshots: HashSet<String>,
    blobs: HashSet<String>,
}

impl Reach {
    /// Everything the current roots reach.
    fn of(root: &Path, progress: ProgressFn<'_>) -> Result<Reach> {
        let mut reach = Reach::default();
        reach.walk(root, progress)?;
        Ok(reach)
    }

    /// Reads the roots (now) and adds what they reach, following nothing
    /// already in the set.
    ///
    /// Commits: on the first walk (an empty set) every stored commit
    /// record is read up front, in parallel ([`crate::commits::read_commits_opt`]),
    /// and the walk follows parents in memory; a record the bulk read could
    /// not give is read on its own when the walk reaches it (its error is
    /// then the walk's). Later walks (under the lock) read only the few new
    /// commits.
    ///
    /// Snapshots: the blobs a snapshot keeps are the union of the blob IDs
    /// of its stored entries and of its base chain's (a delta's upserts are
    /// part of its own manifest, a removed or replaced entry is part of a
    /// base's, and a base is kept with the snapshot), so records are read as
    /// stored ([`crate::snapshots::read_stored_snapshot`]), in parallel,
    /// a round per chain level, without rebuilding manifests. The chain is
    /// checked as `read_snapshot` checks it (a base is present, holds its
    /// ID and is shallower); manifest hashes are `verify`'s job.
    fn walk(&mut self, root: &Path, progress: ProgressFn<'_>) -> Result<()> {
        let (mut stack, snap_roots, root_blobs) = roots(root)?;
        self.blobs.extend(root_blobs);
        let mut known: HashMap<String, (Vec<String>, String)> = HashMap::new();
        if self.commits.is_empty() && !stack.is_empty() {
            known = read_all_commits(root, progress)?;
        }
        let mut snap_frontier: Vec<(String, Option<(u32, PathBuf)>)> = snap_roots.into_iter().map(|s| (s, None)).collect();
        while let Some(id) = stack.pop() {
            if !self.commits.insert(id.clone()) {
                continue;
            }
            let (parents, snapshot) = match known.remove(&id) {
                Some(k) => k,
                None => {
                    let rec = crate::commits::load_commit(root, &id)?;
                    (rec.all_parents().into_iter().map(str::to_string).collect(), rec.snapshot_id)
                }
            };
            stack.extend(parents);
            if crate::ids::is_valid_id(&snapshot) {
                snap_frontier.push((snapshot, None));
            }
        }
        drop(known);
        // A round per chain level: read the new snapshots in parallel, then
        // queue their bases. A queued base carries the (depth, path) of the
        // delta that needs it: a missing base is corruption, while a
        // commit's missing snapshot is skipped (as `read_snapshot`'s `None`).
        let mut absent: HashSet<String> = HashSet::new();
        // Progress against the stored snapshot records (an upper bound on
        // those read), only on a walk that starts from nothing.
        let snap_total = if self.snapshots.is_empty() {
            crate::snapshots::list_snapshot_ids(root).map(|v| v.len() as u64).unwrap_or(0)
        } else {
            0
        };
        let mut snap_done = 0u64;
        if snap_total > 0 {
            progress("reading snapshots", 0, snap_total);
        }
        while !snap_frontier.is_empty() {
            let mut todo = Vec::with_capacity(snap_frontier.len());
            for (id, needed_by) in snap_frontier {
                if self.snapshots.insert(id.clone()) {
                    todo.push((id, needed_by));
                } else if let Some((_, p)) = needed_by.filter(|_| absent.contains(&id)) {
                    return Err(Error::corrupt("snapshot record", p, format!("base snapshot {id} is missing")));
                }
            }
            let mut next = Vec::new();
            for chunk in todo.chunks(SNAPSHOT_SLICE) {
                let read: Vec<_> =
                    chunk.par_iter().map(|(id, needed_by)| read_snapshot_entries(root, id, needed_by.as_ref())).collect();
                if snap_total > 0 {
                    snap_done = (snap_done + chunk.len() as u64).min(snap_total);
                    progress("reading snapshots", snap_done, snap_total);
                }
                for ((id, _), r) in chunk.iter().zip(read) {
                    let Some((base, blobs)) = r? else {
                        absent.insert(id.clone());
                        continue;
                    };
                    self.blobs.extend(blobs);
                    if let Some((b, depth, path)) = base {
                        next.push((b, Some((depth, path))));
                    }
                }
            }
            snap_frontier = next;
        }
        if snap_total > 0 && snap_done < snap_total {
            progress("reading snapshots", snap_total, snap_total);
        }
        Ok(())
    }

    /// The stored items (loose and packed) outside the set.
    fn unreachable(&self, root: &Path) -> Result<Unreachable> {
        let mut out = Unreachable {
            commits: crate::commits::list_commit_ids(root)?.into_iter().filter(|c| !self.commits.contains(c)).collect(),
            // Packed items are reported but never removed (a pack is
            // immutable); `prune` keeps what packed items reach.
            snapshots: crate::snapshots::list_snapshot_ids(root)?
                .into_iter()
                .filter(|s| !self.snapshots.contains(s))
                .collect(),
            objects: crate::pack::packed_ids(root, crate::pack::EntryKind::Object)
                .into_iter()
                .filter(|o| !self.blobs.contains(o))
                .collect(),
        };
        for shard in crate::object_store::list_shards(root)? {
            let prefix = shard.file_name().and_then(|n| n.to_str()).unwrap_or("").to_string();
            let Ok(rd) = std::fs::read_dir(&shard) else { continue };
            for e in rd.flatten() {
                let name = e.file_name();
                let Some(name) = name.to_str() else { continue };
                let hex = format!("{prefix}{name}");
                if is_hex64(hex.as_bytes()) {
                    let id = format!("sha256:{hex}");
                    if !self.blobs.contains(&id) {
                        out.objects.push(id);
                    }
                }
            }
        }
        out.commits.sort();
        out.snapshots.sort();
        out.objects.sort();
        out.objects.dedup();
        Ok(out)
    }

    /// `un` without what the set holds now.
    fn still_unreachable(&self, un: &Unreachable) -> Unreachable {
        let keep = |ids: &[String], set: &HashSet<String>| ids.iter().filter(|i| !set.contains(*i)).cloned().collect();
        Unreachable {
            commits: keep(&un.commits, &self.commits),
            snapshots: keep(&un.snapshots, &self.snapshots),
            objects: keep(&un.objects, &self.blobs),
        }
    }
}

/// Snapshot records are read in slices of this many per parallel round.
const SNAPSHOT_SLICE: usize = 4096;

/// Every stored commit record's parents ([`crate::records::CommitRecord::all_parents`])
/// and snapshot ID, read in parallel slices. Records that cannot be read
/// are left out (the walk reads them again on its own, and fails on them
/// only if it needs them).
fn read_all_commits(root: &Path, progress: ProgressFn<'_>) -> Result<HashMap<String, (Vec<String>, String)>> {
    let ids = crate::commits::list_commit_ids(root)?;
    let total = ids.len() as u64;
    let done = std::sync::atomic::AtomicU64::new(0);
    progress("reading commits", 0, total);
    // (commit ID, (parent IDs, snapshot ID)) per slice.
    type Links = Vec<(String, (Vec<String>, String))>;
    let slices: Vec<Links> = ids
        .par_chunks(2048)
        .map(|slice| {
            let read = read_slice(root, slice);
            let d = done.fetch_add(slice.len() as u64, std::sync::atomic::Ordering::Relaxed) + slice.len() as u64;
            progress("reading commits", d, total);
            read
        })
        .collect();
    Ok(slices.into_iter().flatten().collect())
}

/// The parents and snapshot of each readable commit of `slice`.
fn read_slice(root: &Path, slice: &[String]) -> Vec<(String, (Vec<String>, String))> {
    match crate::commits::read_commits_opt(root, slice) {
            Ok(recs) => recs
                .into_iter()
                .flatten()
                .map(|r| {
                    let parents = r.all_parents().into_iter().map(str::to_string).collect();
                    (r.commit_id, (parents, r.snapshot_id))
                })
                .collect(),
        // One bad record spoils its slice; the walk reads each one it
        // needs on its own.
        Err(_) => Vec::new(),
    }
}

/// Reads snapshot record `id` as stored: `(its base, if a delta: (base ID,
/// its own depth, its path), the blob IDs of its entries)`. `needed_by` is
/// the `(depth, path)` of a delta stored on it, for which it must be
/// present and shallower. `Ok(None)` when absent and not needed.
///
/// # Errors
/// [`Error::Corrupt`] as `read_snapshot` would report it: undecodable,
/// holding another ID, a missing base, a base not shallower than its delta,
/// a bad base ID; [`Error::Io`].
#[allow(clippy::type_complexity)]
fn read_snapshot_entries(
    root: &Path,
    id: &str,
    needed_by: Option<&(u32, PathBuf)>,
) -> Result<Option<(Option<(String, u32, PathBuf)>, Vec<String>)>> {
    let corrupt = |p: &Path, d: String| Error::corrupt("snapshot record", p, d);
    let Some(s) = crate::snapshots::read_stored_snapshot(root, id)? else {
        return match needed_by {
            Some((_, p)) => Err(corrupt(p, format!("base snapshot {id} is missing"))),
            None => Ok(None),
        };
    };
    if s.snapshot_id != id {
        return Err(match needed_by {
            Some(_) => corrupt(&s.path, format!("holds snapshot {} instead of base {id}", s.snapshot_id)),
            None => corrupt(&s.path, format!("holds snapshot {} instead", s.snapshot_id)),
        });
    }
    let depth = s.depth();
    if let Some((d, p)) = needed_by {
        if depth >= *d {
            return Err(corrupt(p, format!("depth {d} but base {id} has depth {depth}")));
        }
    }
    if depth > crate::snapshots::MAX_DELTA_DEPTH {
        return Err(corrupt(&s.path, format!("delta depth {depth} is over {}", crate::snapshots::MAX_DELTA_DEPTH)));
    }
    Ok(Some(match s.form {
        crate::snapshots::StoredForm::Full(m) => (None, m.into_values().collect()),
        crate::snapshots::StoredForm::Delta { base, upsert, depth, .. } => {
            if depth == 0 {
                return Err(corrupt(&s.path, "delta record with depth 0".into()));
            }
            crate::ids::validate_id(&base).map_err(|e| corrupt(&s.path, format!("bad base_snapshot_id: {e}")))?;
            (Some((base, depth, s.path)), upsert.into_values().collect())
        }
    }))
}

/// Finds every stored commit, snapshot and object that no root reaches.
/// Memory is proportional to the reachable set.
///
/// Takes no lock: the answer may be out of date by the time it returns if
/// writers run beside it (it is a report; [`prune`] checks reachability
/// again under the write lock before it deletes anything).
///
/// # Errors
/// [`Error::NotFound`] / [`Error::Corrupt`] when a reachable record is
/// missing or damaged (pruning would be unsafe then), [`Error::Io`].
pub fn find_unreachable(root: &Path) -> Result<Unreachable> {
    find_unreachable_with_progress(root, &no_progress)
}

/// [`find_unreachable`], reporting progress to `progress` (`(what, done,
/// of)`, from any thread): `"reading commits"` over the stored commit
/// records, then `"reading snapshots"` over the stored snapshot records
/// (the reachable ones are read; the bar ends at the total).
///
/// # Errors
/// As [`find_unreachable`].
pub fn find_unreachable_with_progress(root: &Path, progress: ProgressFn<'_>) -> Result<Unreachable> {
    Reach::of(root, progress)?.unreachable(root)
}

/// A progress sink: `(what is being done, items done, items in all)`,
/// called from any thread (as [`crate::verify::ProgressFn`]).
pub type ProgressFn<'a> = &'a (dyn Fn(&str, u64, u64) + Sync);

/// The sink that reports nothing.
fn no_progress(_: &str, _: u64, _: u64) {}

/// Takes the write lock exclusively and brings `reach` (computed without
/// it) up to date: the roots are read again under the lock and what they
/// reach beyond `reach` is walked. The walk before the lock does the bulk
/// of the work, so writers wait only for this step and the deletions; an
/// item that stopped being reachable meanwhile is only kept until the next
/// prune. When the walk without the lock failed (another prune deleted
/// something it was reading), everything is walked under the lock.
fn lock_and_update(root: &Path, reach: Result<Reach>) -> Result<(FileLock, Reach)> {
    let lock = write_lock(root, LockMode::Exclusive)?;
    let reach = match reach {
        Ok(mut r) => {
            r.walk(root, &no_progress)?;
            r
        }
        Err(_) => Reach::of(root, &no_progress)?,
    };
    Ok((lock, reach))
}

/// Removes the items of `unreachable` that are still unreachable and whose
/// loose files are older than `grace`, keeping what a kept item reaches (see
/// the module docs); returns how many files were removed.
///
/// Takes the write lock exclusively ([`crate::lock::write_lock`]) and
/// checks reachability again under it, so an item a writer made reachable
/// since `unreachable` was computed is kept; use [`prune_unreachable`] to
/// find and prune in one step.
///
/// # Errors
/// [`Error::Locked`] when writers hold the write lock for longer than
/// `[core] lock_timeout`; as [`find_unreachable`]; [`Error::Io`].
pub fn prune(root: &Path, unreachable: &Unreachable, grace: Duration) -> Result<usize> {
    let (lock, reach) = lock_and_update(root, Reach::of(root, &no_progress))?;
    Ok(prune_locked(root, &reach.still_unreachable(unreachable), grace, &lock, None)?.0)
}

/// Finds the unreachable items and removes those older than `grace` (as
/// [`prune`]), deciding and deleting under the write lock held
/// exclusively. Returns what was unreachable and how many files were
/// removed.
///
/// # Errors
/// As [`prune`].
pub fn prune_unreachable(root: &Path, grace: Duration) -> Result<(Unreachable, usize)> {
    prune_unreachable_with_progress(root, grace, &no_progress)
}

/// [`prune_unreachable`], reporting the progress of the walk before the
/// lock to `progress` (as [`find_unreachable_with_progress`]).
///
/// # Errors
/// As [`prune`].
pub fn prune_unreachable_with_progress(
    root: &Path,
    grace: Duration,
    progress: ProgressFn<'_>,
) -> Result<(Unreachable, usize)> {
    let (unreachable, removed, _) = find_and_prune(root, grace, progress, None)?;
    Ok((unreachable, removed))
}

/// The prune of [`prune_unreachable_with_progress`] and [`gc`]: walk and
/// list before the lock (an item stored after the listing is not a
/// candidate this time), decide again and prune under it, with `repack`
/// passed to [`prune_locked`].
fn find_and_prune(
    root: &Path,
    grace: Duration,
    progress: ProgressFn<'_>,
    repack: Option<&crate::repack::RepackOptions<'_>>,
) -> Result<(Unreachable, usize, Option<crate::repack::RepackReport>)> {
    let before = Reach::of(root, progress);
    let listed = match &before {
        Ok(r) => Some(r.unreachable(root)?),
        Err(_) => None,
    };
    let (lock, reach) = lock_and_update(root, before)?;
    let unreachable = match listed {
        Some(l) => reach.still_unreachable(&l),
        None => reach.unreachable(root)?,
    };
    let (removed, report) = prune_locked(root, &unreachable, grace, &lock, repack)?;
    Ok((unreachable, removed, report))
}

/// What [`gc`] did: the unreachable items found, how many stored copies
/// were removed (loose files deleted plus pack entries dropped), and the
/// repack's report (`None` with [`GcOptions::repack`] off).
#[derive(Debug, Clone, Default)]
pub struct GcReport {
    /// Unreachable items (all of them, pruned or not).
    pub unreachable: Unreachable,
    /// Loose files removed plus pack entries dropped by the prune.
    pub pruned: usize,
    /// The repack, when one ran.
    pub repack: Option<crate::repack::RepackReport>,
}

/// What [`gc`] does (`muse gc`).
#[derive(Debug, Clone, Copy)]
pub struct GcOptions {
    /// Remove unreachable items older than [`GcOptions::grace`], loose and
    /// packed (`muse gc --prune`).
    pub prune: bool,
    /// See [`GcOptions::prune`].
    pub grace: Duration,
    /// Repack: loose files and small packs into one pack (git's `gc`);
    /// `false` skips it (`muse gc --no-repack`).
    pub repack: bool,
    /// Rewrite every pack, not only small ones (git's `gc --aggressive`
    /// idea: deltas and compression chosen again over the whole history).
    pub aggressive: bool,
}

impl Default for GcOptions {
    fn default() -> Self {
        GcOptions { prune: false, grace: DEFAULT_PRUNE_GRACE, repack: true, aggressive: false }
    }
}

/// `muse gc`: finds unreachable items; with [`GcOptions::prune`] removes
/// those older than the grace period (loose files deleted; pack entries
/// dropped by rewriting the packs that hold them, [`crate::repack`]); with
/// [`GcOptions::repack`] packs loose files and small packs into one pack.
///
/// Without `prune`, nothing unreachable is deleted and the repack copies
/// everything (taking the write lock shared, so writers go on); with it,
/// reachability is decided again and everything removed under the write
/// lock held exclusively, as [`prune_unreachable`]. A pack holding an
/// entry to drop is rewritten even when it is not small.
///
/// # Errors
/// As [`prune_unreachable`] and [`crate::repack::repack`].
pub fn gc(root: &Path, opts: &GcOptions, progress: ProgressFn<'_>) -> Result<GcReport> {
    let repack_opts = crate::repack::RepackOptions { all: opts.aggressive, ..Default::default() };
    if !opts.prune {
        let unreachable = find_unreachable_with_progress(root, progress)?;
        let repack = if opts.repack { Some(crate::repack::repack(root, &repack_opts)?) } else { None };
        return Ok(GcReport { unreachable, pruned: 0, repack });
    }
    let (unreachable, pruned, repack) = find_and_prune(root, opts.grace, progress, opts.repack.then_some(&repack_opts))?;
    Ok(GcReport { unreachable, pruned, repack })
}

/// Age of a stored item: its loose file's, else the youngest pack holding
/// it; `None` when neither can be read (then it is treated as young).
fn item_age(root: &Path, kind: crate::pack::EntryKind, loose: &Path, id: &str) -> Option<Duration> {
    let age_of = |p: &Path| std::fs::symlink_metadata(p).ok()?.modified().ok()?.elapsed().ok();
    if let Some(a) = age_of(loose) {
        return Some(a);
    }
    let digest = crate::pack::digest_of(id).ok()?;
    let set = crate::pack::cached(root);
    let mut youngest: Option<Duration> = None;
    for p in set.packs().iter().filter(|p| p.find(kind, &digest).is_some()) {
        let a = age_of(p.path())?;
        youngest = Some(youngest.map_or(a, |y| y.min(a)));
    }
    youngest
}

/// [`prune`] with the write lock held (exclusively, `lock`) and
/// `unreachable` computed under it. Loose files older than `grace` are
/// deleted; then, when some pack holds an item to drop (or `repack` asks
/// for a repack anyway), the packs are rewritten without those items
/// ([`crate::repack::repack_locked`], which drops nothing from a pack
/// younger than `grace`). Returns (copies removed, the repack's report).
fn prune_locked(
    root: &Path,
    unreachable: &Unreachable,
    grace: Duration,
    lock: &FileLock,
    repack: Option<&crate::repack::RepackOptions<'_>>,
) -> Result<(usize, Option<crate::repack::RepackReport>)> {
    use crate::pack::EntryKind;
    let old_enough = |kind: EntryKind, p: &Path, id: &str| item_age(root, kind, p, id).is_some_and(|age| age >= grace);
    let un_commits: HashSet<&str> = unreachable.commits.iter().map(String::as_str).collect();
    let un_snapshots: HashSet<&str> = unreachable.snapshots.iter().map(String::as_str).collect();
    // Git's "recent objects are roots": an unreachable commit or snapshot
    // kept for its youth, or because it is packed (no loose file to be
    // old), keeps what it reaches: parents, snapshot, delta bases, blobs.
    let mut kept_commits: HashSet<String> = HashSet::new();
    let mut kept_snapshots: HashSet<String> = HashSet::new();
    let mut kept_blobs: HashSet<String> = HashSet::new();
    let mut stack: Vec<String> = Vec::new();
    for c in &unreachable.commits {
        if !old_enough(EntryKind::Commit, &crate::paths::commit_path(root, c)?, c) {
            stack.push(c.clone());
        }
    }
    let mut snap_stack: Vec<String> = Vec::new();
    for s in &unreachable.snapshots {
        if !old_enough(EntryKind::Snapshot, &crate::paths::snapshot_path(root, s)?, s) {
            snap_stack.push(s.clone());
        }
    }
    while let Some(id) = stack.pop() {
        if !kept_commits.insert(id.clone()) {
            continue;
        }
        // An unreachable record may be damaged or incomplete: it only
        // protects what can be read of it.
        let Ok(Some(rec)) = crate::commits::read_commit(root, &id) else { continue };
        stack.extend(rec.all_parents().into_iter().filter(|p| un_commits.contains(*p)).map(str::to_string));
        if un_snapshots.contains(rec.snapshot_id.as_str()) {
            snap_stack.push(rec.snapshot_id);
        }
    }
    while let Some(id) = snap_stack.pop() {
        if !kept_snapshots.insert(id.clone()) {
            continue;
        }
        let Ok(Some(l)) = crate::snapshots::load_snapshot(root, None, &id) else { continue };
        kept_blobs.extend(l.rec.manifest.into_values());
        snap_stack.extend(l.bases.into_iter().filter(|b| un_snapshots.contains(b.as_str())));
    }
    // Commits, then snapshots, then blobs: an interrupted prune leaves no
    // commit without its snapshot and no snapshot without its blobs.
    let mut paths: Vec<(EntryKind, PathBuf, &str)> = Vec::new();
    for c in unreachable.commits.iter().filter(|c| !kept_commits.contains(*c)) {
        paths.push((EntryKind::Commit, crate::paths::commit_path(root, c)?, c));
    }
    for s in unreachable.snapshots.iter().filter(|s| !kept_snapshots.contains(*s)) {
        paths.push((EntryKind::Snapshot, crate::paths::snapshot_path(root, s)?, s));
    }
    for o in unreachable.objects.iter().filter(|o| !kept_blobs.contains(*o)) {
        paths.push((EntryKind::Object, crate::paths::object_path(root, o)?, o));
    }
    let mut removed = 0;
    // What may leave the packs: every item to drop, by (kind, digest).
    let mut drop_set: HashSet<(EntryKind, [u8; 32])> = HashSet::new();
    for (kind, p, id) in &paths {
        if !old_enough(*kind, p, id) {
            continue;
        }
        if let Ok(d) = crate::pack::digest_of(id) {
            drop_set.insert((*kind, d));
        }
        match std::fs::remove_file(p) {
            Ok(()) => removed += 1,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io("remove", p, e)),
        }
    }
    // Packs: rewritten without the dropped items when any holds one (every
    // pack then, so none keeps a copy), else as the caller's repack asks.
    let set = crate::pack::cached(root);
    let packed_drop = set.packs().iter().any(|p| drop_set.iter().any(|(k, d)| p.find(*k, d).is_some()));
    if !packed_drop && repack.is_none() {
        return Ok((removed, None));
    }
    let keep = |k: EntryKind, d: &[u8; 32]| !drop_set.contains(&(k, *d));
    let mut opts = repack.copied().unwrap_or_default();
    opts.all |= packed_drop;
    opts.keep = Some(&keep);
    opts.grace = grace;
    let report = crate::repack::repack_locked(root, &opts, lock)?;
    removed += report.dropped;
    Ok((removed, Some(report)))
}

impl crate::Repository {
    /// Every stored commit, snapshot and object that no root reaches
    /// ([`find_unreachable`]). Filesystem store only.
    ///
    /// # Errors
    /// As [`find_unreachable`]; [`Error::InvalidInput`] on another store.
    pub fn find_unreachable(&self) -> Result<Unreachable> {
        let root = self.fs_store("gc")?.root().to_path_buf();
        find_unreachable_with_progress(&root, &|w: &str, d: u64, t: u64| self.report_progress(w, d, t))
    }

    /// Finds and removes unreachable items older than `grace`
    /// ([`prune_unreachable`], `muse gc --prune`). Filesystem store only.
    ///
    /// # Errors
    /// As [`prune_unreachable`]; [`Error::InvalidInput`] on another store.
    pub fn prune_unreachable(&self, grace: Duration) -> Result<(Unreachable, usize)> {
        let root = self.fs_store("gc --prune")?.root().to_path_buf();
        prune_unreachable_with_progress(&root, grace, &|w: &str, d: u64, t: u64| self.report_progress(w, d, t))
    }

    /// `muse gc` ([`gc`]): find, optionally prune, and repack. Filesystem
    /// store only.
    ///
    /// # Errors
    /// As [`gc`]; [`Error::InvalidInput`] on another store.
    pub fn gc(&self, opts: &GcOptions) -> Result<GcReport> {
        let root = self.fs_store("gc")?.root().to_path_buf();
        gc(&root, opts, &|w: &str, d: u64, t: u64| self.report_progress(w, d, t))
    }
}
