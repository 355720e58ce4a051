//! Path-taking entry points to the porcelain, kept for existing callers:
//! each opens a [`Repository`] at `root` and calls its method. New code
//! uses [`Repository`] directly; the porcelain itself lives in
//! [`crate::stage`], [`crate::status`], [`crate::commit`],
//! [`crate::checkout`], [`crate::merge`].

use std::path::Path;

pub use crate::checkout::{BranchUpdate, CheckoutReport};
pub use crate::commit::CommitOptions;
pub use crate::manifest::{diff_manifests, ChangeKind, Manifest};
pub use crate::merge::{read_merge_head, MergeOutcome};
pub use crate::paths::{index_path, merge_head_path};
pub use crate::stage::{pathspec_matches, read_stage, write_stage, AddReport, Stage};
pub use crate::status::{worktree_manifest, Status};

use crate::error::Result;
use crate::records::CommitRecord;
use crate::repository::Repository;

/// [`Repository::head_state`] of the repository at `root`.
///
/// # Errors
/// As [`Repository::open`] and [`Repository::head_state`].
pub fn head_state(root: &Path) -> Result<(Option<String>, Option<String>, Manifest)> {
    Repository::open(root)?.head_state()
}

/// [`Repository::commit_manifest`] of the repository at `root`.
///
/// # Errors
/// As [`Repository::commit_manifest`].
pub fn commit_manifest(root: &Path, id: &str) -> Result<Manifest> {
    Repository::open(root)?.commit_manifest(id)
}

/// [`Repository::add`] of the repository at `root`.
///
/// # Errors
/// As [`Repository::add`].
pub fn add(root: &Path, pathspecs: &[String], progress: &mut dyn FnMut(usize, usize)) -> Result<AddReport> {
    Repository::open(root)?.add(pathspecs, progress)
}

/// [`Repository::status`] of the repository at `root`.
///
/// # Errors
/// As [`Repository::status`].
pub fn status(root: &Path) -> Result<Status> {
    Repository::open(root)?.status()
}

/// [`Repository::commit`] of the repository at `root`.
///
/// # Errors
/// As [`Repository::commit`].
pub fn commit(root: &Path, opts: &CommitOptions) -> Result<CommitRecord> {
    Repository::open(root)?.commit(opts)
}

/// [`Repository::checkout_branch`] of the repository at `root`.
///
/// # Errors
/// As [`Repository::checkout_branch`].
pub fn checkout(root: &Path, branch: &str, create: bool, force: bool) -> Result<CheckoutReport> {
    Repository::open(root)?.checkout_branch(branch, create, force)
}

/// [`Repository::update_branch`] of the repository at `root`.
///
/// # Errors
/// As [`Repository::update_branch`].
pub fn update_branch(root: &Path, branch: &str, new: &str) -> Result<BranchUpdate> {
    Repository::open(root)?.update_branch(branch, new)
}

/// [`Repository::merge`] of the repository at `root`.
///
/// # Errors
/// As [`Repository::merge`].
pub fn merge(root: &Path, branch: &str, author: &str) -> Result<MergeOutcome> {
    Repository::open(root)?.merge(branch, author)
}

/// [`Repository::merge_abort`] of the repository at `root`.
///
/// # Errors
/// As [`Repository::merge_abort`].
pub fn merge_abort(root: &Path) -> Result<()> {
    Repository::open(root)?.merge_abort()
}
