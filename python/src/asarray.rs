//! Arrays in: `gpujit.from_dlpack(x)` and `gpujit.asarray(obj, dtype, copy, device)`, as the array
//! API standard defines them. Another library's array becomes a `gpujit.Array` over the same
//! memory when it can (writable, of the dtype and on the device asked for: any strides), kept
//! alive by its DLPack tensor or its Python object; otherwise the data is copied, unless
//! `copy=False`, which then raises. Python sequences and scalars go through `numpy.asarray`.

use crate::array::{PyArray, Strided};
use crate::dtype;
use crate::import::{to_py_err, PyArrayArg};
use ::gpujit::codegen::ScalarType;
use ::gpujit::runtime::Device;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

/// The stored shape of a Python-visible shape: a 0-d array is stored as one element.
pub(crate) fn physical(shape: &[usize]) -> &[usize] {
    if shape.is_empty() {
        &[1]
    } else {
        shape
    }
}

/// Why `copy=False` cannot be honoured.
fn no_copy(why: &str) -> PyErr {
    PyValueError::new_err(format!("copy=False, but {why}: a copy is needed"))
}

/// `shape`/`strides` (elements) at `address` as a buffer span: the lowest element's address and
/// the number of elements from it to the highest, and element 0's index in that span.
fn span(address: u64, size: usize, shape: &[usize], strides: &[isize]) -> (u64, usize, usize) {
    if shape.contains(&0) {
        return (address, 0, 0);
    }
    let (mut lo, mut hi) = (0isize, 0isize);
    for (&n, &s) in shape.iter().zip(strides) {
        let reach = (n as isize - 1) * s;
        if reach < 0 {
            lo += reach;
        } else {
            hi += reach;
        }
    }
    let base = (address as i64 + lo as i64 * size as i64) as u64;
    (base, (hi - lo + 1) as usize, (-lo) as usize)
}

/// `obj` (a `__dlpack__` or `__cuda_array_interface__` object) as a `gpujit.Array`.
fn import(
    py: Python<'_>,
    obj: &Bound<'_, PyAny>,
    dtype: Option<ScalarType>,
    copy: Option<bool>,
    device: Option<Device>,
) -> PyResult<PyArray> {
    let arg = PyArrayArg::extract(obj)?;
    let x = arg.array().map_err(to_py_err)?;
    let (elem, mut shape, mut strides, here) = (x.dtype(), x.shape().to_vec(), x.strides().to_vec(), x.device().clone());
    let (address, read_only) = (x.address(), x.is_read_only());
    drop(x);
    // A 0-d array is imported as one element: the producer's own shape says which it was.
    let zero_d = obj.getattr("shape").ok().and_then(|s| s.extract::<Vec<usize>>().ok()).is_some_and(|s| s.is_empty());
    if zero_d && shape.iter().product::<usize>() == 1 {
        shape.clear();
        strides.clear();
    }
    if !dtype::ALL.contains(&elem) {
        return Err(dtype::unsupported("asarray", &elem.to_string()));
    }
    let to = dtype.unwrap_or(elem);
    let target = device.unwrap_or_else(|| here.clone());
    let size = elem.size_bytes();
    let (base, count, first) = span(address, size, &shape, &strides);
    // The producer's elements seen as one of ours, kept alive by `arg` (the DLPack tensor, or the
    // CUDA Array Interface's object).
    // SAFETY: the elements lie in [base, base + count * size) on `here`, which the producer
    // keeps allocated while `arg` lives; the buffer keeps `arg`.
    let mut buf = unsafe { Strided::foreign(elem, &[count], &here, base, Box::new(arg))? };
    buf.shape = shape.clone();
    buf.strides = strides.clone();
    buf.offset = first;
    let why = if copy == Some(true) {
        None
    } else if read_only {
        Some("the array is read-only")
    } else if to != elem {
        Some("the dtype differs")
    } else if target.id() != here.id() {
        Some("the device differs")
    } else {
        return Ok(PyArray::new(buf));
    };
    if let (Some(false), Some(why)) = (copy, why) {
        return Err(no_copy(why));
    }
    let converted = if to != elem { crate::engine::astype(py, &buf, to)? } else { crate::engine::copy(py, &buf, &here)? };
    let moved = if target.id() != here.id() { crate::engine::copy(py, &converted, &target)? } else { converted };
    Ok(PyArray::new(moved))
}

/// `gpujit.from_dlpack(x, /, *, device=None, copy=None)`: `x`'s array (any `__dlpack__` object:
/// NumPy, PyTorch, CuPy, JAX, ...) as a `gpujit.Array` over the same memory (any strides), or a
/// copy where one is needed (read-only, another `device`) unless `copy=False`.
#[pyfunction]
#[pyo3(signature = (x, /, *, device = None, copy = None))]
pub(crate) fn from_dlpack(py: Python<'_>, x: &Bound<'_, PyAny>, device: Option<&str>, copy: Option<bool>) -> PyResult<PyArray> {
    if !x.hasattr("__dlpack__")? {
        return Err(PyTypeError::new_err(format!("from_dlpack: {} has no __dlpack__", x.get_type().name()?)));
    }
    let device = device.map(|d| Device::from_spec(Some(d)).map_err(to_py_err)).transpose()?;
    import(py, x, None, copy, device)
}

/// `gpujit.asarray(obj, /, dtype=None, *, device=None, copy=None)`: a `gpujit.Array` from a
/// `gpujit.Array` (itself when nothing changes), any `__dlpack__` or `__cuda_array_interface__`
/// object (no copy where none is needed), or a NumPy array, Python sequence or scalar (copied,
/// with NumPy's dtypes). `copy=True` always copies; `copy=False` raises where a copy is needed.
#[pyfunction]
#[pyo3(signature = (obj, /, dtype = None, *, device = None, copy = None))]
pub(crate) fn asarray(
    py: Python<'_>,
    obj: &Bound<'_, PyAny>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&str>,
    copy: Option<bool>,
) -> PyResult<Py<PyAny>> {
    let to = dtype.filter(|d| !d.is_none()).map(|d| dtype::of(py, d, "asarray")).transpose()?;
    let device = device.map(|d| Device::from_spec(Some(d)).map_err(to_py_err)).transpose()?;
    asarray_on(py, obj, to, device, copy)
}

/// [`asarray`] with the dtype and device given as values.
pub(crate) fn asarray_on(
    py: Python<'_>,
    obj: &Bound<'_, PyAny>,
    to: Option<ScalarType>,
    device: Option<Device>,
    copy: Option<bool>,
) -> PyResult<Py<PyAny>> {
    if let Ok(a) = obj.downcast::<PyArray>() {
        let a = &a.get().a;
        let from = a.elem;
        let same_device = device.as_ref().map_or(true, |d| d.id() == a.device().id());
        let to = to.unwrap_or(from);
        if copy != Some(true) && to == from && same_device {
            return Ok(obj.clone().unbind());
        }
        if copy == Some(false) {
            return Err(no_copy(if to != from { "the dtype differs" } else { "the device differs" }));
        }
        let here = a.device().clone();
        let converted = if to != from { crate::engine::astype(py, a, to)? } else { crate::engine::copy(py, a, &here)? };
        let moved = match device.filter(|d| d.id() != here.id()) {
            Some(d) => crate::engine::copy(py, &converted, &d)?,
            None => converted,
        };
        return PyArray::new(moved).into_py(py);
    }
    if obj.hasattr("__dlpack__")? || obj.hasattr("__cuda_array_interface__")? {
        return import(py, obj, to, copy, device)?.into_py(py);
    }
    // A sequence or a scalar: NumPy makes the array (its dtypes, its errors), which is then
    // ours without a second copy.
    if copy == Some(false) {
        return Err(no_copy(&format!("a {} is not an array", obj.get_type().name()?)));
    }
    let np = py.import("numpy")?;
    let host = match to {
        Some(t) if t != ScalarType::BF16 => np.call_method1("asarray", (obj, dtype::name(t)))?,
        _ => np.call_method1("asarray", (obj,))?,
    };
    import(py, &host, to, None, device)?.into_py(py)
}
