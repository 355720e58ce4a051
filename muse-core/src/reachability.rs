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

use std::collections::HashSet;
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
    let blobs: Vec<String> = crate::stage::read_stage(root)?.entries.into_values().flatten().collect();
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
    fn of(root: &Path) -> Result<Reach> {
        let mut reach = Reach::default();
        reach.walk(root)?;
        Ok(reach)
    }

    /// Reads the roots (now) and adds what they reach, following nothing
    /// already in the set.
    fn walk(&mut self, root: &Path) -> Result<()> {
        let (mut stack, mut snap_stack, root_blobs) = roots(root)?;
        self.blobs.extend(root_blobs);
        while let Some(id) = stack.pop() {
            if !self.commits.insert(id.clone()) {
                continue;
            }
            let rec = crate::commits::load_commit(root, &id)?;
            stack.extend(rec.all_parents().into_iter().map(str::to_string));
            if crate::ids::is_valid_id(&rec.snapshot_id) {
                snap_stack.push(rec.snapshot_id);
            }
        }
        while let Some(id) = snap_stack.pop() {
            if !self.snapshots.insert(id.clone()) {
                continue;
            }
            if let Some(s) = crate::snapshots::load_snapshot(root, None, &id)? {
                self.blobs.extend(s.rec.manifest.into_values());
                // The delta bases are needed to read it; each is a snapshot
                // of its own whose blobs stay too (`verify` checks every
                // stored snapshot's blobs). Walked, not just marked: a base
                // marked reachable before its own commit is walked would
                // never have its blobs counted.
                snap_stack.extend(s.bases);
            }
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
    Reach::of(root)?.unreachable(root)
}

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
            r.walk(root)?;
            r
        }
        Err(_) => Reach::of(root)?,
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
    let (_lock, reach) = lock_and_update(root, Reach::of(root))?;
    prune_locked(root, &reach.still_unreachable(unreachable), grace)
}

/// Finds the unreachable items and removes those older than `grace` (as
/// [`prune`]), deciding and deleting under the write lock held
/// exclusively. Returns what was unreachable and how many files were
/// removed.
///
/// # Errors
/// As [`prune`].
pub fn prune_unreachable(root: &Path, grace: Duration) -> Result<(Unreachable, usize)> {
    // Walked and listed before the lock; an item stored after the listing
    // is not a candidate this time.
    let before = Reach::of(root);
    let listed = match &before {
        Ok(r) => Some(r.unreachable(root)?),
        Err(_) => None,
    };
    let (_lock, reach) = lock_and_update(root, before)?;
    let unreachable = match listed {
        Some(l) => reach.still_unreachable(&l),
        None => reach.unreachable(root)?,
    };
    let removed = prune_locked(root, &unreachable, grace)?;
    Ok((unreachable, removed))
}

/// [`prune`] with the write lock held and `unreachable` computed under it.
fn prune_locked(root: &Path, unreachable: &Unreachable, grace: Duration) -> Result<usize> {
    let old_enough = |p: &Path| {
        std::fs::symlink_metadata(p)
            .ok()
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age >= grace)
    };
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
        if !old_enough(&crate::paths::commit_path(root, c)?) {
            stack.push(c.clone());
        }
    }
    let mut snap_stack: Vec<String> = Vec::new();
    for s in &unreachable.snapshots {
        if !old_enough(&crate::paths::snapshot_path(root, s)?) {
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
    let mut paths: Vec<PathBuf> = Vec::new();
    for c in unreachable.commits.iter().filter(|c| !kept_commits.contains(*c)) {
        paths.push(crate::paths::commit_path(root, c)?);
    }
    for s in unreachable.snapshots.iter().filter(|s| !kept_snapshots.contains(*s)) {
        paths.push(crate::paths::snapshot_path(root, s)?);
    }
    for o in unreachable.objects.iter().filter(|o| !kept_blobs.contains(*o)) {
        paths.push(crate::paths::object_path(root, o)?);
    }
    let mut removed = 0;
    for p in paths {
        if !old_enough(&p) {
            continue;
        }
        match std::fs::remove_file(&p) {
            Ok(()) => removed += 1,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io("remove", &p, e)),
        }
    }
    Ok(removed)
}

impl crate::Repository {
    /// Every stored commit, snapshot and object that no root reaches
    /// ([`find_unreachable`]). Filesystem store only.
    ///
    /// # Errors
    /// As [`find_unreachable`]; [`Error::InvalidInput`] on another store.
    pub fn find_unreachable(&self) -> Result<Unreachable> {
        find_unreachable(self.fs_store("gc")?.root())
    }

    /// Finds and removes unreachable items older than `grace`
    /// ([`prune_unreachable`], `muse gc --prune`). Filesystem store only.
    ///
    /// # Errors
    /// As [`prune_unreachable`]; [`Error::InvalidInput`] on another store.
    pub fn prune_unreachable(&self, grace: Duration) -> Result<(Unreachable, usize)> {
        prune_unreachable(self.fs_store("gc --prune")?.root(), grace)
    }
}
