//! `rm` and `mv` (git's): stop tracking files (and delete them), or move
//! tracked files, recording the change in the stage.

use crate::error::{Error, Result};
use crate::manifest::Manifest;
use crate::paths::validate_rel_path;
use crate::repository::Repository;
use crate::stage::{check_pathspecs, pathspec_matches, read_stage, stage_entry, write_stage};
use crate::workdir::WorkDir;

impl Repository {
    /// Removes the tracked files matching `pathspecs` from the stage and,
    /// unless `cached`, from the working tree (git's `rm`). Without
    /// `force`, a file whose working-tree content differs from the stage,
    /// or whose staged content differs from both HEAD and the working
    /// tree, is refused (nothing is changed), as git refuses to lose those
    /// edits. Returns the paths removed. Runs under the index lock.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a pathspec matching no tracked file, a
    /// refused file (naming it), or an interrupted operation;
    /// [`Error::Locked`]; store errors.
    pub fn remove(&self, pathspecs: &[String], cached: bool, force: bool) -> Result<Vec<String>> {
        let root = self.workdir();
        let _index = crate::lock::index_lock(root)?;
        crate::operation::refuse_if_interrupted(root)?;
        let (_, head) = self.head_ids()?;
        let head_m = self.manifest_of(head.as_deref())?;
        let mut stage = read_stage(root)?;
        let index_m = stage.apply_to(&head_m);
        let paths = tracked_matches(&index_m, pathspecs)?;
        if !force {
            for p in &paths {
                let staged = &index_m[p];
                let work = std::fs::read(root.join(p)).ok().map(|b| crate::ids::blob_id(&b));
                let staged_differs = head_m.get(p) != Some(staged);
                if !cached && work.is_some() && work.as_ref() != Some(staged) {
                    return Err(Error::InvalidInput(format!(
                        "{p} has local modifications; commit or restore them, or use --cached / --force"
                    )));
                }
                if staged_differs && work.as_ref() != Some(staged) {
                    return Err(Error::InvalidInput(format!(
                        "{p} has staged content different from both the file and HEAD; use --force"
                    )));
                }
            }
        }
        for p in &paths {
            stage_entry(&mut stage, &head_m, p, None);
        }
        write_stage(root, &stage)?;
        if !cached {
            let wd = WorkDir::open(root)?;
            for p in &paths {
                wd.remove_file(p)?;
            }
        }
        Ok(paths)
    }

    /// Moves the tracked file or directory `from` to `to` in the working
    /// tree and the stage (git's `mv`): `to` naming an existing directory
    /// moves `from` into it. Every tracked file below `from` keeps its
    /// staged content under its new path; local edits move with the
    /// files. Returns `(old, new)` for each tracked file moved. Runs under
    /// the index lock.
    ///
    /// # Errors
    /// [`Error::InvalidPath`] for a path that escapes the tree or names
    /// `.muse`; [`Error::InvalidInput`] when `from` is not tracked, `to`
    /// exists, or an operation is interrupted; [`Error::Io`].
    pub fn rename(&self, from: &str, to: &str) -> Result<Vec<(String, String)>> {
        let root = self.workdir();
        let from = from.trim_end_matches('/');
        let mut to = to.trim_end_matches('/').to_string();
        validate_rel_path(from)?;
        let _index = crate::lock::index_lock(root)?;
        crate::operation::refuse_if_interrupted(root)?;
        if std::fs::symlink_metadata(root.join(&to)).is_ok_and(|m| m.is_dir()) {
            let leaf = from.rsplit('/').next().unwrap_or(from);
            to = if to.is_empty() || to == "." { leaf.to_string() } else { format!("{to}/{leaf}") };
        }
        validate_rel_path(&to)?;
        if std::fs::symlink_metadata(root.join(&to)).is_ok() {
            return Err(Error::InvalidInput(format!("destination {to} exists")));
        }
        let (_, head) = self.head_ids()?;
        let head_m = self.manifest_of(head.as_deref())?;
        let mut stage = read_stage(root)?;
        let index_m = stage.apply_to(&head_m);
        let moves: Vec<(String, String)> = index_m
            .keys()
            .filter(|p| pathspec_matches(from, p))
            .map(|p| (p.clone(), format!("{to}{}", &p[from.len()..])))
            .collect();
        if moves.is_empty() {
            return Err(Error::InvalidInput(format!("{from} is not tracked")));
        }
        for (_, new) in &moves {
            validate_rel_path(new)?;
        }
        // The working tree: each file's bytes written under its new name
        // (confined, never beyond a symlink), then the old one removed.
        let wd = WorkDir::open(root)?;
        for (old, new) in &moves {
            let bytes = std::fs::read(root.join(old)).map_err(|e| Error::io("read", root.join(old), e))?;
            wd.write_bytes(new, &bytes, false)?;
            wd.remove_file(old)?;
        }
        for (old, new) in &moves {
            let id = index_m[old].clone();
            stage_entry(&mut stage, &head_m, old, None);
            stage_entry(&mut stage, &head_m, new, Some(id));
        }
        write_stage(root, &stage)?;
        Ok(moves)
    }
}

/// The tracked paths (of `index`) matching `pathspecs`; each pathspec must
/// match one.
fn tracked_matches(index: &Manifest, pathspecs: &[String]) -> Result<Vec<String>> {
    check_pathspecs(pathspecs, index.keys())?;
    Ok(index.keys().filter(|p| pathspecs.iter().any(|s| pathspec_matches(s, p))).cloned().collect())
}
