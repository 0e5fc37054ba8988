//! `DeviceArray<T>`: the runtime's owning 1-D array, on the CPU backend or a GPU.

use crate::device::{Device, DeviceInner};
use crate::error::{Error, Result};
use gpujit_codegen::ScalarType;

mod sealed {
    pub trait Sealed {}
}

/// A scalar type arrays can hold and kernels can take: `bool`, the integers and the floats.
pub trait Element: sealed::Sealed + Copy + Default + Send + Sync + 'static {
    /// The kernel-language type of this Rust type (`usize` is `u64`).
    const TYPE: ScalarType;
    /// The value's bits, zero-extended, as a kernel argument slot holds them.
    fn to_bits(self) -> u64;
}

macro_rules! element {
    ($($t:ty => $v:ident, $bits:expr;)*) => {$(
        impl sealed::Sealed for $t {}
        impl Element for $t {
            const TYPE: ScalarType = ScalarType::$v;
            #[inline]
            fn to_bits(self) -> u64 {
                let f: fn($t) -> u64 = $bits;
                f(self)
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
}

pub(crate) enum Storage<T> {
    Host(Vec<T>),
    Cuda { ptr: u64 },
}

/// An owning 1-D array of `T` on a [`Device`].
///
/// On the CPU backend it is host memory; on a GPU, device memory freed on drop (after the work
/// using it has finished). Pass `&array` to a `&[T]` kernel parameter and `&mut array` to a
/// `&mut [T]` one.
pub struct DeviceArray<T: Element> {
    pub(crate) device: Device,
    pub(crate) storage: Storage<T>,
    pub(crate) len: usize,
}

impl<T: Element> DeviceArray<T> {
    /// Copies `data` to a new array on `device`.
    pub fn from_slice(device: &Device, data: &[T]) -> Result<DeviceArray<T>> {
        match &device.inner {
            DeviceInner::Cpu => Ok(DeviceArray { device: device.clone(), storage: Storage::Host(data.to_vec()), len: data.len() }),
            DeviceInner::Cuda(d) => {
                let ptr = d.alloc(std::mem::size_of_val(data))?;
                let arr = DeviceArray { device: device.clone(), storage: Storage::Cuda { ptr }, len: data.len() };
                d.copy_to_device(ptr, data)?;
                Ok(arr)
            }
        }
    }

    /// A new array of `len` zeros (`false` for `bool`).
    pub fn zeros(device: &Device, len: usize) -> Result<DeviceArray<T>> {
        match &device.inner {
            DeviceInner::Cpu => Ok(DeviceArray { device: device.clone(), storage: Storage::Host(vec![T::default(); len]), len }),
            DeviceInner::Cuda(_) => DeviceArray::from_slice(device, &vec![T::default(); len]),
        }
    }

    /// Copies the array back into a `Vec`, waiting for the work that writes it.
    pub fn to_vec(&self) -> Result<Vec<T>> {
        match (&self.storage, &self.device.inner) {
            (Storage::Host(v), _) => Ok(v.clone()),
            (Storage::Cuda { ptr }, DeviceInner::Cuda(d)) => {
                let mut out = vec![T::default(); self.len];
                d.copy_to_host(&mut out, *ptr)?;
                Ok(out)
            }
            (Storage::Cuda { .. }, DeviceInner::Cpu) => unreachable!("CUDA storage always has a CUDA device"),
        }
    }

    /// Overwrites the array with `data`, which must have the same length.
    pub fn copy_from(&mut self, data: &[T]) -> Result<()> {
        if data.len() != self.len {
            return Err(Error::Array(format!("copy_from: the array has {} elements but the slice {}", self.len, data.len())));
        }
        match (&mut self.storage, &self.device.inner) {
            (Storage::Host(v), _) => {
                v.copy_from_slice(data);
                Ok(())
            }
            (Storage::Cuda { ptr }, DeviceInner::Cuda(d)) => d.copy_to_device(*ptr, data),
            (Storage::Cuda { .. }, DeviceInner::Cpu) => unreachable!("CUDA storage always has a CUDA device"),
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The data address as a kernel argument slot holds it.
    pub(crate) fn address(&self) -> u64 {
        match &self.storage {
            Storage::Host(v) => v.as_ptr() as u64,
            Storage::Cuda { ptr } => *ptr,
        }
    }

    /// The data address for a kernel that writes the array.
    pub(crate) fn address_mut(&mut self) -> u64 {
        match &mut self.storage {
            Storage::Host(v) => v.as_mut_ptr() as u64,
            Storage::Cuda { ptr } => *ptr,
        }
    }
}

impl<T: Element> Drop for DeviceArray<T> {
    fn drop(&mut self) {
        if let (Storage::Cuda { ptr }, DeviceInner::Cuda(d)) = (&self.storage, &self.device.inner) {
            d.free(*ptr);
        }
    }
}

impl<T: Element + std::fmt::Debug> std::fmt::Debug for DeviceArray<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DeviceArray<{}>[{}] on {}", T::TYPE, self.len, self.device.id())
    }
}
