//! Tree diffs between revisions and the working tree
//! ([`Repository::diff`], git's `diff --name-status` shape).

use crate::error::Result;
use crate::manifest::{diff_manifests, ChangeKind, Manifest};
use crate::repository::Repository;

/// One changed path of [`Repository::diff`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffEntry {
    /// The path.
    pub path: String,
    /// Added, modified or deleted (from the old side to the new one).
    pub status: ChangeKind,
    /// The blob ID on the old side (`None` when added).
    pub old_id: Option<String>,
    /// The blob ID on the new side (`None` when deleted).
    pub new_id: Option<String>,
}

/// The changes from manifest `old` to manifest `new`, sorted by path.
pub fn diff_entries(old: &Manifest, new: &Manifest) -> Vec<DiffEntry> {
    diff_manifests(old, new)
        .into_iter()
        .map(|(path, status)| DiffEntry { old_id: old.get(&path).cloned(), new_id: new.get(&path).cloned(), path, status })
        .collect()
}

impl Repository {
    /// The manifest a diff side names: a revision ([`Self::revparse`]), or
    /// with `None` the working tree (the stat-cached walk of SPEC §5).
    ///
    /// # Errors
    /// As [`Self::revparse`]; walker errors.
    pub fn tree(&self, rev: Option<&str>) -> Result<Manifest> {
        match rev {
            Some(r) => self.commit_manifest(&self.revparse(r)?),
            None => crate::status::worktree_manifest(self.workdir()),
        }
    }

    /// The changes from `a` to `b`, sorted by path. `a` and `b` are
    /// revisions; `b = None` is the working tree, `a = None` is HEAD's
    /// commit (empty on an unborn branch): `diff(None, None)` is git's
    /// `diff HEAD`.
    ///
    /// # Errors
    /// As [`Self::tree`].
    pub fn diff(&self, a: Option<&str>, b: Option<&str>) -> Result<Vec<DiffEntry>> {
        let old = match a {
            Some(r) => self.tree(Some(r))?,
            None => self.head_state()?.2,
        };
        let new = self.tree(b)?;
        Ok(diff_entries(&old, &new))
    }
}
