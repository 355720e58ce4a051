//! `muse gc`: remove temp files of killed processes; report (and with
//! `--prune` remove) unreachable data.

use clap::Args;
use serde_json::json;

use muse_core::{repo, Repository};

use crate::context::CommandContext;
use crate::error::{CmdResult, EXIT_OK};
use crate::ui::print_json;

/// Arguments of `muse gc`.
#[derive(Args, Debug)]
pub struct GcArgs {
    /// Also remove unreachable commits, snapshots and objects older than --grace.
    #[arg(long)]
    prune: bool,
    /// Grace period in seconds: younger unreachable data is kept (a
    /// concurrent writer may be about to reference it).
    #[arg(long, default_value_t = 3600)]
    grace: u64,
    /// Print machine-readable JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `muse gc`.
pub fn run(a: GcArgs, ctx: &CommandContext) -> CmdResult {
    let root = ctx.repo_root_without_startup_gc()?;
    let repository = Repository::open(&root)?;
    let report = repository.startup_gc()?;
    let full = repository.cleanup_stale_object_temps(None)? + repo::cleanup_muse_dir_temps(&root.join(".muse"))?;
    // With --prune, reachability is decided and the deletions made under
    // the write lock held exclusively (writers hold it shared until their
    // data is reachable); without, nothing is deleted and no lock is taken.
    let (unreachable, pruned) = if a.prune {
        repository.prune_unreachable(std::time::Duration::from_secs(a.grace))?
    } else {
        (repository.find_unreachable()?, 0)
    };
    if a.json {
        return print_json(&json!({
            "temps_removed": report.removed + full, "temps_kept_live": report.kept_live,
            "unreachable": {"commits": unreachable.commits, "snapshots": unreachable.snapshots, "objects": unreachable.objects},
            "pruned": pruned,
        }));
    }
    println!("removed {} stale temp file(s); {} kept (in use)", report.removed + full, report.kept_live);
    println!(
        "unreachable: {} commit(s), {} snapshot(s), {} object(s){}",
        unreachable.commits.len(),
        unreachable.snapshots.len(),
        unreachable.objects.len(),
        if a.prune { format!("; pruned {pruned} older than {} s", a.grace) } else { " (muse gc --prune removes them)".into() }
    );
    Ok(EXIT_OK)
}
