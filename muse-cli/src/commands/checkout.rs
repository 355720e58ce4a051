//! `muse checkout`: switch branches, or create one with `-b`.

use clap::Args;
use serde_json::json;


use crate::context::CommandContext;
use crate::error::{CmdResult, EXIT_OK};
use crate::ui::{print_json, short};

/// Arguments of `muse checkout`.
#[derive(Args, Debug)]
pub struct CheckoutArgs {
    /// Branch to switch to, or any revision to detach HEAD at.
    branch: String,
    /// Create the branch at HEAD and switch to it.
    #[arg(short = 'b')]
    create: bool,
    /// Discard local changes.
    #[arg(short, long)]
    force: bool,
    /// Print machine-readable JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `muse checkout`.
pub fn run(a: CheckoutArgs, ctx: &CommandContext) -> CmdResult {
    let repo = ctx.repository()?;
    let report = if a.create {
        repo.checkout_branch(&a.branch, true, a.force)?
    } else {
        repo.checkout(&a.branch, a.force)?
    };
    // A revision that is not a branch detaches HEAD (git's `checkout <commit>`).
    let detached = if a.create { None } else { repo.head_ref()?.detached().map(str::to_string) };
    if a.json {
        return print_json(&json!({"branch": if detached.is_some() { None } else { Some(&a.branch) },
                                  "detached": detached, "written": report.written, "removed": report.removed,
                                  "resumed": report.resumed}));
    }
    if let Some(t) = &report.resumed {
        println!("Finished the interrupted checkout of {t}");
    }
    if a.create {
        println!("Switched to a new branch '{}'", a.branch);
    } else if let Some(id) = &detached {
        println!("HEAD is now at {} (detached; {} file(s) written, {} removed)", short(id), report.written, report.removed);
    } else {
        println!("Switched to branch '{}' ({} file(s) written, {} removed)", a.branch, report.written, report.removed);
    }
    Ok(EXIT_OK)
}
