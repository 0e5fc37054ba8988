//! The compiled-kernel contract: what the compiler tells the runtime about a specialization it
//! compiled, for both targets. The runtime marshals arguments and decodes a kernel's reports from
//! this description alone, so the layout is written once, here.
//!
//! - [`ParamLayout`]: the argument words a kernel takes, in order. Each kernel parameter is one
//!   word (a scalar's bits), or for an array `1 + 2 × ndim` words: the data pointer, the extent of
//!   each axis, then the stride of each axis in elements. [`crate::lower`] declares the LLVM
//!   parameters from it; the host entry unpacks its argument buffer by it; the runtime fills the
//!   buffer (CPU) or the parameter array of `cuLaunchKernel` (GPU) by it.
//! - [`OobRecord`]: the record a bounds-checked kernel fills on its first out-of-range access,
//!   encoded by [`crate::target::write_oob_fields`] and decoded by [`OobRecord::decode`].
//! - [`KernelMetadata`]: the rest the runtime needs: the array table (for errors), whether the
//!   kernel synchronizes its block or grid, its static shared memory, the globals its module
//!   defines.

use crate::ir::{self, ParamType};
use crate::types::ScalarType;

/// Where one kernel parameter sits in the argument words.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ParamSlots {
    /// A scalar: its bits (zero-extended) in word `word`.
    Scalar { word: usize },
    /// A complex number: its real part's bits (zero-extended) in word `word`, its imaginary
    /// part's in the next.
    Complex { word: usize },
    /// A struct by value: its bytes in the `count` words from `word` (the last zero-padded).
    Words { word: usize, count: usize },
    /// An array: the data pointer in `word`, the extents in the `ndim` words after it, then the
    /// strides (in elements, two's complement) in the `ndim` words after those.
    Array { word: usize, ndim: u8 },
}

impl ParamSlots {
    /// How many words the parameter takes.
    pub fn words(self) -> usize {
        match self {
            ParamSlots::Scalar { .. } => 1,
            ParamSlots::Complex { .. } => 2,
            ParamSlots::Words { count, .. } => count,
            ParamSlots::Array { ndim, .. } => 1 + 2 * ndim as usize,
        }
    }

    /// The first word of the parameter.
    pub fn first(self) -> usize {
        match self {
            ParamSlots::Scalar { word }
            | ParamSlots::Complex { word }
            | ParamSlots::Words { word, .. }
            | ParamSlots::Array { word, .. } => word,
        }
    }
}

/// The argument words of a kernel: one [`ParamSlots`] per parameter.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ParamLayout {
    params: Vec<ParamSlots>,
    words: usize,
}

impl ParamLayout {
    /// The layout of `kernel`'s parameters.
    pub fn of(kernel: &ir::Kernel) -> ParamLayout {
        ParamLayout::of_params(&kernel.params)
    }

    /// The layout of a parameter list (a kernel's or a device function's).
    pub fn of_params(params: &[ir::Param]) -> ParamLayout {
        let mut out = Vec::with_capacity(params.len());
        let mut word = 0;
        for p in params {
            let slots = match p.ty {
                ParamType::Array { ndim, .. } => ParamSlots::Array { word, ndim },
                ParamType::Scalar(t) if t.is_complex() => ParamSlots::Complex { word },
                ParamType::Scalar(crate::types::ScalarType::Struct(d)) => ParamSlots::Words { word, count: crate::lower::words_of(d.size) },
                ParamType::Scalar(_) => ParamSlots::Scalar { word },
            };
            word += slots.words();
            out.push(slots);
        }
        ParamLayout { params: out, words: word }
    }

    /// Every parameter's slots, in order.
    pub fn params(&self) -> &[ParamSlots] {
        &self.params
    }

    /// The number of argument words in all.
    pub fn words(&self) -> usize {
        self.words
    }

    /// Writes scalar parameter `param`'s bits into `words`: a complex number's real part's in
    /// the low 64 bits of `bits`, its imaginary part's in the high 64. Returns `false` (writing
    /// nothing) when the parameter is not a scalar or `words` is too short.
    pub fn write_scalar(&self, words: &mut [u64], param: usize, bits: u128) -> bool {
        match self.params.get(param) {
            Some(ParamSlots::Scalar { word }) if *word < words.len() => {
                words[*word] = bits as u64;
                true
            }
            Some(ParamSlots::Complex { word }) if *word + 1 < words.len() => {
                words[*word] = bits as u64;
                words[*word + 1] = (bits >> 64) as u64;
                true
            }
            _ => false,
        }
    }

    /// Writes struct parameter `param`'s words into `words`. Returns `false` (writing nothing)
    /// when the parameter is not a struct of that many words or `words` is too short.
    pub fn write_words(&self, words: &mut [u64], param: usize, value: &[u64]) -> bool {
        match self.params.get(param) {
            Some(&ParamSlots::Words { word, count }) if count == value.len() && word + count <= words.len() => {
                words[word..word + count].copy_from_slice(value);
                true
            }
            _ => false,
        }
    }

    /// Writes array parameter `param` (data pointer, extents, strides in elements) into `words`.
    /// Returns `false` (writing nothing) when the parameter is not an array of `shape.len()`
    /// dimensions, the strides do not match the shape, or `words` is too short.
    pub fn write_array(&self, words: &mut [u64], param: usize, ptr: u64, shape: &[u64], strides: &[i64]) -> bool {
        let Some(&ParamSlots::Array { word, ndim }) = self.params.get(param) else { return false };
        let n = ndim as usize;
        if shape.len() != n || strides.len() != n || word + 1 + 2 * n > words.len() {
            return false;
        }
        words[word] = ptr;
        words[word + 1..word + 1 + n].copy_from_slice(shape);
        for (w, s) in words[word + 1 + n..word + 1 + 2 * n].iter_mut().zip(strides) {
            *w = *s as u64;
        }
        true
    }
}

/// The record a kernel fills on its first out-of-range access (when bounds-checked) or failed
/// assertion: seventeen `u64`s.
///
/// | word | field |
/// | --- | --- |
/// | 0 | flag: nonzero once written (the target decides who may write it) |
/// | 1 | the array's number in [`KernelMetadata::arrays`], with the axis in the high 32 bits; for an assertion [`OobRecord::ASSERTION`] and its number |
/// | 2 | the index |
/// | 3, 4, 5 | the thread's index x, y, z |
/// | 6, 7, 8 | the block's index x, y, z |
/// | 9..17 | an assertion's recorded values (bits, zero-extended) |
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct OobRecord {
    /// The array's number in [`KernelMetadata::arrays`].
    pub array: u32,
    /// The axis whose index was out of range.
    pub axis: u32,
    pub index: u64,
    pub thread: [u32; 3],
    pub block: [u32; 3],
    /// A failed assertion's recorded values.
    pub values: [u64; crate::limits::MAX_ASSERT_VALUES],
}

impl OobRecord {
    /// The record's length in `u64` words.
    pub const WORDS: usize = 9 + crate::limits::MAX_ASSERT_VALUES;
    /// First word of an assertion's values.
    pub const VALUES: u64 = 9;
    /// The array number that marks a failed assertion (its number is in the axis's place).
    pub const ASSERTION: u32 = u32::MAX;
    /// The axis that marks a NaN or infinity written (`GPUJIT_CHECK=1`): the array is the one
    /// written; the values are the line, the body, the float's bits, its part of the element
    /// (see [`ScalarType::float_parts`](crate::ScalarType::float_parts)) and the indices.
    pub const NON_FINITE: u32 = u32::MAX;
    /// The axis that marks a vector access (`load::<N>`, `cp_async`, `ldmatrix`) whose first
    /// element's offset is not a multiple of its element count: the index is that offset, and
    /// value 2 the count.
    pub const MISALIGNED: u32 = u32::MAX - 1;
    /// Word of the flag.
    pub const FLAG: u64 = 0;
    /// Word of the array number and axis ([`OobRecord::array_axis`]).
    pub const ARRAY: u64 = 1;
    /// Word of the index.
    pub const INDEX: u64 = 2;
    /// First word of the thread index (x, y, z follow).
    pub const THREAD: u64 = 3;
    /// First word of the block index (x, y, z follow).
    pub const BLOCK: u64 = 6;

    /// How word [`OobRecord::ARRAY`] holds an array number and an axis.
    pub fn array_axis(array: u32, axis: u32) -> u64 {
        ((axis as u64) << 32) | array as u64
    }

    /// The record in `words`, or `None` when its flag is clear (no access was out of range).
    pub fn decode(words: &[u64; OobRecord::WORDS]) -> Option<OobRecord> {
        if words[Self::FLAG as usize] == 0 {
            return None;
        }
        let w = |i: u64| words[i as usize];
        let array_axis = w(Self::ARRAY);
        Some(OobRecord {
            array: array_axis as u32,
            axis: (array_axis >> 32) as u32,
            index: w(Self::INDEX),
            thread: [w(Self::THREAD) as u32, w(Self::THREAD + 1) as u32, w(Self::THREAD + 2) as u32],
            block: [w(Self::BLOCK) as u32, w(Self::BLOCK + 1) as u32, w(Self::BLOCK + 2) as u32],
            values: std::array::from_fn(|k| w(Self::VALUES + k as u64)),
        })
    }

    /// The number of the failed assertion the record holds, if it holds one.
    pub fn assertion(&self) -> Option<u32> {
        (self.array == Self::ASSERTION).then_some(self.axis)
    }

    /// Whether the record holds a NaN or infinity written rather than an out-of-range access.
    pub fn non_finite(&self) -> bool {
        self.array != Self::ASSERTION && self.axis == Self::NON_FINITE
    }

    /// Whether the record holds a misaligned vector access (see [`OobRecord::MISALIGNED`]).
    pub fn misaligned(&self) -> bool {
        self.array != Self::ASSERTION && self.axis == Self::MISALIGNED
    }
}

/// CPU backend: the bytes of padding before and after a lockstep frame (16-byte aligned). A
/// lane shift (`shfl_up_sync`, `shfl_down_sync`) reads up to 32 threads past either end of a
/// slot, words it then discards, so that consecutive threads read consecutive words.
pub const LOCKSTEP_FRAME_PAD: u64 = 512;

/// What the runtime needs to know of a compiled specialization besides its code.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct KernelMetadata {
    /// The kernel's entry name.
    pub entry: String,
    /// The argument words.
    pub layout: ParamLayout,
    /// The arrays an [`OobRecord`] may name, by number: the parameters first (in order, scalars
    /// included so numbers match parameter positions), then shared arrays, then per-thread
    /// arrays, then each device function's parameters and per-thread arrays.
    pub arrays: Vec<String>,
    /// The element type of each array of [`KernelMetadata::arrays`] (`None` for scalar
    /// parameters).
    pub elems: Vec<Option<ScalarType>>,
    /// The static length of each array of [`KernelMetadata::arrays`] (`None` for parameters,
    /// whose shapes come with the arguments, and for dynamic shared memory).
    pub static_lens: Vec<Option<u64>>,
    /// Whether it calls `sync_threads()` or a block collective (the CPU backend then runs each
    /// block's threads as fibers).
    pub uses_barrier: bool,
    /// Whether it calls `grid_sync()` (a cooperative launch).
    pub cooperative: bool,
    /// CPU backend: the bytes of frame a thread of a kernel run in lockstep needs (the
    /// frame is given with [`LOCKSTEP_FRAME_PAD`] bytes of padding before and after)
    /// ([`crate::lower::lockstep`]); `None` where the block's threads run one after another
    /// (or, when it synchronizes, as fibers).
    pub lockstep_frame: Option<u64>,
    /// CPU backend: whether a one-dimensional launch runs as contiguous chunks of the
    /// elements of its grid-stride loop ([`crate::lower::flat`]).
    pub flat: bool,
    /// Bytes of static shared memory a block.
    pub static_shared_bytes: u64,
    /// Bytes a GPU launch adds to the dynamic shared memory it asks for, so that the kernel can
    /// start it at a 1024-byte boundary ([`ir::Kernel::dynamic_shared_pad`]).
    pub dynamic_shared_pad: u32,
    /// Whether out-of-range accesses are checked and recorded in an [`OobRecord`].
    pub boundscheck: bool,
    /// The global variables the module defines (GPU: `gpujit_oob_record`, ...), the only ones
    /// the runtime may look up once it is loaded. Empty for host code.
    pub globals: Vec<String>,
    /// The assertions, by the number a record gives: the kernel's, then each device function's.
    pub asserts: Vec<ir::AssertInfo>,
    /// The source file of each body: the kernel's, then each device function's (an
    /// out-of-bounds record names the body and the line).
    pub files: Vec<String>,
    /// The `print!`s, numbered likewise. A print record in the print buffer is its number,
    /// then its values' bits (zero-extended), one word each.
    pub prints: Vec<ir::PrintInfo>,
}

impl KernelMetadata {
    /// The metadata of `kernel`'s compiled code, with `globals` the globals its module defines.
    pub fn of(kernel: &ir::Kernel, globals: Vec<String>) -> KernelMetadata {
        KernelMetadata {
            entry: kernel.name.clone(),
            layout: ParamLayout::of(kernel),
            arrays: crate::lower::array_table(kernel),
            elems: crate::lower::array_elems(kernel),
            static_lens: crate::lower::array_static_lens(kernel),
            uses_barrier: kernel.synchronizes(),
            cooperative: kernel.uses_grid_sync(),
            lockstep_frame: None,
            flat: false,
            static_shared_bytes: kernel.shared_layout().1,
            dynamic_shared_pad: kernel.dynamic_shared_pad() as u32,
            boundscheck: kernel.options.boundscheck,
            globals,
            asserts: kernel.asserts.iter().chain(kernel.functions.iter().flat_map(|f| f.asserts.iter())).cloned().collect(),
            prints: kernel.prints.iter().chain(kernel.functions.iter().flat_map(|f| f.prints.iter())).cloned().collect(),
            files: std::iter::once(&kernel.file).chain(kernel.functions.iter().map(|f| &f.file)).cloned().collect(),
        }
    }

    /// The name of array `number` of an [`OobRecord`].
    pub fn array_name(&self, number: u32) -> &str {
        self.arrays.get(number as usize).map(String::as_str).unwrap_or("")
    }

    /// The element type of array `number`.
    pub fn array_elem(&self, number: u32) -> Option<ScalarType> {
        self.elems.get(number as usize).copied().flatten()
    }

    /// The static length of array `number`, if it has one.
    pub fn static_len(&self, number: u32) -> Option<u64> {
        self.static_lens.get(number as usize).copied().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oob_record_round_trip() {
        let mut words = [0u64; OobRecord::WORDS];
        assert_eq!(OobRecord::decode(&words), None);
        words[0] = 1;
        words[1] = OobRecord::array_axis(5, 2);
        words[2] = 1 << 40;
        words[3..9].copy_from_slice(&[1, 2, 3, 4, 5, 6]);
        words[9] = 77;
        let r = OobRecord::decode(&words).expect("flag set");
        let mut values = [0; crate::limits::MAX_ASSERT_VALUES];
        values[0] = 77;
        assert_eq!(r, OobRecord { array: 5, axis: 2, index: 1 << 40, thread: [1, 2, 3], block: [4, 5, 6], values });
        assert_eq!(r.assertion(), None);
        words[1] = OobRecord::array_axis(OobRecord::ASSERTION, 3);
        assert_eq!(OobRecord::decode(&words).and_then(|r| r.assertion()), Some(3));
    }

    #[test]
    fn layout_writes_only_matching_parameters() {
        let layout = ParamLayout { params: vec![ParamSlots::Scalar { word: 0 }, ParamSlots::Array { word: 1, ndim: 2 }], words: 6 };
        let mut w = [0u64; 6];
        assert!(layout.write_scalar(&mut w, 0, 7));
        assert!(!layout.write_scalar(&mut w, 1, 7), "an array is not a scalar");
        assert!(!layout.write_array(&mut w, 1, 9, &[3], &[1]), "wrong rank");
        assert!(layout.write_array(&mut w, 1, 9, &[3, 4], &[4, -1]));
        assert_eq!(w, [7, 9, 3, 4, 4, u64::MAX]);
        assert!(!layout.write_array(&mut [0u64; 5], 1, 9, &[3, 4], &[4, 1]), "too few words");
    }
}
