//! `muse remote`: list, add and remove remotes (git's `remote`).

use clap::{Args, Subcommand};
use serde_json::json;

use crate::context::CommandContext;
use crate::error::{CmdResult, EXIT_OK};
use crate::ui::print_json;

/// Arguments of `muse remote`.
#[derive(Args, Debug)]
pub struct RemoteArgs {
    /// The subcommand; none lists the remotes.
    #[command(subcommand)]
    cmd: Option<RemoteCommand>,
    /// With no subcommand: show each remote's URL too (git's `-v`).
    #[arg(short, long)]
    verbose: bool,
    /// Print machine-readable JSON (`[{"name", "url"}]`).
    #[arg(long)]
    json: bool,
}

/// The subcommands of `muse remote`.
#[derive(Subcommand, Debug)]
pub enum RemoteCommand {
    /// Add remote NAME at URL (http(s)://HOST:PORT/OWNER/REPO, or a path).
    Add {
        /// The remote's name (e.g. origin).
        name: String,
        /// Its URL or path.
        url: String,
    },
    /// Remove remote NAME and its remote-tracking refs.
    #[command(alias = "rm")]
    Remove {
        /// The remote's name.
        name: String,
    },
    /// List the remotes (the default).
    List {
        /// Print machine-readable JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the URL of remote NAME.
    GetUrl {
        /// The remote's name.
        name: String,
    },
}

/// Runs `muse remote`.
pub fn run(a: RemoteArgs, ctx: &CommandContext) -> CmdResult {
    let repo = ctx.repository()?;
    match a.cmd {
        Some(RemoteCommand::Add { name, url }) => {
            repo.add_remote(&name, &url)?;
            Ok(EXIT_OK)
        }
        Some(RemoteCommand::Remove { name }) => {
            repo.remove_remote(&name)?;
            Ok(EXIT_OK)
        }
        Some(RemoteCommand::GetUrl { name }) => {
            println!("{}", muse_core::remote::remote_url(repo.workdir(), &name)?);
            Ok(EXIT_OK)
        }
        Some(RemoteCommand::List { json }) => list(&repo, a.verbose, json || a.json),
        None => list(&repo, a.verbose, a.json),
    }
}

fn list(repo: &muse_core::Repository, verbose: bool, as_json: bool) -> CmdResult {
    let remotes = repo.remotes()?;
    if as_json {
        return print_json(&json!(remotes));
    }
    for r in remotes {
        if verbose {
            println!("{}\t{} (fetch)", r.name, r.url);
            println!("{}\t{} (push)", r.name, r.url);
        } else {
            println!("{}", r.name);
        }
    }
    Ok(EXIT_OK)
}
