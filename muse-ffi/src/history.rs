//! History porcelain: cherry-pick, revert, reset and tags (the core's
//! `pick`, `reset` and `tag` modules).

use std::ffi::c_char;

use muse_core::reset::ResetMode;

use crate::error::{guard, muse_status};
use crate::manifest::muse_ref_list;
use crate::porcelain::{muse_merge_kind, muse_path_list, put_outcome};
use crate::repo::muse_repository;
use crate::util::{cstr, handle, into_handle, need, opt_cstr, put, put_id, put_opt_id};

/// How much `muse_repository_reset` resets (git's `--soft`, `--mixed`,
/// `--hard`). The values are part of the ABI.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum muse_reset_mode {
    /// Only HEAD's branch moves; the stage keeps its content.
    MUSE_RESET_SOFT = 0,
    /// HEAD's branch moves and the stage is emptied (git's default).
    MUSE_RESET_MIXED = 1,
    /// HEAD's branch moves, the stage is emptied and every tracked file is
    /// rewritten: local changes to tracked files are lost.
    MUSE_RESET_HARD = 2,
}

/// Applies the change commit `rev` made (against its first parent) on top
/// of HEAD as a new commit with `rev`'s message and author (git's
/// `cherry-pick`), text files merged line by line. The out-parameters are
/// those of `muse_repository_merge`: `MUSE_MERGE_MERGED` (the new commit in
/// `out_id`), `MUSE_MERGE_CONFLICTS` (a success: resolve, add, then
/// `muse_repository_pick_continue`, or `muse_repository_merge_abort`), or
/// `MUSE_MERGE_UP_TO_DATE` (HEAD already has the change; no commit).
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_UTF8`, `MUSE_E_NOT_FOUND` (unknown
/// `rev`), `MUSE_E_INVALID_INPUT` (dirty tree, detached or unborn HEAD, a
/// merge commit, an operation in progress, obstacles), `MUSE_E_CONFLICT`
/// (index lock busy), `MUSE_E_INTEGRITY`, `MUSE_E_IO`.
///
/// Thread-safe (serialised by the index lock).
///
/// # Safety
/// `repo` must be NULL or a live handle; `rev` NULL or NUL-terminated;
/// `kind_out`, `conflicts_out` NULL or writable; `out_id` NULL or
/// `MUSE_ID_BUFSIZE` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn muse_repository_cherry_pick(
    repo: *const muse_repository,
    rev: *const c_char,
    kind_out: *mut muse_merge_kind,
    out_id: *mut c_char,
    conflicts_out: *mut *mut muse_path_list,
) -> muse_status {
    guard(|| {
        need(kind_out, "kind_out")?;
        // SAFETY: caller guarantees.
        let (repo, rev) = unsafe { (handle(repo, "repo")?, cstr(rev, "rev")?) };
        let outcome = repo.repo().cherry_pick(rev)?;
        // SAFETY: kind_out checked non-NULL; the rest per the caller.
        unsafe { put_outcome(outcome, kind_out, out_id, conflicts_out) };
        Ok(())
    })
}

/// Undoes the change commit `rev` made, on top of HEAD, as a new commit by
/// `author` (NULL means `""`) whose message says `Revert "<subject>"`
/// (git's `revert`). Out-parameters, errors and thread safety as
/// `muse_repository_cherry_pick`.
///
/// # Safety
/// As `muse_repository_cherry_pick`; `author` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn muse_repository_revert(
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
        let outcome = repo.repo().revert(rev, author.unwrap_or(""))?;
        // SAFETY: kind_out checked non-NULL; the rest per the caller.
        unsafe { put_outcome(outcome, kind_out, out_id, conflicts_out) };
        Ok(())
    })
}

/// Concludes a cherry-pick or revert that stopped on conflicts, once they
/// are resolved and added: commits with the recorded message and author.
///
/// - `out_id`: optional (may be NULL); `MUSE_ID_BUFSIZE` bytes that receive
///   the new commit's ID.
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_INVALID_INPUT` (none waits, or paths
/// are unresolved), `MUSE_E_CONFLICT`, `MUSE_E_INTEGRITY`, `MUSE_E_IO`.
///
/// # Safety
/// `repo` must be NULL or a live handle; `out_id` NULL or
/// `MUSE_ID_BUFSIZE` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn muse_repository_pick_continue(repo: *const muse_repository, out_id: *mut c_char) -> muse_status {
    guard(|| {
        // SAFETY: caller guarantee.
        let repo = unsafe { handle(repo, "repo") }?;
        let rec = repo.repo().pick_continue()?;
        // SAFETY: out_id is NULL or MUSE_ID_BUFSIZE writable bytes (caller).
        unsafe { put_opt_id(out_id, &rec.commit_id) };
        Ok(())
    })
}

/// Moves HEAD's branch (or a detached HEAD) to revision `rev` (NULL means
/// HEAD) as `mode` says (git's `reset`). A hard reset is journaled like a
/// checkout (run it again after a crash); mixed and hard abandon a
/// conflicted merge; soft refuses during one.
///
/// - `mode`: a `muse_reset_mode` value.
/// - `out_id`: optional (may be NULL); `MUSE_ID_BUFSIZE` bytes that receive
///   the commit HEAD now names.
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_UTF8`, `MUSE_E_NOT_FOUND` (unknown
/// `rev`), `MUSE_E_INVALID_INPUT` (soft reset during a merge, another
/// operation interrupted, a mode value out of range), `MUSE_E_CONFLICT`,
/// `MUSE_E_INTEGRITY`, `MUSE_E_IO`.
///
/// # Safety
/// `repo` must be NULL or a live handle; `rev` NULL or NUL-terminated;
/// `out_id` NULL or `MUSE_ID_BUFSIZE` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn muse_repository_reset(
    repo: *const muse_repository,
    rev: *const c_char,
    mode: u32,
    out_id: *mut c_char,
) -> muse_status {
    guard(|| {
        // SAFETY: caller guarantees.
        let (repo, rev) = unsafe { (handle(repo, "repo")?, opt_cstr(rev, "rev")?) };
        // A plain integer at the boundary: an out-of-range value from C is
        // an error, not undefined behaviour.
        let mode = match mode {
            m if m == muse_reset_mode::MUSE_RESET_SOFT as u32 => ResetMode::Soft,
            m if m == muse_reset_mode::MUSE_RESET_MIXED as u32 => ResetMode::Mixed,
            m if m == muse_reset_mode::MUSE_RESET_HARD as u32 => ResetMode::Hard,
            m => return Err(muse_core::Error::InvalidInput(format!("reset mode {m} is not a muse_reset_mode")).into()),
        };
        let (id, _) = repo.repo().reset(rev, mode)?;
        // SAFETY: out_id is NULL or MUSE_ID_BUFSIZE writable bytes (caller).
        unsafe { put_opt_id(out_id, &id) };
        Ok(())
    })
}

/// Creates tag `name` at revision `target` (NULL means HEAD); with `force`
/// an existing tag is moved, else refused.
///
/// - `out_id`: optional (may be NULL); `MUSE_ID_BUFSIZE` bytes that receive
///   the tagged commit's ID.
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_UTF8`, `MUSE_E_INVALID_INPUT` (bad
/// name, the tag exists without `force`), `MUSE_E_NOT_FOUND` (unknown
/// `target`), `MUSE_E_IO`.
///
/// Thread-safe (compare-and-swap on the tag).
///
/// # Safety
/// `repo` must be NULL or a live handle; `name`, `target` NULL or
/// NUL-terminated; `out_id` NULL or `MUSE_ID_BUFSIZE` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn muse_repository_create_tag(
    repo: *const muse_repository,
    name: *const c_char,
    target: *const c_char,
    force: bool,
    out_id: *mut c_char,
) -> muse_status {
    guard(|| {
        // SAFETY: caller guarantees.
        let (repo, name, target) = unsafe { (handle(repo, "repo")?, cstr(name, "name")?, opt_cstr(target, "target")?) };
        let id = repo.repo().create_tag(name, target, force)?;
        // SAFETY: out_id is NULL or MUSE_ID_BUFSIZE writable bytes (caller).
        unsafe { put_opt_id(out_id, &id) };
        Ok(())
    })
}

/// Deletes tag `name`.
///
/// - `out_id`: optional (may be NULL); `MUSE_ID_BUFSIZE` bytes that receive
///   the commit it named.
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_UTF8`, `MUSE_E_INVALID_INPUT` (bad
/// name), `MUSE_E_NOT_FOUND` (no such tag), `MUSE_E_CONFLICT` (it moved
/// meanwhile), `MUSE_E_IO`.
///
/// # Safety
/// `repo` must be NULL or a live handle; `name` NULL or NUL-terminated;
/// `out_id` NULL or `MUSE_ID_BUFSIZE` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn muse_repository_delete_tag(
    repo: *const muse_repository,
    name: *const c_char,
    out_id: *mut c_char,
) -> muse_status {
    guard(|| {
        // SAFETY: caller guarantees.
        let (repo, name) = unsafe { (handle(repo, "repo")?, cstr(name, "name")?) };
        let id = repo.repo().delete_tag(name)?;
        // SAFETY: out_id is NULL or MUSE_ID_BUFSIZE writable bytes (caller).
        unsafe { put_opt_id(out_id, &id) };
        Ok(())
    })
}

/// The tags as a new `muse_ref_list` of `(name, commit_id)`, sorted by
/// name; free it with `muse_ref_list_free`.
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_INTEGRITY` (a damaged tag),
/// `MUSE_E_IO`.
///
/// # Safety
/// `repo` must be NULL or a live handle; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn muse_repository_tags(repo: *const muse_repository, out: *mut *mut muse_ref_list) -> muse_status {
    guard(|| {
        need(out, "out")?;
        // SAFETY: caller guarantee.
        let repo = unsafe { handle(repo, "repo") }?;
        let tags = repo.repo().tags()?;
        let list = muse_ref_list::new(tags.iter().map(|(n, c)| (n.as_str(), c.as_str())));
        // SAFETY: out checked non-NULL and writable.
        unsafe { put(out, into_handle(list)) };
        Ok(())
    })
}

/// What commit `rev` (NULL means HEAD) changed (git's `show`): its ID in
/// `out_id` and a new `muse_diff_list` of the changes against its first
/// parent (from nothing for a root commit), each with its patch; free it
/// with `muse_diff_list_free`. Read the commit itself with
/// `muse_commit_read`.
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_UTF8`, `MUSE_E_NOT_FOUND` (unknown
/// `rev`), `MUSE_E_INTEGRITY`, `MUSE_E_IO`.
///
/// # Safety
/// `repo` must be NULL or a live handle; `rev` NULL or NUL-terminated;
/// `out_id` NULL or `MUSE_ID_BUFSIZE` writable bytes; `out` NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn muse_repository_show(
    repo: *const muse_repository,
    rev: *const c_char,
    out_id: *mut c_char,
    out: *mut *mut crate::porcelain::muse_diff_list,
) -> muse_status {
    guard(|| {
        need(out, "out")?;
        // SAFETY: caller guarantees.
        let (repo, rev) = unsafe { (handle(repo, "repo")?, opt_cstr(rev, "rev")?) };
        let (rec, changes) = repo.repo().commit_changes(rev.unwrap_or("HEAD"))?;
        let list = crate::porcelain::diff_list(repo.repo(), changes)?;
        // SAFETY: out checked non-NULL and writable; out_id written only
        // when non-NULL (MUSE_ID_BUFSIZE bytes, caller).
        unsafe {
            if !out_id.is_null() {
                put_id(out_id, &rec.commit_id);
            }
            put(out, into_handle(list));
        }
        Ok(())
    })
}

/// Puts the local changes to tracked files aside as a new stash entry and
/// resets the stage and working tree to HEAD (git's `stash push`;
/// untracked files stay).
///
/// - `message`: optional (NULL: "WIP on <branch>: <commit> <subject>").
/// - `stashed_out`: receives whether there was anything to stash.
/// - `out_id`: optional (may be NULL); `MUSE_ID_BUFSIZE` bytes that receive
///   the entry's commit (`""` when nothing was stashed).
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_UTF8`, `MUSE_E_INVALID_INPUT`
/// (unborn HEAD, an operation in progress), `MUSE_E_CONFLICT`,
/// `MUSE_E_INTEGRITY`, `MUSE_E_IO`.
///
/// # Safety
/// `repo` must be NULL or a live handle; `message` NULL or
/// NUL-terminated; `stashed_out` NULL or writable; `out_id` NULL or
/// `MUSE_ID_BUFSIZE` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn muse_repository_stash(
    repo: *const muse_repository,
    message: *const c_char,
    stashed_out: *mut bool,
    out_id: *mut c_char,
) -> muse_status {
    guard(|| {
        need(stashed_out, "stashed_out")?;
        // SAFETY: caller guarantees.
        let (repo, message) = unsafe { (handle(repo, "repo")?, opt_cstr(message, "message")?) };
        let entry = repo.repo().stash_push(message)?;
        // SAFETY: stashed_out checked non-NULL; out_id written only when
        // non-NULL (MUSE_ID_BUFSIZE bytes, caller).
        unsafe {
            put(stashed_out, entry.is_some());
            if !out_id.is_null() {
                match &entry {
                    Some(id) => put_id(out_id, id),
                    None => put(out_id, 0),
                }
            }
        }
        Ok(())
    })
}

/// The stash entries, newest first, as a new `muse_ref_list` of
/// `(message, commit_id)` (entry `i` of the list is `stash@{i}`); free it
/// with `muse_ref_list_free`.
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_INTEGRITY`, `MUSE_E_IO`.
///
/// # Safety
/// `repo` must be NULL or a live handle; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn muse_repository_stash_list(repo: *const muse_repository, out: *mut *mut muse_ref_list) -> muse_status {
    guard(|| {
        need(out, "out")?;
        // SAFETY: caller guarantee.
        let repo = unsafe { handle(repo, "repo") }?;
        let list = repo.repo().stash_list()?;
        let refs = muse_ref_list::new(list.iter().map(|e| (e.message.as_str(), e.commit.as_str())));
        // SAFETY: out checked non-NULL and writable.
        unsafe { put(out, into_handle(refs)) };
        Ok(())
    })
}

/// Re-applies stash entry `index` (0: the newest) to the working tree,
/// merged line by line with HEAD; with `drop`, the entry is then removed
/// unless it conflicted (git's `stash pop`; without: `stash apply`).
/// `kind_out` is `MUSE_MERGE_MERGED` or `MUSE_MERGE_CONFLICTS` (a success:
/// the conflicts are in the files, the entry is kept); `conflicts_out` as
/// in `muse_repository_merge`.
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_NOT_FOUND` (no such entry),
/// `MUSE_E_INVALID_INPUT` (local changes, unborn HEAD), `MUSE_E_CONFLICT`,
/// `MUSE_E_INTEGRITY`, `MUSE_E_IO`.
///
/// # Safety
/// `repo` must be NULL or a live handle; `kind_out`, `conflicts_out` NULL
/// or writable.
#[no_mangle]
pub unsafe extern "C" fn muse_repository_stash_apply(
    repo: *const muse_repository,
    index: usize,
    drop: bool,
    kind_out: *mut muse_merge_kind,
    conflicts_out: *mut *mut muse_path_list,
) -> muse_status {
    guard(|| {
        need(kind_out, "kind_out")?;
        // SAFETY: caller guarantee.
        let repo = unsafe { handle(repo, "repo") }?;
        let outcome = if drop { repo.repo().stash_pop(index)? } else { repo.repo().stash_apply(index)? };
        // SAFETY: kind_out checked non-NULL; the rest per the caller.
        unsafe { put_outcome(outcome, kind_out, std::ptr::null_mut(), conflicts_out) };
        Ok(())
    })
}

/// Removes stash entry `index`.
///
/// - `out_id`: optional (may be NULL); `MUSE_ID_BUFSIZE` bytes that receive
///   the entry's commit.
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_NOT_FOUND` (no such entry),
/// `MUSE_E_CONFLICT` (the stash changed meanwhile), `MUSE_E_IO`.
///
/// # Safety
/// `repo` must be NULL or a live handle; `out_id` NULL or
/// `MUSE_ID_BUFSIZE` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn muse_repository_stash_drop(repo: *const muse_repository, index: usize, out_id: *mut c_char) -> muse_status {
    guard(|| {
        // SAFETY: caller guarantee.
        let repo = unsafe { handle(repo, "repo") }?;
        let id = repo.repo().stash_drop(index)?;
        // SAFETY: out_id is NULL or MUSE_ID_BUFSIZE writable bytes (caller).
        unsafe { put_opt_id(out_id, &id) };
        Ok(())
    })
}
