//! `muse diff`: changed paths between commits or against the working tree.

use std::io::Write;

use clap::Args;
use serde_json::json;


use crate::context::CommandContext;
use crate::error::{CmdResult, EXIT_OK};
use crate::revision::resolve_rev;
use crate::ui::{out, print_json, short};

/// Arguments of `muse diff`.
#[derive(Args, Debug)]
pub struct DiffArgs {
    /// Old side (commit ID or branch; default HEAD).
    a: Option<String>,
    /// New side (commit ID or branch; default the working tree).
    b: Option<String>,
    /// Print `<letter>\t<path>` per change.
    #[arg(long)]
    name_status: bool,
    // `--json`: print machine-readable JSON. No `///` here: clap would
    // make it the (so far empty) help text of the flag.
    #[arg(long)]
    json: bool,
}

/// Runs `muse diff`.
pub fn run(a: DiffArgs, ctx: &CommandContext) -> CmdResult {
    let repo = ctx.repository()?;
    let a_id = a.a.as_deref().map(|r| resolve_rev(&repo, r)).transpose()?;
    let b_id = a.b.as_deref().map(|r| resolve_rev(&repo, r)).transpose()?;
    let changes = repo.diff(a_id.as_deref(), b_id.as_deref())?;
    if a.json {
        return print_json(&json!({
            "changes": changes.iter().map(|c| json!({"path": c.path, "status": c.status.word(), "old": c.old_id, "new": c.new_id})).collect::<Vec<_>>(),
        }));
    }
    let mut o = out();
    for c in &changes {
        let p = &c.path;
        if a.name_status {
            writeln!(o, "{}\t{p}", c.status.letter())?;
        } else {
            let old_id = c.old_id.as_deref().map(short).unwrap_or("0000000");
            let new_id = c.new_id.as_deref().map(short).unwrap_or("0000000");
            writeln!(o, "{:<9} {p} ({old_id} -> {new_id})", c.status.word())?;
        }
    }
    Ok(EXIT_OK)
}
