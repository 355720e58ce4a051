//! IDs and the blob store.

use std::ffi::c_char;

use muse_core::ids::{blob_id, validate_id};

use crate::error::{guard, muse_status};
use crate::repo::{muse_bytes, muse_repository};
use crate::util::{bytes, cstr, handle, need, put, put_id};

/// Computes the blob ID of `len` bytes at `data`: `"sha256:"` + the 64
/// lowercase hex digits of their SHA-256.
///
/// - `data`: the content; may be NULL only when `len` is 0.
/// - `out_id`: a buffer of at least `MUSE_ID_BUFSIZE` (72) bytes; receives
///   the 71-character ID and a NUL on success.
///
/// Errors: `MUSE_E_NULL_ARG`.
///
/// # Safety
/// `data` must point to `len` readable bytes (or be NULL with `len` 0);
/// `out_id` must be NULL or point to `MUSE_ID_BUFSIZE` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn muse_blob_id(data: *const u8, len: usize, out_id: *mut c_char) -> muse_status {
    guard(|| {
        need(out_id, "out_id")?;
        // SAFETY: caller guarantee on data/len.
        let content = unsafe { bytes(data, len, "data") }?;
        let id = blob_id(content);
        // SAFETY: out_id checked non-NULL, MUSE_ID_BUFSIZE bytes (caller).
        unsafe { put_id(out_id, &id) };
        Ok(())
    })
}

/// Checks that `id` is a well-formed ID: `"sha256:"` followed by exactly
/// 64 lowercase hex digits. Returns `MUSE_OK`, or
/// `MUSE_E_INVALID_INPUT` with a message saying what is wrong;
/// `MUSE_E_NULL_ARG`, `MUSE_E_UTF8`.
///
/// # Safety
/// `id` must be NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn muse_id_validate(id: *const c_char) -> muse_status {
    guard(|| {
        // SAFETY: caller guarantee.
        let id = unsafe { cstr(id, "id") }?;
        validate_id(id)?;
        Ok(())
    })
}

/// Stores `len` bytes at `data` as the object `oid`.
///
/// The content is hash-verified first: it must hash to `oid` (compute it
/// with `muse_blob_id`). Idempotent: an object that is already stored is
/// not rewritten. Durable on return under the repository's `[core] fsync`
/// policy (default `"full"`).
///
/// - `created_out`: optional (may be NULL); on success receives `true` when
///   the object was written, `false` when it was already stored.
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_UTF8`, `MUSE_E_INVALID_INPUT`
/// (malformed `oid`), `MUSE_E_INTEGRITY` (content does not hash to `oid`;
/// nothing written), `MUSE_E_IO`.
///
/// # Safety
/// `repo` must be NULL or a live handle; `oid` NULL or a NUL-terminated
/// string; `data` must point to `len` readable bytes (or be NULL with
/// `len` 0); `created_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn muse_object_write(
    repo: *const muse_repository,
    oid: *const c_char,
    data: *const u8,
    len: usize,
    created_out: *mut bool,
) -> muse_status {
    guard(|| {
        // SAFETY: caller guarantees on every argument.
        let (repo, oid, content) = unsafe { (handle(repo, "repo")?, cstr(oid, "oid")?, bytes(data, len, "data")?) };
        let created = repo.repo().write_blob_as(oid, content)?;
        if !created_out.is_null() {
            // SAFETY: non-NULL and writable (caller).
            unsafe { put(created_out, created) };
        }
        Ok(())
    })
}

/// Reads the object `oid`, verifying that its bytes hash to `oid`.
///
/// - `out`: receives a new `muse_bytes` holding the content; free it with
///   `muse_bytes_free`.
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_UTF8`, `MUSE_E_INVALID_INPUT`
/// (malformed `oid`), `MUSE_E_NOT_FOUND` (not stored), `MUSE_E_INTEGRITY`
/// (stored bytes are corrupt), `MUSE_E_IO`.
///
/// # Safety
/// `repo` must be NULL or a live handle; `oid` NULL or a NUL-terminated
/// string; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn muse_object_read(
    repo: *const muse_repository,
    oid: *const c_char,
    out: *mut *mut muse_bytes,
) -> muse_status {
    guard(|| {
        need(out, "out")?;
        // SAFETY: caller guarantees.
        let (repo, oid) = unsafe { (handle(repo, "repo")?, cstr(oid, "oid")?) };
        let data = repo.repo().read_blob(oid)?;
        // SAFETY: out checked non-NULL, writable (caller).
        unsafe { put(out, muse_bytes::from_vec(data)) };
        Ok(())
    })
}

/// Whether the object `oid` is stored (without reading or verifying it).
///
/// - `out`: receives `true` or `false` on success.
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_UTF8`, `MUSE_E_INVALID_INPUT`
/// (malformed `oid`).
///
/// # Safety
/// `repo` must be NULL or a live handle; `oid` NULL or a NUL-terminated
/// string; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn muse_object_has(repo: *const muse_repository, oid: *const c_char, out: *mut bool) -> muse_status {
    guard(|| {
        need(out, "out")?;
        // SAFETY: caller guarantees.
        let (repo, oid) = unsafe { (handle(repo, "repo")?, cstr(oid, "oid")?) };
        let has = repo.repo().has_blob(oid)?;
        // SAFETY: out checked non-NULL, writable (caller).
        unsafe { put(out, has) };
        Ok(())
    })
}
