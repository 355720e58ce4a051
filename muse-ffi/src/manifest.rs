//! Manifests (`{path: blob_id}`), the working-tree walker, and the list of
//! `(name, commit_id)` pairs used for branches.

use std::collections::BTreeMap;
use std::ffi::{c_char, CString};
use std::sync::OnceLock;

use muse_core::ids::{hash_sorted_snapshot, validate_id};
use muse_core::paths::{check_no_file_dir_clash_at, validate_rel_path};
use muse_core::walk::{build_snapshot_manifest, WalkOptions};

use crate::error::{guard, guard_value, muse_status, FfiError, FfiResult};
use crate::repo::{absolute, muse_repository};
use crate::util::{c_lossy, cstr, free_handle, handle, handle_mut, into_handle, need, put, put_id};

/// Pairs of C strings in a stable order, for indexed access from C.
type Pairs = Vec<(CString, CString)>;

fn pairs_of<'a>(it: impl Iterator<Item = (&'a str, &'a str)>) -> Pairs {
    it.map(|(a, b)| (c_lossy(a), c_lossy(b))).collect()
}

/// A snapshot manifest: a set of `(path, blob_id)` entries sorted by path
/// (byte order), each path a POSIX path relative to the working-tree root.
///
/// Created by `muse_build_snapshot_manifest`, `muse_snapshot_read` or
/// `muse_manifest_new`; freed with `muse_manifest_free`. It does not
/// borrow the repository it came from.
///
/// Read-only functions (`muse_manifest_len`, `_get`, `_lookup`,
/// `_snapshot_id`) may be called from several threads at once; the
/// mutating ones (`_insert`, `_remove`) need exclusive access.
pub struct muse_manifest {
    map: BTreeMap<String, String>,
    /// C views of `map`, built on first indexed access after a change.
    view: OnceLock<Pairs>,
}

impl muse_manifest {
    /// Wraps a core manifest, refusing one whose paths or IDs hold NUL
    /// (no valid manifest does; such a map cannot be handed to C).
    pub(crate) fn from_map(map: BTreeMap<String, String>) -> FfiResult<muse_manifest> {
        if let Some((p, _)) = map.iter().find(|(p, b)| p.contains('\0') || b.contains('\0')) {
            return Err(FfiError::new(
                muse_status::MUSE_E_INTEGRITY,
                format!("manifest entry {:?} contains a NUL byte", p.replace('\0', "\\0")),
            ));
        }
        Ok(muse_manifest {
            map,
            view: OnceLock::new(),
        })
    }

    pub(crate) fn map(&self) -> &BTreeMap<String, String> {
        &self.map
    }

    fn view(&self) -> &Pairs {
        self.view
            .get_or_init(|| pairs_of(self.map.iter().map(|(a, b)| (a.as_str(), b.as_str()))))
    }

    fn changed(&mut self) {
        self.view = OnceLock::new();
    }
}

/// Creates an empty manifest.
///
/// - `out`: receives the new manifest; free it with `muse_manifest_free`.
///
/// Errors: `MUSE_E_NULL_ARG`.
///
/// # Safety
/// `out` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn muse_manifest_new(out: *mut *mut muse_manifest) -> muse_status {
    guard(|| {
        need(out, "out")?;
        let m = muse_manifest::from_map(BTreeMap::new())?;
        // SAFETY: out checked non-NULL, writable (caller).
        unsafe { put(out, into_handle(m)) };
        Ok(())
    })
}

/// Sets the entry for `path` to `blob_id` (adding it, or replacing the blob
/// of an existing entry).
///
/// - `path`: a clean POSIX relative path (git's `verify_path` rules: `/`
///   separators; no leading `/`, no empty, `.` or `..` segment, no
///   backslash, and no component at any depth that is `.muse` or an alias
///   of it: `.MUSE`, `.muse.`, `.muse `, `muse~1`, `.muse` with HFS+
///   ignorable code points). It must not clash with another entry: no
///   entry `a` when inserting `a/b`, and no `a/...` when inserting `a`
///   (git's "appears as both a file and as a directory" rule; remove the
///   old entries first).
/// - `blob_id`: a well-formed ID.
///
/// Pointers previously returned by `muse_manifest_get`/`_lookup` on this
/// manifest become invalid.
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_UTF8`, `MUSE_E_INVALID_INPUT` (bad
/// path or ID, or a file/directory clash naming both paths; the manifest
/// is unchanged).
///
/// # Safety
/// `m` must be NULL or a live manifest not used concurrently by another
/// thread; the strings NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn muse_manifest_insert(
    m: *mut muse_manifest,
    path: *const c_char,
    blob_id: *const c_char,
) -> muse_status {
    guard(|| {
        // SAFETY: caller guarantees.
        let (m, path, oid) = unsafe { (handle_mut(m, "m")?, cstr(path, "path")?, cstr(blob_id, "blob_id")?) };
        validate_rel_path(path)?;
        validate_id(oid)?;
        check_no_file_dir_clash_at(&m.map, path)?;
        m.map.insert(path.to_string(), oid.to_string());
        m.changed();
        Ok(())
    })
}

/// Removes the entry for `path`, if any.
///
/// - `removed_out`: optional (may be NULL); receives whether an entry was
///   removed.
///
/// Pointers previously returned by `muse_manifest_get`/`_lookup` on this
/// manifest become invalid.
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_UTF8`.
///
/// # Safety
/// As `muse_manifest_insert`; `removed_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn muse_manifest_remove(
    m: *mut muse_manifest,
    path: *const c_char,
    removed_out: *mut bool,
) -> muse_status {
    guard(|| {
        // SAFETY: caller guarantees.
        let (m, path) = unsafe { (handle_mut(m, "m")?, cstr(path, "path")?) };
        let removed = m.map.remove(path).is_some();
        if removed {
            m.changed();
        }
        if !removed_out.is_null() {
            // SAFETY: non-NULL, writable (caller).
            unsafe { put(removed_out, removed) };
        }
        Ok(())
    })
}

/// Number of entries; 0 when `m` is NULL.
///
/// # Safety
/// `m` must be NULL or a live manifest.
#[no_mangle]
pub unsafe extern "C" fn muse_manifest_len(m: *const muse_manifest) -> usize {
    // SAFETY: caller guarantee.
    guard_value(0, || unsafe { handle(m, "m") }.map(|m| m.map.len()).unwrap_or(0))
}

/// The entry at `index` (0-based, in path order).
///
/// - `path_out`, `blob_id_out`: receive pointers to NUL-terminated strings
///   borrowed from the manifest, valid until it is modified
///   (`_insert`/`_remove`) or freed. Do not free them.
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_INVALID_INPUT` (`index` >= length).
///
/// # Safety
/// `m` must be NULL or a live manifest; the out-pointers NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn muse_manifest_get(
    m: *const muse_manifest,
    index: usize,
    path_out: *mut *const c_char,
    blob_id_out: *mut *const c_char,
) -> muse_status {
    guard(|| {
        need(path_out, "path_out")?;
        need(blob_id_out, "blob_id_out")?;
        // SAFETY: caller guarantee.
        let m = unsafe { handle(m, "m") }?;
        let view = m.view();
        let (p, b) = view.get(index).ok_or_else(|| {
            FfiError::invalid(format!(
                "index {index} out of range (manifest has {} entries)",
                view.len()
            ))
        })?;
        // SAFETY: both out-pointers checked non-NULL, writable (caller).
        unsafe {
            put(path_out, p.as_ptr());
            put(blob_id_out, b.as_ptr());
        }
        Ok(())
    })
}

/// The blob ID recorded for `path`.
///
/// - `blob_id_out`: receives a pointer borrowed from the manifest (as
///   `muse_manifest_get`).
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_UTF8`, `MUSE_E_NOT_FOUND` (no entry
/// for `path`).
///
/// # Safety
/// `m` must be NULL or a live manifest; `path` NULL or NUL-terminated;
/// `blob_id_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn muse_manifest_lookup(
    m: *const muse_manifest,
    path: *const c_char,
    blob_id_out: *mut *const c_char,
) -> muse_status {
    guard(|| {
        need(blob_id_out, "blob_id_out")?;
        // SAFETY: caller guarantees.
        let (m, path) = unsafe { (handle(m, "m")?, cstr(path, "path")?) };
        let view = m.view();
        let i = view
            .binary_search_by(|(p, _)| p.as_bytes().cmp(path.as_bytes()))
            .map_err(|_| FfiError::new(muse_status::MUSE_E_NOT_FOUND, format!("path not in manifest: {path}")))?;
        // SAFETY: checked non-NULL, writable (caller).
        unsafe { put(blob_id_out, view[i].1.as_ptr()) };
        Ok(())
    })
}

/// The snapshot ID of the manifest (`hash_snapshot`, SPEC section 2): the ID
/// `muse_snapshot_write_from_manifest` would store it under.
///
/// - `out_id`: a buffer of `MUSE_ID_BUFSIZE` bytes.
///
/// Errors: `MUSE_E_NULL_ARG`.
///
/// # Safety
/// `m` must be NULL or a live manifest; `out_id` NULL or
/// `MUSE_ID_BUFSIZE` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn muse_manifest_snapshot_id(m: *const muse_manifest, out_id: *mut c_char) -> muse_status {
    guard(|| {
        need(out_id, "out_id")?;
        // SAFETY: caller guarantee.
        let m = unsafe { handle(m, "m") }?;
        let id = hash_sorted_snapshot(m.map.iter().map(|(a, b)| (a.as_str(), b.as_str())));
        // SAFETY: checked non-NULL; MUSE_ID_BUFSIZE bytes (caller).
        unsafe { put_id(out_id, &id) };
        Ok(())
    })
}

/// Frees a manifest. NULL is a no-op.
///
/// # Safety
/// `m` must be NULL or a live manifest, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn muse_manifest_free(m: *mut muse_manifest) {
    // SAFETY: forwarded caller guarantee.
    guard_value((), || unsafe { free_handle(m) })
}

fn build(root: &std::path::Path, out: *mut *mut muse_manifest) -> FfiResult {
    let map = build_snapshot_manifest(root, &WalkOptions::default())?;
    let m = muse_manifest::from_map(map)?;
    // SAFETY: the callers checked `out` non-NULL; writable (their caller).
    unsafe { put(out, into_handle(m)) };
    Ok(())
}

/// Walks the repository's working tree and returns its manifest: every
/// regular file (symlinks, FIFOs, sockets, devices excluded) outside
/// `.muse/` and not ignored by a `.museignore` (gitignore syntax), with the
/// blob ID of its content. Uses and updates the stat cache
/// (`.muse/cache/stat_cache.json`), so unchanged files are not re-read.
///
/// Nothing is stored in the object store: write the blobs with
/// `muse_object_write` before writing a snapshot that refers to them.
///
/// - `out`: receives a new manifest; free it with `muse_manifest_free`.
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_IO` (an unreadable file or
/// directory).
///
/// # Safety
/// `repo` must be NULL or a live handle; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn muse_build_snapshot_manifest(
    repo: *const muse_repository,
    out: *mut *mut muse_manifest,
) -> muse_status {
    guard(|| {
        need(out, "out")?;
        // SAFETY: caller guarantee.
        let repo = unsafe { handle(repo, "repo") }?;
        build(repo.root(), out)
    })
}

/// Like `muse_build_snapshot_manifest` for any directory `root` (not
/// necessarily a repository; the stat cache is saved only when `root`
/// holds `.muse/`).
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_UTF8`, `MUSE_E_INVALID_INPUT` (empty
/// path), `MUSE_E_IO` (`root` missing or not a directory, unreadable
/// entries).
///
/// # Safety
/// `root` must be NULL or NUL-terminated; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn muse_build_snapshot_manifest_at(
    root: *const c_char,
    out: *mut *mut muse_manifest,
) -> muse_status {
    guard(|| {
        need(out, "out")?;
        // SAFETY: caller guarantee.
        let root = unsafe { cstr(root, "root") }?;
        build(&absolute(root)?, out)
    })
}

/// A list of `(name, commit_id)` pairs: sorted by name for the branches of
/// a repository (`muse_ref_list_branches`), its tags
/// (`muse_repository_tags`) and the branch heads of an applied MPack bundle
/// (`muse_mpack_apply`); newest first, with the message as the name, for
/// the stash (`muse_repository_stash_list`). Freed with
/// `muse_ref_list_free`.
pub struct muse_ref_list {
    items: Pairs,
}

impl muse_ref_list {
    pub(crate) fn new<'a>(it: impl Iterator<Item = (&'a str, &'a str)>) -> muse_ref_list {
        muse_ref_list { items: pairs_of(it) }
    }
}

/// Number of entries; 0 when `list` is NULL.
///
/// # Safety
/// `list` must be NULL or a live list.
#[no_mangle]
pub unsafe extern "C" fn muse_ref_list_len(list: *const muse_ref_list) -> usize {
    guard_value(0, || {
        // SAFETY: caller guarantee.
        unsafe { handle(list, "list") }.map(|l| l.items.len()).unwrap_or(0)
    })
}

/// The entry at `index` (0-based, in name order).
///
/// - `name_out`: receives the branch name; `commit_id_out`: the commit ID.
///   Both are borrowed from the list, valid until `muse_ref_list_free`.
///
/// Errors: `MUSE_E_NULL_ARG`, `MUSE_E_INVALID_INPUT` (`index` >= length).
///
/// # Safety
/// `list` must be NULL or a live list; the out-pointers NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn muse_ref_list_get(
    list: *const muse_ref_list,
    index: usize,
    name_out: *mut *const c_char,
    commit_id_out: *mut *const c_char,
) -> muse_status {
    guard(|| {
        need(name_out, "name_out")?;
        need(commit_id_out, "commit_id_out")?;
        // SAFETY: caller guarantee.
        let list = unsafe { handle(list, "list") }?;
        let (n, c) = list.items.get(index).ok_or_else(|| {
            FfiError::invalid(format!(
                "index {index} out of range (list has {} entries)",
                list.items.len()
            ))
        })?;
        // SAFETY: checked non-NULL, writable (caller).
        unsafe {
            put(name_out, n.as_ptr());
            put(commit_id_out, c.as_ptr());
        }
        Ok(())
    })
}

/// Frees a list. NULL is a no-op.
///
/// # Safety
/// `list` must be NULL or a live list, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn muse_ref_list_free(list: *mut muse_ref_list) {
    // SAFETY: forwarded caller guarantee.
    guard_value((), || unsafe { free_handle(list) })
}
