//! Arrays in: `gpujit.from_dlpack(x)` and `gpujit.asarray(obj, dtype, copy, device)`, as the array
//! API standard defines them. Another library's array becomes a `gpujit.Array` over the same
//! memory when it can (C-contiguous, writable, of the dtype and on the device asked for), kept
//! alive by its DLPack tensor or its Python object; otherwise the data is copied, unless
//! `copy=False`, which then raises. Python sequences and scalars go through `numpy.asarray`.

use crate::import::{to_py_err, PyArrayArg};
use crate::module::{dtype_name, physical, Data, PyArray};
use crate::ufunc::{cast, dtype_of, launch};
use ::gpujit::codegen::ScalarType;
use ::gpujit::prelude::*;
use ::gpujit::runtime::{Device, DeviceArray, ExternalArray, KernelArg};
use num_complex::Complex;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use std::sync::Arc;

/// A copy of a strided 4-D view into a contiguous array (any element type).
#[gpu_kernel]
fn copy_4d<T: Scalar>(x: &Array<T, 4>, out: &mut Array<T, 4>) {
    let i = grid(1);
    let (n1, n2, n3) = (out.shape(1), out.shape(2), out.shape(3));
    if i < out.shape(0) * n1 * n2 * n3 {
        let (i3, r) = (i % n3, i / n3);
        let (i2, r) = (r % n2, r / n2);
        let (i1, i0) = (r % n1, r / n1);
        out[[i0, i1, i2, i3]] = x[[i0, i1, i2, i3]];
    }
}

impl Data {
    /// `shape`'s elements of `elem` at `address` on `device`, another library's memory, kept
    /// alive by `owner`.
    ///
    /// # Safety
    /// As [`DeviceArray::from_foreign`]: C-contiguous, writable elements that `owner` keeps.
    unsafe fn foreign(elem: ScalarType, device: &Device, address: u64, shape: &[usize], owner: Box<dyn Send>) -> PyResult<Data> {
        macro_rules! wrap {
            ($v:ident, $t:ty) => {
                // SAFETY: the caller's contract.
                Data::$v(Arc::new(unsafe { DeviceArray::<$t>::from_foreign(device, address, shape, owner) }.map_err(to_py_err)?))
            };
        }
        Ok(match elem {
            ScalarType::Bool => wrap!(Bool, bool),
            ScalarType::F32 => wrap!(F32, f32),
            ScalarType::F64 => wrap!(F64, f64),
            ScalarType::I32 => wrap!(I32, i32),
            ScalarType::I64 => wrap!(I64, i64),
            ScalarType::Complex32 => wrap!(C64, Complex<f32>),
            ScalarType::Complex64 => wrap!(C128, Complex<f64>),
            other => return Err(unsupported(other)),
        })
    }

    /// The same elements in a new array on `device` (through the host).
    fn to_device(&self, device: &Device) -> PyResult<Data> {
        macro_rules! moved {
            ($v:ident, $a:ident) => {
                Data::$v(Arc::new(DeviceArray::from_shape(device, $a.shape(), &$a.to_vec().map_err(to_py_err)?).map_err(to_py_err)?))
            };
        }
        Ok(match self {
            Data::Bool(a) => moved!(Bool, a),
            Data::F32(a) => moved!(F32, a),
            Data::F64(a) => moved!(F64, a),
            Data::I32(a) => moved!(I32, a),
            Data::I64(a) => moved!(I64, a),
            Data::C64(a) => moved!(C64, a),
            Data::C128(a) => moved!(C128, a),
        })
    }
}

fn unsupported(t: ScalarType) -> PyErr {
    PyTypeError::new_err(format!(
        "gpujit.Array holds no {t} elements (it holds bool, int32, int64, float32, float64, complex64 and complex128)"
    ))
}

fn supported(t: ScalarType) -> bool {
    use ScalarType::*;
    matches!(t, Bool | F32 | F64 | I32 | I64 | Complex32 | Complex64)
}

/// A contiguous copy of `x` (any strides, at most 4 axes) on its own device.
fn copy_external(py: Python<'_>, x: &ExternalArray<'_>) -> PyResult<Data> {
    let (shape, strides) = (x.shape(), x.strides());
    if shape.len() > 4 {
        return Err(PyValueError::new_err(format!("an array of {} dimensions cannot be copied (at most 4)", shape.len())));
    }
    let pad = 4 - shape.len();
    let shape4: Vec<usize> = std::iter::repeat(1).take(pad).chain(shape.iter().copied()).collect();
    let strides4: Vec<isize> = std::iter::repeat(0).take(pad).chain(strides.iter().copied()).collect();
    // SAFETY: the same elements as `x` (axes of extent 1 added in front), which `x`'s owner keeps
    // alive while this view, which lives in this function only, is used.
    let view =
        unsafe { ExternalArray::from_raw_parts(x.device(), x.dtype(), x.address(), &shape4, Some(&strides4), true) }.map_err(to_py_err)?;
    let out = Data::zeros(x.dtype(), shape, x.device())?;
    let contiguous = ::gpujit::runtime::Layout::contiguous(&shape4).strides;
    {
        let mut ov = out.view(&shape4, &contiguous, true)?;
        let args = [(&view).into_arg(), (&mut ov).into_arg()];
        launch(py, &copy_4d, shape.iter().product(), &args)?;
    }
    Ok(out)
}

/// Why `copy=False` cannot be honoured.
fn no_copy(why: &str) -> PyErr {
    PyValueError::new_err(format!("copy=False, but {why}: a copy is needed"))
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
    let (elem, mut shape, here) = (x.dtype(), x.shape().to_vec(), x.device().clone());
    // A 0-d array is imported as one element: the producer's own shape says which it was.
    let zero_d = obj.getattr("shape").ok().and_then(|s| s.extract::<Vec<usize>>().ok()).is_some_and(|s| s.is_empty());
    if zero_d && shape.iter().product::<usize>() == 1 {
        shape.clear();
    }
    if !supported(elem) {
        return Err(unsupported(elem));
    }
    let to = dtype.unwrap_or(elem);
    if !supported(to) {
        return Err(unsupported(to));
    }
    let target = device.unwrap_or_else(|| here.clone());
    let why = if copy == Some(true) {
        None
    } else if !x.is_c_contiguous() {
        Some("the array is not C-contiguous")
    } else if x.is_read_only() {
        Some("the array is read-only")
    } else if to != elem {
        Some("the dtype differs")
    } else if target.id() != here.id() {
        Some("the device differs")
    } else {
        let address = x.address();
        drop(x);
        // SAFETY: the array is C-contiguous, writable, of `elem` on `here` (the producer said so
        // and `array()` checked its pointer's alignment); `arg` holds the DLPack tensor (or the
        // object of a CUDA Array Interface), which keeps the memory alive until the array drops it.
        let data = unsafe { Data::foreign(elem, &here, address, physical(&shape), Box::new(arg))? };
        return Ok(PyArray::with_shape(data, shape));
    };
    if let (Some(false), Some(why)) = (copy, why) {
        return Err(no_copy(why));
    }
    let mut data = copy_external(py, &x)?;
    drop(x);
    if to != elem {
        data = cast(py, &data, physical(&shape), to, &here)?;
    }
    if target.id() != here.id() {
        data = data.to_device(&target)?;
    }
    Ok(PyArray::with_shape(data, shape))
}

/// `gpujit.from_dlpack(x, /, *, device=None, copy=None)`: `x`'s array (any `__dlpack__` object:
/// NumPy, PyTorch, CuPy, JAX, ...) as a `gpujit.Array` over the same memory, or a copy where one
/// is needed (not C-contiguous, read-only, another `device`) unless `copy=False`.
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
    let to = dtype.filter(|d| !d.is_none()).map(|d| dtype_of(py, d, "asarray")).transpose()?;
    let device = device.map(|d| Device::from_spec(Some(d)).map_err(to_py_err)).transpose()?;
    if let Ok(a) = obj.downcast::<PyArray>() {
        let a = a.get();
        let from = a.data.scalar_type();
        let same_device = device.as_ref().map_or(true, |d| d.id() == a.device_id());
        let to = to.unwrap_or(from);
        if copy != Some(true) && to == from && same_device {
            return Ok(obj.clone().unbind());
        }
        if copy == Some(false) {
            return Err(no_copy(if to != from { "the dtype differs" } else { "the device differs" }));
        }
        let shape = a.shape_vec();
        let here = a.data.device().clone();
        let mut data = if to != from { cast(py, &a.data, physical(&shape), to, &here)? } else { a.data.to_device(&here)? };
        if let Some(d) = device.filter(|d| d.id() != here.id()) {
            data = data.to_device(&d)?;
        }
        return Ok(Py::new(py, PyArray::with_shape(data, shape))?.into_any());
    }
    if obj.hasattr("__dlpack__")? || obj.hasattr("__cuda_array_interface__")? {
        return Ok(Py::new(py, import(py, obj, to, copy, device)?)?.into_any());
    }
    // A sequence or a scalar: NumPy makes the array (its dtypes, its errors), which is then
    // ours without a second copy.
    if copy == Some(false) {
        return Err(no_copy(&format!("a {} is not an array", obj.get_type().name()?)));
    }
    let np = py.import("numpy")?;
    let host = match to {
        Some(t) => np.call_method1("asarray", (obj, dtype_name(t)))?,
        None => np.call_method1("asarray", (obj,))?,
    };
    let a = import(py, &host, to, None, device)?;
    Ok(Py::new(py, a)?.into_any())
}
