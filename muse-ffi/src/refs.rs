//! Branch refs and HEAD.

use std::ffi::c_char;


use crate::error::{guard, muse_status};
use crate::manifest::muse_ref_list;
use crate::repo::muse_repository;
use crate::util::{cstr, handle, into_handle, need, opt_cstr, put, put_id};

/// Writes an optional ID: the ID, or `""` when absent.
///
/// # Safety
/// `out` non-NULL with `MUSE_ID_BUFSIZE` writable bytes.
unsafe fn put_opt_id(out: *mut c_char, id: Option<&str>) {
    // SAFETY: forwarded caller guarantee.
    unsafe {
        match id {
            Some(id) => put_id(out, id),
            None => put(out, 0),
        }
    }
}

/// Reads the commit ID `branch` points at.
///
/// - `branch`: a branch name (e.g. `"main"`, `"feature/x"`).
/// - `out_id`: a buffer of `MUSE_ID_BUFSIZE` bytes; on success receives the
///   commit ID, or `""` when the branch does not exist.
/// - `exists_out`: receives whether the branch exists.
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_UTF8`, `MUSE_E_INVALID_INPUT`
/// (invalid branch name), `MUSE_E_INTEGRITY` (the ref file does not hold a
/// valid ID), `MUSE_E_IO`.
///
/// # Safety
/// `repo` must be NULL or a live handle; `branch` NULL or NUL-terminated;
/// `out_id` NULL or `MUSE_ID_BUFSIZE` writable bytes; `exists_out` NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn muse_ref_read(
    repo: *const muse_repository,
    branch: *const c_char,
    out_id: *mut c_char,
    exists_out: *mut bool,
) -> muse_status {
    guard(|| {
        need(out_id, "out_id")?;
        need(exists_out, "exists_out")?;
        // SAFETY: caller guarantees.
        let (repo, branch) = unsafe { (handle(repo, "repo")?, cstr(branch, "branch")?) };
        let id = repo.repo().branch_target(branch)?;
        // SAFETY: both checked non-NULL; buffer sizes per the caller.
        unsafe {
            put_opt_id(out_id, id.as_deref());
            put(exists_out, id.is_some());
        }
        Ok(())
    })
}

/// Points `branch` at `commit_id` (creating the branch if needed). Last
/// write wins; use `muse_ref_compare_and_swap` to never lose a concurrent
/// update. The commit need not be stored, but should be (SPEC section 4: a ref is
/// moved only to a durable commit). Durable on return under the
/// `[core] fsync` policy.
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_UTF8`, `MUSE_E_INVALID_INPUT`
/// (invalid branch name or malformed ID; nothing written), `MUSE_E_IO`.
///
/// # Safety
/// `repo` must be NULL or a live handle; the strings NULL or
/// NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn muse_ref_write(
    repo: *const muse_repository,
    branch: *const c_char,
    commit_id: *const c_char,
) -> muse_status {
    guard(|| {
        // SAFETY: caller guarantees.
        let (repo, branch, id) = unsafe {
            (
                handle(repo, "repo")?,
                cstr(branch, "branch")?,
                cstr(commit_id, "commit_id")?,
            )
        };
        repo.repo().set_branch(branch, id)?;
        Ok(())
    })
}

/// Moves `branch` from `expected` to `new_id` atomically: under the ref's
/// lock, the branch must still point at `expected`, else nothing is
/// written and `MUSE_E_CONFLICT` is returned (read the ref again, redo the
/// work, retry).
///
/// - `expected`: optional; the commit the caller last read. NULL means the
///   branch must not exist yet.
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_UTF8`, `MUSE_E_INVALID_INPUT`
/// (invalid branch name, malformed ID), `MUSE_E_CONFLICT` (the branch
/// moved; the message says where it is now), `MUSE_E_INTEGRITY` (the ref
/// file is corrupt), `MUSE_E_IO`.
///
/// # Safety
/// `repo` must be NULL or a live handle; the strings NULL or
/// NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn muse_ref_compare_and_swap(
    repo: *const muse_repository,
    branch: *const c_char,
    expected: *const c_char,
    new_id: *const c_char,
) -> muse_status {
    guard(|| {
        // SAFETY: caller guarantees.
        let (repo, branch, expected, new_id) = unsafe {
            (
                handle(repo, "repo")?,
                cstr(branch, "branch")?,
                opt_cstr(expected, "expected")?,
                cstr(new_id, "new_id")?,
            )
        };
        repo.repo().compare_and_swap_branch(branch, expected, new_id)?;
        Ok(())
    })
}

/// Lists every branch with the commit it points at, sorted by name.
///
/// - `out`: receives a new `muse_ref_list`; free it with
///   `muse_ref_list_free`.
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_INTEGRITY` (a ref file does not hold
/// a valid ID), `MUSE_E_IO`.
///
/// # Safety
/// `repo` must be NULL or a live handle; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn muse_ref_list_branches(repo: *const muse_repository, out: *mut *mut muse_ref_list) -> muse_status {
    guard(|| {
        need(out, "out")?;
        // SAFETY: caller guarantee.
        let repo = unsafe { handle(repo, "repo") }?;
        let branches = repo.repo().branches()?;
        let list = muse_ref_list::new(branches.iter().map(|(a, b)| (a.as_str(), b.as_str())));
        // SAFETY: checked non-NULL, writable.
        unsafe { put(out, into_handle(list)) };
        Ok(())
    })
}

/// The commit HEAD resolves to: the tip of the branch HEAD is on, or the
/// detached commit.
///
/// - `out_id`: a buffer of `MUSE_ID_BUFSIZE` bytes; on success receives the
///   commit ID, or `""` when HEAD's branch is unborn (no commit yet).
/// - `exists_out`: receives whether there is such a commit.
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_INTEGRITY` (corrupt HEAD or ref),
/// `MUSE_E_IO`.
///
/// # Safety
/// `repo` must be NULL or a live handle; `out_id` NULL or
/// `MUSE_ID_BUFSIZE` writable bytes; `exists_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn muse_head_commit(
    repo: *const muse_repository,
    out_id: *mut c_char,
    exists_out: *mut bool,
) -> muse_status {
    guard(|| {
        need(out_id, "out_id")?;
        need(exists_out, "exists_out")?;
        // SAFETY: caller guarantee.
        let repo = unsafe { handle(repo, "repo") }?;
        let id = repo.repo().resolve_head()?;
        // SAFETY: both checked non-NULL; sizes per the caller.
        unsafe {
            put_opt_id(out_id, id.as_deref());
            put(exists_out, id.is_some());
        }
        Ok(())
    })
}

/// Copies the name of the branch HEAD is on (e.g. `"main"`) into `buf`,
/// NUL-terminated. The branch may be unborn.
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
/// # Safety
/// `repo` must be NULL or a live handle; `buf` NULL or `cap` writable
/// bytes; `needed` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn muse_head_branch(
    repo: *const muse_repository,
    buf: *mut c_char,
    cap: usize,
    needed: *mut usize,
) -> muse_status {
    // SAFETY: forwarded caller guarantees (the same contract).
    unsafe { crate::porcelain::muse_repository_head_branch(repo, buf, cap, needed) }
}

/// Points HEAD at `branch` (which need not exist yet; it is then unborn).
/// Does not touch the working tree.
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_UTF8`, `MUSE_E_INVALID_INPUT`
/// (invalid branch name), `MUSE_E_IO`.
///
/// # Safety
/// `repo` must be NULL or a live handle; `branch` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn muse_head_set_branch(repo: *const muse_repository, branch: *const c_char) -> muse_status {
    guard(|| {
        // SAFETY: caller guarantees.
        let (repo, branch) = unsafe { (handle(repo, "repo")?, cstr(branch, "branch")?) };
        repo.repo().set_head_branch(branch)?;
        Ok(())
    })
}
