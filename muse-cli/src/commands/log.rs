//! `muse log`: the history of HEAD or a revision, newest first (every
//! parent followed, each commit once: git's default order by commit time).

use std::io::Write;

use clap::Args;


use crate::context::CommandContext;
use crate::error::{CmdResult, Fail, EXIT_INTERNAL, EXIT_OK};
use crate::revision::resolve_rev;
use crate::ui::{out, short};

/// Arguments of `muse log`.
#[derive(Args, Debug)]
pub struct LogArgs {
    /// Show at most N commits.
    #[arg(short = 'n', long = "max-count")]
    max_count: Option<usize>,
    /// One line per commit.
    #[arg(long)]
    oneline: bool,
    /// Stream `{"commits": [...]}`, one record at a time.
    #[arg(long)]
    json: bool,
    /// Follow only first parents (a branch's own history; merges as
    /// single steps).
    #[arg(long)]
    first_parent: bool,
    /// Draw the history as a graph beside the commits (`*` a commit, `|`
    /// a line of descent, `\` a merge's second parent, `/` lines joining).
    #[arg(long)]
    graph: bool,
    /// Revision to start from: a branch, a tag, a commit ID, `HEAD~2`, ...
    /// (default: HEAD).
    branch: Option<String>,
    /// Only commits that change these paths (files or directories), given
    /// after `--`.
    #[arg(last = true)]
    paths: Vec<std::path::PathBuf>,
}

/// Runs `muse log`.
pub fn run(a: LogArgs, ctx: &CommandContext) -> CmdResult {
    let repo = ctx.repository()?;
    let start = match a.branch.as_deref() {
        Some(rev) => resolve_rev(&repo, rev)?,
        None => "HEAD".to_string(),
    };
    let limit = a.max_count.unwrap_or(usize::MAX);
    let root = ctx.repo_root()?;
    let paths = a.paths.iter().map(|p| crate::commands::add::pathspec(&root, p, ctx)).collect::<Result<Vec<_>, _>>()?;
    let opts = muse_core::log::LogOptions { first_parent: a.first_parent, paths };
    let walk = repo.log_with(&start, &opts)?.take(limit);
    let mut o = out();
    if a.json {
        // Streamed: one record at a time, never the whole history in memory.
        write!(o, "{{\"commits\": [")?;
        for (i, rec) in walk.enumerate() {
            let rec = rec?;
            if i > 0 {
                write!(o, ", ")?;
            }
            serde_json::to_writer(&mut o, &rec).map_err(|e| Fail(EXIT_INTERNAL, e.to_string()))?;
        }
        writeln!(o, "]}}")?;
        o.flush()?;
        return Ok(EXIT_OK);
    }
    let mut any = false;
    let mut graph = a.graph.then(crate::graph::Graph::new);
    for rec in walk {
        let rec = rec?;
        any = true;
        let (prefix, after) = match graph.as_mut() {
            Some(g) => {
                let parents: Vec<&str> =
                    if a.first_parent { rec.parent_commit_id.as_deref().into_iter().collect() } else { rec.parents().collect() };
                let (row, after) = g.commit(&rec.commit_id, &parents);
                (format!("{row} "), after)
            }
            None => (String::new(), Vec::new()),
        };
        if a.oneline {
            writeln!(o, "{prefix}{} {}", short(&rec.commit_id), rec.message.lines().next().unwrap_or(""))?;
        } else if let Some(g) = graph.as_ref() {
            let mut text = Vec::new();
            crate::ui::write_commit(&mut text, &rec, "", "")?;
            let cont = g.continuation();
            for (i, line) in String::from_utf8_lossy(&text).lines().enumerate() {
                let p = if i == 0 { prefix.clone() } else if cont.is_empty() { String::new() } else { format!("{cont} ") };
                writeln!(o, "{}", format!("{p}{line}").trim_end())?;
            }
        } else {
            crate::ui::write_commit(&mut o, &rec, "", "")?;
        }
        for line in after {
            writeln!(o, "{line}")?;
        }
    }
    if !any {
        writeln!(o, "(no commits)")?;
    }
    o.flush()?;
    Ok(EXIT_OK)
}
