//! `muse branch`: list, create or delete branches.

use std::io::Write;

use clap::Args;
use serde_json::json;

use muse_core::error::Error;

use crate::context::CommandContext;
use crate::error::{CmdResult, Fail, EXIT_OK, EXIT_USER};
use crate::ui::{out, print_json, short};

/// Arguments of `muse branch`.
#[derive(Args, Debug)]
pub struct BranchArgs {
    /// Create a branch with this name at HEAD.
    name: Option<String>,
    /// Delete the named branch.
    #[arg(short, long, value_name = "NAME")]
    delete: Option<String>,
    // `--json`: print machine-readable JSON. No `///` here: clap would
    // make it the (so far empty) help text of the flag.
    #[arg(long)]
    json: bool,
}

/// Runs `muse branch`.
pub fn run(a: BranchArgs, ctx: &CommandContext) -> CmdResult {
    let repo = ctx.repository()?;
    if let Some(name) = a.delete {
        repo.delete_branch(&name).map_err(|e| match e {
            Error::NotFound { what: "branch", .. } => Fail(EXIT_USER, format!("branch {name:?} not found")),
            e => e.into(),
        })?;
        if a.json {
            return print_json(&json!({"deleted": name}));
        }
        println!("Deleted branch {name}");
        return Ok(EXIT_OK);
    }
    if let Some(name) = a.name {
        let head = repo.create_branch(&name, None)?;
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
