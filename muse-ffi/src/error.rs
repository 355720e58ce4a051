//! Status codes, the thread-local last-error message, and the panic
//! boundary every exported function runs behind.

use std::cell::RefCell;
use std::ffi::{c_char, c_int, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use muse_core::{Error, ErrorKind};

/// The result of every libmuse function that can fail.
///
/// `MUSE_OK` (0) is success; every other value is an error class, and
/// `muse_last_error_message()` then describes the failure. The values are
/// part of the ABI: they never change, new codes are only appended.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum muse_status {
    /// Success. Out-parameters have been written.
    MUSE_OK = 0,
    /// Bad caller input: a malformed ID, an invalid branch name or
    /// repository-relative path, undecodable record bytes, an index out of
    /// range, a repository that already exists.
    MUSE_E_INVALID_INPUT = 1,
    /// Data does not verify: content that does not hash to its ID, a
    /// corrupt stored record or object, a file over its size limit, a
    /// corrupt or hostile MPack bundle.
    MUSE_E_INTEGRITY = 2,
    /// A compare-and-swap ref update found the ref moved.
    MUSE_E_CONFLICT = 3,
    /// A commit, snapshot, object, or branch does not exist.
    MUSE_E_NOT_FOUND = 4,
    /// No `.muse/` directory at or above the given path.
    MUSE_E_NOT_A_REPOSITORY = 5,
    /// A configured safety cap was hit (e.g. `[limits] max_ancestors`), or
    /// `.muse/config.toml` is invalid: the errors the muse CLI reports as
    /// user-level errors.
    MUSE_E_CAP = 6,
    /// An operating-system I/O error.
    MUSE_E_IO = 7,
    /// A required pointer argument was NULL.
    MUSE_E_NULL_ARG = 8,
    /// The caller's buffer is too small; the function's `needed`
    /// out-parameter (when given) holds the size required.
    MUSE_E_BUFFER_TOO_SMALL = 9,
    /// A string argument is not valid UTF-8.
    MUSE_E_UTF8 = 10,
    /// A bug: Rust code panicked. The panic was caught at the C boundary;
    /// the library is still usable, but the operation did not complete.
    MUSE_E_PANIC = 11,
    /// A ref update of a push was refused (git's "rejected"): not a
    /// fast-forward (fetch and merge, or push with `force`), the remote
    /// branch moved since it was read, or it is the checked-out branch of
    /// a remote repository that is not bare. Nothing changed on the remote.
    MUSE_E_REJECTED = 12,
    /// A remote could not be reached (connection refused, timeout, an
    /// unreadable answer), or answered a request with an HTTP error
    /// (the message names the URL and the remote's error).
    MUSE_E_REMOTE = 13,
}

use muse_status::*;

/// An error on its way to the C caller: a status and a message.
#[derive(Debug)]
pub(crate) struct FfiError {
    pub status: muse_status,
    pub message: String,
}

impl FfiError {
    pub(crate) fn new(status: muse_status, message: impl Into<String>) -> Self {
        FfiError {
            status,
            message: message.into(),
        }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        FfiError::new(MUSE_E_INVALID_INPUT, message)
    }
}

/// The status code of a core error class.
pub(crate) fn status_of(kind: ErrorKind) -> muse_status {
    match kind {
        ErrorKind::InvalidInput => MUSE_E_INVALID_INPUT,
        ErrorKind::Integrity => MUSE_E_INTEGRITY,
        ErrorKind::Conflict => MUSE_E_CONFLICT,
        ErrorKind::NotFound => MUSE_E_NOT_FOUND,
        ErrorKind::NotARepository => MUSE_E_NOT_A_REPOSITORY,
        ErrorKind::Cli => MUSE_E_CAP,
        ErrorKind::Io => MUSE_E_IO,
    }
}

/// The status code of a core error: its own code for the remote errors
/// (`MUSE_E_REJECTED`, `MUSE_E_REMOTE`), else the code of its class.
pub(crate) fn status_of_error(e: &Error) -> muse_status {
    match e {
        Error::Rejected { .. } => MUSE_E_REJECTED,
        Error::Remote { .. } => MUSE_E_REMOTE,
        _ => status_of(e.kind()),
    }
}

impl From<Error> for FfiError {
    fn from(e: Error) -> Self {
        FfiError {
            status: status_of_error(&e),
            message: e.to_string(),
        }
    }
}

pub(crate) type FfiResult<T = ()> = Result<T, FfiError>;

thread_local! {
    /// The message of the last failed call on this thread (empty after a
    /// successful one). Held as a `CString` so that a pointer to it can be
    /// handed to C.
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn set_last_error(message: &str) {
    // A message never holds NUL in practice; escape one rather than lose
    // the rest of the message.
    let c = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
    // `try_with`: during thread teardown the slot may be gone; the message
    // is then dropped, never a panic.
    let _ = LAST_ERROR.try_with(|slot| {
        if let Ok(mut s) = slot.try_borrow_mut() {
            *s = c;
        }
    });
}

fn clear_last_error() {
    let _ = LAST_ERROR.try_with(|slot| {
        if let Ok(mut s) = slot.try_borrow_mut() {
            if !s.as_bytes().is_empty() {
                *s = CString::default();
            }
        }
    });
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    let what = if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(non-string panic payload)".to_string()
    };
    format!("internal error (Rust panic caught at the C boundary): {what}")
}

/// Runs the body of a status-returning function: catches panics (they
/// become `MUSE_E_PANIC`), records the error message for
/// `muse_last_error_message`, clears it on success.
pub(crate) fn guard<F: FnOnce() -> FfiResult>(f: F) -> muse_status {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => {
            clear_last_error();
            MUSE_OK
        }
        Ok(Err(e)) => {
            set_last_error(&e.message);
            e.status
        }
        Err(payload) => {
            set_last_error(&panic_message(&*payload));
            // Dropping a payload can itself panic (a payload whose Drop
            // panics); never let that unwind into C.
            let _ = catch_unwind(AssertUnwindSafe(move || drop(payload)));
            MUSE_E_PANIC
        }
    }
}

/// Runs the body of a function that returns a plain value (accessors,
/// free functions): a panic yields `fallback` and is recorded as the last
/// error. These functions do not otherwise touch the last-error message.
pub(crate) fn guard_value<T, F: FnOnce() -> T>(fallback: T, f: F) -> T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => v,
        Err(payload) => {
            set_last_error(&panic_message(&*payload));
            let _ = catch_unwind(AssertUnwindSafe(move || drop(payload)));
            fallback
        }
    }
}

/// The message describing the last failed libmuse call on the calling
/// thread, as a NUL-terminated UTF-8 string; `""` when the last call
/// succeeded or no call failed yet.
///
/// Ownership: borrowed from thread-local storage. Do not free it. It stays
/// valid until the next libmuse call on the same thread that returns a
/// `muse_status` (other than `muse_last_error_copy`), or until the thread
/// exits. Copy it (or use `muse_last_error_copy`) to keep it longer.
///
/// Never returns NULL. Thread-safe: each thread has its own message.
#[no_mangle]
pub extern "C" fn muse_last_error_message() -> *const c_char {
    static EMPTY: &[u8] = b"\0";
    guard_value(EMPTY.as_ptr().cast(), || {
        LAST_ERROR
            .try_with(|slot| match slot.try_borrow() {
                Ok(s) => s.as_ptr(),
                Err(_) => EMPTY.as_ptr().cast(),
            })
            .unwrap_or(EMPTY.as_ptr().cast())
    })
}

/// Copies the last error message of the calling thread (see
/// `muse_last_error_message`), NUL-terminated, into `buf`.
///
/// - `buf`: a caller buffer of `cap` bytes; may be NULL only when `cap` is 0
///   (a size query).
/// - `needed`: optional (may be NULL); when given it receives the size the
///   message needs, terminating NUL included, both on success and on
///   `MUSE_E_BUFFER_TOO_SMALL`.
///
/// Returns `MUSE_OK` (message copied), `MUSE_E_BUFFER_TOO_SMALL` (`cap` is
/// less than the size needed; `buf` untouched), `MUSE_E_NULL_ARG` (`buf`
/// NULL with `cap` > 0).
///
/// Unlike every other function this one does not change the last-error
/// message, so it can be called repeatedly (e.g. once to size a buffer,
/// once to fill it).
///
/// # Safety
/// `buf`, when not NULL, must point to `cap` writable bytes; `needed`, when
/// not NULL, to a writable `size_t`.
#[no_mangle]
pub unsafe extern "C" fn muse_last_error_copy(buf: *mut c_char, cap: usize, needed: *mut usize) -> muse_status {
    let r = catch_unwind(AssertUnwindSafe(|| {
        let msg: Vec<u8> = LAST_ERROR
            .try_with(|slot| {
                slot.try_borrow()
                    .map(|s| s.as_bytes_with_nul().to_vec())
                    .unwrap_or_else(|_| vec![0])
            })
            .unwrap_or_else(|_| vec![0]);
        let n = msg.len();
        if buf.is_null() && cap > 0 {
            return MUSE_E_NULL_ARG;
        }
        if !needed.is_null() {
            // SAFETY: the caller guarantees a non-NULL `needed` points to a
            // writable size_t.
            unsafe { needed.write(n) };
        }
        if cap < n {
            return MUSE_E_BUFFER_TOO_SMALL;
        }
        // SAFETY: `buf` is non-NULL here (cap >= n >= 1) and the caller
        // guarantees it points to `cap` >= `n` writable bytes; the source
        // is our own Vec, so the ranges cannot overlap.
        unsafe { std::ptr::copy_nonoverlapping(msg.as_ptr(), buf.cast::<u8>(), n) };
        MUSE_OK
    }));
    r.unwrap_or(MUSE_E_PANIC)
}

/// The name of a status code as a static NUL-terminated string, e.g.
/// `"MUSE_E_NOT_FOUND"`; `"MUSE_E_UNKNOWN"` for a value that is not a
/// `muse_status`. Never NULL; do not free.
///
/// Takes an `int` so that any value can be passed safely.
#[no_mangle]
pub extern "C" fn muse_status_name(status: c_int) -> *const c_char {
    // Cannot panic; guarded all the same, as every exported body is.
    guard_value(c"MUSE_E_UNKNOWN".as_ptr(), || status_name(status))
}

fn status_name(status: c_int) -> *const c_char {
    let s: &'static [u8] = match status {
        0 => b"MUSE_OK\0",
        1 => b"MUSE_E_INVALID_INPUT\0",
        2 => b"MUSE_E_INTEGRITY\0",
        3 => b"MUSE_E_CONFLICT\0",
        4 => b"MUSE_E_NOT_FOUND\0",
        5 => b"MUSE_E_NOT_A_REPOSITORY\0",
        6 => b"MUSE_E_CAP\0",
        7 => b"MUSE_E_IO\0",
        8 => b"MUSE_E_NULL_ARG\0",
        9 => b"MUSE_E_BUFFER_TOO_SMALL\0",
        10 => b"MUSE_E_UTF8\0",
        11 => b"MUSE_E_PANIC\0",
        12 => b"MUSE_E_REJECTED\0",
        13 => b"MUSE_E_REMOTE\0",
        _ => b"MUSE_E_UNKNOWN\0",
    };
    s.as_ptr().cast()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    fn last() -> String {
        // SAFETY: muse_last_error_message never returns NULL and the string
        // is NUL-terminated.
        unsafe { CStr::from_ptr(muse_last_error_message()) }
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn panic_becomes_status_and_message() {
        let st = guard(|| panic!("boom {}", 42));
        assert_eq!(st, MUSE_E_PANIC);
        assert!(last().contains("boom 42"), "{}", last());
        let st = guard(|| std::panic::panic_any(7u32));
        assert_eq!(st, MUSE_E_PANIC);
        assert!(last().contains("non-string"));
        assert_eq!(guard_value(5, || -> i32 { panic!("x") }), 5);
    }

    #[test]
    fn success_clears_and_error_sets() {
        assert_eq!(guard(|| Err(FfiError::invalid("bad thing"))), MUSE_E_INVALID_INPUT);
        assert_eq!(last(), "bad thing");
        assert_eq!(guard(|| Ok(())), MUSE_OK);
        assert_eq!(last(), "");
    }

    #[test]
    fn copy_reports_needed() {
        guard(|| Err(FfiError::invalid("abc")));
        let mut needed = 0usize;
        // SAFETY: size query with a NULL buffer and cap 0.
        let st = unsafe { muse_last_error_copy(std::ptr::null_mut(), 0, &mut needed) };
        assert_eq!(st, MUSE_E_BUFFER_TOO_SMALL);
        assert_eq!(needed, 4);
        let mut buf = [0 as c_char; 4];
        // SAFETY: buf has 4 writable bytes.
        let st = unsafe { muse_last_error_copy(buf.as_mut_ptr(), buf.len(), std::ptr::null_mut()) };
        assert_eq!(st, MUSE_OK);
        assert_eq!(last(), "abc");
    }

    #[test]
    fn every_kind_maps_to_a_distinct_code() {
        use std::collections::HashSet;
        let kinds = [
            ErrorKind::InvalidInput,
            ErrorKind::Integrity,
            ErrorKind::Conflict,
            ErrorKind::NotFound,
            ErrorKind::NotARepository,
            ErrorKind::Cli,
            ErrorKind::Io,
        ];
        let codes: HashSet<i32> = kinds.iter().map(|k| status_of(*k) as i32).collect();
        assert_eq!(codes.len(), kinds.len());
        assert!(!codes.contains(&0));
        for c in 0..14 {
            // SAFETY: static NUL-terminated strings.
            let name = unsafe { CStr::from_ptr(muse_status_name(c)) }.to_str().unwrap();
            assert!(name.starts_with("MUSE_") && name != "MUSE_E_UNKNOWN");
        }
        // The remote errors have codes of their own, whatever their class.
        let rejected = Error::Rejected { name: "refs/heads/main".into(), reason: "non-fast-forward".into() };
        assert_eq!(FfiError::from(rejected).status, MUSE_E_REJECTED);
        for status in [None, Some(404), Some(409), Some(500)] {
            let e = Error::Remote { url: "http://h/o/r".into(), status, message: "x".into() };
            assert_eq!(FfiError::from(e).status, MUSE_E_REMOTE);
        }
    }
}
