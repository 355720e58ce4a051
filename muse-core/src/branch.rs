//! Branch rules (git's `branch`): create at a revision, delete (never the
//! one HEAD is on), list.

use crate::error::{Error, Result};
use crate::repository::Repository;

impl Repository {
    /// Creates branch `name` at `start` (a revision, [`Self::revparse`];
    /// `None` = HEAD's commit) and returns the commit ID it points at.
    ///
    /// # Errors
    /// [`Error::InvalidRefName`]; [`Error::InvalidInput`] when the branch
    /// already exists or HEAD has no commit yet; [`Error::NotFound`] for an
    /// unknown `start`.
    pub fn create_branch(&self, name: &str, start: Option<&str>) -> Result<String> {
        crate::refs::validate_branch_name(name)?;
        let commit = match start {
            Some(rev) => self.revparse(rev)?,
            None => self
                .head_ids()?
                .1
                .ok_or_else(|| Error::InvalidInput("HEAD has no commit yet; commit before creating branches".into()))?,
        };
        self.compare_and_swap_branch(name, None, &commit).map_err(|e| match e {
            Error::RefConflict { .. } => Error::InvalidInput(format!("a branch named {name:?} already exists")),
            e => e,
        })?;
        Ok(commit)
    }

    /// Deletes branch `name`; returns the commit it pointed at. Unless
    /// `force` (git's `branch -D`), a branch whose commit HEAD does not
    /// contain is refused (git's `branch -d`: "not fully merged"), so no
    /// history is lost by accident.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for the branch HEAD is on, or an unmerged
    /// branch without `force`; [`Error::NotFound`] when it does not exist;
    /// [`Error::RefConflict`] when it moved meanwhile.
    pub fn delete_branch(&self, name: &str, force: bool) -> Result<String> {
        crate::refs::validate_branch_name(name)?;
        if self.head_branch()?.as_deref() == Some(name) {
            return Err(Error::InvalidInput(format!("cannot delete the branch {name:?} that HEAD is on")));
        }
        let Some(cur) = self.store().branch(name)? else {
            return Err(Error::NotFound { what: "branch", name: name.to_string() });
        };
        if !force {
            let tip = cur.to_string();
            let merged = match self.head_ids()?.1 {
                Some(head) => self.merge_base(&tip, &head)?.as_deref() == Some(tip.as_str()),
                None => false,
            };
            if !merged {
                return Err(Error::InvalidInput(format!(
                    "the branch {name:?} is not fully merged into HEAD; `branch -D {name}` deletes it anyway"
                )));
            }
        }
        self.store().transaction(&[crate::store::RefEdit { branch: name.to_string(), expected: Some(Some(cur)), new: None }])?;
        Ok(cur.to_string())
    }
}
