//! Status: the working tree and the stage against HEAD (git's `status`).

use std::path::Path;

use crate::error::Result;
use crate::manifest::{diff_manifests, diff_sorted, ChangeKind, Manifest};
use crate::operation::Operation;
use crate::repository::Repository;
use crate::stage::read_stage;

/// The working tree's manifest (the stat-cached walk of SPEC §5).
///
/// # Errors
/// As [`crate::walk::build_snapshot_manifest`].
pub fn worktree_manifest(root: &Path) -> Result<Manifest> {
    crate::walk::build_snapshot_manifest(root, &crate::walk::WalkOptions::default())
}

/// The working tree's content of the `tracked` paths (the index's), as it
/// is now: the walk's IDs, and for a tracked file the walk leaves out (a
/// `.museignore` pattern matches it: git never ignores a tracked file) its
/// content read directly. Paths missing from the tree are absent.
///
/// # Errors
/// Walker errors; [`crate::Error::Io`] reading a file.
pub(crate) fn tracked_worktree(root: &Path, tracked: &Manifest) -> Result<Manifest> {
    let present = worktree_manifest(root)?;
    let mut out = Manifest::new();
    for p in tracked.keys() {
        let id = match present.get(p) {
            Some(id) => id.clone(),
            None => match std::fs::symlink_metadata(root.join(p)) {
                Ok(m) if m.is_file() => crate::ids::blob_id(
                    &std::fs::read(root.join(p)).map_err(|e| crate::Error::io("read", root.join(p), e))?,
                ),
                _ => continue,
            },
        };
        out.insert(p.clone(), id);
    }
    Ok(out)
}

/// The state of the working tree against HEAD.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Status {
    /// The branch HEAD is on (`None` when detached).
    pub branch: Option<String>,
    /// HEAD's commit (`None` on an unborn branch).
    pub head: Option<String>,
    /// Staged changes (HEAD → stage).
    pub staged: Vec<(String, ChangeKind)>,
    /// Changes of tracked files not staged (stage → working tree); never
    /// `Added`.
    pub unstaged: Vec<(String, ChangeKind)>,
    /// Files in the working tree that are neither in HEAD nor staged.
    pub untracked: Vec<String>,
    /// The checkout or merge in progress (interrupted, or a merge waiting
    /// for its conflicts to be resolved), from `.muse/OPERATION`.
    pub operation: Option<Operation>,
}

impl Status {
    /// True when nothing is staged, modified, deleted or untracked.
    pub fn is_clean(&self) -> bool {
        self.staged.is_empty() && self.unstaged.is_empty() && self.untracked.is_empty()
    }

    /// One entry per path, sorted (pygit2's `status()` shape): the staged
    /// change in `index`, the unstaged one (or `Untracked`) in `worktree`.
    pub fn entries(&self) -> Vec<StatusEntry> {
        let mut map: std::collections::BTreeMap<&str, StatusEntry> = std::collections::BTreeMap::new();
        for (p, k) in &self.staged {
            map.entry(p.as_str()).or_insert_with(|| StatusEntry::new(p)).index = Some(FileStatus::from(*k));
        }
        for (p, k) in &self.unstaged {
            map.entry(p.as_str()).or_insert_with(|| StatusEntry::new(p)).worktree = Some(FileStatus::from(*k));
        }
        for p in &self.untracked {
            map.entry(p.as_str()).or_insert_with(|| StatusEntry::new(p)).worktree = Some(FileStatus::Untracked);
        }
        map.into_values().collect()
    }
}

/// The state of one path in [`StatusEntry`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileStatus {
    /// New (in the stage: not in HEAD).
    Added,
    /// Content changed.
    Modified,
    /// Removed.
    Deleted,
    /// In the working tree only (neither in HEAD nor staged).
    Untracked,
}

impl FileStatus {
    /// `added`, `modified`, `deleted` or `untracked`.
    pub fn word(self) -> &'static str {
        match self {
            FileStatus::Added => "added",
            FileStatus::Modified => "modified",
            FileStatus::Deleted => "deleted",
            FileStatus::Untracked => "untracked",
        }
    }
}

impl From<ChangeKind> for FileStatus {
    fn from(k: ChangeKind) -> Self {
        match k {
            ChangeKind::Added => FileStatus::Added,
            ChangeKind::Modified => FileStatus::Modified,
            ChangeKind::Deleted => FileStatus::Deleted,
        }
    }
}

/// One path of [`Status::entries`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusEntry {
    /// The path.
    pub path: String,
    /// Its staged change (HEAD → stage), if any.
    pub index: Option<FileStatus>,
    /// Its unstaged change (stage → working tree) or `Untracked`, if any.
    pub worktree: Option<FileStatus>,
}

impl StatusEntry {
    fn new(p: &str) -> StatusEntry {
        StatusEntry { path: p.to_string(), index: None, worktree: None }
    }
}

impl Repository {
/// Computes [`Status`]: staged changes (HEAD → stage), unstaged changes
/// (stage → working tree), untracked files, and the operation in progress.
///
/// # Errors
/// Walker and store errors.
pub fn status(&self) -> Result<Status> {
    let root = self.workdir();
    // HEAD's manifest and the stage are read while the working tree is
    // walked: a big manifest's decoding and verification overlap the walk.
    let (head_side, wt) = rayon::join(
        || -> Result<_> {
            let (branch, head, head_manifest) = self.head_state()?;
            Ok((branch, head, head_manifest, read_stage(root)?))
        },
        || crate::walk::walk_manifest(root, &crate::walk::WalkOptions::default()),
    );
    let (branch, head, head_manifest, stage) = head_side?;
    let wt = wt?;
    let staged_view = stage.view(&head_manifest);
    let staged = diff_manifests(&head_manifest, &staged_view);
    let mut unstaged = Vec::new();
    let mut untracked = Vec::new();
    // The walk's raw digests against the stage's IDs: no ID string is
    // made per file.
    let mut buf = [0u8; crate::ids::ID_LEN];
    let tracked = staged_view.iter().map(|(k, v)| (k.as_str(), v));
    for (p, kind) in diff_sorted(tracked, wt.iter(), |id, d| **id == crate::ids::write_id(d, &mut buf)) {
        match kind {
            ChangeKind::Added => untracked.push(p),
            k => unstaged.push((p, k)),
        }
    }
    let operation = crate::operation::read(root)?;
    Ok(Status { branch, head, staged, unstaged, untracked, operation })
}
}

