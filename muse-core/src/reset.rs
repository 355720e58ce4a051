//! `reset` and `restore` (git's): move HEAD's branch to another commit,
//! keeping or resetting the stage and the working tree; put chosen paths
//! of the stage or the working tree back to a commit's (or the stage's)
//! content.

use std::collections::BTreeSet;

use crate::checkout::{apply_checkout, CheckoutReport};
use crate::error::{Error, Result};
use crate::manifest::Manifest;
use crate::operation::{Operation, OperationKind, Phase};
use crate::paths::merge_head_path;
use crate::repository::Repository;
use crate::stage::{check_pathspecs, pathspec_matches, read_stage, write_stage, Stage};
use crate::workdir::WorkDir;

/// How much [`Repository::reset`] resets (git's `--soft`, `--mixed`,
/// `--hard`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResetMode {
    /// Only HEAD's branch moves; the stage keeps its content (what was
    /// staged, and the difference to the old commit, shows as staged).
    Soft,
    /// HEAD's branch moves and the stage is emptied; the working tree is
    /// untouched (its differences show as unstaged). git's default.
    #[default]
    Mixed,
    /// HEAD's branch moves, the stage is emptied and every tracked file
    /// is rewritten to the commit's content: local changes to tracked
    /// files are discarded (untracked files stay).
    Hard,
}

/// What [`Repository::restore`] restores and from where.
#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    /// The revision to restore from; `None`: the stage for the working
    /// tree, HEAD for the stage (git's defaults).
    pub source: Option<String>,
    /// Restore the stage (git's `--staged`: unstage).
    pub staged: bool,
    /// Restore the working tree (the default when `staged` is false).
    pub worktree: bool,
}

impl Repository {
    /// Moves HEAD's branch (or a detached HEAD) to `rev` (default HEAD),
    /// with the stage and working tree as `mode` says (git's `reset`).
    /// `Mixed` and `Hard` also abandon a conflicted merge (its state is
    /// removed); `Soft` refuses during one, as git does. A hard reset is
    /// journaled like a checkout ([`crate::operation`]): killed mid-way,
    /// running it again finishes it. Runs under the index lock. Returns the
    /// commit HEAD now names.
    ///
    /// # Errors
    /// As [`Self::revparse`]; [`Error::InvalidInput`] for a soft reset
    /// during a merge or an interrupted operation of another kind;
    /// [`Error::Locked`]; store errors.
    pub fn reset(&self, rev: Option<&str>, mode: ResetMode) -> Result<(String, CheckoutReport)> {
        let root = self.workdir();
        let _index = crate::lock::index_lock(root)?;
        let target = self.revparse(rev.unwrap_or("HEAD"))?;
        let (branch, head) = self.head_ids()?;
        let op = crate::operation::read(root)?;
        let in_merge = matches!(&op, Some(o) if o.kind == OperationKind::Merge && o.phase == Phase::Conflicts)
            || crate::merge::read_merge_head(root)?.is_some();
        match &op {
            Some(o) if o.kind == OperationKind::Merge && o.phase == Phase::Conflicts => {}
            Some(o) if !(mode == ResetMode::Hard && o.kind == OperationKind::Checkout) => {
                return Err(Error::InvalidInput(o.describe()));
            }
            _ => {}
        }
        if mode == ResetMode::Soft && in_merge {
            return Err(Error::InvalidInput("cannot do a soft reset in the middle of a merge".into()));
        }
        if mode == ResetMode::Hard {
            let stage = read_stage(root)?;
            let head_m = self.manifest_of(head.as_deref())?;
            let target_m = self.commit_manifest(&target)?;
            // Files the stage added are tracked too: git's reset --hard
            // removes them (when they still hold the staged content).
            let staged_new: Vec<(String, String)> = stage
                .entries
                .iter()
                .filter_map(|(p, v)| v.as_ref().map(|id| (p.clone(), id.clone())))
                .filter(|(p, _)| !head_m.contains_key(p) && !target_m.contains_key(p))
                .collect();
            let mut op = Operation::checkout(rev.unwrap_or("HEAD"), head, target.clone(), branch.is_some(), true);
            op.branch = branch;
            crate::operation::write(root, &op)?;
            let report = apply_checkout(self, &op)?;
            let wd = WorkDir::open(root)?;
            for (p, id) in staged_new {
                let holds = std::fs::read(root.join(&p)).is_ok_and(|b| crate::ids::blob_id(&b) == id);
                if holds {
                    wd.remove_file(&p)?;
                }
            }
            return Ok((target, report));
        }
        let new_stage = if mode == ResetMode::Soft {
            // The stage keeps its content: re-expressed over the new HEAD.
            let old_index = read_stage(root)?.apply_to(&self.manifest_of(head.as_deref())?);
            let new_head = self.commit_manifest(&target)?;
            relative_stage(&new_head, &old_index, |_| true)
        } else {
            Stage::default()
        };
        match &branch {
            Some(b) => crate::checkout::move_branch(self, b, head.as_deref(), &target)?,
            None => self.set_head_detached(&target)?,
        }
        write_stage(root, &new_stage)?;
        if in_merge {
            crate::atomic::remove_if_present(&merge_head_path(root))?;
            crate::operation::clear(root)?;
        }
        Ok((target, CheckoutReport::default()))
    }

    /// Restores the paths matching `pathspecs` (each a path or a directory
    /// prefix; `"."` everything) as `opts` says (git's `restore`): with
    /// `staged`, their stage entries become `source`'s (default HEAD)
    /// content, i.e. they are unstaged; with `worktree` (the default), the
    /// working-tree files are rewritten from `source` (default: the
    /// stage), and tracked files `source` lacks are removed. Returns the
    /// paths restored. Runs under the index lock.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when a pathspec matches no tracked file of
    /// the source or the stage, or while an operation is interrupted;
    /// as [`Self::revparse`]; store errors.
    pub fn restore(&self, pathspecs: &[String], opts: &RestoreOptions) -> Result<Vec<String>> {
        let root = self.workdir();
        let _index = crate::lock::index_lock(root)?;
        crate::operation::refuse_if_interrupted(root)?;
        let (_, head) = self.head_ids()?;
        let head_m = self.manifest_of(head.as_deref())?;
        let mut stage = read_stage(root)?;
        let index_m = stage.apply_to(&head_m);
        let worktree = opts.worktree || !opts.staged;
        let source_m: Option<Manifest> = match &opts.source {
            Some(r) => Some(self.commit_manifest(&self.revparse(r)?)?),
            None => None,
        };
        let selected = |p: &str| pathspecs.iter().any(|s| pathspec_matches(s, p));
        let mut restored: BTreeSet<String> = BTreeSet::new();
        if opts.staged {
            let src = source_m.as_ref().unwrap_or(&head_m);
            check_pathspecs(pathspecs, src.keys().chain(index_m.keys()))?;
            let wanted = overlay(&index_m, src, &selected);
            stage = relative_stage(&head_m, &wanted, |_| true);
            restored.extend(index_m.keys().chain(src.keys()).filter(|p| selected(p)).cloned());
            write_stage(root, &stage)?;
        }
        if worktree {
            let index_now = stage.apply_to(&head_m);
            let src = source_m.as_ref().unwrap_or(&index_now);
            check_pathspecs(pathspecs, src.keys().chain(index_now.keys()))?;
            let wd = WorkDir::open(root)?;
            for (p, id) in src.iter().filter(|(p, _)| selected(p)) {
                let current = std::fs::read(root.join(p)).ok().map(|b| crate::ids::blob_id(&b));
                if current.as_deref() != Some(id.as_str()) {
                    wd.write_blob(self.store(), p, id, false)?;
                }
                restored.insert(p.clone());
            }
            for p in index_now.keys().filter(|p| selected(p) && !src.contains_key(*p)) {
                wd.remove_file(p)?;
                restored.insert(p.clone());
            }
        }
        Ok(restored.into_iter().collect())
    }
}

/// `index` with the paths `selected` set to `source`'s entries (removed
/// where `source` has none).
fn overlay(index: &Manifest, source: &Manifest, selected: &dyn Fn(&str) -> bool) -> Manifest {
    let mut out: Manifest = index.iter().filter(|(p, _)| !selected(p)).map(|(p, v)| (p.clone(), v.clone())).collect();
    out.extend(source.iter().filter(|(p, _)| selected(p)).map(|(p, v)| (p.clone(), v.clone())));
    out
}

/// The stage that turns `head` into `wanted` (for the paths `keep`).
fn relative_stage(head: &Manifest, wanted: &Manifest, keep: impl Fn(&str) -> bool) -> Stage {
    let mut stage = Stage::default();
    for (p, kind) in crate::manifest::diff_manifests(head, wanted) {
        if keep(&p) {
            let v = if kind == crate::manifest::ChangeKind::Deleted { None } else { wanted.get(&p).cloned() };
            stage.entries.insert(p, v);
        }
    }
    stage
}
