//! gpujit for Python.
//!
//! - [`PyArrayArg`]: a library for any PyO3 extension that ships gpujit kernels: it takes objects
//!   with `__dlpack__` or `__cuda_array_interface__` (NumPy, PyTorch, CuPy, JAX, Numba arrays) as
//!   kernel arguments, with no copy.
//! - The `gpujit` module (built with `--features extension-module`): `gpujit.Array` (every element
//!   type of the Rust side, strided views), which `numpy.from_dlpack`, `torch.from_dlpack` and
//!   `cupy.asarray` take with no copy; NumPy's ufuncs (`out=`, `where=`), reductions and functions
//!   (NEP 13 and NEP 18) on it as fused gpujit kernels; `gpujit.fuse`; and kernels (`axpy`, `add`)
//!   that take any producer's arrays.
//!
//! - [`export!`]: a PyO3 extension's own `#[gpu_kernel]`s as Python functions launched with
//!   Numba's syntax on any framework's arrays (see [`export`]).
//!
//! The module's files follow an array's life: [`dtype`] (element types as NumPy names and
//! promotes them) → `array` (the array and its views) → `engine` (ufuncs and reductions as gpujit
//! expressions) → `functions` (NumPy's functions) → `fuse` (`gpujit.fuse`) → `asarray` (arrays
//! in) → `module` (the module).

mod array;
mod asarray;
pub mod dtype;
mod engine;
pub mod export;
mod functions;
mod fuse;
mod import;
mod module;

pub use export::{add_kernel, ExportedKernel};
pub use import::{to_py_err, GpujitError, PyArrayArg};
/// The PyO3 this crate is built with (what [`export!`] expands to).
pub use pyo3;
