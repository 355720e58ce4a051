//! Revision names as commit IDs, for the commands that take them (`diff`,
//! `log`, `bundle create`): the core's revision syntax
//! ([`muse_core::revision`]) with the CLI's wording for a name that matches
//! nothing.

use muse_core::{Error, Repository};

use crate::error::{Fail, EXIT_USER};

/// `rev` (`HEAD`, a branch, a full or short commit ID, with `~n` / `^n`)
/// as a commit ID; a name that matches nothing, or an unborn HEAD, is a
/// user error.
pub fn resolve_rev(repo: &Repository, rev: &str) -> Result<String, Fail> {
    repo.revparse(rev).map_err(|e| match e {
        Error::NotFound { what: "revision", .. } if rev == "HEAD" => Fail(EXIT_USER, "HEAD has no commit yet".into()),
        Error::NotFound { what: "revision", .. } => Fail(EXIT_USER, format!("unknown revision {rev:?}")),
        e => e.into(),
    })
}
