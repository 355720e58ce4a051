//! `muse merge`: merge a branch into HEAD's branch, or abort a conflicted
//! merge.

use clap::Args;
use serde_json::json;

use muse_core::merge::MergeOutcome;

use crate::context::CommandContext;
use crate::error::{CmdResult, Fail, EXIT_OK, EXIT_USER};
use crate::ui::{print_json, short};

/// Arguments of `muse merge`.
#[derive(Args, Debug)]
pub struct MergeArgs {
    /// Branch to merge.
    branch: Option<String>,
    /// Abandon a conflicted merge: back to HEAD.
    #[arg(long)]
    abort: bool,
    /// Print machine-readable JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `muse merge`.
pub fn run(a: MergeArgs, ctx: &CommandContext) -> CmdResult {
    let repo = ctx.repository()?;
    if a.abort {
        repo.merge_abort()?;
        if a.json {
            return print_json(&json!({"aborted": true}));
        }
        println!("Merge aborted; the working tree is back at HEAD");
        return Ok(EXIT_OK);
    }
    let branch = a.branch.ok_or_else(|| Fail(EXIT_USER, "give a branch to merge (or --abort)".into()))?;
    let author = ctx.author_from_env().unwrap_or_default();
    let outcome = repo.merge(&branch, &author)?;
    let (v, code, text) = match &outcome {
        MergeOutcome::UpToDate => (json!({"result": outcome.word()}), EXIT_OK, "Already up to date.".to_string()),
        MergeOutcome::FastForward { commit } => (
            json!({"result": outcome.word(), "commit": commit}),
            EXIT_OK,
            format!("Fast-forward to {}", short(commit)),
        ),
        MergeOutcome::Merged { commit } => (
            json!({"result": outcome.word(), "commit": commit}),
            EXIT_OK,
            format!("Merge made: {}", short(commit)),
        ),
        MergeOutcome::Conflicts { paths } => (
            json!({"result": outcome.word(), "paths": paths}),
            EXIT_USER,
            format!(
                "CONFLICT in {}\nFix the files (conflict markers), `muse add` them and `muse commit`; or `muse merge --abort`.",
                paths.join(", ")
            ),
        ),
    };
    crate::ui::report(a.json, &v, code, &text)
}
