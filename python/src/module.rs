//! The `gpujit` Python module: arrays ([`crate::array`]), NumPy's ufuncs and functions on them
//! ([`crate::engine`], [`crate::functions`]), `gpujit.fuse` ([`crate::fuse`]), arrays in
//! ([`crate::asarray`]), and two sample kernels that take any producer's arrays.

use crate::array::{PyArray, Strided, LIVE};
use crate::import::{to_py_err, GpujitError, PyArrayArg};
use ::gpujit::codegen::ScalarType;
use ::gpujit::prelude::*;
use ::gpujit::runtime::{Device, DeviceArray, ExternalArray, KernelArg};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use std::sync::atomic::Ordering;

fn device_of(spec: Option<&str>) -> PyResult<Device> {
    Device::from_spec(spec).map_err(to_py_err)
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
            ArgSource::Ours(a) => a.get().a.view(mutable),
            ArgSource::Theirs(t) => t.array().map_err(to_py_err),
        }
    }
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
    let t = xa.dtype();
    // `a` takes the arrays' type (a kernel of another type then names the bound it misses).
    let a = crate::dtype::scalar(a, t)?;
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

/// The shape argument of the constructors: an integer or a sequence of them.
fn shape_of(shape: &Bound<'_, PyAny>) -> PyResult<Vec<usize>> {
    shape.extract::<usize>().map(|n| vec![n]).or_else(|_| shape.extract::<Vec<usize>>())
}

/// A new array of `shape` filled with `value`, converted to `dtype`.
pub(crate) fn filled(py: Python<'_>, shape: &[usize], value: &Bound<'_, PyAny>, dtype: ScalarType, device: &Device) -> PyResult<Strided> {
    let out = Strided::uninit(dtype, shape, device)?;
    crate::engine::assign(py, &out, value)?;
    Ok(out)
}

fn dtype_or(py: Python<'_>, dtype: Option<&Bound<'_, PyAny>>, default: ScalarType, what: &str) -> PyResult<ScalarType> {
    match dtype.filter(|d| !d.is_none()) {
        Some(d) => crate::dtype::of(py, d, what),
        None => Ok(default),
    }
}

/// `gpujit.full(shape, value, dtype="float32", device=None)`: a new array of `shape` filled
/// with `value`, on `device` (`cpu`, `cuda`, `cuda:N`; default: `GPUJIT_DEVICE`, else the GPU
/// if there is one).
#[pyfunction]
#[pyo3(signature = (shape, value, dtype = None, device = None))]
fn full(
    py: Python<'_>,
    shape: &Bound<'_, PyAny>,
    value: &Bound<'_, PyAny>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&str>,
) -> PyResult<PyArray> {
    let t = dtype_or(py, dtype, ScalarType::F32, "full")?;
    Ok(PyArray::new(filled(py, &shape_of(shape)?, value, t, &device_of(device)?)?))
}

/// `gpujit.zeros(shape, dtype="float64", device=None)`, as NumPy's.
#[pyfunction]
#[pyo3(signature = (shape, dtype = None, device = None))]
fn zeros(py: Python<'_>, shape: &Bound<'_, PyAny>, dtype: Option<&Bound<'_, PyAny>>, device: Option<&str>) -> PyResult<PyArray> {
    let t = dtype_or(py, dtype, ScalarType::F64, "zeros")?;
    Ok(PyArray::new(filled(py, &shape_of(shape)?, &0i64.into_pyobject(py)?.into_any(), t, &device_of(device)?)?))
}

/// `gpujit.ones(shape, dtype="float64", device=None)`, as NumPy's.
#[pyfunction]
#[pyo3(signature = (shape, dtype = None, device = None))]
fn ones(py: Python<'_>, shape: &Bound<'_, PyAny>, dtype: Option<&Bound<'_, PyAny>>, device: Option<&str>) -> PyResult<PyArray> {
    let t = dtype_or(py, dtype, ScalarType::F64, "ones")?;
    Ok(PyArray::new(filled(py, &shape_of(shape)?, &1i64.into_pyobject(py)?.into_any(), t, &device_of(device)?)?))
}

/// `gpujit.empty(shape, dtype="float64", device=None)`: elements not written.
#[pyfunction]
#[pyo3(signature = (shape, dtype = None, device = None))]
fn empty(py: Python<'_>, shape: &Bound<'_, PyAny>, dtype: Option<&Bound<'_, PyAny>>, device: Option<&str>) -> PyResult<PyArray> {
    let t = dtype_or(py, dtype, ScalarType::F64, "empty")?;
    Ok(PyArray::new(Strided::uninit(t, &shape_of(shape)?, &device_of(device)?)?))
}

/// `gpujit.arange(start, stop=None, step=1, dtype=None, device=None)`, as NumPy's (made on the
/// host, then copied).
#[pyfunction]
#[pyo3(signature = (start, stop = None, step = None, dtype = None, device = None))]
fn arange(
    py: Python<'_>,
    start: &Bound<'_, PyAny>,
    stop: Option<&Bound<'_, PyAny>>,
    step: Option<&Bound<'_, PyAny>>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&str>,
) -> PyResult<Py<PyAny>> {
    let np = py.import("numpy")?;
    let kw = pyo3::types::PyDict::new(py);
    if let Some(d) = dtype.filter(|d| !d.is_none()) {
        kw.set_item("dtype", d)?;
    }
    let host = np.call_method(
        "arange",
        (
            start,
            stop,
            step.map(|s| s.clone().unbind())
                .unwrap_or_else(|| 1i64.into_pyobject(py).map(|v| v.into_any().unbind()).unwrap_or_else(|_| py.None())),
        ),
        Some(&kw),
    )?;
    crate::asarray::asarray_on(py, &host, None, Some(device_of(device)?), Some(true))
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

/// A typed array as an array of bytes of the same memory (no copy).
fn bytes_of<T: ::gpujit::runtime::Element>(a: DeviceArray<T>, shape: &[usize]) -> PyResult<Strided> {
    let (device, address) = (a.device().clone(), a.address());
    // SAFETY: `a` owns the memory of its elements, which the new array's owner keeps alive.
    unsafe { Strided::foreign(T::TYPE, shape, &device, address, Box::new(a)) }
}

fn random_array(py: Python<'_>, shape: Vec<usize>, seed: u64, dtype: &str, device: Option<&str>, normal: bool) -> PyResult<PyArray> {
    let dev = device_of(device)?;
    let dims = crate::asarray::physical(&shape).to_vec();
    let a = py.detach(|| -> PyResult<Strided> {
        Ok(match (dtype, normal) {
            ("float32", false) => bytes_of(gpujit::random::uniform(&dev, &dims, seed).map_err(to_py_err)?, &shape)?,
            ("float32", true) => bytes_of(gpujit::random::normal(&dev, &dims, seed).map_err(to_py_err)?, &shape)?,
            ("float64", false) => bytes_of(gpujit::random::uniform_f64(&dev, &dims, seed).map_err(to_py_err)?, &shape)?,
            ("float64", true) => bytes_of(gpujit::random::normal_f64(&dev, &dims, seed).map_err(to_py_err)?, &shape)?,
            (other, _) => return Err(PyValueError::new_err(format!("dtype {other:?} is not float32 or float64"))),
        })
    })?;
    Ok(PyArray::new(a))
}

/// Waits for the work queued on `device` (default: the current device): where GPU kernels'
/// prints appear and their failed assertions are reported.
#[pyfunction]
#[pyo3(signature = (device = None))]
fn synchronize(py: Python<'_>, device: Option<&str>) -> PyResult<()> {
    let d = device_of(device)?;
    py.detach(|| d.synchronize()).map_err(to_py_err)
}

/// Launches of generated kernels (expressions and reductions) so far in this process: tests
/// check with it that `gpujit.fuse` makes one kernel.
static GENERATED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn count_launch(_: &::gpujit::runtime::Kernel, _: &[::gpujit::runtime::Arg<'_>]) {
    GENERATED.fetch_add(1, Ordering::Relaxed);
}

/// The number of generated-kernel launches so far.
#[pyfunction]
fn _generated_launches() -> usize {
    GENERATED.load(Ordering::Relaxed)
}

/// Arrays (and exported tensors) this module made that are still alive.
#[pyfunction]
fn _live_arrays() -> usize {
    LIVE.load(Ordering::SeqCst)
}

/// gpujit for Python: arrays that NumPy, PyTorch and CuPy take through DLPack and the CUDA Array
/// Interface, NumPy's ufuncs and functions on them as gpujit kernels, `gpujit.fuse`, and gpujit
/// kernels that take any producer's arrays.
#[pymodule(name = "gpujit")]
fn gpujit_module(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyArray>()?;
    m.add_class::<crate::fuse::Traced>()?;
    m.add_class::<crate::fuse::Fused>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("GpujitError", m.py().get_type::<GpujitError>())?;
    m.add_function(wrap_pyfunction!(axpy, m)?)?;
    m.add_function(wrap_pyfunction!(add, m)?)?;
    m.add_function(wrap_pyfunction!(full, m)?)?;
    m.add_function(wrap_pyfunction!(zeros, m)?)?;
    m.add_function(wrap_pyfunction!(ones, m)?)?;
    m.add_function(wrap_pyfunction!(empty, m)?)?;
    m.add_function(wrap_pyfunction!(arange, m)?)?;
    m.add_function(wrap_pyfunction!(synchronize, m)?)?;
    m.add_function(wrap_pyfunction!(crate::fuse::fuse, m)?)?;
    m.add_function(wrap_pyfunction!(crate::asarray::asarray, m)?)?;
    m.add_function(wrap_pyfunction!(crate::asarray::from_dlpack, m)?)?;
    m.add_function(wrap_pyfunction!(_live_arrays, m)?)?;
    m.add_function(wrap_pyfunction!(_generated_launches, m)?)?;
    ::gpujit::fuse::set_launch_hook(Some(count_launch));
    let random = PyModule::new(m.py(), "random")?;
    random.add_function(wrap_pyfunction!(uniform, &random)?)?;
    random.add_function(wrap_pyfunction!(normal, &random)?)?;
    m.add_submodule(&random)?;
    // So that `import gpujit.random` and `from gpujit.random import uniform` find it too.
    m.py().import("sys")?.getattr("modules")?.set_item("gpujit.random", &random)?;
    Ok(())
}
