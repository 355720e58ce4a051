//! Commit: the stage recorded on top of HEAD (git's `commit`).

use crate::atomic::remove_if_present;
use crate::error::{Error, Result};
use crate::ids::SnapshotId;
use crate::records::{now_iso, CommitRecord, SnapshotRecord};
use crate::repository::Repository;
use crate::stage::{read_stage, write_stage, Stage};

/// Options of [`crate::Repository::commit`].
#[derive(Debug, Clone, Default)]
pub struct CommitOptions {
    /// Commit message.
    pub message: String,
    /// Author.
    pub author: String,
    /// Stage every change of tracked files first (`commit -a`).
    pub all: bool,
    /// Allow a commit that changes nothing.
    pub allow_empty: bool,
    /// Provenance fields.
    pub agent_id: String,
    /// Provenance fields.
    pub model_id: String,
    /// Provenance fields.
    pub toolchain_id: String,
    /// Provenance fields.
    pub prompt_hash: String,
}

/// The parts of a commit made by [`Repository::create_commit`].
#[derive(Debug, Clone, Default)]
pub struct NewCommit<'a> {
    /// The branch recorded in the commit (informational; no ref moves).
    pub branch: &'a str,
    /// The snapshot it records (must be stored).
    pub snapshot_id: &'a str,
    /// The message.
    pub message: &'a str,
    /// The author (may be empty).
    pub author: &'a str,
    /// Zero, one or two parents (each must be stored); a second parent
    /// makes a merge commit.
    pub parents: &'a [&'a str],
}

impl Repository {
    /// Writes a commit of an existing snapshot on existing parents,
    /// committed now, and returns it. No ref moves (use
    /// [`Self::compare_and_swap_branch`]). Durable on return.
    ///
    /// # Errors
    /// [`Error::InvalidRefName`], [`Error::InvalidId`],
    /// [`Error::InvalidInput`] (more than two parents), [`Error::NotFound`]
    /// naming the missing snapshot or parent commit; store errors.
    pub fn create_commit(&self, c: &NewCommit<'_>) -> Result<CommitRecord> {
        crate::refs::validate_branch_name(c.branch)?;
        if c.parents.len() > 2 {
            return Err(Error::InvalidInput(format!("a commit has at most two parents, got {}", c.parents.len())));
        }
        let snapshot = SnapshotId::parse(c.snapshot_id)?;
        let parents: Vec<crate::ids::CommitId> = c.parents.iter().map(|p| crate::ids::CommitId::parse(p)).collect::<Result<_>>()?;
        if self.store().read_snapshot(&snapshot)?.is_none() {
            return Err(Error::NotFound { what: "snapshot", name: c.snapshot_id.to_string() });
        }
        for (p, id) in parents.iter().zip(c.parents) {
            if self.store().read_commit(p)?.is_none() {
                return Err(Error::NotFound { what: "parent commit", name: id.to_string() });
            }
        }
        let mut rec = CommitRecord {
            branch: c.branch.to_string(),
            snapshot_id: c.snapshot_id.to_string(),
            message: c.message.to_string(),
            committed_at: now_iso(),
            parent_commit_id: c.parents.first().map(|p| p.to_string()),
            parent2_commit_id: c.parents.get(1).map(|p| p.to_string()),
            author: c.author.to_string(),
            ..Default::default()
        };
        rec.commit_id = rec.compute_id();
        self.store().write_commit(&rec)?;
        Ok(rec)
    }
}

impl Repository {
/// Records the stage on top of HEAD: the new snapshot is HEAD's manifest
/// with the stage applied; snapshot and commit are written in one batch,
/// then the branch moves by compare-and-swap from the commit it was read
/// at, then the stage is emptied.
///
/// Runs under the index lock. A merge waiting for its conflicts is
/// concluded (two parents, the journal removed).
///
/// # Errors
/// [`Error::InvalidInput`] "nothing to commit" (unless `allow_empty`) or
/// while an operation is interrupted; [`Error::RefConflict`] when the
/// branch moved meanwhile; [`Error::Locked`]; store errors.
pub fn commit(&self, opts: &CommitOptions) -> Result<CommitRecord> {
    let root = self.workdir();
    let _index = crate::lock::index_lock(root)?;
    let op = crate::operation::refuse_if_interrupted(root)?;
    if opts.all {
        let st = self.status()?;
        let tracked: Vec<String> = st.unstaged.iter().map(|(p, _)| p.clone()).collect();
        if !tracked.is_empty() {
            crate::stage::add_locked(self, &tracked, &mut |_, _| {})?;
        }
    }
    let (branch, head, head_manifest) = self.head_state()?;
    let stage = read_stage(root)?;
    let manifest = stage.apply_to(&head_manifest);
    let merge_head = crate::merge::read_merge_head(root)?;
    // A merge, cherry-pick or revert stopped on conflicts: only resolved
    // files may be committed.
    let stopped = op.as_ref().is_some_and(|o| o.phase == crate::operation::Phase::Conflicts);
    if merge_head.is_some() || stopped {
        let wt = crate::status::worktree_manifest(root)?;
        let unresolved: Vec<&String> = manifest.iter().filter(|(p, o)| wt.get(*p) != Some(*o)).map(|(p, _)| p).collect();
        if !unresolved.is_empty() && !opts.all {
            let names: Vec<&str> = unresolved.iter().map(|s| s.as_str()).collect();
            return Err(Error::InvalidInput(format!(
                "{} in progress: resolve and add these paths first: {}",
                op.as_ref().map_or("merge", |o| o.kind.as_str()),
                names.join(", ")
            )));
        }
    }
    if manifest == head_manifest && head.is_some() && !opts.allow_empty && merge_head.is_none() {
        return Err(Error::InvalidInput("nothing to commit (use add, or --allow-empty)".into()));
    }
    if manifest.is_empty() && head.is_none() && !opts.allow_empty {
        return Err(Error::InvalidInput("nothing to commit (use add, or --allow-empty)".into()));
    }
    let snap = SnapshotRecord::new(manifest);
    let mut rec = CommitRecord {
        branch: branch.clone().unwrap_or_default(),
        snapshot_id: snap.snapshot_id.clone(),
        message: opts.message.clone(),
        committed_at: now_iso(),
        parent_commit_id: head.clone(),
        parent2_commit_id: merge_head.clone(),
        author: opts.author.clone(),
        agent_id: opts.agent_id.clone(),
        model_id: opts.model_id.clone(),
        toolchain_id: opts.toolchain_id.clone(),
        prompt_hash: opts.prompt_hash.clone(),
        ..Default::default()
    };
    rec.commit_id = rec.compute_id();
    // Stored as a delta on the parent's snapshot (SPEC §3).
    let base_snapshot = match &head {
        Some(h) => Some(SnapshotId::parse(&self.find_commit(h)?.snapshot_id)?),
        None => None,
    };
    // The new records are unreachable until the ref moves: the write lock
    // (shared) keeps `gc --prune` out until then.
    let writing = self.write_lock()?;
    let mut batch = self.store().batch()?;
    batch.write_snapshot(&snap, base_snapshot.as_ref())?;
    batch.write_commit(&rec)?;
    batch.commit()?;
    match &branch {
        Some(b) => self.compare_and_swap_branch(b, head.as_deref(), &rec.commit_id)?,
        None => self.set_head_detached(&rec.commit_id)?,
    }
    drop(writing);
    write_stage(root, &Stage::default())?;
    if merge_head.is_some() {
        remove_if_present(&crate::paths::merge_head_path(root))?;
    }
    if op.is_some() {
        crate::operation::clear(root)?;
    }
    Ok(rec)
}
}
