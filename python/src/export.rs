//! Users' own `#[gpu_kernel]`s in Python: a PyO3 extension crate exports them with
//! [`export!`](crate::export), and Python launches them with Numba's syntax on any framework's
//! arrays:
//!
//! ```ignore
//! #[gpu_kernel]
//! fn saxpy<T: Float>(a: T, x: &[T], y: &mut [T]) { .. }
//!
//! #[pymodule]
//! fn my_kernels(m: &Bound<'_, PyModule>) -> PyResult<()> {
//!     gpujit_python::export!(m, saxpy)
//! }
//! ```
//!
//! ```python
//! import my_kernels, torch
//! my_kernels.saxpy[blocks, 256](2.0, x, y)             # x, y: torch, CuPy, JAX, NumPy, gpujit
//! my_kernels.saxpy[blocks, 256, torch.cuda.current_stream()](2.0, x, y)
//! ```
//!
//! Array parameters take anything with `__dlpack__` or `__cuda_array_interface__` (no copy);
//! a `&mut` parameter must be writable. A scalar parameter takes a Python number converted to its
//! declared type, or, for a type parameter (`a: T`), to the element type of the arrays that fix
//! `T`. The kernel is specialized on those types at the first launch and cached, as in Rust.
//! Errors are `gpujit.GpujitError`s naming the kernel and the argument. The launch releases the
//! GIL and runs on the arrays' device: on the stream given in the brackets (a `CUstream` integer,
//! a `torch.cuda.Stream`, a CuPy stream, anything with `__cuda_stream__`), else on the legacy
//! default stream, after the producers' pending work (DLPack's and the CUDA Array Interface's
//! stream protocols, without blocking the host).

use crate::import::{to_py_err, GpujitError, PyArrayArg};
use ::gpujit::codegen::ast::{ParamKind, TypeRef};
use ::gpujit::codegen::ScalarType;
use ::gpujit::runtime::{Arg, ExternalArray, Kernel, KernelArg, LaunchConfig, Stream};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyModule, PyTuple};

/// A `#[gpu_kernel]` exported to Python: `k[grid, block](*args)`, `k[grid, block, stream]`,
/// `k[grid, block, stream, shared_bytes]`.
#[pyclass(name = "Kernel", module = "gpujit", frozen)]
pub struct ExportedKernel {
    kernel: &'static Kernel,
}

/// A kernel with its launch configuration, called with the arguments.
#[pyclass(name = "KernelLaunch", module = "gpujit", frozen)]
pub struct KernelLaunch {
    kernel: &'static Kernel,
    grid: (u32, u32, u32),
    block: (u32, u32, u32),
    stream: Option<u64>,
    shared: u32,
}

/// Adds `kernel` to module `m` under its name (what [`export!`](crate::export) calls).
pub fn add_kernel(m: &Bound<'_, PyModule>, kernel: &'static Kernel) -> PyResult<()> {
    m.add(kernel.name(), Py::new(m.py(), ExportedKernel { kernel })?)
}

/// Exports `#[gpu_kernel]`s to a Python module: `gpujit_python::export!(m, saxpy, scale)` in a
/// `#[pymodule]` adds each as a launchable `gpujit.Kernel` named as the function (see the
/// module's docs). Evaluates to `PyResult<()>`.
#[macro_export]
macro_rules! export {
    ($m:expr, $($k:ident),+ $(,)?) => {{
        let m: &$crate::pyo3::Bound<'_, $crate::pyo3::types::PyModule> = $m;
        (|| -> $crate::pyo3::PyResult<()> {
            $(
                {
                    static KERNEL: $k = $k;
                    $crate::add_kernel(m, ::std::ops::Deref::deref(&KERNEL))?;
                }
            )+
            Ok(())
        })()
    }};
}

/// A grid or block: an integer or a tuple of one to three.
fn dims(x: &Bound<'_, PyAny>, what: &str) -> PyResult<(u32, u32, u32)> {
    if let Ok(n) = x.extract::<u32>() {
        return Ok((n, 1, 1));
    }
    let v: Vec<u32> =
        x.extract().map_err(|_| PyTypeError::new_err(format!("the {what} must be an integer or a tuple of 1 to 3 integers")))?;
    match v[..] {
        [a] => Ok((a, 1, 1)),
        [a, b] => Ok((a, b, 1)),
        [a, b, c] => Ok((a, b, c)),
        _ => Err(PyValueError::new_err(format!("the {what} has {} dimensions (1 to 3)", v.len()))),
    }
}

/// A stream argument as a `CUstream` handle: an integer, `__cuda_stream__()`, PyTorch's
/// `cuda_stream`, CuPy's `ptr`, Numba's `handle`.
fn stream_handle(x: &Bound<'_, PyAny>) -> PyResult<Option<u64>> {
    if x.is_none() {
        return Ok(None);
    }
    if let Ok(h) = x.extract::<u64>() {
        return Ok(Some(h));
    }
    if x.hasattr("__cuda_stream__")? {
        let (_, h): (u64, u64) = x.call_method0("__cuda_stream__")?.extract()?;
        return Ok(Some(h));
    }
    for attr in ["cuda_stream", "ptr"] {
        if let Ok(h) = x.getattr(attr).and_then(|v| v.extract::<u64>()) {
            return Ok(Some(h));
        }
    }
    if let Ok(h) = x.getattr("handle").and_then(|h| h.getattr("value")).and_then(|v| v.extract::<u64>()) {
        return Ok(Some(h));
    }
    Err(PyTypeError::new_err(format!("a stream must be a CUstream integer or a stream object, not {}", x.get_type().name()?)))
}

#[pymethods]
impl ExportedKernel {
    /// `k[grid, block]`, `k[grid, block, stream]`, `k[grid, block, stream, shared_bytes]`.
    fn __getitem__(&self, config: &Bound<'_, PyAny>) -> PyResult<KernelLaunch> {
        let items: Vec<Bound<'_, PyAny>> = match config.downcast::<PyTuple>() {
            Ok(t) => t.iter().collect(),
            Err(_) => vec![config.clone()],
        };
        if !(2..=4).contains(&items.len()) {
            return Err(PyValueError::new_err(format!(
                "kernel `{}`: launch as k[grid, block], k[grid, block, stream] or k[grid, block, stream, shared_bytes]",
                self.kernel.name()
            )));
        }
        let stream = match items.get(2) {
            Some(s) => stream_handle(s)?,
            None => None,
        };
        let shared = match items.get(3) {
            Some(s) => s.extract()?,
            None => 0,
        };
        Ok(KernelLaunch { kernel: self.kernel, grid: dims(&items[0], "grid")?, block: dims(&items[1], "block")?, stream, shared })
    }

    /// Calling without a configuration is an error that says how to launch.
    #[pyo3(signature = (*_args))]
    fn __call__(&self, _args: &Bound<'_, PyTuple>) -> PyResult<()> {
        Err(GpujitError::new_err(format!("kernel `{}`: give a launch configuration, k[grid, block](*args)", self.kernel.name())))
    }

    /// The kernel's name.
    #[getter]
    fn __name__(&self) -> String {
        self.kernel.name().to_string()
    }

    /// The parameters as written: `["a: T", "x: &[T]", "y: &mut [T]"]`.
    #[getter]
    fn params(&self) -> Vec<String> {
        let s = self.kernel.signature();
        split_params(&s)
    }

    fn __repr__(&self) -> String {
        format!("<gpujit kernel {}({})>", self.kernel.name(), self.kernel.signature())
    }
}

/// The parameters of a signature `a: T, x: &[T]`, split at top-level commas.
fn split_params(s: &str) -> Vec<String> {
    let (mut out, mut depth, mut cur) = (Vec::new(), 0i32, String::new());
    for c in s.chars() {
        match c {
            '<' | '[' | '(' => depth += 1,
            '>' | ']' | ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(cur.trim().to_string());
                cur.clear();
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    out
}

#[pymethods]
impl KernelLaunch {
    #[pyo3(signature = (*args))]
    fn __call__(&self, py: Python<'_>, args: &Bound<'_, PyTuple>) -> PyResult<()> {
        launch(py, self, args)
    }
}

fn launch(py: Python<'_>, l: &KernelLaunch, args: &Bound<'_, PyTuple>) -> PyResult<()> {
    let k = l.kernel;
    let src = k.source();
    let name = k.name();
    if args.len() != src.params.len() {
        let names: Vec<&str> = src.params.iter().map(|p| p.name.as_str()).collect();
        return Err(GpujitError::new_err(format!(
            "kernel `{name}` takes {} arguments ({}), got {}",
            names.len(),
            names.join(", "),
            args.len()
        )));
    }
    let what = |i: usize| format!("kernel `{name}`: argument {} (`{}`)", i + 1, src.params[i].name);
    // The arrays first: they fix the type parameters the scalars take.
    let mut arrays: Vec<Option<PyArrayArg>> = Vec::with_capacity(args.len());
    for (i, p) in src.params.iter().enumerate() {
        arrays.push(match &p.kind {
            ParamKind::Slice { .. } => {
                let a = args.get_item(i)?;
                Some(PyArrayArg::extract(&a).map_err(|e| PyTypeError::new_err(format!("{}: {e}", what(i))))?)
            }
            ParamKind::Scalar(_) => None,
        });
    }
    let mut views: Vec<Option<ExternalArray<'_>>> = arrays
        .iter()
        .enumerate()
        .map(|(i, a)| a.as_ref().map(|a| a.array().map_err(|e| GpujitError::new_err(format!("{}: {e}", what(i))))).transpose())
        .collect::<PyResult<_>>()?;
    let mut generic: Vec<Option<ScalarType>> = vec![None; src.generics.len()];
    for (p, v) in src.params.iter().zip(&views) {
        if let (ParamKind::Slice { elem: TypeRef::Generic(g), .. }, Some(v)) = (&p.kind, v) {
            if let Some(slot) = generic.get_mut(*g) {
                slot.get_or_insert(v.dtype());
            }
        }
    }
    let mut words: Vec<Arg<'_>> = Vec::with_capacity(args.len());
    for (i, (p, v)) in src.params.iter().zip(views.iter_mut()).enumerate() {
        match (&p.kind, v) {
            (ParamKind::Slice { mutable: true, .. }, Some(v)) => words.push(v.into_arg()),
            (ParamKind::Slice { .. }, Some(v)) => words.push((&*v).into_arg()),
            (ParamKind::Scalar(t), _) => {
                let value = args.get_item(i)?;
                let ty = match t {
                    TypeRef::Scalar(t) => *t,
                    TypeRef::Generic(g) => match generic.get(*g).copied().flatten() {
                        Some(t) => t,
                        None => default_type(&value).map_err(|e| GpujitError::new_err(format!("{}: {e}", what(i))))?,
                    },
                    TypeRef::Named(n) => return Err(GpujitError::new_err(format!("{}: a `{n}` cannot be passed from Python", what(i)))),
                };
                words.push(crate::dtype::scalar(&value, ty).map_err(|e| GpujitError::new_err(format!("{}: {e}", what(i))))?);
            }
            (ParamKind::Slice { .. }, None) => return Err(GpujitError::new_err(format!("{}: expected an array", what(i)))),
        }
    }
    let device = words
        .iter()
        .find_map(|a| match a {
            Arg::Array { device, .. } => Some((*device).clone()),
            _ => None,
        })
        .map(Ok)
        .unwrap_or_else(|| ::gpujit::runtime::Device::current().map_err(to_py_err))?;
    // No stream given: a PyTorch tensor's current stream, where its producer's work goes.
    let handle = match l.stream {
        Some(h) => Some(h),
        None => arrays.iter().flatten().map(|a| a.producer_stream(py)).find_map(|h| h.transpose()).transpose()?,
    };
    // SAFETY: the handle is the caller's stream of this device (the documented contract of the
    // launch syntax, as in Numba and CuPy) or the tensor's current stream, alive for this call.
    let stream = handle.map(|h| unsafe { Stream::from_foreign(&device, h) });
    let mut config = LaunchConfig::new(l.grid, l.block);
    config.shared_mem_bytes = l.shared;
    config.stream = stream.as_ref();
    py.detach(|| k.launch(config, &words[..])).map_err(to_py_err)
}

/// The type of a Python scalar for a type parameter no array fixes: NumPy's defaults.
fn default_type(v: &Bound<'_, PyAny>) -> PyResult<ScalarType> {
    match crate::dtype::weak_kind(v) {
        Some(w) => Ok(crate::dtype::weak_default(w)),
        None => match v.getattr("dtype") {
            Ok(d) => crate::dtype::of(v.py(), &d, "kernel argument"),
            Err(_) => Err(PyTypeError::new_err(format!("expected a number, not {}", v.get_type().name()?))),
        },
    }
}
