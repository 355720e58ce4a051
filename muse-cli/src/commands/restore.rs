//! `muse restore`: put paths of the working tree or the stage back (git's
//! `restore`).

use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use muse_core::reset::RestoreOptions;

use crate::commands::add::pathspec;
use crate::context::CommandContext;
use crate::error::{CmdResult, EXIT_OK};
use crate::revision::resolve_rev;
use crate::ui::print_json;

/// Arguments of `muse restore`.
#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// Paths to restore (files or directories; `.` for everything).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Restore the stage (unstage): the paths' staged content becomes the
    /// source's (default HEAD).
    #[arg(short = 'S', long)]
    staged: bool,
    /// Restore the working tree (the default without --staged; give both
    /// to restore both).
    #[arg(short = 'W', long)]
    worktree: bool,
    /// Restore from this revision (default: the stage for the working
    /// tree, HEAD for the stage).
    #[arg(short, long, value_name = "REV")]
    source: Option<String>,
    /// Print machine-readable JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `muse restore`.
pub fn run(a: RestoreArgs, ctx: &CommandContext) -> CmdResult {
    let root = ctx.repo_root()?;
    let repo = ctx.repository()?;
    let specs = a.paths.iter().map(|p| pathspec(&root, p, ctx)).collect::<Result<Vec<_>, _>>()?;
    let source = a.source.as_deref().map(|r| resolve_rev(&repo, r)).transpose()?;
    let restored = repo.restore(&specs, &RestoreOptions { source, staged: a.staged, worktree: a.worktree })?;
    if a.json {
        return print_json(&json!({"restored": restored}));
    }
    Ok(EXIT_OK)
}
