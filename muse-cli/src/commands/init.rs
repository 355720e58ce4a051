//! `muse init`: create a repository.

use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use muse_core::repo;

use crate::context::CommandContext;
use crate::error::{CmdResult, Fail, EXIT_OK};
use crate::ui::print_json;

/// Arguments of `muse init`.
#[derive(Args, Debug)]
pub struct InitArgs {
    /// Directory to initialise (default: $MUSE_REPO_ROOT, else the current directory).
    path: Option<PathBuf>,
    /// Branch HEAD starts on.
    #[arg(long, default_value = "main")]
    default_branch: String,
    /// A repository others push to (`[core] bare = true`): pushes may move
    /// its HEAD branch; its working tree is not used (git's `--bare`).
    #[arg(long)]
    bare: bool,
    /// Print machine-readable JSON.
    #[arg(long)]
    json: bool,
}

/// Where `init` creates the repository: PATH if given, else
/// `$MUSE_REPO_ROOT` (when set and non-empty), else the current directory.
// TODO(core): the default location ($MUSE_REPO_ROOT, else the current
// directory) is the same rule as discovery's; the core should own it.
fn init_target(path: Option<PathBuf>, ctx: &CommandContext) -> Result<PathBuf, Fail> {
    Ok(match path {
        Some(p) => p,
        None => match std::env::var_os(repo::REPO_ROOT_ENV).filter(|v| !v.is_empty()) {
            Some(p) => PathBuf::from(p),
            None => ctx.current_dir()?,
        },
    })
}

/// Runs `muse init`.
pub fn run(a: InitArgs, ctx: &CommandContext) -> CmdResult {
    let target = init_target(a.path, ctx)?;
    let opts = repo::InitOptions { default_branch: a.default_branch.clone(), owner: String::new(), bare: a.bare };
    let root = repo::init_repo(&target, &opts)?;
    if a.json {
        return print_json(&json!({"root": root, "default_branch": a.default_branch}));
    }
    println!("Initialized empty muse repository in {}", root.join(".muse").display());
    Ok(EXIT_OK)
}
