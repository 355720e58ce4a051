//! `muse bundle create|apply|verify`: move history between repositories as
//! bundle files (the streaming format v2 of `muse_core::bundle`; `apply`
//! and `verify` also read v1 MPack files).

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::json;

use muse_core::checkout::BranchUpdate;
use muse_core::ids::CommitId;
use muse_core::{bundle, mpack, Repository};

use crate::context::CommandContext;
use crate::error::{CmdResult, Fail, EXIT_OK, EXIT_USER};
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
    /// Check FILE completely (every entry decoded and verified) and that
    /// this repository has its prerequisite commits; store nothing.
    Verify(VerifyArgs),
}

/// Arguments of `muse bundle verify`.
#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// Bundle file to check.
    file: PathBuf,
    /// Print machine-readable JSON.
    #[arg(long)]
    json: bool,
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
        BundleCommand::Verify(a) => run_verify(a, ctx),
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

/// Runs `muse bundle create`: writes a v2 bundle file (streamed through a
/// temporary file renamed into place when complete).
pub fn run_create(a: CreateArgs, ctx: &CommandContext) -> CmdResult {
    let root = ctx.repo_root()?;
    let CreateArgs { file, want, have, json: as_json } = a;
    let repo = ctx.open(&root)?;
    let want: Vec<CommitId> =
        want.iter().map(|r| Ok(CommitId::parse(&resolve_rev(&repo, r)?)?)).collect::<Result<_, Fail>>()?;
    let have: Vec<CommitId> =
        have.iter().map(|r| Ok(CommitId::parse(&resolve_have(&repo, r)?)?)).collect::<Result<_, Fail>>()?;
    let st = repo.create_bundle(&file, &want, &have)?;
    let v = json!({"file": file, "format_version": bundle::BUNDLE_FORMAT_VERSION, "bytes": st.bytes,
                   "commits": st.commits, "snapshots": st.snapshots, "blobs": st.blobs,
                   "blob_deltas": st.blob_deltas, "blobs_reused": st.blobs_reused, "prerequisites": st.prerequisites,
                   "branch_heads": st.branch_heads});
    if as_json {
        return print_json(&v);
    }
    println!(
        "wrote {} ({} bytes): {} commit(s), {} snapshot(s), {} blob(s) ({} as deltas)",
        file.display(),
        st.bytes,
        st.commits,
        st.snapshots,
        st.blobs,
        st.blob_deltas
    );
    if !st.prerequisites.is_empty() {
        println!("the bundle requires {} commit(s) the receiver must have:", st.prerequisites.len());
        for p in &st.prerequisites {
            println!("  {}", short(p));
        }
    }
    Ok(EXIT_OK)
}

/// Runs `muse bundle verify`: `FILE is okay` (git's words) or the first
/// problem; exit 0 or the error's code.
pub fn run_verify(a: VerifyArgs, ctx: &CommandContext) -> CmdResult {
    let root = ctx.repo_root()?;
    let VerifyArgs { file, json: as_json } = a;
    let limits = mpack::Limits::default();
    check_bundle_file(&file, &limits)?;
    let repo = ctx.open(&root)?;
    let info = repo.verify_bundle(&file, &limits)?;
    if as_json {
        return print_json(&json!({"file": file, "ok": true, "format_version": info.version,
                                  "commits": info.commits, "snapshots": info.snapshots, "blobs": info.blobs,
                                  "prerequisites": info.prerequisites, "branch_heads": info.branch_heads}));
    }
    println!("The bundle contains {} ref(s):", info.branch_heads.len());
    for (b, id) in &info.branch_heads {
        println!("{id} refs/heads/{b}");
    }
    if info.prerequisites.is_empty() {
        println!("The bundle records a complete history.");
    } else {
        println!("The bundle requires these {} ref(s):", info.prerequisites.len());
        for p in &info.prerequisites {
            println!("{p}");
        }
    }
    println!("{} is okay", file.display());
    Ok(EXIT_OK)
}

/// Refuses a missing file, and a v1 (MPack map) file over
/// `limits.max_bundle_bytes` unread (v2 files have no size limit).
fn check_bundle_file(file: &std::path::Path, limits: &mpack::Limits) -> Result<(), Fail> {
    let len = std::fs::metadata(file)
        .map_err(|e| Fail(EXIT_USER, format!("could not open '{}': {e}", file.display())))?
        .len();
    if bundle::bundle_format(file)? == bundle::BundleFormat::MPackV1 && len > limits.max_bundle_bytes {
        return Err(Fail(
            EXIT_USER,
            format!("{}: bundle of {len} bytes is over the limit of {} bytes", file.display(), limits.max_bundle_bytes),
        ));
    }
    Ok(())
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
    check_bundle_file(&file, &limits)?;
    // What the bundle stores is unreachable until the refs move:
    // the write lock (shared) keeps `gc --prune` out until then.
    let _writing = muse_core::lock::write_lock(&root, muse_core::lock::LockMode::Shared)?;
    let repo = ctx.open(&root)?;
    // A repository without branches takes the bundle's branches and checks
    // one out (git's first checkout after a clone), --update-refs or not.
    let first_contact = repo.branches()?.is_empty() && repo.head()?.is_none();
    // v2 (streamed, bounded memory) or v1 (an MPack map), by the magic.
    let stats = repo.apply_bundle(&file, &limits)?;
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
