//! Commit and snapshot records, the commit view handle, the log iterator
//! and merge bases.
//!
//! Records cross the C boundary in two forms: as msgpack bytes (the record
//! map of SPEC section 3, decodable with any msgpack library) and as small
//! read-only handles with accessor functions (`muse_commit`,
//! `muse_manifest`), so that C code needs no msgpack library for the
//! common fields.

use std::ffi::{c_char, CString};
use std::path::Path;

use muse_core::ids::validate_id;
use muse_core::records::{CommitRecord, SnapshotRecord};
use muse_core::Error;

use crate::error::{guard, guard_value, muse_status, FfiError, FfiResult};
use crate::manifest::muse_manifest;
use crate::repo::{muse_bytes, muse_repository};
use crate::util::{bytes, c_lossy, cstr, free_handle, handle, handle_mut, into_handle, need, opt_cstr, put, put_id};

fn not_found(what: &'static str, id: &str) -> FfiError {
    Error::NotFound {
        what,
        name: id.to_string(),
    }
    .into()
}

/// Decoding caller-supplied record bytes: a failure is bad input, not a
/// corrupt store.
fn input_error(e: Error) -> FfiError {
    match e {
        Error::Corrupt { what, detail, .. } => FfiError::invalid(format!("cannot decode {what} bytes: {detail}")),
        other => other.into(),
    }
}

// ---------------------------------------------------------------------------
// Commits as msgpack
// ---------------------------------------------------------------------------

/// Stores a commit record given as msgpack bytes: a map with string keys as
/// SPEC section 3 describes (`commit_id`, `snapshot_id`, `message`,
/// `committed_at` (ISO-8601 string, hashed as is), `parent_commit_id`,
/// `parent2_commit_id`, `author`, `branch`, `metadata`, ...). Unknown keys
/// are preserved.
///
/// The record must verify: well-formed IDs, and `commit_id` equal to
/// `hash_commit` of its fields. Its snapshot and parents need not be
/// stored (but see SPEC section 4: write them first). Durable on return under the
/// `[core] fsync` policy.
///
/// - `created_out`: optional (may be NULL); receives `true` when written,
///   `false` when a commit with that ID was already stored.
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_INVALID_INPUT` (undecodable bytes,
/// malformed ID, bad field value), `MUSE_E_INTEGRITY` (`commit_id` does not
/// verify, record over 64 MiB; nothing written), `MUSE_E_IO`.
///
/// # Safety
/// `repo` must be NULL or a live handle; `data` must point to `len`
/// readable bytes (or be NULL with `len` 0); `created_out` NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn muse_commit_write_msgpack(
    repo: *const muse_repository,
    data: *const u8,
    len: usize,
    created_out: *mut bool,
) -> muse_status {
    guard(|| {
        // SAFETY: caller guarantees.
        let (repo, data) = unsafe { (handle(repo, "repo")?, bytes(data, len, "data")?) };
        let rec = CommitRecord::from_msgpack(data, Path::new("<input>")).map_err(input_error)?;
        let created = repo.repo().write_commit(&rec)?;
        if !created_out.is_null() {
            // SAFETY: non-NULL, writable (caller).
            unsafe { put(created_out, created) };
        }
        Ok(())
    })
}

/// Reads the commit `id` as msgpack bytes: exactly the bytes of its record
/// file (`.muse/commits/<hex>.msgpack`), after verifying that they decode
/// and that the record hashes to `id`. Decode them with any msgpack
/// library; see `muse_commit_read` for a decoded view.
///
/// - `out`: receives a new `muse_bytes`; free it with `muse_bytes_free`.
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_UTF8`, `MUSE_E_INVALID_INPUT`
/// (malformed `id`), `MUSE_E_NOT_FOUND` (no such commit),
/// `MUSE_E_INTEGRITY` (the stored record is corrupt or over 64 MiB),
/// `MUSE_E_IO`.
///
/// # Safety
/// `repo` must be NULL or a live handle; `id` NULL or NUL-terminated;
/// `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn muse_commit_read_msgpack(
    repo: *const muse_repository,
    id: *const c_char,
    out: *mut *mut muse_bytes,
) -> muse_status {
    guard(|| {
        need(out, "out")?;
        // SAFETY: caller guarantees.
        let (repo, id) = unsafe { (handle(repo, "repo")?, cstr(id, "id")?) };
        let data = muse_core::commits::read_verified_commit_bytes(repo.repo().fs_store("raw commit bytes")?.root(), id)?.ok_or_else(|| not_found("commit", id))?;
        // SAFETY: out checked non-NULL, writable (caller).
        unsafe { put(out, muse_bytes::from_vec(data)) };
        Ok(())
    })
}

/// Creates and stores a commit: `committed_at` is now (UTC), the ID is
/// computed from the fields (SPEC section 2). Moves no ref: point a branch at the
/// new commit with `muse_ref_write` or `muse_ref_compare_and_swap`.
///
/// - `branch`: the branch name recorded in the commit (informational; it
///   must be a valid branch name).
/// - `snapshot_id`: a snapshot that is stored in the repository.
/// - `message`: the commit message.
/// - `author`: optional (NULL means `""`).
/// - `parent`: optional; the first parent, a commit that is stored. NULL
///   for a root commit.
/// - `out_id`: a buffer of `MUSE_ID_BUFSIZE` bytes; receives the new
///   commit's ID.
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_UTF8`, `MUSE_E_INVALID_INPUT`
/// (malformed ID, invalid branch name), `MUSE_E_NOT_FOUND` (snapshot or
/// parent not stored; nothing written), `MUSE_E_IO`.
///
/// # Safety
/// `repo` must be NULL or a live handle; the strings NULL or
/// NUL-terminated; `out_id` NULL or `MUSE_ID_BUFSIZE` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn muse_commit_create(
    repo: *const muse_repository,
    branch: *const c_char,
    snapshot_id: *const c_char,
    message: *const c_char,
    author: *const c_char,
    parent: *const c_char,
    out_id: *mut c_char,
) -> muse_status {
    guard(|| {
        need(out_id, "out_id")?;
        // SAFETY: caller guarantees on every argument.
        let (repo, branch, snapshot_id, message, author, parent) = unsafe {
            (
                handle(repo, "repo")?,
                cstr(branch, "branch")?,
                cstr(snapshot_id, "snapshot_id")?,
                cstr(message, "message")?,
                opt_cstr(author, "author")?,
                opt_cstr(parent, "parent")?,
            )
        };
        let parents: Vec<&str> = parent.into_iter().collect();
        let rec = repo.repo().create_commit(&muse_core::commit::NewCommit {
            branch,
            snapshot_id,
            message,
            author: author.unwrap_or(""),
            parents: &parents,
        })?;
        // SAFETY: out_id checked non-NULL, MUSE_ID_BUFSIZE bytes (caller).
        unsafe { put_id(out_id, &rec.commit_id) };
        Ok(())
    })
}

/// Whether the commit `id` is stored (its record file exists; not read).
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_UTF8`, `MUSE_E_INVALID_INPUT`.
///
/// # Safety
/// `repo` must be NULL or a live handle; `id` NULL or NUL-terminated;
/// `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn muse_commit_has(repo: *const muse_repository, id: *const c_char, out: *mut bool) -> muse_status {
    guard(|| {
        need(out, "out")?;
        // SAFETY: caller guarantees.
        let (repo, id) = unsafe { (handle(repo, "repo")?, cstr(id, "id")?) };
        let has = repo.repo().has_commit(id)?;
        // SAFETY: checked non-NULL, writable.
        unsafe { put(out, has) };
        Ok(())
    })
}

// ---------------------------------------------------------------------------
// The commit view
// ---------------------------------------------------------------------------

/// A read-only, decoded view of one verified commit record. Created by
/// `muse_commit_read` or `muse_log_iter_next`; freed with
/// `muse_commit_free`. Independent of the repository handle. The views
/// `muse_commit_list_get` returns are borrowed from their list instead
/// (freed with it, never with `muse_commit_free`).
///
/// String accessors return pointers borrowed from the handle (valid until
/// `muse_commit_free`); a field that contains a NUL byte is cut at it (use
/// `muse_commit_read_msgpack` for the exact record).
pub struct muse_commit {
    id: CString,
    snapshot_id: CString,
    message: CString,
    author: CString,
    branch: CString,
    committed_at: CString,
    parents: Vec<CString>,
}

impl muse_commit {
    pub(crate) fn from_record(rec: &CommitRecord) -> muse_commit {
        muse_commit {
            id: c_lossy(&rec.commit_id),
            snapshot_id: c_lossy(&rec.snapshot_id),
            message: c_lossy(&rec.message),
            author: c_lossy(&rec.author),
            branch: c_lossy(&rec.branch),
            committed_at: c_lossy(&rec.committed_at),
            parents: rec.parents().map(c_lossy).collect(),
        }
    }
}

/// Reads and verifies the commit `id`.
///
/// - `out`: receives a new `muse_commit`; free it with `muse_commit_free`.
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_UTF8`, `MUSE_E_INVALID_INPUT`
/// (malformed `id`), `MUSE_E_NOT_FOUND`, `MUSE_E_INTEGRITY` (corrupt
/// record), `MUSE_E_IO`.
///
/// # Safety
/// `repo` must be NULL or a live handle; `id` NULL or NUL-terminated;
/// `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn muse_commit_read(
    repo: *const muse_repository,
    id: *const c_char,
    out: *mut *mut muse_commit,
) -> muse_status {
    guard(|| {
        need(out, "out")?;
        // SAFETY: caller guarantees.
        let (repo, id) = unsafe { (handle(repo, "repo")?, cstr(id, "id")?) };
        let rec = repo.repo().read_commit(id)?.ok_or_else(|| not_found("commit", id))?;
        // SAFETY: checked non-NULL, writable.
        unsafe { put(out, into_handle(muse_commit::from_record(&rec))) };
        Ok(())
    })
}

/// Shared body of the string accessors of `muse_commit`.
///
/// # Safety
/// `commit` must be NULL or a live handle.
unsafe fn commit_field(commit: *const muse_commit, f: fn(&muse_commit) -> &CString) -> *const c_char {
    guard_value(std::ptr::null(), || {
        // SAFETY: caller guarantee.
        match unsafe { handle(commit, "commit") } {
            Ok(c) => f(c).as_ptr(),
            Err(_) => std::ptr::null(),
        }
    })
}

/// The commit's ID (`"sha256:..."`, 71 characters).
///
/// Borrowed from the handle; valid until `muse_commit_free`. NULL when
/// `commit` is NULL.
///
/// # Safety
/// `commit` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn muse_commit_id(commit: *const muse_commit) -> *const c_char {
    // SAFETY: forwarded caller guarantee.
    unsafe { commit_field(commit, |c| &c.id) }
}

/// The ID of the snapshot the commit records.
///
/// Borrowed from the handle; valid until `muse_commit_free`. NULL when
/// `commit` is NULL.
///
/// # Safety
/// `commit` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn muse_commit_snapshot_id(commit: *const muse_commit) -> *const c_char {
    // SAFETY: forwarded caller guarantee.
    unsafe { commit_field(commit, |c| &c.snapshot_id) }
}

/// The commit message.
///
/// Borrowed from the handle; valid until `muse_commit_free`. NULL when
/// `commit` is NULL.
///
/// # Safety
/// `commit` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn muse_commit_message(commit: *const muse_commit) -> *const c_char {
    // SAFETY: forwarded caller guarantee.
    unsafe { commit_field(commit, |c| &c.message) }
}

/// The author (`""` when none).
///
/// Borrowed from the handle; valid until `muse_commit_free`. NULL when
/// `commit` is NULL.
///
/// # Safety
/// `commit` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn muse_commit_author(commit: *const muse_commit) -> *const c_char {
    // SAFETY: forwarded caller guarantee.
    unsafe { commit_field(commit, |c| &c.author) }
}

/// The branch the commit was made on (informational).
///
/// Borrowed from the handle; valid until `muse_commit_free`. NULL when
/// `commit` is NULL.
///
/// # Safety
/// `commit` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn muse_commit_branch(commit: *const muse_commit) -> *const c_char {
    // SAFETY: forwarded caller guarantee.
    unsafe { commit_field(commit, |c| &c.branch) }
}

/// The commit time as stored: ISO-8601 as Python's
/// `datetime.isoformat()` writes it (e.g.
/// `"2026-01-01T12:00:00.123456+00:00"`).
///
/// Borrowed from the handle; valid until `muse_commit_free`. NULL when
/// `commit` is NULL.
///
/// # Safety
/// `commit` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn muse_commit_committed_at(commit: *const muse_commit) -> *const c_char {
    // SAFETY: forwarded caller guarantee.
    unsafe { commit_field(commit, |c| &c.committed_at) }
}

/// Number of parents: 0 (root commit), 1, or 2 (merge); 0 when `commit` is
/// NULL.
///
/// # Safety
/// `commit` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn muse_commit_parent_count(commit: *const muse_commit) -> usize {
    guard_value(0, || {
        // SAFETY: caller guarantee.
        unsafe { handle(commit, "commit") }
            .map(|c| c.parents.len())
            .unwrap_or(0)
    })
}

/// The parent at `index` (0: first parent, 1: second parent of a merge),
/// borrowed from the handle; NULL when `index` is out of range or `commit`
/// is NULL.
///
/// # Safety
/// `commit` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn muse_commit_parent(commit: *const muse_commit, index: usize) -> *const c_char {
    guard_value(std::ptr::null(), || {
        // SAFETY: caller guarantee.
        match unsafe { handle(commit, "commit") } {
            Ok(c) => c.parents.get(index).map_or(std::ptr::null(), |p| p.as_ptr()),
            Err(_) => std::ptr::null(),
        }
    })
}

/// Frees a commit view. NULL is a no-op.
///
/// # Safety
/// `commit` must be NULL or a live handle, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn muse_commit_free(commit: *mut muse_commit) {
    // SAFETY: forwarded caller guarantee.
    guard_value((), || unsafe { free_handle(commit) })
}

// ---------------------------------------------------------------------------
// The log iterator
// ---------------------------------------------------------------------------

/// An iterator over a first-parent history, newest first (`muse log`).
/// Holds one commit at a time, whatever the depth of the history.
/// Created by `muse_log_iter_new`, freed with `muse_log_iter_free`;
/// independent of the repository handle. Not thread-safe: use one
/// iterator from one thread at a time.
pub struct muse_log_iter {
    walk: muse_core::log::FirstParentWalk,
}

/// Starts a first-parent walk at `tip`.
///
/// - `tip`: optional; a commit ID. NULL starts at the commit HEAD resolves
///   to (an unborn branch gives an empty walk).
/// - `out`: receives a new iterator; free it with `muse_log_iter_free`.
///
/// The commits themselves are read by `muse_log_iter_next`, so a missing
/// `tip` commit is reported there.
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_UTF8`, `MUSE_E_INVALID_INPUT`
/// (malformed `tip`), `MUSE_E_INTEGRITY` (corrupt HEAD or ref),
/// `MUSE_E_IO`.
///
/// # Safety
/// `repo` must be NULL or a live handle; `tip` NULL or NUL-terminated;
/// `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn muse_log_iter_new(
    repo: *const muse_repository,
    tip: *const c_char,
    out: *mut *mut muse_log_iter,
) -> muse_status {
    guard(|| {
        need(out, "out")?;
        // SAFETY: caller guarantees.
        let (repo, tip) = unsafe { (handle(repo, "repo")?, opt_cstr(tip, "tip")?) };
        let start = match tip {
            Some(t) => {
                validate_id(t)?;
                Some(t.to_string())
            }
            None => repo.repo().resolve_head()?,
        };
        let it = muse_log_iter { walk: repo.repo().first_parent_walk(start.as_deref()) };
        // SAFETY: checked non-NULL, writable.
        unsafe { put(out, into_handle(it)) };
        Ok(())
    })
}

/// Advances the walk.
///
/// On `MUSE_OK`: when `*done_out` is `false`, `*commit_out` is the next
/// commit (a new `muse_commit`, free it with `muse_commit_free`); when
/// `*done_out` is `true` the history is exhausted and `*commit_out` is
/// NULL. Calling again after the end keeps returning done.
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_NOT_FOUND` (a commit of the chain is
/// missing), `MUSE_E_INTEGRITY` (corrupt record), `MUSE_E_IO`. After an
/// error the iterator is exhausted.
///
/// # Safety
/// `it` must be NULL or a live iterator not used concurrently;
/// `commit_out`, `done_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn muse_log_iter_next(
    it: *mut muse_log_iter,
    commit_out: *mut *mut muse_commit,
    done_out: *mut bool,
) -> muse_status {
    guard(|| {
        need(commit_out, "commit_out")?;
        need(done_out, "done_out")?;
        // SAFETY: caller guarantee.
        let it = unsafe { handle_mut(it, "it") }?;
        let Some(rec) = it.walk.next().transpose()? else {
            // SAFETY: both checked non-NULL, writable.
            unsafe {
                put(commit_out, std::ptr::null_mut());
                put(done_out, true);
            }
            return Ok(());
        };
        // SAFETY: both checked non-NULL, writable.
        unsafe {
            put(commit_out, into_handle(muse_commit::from_record(&rec)));
            put(done_out, false);
        }
        Ok(())
    })
}

/// Frees an iterator. NULL is a no-op. Commits it returned stay valid.
///
/// # Safety
/// `it` must be NULL or a live iterator, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn muse_log_iter_free(it: *mut muse_log_iter) {
    // SAFETY: forwarded caller guarantee.
    guard_value((), || unsafe { free_handle(it) })
}

/// The merge base of commits `a` and `b` (git's `merge-base`: the best
/// common ancestor), reading at most `[limits] max_ancestors` commits
/// (`.muse/config.toml`, default 50 000).
///
/// - `out_id`: a buffer of `MUSE_ID_BUFSIZE` bytes; on success receives
///   the merge base when there is one, else `""`.
/// - `found_out`: receives whether `a` and `b` share an ancestor.
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_UTF8`, `MUSE_E_INVALID_INPUT`,
/// `MUSE_E_NOT_FOUND` (a commit on the way is missing), `MUSE_E_INTEGRITY`,
/// `MUSE_E_CAP` (more than `max_ancestors` commits would have to be read,
/// or a bad config), `MUSE_E_IO`.
///
/// # Safety
/// `repo` must be NULL or a live handle; `a`, `b` NULL or NUL-terminated;
/// `out_id` NULL or `MUSE_ID_BUFSIZE` writable bytes; `found_out` NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn muse_merge_base(
    repo: *const muse_repository,
    a: *const c_char,
    b: *const c_char,
    out_id: *mut c_char,
    found_out: *mut bool,
) -> muse_status {
    guard(|| {
        need(out_id, "out_id")?;
        need(found_out, "found_out")?;
        // SAFETY: caller guarantees.
        let (repo, a, b) = unsafe { (handle(repo, "repo")?, cstr(a, "a")?, cstr(b, "b")?) };
        let base = repo.repo().merge_base(a, b)?;
        // SAFETY: checked non-NULL; out_id has MUSE_ID_BUFSIZE bytes.
        unsafe {
            match &base {
                Some(id) => put_id(out_id, id),
                None => put(out_id, 0),
            }
            put(found_out, base.is_some());
        }
        Ok(())
    })
}

// ---------------------------------------------------------------------------
// Snapshots
// ---------------------------------------------------------------------------

fn store_snapshot(repo: &muse_core::Repository, rec: &SnapshotRecord, out_id: *mut c_char) -> FfiResult {
    repo.write_snapshot(rec)?;
    // SAFETY: callers checked out_id non-NULL; MUSE_ID_BUFSIZE bytes.
    unsafe { put_id(out_id, &rec.snapshot_id) };
    Ok(())
}

/// Stores a snapshot of manifest `m` (its ID is computed from the
/// entries; `created_at` is now). Idempotent. Write the manifest's blobs
/// first (`muse_object_write`): a snapshot must not refer to missing
/// objects (this is not checked, for speed).
///
/// - `out_id`: a buffer of `MUSE_ID_BUFSIZE` bytes; receives the snapshot
///   ID.
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_INVALID_INPUT` (bad path or ID in the
/// manifest), `MUSE_E_INTEGRITY` (record over 64 MiB), `MUSE_E_IO`.
///
/// # Safety
/// `repo` must be NULL or a live handle; `m` NULL or a live manifest;
/// `out_id` NULL or `MUSE_ID_BUFSIZE` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn muse_snapshot_write_from_manifest(
    repo: *const muse_repository,
    m: *const muse_manifest,
    out_id: *mut c_char,
) -> muse_status {
    guard(|| {
        need(out_id, "out_id")?;
        // SAFETY: caller guarantees.
        let (repo, m) = unsafe { (handle(repo, "repo")?, handle(m, "m")?) };
        let rec = SnapshotRecord::new(m.map().clone());
        store_snapshot(repo.repo(), &rec, out_id)
    })
}

/// Reads and verifies the snapshot `id`, returning its full manifest.
///
/// - `out`: receives a new manifest; free it with `muse_manifest_free`.
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_UTF8`, `MUSE_E_INVALID_INPUT`
/// (malformed `id`), `MUSE_E_NOT_FOUND`, `MUSE_E_INTEGRITY` (corrupt
/// record), `MUSE_E_IO`.
///
/// # Safety
/// `repo` must be NULL or a live handle; `id` NULL or NUL-terminated;
/// `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn muse_snapshot_read(
    repo: *const muse_repository,
    id: *const c_char,
    out: *mut *mut muse_manifest,
) -> muse_status {
    guard(|| {
        need(out, "out")?;
        // SAFETY: caller guarantees.
        let (repo, id) = unsafe { (handle(repo, "repo")?, cstr(id, "id")?) };
        let rec = repo.repo().read_snapshot(id)?.ok_or_else(|| not_found("snapshot", id))?;
        let m = muse_manifest::from_map(rec.manifest)?;
        // SAFETY: checked non-NULL, writable.
        unsafe { put(out, into_handle(m)) };
        Ok(())
    })
}

/// Stores a snapshot record given as msgpack bytes (a map with
/// `snapshot_id`, `manifest` `{path: blob_id}`, `created_at`; unknown keys
/// preserved). The manifest must hash to `snapshot_id`.
///
/// - `created_out`: optional; receives whether the record was written.
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_INVALID_INPUT` (undecodable bytes,
/// bad path or ID), `MUSE_E_INTEGRITY` (manifest does not hash to
/// `snapshot_id`; nothing written), `MUSE_E_IO`.
///
/// # Safety
/// `repo` must be NULL or a live handle; `data` must point to `len`
/// readable bytes (or be NULL with `len` 0); `created_out` NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn muse_snapshot_write_msgpack(
    repo: *const muse_repository,
    data: *const u8,
    len: usize,
    created_out: *mut bool,
) -> muse_status {
    guard(|| {
        // SAFETY: caller guarantees.
        let (repo, data) = unsafe { (handle(repo, "repo")?, bytes(data, len, "data")?) };
        let rec = SnapshotRecord::from_msgpack(data, Path::new("<input>")).map_err(input_error)?;
        let created = repo.repo().write_snapshot(&rec)?;
        if !created_out.is_null() {
            // SAFETY: non-NULL, writable.
            unsafe { put(created_out, created) };
        }
        Ok(())
    })
}

/// Reads and verifies the snapshot `id` as msgpack bytes: the full record
/// map (`format_version`, `snapshot_id`, `manifest`, `created_at`, unknown
/// keys), always with the full manifest, even if the store keeps it as a
/// delta on disk.
///
/// - `out`: receives a new `muse_bytes`; free it with `muse_bytes_free`.
///
/// Errors: as `muse_snapshot_read`.
///
/// # Safety
/// As `muse_snapshot_read`.
#[no_mangle]
pub unsafe extern "C" fn muse_snapshot_read_msgpack(
    repo: *const muse_repository,
    id: *const c_char,
    out: *mut *mut muse_bytes,
) -> muse_status {
    guard(|| {
        need(out, "out")?;
        // SAFETY: caller guarantees.
        let (repo, id) = unsafe { (handle(repo, "repo")?, cstr(id, "id")?) };
        let rec = repo.repo().read_snapshot(id)?.ok_or_else(|| not_found("snapshot", id))?;
        let data = rec.to_msgpack()?;
        // SAFETY: checked non-NULL, writable.
        unsafe { put(out, muse_bytes::from_vec(data)) };
        Ok(())
    })
}

/// Whether the snapshot `id` is stored (not read).
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_UTF8`, `MUSE_E_INVALID_INPUT`.
///
/// # Safety
/// `repo` must be NULL or a live handle; `id` NULL or NUL-terminated;
/// `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn muse_snapshot_has(repo: *const muse_repository, id: *const c_char, out: *mut bool) -> muse_status {
    guard(|| {
        need(out, "out")?;
        // SAFETY: caller guarantees.
        let (repo, id) = unsafe { (handle(repo, "repo")?, cstr(id, "id")?) };
        let has = repo.repo().has_snapshot(id)?;
        // SAFETY: checked non-NULL, writable.
        unsafe { put(out, has) };
        Ok(())
    })
}
