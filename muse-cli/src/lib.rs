//! The `muse` command (SPEC §10): argument parsing and output only; every
//! operation is a `muse_core` call.
//!
//! Exit codes: 0 ok, 1 user error (bad input, unknown branch, nothing to
//! commit, dirty tree, failed verification), 2 not a repository, 3 internal,
//! I/O or integrity error (data that does not verify, e.g. a tampered bundle).
//! Every command that reports data takes `--json`. Progress
//! bars are drawn on stderr only when it is a terminal.

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::{Component, Path, PathBuf};

use clap::{Args, Parser, Subcommand};
use serde_json::{json, Value};

use muse_core::error::{Error, ErrorKind};
use muse_core::worktree::{self, ChangeKind};
use muse_core::{commits, refs, repo};

/// Exit status: success.
pub const EXIT_OK: i32 = 0;
/// Exit status: user error.
pub const EXIT_USER: i32 = 1;
/// Exit status: not a repository.
pub const EXIT_NOT_REPO: i32 = 2;
/// Exit status: internal or I/O error.
pub const EXIT_INTERNAL: i32 = 3;

#[derive(Parser, Debug)]
#[command(name = "muse", version, about = "muse: a content-addressed version-control engine", propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Create a repository (.muse/) in PATH or the current directory.
    Init(InitArgs),
    /// Stage files: record what the working tree holds for PATHS.
    Add(AddArgs),
    /// Code-oriented commands (`muse code add` = `muse add`).
    Code {
        #[command(subcommand)]
        cmd: CodeCmd,
    },
    /// Record the stage on top of HEAD.
    Commit(CommitArgs),
    /// Show staged, modified, deleted and untracked files.
    Status(StatusArgs),
    /// Show the history of HEAD (first parents), newest first.
    Log(LogArgs),
    /// List, create or delete branches.
    Branch(BranchArgs),
    /// Switch branches (restoring the working tree), or create one with -b.
    Checkout(CheckoutArgs),
    /// Show changed paths between commits or against the working tree.
    Diff(DiffArgs),
    /// Merge a branch into HEAD's branch (fast-forward or three-way).
    Merge(MergeArgs),
    /// Move history between repositories as MPack bundle files.
    Bundle {
        #[command(subcommand)]
        cmd: BundleCmd,
    },
    /// Remove temp files of killed processes; report unreachable data.
    Gc(GcArgs),
    /// Check every object hash, record ID and ref target.
    Verify(JsonArg),
    /// Import (or incrementally update from) a git repository's history.
    ImportGit(ImportGitArgs),
}

#[derive(Subcommand, Debug)]
enum CodeCmd {
    /// Same as `muse add`.
    Add(AddArgs),
}

#[derive(Subcommand, Debug)]
enum BundleCmd {
    /// Write the commits reachable from WANT (branches or commit IDs) and
    /// not from --have into FILE.
    Create {
        /// Bundle file to write.
        file: PathBuf,
        /// Branches or commit IDs to send.
        #[arg(required = true)]
        want: Vec<String>,
        /// Branches or commit IDs the receiver already has.
        #[arg(long)]
        have: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Verify FILE completely and store its history (all or nothing).
    Apply {
        /// Bundle file to read.
        file: PathBuf,
        /// Also create the bundle's branches, or fast-forward existing ones.
        #[arg(long)]
        update_refs: bool,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args, Debug)]
struct JsonArg {
    /// Print machine-readable JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct InitArgs {
    /// Directory to initialise (default: $MUSE_REPO_ROOT, else the current directory).
    path: Option<PathBuf>,
    /// Branch HEAD starts on.
    #[arg(long, default_value = "main")]
    default_branch: String,
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct AddArgs {
    /// Paths to stage (files or directories; `.` for everything).
    paths: Vec<PathBuf>,
    /// Stage every change in the working tree (same as `add .`).
    #[arg(short = 'A', long = "all")]
    all: bool,
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct CommitArgs {
    /// Commit message.
    #[arg(short, long)]
    message: String,
    /// Stage every change of tracked files first.
    #[arg(short = 'a', long = "all")]
    all: bool,
    /// Allow a commit that changes nothing.
    #[arg(long)]
    allow_empty: bool,
    /// Author (default: $MUSE_AUTHOR, else empty).
    #[arg(long)]
    author: Option<String>,
    /// Provenance: the agent making the commit.
    #[arg(long, default_value = "")]
    agent_id: String,
    /// Provenance: the model behind the agent.
    #[arg(long, default_value = "")]
    model_id: String,
    /// Provenance: the toolchain.
    #[arg(long, default_value = "")]
    toolchain_id: String,
    /// Provenance: hash of the prompt.
    #[arg(long, default_value = "")]
    prompt_hash: String,
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct StatusArgs {
    /// Short format: two status letters and the path per line.
    #[arg(short, long)]
    short: bool,
    /// Stable short format for scripts (same as --short).
    #[arg(long)]
    porcelain: bool,
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct LogArgs {
    /// Show at most N commits.
    #[arg(short = 'n', long = "max-count")]
    max_count: Option<usize>,
    /// One line per commit.
    #[arg(long)]
    oneline: bool,
    /// Stream `{"commits": [...]}`, one record at a time.
    #[arg(long)]
    json: bool,
    /// Branch to show (default: HEAD).
    branch: Option<String>,
}

#[derive(Args, Debug)]
struct BranchArgs {
    /// Create a branch with this name at HEAD.
    name: Option<String>,
    /// Delete the named branch.
    #[arg(short, long, value_name = "NAME")]
    delete: Option<String>,
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct CheckoutArgs {
    /// Branch to switch to.
    branch: String,
    /// Create the branch at HEAD and switch to it.
    #[arg(short = 'b')]
    create: bool,
    /// Discard local changes.
    #[arg(short, long)]
    force: bool,
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct DiffArgs {
    /// Old side (commit ID or branch; default HEAD).
    a: Option<String>,
    /// New side (commit ID or branch; default the working tree).
    b: Option<String>,
    /// Print `<letter>\t<path>` per change.
    #[arg(long)]
    name_status: bool,
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct MergeArgs {
    /// Branch to merge.
    branch: Option<String>,
    /// Abandon a conflicted merge: back to HEAD.
    #[arg(long)]
    abort: bool,
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct GcArgs {
    /// Also remove unreachable commits, snapshots and objects older than --grace.
    #[arg(long)]
    prune: bool,
    /// Grace period in seconds: younger unreachable data is kept (a
    /// concurrent writer may be about to reference it).
    #[arg(long, default_value_t = 3600)]
    grace: u64,
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct ImportGitArgs {
    /// The git repository (working tree or bare) to import.
    path: PathBuf,
    /// Then check every imported commit's manifest against `git ls-tree`.
    #[arg(long)]
    verify: bool,
    #[arg(long)]
    json: bool,
}

/// A CLI failure: message and exit status.
struct Fail(i32, String);

impl From<Error> for Fail {
    fn from(e: Error) -> Self {
        let code = match e.kind() {
            ErrorKind::NotARepository => EXIT_NOT_REPO,
            ErrorKind::InvalidInput | ErrorKind::NotFound | ErrorKind::Conflict | ErrorKind::Cli => EXIT_USER,
            ErrorKind::Integrity | ErrorKind::Io => EXIT_INTERNAL,
        };
        Fail(code, e.to_string())
    }
}

impl From<std::io::Error> for Fail {
    fn from(e: std::io::Error) -> Self {
        Fail(EXIT_INTERNAL, format!("output error: {e}"))
    }
}

type R = Result<i32, Fail>;

/// Runs the CLI with `args` (the first item is the program name) and
/// returns the exit status. Never panics across the caller: a panic is
/// caught and reported as an internal error (exit 3).
pub fn run<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USER } else { EXIT_OK };
            let _ = e.print();
            return code;
        }
    };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| dispatch(cli)));
    match result {
        Ok(Ok(code)) => code,
        Ok(Err(Fail(code, msg))) => {
            eprintln!("muse: {msg}");
            code
        }
        Err(_) => {
            eprintln!("muse: internal error (panic); please report it");
            EXIT_INTERNAL
        }
    }
}

fn dispatch(cli: Cli) -> R {
    match cli.cmd {
        Cmd::Init(a) => cmd_init(a),
        Cmd::Add(a) | Cmd::Code { cmd: CodeCmd::Add(a) } => cmd_add(a),
        Cmd::Commit(a) => cmd_commit(a),
        Cmd::Status(a) => cmd_status(a),
        Cmd::Log(a) => cmd_log(a),
        Cmd::Branch(a) => cmd_branch(a),
        Cmd::Checkout(a) => cmd_checkout(a),
        Cmd::Diff(a) => cmd_diff(a),
        Cmd::Merge(a) => cmd_merge(a),
        Cmd::Bundle { cmd } => cmd_bundle(cmd),
        Cmd::Gc(a) => cmd_gc(a),
        Cmd::Verify(a) => cmd_verify(a),
        Cmd::ImportGit(a) => cmd_import_git(a),
    }
}

fn out() -> std::io::BufWriter<std::io::StdoutLock<'static>> {
    std::io::BufWriter::new(std::io::stdout().lock())
}

fn print_json(v: &Value) -> R {
    let mut o = out();
    serde_json::to_writer(&mut o, v).map_err(|e| Fail(EXIT_INTERNAL, e.to_string()))?;
    writeln!(o)?;
    o.flush()?;
    Ok(EXIT_OK)
}

/// The repository for this command (discovery + startup GC), with its
/// `config.toml` checked: a file that does not parse is reported (file and
/// line) by every command, never silently ignored.
fn repo_root() -> Result<PathBuf, Fail> {
    let root = repo::require_repo(None)?;
    check_config(&root)?;
    Ok(root)
}

/// Reads `.muse/config.toml` once (cached for the rest of the command).
fn check_config(root: &Path) -> Result<(), Fail> {
    muse_core::config::Config::load(root)?;
    Ok(())
}

fn operation_json(op: &Option<muse_core::operation::Operation>) -> Value {
    match op {
        None => Value::Null,
        Some(op) => json!({
            "kind": op.kind.as_str(), "target": op.target, "branch": op.branch, "from": op.from, "to": op.to,
            "theirs": op.theirs, "interrupted": op.phase == muse_core::operation::Phase::Applying,
            "conflicts": op.conflicts, "hint": op.resume_hint(),
        }),
    }
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
fn pathspec(root: &Path, p: &Path) -> Result<String, Fail> {
    let cwd = std::env::current_dir().map_err(|e| Fail(EXIT_INTERNAL, e.to_string()))?;
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

fn cmd_init(a: InitArgs) -> R {
    let target = match a.path {
        Some(p) => p,
        None => match std::env::var_os(repo::REPO_ROOT_ENV).filter(|v| !v.is_empty()) {
            Some(p) => PathBuf::from(p),
            None => std::env::current_dir().map_err(|e| Fail(EXIT_INTERNAL, e.to_string()))?,
        },
    };
    let opts = repo::InitOptions { default_branch: a.default_branch.clone(), owner: String::new() };
    let root = repo::init_repo(&target, &opts)?;
    if a.json {
        return print_json(&json!({"root": root, "default_branch": a.default_branch}));
    }
    println!("Initialized empty muse repository in {}", root.join(".muse").display());
    Ok(EXIT_OK)
}

fn progress_bar(total: u64, what: &str) -> Option<indicatif::ProgressBar> {
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

fn cmd_add(a: AddArgs) -> R {
    let root = repo_root()?;
    let mut specs: Vec<String> = Vec::new();
    if a.all {
        specs.push(".".into());
    }
    for p in &a.paths {
        specs.push(pathspec(&root, p)?);
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
    let report = worktree::add(&root, &specs, &mut progress)?;
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

fn cmd_commit(a: CommitArgs) -> R {
    let root = repo_root()?;
    let opts = worktree::CommitOptions {
        message: a.message,
        author: a.author.or_else(|| std::env::var("MUSE_AUTHOR").ok()).unwrap_or_default(),
        all: a.all,
        allow_empty: a.allow_empty,
        agent_id: a.agent_id,
        model_id: a.model_id,
        toolchain_id: a.toolchain_id,
        prompt_hash: a.prompt_hash,
    };
    let rec = worktree::commit(&root, &opts)?;
    if a.json {
        return print_json(&commit_json(&rec));
    }
    let first = rec.message.lines().next().unwrap_or("");
    println!("[{} {}] {}", if rec.branch.is_empty() { "detached HEAD" } else { &rec.branch }, short(&rec.commit_id), first);
    Ok(EXIT_OK)
}

/// A commit that the history being walked names but the store lacks is
/// lost data (exit 3), not a bad name given by the user.
fn missing_in_history(e: Error) -> Error {
    match e {
        Error::NotFound { what: "commit", name } => {
            Error::Missing { what: "commit", id: name, referenced_by: "the history being walked (a ref or a parent)".into() }
        }
        e => e,
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn short(id: &str) -> &str {
    id.strip_prefix("sha256:").map(|h| &h[..12.min(h.len())]).unwrap_or(id)
}

fn commit_json(rec: &muse_core::records::CommitRecord) -> Value {
    serde_json::to_value(rec).unwrap_or(Value::Null)
}

fn cmd_status(a: StatusArgs) -> R {
    let root = repo_root()?;
    let st = worktree::status(&root)?;
    let mut o = out();
    if a.json {
        let (ahead, behind, against) = ahead_behind(&root, &st)?;
        let v = json!({
            "branch": st.branch, "head": st.head, "clean": st.is_clean(),
            "staged": st.staged.iter().map(|(p, k)| json!({"path": p, "status": k.word()})).collect::<Vec<_>>(),
            "unstaged": st.unstaged.iter().map(|(p, k)| json!({"path": p, "status": k.word()})).collect::<Vec<_>>(),
            "untracked": st.untracked, "ahead": ahead, "behind": behind, "compared_to": against,
            "operation": operation_json(&st.operation),
        });
        serde_json::to_writer(&mut o, &v).map_err(|e| Fail(EXIT_INTERNAL, e.to_string()))?;
        writeln!(o)?;
        return Ok(EXIT_OK);
    }
    if a.short || a.porcelain {
        let mut lines: std::collections::BTreeMap<&str, [char; 2]> = Default::default();
        for (p, k) in &st.staged {
            lines.entry(p).or_insert([' ', ' '])[0] = k.letter();
        }
        for (p, k) in &st.unstaged {
            lines.entry(p).or_insert([' ', ' '])[1] = k.letter();
        }
        for (p, [x, y]) in lines {
            writeln!(o, "{x}{y} {p}")?;
        }
        for p in &st.untracked {
            writeln!(o, "?? {p}")?;
        }
        return Ok(EXIT_OK);
    }
    match (&st.branch, &st.head) {
        (Some(b), Some(_)) => {
            writeln!(o, "On branch {b}")?;
            // As git's "Your branch is ahead of …", against the default branch.
            if let (Value::Number(ahead), Value::Number(behind), Value::String(d)) = ahead_behind(&root, &st)? {
                writeln!(o, "Compared to {d}: {ahead} commit(s) ahead, {behind} behind")?;
            }
        }
        (Some(b), None) => writeln!(o, "On branch {b}\n\nNo commits yet")?,
        (None, Some(h)) => writeln!(o, "HEAD detached at {}", short(h))?,
        (None, None) => {}
    }
    if let Some(op) = &st.operation {
        writeln!(o, "\n{}", capitalize(&op.describe()))?;
        if !op.conflicts.is_empty() {
            writeln!(o, "\nUnmerged paths:")?;
            for p in &op.conflicts {
                writeln!(o, "\tboth modified: {p}")?;
            }
        }
    }
    let section = |o: &mut dyn Write, title: &str, items: &[(String, ChangeKind)]| -> std::io::Result<()> {
        if !items.is_empty() {
            writeln!(o, "\n{title}:")?;
            for (p, k) in items {
                writeln!(o, "\t{:<10} {p}", format!("{}:", k.word()))?;
            }
        }
        Ok(())
    };
    section(&mut o, "Changes to be committed", &st.staged)?;
    section(&mut o, "Changes not staged for commit", &st.unstaged)?;
    if !st.untracked.is_empty() {
        writeln!(o, "\nUntracked files:")?;
        for p in &st.untracked {
            writeln!(o, "\t{p}")?;
        }
    }
    if st.is_clean() {
        writeln!(o, "\nnothing to commit, working tree clean")?;
    }
    Ok(EXIT_OK)
}

/// Commits HEAD's branch is ahead of and behind the default branch
/// (`repo.json` `default_branch`, else `main`), counted with
/// `walk_commits_between` from the merge base, capped at 10 000 (then the
/// count is that cap). `null`s when on the default branch or unrelated.
fn ahead_behind(root: &Path, st: &worktree::Status) -> Result<(Value, Value, Value), Fail> {
    let default = std::fs::read_to_string(root.join(".muse").join("repo.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .and_then(|v| v.get("default_branch").and_then(|b| b.as_str()).map(str::to_string))
        .unwrap_or_else(|| "main".into());
    let (Some(branch), Some(head)) = (&st.branch, &st.head) else { return Ok((Value::Null, Value::Null, Value::Null)) };
    if *branch == default {
        return Ok((Value::Null, Value::Null, Value::Null));
    }
    let Some(other) = refs::read_branch_ref(root, &default)? else {
        return Ok((Value::Null, Value::Null, Value::Null));
    };
    let base = muse_core::merge_base::find_merge_base(root, head, &other)?;
    let count = |tip: &str| -> Result<usize, Fail> {
        Ok(commits::walk_commits_between(root, tip, base.as_deref(), 10_000)?.commits.len())
    };
    Ok((json!(count(head)?), json!(count(&other)?), json!(default)))
}

fn cmd_log(a: LogArgs) -> R {
    let root = repo_root()?;
    let tip = match &a.branch {
        Some(b) => Some(refs::read_branch_ref(&root, b)?.ok_or_else(|| Fail(EXIT_USER, format!("unknown branch {b:?}")))?),
        None => refs::resolve_head(&root)?,
    };
    let limit = a.max_count.unwrap_or(usize::MAX);
    let walk = commits::walk_first_parent(&root, tip.as_deref()).take(limit);
    let mut o = out();
    if a.json {
        // Streamed: one record at a time, never the whole history in memory.
        write!(o, "{{\"commits\": [")?;
        for (i, rec) in walk.enumerate() {
            let rec = rec.map_err(missing_in_history)?;
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
    for rec in walk {
        let rec = rec.map_err(missing_in_history)?;
        any = true;
        if a.oneline {
            writeln!(o, "{} {}", short(&rec.commit_id), rec.message.lines().next().unwrap_or(""))?;
        } else {
            writeln!(o, "commit {}", rec.commit_id)?;
            if !rec.author.is_empty() {
                writeln!(o, "Author: {}", rec.author)?;
            }
            writeln!(o, "Date:   {}\n", rec.committed_at)?;
            for line in rec.message.lines() {
                writeln!(o, "    {line}")?;
            }
            writeln!(o)?;
        }
    }
    if !any {
        writeln!(o, "(no commits)")?;
    }
    o.flush()?;
    Ok(EXIT_OK)
}

fn cmd_branch(a: BranchArgs) -> R {
    let root = repo_root()?;
    if let Some(name) = a.delete {
        let (current, _, _) = worktree::head_state(&root)?;
        if current.as_deref() == Some(name.as_str()) {
            return Err(Fail(EXIT_USER, format!("cannot delete the branch {name:?} that HEAD is on")));
        }
        if !refs::delete_branch_ref(&root, &name, None)? {
            return Err(Fail(EXIT_USER, format!("branch {name:?} not found")));
        }
        if a.json {
            return print_json(&json!({"deleted": name}));
        }
        println!("Deleted branch {name}");
        return Ok(EXIT_OK);
    }
    if let Some(name) = a.name {
        let head = refs::resolve_head(&root)?
            .ok_or_else(|| Fail(EXIT_USER, "HEAD has no commit yet; commit before creating branches".into()))?;
        refs::validate_branch_name(&name)?;
        refs::compare_and_swap_branch_ref(&root, &name, None, &head)
            .map_err(|e| match e {
                Error::RefConflict { .. } => Fail(EXIT_USER, format!("a branch named {name:?} already exists")),
                other => other.into(),
            })?;
        if a.json {
            return print_json(&json!({"created": name, "commit": head}));
        }
        println!("Created branch {name} at {}", short(&head));
        return Ok(EXIT_OK);
    }
    let (current, _, _) = worktree::head_state(&root)?;
    let branches = refs::list_branches(&root)?;
    if a.json {
        return print_json(&json!({
            "current": current,
            "branches": branches.iter().map(|(n, c)| json!({"name": n, "commit": c})).collect::<Vec<_>>(),
        }));
    }
    let mut o = out();
    for (n, c) in branches {
        let mark = if current.as_deref() == Some(n.as_str()) { '*' } else { ' ' };
        writeln!(o, "{mark} {n} {}", short(&c))?;
    }
    Ok(EXIT_OK)
}

fn cmd_checkout(a: CheckoutArgs) -> R {
    let root = repo_root()?;
    let report = worktree::checkout(&root, &a.branch, a.create, a.force)?;
    if a.json {
        return print_json(&json!({"branch": a.branch, "written": report.written, "removed": report.removed,
                                  "resumed": report.resumed}));
    }
    if let Some(t) = &report.resumed {
        println!("Finished the interrupted checkout of {t}");
    }
    if a.create {
        println!("Switched to a new branch '{}'", a.branch);
    } else {
        println!("Switched to branch '{}' ({} file(s) written, {} removed)", a.branch, report.written, report.removed);
    }
    Ok(EXIT_OK)
}

/// A commit ID or branch name as a commit ID.
fn resolve_rev(root: &Path, rev: &str) -> Result<String, Fail> {
    if rev == "HEAD" {
        return refs::resolve_head(root)?.ok_or_else(|| Fail(EXIT_USER, "HEAD has no commit yet".into()));
    }
    if rev.starts_with("sha256:") {
        muse_core::ids::validate_id(rev)?;
        commits::load_commit(root, rev)?;
        return Ok(rev.to_string());
    }
    refs::read_branch_ref(root, rev)?.ok_or_else(|| Fail(EXIT_USER, format!("unknown revision {rev:?}")))
}

fn cmd_diff(a: DiffArgs) -> R {
    let root = repo_root()?;
    let old = match &a.a {
        Some(r) => worktree::commit_manifest(&root, &resolve_rev(&root, r)?)?,
        None => worktree::head_state(&root)?.2,
    };
    let new = match &a.b {
        Some(r) => worktree::commit_manifest(&root, &resolve_rev(&root, r)?)?,
        None => worktree::worktree_manifest(&root)?,
    };
    let changes = worktree::diff_manifests(&old, &new);
    if a.json {
        return print_json(&json!({
            "changes": changes.iter().map(|(p, k)| json!({"path": p, "status": k.word(), "old": old.get(p), "new": new.get(p)})).collect::<Vec<_>>(),
        }));
    }
    let mut o = out();
    for (p, k) in &changes {
        if a.name_status {
            writeln!(o, "{}\t{p}", k.letter())?;
        } else {
            let old_id = old.get(p).map(|s| short(s)).unwrap_or("0000000");
            let new_id = new.get(p).map(|s| short(s)).unwrap_or("0000000");
            writeln!(o, "{:<9} {p} ({old_id} -> {new_id})", k.word())?;
        }
    }
    Ok(EXIT_OK)
}

fn cmd_merge(a: MergeArgs) -> R {
    let root = repo_root()?;
    if a.abort {
        worktree::merge_abort(&root)?;
        if a.json {
            return print_json(&json!({"aborted": true}));
        }
        println!("Merge aborted; the working tree is back at HEAD");
        return Ok(EXIT_OK);
    }
    let branch = a.branch.ok_or_else(|| Fail(EXIT_USER, "give a branch to merge (or --abort)".into()))?;
    let author = std::env::var("MUSE_AUTHOR").unwrap_or_default();
    let outcome = worktree::merge(&root, &branch, &author)?;
    let (v, code, text) = match &outcome {
        worktree::MergeOutcome::UpToDate => (json!({"result": "up-to-date"}), EXIT_OK, "Already up to date.".to_string()),
        worktree::MergeOutcome::FastForward { commit } => (
            json!({"result": "fast-forward", "commit": commit}),
            EXIT_OK,
            format!("Fast-forward to {}", short(commit)),
        ),
        worktree::MergeOutcome::Merged { commit } => (
            json!({"result": "merged", "commit": commit}),
            EXIT_OK,
            format!("Merge made: {}", short(commit)),
        ),
        worktree::MergeOutcome::Conflicts { paths } => (
            json!({"result": "conflicts", "paths": paths}),
            EXIT_USER,
            format!(
                "CONFLICT in {}\nFix the files (conflict markers), `muse add` them and `muse commit`; or `muse merge --abort`.",
                paths.join(", ")
            ),
        ),
    };
    if a.json {
        print_json(&v)?;
    } else if code == EXIT_OK {
        println!("{text}");
    } else {
        eprintln!("{text}");
    }
    Ok(code)
}

fn cmd_bundle(cmd: BundleCmd) -> R {
    use muse_core::mpack;
    let root = repo_root()?;
    match cmd {
        BundleCmd::Create { file, want, have, json: as_json } => {
            let want: Vec<String> = want.iter().map(|r| resolve_rev(&root, r)).collect::<Result<_, _>>()?;
            // A full ID the sender does not store is still a valid `have`
            // (the receiver's commit): build_mpack ignores it.
            let have: Vec<String> = have
                .iter()
                .map(|r| if muse_core::ids::is_valid_id(r) { Ok(r.clone()) } else { resolve_rev(&root, r) })
                .collect::<Result<_, _>>()?;
            let m = mpack::build_mpack(&root, &want, &have)?;
            let bytes = mpack::encode_mpack(&m)?;
            std::fs::write(&file, &bytes).map_err(|e| Fail(EXIT_INTERNAL, format!("write {}: {e}", file.display())))?;
            let v = json!({"file": file, "bytes": bytes.len(), "commits": m.commits.len(),
                           "snapshots": m.snapshots.len(), "blobs": m.blobs.len(), "branch_heads": m.branch_heads});
            if as_json {
                return print_json(&v);
            }
            println!(
                "wrote {} ({} bytes): {} commit(s), {} snapshot(s), {} blob(s)",
                file.display(),
                bytes.len(),
                m.commits.len(),
                m.snapshots.len(),
                m.blobs.len()
            );
            Ok(EXIT_OK)
        }
        BundleCmd::Apply { file, update_refs, json: as_json } => {
            let limits = mpack::Limits::default();
            // Size first: a bundle over the limit is refused unread.
            let len = std::fs::metadata(&file).map_err(|e| Fail(EXIT_USER, format!("read {}: {e}", file.display())))?.len();
            if len > limits.max_bundle_bytes {
                return Err(Fail(
                    EXIT_USER,
                    format!("{}: bundle of {len} bytes is over the limit of {} bytes", file.display(), limits.max_bundle_bytes),
                ));
            }
            let bytes = std::fs::read(&file).map_err(|e| Fail(EXIT_USER, format!("read {}: {e}", file.display())))?;
            let m = mpack::decode_mpack(&bytes, &limits)?;
            // What the bundle stores is unreachable until the refs move:
            // the write lock (shared) keeps `gc --prune` out until then.
            let _writing = muse_core::lock::write_lock(&root, muse_core::lock::LockMode::Shared)?;
            let stats = mpack::apply_mpack(&root, &m, &limits)?;
            let mut updated = Vec::new();
            let mut refused = Vec::new();
            let mut why: Vec<(String, String)> = Vec::new();
            if update_refs {
                // The fast-forward rule, and the checked-out branch's
                // working tree, are the core's (worktree::update_branch).
                for (branch, id) in &stats.branch_heads {
                    match worktree::update_branch(&root, branch, id)? {
                        worktree::BranchUpdate::Created | worktree::BranchUpdate::FastForwarded => updated.push(branch.clone()),
                        worktree::BranchUpdate::UpToDate => {}
                        worktree::BranchUpdate::NotFastForward => {
                            refused.push(branch.clone());
                            why.push((branch.clone(), "not a fast-forward".into()));
                        }
                        worktree::BranchUpdate::Refused(reason) => {
                            refused.push(branch.clone());
                            why.push((branch.clone(), reason));
                        }
                    }
                }
            }
            let v = json!({"commits_written": stats.commits_written, "snapshots_written": stats.snapshots_written,
                           "blobs_written": stats.blobs_written, "blobs_skipped": stats.blobs_skipped,
                           "branch_heads": stats.branch_heads, "refs_updated": updated, "refs_not_fast_forward": refused,
                           "refs_refused": why.iter().map(|(b, r)| json!({"branch": b, "reason": r})).collect::<Vec<_>>()});
            if as_json {
                print_json(&v)?;
            } else {
                println!(
                    "applied {}: {} commit(s), {} snapshot(s), {} blob(s) written, {} already present",
                    file.display(),
                    stats.commits_written,
                    stats.snapshots_written,
                    stats.blobs_written,
                    stats.blobs_skipped
                );
                for (b, id) in &stats.branch_heads {
                    println!("  {b} -> {}{}", short(id), if updated.contains(b) { " (updated)" } else { "" });
                }
                for (b, reason) in &why {
                    eprintln!("muse: not updating {b}: {reason}");
                }
            }
            Ok(if refused.is_empty() { EXIT_OK } else { EXIT_USER })
        }
    }
}

fn cmd_gc(a: GcArgs) -> R {
    let root = repo::find_repo(None)?;
    check_config(&root)?;
    let report = repo::startup_gc(&root)?;
    let full = muse_core::object_store::cleanup_stale_object_temps(&root, None)?
        + repo::cleanup_muse_dir_temps(&root.join(".muse"))?;
    // With --prune, reachability is decided and the deletions made under
    // the write lock held exclusively (writers hold it shared until their
    // data is reachable); without, nothing is deleted and no lock is taken.
    let (unreachable, pruned) = if a.prune {
        muse_core::reachability::prune_unreachable(&root, std::time::Duration::from_secs(a.grace))?
    } else {
        (muse_core::reachability::find_unreachable(&root)?, 0)
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

fn cmd_verify(a: JsonArg) -> R {
    let root = repo_root()?;
    let report = muse_core::verify::verify_repo(&root)?;
    if a.json {
        print_json(&json!({
            "ok": report.is_ok(), "objects": report.objects, "commits": report.commits,
            "snapshots": report.snapshots, "refs": report.refs,
            "problems": report.problems.iter().map(|(what, detail)| json!({"item": what, "problem": detail})).collect::<Vec<_>>(),
        }))?;
    } else {
        let mut o = out();
        for (what, detail) in &report.problems {
            writeln!(o, "BAD {what}: {detail}")?;
        }
        writeln!(
            o,
            "checked {} objects, {} commits, {} snapshots, {} refs: {}",
            report.objects,
            report.commits,
            report.snapshots,
            report.refs,
            if report.is_ok() { "ok".to_string() } else { format!("{} problem(s)", report.problems.len()) }
        )?;
    }
    Ok(if report.is_ok() { EXIT_OK } else { EXIT_USER })
}

fn cmd_import_git(a: ImportGitArgs) -> R {
    use muse_core::import_git::{import_git, verify_git_import, ImportOptions};
    let root = repo_root()?;
    // The number of commits to come, for the progress bar (terminal only).
    let total = if std::io::stderr().is_terminal() {
        std::process::Command::new("git")
            .arg("-C")
            .arg(&a.path)
            .args(["rev-list", "--all", "--count"])
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse::<u64>().ok())
            .unwrap_or(0)
    } else {
        0
    };
    let mut pb = progress_bar(total, "importing commits");
    let mut progress = |n: u64| {
        if let Some(pb) = &pb {
            pb.set_position(n);
        }
    };
    let report = import_git(&root, &a.path, &ImportOptions::default(), &mut progress)?;
    if let Some(pb) = pb.take() {
        pb.finish_and_clear();
    }
    let problems = if a.verify { Some(verify_git_import(&root, &a.path)?) } else { None };
    let ok = problems.as_ref().is_none_or(|p| p.is_empty());
    let per_s = if report.seconds > 0.0 { report.commits as f64 / report.seconds } else { 0.0 };
    if a.json {
        let mut v = json!({
            "commits": report.commits, "blobs": report.blobs_written, "bytes": report.bytes,
            "seconds": report.seconds, "commits_per_s": per_s,
            "symlinks_skipped": report.symlinks_skipped, "submodules_skipped": report.submodules_skipped,
            "paths_skipped": report.paths_skipped, "branches": report.branches, "tags": report.tags,
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
            "imported {} commit(s), {} new blob(s) ({} bytes), {} branch(es), {} tag(s) in {:.2} s ({:.0} commits/s)",
            report.commits, report.blobs_written, report.bytes, report.branches, report.tags, report.seconds, per_s
        )?;
        if report.symlinks_skipped + report.submodules_skipped + report.paths_skipped > 0 {
            writeln!(
                o,
                "skipped {} symlink(s), {} submodule(s), {} unrepresentable path(s)",
                report.symlinks_skipped, report.submodules_skipped, report.paths_skipped
            )?;
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
