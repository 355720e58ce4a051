//! Conversions between Python objects and core types, and `Result` →
//! `PyResult` (the error mapping itself is [`crate::errors`]).

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

pub use crate::errors::to_py_err;

/// `Result` → `PyResult` with [`to_py_err`].
pub trait IntoPy<T> {
    /// Maps the error.
    fn py(self) -> PyResult<T>;
}

impl<T> IntoPy<T> for muse_core::Result<T> {
    fn py(self) -> PyResult<T> {
        self.map_err(to_py_err)
    }
}

/// Deepest nesting of lists/dicts accepted from Python (a deeper value is
/// refused rather than risking the native stack).
pub const MAX_VALUE_DEPTH: usize = 64;

/// A Python value (None, bool, int, float, str, bytes, list, tuple, dict)
/// as a msgpack value; nesting deeper than [`MAX_VALUE_DEPTH`] is refused
/// with `ValueError`.
pub fn py_to_value(obj: &Bound<'_, PyAny>) -> PyResult<rmpv::Value> {
    py_to_value_at(obj, 0)
}

fn py_to_value_at(obj: &Bound<'_, PyAny>, depth: usize) -> PyResult<rmpv::Value> {
    if depth > MAX_VALUE_DEPTH {
        return Err(PyValueError::new_err(format!("value nested deeper than {MAX_VALUE_DEPTH} levels")));
    }
    if obj.is_none() {
        return Ok(rmpv::Value::Nil);
    }
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(rmpv::Value::Boolean(b.is_true()));
    }
    if obj.is_instance_of::<PyInt>() {
        if let Ok(i) = obj.extract::<i64>() {
            return Ok(rmpv::Value::from(i));
        }
        if let Ok(u) = obj.extract::<u64>() {
            return Ok(rmpv::Value::from(u));
        }
        return Err(PyValueError::new_err("integer does not fit in 64 bits"));
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        return Ok(rmpv::Value::F64(f.value()));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(rmpv::Value::String(s.to_cow()?.into_owned().into()));
    }
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(rmpv::Value::Binary(b.as_bytes().to_vec()));
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        let mut out = Vec::with_capacity(d.len());
        for (k, v) in d.iter() {
            out.push((py_to_value_at(&k, depth + 1)?, py_to_value_at(&v, depth + 1)?));
        }
        return Ok(rmpv::Value::Map(out));
    }
    if obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() {
        let mut out = Vec::new();
        for item in obj.try_iter()? {
            out.push(py_to_value_at(&item?, depth + 1)?);
        }
        return Ok(rmpv::Value::Array(out));
    }
    Err(PyTypeError::new_err(format!(
        "cannot store a value of type {} in a record (use None, bool, int, float, str, bytes, list or dict)",
        obj.get_type().name()?
    )))
}

/// A msgpack value as a Python value (maps become dicts, ext values
/// `(code, bytes)` tuples).
pub fn value_to_py<'py>(py: Python<'py>, v: &rmpv::Value) -> PyResult<Bound<'py, PyAny>> {
    use rmpv::Value as V;
    Ok(match v {
        V::Nil => py.None().into_bound(py),
        V::Boolean(b) => PyBool::new(py, *b).to_owned().into_any(),
        V::Integer(i) => {
            if let Some(x) = i.as_i64() {
                x.into_pyobject(py)?.into_any()
            } else {
                i.as_u64().unwrap_or(0).into_pyobject(py)?.into_any()
            }
        }
        V::F32(f) => PyFloat::new(py, f64::from(*f)).into_any(),
        V::F64(f) => PyFloat::new(py, *f).into_any(),
        V::String(s) => match s.as_str() {
            Some(s) => PyString::new(py, s).into_any(),
            None => PyBytes::new(py, s.as_bytes()).into_any(),
        },
        V::Binary(b) => PyBytes::new(py, b).into_any(),
        V::Array(items) => {
            let list = PyList::empty(py);
            for it in items {
                list.append(value_to_py(py, it)?)?;
            }
            list.into_any()
        }
        V::Map(entries) => {
            let d = PyDict::new(py);
            for (k, val) in entries {
                d.set_item(value_to_py(py, k)?, value_to_py(py, val)?)?;
            }
            d.into_any()
        }
        V::Ext(code, data) => PyTuple::new(py, [code.into_pyobject(py)?.into_any(), PyBytes::new(py, data).into_any()])?.into_any(),
    })
}
