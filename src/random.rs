//! Random numbers: the counter-based generator Philox4x32-10, the one cuRAND, JAX and Triton
//! use, in kernels and on the host, and arrays filled with it.
//!
//! In a kernel or a device function:
//!
//! ```
//! use gpujit::prelude::*;
//!
//! #[gpu_kernel]
//! fn noisy(seed: u64, x: &mut [f32]) {
//!     let i = grid(1);
//!     if i < x.len() {
//!         // One subsequence per element: independent streams, in any order of threads.
//!         let mut r = Philox::new(seed, i as u64);
//!         x[i] += 0.1 * r.normal_f32() + r.uniform_f32();
//!     }
//! }
//! # fn main() -> gpujit::Result<()> {
//! let dev = Device::cpu();
//! let mut x = DeviceArray::<f32>::zeros(&dev, 1000)?;
//! launch!(noisy[4, 256](42, &mut x))?;
//! // The same numbers on the host, from the same stream.
//! let mut r = Philox::new(42, 7);
//! let want = 0.1 * r.normal_f32() + r.uniform_f32();
//! assert_eq!(x.to_vec()?[7], want);
//! # Ok(())
//! # }
//! ```
//!
//! The stream of `Philox::new(seed, subsequence)` is cuRAND's for
//! `curand_init(seed, subsequence, 0, &state)`: `next_u32()` gives the words of `curand(&state)`.
//! Every draw is the same bits on the host, on the CPU backend and on a GPU (the conversions to
//! floats use only exactly rounded operations; see `gpujit_lang::random`), except under
//! `#[gpu_kernel(fastmath)]`, where the normal draws may differ in their last bits.

use crate::{Device, DeviceArray, Result};
pub use gpujit_codegen::random::philox4x32_10;
use gpujit_codegen::random::{self as spec, Draw};

/// A Philox4x32-10 generator: a seed (the key), a subsequence (the high half of the counter)
/// and the words drawn so far. In kernels, `let mut r = Philox::new(seed, i as u64);` declares
/// one; its methods draw as on the host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Philox {
    seed: u64,
    subsequence: u64,
    drawn: u64,
}

impl Philox {
    /// The generator of `seed`'s stream `subsequence` (each its own 2^66 words).
    pub fn new(seed: u64, subsequence: u64) -> Philox {
        Philox { seed, subsequence, drawn: 0 }
    }

    /// The same stream, `offset` words in (cuRAND's `curand_init(seed, subsequence, offset)`).
    pub fn with_offset(seed: u64, subsequence: u64, offset: u64) -> Philox {
        Philox { seed, subsequence, drawn: offset }
    }

    fn draw(&mut self, d: Draw) -> u64 {
        let v = spec::draw(d, self.seed, self.subsequence, self.drawn);
        self.drawn = self.drawn.wrapping_add(d.words());
        v
    }

    /// The next word.
    pub fn next_u32(&mut self) -> u32 {
        self.draw(Draw::NextU32) as u32
    }

    /// Two words, the first the low half.
    pub fn next_u64(&mut self) -> u64 {
        self.draw(Draw::NextU64)
    }

    /// Uniform in [0, 1), a multiple of 2^-24 (one word).
    pub fn uniform_f32(&mut self) -> f32 {
        f32::from_bits(self.draw(Draw::UniformF32) as u32)
    }

    /// Uniform in [0, 1), a multiple of 2^-53 (two words).
    pub fn uniform_f64(&mut self) -> f64 {
        f64::from_bits(self.draw(Draw::UniformF64))
    }

    /// A standard normal (Box–Muller on two words, computed in f64; two words).
    pub fn normal_f32(&mut self) -> f32 {
        f32::from_bits(self.draw(Draw::NormalF32) as u32)
    }

    /// A standard normal (Box–Muller on two `uniform_f64` draws; four words).
    pub fn normal_f64(&mut self) -> f64 {
        f64::from_bits(self.draw(Draw::NormalF64))
    }

    /// The words drawn so far.
    pub fn drawn(&self) -> u64 {
        self.drawn
    }
}

/// Elements a thread of a fill writes: a whole Philox block for `uniform_f32`.
const PER_THREAD: usize = 4;

macro_rules! fills {
    ($($(#[$doc:meta])* $name:ident, $into:ident, $kernel:ident: $t:ty, $draw:ident, $words:expr;)*) => {$(
        // Thread k writes elements 4k..4k+3: draws 4k..4k+3 of the one stream, whole blocks
        // (in straight-line code the compiler computes each Philox block once).
        #[crate::gpu_kernel]
        fn $kernel(seed: u64, out: &mut [$t]) {
            let first = grid(1) * PER_THREAD;
            let mut r = Philox::with_offset(seed, 0, (first * $words) as u64);
            if first + PER_THREAD <= out.len() {
                out[first] = r.$draw();
                out[first + 1] = r.$draw();
                out[first + 2] = r.$draw();
                out[first + 3] = r.$draw();
            } else {
                for k in first..out.len() {
                    out[k] = r.$draw();
                }
            }
        }

        $(#[$doc])*
        pub fn $name(device: &Device, shape: &[usize], seed: u64) -> Result<DeviceArray<$t>> {
            let n = shape
                .iter()
                .try_fold(1usize, |a, d| a.checked_mul(*d))
                .ok_or_else(|| crate::Error::Array(format!("random::{}: the shape {shape:?} has more elements than usize holds", stringify!($name))))?;
            // Every element is written by the kernel before the array is handed out.
            let mut out = DeviceArray::<$t>::uninit_shape(device, &[n])?;
            $into(&mut out, seed)?;
            out.reshape(shape)
        }

        #[doc = concat!("Fills `out` (any shape, in C order) as [`", stringify!($name), "`] makes a new array: no allocation.")]
        pub fn $into(out: &mut DeviceArray<$t>, seed: u64) -> Result<()> {
            let n = out.len();
            let threads = n.div_ceil(PER_THREAD);
            let flat = out.view_mut().reshape(&[n])?;
            crate::launch!($kernel[crate::LaunchConfig::for_elements(threads, 256)](seed, flat))
        }
    )*};
}

fills! {
    /// A new array of `shape` on `device`, uniform in [0, 1): element `i` (in C order) is draw
    /// `i` of `Philox::new(seed, 0)` (`uniform_f32()`), on every backend. The equivalent of
    /// `cupy.random.rand(*shape).astype(cupy.float32)`.
    uniform, uniform_into, fill_uniform_f32: f32, uniform_f32, 1;
    /// As [`uniform`], in f64 (`uniform_f64()`).
    uniform_f64, uniform_f64_into, fill_uniform_f64: f64, uniform_f64, 2;
    /// A new array of `shape` on `device` of standard normals: element `i` is draw `i` of
    /// `Philox::new(seed, 0)` (`normal_f32()`). The equivalent of
    /// `cupy.random.randn(*shape).astype(cupy.float32)`.
    normal, normal_into, fill_normal_f32: f32, normal_f32, 2;
    /// As [`normal`], in f64 (`normal_f64()`).
    normal_f64, normal_f64_into, fill_normal_f64: f64, normal_f64, 4;
}
