//! The `muse` subcommands, one module each (argument struct + `run`), and
//! the top-level parser and dispatch.

use clap::{Parser, Subcommand};

use crate::context::CommandContext;
use crate::error::CmdResult;

pub mod add;
pub mod branch;
pub mod bundle;
pub mod checkout;
pub mod clone;
pub mod code;
pub mod commit;
pub mod config;
pub mod diff;
pub mod fetch;
pub mod gc;
pub mod import_git;
pub mod init;
pub mod log;
pub mod merge;
pub mod mv;
pub mod pick;
pub mod pull;
pub mod push;
pub mod remote;
pub mod reset;
pub mod restore;
pub mod rm;
pub mod serve;
pub mod show;
pub mod stash;
pub mod status;
pub mod tag;
pub mod verify;

/// The command line: one subcommand.
#[derive(Parser, Debug)]
#[command(name = "muse", version, about = "muse: a content-addressed version-control engine", propagate_version = true)]
pub struct Cli {
    /// The subcommand to run.
    #[command(subcommand)]
    pub cmd: Command,
}

/// The subcommands of `muse`.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a repository (.muse/) in PATH or the current directory.
    Init(init::InitArgs),
    /// Stage files: record what the working tree holds for PATHS.
    Add(add::AddArgs),
    /// Code-oriented commands (`muse code add` = `muse add`).
    Code {
        /// The `code` subcommand.
        #[command(subcommand)]
        cmd: code::CodeCommand,
    },
    /// Stop tracking files and delete them (--cached: keep the files).
    Rm(rm::RmArgs),
    /// Move or rename a tracked file or directory.
    Mv(mv::MvArgs),
    /// Put paths of the working tree (or, with --staged, the stage) back.
    Restore(restore::RestoreArgs),
    /// Put local changes aside (push, list, pop, apply, drop).
    Stash(stash::StashArgs),
    /// Move HEAD's branch to a commit (--soft, --mixed, --hard).
    Reset(reset::ResetArgs),
    /// Record the stage on top of HEAD.
    Commit(commit::CommitArgs),
    /// Show staged, modified, deleted and untracked files.
    Status(status::StatusArgs),
    /// Show the history of a revision (every ancestor), newest first.
    Log(log::LogArgs),
    /// Show a commit: its header and the patch of what it changed.
    Show(show::ShowArgs),
    /// List, create or delete branches.
    Branch(branch::BranchArgs),
    /// List, create or delete tags.
    Tag(tag::TagArgs),
    /// Switch branches (restoring the working tree), or create one with -b.
    Checkout(checkout::CheckoutArgs),
    /// Show changes as a unified patch (or --stat, --name-status, ...):
    /// stage vs working tree, --cached, or between revisions.
    Diff(diff::DiffArgs),
    /// Merge a branch or commit into HEAD's branch (fast-forward, or a
    /// three-way merge, line by line).
    Merge(merge::MergeArgs),
    /// Apply a commit's change on top of HEAD as a new commit.
    CherryPick(pick::PickArgs),
    /// Undo a commit's change on top of HEAD as a new commit.
    Revert(pick::PickArgs),
    /// Move history between repositories as MPack bundle files.
    Bundle {
        /// The `bundle` subcommand.
        #[command(subcommand)]
        cmd: bundle::BundleCommand,
    },
    /// Remove temp files of killed processes; report unreachable data.
    Gc(gc::GcArgs),
    /// Check every object hash, record ID and ref target.
    Verify(verify::VerifyArgs),
    /// Import (or incrementally update from) a git repository's history.
    ImportGit(import_git::ImportGitArgs),
    /// Get and set repository settings (.muse/config.toml).
    Config(config::ConfigArgs),
    /// Host repositories over HTTP (the hub); init-repo, token.
    Serve(serve::ServeArgs),
    /// List, add and remove remotes.
    Remote(remote::RemoteArgs),
    /// Make a new repository from a remote and check out its HEAD branch.
    Clone(clone::CloneArgs),
    /// Receive a remote's new history; update its remote-tracking refs.
    Fetch(fetch::FetchArgs),
    /// Send branches to a remote (all move, or none).
    Push(push::PushArgs),
    /// Fetch, then fast-forward or merge the remote branch.
    Pull(pull::PullArgs),
}

/// Runs `cmd` in `ctx`; returns its exit status or the failure to report.
pub fn run_command(cmd: Command, ctx: &CommandContext) -> CmdResult {
    match cmd {
        Command::Init(a) => init::run(a, ctx),
        Command::Add(a) => add::run(a, ctx),
        Command::Code { cmd } => code::run(cmd, ctx),
        Command::Rm(a) => rm::run(a, ctx),
        Command::Mv(a) => mv::run(a, ctx),
        Command::Restore(a) => restore::run(a, ctx),
        Command::Stash(a) => stash::run(a, ctx),
        Command::Reset(a) => reset::run(a, ctx),
        Command::Commit(a) => commit::run(a, ctx),
        Command::Status(a) => status::run(a, ctx),
        Command::Log(a) => log::run(a, ctx),
        Command::Show(a) => show::run(a, ctx),
        Command::Branch(a) => branch::run(a, ctx),
        Command::Tag(a) => tag::run(a, ctx),
        Command::Checkout(a) => checkout::run(a, ctx),
        Command::Diff(a) => diff::run(a, ctx),
        Command::Merge(a) => merge::run(a, ctx),
        Command::CherryPick(a) => pick::run(a, false, ctx),
        Command::Revert(a) => pick::run(a, true, ctx),
        Command::Bundle { cmd } => bundle::run(cmd, ctx),
        Command::Gc(a) => gc::run(a, ctx),
        Command::Verify(a) => verify::run(a, ctx),
        Command::ImportGit(a) => import_git::run(a, ctx),
        Command::Config(a) => config::run(a, ctx),
        Command::Serve(a) => serve::run(a, ctx),
        Command::Remote(a) => remote::run(a, ctx),
        Command::Clone(a) => clone::run(a, ctx),
        Command::Fetch(a) => fetch::run(a, ctx),
        Command::Push(a) => push::run(a, ctx),
        Command::Pull(a) => pull::run(a, ctx),
    }
}
