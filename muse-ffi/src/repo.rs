//! The repository handle (`muse_repository`, SPEC section 11), and the
//! owned byte buffer handle.

use std::ffi::{c_char, CString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use muse_core::repo::{require_repo, InitOptions};
use muse_core::Repository;

use crate::error::{guard, guard_value, muse_status, FfiError, FfiResult};
use crate::util::{cstr, free_handle, handle, into_handle, need, opt_cstr, put};

/// An open repository (SPEC section 11): a `muse_core::Repository`, i.e. a
/// working tree (the directory holding `.muse/`), its store and its
/// configuration (`.muse/config.toml`, read when the handle is opened).
///
/// Create with `muse_repository_open`, `muse_repository_discover` or
/// `muse_repository_init` (or the older `muse_repo_open`/`muse_repo_init`),
/// free with `muse_repository_free` (or `muse_repo_free`: the same
/// function). Every function taking a `const muse_repository *` accepts
/// any of them.
///
/// Thread safety: a handle holds no file descriptors and no locks and is
/// never modified after creation, so one handle may be used from several
/// threads at once. The porcelain (`muse_repository_add`, `_commit`,
/// `_checkout`, `_merge`, ...) serialises itself on the repository's index
/// lock (`.muse/index.lock`), across threads and processes; a call that
/// cannot take the lock within its bounded wait fails with
/// `MUSE_E_CONFLICT`. The store is safe against concurrent writers.
pub struct muse_repository {
    repo: Repository,
    root_c: CString,
}

/// The former name of `muse_repository`, kept so that existing C code
/// compiles unchanged: the same type.
pub type muse_repo = muse_repository;

impl muse_repository {
    fn new(repo: Repository) -> FfiResult<muse_repository> {
        let root_c = CString::new(repo.workdir().as_os_str().as_bytes())
            .map_err(|_| FfiError::invalid("repository path contains a NUL byte"))?;
        Ok(muse_repository { repo, root_c })
    }

    /// The working-tree root the path-taking core functions take.
    pub(crate) fn root(&self) -> &Path {
        self.repo.workdir()
    }

    /// The core repository, for the porcelain.
    pub(crate) fn repo(&self) -> &Repository {
        &self.repo
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

/// Hands a new handle for `repo` to C through `out`.
///
/// # Safety
/// `out` is non-NULL (checked by `need`) and writable.
pub(crate) unsafe fn put_repository(out: *mut *mut muse_repository, repo: Repository) -> FfiResult {
    let handle = muse_repository::new(repo)?;
    // SAFETY: forwarded caller guarantee.
    unsafe { put(out, into_handle(handle)) };
    Ok(())
}

/// Discovery + startup GC (`muse_core::repo::require_repo`, as every muse
/// CLI command does), then the handle.
fn discover(start: Option<&str>) -> FfiResult<Repository> {
    let start = start.map(absolute).transpose()?;
    let root = require_repo(start.as_deref())?;
    Ok(Repository::open(root)?)
}

/// Initialisation (`muse_core::Repository::init_with`).
fn init(path: &str, default_branch: Option<&str>) -> FfiResult<Repository> {
    let root = absolute(path)?;
    let mut opts = InitOptions::default();
    if let Some(b) = default_branch {
        opts.default_branch = b.to_string();
    }
    Ok(Repository::init_with(&root, &opts)?)
}

/// Opens the repository whose working tree is exactly `path`: the
/// directory holding `.muse/` (or that `.muse` directory itself); no
/// walking up (see `muse_repository_discover` for that). Reads
/// `.muse/config.toml`. Does not run the startup GC
/// (`muse_repository_discover` does). A relative `path` is resolved
/// against the current directory at the time of the call.
///
/// - `path`: the working-tree root (UTF-8).
/// - `out`: receives a new handle on success; free it with
///   `muse_repository_free`.
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_UTF8`, `MUSE_E_INVALID_INPUT` (empty
/// path), `MUSE_E_NOT_A_REPOSITORY` (`path` holds no `.muse/`),
/// `MUSE_E_CAP` (`config.toml` does not parse), `MUSE_E_IO`.
///
/// Thread-safe.
///
/// # Safety
/// `path` must be NULL or a NUL-terminated string; `out` must be NULL or
/// point to writable storage for a pointer.
#[no_mangle]
pub unsafe extern "C" fn muse_repository_open(
    path: *const c_char,
    out: *mut *mut muse_repository,
) -> muse_status {
    guard(|| {
        need(out, "out")?;
        // SAFETY: caller guarantee on `path`.
        let path = unsafe { cstr(path, "path") }?;
        let repo = Repository::open(absolute(path)?)?;
        // SAFETY: `out` checked non-NULL; caller guarantees it is writable.
        unsafe { put_repository(out, repo) }
    })
}

/// Finds the repository containing `start` (walks up from `start` to the
/// first directory holding `.muse/`, like `git`), runs the startup GC
/// (removal of temp files left by killed processes, SPEC section 4; its
/// failures are logged, not returned) and opens it, reading
/// `.muse/config.toml`.
///
/// - `start`: optional; a directory inside the working tree (UTF-8; a
///   relative one is resolved against the current directory now). NULL
///   means `$MUSE_REPO_ROOT` when set (it must hold `.muse/`), else the
///   current directory.
/// - `out`: receives a new handle on success; free it with
///   `muse_repository_free`.
///
/// Errors: `MUSE_E_NULL_ARG` (`out`), `MUSE_E_UTF8`,
/// `MUSE_E_INVALID_INPUT` (empty `start`), `MUSE_E_NOT_A_REPOSITORY` (no
/// `.muse/` at or above `start`), `MUSE_E_CAP` (`config.toml` does not
/// parse), `MUSE_E_IO`.
///
/// Thread-safe (reads the environment and the current directory when
/// `start` is NULL or relative).
///
/// # Safety
/// `start` must be NULL or a NUL-terminated string; `out` must be NULL or
/// point to writable storage for a pointer.
#[no_mangle]
pub unsafe extern "C" fn muse_repository_discover(
    start: *const c_char,
    out: *mut *mut muse_repository,
) -> muse_status {
    guard(|| {
        need(out, "out")?;
        // SAFETY: caller guarantee on `start`.
        let start = unsafe { opt_cstr(start, "start") }?;
        let repo = discover(start)?;
        // SAFETY: `out` checked non-NULL; caller guarantees it is writable.
        unsafe { put_repository(out, repo) }
    })
}

/// Creates a repository at `path` (the directory is created if missing)
/// and opens it: `.muse/` with `repo.json`, `HEAD` on the default branch,
/// `config.toml` and the store directories. No commit is made; the default
/// branch is unborn until the first `muse_repository_commit`.
///
/// - `path`: the working-tree root to create (UTF-8).
/// - `default_branch`: optional; the branch HEAD points at. NULL means
///   `"main"`.
/// - `out`: receives a new handle on success; free it with
///   `muse_repository_free`.
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_UTF8`, `MUSE_E_INVALID_INPUT` (`path`
/// is empty or already inside a repository, invalid branch name),
/// `MUSE_E_IO`.
///
/// Thread-safe.
///
/// # Safety
/// `path` and `default_branch` must be NULL or NUL-terminated strings;
/// `out` must be NULL or point to writable storage for a pointer.
#[no_mangle]
pub unsafe extern "C" fn muse_repository_init(
    path: *const c_char,
    default_branch: *const c_char,
    out: *mut *mut muse_repository,
) -> muse_status {
    guard(|| {
        need(out, "out")?;
        // SAFETY: caller guarantee on both strings.
        let (path, branch) = unsafe { (cstr(path, "path")?, opt_cstr(default_branch, "default_branch")?) };
        let repo = init(path, branch)?;
        // SAFETY: `out` checked non-NULL; caller guarantees it is writable.
        unsafe { put_repository(out, repo) }
    })
}

/// Frees a repository handle. NULL is a no-op. Lists, commits and
/// iterators obtained through the handle do not borrow it and stay valid.
///
/// # Safety
/// `repo` must be NULL or a handle from `muse_repository_open`,
/// `_discover`, `_init`, `muse_repo_open` or `muse_repo_init` that has not
/// been freed; it must not be used afterwards (by any thread), and strings
/// borrowed from it, like `muse_repo_root`'s, become invalid.
#[no_mangle]
pub unsafe extern "C" fn muse_repository_free(repo: *mut muse_repository) {
    // SAFETY: forwarded caller guarantee.
    guard_value((), || unsafe { free_handle(repo) })
}

/// Opens the repository that holds `path`: the same as
/// `muse_repository_discover` with a non-NULL `start` (walks up to the
/// first directory containing `.muse/`, runs the startup GC, reads
/// `.muse/config.toml`). Kept for existing callers.
///
/// - `path`: a directory inside the working tree (UTF-8).
/// - `out`: receives a new handle on success; free it with
///   `muse_repo_free` (or `muse_repository_free`).
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_UTF8`, `MUSE_E_INVALID_INPUT` (empty
/// path), `MUSE_E_NOT_A_REPOSITORY` (no `.muse/` at or above `path`),
/// `MUSE_E_CAP` (`config.toml` does not parse), `MUSE_E_IO`.
///
/// # Safety
/// `path` must be NULL or a NUL-terminated string; `out` must be NULL or
/// point to writable storage for a pointer.
#[no_mangle]
pub unsafe extern "C" fn muse_repo_open(path: *const c_char, out: *mut *mut muse_repository) -> muse_status {
    guard(|| {
        need(out, "out")?;
        // SAFETY: caller guarantee on `path`.
        let path = unsafe { cstr(path, "path") }?;
        let repo = discover(Some(path))?;
        // SAFETY: `out` checked non-NULL; caller guarantees it is writable.
        unsafe { put_repository(out, repo) }
    })
}

/// Creates a repository at `path` and opens it: the same as
/// `muse_repository_init`. Kept for existing callers.
///
/// - `path`: the working-tree root to create (UTF-8).
/// - `default_branch`: the branch HEAD points at; NULL means `"main"`.
/// - `out`: receives a new handle on success; free it with
///   `muse_repo_free` (or `muse_repository_free`).
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
    out: *mut *mut muse_repository,
) -> muse_status {
    // SAFETY: forwarded caller guarantees (the same contract).
    unsafe { muse_repository_init(path, default_branch, out) }
}

/// Frees a repository handle: the same as `muse_repository_free`. NULL is
/// a no-op.
///
/// # Safety
/// As `muse_repository_free`.
#[no_mangle]
pub unsafe extern "C" fn muse_repo_free(repo: *mut muse_repository) {
    // SAFETY: forwarded caller guarantee (the same contract).
    unsafe { muse_repository_free(repo) }
}

/// The absolute path of the repository's working-tree root (the directory
/// holding `.muse/`), NUL-terminated UTF-8.
///
/// Ownership: borrowed from the handle; valid until the handle is freed.
/// Do not free it. Returns NULL when `repo` is NULL. Thread-safe.
///
/// # Safety
/// `repo` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn muse_repo_root(repo: *const muse_repository) -> *const c_char {
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
