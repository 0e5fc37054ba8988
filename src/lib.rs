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
//! Parameters: scalars (`bool`, `i8`..`i64`, `u8`..`u64`, `isize`, `usize`, `f32`, `f64`, `f16`,
//! `bf16`, [`Complex<f32>`](Complex), `Complex<f64>`, a [`#[gpu_struct]`](gpu_struct), or a type parameter bounded by [`Float`](kernel_prelude::Float), [`Int`](kernel_prelude::Int), [`Number`](kernel_prelude::Number) or [`Scalar`](kernel_prelude::Scalar)) and arrays,
//! `&[T]` or `&Array<T, N>` (read), `&mut [T]` or `&mut Array<T, N>` (written).
//! Statements: `let`/`let mut` (also of tuples), assignment and compound assignment, `if`/`else` and
//! `match` (also as values), `while`, `loop`, `for` over `a..b`/`a..=b` with `.rev()` and
//! `.step_by(s)`, labeled `break`/`continue`, `return`; shared, dynamic and per-thread arrays,
//! barriers, fences, atomics, warp collectives, `grid_sync()`, and calls of [`gpu_device`]
//! functions (the README's feature table lists it all). Expressions: literals, arithmetic, comparison, logical and bitwise
//! operators, `as` casts, `x[i]`, `x.len()`, the math methods of f32/f64 (`x.sqrt()`,
//! `x.powf(y)`, `x.erf()`, ... see [`Float`](kernel_prelude::Float)) and `abs`/`min`/`max`/`signum` on integers, and the
//! intrinsics `thread_idx_x()`,
//! `block_idx_x()`, `block_dim_x()`, `grid_dim_x()` (and `_y`, `_z`), `grid(1)`, `grid_size(1)`,
//! all `usize`. Options: `#[gpu_kernel(fastmath, launch_bounds = 256, max_registers = 64)]`,
//! `debug` (`debug_assert!`s compiled, source lines in the PTX), `lineinfo`
//! (source lines alone) and `fp_contract = false` (keep Rust's two roundings of `a * b + c`,
//! which by default is one fused multiply-add, as nvcc makes it). `print!`/`println!` and `assert!`/`assert_eq!`/`assert_ne!` work in
//! kernels; on a GPU their output and failures are reported at the next synchronization, as
//! CUDA's `printf` and `assert` are (see the README's "Debugging a kernel").
//! Anything else is a compile error at its span; type errors are reported by rustc,
//! which type-checks every kernel body.
//!
//! Semantics follow Rust's release builds: integer arithmetic wraps; shifts mask their amount;
//! float → int casts saturate (NaN → 0). Where Rust would panic, kernels do not: integer division
//! by zero gives 0 (remainder: the dividend), `step_by(0)` runs no iteration. The CPU backend
//! checks every array index and reports the first out-of-range access as
//! [`Error::OutOfBounds`]; on a GPU indices are not checked (as in CUDA C and Numba) and an
//! out-of-range access is a device fault reported by the driver.
//!
//! ## Structs
//! A [`#[gpu_struct]`](gpu_struct) is a `#[repr(C)]` struct without padding that kernels take by
//! value, keep in locals and read and write as array elements:
//!
//! ```
//! use gpujit::prelude::*;
//!
//! #[gpu_struct]
//! #[repr(C)]
//! #[derive(Clone, Copy, Default, Debug, PartialEq)]
//! struct Particle { pos: [f32; 3], mass: f32 }
//!
//! #[gpu_kernel]
//! fn drift(ps: &mut [Particle], v: f32) {
//!     let i = grid(1);
//!     if i < ps.len() {
//!         let mut p = ps[i];
//!         p.pos[0] += v / p.mass;
//!         ps[i] = p;
//!     }
//! }
//!
//! fn main() -> gpujit::Result<()> {
//!     let dev = Device::current()?;
//!     let host = vec![Particle { pos: [1.0, 2.0, 3.0], mass: 2.0 }; 5];
//!     let mut ps = DeviceArray::from_slice(&dev, &host)?;
//!     launch!(drift[1, 64](&mut ps, 4.0f32))?;
//!     let moved = ps.to_vec()?;
//!     assert!(moved.iter().all(|p| p.pos == [3.0, 2.0, 3.0] && p.mass == 2.0));
//!     Ok(())
//! }
//! ```
//!
//! ## Environment
//! - `GPUJIT_DEVICE=cpu|cuda|cuda:N`: the device [`Device::current`] picks (default: the first
//!   GPU if a CUDA driver and device exist, else the CPU backend).
//! - `GPUJIT_DUMP_DIR=dir`: write every compiled specialization's IR, LLVM IR and PTX there.
//! - `GPUJIT_CPU_THREADS=n`: worker threads of the CPU backend (default: all cores).
//! - `GPUJIT_BOUNDSCHECK=1`: check array indices on the GPU too.
//! - `GPUJIT_FP_CONTRACT=0`: no kernel fuses multiplies and adds (as `fp_contract = false`).
//! - `GPUJIT_CHECK=1`: the checked mode: bounds checks everywhere, every launch synchronized
//!   (a device fault is [`Error::KernelFault`] naming the kernel), and the first NaN or infinity
//!   a kernel writes into a float array [`Error::NonFinite`].
//! - `GPUJIT_DEBUG=1`: compile every kernel as `#[gpu_kernel(debug)]` (`debug_assert!`s, line
//!   info); `GPUJIT_LINEINFO=1`: source lines in every kernel's PTX.
//! - `GPUJIT_LIBDEVICE`, `GPUJIT_PTXAS`: where CUDA's libdevice and ptxas are (else searched for).
//! - `GPUJIT_CACHE_DIR=dir`, `GPUJIT_CACHE=off`, `GPUJIT_CACHE_MAX_MB=n`: the on-disk cache of
//!   compiled GPU kernels ([`disk_cache`]; default `~/.cache/gpujit`, 1024 MB).
//! - `GPUJIT_LOG=compile`: print each compile (with the time of each stage) and each kernel
//!   loaded from the disk cache on standard error.

// `::gpujit::..` paths, which the macros emit, also resolve inside this crate (`random`).
extern crate self as gpujit;

pub use gpujit_macros::{forall, gpu_device, gpu_kernel, gpu_struct, gpu_vectorize};
pub mod random;
/// CUDA Array Interface v3: import (`CudaArrayInterface::import`) and export
/// (`DeviceArray::cuda_array_interface`).
pub use gpujit_runtime::cai;
/// The on-disk cache of compiled GPU kernels (`GPUJIT_CACHE_DIR`, `GPUJIT_CACHE=off`).
pub use gpujit_runtime::disk_cache;
/// DLPack 1.x: import (`dlpack::DlpackTensor`) and export (`DeviceArray::into_dlpack`).
pub use gpujit_runtime::dlpack;
/// The `ndarray` crate gpujit converts host arrays from and to.
pub use gpujit_runtime::ndarray;
pub use gpujit_runtime::{dot, expr, select, EvalAll, Expr, Fusion, IntoExpr, Reduction};
/// Fused array expressions and reductions: operand classes, the cache, the source generator.
pub use gpujit_runtime::{fuse, reduce};
pub use gpujit_runtime::{
    Arg, ArrayView, ArrayViewMut, Device, DeviceArray, DeviceId, Dims, Element, Error, Event, ExternalArray, Graph, InteropError, IntoDims,
    Kernel, KernelArg, KernelArgs, KernelResources, LaunchConfig, Layout, PinnedBuffer, Result, Stream, TensorMap,
};
/// The `num-complex` crate, whose `Complex<f32>` and `Complex<f64>` are gpujit's complex types.
pub use num_complex;
pub use num_complex::{Complex, Complex32, Complex64};

/// The compiler: IR, specialization, lowering, targets (re-exported for introspection and tools).
pub use gpujit_codegen as codegen;
/// The runtime crate.
pub use gpujit_runtime as runtime;

/// Everything a kernel-writing program needs: `use gpujit::prelude::*;`.
pub mod prelude {
    pub use crate::kernel_prelude::*;
    pub use crate::random;
    pub use crate::{
        device_fn, dot, expr, forall, gpu_device, gpu_kernel, gpu_struct, gpu_vectorize, launch, ptx_asm, select, Device, DeviceArray,
        EvalAll, Event, Expr, Fusion, Graph, IntoExpr, LaunchConfig, PinnedBuffer, Stream, TensorMap,
    };
    pub use half::{bf16, f16};
    pub use num_complex::{Complex, Complex32, Complex64};
}

/// The kernel language's intrinsics and type-parameter bounds.
///
/// Inside a `#[gpu_kernel]` these are compiled to the GPU's (or the CPU backend's) thread model.
/// The functions here are the host stand-ins rustc type-checks kernel bodies against; called
/// outside a kernel they panic.
pub mod kernel_prelude {
    pub use crate::random::Philox;
    pub use num_complex::{Complex, Complex32, Complex64};
    use std::marker::PhantomData;
    use std::ops::{
        Add, AddAssign, BitAnd, BitAndAssign, BitOr, BitOrAssign, BitXor, BitXorAssign, Div, DivAssign, Index, IndexMut, Mul, MulAssign,
        Neg, Not, Rem, RemAssign, Shl, ShlAssign, Shr, ShrAssign, Sub, SubAssign,
    };

    /// Any value kernels hold in arrays and locals: the scalar types, `Complex<f32>`,
    /// `Complex<f64>` and the `#[gpu_struct]`s (the element types of shared and per-thread
    /// arrays).
    pub trait Value: Copy + 'static {}
    /// Any scalar type a kernel can take.
    pub trait Scalar: Value + PartialEq + PartialOrd {}
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
    /// Any integer type: arithmetic plus bitwise operators and shifts.
    pub trait Int:
        Number
        + Ord
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
        gpujit_macros::__int_stand_ins!();
    }

    macro_rules! impls {
        ($tr:ident: $($t:ty),*) => {$( impl $tr for $t {} )*};
    }
    // Every element type: the scalars, the complex types and the #[gpu_struct]s.
    impl<T: crate::Element> Value for T {}
    impls!(Scalar: bool, i8, i16, i32, i64, isize, u8, u16, u32, u64, usize, f32, f64, half::f16, half::bf16);
    impls!(Number: i8, i16, i32, i64, isize, u8, u16, u32, u64, usize, f32, f64, half::f16, half::bf16);
    // The `Float` trait and its implementations (f32, f64, f16, bf16), generated from the
    // language's math table: adding a math method there adds it here.
    gpujit_macros::__float_stand_ins!();

    macro_rules! int_impls {
        ($($t:ty: $u:ty, $wide:ty;)*) => {$(
            impl Int for $t {
                gpujit_macros::__int_stand_ins!($t, $u, $wide);
            }
        )*};
    }
    int_impls! {
        i8: u8, i16; i16: u16, i32; i32: u32, i64; i64: u64, i128; isize: usize, i128;
        u8: u8, u16; u16: u16, u32; u32: u32, u64; u64: u64, u128; usize: usize, u128;
    }

    /// The high half of the full product of two integers (CUDA's `__mulhi`, `__umul64hi`):
    /// `((a as i64 * b as i64) >> 32) as i32` for i32, and so on for every integer type.
    pub fn mul_hi<T: Int>(a: T, b: T) -> T {
        a.__mul_hi(b)
    }

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

    /// An N-D array parameter of a kernel (`u: &Array<f32, 2>`, `out: &mut Array<f32, 2>`), indexed
    /// `u[[i, j]]`, with `u.shape(axis)`, `u.stride(axis)` (in elements) and `u.len()` (all
    /// elements). Pass a `DeviceArray` of that many dimensions or a view of one: contiguous and
    /// strided arguments get separate specializations.
    pub struct Array<T, const N: usize>(PhantomData<T>);

    impl<T, const N: usize> Array<T, N> {
        /// The extent of `axis`.
        pub fn shape(&self, axis: usize) -> usize {
            let _ = axis;
            outside("shape")
        }
        /// The distance in elements between neighbours along `axis` (may be negative or 0).
        pub fn stride(&self, axis: usize) -> isize {
            let _ = axis;
            outside("stride")
        }
    }

    /// A block's shared array of `N` elements: `let mut tile = shared_array::<f32, 256>();`.
    pub struct SharedArray<T, const N: usize>(PhantomData<T>);
    /// A block's 2-D shared array, indexed `tile[[row, col]]`.
    pub struct SharedArray2d<T, const R: usize, const C: usize>(PhantomData<T>);
    /// The block's dynamic shared memory, sized by the launch (`launch!(k[g, b, &stream, bytes](..))`).
    pub struct DynamicShared<T>(PhantomData<T>);
    /// A per-thread array of `N` elements: `let mut acc = local_array::<f32, 8>();`.
    pub struct LocalArray<T, const N: usize>(PhantomData<T>);

    macro_rules! stand_in_array {
        ($name:ident [$($c:tt)*] [$($u:tt)*], $idx:ty) => {
            impl<T, $($c)*> Index<$idx> for $name<T, $($u)*> {
                type Output = T;
                fn index(&self, _: $idx) -> &T {
                    outside("indexing a kernel array")
                }
            }
            impl<T, $($c)*> IndexMut<$idx> for $name<T, $($u)*> {
                fn index_mut(&mut self, _: $idx) -> &mut T {
                    outside("indexing a kernel array")
                }
            }
            impl<T, $($c)*> $name<T, $($u)*> {
                /// The number of elements.
                pub fn len(&self) -> usize {
                    outside("len")
                }
                pub fn is_empty(&self) -> bool {
                    outside("is_empty")
                }
            }
        };
    }
    stand_in_array!(SharedArray [const N: usize] [N], usize);
    stand_in_array!(Array [const N: usize] [N], [usize; N]);
    stand_in_array!(SharedArray2d [const R: usize, const C: usize] [R, C], [usize; 2]);
    stand_in_array!(DynamicShared [] [], usize);
    stand_in_array!(LocalArray [const N: usize] [N], usize);

    /// Declares a block's shared array (Numba `cuda.shared.array(N, dtype)`).
    pub fn shared_array<T: Value, const N: usize>() -> SharedArray<T, N> {
        outside("shared_array")
    }
    /// Declares a block's 2-D shared array of `R` rows of `C` elements.
    pub fn shared_array_2d<T: Value, const R: usize, const C: usize>() -> SharedArray2d<T, R, C> {
        outside("shared_array_2d")
    }
    /// The block's dynamic shared memory as an array of `T` (Numba `cuda.shared.array(0, dtype)`).
    pub fn dynamic_shared<T: Value>() -> DynamicShared<T> {
        outside("dynamic_shared")
    }
    /// Declares a per-thread array (Numba `cuda.local.array(N, dtype)`).
    pub fn local_array<T: Value, const N: usize>() -> LocalArray<T, N> {
        outside("local_array")
    }

    /// Vector loads and stores: `N` consecutive elements in one instruction (PTX
    /// `ld.global.v4.f32`, ...), of an array parameter or a shared array.
    ///
    /// `let v = x.load::<4>(i);` reads `x[i..i + 4]` into a new per-thread array `v`;
    /// `y.store::<4>(i, &v);` writes per-thread array `v` to `y[i..i + 4]`. `N` elements take 2,
    /// 4, 8 or 16 bytes in all, and `i` (the element's offset in the array, for N-D arrays its
    /// row-major offset) is a multiple of `N`: with bounds checks, an index past the end or not
    /// a multiple of `N` is reported as an out-of-bounds access, and the access is skipped. An
    /// N-D array parameter must be contiguous. Where the array's data is 16-byte aligned (every
    /// gpujit allocation, and views at such offsets) the access is one instruction; elsewhere
    /// it is split into aligned pieces, with the same result.
    ///
    /// The `_cg` and `_cs` forms add a cache operator on the GPU: `.cg` (cached in L2, not L1)
    /// and `.cs` (streaming: data used once). On the CPU backend they are plain accesses.
    pub trait VectorAccess<T, I> {
        /// `N` elements from `first` on, into a new per-thread array.
        fn load<const N: usize>(&self, first: I) -> LocalArray<T, N>;
        /// `load`, cached in L2 only (`ld.global.cg`).
        fn load_cg<const N: usize>(&self, first: I) -> LocalArray<T, N>;
        /// `load`, streaming (`ld.global.cs`).
        fn load_cs<const N: usize>(&self, first: I) -> LocalArray<T, N>;
        /// Writes `values` to the `N` elements from `first` on.
        fn store<const N: usize>(&mut self, first: I, values: &(impl Fragment<T> + ?Sized));
        /// `store`, cached in L2 only (`st.global.cg`).
        fn store_cg<const N: usize>(&mut self, first: I, values: &(impl Fragment<T> + ?Sized));
        /// `store`, streaming (`st.global.cs`).
        fn store_cs<const N: usize>(&mut self, first: I, values: &(impl Fragment<T> + ?Sized));
    }

    macro_rules! vector_access {
        ($($ty:ty [$($g:tt)*], $idx:ty;)*) => {$(
            impl<T, $($g)*> VectorAccess<T, $idx> for $ty {
                fn load<const N: usize>(&self, _: $idx) -> LocalArray<T, N> { outside("load") }
                fn load_cg<const N: usize>(&self, _: $idx) -> LocalArray<T, N> { outside("load_cg") }
                fn load_cs<const N: usize>(&self, _: $idx) -> LocalArray<T, N> { outside("load_cs") }
                fn store<const N: usize>(&mut self, _: $idx, _: &(impl Fragment<T> + ?Sized)) { outside("store") }
                fn store_cg<const N: usize>(&mut self, _: $idx, _: &(impl Fragment<T> + ?Sized)) { outside("store_cg") }
                fn store_cs<const N: usize>(&mut self, _: $idx, _: &(impl Fragment<T> + ?Sized)) { outside("store_cs") }
            }
        )*};
    }
    vector_access! {
        [T] [], usize;
        Array<T, D> [const D: usize], [usize; D];
        SharedArray<T, S> [const S: usize], usize;
        SharedArray2d<T, R, C> [const R: usize, const C: usize], [usize; 2];
        DynamicShared<T> [], usize;
    }

    /// Starts an asynchronous copy of `N` elements (4, 8 or 16 bytes in all) from global memory
    /// at `src` to shared memory at `dst` (PTX `cp.async`; `.cg`, bypassing L1, for 16 bytes).
    /// Both offsets are multiples of `N`, checked as `load` checks them. The copies of a thread
    /// since its last [`cp_async_commit`] form a group; [`cp_async_wait`] waits for groups.
    /// Other threads see the data after the wait and a `sync_threads()`. On the CPU backend the
    /// copy is done at once.
    pub fn cp_async<const N: usize>(dst: &mut impl Value, src: &impl Value) {
        let _ = (dst, src);
        outside("cp_async")
    }
    /// Closes this thread's group of `cp_async` copies (`cp.async.commit_group`).
    pub fn cp_async_commit() {
        outside("cp_async_commit")
    }
    /// Waits until at most `pending` (a constant, 0 to 7) of this thread's groups of copies are
    /// still running (`cp.async.wait_group`); 0 waits for all.
    pub fn cp_async_wait(pending: usize) {
        let _ = pending;
        outside("cp_async_wait")
    }
    /// Per-thread values an operation takes as a whole: a per-thread array (`&v`), or its part
    /// from element `i` on (`&v[i..]`: fragments kept in one larger array, indexed by constants
    /// or by `#[unroll]`ed loops so that they stay in registers).
    pub trait Fragment<T> {}
    impl<T, const N: usize> Fragment<T> for LocalArray<T, N> {}
    impl<T> Fragment<T> for [T] {}
    /// A per-thread array passes as a slice to a device function's `&[T]` / `&mut [T]` parameter.
    impl<T, const N: usize> std::ops::Deref for LocalArray<T, N> {
        type Target = [T];
        fn deref(&self) -> &[T] {
            outside("a per-thread array")
        }
    }
    impl<T, const N: usize> std::ops::DerefMut for LocalArray<T, N> {
        fn deref_mut(&mut self) -> &mut [T] {
            outside("a per-thread array")
        }
    }
    impl<T, const N: usize> Index<std::ops::RangeFrom<usize>> for LocalArray<T, N> {
        type Output = [T];
        fn index(&self, _: std::ops::RangeFrom<usize>) -> &[T] {
            outside("a part of a per-thread array")
        }
    }
    impl<T, const N: usize> IndexMut<std::ops::RangeFrom<usize>> for LocalArray<T, N> {
        fn index_mut(&mut self, _: std::ops::RangeFrom<usize>) -> &mut [T] {
            outside("a part of a per-thread array")
        }
    }

    macro_rules! ldmatrix_forms {
        ($($name:ident: $n:literal, $trans:literal;)*) => {$(
            #[doc = concat!("The warp loads ", $n, " 8×8 matrices of 16-bit elements from shared memory (PTX `ldmatrix.sync.aligned.m8n8.x", $n, $trans, ".shared.b16`) into `fragment` (", $n, " pairs of elements).")]
            ///
            /// Row `r` of matrix `j` is the 8 elements from `row` of lane `8j + r` (an element
            /// whose offset is a multiple of 8; lanes past the last matrix give none). Lane `l`
            /// receives, for each matrix `j`, its elements `(l / 4, 2 (l % 4))` and
            /// `(l / 4, 2 (l % 4) + 1)` in `fragment[2j]` and `fragment[2j + 1]`; the `_trans`
            /// forms give `(2 (l % 4), l / 4)` and `(2 (l % 4) + 1, l / 4)`, the matrix
            /// transposed. Every lane of the warp calls it together.
            pub fn $name<T: Value>(fragment: &mut (impl Fragment<T> + ?Sized), row: &T) {
                let _ = (fragment, row);
                outside(stringify!($name))
            }
        )*};
    }
    ldmatrix_forms! {
        ldmatrix_x1: 1, "";
        ldmatrix_x2: 2, "";
        ldmatrix_x4: 4, "";
        ldmatrix_x1_trans: 1, ".trans";
        ldmatrix_x2_trans: 2, ".trans";
        ldmatrix_x4_trans: 4, ".trans";
    }
    /// The warp's `c += a * b` on tensor cores (PTX `mma.sync.aligned`), A row-major M×K and B
    /// column-major K×N, each lane holding the fragment elements the PTX ISA assigns it. The
    /// shape follows from the fragments:
    ///
    /// | A, B elements | lengths of `a`, `b`, `c` | `c` | shape |
    /// | --- | --- | --- | --- |
    /// | f16 or bf16 | 8, 4, 4 | f32 | m16n8k16 |
    /// | f32 (used as tf32) | 4, 2, 4 | f32 | m16n8k8 |
    /// | i8 | 16, 8, 4 | i32 | m16n8k32 |
    ///
    /// With `g = lane / 4` and `t = lane % 4`, element `i` of `c` is C's
    /// `(g + 8 (i / 2), 2t + i % 2)`; for m16n8k16, `a[i]` is A's
    /// `(g + 8 ((i / 2) % 2), 2t + i % 2 + 8 (i / 4))` and `b[i]` is B's `(2t + i % 2 + 8 (i / 2), g)`;
    /// for m16n8k8, `a[i]` is `(g + 8 (i % 2), t + 4 (i / 2))` and `b[i]` is `(t + 4i, g)`; for
    /// m16n8k32, `a[i]` is `(g + 8 ((i / 4) % 2), 4t + i % 4 + 16 (i / 8))` and `b[i]` is
    /// `(4t + i % 4 + 16 (i / 4), g)`. Every lane of the warp calls it together. Each of `c`,
    /// `a` and `b` is a whole per-thread array of the fragment's length, or a part of a larger
    /// one (`&mut acc[4 * j..]`), which must hold the fragment.
    ///
    /// On the CPU backend the warp's lanes meet and each computes its part of `D` from the
    /// others' fragments with the same layout: integers exactly as the GPU; f32 by a sum in f64
    /// of exact products, rounded once (tf32 inputs truncated to their 10 mantissa bits first),
    /// within `K · 2⁻²³ · Σ|a·b|` of the GPU's, whose summation order is unspecified.
    pub fn mma_sync<A: Value, C: Value>(
        c: &mut (impl Fragment<C> + ?Sized),
        a: &(impl Fragment<A> + ?Sized),
        b: &(impl Fragment<A> + ?Sized),
    ) {
        let _ = (c, a, b);
        outside("mma_sync")
    }

    // ---- Hopper (sm_90): barriers in shared memory, TMA, warpgroup MMA ----

    /// Makes the shared `u64` at `bar` a barrier (PTX `mbarrier.init.shared.b64`) whose phases
    /// complete when `count` threads have arrived and the bytes they announced
    /// ([`mbarrier_arrive_expect_tx`]) have landed. One thread initializes it; then
    /// [`fence_proxy_async`] and `sync_threads()` make it visible to the block and to TMA.
    /// Requires sm_90.
    pub fn mbarrier_init(bar: &u64, count: u32) {
        let _ = (bar, count);
        outside("mbarrier_init")
    }
    /// This thread arrives at the barrier's current phase (`mbarrier.arrive`).
    pub fn mbarrier_arrive(bar: &u64) {
        let _ = bar;
        outside("mbarrier_arrive")
    }
    /// This thread arrives, and the current phase also waits for `bytes` bytes of
    /// [`tma_load_2d`] copies that name this barrier (`mbarrier.arrive.expect_tx`).
    pub fn mbarrier_arrive_expect_tx(bar: &u64, bytes: u32) {
        let _ = (bar, bytes);
        outside("mbarrier_arrive_expect_tx")
    }
    /// Waits until the barrier's phase of this parity (0 for phases 0, 2, 4, ..., 1 for the
    /// others) has completed (`mbarrier.try_wait.parity` in a loop). A barrier starts in phase
    /// 0: the first wait is `mbarrier_wait(&bar, 0)`, the next on it `1`, and so on.
    pub fn mbarrier_wait(bar: &u64, parity: u32) {
        let _ = (bar, parity);
        outside("mbarrier_wait")
    }
    /// Orders this thread's earlier shared-memory writes (and barrier initializations) before
    /// later reads and writes by the asynchronous proxy: [`wgmma`] operands written by threads,
    /// barriers used by TMA (`fence.proxy.async.shared::cta`).
    pub fn fence_proxy_async() {
        outside("fence_proxy_async")
    }
    /// Starts a copy of the tensor map's box at column `x`, row `y` of its array into shared
    /// memory from `dst` on (PTX `cp.async.bulk.tensor.2d`, the tensor memory accelerator):
    /// `box_rows` rows of `box_cols` elements, back to back and swizzled as the map says;
    /// elements past the array's edges read as zeros. The copy completes on barrier `bar`,
    /// which expects its bytes (`box_rows · box_cols · size_of::<T>()`, whole box even at
    /// edges). `dst` is 1024-byte aligned for a swizzled map (128 otherwise). One thread issues
    /// it. Requires sm_90; the CPU backend copies at once.
    pub fn tma_load_2d<T: Value>(dst: &mut T, map: &crate::TensorMap<'_>, x: i32, y: i32, bar: &u64) {
        let _ = (dst, map, x, y, bar);
        outside("tma_load_2d")
    }
    /// Makes the accumulators' earlier writes visible to the next [`wgmma`]s (`wgmma.fence`).
    /// Every thread of the warpgroup calls it before the first `wgmma` of a tile.
    pub fn wgmma_fence() {
        outside("wgmma_fence")
    }
    /// Closes the group of [`wgmma`]s issued since the last one (`wgmma.commit_group`).
    pub fn wgmma_commit() {
        outside("wgmma_commit")
    }
    /// Waits until at most `pending` (a constant, 0 to 7) groups of [`wgmma`]s are still running
    /// (`wgmma.wait_group`); their accumulators may be read after it.
    pub fn wgmma_wait(pending: usize) {
        let _ = pending;
        outside("wgmma_wait")
    }
    /// A warpgroup's (4 warps, 128 threads) `acc += A · Bᵀ` on Hopper's tensor cores
    /// (`wgmma.mma_async.sync.aligned.m64nNkK`), asynchronous: it completes at [`wgmma_wait`].
    ///
    /// | tiles of | K | `acc` of |
    /// | --- | --- | --- |
    /// | bf16, f16 | 16 | f32 |
    /// | f32 (used as tf32: the top 19 bits) | 8 | f32 |
    /// | i8 | 32 | i32 |
    ///
    /// A is 64×K and B N×K (B transposed: N rows of K), in shared memory from `a` and `b` on,
    /// both K-major in the layout that [`tma_load_2d`] writes with a 128-byte swizzle and
    /// 128-byte rows (64 16-bit elements, 32 f32, 128 i8): row `r` is 128 bytes past row
    /// `r - 1` within groups of 8 rows, the groups 1024 bytes apart, each row's 16-byte chunks
    /// permuted (`gpujit::codegen::bulk::wgmma_offset`). A K step is 32 bytes: the four steps
    /// of such a tile start at its bytes 0, 32, 64 and 96; the tile itself at a 1024-byte
    /// boundary.
    ///
    /// N is the accumulator's length times 2 (8 to 256, a multiple of 8): `acc` holds N / 2
    /// values a thread, element `i` of thread `t` being D's row `16 (t / 32) + (t % 32) / 4 +
    /// 8 ((i % 4) / 2)`, column `8 (i / 4) + 2 (t % 4) + i % 2` (each warp's 16 rows laid out
    /// as `mma_sync`'s m16n8 accumulators side by side). Every thread of the warpgroup calls
    /// it together. On the CPU backend each thread computes its part at once: floats summed
    /// in f64 and rounded once, integers exactly (i32 wrapping as the GPU's). Requires sm_90.
    pub fn wgmma<A: Value, C: Value>(acc: &mut (impl Fragment<C> + ?Sized), a: &A, b: &A) {
        let _ = (acc, a, b);
        outside("wgmma")
    }

    #[doc(hidden)]
    pub fn __ptx_output<T>() -> T {
        outside("ptx_asm!")
    }
    #[doc(hidden)]
    pub fn __ptx_inout<T>(v: T) -> T {
        let _ = v;
        outside("ptx_asm!")
    }
    #[doc(hidden)]
    pub fn __ptx_asm_outside() {
        outside("ptx_asm!")
    }

    /// Waits until every thread of the block has reached this point (`__syncthreads()`).
    pub fn sync_threads() {
        outside("sync_threads")
    }
    /// Waits until every thread of the grid has reached this point (cooperative groups'
    /// `grid.sync()`). The kernel is then launched cooperatively: its grid may not exceed the
    /// blocks the device can keep resident at once (an error says so before launching).
    pub fn grid_sync() {
        outside("grid_sync")
    }
    /// Orders this thread's memory accesses as seen by its block (`__threadfence_block()`).
    pub fn threadfence_block() {
        outside("threadfence_block")
    }
    /// Orders this thread's memory accesses as seen by the device (`__threadfence()`).
    pub fn threadfence() {
        outside("threadfence")
    }
    /// Orders this thread's memory accesses as seen by the host too (`__threadfence_system()`).
    pub fn threadfence_system() {
        outside("threadfence_system")
    }

    /// `value` of lane `src_lane` of the warp (`__shfl_sync`); lanes in `mask` take part.
    pub fn shfl_sync<T: Value>(mask: u32, value: T, src_lane: usize) -> T {
        let _ = (mask, value, src_lane);
        outside("shfl_sync")
    }
    /// `value` of lane `lane_id() - delta`; lanes below `delta` keep their own (`__shfl_up_sync`).
    pub fn shfl_up_sync<T: Value>(mask: u32, value: T, delta: usize) -> T {
        let _ = (mask, value, delta);
        outside("shfl_up_sync")
    }
    /// `value` of lane `lane_id() + delta`; lanes past 31 keep their own (`__shfl_down_sync`).
    pub fn shfl_down_sync<T: Value>(mask: u32, value: T, delta: usize) -> T {
        let _ = (mask, value, delta);
        outside("shfl_down_sync")
    }
    /// `value` of lane `lane_id() ^ lane_mask` (`__shfl_xor_sync`): butterfly reductions.
    pub fn shfl_xor_sync<T: Value>(mask: u32, value: T, lane_mask: usize) -> T {
        let _ = (mask, value, lane_mask);
        outside("shfl_xor_sync")
    }
    /// Bit `l` set where lane `l` (in `mask`) has `pred` true (`__ballot_sync`).
    pub fn ballot_sync(mask: u32, pred: bool) -> u32 {
        let _ = (mask, pred);
        outside("ballot_sync")
    }
    /// Whether `pred` holds for any lane in `mask` (`__any_sync`).
    pub fn any_sync(mask: u32, pred: bool) -> bool {
        let _ = (mask, pred);
        outside("any_sync")
    }
    /// Whether `pred` holds for every lane in `mask` (`__all_sync`).
    pub fn all_sync(mask: u32, pred: bool) -> bool {
        let _ = (mask, pred);
        outside("all_sync")
    }
    /// The lanes of the warp executing this (`__activemask`).
    pub fn active_mask() -> u32 {
        outside("active_mask")
    }
    /// The lanes in `mask` whose `value` equals this lane's (`__match_any_sync`; i32, u32, i64, u64).
    pub fn match_any_sync<T: Int>(mask: u32, value: T) -> u32 {
        let _ = (mask, value);
        outside("match_any_sync")
    }
    /// Waits for the lanes in `mask` (`__syncwarp`).
    pub fn sync_warp(mask: u32) -> u32 {
        let _ = mask;
        outside("sync_warp")
    }
    /// A block barrier returning how many threads had `pred` true (`__syncthreads_count`).
    pub fn sync_threads_count(pred: bool) -> i32 {
        let _ = pred;
        outside("sync_threads_count")
    }
    /// A block barrier returning whether every thread had `pred` true (`__syncthreads_and`).
    pub fn sync_threads_and(pred: bool) -> bool {
        let _ = pred;
        outside("sync_threads_and")
    }
    /// A block barrier returning whether any thread had `pred` true (`__syncthreads_or`).
    pub fn sync_threads_or(pred: bool) -> bool {
        let _ = pred;
        outside("sync_threads_or")
    }

    /// An array atomics can update: a `&mut [T]` parameter or a shared array.
    pub trait AtomicArray<T> {}
    impl<T> AtomicArray<T> for [T] {}
    impl<T, const N: usize> AtomicArray<T> for SharedArray<T, N> {}
    impl<T> AtomicArray<T> for DynamicShared<T> {}

    macro_rules! atomics {
        ($($name:ident: $bound:ident, $doc:literal;)*) => {$(
            #[doc = $doc]
            #[doc = ""]
            #[doc = "Returns the element's old value. Relaxed ordering, device scope, as CUDA's atomics."]
            pub fn $name<T: $bound, A: AtomicArray<T> + ?Sized>(array: &mut A, index: usize, value: T) -> T {
                let _ = (array, index, value);
                outside(stringify!($name))
            }
        )*};
    }
    atomics! {
        atomic_add: Number, "`array[index] += value`, atomically (i32, u32, i64, u64, f32, f64).";
        atomic_sub: Number, "`array[index] -= value`, atomically (i32, u32, i64, u64, f32, f64).";
        atomic_min: Number, "`array[index] = min(array[index], value)`, atomically.";
        atomic_max: Number, "`array[index] = max(array[index], value)`, atomically.";
        atomic_and: Int, "`array[index] &= value`, atomically (i32, u32, i64, u64).";
        atomic_or: Int, "`array[index] |= value`, atomically (i32, u32, i64, u64).";
        atomic_xor: Int, "`array[index] ^= value`, atomically (i32, u32, i64, u64).";
        atomic_exch: Number, "Stores `value` in `array[index]`, atomically.";
    }

    /// Compare-and-swap: if `array[index] == expected`, stores `new`; returns the old value.
    pub fn atomic_cas<T: Number, A: AtomicArray<T> + ?Sized>(array: &mut A, index: usize, expected: T, new: T) -> T {
        let _ = (array, index, expected, new);
        outside("atomic_cas")
    }

    /// `grid(1)`: the thread's absolute index in a 1-D grid (Numba's `cuda.grid(1)`). `grid(2)` and
    /// `grid(3)` give tuples: `let (x, y) = grid(2);`.
    pub fn grid(ndim: u32) -> usize {
        let _ = ndim;
        outside("grid")
    }

    /// `grid(2)` as rustc sees it: the thread's absolute (x, y) index in a 2-D grid.
    pub fn grid_2d() -> (usize, usize) {
        outside("grid")
    }
    /// `grid(3)` as rustc sees it: the thread's absolute (x, y, z) index in a 3-D grid.
    pub fn grid_3d() -> (usize, usize, usize) {
        outside("grid")
    }
    /// `grid_size(2)` as rustc sees it: the grid's threads along x and y.
    pub fn grid_size_2d() -> (usize, usize) {
        outside("grid_size")
    }
    /// `grid_size(3)` as rustc sees it: the grid's threads along x, y and z.
    pub fn grid_size_3d() -> (usize, usize, usize) {
        outside("grid_size")
    }
    // Every intrinsic and math method of the language's tables, called with the table's
    // signature: a stand-in missing here, or typed differently, fails gpujit's build.
    gpujit_macros::__check_kernel_prelude!();

    /// The thread's lane in its warp (0..32).
    pub fn lane_id() -> usize {
        outside("lane_id")
    }
    /// Threads a warp: 32.
    pub fn warp_size() -> usize {
        outside("warp_size")
    }

    /// `grid_size(1)`: the number of threads in a 1-D grid (Numba's `cuda.gridsize(1)`).
    pub fn grid_size(ndim: u32) -> usize {
        let _ = ndim;
        outside("grid_size")
    }
}

/// Inline PTX in a kernel or device function, GPU only (the CPU backend refuses the kernel with
/// `CompileError::Unsupported` naming it). A string literal of PTX, then operands in Rust's
/// `asm!` style: `in(reg) value` (any expression), `out(reg) var` and `inout(reg) var` (local
/// variables). `{N}` in the template is operand N in the order written; `{{` and `}}` are
/// braces (PTX's vector operands). Each operand takes a register of its type: 16-bit integers
/// and `f16`/`bf16` (their bits) a `.b16`, 32- and 64-bit integers a `.b32`/`.b64`, `f32` and
/// `f64` an `.f32`/`.f64`; `bool` and 8-bit integers are refused. `in(reg) &array[i]` passes the
/// element's address as a 64-bit integer in the array's state space (`.global` for an array
/// parameter of a kernel, `.shared` for a shared array, generic inside a device function), for
/// instructions that read it; `&mut array[i]` (of a `&mut` array) for ones that write it; with
/// bounds checks on, an index out of range skips the instructions and is reported. The
/// instructions are kept in place (side effects, memory clobbered).
///
/// ```no_run
/// use gpujit::prelude::*;
///
/// #[gpu_kernel]
/// fn asm_ops(a: &[u32], b: &[u32], x: &[f32], y: &[f32], hi_out: &mut [u32], out: &mut [f32]) {
///     let i = grid(1);
///     if i < out.len() {
///         let mut hi = 0u32;
///         ptx_asm!("mul.hi.u32 {0}, {1}, {2};", out(reg) hi, in(reg) a[i], in(reg) b[i]);
///         let mut acc = 1.0f32;
///         ptx_asm!("fma.rn.f32 {0}, {1}, {2}, {0};", inout(reg) acc, in(reg) x[i], in(reg) y[i]);
///         let mut v = 0.0f32;
///         ptx_asm!("ld.global.cg.f32 {0}, [{1}];", out(reg) v, in(reg) &x[i]);
///         let w = v + acc;
///         ptx_asm!("st.global.cs.f32 [{0}], {1};", in(reg) &mut out[i], in(reg) w);
///         hi_out[i] = hi;
///     }
/// }
/// # let _ = &asm_ops;
/// ```
///
/// (Not run here: inline PTX needs a GPU; `tests/golden/inline_ptx.rs` checks the PTX it gives.)
///
/// Outside a kernel (the host stand-in rustc type-checks kernel bodies with) it panics.
#[macro_export]
macro_rules! ptx_asm {
    ($template:literal $(,)?) => {{
        let _: &'static str = $template;
        $crate::kernel_prelude::__ptx_asm_outside()
    }};
    ($template:literal, $($operands:tt)+) => {{
        let _: &'static str = $template;
        $crate::__ptx_operands!($($operands)+);
        $crate::kernel_prelude::__ptx_asm_outside()
    }};
}

/// The operands of [`ptx_asm!`] for rustc: inputs read, outputs assigned.
#[doc(hidden)]
#[macro_export]
macro_rules! __ptx_operands {
    () => {};
    (in(reg) $e:expr $(, $($rest:tt)*)?) => {
        let _ = $e;
        $($crate::__ptx_operands!($($rest)*);)?
    };
    (out(reg) $v:ident $(, $($rest:tt)*)?) => {
        $v = $crate::kernel_prelude::__ptx_output();
        $($crate::__ptx_operands!($($rest)*);)?
    };
    (inout(reg) $v:ident $(, $($rest:tt)*)?) => {
        $v = $crate::kernel_prelude::__ptx_inout($v);
        $($crate::__ptx_operands!($($rest)*);)?
    };
}

/// Names a `#[gpu_device]` function as a value, for [`Expr::reduce`] (a user reduction):
/// `x.reduce(device_fn!(my_max), f32::MIN)`.
#[macro_export]
macro_rules! device_fn {
    ($($path:ident)::+) => {
        $crate::runtime::expr::callee($crate::__private::last_segment(stringify!($($path)::+)), $($path)::+::__gpujit_source)
    };
}

/// Launches a kernel with Numba's syntax: `launch!(kernel[grid, block](args...))`, optionally
/// `[grid, block, &stream]`, `[grid, block, shared_mem_bytes]` and
/// `[grid, block, &stream, shared_mem_bytes]`. Grid and block are a number or an `(x, y)` /
/// `(x, y, z)` tuple. Returns `gpujit::Result<()>`.
///
/// The arguments are typed by the kernel's parameters as a call's are: a literal passed to a
/// non-generic scalar parameter takes its type (`2.0` for `a: f32`), a wrong number of arguments
/// or a scalar of another type is a compile error, and an array passed by value says to borrow
/// it. (`kernel.launch(config, args)` checks the same at run time, naming the argument by its
/// position counted from 1.)
#[macro_export]
macro_rules! launch {
    ($kernel:ident [ $($cfg:expr),+ $(,)? ] ( $($arg:expr),* $(,)? )) => {
        $crate::Kernel::launch(&$kernel, $crate::LaunchConfig::from(($($cfg,)+)), $kernel.__gpujit_args(($($arg,)*)))
    };
    ($kernel:path [ $($cfg:expr),+ $(,)? ] ( $($arg:expr),* $(,)? )) => {
        $crate::Kernel::launch(&$kernel, $crate::LaunchConfig::from(($($cfg,)+)), $kernel.__gpujit_args(($($arg,)*)))
    };
}

/// The README's examples, compiled and run as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

#[doc(hidden)]
pub mod __private {
    pub use gpujit_codegen::ast;
    pub use gpujit_runtime::launch::{CaptureRead, CaptureWrite};
    /// The last segment of a path written as text (`a::b::f` → `f`).
    pub fn last_segment(path: &'static str) -> &'static str {
        path.rsplit("::").next().unwrap_or(path).trim()
    }
    pub use gpujit_codegen::complex::ComplexFn;
    pub use gpujit_codegen::math::MathFn;
    pub use gpujit_codegen::random::Draw;
    pub use gpujit_codegen::types::{FieldDef, StructDef};
    pub use gpujit_codegen::ScalarType;
    pub use gpujit_runtime::array::{GpuStruct, KernelType};

    /// A Rust constant a kernel names (a `const` item, an associated constant, a const generic
    /// parameter) as a typed literal of the source form: `#[gpu_kernel]` emits
    /// `constant(TILE)` where the body names `TILE`, evaluated when the source is built. A
    /// constant of another type is a compile error here.
    pub fn constant<T: KernelConstant>(value: T) -> ast::ExprKind {
        value.literal()
    }

    /// The scalar types a kernel can take a constant of.
    #[diagnostic::on_unimplemented(
        message = "a kernel can name constants of scalar types only, not `{Self}`",
        label = "a `const` of a scalar type (bool, integers, f32, f64, f16, bf16) is expected"
    )]
    pub trait KernelConstant: Copy {
        fn literal(self) -> ast::ExprKind;
    }
    macro_rules! int_constants {
        ($($t:ty: $bits:ty, $st:ident;)*) => {$(
            impl KernelConstant for $t {
                fn literal(self) -> ast::ExprKind {
                    // The value's bits in its type's width (a negative one two's-complement).
                    ast::ExprKind::Int(self as $bits as u128, Some(ScalarType::$st))
                }
            }
        )*};
    }
    int_constants! {
        i8: u8, I8; i16: u16, I16; i32: u32, I32; i64: u64, I64; isize: u64, I64;
        u8: u8, U8; u16: u16, U16; u32: u32, U32; u64: u64, U64; usize: u64, U64;
    }
    impl KernelConstant for bool {
        fn literal(self) -> ast::ExprKind {
            ast::ExprKind::Bool(self)
        }
    }
    macro_rules! float_constants {
        ($($t:ty: $st:ident, $wide:expr;)*) => {$(
            impl KernelConstant for $t {
                fn literal(self) -> ast::ExprKind {
                    ast::ExprKind::Float(($wide)(self), Some(ScalarType::$st))
                }
            }
        )*};
    }
    float_constants! {
        f32: F32, f64::from;
        f64: F64, |x: f64| x;
        half::f16: F16, half::f16::to_f64;
        half::bf16: BF16, half::bf16::to_f64;
    }

    /// The one value (a `Kernel`, a device function's source) of a const generic kernel's or
    /// device function's instance `K` (`tile::<128>`), made by `make` on first use. Lookups take
    /// no lock: instances are an append-only list behind an atomic pointer; only making one
    /// locks.
    pub fn instance<K: 'static, V: Send + Sync + 'static>(make: impl FnOnce() -> V) -> &'static V {
        use std::any::{Any, TypeId};
        use std::sync::atomic::{AtomicPtr, Ordering};
        struct Node {
            id: TypeId,
            value: &'static (dyn Any + Send + Sync),
            next: *const Node,
        }
        static HEAD: AtomicPtr<Node> = AtomicPtr::new(std::ptr::null_mut());
        static MAKING: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let id = TypeId::of::<K>();
        let find = || {
            let mut p = HEAD.load(Ordering::Acquire) as *const Node;
            while !p.is_null() {
                // SAFETY: nodes are leaked boxes, never freed or changed after being published
                // with Release (the Acquire load above sees them whole).
                let n = unsafe { &*p };
                if n.id == id {
                    return n.value.downcast_ref::<V>();
                }
                p = n.next;
            }
            None
        };
        if let Some(v) = find() {
            return v;
        }
        let _making = MAKING.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(v) = find() {
            return v;
        }
        let value: &'static V = Box::leak(Box::new(make()));
        let node = Box::leak(Box::new(Node { id, value, next: HEAD.load(Ordering::Acquire) }));
        HEAD.store(node, Ordering::Release);
        value
    }

    /// The name of a const generic kernel's or device function's instance: `f` and its values
    /// (`f_4_m3` for `f::<4, -3>`), an identifier.
    pub fn instance_name(base: &str, values: &[String]) -> String {
        let mut name = base.to_string();
        for v in values {
            name.push('_');
            name.extend(v.chars().map(|c| match c {
                '-' => 'm',
                c if c.is_ascii_alphanumeric() => c,
                _ => '_',
            }));
        }
        name
    }
    /// `forall!`'s `stream = s` takes a `&Stream` (a type error at the call site otherwise).
    pub fn as_stream(s: &crate::Stream) -> &crate::Stream {
        s
    }
}
