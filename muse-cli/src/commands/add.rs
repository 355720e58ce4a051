//! `muse add` (and `muse code add`): stage files.

use std::path::{Component, Path, PathBuf};

use clap::Args;
use serde_json::json;


use crate::context::CommandContext;
use crate::error::{CmdResult, Fail, EXIT_OK, EXIT_USER};
use crate::ui::{print_json, progress_bar};

/// Arguments of `muse add` (and `muse code add`).
#[derive(Args, Debug)]
pub struct AddArgs {
    /// Paths to stage (files or directories; `.` for everything).
    paths: Vec<PathBuf>,
    /// Stage every change in the working tree (same as `add .`).
    #[arg(short = 'A', long = "all")]
    all: bool,
    /// Print machine-readable JSON.
    #[arg(long)]
    json: bool,
}

/// Lexically normalises `p` (no filesystem access): removes `.`, resolves
/// `..` against earlier components.
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// A path given on the command line (relative to the current directory) as
/// a repository-relative pathspec (`.` for the root).
// TODO(core): which paths are valid pathspecs (inside the repository,
// UTF-8, not under `.muse/`) is policy; the core should check it.
pub(crate) fn pathspec(root: &Path, p: &Path, ctx: &CommandContext) -> Result<String, Fail> {
    let cwd = ctx.current_dir()?;
    let abs_root = normalize(&if root.is_absolute() { root.to_path_buf() } else { cwd.join(root) });
    let abs = normalize(&cwd.join(p));
    let rel = abs
        .strip_prefix(&abs_root)
        .map_err(|_| Fail(EXIT_USER, format!("{} is outside the repository at {}", p.display(), abs_root.display())))?;
    if rel.as_os_str().is_empty() {
        return Ok(".".into());
    }
    let s = rel
        .to_str()
        .ok_or_else(|| Fail(EXIT_USER, format!("{} is not valid UTF-8", p.display())))?
        .to_string();
    if s == ".muse" || s.starts_with(".muse/") {
        return Err(Fail(EXIT_USER, format!("{} is inside .muse/", p.display())));
    }
    Ok(s)
}

/// Runs `muse add`.
pub fn run(a: AddArgs, ctx: &CommandContext) -> CmdResult {
    let root = ctx.repo_root()?;
    let mut specs: Vec<String> = Vec::new();
    if a.all {
        specs.push(".".into());
    }
    for p in &a.paths {
        specs.push(pathspec(&root, p, ctx)?);
    }
    if specs.is_empty() {
        return Err(Fail(EXIT_USER, "nothing specified, nothing added (give paths, `.` or -A)".into()));
    }
    let mut pb: Option<indicatif::ProgressBar> = None;
    let mut progress = |done: usize, total: usize| {
        if pb.is_none() && done == 1 {
            pb = progress_bar(total as u64, "storing blobs");
        }
        if let Some(pb) = &pb {
            pb.set_position(done as u64);
        }
    };
    let report = muse_core::Repository::open(&root)?.add(&specs, &mut progress)?;
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    if a.json {
        return print_json(&json!({
            "staged": report.staged, "removed": report.removed,
            "blobs_written": report.blobs_written, "bytes_written": report.bytes_written,
        }));
    }
    println!(
        "staged {} file(s), {} removal(s); stored {} new blob(s), {} bytes",
        report.staged.len(),
        report.removed.len(),
        report.blobs_written,
        report.bytes_written
    );
    Ok(EXIT_OK)
}
