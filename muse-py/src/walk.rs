//! The working-tree walker, the stat cache and the git import.

use std::path::PathBuf;
use std::sync::Mutex;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

use muse_core::ids::{write_id, ID_LEN};
use muse_core::walk::{walk_manifest as core_walk, WalkOptions};
use muse_core::stat_cache::{LoadStatus, StatCache};

use crate::convert::IntoPy;

/// Walks the working tree at `root` with the stat cache (see
/// `muse.core.snapshot.walk_workdir`) and returns the manifest as a dict.
#[pyfunction]
#[pyo3(signature = (root, max_cache_bytes=muse_core::stat_cache::MAX_CACHE_BYTES))]
pub fn walk_workdir<'py>(py: Python<'py>, root: PathBuf, max_cache_bytes: u64) -> PyResult<Bound<'py, PyDict>> {
    let opts = WalkOptions { max_cache_bytes, ..Default::default() };
    // Raw digests in key order, read from the walk's stat cache: each ID is
    // spelled straight into its Python string, with no map and no Rust
    // string per entry in between.
    let manifest = py.detach(|| core_walk(&root, &opts)).py()?;
    let d = PyDict::new(py);
    let mut buf = [0u8; ID_LEN];
    for (k, digest) in manifest.iter() {
        d.set_item(PyString::new(py, k), PyString::new(py, write_id(digest, &mut buf)))?;
    }
    // Dropping keeps the cache for the next walk: done without the GIL.
    py.detach(move || drop(manifest));
    Ok(d)
}

/// Backend of `muse.core.stat_cache.StatCache`.
#[pyclass(name = "_StatCache", module = "muse._native")]
pub struct PyStatCache {
    inner: Mutex<StatCache>,
}

impl PyStatCache {
    fn with<T>(&self, f: impl FnOnce(&mut StatCache) -> T) -> T {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut g)
    }
}

#[pymethods]
impl PyStatCache {
    /// Loads the cache of the working tree at `root`; returns the cache and
    /// the load status: `("loaded"|"absent"|"too_large"|"wrong_version"|"corrupt", detail)`.
    #[staticmethod]
    fn load(py: Python<'_>, root: PathBuf, max_bytes: u64) -> (PyStatCache, String, String) {
        let (cache, status) = py.detach(|| StatCache::load(&root, max_bytes));
        let (kind, detail) = match status {
            LoadStatus::Absent => ("absent", String::new()),
            LoadStatus::Loaded => ("loaded", String::new()),
            LoadStatus::TooLarge { size, limit } => ("too_large", format!("{size} bytes > MAX_CACHE_BYTES = {limit}")),
            LoadStatus::WrongVersion(v) => ("wrong_version", format!("version {v}")),
            LoadStatus::Corrupt(d) => ("corrupt", d),
        };
        (PyStatCache { inner: Mutex::new(cache) }, kind.to_string(), detail)
    }

    /// `{rel: {"ino", "size", "mtime", "mtime_ns", "object_hash"}}` (a copy).
    fn entries<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        self.with(|c| -> PyResult<()> {
            for (k, e) in c.iter() {
                let v = PyDict::new(py);
                v.set_item("ino", e.ino)?;
                v.set_item("size", e.size)?;
                v.set_item("mtime", e.mtime_ns as f64 / 1e9)?;
                v.set_item("mtime_ns", e.mtime_ns)?;
                v.set_item("object_hash", &e.object_hash)?;
                d.set_item(k, v)?;
            }
            Ok(())
        })?;
        Ok(d)
    }

    fn len(&self) -> usize {
        self.with(|c| c.len())
    }

    fn is_dirty(&self) -> bool {
        self.with(|c| c.is_dirty())
    }

    fn set_dirty(&self, dirty: bool) {
        self.with(|c| c.set_dirty(dirty))
    }

    fn get_object_hash(&self, py: Python<'_>, root: PathBuf, path: PathBuf) -> PyResult<String> {
        py.detach(|| self.with(|c| c.get_object_hash(&root, &path))).py()
    }

    fn get_cached(&self, py: Python<'_>, rel: &str, abs_path: PathBuf, mtime_ns: i64, size: u64, ino: u64) -> PyResult<String> {
        py.detach(|| self.with(|c| c.get_cached(rel, &abs_path, mtime_ns, size, ino))).py()
    }

    fn save(&self, py: Python<'_>) -> PyResult<()> {
        py.detach(|| self.with(|c| c.save())).py()
    }
}

/// Imports a git repository's history (see `muse.core.import_git`).
#[pyfunction]
#[pyo3(signature = (root, git_dir, chunk_commits=5000))]
pub fn import_git<'py>(py: Python<'py>, root: PathBuf, git_dir: PathBuf, chunk_commits: usize) -> PyResult<Bound<'py, PyDict>> {
    let opts = muse_core::import_git::ImportOptions { chunk_commits, ..Default::default() };
    let r = py.detach(|| crate::repo_at(&root, None)?.import_git(&git_dir, &opts, &mut |_| {})).py()?;
    let d = PyDict::new(py);
    d.set_item("commits", r.commits)?;
    d.set_item("blobs_written", r.blobs_written)?;
    d.set_item("bytes", r.bytes)?;
    d.set_item("symlinks_skipped", r.symlinks_skipped)?;
    d.set_item("submodules_skipped", r.submodules_skipped)?;
    d.set_item("paths_skipped", r.paths_skipped)?;
    d.set_item("branches", r.branches)?;
    d.set_item("tags", r.tags)?;
    d.set_item("seconds", r.seconds)?;
    Ok(d)
}

/// Checks every imported commit against git (see `muse.core.import_git`).
#[pyfunction]
pub fn verify_git_import(py: Python<'_>, root: PathBuf, git_dir: PathBuf) -> PyResult<Vec<String>> {
    py.detach(|| crate::repo_at(&root, None)?.verify_git_import(&git_dir)).py()
}
