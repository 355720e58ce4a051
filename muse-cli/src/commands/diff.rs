//! `muse diff`: git's `diff`: the unified patch (or `--stat`,
//! `--name-only`, `--name-status`, `--json`) between the index and the
//! working tree, a revision and the index (`--cached`), a revision and the
//! working tree, or two revisions.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use muse_core::diff::{filter_paths, quote_path, DiffEntry, FilePatch, PatchOptions};
use muse_core::Repository;
use serde_json::json;

use crate::context::CommandContext;
use crate::error::{CmdResult, Fail, EXIT_OK, EXIT_USER};
use crate::revision::resolve_rev;
use crate::ui::{out, print_json};

/// When `muse diff` colours its output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    /// Only when stdout is a terminal.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// Arguments of `muse diff`.
#[derive(Args, Debug)]
pub struct DiffArgs {
    /// Old side: a revision (commit ID, branch, HEAD, `~n`, `^n`). Without
    /// it: the index (or HEAD with --cached). With it alone: compared with
    /// the working tree (or with the index with --cached).
    a: Option<String>,
    /// New side: a revision (compare two revisions).
    b: Option<String>,
    /// Show the staged changes: HEAD (or A) against the index.
    #[arg(long, visible_alias = "staged")]
    cached: bool,
    /// Show `path | N ++--` per file and a summary line instead of the patch.
    #[arg(long)]
    stat: bool,
    /// Show only the names of the changed files.
    #[arg(long, conflicts_with = "name_status")]
    name_only: bool,
    /// Show `<letter>\t<path>` per change (A added, M modified, D deleted).
    #[arg(long)]
    name_status: bool,
    /// Lines of context around each change (git's -U<n>).
    #[arg(short = 'U', long = "unified", value_name = "N", default_value_t = 3)]
    unified: usize,
    /// Print one JSON object: per changed file its path, status, old and new
    /// blob IDs, added and deleted line counts (null when binary), and patch.
    #[arg(long)]
    json: bool,
    /// Colour the patch and stat: auto (only when stdout is a terminal),
    /// always or never.
    #[arg(long, value_name = "WHEN", value_enum, default_value_t = ColorWhen::Auto, num_args = 0..=1, require_equals = true, default_missing_value = "always")]
    color: ColorWhen,
    /// Exit with status 1 when there are differences (0 when none).
    #[arg(long)]
    exit_code: bool,
    /// Limit the diff to these paths (files or directories), given after `--`.
    #[arg(last = true, value_name = "PATHS")]
    paths: Vec<PathBuf>,
}

/// git's diff colours.
pub(crate) struct Palette {
    meta: &'static str,
    frag: &'static str,
    old: &'static str,
    new: &'static str,
    reset: &'static str,
}

impl Palette {
    /// The escape that starts a header line (empty without colour).
    pub(crate) fn meta_color(&self) -> &'static str {
        self.meta
    }

    /// The escape that ends a coloured span.
    pub(crate) fn reset_color(&self) -> &'static str {
        self.reset
    }
}

/// Colours on.
pub(crate) const COLOR: Palette = Palette { meta: "\x1b[1m", frag: "\x1b[36m", old: "\x1b[31m", new: "\x1b[32m", reset: "\x1b[m" };
/// Colours off.
pub(crate) const PLAIN: Palette = Palette { meta: "", frag: "", old: "", new: "", reset: "" };

/// The entries `a` asks for, in path order.
fn entries(a: &DiffArgs, repo: &Repository) -> Result<Vec<DiffEntry>, Fail> {
    let a_id = a.a.as_deref().map(|r| resolve_rev(repo, r)).transpose()?;
    let b_id = a.b.as_deref().map(|r| resolve_rev(repo, r)).transpose()?;
    Ok(match (a.cached, a_id, b_id) {
        (true, _, Some(_)) => return Err(Fail(EXIT_USER, "--cached takes at most one revision".into())),
        (true, a, None) => repo.diff_cached(a.as_deref())?,
        (false, None, _) => repo.diff_index()?,
        (false, Some(a), None) => repo.diff_worktree(Some(&a))?,
        (false, Some(a), Some(b)) => repo.diff(Some(&a), Some(&b))?,
    })
}

/// Runs `muse diff`.
pub fn run(a: DiffArgs, ctx: &CommandContext) -> CmdResult {
    let root = ctx.repo_root()?;
    let repo = Repository::open(&root)?;
    let specs = a.paths.iter().map(|p| super::add::pathspec(&root, p, ctx)).collect::<Result<Vec<_>, _>>()?;
    let changes = filter_paths(entries(&a, &repo)?, &specs);
    let status = if a.exit_code && !changes.is_empty() { 1 } else { EXIT_OK };
    let opts = PatchOptions { context_lines: a.unified };
    let colored = match a.color {
        ColorWhen::Always => true,
        ColorWhen::Never => false,
        ColorWhen::Auto => std::io::stdout().is_terminal(),
    };
    let pal = if colored && !a.json { &COLOR } else { &PLAIN };
    if a.json {
        let mut files = Vec::with_capacity(changes.len());
        for c in &changes {
            let p = repo.file_patch(c, &opts)?;
            let (added, deleted) = p.line_counts().unzip();
            files.push(json!({
                "path": c.path, "status": c.status.word(), "old": c.old_id, "new": c.new_id,
                "added": added, "deleted": deleted, "binary": p.binary, "patch": p.text(),
            }));
        }
        print_json(&json!({ "changes": files }))?;
        return Ok(status);
    }
    let listing = if a.name_only {
        Listing::NameOnly
    } else if a.name_status {
        Listing::NameStatus
    } else if a.stat {
        Listing::Stat
    } else {
        Listing::Patch
    };
    let mut o = out();
    write_changes(&mut o, &repo, &changes, &opts, listing, pal)?;
    o.flush()?;
    Ok(status)
}

/// How `diff` and `show` list changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Listing {
    /// The paths (`--name-only`).
    NameOnly,
    /// `<letter>\t<path>` (`--name-status`).
    NameStatus,
    /// `path | N ++--` and a summary (`--stat`).
    Stat,
    /// The unified patch (the default).
    Patch,
}

/// Writes `changes` as `listing` says, patches with `opts`, coloured by
/// `pal`.
pub(crate) fn write_changes(
    o: &mut impl Write,
    repo: &Repository,
    changes: &[DiffEntry],
    opts: &PatchOptions,
    listing: Listing,
    pal: &Palette,
) -> Result<(), Fail> {
    match listing {
        Listing::NameOnly | Listing::NameStatus => {
            for c in changes {
                let name = quote_path("", &c.path);
                if listing == Listing::NameStatus {
                    writeln!(o, "{}\t{name}", c.status.letter())?;
                } else {
                    writeln!(o, "{name}")?;
                }
            }
        }
        Listing::Stat => {
            let patches = changes.iter().map(|c| repo.file_patch(c, opts)).collect::<Result<Vec<_>, _>>()?;
            write_stat(o, changes, &patches, pal)?;
        }
        Listing::Patch => {
            for c in changes {
                write_patch(o, &repo.file_patch(c, opts)?, pal)?;
            }
        }
    }
    Ok(())
}

/// Writes one file's patch, coloured by `pal` (git's scheme: header lines
/// bold, `@@ … @@` cyan, removed lines red, added lines green).
fn write_patch(o: &mut impl Write, p: &FilePatch, pal: &Palette) -> std::io::Result<()> {
    if pal.reset.is_empty() {
        return o.write_all(&p.bytes);
    }
    let mut header = true;
    for line in p.bytes.split_inclusive(|&b| b == b'\n') {
        let body = line.strip_suffix(b"\n").unwrap_or(line);
        if line.starts_with(b"diff --git ") {
            header = true;
        }
        if line.starts_with(b"@@ ") {
            header = false;
        }
        let (color, text, tail): (&str, &[u8], &[u8]) = if header {
            if body.starts_with(b"Binary files ") { ("", body, b"") } else { (pal.meta, body, b"") }
        } else if body.starts_with(b"@@ ") {
            // `@@ -l,s +l,s @@` in cyan, the function name after it plain.
            let end = body[3..].windows(2).position(|w| w == b"@@").map(|i| i + 5).unwrap_or(body.len());
            (pal.frag, &body[..end], &body[end..])
        } else if body.starts_with(b"-") {
            (pal.old, body, b"")
        } else if body.starts_with(b"+") {
            (pal.new, body, b"")
        } else {
            ("", body, b"")
        };
        if color.is_empty() {
            o.write_all(text)?;
        } else {
            o.write_all(color.as_bytes())?;
            o.write_all(text)?;
            o.write_all(pal.reset.as_bytes())?;
        }
        o.write_all(tail)?;
        if line.ends_with(b"\n") {
            o.write_all(b"\n")?;
        }
    }
    Ok(())
}

/// git's `scale_linear`: `it` of `max` scaled to `width` columns (at least
/// one column for a non-zero count).
fn scale_linear(it: usize, width: usize, max: usize) -> usize {
    if it == 0 || max == 0 {
        0
    } else {
        1 + it * width.saturating_sub(1) / max
    }
}

/// The number of decimal digits of `n`.
fn decimal_width(n: usize) -> usize {
    n.to_string().len()
}

/// Writes git's `--stat`: ` path | N ++--` per file (binary files:
/// ` path | Bin <old> -> <new> bytes`), scaled to `$COLUMNS` (default 80)
/// as git does, then ` N files changed, X insertions(+), Y deletions(-)`.
fn write_stat(o: &mut impl Write, changes: &[DiffEntry], patches: &[FilePatch], pal: &Palette) -> std::io::Result<()> {
    if changes.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = changes.iter().map(|c| quote_path("", &c.path)).collect();
    let max_len = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
    let (mut max_change, mut bin_width, mut number_width) = (0usize, 0usize, 0usize);
    for p in patches {
        if p.binary {
            bin_width = bin_width.max(14 + decimal_width(p.new_size) + decimal_width(p.old_size));
            number_width = 3;
        } else {
            max_change = max_change.max(p.added + p.deleted);
        }
    }
    let width = std::env::var("COLUMNS").ok().and_then(|c| c.parse::<usize>().ok()).filter(|&c| c > 0).unwrap_or(80);
    number_width = number_width.max(decimal_width(max_change));
    let width = width.max(16 + 6 + number_width);
    let mut graph_width = if max_change + 4 > bin_width { max_change } else { bin_width - 4 };
    let mut name_width = max_len;
    if name_width + number_width + 6 + graph_width > width {
        let cap = (width * 3 / 8).saturating_sub(number_width + 6);
        if graph_width > cap {
            graph_width = cap.max(6);
        }
        if name_width > width.saturating_sub(number_width + 6 + graph_width) {
            name_width = width.saturating_sub(number_width + 6 + graph_width);
        } else {
            graph_width = width - number_width - 6 - name_width;
        }
    }
    let (mut insertions, mut deletions) = (0usize, 0usize);
    for (name, p) in names.iter().zip(patches) {
        // A name too wide keeps its end, after `...` (git's rule).
        let len = name.chars().count();
        let shown = if len > name_width {
            let keep = name_width.saturating_sub(3);
            let tail: String = name.chars().skip(len - keep).collect();
            format!("...{tail}")
        } else {
            name.clone()
        };
        if p.binary {
            write!(o, " {shown:<name_width$} | {:>number_width$}", "Bin")?;
            if p.old_size == 0 && p.new_size == 0 {
                writeln!(o)?;
            } else {
                writeln!(o, " {}{}{} -> {}{}{} bytes", pal.old, p.old_size, pal.reset, pal.new, p.new_size, pal.reset)?;
            }
            continue;
        }
        insertions += p.added;
        deletions += p.deleted;
        let (mut add, mut del) = (p.added, p.deleted);
        if graph_width <= max_change {
            let mut total = scale_linear(add + del, graph_width, max_change);
            if total < 2 && add > 0 && del > 0 {
                total = 2;
            }
            if add < del {
                add = scale_linear(add, graph_width, max_change);
                del = total - add;
            } else {
                del = scale_linear(del, graph_width, max_change);
                add = total - del;
            }
        }
        let n = p.added + p.deleted;
        write!(o, " {shown:<name_width$} | {n:>number_width$}{}", if n > 0 { " " } else { "" })?;
        if add > 0 {
            write!(o, "{}{}{}", pal.new, "+".repeat(add), pal.reset)?;
        }
        if del > 0 {
            write!(o, "{}{}{}", pal.old, "-".repeat(del), pal.reset)?;
        }
        writeln!(o)?;
    }
    let files = changes.len();
    let mut summary = format!(" {files} file{} changed", if files == 1 { "" } else { "s" });
    if insertions > 0 || deletions == 0 {
        summary += &format!(", {insertions} insertion{}(+)", if insertions == 1 { "" } else { "s" });
    }
    if deletions > 0 || insertions == 0 {
        summary += &format!(", {deletions} deletion{}(-)", if deletions == 1 { "" } else { "s" });
    }
    writeln!(o, "{summary}")
}
