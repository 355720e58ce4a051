//! `muse stash`: put local changes aside and re-apply them later (git's
//! `stash`: push, list, pop, apply, drop).

use std::io::Write;

use clap::{Args, Subcommand};
use serde_json::json;

use muse_core::merge::MergeOutcome;

use crate::context::CommandContext;
use crate::error::{CmdResult, EXIT_OK, EXIT_USER};
use crate::ui::{out, print_json, report};

/// Arguments of `muse stash`.
#[derive(Args, Debug)]
pub struct StashArgs {
    /// What to do (default: push).
    #[command(subcommand)]
    cmd: Option<StashCommand>,
    /// With no subcommand: the message of the new entry.
    #[arg(short, long)]
    message: Option<String>,
    /// Print machine-readable JSON.
    #[arg(long, global = true)]
    json: bool,
}

/// The `muse stash` subcommands.
#[derive(Subcommand, Debug)]
pub enum StashCommand {
    /// Put the local changes to tracked files aside; the tree goes back to
    /// HEAD (untracked files stay).
    Push {
        /// The entry's message (default: "WIP on <branch>: <commit>").
        #[arg(short, long)]
        message: Option<String>,
    },
    /// List the entries, newest first (stash@{0}).
    List,
    /// Re-apply an entry (default 0) and drop it unless it conflicts.
    Pop {
        /// The entry: N or stash@{N}.
        entry: Option<String>,
    },
    /// Re-apply an entry (default 0), keeping it.
    Apply {
        /// The entry: N or stash@{N}.
        entry: Option<String>,
    },
    /// Remove an entry (default 0).
    Drop {
        /// The entry: N or stash@{N}.
        entry: Option<String>,
    },
}

/// `N` or `stash@{N}` (default 0).
fn entry_index(e: Option<&str>) -> Result<usize, crate::error::Fail> {
    let Some(e) = e else { return Ok(0) };
    let n = e.strip_prefix("stash@{").and_then(|r| r.strip_suffix('}')).unwrap_or(e);
    n.parse().map_err(|_| crate::error::Fail(EXIT_USER, format!("{e:?} is not a stash entry (N or stash@{{N}})")))
}

/// Runs `muse stash`.
pub fn run(a: StashArgs, ctx: &CommandContext) -> CmdResult {
    let repo = ctx.repository()?;
    match a.cmd.unwrap_or(StashCommand::Push { message: a.message }) {
        StashCommand::Push { message } => {
            let w = repo.stash_push(message.as_deref())?;
            let text = if w.is_some() { "Saved the local changes (stash@{0})" } else { "No local changes to save" };
            report(a.json, &json!({"stashed": w}), EXIT_OK, text)
        }
        StashCommand::List => {
            let list = repo.stash_list()?;
            if a.json {
                return print_json(&json!({"entries": list.iter().map(|e| json!({"index": e.index, "commit": e.commit, "message": e.message})).collect::<Vec<_>>()}));
            }
            let mut o = out();
            for e in list {
                writeln!(o, "stash@{{{}}}: {}", e.index, e.message.lines().next().unwrap_or(""))?;
            }
            Ok(EXIT_OK)
        }
        StashCommand::Pop { entry } => apply(&repo, entry_index(entry.as_deref())?, true, a.json),
        StashCommand::Apply { entry } => apply(&repo, entry_index(entry.as_deref())?, false, a.json),
        StashCommand::Drop { entry } => {
            let n = entry_index(entry.as_deref())?;
            let gone = repo.stash_drop(n)?;
            report(a.json, &json!({"dropped": gone}), EXIT_OK, &format!("Dropped stash@{{{n}}} ({})", crate::ui::short(&gone)))
        }
    }
}

/// `stash pop` / `stash apply` of entry `n`.
fn apply(repo: &muse_core::Repository, n: usize, pop: bool, json: bool) -> CmdResult {
    let outcome = if pop { repo.stash_pop(n)? } else { repo.stash_apply(n)? };
    match outcome {
        MergeOutcome::Conflicts { paths } => report(
            json,
            &json!({"result": "conflicts", "paths": paths}),
            EXIT_USER,
            &format!("CONFLICT in {}; the entry is kept (resolve, then `muse stash drop`)", paths.join(", ")),
        ),
        _ => report(json, &json!({"result": "applied", "dropped": pop}), EXIT_OK, if pop { "Applied and dropped" } else { "Applied" }),
    }
}
