//! The CUDA Array Interface (v3, and v2 as PyTorch still exports it) as a typed Rust value:
//! importing device arrays other libraries describe with `__cuda_array_interface__`, and
//! describing ours.
//!
//! Rules (Numba's specification): `typestr` follows NumPy's grammar (byte order, kind, item size;
//! PyTorch writes bf16 as `<V2`); `data` is element 0's address and a read-only flag; `strides` are
//! in BYTES (absent: C-contiguous) and must be multiples of the item size; a `mask` is refused; a
//! `stream` names the producer's stream with possibly pending work (1: legacy default, 2:
//! per-thread default, 0 is invalid): launches wait for it through an event, without blocking
//! the host.

use crate::array::{DeviceArray, Layout};
use crate::device::Device;
use crate::error::{Error, InteropError, Result};
use crate::external::ExternalArray;
use gpujit_codegen::ScalarType;

/// `__cuda_array_interface__` as a typed value.
#[derive(Clone, Debug, PartialEq)]
pub struct CudaArrayInterface {
    pub shape: Vec<usize>,
    pub typestr: String,
    /// (address of element 0, read-only)
    pub data: (u64, bool),
    /// Byte strides; `None` means C-contiguous.
    pub strides: Option<Vec<isize>>,
    pub version: u32,
    /// A mask array; gpujit refuses masked arrays.
    pub mask: Option<Box<CudaArrayInterface>>,
    /// The producer's stream (`CUstream` as an integer), or `None` when no synchronization is needed.
    pub stream: Option<u64>,
}

/// The scalar type of a NumPy type string (`<f4`, `|b1`, `<V2` for bf16, ...).
pub fn parse_typestr(s: &str) -> Result<ScalarType> {
    let bad = || Error::from(InteropError::Typestr { typestr: s.to_string() });
    let mut chars = s.chars();
    let order = chars.next().ok_or_else(bad)?;
    let kind = chars.next().ok_or_else(bad)?;
    let size: usize = chars.as_str().parse().map_err(|_| bad())?;
    if !matches!(order, '<' | '|' | '=' | '>') {
        return Err(bad());
    }
    if order == '>' && size > 1 {
        return Err(InteropError::BigEndian { typestr: s.to_string() }.into());
    }
    Ok(match (kind, size) {
        ('b', 1) => ScalarType::Bool,
        ('i', 1) => ScalarType::I8,
        ('i', 2) => ScalarType::I16,
        ('i', 4) => ScalarType::I32,
        ('i', 8) => ScalarType::I64,
        ('u', 1) => ScalarType::U8,
        ('u', 2) => ScalarType::U16,
        ('u', 4) => ScalarType::U32,
        ('u', 8) => ScalarType::U64,
        ('f', 2) => ScalarType::F16,
        ('f', 4) => ScalarType::F32,
        ('f', 8) => ScalarType::F64,
        ('V', 2) => ScalarType::BF16,
        ('c', 8) => ScalarType::Complex32,
        ('c', 16) => ScalarType::Complex64,
        _ => return Err(bad()),
    })
}

/// The NumPy type string of a scalar type.
pub fn typestr(t: ScalarType) -> String {
    let (order, kind) = match t {
        ScalarType::Bool => ('|', 'b'),
        ScalarType::BF16 => ('<', 'V'),
        t if t.is_complex() => ('<', 'c'),
        t if t.is_float() => ('<', 'f'),
        t if t.is_signed_int() => (if t.size_bytes() == 1 { '|' } else { '<' }, 'i'),
        t => (if t.size_bytes() == 1 { '|' } else { '<' }, 'u'),
    };
    format!("{order}{kind}{}", t.size_bytes())
}

impl CudaArrayInterface {
    /// Checks the interface and returns its element type and layout (strides in elements).
    pub fn layout(&self) -> Result<(ScalarType, Layout)> {
        if !matches!(self.version, 2 | 3) {
            return Err(InteropError::CaiVersion { version: self.version }.into());
        }
        if self.mask.is_some() {
            return Err(InteropError::Masked.into());
        }
        if self.stream == Some(0) {
            return Err(InteropError::StreamZero.into());
        }
        let elem = parse_typestr(&self.typestr)?;
        let size = elem.size_bytes() as isize;
        let layout = match &self.strides {
            None => Layout::contiguous(&self.shape),
            Some(s) => {
                if s.len() != self.shape.len() {
                    return Err(InteropError::StrideCount { strides: s.len(), ndim: self.shape.len() }.into());
                }
                if let Some(b) = s.iter().find(|b| **b % size != 0) {
                    return Err(InteropError::ByteStride { stride: *b as i64, itemsize: size as usize }.into());
                }
                Layout { offset: 0, shape: self.shape.clone(), strides: s.iter().map(|b| b / size).collect() }
            }
        };
        Ok((elem, layout))
    }

    /// The array as a kernel argument. The device is the one that owns the pointer.
    ///
    /// # Safety
    /// The interface must describe live device memory that stays allocated, and is written by no
    /// one else, while the result is used (the CUDA Array Interface does not manage lifetimes).
    pub unsafe fn import<'a>(&self) -> Result<ExternalArray<'a>> {
        let (elem, layout) = self.layout()?;
        let device = if self.data.0 == 0 { Device::current()? } else { Device::cuda(crate::cuda::pointer_device(self.data.0)?)? };
        let (shape, strides) = (layout.shape.clone(), layout.strides.clone());
        // A 0-d array is one element.
        let (shape, strides) = if shape.is_empty() { (vec![1], vec![1]) } else { (shape, strides) };
        // SAFETY: forwarded from the caller.
        let mut a = unsafe { ExternalArray::from_raw_parts(&device, elem, self.data.0, &shape, Some(&strides), self.data.1)? };
        a.producer_stream = self.stream;
        Ok(a)
    }
}

/// Tells gpujit that device memory at `address` on `device` is lent to another library through
/// an interface built by hand (as [`DeviceArray::cuda_array_interface`] and the DLPack exports
/// do themselves): when its array is freed, the free waits for the whole device, since the
/// borrower's streams may still use it (the memory cache otherwise reuses memory once gpujit's
/// own streams are done with it).
pub fn lend(device: crate::DeviceId, address: u64) {
    crate::memory::lend(device, address)
}

impl<T: crate::array::InteropElement> DeviceArray<T> {
    /// The array's `__cuda_array_interface__` (version 3). Its stream is the legacy default
    /// stream (1), where gpujit's launches and copies go unless given a stream.
    pub fn cuda_array_interface(&self) -> Result<CudaArrayInterface> {
        if !self.device.is_cuda() {
            return Err(InteropError::NotDeviceMemory { device: self.device.id().to_string() }.into());
        }
        crate::memory::lend(self.device.id(), self.address());
        Ok(CudaArrayInterface {
            shape: self.shape.clone(),
            typestr: typestr(T::TYPE),
            data: (if self.is_empty() { 0 } else { self.address() }, false),
            strides: None,
            version: 3,
            mask: None,
            stream: Some(1),
        })
    }
}
