//! Merge (git's `merge`): fast-forward, or a three-way merge against the
//! merge base ([`crate::merge_base`]), journaled so a killed merge is
//! finished by running it again or undone by [`Repository::merge_abort`]
//! (SPEC §12). A path changed on one side takes that side; a text file
//! changed on both sides is merged line by line ([`crate::merge_file`]):
//! a conflict only where the two sides' edits overlap, marked around that
//! hunk with the base section (git's `diff3` style); a binary file changed
//! on both sides, or one side's change against the other's deletion,
//! conflicts whole.

use std::collections::BTreeSet;
use std::path::Path;

use crate::atomic::{remove_if_present, write_atomic, Replace, MODE_MUTABLE, MUSE_TMP_PREFIX};
use crate::checkout::{check_obstacles, move_branch, update_worktree};
use crate::config::durability_for;
use crate::error::{Error, IoContext, Result};
use crate::ids::{BlobId, SnapshotId};
use crate::manifest::{diff_manifests, ChangeKind, Manifest};
use crate::merge_file::{merge_file, FileMerge, Labels};
use crate::operation::{Operation, OperationKind, Phase};
use crate::paths::{merge_head_path, validate_rel_path};
use crate::records::{now_iso, CommitRecord, SnapshotRecord};
use crate::repository::Repository;
use crate::stage::{read_stage, write_stage, Stage};
use crate::workdir::WorkDir;

/// The commit being merged, when a conflicted merge is in progress.
///
/// # Errors
/// [`Error::Corrupt`] for a malformed file, [`Error::Io`].
pub fn read_merge_head(root: &Path) -> Result<Option<String>> {
    let path = merge_head_path(root);
    match std::fs::read_to_string(&path) {
        Ok(t) => {
            let id = t.trim().to_string();
            crate::ids::validate_id(&id).map_err(|e| Error::corrupt("MERGE_HEAD", &path, e.to_string()))?;
            Ok(Some(id))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("read", &path, e)),
    }
}

/// Outcome of [`Repository::merge`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeOutcome {
    /// The other branch is already contained in HEAD.
    UpToDate,
    /// HEAD's branch moved forward to the other branch's commit.
    FastForward {
        /// The new HEAD commit.
        commit: String,
    },
    /// A merge commit was made (two parents).
    Merged {
        /// The merge commit.
        commit: String,
    },
    /// Both sides changed these paths differently. The working tree holds
    /// the merged result with conflict markers in these files, the clean
    /// part of the merge is staged, and `.muse/MERGE_HEAD` names the other
    /// commit: resolve, `add`, `commit` (which records both parents), or
    /// [`Repository::merge_abort`].
    Conflicts {
        /// The conflicting paths, sorted.
        paths: Vec<String>,
    },
}

impl MergeOutcome {
    /// `up-to-date`, `fast-forward`, `merged` or `conflicts` (the CLI's
    /// `--json` `result` and the bindings' `kind`).
    pub fn word(&self) -> &'static str {
        match self {
            MergeOutcome::UpToDate => "up-to-date",
            MergeOutcome::FastForward { .. } => "fast-forward",
            MergeOutcome::Merged { .. } => "merged",
            MergeOutcome::Conflicts { .. } => "conflicts",
        }
    }
}

/// The three-way merge of `ours` and `theirs` over `base`: a path changed
/// on one side only takes that side; a text file changed on both sides is
/// merged line by line, and a clean result is stored as a new blob (with
/// `store_merged`; a dry run for `--abort` skips the writes); anything else
/// changed on both sides is a conflict (the merged manifest then holds
/// ours, or theirs where ours removed it). Deterministic, so a resumed or
/// aborted merge recomputes exactly what the first run wrote.
pub(crate) fn plan_merge(
    repo: &Repository,
    base_m: &Manifest,
    ours_m: &Manifest,
    theirs_m: &Manifest,
    store_merged: bool,
) -> Result<(Manifest, Vec<String>)> {
    let mut merged = Manifest::new();
    let mut conflicts = Vec::new();
    let paths: BTreeSet<&String> = ours_m.keys().chain(theirs_m.keys()).chain(base_m.keys()).collect();
    for p in paths {
        let (b, o, t) = (base_m.get(p), ours_m.get(p), theirs_m.get(p));
        let pick = if o == t {
            o.cloned()
        } else if o == b {
            t.cloned()
        } else if t == b {
            o.cloned()
        } else if let (Some(o), Some(t)) = (o, t) {
            match merge_contents(repo, b, o, t, &NO_LABELS)? {
                FileMerge::Clean(content) => {
                    let id = crate::ids::blob_id(&content);
                    if store_merged {
                        repo.store().write_blob(&content)?;
                    }
                    Some(id)
                }
                FileMerge::Conflict(_) | FileMerge::Binary => {
                    conflicts.push(p.clone());
                    Some(o.clone())
                }
            }
        } else {
            conflicts.push(p.clone());
            o.or(t).cloned()
        };
        if let Some(oid) = pick {
            merged.insert(p.clone(), oid);
        }
    }
    Ok((merged, conflicts))
}

/// The merge base's and their side's manifests of a three-way operation:
/// a merge's merge base and other commit; a cherry-pick's commit's parent
/// and the commit; a revert's commit and its parent (the change undone).
pub(crate) fn sides(repo: &Repository, op: &Operation) -> Result<(Manifest, Manifest)> {
    let (Some(ours), Some(theirs)) = (op.from.as_deref(), op.theirs.as_deref()) else {
        return Err(Error::InvalidInput(format!("{} journal without its commits", op.kind.as_str())));
    };
    match op.kind {
        OperationKind::CherryPick | OperationKind::Revert => {
            let parent = repo.find_commit(theirs)?.parent_commit_id;
            let (parent_m, theirs_m) = (repo.manifest_of(parent.as_deref())?, repo.commit_manifest(theirs)?);
            Ok(if op.kind == OperationKind::CherryPick { (parent_m, theirs_m) } else { (theirs_m, parent_m) })
        }
        _ => {
            let base = repo.merge_base(ours, theirs)?;
            Ok((repo.manifest_of(base.as_deref())?, repo.commit_manifest(theirs)?))
        }
    }
}

/// Refuses (changing nothing) a three-way result (`what`: merge,
/// cherry-pick, stash apply) that names a path muse refuses, would
/// overwrite an untracked file, or would write beyond a symlink or over a
/// directory ([`check_obstacles`]).
///
/// # Errors
/// [`Error::InvalidPath`], [`Error::InvalidInput`] naming the paths.
pub(crate) fn check_targets(
    repo: &Repository,
    untracked: &[String],
    ours_m: &Manifest,
    merged: &Manifest,
    conflicts: &[String],
    what: &str,
) -> Result<()> {
    for p in merged.keys() {
        validate_rel_path(p)?;
    }
    let untracked: BTreeSet<&String> = untracked.iter().collect();
    let clobbered: Vec<&str> =
        merged.keys().filter(|p| untracked.contains(p) && !ours_m.contains_key(*p)).map(String::as_str).collect();
    if !clobbered.is_empty() {
        return Err(Error::InvalidInput(format!(
            "untracked files would be overwritten by {what}; move them first: {}",
            clobbered.join(", ")
        )));
    }
    check_obstacles(&WorkDir::open(repo.workdir())?, ours_m, merged, conflicts, what)
}

/// Stores `manifest` as a snapshot (a delta on `ours`' snapshot, SPEC §3)
/// and a commit of it on `ours` (and `theirs`, a merge) in one batch;
/// returns the commit's ID. No ref moves.
///
/// # Errors
/// Store errors.
pub(crate) fn store_commit_on(
    repo: &Repository,
    manifest: Manifest,
    branch: &str,
    ours: &str,
    theirs: Option<&str>,
    message: &str,
    author: &str,
) -> Result<String> {
    let snap = SnapshotRecord::new(manifest);
    let mut rec = CommitRecord {
        branch: branch.to_string(),
        snapshot_id: snap.snapshot_id.clone(),
        message: message.to_string(),
        committed_at: now_iso(),
        parent_commit_id: Some(ours.to_string()),
        parent2_commit_id: theirs.map(str::to_string),
        author: author.to_string(),
        ..Default::default()
    };
    rec.commit_id = rec.compute_id();
    let base_snapshot = SnapshotId::parse(&repo.find_commit(ours)?.snapshot_id)?;
    let mut batch = repo.store().batch()?;
    batch.write_snapshot(&snap, Some(&base_snapshot))?;
    batch.write_commit(&rec)?;
    batch.commit()?;
    Ok(rec.commit_id)
}

/// Labels for a merge whose markers are not written.
const NO_LABELS: Labels<'static> = Labels { ours: "", base: "", theirs: "" };

/// [`crate::merge_file::merge_file`] of three stored blobs (`base` absent:
/// empty, git's add/add).
fn merge_contents(repo: &Repository, base: Option<&String>, ours: &str, theirs: &str, labels: &Labels<'_>) -> Result<FileMerge> {
    let read = |oid: &str| repo.store().read_blob(&BlobId::parse(oid)?);
    let base = match base {
        Some(b) => read(b)?,
        None => Vec::new(),
    };
    Ok(merge_file(&base, &read(ours)?, &read(theirs)?, labels))
}

impl Repository {
/// Merges `branch` into HEAD's branch (SPEC §10): a fast-forward when HEAD
/// is an ancestor, else a three-way merge (text files line by line) against
/// [`crate::merge_base::find_merge_base`] (see `plan_merge`). Refuses a
/// dirty tree, a detached HEAD, a merge in progress, and (changing
/// nothing) untracked files, symlinks or directories where the merge must
/// write. The intent is journaled first ([`crate::operation`]); after a
/// crash `merge --abort` undoes it and the same `merge` finishes it. Runs
/// under the index lock.
///
/// # Errors
/// [`Error::InvalidInput`] (dirty tree, merge in progress or interrupted,
/// no commits, obstacles), [`Error::NotFound`] (unknown branch),
/// [`Error::CapExceeded`], [`Error::Locked`], store errors.
pub fn merge(&self, branch: &str, author: &str) -> Result<MergeOutcome> {
    let root = self.workdir();
    let _index = crate::lock::index_lock(root)?;
    if let Some(op) = crate::operation::read(root)? {
        if op.kind == OperationKind::Merge && op.phase == Phase::Applying && op.target == branch {
            return apply_merge(self, op, author);
        }
        return Err(Error::InvalidInput(op.describe()));
    }
    if read_merge_head(root)?.is_some() {
        return Err(Error::InvalidInput("a merge is in progress; commit it or run merge --abort".into()));
    }
    let st = self.status()?;
    if !st.staged.is_empty() || !st.unstaged.is_empty() {
        return Err(Error::InvalidInput("your local changes would be overwritten by merge; commit them first".into()));
    }
    let (Some(current), Some(ours)) = (st.branch.clone(), st.head.clone()) else {
        return Err(Error::InvalidInput("merge needs HEAD on a branch with at least one commit".into()));
    };
    let by_branch = match crate::refs::validate_branch_name(branch) {
        Ok(()) => self.branch_target(branch)?,
        Err(_) => None,
    };
    let theirs = match by_branch {
        Some(c) => c,
        None => self.revparse(branch).map_err(|e| match e {
            Error::NotFound { .. } => Error::NotFound { what: "branch", name: branch.to_string() },
            e => e,
        })?,
    };
    let base = self.merge_base(&ours, &theirs)?;
    if base.as_deref() == Some(theirs.as_str()) || ours == theirs {
        return Ok(MergeOutcome::UpToDate);
    }
    let ours_m = self.commit_manifest(&ours)?;
    let theirs_m = self.commit_manifest(&theirs)?;
    // Line-merged blobs and the merge commit are unreachable until the
    // journal names them: hold the write lock (shared) so that `gc --prune`
    // cannot run in between.
    let _writing = self.write_lock()?;
    let fast_forward = base.as_deref() == Some(ours.as_str());
    let (merged, conflicts) = if fast_forward {
        (theirs_m, Vec::new())
    } else {
        plan_merge(self, &self.manifest_of(base.as_deref())?, &ours_m, &theirs_m, true)?
    };
    check_targets(self, &st.untracked, &ours_m, &merged, &conflicts, "merge")?;
    let to = if fast_forward {
        Some(theirs.clone())
    } else if conflicts.is_empty() {
        let message = format!("Merge branch '{branch}' into {current}");
        Some(store_commit_on(self, merged, &current, &ours, Some(&theirs), &message, author)?)
    } else {
        None
    };
    let op = Operation::merge(branch, current, ours, to, theirs);
    crate::operation::write(root, &op)?;
    drop(_writing);
    apply_merge(self, op, author)
}

}

/// What the working tree holds for conflicted path `p`: a text file
/// changed on both sides is the line merge with markers around the
/// conflicting hunks; a binary one keeps ours (as git does); one side's
/// change against the other's deletion is the surviving side wrapped in
/// git's markers.
pub(crate) fn conflict_body(
    repo: &Repository,
    base: Option<&String>,
    ours: Option<&String>,
    theirs: Option<&String>,
    label: &str,
) -> Result<Vec<u8>> {
    if let (Some(o), Some(t)) = (ours, theirs) {
        let labels = Labels { ours: "HEAD", base: "base", theirs: label };
        return Ok(match merge_contents(repo, base, o, t, &labels)? {
            FileMerge::Conflict(body) | FileMerge::Clean(body) => body,
            FileMerge::Binary => repo.store().read_blob(&BlobId::parse(o)?)?,
        });
    }
    let read = |oid: Option<&String>| -> Result<Vec<u8>> {
        match oid {
            Some(o) => repo.store().read_blob(&BlobId::parse(o)?),
            None => Ok(Vec::new()),
        }
    };
    let (o, t) = (read(ours)?, read(theirs)?);
    let mut body = Vec::with_capacity(o.len() + t.len() + 64);
    body.extend_from_slice(b"<<<<<<< HEAD\n");
    body.extend_from_slice(&o);
    if !o.is_empty() && !o.ends_with(b"\n") {
        body.push(b'\n');
    }
    body.extend_from_slice(b"=======\n");
    body.extend_from_slice(&t);
    if !t.is_empty() && !t.ends_with(b"\n") {
        body.push(b'\n');
    }
    body.extend_from_slice(format!(">>>>>>> {label}\n").as_bytes());
    Ok(body)
}

/// Carries out a journaled merge (first run or resume). With a target
/// commit (fast-forward or merge commit): the tree goes there, the branch
/// moves, the journal is removed. With conflicts: the clean part and the
/// conflict markers are written, the clean part staged, `MERGE_HEAD` set,
/// and the journal kept in [`Phase::Conflicts`].
pub(crate) fn apply_merge(repo: &Repository, mut op: Operation, _author: &str) -> Result<MergeOutcome> {
    let root = repo.workdir();
    let (Some(ours), Some(theirs), Some(branch)) = (op.from.clone(), op.theirs.clone(), op.branch.clone()) else {
        return Err(Error::InvalidInput("merge journal without its commits".into()));
    };
    let ours_m = repo.commit_manifest(&ours)?;
    if let Some(to) = op.to.clone() {
        let to_m = repo.commit_manifest(&to)?;
        update_worktree(repo, &ours_m, &to_m, false, false)?;
        move_branch(repo, &branch, Some(&ours), &to)?;
        write_stage(root, &Stage::default())?;
        crate::operation::clear(root)?;
        return Ok(if to == theirs { MergeOutcome::FastForward { commit: to } } else { MergeOutcome::Merged { commit: to } });
    }
    let (base_m, theirs_m) = sides(repo, &op)?;
    let (merged, conflicts) = plan_merge(repo, &base_m, &ours_m, &theirs_m, true)?;
    update_worktree(repo, &ours_m, &merged, false, false)?;
    let wd = WorkDir::open(root)?;
    for p in &conflicts {
        let body = conflict_body(repo, base_m.get(p), ours_m.get(p), theirs_m.get(p), &op.target)?;
        wd.write_bytes(p, &body, false)?;
    }
    let conflicted: BTreeSet<&String> = conflicts.iter().collect();
    let mut stage = Stage::default();
    for (p, kind) in diff_manifests(&ours_m, &merged) {
        if conflicted.contains(&p) {
            continue;
        }
        let v = if kind == ChangeKind::Deleted { None } else { merged.get(&p).cloned() };
        stage.entries.insert(p, v);
    }
    write_stage(root, &stage)?;
    if op.kind == OperationKind::Merge {
        // The second parent of the commit that concludes the merge.
        let d = durability_for(root, None)?;
        write_atomic(&merge_head_path(root), MUSE_TMP_PREFIX, format!("{theirs}\n").as_bytes(), MODE_MUTABLE, d, Replace::Overwrite)?;
    }
    op.phase = Phase::Conflicts;
    op.conflicts = conflicts.clone();
    crate::operation::write(root, &op)?;
    Ok(MergeOutcome::Conflicts { paths: conflicts })
}

impl Repository {
/// Abandons a merge — one stopped on conflicts, or one interrupted
/// mid-way: every file the merge could have written goes back to the
/// pre-merge commit (files it added are removed), the branch goes back if
/// it had moved, the stage is emptied and the merge state removed. Runs
/// under the index lock.
///
/// # Errors
/// [`Error::InvalidInput`] when no merge is in progress; [`Error::Locked`];
/// store errors.
pub fn merge_abort(&self) -> Result<()> {
    let root = self.workdir();
    let _index = crate::lock::index_lock(root)?;
    match crate::operation::read(root)? {
        Some(op) if op.kind.is_three_way() => {
            let (Some(ours), Some(branch)) = (op.from.clone(), op.branch.clone()) else {
                return Err(Error::InvalidInput(format!("{} journal without its commits", op.kind.as_str())));
            };
            let ours_m = self.commit_manifest(&ours)?;
            let mut touched: BTreeSet<String> = BTreeSet::new();
            match &op.to {
                Some(to) => touched.extend(diff_manifests(&ours_m, &self.commit_manifest(to)?).into_iter().map(|(p, _)| p)),
                None => {
                    let (base_m, theirs_m) = sides(self, &op)?;
                    let (merged, conflicts) = plan_merge(self, &base_m, &ours_m, &theirs_m, false)?;
                    touched.extend(diff_manifests(&ours_m, &merged).into_iter().map(|(p, _)| p));
                    touched.extend(conflicts);
                }
            }
            let wd = WorkDir::open(root)?;
            for p in &touched {
                match ours_m.get(p) {
                    Some(oid) => {
                        wd.write_blob(self.store(), p, oid, false)?;
                    }
                    None => {
                        wd.remove_file(p)?;
                    }
                }
            }
            if let Some(to) = &op.to {
                if self.branch_target(&branch)?.as_deref() == Some(to.as_str()) {
                    self.compare_and_swap_branch(&branch, Some(to), &ours)?;
                }
            }
            write_stage(root, &Stage::default())?;
            remove_if_present(&merge_head_path(root))?;
            crate::operation::clear(root)
        }
        Some(op) => Err(Error::InvalidInput(format!("there is nothing to abort; {}", op.describe()))),
        None => merge_abort_unjournaled(self),
    }
}

}

/// [`Repository::merge_abort`] for a conflicted merge left by a muse without the
/// operation journal: `MERGE_HEAD` only.
fn merge_abort_unjournaled(repo: &Repository) -> Result<()> {
    let root = repo.workdir();
    if read_merge_head(root)?.is_none() {
        return Err(Error::InvalidInput("there is no merge to abort".into()));
    }
    let (_, _, head_m) = repo.head_state()?;
    let wt = crate::status::worktree_manifest(root)?;
    let stage = read_stage(root)?;
    // Files the merge wrote: everything that differs from HEAD and is either
    // tracked by HEAD or was staged by the merge.
    let touched: Manifest = wt
        .iter()
        .filter(|(p, oid)| head_m.get(*p) != Some(*oid) && (head_m.contains_key(*p) || stage.entries.contains_key(*p)))
        .map(|(p, o)| (p.clone(), o.clone()))
        .collect();
    let mut current = head_m.clone();
    for (p, o) in &touched {
        current.insert(p.clone(), o.clone());
    }
    for p in head_m.keys() {
        if !wt.contains_key(p) {
            current.remove(p);
        }
    }
    update_worktree(repo, &current, &head_m, false, false)?;
    write_stage(root, &Stage::default())?;
    std::fs::remove_file(merge_head_path(root)).ctx("remove", &merge_head_path(root))
}

