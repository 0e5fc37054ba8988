//! # gpujit
//!
//! A Numba-style JIT compiler for GPU kernels, in Rust. Annotate a function over array indices
//! with [`gpu_kernel`]; launch it with Numba's grid/block syntax. On first launch with new argument
//! types the kernel is specialized, compiled through LLVM (to PTX for a CUDA GPU, to machine code
//! for the CPU backend) and cached.
//!
//! ```
//! use gpujit::prelude::*;
//!
//! #[gpu_kernel]
//! fn add(x: &[f32], y: &[f32], out: &mut [f32]) {
//!     let start = grid(1);
//!     let stride = grid_size(1);
//!     for i in (start..x.len()).step_by(stride) {
//!         out[i] = x[i] + y[i];
//!     }
//! }
//!
//! fn main() -> gpujit::Result<()> {
//!     let dev = Device::current()?; // a GPU if there is one, else the CPU backend
//!     let x = DeviceArray::from_slice(&dev, &[1.0f32, 2.0, 3.0])?;
//!     let y = DeviceArray::from_slice(&dev, &[10.0f32, 20.0, 30.0])?;
//!     let mut out = DeviceArray::<f32>::zeros(&dev, 3)?;
//!     launch!(add[1, 256](&x, &y, &mut out))?;
//!     assert_eq!(out.to_vec()?, vec![11.0, 22.0, 33.0]);
//!     Ok(())
//! }
//! ```
//!
//! ## The kernel language
//! Parameters: scalars (`bool`, `i8`..`i64`, `u8`..`u64`, `isize`, `usize`, `f32`, `f64`, or a type
//! parameter bounded by [`Float`], [`Int`], [`Number`] or [`Scalar`]) and 1-D arrays, `&[T]` (read)
//! or `&mut [T]` (written). Statements: `let`/`let mut`, assignment and compound assignment,
//! `if`/`else`, `while`, `loop`, `for` over `a..b`/`a..=b` with optional `.step_by(s)`, `break`,
//! `continue`, `return`. Expressions: literals, arithmetic, comparison, logical and bitwise
//! operators, `as` casts, `x[i]`, `x.len()`, and the intrinsics `thread_idx_x()`,
//! `block_idx_x()`, `block_dim_x()`, `grid_dim_x()` (and `_y`, `_z`), `grid(1)`, `grid_size(1)`,
//! all `usize`. Anything else is a compile error at its span; type errors are reported by rustc,
//! which type-checks every kernel body.
//!
//! Semantics follow Rust's release builds: integer arithmetic wraps; shifts mask their amount;
//! float → int casts saturate (NaN → 0). Where Rust would panic, kernels do not: integer division
//! by zero gives 0 (remainder: the dividend), `step_by(0)` runs no iteration. The CPU backend
//! checks every array index and reports the first out-of-range access as
//! [`Error::OutOfBounds`]; on a GPU indices are not checked (as in CUDA C and Numba) and an
//! out-of-range access is a device fault reported by the driver.
//!
//! ## Environment
//! - `GPUJIT_DEVICE=cpu|cuda|cuda:N`: the device [`Device::current`] picks (default: the first
//!   GPU if a CUDA driver and device exist, else the CPU backend).
//! - `GPUJIT_DUMP_DIR=dir`: write every compiled specialization's IR, LLVM IR and PTX there.
//! - `GPUJIT_CPU_THREADS=n`: worker threads of the CPU backend (default: all cores).

pub use gpujit_macros::gpu_kernel;
pub use gpujit_runtime::{
    Arg, Device, DeviceArray, DeviceId, Dims, Element, Error, IntoDims, Kernel, KernelArg, KernelArgs, LaunchConfig, Result, Stream,
};

/// The compiler: IR, specialization, lowering, targets (re-exported for introspection and tools).
pub use gpujit_codegen as codegen;
/// The runtime crate.
pub use gpujit_runtime as runtime;

/// Everything a kernel-writing program needs: `use gpujit::prelude::*;`.
pub mod prelude {
    pub use crate::kernel_prelude::*;
    pub use crate::{gpu_kernel, launch, Device, DeviceArray, LaunchConfig, Stream};
}

/// The kernel language's intrinsics and type-parameter bounds.
///
/// Inside a `#[gpu_kernel]` these are compiled to the GPU's (or the CPU backend's) thread model.
/// The functions here are the host stand-ins rustc type-checks kernel bodies against; called
/// outside a kernel they panic.
pub mod kernel_prelude {
    use std::ops::{
        Add, AddAssign, BitAnd, BitAndAssign, BitOr, BitOrAssign, BitXor, BitXorAssign, Div, DivAssign, Mul, MulAssign, Neg, Not, Rem,
        RemAssign, Shl, ShlAssign, Shr, ShrAssign, Sub, SubAssign,
    };

    /// Any scalar type a kernel can take.
    pub trait Scalar: Copy + PartialEq + PartialOrd + 'static {}
    /// Integers and floats: the arithmetic operators.
    pub trait Number:
        Scalar
        + Add<Output = Self>
        + Sub<Output = Self>
        + Mul<Output = Self>
        + Div<Output = Self>
        + Rem<Output = Self>
        + AddAssign
        + SubAssign
        + MulAssign
        + DivAssign
        + RemAssign
    {
    }
    /// `f32` or `f64`.
    pub trait Float: Number + Neg<Output = Self> {}
    /// Any integer type: arithmetic plus bitwise operators and shifts.
    pub trait Int:
        Number
        + Not<Output = Self>
        + BitAnd<Output = Self>
        + BitOr<Output = Self>
        + BitXor<Output = Self>
        + BitAndAssign
        + BitOrAssign
        + BitXorAssign
        + Shl<u32, Output = Self>
        + Shr<u32, Output = Self>
        + ShlAssign<u32>
        + ShrAssign<u32>
    {
    }

    macro_rules! impls {
        ($tr:ident: $($t:ty),*) => {$( impl $tr for $t {} )*};
    }
    impls!(Scalar: bool, i8, i16, i32, i64, isize, u8, u16, u32, u64, usize, f32, f64);
    impls!(Number: i8, i16, i32, i64, isize, u8, u16, u32, u64, usize, f32, f64);
    impls!(Float: f32, f64);
    impls!(Int: i8, i16, i32, i64, isize, u8, u16, u32, u64, usize);

    fn outside(name: &str) -> ! {
        panic!("gpujit: {name}() can only be called inside a #[gpu_kernel] function")
    }

    macro_rules! intrinsics {
        ($($name:ident: $doc:literal;)*) => {$(
            #[doc = $doc]
            pub fn $name() -> usize {
                outside(stringify!($name))
            }
        )*};
    }
    intrinsics! {
        thread_idx_x: "The thread's index in its block along x (CUDA `threadIdx.x`).";
        thread_idx_y: "The thread's index in its block along y (CUDA `threadIdx.y`).";
        thread_idx_z: "The thread's index in its block along z (CUDA `threadIdx.z`).";
        block_idx_x: "The block's index in the grid along x (CUDA `blockIdx.x`).";
        block_idx_y: "The block's index in the grid along y (CUDA `blockIdx.y`).";
        block_idx_z: "The block's index in the grid along z (CUDA `blockIdx.z`).";
        block_dim_x: "Threads per block along x (CUDA `blockDim.x`).";
        block_dim_y: "Threads per block along y (CUDA `blockDim.y`).";
        block_dim_z: "Threads per block along z (CUDA `blockDim.z`).";
        grid_dim_x: "Blocks in the grid along x (CUDA `gridDim.x`).";
        grid_dim_y: "Blocks in the grid along y (CUDA `gridDim.y`).";
        grid_dim_z: "Blocks in the grid along z (CUDA `gridDim.z`).";
    }

    /// `grid(1)`: the thread's absolute index in a 1-D grid (Numba's `cuda.grid(1)`).
    pub fn grid(ndim: u32) -> usize {
        let _ = ndim;
        outside("grid")
    }

    /// `grid_size(1)`: the number of threads in a 1-D grid (Numba's `cuda.gridsize(1)`).
    pub fn grid_size(ndim: u32) -> usize {
        let _ = ndim;
        outside("grid_size")
    }
}

/// Launches a kernel with Numba's syntax: `launch!(kernel[grid, block](args...))`, optionally
/// `[grid, block, &stream]` and `[grid, block, &stream, shared_mem_bytes]`. Grid and block are a
/// number or an `(x, y)` / `(x, y, z)` tuple. Returns `gpujit::Result<()>`.
#[macro_export]
macro_rules! launch {
    ($kernel:ident [ $($cfg:expr),+ $(,)? ] ( $($arg:expr),* $(,)? )) => {
        $crate::Kernel::launch(&$kernel, $crate::LaunchConfig::from(($($cfg,)+)), ($($arg,)*))
    };
    ($kernel:path [ $($cfg:expr),+ $(,)? ] ( $($arg:expr),* $(,)? )) => {
        $crate::Kernel::launch(&$kernel, $crate::LaunchConfig::from(($($cfg,)+)), ($($arg,)*))
    };
}

/// The README's examples, compiled and run as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

#[doc(hidden)]
pub mod __private {
    pub use gpujit_codegen::ast;
    pub use gpujit_codegen::ScalarType;
}
