//! What is reachable from the refs, and pruning what is not (`muse gc`).
//!
//! Roots: every branch, HEAD (when detached), `MERGE_HEAD` and the blobs of
//! the stage. From each root commit every parent is followed; a reachable
//! commit keeps its snapshot, a snapshot keeps its blobs and the base
//! chain it is stored as a delta on ([`crate::snapshots`]): a base is never
//! pruned while a kept snapshot needs it.
//!
//! Items in packs ([`crate::pack`]) are reported when unreachable but never
//! removed: a pack is immutable (a repack would drop them).
//!
//! Pruning keeps anything younger than a grace period (default one hour,
//! like git's `gc.pruneExpire` idea): a concurrent writer stores objects and
//! records *before* the ref that makes them reachable, so young unreachable
//! data may be about to become reachable.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::ids::is_hex64;

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

/// Finds every stored commit, snapshot and object that no root reaches.
/// Memory is proportional to the reachable set.
///
/// # Errors
/// [`Error::NotFound`] / [`Error::Corrupt`] when a reachable record is
/// missing or damaged (pruning would be unsafe then), [`Error::Io`].
pub fn find_unreachable(root: &Path) -> Result<Unreachable> {
    let mut roots: Vec<String> = crate::refs::list_branches(root)?.into_iter().map(|(_, c)| c).collect();
    if let crate::refs::Head::Detached(c) = crate::refs::read_head(root)? {
        roots.push(c);
    }
    if let Some(m) = crate::worktree::read_merge_head(root)? {
        roots.push(m);
    }
    let mut commits: HashSet<String> = HashSet::new();
    let mut snapshots: HashSet<String> = HashSet::new();
    let mut blobs: HashSet<String> = HashSet::new();
    for v in crate::worktree::read_stage(root)?.entries.into_values().flatten() {
        blobs.insert(v);
    }
    let mut stack = roots;
    while let Some(id) = stack.pop() {
        if !commits.insert(id.clone()) {
            continue;
        }
        let rec = crate::commits::load_commit(root, &id)?;
        stack.extend(rec.parents().map(str::to_string));
        if crate::ids::is_valid_id(&rec.snapshot_id) && snapshots.insert(rec.snapshot_id.clone()) {
            if let Some(s) = crate::snapshots::load_snapshot(root, None, &rec.snapshot_id)? {
                blobs.extend(s.rec.manifest.into_values());
                // The delta bases are needed to read it.
                snapshots.extend(s.bases);
            }
        }
    }
    let mut out = Unreachable::default();
    out.commits = crate::commits::list_commit_ids(root)?.into_iter().filter(|c| !commits.contains(c)).collect();
    // Packed items are reported but never removed (a pack is immutable);
    // `prune` keeps the delta bases of packed snapshots.
    out.snapshots =
        crate::snapshots::list_snapshot_ids(root)?.into_iter().filter(|s| !snapshots.contains(s)).collect();
    out.objects.extend(
        crate::pack::packed_ids(root, crate::pack::EntryKind::Object).into_iter().filter(|o| !blobs.contains(o)),
    );
    for shard in crate::object_store::list_shards(root)? {
        let prefix = shard.file_name().and_then(|n| n.to_str()).unwrap_or("").to_string();
        let Ok(rd) = std::fs::read_dir(&shard) else { continue };
        for e in rd.flatten() {
            let name = e.file_name();
            let Some(name) = name.to_str() else { continue };
            let hex = format!("{prefix}{name}");
            if is_hex64(hex.as_bytes()) {
                let id = format!("sha256:{hex}");
                if !blobs.contains(&id) {
                    out.objects.push(id);
                }
            }
        }
    }
    out.commits.sort();
    out.objects.sort();
    out.objects.dedup();
    Ok(out)
}

/// Removes the unreachable items whose files are older than `grace`;
/// returns how many were removed.
///
/// # Errors
/// [`Error::Io`].
pub fn prune(root: &Path, unreachable: &Unreachable, grace: Duration) -> Result<usize> {
    let old_enough = |p: &Path| {
        std::fs::symlink_metadata(p)
            .ok()
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age >= grace)
    };
    // A snapshot kept for its youth, or because it is packed (no loose
    // file to be old), keeps its delta bases too.
    let mut protected: HashSet<String> = HashSet::new();
    for s in &unreachable.snapshots {
        if !old_enough(&crate::paths::snapshot_path(root, s)?) {
            if let Ok(Some(l)) = crate::snapshots::load_snapshot(root, None, s) {
                protected.extend(l.bases);
            }
        }
    }
    let mut paths: Vec<PathBuf> = Vec::new();
    for c in &unreachable.commits {
        paths.push(crate::paths::commit_path(root, c)?);
    }
    for s in unreachable.snapshots.iter().filter(|s| !protected.contains(*s)) {
        paths.push(crate::paths::snapshot_path(root, s)?);
    }
    for o in &unreachable.objects {
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
