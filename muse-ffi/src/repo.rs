//! The repository handle, and the owned byte buffer handle.

use std::ffi::{c_char, CString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use muse_core::repo::{init_repo, require_repo, InitOptions};

use crate::error::{guard, guard_value, muse_status, FfiError, FfiResult};
use crate::util::{cstr, free_handle, handle, into_handle, need, opt_cstr, put};

/// An open repository: the root directory of a working tree that holds
/// `.muse/`.
///
/// Create with `muse_repo_open` or `muse_repo_init`, free with
/// `muse_repo_free`. A handle holds no file descriptors and no locks, and
/// is immutable after creation, so one handle may be used from several
/// threads at once (every operation is safe against concurrent writers).
pub struct muse_repo {
    root: PathBuf,
    root_c: CString,
}

impl muse_repo {
    fn new(root: PathBuf) -> FfiResult<muse_repo> {
        let root_c = CString::new(root.as_os_str().as_bytes())
            .map_err(|_| FfiError::invalid("repository path contains a NUL byte"))?;
        Ok(muse_repo { root, root_c })
    }

    /// The working-tree root the core functions take.
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }
}

/// An absolute form of a caller path (relative paths are taken from the
/// current directory now, so a later `chdir` does not move the handle).
pub(crate) fn absolute(path: &str) -> FfiResult<PathBuf> {
    if path.is_empty() {
        return Err(FfiError::invalid("path is empty"));
    }
    std::path::absolute(path).map_err(|e| muse_core::Error::io("resolve path", Path::new(path), e).into())
}

/// Opens the repository that holds `path`: walks up from `path` to the
/// first directory containing `.muse/` (like `git` does), then runs the
/// startup GC (removal of temp files left by killed processes; its cost
/// does not grow with the size of the store). A relative `path` is
/// resolved against the current directory at the time of the call.
///
/// - `path`: a directory inside the working tree (UTF-8).
/// - `out`: receives a new handle on success; free it with
///   `muse_repo_free`.
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_UTF8`, `MUSE_E_INVALID_INPUT` (empty
/// path), `MUSE_E_NOT_A_REPOSITORY` (no `.muse/` at or above `path`),
/// `MUSE_E_IO`.
///
/// # Safety
/// `path` must be NULL or a NUL-terminated string; `out` must be NULL or
/// point to writable storage for a pointer.
#[no_mangle]
pub unsafe extern "C" fn muse_repo_open(path: *const c_char, out: *mut *mut muse_repo) -> muse_status {
    guard(|| {
        need(out, "out")?;
        // SAFETY: caller guarantee on `path`.
        let path = unsafe { cstr(path, "path") }?;
        let start = absolute(path)?;
        let root = require_repo(Some(&start))?;
        let repo = muse_repo::new(root)?;
        // SAFETY: `out` checked non-NULL; caller guarantees it is writable.
        unsafe { put(out, into_handle(repo)) };
        Ok(())
    })
}

/// Creates a repository at `path` (the directory is created if missing):
/// `.muse/` with `repo.json`, `HEAD` on the default branch, `config.toml`
/// and the store directories. No commit is made; the default branch is
/// unborn until a ref is written.
///
/// - `path`: the working-tree root to create (UTF-8).
/// - `default_branch`: the branch HEAD points at; NULL means `"main"`.
/// - `out`: receives a new handle on success; free it with
///   `muse_repo_free`.
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_UTF8`, `MUSE_E_INVALID_INPUT` (`path`
/// is empty or already inside a repository, invalid branch name),
/// `MUSE_E_IO`.
///
/// # Safety
/// `path` and `default_branch` must be NULL or NUL-terminated strings;
/// `out` must be NULL or point to writable storage for a pointer.
#[no_mangle]
pub unsafe extern "C" fn muse_repo_init(
    path: *const c_char,
    default_branch: *const c_char,
    out: *mut *mut muse_repo,
) -> muse_status {
    guard(|| {
        need(out, "out")?;
        // SAFETY: caller guarantee on both strings.
        let (path, branch) = unsafe { (cstr(path, "path")?, opt_cstr(default_branch, "default_branch")?) };
        let root = absolute(path)?;
        let mut opts = InitOptions::default();
        if let Some(b) = branch {
            opts.default_branch = b.to_string();
        }
        let root = init_repo(&root, &opts)?;
        let repo = muse_repo::new(root)?;
        // SAFETY: `out` checked non-NULL; caller guarantees it is writable.
        unsafe { put(out, into_handle(repo)) };
        Ok(())
    })
}

/// Frees a repository handle. NULL is a no-op.
///
/// # Safety
/// `repo` must be NULL or a handle from `muse_repo_open`/`muse_repo_init`
/// that has not been freed; it must not be used afterwards (strings
/// borrowed from it, like `muse_repo_root`'s, become invalid).
#[no_mangle]
pub unsafe extern "C" fn muse_repo_free(repo: *mut muse_repo) {
    // SAFETY: forwarded caller guarantee.
    guard_value((), || unsafe { free_handle(repo) })
}

/// The absolute path of the repository's working-tree root (the directory
/// holding `.muse/`), NUL-terminated UTF-8.
///
/// Ownership: borrowed from the handle; valid until `muse_repo_free`. Do
/// not free it. Returns NULL when `repo` is NULL.
///
/// # Safety
/// `repo` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn muse_repo_root(repo: *const muse_repo) -> *const c_char {
    guard_value(std::ptr::null(), || {
        // SAFETY: caller guarantee.
        match unsafe { handle(repo, "repo") } {
            Ok(r) => r.root_c.as_ptr(),
            Err(_) => std::ptr::null(),
        }
    })
}

/// An owned, immutable byte buffer returned by libmuse (object contents,
/// record bytes, encoded bundles).
///
/// Read it with `muse_bytes_data` and `muse_bytes_len`; free it with
/// `muse_bytes_free`. Thread-safe to read from several threads.
pub struct muse_bytes {
    data: Box<[u8]>,
}

impl muse_bytes {
    pub(crate) fn from_vec(v: Vec<u8>) -> *mut muse_bytes {
        into_handle(muse_bytes {
            data: v.into_boxed_slice(),
        })
    }
}

/// Pointer to the first byte of `bytes`. Borrowed: valid until
/// `muse_bytes_free(bytes)`. When the length is 0 the pointer is non-NULL
/// but must not be dereferenced. Returns NULL when `bytes` is NULL.
///
/// # Safety
/// `bytes` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn muse_bytes_data(bytes: *const muse_bytes) -> *const u8 {
    guard_value(std::ptr::null(), || {
        // SAFETY: caller guarantee.
        match unsafe { handle(bytes, "bytes") } {
            Ok(b) => b.data.as_ptr(),
            Err(_) => std::ptr::null(),
        }
    })
}

/// Length of `bytes` in bytes; 0 when `bytes` is NULL.
///
/// # Safety
/// `bytes` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn muse_bytes_len(bytes: *const muse_bytes) -> usize {
    guard_value(0, || {
        // SAFETY: caller guarantee.
        unsafe { handle(bytes, "bytes") }.map(|b| b.data.len()).unwrap_or(0)
    })
}

/// Frees a byte buffer. NULL is a no-op.
///
/// # Safety
/// `bytes` must be NULL or a handle returned by libmuse that has not been
/// freed; pointers from `muse_bytes_data` become invalid.
#[no_mangle]
pub unsafe extern "C" fn muse_bytes_free(bytes: *mut muse_bytes) {
    // SAFETY: forwarded caller guarantee.
    guard_value((), || unsafe { free_handle(bytes) })
}
