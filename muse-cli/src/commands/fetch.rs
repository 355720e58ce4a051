//! `muse fetch`: receive a remote's new history and update its
//! remote-tracking refs (git's `fetch`).

use clap::Args;
use serde_json::json;

use muse_core::remote::{FetchOptions, FetchReport, RefChange};

use crate::context::CommandContext;
use crate::error::{CmdResult, EXIT_OK};
use crate::ui::{print_json, short};

/// Arguments of `muse fetch`.
#[derive(Args, Debug)]
pub struct FetchArgs {
    /// The remote (default `origin`).
    remote: Option<String>,
    /// Remove remote-tracking refs whose branch is gone on the remote.
    #[arg(short, long)]
    prune: bool,
    /// Print machine-readable JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `muse fetch`.
pub fn run(a: FetchArgs, ctx: &CommandContext) -> CmdResult {
    let mut repo = ctx.repository()?;
    if let Some(p) = crate::ui::terminal_progress() {
        repo = repo.with_progress(p);
    }
    let remote = a.remote.as_deref().unwrap_or("origin");
    let report = repo.fetch(remote, &FetchOptions { prune: a.prune })?;
    if a.json {
        return print_json(&json!(report));
    }
    print_fetch(&report);
    Ok(EXIT_OK)
}

/// git's fetch summary on stderr: `From URL` and one line per ref that
/// changed.
pub fn print_fetch(r: &FetchReport) {
    let changed: Vec<_> = r.refs.iter().filter(|x| x.change != RefChange::UpToDate).collect();
    if changed.is_empty() {
        return;
    }
    eprintln!("From {}", r.url);
    for x in changed {
        let old = x.old.map(|c| short(&c.to_string()).to_string());
        let new = x.new.map(|c| short(&c.to_string()).to_string());
        let branch = x.name.split_once('/').map(|(_, b)| b).unwrap_or(&x.name);
        match x.change {
            RefChange::New => eprintln!(" * [new branch]      {branch} -> {}", x.name),
            RefChange::FastForward => eprintln!("   {}..{}  {branch} -> {}", old.unwrap_or_default(), new.unwrap_or_default(), x.name),
            RefChange::Forced => {
                eprintln!(" + {}...{} {branch} -> {}  (forced update)", old.unwrap_or_default(), new.unwrap_or_default(), x.name)
            }
            RefChange::Deleted => eprintln!(" - [deleted]         (none) -> {}", x.name),
            RefChange::UpToDate => {}
        }
    }
    if r.commits_written > 0 {
        eprintln!("received {} commit(s), {} snapshot(s), {} blob(s)", r.commits_written, r.snapshots_written, r.blobs_written);
    }
}
