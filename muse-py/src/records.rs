//! `CommitRecord` and `SnapshotRecord` as Python classes.

use std::collections::BTreeMap;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyType};

use muse_core::records::{CommitRecord, SnapshotRecord};

use crate::convert::{py_to_value, value_to_py, IntoPy};

/// A `datetime` (its `isoformat()`) or an ISO string, as the string hashed
/// into commit IDs.
fn iso_of(obj: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(s.to_cow()?.into_owned());
    }
    if obj.hasattr("isoformat")? {
        return obj.call_method0("isoformat")?.extract();
    }
    Err(PyTypeError::new_err("committed_at must be a datetime or an ISO-8601 string"))
}

/// An ISO string as a `datetime` (the string itself when it does not parse).
fn datetime_of<'py>(py: Python<'py>, iso: &str) -> PyResult<Bound<'py, PyAny>> {
    let dt = py.import("datetime")?.getattr("datetime")?;
    match dt.call_method1("fromisoformat", (iso,)) {
        Ok(v) => Ok(v),
        Err(_) => Ok(PyString::new(py, iso).into_any()),
    }
}

fn now_utc<'py>(py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
    let m = py.import("datetime")?;
    let utc = m.getattr("timezone")?.getattr("utc")?;
    m.getattr("datetime")?.call_method1("now", (utc,))
}

fn str_map(d: Option<&Bound<'_, PyDict>>) -> PyResult<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    if let Some(d) = d {
        for (k, v) in d.iter() {
            out.insert(k.extract()?, v.extract()?);
        }
    }
    Ok(out)
}

/// One commit (SPEC §3). Constructed with keywords like a dataclass; a
/// `commit_id` of `None` is computed from the fields (`hash_commit`).
/// `committed_at` is a timezone-aware `datetime` (an ISO string is accepted
/// too); its `isoformat()` is what the commit ID hashes. `write_commit`
/// refuses a record whose `commit_id` does not verify.
#[pyclass(name = "CommitRecord", module = "muse.core.commits")]
#[derive(Clone)]
pub struct PyCommitRecord {
    pub inner: CommitRecord,
}

#[pymethods]
impl PyCommitRecord {
    #[new]
    #[pyo3(signature = (
        commit_id=None, branch=String::new(), snapshot_id=String::new(), message=String::new(),
        committed_at=None, parent_commit_id=None, parent2_commit_id=None, author=String::new(),
        metadata=None, structured_delta=None, sem_ver_bump=String::from("none"), breaking_changes=None,
        agent_id=String::new(), model_id=String::new(), toolchain_id=String::new(),
        prompt_hash=String::new(), signature=String::new(), signer_key_id=String::new()
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        commit_id: Option<String>,
        branch: String,
        snapshot_id: String,
        message: String,
        committed_at: Option<&Bound<'_, PyAny>>,
        parent_commit_id: Option<String>,
        parent2_commit_id: Option<String>,
        author: String,
        metadata: Option<&Bound<'_, PyDict>>,
        structured_delta: Option<&Bound<'_, PyAny>>,
        sem_ver_bump: String,
        breaking_changes: Option<Vec<String>>,
        agent_id: String,
        model_id: String,
        toolchain_id: String,
        prompt_hash: String,
        signature: String,
        signer_key_id: String,
    ) -> PyResult<Self> {
        let committed_at = match committed_at {
            Some(v) if !v.is_none() => iso_of(v)?,
            _ => iso_of(&now_utc(py)?)?,
        };
        let structured_delta = match structured_delta {
            Some(v) if !v.is_none() => Some(py_to_value(v)?),
            _ => None,
        };
        let mut inner = CommitRecord {
            commit_id: String::new(),
            branch,
            snapshot_id,
            message,
            committed_at,
            parent_commit_id,
            parent2_commit_id,
            author,
            metadata: str_map(metadata)?,
            structured_delta,
            sem_ver_bump,
            breaking_changes: breaking_changes.unwrap_or_default(),
            agent_id,
            model_id,
            toolchain_id,
            prompt_hash,
            signature,
            signer_key_id,
            ..Default::default()
        };
        inner.commit_id = commit_id.unwrap_or_else(|| inner.compute_id());
        Ok(PyCommitRecord { inner })
    }

    #[getter]
    fn commit_id(&self) -> &str {
        &self.inner.commit_id
    }
    #[setter]
    fn set_commit_id(&mut self, v: String) {
        self.inner.commit_id = v;
    }
    #[getter]
    fn branch(&self) -> &str {
        &self.inner.branch
    }
    #[setter]
    fn set_branch(&mut self, v: String) {
        self.inner.branch = v;
    }
    #[getter]
    fn snapshot_id(&self) -> &str {
        &self.inner.snapshot_id
    }
    #[setter]
    fn set_snapshot_id(&mut self, v: String) {
        self.inner.snapshot_id = v;
    }
    #[getter]
    fn message(&self) -> &str {
        &self.inner.message
    }
    #[setter]
    fn set_message(&mut self, v: String) {
        self.inner.message = v;
    }
    #[getter]
    fn author(&self) -> &str {
        &self.inner.author
    }
    #[setter]
    fn set_author(&mut self, v: String) {
        self.inner.author = v;
    }
    #[getter]
    fn sem_ver_bump(&self) -> &str {
        &self.inner.sem_ver_bump
    }
    #[setter]
    fn set_sem_ver_bump(&mut self, v: String) {
        self.inner.sem_ver_bump = v;
    }
    #[getter]
    fn agent_id(&self) -> &str {
        &self.inner.agent_id
    }
    #[setter]
    fn set_agent_id(&mut self, v: String) {
        self.inner.agent_id = v;
    }
    #[getter]
    fn model_id(&self) -> &str {
        &self.inner.model_id
    }
    #[setter]
    fn set_model_id(&mut self, v: String) {
        self.inner.model_id = v;
    }
    #[getter]
    fn toolchain_id(&self) -> &str {
        &self.inner.toolchain_id
    }
    #[setter]
    fn set_toolchain_id(&mut self, v: String) {
        self.inner.toolchain_id = v;
    }
    #[getter]
    fn prompt_hash(&self) -> &str {
        &self.inner.prompt_hash
    }
    #[setter]
    fn set_prompt_hash(&mut self, v: String) {
        self.inner.prompt_hash = v;
    }
    #[getter]
    fn signature(&self) -> &str {
        &self.inner.signature
    }
    #[setter]
    fn set_signature(&mut self, v: String) {
        self.inner.signature = v;
    }
    #[getter]
    fn signer_key_id(&self) -> &str {
        &self.inner.signer_key_id
    }
    #[setter]
    fn set_signer_key_id(&mut self, v: String) {
        self.inner.signer_key_id = v;
    }
    /// Commit time as a `datetime`.
    #[getter]
    fn committed_at<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        datetime_of(py, &self.inner.committed_at)
    }
    #[setter]
    fn set_committed_at(&mut self, v: &Bound<'_, PyAny>) -> PyResult<()> {
        self.inner.committed_at = iso_of(v)?;
        Ok(())
    }
    /// Commit time exactly as hashed (ISO-8601 string).
    #[getter]
    fn committed_at_iso(&self) -> &str {
        &self.inner.committed_at
    }
    #[getter]
    fn parent_commit_id(&self) -> Option<&str> {
        self.inner.parent_commit_id.as_deref()
    }
    #[setter]
    fn set_parent_commit_id(&mut self, v: Option<String>) {
        self.inner.parent_commit_id = v;
    }
    #[getter]
    fn parent2_commit_id(&self) -> Option<&str> {
        self.inner.parent2_commit_id.as_deref()
    }
    #[setter]
    fn set_parent2_commit_id(&mut self, v: Option<String>) {
        self.inner.parent2_commit_id = v;
    }
    /// `dict[str, str]` (a copy).
    #[getter]
    fn metadata<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (k, v) in &self.inner.metadata {
            d.set_item(k, v)?;
        }
        Ok(d)
    }
    #[setter]
    fn set_metadata(&mut self, v: Option<&Bound<'_, PyDict>>) -> PyResult<()> {
        self.inner.metadata = str_map(v)?;
        Ok(())
    }
    /// A dict or `None` (a copy).
    #[getter]
    fn structured_delta<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match &self.inner.structured_delta {
            Some(v) => value_to_py(py, v),
            None => Ok(py.None().into_bound(py)),
        }
    }
    #[setter]
    fn set_structured_delta(&mut self, v: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        self.inner.structured_delta = match v {
            Some(v) if !v.is_none() => Some(py_to_value(v)?),
            _ => None,
        };
        Ok(())
    }
    /// `list[str]` (a copy).
    #[getter]
    fn breaking_changes(&self) -> Vec<String> {
        self.inner.breaking_changes.clone()
    }
    #[setter]
    fn set_breaking_changes(&mut self, v: Vec<String>) {
        self.inner.breaking_changes = v;
    }
    /// Parent IDs, first parent first.
    #[getter]
    fn parent_ids(&self) -> Vec<String> {
        self.inner.parents().map(str::to_string).collect()
    }
    /// `format_version` of the record as read (1).
    #[getter]
    fn format_version(&self) -> u32 {
        self.inner.format_version
    }

    /// `hash_commit` of the fields: what `commit_id` must equal.
    fn compute_id(&self) -> String {
        self.inner.compute_id()
    }

    /// Raises `HashMismatchError` / `InvalidIdError` unless the record would
    /// be accepted by `write_commit`.
    fn verify(&self) -> PyResult<()> {
        self.inner.validate().py()
    }

    /// The record as a dict of msgpack-native values (`committed_at` as
    /// its ISO string; unknown keys read from disk included).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let v = rmpv::ext::to_value(&self.inner).map_err(|e| PyValueError::new_err(e.to_string()))?;
        Ok(value_to_py(py, &v)?.cast_into::<PyDict>()?)
    }

    /// Builds a record from a dict as produced by `to_dict` (or read from an
    /// MPack bundle).
    #[classmethod]
    fn from_dict(_cls: &Bound<'_, PyType>, d: &Bound<'_, PyDict>) -> PyResult<Self> {
        let v = py_to_value(d.as_any())?;
        let inner: CommitRecord = rmpv::ext::from_value(v).map_err(|e| PyValueError::new_err(format!("not a commit record: {e}")))?;
        Ok(PyCommitRecord { inner })
    }

    /// The record's msgpack bytes, as stored on disk.
    fn to_msgpack<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, pyo3::types::PyBytes>> {
        Ok(pyo3::types::PyBytes::new(py, &self.inner.to_msgpack().py()?))
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, (Bound<'py, PyDict>,))> {
        let cls = slf.get_type().getattr("from_dict")?;
        Ok((cls, (slf.borrow().to_dict(slf.py())?,)))
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.extract::<PyRef<'_, PyCommitRecord>>().map(|o| o.inner == self.inner).unwrap_or(false)
    }

    fn __repr__(&self) -> String {
        format!(
            "CommitRecord(commit_id={:?}, branch={:?}, message={:?}, committed_at={:?}, parent_commit_id={:?})",
            self.inner.commit_id, self.inner.branch, self.inner.message, self.inner.committed_at, self.inner.parent_commit_id
        )
    }
}

/// One snapshot: `snapshot_id` and the full `manifest` `{path: blob_id}`
/// (SPEC §3). A `snapshot_id` of `None` is computed (`hash_snapshot`);
/// `created_at` defaults to now (UTC). The fields are plain attributes.
#[pyclass(name = "SnapshotRecord", module = "muse.core.snapshots")]
pub struct PySnapshotRecord {
    /// `hash_snapshot(manifest)`.
    #[pyo3(get, set)]
    pub snapshot_id: String,
    /// `dict[str, str]`: POSIX relative path → blob ID.
    #[pyo3(get, set)]
    pub manifest: Py<PyDict>,
    /// `datetime` of creation (not hashed).
    #[pyo3(get, set)]
    pub created_at: Py<PyAny>,
    extra: Vec<(String, rmpv::Value)>,
}

impl PySnapshotRecord {
    /// The core record (manifest copied out of the dict).
    pub fn to_core(&self, py: Python<'_>) -> PyResult<SnapshotRecord> {
        let manifest = str_map(Some(self.manifest.bind(py)))?;
        let created_at = iso_of(self.created_at.bind(py))?;
        Ok(SnapshotRecord { snapshot_id: self.snapshot_id.clone(), manifest, created_at, extra: self.extra.clone() })
    }

    /// Wraps a core record.
    pub fn from_core(py: Python<'_>, rec: SnapshotRecord) -> PyResult<Self> {
        let d = PyDict::new(py);
        for (k, v) in &rec.manifest {
            d.set_item(k, v)?;
        }
        let created_at = if rec.created_at.is_empty() { now_utc(py)? } else { datetime_of(py, &rec.created_at)? };
        Ok(PySnapshotRecord { snapshot_id: rec.snapshot_id, manifest: d.unbind(), created_at: created_at.unbind(), extra: rec.extra })
    }
}

#[pymethods]
impl PySnapshotRecord {
    #[new]
    #[pyo3(signature = (snapshot_id=None, manifest=None, created_at=None))]
    fn new(
        py: Python<'_>,
        snapshot_id: Option<String>,
        manifest: Option<Bound<'_, PyDict>>,
        created_at: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let manifest = manifest.unwrap_or_else(|| PyDict::new(py));
        let snapshot_id = match snapshot_id {
            Some(s) => s,
            None => {
                let m = str_map(Some(&manifest))?;
                muse_core::ids::hash_sorted_snapshot(m.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            }
        };
        let created_at = match created_at {
            Some(c) if !c.is_none() => c,
            _ => now_utc(py)?,
        };
        Ok(PySnapshotRecord { snapshot_id, manifest: manifest.unbind(), created_at: created_at.unbind(), extra: Vec::new() })
    }

    /// `hash_snapshot(manifest)`: what `snapshot_id` must equal.
    fn compute_id(&self, py: Python<'_>) -> PyResult<String> {
        Ok(self.to_core(py)?.compute_id())
    }

    fn __eq__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<bool> {
        let Ok(o) = other.extract::<PyRef<'_, PySnapshotRecord>>() else { return Ok(false) };
        Ok(o.snapshot_id == self.snapshot_id && o.manifest.bind(py).eq(self.manifest.bind(py))?)
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        format!("SnapshotRecord(snapshot_id={:?}, manifest=<{} entries>)", self.snapshot_id, self.manifest.bind(py).len())
    }
}

/// Builds a Python list of commit records.
pub fn commit_list(py: Python<'_>, recs: Vec<CommitRecord>) -> PyResult<Bound<'_, PyList>> {
    let list = PyList::empty(py);
    for r in recs {
        list.append(Py::new(py, PyCommitRecord { inner: r })?)?;
    }
    Ok(list)
}
