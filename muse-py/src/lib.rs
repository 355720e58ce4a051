//! `muse._native`: the one native module behind the `muse` Python package.
//!
//! Every function here only translates arguments and results; the logic is
//! in `muse-core`. Every call that touches the filesystem releases the GIL
//! (`Python::detach`). The public Python API is the thin modules under
//! `muse/core/`, which document each function; names here mirror them.

#![deny(unsafe_code)]

mod convert;
mod errors;
mod log_bridge;
mod mpack;
mod records;
mod repository;
mod walk;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};

use muse_core::atomic::Durability;
use muse_core::{batch, commits, config, ids, object_store, paths, refs, repo, Repository};

use convert::IntoPy;

/// mimalloc for the extension's own (Rust) allocations: manifests are maps
/// of many small strings, and glibc malloc spent up to a third of a long
/// import or bundle apply in `malloc`/`free`. Python's objects are not
/// affected. Built with `no_thp` (huge pages inflated RSS) and
/// `local_dynamic_tls` (this library is `dlopen`ed by Python).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use records::{commit_list, PyCommitRecord, PySnapshotRecord};

/// The repository at `root`, for the seed contract's path-taking functions
/// (`../shared/seed-tests/API.md`): each below is one call into it.
/// `durable=False` makes that call's writes skip fsync
/// ([`Durability::Deferred`]); `None`/`True` follow the repository policy.
pub(crate) fn repo_at(root: &Path, durable: Option<bool>) -> muse_core::Result<Repository> {
    let repo = Repository::open(root)?;
    Ok(if durable == Some(false) { repo.with_durability(Durability::Deferred) } else { repo })
}

// ---------------------------------------------------------------- ids

#[pyfunction]
fn blob_id(data: &[u8]) -> String {
    ids::blob_id(data)
}

#[pyfunction]
fn fake_id(label: &str) -> String {
    ids::fake_id(label)
}

#[pyfunction]
fn split_id(id: &str) -> PyResult<(String, String)> {
    let (algo, hex) = ids::split_id(id).py()?;
    Ok((algo.to_string(), hex.to_string()))
}

#[pyfunction]
fn validate_id(id: &str) -> PyResult<()> {
    ids::validate_id(id).py().map(|_| ())
}

#[pyfunction]
fn hash_snapshot(manifest: &Bound<'_, PyDict>) -> PyResult<String> {
    let mut pairs: Vec<(String, String)> = Vec::with_capacity(manifest.len());
    for (k, v) in manifest.iter() {
        pairs.push((k.extract()?, v.extract()?));
    }
    Ok(ids::hash_snapshot(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))))
}

#[pyfunction]
#[pyo3(signature = (parent_ids, snapshot_id, message, committed_at_iso, author=""))]
fn hash_commit(parent_ids: Vec<String>, snapshot_id: &str, message: &str, committed_at_iso: &str, author: &str) -> String {
    let p: Vec<&str> = parent_ids.iter().map(String::as_str).collect();
    ids::hash_commit(&p, snapshot_id, message, committed_at_iso, author)
}

#[pyfunction]
fn validate_rel_path(path: &str) -> PyResult<()> {
    paths::validate_rel_path(path).py()
}

// ---------------------------------------------------------------- paths

#[pyfunction]
fn layout_path(kind: &str, root: PathBuf) -> PyResult<PathBuf> {
    let r = root.as_path();
    Ok(match kind {
        "muse_dir" => paths::muse_dir(r),
        "repo_json" => paths::repo_json_path(r),
        "config_toml" => paths::config_toml_path(r),
        "head" => paths::head_path(r),
        "refs" => paths::refs_dir(r),
        "heads" => paths::heads_dir(r),
        "commits" => paths::commits_dir(r),
        "snapshots" => paths::snapshots_dir(r),
        "objects" => paths::objects_dir(r),
        "tags" => paths::tags_dir(r),
        "releases" => paths::releases_dir(r),
        "branches" => paths::branches_dir(r),
        "cache" => paths::cache_dir(r),
        "stat_cache" => paths::stat_cache_path(r),
        _ => return Err(PyValueError::new_err(format!("unknown layout path {kind:?}"))),
    })
}

#[pyfunction]
fn object_path(root: PathBuf, oid: &str) -> PyResult<PathBuf> {
    paths::object_path(&root, oid).py()
}

#[pyfunction]
fn commit_path(root: PathBuf, cid: &str) -> PyResult<PathBuf> {
    paths::commit_path(&root, cid).py()
}

#[pyfunction]
fn snapshot_path(root: PathBuf, sid: &str) -> PyResult<PathBuf> {
    paths::snapshot_path(&root, sid).py()
}

// ---------------------------------------------------------------- objects

#[pyfunction]
#[pyo3(signature = (root, oid, content, durable=None))]
fn write_object(py: Python<'_>, root: PathBuf, oid: &str, content: &[u8], durable: Option<bool>) -> PyResult<bool> {
    py.detach(|| repo_at(&root, durable)?.write_blob_as(oid, content)).py()
}

#[pyfunction]
fn read_object<'py>(py: Python<'py>, root: PathBuf, oid: &str) -> PyResult<Bound<'py, PyBytes>> {
    let data = py.detach(|| repo_at(&root, None)?.read_blob(oid)).py()?;
    Ok(PyBytes::new(py, &data))
}

#[pyfunction]
fn has_object(py: Python<'_>, root: PathBuf, oid: &str) -> PyResult<bool> {
    py.detach(|| repo_at(&root, None)?.has_blob(oid)).py()
}

#[pyfunction]
#[pyo3(signature = (root, oid, dest, executable=false, durable=None))]
fn restore_object(py: Python<'_>, root: PathBuf, oid: &str, dest: PathBuf, executable: bool, durable: Option<bool>) -> PyResult<u64> {
    py.detach(|| repo_at(&root, durable)?.restore_blob(oid, &dest, executable)).py()
}

#[pyfunction]
#[pyo3(signature = (root, min_age_secs=None))]
fn cleanup_stale_object_temps(py: Python<'_>, root: PathBuf, min_age_secs: Option<f64>) -> PyResult<usize> {
    let age = match min_age_secs {
        Some(s) if s.is_finite() && s >= 0.0 => Some(std::time::Duration::from_secs_f64(s)),
        Some(_) => return Err(PyValueError::new_err("min_age_secs must be a non-negative number")),
        None => None,
    };
    py.detach(|| repo_at(&root, None)?.cleanup_stale_object_temps(age)).py()
}

/// Live view of the process-wide cache of object shard directories known to
/// exist (`muse.core.object_store._created_object_shards`). Members are the
/// shard directory paths as `str`. Removing a member makes the next write
/// into that shard check (and create) the directory again.
#[pyclass(name = "ShardCache", module = "muse.core.object_store")]
struct ShardCache;

#[pymethods]
impl ShardCache {
    fn __contains__(&self, item: PathBuf) -> bool {
        object_store::created_shards().read().unwrap_or_else(|p| p.into_inner()).contains(&item)
    }
    fn __len__(&self) -> usize {
        object_store::created_shards().read().unwrap_or_else(|p| p.into_inner()).len()
    }
    fn __iter__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let items: Vec<String> = object_store::created_shards()
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        Ok(PyList::new(py, items)?.try_iter()?.into_any().unbind())
    }
    /// Adds a shard path (as a hint that it exists).
    fn add(&self, item: PathBuf) {
        object_store::created_shards().write().unwrap_or_else(|p| p.into_inner()).insert(item);
    }
    /// Removes a shard path if present.
    fn discard(&self, item: PathBuf) {
        object_store::created_shards().write().unwrap_or_else(|p| p.into_inner()).remove(&item);
    }
    /// Forgets every shard.
    fn clear(&self) {
        object_store::created_shards().write().unwrap_or_else(|p| p.into_inner()).clear();
    }
    fn __repr__(&self) -> String {
        format!("<ShardCache of {} shard directories>", self.__len__())
    }
}

// ---------------------------------------------------------------- commits

#[pyfunction]
#[pyo3(signature = (root, rec, durable=None))]
fn write_commit(py: Python<'_>, root: PathBuf, rec: PyRef<'_, PyCommitRecord>, durable: Option<bool>) -> PyResult<bool> {
    let inner = rec.inner.clone();
    drop(rec);
    py.detach(|| repo_at(&root, durable)?.write_commit(&inner)).py()
}

#[pyfunction]
fn read_commit(py: Python<'_>, root: PathBuf, cid: &str) -> PyResult<Option<PyCommitRecord>> {
    let rec = py.detach(|| repo_at(&root, None)?.read_commit(cid)).py()?;
    Ok(rec.map(|inner| PyCommitRecord { inner }))
}

#[pyfunction]
fn get_all_commits(py: Python<'_>, root: PathBuf) -> PyResult<Bound<'_, PyList>> {
    // The core reads slice k + 1 (in parallel, without the GIL) while this
    // converts slice k under the GIL, each record at its rank in commit-ID
    // order (`commits::for_each_commit_slice`): the whole history is never
    // held twice.
    let mut list: Option<Py<PyList>> = None;
    let mut missing = 0usize;
    let mut py_err: Option<PyErr> = None;
    let walked = py.detach(|| {
        let repo = repo_at(&root, None)?;
        commits::for_each_commit_slice(repo.fs_store("get_all_commits")?.root(), |n, ranks, recs| {
            Python::attach(|py| -> PyResult<()> {
                let list = match &list {
                    Some(l) => l.bind(py).clone(),
                    None => list.insert(PyList::new(py, (0..n).map(|_| py.None()))?.unbind()).bind(py).clone(),
                };
                for (rank, r) in ranks.iter().zip(recs) {
                    match r {
                        Some(r) => list.set_item(*rank, Py::new(py, PyCommitRecord { inner: r })?)?,
                        None => missing += 1,
                    }
                }
                Ok(())
            })
            .map_err(|e| {
                py_err = Some(e);
                muse_core::Error::InvalidInput("stopped by a Python error".into())
            })
        })
    });
    if let Some(e) = py_err {
        return Err(e);
    }
    walked.py()?;
    let list = match list {
        Some(l) => l.into_bound(py),
        None => return Ok(PyList::empty(py)),
    };
    if missing > 0 {
        // Commits removed while this ran are left out.
        let kept: Vec<Bound<'_, PyAny>> = list.iter().filter(|o| !o.is_none()).collect();
        return PyList::new(py, kept);
    }
    Ok(list)
}

#[pyfunction]
fn list_commit_ids(py: Python<'_>, root: PathBuf) -> PyResult<Vec<String>> {
    py.detach(|| repo_at(&root, None)?.commit_ids()).py()
}

#[pyfunction]
#[pyo3(signature = (root, branch, max_count=0))]
fn get_commits_for_branch<'py>(py: Python<'py>, root: PathBuf, branch: &str, max_count: usize) -> PyResult<Bound<'py, PyList>> {
    let recs = py.detach(|| repo_at(&root, None)?.first_parent_commits(branch, max_count)).py()?;
    commit_list(py, recs)
}

#[pyfunction]
#[pyo3(signature = (root, tip, base=None, max_commits=10_000))]
fn walk_commits_between<'py>(
    py: Python<'py>,
    root: PathBuf,
    tip: &str,
    base: Option<&str>,
    max_commits: usize,
) -> PyResult<(Bound<'py, PyList>, bool)> {
    let res = py.detach(|| repo_at(&root, None)?.walk_between(tip, base, max_commits)).py()?;
    Ok((commit_list(py, res.commits)?, res.truncated))
}

// ---------------------------------------------------------------- snapshots

#[pyfunction]
#[pyo3(signature = (root, rec, durable=None))]
fn write_snapshot(py: Python<'_>, root: PathBuf, rec: PyRef<'_, PySnapshotRecord>, durable: Option<bool>) -> PyResult<bool> {
    let core = rec.to_core(py)?;
    drop(rec);
    py.detach(|| repo_at(&root, durable)?.write_snapshot(&core)).py()
}

#[pyfunction]
fn read_snapshot(py: Python<'_>, root: PathBuf, sid: &str) -> PyResult<Option<PySnapshotRecord>> {
    let rec = py.detach(|| repo_at(&root, None)?.read_snapshot(sid)).py()?;
    rec.map(|r| PySnapshotRecord::from_core(py, r)).transpose()
}

// ---------------------------------------------------------------- refs

#[pyfunction]
fn validate_branch_name(name: &str) -> PyResult<()> {
    refs::validate_branch_name(name).py()
}

#[pyfunction]
fn write_branch_ref(py: Python<'_>, root: PathBuf, branch: &str, commit_id: &str) -> PyResult<()> {
    py.detach(|| repo_at(&root, None)?.set_branch(branch, commit_id)).py()
}

#[pyfunction]
fn read_branch_ref(py: Python<'_>, root: PathBuf, branch: &str) -> PyResult<Option<String>> {
    py.detach(|| repo_at(&root, None)?.branch_target(branch)).py()
}

#[pyfunction]
#[pyo3(signature = (root, branch, expected, new))]
fn compare_and_swap_branch_ref(py: Python<'_>, root: PathBuf, branch: &str, expected: Option<&str>, new: &str) -> PyResult<()> {
    py.detach(|| repo_at(&root, None)?.compare_and_swap_branch(branch, expected, new)).py()
}

#[pyfunction]
#[pyo3(signature = (root, branch, expected=None))]
fn delete_branch_ref(py: Python<'_>, root: PathBuf, branch: &str, expected: Option<&str>) -> PyResult<bool> {
    py.detach(|| repo_at(&root, None)?.delete_branch_ref(branch, expected)).py()
}

#[pyfunction]
fn list_branches(py: Python<'_>, root: PathBuf) -> PyResult<Vec<(String, String)>> {
    py.detach(|| repo_at(&root, None)?.branches()).py()
}

#[pyfunction]
fn read_head(py: Python<'_>, root: PathBuf) -> PyResult<(String, String)> {
    Ok(match py.detach(|| repo_at(&root, None)?.head_ref()).py()? {
        refs::Head::Branch(b) => ("branch".into(), b),
        refs::Head::Detached(c) => ("detached".into(), c),
    })
}

#[pyfunction]
fn write_head_branch(py: Python<'_>, root: PathBuf, branch: &str) -> PyResult<()> {
    py.detach(|| repo_at(&root, None)?.set_head_branch(branch)).py()
}

#[pyfunction]
fn write_head_commit(py: Python<'_>, root: PathBuf, commit_id: &str) -> PyResult<()> {
    py.detach(|| repo_at(&root, None)?.set_head_commit(commit_id)).py()
}

#[pyfunction]
fn write_head_detached(py: Python<'_>, root: PathBuf, commit_id: &str) -> PyResult<()> {
    py.detach(|| repo_at(&root, None)?.set_head_detached(commit_id)).py()
}

#[pyfunction]
fn resolve_head(py: Python<'_>, root: PathBuf) -> PyResult<Option<String>> {
    py.detach(|| repo_at(&root, None)?.resolve_head()).py()
}

// ---------------------------------------------------------------- repo, io, config

#[pyfunction]
#[pyo3(signature = (start=None))]
fn find_repo(py: Python<'_>, start: Option<PathBuf>) -> PyResult<PathBuf> {
    py.detach(|| repo::find_repo(start.as_deref())).py()
}

#[pyfunction]
#[pyo3(signature = (start=None))]
fn require_repo(py: Python<'_>, start: Option<PathBuf>) -> PyResult<PathBuf> {
    py.detach(|| repo::require_repo(start.as_deref())).py()
}

#[pyfunction]
fn startup_gc<'py>(py: Python<'py>, root: PathBuf) -> PyResult<Bound<'py, PyDict>> {
    let r = py.detach(|| repo_at(&root, None)?.startup_gc()).py()?;
    let d = PyDict::new(py);
    d.set_item("removed", r.removed)?;
    d.set_item("kept_live", r.kept_live)?;
    d.set_item("dirs_listed", r.dirs_listed)?;
    Ok(d)
}

#[pyfunction]
fn cleanup_muse_dir_temps(py: Python<'_>, dot_muse: PathBuf) -> PyResult<usize> {
    py.detach(|| repo::cleanup_muse_dir_temps(&dot_muse)).py()
}

#[pyfunction]
#[pyo3(signature = (root, default_branch="main", owner=""))]
fn init_repo(py: Python<'_>, root: PathBuf, default_branch: &str, owner: &str) -> PyResult<PathBuf> {
    let opts = repo::InitOptions { default_branch: default_branch.into(), owner: owner.into(), bare: false };
    py.detach(|| repo::init_repo(&root, &opts)).py()
}

#[pyfunction]
#[pyo3(signature = (path, text, durable=None))]
fn write_text_atomic(py: Python<'_>, path: PathBuf, text: &str, durable: Option<bool>) -> PyResult<()> {
    py.detach(|| {
        let d = match durable {
            Some(false) => Durability::Deferred,
            _ => Durability::Full,
        };
        muse_core::atomic::write_text_atomic(&path, text, d)
    })
    .py()
}

#[pyfunction]
fn read_config<'py>(py: Python<'py>, root: PathBuf) -> PyResult<Bound<'py, PyDict>> {
    let c = py.detach(|| config::Config::read(&root)).py()?;
    let d = PyDict::new(py);
    d.set_item("fsync", if c.fsync == config::FsyncPolicy::Full { "full" } else { "off" })?;
    d.set_item("max_ancestors", c.max_ancestors)?;
    Ok(d)
}

/// Bridges the Rust `log` records to Python `logging`, under the `muse`
/// logger (`muse_core::repo` → `muse.core.repo`; see `log_bridge`). Called
/// by `muse.core` on import, not by `import muse`, which stays free of the
/// ~15 ms `logging` import.
#[pyfunction]
fn init_logging(py: Python<'_>) -> PyResult<()> {
    log_bridge::init(py)
}

#[pyfunction]
fn find_merge_base(py: Python<'_>, root: PathBuf, a: &str, b: &str) -> PyResult<Option<String>> {
    py.detach(|| repo_at(&root, None)?.merge_base(a, b)).py()
}

// ---------------------------------------------------------------- batch

/// A write batch (see `muse.core.io.Batch`).
#[pyclass(name = "Batch", module = "muse.core.io")]
struct PyBatch {
    inner: Mutex<Option<batch::Batch>>,
}

impl PyBatch {
    fn with<T>(&self, f: impl FnOnce(&mut batch::Batch) -> muse_core::Result<T>) -> PyResult<T> {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let b = g.as_mut().ok_or_else(|| PyRuntimeError::new_err("this batch was already committed or aborted"))?;
        f(b).py()
    }
}

#[pymethods]
impl PyBatch {
    #[new]
    fn new(py: Python<'_>, root: PathBuf) -> PyResult<Self> {
        let b = py.detach(|| batch::Batch::begin(repo_at(&root, None)?.fs_store("a write batch")?.root())).py()?;
        Ok(PyBatch { inner: Mutex::new(Some(b)) })
    }
    fn write_object(&self, py: Python<'_>, oid: &str, content: &[u8]) -> PyResult<bool> {
        py.detach(|| self.with(|b| b.write_object(oid, content)))
    }
    fn write_commit(&self, py: Python<'_>, rec: PyRef<'_, PyCommitRecord>) -> PyResult<bool> {
        let inner = rec.inner.clone();
        drop(rec);
        py.detach(|| self.with(|b| b.write_commit(&inner)))
    }
    fn write_snapshot(&self, py: Python<'_>, rec: PyRef<'_, PySnapshotRecord>) -> PyResult<bool> {
        let core = rec.to_core(py)?;
        drop(rec);
        py.detach(|| self.with(|b| b.write_snapshot(&core)))
    }
    fn write_branch_ref(&self, branch: &str, commit_id: &str) -> PyResult<()> {
        self.with(|b| b.write_branch_ref(branch, commit_id))
    }
    #[pyo3(signature = (branch, expected, new))]
    fn compare_and_swap_branch_ref(&self, branch: &str, expected: Option<&str>, new: &str) -> PyResult<()> {
        self.with(|b| b.compare_and_swap_branch_ref(branch, expected, new))
    }
    fn __len__(&self) -> usize {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).as_ref().map_or(0, |b| b.len())
    }
    fn commit<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let b = self
            .inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .ok_or_else(|| PyRuntimeError::new_err("this batch was already committed or aborted"))?;
        let s = py.detach(|| b.commit()).py()?;
        let d = PyDict::new(py);
        d.set_item("objects_written", s.objects_written)?;
        d.set_item("objects_skipped", s.objects_skipped)?;
        d.set_item("commits_written", s.commits_written)?;
        d.set_item("snapshots_written", s.snapshots_written)?;
        d.set_item("refs_updated", s.refs_updated)?;
        Ok(d)
    }
    fn abort(&self, py: Python<'_>) {
        if let Some(b) = self.inner.lock().unwrap_or_else(|p| p.into_inner()).take() {
            py.detach(|| b.abort());
        }
    }
    #[getter]
    fn closed(&self) -> bool {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).is_none()
    }
}

// ---------------------------------------------------------------- module

fn str_tuple(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", muse_core::VERSION)?;
    m.add("MAX_MSGPACK_BYTES", muse_core::records::MAX_MSGPACK_BYTES)?;
    m.add("CLEANUP_MIN_AGE_SECS", object_store::CLEANUP_MIN_AGE_SECS)?;
    m.add("DEFAULT_MAX_ANCESTORS", config::DEFAULT_MAX_ANCESTORS)?;
    m.add("DEFAULT_WALK_CAP", commits::DEFAULT_WALK_CAP)?;
    m.add("MUSE_TEMP_PREFIXES", str_tuple(&repo::MUSE_TEMP_PREFIXES))?;
    m.add("MUSE_SWEEP_DIRS", str_tuple(&repo::MUSE_SWEEP_DIRS))?;
    m.add("TEMP_PREFIXES", str_tuple(&muse_core::atomic::TEMP_PREFIXES))?;
    m.add("REPO_ROOT_ENV", repo::REPO_ROOT_ENV)?;
    errors::add_to(m)?;
    m.add_class::<PyCommitRecord>()?;
    m.add_class::<PySnapshotRecord>()?;
    m.add_class::<ShardCache>()?;
    m.add_class::<PyBatch>()?;
    m.add_class::<walk::PyStatCache>()?;
    repository::add_to(m)?;
    m.add_function(wrap_pyfunction!(walk::walk_workdir, m)?)?;
    m.add_function(wrap_pyfunction!(walk::import_git, m)?)?;
    m.add_function(wrap_pyfunction!(walk::verify_git_import, m)?)?;
    m.add_function(wrap_pyfunction!(mpack::build_mpack, m)?)?;
    m.add_function(wrap_pyfunction!(mpack::encode_mpack, m)?)?;
    m.add_function(wrap_pyfunction!(mpack::decode_mpack, m)?)?;
    m.add_function(wrap_pyfunction!(mpack::apply_mpack, m)?)?;
    m.add("MPACK_FORMAT_VERSION", muse_core::mpack::MPACK_FORMAT_VERSION)?;
    m.add("MAX_CACHE_BYTES", muse_core::stat_cache::MAX_CACHE_BYTES)?;
    m.add("CACHE_VERSION", muse_core::stat_cache::CACHE_VERSION)?;
    m.add("created_object_shards", ShardCache)?;
    macro_rules! add_fns {
        ($($f:ident),* $(,)?) => { $( m.add_function(wrap_pyfunction!($f, m)?)?; )* };
    }
    add_fns!(
        blob_id, fake_id, split_id, validate_id, hash_snapshot, hash_commit, validate_rel_path,
        layout_path, object_path, commit_path, snapshot_path,
        write_object, read_object, has_object, restore_object, cleanup_stale_object_temps,
        write_commit, read_commit, get_all_commits, list_commit_ids, get_commits_for_branch, walk_commits_between,
        write_snapshot, read_snapshot,
        validate_branch_name, write_branch_ref, read_branch_ref, compare_and_swap_branch_ref, delete_branch_ref,
        list_branches, read_head, write_head_branch, write_head_commit, write_head_detached, resolve_head,
        find_repo, require_repo, startup_gc, cleanup_muse_dir_temps, init_repo, write_text_atomic, read_config,
        find_merge_base, init_logging,
    );
    Ok(())
}
