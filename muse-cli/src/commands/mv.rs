//! `muse mv`: move or rename a tracked file or directory (git's `mv`).

use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use crate::commands::add::pathspec;
use crate::context::CommandContext;
use crate::error::{CmdResult, EXIT_OK};
use crate::ui::print_json;

/// Arguments of `muse mv`.
#[derive(Args, Debug)]
pub struct MvArgs {
    /// The tracked file or directory to move.
    source: PathBuf,
    /// The new path, or an existing directory to move it into.
    destination: PathBuf,
    /// Print machine-readable JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `muse mv`.
pub fn run(a: MvArgs, ctx: &CommandContext) -> CmdResult {
    let root = ctx.repo_root()?;
    let repo = ctx.repository()?;
    let from = pathspec(&root, &a.source, ctx)?;
    let to = pathspec(&root, &a.destination, ctx)?;
    let moved = repo.rename(&from, &to)?;
    if a.json {
        return print_json(&json!({"moved": moved.iter().map(|(o, n)| json!({"from": o, "to": n})).collect::<Vec<_>>()}));
    }
    Ok(EXIT_OK)
}
