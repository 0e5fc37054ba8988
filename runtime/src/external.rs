//! `ExternalArray`: an array another library owns (PyTorch, CuPy, JAX, Numba, cudarc, ...), as a
//! kernel argument. It is what DLPack and CUDA Array Interface imports produce: the one descriptor
//! every launch consumes for foreign data (device, dtype, shape, element strides, element 0's
//! address, read-only flag, and the producer's stream to order after).

use crate::array::Layout;
use crate::device::Device;
use crate::error::{InteropError, Result};
use crate::launch::{Arg, KernelArg};
use gpujit_codegen::specialize::MAX_DIMS;
use gpujit_codegen::ScalarType;
use std::marker::PhantomData;

/// A borrowed view of memory another library owns. The lifetime ties it to whatever keeps that
/// memory alive (an imported DLPack tensor, or the caller's promise for raw pointers).
pub struct ExternalArray<'a> {
    pub(crate) device: Device,
    pub(crate) elem: ScalarType,
    /// The address of element 0 (the data pointer plus any byte offset).
    pub(crate) ptr: u64,
    pub(crate) layout: Layout,
    pub(crate) read_only: bool,
    /// The producer's stream with work that may still write the data (`CUstream` as an integer):
    /// a launch on the GPU waits for it, through an event (the host does not block).
    pub(crate) producer_stream: Option<u64>,
    /// Page-locked host memory (DLPack's CUDAHost), usable from the CPU and from GPUs.
    pub(crate) pinned: bool,
    pub(crate) _owner: PhantomData<&'a ()>,
}

impl std::fmt::Debug for ExternalArray<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ExternalArray<{}>{:?} on {} at {:#x}", self.elem, self.layout.shape, self.device.id(), self.ptr)
    }
}

impl<'a> ExternalArray<'a> {
    /// An array at `ptr` (element 0) with `shape` and `strides` in elements (`None`: C-contiguous).
    ///
    /// # Safety
    /// For `'a`, the memory must stay allocated on `device` and hold every element the shape and
    /// strides reach, of type `elem`; nothing else may write it while a kernel reads or writes it
    /// (unless `read_only`, nothing else may read it while a kernel writes it).
    pub unsafe fn from_raw_parts(
        device: &Device,
        elem: ScalarType,
        ptr: u64,
        shape: &[usize],
        strides: Option<&[isize]>,
        read_only: bool,
    ) -> Result<ExternalArray<'a>> {
        let layout = match strides {
            None => Layout::contiguous(shape),
            Some(s) if s.len() == shape.len() => Layout { offset: 0, shape: shape.to_vec(), strides: s.to_vec() },
            Some(s) => return Err(InteropError::StrideCount { strides: s.len(), ndim: shape.len() }.into()),
        };
        if shape.is_empty() || shape.len() > MAX_DIMS {
            return Err(InteropError::Dimensions { ndim: shape.len(), max: MAX_DIMS }.into());
        }
        let align = elem.align_bytes() as u64;
        if !layout.is_empty() && (ptr == 0 || ptr % align != 0) {
            return Err(InteropError::Pointer { ptr, align, elem }.into());
        }
        Ok(ExternalArray {
            device: device.clone(),
            elem,
            ptr,
            layout,
            read_only,
            producer_stream: None,
            pinned: false,
            _owner: PhantomData,
        })
    }

    /// An array of gpujit's own memory (a reinterpreted view): the caller borrows the memory
    /// for `'a` and checked that `layout` lies in it.
    pub(crate) fn from_parts(device: Device, elem: ScalarType, ptr: u64, layout: Layout, read_only: bool) -> ExternalArray<'a> {
        ExternalArray { device, elem, ptr, layout, read_only, producer_stream: None, pinned: false, _owner: PhantomData }
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The element type.
    pub fn dtype(&self) -> ScalarType {
        self.elem
    }

    pub fn shape(&self) -> &[usize] {
        &self.layout.shape
    }

    /// Strides in elements.
    pub fn strides(&self) -> &[isize] {
        &self.layout.strides
    }

    /// The address of element 0 (a device pointer on CUDA, a host pointer on the CPU).
    pub fn address(&self) -> u64 {
        self.ptr
    }

    /// Whether the elements lie in C order with no gaps (axes of extent 1 may have any stride).
    pub fn is_c_contiguous(&self) -> bool {
        let mut expected = 1isize;
        for (&n, &s) in self.layout.shape.iter().zip(&self.layout.strides).rev() {
            if n > 1 && s != expected {
                return false;
            }
            expected = expected.saturating_mul(n as isize);
        }
        true
    }

    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// The producer's stream launches order after (CUDA Array Interface `stream`).
    pub fn producer_stream(&self) -> Option<u64> {
        self.producer_stream
    }

    /// This array with a producer's stream (a `CUstream` as an integer): a launch taking it
    /// first makes its own stream wait, through an event, for the work queued on `stream` so far
    /// (nothing when the launch goes to `stream` itself), as for a CUDA Array Interface import.
    pub fn with_producer_stream(mut self, stream: u64) -> Self {
        self.producer_stream = Some(stream);
        self
    }

    /// Whether the array is page-locked host memory that kernels on the CPU and on GPUs may use in
    /// place (a DLPack CUDAHost tensor).
    pub fn is_pinned(&self) -> bool {
        self.pinned
    }

    fn arg(&self, writable: bool) -> Arg<'_> {
        let (shape, strides) = self.layout.dims();
        Arg::Array {
            elem: self.elem,
            ptr: self.ptr,
            ndim: self.layout.shape.len() as u8,
            shape,
            strides,
            writable,
            device: &self.device,
            wait: self.producer_stream,
            any_device: self.pinned,
            foreign: true,
        }
    }
}

impl<'a, 'b: 'a> KernelArg<'a> for &'a ExternalArray<'b> {
    fn into_arg(self) -> Arg<'a> {
        self.arg(false)
    }
}

/// `&mut external` for a `&mut` parameter; a read-only import stays read-only (the launch then
/// reports it for the parameter).
impl<'a, 'b: 'a> KernelArg<'a> for &'a mut ExternalArray<'b> {
    fn into_arg(self) -> Arg<'a> {
        let writable = !self.read_only;
        self.arg(writable)
    }
}

impl<'a> ExternalArray<'a> {
    /// A host `ndarray` array as a kernel argument on the CPU backend, without copying (any
    /// strides, negative ones included). Read-only: pass it for `&` parameters.
    pub fn from_ndarray<T: crate::array::Element, S: ndarray::Data<Elem = T>, D: ndarray::Dimension>(
        a: &'a ndarray::ArrayBase<S, D>,
    ) -> Result<ExternalArray<'a>> {
        let (shape, strides) = ndarray_dims(a.shape(), a.strides());
        // SAFETY: the borrow of `a` (for 'a) keeps the memory alive and unwritten by others; its
        // shape and strides describe exactly the elements it owns.
        unsafe { ExternalArray::from_raw_parts(&Device::cpu(), T::TYPE, a.as_ptr() as u64, &shape, Some(&strides), true) }
    }

    /// As [`ExternalArray::from_ndarray`], writable: for `&mut` parameters.
    pub fn from_ndarray_mut<T: crate::array::Element, S: ndarray::DataMut<Elem = T>, D: ndarray::Dimension>(
        a: &'a mut ndarray::ArrayBase<S, D>,
    ) -> Result<ExternalArray<'a>> {
        let (shape, strides) = ndarray_dims(a.shape(), a.strides());
        // SAFETY: the exclusive borrow of `a` (for 'a) keeps the memory alive and untouched by
        // anyone else; its shape and strides describe exactly the elements it owns.
        unsafe { ExternalArray::from_raw_parts(&Device::cpu(), T::TYPE, a.as_mut_ptr() as u64, &shape, Some(&strides), false) }
    }
}

/// A 0-d array is one element.
fn ndarray_dims(shape: &[usize], strides: &[isize]) -> (Vec<usize>, Vec<isize>) {
    if shape.is_empty() {
        (vec![1], vec![1])
    } else {
        (shape.to_vec(), strides.to_vec())
    }
}

impl<'a> ExternalArray<'a> {
    fn from_cuda<T: crate::array::Element>(
        ptr: u64,
        len: usize,
        ordinal: usize,
        stream: u64,
        read_only: bool,
    ) -> Result<ExternalArray<'a>> {
        let device = Device::cuda(ordinal as u32)?;
        // SAFETY: the caller borrows the slice for 'a (see the public constructors), which keeps
        // its allocation alive on `device`; `len` elements of T start at `ptr`.
        let mut a = unsafe { ExternalArray::from_raw_parts(&device, T::TYPE, if len == 0 { 0 } else { ptr }, &[len], None, read_only)? };
        // Launches wait for the work cudarc queued on the slice's stream.
        a.producer_stream = Some(stream);
        Ok(a)
    }

    /// A cudarc `CudaSlice` as a read-only kernel argument, borrowed (never freed by gpujit).
    /// Launches wait for the work queued on the slice's stream; work cudarc queues there after a
    /// launch is not ordered after the kernel: synchronize first (e.g. `Device::synchronize`).
    pub fn from_cuda_slice<T: crate::array::Element + cudarc::driver::DeviceRepr>(
        slice: &'a cudarc::driver::CudaSlice<T>,
    ) -> Result<ExternalArray<'a>> {
        use cudarc::driver::DevicePtr;
        let stream = slice.stream().clone();
        let (ptr, _read) = slice.device_ptr(&stream);
        ExternalArray::from_cuda::<T>(ptr, slice.len(), slice.ordinal(), stream.cu_stream() as u64, true)
    }

    /// As [`ExternalArray::from_cuda_slice`], writable: for `&mut` parameters.
    pub fn from_cuda_slice_mut<T: crate::array::Element + cudarc::driver::DeviceRepr>(
        slice: &'a mut cudarc::driver::CudaSlice<T>,
    ) -> Result<ExternalArray<'a>> {
        use cudarc::driver::DevicePtrMut;
        let stream = slice.stream().clone();
        let (len, ordinal) = (slice.len(), slice.ordinal());
        let (ptr, _write) = slice.device_ptr_mut(&stream);
        ExternalArray::from_cuda::<T>(ptr, len, ordinal, stream.cu_stream() as u64, false)
    }
}

impl crate::launch::CaptureRead for ExternalArray<'_> {
    fn capture_read(&self) -> Arg<'_> {
        self.into_arg()
    }
}

impl crate::launch::CaptureWrite for ExternalArray<'_> {
    fn capture_write(&mut self) -> Arg<'_> {
        self.into_arg()
    }
}
