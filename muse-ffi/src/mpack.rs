//! MPack bundles: build + encode, decode + verify + apply (SPEC section 7).

use std::ffi::c_char;

use muse_core::ids::CommitId;
use muse_core::mpack::{decode_mpack, encode_mpack, Limits};

use crate::error::{guard, muse_status};
use crate::manifest::muse_ref_list;
use crate::repo::{muse_bytes, muse_repository};
use crate::util::{bytes, cstr, cstr_array, handle, into_handle, need, put};

/// What `muse_mpack_apply` stored. A plain struct owned by the caller.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct muse_mpack_stats {
    /// Commit records newly stored.
    pub commits_written: usize,
    /// Snapshot records newly stored.
    pub snapshots_written: usize,
    /// Blobs newly stored.
    pub blobs_written: usize,
    /// Blobs of the bundle that were already stored.
    pub blobs_skipped: usize,
}

/// Writes an applied bundle's counts to `stats_out` and, when
/// `branch_heads_out` is not NULL, a new `muse_ref_list` of its verified
/// branch heads (`muse_mpack_apply`, `muse_bundle_apply`).
///
/// # Safety
/// `stats_out` non-NULL and writable; `branch_heads_out` NULL or writable.
unsafe fn put_apply_outputs(
    st: &muse_core::mpack::ApplyStats,
    stats_out: *mut muse_mpack_stats,
    branch_heads_out: *mut *mut muse_ref_list,
) {
    let stats = muse_mpack_stats {
        commits_written: st.commits_written,
        snapshots_written: st.snapshots_written,
        blobs_written: st.blobs_written,
        blobs_skipped: st.blobs_skipped,
    };
    // SAFETY: stats_out non-NULL and writable; branch_heads_out written
    // only when non-NULL (the caller's guarantees).
    unsafe {
        put(stats_out, stats);
        if !branch_heads_out.is_null() {
            let heads = muse_ref_list::new(st.branch_heads.iter().map(|(a, b)| (a.as_str(), b.as_str())));
            put(branch_heads_out, into_handle(heads));
        }
    }
}

/// Builds the MPack bundle of everything reachable from the `want` commits
/// and not from the `have` commits (commits, their snapshots as deltas,
/// the blobs the receiver lacks, and the branches pointing at the `want`
/// tips), encoded as msgpack bytes (the wire format of SPEC section 7).
///
/// - `want`, `want_len`: an array of commit IDs; may be NULL only when
///   `want_len` is 0.
/// - `have`, `have_len`: commit IDs the receiver already has (IDs not
///   stored here are ignored); may be NULL only when `have_len` is 0.
/// - `out`: receives a new `muse_bytes` holding the encoded bundle; free it
///   with `muse_bytes_free`.
///
/// Errors: `MUSE_E_NULL_ARG` (also for a NULL element), `MUSE_E_UTF8`,
/// `MUSE_E_INVALID_INPUT` (malformed ID), `MUSE_E_NOT_FOUND` (a `want`
/// commit, a parent, a snapshot or a blob is missing), `MUSE_E_INTEGRITY`
/// (corrupt record or object), `MUSE_E_IO`.
///
/// # Safety
/// `repo` must be NULL or a live handle; `want`/`have` NULL or arrays of
/// `want_len`/`have_len` pointers, each NULL or NUL-terminated; `out` NULL
/// or writable.
#[no_mangle]
pub unsafe extern "C" fn muse_mpack_build(
    repo: *const muse_repository,
    want: *const *const c_char,
    want_len: usize,
    have: *const *const c_char,
    have_len: usize,
    out: *mut *mut muse_bytes,
) -> muse_status {
    guard(|| {
        need(out, "out")?;
        // SAFETY: caller guarantees.
        let (repo, want, have) = unsafe {
            (
                handle(repo, "repo")?,
                cstr_array(want, want_len, "want")?,
                cstr_array(have, have_len, "have")?,
            )
        };
        let ids = |v: Vec<&str>| v.into_iter().map(CommitId::parse).collect::<muse_core::Result<Vec<_>>>();
        let bundle = repo.repo().build_mpack(&ids(want)?, &ids(have)?)?;
        let data = encode_mpack(&bundle)?;
        // SAFETY: checked non-NULL, writable.
        unsafe { put(out, muse_bytes::from_vec(data)) };
        Ok(())
    })
}

/// Decodes an encoded MPack bundle and applies it to `repo`, treating it
/// as hostile input: sizes are bounded while decoding, and every blob,
/// rebuilt manifest and commit is verified before anything is written. All
/// of it is then made durable with one flush barrier. On any failure
/// nothing the bundle refers to becomes visible. Moves no ref: the
/// bundle's verified branch heads are returned for the caller to apply
/// (e.g. with `muse_ref_compare_and_swap`).
///
/// Default limits: 4 GiB bundle, 2 GiB per blob, 10 million container
/// items, nesting depth 64.
///
/// - `data`, `len`: the encoded bundle; `data` may be NULL only when `len`
///   is 0.
/// - `stats_out`: receives the counts.
/// - `branch_heads_out`: optional (may be NULL); receives a new
///   `muse_ref_list` of the bundle's `(branch, commit_id)` heads; free it
///   with `muse_ref_list_free`.
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_INTEGRITY` (truncated or malformed
/// bundle, a hash that does not verify, a missing parent; over a size
/// limit; the message names the first bad entry), `MUSE_E_INVALID_INPUT`
/// (unsupported version, over an entry-count limit),
/// `MUSE_E_NOT_A_REPOSITORY`, `MUSE_E_IO`.
///
/// # Safety
/// `repo` must be NULL or a live handle; `data` must point to `len`
/// readable bytes (or be NULL with `len` 0); `stats_out` NULL or writable;
/// `branch_heads_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn muse_mpack_apply(
    repo: *const muse_repository,
    data: *const u8,
    len: usize,
    stats_out: *mut muse_mpack_stats,
    branch_heads_out: *mut *mut muse_ref_list,
) -> muse_status {
    guard(|| {
        need(stats_out, "stats_out")?;
        // SAFETY: caller guarantees.
        let (repo, data) = unsafe { (handle(repo, "repo")?, bytes(data, len, "data")?) };
        let limits = Limits::default();
        let bundle = decode_mpack(data, &limits)?;
        let st = repo.repo().apply_mpack(&bundle, &limits)?;
        // SAFETY: the caller's guarantees on both pointers, passed on.
        unsafe { put_apply_outputs(&st, stats_out, branch_heads_out) };
        Ok(())
    })
}

/// What `muse_bundle_create` wrote. A plain struct owned by the caller.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct muse_bundle_stats {
    /// Size of the file, in bytes.
    pub bytes: u64,
    /// Commit frames.
    pub commits: usize,
    /// Snapshot frames.
    pub snapshots: usize,
    /// Blob frames.
    pub blobs: usize,
    /// Blob frames stored as a delta against another blob.
    pub blob_deltas: usize,
    /// Blob frames copied from a pack entry as stored (no recompression).
    pub blobs_reused: usize,
    /// Prerequisite commits: the boundary, which the receiver must store.
    pub prerequisites: usize,
}

/// Writes a bundle *file* (the streaming, compressed format of `muse bundle
/// create`, format version 2; not the in-memory MPack of
/// `muse_mpack_build`) at `path` with everything reachable from the `want`
/// commits and not from the `have` commits (a thin bundle: the boundary
/// commits are its prerequisites). Memory stays bounded whatever the
/// history size. The file is written under a temporary name beside `path`
/// and renamed into place only when complete.
///
/// - `path`: the file to write (replaced if it exists).
/// - `want`, `want_len` / `have`, `have_len`: arrays of commit IDs, as for
///   `muse_mpack_build`.
/// - `stats_out`: receives what was written.
///
/// Errors: `MUSE_E_NULL_ARG` (also for a NULL element), `MUSE_E_UTF8`,
/// `MUSE_E_INVALID_INPUT` (malformed ID), `MUSE_E_NOT_FOUND` (a `want`
/// commit or what it needs is missing), `MUSE_E_INTEGRITY` (corrupt record),
/// `MUSE_E_IO` (the file cannot be written).
///
/// # Safety
/// `repo` must be NULL or a live handle; `path` NULL or NUL-terminated;
/// `want`/`have` NULL or arrays of `want_len`/`have_len` pointers, each NULL
/// or NUL-terminated; `stats_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn muse_bundle_create(
    repo: *const muse_repository,
    path: *const c_char,
    want: *const *const c_char,
    want_len: usize,
    have: *const *const c_char,
    have_len: usize,
    stats_out: *mut muse_bundle_stats,
) -> muse_status {
    guard(|| {
        need(stats_out, "stats_out")?;
        // SAFETY: caller guarantees.
        let (repo, path, want, have) = unsafe {
            (
                handle(repo, "repo")?,
                cstr(path, "path")?,
                cstr_array(want, want_len, "want")?,
                cstr_array(have, have_len, "have")?,
            )
        };
        let ids = |v: Vec<&str>| v.into_iter().map(CommitId::parse).collect::<muse_core::Result<Vec<_>>>();
        let st = repo.repo().create_bundle(std::path::Path::new(path), &ids(want)?, &ids(have)?)?;
        let stats = muse_bundle_stats {
            bytes: st.bytes,
            commits: st.commits,
            snapshots: st.snapshots,
            blobs: st.blobs,
            blob_deltas: st.blob_deltas,
            blobs_reused: st.blobs_reused,
            prerequisites: st.prerequisites.len(),
        };
        // SAFETY: checked non-NULL, writable (caller).
        unsafe { put(stats_out, stats) };
        Ok(())
    })
}

/// Verifies and stores the bundle file at `path` (format version 2, or a
/// version-1 MPack file), streaming it: the file is treated as hostile
/// input, every blob, rebuilt manifest and commit is verified, and all of
/// it is made durable with one flush barrier; on any failure nothing
/// becomes visible and the message names the first bad entry and its byte
/// offset. Moves no ref: the verified branch heads are returned for the
/// caller to apply (e.g. with `muse_ref_compare_and_swap`).
///
/// - `stats_out`: receives the counts.
/// - `branch_heads_out`: optional (may be NULL); receives a new
///   `muse_ref_list` of the bundle's `(branch, commit_id)` heads; free it
///   with `muse_ref_list_free`.
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_UTF8`, `MUSE_E_NOT_FOUND` (the
/// repository lacks a prerequisite commit), `MUSE_E_INTEGRITY` (a file
/// that does not verify), `MUSE_E_INVALID_INPUT` (over a limit),
/// `MUSE_E_IO`.
///
/// # Safety
/// `repo` must be NULL or a live handle; `path` NULL or NUL-terminated;
/// `stats_out` NULL or writable; `branch_heads_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn muse_bundle_apply(
    repo: *const muse_repository,
    path: *const c_char,
    stats_out: *mut muse_mpack_stats,
    branch_heads_out: *mut *mut muse_ref_list,
) -> muse_status {
    guard(|| {
        need(stats_out, "stats_out")?;
        // SAFETY: caller guarantees.
        let (repo, path) = unsafe { (handle(repo, "repo")?, cstr(path, "path")?) };
        let st = repo.repo().apply_bundle(std::path::Path::new(path), &Limits::default())?;
        // SAFETY: the caller's guarantees on both pointers, passed on.
        unsafe { put_apply_outputs(&st, stats_out, branch_heads_out) };
        Ok(())
    })
}
