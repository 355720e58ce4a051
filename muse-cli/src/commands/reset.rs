//! `muse reset`: move HEAD's branch to a commit (git's `reset`).

use clap::Args;
use serde_json::json;

use muse_core::reset::ResetMode;

use crate::context::CommandContext;
use crate::error::{CmdResult, EXIT_OK};
use crate::revision::resolve_rev;
use crate::ui::{print_json, short};

/// Arguments of `muse reset`.
#[derive(Args, Debug)]
pub struct ResetArgs {
    /// The commit to move to: any revision (default HEAD).
    rev: Option<String>,
    /// Keep the stage and the working tree (what differs shows as staged).
    #[arg(long, group = "mode")]
    soft: bool,
    /// Empty the stage, keep the working tree (the default).
    #[arg(long, group = "mode")]
    mixed: bool,
    /// Empty the stage and rewrite every tracked file: local changes to
    /// tracked files are lost (untracked files stay).
    #[arg(long, group = "mode")]
    hard: bool,
    /// Print machine-readable JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `muse reset`.
pub fn run(a: ResetArgs, ctx: &CommandContext) -> CmdResult {
    let repo = ctx.repository()?;
    let mode = if a.soft {
        ResetMode::Soft
    } else if a.hard {
        ResetMode::Hard
    } else {
        ResetMode::Mixed
    };
    let target = a.rev.as_deref().map(|r| resolve_rev(&repo, r)).transpose()?;
    let (head, report) = repo.reset(target.as_deref(), mode)?;
    if a.json {
        return print_json(&json!({"head": head, "mode": format!("{mode:?}").to_lowercase(),
                                  "written": report.written, "removed": report.removed}));
    }
    let msg = repo.find_commit(&head)?.message;
    println!("HEAD is now at {} {}", short(&head), msg.lines().next().unwrap_or(""));
    Ok(EXIT_OK)
}
