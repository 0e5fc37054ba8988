//! Kernel arguments from Python objects: anything with `__dlpack__` (NumPy, PyTorch, CuPy, JAX)
//! or `__cuda_array_interface__` (CuPy, Numba, PyTorch), borrowed with no copy.
//!
//! A PyO3 extension that ships gpujit kernels takes its array parameters as `&Bound<PyAny>`, turns
//! each into a [`PyArrayArg`] and launches on [`PyArrayArg::array`]:
//!
//! ```ignore
//! #[pyfunction]
//! fn scale(k: f32, x: &Bound<'_, PyAny>) -> PyResult<()> {
//!     let x = PyArrayArg::extract(x)?;
//!     let mut xa = x.array().map_err(to_py_err)?;
//!     my_kernel.launch(LaunchConfig::for_elements(xa.shape()[0], 256), (k, &mut xa)).map_err(to_py_err)
//! }
//! ```
//!
//! DLPack is preferred when both protocols are offered: it carries ownership (the producer's
//! deleter runs exactly once, when the `PyArrayArg` drops) and works for host arrays too. A CUDA
//! Array Interface import keeps a reference to the producer's object for as long as it is used,
//! and launches wait for the producer's stream through an event.

use gpujit::codegen::ScalarType;
use gpujit::dlpack::{DLManagedTensor, DLManagedTensorVersioned, DlpackTensor};
use gpujit::runtime::{Error, ExternalArray};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};
use std::ffi::CStr;

pub(crate) const VERSIONED: &CStr = c"dltensor_versioned";
pub(crate) const LEGACY: &CStr = c"dltensor";
const USED_VERSIONED: &CStr = c"used_dltensor_versioned";
const USED_LEGACY: &CStr = c"used_dltensor";

pyo3::create_exception!(
    gpujit,
    GpujitError,
    pyo3::exceptions::PyValueError,
    "An error gpujit reports: a bad argument, a failed compilation or launch."
);

/// A gpujit error as a Python `gpujit.GpujitError` (a `ValueError`), with gpujit's message (which
/// names the kernel and the argument).
pub fn to_py_err(e: Error) -> PyErr {
    GpujitError::new_err(e.to_string())
}

enum Source {
    Dlpack(DlpackTensor),
    Cai {
        _owner: Py<PyAny>,
        iface: gpujit::cai::CudaArrayInterface,
    },
    /// A PyTorch CUDA tensor read through its own methods (see [`torch_tensor`]).
    Torch {
        _owner: Py<PyAny>,
        device: u32,
        elem: ScalarType,
        ptr: u64,
        shape: Vec<usize>,
        strides: Vec<isize>,
        /// PyTorch's current stream of the device when the tensor was taken (0: the default stream).
        stream: u64,
    },
}

/// What the fast path for PyTorch tensors needs of `torch`, looked up once torch is imported
/// (gpujit never imports it).
struct Torch {
    tensor: Py<PyType>,
    strided: Py<PyAny>,
    dtypes: Vec<(Py<PyAny>, ScalarType)>,
    /// `torch._C._cuda_getCurrentRawStream(index)`, or `None` (then `torch.cuda.current_stream`).
    raw_stream: Option<Py<PyAny>>,
    current_stream: Py<PyAny>,
}

static TORCH: PyOnceLock<Torch> = PyOnceLock::new();

fn torch(py: Python<'_>) -> Option<&'static Torch> {
    if let Some(t) = TORCH.get(py) {
        return Some(t);
    }
    // Only a torch the program imported: a dictionary lookup when it did not.
    let modules = py.import("sys").ok()?.getattr("modules").ok()?;
    let torch = modules.get_item("torch").ok()?;
    let make = || -> PyResult<Torch> {
        use ScalarType as S;
        let mut dtypes = Vec::new();
        for (name, t) in [
            ("float32", S::F32),
            ("float64", S::F64),
            ("float16", S::F16),
            ("bfloat16", S::BF16),
            ("int8", S::I8),
            ("int16", S::I16),
            ("int32", S::I32),
            ("int64", S::I64),
            ("uint8", S::U8),
            ("uint16", S::U16),
            ("uint32", S::U32),
            ("uint64", S::U64),
            ("bool", S::Bool),
            ("complex64", S::Complex32),
            ("complex128", S::Complex64),
        ] {
            if let Ok(d) = torch.getattr(name) {
                dtypes.push((d.unbind(), t));
            }
        }
        let raw_stream = torch.getattr("_C").and_then(|c| c.getattr("_cuda_getCurrentRawStream")).ok().map(Bound::unbind);
        Ok(Torch {
            tensor: torch.getattr("Tensor")?.downcast_into::<PyType>()?.unbind(),
            strided: torch.getattr("strided")?.unbind(),
            dtypes,
            raw_stream,
            current_stream: torch.getattr("cuda")?.getattr("current_stream")?.unbind(),
        })
    };
    let t = make().ok()?;
    Some(TORCH.get_or_init(py, || t))
}

/// A PyTorch CUDA tensor, read through its C-level methods (`data_ptr`, `stride`, ...) rather
/// than `__dlpack__`, which PyTorch implements in Python at several microseconds a call: the
/// launch of an exported kernel then costs about what CuPy's does. `None` for anything else,
/// and for the tensors only DLPack describes faithfully (conjugated or negated views, other
/// layouts, 0-d) or refuses (those that require gradients), which take the general path.
fn torch_tensor(obj: &Bound<'_, PyAny>) -> PyResult<Option<PyArrayArg>> {
    let py = obj.py();
    let Some(t) = torch(py) else { return Ok(None) };
    if !obj.is_instance(t.tensor.bind(py))? || !obj.getattr(intern!(py, "is_cuda"))?.is_truthy()? {
        return Ok(None);
    }
    // Tensors that require gradients go to `__dlpack__` too, which refuses them (as PyTorch
    // refuses to let other libraries write what autograd tracks).
    if !obj.getattr(intern!(py, "layout"))?.is(t.strided.bind(py))
        || obj.getattr(intern!(py, "requires_grad"))?.is_truthy()?
        || obj.call_method0(intern!(py, "is_conj"))?.is_truthy()?
        || obj.call_method0(intern!(py, "is_neg"))?.is_truthy()?
    {
        return Ok(None);
    }
    let dtype = obj.getattr(intern!(py, "dtype"))?;
    let Some(elem) = t.dtypes.iter().find(|(d, _)| d.bind(py).is(&dtype)).map(|(_, e)| *e) else { return Ok(None) };
    let shape: Vec<usize> = obj.getattr(intern!(py, "shape"))?.extract()?;
    if shape.is_empty() {
        return Ok(None);
    }
    let strides: Vec<isize> = obj.call_method0(intern!(py, "stride"))?.extract()?;
    let ptr: u64 = obj.call_method0(intern!(py, "data_ptr"))?.extract()?;
    let device: i64 = obj.call_method0(intern!(py, "get_device"))?.extract()?;
    let Ok(device) = u32::try_from(device) else { return Ok(None) };
    let stream: u64 = match &t.raw_stream {
        Some(f) => f.bind(py).call1((device,))?.extract()?,
        None => t.current_stream.bind(py).call1((device,))?.getattr(intern!(py, "cuda_stream"))?.extract()?,
    };
    Ok(Some(PyArrayArg { source: Source::Torch { _owner: obj.clone().unbind(), device, elem, ptr, shape, strides, stream } }))
}

/// An array borrowed from a Python object, to pass to kernels with [`PyArrayArg::array`].
pub struct PyArrayArg {
    source: Source,
}

impl PyArrayArg {
    /// Takes `obj`'s array through `__dlpack__` (asking for DLPack 1.x, falling back to the legacy
    /// protocol) or, failing that, `__cuda_array_interface__`.
    pub fn extract(obj: &Bound<'_, PyAny>) -> PyResult<PyArrayArg> {
        if let Some(a) = torch_tensor(obj)? {
            return Ok(a);
        }
        if obj.hasattr("__dlpack__")? {
            return Self::from_dlpack(obj);
        }
        if obj.hasattr("__cuda_array_interface__")? {
            return Self::from_cai(obj);
        }
        Err(PyTypeError::new_err(format!(
            "expected an array with __dlpack__ or __cuda_array_interface__, found {}",
            obj.get_type().name()?
        )))
    }

    fn from_dlpack(obj: &Bound<'_, PyAny>) -> PyResult<PyArrayArg> {
        let py = obj.py();
        let kwargs = PyDict::new(py);
        kwargs.set_item("max_version", (1, 1))?;
        // Our launches go to the legacy default stream (1): a CUDA producer orders its pending
        // work before it (an event, no host block). Host producers take no stream.
        if obj.hasattr("__dlpack_device__")? {
            let (device_type, _): (i32, i32) = obj.call_method0("__dlpack_device__")?.extract()?;
            if device_type == gpujit::dlpack::device_type::CUDA || device_type == gpujit::dlpack::device_type::CUDA_MANAGED {
                kwargs.set_item("stream", 1)?;
            }
        }
        let capsule = match obj.call_method("__dlpack__", (), Some(&kwargs)) {
            Ok(c) => c,
            // A producer that predates DLPack 1.0 does not know `max_version`.
            Err(e) if e.is_instance_of::<PyTypeError>(py) => obj.call_method0("__dlpack__")?,
            Err(e) => return Err(e),
        };
        let cap = capsule.as_ptr();
        // SAFETY: `cap` is a live object (`capsule` holds a reference). A capsule named
        // `dltensor[_versioned]` holds a tensor its consumer owns (the DLPack protocol); renaming it
        // to `used_...` tells the capsule's destructor that ownership moved to us, so the deleter
        // runs exactly once, from `DlpackTensor`'s Drop.
        unsafe {
            if pyo3::ffi::PyCapsule_IsValid(cap, VERSIONED.as_ptr()) == 1 {
                let p = pyo3::ffi::PyCapsule_GetPointer(cap, VERSIONED.as_ptr()) as *mut DLManagedTensorVersioned;
                if pyo3::ffi::PyCapsule_SetName(cap, USED_VERSIONED.as_ptr()) != 0 {
                    return Err(PyErr::fetch(py));
                }
                let t = DlpackTensor::from_versioned(p).map_err(to_py_err)?;
                return Ok(PyArrayArg { source: Source::Dlpack(t) });
            }
            if pyo3::ffi::PyCapsule_IsValid(cap, LEGACY.as_ptr()) == 1 {
                let p = pyo3::ffi::PyCapsule_GetPointer(cap, LEGACY.as_ptr()) as *mut DLManagedTensor;
                if pyo3::ffi::PyCapsule_SetName(cap, USED_LEGACY.as_ptr()) != 0 {
                    return Err(PyErr::fetch(py));
                }
                let t = DlpackTensor::from_legacy(p).map_err(to_py_err)?;
                return Ok(PyArrayArg { source: Source::Dlpack(t) });
            }
        }
        Err(PyValueError::new_err("__dlpack__ returned something other than an unused `dltensor` or `dltensor_versioned` capsule"))
    }

    fn from_cai(obj: &Bound<'_, PyAny>) -> PyResult<PyArrayArg> {
        let d = obj.getattr("__cuda_array_interface__")?;
        let d = d.downcast::<PyDict>()?;
        let iface = cai_from_dict(d)?;
        Ok(PyArrayArg { source: Source::Cai { _owner: obj.clone().unbind(), iface } })
    }

    /// The array as a kernel argument (read-only when the producer says so).
    pub fn array(&self) -> gpujit::runtime::Result<ExternalArray<'_>> {
        match &self.source {
            Source::Dlpack(t) => t.array(),
            // SAFETY: `_owner` keeps the producer's object, and so its memory, alive while `self`
            // (which the result borrows) lives.
            Source::Cai { iface, .. } => unsafe { iface.import() },
            Source::Torch { device, elem, ptr, shape, strides, stream, .. } => {
                let device = gpujit::runtime::Device::cuda(*device)?;
                // SAFETY: `_owner` keeps the tensor, and so its storage, alive while `self` lives;
                // shape, strides (in elements) and type are the tensor's own. An exported
                // kernel's launch goes to the tensor's current stream ([`PyArrayArg::producer_stream`]),
                // as PyTorch's kernels do, so its caching allocator reuses the memory only after it.
                let a = unsafe { ExternalArray::from_raw_parts(&device, *elem, *ptr, shape, Some(strides), false) }?;
                // Other launches wait for PyTorch's work queued so far (as `__dlpack__(stream=)` makes them).
                Ok(if *stream != 0 { a.with_producer_stream(*stream) } else { a })
            }
        }
    }

    /// The stream the producer's own work on this array goes to, where a launch on it should go
    /// when none is given: PyTorch's current stream of the tensor's device (`None` for the
    /// default stream, and for other producers, whose order DLPack and the CUDA Array Interface
    /// arrange with events).
    pub fn producer_stream(&self, py: Python<'_>) -> PyResult<Option<u64>> {
        let _ = py;
        let Source::Torch { stream, .. } = &self.source else { return Ok(None) };
        Ok((*stream != 0).then_some(*stream))
    }
}

fn cai_from_dict(d: &Bound<'_, PyDict>) -> PyResult<gpujit::cai::CudaArrayInterface> {
    let get = |k: &str| -> PyResult<Option<Bound<'_, PyAny>>> { Ok(d.get_item(k)?.filter(|v| !v.is_none())) };
    let missing = |k: &str| PyValueError::new_err(format!("__cuda_array_interface__ has no `{k}`"));
    let shape: Vec<usize> = get("shape")?.ok_or_else(|| missing("shape"))?.extract()?;
    let typestr: String = get("typestr")?.ok_or_else(|| missing("typestr"))?.extract()?;
    let data = get("data")?.ok_or_else(|| missing("data"))?;
    let data = data.downcast::<PyTuple>()?;
    let data: (u64, bool) = (data.get_item(0)?.extract()?, data.get_item(1)?.extract()?);
    let strides: Option<Vec<isize>> = get("strides")?.map(|s| s.extract()).transpose()?;
    let version: u32 = get("version")?.map(|v| v.extract()).transpose()?.unwrap_or(0);
    let mask = match get("mask")? {
        Some(m) => Some(Box::new(cai_from_dict(m.downcast::<PyDict>()?)?)),
        None => None,
    };
    let stream: Option<u64> = get("stream")?.map(|s| s.extract()).transpose()?;
    Ok(gpujit::cai::CudaArrayInterface { shape, typestr, data, strides, version, mask, stream })
}
