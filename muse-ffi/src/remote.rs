//! Remotes (SPEC section 13): clone, the configured remotes, fetch, push
//! and pull, over a path or an `http(s)://` URL of a `muse serve` hub.
//! Every function translates its arguments, calls one method of
//! `muse_core::Repository` and translates the result; the rules (and the
//! verification of everything received) live in the core.
//!
//! Results follow the porcelain's conventions: counts in a plain struct
//! (`muse_mpack_stats`, as `muse_mpack_apply` fills), lists as opaque
//! handles with `_len` / `_get` / `_free` (`muse_remote_list`,
//! `muse_ref_update_list`), the outcome of a pull as the outcome of a merge
//! (`muse_merge_kind`, commit ID, `muse_path_list` of conflicts).

use std::ffi::{c_char, CString};

use muse_core::ids::CommitId;
use muse_core::merge::MergeOutcome;
use muse_core::remote::{FetchOptions, FetchReport, PullOutcome, PushReport, RefChange};
use muse_core::Repository;

use crate::error::{guard, guard_value, muse_status, FfiError};
use crate::mpack::muse_mpack_stats;
use crate::porcelain::{muse_merge_kind, muse_path_list, put_outcome};
use crate::repo::{absolute, muse_repository, put_repository};
use crate::util::{c_lossy, cstr, cstr_array, free_handle, handle, into_handle, need, opt_cstr, put};

/// The remote a NULL `remote` argument names.
const DEFAULT_REMOTE: &str = "origin";

fn out_of_range(index: usize, len: usize) -> FfiError {
    FfiError::invalid(format!("index {index} out of range (list has {len} entries)"))
}

// ---------------------------------------------------------------------------
// Clone
// ---------------------------------------------------------------------------

/// Clones the repository at `url` into the new directory `path` (git's
/// `clone`) and opens it: remote `origin` is `url`, every branch of the
/// remote becomes a remote-tracking ref `origin/<branch>`, and the
/// remote's HEAD branch (or `branch`) is created at the remote's commit and
/// checked out. A remote without commits gives an empty repository on its
/// HEAD branch. On failure the directory is removed if this call created
/// it (emptied if it existed empty).
///
/// - `url`: an `http://` / `https://` URL of a `muse serve` hub
///   (`http://HOST:PORT/{owner}/{repo}`; a token is taken from
///   `$MUSE_TOKEN` or the credentials file), `file://` + a path, or the
///   path of a repository on this machine (relative to the current
///   directory).
/// - `path`: the new working-tree root; missing or an empty directory.
/// - `branch`: optional (NULL: the remote's HEAD branch); the branch to
///   check out.
/// - `out`: receives a new handle on success; free it with
///   `muse_repository_free`.
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_UTF8`, `MUSE_E_INVALID_INPUT`
/// (`path` exists and is not empty, an unsupported URL scheme),
/// `MUSE_E_NOT_A_REPOSITORY` (a local `url` that is not a repository),
/// `MUSE_E_NOT_FOUND` (the remote has no branch `branch`),
/// `MUSE_E_REMOTE` (the remote could not be reached or answered with an
/// error), `MUSE_E_INTEGRITY` (what the remote sent does not verify),
/// `MUSE_E_IO`.
///
/// Thread-safe.
///
/// # Safety
/// `url`, `path` and `branch` must be NULL or NUL-terminated strings;
/// `out` must be NULL or point to writable storage for a pointer.
#[no_mangle]
pub unsafe extern "C" fn muse_repository_clone(
    url: *const c_char,
    path: *const c_char,
    branch: *const c_char,
    out: *mut *mut muse_repository,
) -> muse_status {
    guard(|| {
        need(out, "out")?;
        // SAFETY: caller guarantee on the three strings.
        let (url, path, branch) = unsafe { (cstr(url, "url")?, cstr(path, "path")?, opt_cstr(branch, "branch")?) };
        let root = absolute(path)?;
        let repo = Repository::clone_from(url, &root, branch)?;
        // SAFETY: `out` checked non-NULL; caller guarantees it is writable.
        unsafe { put_repository(out, repo) }
    })
}

// ---------------------------------------------------------------------------
// Configured remotes
// ---------------------------------------------------------------------------

/// The configured remotes of a repository, `(name, url)` sorted by name
/// (`muse_repository_remotes`). Freed with `muse_remote_list_free`;
/// independent of the repository handle. Read-only: may be read from
/// several threads at once.
pub struct muse_remote_list {
    items: Vec<(CString, CString)>,
}

/// The configured remotes (`[remote.<name>] url` of `.muse/config.toml`),
/// as a new `muse_remote_list` sorted by name; free it with
/// `muse_remote_list_free`.
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_CAP` (`config.toml` does not
/// parse), `MUSE_E_IO`.
///
/// Thread-safe.
///
/// # Safety
/// `repo` must be NULL or a live handle; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn muse_repository_remotes(
    repo: *const muse_repository,
    out: *mut *mut muse_remote_list,
) -> muse_status {
    guard(|| {
        need(out, "out")?;
        // SAFETY: caller guarantee.
        let repo = unsafe { handle(repo, "repo") }?;
        let items = repo.repo().remotes()?.iter().map(|r| (c_lossy(&r.name), c_lossy(&r.url))).collect();
        // SAFETY: out checked non-NULL and writable (caller).
        unsafe { put(out, into_handle(muse_remote_list { items })) };
        Ok(())
    })
}

/// Adds remote `name` with `url` (git's `remote add`) to
/// `.muse/config.toml`. A path is stored absolute (resolved against the
/// current directory now).
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_UTF8`, `MUSE_E_INVALID_INPUT` (an
/// invalid name, a remote of that name exists, an empty URL or an
/// unsupported scheme), `MUSE_E_CAP` (`config.toml` does not parse),
/// `MUSE_E_IO`.
///
/// # Safety
/// `repo` must be NULL or a live handle; `name`, `url` NULL or
/// NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn muse_repository_remote_add(
    repo: *const muse_repository,
    name: *const c_char,
    url: *const c_char,
) -> muse_status {
    guard(|| {
        // SAFETY: caller guarantees.
        let (repo, name, url) = unsafe { (handle(repo, "repo")?, cstr(name, "name")?, cstr(url, "url")?) };
        repo.repo().add_remote(name, url)?;
        Ok(())
    })
}

/// Removes remote `name` and its remote-tracking refs (git's `remote
/// remove`).
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_UTF8`, `MUSE_E_NOT_FOUND` (no such
/// remote), `MUSE_E_CAP` (`config.toml` does not parse), `MUSE_E_CONFLICT`
/// (a remote-tracking ref moved meanwhile), `MUSE_E_IO`.
///
/// # Safety
/// `repo` must be NULL or a live handle; `name` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn muse_repository_remote_remove(
    repo: *const muse_repository,
    name: *const c_char,
) -> muse_status {
    guard(|| {
        // SAFETY: caller guarantees.
        let (repo, name) = unsafe { (handle(repo, "repo")?, cstr(name, "name")?) };
        repo.repo().remove_remote(name)?;
        Ok(())
    })
}

/// Number of remotes; 0 when `list` is NULL.
///
/// # Safety
/// `list` must be NULL or a live list.
#[no_mangle]
pub unsafe extern "C" fn muse_remote_list_len(list: *const muse_remote_list) -> usize {
    guard_value(0, || {
        // SAFETY: caller guarantee.
        unsafe { handle(list, "list") }.map(|l| l.items.len()).unwrap_or(0)
    })
}

/// The remote at `index` (0-based, in name order).
///
/// - `name_out`: receives its name; `url_out`: its URL or absolute path.
///   Both are borrowed from the list, valid until `muse_remote_list_free`.
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_INVALID_INPUT` (`index` >= length).
///
/// # Safety
/// `list` must be NULL or a live list; the out-pointers NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn muse_remote_list_get(
    list: *const muse_remote_list,
    index: usize,
    name_out: *mut *const c_char,
    url_out: *mut *const c_char,
) -> muse_status {
    guard(|| {
        need(name_out, "name_out")?;
        need(url_out, "url_out")?;
        // SAFETY: caller guarantee.
        let list = unsafe { handle(list, "list") }?;
        let (n, u) = list.items.get(index).ok_or_else(|| out_of_range(index, list.items.len()))?;
        // SAFETY: checked non-NULL, writable (caller).
        unsafe {
            put(name_out, n.as_ptr());
            put(url_out, u.as_ptr());
        }
        Ok(())
    })
}

/// Frees a remote list. NULL is a no-op.
///
/// # Safety
/// `list` must be NULL or a live list, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn muse_remote_list_free(list: *mut muse_remote_list) {
    // SAFETY: forwarded caller guarantee.
    guard_value((), || unsafe { free_handle(list) })
}

// ---------------------------------------------------------------------------
// Ref updates
// ---------------------------------------------------------------------------

/// How a ref changed in a fetch or a push (`muse_ref_update_list_get`).
/// The values are part of the ABI.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum muse_ref_change {
    /// It did not exist.
    MUSE_REF_NEW = 0,
    /// It moved to a descendant of its old commit.
    MUSE_REF_FAST_FORWARD = 1,
    /// Fetch: it moved to a commit that does not descend from the old one
    /// (the remote branch was rewritten). Push: the update was sent with
    /// `force` (it may have been a fast-forward all the same).
    MUSE_REF_FORCED = 2,
    /// It did not move (fetch only).
    MUSE_REF_UP_TO_DATE = 3,
    /// It was removed: the remote branch is gone (a fetch with `prune`).
    MUSE_REF_DELETED = 4,
}

impl From<RefChange> for muse_ref_change {
    fn from(c: RefChange) -> Self {
        match c {
            RefChange::New => muse_ref_change::MUSE_REF_NEW,
            RefChange::FastForward => muse_ref_change::MUSE_REF_FAST_FORWARD,
            RefChange::Forced => muse_ref_change::MUSE_REF_FORCED,
            RefChange::UpToDate => muse_ref_change::MUSE_REF_UP_TO_DATE,
            RefChange::Deleted => muse_ref_change::MUSE_REF_DELETED,
        }
    }
}

struct RefUpdate {
    name: CString,
    /// The old and new commit IDs; empty when absent.
    old: CString,
    new: CString,
    change: muse_ref_change,
}

fn id_c(id: Option<CommitId>) -> CString {
    id.map(|c| c_lossy(&c.to_string())).unwrap_or_default()
}

/// The refs of a fetch (every remote-tracking ref `<remote>/<branch>` of
/// the remote, unchanged ones included) or of a push (the remote branches
/// it moved). Freed with `muse_ref_update_list_free`; independent of the
/// repository handle. Read-only: may be read from several threads at once.
pub struct muse_ref_update_list {
    items: Vec<RefUpdate>,
}

impl muse_ref_update_list {
    fn of_fetch(r: &FetchReport) -> Self {
        let items = r
            .refs
            .iter()
            .map(|u| RefUpdate { name: c_lossy(&u.name), old: id_c(u.old), new: id_c(u.new), change: u.change.into() })
            .collect();
        muse_ref_update_list { items }
    }

    fn of_push(r: &PushReport) -> Self {
        let items = r
            .updates
            .iter()
            .map(|u| {
                let change = match (&u.old, &u.new) {
                    (None, _) => muse_ref_change::MUSE_REF_NEW,
                    (_, None) => muse_ref_change::MUSE_REF_DELETED,
                    _ if u.force => muse_ref_change::MUSE_REF_FORCED,
                    _ => muse_ref_change::MUSE_REF_FAST_FORWARD,
                };
                RefUpdate { name: c_lossy(&u.branch), old: id_c(u.old), new: id_c(u.new), change }
            })
            .collect();
        muse_ref_update_list { items }
    }
}

/// Number of entries; 0 when `list` is NULL.
///
/// # Safety
/// `list` must be NULL or a live list.
#[no_mangle]
pub unsafe extern "C" fn muse_ref_update_list_len(list: *const muse_ref_update_list) -> usize {
    guard_value(0, || {
        // SAFETY: caller guarantee.
        unsafe { handle(list, "list") }.map(|l| l.items.len()).unwrap_or(0)
    })
}

/// The entry at `index` (0-based; a fetch's refs are in name order, a
/// push's updates in the order of its branches).
///
/// - `name_out`: receives the ref: `"<remote>/<branch>"` (fetch) or the
///   remote branch (push).
/// - `old_id_out`, `new_id_out`: optional (may be NULL); receive the commit
///   ID before and after, `""` when the ref did not exist / was deleted.
/// - `change_out`: optional (may be NULL); receives how it changed.
///
/// The strings are borrowed from the list, valid until
/// `muse_ref_update_list_free`.
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_INVALID_INPUT` (`index` >= length).
///
/// # Safety
/// `list` must be NULL or a live list; the out-pointers NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn muse_ref_update_list_get(
    list: *const muse_ref_update_list,
    index: usize,
    name_out: *mut *const c_char,
    old_id_out: *mut *const c_char,
    new_id_out: *mut *const c_char,
    change_out: *mut muse_ref_change,
) -> muse_status {
    guard(|| {
        need(name_out, "name_out")?;
        // SAFETY: caller guarantee.
        let list = unsafe { handle(list, "list") }?;
        let u = list.items.get(index).ok_or_else(|| out_of_range(index, list.items.len()))?;
        // SAFETY: name_out checked non-NULL; the optional out-pointers are
        // written only when non-NULL; all writable (caller).
        unsafe {
            put(name_out, u.name.as_ptr());
            if !old_id_out.is_null() {
                put(old_id_out, u.old.as_ptr());
            }
            if !new_id_out.is_null() {
                put(new_id_out, u.new.as_ptr());
            }
            if !change_out.is_null() {
                put(change_out, u.change);
            }
        }
        Ok(())
    })
}

/// Frees a ref update list. NULL is a no-op.
///
/// # Safety
/// `list` must be NULL or a live list, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn muse_ref_update_list_free(list: *mut muse_ref_update_list) {
    // SAFETY: forwarded caller guarantee.
    guard_value((), || unsafe { free_handle(list) })
}

// ---------------------------------------------------------------------------
// Fetch, push, pull
// ---------------------------------------------------------------------------

fn fetch_stats(r: &FetchReport) -> muse_mpack_stats {
    muse_mpack_stats {
        commits_written: r.commits_written,
        snapshots_written: r.snapshots_written,
        blobs_written: r.blobs_written,
        blobs_skipped: 0,
    }
}

/// Writes the optional stats out-parameter.
///
/// # Safety
/// `out` is NULL or writable.
unsafe fn put_stats(out: *mut muse_mpack_stats, stats: muse_mpack_stats) {
    if !out.is_null() {
        // SAFETY: non-NULL, writable (forwarded caller guarantee).
        unsafe { put(out, stats) };
    }
}

/// Fetches from the configured remote `remote` (git's `fetch`): asks its
/// refs, receives the commits this repository lacks (every record, hash
/// and path verified before anything is stored), then sets every
/// remote-tracking ref `<remote>/<branch>` to the remote's branch, in one
/// transaction. Moves no local branch and touches no working tree.
///
/// - `remote`: optional (NULL means `"origin"`); a configured remote name.
/// - `prune`: also remove the remote-tracking refs of branches gone from
///   the remote (git's `fetch --prune`).
/// - `stats_out`: optional (may be NULL); receives the counts of what was
///   newly stored (`blobs_skipped` is 0: a fetch asks only for what is
///   missing).
/// - `refs_out`: optional (may be NULL); receives a new
///   `muse_ref_update_list` of every remote-tracking ref of the remote and
///   how it changed; free it with `muse_ref_update_list_free`.
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_UTF8`, `MUSE_E_NOT_FOUND` (no such
/// remote; the remote lacks a commit it advertised), `MUSE_E_INVALID_INPUT`
/// (an invalid remote name or URL), `MUSE_E_NOT_A_REPOSITORY` (a local
/// remote that is not a repository), `MUSE_E_REMOTE`, `MUSE_E_INTEGRITY`
/// (what the remote sent does not verify; nothing stored),
/// `MUSE_E_CONFLICT` (a lock stayed busy, a remote-tracking ref moved
/// meanwhile), `MUSE_E_IO`.
///
/// Thread-safe.
///
/// # Safety
/// `repo` must be NULL or a live handle; `remote` NULL or NUL-terminated;
/// `stats_out`, `refs_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn muse_repository_fetch(
    repo: *const muse_repository,
    remote: *const c_char,
    prune: bool,
    stats_out: *mut muse_mpack_stats,
    refs_out: *mut *mut muse_ref_update_list,
) -> muse_status {
    guard(|| {
        // SAFETY: caller guarantees.
        let (repo, remote) = unsafe { (handle(repo, "repo")?, opt_cstr(remote, "remote")?) };
        let report = repo.repo().fetch(remote.unwrap_or(DEFAULT_REMOTE), &FetchOptions { prune })?;
        // SAFETY: the optional out-parameters are written only when
        // non-NULL, and are writable (caller).
        unsafe {
            put_stats(stats_out, fetch_stats(&report));
            if !refs_out.is_null() {
                put(refs_out, into_handle(muse_ref_update_list::of_fetch(&report)));
            }
        }
        Ok(())
    })
}

/// Pushes local branches to the configured remote `remote` (git's `push
/// --atomic`): for each branch the remote's value is read, the commits the
/// remote lacks are sent, and the remote moves every branch from the value
/// read to the local one, all or none. A branch is refused when the remote
/// has commits the local branch does not contain, unless `force`; a
/// remote repository that is not bare refuses to move its checked-out
/// branch (set `[core] bare = true` in its `.muse/config.toml`).
/// Afterwards the remote-tracking refs record the new values.
///
/// - `remote`: optional (NULL means `"origin"`); a configured remote name.
/// - `branches`, `count`: the local branches to push; `count` 0 (with
///   `branches` NULL or not) pushes HEAD's branch.
/// - `force`: allow non-fast-forward updates (the remote's value is still
///   checked against the one read, like git's `--force-with-lease`).
/// - `stats_out`: optional (may be NULL); receives the counts of what the
///   remote newly stored and the blobs it already had.
/// - `updates_out`: optional (may be NULL); receives a new
///   `muse_ref_update_list` of the remote branches moved (empty when every
///   branch was already there); free it with `muse_ref_update_list_free`.
///
/// Errors: `MUSE_E_NULL_ARG` (also for a NULL element), `MUSE_E_UTF8`,
/// `MUSE_E_REJECTED` (a refusal above; nothing changed on the remote),
/// `MUSE_E_NOT_FOUND` (unknown local branch or remote),
/// `MUSE_E_INVALID_INPUT` (detached HEAD and no branch given, an invalid
/// name or URL), `MUSE_E_NOT_A_REPOSITORY`, `MUSE_E_REMOTE`,
/// `MUSE_E_INTEGRITY`, `MUSE_E_CONFLICT` (a lock stayed busy),
/// `MUSE_E_IO`.
///
/// Thread-safe.
///
/// # Safety
/// `repo` must be NULL or a live handle; `remote` NULL or NUL-terminated;
/// `branches` NULL or an array of `count` pointers, each NULL or
/// NUL-terminated; `stats_out`, `updates_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn muse_repository_push(
    repo: *const muse_repository,
    remote: *const c_char,
    branches: *const *const c_char,
    count: usize,
    force: bool,
    stats_out: *mut muse_mpack_stats,
    updates_out: *mut *mut muse_ref_update_list,
) -> muse_status {
    guard(|| {
        // SAFETY: caller guarantees.
        let (repo, remote, branches) = unsafe {
            (handle(repo, "repo")?, opt_cstr(remote, "remote")?, cstr_array(branches, count, "branches")?)
        };
        let branches: Vec<String> = branches.into_iter().map(str::to_string).collect();
        let report = repo.repo().push(remote.unwrap_or(DEFAULT_REMOTE), &branches, force)?;
        let stats = muse_mpack_stats {
            commits_written: report.commits_written,
            snapshots_written: report.snapshots_written,
            blobs_written: report.blobs_written,
            blobs_skipped: report.blobs_skipped,
        };
        // SAFETY: the optional out-parameters are written only when
        // non-NULL, and are writable (caller).
        unsafe {
            put_stats(stats_out, stats);
            if !updates_out.is_null() {
                put(updates_out, into_handle(muse_ref_update_list::of_push(&report)));
            }
        }
        Ok(())
    })
}

/// Fetches from `remote` (as `muse_repository_fetch`), then merges the
/// remote-tracking ref `<remote>/<branch>` into HEAD's branch (git's
/// `pull`), with `muse_repository_merge`'s rules and outcomes: a
/// fast-forward when possible, else a three-way merge and a merge commit
/// by `author`, or a merge stopped on conflicts (a success, see
/// `muse_merge_kind`). On an unborn branch the branch starts at the
/// remote's commit (`MUSE_MERGE_FAST_FORWARD`).
///
/// - `remote`: optional (NULL means `"origin"`).
/// - `branch`: optional (NULL: the name of HEAD's branch); the remote
///   branch to merge.
/// - `author`: optional (NULL means `""`); the author of a merge commit.
/// - `kind_out`: receives what the merge did (`muse_merge_kind`).
/// - `out_id`: optional (may be NULL); a buffer of `MUSE_ID_BUFSIZE` bytes
///   that receives HEAD's new commit for `MUSE_MERGE_FAST_FORWARD` and
///   `MUSE_MERGE_MERGED`, `""` otherwise.
/// - `conflicts_out`: optional (may be NULL); receives a new
///   `muse_path_list` of the conflicting paths (empty unless
///   `MUSE_MERGE_CONFLICTS`); free it with `muse_path_list_free`.
/// - `fetch_stats_out`: optional (may be NULL); receives the counts of the
///   fetch.
///
/// Errors: those of `muse_repository_fetch` and `muse_repository_merge`;
/// `MUSE_E_NOT_FOUND` when the remote has no such branch,
/// `MUSE_E_INVALID_INPUT` on a detached HEAD or a dirty tree. When the
/// fetch succeeded and the merge failed, the remote-tracking refs stay
/// updated (as with git).
///
/// Thread-safe (the merge is serialised by the index lock).
///
/// # Safety
/// `repo` must be NULL or a live handle; `remote`, `branch`, `author` NULL
/// or NUL-terminated; `kind_out`, `conflicts_out`, `fetch_stats_out` NULL
/// or writable; `out_id` NULL or `MUSE_ID_BUFSIZE` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn muse_repository_pull(
    repo: *const muse_repository,
    remote: *const c_char,
    branch: *const c_char,
    author: *const c_char,
    kind_out: *mut muse_merge_kind,
    out_id: *mut c_char,
    conflicts_out: *mut *mut muse_path_list,
    fetch_stats_out: *mut muse_mpack_stats,
) -> muse_status {
    guard(|| {
        need(kind_out, "kind_out")?;
        // SAFETY: caller guarantees.
        let (repo, remote, branch, author) = unsafe {
            (
                handle(repo, "repo")?,
                opt_cstr(remote, "remote")?,
                opt_cstr(branch, "branch")?,
                opt_cstr(author, "author")?,
            )
        };
        let (report, outcome) = repo.repo().pull(remote.unwrap_or(DEFAULT_REMOTE), branch, author.unwrap_or(""))?;
        let outcome = match outcome {
            PullOutcome::UpToDate => MergeOutcome::UpToDate,
            PullOutcome::FastForward { commit } => MergeOutcome::FastForward { commit: commit.to_string() },
            PullOutcome::Merged { commit } => MergeOutcome::Merged { commit: commit.to_string() },
            PullOutcome::Conflicts { paths } => MergeOutcome::Conflicts { paths },
        };
        // SAFETY: kind_out checked non-NULL; the optional out-parameters
        // are written only when non-NULL; sizes and writability per the
        // caller.
        unsafe {
            put_outcome(outcome, kind_out, out_id, conflicts_out);
            put_stats(fetch_stats_out, fetch_stats(&report));
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    fn check(st: muse_status) {
        assert_eq!(st, muse_status::MUSE_OK, "{}", last());
    }

    fn last() -> String {
        // SAFETY: never NULL, NUL-terminated.
        unsafe { CStr::from_ptr(crate::error::muse_last_error_message()) }.to_string_lossy().into_owned()
    }

    fn c(s: &std::path::Path) -> CString {
        CString::new(s.to_str().unwrap()).unwrap()
    }

    #[test]
    fn clone_push_fetch_pull_roundtrip() {
        let tmp = tempfile::tempdir().unwrap();
        let server = tmp.path().join("server");
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        // SAFETY: valid strings and out-pointers throughout; handles freed once.
        unsafe {
            let mut srv: *mut muse_repository = std::ptr::null_mut();
            check(crate::repo::muse_repository_init(c(&server).as_ptr(), std::ptr::null(), &mut srv));
            std::fs::write(server.join("f.txt"), "1\n").unwrap();
            check(crate::porcelain::muse_repository_add_all(srv, std::ptr::null_mut()));
            let mut id = [0 as c_char; crate::MUSE_ID_BUFSIZE];
            check(crate::porcelain::muse_repository_commit(srv, c"one".as_ptr(), std::ptr::null(), id.as_mut_ptr()));
            // A server others push to: bare.
            let cfg = server.join(".muse/config.toml");
            let text = std::fs::read_to_string(&cfg).unwrap().replacen("[core]\n", "[core]\nbare = true\n", 1);
            std::fs::write(&cfg, text).unwrap();

            let (mut ra, mut rb): (*mut muse_repository, *mut muse_repository) = (std::ptr::null_mut(), std::ptr::null_mut());
            check(muse_repository_clone(c(&server).as_ptr(), c(&a).as_ptr(), std::ptr::null(), &mut ra));
            check(muse_repository_clone(c(&server).as_ptr(), c(&b).as_ptr(), c"main".as_ptr(), &mut rb));
            assert_eq!(std::fs::read_to_string(a.join("f.txt")).unwrap(), "1\n");

            let mut list: *mut muse_remote_list = std::ptr::null_mut();
            check(muse_repository_remotes(ra, &mut list));
            assert_eq!(muse_remote_list_len(list), 1);
            let (mut n, mut u) = (std::ptr::null(), std::ptr::null());
            check(muse_remote_list_get(list, 0, &mut n, &mut u));
            assert_eq!(CStr::from_ptr(n).to_str().unwrap(), "origin");
            assert_eq!(CStr::from_ptr(u).to_str().unwrap(), server.to_str().unwrap());
            assert_eq!(muse_remote_list_get(list, 1, &mut n, &mut u), muse_status::MUSE_E_INVALID_INPUT);
            muse_remote_list_free(list);

            std::fs::write(a.join("f.txt"), "2\n").unwrap();
            check(crate::porcelain::muse_repository_add_all(ra, std::ptr::null_mut()));
            check(crate::porcelain::muse_repository_commit(ra, c"two".as_ptr(), std::ptr::null(), id.as_mut_ptr()));
            let mut stats = muse_mpack_stats::default();
            let mut ups: *mut muse_ref_update_list = std::ptr::null_mut();
            check(muse_repository_push(ra, std::ptr::null(), std::ptr::null(), 0, false, &mut stats, &mut ups));
            assert_eq!(stats.commits_written, 1);
            assert_eq!(muse_ref_update_list_len(ups), 1);
            let (mut name, mut old, mut new, mut ch) =
                (std::ptr::null(), std::ptr::null(), std::ptr::null(), muse_ref_change::MUSE_REF_NEW);
            check(muse_ref_update_list_get(ups, 0, &mut name, &mut old, &mut new, &mut ch));
            assert_eq!(CStr::from_ptr(name).to_str().unwrap(), "main");
            assert_eq!(CStr::from_ptr(new), CStr::from_ptr(id.as_ptr()));
            assert_eq!(ch, muse_ref_change::MUSE_REF_FAST_FORWARD);
            muse_ref_update_list_free(ups);

            // b is behind: its push is rejected; pull fast-forwards it.
            std::fs::write(b.join("g.txt"), "g\n").unwrap();
            check(crate::porcelain::muse_repository_add_all(rb, std::ptr::null_mut()));
            let mut idb = [0 as c_char; crate::MUSE_ID_BUFSIZE];
            check(crate::porcelain::muse_repository_commit(rb, c"g".as_ptr(), std::ptr::null(), idb.as_mut_ptr()));
            let main = [c"main".as_ptr()];
            assert_eq!(
                muse_repository_push(rb, c"origin".as_ptr(), main.as_ptr(), 1, false, std::ptr::null_mut(), std::ptr::null_mut()),
                muse_status::MUSE_E_REJECTED
            );
            let mut refs: *mut muse_ref_update_list = std::ptr::null_mut();
            check(muse_repository_fetch(rb, std::ptr::null(), false, &mut stats, &mut refs));
            assert_eq!(stats.commits_written, 1);
            check(muse_ref_update_list_get(refs, 0, &mut name, &mut old, &mut new, &mut ch));
            assert_eq!(CStr::from_ptr(name).to_str().unwrap(), "origin/main");
            assert_eq!(ch, muse_ref_change::MUSE_REF_FAST_FORWARD);
            muse_ref_update_list_free(refs);
            let mut kind = muse_merge_kind::MUSE_MERGE_UP_TO_DATE;
            let mut conflicts: *mut muse_path_list = std::ptr::null_mut();
            check(muse_repository_pull(
                rb,
                std::ptr::null(),
                std::ptr::null(),
                c"bob".as_ptr(),
                &mut kind,
                idb.as_mut_ptr(),
                &mut conflicts,
                std::ptr::null_mut(),
            ));
            assert_eq!(kind, muse_merge_kind::MUSE_MERGE_MERGED);
            assert_eq!(crate::porcelain::muse_path_list_len(conflicts), 0);
            crate::porcelain::muse_path_list_free(conflicts);
            check(muse_repository_push(rb, std::ptr::null(), std::ptr::null(), 0, false, &mut stats, std::ptr::null_mut()));

            // Unknown remote; a URL that is not supported.
            assert_eq!(
                muse_repository_fetch(ra, c"nope".as_ptr(), false, std::ptr::null_mut(), std::ptr::null_mut()),
                muse_status::MUSE_E_NOT_FOUND
            );
            assert_eq!(
                muse_repository_remote_add(ra, c"bad".as_ptr(), c"ftp://x/y".as_ptr()),
                muse_status::MUSE_E_INVALID_INPUT
            );
            check(muse_repository_remote_remove(ra, c"origin".as_ptr()));
            assert_eq!(muse_repository_remote_remove(ra, c"origin".as_ptr()), muse_status::MUSE_E_NOT_FOUND);

            for r in [srv, ra, rb] {
                crate::repo::muse_repository_free(r);
            }
        }
    }
}
