//! `muse gc`: remove temp files of killed processes; report (and with
//! `--prune` remove, loose and packed) unreachable data; repack loose files
//! and small packs into one compressed, delta-encoded pack (git's `gc`).

use clap::Args;
use serde_json::json;

use muse_core::repo;

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
    /// Do not repack (only report, or prune with --prune).
    #[arg(long)]
    no_repack: bool,
    /// Rewrite every pack, not only small ones: deltas and compression are
    /// chosen again over the whole history (slower; git's --aggressive).
    #[arg(long, conflicts_with = "no_repack")]
    aggressive: bool,
    /// Print machine-readable JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `muse gc`.
pub fn run(a: GcArgs, ctx: &CommandContext) -> CmdResult {
    let root = ctx.repo_root_without_startup_gc()?;
    // A progress bar on a terminal (stderr) for the reachability walk.
    let repository = ctx.open(&root)?;
    let report = repository.startup_gc()?;
    let full = repository.cleanup_stale_object_temps(None)? + repo::cleanup_muse_dir_temps(&root.join(".muse"))?;
    // With --prune, reachability is decided and the deletions made under
    // the write lock held exclusively (writers hold it shared until their
    // data is reachable); without, nothing is deleted and no lock is taken.
    let opts = muse_core::reachability::GcOptions {
        prune: a.prune,
        grace: std::time::Duration::from_secs(a.grace),
        repack: !a.no_repack,
        aggressive: a.aggressive,
    };
    let gc = repository.gc(&opts)?;
    let unreachable = &gc.unreachable;
    let pruned = gc.pruned;
    if a.json {
        let repack = gc.repack.as_ref().map(|r| {
            json!({
                "packs_replaced": r.packs_replaced, "loose_removed": r.loose_removed, "entries": r.entries,
                "deltas": r.deltas, "dropped": r.dropped, "bytes_before": r.bytes_before, "bytes_after": r.bytes_after,
                "pack": r.pack.as_ref().map(|p| p.display().to_string()),
            })
        });
        return print_json(&json!({
            "temps_removed": report.removed + full, "temps_kept_live": report.kept_live,
            "unreachable": {"commits": unreachable.commits, "snapshots": unreachable.snapshots, "objects": unreachable.objects},
            "pruned": pruned,
            "repack": repack,
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
    if let Some(r) = &gc.repack {
        if r.pack.is_some() || r.loose_removed > 0 || r.packs_replaced > 0 {
            println!(
                "repacked {} entries ({} deltas) from {} pack(s) and {} loose file(s): {:.1} MiB -> {:.1} MiB",
                r.entries,
                r.deltas,
                r.packs_replaced,
                r.loose_removed,
                r.bytes_before as f64 / 1048576.0,
                r.bytes_after as f64 / 1048576.0
            );
        } else {
            println!("nothing to repack");
        }
    }
    Ok(EXIT_OK)
}
