//! `muse pull`: fetch, then fast-forward or merge (git's `pull`).

use clap::Args;
use serde_json::json;

use muse_core::remote::PullOutcome;

use crate::context::CommandContext;
use crate::error::{CmdResult, EXIT_OK, EXIT_USER};
use crate::ui::{print_json, short};

/// Arguments of `muse pull`.
#[derive(Args, Debug)]
pub struct PullArgs {
    /// The remote (default `origin`).
    remote: Option<String>,
    /// The remote branch to merge (default: the one named like HEAD's branch).
    branch: Option<String>,
    /// Print machine-readable JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `muse pull`.
pub fn run(a: PullArgs, ctx: &CommandContext) -> CmdResult {
    let mut repo = ctx.repository()?;
    if let Some(p) = crate::ui::terminal_progress() {
        repo = repo.with_progress(p);
    }
    let remote = a.remote.as_deref().unwrap_or("origin");
    let author = ctx.author_from_env().unwrap_or_default();
    let (fetched, outcome) = repo.pull(remote, a.branch.as_deref(), &author)?;
    let code = if matches!(outcome, PullOutcome::Conflicts { .. }) { EXIT_USER } else { EXIT_OK };
    if a.json {
        print_json(&json!({"fetch": fetched, "merge": outcome}))?;
        return Ok(code);
    }
    crate::commands::fetch::print_fetch(&fetched);
    match &outcome {
        PullOutcome::UpToDate => println!("Already up to date."),
        PullOutcome::FastForward { commit } => println!("Fast-forward to {}", short(&commit.to_string())),
        PullOutcome::Merged { commit } => println!("Merge made: {}", short(&commit.to_string())),
        PullOutcome::Conflicts { paths } => eprintln!(
            "CONFLICT in {}\nFix the files (conflict markers), `muse add` them and `muse commit`; or `muse merge --abort`.",
            paths.join(", ")
        ),
    }
    Ok(code)
}
