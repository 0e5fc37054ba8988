//! A Python extension that ships its own gpujit kernels: write `#[gpu_kernel]`s, then
//! `gpujit_python::export!` them from the `#[pymodule]`. Python launches them with Numba's
//! syntax on any framework's arrays (PyTorch, CuPy, JAX, Numba, NumPy, gpujit):
//!
//! ```python
//! import my_kernels
//! my_kernels.saxpy[(n + 255) // 256, 256](2.0, x, y)   # y += 2 x, on x's device
//! ```

use gpujit::prelude::*;
use pyo3::prelude::*;

/// `y += a * x`, for f32 or f64 (`a` takes the arrays' type).
#[gpu_kernel]
fn saxpy<T: Float>(a: T, x: &[T], y: &mut [T]) {
    let i = grid(1);
    if i < x.len() && i < y.len() {
        y[i] += a * x[i];
    }
}

/// Each row of `m` (any strides) multiplied by its entry of `scale`, in place: a 2-D grid.
#[gpu_kernel]
fn scale_rows<T: Number>(m: &mut Array<T, 2>, scale: &[T]) {
    let (j, i) = grid(2);
    if i < m.shape(0) && j < m.shape(1) {
        m[[i, j]] *= scale[i];
    }
}

/// How many elements of `x` exceed `limit` (a concrete `f32`), counted into `count[0]`.
#[gpu_kernel]
fn count_above(x: &[f32], limit: f32, count: &mut [u32]) {
    let i = grid(1);
    if i < x.len() && x[i] > limit {
        atomic_add(count, 0, 1u32);
    }
}

#[pymodule]
fn my_kernels(m: &Bound<'_, PyModule>) -> PyResult<()> {
    gpujit_python::export!(m, saxpy, scale_rows, count_above)
}
