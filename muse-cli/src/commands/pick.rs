//! `muse cherry-pick` and `muse revert`: a commit's change applied to, or
//! undone on top of, HEAD as a new commit (git's commands of those names).

use clap::Args;
use serde_json::json;

use muse_core::merge::MergeOutcome;

use crate::context::CommandContext;
use crate::error::{CmdResult, Fail, EXIT_OK, EXIT_USER};
use crate::revision::resolve_rev;
use crate::ui::{print_json, short};

/// Arguments of `muse cherry-pick` and `muse revert`.
#[derive(Args, Debug)]
pub struct PickArgs {
    /// The commit whose change to apply (cherry-pick) or undo (revert): any
    /// revision.
    rev: Option<String>,
    /// Conclude after resolving conflicts (`muse add` the files first):
    /// commit with the recorded message.
    #[arg(long, conflicts_with_all = ["abort", "rev"])]
    r#continue: bool,
    /// Give up: back to the commit HEAD was on.
    #[arg(long, conflicts_with = "rev")]
    abort: bool,
    /// Print machine-readable JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `muse cherry-pick` (`revert` false) or `muse revert`.
pub fn run(a: PickArgs, revert: bool, ctx: &CommandContext) -> CmdResult {
    let repo = ctx.repository()?;
    let cmd = if revert { "revert" } else { "cherry-pick" };
    if a.abort {
        repo.merge_abort()?;
        if a.json {
            return print_json(&json!({"aborted": true}));
        }
        println!("{cmd} aborted; the working tree is back at HEAD");
        return Ok(EXIT_OK);
    }
    if a.r#continue {
        let rec = repo.pick_continue()?;
        if a.json {
            return print_json(&json!({"result": "committed", "commit": rec.commit_id}));
        }
        println!("[{} {}] {}", rec.branch, short(&rec.commit_id), rec.message.lines().next().unwrap_or(""));
        return Ok(EXIT_OK);
    }
    let rev = a.rev.ok_or_else(|| Fail(EXIT_USER, format!("give a commit to {cmd} (or --continue / --abort)")))?;
    // Resolved here for the CLI's message on a bad revision; the core gets
    // the user's spelling (it labels the conflict markers and the journal).
    resolve_rev(&repo, &rev)?;
    let outcome = if revert {
        repo.revert(&rev, &ctx.author_from_env().unwrap_or_default())?
    } else {
        repo.cherry_pick(&rev)?
    };
    let (v, code, text) = match &outcome {
        MergeOutcome::UpToDate => {
            (json!({"result": "empty"}), EXIT_USER, format!("nothing to {cmd}: HEAD already has that change"))
        }
        MergeOutcome::FastForward { commit } | MergeOutcome::Merged { commit } => {
            let msg = repo.find_commit(commit)?.message;
            (
                json!({"result": "committed", "commit": commit}),
                EXIT_OK,
                format!("[{}] {}", short(commit), msg.lines().next().unwrap_or("")),
            )
        }
        MergeOutcome::Conflicts { paths } => (
            json!({"result": "conflicts", "paths": paths}),
            EXIT_USER,
            format!(
                "CONFLICT in {}\nFix the files, `muse add` them and `muse {cmd} --continue`; or `muse {cmd} --abort`.",
                paths.join(", ")
            ),
        ),
    };
    crate::ui::report(a.json, &v, code, &text)
}
