//! `muse import-git`: import (or incrementally update from) a git
//! repository's history.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use clap::Args;
use serde_json::json;

use muse_core::import_git::ImportOptions;

use crate::context::CommandContext;
use crate::error::{CmdResult, EXIT_OK, EXIT_USER};
use crate::ui::{out, print_json, progress_bar};

/// Arguments of `muse import-git`.
#[derive(Args, Debug)]
pub struct ImportGitArgs {
    /// The git repository (working tree or bare) to import.
    path: PathBuf,
    /// Then check every imported commit's manifest against `git ls-tree`.
    #[arg(long)]
    verify: bool,
    /// Import a git branch that the muse branch of that name cannot follow
    /// by fast-forward (it has commits git does not know, or git rewrote
    /// its history) as branch `<PREFIX><branch>` instead of refusing, e.g.
    /// `--rename-conflicting git/`.
    #[arg(long, value_name = "PREFIX")]
    rename_conflicting: Option<String>,
    /// Print machine-readable JSON.
    #[arg(long)]
    json: bool,
}

/// The number of commits to come, for the progress bar (terminal only):
/// `git rev-list --all --count` in `path`, 0 when stderr is not a terminal
/// or git cannot tell.
fn commits_to_import(path: &Path) -> u64 {
    if !std::io::stderr().is_terminal() {
        return 0;
    }
    std::process::Command::new("git")
        .arg("-C")
        .arg(path)
        .args(["rev-list", "--all", "--count"])
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(0)
}

/// Runs `muse import-git`: exit 1 when `--verify` found a problem.
pub fn run(a: ImportGitArgs, ctx: &CommandContext) -> CmdResult {
    let repo = ctx.repository()?;
    // The number of commits to come, for the progress bar (terminal only).
    let total = commits_to_import(&a.path);
    let mut pb = progress_bar(total, "importing commits");
    let mut progress = |n: u64| {
        if let Some(pb) = &pb {
            pb.set_position(n);
        }
    };
    // A repository without commits follows the imported HEAD branch and
    // checks it out (git's first checkout after a clone).
    let first_contact = repo.head()?.is_none();
    let report = match repo.import_git_with(&a.path, &ImportOptions::default(), a.rename_conflicting.as_deref(), &mut progress) {
        Ok(r) => r,
        // Refused before writing anything (a non-fast-forward): with
        // --verify, what the user asked to check is still checked and
        // reported (a damaged `.muse/git-map` is one cause of a refusal).
        Err(e @ muse_core::error::Error::InvalidInput(_)) if a.verify => {
            if let Some(pb) = pb.take() {
                pb.finish_and_clear();
            }
            let problems = repo.verify_git_import(&a.path)?;
            if a.json {
                print_json(&json!({
                    "commits": 0, "refused": e.to_string(), "verified": problems.is_empty(), "problems": problems,
                }))?;
            } else {
                eprintln!("muse: {e}");
                let mut o = out();
                for p in &problems {
                    writeln!(o, "problem: {p}")?;
                }
                writeln!(o, "verify: {}", if problems.is_empty() { "ok".to_string() } else { format!("{} problem(s)", problems.len()) })?;
            }
            return Ok(EXIT_USER);
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(pb) = pb.take() {
        pb.finish_and_clear();
    }
    let arrived = if first_contact { repo.arrived_branch(report.head_branch.as_deref())? } else { None };
    let checkout = arrived.map(|b| {
        let r = repo.checkout_arrived(&b);
        (b, r)
    });
    let problems = if a.verify { Some(repo.verify_git_import(&a.path)?) } else { None };
    let ok = problems.as_ref().is_none_or(|p| p.is_empty());
    let per_s = if report.seconds > 0.0 { report.commits as f64 / report.seconds } else { 0.0 };
    if a.json {
        let mut v = json!({
            "commits": report.commits, "blobs": report.blobs_written, "bytes": report.bytes,
            "seconds": report.seconds, "commits_per_s": per_s,
            "symlinks_skipped": report.symlinks_skipped, "submodules_skipped": report.submodules_skipped,
            "paths_skipped": report.paths_skipped, "branches": report.branches, "tags": report.tags,
            "tags_kept": report.tags_kept, "remote_refs": report.remote_refs,
            "renamed": report.renamed.iter().map(|(g, m)| json!({"git": g, "muse": m})).collect::<Vec<_>>(),
            "kept_ahead": report.kept_ahead, "head_moved": report.head_moved, "head_refused": report.head_refused,
            "checked_out": checkout.as_ref().and_then(|(b, r)| r.is_ok().then_some(b)),
            "checkout_refused": checkout.as_ref().and_then(|(_, r)| r.as_ref().err().map(ToString::to_string)),
        });
        if let Some(p) = &problems {
            v["verified"] = json!(p.is_empty());
            v["problems"] = json!(p);
        }
        print_json(&v)?;
    } else {
        let mut o = out();
        writeln!(
            o,
            "imported {} commit(s), {} new blob(s) ({} bytes), {} branch(es), {} tag(s), {} remote-tracking ref(s) in {:.2} s ({:.0} commits/s)",
            report.commits, report.blobs_written, report.bytes, report.branches, report.tags, report.remote_refs, report.seconds, per_s
        )?;
        if report.symlinks_skipped + report.submodules_skipped + report.paths_skipped > 0 {
            writeln!(
                o,
                "skipped {} symlink(s), {} submodule(s), {} unrepresentable path(s)",
                report.symlinks_skipped, report.submodules_skipped, report.paths_skipped
            )?;
        }
        for (g, m) in &report.renamed {
            writeln!(o, "git branch {g} imported as {m} (muse's {g} has commits git does not know)")?;
        }
        for b in &report.kept_ahead {
            writeln!(o, "branch {b} kept: it is ahead of git's")?;
        }
        if report.tags_kept > 0 {
            writeln!(o, "{} git tag(s) not written: a muse tag of that name names another commit", report.tags_kept)?;
        }
        if let Some(b) = &report.head_moved {
            writeln!(o, "checked-out branch {b} fast-forwarded with its working tree")?;
        }
        if let Some(w) = &report.head_refused {
            eprintln!("muse: {w}");
        }
        match &checkout {
            Some((b, Ok(r))) => writeln!(o, "checked out branch {b} ({} file(s) written)", r.written)?,
            Some((_, Err(e))) => eprintln!("muse: {e}"),
            None => {}
        }
        if let Some(p) = &problems {
            for line in p {
                writeln!(o, "BAD {line}")?;
            }
            writeln!(o, "verify: {}", if p.is_empty() { "ok".to_string() } else { format!("{} problem(s)", p.len()) })?;
        }
    }
    Ok(if ok { EXIT_OK } else { EXIT_USER })
}
