//! Status: the working tree and the stage against HEAD (git's `status`).

use std::path::Path;

use crate::error::Result;
use crate::manifest::{diff_manifests, diff_sorted, ChangeKind, Manifest};
use crate::operation::Operation;
use crate::repository::Repository;
use crate::stage::read_stage;

/// The working tree's manifest for a command: from the
/// [file-system monitor](crate::fsmonitor) when it is on and can tell what
/// changed, else the stat-cached walk of SPEC §5.
///
/// # Errors
/// As [`crate::walk::build_snapshot_manifest`].
pub fn worktree_manifest(root: &Path) -> Result<Manifest> {
    crate::fsmonitor::worktree_manifest(root)
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
    use crate::fsmonitor::{BaseKey, Refreshed};
    let root = self.workdir();
    let pending = match crate::fsmonitor::refresh(root)? {
        Refreshed::Known(mut st) => {
            // The monitor knows the working tree: no walk. The base (stage
            // over HEAD) is recomputed only when HEAD or the stage moved.
            let (branch, head) = self.head_ids()?;
            let key = BaseKey::current(root, head.clone());
            if st.base_key() != Some(&key) {
                let (pairs, staged) = match crate::fsmonitor::load_view(root, &key) {
                    Some(v) => {
                        let staged = v.staged().to_vec();
                        (v.into_pairs(), staged)
                    }
                    None => {
                        let head_manifest = self.head_manifest_of(branch.as_deref(), head.as_deref())?;
                        let view = read_stage(root)?.view(&head_manifest).into_owned();
                        let staged = diff_manifests(&head_manifest, &view);
                        crate::fsmonitor::save_view(root, &key, &view, &staged);
                        let pairs = view.iter().filter_map(|(k, v)| Some((k.clone(), crate::fsmonitor::digest_of(v)?))).collect();
                        (pairs, staged)
                    }
                };
                st.rebase(key, pairs, staged)?;
            }
            let (unstaged, untracked) = st.changes();
            let staged = st.staged().to_vec();
            st.save(root);
            let operation = crate::operation::read(root)?;
            return Ok(Status { branch, head, staged, unstaged, untracked, operation });
        }
        Refreshed::Walk(pending) => pending,
    };
    // HEAD is resolved once, before the stage is read (the cached view's
    // key must not be newer than what it describes).
    let (branch, head) = self.head_ids()?;
    let key = BaseKey::current(root, head.clone());
    // The stage over HEAD comes from its cache when HEAD and the stage are
    // as it was made for; else HEAD's manifest and the stage are read while
    // the working tree is walked (a big manifest's decoding and
    // verification overlap the walk).
    enum Side {
        Cached(crate::fsmonitor::View),
        Computed(Manifest, Vec<(String, ChangeKind)>),
    }
    let side = || -> Result<Side> {
        if let Some(v) = crate::fsmonitor::load_view(root, &key) {
            return Ok(Side::Cached(v));
        }
        let head_manifest = self.head_manifest_of(branch.as_deref(), head.as_deref())?;
        let view = read_stage(root)?.view(&head_manifest).into_owned();
        let staged = diff_manifests(&head_manifest, &view);
        crate::fsmonitor::save_view(root, &key, &view, &staged);
        Ok(Side::Computed(view, staged))
    };
    let (side, wt) = crate::walk::join_beside("muse-stage", side, || {
        crate::walk::walk_manifest(root, &crate::walk::WalkOptions::default())
    });
    let side = side?;
    let wt = wt?;
    let mut unstaged = Vec::new();
    let mut untracked = Vec::new();
    let (changes, staged) = match &side {
        // Digests against digests: no ID string is made per file.
        Side::Cached(v) => (diff_sorted(v.iter(), wt.iter(), |a, b| *a == *b), v.staged().to_vec()),
        Side::Computed(view, staged) => {
            let mut buf = [0u8; crate::ids::ID_LEN];
            let tracked = view.iter().map(|(k, v)| (k.as_str(), v));
            (diff_sorted(tracked, wt.iter(), |id, d| **id == crate::ids::write_id(d, &mut buf)), staged.clone())
        }
    };
    for (p, kind) in changes {
        match kind {
            ChangeKind::Added => untracked.push(p),
            k => unstaged.push((p, k)),
        }
    }
    if let Some(p) = pending {
        // What the monitor needs next time: the paths that differ from
        // the base, with their content in the tree.
        let mut dirty = std::collections::BTreeMap::new();
        let present: std::collections::HashSet<&str> = unstaged
            .iter()
            .filter(|(_, k)| *k == ChangeKind::Modified)
            .map(|(p, _)| p.as_str())
            .chain(untracked.iter().map(String::as_str))
            .collect();
        for (k, d) in wt.iter() {
            if present.contains(k) {
                dirty.insert(k.to_string(), Some(*d));
            }
        }
        for (path, k) in &unstaged {
            if *k == ChangeKind::Deleted {
                dirty.insert(path.clone(), None);
            }
        }
        let view = match &side {
            Side::Cached(v) => std::borrow::Cow::Owned(v.to_manifest()),
            Side::Computed(view, _) => std::borrow::Cow::Borrowed(view),
        };
        p.save_status(root, key, &view, staged.clone(), dirty);
    }
    let operation = crate::operation::read(root)?;
    Ok(Status { branch, head, staged, unstaged, untracked, operation })
}
}

