//! Tensor maps: the descriptors of the tensor memory accelerator (TMA, sm_90), built from an
//! array for a kernel's `tma_load_2d`.
//!
//! On a GPU a map is the driver's 128-byte `CUtensorMap` (`cuTensorMapEncodeTiled`), copied to
//! device memory and passed to the kernel by address; on the CPU backend it is the same 16
//! words in gpujit's own layout ([`gpujit_codegen::bulk::tensor_map`]), which the CPU backend's
//! copy reads after checking that the map is one of the live maps built here.

use crate::array::{ArrayView, DeviceArray, Element};
use crate::error::{Error, Result};
use crate::launch::{Arg, KernelArg};
use cudarc::driver::sys;
use gpujit_codegen::bulk::tensor_map as words;
use gpujit_codegen::ScalarType;
use std::collections::HashSet;
use std::marker::PhantomData;
use std::sync::Mutex;

/// A 2-D tiled tensor map over a row-major array: the kernel copies boxes of `box_rows` rows of
/// `box_cols` elements from it into shared memory with `tma_load_2d` (a kernel parameter
/// `map: &TensorMap`). It borrows the array, which the copies read.
///
/// ```
/// # use gpujit_runtime::{Device, DeviceArray, TensorMap};
/// # fn main() -> gpujit_runtime::Result<()> {
/// let device = Device::cpu();
/// let a = DeviceArray::<half::bf16>::zeros_shape(&device, &[100, 64])?;
/// let map = TensorMap::tiled_2d(&a, 64, 64, 128)?;
/// assert_eq!(map.box_bytes(), 64 * 64 * 2);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct TensorMap<'a> {
    words: DeviceArray<u64>,
    box_bytes: u32,
    cpu_address: Option<u64>,
    _array: PhantomData<&'a ()>,
}

/// The CPU backend's live maps (their words' addresses), which its copies accept.
static CPU_MAPS: Mutex<Option<HashSet<u64>>> = Mutex::new(None);

/// Whether `address` holds the words of a live CPU tensor map.
pub(crate) fn is_cpu_map(address: u64) -> bool {
    CPU_MAPS.lock().map(|m| m.as_ref().is_some_and(|s| s.contains(&address))).unwrap_or(false)
}

impl<'a> TensorMap<'a> {
    /// A map over `array` (2-D, `[rows, cols]`) whose boxes are `box_rows` × `box_cols`
    /// elements, swizzled in shared memory by `swizzle` bytes (0, 32, 64 or 128; see
    /// `gpujit::codegen::bulk::swizzle`). TMA's rules, checked here: the array's data and its
    /// row pitch are multiples of 16 bytes, boxes have 1 to 256 rows and columns, a box row is a
    /// multiple of 16 bytes, and with a swizzle no longer than it; integer and float elements.
    /// Elements of a box past the array's edges read as zeros.
    pub fn tiled_2d<T: Element>(array: &'a DeviceArray<T>, box_rows: u32, box_cols: u32, swizzle: u32) -> Result<TensorMap<'a>> {
        let [rows, cols] = match array.shape() {
            [r, c] => [*r as u64, *c as u64],
            s => {
                return Err(Error::Array(format!(
                    "TensorMap::tiled_2d: the array has {} dimensions; a 2-D map needs [rows, cols]",
                    s.len()
                )))
            }
        };
        let pitch = cols * T::TYPE.size_bytes() as u64;
        Self::encode(array.device(), T::TYPE, array.address(), [rows, cols], pitch, box_rows, box_cols, swizzle)
    }

    /// [`TensorMap::tiled_2d`] over a 2-D view whose rows are contiguous (column stride 1, a
    /// positive row stride): a block of a larger matrix, every other row, ... Its first element
    /// and its row pitch are multiples of 16 bytes.
    pub fn tiled_2d_view<T: Element>(view: &ArrayView<'a, T>, box_rows: u32, box_cols: u32, swizzle: u32) -> Result<TensorMap<'a>> {
        let l = &view.layout;
        let size = T::TYPE.size_bytes() as u64;
        let (rows, cols, stride) = match (&l.shape[..], &l.strides[..]) {
            ([r, c], [s, 1]) if *s > 0 => (*r as u64, *c as u64, *s as u64),
            ([_, _], _) => {
                return Err(Error::Array(format!(
                    "TensorMap::tiled_2d_view: TMA reads rows of consecutive elements; this view's strides are {:?}",
                    l.strides
                )))
            }
            (s, _) => {
                return Err(Error::Array(format!(
                    "TensorMap::tiled_2d_view: the view has {} dimensions; a 2-D map needs [rows, cols]",
                    s.len()
                )))
            }
        };
        let address = view.array.address().wrapping_add((l.offset as u64).wrapping_mul(size));
        Self::encode(view.array.device(), T::TYPE, address, [rows, cols], stride * size, box_rows, box_cols, swizzle)
    }

    /// Checks TMA's rules and builds the map of `rows` × `cols` elements of `elem` from
    /// `address`, rows `pitch` bytes apart.
    #[allow(clippy::too_many_arguments)]
    fn encode(
        device: &crate::Device,
        elem: ScalarType,
        address: u64,
        [rows, cols]: [u64; 2],
        pitch: u64,
        box_rows: u32,
        box_cols: u32,
        swizzle: u32,
    ) -> Result<TensorMap<'a>> {
        let bad = |m: String| Err(Error::Array(format!("TensorMap::tiled_2d: {m}")));
        let data_type = match data_type(elem) {
            Some(t) => t,
            None => return bad(format!("TMA copies integers and floats, not {elem}")),
        };
        let size = elem.size_bytes() as u64;
        if !gpujit_codegen::bulk::SWIZZLES.contains(&swizzle) {
            return bad(format!("the swizzle is 0, 32, 64 or 128 bytes, not {swizzle}"));
        }
        if !(1..=256).contains(&box_rows) || !(1..=256).contains(&box_cols) {
            return bad(format!("a box has 1 to 256 rows and columns, not {box_rows} x {box_cols}"));
        }
        let box_row_bytes = box_cols as u64 * size;
        if box_row_bytes % 16 != 0 || (swizzle != 0 && box_row_bytes > swizzle as u64) {
            return bad(format!(
                "a box row is a multiple of 16 bytes{}; {box_cols} elements of {elem} are {box_row_bytes}",
                if swizzle != 0 { format!(" and at most the swizzle, {swizzle}") } else { String::new() }
            ));
        }
        if rows == 0 || cols == 0 {
            return bad("the array is empty".into());
        }
        if pitch % 16 != 0 || address % 16 != 0 {
            return bad(format!("TMA needs the data and its rows ({pitch} bytes) at multiples of 16 bytes"));
        }
        let box_bytes = box_rows * box_cols * size as u32;
        if device.is_cuda() {
            let mut map = sys::CUtensorMap { opaque: [0; 16] };
            let dims = [cols, rows];
            let strides = [pitch];
            let boxes = [box_cols, box_rows];
            let element_strides = [1u32, 1];
            let swz = match swizzle {
                32 => sys::CUtensorMapSwizzle::CU_TENSOR_MAP_SWIZZLE_32B,
                64 => sys::CUtensorMapSwizzle::CU_TENSOR_MAP_SWIZZLE_64B,
                128 => sys::CUtensorMapSwizzle::CU_TENSOR_MAP_SWIZZLE_128B,
                _ => sys::CUtensorMapSwizzle::CU_TENSOR_MAP_SWIZZLE_NONE,
            };
            // SAFETY: every pointer is to a local of the length the rank (2) needs; the data
            // address lies in the array's device allocation, which this map borrows.
            let r = unsafe {
                sys::cuTensorMapEncodeTiled(
                    &mut map,
                    data_type,
                    2,
                    address as *mut std::ffi::c_void,
                    dims.as_ptr(),
                    strides.as_ptr(),
                    boxes.as_ptr(),
                    element_strides.as_ptr(),
                    sys::CUtensorMapInterleave::CU_TENSOR_MAP_INTERLEAVE_NONE,
                    swz,
                    sys::CUtensorMapL2promotion::CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
                    sys::CUtensorMapFloatOOBfill::CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE,
                )
            };
            r.result().map_err(|e| Error::driver("cuTensorMapEncodeTiled", e))?;
            let words = DeviceArray::from_slice(device, &map.opaque)?;
            return Ok(TensorMap { words, box_bytes, cpu_address: None, _array: PhantomData });
        }
        let mut w = [0u64; words::WORDS];
        w[0] = words::MAGIC;
        w[words::ADDRESS] = address;
        w[words::ELEM_BYTES] = size;
        w[words::COLS] = cols;
        w[words::ROWS] = rows;
        w[words::PITCH] = pitch;
        w[words::BOX_COLS] = box_cols as u64;
        w[words::BOX_ROWS] = box_rows as u64;
        w[words::SWIZZLE] = swizzle as u64;
        let words = DeviceArray::from_slice(device, &w)?;
        let address = words.address();
        if let Ok(mut m) = CPU_MAPS.lock() {
            m.get_or_insert_with(HashSet::new).insert(address);
        }
        Ok(TensorMap { words, box_bytes, cpu_address: Some(address), _array: PhantomData })
    }

    /// The bytes one box copy brings (what `mbarrier_arrive_expect_tx` announces for it).
    pub fn box_bytes(&self) -> u32 {
        self.box_bytes
    }
}

impl Drop for TensorMap<'_> {
    fn drop(&mut self) {
        if let (Some(a), Ok(mut m)) = (self.cpu_address, CPU_MAPS.lock()) {
            if let Some(s) = m.as_mut() {
                s.remove(&a);
            }
        }
    }
}

/// TMA's type of an element.
fn data_type(t: ScalarType) -> Option<sys::CUtensorMapDataType> {
    use sys::CUtensorMapDataType as D;
    Some(match t {
        ScalarType::U8 | ScalarType::I8 => D::CU_TENSOR_MAP_DATA_TYPE_UINT8,
        ScalarType::U16 | ScalarType::I16 => D::CU_TENSOR_MAP_DATA_TYPE_UINT16,
        ScalarType::U32 => D::CU_TENSOR_MAP_DATA_TYPE_UINT32,
        ScalarType::I32 => D::CU_TENSOR_MAP_DATA_TYPE_INT32,
        ScalarType::U64 => D::CU_TENSOR_MAP_DATA_TYPE_UINT64,
        ScalarType::I64 => D::CU_TENSOR_MAP_DATA_TYPE_INT64,
        ScalarType::F16 => D::CU_TENSOR_MAP_DATA_TYPE_FLOAT16,
        ScalarType::BF16 => D::CU_TENSOR_MAP_DATA_TYPE_BFLOAT16,
        ScalarType::F32 => D::CU_TENSOR_MAP_DATA_TYPE_FLOAT32,
        ScalarType::F64 => D::CU_TENSOR_MAP_DATA_TYPE_FLOAT64,
        _ => return None,
    })
}

/// A kernel's `&TensorMap` parameter: the map's words.
impl<'m> KernelArg<'m> for &'m TensorMap<'_> {
    #[inline]
    fn into_arg(self) -> Arg<'m> {
        (&self.words).into_arg()
    }
}
