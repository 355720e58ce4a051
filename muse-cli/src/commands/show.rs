//! `muse show`: a commit's header and the patch of what it changed (git's
//! `show`; a merge against its first parent).

use std::io::{IsTerminal, Write};

use clap::Args;
use serde_json::json;

use muse_core::diff::PatchOptions;

use crate::commands::diff::{write_changes, Listing, COLOR, PLAIN};
use crate::context::CommandContext;
use crate::error::{CmdResult, EXIT_OK};
use crate::revision::resolve_rev;
use crate::ui::{out, print_json};

/// Arguments of `muse show`.
#[derive(Args, Debug)]
pub struct ShowArgs {
    /// The commit to show: any revision (default HEAD).
    rev: Option<String>,
    /// Show `path | N ++--` per file instead of the patch.
    #[arg(long)]
    stat: bool,
    /// Show `<letter>\t<path>` per changed file instead of the patch.
    #[arg(long)]
    name_status: bool,
    /// Lines of context around each change (git's -U<n>).
    #[arg(short = 'U', long = "unified", value_name = "N", default_value_t = 3)]
    unified: usize,
    /// Print the commit record and its changes (with patches) as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `muse show`.
pub fn run(a: ShowArgs, ctx: &CommandContext) -> CmdResult {
    let repo = ctx.repository()?;
    let rev = match &a.rev {
        Some(r) => resolve_rev(&repo, r)?,
        None => "HEAD".to_string(),
    };
    let (rec, changes) = repo.commit_changes(&rev)?;
    let opts = PatchOptions { context_lines: a.unified };
    if a.json {
        let mut files = Vec::with_capacity(changes.len());
        for c in &changes {
            let p = repo.file_patch(c, &opts)?;
            files.push(json!({"path": c.path, "status": c.status.word(), "old": c.old_id, "new": c.new_id, "patch": p.text()}));
        }
        return print_json(&json!({"commit": rec, "changes": files}));
    }
    let pal = if std::io::stdout().is_terminal() { &COLOR } else { &PLAIN };
    let mut o = out();
    crate::ui::write_commit(&mut o, &rec, pal.meta_color(), pal.reset_color())?;
    let listing = if a.name_status {
        Listing::NameStatus
    } else if a.stat {
        Listing::Stat
    } else {
        Listing::Patch
    };
    write_changes(&mut o, &repo, &changes, &opts, listing, pal)?;
    o.flush()?;
    Ok(EXIT_OK)
}
