//! The stash (git's `stash`): local changes to tracked files put aside as
//! commits, and the working tree back at HEAD; later re-applied on top of
//! whatever HEAD is then, line by line (the merge machinery of
//! [`crate::merge`]).
//!
//! An entry is a commit whose snapshot is the working tree's tracked files
//! (the stage's additions included) with HEAD as its first parent and a
//! commit of the stage as its second (git's layout). The entries are a
//! list, newest first, changed by compare-and-swap
//! ([`crate::store::RefStore::update_stash`]); they keep their commits from
//! `gc --prune` until dropped.

use crate::checkout::update_worktree;
use crate::error::{Error, Result};
use crate::ids::{BlobId, CommitId, SnapshotId};
use crate::manifest::Manifest;
use crate::merge::{check_targets, conflict_body, plan_merge, MergeOutcome};
use crate::records::{now_iso, CommitRecord, SnapshotRecord};
use crate::repository::Repository;
use crate::reset::ResetMode;
use crate::stage::read_stage;
use crate::workdir::WorkDir;

/// One stash entry ([`Repository::stash_list`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StashEntry {
    /// Its position: 0 is the newest (git's `stash@{0}`).
    pub index: usize,
    /// The entry's commit.
    pub commit: String,
    /// Its message (`WIP on <branch>: <commit> <subject>`, or `On
    /// <branch>: <message>`).
    pub message: String,
}

impl Repository {
    /// Puts the local changes to tracked files (staged or not) aside as a
    /// new stash entry and resets the stage and working tree to HEAD
    /// (git's `stash push`; untracked files are left alone). Returns the
    /// entry's commit, `None` when there was nothing to stash.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] on an unborn HEAD or during an operation;
    /// store and walker errors.
    pub fn stash_push(&self, message: Option<&str>) -> Result<Option<String>> {
        let root = self.workdir();
        crate::operation::refuse_if_interrupted(root)?;
        if crate::operation::read(root)?.is_some() || crate::merge::read_merge_head(root)?.is_some() {
            return Err(Error::InvalidInput("cannot stash during a merge, cherry-pick or revert".into()));
        }
        let (branch, head, head_m) = self.head_state()?;
        let Some(head) = head else {
            return Err(Error::InvalidInput("nothing to stash: HEAD has no commit yet".into()));
        };
        let index_m = read_stage(root)?.apply_to(&head_m);
        let work_m = crate::status::tracked_worktree(root, &index_m)?;
        if index_m == head_m && work_m == index_m {
            return Ok(None);
        }
        let subject = self.find_commit(&head)?.message.lines().next().unwrap_or("").to_string();
        let on = branch.clone().unwrap_or_else(|| "(no branch)".into());
        let message = match message {
            Some(m) => format!("On {on}: {m}"),
            None => format!("WIP on {on}: {} {subject}", &head[7..19]),
        };
        let writing = self.write_lock()?;
        let mut batch = self.store().batch()?;
        for (p, id) in &work_m {
            if index_m.get(p) != Some(id) {
                batch.write_blob_from_file(&BlobId::parse(id)?, &root.join(p))?;
            }
        }
        let base = SnapshotId::parse(&self.find_commit(&head)?.snapshot_id)?;
        let mk = |manifest: Manifest, msg: String, p2: Option<String>| -> (SnapshotRecord, CommitRecord) {
            let snap = SnapshotRecord::new(manifest);
            let mut rec = CommitRecord {
                branch: on.clone(),
                snapshot_id: snap.snapshot_id.clone(),
                message: msg,
                committed_at: now_iso(),
                parent_commit_id: Some(head.clone()),
                parent2_commit_id: p2,
                ..Default::default()
            };
            rec.commit_id = rec.compute_id();
            (snap, rec)
        };
        let (i_snap, i_rec) = mk(index_m, format!("index on {on}: {} {subject}", &head[7..19]), None);
        let (w_snap, w_rec) = mk(work_m, message, Some(i_rec.commit_id.clone()));
        batch.write_snapshot(&i_snap, Some(&base))?;
        batch.write_commit(&i_rec)?;
        batch.write_snapshot(&w_snap, Some(&base))?;
        batch.write_commit(&w_rec)?;
        batch.commit()?;
        let old = self.store().stash()?;
        let mut new = vec![CommitId::parse(&w_rec.commit_id)?];
        new.extend(old.iter().copied());
        self.store().update_stash(&old, &new)?;
        drop(writing);
        self.reset(None, ResetMode::Hard)?;
        Ok(Some(w_rec.commit_id))
    }

    /// The stash entries, newest first.
    ///
    /// # Errors
    /// Store errors ([`Error::Missing`] for an entry whose commit is gone).
    pub fn stash_list(&self) -> Result<Vec<StashEntry>> {
        self.store()
            .stash()?
            .into_iter()
            .enumerate()
            .map(|(index, c)| {
                let commit = c.to_string();
                let message = self.find_commit(&commit)?.message;
                Ok(StashEntry { index, commit, message })
            })
            .collect()
    }

    /// Re-applies stash entry `index` (0: the newest) to the working tree:
    /// its changes against the commit it was made on are merged, line by
    /// line, with HEAD's files (git's `stash apply`). Needs a clean working
    /// tree and stage. Returns [`MergeOutcome::Merged`] (the entry's commit)
    /// or [`MergeOutcome::Conflicts`] (markers written; the entry is kept).
    /// The changes are left unstaged.
    ///
    /// # Errors
    /// [`Error::NotFound`] for no such entry; [`Error::InvalidInput`] for
    /// local changes or an unborn HEAD; store errors.
    pub fn stash_apply(&self, index: usize) -> Result<MergeOutcome> {
        let root = self.workdir();
        let entry = self.stash_entry(index)?;
        let _index_lock = crate::lock::index_lock(root)?;
        crate::operation::refuse_if_interrupted(root)?;
        let st = self.status()?;
        if !st.staged.is_empty() || !st.unstaged.is_empty() {
            return Err(Error::InvalidInput("your local changes would be overwritten by stash apply; commit or stash them first".into()));
        }
        let Some(head) = st.head.clone() else {
            return Err(Error::InvalidInput("stash apply needs a commit on HEAD".into()));
        };
        let rec = self.find_commit(&entry)?;
        let base_m = self.manifest_of(rec.parent_commit_id.as_deref())?;
        let theirs_m = self.commit_manifest(&entry)?;
        let ours_m = self.commit_manifest(&head)?;
        let writing = self.write_lock()?;
        let (merged, conflicts) = plan_merge(self, &base_m, &ours_m, &theirs_m, true)?;
        check_targets(self, &st.untracked, &ours_m, &merged, &conflicts, "stash apply")?;
        update_worktree(self, &ours_m, &merged, false, false)?;
        drop(writing);
        let wd = WorkDir::open(root)?;
        let label = format!("stash@{{{index}}}");
        for p in &conflicts {
            let body = conflict_body(self, base_m.get(p), ours_m.get(p), theirs_m.get(p), &label)?;
            wd.write_bytes(p, &body, false)?;
        }
        Ok(if conflicts.is_empty() { MergeOutcome::Merged { commit: entry } } else { MergeOutcome::Conflicts { paths: conflicts } })
    }

    /// [`Self::stash_apply`], then [`Self::stash_drop`] of the entry when
    /// it applied without conflicts (git's `stash pop`).
    ///
    /// # Errors
    /// As [`Self::stash_apply`].
    pub fn stash_pop(&self, index: usize) -> Result<MergeOutcome> {
        let out = self.stash_apply(index)?;
        if matches!(out, MergeOutcome::Merged { .. }) {
            self.stash_drop(index)?;
        }
        Ok(out)
    }

    /// Removes stash entry `index`; returns its commit.
    ///
    /// # Errors
    /// [`Error::NotFound`] for no such entry; [`Error::RefConflict`] when
    /// the stash changed meanwhile.
    pub fn stash_drop(&self, index: usize) -> Result<String> {
        let old = self.store().stash()?;
        let Some(gone) = old.get(index).copied() else {
            return Err(Error::NotFound { what: "stash entry", name: format!("stash@{{{index}}}") });
        };
        let mut new = old.clone();
        new.remove(index);
        self.store().update_stash(&old, &new)?;
        Ok(gone.to_string())
    }

    /// The commit of stash entry `index`.
    fn stash_entry(&self, index: usize) -> Result<String> {
        self.store()
            .stash()?
            .get(index)
            .map(ToString::to_string)
            .ok_or_else(|| Error::NotFound { what: "stash entry", name: format!("stash@{{{index}}}") })
    }
}
