//! `muse status`: staged, modified, deleted and untracked files.

use std::io::Write;

use clap::Args;
use serde_json::{json, Value};

use muse_core::manifest::ChangeKind;
use muse_core::status::Status;
use muse_core::Repository;

use crate::context::CommandContext;
use crate::error::{CmdResult, Fail, EXIT_INTERNAL, EXIT_OK};
use crate::ui::{capitalize, out, short};

/// Arguments of `muse status`.
#[derive(Args, Debug)]
pub struct StatusArgs {
    /// Short format: two status letters and the path per line.
    #[arg(short, long)]
    short: bool,
    /// Stable short format for scripts (same as --short).
    #[arg(long)]
    porcelain: bool,
    /// Print machine-readable JSON.
    #[arg(long)]
    json: bool,
}

/// An interrupted or conflicted operation as the `operation` member of
/// `status --json` (`null` when there is none).
fn operation_json(op: &Option<muse_core::operation::Operation>) -> Value {
    match op {
        None => Value::Null,
        Some(op) => json!({
            "kind": op.kind.as_str(), "target": op.target, "branch": op.branch, "from": op.from, "to": op.to,
            "theirs": op.theirs, "interrupted": op.phase == muse_core::operation::Phase::Applying,
            "conflicts": op.conflicts, "hint": op.resume_hint(),
        }),
    }
}

/// Runs `muse status`.
pub fn run(a: StatusArgs, ctx: &CommandContext) -> CmdResult {
    let repo = ctx.repository()?;
    let st = repo.status()?;
    let mut o = out();
    if a.json {
        let (ahead, behind, against) = ahead_behind(&repo, &st)?;
        let v = json!({
            "branch": st.branch, "head": st.head, "clean": st.is_clean(),
            "staged": st.staged.iter().map(|(p, k)| json!({"path": p, "status": k.word()})).collect::<Vec<_>>(),
            "unstaged": st.unstaged.iter().map(|(p, k)| json!({"path": p, "status": k.word()})).collect::<Vec<_>>(),
            "untracked": st.untracked, "ahead": ahead, "behind": behind, "compared_to": against,
            "operation": operation_json(&st.operation),
        });
        serde_json::to_writer(&mut o, &v).map_err(|e| Fail(EXIT_INTERNAL, e.to_string()))?;
        writeln!(o)?;
        return Ok(EXIT_OK);
    }
    if a.short || a.porcelain {
        let mut lines: std::collections::BTreeMap<&str, [char; 2]> = Default::default();
        for (p, k) in &st.staged {
            lines.entry(p).or_insert([' ', ' '])[0] = k.letter();
        }
        for (p, k) in &st.unstaged {
            lines.entry(p).or_insert([' ', ' '])[1] = k.letter();
        }
        // Unmerged paths of a conflicted merge: git's `UU`.
        for p in st.operation.iter().flat_map(|op| op.conflicts.iter()) {
            lines.insert(p, ['U', 'U']);
        }
        for (p, [x, y]) in lines {
            writeln!(o, "{x}{y} {p}")?;
        }
        for p in &st.untracked {
            writeln!(o, "?? {p}")?;
        }
        return Ok(EXIT_OK);
    }
    match (&st.branch, &st.head) {
        (Some(b), Some(_)) => {
            writeln!(o, "On branch {b}")?;
            // As git's "Your branch is ahead of …", against the default branch.
            if let (Value::Number(ahead), Value::Number(behind), Value::String(d)) = ahead_behind(&repo, &st)? {
                writeln!(o, "Compared to {d}: {ahead} commit(s) ahead, {behind} behind")?;
            }
        }
        (Some(b), None) => writeln!(o, "On branch {b}\n\nNo commits yet")?,
        (None, Some(h)) => writeln!(o, "HEAD detached at {}", short(h))?,
        (None, None) => {}
    }
    if let Some(op) = &st.operation {
        writeln!(o, "\n{}", capitalize(&op.describe()))?;
        if !op.conflicts.is_empty() {
            writeln!(o, "\nUnmerged paths:")?;
            for p in &op.conflicts {
                writeln!(o, "\tboth modified: {p}")?;
            }
        }
    }
    let section = |o: &mut dyn Write, title: &str, items: &[(String, ChangeKind)]| -> std::io::Result<()> {
        if !items.is_empty() {
            writeln!(o, "\n{title}:")?;
            for (p, k) in items {
                writeln!(o, "\t{:<10} {p}", format!("{}:", k.word()))?;
            }
        }
        Ok(())
    };
    section(&mut o, "Changes to be committed", &st.staged)?;
    section(&mut o, "Changes not staged for commit", &st.unstaged)?;
    if !st.untracked.is_empty() {
        writeln!(o, "\nUntracked files:")?;
        for p in &st.untracked {
            writeln!(o, "\t{p}")?;
        }
    }
    if st.is_clean() {
        writeln!(o, "\nnothing to commit, working tree clean")?;
    }
    Ok(EXIT_OK)
}

/// Commits HEAD's branch is ahead of and behind the default branch
/// ([`muse_core::Repository::default_branch`]), capped at 10 000 (then the
/// count is that cap). `null`s when on the default branch or unrelated.
fn ahead_behind(repo: &Repository, st: &Status) -> Result<(Value, Value, Value), Fail> {
    let default = repo.default_branch();
    let (Some(branch), Some(head)) = (&st.branch, &st.head) else { return Ok((Value::Null, Value::Null, Value::Null)) };
    if *branch == default {
        return Ok((Value::Null, Value::Null, Value::Null));
    }
    let Some(other) = repo.branch_target(&default)? else {
        return Ok((Value::Null, Value::Null, Value::Null));
    };
    let (ahead, behind) = repo.ahead_behind(head, &other, 10_000)?;
    Ok((json!(ahead), json!(behind), json!(default)))
}
