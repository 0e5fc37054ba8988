//! gpujit for Python.
//!
//! - [`PyArrayArg`]: a library for any PyO3 extension that ships gpujit kernels: it takes objects
//!   with `__dlpack__` or `__cuda_array_interface__` (NumPy, PyTorch, CuPy, JAX, Numba arrays) as
//!   kernel arguments, with no copy.
//! - The `gpujit` module (built with `--features extension-module`): `gpujit.Array`, which
//!   `numpy.from_dlpack`, `torch.from_dlpack` and `cupy.asarray` take with no copy, and kernels
//!   (`axpy`, `add`) that take any producer's arrays, and NumPy's ufuncs on `gpujit.Array`
//!   (`__array_ufunc__`, with `reduce`), run as gpujit kernels on the array's device.

mod asarray;
mod import;
mod module;
mod ufunc;

pub use import::{to_py_err, GpujitError, PyArrayArg};
