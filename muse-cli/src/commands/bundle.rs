//! `muse bundle create|apply`: move history between repositories as MPack
//! bundle files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use serde_json::json;

use muse_core::checkout::BranchUpdate;
use muse_core::ids::CommitId;
use muse_core::{mpack, Repository};

use crate::context::CommandContext;
use crate::error::{CmdResult, Fail, EXIT_INTERNAL, EXIT_OK, EXIT_USER};
use crate::revision::resolve_rev;
use crate::ui::{print_json, short};

/// The subcommands of `muse bundle`.
#[derive(Subcommand, Debug)]
pub enum BundleCommand {
    /// Write the commits reachable from WANT (branches or commit IDs) and
    /// not from --have into FILE.
    Create(CreateArgs),
    /// Verify FILE completely and store its history (all or nothing).
    Apply(ApplyArgs),
}

/// Arguments of `muse bundle create`.
#[derive(Args, Debug)]
pub struct CreateArgs {
    /// Bundle file to write.
    file: PathBuf,
    /// Branches or commit IDs to send.
    #[arg(required = true)]
    want: Vec<String>,
    /// Branches or commit IDs the receiver already has.
    #[arg(long)]
    have: Vec<String>,
    /// Print machine-readable JSON.
    #[arg(long)]
    json: bool,
}

/// Arguments of `muse bundle apply`.
#[derive(Args, Debug)]
pub struct ApplyArgs {
    /// Bundle file to read.
    file: PathBuf,
    /// Also create the bundle's branches, or fast-forward existing ones.
    #[arg(long)]
    update_refs: bool,
    /// Print machine-readable JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `muse bundle <cmd>`.
pub fn run(cmd: BundleCommand, ctx: &CommandContext) -> CmdResult {
    match cmd {
        BundleCommand::Create(a) => run_create(a, ctx),
        BundleCommand::Apply(a) => run_apply(a, ctx),
    }
}

/// A `--have` revision as a commit ID.
// TODO(core): accepting unknown full IDs as `have` is policy; swap for a
// core call (with `revision::resolve_rev`) when it exists.
fn resolve_have(repo: &Repository, rev: &str) -> Result<String, Fail> {
    // A full ID the sender does not store is still a valid `have`
    // (the receiver's commit): build_mpack ignores it.
    if muse_core::ids::is_valid_id(rev) {
        Ok(rev.to_string())
    } else {
        resolve_rev(repo, rev)
    }
}

/// Runs `muse bundle create`.
pub fn run_create(a: CreateArgs, ctx: &CommandContext) -> CmdResult {
    let root = ctx.repo_root()?;
    let CreateArgs { file, want, have, json: as_json } = a;
    let repo = Repository::open(&root)?;
    let want: Vec<CommitId> =
        want.iter().map(|r| Ok(CommitId::parse(&resolve_rev(&repo, r)?)?)).collect::<Result<_, Fail>>()?;
    let have: Vec<CommitId> =
        have.iter().map(|r| Ok(CommitId::parse(&resolve_have(&repo, r)?)?)).collect::<Result<_, Fail>>()?;
    let m = repo.build_mpack(&want, &have)?;
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

/// Reads the bundle `file` whole: one over `limits.max_bundle_bytes` is a
/// user error, as is a file that cannot be read.
// TODO(core): the size-before-read rule belongs with the core's bundle
// limits (e.g. a core "read bundle file" call).
fn read_bundle_file(file: &Path, limits: &mpack::Limits) -> Result<Vec<u8>, Fail> {
    // Size first: a bundle over the limit is refused unread.
    let len = std::fs::metadata(file).map_err(|e| Fail(EXIT_USER, format!("read {}: {e}", file.display())))?.len();
    if len > limits.max_bundle_bytes {
        return Err(Fail(
            EXIT_USER,
            format!("{}: bundle of {len} bytes is over the limit of {} bytes", file.display(), limits.max_bundle_bytes),
        ));
    }
    std::fs::read(file).map_err(|e| Fail(EXIT_USER, format!("read {}: {e}", file.display())))
}

/// What `--update-refs` did to the bundle's branches.
#[derive(Debug, Default)]
struct RefUpdates {
    /// Branches created or fast-forwarded.
    updated: Vec<String>,
    /// Branches left alone (not a fast-forward, or refused by the core).
    refused: Vec<String>,
    /// Each refused branch with the reason.
    why: Vec<(String, String)>,
}

/// `bundle apply --update-refs`: creates each of the bundle's branches, or
/// fast-forwards it; a branch that would not fast-forward, or that the core
/// refuses to move, is left alone and reported (the command then exits 1).
// TODO(core): the --update-refs rule (which outcomes count as updated or
// refused, and their reasons) is policy; swap for a core call when it
// exists.
fn update_refs_from_bundle(repo: &Repository, branch_heads: &BTreeMap<String, String>) -> Result<RefUpdates, Fail> {
    // The fast-forward rule, and the checked-out branch's
    // working tree, are the core's (Repository::update_branch).
    let mut r = RefUpdates::default();
    for (branch, id) in branch_heads {
        match repo.update_branch(branch, id)? {
            BranchUpdate::Created | BranchUpdate::FastForwarded => r.updated.push(branch.clone()),
            BranchUpdate::UpToDate => {}
            BranchUpdate::NotFastForward => {
                r.refused.push(branch.clone());
                r.why.push((branch.clone(), "not a fast-forward".into()));
            }
            BranchUpdate::Refused(reason) => {
                r.refused.push(branch.clone());
                r.why.push((branch.clone(), reason));
            }
        }
    }
    Ok(r)
}

/// Runs `muse bundle apply`.
pub fn run_apply(a: ApplyArgs, ctx: &CommandContext) -> CmdResult {
    let root = ctx.repo_root()?;
    let ApplyArgs { file, update_refs, json: as_json } = a;
    let limits = mpack::Limits::default();
    let bytes = read_bundle_file(&file, &limits)?;
    let m = mpack::decode_mpack(&bytes, &limits)?;
    // What the bundle stores is unreachable until the refs move:
    // the write lock (shared) keeps `gc --prune` out until then.
    let _writing = muse_core::lock::write_lock(&root, muse_core::lock::LockMode::Shared)?;
    let repo = ctx.open(&root)?;
    // A repository without branches takes the bundle's branches and checks
    // one out (git's first checkout after a clone), --update-refs or not.
    let first_contact = repo.branches()?.is_empty() && repo.head()?.is_none();
    let stats = repo.apply_mpack(&m, &limits)?;
    let mut checkout = None;
    let RefUpdates { updated, refused, why } = if first_contact && !stats.branch_heads.is_empty() {
        let (created, c) = repo.adopt_branches(&stats.branch_heads)?;
        checkout = c;
        RefUpdates { updated: created, ..RefUpdates::default() }
    } else if update_refs {
        update_refs_from_bundle(&repo, &stats.branch_heads)?
    } else {
        RefUpdates::default()
    };
    let v = json!({"commits_written": stats.commits_written, "snapshots_written": stats.snapshots_written,
                   "blobs_written": stats.blobs_written, "blobs_skipped": stats.blobs_skipped,
                   "branch_heads": stats.branch_heads, "refs_updated": updated, "refs_not_fast_forward": refused,
                   "refs_refused": why.iter().map(|(b, r)| json!({"branch": b, "reason": r})).collect::<Vec<_>>(),
                   "checked_out": checkout.as_ref().and_then(|(b, r)| r.is_ok().then_some(b)),
                   "checkout_refused": checkout.as_ref().and_then(|(_, r)| r.as_ref().err().map(ToString::to_string))});
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
        match &checkout {
            Some((b, Ok(r))) => println!("checked out branch {b} ({} file(s) written)", r.written),
            Some((_, Err(e))) => eprintln!("muse: {e}"),
            None => {}
        }
    }
    Ok(if refused.is_empty() { EXIT_OK } else { EXIT_USER })
}
