//! `cherry-pick` and `revert` (git's): a commit's change applied to, or
//! undone on top of, HEAD as a new commit. Both are three-way merges
//! ([`crate::merge`]'s line-level machinery and journal): a cherry-pick
//! merges the commit against its parent, a revert merges the parent
//! against the commit. Conflicts stop them like a merge's; `--continue`
//! (or `commit`) concludes with the recorded message, `--abort` goes back.

use crate::commit::CommitOptions;
use crate::error::{Error, Result};
use crate::merge::{apply_merge, check_targets, plan_merge, sides, store_commit_on, MergeOutcome};
use crate::operation::{Operation, OperationKind, Phase};
use crate::records::CommitRecord;
use crate::repository::Repository;

impl Repository {
    /// Applies the change commit `rev` made (against its first parent) on
    /// top of HEAD as a new commit with `rev`'s message and author (git's
    /// `cherry-pick`). Text files changed on both sides merge line by line;
    /// conflicts stop it (the result says which paths): resolve, `add`,
    /// then [`Self::pick_continue`], or [`Self::merge_abort`]. A change
    /// already in HEAD gives [`MergeOutcome::UpToDate`] and no commit.
    /// Journaled and locked like [`Self::merge`].
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a dirty tree, a detached or unborn HEAD,
    /// an operation in progress, a merge commit (which parent's change is
    /// meant is ambiguous), obstacles; as [`Self::revparse`]; store errors.
    pub fn cherry_pick(&self, rev: &str) -> Result<MergeOutcome> {
        self.pick(OperationKind::CherryPick, rev, None)
    }

    /// Undoes the change commit `rev` made, on top of HEAD, as a new commit
    /// by `author` whose message says so (git's `revert`). As
    /// [`Self::cherry_pick`] otherwise.
    ///
    /// # Errors
    /// As [`Self::cherry_pick`].
    pub fn revert(&self, rev: &str, author: &str) -> Result<MergeOutcome> {
        self.pick(OperationKind::Revert, rev, Some(author))
    }

    /// Concludes a cherry-pick or revert that stopped on conflicts, once
    /// they are resolved and added: commits with the recorded message and
    /// author (git's `--continue`).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when no cherry-pick or revert waits, or
    /// conflicts are unresolved; as [`Self::commit`].
    pub fn pick_continue(&self) -> Result<CommitRecord> {
        let op = crate::operation::read(self.workdir())?;
        let Some(op) = op.filter(|o| {
            matches!(o.kind, OperationKind::CherryPick | OperationKind::Revert) && o.phase == Phase::Conflicts
        }) else {
            return Err(Error::InvalidInput("no cherry-pick or revert is waiting to be continued".into()));
        };
        self.commit(&CommitOptions {
            message: op.message.clone().unwrap_or_default(),
            author: op.author.clone().unwrap_or_default(),
            allow_empty: true,
            ..Default::default()
        })
    }

    fn pick(&self, kind: OperationKind, rev: &str, author: Option<&str>) -> Result<MergeOutcome> {
        let root = self.workdir();
        let _index = crate::lock::index_lock(root)?;
        if let Some(op) = crate::operation::read(root)? {
            if op.kind == kind && op.phase == Phase::Applying && op.target == rev {
                return apply_merge(self, op, "");
            }
            return Err(Error::InvalidInput(op.describe()));
        }
        if crate::merge::read_merge_head(root)?.is_some() {
            return Err(Error::InvalidInput("a merge is in progress; commit it or run merge --abort".into()));
        }
        let st = self.status()?;
        if !st.staged.is_empty() || !st.unstaged.is_empty() {
            return Err(Error::InvalidInput(format!(
                "your local changes would be overwritten by {}; commit them first",
                kind.as_str()
            )));
        }
        let (Some(current), Some(ours)) = (st.branch.clone(), st.head.clone()) else {
            return Err(Error::InvalidInput(format!("{} needs HEAD on a branch with at least one commit", kind.as_str())));
        };
        let theirs = self.revparse(rev)?;
        let rec = self.find_commit(&theirs)?;
        if rec.parent2_commit_id.is_some() {
            return Err(Error::InvalidInput(format!(
                "commit {theirs} is a merge: which parent's change to {} is ambiguous",
                if kind == OperationKind::Revert { "undo" } else { "apply" }
            )));
        }
        let subject = rec.message.lines().next().unwrap_or("").to_string();
        let (message, by) = match kind {
            OperationKind::Revert => {
                (format!("Revert \"{subject}\"\n\nThis reverts commit {theirs}.\n"), author.unwrap_or("").to_string())
            }
            _ => (rec.message.clone(), rec.author.clone()),
        };
        let mut op = Operation::pick(kind, rev, current.clone(), ours.clone(), None, theirs.clone(), message, by);
        let ours_m = self.commit_manifest(&ours)?;
        let (base_m, theirs_m) = sides(self, &op)?;
        // Merged blobs and the new commit are unreachable until the journal
        // names them: the write lock keeps `gc --prune` out.
        let writing = self.write_lock()?;
        let (merged, conflicts) = plan_merge(self, &base_m, &ours_m, &theirs_m, true)?;
        if conflicts.is_empty() && merged == ours_m {
            return Ok(MergeOutcome::UpToDate);
        }
        check_targets(self, &st.untracked, &ours_m, &merged, &conflicts, kind.as_str())?;
        if conflicts.is_empty() {
            let (message, author) = (op.message.clone().unwrap_or_default(), op.author.clone().unwrap_or_default());
            op.to = Some(store_commit_on(self, merged, &current, &ours, None, &message, &author)?);
        }
        crate::operation::write(root, &op)?;
        drop(writing);
        apply_merge(self, op, "")
    }
}
