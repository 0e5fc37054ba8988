//! Launch configuration (Numba's `kernel[grid, block, stream, shared_bytes]`) and kernel arguments.

use crate::array::{view_address, ArrayView, ArrayViewMut, DeviceArray, Element, Layout};
use crate::device::{Device, Limits};
use crate::stream::Stream;
use gpujit_codegen::specialize::ArgType;
use gpujit_codegen::specialize::MAX_DIMS;
use gpujit_codegen::ScalarType;

/// Grid or block dimensions, as given (validated at launch against the device's limits).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Dims(pub [i64; 3]);

/// A value usable as one grid or block dimension: any integer type.
pub trait DimValue: Copy {
    fn to_i64(self) -> i64;
}

macro_rules! dim_value {
    ($($t:ty),*) => {$(
        impl DimValue for $t {
            #[inline]
            fn to_i64(self) -> i64 {
                i64::try_from(self).unwrap_or(i64::MAX)
            }
        }
    )*};
}
dim_value!(u8, u16, u32, u64, usize, i8, i16, i32, i64, isize);

/// Anything that gives grid or block dimensions: a number (`x`), `(x, y)` or `(x, y, z)`.
pub trait IntoDims {
    fn into_dims(self) -> Dims;
}

impl<T: DimValue> IntoDims for T {
    fn into_dims(self) -> Dims {
        Dims([self.to_i64(), 1, 1])
    }
}
impl<A: DimValue, B: DimValue> IntoDims for (A, B) {
    fn into_dims(self) -> Dims {
        Dims([self.0.to_i64(), self.1.to_i64(), 1])
    }
}
impl<A: DimValue, B: DimValue, C: DimValue> IntoDims for (A, B, C) {
    fn into_dims(self) -> Dims {
        Dims([self.0.to_i64(), self.1.to_i64(), self.2.to_i64()])
    }
}
impl IntoDims for Dims {
    fn into_dims(self) -> Dims {
        self
    }
}

/// Validated grid and block dimensions.
pub(crate) type GridBlock = ([u32; 3], [u32; 3]);

/// How to launch a kernel: grid and block dimensions, the stream (default: the device's default
/// stream) and the bytes of dynamic shared memory.
#[derive(Copy, Clone)]
pub struct LaunchConfig<'s> {
    pub grid: Dims,
    pub block: Dims,
    pub stream: Option<&'s Stream>,
    pub shared_mem_bytes: u32,
}

impl<'s> LaunchConfig<'s> {
    pub fn new(grid: impl IntoDims, block: impl IntoDims) -> LaunchConfig<'s> {
        LaunchConfig { grid: grid.into_dims(), block: block.into_dims(), stream: None, shared_mem_bytes: 0 }
    }

    /// One thread per element of `n`, with blocks of `block` threads.
    pub fn for_elements(n: usize, block: u32) -> LaunchConfig<'s> {
        let block = block.max(1);
        LaunchConfig::new(n.div_ceil(block as usize), block)
    }

    pub fn stream(mut self, stream: &'s Stream) -> LaunchConfig<'s> {
        self.stream = Some(stream);
        self
    }

    pub fn shared_mem_bytes(mut self, bytes: u32) -> LaunchConfig<'s> {
        self.shared_mem_bytes = bytes;
        self
    }

    /// Checks the dimensions against `limits`; `Ok(None)` for an empty grid (nothing to run).
    pub(crate) fn validate(&self, limits: &Limits) -> Result<Option<GridBlock>, String> {
        const AXES: [&str; 3] = ["x", "y", "z"];
        let mut grid = [0u32; 3];
        let mut block = [0u32; 3];
        for i in 0..3 {
            let b = self.block.0[i];
            if b <= 0 {
                return Err(format!("block dimension {} is {b}; it must be at least 1", AXES[i]));
            }
            if b > limits.max_block[i] as i64 {
                return Err(format!("block dimension {} is {b}; the device allows at most {}", AXES[i], limits.max_block[i]));
            }
            block[i] = b as u32;
            let g = self.grid.0[i];
            if g < 0 {
                return Err(format!("grid dimension {} is {g}; it cannot be negative", AXES[i]));
            }
            if g > limits.max_grid[i] as i64 {
                return Err(format!("grid dimension {} is {g}; the device allows at most {}", AXES[i], limits.max_grid[i]));
            }
            grid[i] = g as u32;
        }
        let threads = block.iter().map(|&b| b as u64).product::<u64>();
        if threads > limits.max_threads_per_block as u64 {
            return Err(format!(
                "a block of {}x{}x{} = {threads} threads exceeds the device's {} threads per block",
                block[0], block[1], block[2], limits.max_threads_per_block
            ));
        }
        if self.shared_mem_bytes > limits.max_shared {
            return Err(format!(
                "{} bytes of dynamic shared memory exceed the device's {} per block",
                self.shared_mem_bytes, limits.max_shared
            ));
        }
        if grid.contains(&0) {
            return Ok(None);
        }
        Ok(Some((grid, block)))
    }
}

impl<'s, G: IntoDims, B: IntoDims> From<(G, B)> for LaunchConfig<'s> {
    fn from((g, b): (G, B)) -> LaunchConfig<'s> {
        LaunchConfig::new(g, b)
    }
}

/// `launch!(k[config](..))` with a whole `LaunchConfig`.
impl<'s> From<(LaunchConfig<'s>,)> for LaunchConfig<'s> {
    fn from((c,): (LaunchConfig<'s>,)) -> LaunchConfig<'s> {
        c
    }
}

impl<'s, G: IntoDims, B: IntoDims> From<(G, B, &'s Stream)> for LaunchConfig<'s> {
    fn from((g, b, s): (G, B, &'s Stream)) -> LaunchConfig<'s> {
        LaunchConfig::new(g, b).stream(s)
    }
}

/// `launch!(k[grid, block, shared_bytes](..))`: dynamic shared memory on the default stream.
impl<'s, G: IntoDims, B: IntoDims> From<(G, B, u32)> for LaunchConfig<'s> {
    fn from((g, b, shared): (G, B, u32)) -> LaunchConfig<'s> {
        LaunchConfig::new(g, b).shared_mem_bytes(shared)
    }
}

impl<'s, G: IntoDims, B: IntoDims> From<(G, B, &'s Stream, u32)> for LaunchConfig<'s> {
    fn from((g, b, s, shared): (G, B, &'s Stream, u32)) -> LaunchConfig<'s> {
        LaunchConfig::new(g, b).stream(s).shared_mem_bytes(shared)
    }
}

/// One kernel argument as the launch sees it. The lifetime ties it to the borrowed array, so
/// the array outlives the launch call.
#[derive(Copy, Clone, Debug)]
pub enum Arg<'a> {
    /// A scalar's bits as [`Element::to_bits`] gives them.
    Scalar { ty: ScalarType, bits: u128 },
    /// A `#[gpu_struct]` by value: its bytes in `count` words (at most 8: 64 bytes), the last
    /// zero-padded; `count` 0 for a struct too large to pass by value.
    Struct { ty: ScalarType, words: [u64; 8], count: u8 },
    /// `ptr` is element 0; `shape` and `strides` (in elements) hold `ndim` entries.
    /// `wait`: a producer's stream (`CUstream`) whose work the launch must follow.
    Array {
        elem: ScalarType,
        ptr: u64,
        ndim: u8,
        shape: [u64; MAX_DIMS],
        strides: [i64; MAX_DIMS],
        writable: bool,
        device: &'a Device,
        wait: Option<u64>,
        /// Page-locked host memory every device can address (DLPack's CUDAHost): the array binds
        /// to a launch on the CPU or on a GPU, whichever the other arguments choose.
        any_device: bool,
        /// Memory gpujit does not own (DLPack, CUDA Array Interface, cudarc): a captured graph
        /// cannot keep it alive, so capture refuses it.
        foreign: bool,
    },
}

impl Arg<'_> {
    /// A placeholder to initialize argument buffers with.
    pub const NONE: Arg<'static> = Arg::Scalar { ty: ScalarType::Bool, bits: 0 };

    /// The argument's type as specialization sees it.
    pub fn arg_type(&self) -> ArgType {
        match *self {
            Arg::Scalar { ty, .. } | Arg::Struct { ty, .. } => ArgType::Scalar(ty),
            Arg::Array { elem, writable, ndim, shape, strides, .. } => {
                // C-contiguous: row-major without gaps (axes of extent 1 do not matter).
                let mut expect = 1i64;
                let mut contiguous = true;
                for d in (0..ndim as usize).rev() {
                    if shape[d] != 1 && strides[d] != expect {
                        contiguous = false;
                    }
                    expect = expect.wrapping_mul(shape[d] as i64);
                }
                ArgType::Array { elem, writable, ndim, contiguous }
            }
        }
    }
}

/// A value that can be passed to a kernel: a scalar, `&DeviceArray<T>` (read-only) or
/// `&mut DeviceArray<T>` (writable).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a kernel argument",
    label = "pass an array borrowed: `&x` for a `&[T]` parameter, `&mut x` for a `&mut [T]` one",
    note = "kernels take scalars by value and arrays (DeviceArray, views, ExternalArray) by reference"
)]
pub trait KernelArg<'a> {
    fn into_arg(self) -> Arg<'a>;
}

impl<'a, T: Element> KernelArg<'a> for T {
    #[inline]
    fn into_arg(self) -> Arg<'a> {
        value_arg(self)
    }
}

/// The largest struct a kernel takes by value, in bytes (a larger one goes in an array).
pub const MAX_STRUCT_BYTES: usize = 64;

/// A value as a kernel argument: a scalar's bits, or a struct's bytes (a struct over
/// [`MAX_STRUCT_BYTES`] is marked, `count` 0, and the launch refuses it with a typed error).
#[inline]
pub fn value_arg<T: Element>(v: T) -> Arg<'static> {
    match T::TYPE {
        ty @ ScalarType::Struct(_) if std::mem::size_of::<T>() > MAX_STRUCT_BYTES => Arg::Struct { ty, words: [0; 8], count: 0 },
        ty @ ScalarType::Struct(_) => {
            let mut words = [0u64; 8];
            let n = std::mem::size_of::<T>();
            // SAFETY: a #[gpu_struct] has no padding (its macro asserts it), so all its n <= 64
            // bytes are initialized; they are copied into the words' 64 bytes, which do not
            // overlap the value.
            unsafe { std::ptr::copy_nonoverlapping(&v as *const T as *const u8, words.as_mut_ptr() as *mut u8, n) };
            Arg::Struct { ty, words, count: n.div_ceil(8) as u8 }
        }
        ty => Arg::Scalar { ty, bits: v.to_bits() },
    }
}

impl<'a, T: Element> KernelArg<'a> for &'a DeviceArray<T> {
    #[inline]
    fn into_arg(self) -> Arg<'a> {
        whole_array_arg(self, self.address(), false)
    }
}

impl<'a, T: Element> KernelArg<'a> for &'a mut DeviceArray<T> {
    #[inline]
    fn into_arg(self) -> Arg<'a> {
        let ptr = self.address_mut();
        whole_array_arg(self, ptr, true)
    }
}

/// A whole array, row-major: the launch path's common case, built without allocating.
#[inline]
fn whole_array_arg<T: Element>(array: &DeviceArray<T>, ptr: u64, writable: bool) -> Arg<'_> {
    let n = array.shape.len().min(MAX_DIMS);
    let mut shape = [0u64; MAX_DIMS];
    let mut strides = [0i64; MAX_DIMS];
    let mut stride = 1i64;
    for d in (0..n).rev() {
        shape[d] = array.shape[d] as u64;
        strides[d] = stride;
        stride = stride.wrapping_mul(array.shape[d].max(1) as i64);
    }
    own_arg(array, ptr, n as u8, shape, strides, writable)
}

/// An argument of one of gpujit's own arrays.
#[inline]
fn own_arg<T: Element>(
    array: &DeviceArray<T>,
    ptr: u64,
    ndim: u8,
    shape: [u64; MAX_DIMS],
    strides: [i64; MAX_DIMS],
    writable: bool,
) -> Arg<'_> {
    Arg::Array { elem: T::TYPE, ptr, ndim, shape, strides, writable, device: &array.device, wait: None, any_device: false, foreign: false }
}

// Through one more reference, for code that takes `&x` of an `x` that is already a reference
// (what `forall!` generates for its captures).
impl<'a, 'b: 'a, T: Element> KernelArg<'a> for &'a &'b DeviceArray<T> {
    #[inline]
    fn into_arg(self) -> Arg<'a> {
        (*self).into_arg()
    }
}

impl<'a, 'b: 'a, T: Element> KernelArg<'a> for &'a &'b mut DeviceArray<T> {
    #[inline]
    fn into_arg(self) -> Arg<'a> {
        (&**self).into_arg()
    }
}

impl<'a, 'b: 'a, T: Element> KernelArg<'a> for &'a mut &'b mut DeviceArray<T> {
    #[inline]
    fn into_arg(self) -> Arg<'a> {
        (&mut **self).into_arg()
    }
}

/// How `forall!` passes its captures: by method call, so `x` may be an array, a view or a
/// reference to one (method calls reborrow through `&` and `&mut`).
#[doc(hidden)]
pub trait CaptureRead {
    fn capture_read(&self) -> Arg<'_>;
}

#[doc(hidden)]
pub trait CaptureWrite {
    fn capture_write(&mut self) -> Arg<'_>;
}

impl<T: Element> CaptureRead for T {
    fn capture_read(&self) -> Arg<'_> {
        (*self).into_arg()
    }
}

impl<T: Element> CaptureRead for DeviceArray<T> {
    fn capture_read(&self) -> Arg<'_> {
        self.into_arg()
    }
}

impl<T: Element> CaptureRead for ArrayView<'_, T> {
    fn capture_read(&self) -> Arg<'_> {
        self.into_arg()
    }
}

impl<T: Element> CaptureRead for ArrayViewMut<'_, T> {
    fn capture_read(&self) -> Arg<'_> {
        array_arg(self.array, self.array.address(), &self.layout, false)
    }
}

impl<T: Element> CaptureWrite for DeviceArray<T> {
    fn capture_write(&mut self) -> Arg<'_> {
        self.into_arg()
    }
}

impl<T: Element> CaptureWrite for ArrayViewMut<'_, T> {
    fn capture_write(&mut self) -> Arg<'_> {
        self.into_arg()
    }
}

impl<'a> KernelArg<'a> for Arg<'a> {
    #[inline]
    fn into_arg(self) -> Arg<'a> {
        self
    }
}

fn array_arg<'a, T: Element>(array: &'a DeviceArray<T>, base: u64, layout: &Layout, writable: bool) -> Arg<'a> {
    let (shape, strides) = layout.dims();
    own_arg(array, view_address::<T>(base, layout), layout.shape.len() as u8, shape, strides, writable)
}

impl<'a, T: Element> KernelArg<'a> for ArrayView<'a, T> {
    #[inline]
    fn into_arg(self) -> Arg<'a> {
        array_arg(self.array, self.array.address(), &self.layout, false)
    }
}

impl<'a, 'b: 'a, T: Element> KernelArg<'a> for &'a ArrayView<'b, T> {
    #[inline]
    fn into_arg(self) -> Arg<'a> {
        array_arg(self.array, self.array.address(), &self.layout, false)
    }
}

impl<'a, T: Element> KernelArg<'a> for ArrayViewMut<'a, T> {
    #[inline]
    fn into_arg(self) -> Arg<'a> {
        let ptr = self.array.address_mut();
        array_arg(self.array, ptr, &self.layout, true)
    }
}

impl<'a, 'b: 'a, T: Element> KernelArg<'a> for &'a mut ArrayViewMut<'b, T> {
    #[inline]
    fn into_arg(self) -> Arg<'a> {
        let ptr = self.array.address_mut();
        array_arg(self.array, ptr, &self.layout, true)
    }
}

/// The most arguments one launch takes.
pub const MAX_ARGS: usize = 24;

/// A tuple of kernel arguments: `()`, `(a,)`, `(a, b)`, ... up to 12 elements.
pub trait KernelArgs<'a> {
    /// Writes the arguments to `out` and returns how many there are.
    fn collect(self, out: &mut [Arg<'a>; MAX_ARGS]) -> usize;

    /// `f` on the arguments, collected into a slice of exactly their number (more than
    /// [`MAX_ARGS`] where a slice holds more). A launch's path: it fills no buffer of
    /// [`MAX_ARGS`] placeholders.
    #[inline]
    fn with_slice<R>(self, f: impl FnOnce(&[Arg<'a>]) -> R) -> R
    where
        Self: Sized,
    {
        let mut buf = [Arg::NONE; MAX_ARGS];
        let n = self.collect(&mut buf);
        f(&buf[..n.min(MAX_ARGS)])
    }
}

macro_rules! kernel_args {
    ($($n:tt $t:ident),*) => {
        impl<'a, $($t: KernelArg<'a>),*> KernelArgs<'a> for ($($t,)*) {
            #[allow(unused_variables, unused_mut)]
            #[inline]
            fn collect(self, out: &mut [Arg<'a>; MAX_ARGS]) -> usize {
                let mut n = 0;
                $( out[$n] = self.$n.into_arg(); n += 1; )*
                n
            }

            #[allow(unused_variables)]
            #[inline]
            fn with_slice<R>(self, f: impl FnOnce(&[Arg<'a>]) -> R) -> R {
                f(&[$( self.$n.into_arg() ),*])
            }
        }
    };
}
kernel_args!();
kernel_args!(0 A);
kernel_args!(0 A, 1 B);
kernel_args!(0 A, 1 B, 2 C);
kernel_args!(0 A, 1 B, 2 C, 3 D);
kernel_args!(0 A, 1 B, 2 C, 3 D, 4 E);
kernel_args!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F);
kernel_args!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G);
kernel_args!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H);
kernel_args!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H, 8 I);
kernel_args!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H, 8 I, 9 J);
kernel_args!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H, 8 I, 9 J, 10 K);
kernel_args!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H, 8 I, 9 J, 10 K, 11 L);

impl<'a> KernelArgs<'a> for &[Arg<'a>] {
    fn collect(self, out: &mut [Arg<'a>; MAX_ARGS]) -> usize {
        let n = self.len().min(MAX_ARGS);
        out[..n].copy_from_slice(&self[..n]);
        self.len()
    }

    #[inline]
    fn with_slice<R>(self, f: impl FnOnce(&[Arg<'a>]) -> R) -> R {
        f(self)
    }
}
