//! Tags (git's lightweight tags): names for commits that, unlike branches,
//! do not move. Listed, created and deleted here; resolved by
//! [`Repository::revparse`] (a tag wins over a branch of the same name, as
//! in git's ref lookup order); `import-git` brings git's tags.

use crate::error::{Error, Result};
use crate::ids::CommitId;
use crate::repository::Repository;

impl Repository {
    /// Every tag as `(name, commit ID)`, sorted by name.
    ///
    /// # Errors
    /// [`Error::Corrupt`] for a damaged tag; store errors.
    pub fn tags(&self) -> Result<Vec<(String, String)>> {
        Ok(self.store().tags()?.into_iter().map(|(n, c)| (n, c.to_string())).collect())
    }

    /// The commit tag `name` points at, `None` when there is no such tag.
    ///
    /// # Errors
    /// [`Error::InvalidRefName`], [`Error::Corrupt`].
    pub fn tag_target(&self, name: &str) -> Result<Option<String>> {
        Ok(self.store().tag(name)?.map(|c| c.to_string()))
    }

    /// Creates tag `name` at `target` (a revision, [`Self::revparse`];
    /// `None` = HEAD's commit) and returns the commit it names. With
    /// `force` an existing tag is moved (git's `tag -f`); without, it is
    /// refused.
    ///
    /// # Errors
    /// [`Error::InvalidRefName`]; [`Error::InvalidInput`] when the tag
    /// exists (without `force`) or HEAD has no commit; [`Error::NotFound`]
    /// for an unknown `target`.
    pub fn create_tag(&self, name: &str, target: Option<&str>, force: bool) -> Result<String> {
        crate::refs::validate_branch_name(name)?;
        let commit = self.revparse(target.unwrap_or("HEAD"))?;
        let id = CommitId::parse(&commit)?;
        let expected = if force { None } else { Some(None) };
        self.store().update_tag(name, expected, Some(id)).map_err(|e| match e {
            Error::RefConflict { .. } => Error::InvalidInput(format!("tag {name:?} already exists (use force to move it)")),
            e => e,
        })?;
        Ok(commit)
    }

    /// Deletes tag `name`; returns the commit it named.
    ///
    /// # Errors
    /// [`Error::NotFound`] when there is no such tag;
    /// [`Error::RefConflict`] when it moved meanwhile.
    pub fn delete_tag(&self, name: &str) -> Result<String> {
        let Some(cur) = self.store().tag(name)? else {
            return Err(Error::NotFound { what: "tag", name: name.to_string() });
        };
        self.store().update_tag(name, Some(Some(cur)), None)?;
        Ok(cur.to_string())
    }
}
