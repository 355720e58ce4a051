//! What every command runs in: repository discovery and the configuration
//! check, the current directory and the environment the CLI reads.

use std::path::{Path, PathBuf};

use muse_core::{repo, Repository};

use crate::error::{Fail, EXIT_INTERNAL};

/// The context one command invocation runs in. Discovery is lazy: `init`
/// needs no repository and `gc` skips the startup GC that
/// [`CommandContext::repo_root`] runs.
#[derive(Debug, Default)]
pub struct CommandContext;

impl CommandContext {
    /// The context of one command invocation.
    pub fn new() -> Self {
        CommandContext
    }

    /// The repository for this command (discovery + startup GC), with its
    /// `config.toml` checked: see [`repo_root`].
    pub fn repo_root(&self) -> Result<PathBuf, Fail> {
        repo_root()
    }

    /// The repository handle for this command: [`Self::repo_root`], opened,
    /// reporting long operations as a progress bar on a terminal.
    pub fn repository(&self) -> Result<Repository, Fail> {
        self.open(&repo_root()?)
    }

    /// The repository at `root` (already discovered), opened with the
    /// terminal progress bar of [`Self::repository`].
    pub fn open(&self, root: &Path) -> Result<Repository, Fail> {
        let repo = Repository::open(root)?;
        Ok(match crate::ui::terminal_progress() {
            Some(p) => repo.with_progress(p),
            None => repo,
        })
    }

    /// The repository for this command, with its `config.toml` checked,
    /// but without the startup GC (for `gc`, which runs it itself).
    pub fn repo_root_without_startup_gc(&self) -> Result<PathBuf, Fail> {
        let root = repo::find_repo(None)?;
        check_config(&root)?;
        Ok(root)
    }

    /// The current directory (a failure to read it is an internal error).
    pub fn current_dir(&self) -> Result<PathBuf, Fail> {
        std::env::current_dir().map_err(|e| Fail(EXIT_INTERNAL, e.to_string()))
    }

    /// The author named by `$MUSE_AUTHOR`, if set (and valid UTF-8).
    // TODO(core): the default author ($MUSE_AUTHOR) is policy; the core
    // should pick it when the caller gives none (used by `commit`, `merge`).
    pub fn author_from_env(&self) -> Option<String> {
        std::env::var("MUSE_AUTHOR").ok()
    }
}

/// The repository for this command (discovery + startup GC), with its
/// `config.toml` checked: a file that does not parse is reported (file and
/// line) by every command, never silently ignored.
pub fn repo_root() -> Result<PathBuf, Fail> {
    let root = repo::require_repo(None)?;
    check_config(&root)?;
    Ok(root)
}

/// Reads `.muse/config.toml` once (cached for the rest of the command).
pub fn check_config(root: &Path) -> Result<(), Fail> {
    muse_core::config::Config::load(root)?;
    Ok(())
}
