//! `muse clone`: a new repository from a remote (git's `clone`).

use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use crate::context::CommandContext;
use crate::error::{CmdResult, Fail, EXIT_OK, EXIT_USER};
use crate::ui::print_json;

/// Arguments of `muse clone`.
#[derive(Args, Debug)]
pub struct CloneArgs {
    /// What to clone: http(s)://HOST:PORT/OWNER/REPO, or a repository's path.
    url: String,
    /// The new directory (default: the last part of URL).
    dir: Option<PathBuf>,
    /// Check out this branch instead of the remote's HEAD branch.
    #[arg(short, long)]
    branch: Option<String>,
    /// Print machine-readable JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `muse clone`.
pub fn run(a: CloneArgs, ctx: &CommandContext) -> CmdResult {
    let dir = match a.dir {
        Some(d) => d,
        None => {
            let last = a.url.trim_end_matches('/').rsplit('/').next().unwrap_or("").to_string();
            if last.is_empty() || last == "." || last == ".." {
                return Err(Fail(EXIT_USER, format!("cannot guess a directory name from {:?}; give one", a.url)));
            }
            PathBuf::from(last)
        }
    };
    let dir = if dir.is_absolute() { dir } else { ctx.current_dir()?.join(dir) };
    if !a.json {
        eprintln!("Cloning into '{}'...", dir.display());
    }
    let repo = muse_core::Repository::clone_with_progress(&a.url, &dir, a.branch.as_deref(), crate::ui::terminal_progress())?;
    let branch = repo.head_branch()?;
    let head = repo.resolve_head()?;
    if a.json {
        return print_json(&json!({"dir": dir, "url": a.url, "branch": branch, "head": head}));
    }
    if head.is_none() {
        eprintln!("warning: You appear to have cloned an empty repository.");
    }
    Ok(EXIT_OK)
}
