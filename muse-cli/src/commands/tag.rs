//! `muse tag`: list, create or delete tags (git's lightweight tags).

use std::io::Write;

use clap::Args;
use serde_json::json;

use muse_core::error::Error;

use crate::context::CommandContext;
use crate::error::{CmdResult, Fail, EXIT_OK, EXIT_USER};
use crate::revision::resolve_rev;
use crate::ui::{out, print_json, short};

/// Arguments of `muse tag`.
#[derive(Args, Debug)]
pub struct TagArgs {
    /// Create a tag with this name (at REV, default HEAD); without a name,
    /// list the tags.
    name: Option<String>,
    /// The commit to tag: any revision (branch, tag, commit ID or unique
    /// prefix, HEAD~n, ...).
    rev: Option<String>,
    /// Delete the named tag.
    #[arg(short, long, value_name = "NAME")]
    delete: Option<String>,
    /// Move an existing tag instead of refusing.
    #[arg(short, long)]
    force: bool,
    /// Print machine-readable JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `muse tag`.
pub fn run(a: TagArgs, ctx: &CommandContext) -> CmdResult {
    let repo = ctx.repository()?;
    if let Some(name) = a.delete {
        let was = repo.delete_tag(&name).map_err(|e| match e {
            Error::NotFound { what: "tag", .. } => Fail(EXIT_USER, format!("tag {name:?} not found")),
            e => e.into(),
        })?;
        if a.json {
            return print_json(&json!({"deleted": name, "commit": was}));
        }
        println!("Deleted tag {name} (was {})", short(&was));
        return Ok(EXIT_OK);
    }
    if let Some(name) = a.name {
        let target = a.rev.as_deref().map(|r| resolve_rev(&repo, r)).transpose()?;
        let commit = repo.create_tag(&name, target.as_deref(), a.force)?;
        if a.json {
            return print_json(&json!({"created": name, "commit": commit}));
        }
        println!("Tagged {} as {name}", short(&commit));
        return Ok(EXIT_OK);
    }
    let tags = repo.tags()?;
    if a.json {
        return print_json(&json!({
            "tags": tags.iter().map(|(n, c)| json!({"name": n, "commit": c})).collect::<Vec<_>>(),
        }));
    }
    let mut o = out();
    for (n, _) in tags {
        writeln!(o, "{n}")?;
    }
    Ok(EXIT_OK)
}
