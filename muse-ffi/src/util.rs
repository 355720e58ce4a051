//! Checked conversions of C arguments, and writers of out-parameters.
//!
//! Every raw pointer that comes from C goes through one of these helpers,
//! which turn NULL into `MUSE_E_NULL_ARG` and bad UTF-8 into
//! `MUSE_E_UTF8` before anything else happens.

use std::ffi::{c_char, CStr, CString};

use crate::error::{muse_status, FfiError, FfiResult};

/// Size of a buffer that receives an ID: 71 characters plus the NUL.
pub const MUSE_ID_BUFSIZE: usize = 72;
/// Length of an ID string (`"sha256:"` + 64 lowercase hex digits).
pub const MUSE_ID_LEN: usize = 71;

pub(crate) fn null(what: &str) -> FfiError {
    FfiError::new(muse_status::MUSE_E_NULL_ARG, format!("argument `{what}` is NULL"))
}

/// A required NUL-terminated UTF-8 string argument.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that stays valid and
/// unmodified for `'a`.
pub(crate) unsafe fn cstr<'a>(p: *const c_char, what: &str) -> FfiResult<&'a str> {
    if p.is_null() {
        return Err(null(what));
    }
    // SAFETY: non-NULL, and the caller guarantees NUL termination and
    // validity for 'a.
    let c = unsafe { CStr::from_ptr(p) };
    c.to_str().map_err(|e| {
        FfiError::new(
            muse_status::MUSE_E_UTF8,
            format!("argument `{what}` is not valid UTF-8: {e}"),
        )
    })
}

/// An optional string argument: NULL is `None`.
///
/// # Safety
/// As [`cstr`].
pub(crate) unsafe fn opt_cstr<'a>(p: *const c_char, what: &str) -> FfiResult<Option<&'a str>> {
    if p.is_null() {
        Ok(None)
    } else {
        // SAFETY: forwarded caller guarantee.
        unsafe { cstr(p, what) }.map(Some)
    }
}

/// A byte-buffer argument: `p` may be NULL only when `len` is 0.
///
/// # Safety
/// `p` is NULL or points to `len` readable bytes valid for `'a`.
pub(crate) unsafe fn bytes<'a>(p: *const u8, len: usize, what: &str) -> FfiResult<&'a [u8]> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(null(what));
    }
    if len > isize::MAX as usize {
        return Err(FfiError::invalid(format!(
            "argument `{what}`: length {len} is too large"
        )));
    }
    // SAFETY: non-NULL, len <= isize::MAX, and the caller guarantees `len`
    // readable bytes valid for 'a.
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// An array of `len` string pointers (`p` may be NULL only when `len` is 0).
///
/// # Safety
/// `p` is NULL or points to `len` readable pointers, each a valid
/// NUL-terminated string (as [`cstr`]).
pub(crate) unsafe fn cstr_array<'a>(p: *const *const c_char, len: usize, what: &str) -> FfiResult<Vec<&'a str>> {
    if len == 0 {
        return Ok(Vec::new());
    }
    if p.is_null() {
        return Err(null(what));
    }
    if len > isize::MAX as usize / std::mem::size_of::<*const c_char>() {
        return Err(FfiError::invalid(format!(
            "argument `{what}`: length {len} is too large"
        )));
    }
    // SAFETY: non-NULL, size bounded, and the caller guarantees `len`
    // readable pointers.
    let ptrs = unsafe { std::slice::from_raw_parts(p, len) };
    ptrs.iter()
        .enumerate()
        // SAFETY: each element is a valid string pointer or NULL (caller).
        .map(|(i, &s)| unsafe { cstr(s, &format!("{what}[{i}]")) })
        .collect()
}

/// Fails with `MUSE_E_NULL_ARG` when a required out-parameter is NULL.
pub(crate) fn need<T>(p: *mut T, what: &str) -> FfiResult<()> {
    if p.is_null() {
        Err(null(what))
    } else {
        Ok(())
    }
}

/// A required handle argument, borrowed.
///
/// # Safety
/// `p` is NULL or a live handle of type `T` created by this library, not
/// mutated by anyone else for `'a`.
pub(crate) unsafe fn handle<'a, T>(p: *const T, what: &str) -> FfiResult<&'a T> {
    // SAFETY: forwarded caller guarantee (NULL is handled by as_ref).
    unsafe { p.as_ref() }.ok_or_else(|| null(what))
}

/// A required mutable handle argument.
///
/// # Safety
/// As [`handle`], and no other reference to it exists for `'a`.
pub(crate) unsafe fn handle_mut<'a, T>(p: *mut T, what: &str) -> FfiResult<&'a mut T> {
    // SAFETY: forwarded caller guarantee.
    unsafe { p.as_mut() }.ok_or_else(|| null(what))
}

/// Writes an out-parameter.
///
/// # Safety
/// `p` is non-NULL (checked by [`need`]) and points to writable storage
/// for a `T`.
pub(crate) unsafe fn put<T>(p: *mut T, v: T) {
    // SAFETY: forwarded caller guarantee; `write` does not drop the old
    // (possibly uninitialized) value.
    unsafe { p.write(v) }
}

/// Writes an ID (71 bytes) and its NUL into an `MUSE_ID_BUFSIZE` buffer.
///
/// # Safety
/// `out` is non-NULL and points to `MUSE_ID_BUFSIZE` writable bytes.
pub(crate) unsafe fn put_id(out: *mut c_char, id: &str) {
    debug_assert_eq!(id.len(), MUSE_ID_LEN);
    let b = id.as_bytes();
    let n = b.len().min(MUSE_ID_BUFSIZE - 1);
    // SAFETY: the caller guarantees MUSE_ID_BUFSIZE writable bytes; we write
    // n + 1 <= MUSE_ID_BUFSIZE of them from our own string (no overlap).
    unsafe {
        std::ptr::copy_nonoverlapping(b.as_ptr(), out.cast::<u8>(), n);
        out.add(n).write(0);
    }
}

/// [`put_id`] into an optional buffer: nothing when `out` is NULL.
///
/// # Safety
/// `out` is NULL or points to `MUSE_ID_BUFSIZE` writable bytes.
pub(crate) unsafe fn put_opt_id(out: *mut c_char, id: &str) {
    if !out.is_null() {
        // SAFETY: non-NULL; MUSE_ID_BUFSIZE writable bytes (caller).
        unsafe { put_id(out, id) };
    }
}

/// Copies `s` NUL-terminated into a caller buffer of `cap` bytes, with the
/// size needed (NUL included) reported in `needed` when non-NULL.
///
/// # Safety
/// `buf` is NULL or points to `cap` writable bytes; `needed` is NULL or
/// points to a writable `size_t`.
pub(crate) unsafe fn copy_to_buffer(s: &str, buf: *mut c_char, cap: usize, needed: *mut usize) -> FfiResult<()> {
    let n = s.len() + 1;
    if buf.is_null() && cap > 0 {
        return Err(null("buf"));
    }
    if !needed.is_null() {
        // SAFETY: caller guarantee for a non-NULL `needed`.
        unsafe { needed.write(n) };
    }
    if cap < n {
        return Err(FfiError::new(
            muse_status::MUSE_E_BUFFER_TOO_SMALL,
            format!("buffer of {cap} bytes is too small: {n} bytes needed"),
        ));
    }
    // SAFETY: buf is non-NULL (cap >= n >= 1) with cap >= n writable bytes.
    unsafe {
        std::ptr::copy_nonoverlapping(s.as_ptr(), buf.cast::<u8>(), s.len());
        buf.add(s.len()).write(0);
    }
    Ok(())
}

/// A C string for a value that may (in theory) hold NUL: the view ends at
/// the first NUL.
pub(crate) fn c_lossy(s: &str) -> CString {
    let head = s.split('\0').next().unwrap_or("");
    CString::new(head).unwrap_or_default()
}

/// Moves a value to the heap and hands its ownership to C.
pub(crate) fn into_handle<T>(v: T) -> *mut T {
    Box::into_raw(Box::new(v))
}

/// Takes ownership back from C and drops the handle; NULL is a no-op.
///
/// # Safety
/// `p` is NULL or was returned by [`into_handle`] for a `T` and not freed.
pub(crate) unsafe fn free_handle<T>(p: *mut T) {
    if !p.is_null() {
        // SAFETY: caller guarantee: p came from Box::into_raw and is freed once.
        drop(unsafe { Box::from_raw(p) });
    }
}
