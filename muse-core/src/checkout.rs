//! Checkout (git's `switch`/`checkout`): the working tree made to match a
//! branch or commit, journaled so a killed one finishes on the next run
//! (SPEC §12), and the `bundle apply --update-refs` branch update
//! ([`Repository::update_branch`]).

use std::collections::BTreeSet;

use rayon::prelude::*;

use crate::atomic::remove_if_present;
use crate::error::{Error, Result};
use crate::manifest::Manifest;
use crate::operation::{Operation, OperationKind};
use crate::paths::{merge_head_path, validate_rel_path};
use crate::repository::Repository;
use crate::stage::{read_stage, write_stage, Stage};
use crate::store::Head;
use crate::workdir::WorkDir;

/// What [`Repository::checkout`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CheckoutReport {
    /// Files written.
    pub written: usize,
    /// Files removed.
    pub removed: usize,
    /// An interrupted operation (its target) that this call finished first.
    pub resumed: Option<String>,
}

/// The paths of `to` that going from `from` writes (all of `to` with
/// `rewrite_all`).
pub(crate) fn paths_to_write<'a>(from: &'a Manifest, to: &'a Manifest, rewrite_all: bool) -> impl Iterator<Item = &'a str> + 'a {
    to.iter().filter(move |(p, oid)| rewrite_all || from.get(*p) != Some(*oid)).map(|(p, _)| p.as_str())
}

/// Refuses (changing nothing) when a symlink, an untracked file or a
/// directory stands where going from `from` to `to` must write: git's
/// "beyond a symbolic link" and "untracked working tree file would be
/// overwritten" rules, checked before anything is touched.
pub(crate) fn check_obstacles(wd: &WorkDir, from: &Manifest, to: &Manifest, extra: &[String], what: &str) -> Result<()> {
    let will_remove = |p: &str| from.contains_key(p) && !to.contains_key(p);
    let paths = paths_to_write(from, to, false).chain(extra.iter().map(String::as_str));
    let mut obstacles = wd.obstacles(paths, &will_remove)?;
    // A directory where a file goes is fine when it holds tracked files
    // that the operation removes first (`to` holds none below it).
    obstacles.retain(|o| {
        o.kind != crate::workdir::ObstacleKind::Directory || {
            let dir = format!("{}/", o.path);
            from.range(dir.clone()..).next().is_none_or(|(k, _)| !k.starts_with(&dir))
        }
    });
    if obstacles.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = obstacles.iter().take(10).map(|o| o.to_string()).collect();
    let more = if obstacles.len() > 10 { format!(" (and {} more)", obstacles.len() - 10) } else { String::new() };
    Err(Error::InvalidInput(format!(
        "{what} would write beyond a symbolic link or over an untracked file or directory, so nothing was changed: {}{more}; move them away{}",
        list.join("; "),
        if what == "checkout" { " or use --force" } else { "" }
    )))
}

impl Repository {
/// Switches to `branch`: the working tree is made to match its commit
/// (files written through [`WorkDir`], never beyond a symlink; files
/// tracked only by the old commit removed) and HEAD points at it. With
/// `create`, the branch is made at HEAD's commit first (`checkout -b`).
///
/// Refuses (nothing changed) when the stage is not empty, a tracked file
/// has uncommitted changes, an untracked file would be overwritten, or a
/// symlink or file stands where a directory must go — unless `force`,
/// which rewrites every file and replaces such obstacles (a link is
/// removed, never followed). The intent is journaled first
/// ([`crate::operation`]): after a crash, running the same checkout again
/// finishes it, and any other checkout first finishes it. Runs under the
/// index lock.
///
/// # Errors
/// [`Error::NotFound`] for an unknown branch; [`Error::InvalidInput`] for a
/// dirty tree, an obstacle, an existing branch with `create`, or a merge
/// in progress; [`Error::Locked`]; store errors ([`Error::Missing`] for a
/// missing commit, snapshot or blob).
pub fn checkout_branch(&self, branch: &str, create: bool, force: bool) -> Result<CheckoutReport> {
    crate::refs::validate_branch_name(branch)?;
    self.checkout_impl(branch, Some(branch), create, force)
}

/// Checks out `rev` (SPEC §10): a branch name switches to that branch (as
/// [`Self::checkout_branch`]); any other revision
/// ([`Self::revparse`]) detaches HEAD at its commit. Same rules, journal
/// and errors as [`Self::checkout_branch`].
///
/// # Errors
/// As [`Self::checkout_branch`]; [`Error::NotFound`] for an unknown
/// revision.
pub fn checkout(&self, rev: &str, force: bool) -> Result<CheckoutReport> {
    if crate::refs::validate_branch_name(rev).is_ok() && self.branch_target(rev)?.is_some() {
        return self.checkout_branch(rev, false, force);
    }
    self.checkout_impl(rev, None, false, force)
}

/// [`Self::checkout_branch`] (`branch` set) or a detached checkout of
/// revision `target`.
fn checkout_impl(&self, target: &str, branch: Option<&str>, create: bool, force: bool) -> Result<CheckoutReport> {
    let root = self.workdir();
    let _index = crate::lock::index_lock(root)?;
    let mut resumed = None;
    match crate::operation::read(root)? {
        Some(op) if op.kind == OperationKind::Checkout => {
            let mut report = apply_checkout(self, &op)?;
            report.resumed = Some(op.target.clone());
            if op.target == target && op.branch.as_deref() == branch && !create && !force {
                return Ok(report);
            }
            resumed = report.resumed;
        }
        Some(op) if !force => return Err(Error::InvalidInput(op.describe())),
        _ => {}
    }
    let st = self.status()?;
    let (_, head, head_manifest) = self.head_state()?;
    if let (true, Some(branch)) = (create, branch) {
        if self.branch_target(branch)?.is_some() {
            return Err(Error::InvalidInput(format!("a branch named {branch:?} already exists")));
        }
        if let Some(h) = &head {
            self.compare_and_swap_branch(branch, None, h)?;
        }
        self.set_head_branch(branch)?;
        return Ok(CheckoutReport { resumed, ..Default::default() });
    }
    let target_id = match branch {
        Some(b) => self.branch_target(b)?.ok_or_else(|| Error::NotFound { what: "branch", name: b.to_string() })?,
        None => self.revparse(target)?,
    };
    if !force && (!st.staged.is_empty() || !st.unstaged.is_empty()) {
        let mut paths: Vec<&str> = st.staged.iter().chain(st.unstaged.iter()).map(|(p, _)| p.as_str()).collect();
        paths.sort_unstable();
        paths.dedup();
        return Err(Error::InvalidInput(format!(
            "your local changes would be lost by checkout; commit them or use --force: {}",
            paths.join(", ")
        )));
    }
    let target_manifest = self.commit_manifest(&target_id)?;
    for p in target_manifest.keys() {
        validate_rel_path(p)?;
    }
    let untracked: BTreeSet<&String> = st.untracked.iter().collect();
    let clobbered: Vec<&str> = target_manifest.keys().filter(|p| untracked.contains(p)).map(String::as_str).collect();
    if !force && !clobbered.is_empty() {
        return Err(Error::InvalidInput(format!(
            "untracked files would be overwritten by checkout; move them or use --force: {}",
            clobbered.join(", ")
        )));
    }
    if !force {
        check_obstacles(&WorkDir::open(root)?, &head_manifest, &target_manifest, &[], "checkout")?;
    }
    let mut op = Operation::checkout(target, head, target_id, false, force);
    op.branch = branch.map(str::to_string);
    crate::operation::write(root, &op)?;
    let mut report = apply_checkout(self, &op)?;
    report.resumed = resumed;
    Ok(report)
}

}

impl Repository {
/// The branch a first checkout takes after history arrived in a repository
/// that had none: `preferred` when it exists, else the branch HEAD is on,
/// else the only branch, else `main`, else `master`, else the first by
/// name; `None` without branches.
///
/// # Errors
/// Store errors.
pub fn arrived_branch(&self, preferred: Option<&str>) -> Result<Option<String>> {
    let branches: Vec<String> = self.branches()?.into_iter().map(|(b, _)| b).collect();
    let has = |b: &str| branches.iter().any(|x| x == b);
    let head = self.head_branch()?;
    let pick = preferred
        .filter(|b| has(b))
        .or(head.as_deref().filter(|b| has(b)))
        .or(if branches.len() == 1 { branches.first().map(String::as_str) } else { None })
        .or(["main", "master"].into_iter().find(|b| has(b)))
        .or(branches.first().map(String::as_str));
    Ok(pick.map(str::to_string))
}

/// Takes in branches that arrived (a bundle's `branch_heads`: branch →
/// commit, all stored) in a repository without any branch: each is
/// created by compare-and-swap on its absence, then the first checkout
/// ([`Self::checkout_arrived`]) of [`Self::arrived_branch`] runs. Returns
/// the branches created and, when there was one to check out, its name and
/// the checkout's outcome (a refused checkout leaves the branches created:
/// the history is in, the user moves the obstacle and checks out).
///
/// # Errors
/// [`Error::InvalidInput`] when the repository already has a branch;
/// [`Error::RefConflict`] when a branch appeared meanwhile; store errors.
#[allow(clippy::type_complexity)]
pub fn adopt_branches(
    &self,
    heads: &std::collections::BTreeMap<String, String>,
) -> Result<(Vec<String>, Option<(String, Result<CheckoutReport>)>)> {
    if !self.branches()?.is_empty() {
        return Err(Error::InvalidInput("the repository has branches: update them with the fast-forward rule instead".into()));
    }
    let mut created = Vec::new();
    for (b, id) in heads {
        self.compare_and_swap_branch(b, None, id)?;
        created.push(b.clone());
    }
    let checkout = match self.arrived_branch(None)? {
        Some(b) => {
            let r = self.checkout_arrived(&b);
            Some((b, r))
        }
        None => None,
    };
    Ok((created, checkout))
}

/// The first checkout of history that arrived in a repository that had no
/// commit (`import-git`, `bundle apply`: git's checkout after `clone`): HEAD
/// goes to `branch` and its files are written. Files of the working tree
/// that already hold the branch's content are left as they are (importing
/// a git repository from inside its own checkout writes nothing); any
/// other file or directory in the way refuses the checkout, with nothing
/// changed (HEAD stays where it was: `checkout --force` overwrites).
/// Journaled and locked like [`Self::checkout_branch`].
///
/// Call it only when the repository had no commit before the history
/// arrived: the working tree is compared with the branch, not with HEAD.
///
/// # Errors
/// [`Error::InvalidInput`] naming the files in the way, for a non-empty
/// stage or an operation in progress; [`Error::NotFound`] for an unknown
/// branch; [`Error::Locked`]; store and walker errors.
pub fn checkout_arrived(&self, branch: &str) -> Result<CheckoutReport> {
    let root = self.workdir();
    crate::refs::validate_branch_name(branch)?;
    let _index = crate::lock::index_lock(root)?;
    if let Some(op) = crate::operation::read(root)? {
        return Err(Error::InvalidInput(op.describe()));
    }
    if !read_stage(root)?.entries.is_empty() {
        return Err(Error::InvalidInput("the stage is not empty, so the arrived history was not checked out".into()));
    }
    let target = self.branch_target(branch)?.ok_or_else(|| Error::NotFound { what: "branch", name: branch.to_string() })?;
    let to_m = self.commit_manifest(&target)?;
    for p in to_m.keys() {
        validate_rel_path(p)?;
    }
    let present = crate::status::worktree_manifest(root)?;
    let differing: Vec<&str> =
        to_m.iter().filter(|(p, id)| present.get(*p).is_some_and(|h| h != *id)).map(|(p, _)| p.as_str()).collect();
    if !differing.is_empty() {
        let more = if differing.len() > 10 { format!(" (and {} more)", differing.len() - 10) } else { String::new() };
        return Err(Error::InvalidInput(format!(
            "files in the working tree differ from branch {branch:?}, so it was not checked out: {}{more}; \
             move them away, or run `muse checkout --force {branch}`",
            differing[..differing.len().min(10)].join(", ")
        )));
    }
    // Files that already hold the content need no write: they are where
    // the checkout starts from.
    let from: Manifest = to_m.iter().filter(|(p, id)| present.get(*p) == Some(*id)).map(|(p, id)| (p.clone(), id.clone())).collect();
    check_obstacles(&WorkDir::open(root)?, &from, &to_m, &[], "checkout")?;
    let report = update_worktree(self, &from, &to_m, false, false)?;
    write_stage(root, &Stage::default())?;
    self.set_head_branch(branch)?;
    Ok(report)
}
}

/// Carries out a journaled checkout (first run or resume): the tree goes
/// from `op.from` to `op.to`, the stage is emptied, HEAD (or, with
/// `move_branch`, the branch) is set, then the journal is removed. Every
/// step is idempotent.
pub(crate) fn apply_checkout(repo: &Repository, op: &Operation) -> Result<CheckoutReport> {
    let root = repo.workdir();
    let to = op.to.as_deref().ok_or_else(|| Error::InvalidInput("checkout journal without a target".into()))?;
    let from_m = repo.manifest_of(op.from.as_deref())?;
    let to_m = repo.commit_manifest(to)?;
    let report = update_worktree(repo, &from_m, &to_m, op.force, op.force)?;
    write_stage(root, &Stage::default())?;
    match &op.branch {
        Some(b) if op.move_branch => move_branch(repo, b, op.from.as_deref(), to)?,
        Some(b) => repo.set_head_branch(b)?,
        None => repo.set_head_detached(to)?,
    }
    if op.force {
        remove_if_present(&merge_head_path(root))?;
    }
    crate::operation::clear(root)?;
    Ok(report)
}

/// Moves `branch` from `from` to `to` by compare-and-swap; already at `to`
/// is fine (a resumed operation).
pub(crate) fn move_branch(repo: &Repository, branch: &str, from: Option<&str>, to: &str) -> Result<()> {
    if repo.branch_target(branch)?.as_deref() == Some(to) {
        return Ok(());
    }
    repo.compare_and_swap_branch(branch, from, to)
}

/// What [`Repository::update_branch`] did to one branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BranchUpdate {
    /// The branch did not exist and was created.
    Created,
    /// The branch was already there.
    UpToDate,
    /// The branch moved forward (and, when checked out, the working tree
    /// with it: git's `receive.denyCurrentBranch=updateInstead`).
    FastForwarded,
    /// Not moved: the new commit does not descend from the branch's.
    NotFastForward,
    /// Not moved: the branch is checked out and the working tree or stage
    /// has changes, or an operation is in progress (the reason).
    Refused(String),
}

impl Repository {
/// Moves `branch` to `new` when that is a fast-forward (or creates it):
/// the rule of `bundle apply --update-refs`. When `branch` is the one HEAD
/// is on, the working tree is updated too, journaled like a checkout, but
/// only when the tree and stage are clean; otherwise the branch is left
/// where it was and the reason returned. An interrupted checkout (such as
/// an earlier update killed mid-way) is finished first. Runs under the
/// index lock.
///
/// # Errors
/// [`Error::InvalidRefName`], [`Error::Locked`], store errors.
pub fn update_branch(&self, branch: &str, new: &str) -> Result<BranchUpdate> {
    let root = self.workdir();
    crate::refs::validate_branch_name(branch)?;
    let _index = crate::lock::index_lock(root)?;
    // An interrupted checkout (possibly an earlier update of this very
    // branch, killed mid-way) is finished first, as `muse checkout` would.
    if let Some(op) = crate::operation::read(root)? {
        if op.kind == OperationKind::Checkout {
            apply_checkout(self, &op)?;
        }
    }
    let cur = self.branch_target(branch)?;
    let checked_out = matches!(self.head_ref()?, Head::Branch(b) if b == branch);
    if cur.as_deref() == Some(new) {
        return Ok(BranchUpdate::UpToDate);
    }
    if let Some(c) = &cur {
        let base = self.merge_base(c, new)?;
        if base.as_deref() != Some(c.as_str()) {
            return Ok(BranchUpdate::NotFastForward);
        }
    }
    if !checked_out {
        self.compare_and_swap_branch(branch, cur.as_deref(), new)?;
        return Ok(if cur.is_none() { BranchUpdate::Created } else { BranchUpdate::FastForwarded });
    }
    if let Some(op) = crate::operation::read(root)? {
        return Ok(BranchUpdate::Refused(format!("it is checked out and {}", op.describe())));
    }
    let st = self.status()?;
    if !st.staged.is_empty() || !st.unstaged.is_empty() {
        return Ok(BranchUpdate::Refused(
            "it is checked out and the working tree or stage has local changes (commit or discard them, then apply again)".into(),
        ));
    }
    let from_m = self.manifest_of(cur.as_deref())?;
    let to_m = self.commit_manifest(new)?;
    let untracked: BTreeSet<&String> = st.untracked.iter().collect();
    if let Some(p) = to_m.keys().find(|p| untracked.contains(p)) {
        return Ok(BranchUpdate::Refused(format!("it is checked out and the untracked file {p} would be overwritten")));
    }
    if let Err(e) = check_obstacles(&WorkDir::open(root)?, &from_m, &to_m, &[], "the update") {
        return Ok(BranchUpdate::Refused(format!("it is checked out and {e}")));
    }
    let op = Operation::checkout(branch, cur.clone(), new.to_string(), true, false);
    crate::operation::write(root, &op)?;
    apply_checkout(self, &op)?;
    Ok(if cur.is_none() { BranchUpdate::Created } else { BranchUpdate::FastForwarded })
}

}

/// Makes the working tree go from `from` to `to` through a [`WorkDir`]:
/// files only in `from` are removed first (so a file can become a
/// directory), then files whose blob differs (every file of `to` with
/// `rewrite_all`) are written; `replace_obstacles` removes a symlink or
/// file in the way (`--force`). Working-tree files need no fsync (as in
/// git). Idempotent: running it again after a crash finishes the job.
pub(crate) fn update_worktree(
    repo: &Repository,
    from: &Manifest,
    to: &Manifest,
    rewrite_all: bool,
    replace_obstacles: bool,
) -> Result<CheckoutReport> {
    let root = repo.workdir();
    let wd = WorkDir::open(root)?;
    let mut report = CheckoutReport::default();
    for p in from.keys() {
        if !to.contains_key(p) && wd.remove_file(p)? {
            report.removed += 1;
        }
    }
    // Written on all cores, a run of neighbouring paths (mostly one
    // directory: the manifest is sorted) per task, each task with its own
    // directory handle.
    let paths: Vec<&str> = paths_to_write(from, to, rewrite_all).collect();
    let total = paths.len() as u64;
    let done = std::sync::atomic::AtomicU64::new(0);
    let written: Vec<Result<usize>> = paths
        .par_chunks(WRITE_CHUNK)
        .map(|chunk| {
            let wd = WorkDir::open(root)?;
            for p in chunk {
                wd.write_blob(repo.store(), p, &to[*p], replace_obstacles)?;
            }
            let n = done.fetch_add(chunk.len() as u64, std::sync::atomic::Ordering::Relaxed) + chunk.len() as u64;
            repo.report_progress("writing files", n, total);
            Ok(chunk.len())
        })
        .collect();
    for n in written {
        report.written += n?;
    }
    Ok(report)
}

/// Paths per parallel task of [`update_worktree`].
const WRITE_CHUNK: usize = 64;

