//! Random numbers: the counter-based generator Philox4x32-10 (Salmon et al., SC11; the one
//! cuRAND, JAX and Triton use) and the streams kernels draw from it, defined once.
//!
//! A generator `Philox::new(seed, subsequence)` draws the words of Philox4x32-10 with the key
//! `(seed_lo, seed_hi)` and the counters `(block_lo, block_hi, subsequence_lo, subsequence_hi)`
//! for block 0, 1, 2, ...: each block gives four words, taken in order. That is cuRAND's
//! `curand_init(seed, subsequence, 0, &state)` followed by `curand(&state)` calls.
//!
//! The conversions to floats use only IEEE-exact operations (integer arithmetic, `+ - * /`,
//! `sqrt`, `floor`), with `ln` and `cos` as fixed polynomials written here, so a stream is the
//! same bits on the host, on the CPU backend and on the GPU. The code generator emits these same
//! operations in this same order, with the constants of [`ln_series`] and [`sin_cos_taylor`].

use crate::named_enum;
use crate::types::ScalarType;

/// Philox4x32's multipliers and Weyl key increments.
pub const M0: u32 = 0xD251_1F53;
pub const M1: u32 = 0xCD9E_8D57;
pub const W0: u32 = 0x9E37_79B9;
pub const W1: u32 = 0xBB67_AE85;
/// Rounds of Philox4x32-10.
pub const ROUNDS: usize = 10;

/// One block of Philox4x32-10: the four output words of `counter` under `key`.
pub fn philox4x32_10(mut c: [u32; 4], mut k: [u32; 2]) -> [u32; 4] {
    for round in 0..ROUNDS {
        if round > 0 {
            k = [k[0].wrapping_add(W0), k[1].wrapping_add(W1)];
        }
        let p0 = M0 as u64 * c[0] as u64;
        let p1 = M1 as u64 * c[2] as u64;
        c = [(p1 >> 32) as u32 ^ c[1] ^ k[0], p1 as u32, (p0 >> 32) as u32 ^ c[3] ^ k[1], p0 as u32];
    }
    c
}

/// Word `n` of the stream of `(seed, subsequence)`.
pub fn word(seed: u64, subsequence: u64, n: u64) -> u32 {
    let block = n / 4;
    let c = [block as u32, (block >> 32) as u32, subsequence as u32, (subsequence >> 32) as u32];
    philox4x32_10(c, [seed as u32, (seed >> 32) as u32])[(n % 4) as usize]
}

named_enum! {
    /// What a generator's method draws.
    #[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
    pub enum Draw {
        /// `next_u32()`: the next word.
        NextU32,
        /// `next_u64()`: two words, the first the low half.
        NextU64,
        /// `uniform_f32()`: in [0, 1), 24 random bits (`(w >> 8) * 2^-24`).
        UniformF32,
        /// `uniform_f64()`: in [0, 1), 53 random bits (`(next_u64 >> 11) * 2^-53`).
        UniformF64,
        /// `normal_f32()`: a standard normal (Box–Muller on two words, in f64, rounded).
        NormalF32,
        /// `normal_f64()`: a standard normal (Box–Muller on two `uniform_f64`s).
        NormalF64,
    }
}

impl Draw {
    /// The method's Rust name.
    pub fn method(self) -> &'static str {
        match self {
            Draw::NextU32 => "next_u32",
            Draw::NextU64 => "next_u64",
            Draw::UniformF32 => "uniform_f32",
            Draw::UniformF64 => "uniform_f64",
            Draw::NormalF32 => "normal_f32",
            Draw::NormalF64 => "normal_f64",
        }
    }

    pub fn from_method(name: &str) -> Option<Draw> {
        Draw::ALL.iter().copied().find(|d| d.method() == name)
    }

    /// The result type.
    pub fn ty(self) -> ScalarType {
        match self {
            Draw::NextU32 => ScalarType::U32,
            Draw::NextU64 => ScalarType::U64,
            Draw::UniformF32 | Draw::NormalF32 => ScalarType::F32,
            Draw::UniformF64 | Draw::NormalF64 => ScalarType::F64,
        }
    }

    /// The words it consumes.
    pub fn words(self) -> u64 {
        match self {
            Draw::NextU32 | Draw::UniformF32 => 1,
            Draw::NextU64 | Draw::UniformF64 | Draw::NormalF32 => 2,
            Draw::NormalF64 => 4,
        }
    }
}

/// The parts of a generator's state, in the order of [`state_locals`].
const STATE_PARTS: [&str; 3] = ["seed", "subsequence", "drawn"];
const STATE_PREFIX: &str = "__gpujit_philox_";

/// The hidden locals holding generator `name`'s state in a kernel: its key (the seed), its
/// subsequence and its counter of words drawn, all u64.
pub fn state_locals(name: &str) -> [String; 3] {
    STATE_PARTS.map(|part| format!("{STATE_PREFIX}{name}_{part}"))
}

/// For one of [`state_locals`]'s names: the generator's name and which part it is (0 the seed,
/// 1 the subsequence, 2 the words drawn).
pub fn state_local_of(local: &str) -> Option<(&str, usize)> {
    let rest = local.strip_prefix(STATE_PREFIX)?;
    STATE_PARTS.iter().enumerate().find_map(|(k, part)| Some((rest.strip_suffix(part)?.strip_suffix('_')?, k)))
}

/// 2^-24 and 2^-53.
pub const INV_2_24: f64 = 1.0 / 16_777_216.0;
pub const INV_2_53: f64 = 1.0 / 9_007_199_254_740_992.0;
/// ln 2 split for `e * ln 2` without rounding error in the high part (its low 21 bits are 0).
pub const LN2_HI: f64 = 0.693_147_180_369_123_8;
pub const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
pub const SQRT2: f64 = std::f64::consts::SQRT_2;
pub const FRAC_PI_2: f64 = std::f64::consts::FRAC_PI_2;

/// `1 / (2k + 1)` for k = 0..12: `ln m = 2 s Σ s^2k / (2k + 1)` with `s = (m - 1) / (m + 1)`.
pub fn ln_series() -> [f64; 12] {
    std::array::from_fn(|k| 1.0 / (2 * k + 1) as f64)
}

/// Taylor coefficients `(-1)^k / (2k + 1)!` (sin) and `(-1)^k / (2k)!` (cos), k = 0..13.
pub fn sin_cos_taylor() -> ([f64; 13], [f64; 13]) {
    let mut fact = [1.0f64; 28];
    for i in 1..28 {
        fact[i] = fact[i - 1] * i as f64;
    }
    let sign = |k: usize| if k % 2 == 0 { 1.0 } else { -1.0 };
    (std::array::from_fn(|k| sign(k) / fact[2 * k + 1]), std::array::from_fn(|k| sign(k) / fact[2 * k]))
}

/// `p(x) = c[n-1]; p = p * x + c[i]` for i from n-2 down to 0 (Horner), as emitted.
pub fn horner(c: &[f64], x: f64) -> f64 {
    let mut p = c[c.len() - 1];
    for &ci in c[..c.len() - 1].iter().rev() {
        p = p * x + ci;
    }
    p
}

/// `ln x` for a normal positive `x`, from the bits: `x = 2^e m`, m in [sqrt(1/2), sqrt(2)).
pub fn ln(x: f64) -> f64 {
    let bits = x.to_bits();
    let mut e = ((bits >> 52) & 0x7ff) as i64 - 1023;
    let mut m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000);
    if m > SQRT2 {
        m *= 0.5;
        e += 1;
    }
    let s = (m - 1.0) / (m + 1.0);
    let p = horner(&ln_series(), s * s);
    let e = e as f64;
    e * LN2_HI + (e * LN2_LO + 2.0 * s * p)
}

/// `cos(2 pi u)` for u in [0, 1): the quadrant from `4u`, then a Taylor polynomial.
pub fn cos_2pi(u: f64) -> f64 {
    let t = u * 4.0;
    let q = t.floor();
    let a = (t - q) * FRAC_PI_2;
    let a2 = a * a;
    let (sin_c, cos_c) = sin_cos_taylor();
    let c = horner(&cos_c, a2);
    let s = a * horner(&sin_c, a2);
    // cos(q pi/2 + a): cos a, -sin a, -cos a, sin a.
    if q == 0.0 {
        c
    } else if q == 1.0 {
        -s
    } else if q == 2.0 {
        -c
    } else {
        s
    }
}

/// Box–Muller: `sqrt(-2 ln u1) cos(2 pi u2)` for u1 in (0, 1], u2 in [0, 1).
pub fn box_muller(u1: f64, u2: f64) -> f64 {
    (-2.0 * ln(u1)).sqrt() * cos_2pi(u2)
}

/// A draw from the stream of `(seed, subsequence)` at word `n`, as bits of its type
/// (zero-extended), and how many words it took: the reference every backend matches.
pub fn draw(d: Draw, seed: u64, subsequence: u64, n: u64) -> u64 {
    let w = |i: u64| word(seed, subsequence, n.wrapping_add(i));
    let u64_at = |i: u64| w(i) as u64 | (w(i + 1) as u64) << 32;
    let uniform_f64_at = |i: u64| (u64_at(i) >> 11) as f64 * INV_2_53;
    match d {
        Draw::NextU32 => w(0) as u64,
        Draw::NextU64 => u64_at(0),
        Draw::UniformF32 => (((w(0) >> 8) as f32) * (INV_2_24 as f32)).to_bits() as u64,
        Draw::UniformF64 => uniform_f64_at(0).to_bits(),
        Draw::NormalF32 => {
            let u1 = ((w(0) >> 8) + 1) as f64 * INV_2_24;
            let u2 = (w(1) >> 8) as f64 * INV_2_24;
            (box_muller(u1, u2) as f32).to_bits() as u64
        }
        Draw::NormalF64 => {
            let u1 = 1.0 - uniform_f64_at(0);
            let u2 = uniform_f64_at(2);
            box_muller(u1, u2).to_bits()
        }
    }
}

/// Random123's known-answer vectors for philox4x32 10 (its `kat_vectors`): counter, key,
/// output.
pub const KNOWN_ANSWERS: [([u32; 4], [u32; 2], [u32; 4]); 3] = [
    ([0; 4], [0; 2], [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8]),
    ([u32::MAX; 4], [u32::MAX; 2], [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd]),
    (
        [0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344],
        [0xa409_3822, 0x299f_31d0],
        [0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1],
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answers() {
        for (c, k, want) in KNOWN_ANSWERS {
            assert_eq!(philox4x32_10(c, k), want);
        }
    }

    #[test]
    fn state_locals_name_their_generator() {
        let [s, q, n] = state_locals("rng");
        assert_eq!([state_local_of(&s), state_local_of(&q), state_local_of(&n)], [Some(("rng", 0)), Some(("rng", 1)), Some(("rng", 2))]);
        assert_eq!(state_local_of("rng_seed"), None);
    }

    #[test]
    fn ln2_split() {
        assert_eq!(LN2_HI.to_bits(), 0x3fe6_2e42_fee0_0000);
        assert_eq!(LN2_LO.to_bits(), 0x3dea_39ef_3579_3c76);
    }

    #[test]
    fn transforms_are_accurate() {
        for i in 1..2000 {
            let x = i as f64 / 2000.0;
            assert!((ln(x) - x.ln()).abs() <= 4.0 * f64::EPSILON * x.ln().abs().max(1.0), "ln {x}");
            let c = (2.0 * std::f64::consts::PI * x).cos();
            assert!((cos_2pi(x) - c).abs() <= 1e-15, "cos_2pi {x}: {} vs {c}", cos_2pi(x));
        }
        assert_eq!(ln(1.0), 0.0);
        assert!((ln(INV_2_53) - INV_2_53.ln()).abs() < 1e-13);
    }

    #[test]
    fn uniforms_stay_in_range() {
        for n in 0..4000 {
            let u = f32::from_bits(draw(Draw::UniformF32, 7, 3, n) as u32);
            assert!((0.0..1.0).contains(&u));
            let d = f64::from_bits(draw(Draw::UniformF64, 7, 3, n));
            assert!((0.0..1.0).contains(&d));
            let z = f64::from_bits(draw(Draw::NormalF64, 7, 3, n));
            assert!(z.is_finite() && z.abs() < 10.0);
        }
    }
}
