//! `ExternalArray`: an array another library owns (PyTorch, CuPy, JAX, Numba, cudarc, ...), as a
//! kernel argument. It is what DLPack and CUDA Array Interface imports produce: the one descriptor
//! every launch consumes for foreign data (device, dtype, shape, element strides, element 0's
//! address, read-only flag, and the producer's stream to order after).

use crate::array::Layout;
use crate::device::Device;
use crate::error::{Error, Result};
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
            Some(s) => return Err(Error::Array(format!("{} strides for {} dimensions", s.len(), shape.len()))),
        };
        if shape.is_empty() || shape.len() > MAX_DIMS {
            return Err(Error::Array(format!("kernel arrays have 1 to {MAX_DIMS} dimensions, not {}", shape.len())));
        }
        let size = elem.size_bytes() as u64;
        if !layout.is_empty() && (ptr == 0 || ptr % size != 0) {
            return Err(Error::Array(format!("the data pointer {ptr:#x} is null or not aligned to {size} bytes for {elem}")));
        }
        Ok(ExternalArray { device: device.clone(), elem, ptr, layout, read_only, producer_stream: None, _owner: PhantomData })
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

    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// The producer's stream launches order after (CUDA Array Interface `stream`).
    pub fn producer_stream(&self) -> Option<u64> {
        self.producer_stream
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
