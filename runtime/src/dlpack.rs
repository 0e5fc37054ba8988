//! DLPack 1.x: importing tensors other libraries made and exporting ours, with no copies.
//!
//! The `#[repr(C)]` structs follow `dlpack.h` (ABI frozen for major version 1); their sizes and
//! field offsets are checked at compile time. An imported tensor is owned by a [`DlpackTensor`],
//! which calls the producer's deleter exactly once when dropped, also when the import fails half
//! way. Rules, per the DLPack specification: strides are in elements and may be NULL (compact
//! row-major); element 0 is at `data + byte_offset`; versioned tensors of another major version
//! are refused after calling their deleter; the READ_ONLY flag makes the array read-only.

use crate::array::{DeviceArray, Layout};
use crate::device::{Device, DeviceId};
use crate::error::{InteropError, Result};
use crate::external::ExternalArray;
use gpujit_codegen::ScalarType;
use std::ffi::c_void;
use std::marker::PhantomData;
use std::mem::{offset_of, size_of};

/// `DLDeviceType` values gpujit understands.
pub mod device_type {
    pub const CPU: i32 = 1;
    pub const CUDA: i32 = 2;
    pub const CUDA_HOST: i32 = 3;
    pub const CUDA_MANAGED: i32 = 13;
}

/// `DLDataTypeCode` values gpujit understands.
pub mod type_code {
    pub const INT: u8 = 0;
    pub const UINT: u8 = 1;
    pub const FLOAT: u8 = 2;
    pub const BFLOAT: u8 = 4;
    /// `kDLComplex`: `bits` is the whole number's (64: two f32).
    pub const COMPLEX: u8 = 5;
    pub const BOOL: u8 = 6;
}

/// `DLManagedTensorVersioned::flags` bits.
pub const FLAG_READ_ONLY: u64 = 1;
pub const FLAG_IS_COPIED: u64 = 2;

#[repr(C)]
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct DLDevice {
    pub device_type: i32,
    pub device_id: i32,
}

#[repr(C)]
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct DLDataType {
    pub code: u8,
    pub bits: u8,
    pub lanes: u16,
}

#[repr(C)]
#[derive(Copy, Clone, Debug)]
pub struct DLTensor {
    pub data: *mut c_void,
    pub device: DLDevice,
    pub ndim: i32,
    pub dtype: DLDataType,
    pub shape: *mut i64,
    pub strides: *mut i64,
    pub byte_offset: u64,
}

/// The legacy (unversioned) managed tensor.
#[repr(C)]
pub struct DLManagedTensor {
    pub dl_tensor: DLTensor,
    pub manager_ctx: *mut c_void,
    pub deleter: Option<unsafe extern "C" fn(*mut DLManagedTensor)>,
}

#[repr(C)]
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct DLPackVersion {
    pub major: u32,
    pub minor: u32,
}

/// The versioned managed tensor (DLPack ≥ 1.0).
#[repr(C)]
pub struct DLManagedTensorVersioned {
    pub version: DLPackVersion,
    pub manager_ctx: *mut c_void,
    pub deleter: Option<unsafe extern "C" fn(*mut DLManagedTensorVersioned)>,
    pub flags: u64,
    pub dl_tensor: DLTensor,
}

/// The DLPack version gpujit produces.
pub const VERSION: DLPackVersion = DLPackVersion { major: 1, minor: 1 };

// The ABI of dlpack.h on 64-bit targets.
const _: () = {
    assert!(size_of::<DLDevice>() == 8);
    assert!(size_of::<DLDataType>() == 4);
    assert!(size_of::<DLTensor>() == 48);
    assert!(offset_of!(DLTensor, device) == 8);
    assert!(offset_of!(DLTensor, ndim) == 16);
    assert!(offset_of!(DLTensor, dtype) == 20);
    assert!(offset_of!(DLTensor, shape) == 24);
    assert!(offset_of!(DLTensor, strides) == 32);
    assert!(offset_of!(DLTensor, byte_offset) == 40);
    assert!(size_of::<DLManagedTensor>() == 64);
    assert!(offset_of!(DLManagedTensor, deleter) == 56);
    assert!(size_of::<DLManagedTensorVersioned>() == 80);
    assert!(offset_of!(DLManagedTensorVersioned, flags) == 24);
    assert!(offset_of!(DLManagedTensorVersioned, dl_tensor) == 32);
};

/// The scalar type of a DLPack dtype (lanes must be 1).
pub fn scalar_type(t: DLDataType) -> Result<ScalarType> {
    if t.lanes != 1 {
        return Err(InteropError::VectorDtype { lanes: t.lanes }.into());
    }
    use type_code::*;
    Ok(match (t.code, t.bits) {
        (BOOL, 8) => ScalarType::Bool,
        (INT, 8) => ScalarType::I8,
        (INT, 16) => ScalarType::I16,
        (INT, 32) => ScalarType::I32,
        (INT, 64) => ScalarType::I64,
        (UINT, 8) => ScalarType::U8,
        (UINT, 16) => ScalarType::U16,
        (UINT, 32) => ScalarType::U32,
        (UINT, 64) => ScalarType::U64,
        (FLOAT, 16) => ScalarType::F16,
        (FLOAT, 32) => ScalarType::F32,
        (FLOAT, 64) => ScalarType::F64,
        (BFLOAT, 16) => ScalarType::BF16,
        (COMPLEX, 64) => ScalarType::Complex32,
        (COMPLEX, 128) => ScalarType::Complex64,
        (code, bits) => return Err(InteropError::Dtype { code, bits }.into()),
    })
}

/// The DLPack dtype of a scalar type.
pub fn dl_data_type(t: ScalarType) -> DLDataType {
    use type_code::*;
    let code = match t {
        ScalarType::Bool => BOOL,
        ScalarType::BF16 => BFLOAT,
        t if t.is_complex() => COMPLEX,
        t if t.is_float() => FLOAT,
        t if t.is_signed_int() => INT,
        _ => UINT,
    };
    let bits = if t == ScalarType::Bool { 8 } else { 8 * t.size_bytes() as u8 };
    DLDataType { code, bits, lanes: 1 }
}

enum Managed {
    Legacy(*mut DLManagedTensor),
    Versioned(*mut DLManagedTensorVersioned),
}

/// An imported DLPack tensor: calls the producer's deleter exactly once, when dropped.
pub struct DlpackTensor {
    managed: Managed,
}

// SAFETY: DLPack tensors are handed across threads by design (the deleter may run anywhere); the
// struct only holds the pointer and calls the deleter once.
unsafe impl Send for DlpackTensor {}

impl Drop for DlpackTensor {
    fn drop(&mut self) {
        // SAFETY: the pointer was given to us with ownership (the DLPack contract) and is released
        // exactly once, here; a NULL deleter means there is nothing to release.
        unsafe {
            match self.managed {
                Managed::Legacy(p) => {
                    if let Some(d) = (*p).deleter {
                        d(p)
                    }
                }
                Managed::Versioned(p) => {
                    if let Some(d) = (*p).deleter {
                        d(p)
                    }
                }
            }
        }
    }
}

impl DlpackTensor {
    /// Takes ownership of a legacy `DLManagedTensor` (a `dltensor` capsule's pointer).
    ///
    /// # Safety
    /// `ptr` must be a valid `DLManagedTensor` the caller owns and gives up: gpujit calls its
    /// deleter exactly once.
    pub unsafe fn from_legacy(ptr: *mut DLManagedTensor) -> Result<DlpackTensor> {
        if ptr.is_null() {
            return Err(InteropError::Null { what: "DLManagedTensor" }.into());
        }
        Ok(DlpackTensor { managed: Managed::Legacy(ptr) })
    }

    /// Takes ownership of a `DLManagedTensorVersioned` (a `dltensor_versioned` capsule's pointer).
    /// A tensor of another major version is refused, after its deleter has run.
    ///
    /// # Safety
    /// `ptr` must be a valid `DLManagedTensorVersioned` the caller owns and gives up: gpujit calls
    /// its deleter exactly once.
    pub unsafe fn from_versioned(ptr: *mut DLManagedTensorVersioned) -> Result<DlpackTensor> {
        if ptr.is_null() {
            return Err(InteropError::Null { what: "DLManagedTensorVersioned" }.into());
        }
        let tensor = DlpackTensor { managed: Managed::Versioned(ptr) };
        // SAFETY: ptr is valid (the caller's promise); only the version is read before checking it.
        let version = unsafe { (*ptr).version };
        if version.major != VERSION.major {
            drop(tensor);
            return Err(InteropError::DlpackVersion { major: version.major, supported: VERSION.major }.into());
        }
        Ok(tensor)
    }

    fn tensor(&self) -> &DLTensor {
        // SAFETY: the managed tensor stays valid until the deleter runs, in Drop.
        unsafe {
            match self.managed {
                Managed::Legacy(p) => &(*p).dl_tensor,
                Managed::Versioned(p) => &(*p).dl_tensor,
            }
        }
    }

    /// The versioned tensor's flags (0 for legacy tensors).
    pub fn flags(&self) -> u64 {
        match self.managed {
            Managed::Legacy(_) => 0,
            // SAFETY: valid until Drop.
            Managed::Versioned(p) => unsafe { (*p).flags },
        }
    }

    pub fn is_read_only(&self) -> bool {
        self.flags() & FLAG_READ_ONLY != 0
    }

    /// The tensor as a kernel argument, borrowing this import. A 0-d tensor is one element.
    pub fn array(&self) -> Result<ExternalArray<'_>> {
        let t = *self.tensor();
        let elem = scalar_type(t.dtype)?;
        let device = match t.device.device_type {
            device_type::CPU | device_type::CUDA_HOST => Device::cpu(),
            device_type::CUDA | device_type::CUDA_MANAGED => Device::cuda(t.device.device_id.max(0) as u32)?,
            other => return Err(InteropError::DeviceType { device_type: other }.into()),
        };
        if t.ndim < 0 || t.ndim as usize > gpujit_codegen::specialize::MAX_DIMS {
            return Err(InteropError::Rank { ndim: t.ndim }.into());
        }
        let n = t.ndim as usize;
        // SAFETY: shape (and strides, when not NULL) hold ndim entries for a valid tensor.
        let (shape, strides): (Vec<i64>, Option<Vec<i64>>) = unsafe {
            let shape = if n == 0 { Vec::new() } else { std::slice::from_raw_parts(t.shape, n).to_vec() };
            let strides = (!t.strides.is_null() && n > 0).then(|| std::slice::from_raw_parts(t.strides, n).to_vec());
            (shape, strides)
        };
        if shape.iter().any(|s| *s < 0) {
            return Err(InteropError::NegativeExtents { shape }.into());
        }
        let (mut shape, mut strides): (Vec<usize>, Vec<isize>) = match strides {
            Some(s) => (shape.iter().map(|v| *v as usize).collect(), s.iter().map(|v| *v as isize).collect()),
            None => {
                let l = Layout::contiguous(&shape.iter().map(|v| *v as usize).collect::<Vec<_>>());
                (l.shape, l.strides)
            }
        };
        if n == 0 {
            shape = vec![1];
            strides = vec![1];
        }
        let ptr = (t.data as u64).wrapping_add(t.byte_offset);
        // SAFETY: the tensor's memory stays valid while `self` (which the result borrows) lives.
        let mut a = unsafe { ExternalArray::from_raw_parts(&device, elem, ptr, &shape, Some(&strides), self.is_read_only())? };
        a._owner = PhantomData;
        a.pinned = t.device.device_type == device_type::CUDA_HOST;
        Ok(a)
    }

    /// The tensor's device, as DLPack gives it.
    pub fn dl_device(&self) -> DLDevice {
        self.tensor().device
    }
}

/// What an exported tensor's deleter frees: the owner of the memory (an array, or a shared handle
/// to one) and the shape and strides the tensor points to.
struct Export {
    _owner: Box<dyn Send>,
    shape: Vec<i64>,
    strides: Vec<i64>,
}

unsafe extern "C" fn delete_versioned(p: *mut DLManagedTensorVersioned) {
    if p.is_null() {
        return;
    }
    // SAFETY: `p` and its manager_ctx were made by `into_dlpack` from Boxes, and the consumer calls
    // the deleter once.
    unsafe {
        let m = Box::from_raw(p);
        drop(Box::from_raw(m.manager_ctx as *mut Export));
    }
}

unsafe extern "C" fn delete_legacy(p: *mut DLManagedTensor) {
    if p.is_null() {
        return;
    }
    // SAFETY: as for `delete_versioned`.
    unsafe {
        let m = Box::from_raw(p);
        drop(Box::from_raw(m.manager_ctx as *mut Export));
    }
}

fn dl_device_of(d: DeviceId) -> DLDevice {
    match d {
        DeviceId::Cpu => DLDevice { device_type: device_type::CPU, device_id: 0 },
        DeviceId::Cuda(n) => DLDevice { device_type: device_type::CUDA, device_id: n as i32 },
    }
}

/// The tensor of a contiguous array of `shape` at `data`, and the context that keeps `owner` (and
/// with it the memory) alive until the consumer calls the deleter.
fn export_parts(owner: Box<dyn Send>, device: DeviceId, dtype: ScalarType, data: u64, shape: &[usize]) -> (Box<Export>, DLTensor) {
    crate::memory::lend(device, data);
    let strides: Vec<i64> = Layout::contiguous(shape).strides.iter().map(|v| *v as i64).collect();
    let shape: Vec<i64> = shape.iter().map(|v| *v as i64).collect();
    let mut ctx = Box::new(Export { _owner: owner, shape, strides });
    let tensor = DLTensor {
        data: data as *mut c_void,
        device: dl_device_of(device),
        ndim: ctx.shape.len() as i32,
        dtype: dl_data_type(dtype),
        shape: ctx.shape.as_mut_ptr(),
        strides: ctx.strides.as_mut_ptr(),
        byte_offset: 0,
    };
    (ctx, tensor)
}

fn versioned(ctx: Box<Export>, dl_tensor: DLTensor, flags: u64) -> *mut DLManagedTensorVersioned {
    Box::into_raw(Box::new(DLManagedTensorVersioned {
        version: VERSION,
        manager_ctx: Box::into_raw(ctx) as *mut c_void,
        deleter: Some(delete_versioned),
        flags,
        dl_tensor,
    }))
}

fn legacy(ctx: Box<Export>, dl_tensor: DLTensor) -> *mut DLManagedTensor {
    Box::into_raw(Box::new(DLManagedTensor { dl_tensor, manager_ctx: Box::into_raw(ctx) as *mut c_void, deleter: Some(delete_legacy) }))
}

impl<T: crate::array::InteropElement> DeviceArray<T> {
    fn export(self) -> (Box<Export>, DLTensor) {
        let shape = self.shape.clone();
        let (device, data) = (self.device.id(), self.address());
        export_parts(Box::new(self), device, T::TYPE, data, &shape)
    }

    /// Lends a shared array to a DLPack consumer without giving it up, seen as `shape` (as many
    /// elements as the array; `[]` shows a one-element array as 0-d): the tensor holds one
    /// reference to `array`, released by its deleter, and shows the array's own memory (writes
    /// through either are seen by both). With `read_only` the versioned tensor carries the
    /// READ_ONLY flag. `keep` rides along and is dropped with the reference (a guard, a
    /// counter). Ordering the consumer's work after ours is the caller's part of the protocol
    /// (`__dlpack__(stream=...)`).
    pub fn share_dlpack<K: Send + 'static>(
        array: &std::sync::Arc<DeviceArray<T>>,
        shape: &[usize],
        keep: K,
        read_only: bool,
    ) -> Result<*mut DLManagedTensorVersioned> {
        let (ctx, t) = Self::share_parts(array, shape, keep)?;
        Ok(versioned(ctx, t, if read_only { FLAG_READ_ONLY } else { 0 }))
    }

    fn share_parts<K: Send + 'static>(array: &std::sync::Arc<DeviceArray<T>>, shape: &[usize], keep: K) -> Result<(Box<Export>, DLTensor)> {
        if shape.iter().product::<usize>() != array.len {
            return Err(InteropError::ExportShape { shape: shape.to_vec(), len: array.len }.into());
        }
        let (device, data) = (array.device.id(), array.address());
        Ok(export_parts(Box::new((array.clone(), keep)), device, T::TYPE, data, shape))
    }

    /// As [`DeviceArray::share_dlpack`], as a legacy `DLManagedTensor`.
    pub fn share_dlpack_legacy<K: Send + 'static>(
        array: &std::sync::Arc<DeviceArray<T>>,
        shape: &[usize],
        keep: K,
    ) -> Result<*mut DLManagedTensor> {
        let (ctx, t) = Self::share_parts(array, shape, keep)?;
        Ok(legacy(ctx, t))
    }
}

/// The tensor of `shape`/`strides` (elements) of `dtype` at `data`, any layout.
fn raw_parts(
    owner: Box<dyn Send>,
    device: DeviceId,
    dtype: ScalarType,
    data: u64,
    shape: &[usize],
    strides: &[isize],
) -> Result<(Box<Export>, DLTensor)> {
    if matches!(dtype, ScalarType::Struct(_)) || shape.len() != strides.len() {
        return Err(crate::Error::Array(format!(
            "a DLPack tensor of {dtype} with {} axes and {} strides cannot be made",
            shape.len(),
            strides.len()
        )));
    }
    let (ctx, mut tensor) = export_parts(owner, device, dtype, data, shape);
    let mut ctx = ctx;
    ctx.strides = strides.iter().map(|s| *s as i64).collect();
    tensor.strides = ctx.strides.as_mut_ptr();
    Ok((ctx, tensor))
}

/// Lends memory of any layout to a DLPack consumer as a versioned tensor: `shape` and `strides`
/// (in elements) of `dtype` from element 0 at `data`, with the READ_ONLY flag if `read_only`.
/// `owner` is dropped by the tensor's deleter.
///
/// # Safety
/// Every element the shape and strides reach must stay allocated on `device` until `owner` is
/// dropped.
pub unsafe fn share_raw(
    owner: Box<dyn Send>,
    device: DeviceId,
    dtype: ScalarType,
    data: u64,
    shape: &[usize],
    strides: &[isize],
    read_only: bool,
) -> Result<*mut DLManagedTensorVersioned> {
    let (ctx, t) = raw_parts(owner, device, dtype, data, shape, strides)?;
    Ok(versioned(ctx, t, if read_only { FLAG_READ_ONLY } else { 0 }))
}

/// As [`share_raw`], as a legacy `DLManagedTensor`.
///
/// # Safety
/// As for [`share_raw`].
pub unsafe fn share_raw_legacy(
    owner: Box<dyn Send>,
    device: DeviceId,
    dtype: ScalarType,
    data: u64,
    shape: &[usize],
    strides: &[isize],
) -> Result<*mut DLManagedTensor> {
    let (ctx, t) = raw_parts(owner, device, dtype, data, shape, strides)?;
    Ok(legacy(ctx, t))
}

impl<T: crate::array::InteropElement> DeviceArray<T> {
    /// Gives the array to a DLPack consumer as a `DLManagedTensorVersioned` (DLPack 1.1). The
    /// consumer owns it and frees it (and the array) by calling its deleter once.
    pub fn into_dlpack(self) -> *mut DLManagedTensorVersioned {
        let (ctx, dl_tensor) = self.export();
        versioned(ctx, dl_tensor, 0)
    }

    /// As [`DeviceArray::into_dlpack`], as a legacy `DLManagedTensor` for consumers that predate
    /// DLPack 1.0.
    pub fn into_dlpack_legacy(self) -> *mut DLManagedTensor {
        let (ctx, dl_tensor) = self.export();
        legacy(ctx, dl_tensor)
    }
}
