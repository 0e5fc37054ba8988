//! `DeviceArray<T>`: the runtime's owning 1-D array, on the CPU backend or a GPU.

use crate::device::Device;
use crate::error::{Error, Result};
use gpujit_codegen::specialize::MAX_DIMS;
use gpujit_codegen::ScalarType;

mod sealed {
    pub trait Sealed {}
}

/// A scalar type arrays can hold and kernels can take: `bool`, the integers, the floats and
/// `num_complex::Complex<f32>` / `Complex<f64>`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a scalar type of gpujit",
    label = "an array is passed to a kernel borrowed: `&x` for a `&[T]` parameter, `&mut x` for a `&mut [T]` one",
    note = "scalars (bool, i8..i64, u8..u64, isize, usize, f16, bf16, f32, f64, Complex<f32>, Complex<f64>) are passed by value"
)]
pub trait Element: sealed::Sealed + Copy + Default + Send + Sync + 'static {
    /// The kernel-language type of this Rust type (`usize` is `u64`).
    const TYPE: ScalarType;
    /// The value's bits, zero-extended, as kernel argument slots hold them: a complex
    /// number's real part's in the low 64 bits, its imaginary part's in the high 64.
    fn to_bits(self) -> u128;
}

macro_rules! element {
    ($($t:ty => $v:ident, $bits:expr;)*) => {$(
        impl sealed::Sealed for $t {}
        impl Element for $t {
            const TYPE: ScalarType = ScalarType::$v;
            #[inline]
            fn to_bits(self) -> u128 {
                let f: fn($t) -> u64 = $bits;
                f(self) as u128
            }
        }
    )*};
}

element! {
    bool => Bool, |v| v as u64;
    i8 => I8, |v| v as u8 as u64;
    i16 => I16, |v| v as u16 as u64;
    i32 => I32, |v| v as u32 as u64;
    i64 => I64, |v| v as u64;
    isize => I64, |v| v as u64;
    u8 => U8, |v| v as u64;
    u16 => U16, |v| v as u64;
    u32 => U32, |v| v as u64;
    u64 => U64, |v| v;
    usize => U64, |v| v as u64;
    f32 => F32, |v| v.to_bits() as u64;
    f64 => F64, |v| v.to_bits();
    half::f16 => F16, |v| v.to_bits() as u64;
    half::bf16 => BF16, |v| v.to_bits() as u64;
}

/// A `#[gpu_struct]`: a `#[repr(C)]` struct without padding whose fields are kernel types. The
/// attribute implements it; through it the struct is an [`Element`].
///
/// # Safety
/// `DEF` describes the type's real layout (size, alignment, each field's type, length and offset,
/// as `#[gpu_struct]` computes them), the type has no padding bytes, and every field is a kernel
/// type ([`KernelType`]).
#[doc(hidden)]
pub unsafe trait GpuStruct: Copy + Default + Send + Sync + 'static {
    const DEF: &'static gpujit_codegen::types::StructDef;
}

impl<T: GpuStruct> sealed::Sealed for T {}
impl<T: GpuStruct> Element for T {
    const TYPE: ScalarType = ScalarType::Struct(T::DEF);
    /// Unused: a struct travels by its bytes (see `launch::value_arg`).
    #[inline]
    fn to_bits(self) -> u128 {
        0
    }
}

/// An element type DLPack and the CUDA Array Interface have a dtype for: every [`Element`] but
/// the `#[gpu_struct]`s (export a struct's fields as arrays of their own).
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no DLPack or CUDA Array Interface dtype",
    label = "a #[gpu_struct] array cannot be exported",
    note = "DLPack and the CUDA Array Interface describe arrays of scalars and complex numbers; export each field as an array of its own"
)]
pub trait InteropElement: Element {}

macro_rules! interop_elements {
    ($($t:ty),*) => {$( impl InteropElement for $t {} )*};
}
interop_elements!(
    bool,
    i8,
    i16,
    i32,
    i64,
    isize,
    u8,
    u16,
    u32,
    u64,
    usize,
    f32,
    f64,
    half::f16,
    half::bf16,
    num_complex::Complex<f32>,
    num_complex::Complex<f64>
);

/// A type kernels may name: a scalar type, a complex type or a `#[gpu_struct]` (every
/// [`Element`]). Generated code names a parameter's, a field's or an array's type through it, so
/// a type that is none of those is an error at the type.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a type kernels can take",
    label = "not a scalar type, nor a complex one, nor a #[gpu_struct]",
    note = "kernels take bool, i8..i64, u8..u64, isize, usize, f16, bf16, f32, f64, Complex<f32>, Complex<f64>, and #[repr(C)] structs of those marked #[gpu_struct]"
)]
pub trait KernelType {
    const TYPE: ScalarType;
}

impl<T: Element> KernelType for T {
    const TYPE: ScalarType = T::TYPE;
}

impl sealed::Sealed for num_complex::Complex<f32> {}
impl Element for num_complex::Complex<f32> {
    const TYPE: ScalarType = ScalarType::Complex32;
    #[inline]
    fn to_bits(self) -> u128 {
        self.re.to_bits() as u128 | (self.im.to_bits() as u128) << 64
    }
}

impl sealed::Sealed for num_complex::Complex<f64> {}
impl Element for num_complex::Complex<f64> {
    const TYPE: ScalarType = ScalarType::Complex64;
    #[inline]
    fn to_bits(self) -> u128 {
        self.re.to_bits() as u128 | (self.im.to_bits() as u128) << 64
    }
}

/// An owning 1-D array of `T` on a [`Device`].
///
/// On the CPU backend it is host memory; on a GPU, device memory freed on drop (after the work
/// using it has finished). An owning array is C-contiguous (row-major) with a shape (1-D unless
/// made with [`DeviceArray::from_shape`] or [`DeviceArray::reshape`]). Pass `&array` to a `&[T]`
/// or `&Array<T, N>` kernel parameter and `&mut array` to a `&mut` one; [`DeviceArray::view`]
/// and [`DeviceArray::view_mut`] give strided views (transposed, sliced) without copies.
pub struct DeviceArray<T: Element> {
    pub(crate) device: Device,
    /// The data's address on the device (a host address on the CPU backend), from the
    /// backend's `alloc`; 0 for an empty array on a GPU.
    pub(crate) ptr: u64,
    pub(crate) _elem: std::marker::PhantomData<T>,
    pub(crate) len: usize,
    pub(crate) shape: Vec<usize>,
    /// For memory another library owns ([`DeviceArray::from_foreign`]): what keeps it alive,
    /// dropped (instead of the memory freed) with the array. In a mutex only to be `Sync`.
    pub(crate) owner: Option<std::sync::Mutex<Box<dyn Send>>>,
}

impl<T: Element> DeviceArray<T> {
    /// Copies `data` to a new array on `device`.
    pub fn from_slice(device: &Device, data: &[T]) -> Result<DeviceArray<T>> {
        let arr = DeviceArray::alloc(device, &[data.len()], false)?;
        device.backend().write(arr.ptr, as_bytes(data))?;
        Ok(arr)
    }

    /// A new array of `len` zeros (`false` for `bool`).
    pub fn zeros(device: &Device, len: usize) -> Result<DeviceArray<T>> {
        DeviceArray::alloc(device, &[len], true)
    }

    /// A new C-contiguous array of `shape` whose contents are not initialized on a GPU (zeros on
    /// the CPU backend). Only for outputs a kernel writes completely before anyone reads them
    /// (gpujit's own fills use it; not for users, who get `zeros`).
    #[doc(hidden)]
    pub fn uninit_shape(device: &Device, shape: &[usize]) -> Result<DeviceArray<T>> {
        let len: usize = shape.iter().product();
        check_shape(shape, len)?;
        DeviceArray::alloc(device, shape, false)
    }

    /// A new C-contiguous array of `shape` from the device's allocator (every element type's
    /// zero is all zero bits, so a zeroed allocation holds valid elements).
    fn alloc(device: &Device, shape: &[usize], zeroed: bool) -> Result<DeviceArray<T>> {
        let len: usize = shape.iter().product();
        let bytes = len
            .checked_mul(std::mem::size_of::<T>())
            .filter(|b| *b <= isize::MAX as usize)
            .ok_or_else(|| Error::Array(format!("an array of {len} elements of {} is too large", T::TYPE)))?;
        let ptr = device.backend().alloc(bytes, zeroed)?;
        Ok(DeviceArray { device: device.clone(), ptr, len, shape: shape.to_vec(), _elem: std::marker::PhantomData, owner: None })
    }

    /// An array over memory another library owns, without a copy: `len(shape)` elements at `ptr`
    /// on `device`, C-contiguous. `owner` (an imported DLPack tensor, a Python object, ...) keeps
    /// the memory alive: it is dropped when the array is (after the graphs that use it), and the
    /// memory is never freed by gpujit. Kernels may write the array.
    ///
    /// # Safety
    /// `ptr` must address `shape`'s product of valid, writable `T`s on `device` (host memory on
    /// the CPU backend), aligned for `T`, that stay valid and are not freed while `owner` lives.
    pub unsafe fn from_foreign(device: &Device, ptr: u64, shape: &[usize], owner: Box<dyn Send>) -> Result<DeviceArray<T>> {
        let len: usize = shape.iter().product();
        check_shape(shape, len)?;
        if len > 0 && (ptr == 0 || ptr % std::mem::align_of::<T>() as u64 != 0) {
            return Err(crate::InteropError::Pointer { ptr, align: std::mem::align_of::<T>() as u64, elem: T::TYPE }.into());
        }
        Ok(DeviceArray {
            device: device.clone(),
            ptr,
            len,
            shape: shape.to_vec(),
            _elem: std::marker::PhantomData,
            owner: Some(std::sync::Mutex::new(owner)),
        })
    }

    /// Whether the memory belongs to another library ([`DeviceArray::from_foreign`]).
    pub fn is_foreign(&self) -> bool {
        self.owner.is_some()
    }

    /// Copies the array back into a `Vec`, waiting for the work that writes it.
    pub fn to_vec(&self) -> Result<Vec<T>> {
        let mut out = vec![T::default(); self.len];
        self.device.backend().read(as_bytes_mut(&mut out), self.ptr)?;
        Ok(out)
    }

    /// The first element's first `size_of::<U>()` bytes seen as a `U` (a one-element result
    /// written into scratch memory), waiting for the work that writes it.
    pub(crate) fn read_first_as<U: Element>(&self) -> Result<U> {
        if std::mem::size_of::<U>() > std::mem::size_of::<T>() * self.len {
            return Err(Error::Array(format!("an array of {} {} cannot hold a {}", self.len, T::TYPE, U::TYPE)));
        }
        let mut out = U::default();
        self.device.backend().read(as_bytes_mut(std::slice::from_mut(&mut out)), self.ptr)?;
        Ok(out)
    }

    /// Overwrites the array with `data`, which must have the same length.
    pub fn copy_from(&mut self, data: &[T]) -> Result<()> {
        if data.len() != self.len {
            return Err(Error::Array(format!("copy_from: the array has {} elements but the slice {}", self.len, data.len())));
        }
        self.device.backend().write(self.ptr, as_bytes(data))
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Copies `data` to a new C-contiguous array of `shape` on `device`.
    pub fn from_shape(device: &Device, shape: &[usize], data: &[T]) -> Result<DeviceArray<T>> {
        DeviceArray::from_slice(device, data)?.reshape(shape)
    }

    /// A new C-contiguous array of `shape` filled with zeros.
    pub fn zeros_shape(device: &Device, shape: &[usize]) -> Result<DeviceArray<T>> {
        DeviceArray::zeros(device, shape.iter().product())?.reshape(shape)
    }

    /// The same elements with another shape (the number of elements must not change).
    pub fn reshape(mut self, shape: &[usize]) -> Result<DeviceArray<T>> {
        check_shape(shape, self.len)?;
        self.shape = shape.to_vec();
        Ok(self)
    }

    /// The extent of each axis.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    pub fn ndim(&self) -> usize {
        self.shape.len()
    }

    /// A read-only view of the whole array, to transpose, slice or reshape without copying.
    pub fn view(&self) -> ArrayView<'_, T> {
        ArrayView { layout: Layout::contiguous(&self.shape), array: self }
    }

    /// A writable view of the whole array.
    pub fn view_mut(&mut self) -> ArrayViewMut<'_, T> {
        ArrayViewMut { layout: Layout::contiguous(&self.shape), array: self }
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The address of the first element: a device pointer on CUDA, a host pointer on the CPU
    /// (as CuPy's `data.ptr`). Valid while the array lives.
    pub fn address(&self) -> u64 {
        self.ptr
    }

    /// The data address for a kernel that writes the array.
    pub(crate) fn address_mut(&mut self) -> u64 {
        self.ptr
    }
}

impl<T: Element> Drop for DeviceArray<T> {
    fn drop(&mut self) {
        // Now, or when the last graph using the memory is dropped.
        let (ptr, bytes, device) = (self.ptr, self.len * std::mem::size_of::<T>(), self.device.clone());
        match self.owner.take() {
            // Another library's memory: its owner lets it go, never freed here.
            Some(owner) => crate::graph::release(self.device.id(), ptr, ptr + bytes as u64, move || drop(owner)),
            None => crate::graph::release(self.device.id(), ptr, ptr + bytes as u64, move || device.backend().free(ptr, bytes)),
        }
    }
}

/// The bytes of a slice of elements (every `Element` is plain data).
pub(crate) fn as_bytes<T: Element>(s: &[T]) -> &[u8] {
    // SAFETY: the slice's memory is `size_of_val(s)` initialized bytes; u8 has no alignment.
    unsafe { std::slice::from_raw_parts(s.as_ptr() as *const u8, std::mem::size_of_val(s)) }
}

/// The bytes of a slice of elements, for writing: callers write only bytes of valid values (a
/// copy of elements of the same type).
pub(crate) fn as_bytes_mut<T: Element>(s: &mut [T]) -> &mut [u8] {
    // SAFETY: as `as_bytes`, exclusively borrowed; the bytes written are those of `T` values.
    unsafe { std::slice::from_raw_parts_mut(s.as_mut_ptr() as *mut u8, std::mem::size_of_val(s)) }
}

impl<T: Element + std::fmt::Debug> std::fmt::Debug for DeviceArray<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DeviceArray<{}>[{}] on {}", T::TYPE, self.len, self.device.id())
    }
}

fn check_shape(shape: &[usize], len: usize) -> Result<()> {
    if shape.is_empty() || shape.len() > MAX_DIMS {
        return Err(Error::Array(format!("arrays have 1 to {MAX_DIMS} dimensions, not {}", shape.len())));
    }
    if shape.iter().product::<usize>() != len {
        return Err(Error::Array(format!("shape {shape:?} holds {} elements, the array {len}", shape.iter().product::<usize>())));
    }
    Ok(())
}

/// Where a view's elements lie in its array: element `[i0, i1, ..]` is at
/// `offset + Σ i_d * strides[d]` (in elements). Strides may be negative (reversed axes) or zero
/// (broadcast).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    pub offset: isize,
    pub shape: Vec<usize>,
    pub strides: Vec<isize>,
}

impl Layout {
    /// The row-major layout of `shape`.
    pub fn contiguous(shape: &[usize]) -> Layout {
        let mut strides = vec![0isize; shape.len()];
        let mut s = 1isize;
        for d in (0..shape.len()).rev() {
            strides[d] = s;
            s *= shape[d].max(1) as isize;
        }
        Layout { offset: 0, shape: shape.to_vec(), strides }
    }

    /// Whether the elements are row-major without gaps (axes of extent 1 do not matter).
    pub fn is_contiguous(&self) -> bool {
        let mut expect = 1isize;
        for d in (0..self.shape.len()).rev() {
            if self.shape[d] != 1 && self.strides[d] != expect {
                return false;
            }
            expect *= self.shape[d] as isize;
        }
        true
    }

    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Checks that every element lies within an array of `len` elements.
    fn check(&self, len: usize) -> Result<()> {
        if self.shape.is_empty() || self.shape.len() > MAX_DIMS {
            return Err(Error::Array(format!("views have 1 to {MAX_DIMS} dimensions, not {}", self.shape.len())));
        }
        if self.is_empty() {
            return Ok(());
        }
        let (mut lo, mut hi) = (self.offset as i128, self.offset as i128);
        for (n, s) in self.shape.iter().zip(&self.strides) {
            let reach = (*n as i128 - 1) * *s as i128;
            if reach < 0 {
                lo += reach;
            } else {
                hi += reach;
            }
        }
        if lo < 0 || hi >= len as i128 {
            return Err(Error::Array(format!("the view {self:?} reaches elements {lo}..={hi} of an array of {len}")));
        }
        Ok(())
    }

    fn transposed(mut self) -> Layout {
        self.shape.reverse();
        self.strides.reverse();
        self
    }

    fn permuted(self, axes: &[usize]) -> Result<Layout> {
        let n = self.shape.len();
        let mut seen = vec![false; n];
        if axes.len() != n || axes.iter().any(|a| *a >= n || std::mem::replace(&mut seen[*a], true)) {
            return Err(Error::Array(format!("{axes:?} is not a permutation of the {n} axes")));
        }
        Ok(Layout {
            offset: self.offset,
            shape: axes.iter().map(|a| self.shape[*a]).collect(),
            strides: axes.iter().map(|a| self.strides[*a]).collect(),
        })
    }

    /// `start..end` with `step` along `axis` (NumPy's `a[start:end:step]`; a negative step walks
    /// from `end - 1` down to `start`).
    fn sliced(mut self, axis: usize, start: usize, end: usize, step: isize) -> Result<Layout> {
        let n =
            *self.shape.get(axis).ok_or_else(|| Error::Array(format!("axis {axis} does not exist in a {}-D view", self.shape.len())))?;
        if step == 0 {
            return Err(Error::Array("a slice step cannot be 0".into()));
        }
        if start > end || end > n {
            return Err(Error::Array(format!("slice {start}..{end} of axis {axis} with extent {n}")));
        }
        let count = (end - start).div_ceil(step.unsigned_abs());
        let first = if step > 0 { start } else { end.saturating_sub(1) };
        if count > 0 {
            self.offset += first as isize * self.strides[axis];
        }
        self.shape[axis] = count;
        self.strides[axis] *= step;
        Ok(self)
    }

    /// NumPy's broadcasting to `shape`: axes are matched from the last; a missing or extent-1
    /// axis repeats (stride 0), any other must equal the target's.
    fn broadcast(self, shape: &[usize]) -> Result<Layout> {
        if shape.len() < self.shape.len() || shape.len() > MAX_DIMS {
            return Err(Error::Array(format!("cannot broadcast shape {:?} to {shape:?}", self.shape)));
        }
        let extra = shape.len() - self.shape.len();
        let mut strides = vec![0isize; shape.len()];
        for d in 0..self.shape.len() {
            let (have, want) = (self.shape[d], shape[extra + d]);
            strides[extra + d] = match (have, want) {
                (h, w) if h == w => self.strides[d],
                (1, _) => 0,
                _ => return Err(Error::Array(format!("cannot broadcast shape {:?} to {shape:?}", self.shape))),
            };
        }
        Ok(Layout { offset: self.offset, shape: shape.to_vec(), strides })
    }

    fn reshaped(self, shape: &[usize]) -> Result<Layout> {
        if !self.is_contiguous() {
            return Err(Error::Array("only a contiguous view can be reshaped".into()));
        }
        check_shape(shape, self.len())?;
        Ok(Layout { offset: self.offset, ..Layout::contiguous(shape) })
    }

    /// The argument slots' extents and strides, padded to MAX_DIMS.
    pub(crate) fn dims(&self) -> ([u64; MAX_DIMS], [i64; MAX_DIMS]) {
        let mut shape = [0u64; MAX_DIMS];
        let mut strides = [0i64; MAX_DIMS];
        for d in 0..self.shape.len().min(MAX_DIMS) {
            shape[d] = self.shape[d] as u64;
            strides[d] = self.strides[d] as i64;
        }
        (shape, strides)
    }
}

/// A read-only strided view of a [`DeviceArray`], for `&[T]` and `&Array<T, N>` parameters.
pub struct ArrayView<'a, T: Element> {
    pub(crate) array: &'a DeviceArray<T>,
    pub(crate) layout: Layout,
}

impl<T: Element> Clone for ArrayView<'_, T> {
    fn clone(&self) -> Self {
        ArrayView { array: self.array, layout: self.layout.clone() }
    }
}

/// A writable strided view of a [`DeviceArray`], for `&mut` parameters.
pub struct ArrayViewMut<'a, T: Element> {
    pub(crate) array: &'a mut DeviceArray<T>,
    pub(crate) layout: Layout,
}

macro_rules! view_methods {
    ($view:ident) => {
        impl<'a, T: Element> $view<'a, T> {
            pub fn layout(&self) -> &Layout {
                &self.layout
            }

            pub fn shape(&self) -> &[usize] {
                &self.layout.shape
            }

            /// The axes in reverse order (a matrix's transpose).
            pub fn t(mut self) -> Self {
                self.layout = self.layout.transposed();
                self
            }

            /// Axis `d` of the result is axis `axes[d]` of this view.
            pub fn permuted(mut self, axes: &[usize]) -> Result<Self> {
                self.layout = self.layout.permuted(axes)?;
                Ok(self)
            }

            /// Elements `start..end` of `axis`, every `step`-th (negative: backwards from `end - 1`).
            pub fn slice(mut self, axis: usize, range: std::ops::Range<usize>, step: isize) -> Result<Self> {
                self.layout = self.layout.sliced(axis, range.start, range.end, step)?;
                self.layout.check(self.array.len)?;
                Ok(self)
            }

            /// The view repeated to `shape` with NumPy's broadcasting rules (zero strides, no copy).
            pub fn broadcast_to(mut self, shape: &[usize]) -> Result<Self> {
                self.layout = self.layout.broadcast(shape)?;
                Ok(self)
            }

            /// The same elements with another shape (contiguous views only).
            pub fn reshape(mut self, shape: &[usize]) -> Result<Self> {
                self.layout = self.layout.reshaped(shape)?;
                Ok(self)
            }

            /// The view's elements, row-major, copied back to the host.
            pub fn to_vec(&self) -> Result<Vec<T>> {
                let all = self.array.to_vec()?;
                let l = &self.layout;
                let mut out = Vec::with_capacity(l.len());
                let mut idx = vec![0usize; l.shape.len()];
                for _ in 0..l.len() {
                    let at = l.offset + idx.iter().zip(&l.strides).map(|(i, s)| *i as isize * s).sum::<isize>();
                    out.push(all[at as usize]);
                    for d in (0..idx.len()).rev() {
                        idx[d] += 1;
                        if idx[d] < l.shape[d] {
                            break;
                        }
                        idx[d] = 0;
                    }
                }
                Ok(out)
            }
        }
    };
}
view_methods!(ArrayView);
view_methods!(ArrayViewMut);

/// The data pointer of element 0 of a view of `array`.
pub(crate) fn view_address<T: Element>(base: u64, layout: &Layout) -> u64 {
    (base as i64).wrapping_add(layout.offset as i64 * T::TYPE.size_bytes() as i64) as u64
}

impl<T: Element> DeviceArray<T> {
    /// Copies a host `ndarray` array (any layout) to a new C-contiguous array on `device`.
    pub fn from_ndarray<S: ndarray::Data<Elem = T>, D: ndarray::Dimension>(
        device: &Device,
        a: &ndarray::ArrayBase<S, D>,
    ) -> Result<DeviceArray<T>> {
        let shape: Vec<usize> = if a.ndim() == 0 { vec![1] } else { a.shape().to_vec() };
        let data: Vec<T> = a.iter().copied().collect();
        DeviceArray::from_shape(device, &shape, &data)
    }

    /// Copies the array back into an `ndarray` array of its shape.
    pub fn to_ndarray(&self) -> Result<ndarray::ArrayD<T>> {
        let data = self.to_vec()?;
        ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(&self.shape), data).map_err(|e| Error::Array(format!("to_ndarray: {e}")))
    }
}

/// The layout of `layout`'s elements of `from` seen as elements of `to` (bytes reinterpreted):
/// the last axis must be contiguous and hold a whole number of `to`s, every other stride too.
fn reinterpret_layout(layout: &Layout, address: u64, from: ScalarType, to: ScalarType) -> Result<Layout> {
    if matches!(to, ScalarType::Bool | ScalarType::Struct(_)) {
        return Err(Error::Array(format!("reinterpret: {to} elements cannot be made from arbitrary bytes (numbers only)")));
    }
    let (a, b) = (from.size_bytes(), to.size_bytes());
    if address % to.align_bytes() as u64 != 0 && !layout.is_empty() {
        return Err(Error::Array(format!("reinterpret: the data at {address:#x} is not aligned for {to} ({} bytes)", to.align_bytes())));
    }
    let nd = layout.shape.len();
    let mut out = layout.clone();
    let last = nd - 1;
    if layout.shape[last] > 1 && layout.strides[last] != 1 {
        return Err(Error::Array(format!("reinterpret: the last axis must be contiguous (its stride is {})", layout.strides[last])));
    }
    let bytes = layout.shape[last] * a;
    if bytes % b != 0 {
        return Err(Error::Array(format!("reinterpret: the last axis holds {bytes} bytes, not a whole number of {to} ({b} bytes each)")));
    }
    out.shape[last] = bytes / b;
    out.strides[last] = 1;
    for d in 0..last {
        let s = layout.strides[d] * a as isize;
        if s % b as isize != 0 {
            return Err(Error::Array(format!("reinterpret: the stride of axis {d} ({s} bytes) is not a whole number of {to}")));
        }
        out.strides[d] = s / b as isize;
    }
    out.offset = 0;
    Ok(out)
}

macro_rules! reinterpret_methods {
    ($view:ident, $what:literal) => {
        impl<'a, T: Element> $view<'a, T> {
            #[doc = concat!("The ", $what, " view's bytes as elements of `U` (no copy, no `unsafe`): `u8` data read as `u32` words, `f32`s as their bits. The last axis must be contiguous with a whole number of `U`s, the data aligned for `U`; `U` is a number (not `bool` or a struct). The result is a kernel argument (an [`crate::ExternalArray`]) of the same memory.")]
            pub fn reinterpret<U: Element>(&self) -> Result<crate::ExternalArray<'_>> {
                let address = view_address::<T>(self.array.ptr, &self.layout);
                let layout = reinterpret_layout(&self.layout, address, T::TYPE, U::TYPE)?;
                Ok(crate::ExternalArray::from_parts(self.array.device.clone(), U::TYPE, address, layout, true))
            }
        }
    };
}
reinterpret_methods!(ArrayView, "read-only");
reinterpret_methods!(ArrayViewMut, "writable");

impl<'a, T: Element> ArrayViewMut<'a, T> {
    /// As [`ArrayViewMut::reinterpret`], writable: a kernel's writes of `U`s land in this view's
    /// bytes.
    pub fn reinterpret_mut<U: Element>(&mut self) -> Result<crate::ExternalArray<'_>> {
        let address = view_address::<T>(self.array.ptr, &self.layout);
        let layout = reinterpret_layout(&self.layout, address, T::TYPE, U::TYPE)?;
        Ok(crate::ExternalArray::from_parts(self.array.device.clone(), U::TYPE, address, layout, false))
    }
}

impl<T: Element> DeviceArray<T> {
    /// The array's bytes as elements of `U` (see [`ArrayView::reinterpret`]), read-only.
    pub fn reinterpret<U: Element>(&self) -> Result<crate::ExternalArray<'_>> {
        let view = self.view();
        let address = view_address::<T>(self.ptr, &view.layout);
        let layout = reinterpret_layout(&view.layout, address, T::TYPE, U::TYPE)?;
        Ok(crate::ExternalArray::from_parts(self.device.clone(), U::TYPE, address, layout, true))
    }

    /// The array's bytes as elements of `U`, writable.
    pub fn reinterpret_mut<U: Element>(&mut self) -> Result<crate::ExternalArray<'_>> {
        let layout = Layout::contiguous(&self.shape);
        let address = self.ptr;
        let layout = reinterpret_layout(&layout, address, T::TYPE, U::TYPE)?;
        Ok(crate::ExternalArray::from_parts(self.device.clone(), U::TYPE, address, layout, false))
    }
}
