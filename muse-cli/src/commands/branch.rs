//! `muse branch`: list, create or delete branches.

use std::io::Write;

use clap::Args;
use serde_json::json;

use muse_core::error::Error;

use crate::context::CommandContext;
use crate::error::{CmdResult, Fail, EXIT_OK, EXIT_USER};
use crate::revision::resolve_rev;
use crate::ui::{out, print_json, short};

/// Arguments of `muse branch`.
#[derive(Args, Debug)]
pub struct BranchArgs {
    /// Create a branch with this name (at START, default HEAD).
    name: Option<String>,
    /// Where the new branch starts: any revision (branch, tag, commit ID or
    /// unique prefix, HEAD~n, ...).
    start: Option<String>,
    /// Delete the named branch; refused when HEAD does not contain its
    /// commit (not fully merged).
    #[arg(short, long, value_name = "NAME", conflicts_with = "force_delete")]
    delete: Option<String>,
    /// Delete the named branch even when it is not merged.
    #[arg(short = 'D', value_name = "NAME")]
    force_delete: Option<String>,
    /// Print machine-readable JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `muse branch`.
pub fn run(a: BranchArgs, ctx: &CommandContext) -> CmdResult {
    let repo = ctx.repository()?;
    if let Some((name, force)) = a.delete.map(|n| (n, false)).or(a.force_delete.map(|n| (n, true))) {
        let was = repo.delete_branch(&name, force).map_err(|e| match e {
            Error::NotFound { what: "branch", .. } => Fail(EXIT_USER, format!("branch {name:?} not found")),
            e => e.into(),
        })?;
        if a.json {
            return print_json(&json!({"deleted": name, "commit": was}));
        }
        println!("Deleted branch {name} (was {})", short(&was));
        return Ok(EXIT_OK);
    }
    if let Some(name) = a.name {
        let start = a.start.as_deref().map(|r| resolve_rev(&repo, r)).transpose()?;
        let head = repo.create_branch(&name, start.as_deref())?;
        if a.json {
            return print_json(&json!({"created": name, "commit": head}));
        }
        println!("Created branch {name} at {}", short(&head));
        return Ok(EXIT_OK);
    }
    let current = repo.head_branch()?;
    let branches = repo.branches()?;
    if a.json {
        return print_json(&json!({
            "current": current,
            "branches": branches.iter().map(|(n, c)| json!({"name": n, "commit": c})).collect::<Vec<_>>(),
        }));
    }
    let mut o = out();
    for (n, c) in branches {
        let mark = if current.as_deref() == Some(n.as_str()) { '*' } else { ' ' };
        writeln!(o, "{mark} {n} {}", short(&c))?;
    }
    Ok(EXIT_OK)
}
