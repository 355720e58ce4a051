//! `muse verify`: check every object hash, record ID and ref target.

use std::io::Write;

use clap::Args;
use serde_json::json;

use crate::context::CommandContext;
use crate::error::{CmdResult, EXIT_OK, EXIT_USER};
use crate::ui::{out, print_json};

/// Arguments of `muse verify`.
#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// Print machine-readable JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `muse verify`: exit 0 when everything verifies, 1 when a problem
/// was found.
pub fn run(a: VerifyArgs, ctx: &CommandContext) -> CmdResult {
    let report = ctx.repository()?.verify()?;
    if a.json {
        print_json(&json!({
            "ok": report.is_ok(), "objects": report.objects, "commits": report.commits,
            "snapshots": report.snapshots, "refs": report.refs,
            "problems": report.problems.iter().map(|(what, detail)| json!({"item": what, "problem": detail})).collect::<Vec<_>>(),
        }))?;
    } else {
        let mut o = out();
        for (what, detail) in &report.problems {
            writeln!(o, "BAD {what}: {detail}")?;
        }
        writeln!(
            o,
            "checked {} objects, {} commits, {} snapshots, {} refs: {}",
            report.objects,
            report.commits,
            report.snapshots,
            report.refs,
            if report.is_ok() { "ok".to_string() } else { format!("{} problem(s)", report.problems.len()) }
        )?;
    }
    Ok(if report.is_ok() { EXIT_OK } else { EXIT_USER })
}
