//! MPack bundles for Python: dicts of msgpack-native values in and out.

use std::path::PathBuf;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use muse_core::mpack::{self, Limits, MPack};

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

/// Builds the bundle of what `want` reaches and `have` does not (a dict).
#[pyfunction]
#[pyo3(signature = (root, want, have=Vec::new()))]
pub fn build_mpack<'py>(py: Python<'py>, root: PathBuf, want: Vec<String>, have: Vec<String>) -> PyResult<Bound<'py, PyAny>> {
    let m = py.detach(|| mpack::build_mpack(&root, &want, &have)).py()?;
    to_dict(py, &m)
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
    let m = from_obj(bundle)?;
    let s = py.detach(|| mpack::apply_mpack(&root, &m, &Limits::default())).py()?;
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
