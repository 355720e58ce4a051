//! `muse rm`: stop tracking files and delete them (git's `rm`).

use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use crate::commands::add::pathspec;
use crate::context::CommandContext;
use crate::error::{CmdResult, EXIT_OK};
use crate::ui::print_json;

/// Arguments of `muse rm`.
#[derive(Args, Debug)]
pub struct RmArgs {
    /// Tracked files or directories to remove.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Only stop tracking: keep the files in the working tree.
    #[arg(long)]
    cached: bool,
    /// Remove even files with local or staged modifications.
    #[arg(short, long)]
    force: bool,
    /// Print machine-readable JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `muse rm`.
pub fn run(a: RmArgs, ctx: &CommandContext) -> CmdResult {
    let root = ctx.repo_root()?;
    let repo = ctx.repository()?;
    let specs = a.paths.iter().map(|p| pathspec(&root, p, ctx)).collect::<Result<Vec<_>, _>>()?;
    let removed = repo.remove(&specs, a.cached, a.force)?;
    if a.json {
        return print_json(&json!({"removed": removed}));
    }
    for p in &removed {
        println!("rm '{p}'");
    }
    Ok(EXIT_OK)
}
