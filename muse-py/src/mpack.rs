//! MPack bundles for Python: dicts of msgpack-native values in and out.

use std::path::PathBuf;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use muse_core::ids::CommitId;
use muse_core::mpack::{self, Limits, MPack};
use muse_core::Repository;

use crate::convert::{py_to_value, value_to_py, IntoPy};

fn to_dict<'py>(py: Python<'py>, m: &MPack) -> PyResult<Bound<'py, PyAny>> {
    let v = rmpv::ext::to_value(m).map_err(|e| PyValueError::new_err(e.to_string()))?;
    value_to_py(py, &v)
}

fn from_obj(obj: &Bound<'_, PyAny>) -> PyResult<MPack> {
    if let Ok(b) = obj.cast::<PyBytes>() {
        let bytes = b.as_bytes();
        return obj.py().detach(|| mpack::decode_mpack(bytes, &Limits::default())).py();
    }
    let v = py_to_value(obj)?;
    rmpv::ext::from_value::<MPack>(v).map_err(|e| {
        crate::convert::to_py_err(muse_core::Error::InvalidInput(format!("not an MPack bundle: {e}")))
    })
}

fn commit_ids(ids: &[String]) -> muse_core::Result<Vec<CommitId>> {
    ids.iter().map(|id| CommitId::parse(id)).collect()
}

/// [`Repository::build_mpack`] with string IDs, as a dict.
pub fn build<'py>(py: Python<'py>, repo: &Repository, want: &[String], have: &[String]) -> PyResult<Bound<'py, PyAny>> {
    let m = py.detach(|| repo.build_mpack(&commit_ids(want)?, &commit_ids(have)?)).py()?;
    to_dict(py, &m)
}

/// Builds the bundle of what `want` reaches and `have` does not (a dict).
#[pyfunction]
#[pyo3(signature = (root, want, have=Vec::new()))]
pub fn build_mpack<'py>(py: Python<'py>, root: PathBuf, want: Vec<String>, have: Vec<String>) -> PyResult<Bound<'py, PyAny>> {
    build(py, &Repository::open(&root).py()?, &want, &have)
}

/// Encodes a bundle dict to its wire bytes.
#[pyfunction]
pub fn encode_mpack<'py>(py: Python<'py>, bundle: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
    let m = from_obj(bundle)?;
    let bytes = py.detach(|| mpack::encode_mpack(&m)).py()?;
    Ok(PyBytes::new(py, &bytes))
}

/// Decodes wire bytes (bounded by the default limits) to a bundle dict.
#[pyfunction]
pub fn decode_mpack<'py>(py: Python<'py>, data: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    let m = py.detach(|| mpack::decode_mpack(data, &Limits::default())).py()?;
    to_dict(py, &m)
}

/// Verifies and stores a bundle (dict or wire bytes); returns the counts.
#[pyfunction]
pub fn apply_mpack<'py>(py: Python<'py>, root: PathBuf, bundle: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyDict>> {
    // The bundle is read first: a malformed one is refused as such.
    let m = from_obj(bundle)?;
    apply_parsed(py, &Repository::open(&root).py()?, &m)
}

/// [`Repository::apply_mpack`] of a bundle dict or wire bytes; the counts
/// as a dict.
pub fn apply<'py>(py: Python<'py>, repo: &Repository, bundle: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyDict>> {
    apply_parsed(py, repo, &from_obj(bundle)?)
}

fn apply_parsed<'py>(py: Python<'py>, repo: &Repository, m: &MPack) -> PyResult<Bound<'py, PyDict>> {
    let s = py.detach(|| repo.apply_mpack(m, &Limits::default())).py()?;
    stats_dict(py, &s)
}

/// The counts dict of an applied bundle (`apply_mpack`, `apply_bundle`):
/// ``commits_written``, ``snapshots_written``, ``blobs_written``,
/// ``blobs_skipped``, ``branch_heads``.
pub fn stats_dict<'py>(py: Python<'py>, s: &muse_core::mpack::ApplyStats) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("commits_written", s.commits_written)?;
    d.set_item("snapshots_written", s.snapshots_written)?;
    d.set_item("blobs_written", s.blobs_written)?;
    d.set_item("blobs_skipped", s.blobs_skipped)?;
    let heads = PyDict::new(py);
    for (k, v) in &s.branch_heads {
        heads.set_item(k, v)?;
    }
    d.set_item("branch_heads", heads)?;
    Ok(d)
}
