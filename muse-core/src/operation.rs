//! The journal of a working-tree operation in progress (SPEC §12):
//! `.muse/OPERATION`, a small JSON file.
//!
//! `checkout` and `merge` (and `bundle apply --update-refs` onto the
//! checked-out branch) write their intent here — the commit the tree is at,
//! the commit it goes to, the branch to move — *before* touching a file,
//! and remove it when the stage, HEAD and the branch are in their final
//! state. Every step in between is idempotent, so after a crash:
//!
//! * rerunning the same `muse checkout X` finishes the interrupted one
//!   (any other checkout first finishes it, then proceeds);
//! * `muse merge --abort` puts every file the merge could have written
//!   back to the pre-merge commit, moves the branch back if it had moved,
//!   and empties the stage; rerunning the same `muse merge X` finishes it;
//! * `muse status` names the interrupted operation and how to finish or
//!   abort it; `add` and `commit` refuse until then.
//!
//! A merge that stops on conflicts keeps its journal (phase
//! [`Phase::Conflicts`]) until it is committed or aborted, so that
//! `--abort` knows exactly which files the merge wrote. The commits named
//! here are roots of reachability ([`gc_roots`]): `gc --prune` never
//! removes them while the journal exists.

use std::path::{Path, PathBuf};

use crate::atomic::{write_atomic, Replace, MODE_MUTABLE, MUSE_TMP_PREFIX};
use crate::config::durability_for;
use crate::error::{Error, Result};

/// File name of the journal in `.muse/`.
pub use crate::paths::OPERATION_FILE;

/// Which operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OperationKind {
    /// `checkout` (or a branch update that carries the working tree along).
    Checkout,
    /// `merge`.
    Merge,
    /// `cherry-pick`: a commit's change applied on top of HEAD.
    CherryPick,
    /// `revert`: a commit's change undone on top of HEAD.
    Revert,
}

impl OperationKind {
    /// `"checkout"`, `"merge"`, `"cherry-pick"` or `"revert"` (the command).
    pub fn as_str(self) -> &'static str {
        match self {
            OperationKind::Checkout => "checkout",
            OperationKind::Merge => "merge",
            OperationKind::CherryPick => "cherry-pick",
            OperationKind::Revert => "revert",
        }
    }

    /// True for the three-way operations (merge, cherry-pick, revert),
    /// which can stop on conflicts.
    pub fn is_three_way(self) -> bool {
        self != OperationKind::Checkout
    }
}

/// Where the operation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Changing files; if the journal is found in this phase by another
    /// command, the operation was interrupted.
    Applying,
    /// A merge finished writing and waits for its conflicts to be resolved
    /// (committed) or aborted.
    Conflicts,
}

/// The journal's content.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Operation {
    /// Which operation.
    pub kind: OperationKind,
    /// What the user named (branch or revision): a rerun naming the same
    /// target resumes.
    pub target: String,
    /// The branch HEAD is on when done (`None`: detached at `to`).
    pub branch: Option<String>,
    /// The commit the working tree was at before (`None`: no commit yet).
    pub from: Option<String>,
    /// The commit the working tree goes to (checkout target, fast-forward
    /// target or merge commit); `None` for a merge with conflicts, whose
    /// tree is recomputed from `from`, `theirs` and their merge base.
    pub to: Option<String>,
    /// A merge's other side.
    pub theirs: Option<String>,
    /// A merge's conflicting paths (filled when the phase is
    /// [`Phase::Conflicts`]).
    #[serde(default)]
    pub conflicts: Vec<String>,
    /// Move `branch` from `from` to `to` by compare-and-swap (merge, branch
    /// update) rather than pointing HEAD at `branch` (checkout).
    pub move_branch: bool,
    /// `checkout --force`: every file rewritten, obstacles replaced.
    pub force: bool,
    /// Where it is.
    pub phase: Phase,
    /// The message of the commit a cherry-pick or revert makes (kept for
    /// the commit that concludes it after conflicts).
    #[serde(default)]
    pub message: Option<String>,
    /// The author of that commit.
    #[serde(default)]
    pub author: Option<String>,
}

impl Operation {
    /// A checkout of `branch` from `from` to `to` about to start:
    /// `move_branch` moves the branch by compare-and-swap (a branch update
    /// carrying the tree) instead of pointing HEAD at it; `force` as
    /// `checkout --force`.
    pub fn checkout(branch: &str, from: Option<String>, to: String, move_branch: bool, force: bool) -> Operation {
        Operation {
            kind: OperationKind::Checkout,
            target: branch.to_string(),
            branch: Some(branch.to_string()),
            from,
            to: Some(to),
            theirs: None,
            conflicts: Vec::new(),
            move_branch,
            force,
            phase: Phase::Applying,
            message: None,
            author: None,
        }
    }

    /// A merge of `target` (resolved to `theirs`) into `branch` at `ours`
    /// about to start; `to` is the fast-forward target or the merge commit,
    /// `None` when it stops on conflicts.
    pub fn merge(target: &str, branch: String, ours: String, to: Option<String>, theirs: String) -> Operation {
        let mut op = Operation::pick(OperationKind::Merge, target, branch, ours, to, theirs, String::new(), String::new());
        (op.message, op.author) = (None, None);
        op
    }

    /// A three-way operation (`kind`: cherry-pick, revert; merge through
    /// [`Operation::merge`]) of commit `theirs` (named `target`) onto
    /// `ours` on `branch`, about to start: `to` is the commit it makes
    /// (`None` when it stops on conflicts), `message` and `author` that
    /// commit's.
    #[allow(clippy::too_many_arguments)]
    pub fn pick(
        kind: OperationKind,
        target: &str,
        branch: String,
        ours: String,
        to: Option<String>,
        theirs: String,
        message: String,
        author: String,
    ) -> Operation {
        Operation {
            kind,
            target: target.to_string(),
            branch: Some(branch),
            from: Some(ours),
            to,
            theirs: Some(theirs),
            conflicts: Vec::new(),
            move_branch: true,
            force: false,
            phase: Phase::Applying,
            message: Some(message),
            author: Some(author),
        }
    }

    /// The command that finishes this operation, for messages.
    pub fn resume_hint(&self) -> String {
        match (self.kind, self.phase) {
            (OperationKind::Checkout, _) => {
                format!("run `muse checkout {}` to finish it", self.target)
            }
            (OperationKind::Merge, Phase::Conflicts) => {
                "fix the conflicts, `muse add` the files and `muse commit`; or `muse merge --abort`".to_string()
            }
            (k, Phase::Applying) => format!(
                "run `muse {k} --abort` to go back to {}, or `muse {k} {}` to finish it",
                self.from.as_deref().map(short).unwrap_or("HEAD"),
                self.target,
                k = k.as_str()
            ),
            (k, Phase::Conflicts) => format!(
                "fix the conflicts, `muse add` the files and `muse {k} --continue`; or `muse {k} --abort`",
                k = k.as_str()
            ),
        }
    }

    /// One line for `status` and errors: what was interrupted (or is in
    /// progress) and how to finish or abort it.
    pub fn describe(&self) -> String {
        match self.phase {
            Phase::Applying => format!("a {} of {} was interrupted; {}", self.kind.as_str(), self.target, self.resume_hint()),
            Phase::Conflicts => {
                let doing = match self.kind {
                    OperationKind::CherryPick => "cherry-picking",
                    OperationKind::Revert => "reverting",
                    _ => "merging",
                };
                format!("{doing} {} with conflicts; {}", self.target, self.resume_hint())
            }
        }
    }
}

fn short(id: &str) -> &str {
    id.get(7..19).unwrap_or(id)
}

/// `<root>/.muse/OPERATION`.
pub fn operation_path(root: &Path) -> PathBuf {
    crate::paths::operation_path(root)
}

/// The operation in progress, if any.
///
/// # Errors
/// [`Error::Corrupt`] for a journal that does not parse or names a
/// malformed ID; [`Error::Io`].
pub fn read(root: &Path) -> Result<Option<Operation>> {
    let path = operation_path(root);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("read", &path, e)),
    };
    let op: Operation = serde_json::from_slice(&bytes).map_err(|e| Error::corrupt("operation journal", &path, e.to_string()))?;
    for id in op.from.iter().chain(op.to.iter()).chain(op.theirs.iter()) {
        crate::ids::validate_id(id).map_err(|e| Error::corrupt("operation journal", &path, e.to_string()))?;
    }
    Ok(Some(op))
}

/// Writes the journal (durable per `[core] fsync` before any working-tree
/// file is touched).
///
/// # Errors
/// [`Error::Io`].
pub fn write(root: &Path, op: &Operation) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(op).map_err(|e| Error::InvalidInput(e.to_string()))?;
    let d = durability_for(root, None)?;
    write_atomic(&operation_path(root), MUSE_TMP_PREFIX, &bytes, MODE_MUTABLE, d, Replace::Overwrite)?;
    Ok(())
}

/// Removes the journal (the operation is over).
///
/// # Errors
/// [`Error::Io`].
pub fn clear(root: &Path) -> Result<()> {
    crate::atomic::remove_if_present(&operation_path(root))
}

/// The commits an operation in progress still needs (reachability roots
/// for `gc --prune`): its `from`, `to` and `theirs`.
///
/// # Errors
/// As [`read`].
pub fn gc_roots(root: &Path) -> Result<Vec<String>> {
    Ok(match read(root)? {
        Some(op) => op.from.into_iter().chain(op.to).chain(op.theirs).collect(),
        None => Vec::new(),
    })
}

/// The journal, refusing to go on while an operation is interrupted (the
/// journal in [`Phase::Applying`]).
///
/// # Errors
/// [`Error::InvalidInput`] describing the interrupted operation and how to
/// finish or undo it.
pub fn refuse_if_interrupted(root: &Path) -> Result<Option<Operation>> {
    match read(root)? {
        Some(op) if op.phase == Phase::Applying => Err(Error::InvalidInput(op.describe())),
        other => Ok(other),
    }
}
