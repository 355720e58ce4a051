//! `muse push`: send local branches to a remote (git's `push --atomic`).

use clap::Args;
use serde_json::json;

use crate::context::CommandContext;
use crate::error::{CmdResult, EXIT_OK};
use crate::ui::{print_json, short};

/// Arguments of `muse push`.
#[derive(Args, Debug)]
pub struct PushArgs {
    /// The remote (default `origin`).
    remote: Option<String>,
    /// Branches to push (default: HEAD's branch). All move, or none.
    branches: Vec<String>,
    /// Allow non-fast-forward updates (the remote must still be where it
    /// was last read, like git's `--force-with-lease`).
    #[arg(short, long)]
    force: bool,
    /// Print machine-readable JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `muse push`.
pub fn run(a: PushArgs, ctx: &CommandContext) -> CmdResult {
    let mut repo = ctx.repository()?;
    if let Some(p) = crate::ui::terminal_progress() {
        repo = repo.with_progress(p);
    }
    let remote = a.remote.as_deref().unwrap_or("origin");
    let url = muse_core::remote::remote_url(repo.workdir(), remote)?;
    let report = repo.push(remote, &a.branches, a.force)?;
    if a.json {
        return print_json(&json!({"remote": remote, "url": url, "report": report}));
    }
    if report.updates.is_empty() {
        eprintln!("Everything up-to-date");
        return Ok(EXIT_OK);
    }
    eprintln!("To {url}");
    for u in &report.updates {
        let new = u.new.map(|c| short(&c.to_string()).to_string()).unwrap_or_default();
        match &u.old {
            None => eprintln!(" * [new branch]      {} -> {}", u.branch, u.branch),
            Some(o) if u.force => eprintln!(" + {}...{new} {} -> {} (forced update)", short(&o.to_string()), u.branch, u.branch),
            Some(o) => eprintln!("   {}..{new}  {} -> {}", short(&o.to_string()), u.branch, u.branch),
        }
    }
    eprintln!(
        "sent: the remote stored {} commit(s), {} snapshot(s), {} blob(s)",
        report.commits_written, report.snapshots_written, report.blobs_written
    );
    Ok(EXIT_OK)
}
