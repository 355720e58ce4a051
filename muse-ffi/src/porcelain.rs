//! The porcelain of `muse_repository` (SPEC sections 10 and 11): add,
//! commit, status, diff, checkout, branches, merge, revisions, log. Every
//! function translates its arguments, calls one method of
//! `muse_core::Repository` and translates the result; the rules live in
//! the core.

use std::ffi::{c_char, CString};

use muse_core::commit::CommitOptions;
use muse_core::manifest::ChangeKind;
use muse_core::merge::MergeOutcome;
use muse_core::stage::AddReport;
use muse_core::status::FileStatus;

use crate::error::{guard, guard_value, muse_status, FfiError};
use crate::records::muse_commit;
use crate::repo::muse_repository;
use crate::util::{
    c_lossy, copy_to_buffer, cstr, cstr_array, free_handle, handle, into_handle, need, opt_cstr, put, put_id,
    put_opt_id,
};

// ---------------------------------------------------------------------------
// Plain types
// ---------------------------------------------------------------------------

/// The state of one path on one side of a status entry
/// (`muse_status_list_get`), or the change of a diff entry
/// (`muse_diff_list_get`). The values are part of the ABI.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum muse_file_status {
    /// No change on this side (status only).
    MUSE_FILE_UNCHANGED = 0,
    /// New: in the newer side only (in the stage but not in HEAD; in `b`
    /// but not in `a`).
    MUSE_FILE_ADDED = 1,
    /// Content changed.
    MUSE_FILE_MODIFIED = 2,
    /// Removed: in the older side only.
    MUSE_FILE_DELETED = 3,
    /// In the working tree only: neither in HEAD nor staged (status, the
    /// worktree side only).
    MUSE_FILE_UNTRACKED = 4,
}

impl From<Option<FileStatus>> for muse_file_status {
    fn from(s: Option<FileStatus>) -> Self {
        match s {
            None => muse_file_status::MUSE_FILE_UNCHANGED,
            Some(FileStatus::Added) => muse_file_status::MUSE_FILE_ADDED,
            Some(FileStatus::Modified) => muse_file_status::MUSE_FILE_MODIFIED,
            Some(FileStatus::Deleted) => muse_file_status::MUSE_FILE_DELETED,
            Some(FileStatus::Untracked) => muse_file_status::MUSE_FILE_UNTRACKED,
        }
    }
}

impl From<ChangeKind> for muse_file_status {
    fn from(k: ChangeKind) -> Self {
        match k {
            ChangeKind::Added => muse_file_status::MUSE_FILE_ADDED,
            ChangeKind::Modified => muse_file_status::MUSE_FILE_MODIFIED,
            ChangeKind::Deleted => muse_file_status::MUSE_FILE_DELETED,
        }
    }
}

/// What `muse_repository_merge` did. The values are part of the ABI.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum muse_merge_kind {
    /// The other side is already contained in HEAD: nothing changed.
    MUSE_MERGE_UP_TO_DATE = 0,
    /// HEAD's branch moved forward to the other side's commit (the commit
    /// ID is returned).
    MUSE_MERGE_FAST_FORWARD = 1,
    /// A merge commit with two parents was made and HEAD's branch moved to
    /// it (its ID is returned).
    MUSE_MERGE_MERGED = 2,
    /// Both sides changed some paths differently (the conflict paths are
    /// returned). The working tree holds the merge with git-style conflict
    /// markers around each conflicting hunk (`<<<<<<< HEAD`, `|||||||
    /// base`, `=======`, `>>>>>>> <rev>`: git's diff3 style) in those files,
    /// the clean part of the merge is staged and the merge is in progress:
    /// resolve the files, `muse_repository_add` them, then
    /// `muse_repository_commit` records a commit with two parents; or
    /// `muse_repository_merge_abort`.
    MUSE_MERGE_CONFLICTS = 3,
}

/// What `muse_repository_add` / `_add_all` staged. A plain struct owned by
/// the caller.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct muse_add_stats {
    /// Paths staged as added or modified.
    pub staged: usize,
    /// Paths staged as removed (tracked, missing from the working tree).
    pub removed: usize,
    /// Blobs newly stored.
    pub blobs_written: usize,
    /// Bytes of the blobs newly stored.
    pub bytes_written: u64,
}

impl From<&AddReport> for muse_add_stats {
    fn from(r: &AddReport) -> Self {
        muse_add_stats {
            staged: r.staged.len(),
            removed: r.removed.len(),
            blobs_written: r.blobs_written,
            bytes_written: r.bytes_written,
        }
    }
}

fn out_of_range(index: usize, len: usize) -> FfiError {
    FfiError::invalid(format!("index {index} out of range (list has {len} entries)"))
}

// ---------------------------------------------------------------------------
// Stage and commit
// ---------------------------------------------------------------------------

/// Writes the optional stats out-parameter.
///
/// # Safety
/// `out` is NULL or writable.
unsafe fn put_stats(out: *mut muse_add_stats, report: &AddReport) {
    if !out.is_null() {
        // SAFETY: non-NULL, writable (forwarded caller guarantee).
        unsafe { put(out, muse_add_stats::from(report)) };
    }
}

/// Stages what the working tree holds for `paths` (git's `add`): new and
/// modified files are stored as blobs and staged, tracked files missing
/// from the working tree are staged as removals. A path is
/// repository-relative (`"src/main.c"`); a directory selects everything
/// below it and `"."` selects everything. Runs under the index lock.
///
/// - `paths`, `count`: an array of `count` pathspecs; `paths` may be NULL
///   only when `count` is 0 (which stages nothing).
/// - `stats_out`: optional (may be NULL); receives what was staged.
///
/// Errors: `MUSE_E_NULL_ARG` (also for a NULL element), `MUSE_E_UTF8`,
/// `MUSE_E_INVALID_INPUT` (a pathspec that matches nothing, a file changed
/// while being added, a checkout or merge interrupted mid-way),
/// `MUSE_E_CONFLICT` (the index lock stayed busy), `MUSE_E_INTEGRITY`,
/// `MUSE_E_IO`. On error the stage is unchanged.
///
/// Thread-safe (serialised with other porcelain calls by the index lock).
///
/// # Safety
/// `repo` must be NULL or a live handle; `paths` NULL or an array of
/// `count` pointers, each NULL or NUL-terminated; `stats_out` NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn muse_repository_add(
    repo: *const muse_repository,
    paths: *const *const c_char,
    count: usize,
    stats_out: *mut muse_add_stats,
) -> muse_status {
    guard(|| {
        // SAFETY: caller guarantees.
        let (repo, paths) = unsafe { (handle(repo, "repo")?, cstr_array(paths, count, "paths")?) };
        let specs: Vec<String> = paths.into_iter().map(str::to_string).collect();
        let report = repo.repo().add(&specs, &mut |_, _| {})?;
        // SAFETY: caller guarantee on stats_out.
        unsafe { put_stats(stats_out, &report) };
        Ok(())
    })
}

/// Stages every change of the working tree (`muse_repository_add` of
/// `"."`, git's `add -A`): new, modified and removed files.
///
/// - `stats_out`: optional (may be NULL); receives what was staged.
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_INVALID_INPUT` (an empty working
/// tree and stage: `"."` matches nothing; a file changed while being
/// added; an interrupted checkout or merge), `MUSE_E_CONFLICT` (index lock
/// busy), `MUSE_E_INTEGRITY`, `MUSE_E_IO`.
///
/// Thread-safe (serialised by the index lock).
///
/// # Safety
/// `repo` must be NULL or a live handle; `stats_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn muse_repository_add_all(
    repo: *const muse_repository,
    stats_out: *mut muse_add_stats,
) -> muse_status {
    guard(|| {
        // SAFETY: caller guarantee.
        let repo = unsafe { handle(repo, "repo") }?;
        let report = repo.repo().add_all()?;
        // SAFETY: caller guarantee on stats_out.
        unsafe { put_stats(stats_out, &report) };
        Ok(())
    })
}

/// Records the stage on top of HEAD (git's `commit`): the new snapshot is
/// HEAD's files with the staged changes applied (every other tracked file
/// carries forward); snapshot and commit are stored, HEAD's branch is
/// moved to the commit by compare-and-swap (a detached HEAD is moved
/// itself), and the stage is emptied. `committed_at` is now (UTC).
///
/// With a merge in progress (`muse_repository_merge` returned
/// `MUSE_MERGE_CONFLICTS`) the commit concludes it: it records two
/// parents, HEAD's commit and the merged one, and the merge state is
/// removed. Every conflicted file must have been resolved and added first.
///
/// - `message`: the commit message.
/// - `author`: optional (NULL means `""`).
/// - `out_id`: a buffer of `MUSE_ID_BUFSIZE` bytes; receives the new
///   commit's ID.
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_UTF8`, `MUSE_E_INVALID_INPUT`
/// ("nothing to commit"; a merge in progress with unresolved paths, which
/// the message names; an interrupted checkout or merge),
/// `MUSE_E_CONFLICT` (the branch moved meanwhile, or the index lock stayed
/// busy; nothing moved), `MUSE_E_INTEGRITY`, `MUSE_E_IO`.
///
/// Thread-safe (serialised by the index lock).
///
/// # Safety
/// `repo` must be NULL or a live handle; `message`, `author` NULL or
/// NUL-terminated; `out_id` NULL or `MUSE_ID_BUFSIZE` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn muse_repository_commit(
    repo: *const muse_repository,
    message: *const c_char,
    author: *const c_char,
    out_id: *mut c_char,
) -> muse_status {
    guard(|| {
        need(out_id, "out_id")?;
        // SAFETY: caller guarantees.
        let (repo, message, author) =
            unsafe { (handle(repo, "repo")?, cstr(message, "message")?, opt_cstr(author, "author")?) };
        let opts = CommitOptions {
            message: message.to_string(),
            author: author.unwrap_or("").to_string(),
            ..Default::default()
        };
        let rec = repo.repo().commit(&opts)?;
        // SAFETY: out_id checked non-NULL; MUSE_ID_BUFSIZE bytes (caller).
        unsafe { put_id(out_id, &rec.commit_id) };
        Ok(())
    })
}

// ---------------------------------------------------------------------------
// Status
// ---------------------------------------------------------------------------

/// The status of a working tree (`muse_repository_status`): one entry per
/// path that differs anywhere, sorted by path (byte order). Freed with
/// `muse_status_list_free`; independent of the repository handle.
/// Read-only: may be read from several threads at once.
pub struct muse_status_list {
    entries: Vec<(CString, muse_file_status, muse_file_status)>,
}

/// Computes the status of the working tree (git's `status`, pygit2's
/// shape): for each path, its staged change (HEAD → stage) and its
/// unstaged change (stage → working tree) or `MUSE_FILE_UNTRACKED`.
/// Ignored files (`.museignore`) and `.muse/` are left out.
///
/// - `out`: receives a new `muse_status_list` (empty when the tree is
///   clean); free it with `muse_status_list_free`.
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_INTEGRITY` (corrupt stage, HEAD or
/// record; missing commit), `MUSE_E_IO`.
///
/// Thread-safe.
///
/// # Safety
/// `repo` must be NULL or a live handle; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn muse_repository_status(
    repo: *const muse_repository,
    out: *mut *mut muse_status_list,
) -> muse_status {
    guard(|| {
        need(out, "out")?;
        // SAFETY: caller guarantee.
        let repo = unsafe { handle(repo, "repo") }?;
        let st = repo.repo().status()?;
        let entries = st
            .entries()
            .into_iter()
            .map(|e| (c_lossy(&e.path), e.index.into(), e.worktree.into()))
            .collect();
        // SAFETY: checked non-NULL, writable (caller).
        unsafe { put(out, into_handle(muse_status_list { entries })) };
        Ok(())
    })
}

/// Number of entries; 0 when `list` is NULL.
///
/// # Safety
/// `list` must be NULL or a live list.
#[no_mangle]
pub unsafe extern "C" fn muse_status_list_len(list: *const muse_status_list) -> usize {
    guard_value(0, || {
        // SAFETY: caller guarantee.
        unsafe { handle(list, "list") }.map(|l| l.entries.len()).unwrap_or(0)
    })
}

/// The entry at `index` (0-based, in path order).
///
/// - `path_out`: receives the path, borrowed from the list (valid until
///   `muse_status_list_free`; do not free it).
/// - `index_out`: receives the staged change (HEAD → stage):
///   `MUSE_FILE_UNCHANGED`, `_ADDED`, `_MODIFIED` or `_DELETED`.
/// - `worktree_out`: receives the unstaged change (stage → working tree):
///   `MUSE_FILE_UNCHANGED`, `_MODIFIED`, `_DELETED` or `_UNTRACKED`.
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_INVALID_INPUT` (`index` >= length).
///
/// # Safety
/// `list` must be NULL or a live list; the out-pointers NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn muse_status_list_get(
    list: *const muse_status_list,
    index: usize,
    path_out: *mut *const c_char,
    index_out: *mut muse_file_status,
    worktree_out: *mut muse_file_status,
) -> muse_status {
    guard(|| {
        need(path_out, "path_out")?;
        need(index_out, "index_out")?;
        need(worktree_out, "worktree_out")?;
        // SAFETY: caller guarantee.
        let list = unsafe { handle(list, "list") }?;
        let (p, i, w) = list.entries.get(index).ok_or_else(|| out_of_range(index, list.entries.len()))?;
        // SAFETY: all three checked non-NULL, writable (caller).
        unsafe {
            put(path_out, p.as_ptr());
            put(index_out, *i);
            put(worktree_out, *w);
        }
        Ok(())
    })
}

/// Frees a status list. NULL is a no-op.
///
/// # Safety
/// `list` must be NULL or a live list, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn muse_status_list_free(list: *mut muse_status_list) {
    // SAFETY: forwarded caller guarantee.
    guard_value((), || unsafe { free_handle(list) })
}

// ---------------------------------------------------------------------------
// Diff
// ---------------------------------------------------------------------------

struct DiffItem {
    path: CString,
    status: muse_file_status,
    old_id: Option<CString>,
    new_id: Option<CString>,
    /// The unified patch, NUL-terminated (the terminator not counted in
    /// the patch's length).
    patch: Vec<u8>,
}

/// The changed paths between two trees (`muse_repository_diff`), sorted by
/// path (byte order), each with its unified patch. Freed with `muse_diff_list_free`; independent of the
/// repository handle. Read-only: may be read from several threads at once.
pub struct muse_diff_list {
    entries: Vec<DiffItem>,
}

/// The changes from tree `a` to tree `b` (git's `diff --name-status`
/// shape: one entry per added, modified or deleted file, with its blob IDs
/// and its unified patch, `muse_diff_list_get_patch`, made here with 3
/// lines of context).
///
/// - `a`: optional; a revision (as `muse_repository_revparse` takes). NULL
///   means HEAD's commit (no files on an unborn branch).
/// - `b`: optional; a revision. NULL means the working tree (as a snapshot
///   of it would record it, `.museignore` honoured; the stage is not
///   consulted). `diff(repo, NULL, NULL)` is git's `diff HEAD`.
/// - `out`: receives a new `muse_diff_list`; free it with
///   `muse_diff_list_free`.
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_UTF8`, `MUSE_E_NOT_FOUND` (unknown
/// revision), `MUSE_E_INVALID_INPUT` (malformed revision, ambiguous short
/// ID, a working-tree file changed while the diff was made),
/// `MUSE_E_INTEGRITY`, `MUSE_E_IO`.
///
/// Thread-safe.
///
/// # Safety
/// `repo` must be NULL or a live handle; `a`, `b` NULL or NUL-terminated;
/// `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn muse_repository_diff(
    repo: *const muse_repository,
    a: *const c_char,
    b: *const c_char,
    out: *mut *mut muse_diff_list,
) -> muse_status {
    guard(|| {
        need(out, "out")?;
        // SAFETY: caller guarantees.
        let (repo, a, b) = unsafe { (handle(repo, "repo")?, opt_cstr(a, "a")?, opt_cstr(b, "b")?) };
        let list = diff_list(repo.repo(), repo.repo().diff(a, b)?)?;
        // SAFETY: checked non-NULL, writable (caller).
        unsafe { put(out, into_handle(list)) };
        Ok(())
    })
}

/// A `muse_diff_list` of `entries`, each with its patch (3 lines of context).
pub(crate) fn diff_list(repo: &muse_core::Repository, entries: Vec<muse_core::diff::DiffEntry>) -> muse_core::Result<muse_diff_list> {
    let opts = muse_core::diff::PatchOptions::default();
    let entries = entries
        .into_iter()
        .map(|e| {
            let mut patch = repo.file_patch(&e, &opts)?.bytes;
            patch.push(0);
            Ok(DiffItem {
                path: c_lossy(&e.path),
                status: e.status.into(),
                old_id: e.old_id.as_deref().map(c_lossy),
                new_id: e.new_id.as_deref().map(c_lossy),
                patch,
            })
        })
        .collect::<muse_core::Result<Vec<_>>>()?;
    Ok(muse_diff_list { entries })
}

/// Number of entries; 0 when `list` is NULL.
///
/// # Safety
/// `list` must be NULL or a live list.
#[no_mangle]
pub unsafe extern "C" fn muse_diff_list_len(list: *const muse_diff_list) -> usize {
    guard_value(0, || {
        // SAFETY: caller guarantee.
        unsafe { handle(list, "list") }.map(|l| l.entries.len()).unwrap_or(0)
    })
}

/// The entry at `index` (0-based, in path order).
///
/// - `path_out`: receives the path.
/// - `status_out`: receives `MUSE_FILE_ADDED`, `MUSE_FILE_MODIFIED` or
///   `MUSE_FILE_DELETED` (from `a` to `b`).
/// - `old_id_out`: receives the blob ID in `a`, or NULL when the file was
///   added.
/// - `new_id_out`: receives the blob ID in `b`, or NULL when the file was
///   deleted.
///
/// The strings are borrowed from the list (valid until
/// `muse_diff_list_free`; do not free them).
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_INVALID_INPUT` (`index` >= length).
///
/// # Safety
/// `list` must be NULL or a live list; the out-pointers NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn muse_diff_list_get(
    list: *const muse_diff_list,
    index: usize,
    path_out: *mut *const c_char,
    status_out: *mut muse_file_status,
    old_id_out: *mut *const c_char,
    new_id_out: *mut *const c_char,
) -> muse_status {
    guard(|| {
        need(path_out, "path_out")?;
        need(status_out, "status_out")?;
        need(old_id_out, "old_id_out")?;
        need(new_id_out, "new_id_out")?;
        // SAFETY: caller guarantee.
        let list = unsafe { handle(list, "list") }?;
        let e = list.entries.get(index).ok_or_else(|| out_of_range(index, list.entries.len()))?;
        let opt = |s: &Option<CString>| s.as_ref().map_or(std::ptr::null(), |c| c.as_ptr());
        // SAFETY: all four checked non-NULL, writable (caller).
        unsafe {
            put(path_out, e.path.as_ptr());
            put(status_out, e.status);
            put(old_id_out, opt(&e.old_id));
            put(new_id_out, opt(&e.new_id));
        }
        Ok(())
    })
}

/// The unified patch of the entry at `index` (0-based, in path order), in
/// git's `diff` format (`git apply` and `patch -p1` accept it): the
/// `diff --git a/P b/P` header, `new file mode` / `deleted file mode`,
/// `--- a/P` / `+++ b/P` (or `/dev/null`) and the `@@` hunks, or
/// `Binary files a/P and b/P differ` for a binary file (a NUL byte in the
/// first 8000 bytes of a side). No `index` line.
///
/// - `patch_out`: receives the patch, NUL-terminated: the files' lines as
///   they are (UTF-8 when the files are).
/// - `len_out`: optional (NULL to skip); receives the patch's length in
///   bytes, without the terminator (a text file may hold a NUL byte after
///   its first 8000 bytes, which ends the C string early).
///
/// The string is borrowed from the list (valid until
/// `muse_diff_list_free`; do not free it).
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_INVALID_INPUT` (`index` >= length).
///
/// # Safety
/// `list` must be NULL or a live list; `patch_out` NULL or writable;
/// `len_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn muse_diff_list_get_patch(
    list: *const muse_diff_list,
    index: usize,
    patch_out: *mut *const c_char,
    len_out: *mut usize,
) -> muse_status {
    guard(|| {
        need(patch_out, "patch_out")?;
        // SAFETY: caller guarantee.
        let list = unsafe { handle(list, "list") }?;
        let e = list.entries.get(index).ok_or_else(|| out_of_range(index, list.entries.len()))?;
        // SAFETY: `patch_out` checked non-NULL, writable; `len_out` NULL
        // or writable (caller).
        unsafe {
            put(patch_out, e.patch.as_ptr().cast::<c_char>());
            if !len_out.is_null() {
                put(len_out, e.patch.len() - 1);
            }
        }
        Ok(())
    })
}

/// Frees a diff list. NULL is a no-op.
///
/// # Safety
/// `list` must be NULL or a live list, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn muse_diff_list_free(list: *mut muse_diff_list) {
    // SAFETY: forwarded caller guarantee.
    guard_value((), || unsafe { free_handle(list) })
}

// ---------------------------------------------------------------------------
// Checkout and branches
// ---------------------------------------------------------------------------

/// Checks out `rev`: a branch name switches to that branch (HEAD points at
/// it); any other revision detaches HEAD at its commit. The working tree
/// is made to match the commit (files written, files tracked only by the
/// old commit removed; nothing is ever written beyond a symbolic link) and
/// the stage is emptied. The intent is journaled first: if the process is
/// killed mid-way, the same checkout run again finishes it.
///
/// Refuses, changing nothing, when the stage is not empty, a tracked file
/// has uncommitted changes, an untracked file would be overwritten, a
/// symlink or file stands where a directory must go, or a merge is in
/// progress, unless `force` (which rewrites every file and replaces such
/// obstacles; local changes are lost).
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_UTF8`, `MUSE_E_NOT_FOUND` (unknown
/// revision), `MUSE_E_INVALID_INPUT` (one of the refusals above, which the
/// message explains), `MUSE_E_CONFLICT` (index lock busy),
/// `MUSE_E_INTEGRITY` (a commit, snapshot or blob is missing or corrupt),
/// `MUSE_E_IO`.
///
/// Thread-safe (serialised by the index lock).
///
/// # Safety
/// `repo` must be NULL or a live handle; `rev` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn muse_repository_checkout(
    repo: *const muse_repository,
    rev: *const c_char,
    force: bool,
) -> muse_status {
    guard(|| {
        // SAFETY: caller guarantees.
        let (repo, rev) = unsafe { (handle(repo, "repo")?, cstr(rev, "rev")?) };
        repo.repo().checkout(rev, force)?;
        Ok(())
    })
}

/// Switches to `branch` (as `muse_repository_checkout` of a branch). With
/// `create`, the branch is first made at HEAD's commit (git's `checkout
/// -b`: the working tree is not touched; on an unborn HEAD the new branch
/// is unborn too). Same rules, journal and refusals as
/// `muse_repository_checkout`.
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_UTF8`, `MUSE_E_INVALID_INPUT`
/// (invalid branch name; `create` and the branch exists; a refusal),
/// `MUSE_E_NOT_FOUND` (no such branch, without `create`),
/// `MUSE_E_CONFLICT` (index lock busy), `MUSE_E_INTEGRITY`, `MUSE_E_IO`.
///
/// Thread-safe (serialised by the index lock).
///
/// # Safety
/// `repo` must be NULL or a live handle; `branch` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn muse_repository_checkout_branch(
    repo: *const muse_repository,
    branch: *const c_char,
    create: bool,
    force: bool,
) -> muse_status {
    guard(|| {
        // SAFETY: caller guarantees.
        let (repo, branch) = unsafe { (handle(repo, "repo")?, cstr(branch, "branch")?) };
        repo.repo().checkout_branch(branch, create, force)?;
        Ok(())
    })
}

/// Creates branch `name` at revision `start` (git's `branch NAME
/// [START]`). HEAD and the working tree are not touched.
///
/// - `start`: optional; a revision. NULL means HEAD's commit.
/// - `out_id`: optional (may be NULL); a buffer of `MUSE_ID_BUFSIZE` bytes
///   that receives the commit the new branch points at.
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_UTF8`, `MUSE_E_INVALID_INPUT`
/// (invalid branch name, the branch already exists, HEAD has no commit
/// yet), `MUSE_E_NOT_FOUND` (unknown `start`), `MUSE_E_INTEGRITY`,
/// `MUSE_E_IO`.
///
/// Thread-safe (the branch is created by compare-and-swap: of two
/// concurrent creations one fails).
///
/// # Safety
/// `repo` must be NULL or a live handle; `name`, `start` NULL or
/// NUL-terminated; `out_id` NULL or `MUSE_ID_BUFSIZE` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn muse_repository_create_branch(
    repo: *const muse_repository,
    name: *const c_char,
    start: *const c_char,
    out_id: *mut c_char,
) -> muse_status {
    guard(|| {
        // SAFETY: caller guarantees.
        let (repo, name, start) = unsafe { (handle(repo, "repo")?, cstr(name, "name")?, opt_cstr(start, "start")?) };
        let id = repo.repo().create_branch(name, start)?;
        // SAFETY: out_id is NULL or MUSE_ID_BUFSIZE writable bytes (caller).
        unsafe { put_opt_id(out_id, &id) };
        Ok(())
    })
}

/// Copies the name of the branch HEAD is on (e.g. `"main"`) into `buf`,
/// NUL-terminated. The branch may be unborn (no commit yet).
///
/// - `buf`, `cap`: a caller buffer of `cap` bytes; `buf` may be NULL only
///   when `cap` is 0 (a size query).
/// - `needed`: optional (may be NULL); receives the size the name needs,
///   NUL included, on success and on `MUSE_E_BUFFER_TOO_SMALL`.
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_BUFFER_TOO_SMALL` (`buf` untouched),
/// `MUSE_E_NOT_FOUND` (HEAD is detached: it names no branch),
/// `MUSE_E_INTEGRITY` (corrupt HEAD), `MUSE_E_IO`.
///
/// Thread-safe.
///
/// # Safety
/// `repo` must be NULL or a live handle; `buf` NULL or `cap` writable
/// bytes; `needed` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn muse_repository_head_branch(
    repo: *const muse_repository,
    buf: *mut c_char,
    cap: usize,
    needed: *mut usize,
) -> muse_status {
    guard(|| {
        // SAFETY: caller guarantee.
        let repo = unsafe { handle(repo, "repo") }?;
        match repo.repo().head_branch()? {
            // SAFETY: forwarded caller guarantees on buf/cap/needed.
            Some(b) => unsafe { copy_to_buffer(&b, buf, cap, needed) },
            None => Err(FfiError::new(
                muse_status::MUSE_E_NOT_FOUND,
                "HEAD is detached: it names no branch",
            )),
        }
    })
}

// ---------------------------------------------------------------------------
// Merge
// ---------------------------------------------------------------------------

/// A list of repository-relative paths (the conflicts of a merge), sorted.
/// Freed with `muse_path_list_free`; independent of the repository handle.
/// Read-only: may be read from several threads at once.
pub struct muse_path_list {
    items: Vec<CString>,
}

/// Merges `rev` (a branch name or any revision) into HEAD's branch (git's
/// `merge`): a fast-forward when HEAD is an ancestor of it, else a
/// three-way merge against the merge base, text files line by line (edits
/// that overlap conflict; a binary file changed on both sides conflicts
/// whole). Refuses, changing
/// nothing, a dirty stage or working tree, a detached or unborn HEAD, a
/// merge already in progress, and untracked files, symlinks or
/// directories where the merge must write. The intent is journaled first:
/// after a crash, the same merge run again finishes it and
/// `muse_repository_merge_abort` undoes it.
///
/// - `author`: optional (NULL means `""`); the author of a merge commit.
/// - `kind_out`: receives what happened (`muse_merge_kind`).
/// - `out_id`: optional (may be NULL); a buffer of `MUSE_ID_BUFSIZE` bytes
///   that receives HEAD's new commit for `MUSE_MERGE_FAST_FORWARD` and
///   `MUSE_MERGE_MERGED`, `""` otherwise.
/// - `conflicts_out`: optional (may be NULL); receives a new
///   `muse_path_list` of the conflicting paths (empty unless
///   `MUSE_MERGE_CONFLICTS`); free it with `muse_path_list_free`.
///
/// `MUSE_MERGE_CONFLICTS` is a success (`MUSE_OK`): the merge is then in
/// progress (see `muse_merge_kind`).
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_UTF8`, `MUSE_E_NOT_FOUND` (unknown
/// `rev`), `MUSE_E_INVALID_INPUT` (a refusal above, which the message
/// explains), `MUSE_E_CAP` (the merge base search hit `[limits]
/// max_ancestors`), `MUSE_E_CONFLICT` (index lock busy, or the branch
/// moved meanwhile), `MUSE_E_INTEGRITY`, `MUSE_E_IO`.
///
/// Thread-safe (serialised by the index lock).
///
/// # Safety
/// `repo` must be NULL or a live handle; `rev`, `author` NULL or
/// NUL-terminated; `kind_out`, `conflicts_out` NULL or writable; `out_id`
/// NULL or `MUSE_ID_BUFSIZE` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn muse_repository_merge(
    repo: *const muse_repository,
    rev: *const c_char,
    author: *const c_char,
    kind_out: *mut muse_merge_kind,
    out_id: *mut c_char,
    conflicts_out: *mut *mut muse_path_list,
) -> muse_status {
    guard(|| {
        need(kind_out, "kind_out")?;
        // SAFETY: caller guarantees.
        let (repo, rev, author) = unsafe { (handle(repo, "repo")?, cstr(rev, "rev")?, opt_cstr(author, "author")?) };
        let outcome = repo.repo().merge(rev, author.unwrap_or(""))?;
        // SAFETY: forwarded caller guarantees on the out-parameters.
        unsafe { put_outcome(outcome, kind_out, out_id, conflicts_out) };
        Ok(())
    })
}

/// Writes a three-way outcome (merge, cherry-pick, revert) to the
/// out-parameters of `muse_repository_merge` and its siblings.
///
/// # Safety
/// `kind_out` non-NULL and writable; `out_id` NULL or `MUSE_ID_BUFSIZE`
/// writable bytes; `conflicts_out` NULL or writable.
pub(crate) unsafe fn put_outcome(
    outcome: MergeOutcome,
    kind_out: *mut muse_merge_kind,
    out_id: *mut c_char,
    conflicts_out: *mut *mut muse_path_list,
) {
    let (kind, commit, conflicts) = match outcome {
        MergeOutcome::UpToDate => (muse_merge_kind::MUSE_MERGE_UP_TO_DATE, None, Vec::new()),
        MergeOutcome::FastForward { commit } => (muse_merge_kind::MUSE_MERGE_FAST_FORWARD, Some(commit), Vec::new()),
        MergeOutcome::Merged { commit } => (muse_merge_kind::MUSE_MERGE_MERGED, Some(commit), Vec::new()),
        MergeOutcome::Conflicts { paths } => (muse_merge_kind::MUSE_MERGE_CONFLICTS, None, paths),
    };
    // SAFETY: kind_out non-NULL; the optional out-parameters are written
    // only when non-NULL; sizes and writability per the caller.
    unsafe {
        put(kind_out, kind);
        if !out_id.is_null() {
            match &commit {
                Some(c) => put_id(out_id, c),
                None => put(out_id, 0),
            }
        }
        if !conflicts_out.is_null() {
            let items = conflicts.iter().map(|p| c_lossy(p)).collect();
            put(conflicts_out, into_handle(muse_path_list { items }));
        }
    }
}

/// Abandons the merge in progress (one stopped on conflicts, or one
/// interrupted mid-way): the files the merge wrote go back to HEAD's
/// version (files it added are removed), the branch goes back if it had
/// moved, the stage is emptied and the merge state removed.
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_INVALID_INPUT` (no merge in
/// progress), `MUSE_E_CONFLICT` (index lock busy), `MUSE_E_INTEGRITY`,
/// `MUSE_E_IO`.
///
/// Thread-safe (serialised by the index lock).
///
/// # Safety
/// `repo` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn muse_repository_merge_abort(repo: *const muse_repository) -> muse_status {
    guard(|| {
        // SAFETY: caller guarantee.
        let repo = unsafe { handle(repo, "repo") }?;
        repo.repo().merge_abort()?;
        Ok(())
    })
}

/// Number of paths; 0 when `list` is NULL.
///
/// # Safety
/// `list` must be NULL or a live list.
#[no_mangle]
pub unsafe extern "C" fn muse_path_list_len(list: *const muse_path_list) -> usize {
    guard_value(0, || {
        // SAFETY: caller guarantee.
        unsafe { handle(list, "list") }.map(|l| l.items.len()).unwrap_or(0)
    })
}

/// The path at `index` (0-based, sorted).
///
/// - `path_out`: receives the path, borrowed from the list (valid until
///   `muse_path_list_free`; do not free it).
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_INVALID_INPUT` (`index` >= length).
///
/// # Safety
/// `list` must be NULL or a live list; `path_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn muse_path_list_get(
    list: *const muse_path_list,
    index: usize,
    path_out: *mut *const c_char,
) -> muse_status {
    guard(|| {
        need(path_out, "path_out")?;
        // SAFETY: caller guarantee.
        let list = unsafe { handle(list, "list") }?;
        let p = list.items.get(index).ok_or_else(|| out_of_range(index, list.items.len()))?;
        // SAFETY: checked non-NULL, writable (caller).
        unsafe { put(path_out, p.as_ptr()) };
        Ok(())
    })
}

/// Frees a path list. NULL is a no-op.
///
/// # Safety
/// `list` must be NULL or a live list, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn muse_path_list_free(list: *mut muse_path_list) {
    // SAFETY: forwarded caller guarantee.
    guard_value((), || unsafe { free_handle(list) })
}

// ---------------------------------------------------------------------------
// Revisions and history
// ---------------------------------------------------------------------------

/// Resolves a revision to a commit ID. Spellings (a subset of git's
/// `gitrevisions`): `HEAD` or `@`; a branch name; a full ID
/// `sha256:<64 hex>` (it must be stored); a unique prefix of at least 4
/// hex digits (with or without `sha256:`); suffixes `~n` (n-th first-parent
/// ancestor, `~` = `~1`) and `^n` (n-th parent, 1 or 2; `^0` is the commit
/// itself), which chain (`main~2^2`). A branch name wins over a hex prefix.
///
/// - `out_id`: a buffer of `MUSE_ID_BUFSIZE` bytes; receives the ID.
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_UTF8`, `MUSE_E_NOT_FOUND` (nothing
/// matches, HEAD has no commit yet, or a parent asked for does not exist),
/// `MUSE_E_INVALID_INPUT` (ambiguous prefix, malformed suffix),
/// `MUSE_E_INTEGRITY`, `MUSE_E_IO`.
///
/// Thread-safe.
///
/// # Safety
/// `repo` must be NULL or a live handle; `spec` NULL or NUL-terminated;
/// `out_id` NULL or `MUSE_ID_BUFSIZE` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn muse_repository_revparse(
    repo: *const muse_repository,
    spec: *const c_char,
    out_id: *mut c_char,
) -> muse_status {
    guard(|| {
        need(out_id, "out_id")?;
        // SAFETY: caller guarantees.
        let (repo, spec) = unsafe { (handle(repo, "repo")?, cstr(spec, "spec")?) };
        let id = repo.repo().revparse(spec)?;
        // SAFETY: checked non-NULL; MUSE_ID_BUFSIZE bytes (caller).
        unsafe { put_id(out_id, &id) };
        Ok(())
    })
}

/// A list of verified commits, newest first (`muse_repository_log`).
/// Freed with `muse_commit_list_free`; independent of the repository
/// handle. Read-only: may be read from several threads at once.
pub struct muse_commit_list {
    items: Vec<muse_commit>,
}

/// The history of `rev` (git's `log`): the commits reachable from it,
/// following every parent, each once, newest first by commit time (ties in
/// discovery order), every record read and verified.
///
/// - `rev`: optional; a revision (as `muse_repository_revparse` takes).
///   NULL means `"HEAD"` (an unborn HEAD gives an empty list).
/// - `max_count`: at most this many commits; 0 means no limit (the list
///   then holds the whole reachable history in memory).
/// - `out`: receives a new `muse_commit_list`; free it with
///   `muse_commit_list_free`.
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_UTF8`, `MUSE_E_NOT_FOUND` (unknown
/// revision; a commit of the history is missing), `MUSE_E_INVALID_INPUT`
/// (malformed revision), `MUSE_E_INTEGRITY` (corrupt record, missing
/// parent), `MUSE_E_IO`.
///
/// Thread-safe.
///
/// # Safety
/// `repo` must be NULL or a live handle; `rev` NULL or NUL-terminated;
/// `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn muse_repository_log(
    repo: *const muse_repository,
    rev: *const c_char,
    max_count: usize,
    out: *mut *mut muse_commit_list,
) -> muse_status {
    guard(|| {
        need(out, "out")?;
        // SAFETY: caller guarantees.
        let (repo, rev) = unsafe { (handle(repo, "repo")?, opt_cstr(rev, "rev")?) };
        let limit = if max_count == 0 { usize::MAX } else { max_count };
        let items = repo
            .repo()
            .log(rev.unwrap_or("HEAD"))?
            .take(limit)
            .map(|r| r.map(|rec| muse_commit::from_record(&rec)))
            .collect::<Result<Vec<_>, _>>()?;
        // SAFETY: checked non-NULL, writable (caller).
        unsafe { put(out, into_handle(muse_commit_list { items })) };
        Ok(())
    })
}

/// Number of commits; 0 when `list` is NULL.
///
/// # Safety
/// `list` must be NULL or a live list.
#[no_mangle]
pub unsafe extern "C" fn muse_commit_list_len(list: *const muse_commit_list) -> usize {
    guard_value(0, || {
        // SAFETY: caller guarantee.
        unsafe { handle(list, "list") }.map(|l| l.items.len()).unwrap_or(0)
    })
}

/// The commit at `index` (0 is the newest).
///
/// - `commit_out`: receives a `muse_commit` view borrowed from the list:
///   read it with the `muse_commit_*` accessors (`muse_commit_id`,
///   `_message`, `_author`, `_parent_count`, `_parent`, ...). It is valid
///   until `muse_commit_list_free`; do not pass it to `muse_commit_free`.
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_INVALID_INPUT` (`index` >= length).
///
/// # Safety
/// `list` must be NULL or a live list; `commit_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn muse_commit_list_get(
    list: *const muse_commit_list,
    index: usize,
    commit_out: *mut *const muse_commit,
) -> muse_status {
    guard(|| {
        need(commit_out, "commit_out")?;
        // SAFETY: caller guarantee.
        let list = unsafe { handle(list, "list") }?;
        let c = list.items.get(index).ok_or_else(|| out_of_range(index, list.items.len()))?;
        // SAFETY: checked non-NULL, writable (caller).
        unsafe { put(commit_out, c as *const muse_commit) };
        Ok(())
    })
}

/// Frees a commit list and the commit views borrowed from it. NULL is a
/// no-op.
///
/// # Safety
/// `list` must be NULL or a live list, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn muse_commit_list_free(list: *mut muse_commit_list) {
    // SAFETY: forwarded caller guarantee.
    guard_value((), || unsafe { free_handle(list) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(st: muse_status) {
        assert_eq!(st, muse_status::MUSE_OK, "{}", last());
    }

    fn last() -> String {
        // SAFETY: never NULL, NUL-terminated.
        unsafe { std::ffi::CStr::from_ptr(crate::error::muse_last_error_message()) }
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn commit_status_log_roundtrip() {
        let tmp = tempfile::tempdir().unwrap();
        let root = CString::new(tmp.path().join("w").to_str().unwrap()).unwrap();
        let mut repo: *mut muse_repository = std::ptr::null_mut();
        // SAFETY: valid strings and out-pointers throughout; handles freed once.
        unsafe {
            check(crate::repo::muse_repository_init(root.as_ptr(), std::ptr::null(), &mut repo));
            std::fs::write(tmp.path().join("w/a.txt"), "a\n").unwrap();
            let mut list: *mut muse_status_list = std::ptr::null_mut();
            check(muse_repository_status(repo, &mut list));
            assert_eq!(muse_status_list_len(list), 1);
            let (mut p, mut i, mut w) =
                (std::ptr::null(), muse_file_status::MUSE_FILE_ADDED, muse_file_status::MUSE_FILE_ADDED);
            check(muse_status_list_get(list, 0, &mut p, &mut i, &mut w));
            assert_eq!(std::ffi::CStr::from_ptr(p).to_str().unwrap(), "a.txt");
            assert_eq!(i, muse_file_status::MUSE_FILE_UNCHANGED);
            assert_eq!(w, muse_file_status::MUSE_FILE_UNTRACKED);
            muse_status_list_free(list);
            check(muse_repository_add_all(repo, std::ptr::null_mut()));
            let mut id = [0 as c_char; crate::MUSE_ID_BUFSIZE];
            check(muse_repository_commit(repo, c"first".as_ptr(), std::ptr::null(), id.as_mut_ptr()));
            let mut log: *mut muse_commit_list = std::ptr::null_mut();
            check(muse_repository_log(repo, std::ptr::null(), 0, &mut log));
            assert_eq!(muse_commit_list_len(log), 1);
            let mut c: *const muse_commit = std::ptr::null();
            check(muse_commit_list_get(log, 0, &mut c));
            assert_eq!(
                std::ffi::CStr::from_ptr(crate::records::muse_commit_id(c)),
                std::ffi::CStr::from_ptr(id.as_ptr())
            );
            muse_commit_list_free(log);
            crate::repo::muse_repository_free(repo);
        }
    }
}
