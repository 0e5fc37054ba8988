//! The `gpujit` Python module: gpujit arrays that speak DLPack and the CUDA Array Interface, and
//! gpujit kernels callable on any producer's arrays.

use crate::import::{to_py_err, GpujitError, PyArrayArg, LEGACY, VERSIONED};
use ::gpujit::codegen::ScalarType;
use ::gpujit::dlpack::{DLManagedTensor, DLManagedTensorVersioned};
use ::gpujit::prelude::*;
use ::gpujit::runtime::{Arg, Device, DeviceArray, DeviceId, Element, ExternalArray, KernelArg};
use num_complex::Complex;
use pyo3::exceptions::{PyAttributeError, PyBufferError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyCapsule, PyDict, PyTuple};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Arrays this module has allocated and not yet freed (exported ones included): lets the tests
/// prove that every DLPack deleter ran.
static LIVE: AtomicUsize = AtomicUsize::new(0);

/// A typed gpujit array behind one Python type.
#[derive(Clone)]
pub(crate) enum Data {
    Bool(Arc<DeviceArray<bool>>),
    F32(Arc<DeviceArray<f32>>),
    F64(Arc<DeviceArray<f64>>),
    I32(Arc<DeviceArray<i32>>),
    I64(Arc<DeviceArray<i64>>),
    C64(Arc<DeviceArray<Complex<f32>>>),
    C128(Arc<DeviceArray<Complex<f64>>>),
}

macro_rules! each {
    ($data:expr, $a:ident => $body:expr) => {
        match $data {
            Data::Bool($a) => $body,
            Data::F32($a) => $body,
            Data::F64($a) => $body,
            Data::I32($a) => $body,
            Data::I64($a) => $body,
            Data::C64($a) => $body,
            Data::C128($a) => $body,
        }
    };
}

/// A gpujit array: `numpy.from_dlpack`, `torch.from_dlpack` and `cupy.asarray` take it with no
/// copy, and the module's kernels take it like any other array.
#[pyclass(name = "Array", module = "gpujit", frozen)]
pub struct PyArray {
    pub(crate) data: Data,
    /// The shape Python sees: the data's own, or `[]` for a 0-d array (stored as one element).
    pub(crate) shape: Vec<usize>,
}

impl Drop for PyArray {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Rides along with an exported tensor: counted in [`LIVE`] until the deleter drops it.
struct Counted(());

impl Drop for Counted {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, Ordering::SeqCst);
    }
}

impl PyArray {
    /// `data` seen as `shape`, which holds as many elements (`[]` for one element).
    pub(crate) fn with_shape(data: Data, shape: Vec<usize>) -> PyArray {
        LIVE.fetch_add(1, Ordering::SeqCst);
        PyArray { data, shape }
    }

    pub(crate) fn shape_vec(&self) -> Vec<usize> {
        self.shape.clone()
    }

    pub(crate) fn device_id(&self) -> DeviceId {
        each!(&self.data, a => a.device().id())
    }

    /// The array as a kernel argument (written when `mutable`): a 0-d array is one element.
    fn external(&self, mutable: bool) -> PyResult<ExternalArray<'_>> {
        let shape = if self.shape.is_empty() { vec![1] } else { self.shape.clone() };
        let strides = ::gpujit::runtime::Layout::contiguous(&shape).strides;
        self.data.view(&shape, &strides, mutable)
    }
}

fn a_type<T: Element>(_: &DeviceArray<T>) -> ScalarType {
    T::TYPE
}

fn device_of(spec: Option<&str>) -> PyResult<Device> {
    Device::from_spec(spec).map_err(to_py_err)
}

#[pymethods]
impl PyArray {
    #[getter]
    fn shape(&self) -> Vec<usize> {
        self.shape_vec()
    }

    /// The element type as a `numpy.dtype` (its name, `float32`, ..., where NumPy is missing);
    /// it compares equal to the name.
    #[getter]
    fn dtype(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let name = dtype_name(self.data.scalar_type());
        match py.import("numpy") {
            Ok(np) => Ok(np.getattr("dtype")?.call1((name,))?.unbind()),
            Err(_) => Ok(pyo3::types::PyString::new(py, name).into_any().unbind()),
        }
    }

    /// The number of axes.
    #[getter]
    fn ndim(&self) -> usize {
        self.shape.len()
    }

    /// The number of elements.
    #[getter]
    fn size(&self) -> usize {
        self.shape.iter().product()
    }

    /// The bytes of the elements.
    #[getter]
    fn nbytes(&self) -> usize {
        self.size() * self.data.scalar_type().size_bytes()
    }

    /// The extent of the first axis (a 0-d array has none).
    fn __len__(&self) -> PyResult<usize> {
        self.shape.first().copied().ok_or_else(|| pyo3::exceptions::PyTypeError::new_err("len() of a 0-d gpujit.Array"))
    }

    /// A new array of `dtype` holding these elements converted (NumPy's `astype`; a copy even
    /// when the dtype is the same, unless `copy=False`).
    #[pyo3(signature = (dtype, copy = true))]
    fn astype(slf: &Bound<'_, Self>, dtype: &Bound<'_, PyAny>, copy: bool) -> PyResult<Py<PyAny>> {
        crate::asarray::asarray(slf.py(), slf.as_any(), Some(dtype), None, if copy { Some(true) } else { None })
    }

    /// The same elements (the same memory, no copy) seen with another shape, as NumPy's
    /// `reshape` of a C-contiguous array: `a.reshape(2, 3)`, `a.reshape((2, -1))`.
    #[pyo3(signature = (*shape))]
    fn reshape(&self, shape: &Bound<'_, PyTuple>) -> PyResult<PyArray> {
        let dims: Vec<i64> = match shape.len() {
            1 if !shape.get_item(0)?.is_instance_of::<pyo3::types::PyInt>() => shape.get_item(0)?.extract()?,
            _ => shape.extract()?,
        };
        let size = self.size();
        let unknown = dims.iter().filter(|&&d| d == -1).count();
        if unknown > 1 || dims.iter().any(|&d| d < -1) {
            return Err(PyValueError::new_err(format!("reshape: {dims:?} is not a shape (one -1 at most, no other negative)")));
        }
        let known: usize = dims.iter().filter(|&&d| d >= 0).map(|&d| d as usize).product();
        let out: Vec<usize> = dims.iter().map(|&d| if d == -1 { size.checked_div(known).unwrap_or(0) } else { d as usize }).collect();
        if out.iter().product::<usize>() != size {
            return Err(PyValueError::new_err(format!("cannot reshape an array of size {size} into shape {dims:?}")));
        }
        Ok(PyArray::with_shape(self.data.clone(), out))
    }

    /// A copy on the same device.
    fn copy(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        crate::asarray::asarray(slf.py(), slf.as_any(), None, None, Some(true))
    }

    /// The elements copied into a new NumPy array (from any device).
    fn to_numpy(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let bytes = self.data.host_bytes()?;
        let np = py.import("numpy")?;
        let flat = np.call_method1("frombuffer", (pyo3::types::PyBytes::new(py, &bytes), dtype_name(self.data.scalar_type())))?;
        Ok(flat.call_method1("reshape", (self.shape_vec(),))?.call_method0("copy")?.unbind())
    }

    /// NumPy's `np.asarray(a)` / `np.array(a)`: a host copy, as `to_numpy`.
    #[pyo3(signature = (dtype = None, copy = None))]
    fn __array__(&self, py: Python<'_>, dtype: Option<&Bound<'_, PyAny>>, copy: Option<bool>) -> PyResult<Py<PyAny>> {
        if copy == Some(false) {
            return Err(PyValueError::new_err("a gpujit.Array becomes a NumPy array only by a copy (copy=False)"));
        }
        let a = self.to_numpy(py)?;
        match dtype.filter(|d| !d.is_none()) {
            Some(d) => Ok(a.bind(py).call_method1("astype", (d,))?.unbind()),
            None => Ok(a),
        }
    }

    /// `cpu` or `cuda:N`.
    #[getter]
    fn device(&self) -> String {
        match self.device_id() {
            DeviceId::Cpu => "cpu".into(),
            DeviceId::Cuda(n) => format!("cuda:{n}"),
        }
    }

    /// `gpujit.Array([1., 2., 3.], dtype=float32, device='cpu')`: the values as NumPy prints
    /// them (summarized when large), read back from the device.
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let values = match self.to_numpy(py) {
            Ok(a) => {
                let np = py.import("numpy")?;
                let kw = pyo3::types::PyDict::new(py);
                kw.set_item("separator", ", ")?;
                kw.set_item("prefix", "gpujit.Array(")?;
                np.call_method("array2string", (a,), Some(&kw))?.extract::<String>()?
            }
            Err(_) => format!("<{} elements>", self.size()),
        };
        Ok(format!("gpujit.Array({values}, dtype={}, device='{}')", dtype_name(self.data.scalar_type()), self.device()))
    }

    /// NumPy's ufunc protocol (NEP 13): see the `ufunc` module.
    #[pyo3(signature = (ufunc, method, *inputs, **kwargs))]
    fn __array_ufunc__(
        &self,
        py: Python<'_>,
        ufunc: &Bound<'_, PyAny>,
        method: &str,
        inputs: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        let name: String = ufunc.getattr("__name__")?.extract()?;
        crate::ufunc::array_ufunc(py, &name, method, inputs, kwargs)
    }

    /// `np.add.reduce` over `axis` (None: all axes), as NumPy's `sum`.
    #[pyo3(signature = (axis = None, keepdims = false, **kwargs))]
    fn sum(
        slf: &Bound<'_, Self>,
        axis: Option<&Bound<'_, PyAny>>,
        keepdims: bool,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        reduction(slf, "add", axis, keepdims, kwargs)
    }

    /// `np.multiply.reduce` over `axis` (None: all axes), as NumPy's `prod`.
    #[pyo3(signature = (axis = None, keepdims = false, **kwargs))]
    fn prod(
        slf: &Bound<'_, Self>,
        axis: Option<&Bound<'_, PyAny>>,
        keepdims: bool,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        reduction(slf, "multiply", axis, keepdims, kwargs)
    }

    /// The mean over `axis` (None: all axes), as NumPy's: summed in `dtype` (default float64
    /// for booleans and integers, else the array's dtype), then divided by the count. Of zero
    /// elements it is NaN.
    #[pyo3(signature = (axis = None, dtype = None, out = None, keepdims = false, **kwargs))]
    fn mean(
        slf: &Bound<'_, Self>,
        axis: Option<&Bound<'_, PyAny>>,
        dtype: Option<&Bound<'_, PyAny>>,
        out: Option<&Bound<'_, PyAny>>,
        keepdims: bool,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        if out.is_some_and(|o| !o.is_none()) {
            return Err(GpujitError::new_err("mean: the keyword `out` is not supported on gpujit arrays"));
        }
        if let Some(k) = kwargs {
            for (key, v) in k.iter() {
                if !v.is_none() {
                    return Err(GpujitError::new_err(format!("mean: the keyword `{key}` is not supported on gpujit arrays")));
                }
            }
        }
        let me = slf.get();
        let own = me.data.scalar_type();
        let acc = match dtype.filter(|d| !d.is_none()) {
            Some(d) => crate::ufunc::dtype_of(py, d, "mean")?,
            None if own.is_float() || own.is_complex() => own,
            None => ScalarType::F64,
        };
        if acc == ScalarType::Bool {
            return Err(GpujitError::new_err("mean: dtype=bool is not supported on gpujit arrays"));
        }
        let more = PyDict::new(py);
        more.set_item("dtype", dtype_name(acc))?;
        let total = reduction(slf, "add", axis, keepdims, Some(&more))?;
        let total = total.bind(py);
        let n_in: usize = me.shape.iter().product();
        let out_shape: Vec<usize> = total.getattr("shape")?.extract()?;
        let n_out: usize = out_shape.iter().product();
        let count = n_in.checked_div(n_out).unwrap_or(1);
        let quotient = crate::ufunc::array_ufunc(
            py,
            "divide",
            "__call__",
            &PyTuple::new(py, [total.clone(), (count as f64).into_pyobject(py)?.into_any()])?,
            None,
        )?;
        if acc.is_float() || acc.is_complex() {
            return Ok(quotient);
        }
        // An integer dtype: the quotient (float64) converted back, as NumPy's unsafe cast does.
        let q = quotient.bind(py).downcast::<PyArray>()?.get();
        let data = crate::ufunc::cast(py, &q.data, &q.shape, acc, q.data.device())?;
        Ok(Py::new(py, PyArray::with_shape(data, q.shape.clone()))?.into_any())
    }

    /// `np.maximum.reduce` over `axis` (None: all axes).
    #[pyo3(signature = (axis = None, keepdims = false, **kwargs))]
    fn max(
        slf: &Bound<'_, Self>,
        axis: Option<&Bound<'_, PyAny>>,
        keepdims: bool,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        reduction(slf, "maximum", axis, keepdims, kwargs)
    }

    /// `np.minimum.reduce` over `axis` (None: all axes).
    #[pyo3(signature = (axis = None, keepdims = false, **kwargs))]
    fn min(
        slf: &Bound<'_, Self>,
        axis: Option<&Bound<'_, PyAny>>,
        keepdims: bool,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        reduction(slf, "minimum", axis, keepdims, kwargs)
    }

    fn __add__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        binary(slf.py(), "add", slf.as_any(), o)
    }
    fn __radd__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        binary(slf.py(), "add", o, slf.as_any())
    }
    fn __sub__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        binary(slf.py(), "subtract", slf.as_any(), o)
    }
    fn __rsub__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        binary(slf.py(), "subtract", o, slf.as_any())
    }
    fn __mul__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        binary(slf.py(), "multiply", slf.as_any(), o)
    }
    fn __rmul__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        binary(slf.py(), "multiply", o, slf.as_any())
    }
    fn __truediv__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        binary(slf.py(), "divide", slf.as_any(), o)
    }
    fn __rtruediv__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        binary(slf.py(), "divide", o, slf.as_any())
    }
    fn __neg__(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        crate::ufunc::array_ufunc(slf.py(), "negative", "__call__", &PyTuple::new(slf.py(), [slf.as_any()])?, None)
    }
    fn __abs__(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        crate::ufunc::array_ufunc(slf.py(), "absolute", "__call__", &PyTuple::new(slf.py(), [slf.as_any()])?, None)
    }
    fn __richcmp__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>, op: pyo3::basic::CompareOp) -> PyResult<Py<PyAny>> {
        use pyo3::basic::CompareOp::*;
        let name = match op {
            Lt => "less",
            Le => "less_equal",
            Eq => "equal",
            Ne => "not_equal",
            Gt => "greater",
            Ge => "greater_equal",
        };
        binary(slf.py(), name, slf.as_any(), o)
    }

    /// `(device_type, device_id)` as DLPack numbers them (1 CPU, 2 CUDA).
    fn __dlpack_device__(&self) -> (i32, i32) {
        match self.device_id() {
            DeviceId::Cpu => (1, 0),
            DeviceId::Cuda(n) => (2, n as i32),
        }
    }

    /// The DLPack protocol: a capsule sharing this array's memory. `max_version` of 1.x gives a
    /// versioned `dltensor_versioned` capsule, its absence a legacy `dltensor` one. The
    /// consumer's `stream` is made to wait for gpujit's work on the array with an event, without
    /// blocking the host: `None` and 1 (the legacy default stream, where gpujit's work goes) need
    /// nothing, -1 asks for no ordering, 2 is the per-thread default stream, larger values a
    /// `CUstream`; 0 is refused, as DLPack says.
    #[pyo3(signature = (*, stream = None, max_version = None, dl_device = None, copy = None))]
    fn __dlpack__<'py>(
        &self,
        py: Python<'py>,
        stream: Option<i64>,
        max_version: Option<(u32, u32)>,
        dl_device: Option<(i32, i32)>,
        copy: Option<bool>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        if let Some(d) = dl_device {
            if d != self.__dlpack_device__() {
                return Err(PyBufferError::new_err(format!(
                    "the array is on {}; gpujit does not copy across devices in __dlpack__",
                    self.device()
                )));
            }
        }
        if copy == Some(true) {
            return Err(PyBufferError::new_err("gpujit arrays are exported without copies (copy=True is not supported)"));
        }
        match stream {
            None | Some(-1) => {}
            Some(s) if s < -1 => return Err(PyValueError::new_err(format!("__dlpack__: stream {s} is not a stream"))),
            Some(s) => each!(&self.data, a => a.device().order_stream_after(s as u64)).map_err(to_py_err)?,
        }
        let versioned = matches!(max_version, Some((major, _)) if major >= 1);
        let ptr = each!(&self.data, a => share(a, &self.shape, versioned)).map_err(to_py_err)?;
        let name = if versioned { VERSIONED } else { LEGACY };
        let destructor = if versioned { destroy_versioned as pyo3::ffi::PyCapsule_Destructor } else { destroy_legacy };
        // SAFETY: `ptr` is a managed tensor we own; the capsule takes it, and its destructor frees
        // it only if no consumer renamed the capsule (took ownership). PyCapsule_New returns a new
        // reference or NULL with an exception set.
        unsafe {
            let cap = pyo3::ffi::PyCapsule_New(ptr, name.as_ptr(), Some(destructor));
            if cap.is_null() {
                destroy_unclaimed(ptr, versioned);
                return Err(PyErr::fetch(py));
            }
            Ok(Bound::from_owned_ptr(py, cap).downcast_into_unchecked())
        }
    }

    /// The CUDA Array Interface (version 3), for arrays on a CUDA device.
    #[getter]
    fn __cuda_array_interface__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, pyo3::types::PyDict>> {
        if self.device_id() == DeviceId::Cpu {
            return Err(PyAttributeError::new_err("a gpujit array on the CPU has no __cuda_array_interface__ (use __dlpack__)"));
        }
        let i = each!(&self.data, a => a.cuda_array_interface()).map_err(to_py_err)?;
        let d = pyo3::types::PyDict::new(py);
        d.set_item("shape", pyo3::types::PyTuple::new(py, &i.shape)?)?;
        d.set_item("typestr", &i.typestr)?;
        d.set_item("data", (i.data.0, i.data.1))?;
        d.set_item("strides", py.None())?;
        d.set_item("version", i.version)?;
        d.set_item("stream", i.stream)?;
        Ok(d)
    }
}

/// A managed tensor sharing `a`, counted in [`LIVE`] until its deleter runs.
fn share<T: ::gpujit::runtime::array::InteropElement>(
    a: &Arc<DeviceArray<T>>,
    shape: &[usize],
    versioned: bool,
) -> ::gpujit::runtime::Result<*mut std::ffi::c_void> {
    LIVE.fetch_add(1, Ordering::SeqCst);
    let counted = Counted(());
    Ok(if versioned {
        DeviceArray::share_dlpack(a, shape, counted, false)? as *mut std::ffi::c_void
    } else {
        DeviceArray::share_dlpack_legacy(a, shape, counted)? as *mut std::ffi::c_void
    })
}

/// Frees a tensor no consumer claimed.
///
/// # Safety
/// `ptr` must be a managed tensor made by [`share`] (versioned as said) whose deleter has not run.
unsafe fn destroy_unclaimed(ptr: *mut std::ffi::c_void, versioned: bool) {
    // SAFETY: forwarded from the caller.
    unsafe {
        if versioned {
            let p = ptr as *mut DLManagedTensorVersioned;
            if let Some(d) = (*p).deleter {
                d(p)
            }
        } else {
            let p = ptr as *mut DLManagedTensor;
            if let Some(d) = (*p).deleter {
                d(p)
            }
        }
    }
}

unsafe extern "C" fn destroy_versioned(cap: *mut pyo3::ffi::PyObject) {
    // SAFETY: called by Python with the capsule being destroyed; a capsule still named
    // `dltensor_versioned` was never consumed, so its tensor is still ours to free.
    unsafe {
        if pyo3::ffi::PyCapsule_IsValid(cap, VERSIONED.as_ptr()) == 1 {
            let p = pyo3::ffi::PyCapsule_GetPointer(cap, VERSIONED.as_ptr());
            destroy_unclaimed(p, true);
        }
    }
}

unsafe extern "C" fn destroy_legacy(cap: *mut pyo3::ffi::PyObject) {
    // SAFETY: as for `destroy_versioned`.
    unsafe {
        if pyo3::ffi::PyCapsule_IsValid(cap, LEGACY.as_ptr()) == 1 {
            let p = pyo3::ffi::PyCapsule_GetPointer(cap, LEGACY.as_ptr());
            destroy_unclaimed(p, false);
        }
    }
}

/// A kernel's array argument from Python: one of our arrays, or any producer's.
enum ArgSource<'py> {
    Ours(Bound<'py, PyArray>),
    Theirs(PyArrayArg),
}

impl<'py> ArgSource<'py> {
    fn extract(obj: &Bound<'py, PyAny>) -> PyResult<ArgSource<'py>> {
        match obj.downcast::<PyArray>() {
            Ok(a) => Ok(ArgSource::Ours(a.clone())),
            Err(_) => Ok(ArgSource::Theirs(PyArrayArg::extract(obj)?)),
        }
    }

    fn external(&self, mutable: bool) -> PyResult<ExternalArray<'_>> {
        match self {
            ArgSource::Ours(a) => a.get().external(mutable),
            ArgSource::Theirs(t) => t.array().map_err(to_py_err),
        }
    }
}

/// A Python number as a kernel scalar of the type `like`'s elements have.
fn scalar_like(value: &Bound<'_, PyAny>, like: ScalarType) -> PyResult<Arg<'static>> {
    let bits = match like {
        ScalarType::F32 => (value.extract::<f64>()? as f32).to_bits() as u64,
        ScalarType::F64 => value.extract::<f64>()?.to_bits(),
        ScalarType::I32 => value.extract::<i32>()? as u32 as u64,
        ScalarType::I64 => value.extract::<i64>()? as u64,
        other => return Err(PyValueError::new_err(format!("no Python scalar of type {other}"))),
    };
    Ok(Arg::Scalar { ty: like, bits: bits as u128 })
}

#[gpu_kernel]
fn axpy_kernel<T: Float>(a: T, x: &[T], y: &mut [T]) {
    let i = grid(1);
    if i < x.len() && i < y.len() {
        y[i] += a * x[i];
    }
}

#[gpu_kernel]
fn add_kernel<T: Number>(x: &Array<T, 2>, y: &Array<T, 2>, out: &mut Array<T, 2>) {
    let (j, i) = grid(2);
    if i < out.shape(0) && j < out.shape(1) {
        out[[i, j]] = x[[i, j]] + y[[i, j]];
    }
}

fn check_same_shape(kernel: &str, what: &str, a: &[usize], b: &[usize]) -> PyResult<()> {
    if a != b {
        return Err(GpujitError::new_err(format!("kernel `{kernel}`: `{what}` has shape {b:?} but the output has shape {a:?}")));
    }
    Ok(())
}

/// `y += a * x` on 1-D float arrays of one dtype, from any producer, on their device.
#[pyfunction]
fn axpy(py: Python<'_>, a: &Bound<'_, PyAny>, x: &Bound<'_, PyAny>, y: &Bound<'_, PyAny>) -> PyResult<()> {
    let (xs, ys) = (ArgSource::extract(x)?, ArgSource::extract(y)?);
    let (xa, mut ya) = (xs.external(false)?, ys.external(true)?);
    check_same_shape("axpy_kernel", "x", ya.shape(), xa.shape())?;
    let a = scalar_like(a, xa.dtype())?;
    let n = ya.shape()[0];
    let args = [a, (&xa).into_arg(), (&mut ya).into_arg()];
    py.detach(|| axpy_kernel.launch(LaunchConfig::for_elements(n, 256), &args[..])).map_err(to_py_err)
}

/// `out = x + y` on 2-D arrays of one dtype with any strides, from any producer.
#[pyfunction]
fn add(py: Python<'_>, x: &Bound<'_, PyAny>, y: &Bound<'_, PyAny>, out: &Bound<'_, PyAny>) -> PyResult<()> {
    let (xs, ys, os) = (ArgSource::extract(x)?, ArgSource::extract(y)?, ArgSource::extract(out)?);
    let (xa, ya, mut oa) = (xs.external(false)?, ys.external(false)?, os.external(true)?);
    check_same_shape("add_kernel", "x", oa.shape(), xa.shape())?;
    check_same_shape("add_kernel", "y", oa.shape(), ya.shape())?;
    let (rows, cols) = match oa.shape() {
        [r, c] => (*r as u32, *c as u32),
        s => return Err(GpujitError::new_err(format!("kernel `add_kernel`: `out` has {} dimensions; add takes 2-D arrays", s.len()))),
    };
    let config = LaunchConfig::new((cols.div_ceil(16).max(1), rows.div_ceil(16).max(1)), (16u32, 16u32));
    let args = [(&xa).into_arg(), (&ya).into_arg(), (&mut oa).into_arg()];
    py.detach(|| add_kernel.launch(config, &args[..])).map_err(to_py_err)
}

/// A new array of `shape` filled with `value`, of dtype `float32`, `float64`, `int32` or `int64`,
/// on `device` (`cpu`, `cuda`, `cuda:N`; default: `GPUJIT_DEVICE`, else the GPU if there is one).
#[pyfunction]
#[pyo3(signature = (shape, value, dtype = "float32", device = None))]
fn full(shape: Vec<usize>, value: &Bound<'_, PyAny>, dtype: &str, device: Option<&str>) -> PyResult<PyArray> {
    Ok(PyArray::with_shape(filled(&shape, value, dtype, &device_of(device)?)?, shape))
}

/// A new array of `shape` filled with `value`, converted to `dtype`.
pub(crate) fn filled(shape: &[usize], value: &Bound<'_, PyAny>, dtype: &str, device: &Device) -> PyResult<Data> {
    let n: usize = shape.iter().product();
    macro_rules! make {
        ($t:ty, $v:expr) => {{
            let v: $t = $v;
            Arc::new(DeviceArray::<$t>::from_shape(device, physical(shape), &vec![v; n]).map_err(to_py_err)?)
        }};
    }
    let data = match dtype {
        "bool" => Data::Bool(make!(bool, value.is_truthy()?)),
        "float32" => Data::F32(make!(f32, value.extract::<f64>()? as f32)),
        "float64" => Data::F64(make!(f64, value.extract::<f64>()?)),
        "int32" => Data::I32(make!(i32, value.extract::<i32>()?)),
        "int64" => Data::I64(make!(i64, value.extract::<i64>()?)),
        "complex64" => {
            let z = value.extract::<Complex<f64>>()?;
            Data::C64(make!(Complex<f32>, Complex::new(z.re as f32, z.im as f32)))
        }
        "complex128" => Data::C128(make!(Complex<f64>, value.extract::<Complex<f64>>()?)),
        other => {
            return Err(PyValueError::new_err(format!(
                "dtype {other:?} is not one of bool, float32, float64, int32, int64, complex64, complex128"
            )))
        }
    };
    Ok(data)
}

/// `gpujit.random.uniform(shape, seed, dtype="float32", device=None)`: a new array uniform in
/// [0, 1), element `i` (in C order) draw `i` of the Philox4x32-10 stream `(seed, 0)`, the same
/// bits on every device (`gpujit::random::uniform`).
#[pyfunction]
#[pyo3(signature = (shape, seed = 0, dtype = "float32", device = None))]
fn uniform(py: Python<'_>, shape: Vec<usize>, seed: u64, dtype: &str, device: Option<&str>) -> PyResult<PyArray> {
    random_array(py, shape, seed, dtype, device, false)
}

/// `gpujit.random.normal(shape, seed, dtype="float32", device=None)`: standard normals, as
/// `uniform` (`gpujit::random::normal`). `normal((1, 2, 3, 4), seed)` is
/// `cupy.random.randn(1, 2, 3, 4).astype(cupy.float32)`'s counterpart.
#[pyfunction]
#[pyo3(signature = (shape, seed = 0, dtype = "float32", device = None))]
fn normal(py: Python<'_>, shape: Vec<usize>, seed: u64, dtype: &str, device: Option<&str>) -> PyResult<PyArray> {
    random_array(py, shape, seed, dtype, device, true)
}

fn random_array(py: Python<'_>, shape: Vec<usize>, seed: u64, dtype: &str, device: Option<&str>, normal: bool) -> PyResult<PyArray> {
    let dev = device_of(device)?;
    let dims = physical(&shape).to_vec();
    let data = py.detach(|| -> PyResult<Data> {
        Ok(match (dtype, normal) {
            ("float32", false) => Data::F32(Arc::new(gpujit::random::uniform(&dev, &dims, seed).map_err(to_py_err)?)),
            ("float32", true) => Data::F32(Arc::new(gpujit::random::normal(&dev, &dims, seed).map_err(to_py_err)?)),
            ("float64", false) => Data::F64(Arc::new(gpujit::random::uniform_f64(&dev, &dims, seed).map_err(to_py_err)?)),
            ("float64", true) => Data::F64(Arc::new(gpujit::random::normal_f64(&dev, &dims, seed).map_err(to_py_err)?)),
            (other, _) => return Err(PyValueError::new_err(format!("dtype {other:?} is not float32 or float64"))),
        })
    })?;
    Ok(PyArray::with_shape(data, shape))
}

/// Arrays (and exported tensors) this module made that are still alive.
#[pyfunction]
fn _live_arrays() -> usize {
    LIVE.load(Ordering::SeqCst)
}

/// gpujit for Python: arrays that NumPy, PyTorch and CuPy take through DLPack and the CUDA Array
/// Interface, and gpujit kernels that take theirs.
#[pymodule(name = "gpujit")]
fn gpujit_module(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyArray>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("GpujitError", m.py().get_type::<GpujitError>())?;
    m.add_function(wrap_pyfunction!(axpy, m)?)?;
    m.add_function(wrap_pyfunction!(add, m)?)?;
    m.add_function(wrap_pyfunction!(full, m)?)?;
    m.add_function(wrap_pyfunction!(crate::asarray::asarray, m)?)?;
    m.add_function(wrap_pyfunction!(crate::asarray::from_dlpack, m)?)?;
    m.add_function(wrap_pyfunction!(_live_arrays, m)?)?;
    let random = PyModule::new(m.py(), "random")?;
    random.add_function(wrap_pyfunction!(uniform, &random)?)?;
    random.add_function(wrap_pyfunction!(normal, &random)?)?;
    m.add_submodule(&random)?;
    // So that `import gpujit.random` and `from gpujit.random import uniform` find it too.
    m.py().import("sys")?.getattr("modules")?.set_item("gpujit.random", &random)?;
    Ok(())
}

impl Data {
    pub(crate) fn scalar_type(&self) -> ScalarType {
        each!(self, a => a_type(a))
    }

    pub(crate) fn device(&self) -> &Device {
        each!(self, a => a.device())
    }

    pub(crate) fn address(&self) -> u64 {
        each!(self, a => a.address())
    }

    /// The elements' bytes, read to the host (waiting for the work that writes them).
    pub(crate) fn host_bytes(&self) -> PyResult<Vec<u8>> {
        fn bytes<T: Element>(a: &DeviceArray<T>) -> PyResult<Vec<u8>> {
            let v = a.to_vec().map_err(to_py_err)?;
            let n = std::mem::size_of_val(v.as_slice());
            // SAFETY: every element type here is plain data without padding (bool is one byte
            // of 0 or 1), so its `n` bytes are initialized; they are copied out at once.
            Ok(unsafe { std::slice::from_raw_parts(v.as_ptr() as *const u8, n) }.to_vec())
        }
        each!(self, a => bytes(a))
    }

    /// A new zeroed contiguous array of `elem` and `shape` on `device`.
    pub(crate) fn zeros(elem: ScalarType, shape: &[usize], device: &Device) -> PyResult<Data> {
        macro_rules! z {
            ($v:ident, $t:ty) => {
                Data::$v(Arc::new(DeviceArray::<$t>::zeros_shape(device, physical(shape)).map_err(to_py_err)?))
            };
        }
        Ok(match elem {
            ScalarType::Bool => z!(Bool, bool),
            ScalarType::F32 => z!(F32, f32),
            ScalarType::F64 => z!(F64, f64),
            ScalarType::I32 => z!(I32, i32),
            ScalarType::I64 => z!(I64, i64),
            ScalarType::Complex32 => z!(C64, Complex<f32>),
            ScalarType::Complex64 => z!(C128, Complex<f64>),
            other => return Err(GpujitError::new_err(format!("gpujit.Array holds no {other} elements"))),
        })
    }

    /// This array seen through `shape` and element `strides` (a broadcast or permuted view).
    pub(crate) fn view(&self, shape: &[usize], strides: &[isize], writable: bool) -> PyResult<ExternalArray<'_>> {
        self.view_at(0, shape, strides, writable)
    }

    /// As [`Data::view`], from the element at `offset`.
    pub(crate) fn view_at(&self, offset: usize, shape: &[usize], strides: &[isize], writable: bool) -> PyResult<ExternalArray<'_>> {
        let address = self.address() + (offset * self.scalar_type().size_bytes()) as u64;
        // SAFETY: every view built here stays inside the array (offsets and strides are the
        // array's own, permuted, or 0 for broadcast axes), and the array outlives the result,
        // which borrows it. Launches release the GIL, so another Python thread writing the same
        // array meanwhile races with the kernel, as with NumPy's own GIL-free loops.
        unsafe { ExternalArray::from_raw_parts(self.device(), self.scalar_type(), address, shape, Some(strides), !writable) }
            .map_err(to_py_err)
    }
}

/// The stored shape of a Python-visible shape: a 0-d array is stored as one element.
pub(crate) fn physical(shape: &[usize]) -> &[usize] {
    if shape.is_empty() {
        &[1]
    } else {
        shape
    }
}

/// The NumPy name of a dtype gpujit arrays hold.
pub(crate) fn dtype_name(t: ScalarType) -> &'static str {
    match t {
        ScalarType::Bool => "bool",
        ScalarType::F32 => "float32",
        ScalarType::F64 => "float64",
        ScalarType::I32 => "int32",
        ScalarType::I64 => "int64",
        ScalarType::Complex32 => "complex64",
        ScalarType::Complex64 => "complex128",
        _ => "unsupported",
    }
}

fn binary(py: Python<'_>, name: &str, a: &Bound<'_, PyAny>, b: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
    crate::ufunc::array_ufunc(py, name, "__call__", &PyTuple::new(py, [a, b])?, None)
}

/// `ufunc.reduce` for the `sum`/`max`/`min` methods; other keywords (`out`, `dtype`, ...) must be
/// None, as `np.sum(a)` passes them.
fn reduction(
    slf: &Bound<'_, PyArray>,
    name: &str,
    axis: Option<&Bound<'_, PyAny>>,
    keepdims: bool,
    more: Option<&Bound<'_, PyDict>>,
) -> PyResult<Py<PyAny>> {
    let py = slf.py();
    let kwargs = match more {
        Some(m) => m.copy()?,
        None => PyDict::new(py),
    };
    kwargs.set_item("axis", axis)?;
    kwargs.set_item("keepdims", keepdims)?;
    crate::ufunc::array_ufunc(py, name, "reduce", &PyTuple::new(py, [slf.as_any()])?, Some(&kwargs))
}
