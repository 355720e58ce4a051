//! `muse commit`: record the stage on top of HEAD.

use clap::Args;
use serde_json::Value;

use muse_core::commit::CommitOptions;

use crate::context::CommandContext;
use crate::error::{CmdResult, EXIT_OK};
use crate::ui::{print_json, short};

/// Arguments of `muse commit`.
#[derive(Args, Debug)]
pub struct CommitArgs {
    /// Commit message.
    #[arg(short, long)]
    message: String,
    /// Stage every change of tracked files first.
    #[arg(short = 'a', long = "all")]
    all: bool,
    /// Allow a commit that changes nothing.
    #[arg(long)]
    allow_empty: bool,
    /// Author (default: $MUSE_AUTHOR, else empty).
    #[arg(long)]
    author: Option<String>,
    /// Provenance: the agent making the commit.
    #[arg(long, default_value = "")]
    agent_id: String,
    /// Provenance: the model behind the agent.
    #[arg(long, default_value = "")]
    model_id: String,
    /// Provenance: the toolchain.
    #[arg(long, default_value = "")]
    toolchain_id: String,
    /// Provenance: hash of the prompt.
    #[arg(long, default_value = "")]
    prompt_hash: String,
    /// Print machine-readable JSON.
    #[arg(long)]
    json: bool,
}

/// A commit record as the JSON `commit --json` prints.
fn commit_json(rec: &muse_core::records::CommitRecord) -> Value {
    serde_json::to_value(rec).unwrap_or(Value::Null)
}

/// Runs `muse commit`.
pub fn run(a: CommitArgs, ctx: &CommandContext) -> CmdResult {
    let repo = ctx.repository()?;
    let opts = CommitOptions {
        message: a.message,
        author: a.author.or_else(|| ctx.author_from_env()).unwrap_or_default(),
        all: a.all,
        allow_empty: a.allow_empty,
        agent_id: a.agent_id,
        model_id: a.model_id,
        toolchain_id: a.toolchain_id,
        prompt_hash: a.prompt_hash,
    };
    let rec = repo.commit(&opts)?;
    if a.json {
        return print_json(&commit_json(&rec));
    }
    let first = rec.message.lines().next().unwrap_or("");
    println!("[{} {}] {}", if rec.branch.is_empty() { "detached HEAD" } else { &rec.branch }, short(&rec.commit_id), first);
    Ok(EXIT_OK)
}
