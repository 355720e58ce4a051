//! Output helpers shared by the commands: buffered stdout, `--json`
//! printing, progress bars (stderr, terminals only) and short IDs.

use std::io::{IsTerminal, Write};

use serde_json::Value;

use crate::error::{CmdResult, Fail, EXIT_INTERNAL, EXIT_OK};

/// Buffered, locked stdout for a command's output.
pub fn out() -> std::io::BufWriter<std::io::StdoutLock<'static>> {
    std::io::BufWriter::new(std::io::stdout().lock())
}

/// Prints `v` as one line of JSON on stdout; exit status 0.
pub fn print_json(v: &Value) -> CmdResult {
    let mut o = out();
    serde_json::to_writer(&mut o, v).map_err(|e| Fail(EXIT_INTERNAL, e.to_string()))?;
    writeln!(o)?;
    o.flush()?;
    Ok(EXIT_OK)
}

/// A progress bar for `total` steps labelled `what`, drawn on stderr; none
/// when stderr is not a terminal or the job is small (under 200 steps).
pub fn progress_bar(total: u64, what: &str) -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() || total < 200 {
        return None;
    }
    let pb = indicatif::ProgressBar::new(total);
    if let Ok(style) = indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({eta})") {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.set_message(what.to_string());
    Some(pb)
}

/// `s` with its first character upper-cased.
pub fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// The short form of an ID: the first 12 hex digits of a `sha256:` ID
/// (anything else unchanged).
pub fn short(id: &str) -> &str {
    id.strip_prefix("sha256:").map(|h| &h[..12.min(h.len())]).unwrap_or(id)
}

/// Writes a commit the way `log` and `show` print it (git's medium
/// format): `commit <id>` (wrapped in `color`/`reset` escapes, empty for
/// none), `Merge:` for two parents, `Author:`, `Date:`, the indented
/// message and a blank line.
pub fn write_commit(
    o: &mut impl std::io::Write,
    rec: &muse_core::records::CommitRecord,
    color: &str,
    reset: &str,
) -> std::io::Result<()> {
    writeln!(o, "{color}commit {}{reset}", rec.commit_id)?;
    if rec.parent2_commit_id.is_some() {
        // git prints every parent of an octopus merge.
        let all: Vec<&str> = rec.all_parents().into_iter().map(short).collect();
        writeln!(o, "Merge: {}", all.join(" "))?;
    }
    if !rec.author.is_empty() {
        // An imported commit's author field may carry git's committer
        // (muse_core::import_git::split_author): git's medium format shows
        // the author only.
        writeln!(o, "Author: {}", muse_core::import_git::split_author(&rec.author).author)?;
    }
    writeln!(o, "Date:   {}\n", rec.committed_at)?;
    for line in rec.message.lines() {
        writeln!(o, "    {line}")?;
    }
    writeln!(o)
}

/// Prints a command's outcome: `v` as JSON with `json`, else `text` on
/// stdout (exit code 0) or stderr (any other `code`); returns `code`.
pub fn report(json: bool, v: &Value, code: i32, text: &str) -> CmdResult {
    if json {
        print_json(v)?;
    } else if code == crate::error::EXIT_OK {
        println!("{text}");
    } else {
        eprintln!("{text}");
    }
    Ok(code)
}

/// A progress sink for the core's long operations ([`muse_core::repository::Progress`])
/// that draws one bar per phase on stderr when it is a terminal (none for
/// jobs under 200 items); finished bars are cleared.
pub fn terminal_progress() -> Option<muse_core::repository::Progress> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar: std::sync::Mutex<Option<(String, indicatif::ProgressBar)>> = std::sync::Mutex::new(None);
    Some(std::sync::Arc::new(move |what: &str, done: u64, total: u64| {
        let mut g = bar.lock().unwrap_or_else(|p| p.into_inner());
        if g.as_ref().is_none_or(|(w, pb)| w != what || pb.length() != Some(total)) {
            if let Some((_, old)) = g.take() {
                old.finish_and_clear();
            }
            *g = progress_bar(total, what).map(|pb| (what.to_string(), pb));
        }
        if let Some((_, pb)) = g.as_ref() {
            pb.set_position(done);
            if done >= total {
                pb.finish_and_clear();
            }
        }
    }))
}
