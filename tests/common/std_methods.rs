//! Rust's integer and float methods in kernels (`wrapping_*`, `saturating_*`, `overflowing_*`,
//! bit counts and rotations, `pow`, `abs_diff`, `rem_euclid`, `to_bits`/`from_bits`, the float
//! classes, `sin_cos`, ...) and `mul_hi`: each against std on the host, on random inputs mixed
//! with the edge values (MIN, MAX, 0, ±1, shift amounts past the width, NaN, ±inf, ±0,
//! subnormals).
//!
//! Where std panics (a zero divisor, `clamp` with min > max), kernels follow the README: `/`'s
//! rules (0 and the dividend), and `clamp`'s comparisons as written.

use super::fuzz::value::{ulps, v, V};
use super::*;

/// An integer from the edge values of its type or at random.
macro_rules! edge_int {
    ($h:expr, $t:ty) => {{
        let h: &Harness = $h;
        match h.next_u64() % 8 {
            0 => <$t>::MIN,
            1 => <$t>::MAX,
            2 => 0,
            3 => 1,
            4 => (0 as $t).wrapping_sub(1),
            5 => (h.next_u64() % 16) as $t,
            _ => h.next_u64() as $t,
        }
    }};
}

/// A u32 operand: a shift or rotate amount around the width, a small exponent, or any.
fn amount(h: &Harness, bits: u32) -> u32 {
    match h.next_u64() % 4 {
        0 => (h.next_u64() % (2 * bits as u64 + 2)) as u32,
        1 => (h.next_u64() % 70) as u32,
        2 => [0, 1, bits - 1, bits, u32::MAX][(h.next_u64() % 5) as usize],
        _ => h.next_u64() as u32,
    }
}

/// Same-type results per element, u32 counts, bool flags.
const SAME: usize = 34;
const COUNTS: usize = 4;
const FLAGS: usize = 12;

macro_rules! int_method_kernels {
    ($($kernel:ident, $check:ident: $t:ty, $u:ty;)*) => {$(
        #[gpu_kernel]
        fn $kernel(x: &[$t], y: &[$t], z: &[$t], n: &[u32], same: &mut [$t], counts: &mut [u32], flags: &mut [bool], diff: &mut [$u]) {
            let i = grid(1);
            if i >= x.len() {
                return;
            }
            let (a, b, c, k) = (x[i], y[i], z[i], n[i]);
            let s = 34 * i;
            same[s] = a.wrapping_add(b);
            same[s + 1] = a.wrapping_sub(b);
            same[s + 2] = a.wrapping_mul(b);
            same[s + 3] = a.wrapping_div(b);
            same[s + 4] = a.wrapping_rem(b);
            same[s + 5] = a.wrapping_neg();
            same[s + 6] = a.wrapping_shl(k);
            same[s + 7] = a.wrapping_shr(k);
            same[s + 8] = a.wrapping_pow(k);
            same[s + 9] = a.pow(k);
            same[s + 10] = a.saturating_add(b);
            same[s + 11] = a.saturating_sub(b);
            same[s + 12] = a.saturating_mul(b);
            same[s + 13] = a.saturating_div(b);
            same[s + 14] = a.saturating_pow(k);
            same[s + 15] = a.rotate_left(k);
            same[s + 16] = a.rotate_right(k);
            same[s + 17] = a.reverse_bits();
            same[s + 18] = a.swap_bytes();
            same[s + 19] = a.rem_euclid(b);
            same[s + 20] = a.div_euclid(b);
            same[s + 21] = a.clamp(b.min(c), b.max(c));
            same[s + 22] = mul_hi(a, b);
            let (w, o) = a.overflowing_add(b);
            same[s + 23] = w;
            let f = 12 * i;
            flags[f] = o;
            let (w, o) = a.overflowing_sub(b);
            same[s + 24] = w;
            flags[f + 1] = o;
            let (w, o) = a.overflowing_mul(b);
            same[s + 25] = w;
            flags[f + 2] = o;
            let (w, o) = a.overflowing_div(b);
            same[s + 26] = w;
            flags[f + 3] = o;
            // A `mut` name in the pattern.
            let (w, mut o) = a.overflowing_rem(b);
            same[s + 27] = w;
            o = !o;
            flags[f + 4] = !o;
            let (w, o) = a.overflowing_pow(k);
            same[s + 28] = w;
            flags[f + 5] = o;
            same[s + 29] = a.overflowing_neg().0;
            flags[f + 6] = a.overflowing_neg().1;
            flags[f + 7] = a.overflowing_shl(k).1;
            flags[f + 8] = a.overflowing_shr(k).1;
            flags[f + 9] = (a.overflowing_shl(k).0 == a.wrapping_shl(k)) && (a.overflowing_shr(k).0 == a.wrapping_shr(k));
            same[s + 30] = a.wrapping_div_euclid(b);
            same[s + 31] = a.wrapping_rem_euclid(b);
            let (w, o) = a.overflowing_div_euclid(b);
            same[s + 32] = w;
            flags[f + 10] = o;
            let (w, o) = a.overflowing_rem_euclid(b);
            same[s + 33] = w;
            flags[f + 11] = o;
            let t = 4 * i;
            counts[t] = a.count_ones();
            counts[t + 1] = a.count_zeros();
            counts[t + 2] = a.leading_zeros();
            counts[t + 3] = a.trailing_zeros();
            diff[i] = a.abs_diff(b);
        }

        fn $check(h: &Harness) {
            let bits = <$t>::BITS;
            for len in SIZES {
                let x: Vec<$t> = h.vec(len, |h| edge_int!(h, $t));
                let y: Vec<$t> = h.vec(len, |h| edge_int!(h, $t));
                let z: Vec<$t> = h.vec(len, |h| edge_int!(h, $t));
                let n: Vec<u32> = h.vec(len, |h| amount(h, bits));
                let mut same = h.zeros::<$t>(SAME * len);
                let mut counts = h.zeros::<u32>(COUNTS * len);
                let mut flags = h.zeros::<bool>(FLAGS * len);
                let mut diff = h.zeros::<$u>(len);
                let args = (&h.arr(&x), &h.arr(&y), &h.arr(&z), &h.arr(&n), &mut same, &mut counts, &mut flags, &mut diff);
                h.run(&$kernel, LaunchConfig::for_elements(len, 128), args).unwrap();
                let (same, counts, flags, diff) = (same.to_vec().unwrap(), counts.to_vec().unwrap(), flags.to_vec().unwrap(), diff.to_vec().unwrap());
                for i in 0..len {
                    let (a, b, c, k) = (x[i], y[i], z[i], n[i]);
                    // std panics on a zero divisor; kernels give 0 and the dividend, as `/` and `%`.
                    let by0 = b == 0;
                    let (mul_hi_want, _) = wide_mul(a as i128, b as i128, <$t>::MIN == 0, bits);
                    let want: [$t; SAME] = [
                        a.wrapping_add(b),
                        a.wrapping_sub(b),
                        a.wrapping_mul(b),
                        if by0 { 0 } else { a.wrapping_div(b) },
                        if by0 { a } else { a.wrapping_rem(b) },
                        a.wrapping_neg(),
                        a.wrapping_shl(k),
                        a.wrapping_shr(k),
                        a.wrapping_pow(k),
                        a.wrapping_pow(k),
                        a.saturating_add(b),
                        a.saturating_sub(b),
                        a.saturating_mul(b),
                        if by0 { 0 } else { a.saturating_div(b) },
                        a.saturating_pow(k),
                        a.rotate_left(k),
                        a.rotate_right(k),
                        a.reverse_bits(),
                        a.swap_bytes(),
                        if by0 { a } else { a.wrapping_rem_euclid(b) },
                        if by0 { 0 } else { a.wrapping_div_euclid(b) },
                        a.clamp(b.min(c), b.max(c)),
                        mul_hi_want as $t,
                        a.overflowing_add(b).0,
                        a.overflowing_sub(b).0,
                        a.overflowing_mul(b).0,
                        if by0 { 0 } else { a.overflowing_div(b).0 },
                        if by0 { a } else { a.overflowing_rem(b).0 },
                        a.overflowing_pow(k).0,
                        a.overflowing_neg().0,
                        if by0 { 0 } else { a.wrapping_div_euclid(b) },
                        if by0 { a } else { a.wrapping_rem_euclid(b) },
                        if by0 { 0 } else { a.overflowing_div_euclid(b).0 },
                        if by0 { a } else { a.overflowing_rem_euclid(b).0 },
                    ];
                    let ctx = format!("{}: a = {a}, b = {b}, c = {c}, k = {k}", stringify!($t));
                    assert_eq!(&same[SAME * i..SAME * (i + 1)], &want[..], "{ctx}");
                    let want_flags = [
                        a.overflowing_add(b).1,
                        a.overflowing_sub(b).1,
                        a.overflowing_mul(b).1,
                        !by0 && a.overflowing_div(b).1,
                        !by0 && a.overflowing_rem(b).1,
                        a.overflowing_pow(k).1,
                        a.overflowing_neg().1,
                        a.overflowing_shl(k).1,
                        a.overflowing_shr(k).1,
                        true,
                        !by0 && a.overflowing_div_euclid(b).1,
                        !by0 && a.overflowing_rem_euclid(b).1,
                    ];
                    assert_eq!(&flags[FLAGS * i..FLAGS * (i + 1)], &want_flags[..], "{ctx}");
                    let want_counts = [a.count_ones(), a.count_zeros(), a.leading_zeros(), a.trailing_zeros()];
                    assert_eq!(&counts[COUNTS * i..COUNTS * (i + 1)], &want_counts[..], "{ctx}");
                    assert_eq!(diff[i], a.abs_diff(b), "{ctx}");
                }
            }
        }
    )*};
}

/// The full product of `a` and `b` (as `bits`-wide integers, signed or not): its high and low
/// halves, as i128.
fn wide_mul(a: i128, b: i128, unsigned: bool, bits: u32) -> (i128, i128) {
    if unsigned {
        let p = (a as u128) * (b as u128);
        ((p >> bits) as i128, p as i128)
    } else {
        let p = a * b;
        (p >> bits, p)
    }
}

int_method_kernels! {
    int_methods_i8, check_i8: i8, u8;
    int_methods_i16, check_i16: i16, u16;
    int_methods_i32, check_i32: i32, u32;
    int_methods_i64, check_i64: i64, u64;
    int_methods_u8, check_u8: u8, u8;
    int_methods_u16, check_u16: u16, u16;
    int_methods_u32, check_u32: u32, u32;
    int_methods_u64, check_u64: u64, u64;
}

macro_rules! signed_method_kernels {
    ($($kernel:ident, $check:ident: $t:ty, $u:ty;)*) => {$(
        #[gpu_kernel]
        fn $kernel(x: &[$t], same: &mut [$t], flags: &mut [bool], un: &mut [$u]) {
            let i = grid(1);
            if i < x.len() {
                let a = x[i];
                same[5 * i] = a.wrapping_abs();
                same[5 * i + 1] = a.saturating_neg();
                same[5 * i + 2] = a.saturating_abs();
                let (w, o) = a.overflowing_abs();
                same[5 * i + 3] = w;
                flags[i] = o;
                same[5 * i + 4] = a.abs();
                un[i] = a.unsigned_abs();
            }
        }

        fn $check(h: &Harness) {
            for len in SIZES {
                let x: Vec<$t> = h.vec(len, |h| edge_int!(h, $t));
                let (mut same, mut flags, mut un) = (h.zeros::<$t>(5 * len), h.zeros::<bool>(len), h.zeros::<$u>(len));
                h.run(&$kernel, LaunchConfig::for_elements(len, 96), (&h.arr(&x), &mut same, &mut flags, &mut un)).unwrap();
                let want: Vec<$t> = x.iter().flat_map(|a| [a.wrapping_abs(), a.saturating_neg(), a.saturating_abs(), a.overflowing_abs().0, a.wrapping_abs()]).collect();
                assert_eq!(same.to_vec().unwrap(), want, "{}", stringify!($t));
                assert_eq!(flags.to_vec().unwrap(), x.iter().map(|a| a.overflowing_abs().1).collect::<Vec<_>>());
                assert_eq!(un.to_vec().unwrap(), x.iter().map(|a| a.unsigned_abs()).collect::<Vec<_>>());
            }
        }
    )*};
}

signed_method_kernels! {
    signed_methods_i8, check_signed_i8: i8, u8;
    signed_methods_i16, check_signed_i16: i16, u16;
    signed_methods_i32, check_signed_i32: i32, u32;
    signed_methods_i64, check_signed_i64: i64, u64;
}

/// The integer methods through the `Int` bound of a generic kernel (its stand-ins).
#[gpu_kernel]
fn generic_int_methods<T: Int>(x: &[T], n: &[u32], out: &mut [T], counts: &mut [u32]) {
    let i = grid(1);
    if i < x.len() {
        let a = x[i];
        out[3 * i] = a.wrapping_mul(a).rotate_left(n[i]);
        let (w, o) = a.overflowing_add(a);
        out[3 * i + 1] = if o { w } else { a.saturating_sub(w) };
        out[3 * i + 2] = mul_hi(a, a.swap_bytes()).wrapping_pow(n[i] % 5);
        counts[i] = a.count_ones() + a.leading_zeros();
    }
}

macro_rules! check_generic_int {
    ($h:expr, $($t:ty),*) => {$({
        let h: &Harness = $h;
        for len in SIZES {
            let x: Vec<$t> = h.vec(len, |h| edge_int!(h, $t));
            let n: Vec<u32> = h.vec(len, |h| amount(h, <$t>::BITS));
            let (mut out, mut counts) = (h.zeros::<$t>(3 * len), h.zeros::<u32>(len));
            h.run(&generic_int_methods, LaunchConfig::for_elements(len, 64), (&h.arr(&x), &h.arr(&n), &mut out, &mut counts)).unwrap();
            let want: Vec<$t> = x
                .iter()
                .zip(&n)
                .flat_map(|(&a, &k)| {
                    let (w, o) = a.overflowing_add(a);
                    let (hi, _) = wide_mul(a as i128, a.swap_bytes() as i128, <$t>::MIN == 0, <$t>::BITS);
                    [a.wrapping_mul(a).rotate_left(k), if o { w } else { a.saturating_sub(w) }, (hi as $t).wrapping_pow(k % 5)]
                })
                .collect();
            assert_eq!(out.to_vec().unwrap(), want, "{}", stringify!($t));
            assert_eq!(counts.to_vec().unwrap(), x.iter().map(|a| a.count_ones() + a.leading_zeros()).collect::<Vec<_>>());
        }
    })*};
}

pub fn std_int_methods(h: &Harness) {
    check_i8(h);
    check_i16(h);
    check_i32(h);
    check_i64(h);
    check_u8(h);
    check_u16(h);
    check_u32(h);
    check_u64(h);
    check_signed_i8(h);
    check_signed_i16(h);
    check_signed_i32(h);
    check_signed_i64(h);
    check_generic_int!(h, i8, u16, i32, u64);
}

/// The host's reference for a float type: std's methods, in f32 (rounded back) for f16 and
/// bf16 as kernels compute them.
trait StdFloat: Copy + std::fmt::Debug {
    type Bits: Copy + PartialEq + std::fmt::Debug;
    fn of(x: f64) -> Self;
    fn of_bits(b: u64) -> Self;
    fn bits(self) -> Self::Bits;
    fn value(self) -> V;
    fn un(self, f: fn(f32) -> f32, g: fn(f64) -> f64) -> Self;
    fn bin(self, o: Self, f: fn(f32, f32) -> f32, g: fn(f64, f64) -> f64) -> Self;
    /// is_nan, is_infinite, is_finite, is_normal, is_subnormal, is_sign_positive, is_sign_negative.
    fn class(self) -> [bool; 7];
    /// The name, the width and the mantissa's width.
    const NAMES: (&'static str, u32, u32);
}

macro_rules! std_float {
    ($t:ty, $b:ty, $bits:expr, $man:expr, native $native:tt) => {
        #[allow(unused_variables)]
        impl StdFloat for $t {
            type Bits = $b;
            const NAMES: (&'static str, u32, u32) = (stringify!($t), $bits, $man);
            fn of(x: f64) -> Self {
                std_float!(@of $native, $t, x)
            }
            fn of_bits(b: u64) -> Self {
                <$t>::from_bits(b as $b)
            }
            fn bits(self) -> $b {
                self.to_bits()
            }
            fn value(self) -> V {
                v(self)
            }
            fn un(self, f: fn(f32) -> f32, g: fn(f64) -> f64) -> Self {
                std_float!(@un $native, $t, self, f, g)
            }
            fn bin(self, o: Self, f: fn(f32, f32) -> f32, g: fn(f64, f64) -> f64) -> Self {
                std_float!(@bin $native, $t, self, o, f, g)
            }
            fn class(self) -> [bool; 7] {
                use std::num::FpCategory::Subnormal;
                [self.is_nan(), self.is_infinite(), self.is_finite(), self.is_normal(), self.classify() == Subnormal, self.is_sign_positive(), self.is_sign_negative()]
            }
        }
    };
    (@of f32, $t:ty, $x:expr) => { $x as f32 };
    (@of f64, $t:ty, $x:expr) => { $x };
    (@of half, $t:ty, $x:expr) => { <$t>::from_f64($x) };
    (@un f32, $t:ty, $s:expr, $f:expr, $g:expr) => { $f($s) };
    (@un f64, $t:ty, $s:expr, $f:expr, $g:expr) => { $g($s) };
    (@un half, $t:ty, $s:expr, $f:expr, $g:expr) => { <$t>::from_f32($f($s.to_f32())) };
    (@bin f32, $t:ty, $s:expr, $o:expr, $f:expr, $g:expr) => { $f($s, $o) };
    (@bin f64, $t:ty, $s:expr, $o:expr, $f:expr, $g:expr) => { $g($s, $o) };
    (@bin half, $t:ty, $s:expr, $o:expr, $f:expr, $g:expr) => { <$t>::from_f32($f($s.to_f32(), $o.to_f32())) };
}
std_float!(f32, u32, 32, 23, native f32);
std_float!(f64, u64, 64, 52, native f64);
std_float!(f16, u16, 16, 10, native half);
std_float!(bf16, u16, 16, 7, native half);

/// A float from the edge values or at random (any bits, or a value in ±1000).
fn edge_float<T: StdFloat>(h: &Harness) -> T {
    let bits = T::NAMES.1;
    let sign = if h.next_u64() % 2 == 0 { 1u64 << (bits - 1) } else { 0 };
    match h.next_u64() % 12 {
        0 => T::of(f64::NAN),
        1 => T::of(f64::INFINITY),
        2 => T::of(f64::NEG_INFINITY),
        3 => T::of_bits(sign),
        // The smallest and the largest subnormal, and the smallest normal number.
        4 => T::of_bits(sign | 1),
        5 => T::of_bits(sign | ((1u64 << T::NAMES.2) - (h.next_u64() % 2))),
        6 => T::of(if sign == 0 { 1.0 } else { -1.0 }),
        7 => T::of((h.next_u64() % 9) as f64 * 0.5 - 2.0),
        8 | 9 => T::of_bits(h.next_u64()),
        _ => T::of(h.f64_in(-1000.0, 1000.0)),
    }
}

trait BitsU64 {
    fn bits_u64(self) -> u64;
}
impl<T: StdFloat> BitsU64 for T {
    fn bits_u64(self) -> u64 {
        self.value().b
    }
}

/// The same value: equal bits, or both NaN.
fn same_float(a: V, b: V) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

macro_rules! float_method_kernels {
    ($($kernel:ident: $t:ident, $b:ty;)*) => {$(
        #[gpu_kernel]
        fn $kernel(x: &[$t], y: &[$t], z: &[$t], exact: &mut [$t], lib: &mut [$t], flags: &mut [bool], bits: &mut [$b]) {
            let i = grid(1);
            if i >= x.len() {
                return;
            }
            let (a, b, c) = (x[i], y[i], z[i]);
            let e = 7 * i;
            exact[e] = a.fract();
            exact[e + 1] = a.to_degrees();
            exact[e + 2] = a.to_radians();
            // Any bounds: `min > max` and NaN bounds follow std's comparisons as written.
            exact[e + 3] = a.clamp(b, c);
            exact[e + 4] = a.rem_euclid(b);
            exact[e + 5] = a.div_euclid(b);
            exact[e + 6] = $t::from_bits(a.to_bits() ^ 1);
            let l = 5 * i;
            lib[l] = a.exp_m1();
            lib[l + 1] = a.ln_1p();
            let (s, co) = a.sin_cos();
            lib[l + 2] = s;
            lib[l + 3] = co;
            lib[l + 4] = a.sin_cos().1;
            let f = 7 * i;
            flags[f] = a.is_nan();
            flags[f + 1] = a.is_infinite();
            flags[f + 2] = a.is_finite();
            flags[f + 3] = a.is_normal();
            flags[f + 4] = a.is_subnormal();
            flags[f + 5] = a.is_sign_positive();
            flags[f + 6] = a.is_sign_negative();
            bits[i] = a.to_bits();
        }
    )*};
}

float_method_kernels! {
    float_methods_f32: f32, u32;
    float_methods_f64: f64, u64;
    float_methods_f16: f16, u16;
    float_methods_bf16: bf16, u16;
}

fn check_float_methods<T: StdFloat + Element + PartialOrd>(h: &Harness, k: &Kernel)
where
    T::Bits: Element,
{
    let name = T::NAMES.0;
    // Library functions: libm on the host and the CPU backend, libdevice on the GPU (within 2
    // ulp for these); a 16-bit result rounds the f32 result, so within 1 unit.
    let lib_ulps = if T::NAMES.1 == 16 { 1 } else { 2 };
    for len in SIZES {
        let x: Vec<T> = h.vec(len, edge_float::<T>);
        let y: Vec<T> = h.vec(len, edge_float::<T>);
        let z: Vec<T> = h.vec(len, edge_float::<T>);
        let (mut exact, mut lib, mut flags, mut bits) =
            (h.zeros::<T>(7 * len), h.zeros::<T>(5 * len), h.zeros::<bool>(7 * len), h.zeros::<T::Bits>(len));
        let args = (&h.arr(&x), &h.arr(&y), &h.arr(&z), &mut exact, &mut lib, &mut flags, &mut bits);
        h.run(k, LaunchConfig::for_elements(len, 128), args).unwrap();
        let (exact, lib, flags, bits) = (exact.to_vec().unwrap(), lib.to_vec().unwrap(), flags.to_vec().unwrap(), bits.to_vec().unwrap());
        for i in 0..len {
            let (a, b, c) = (x[i], y[i], z[i]);
            let ctx = format!("{name}: a = {a:?}, b = {b:?}, c = {c:?}");
            // std's formula for clamp (std asserts min <= max, so NaN bounds would panic there).
            let clamp = |x: f64, lo: f64, hi: f64| {
                let mut r = x;
                if r < lo {
                    r = lo;
                }
                if r > hi {
                    r = hi;
                }
                r
            };
            let want_exact = [
                a.un(f32::fract, f64::fract),
                a.un(f32::to_degrees, f64::to_degrees),
                a.un(f32::to_radians, f64::to_radians),
                T::of(clamp(a.value().float(), b.value().float(), c.value().float())),
                a.bin(b, f32::rem_euclid, f64::rem_euclid),
                a.bin(b, f32::div_euclid, f64::div_euclid),
                T::of_bits(a.bits_u64() ^ 1),
            ];
            for (j, w) in want_exact.iter().enumerate() {
                assert!(same_float(exact[7 * i + j].value(), w.value()), "{ctx}: exact[{j}] = {:?}, want {w:?}", exact[7 * i + j]);
            }
            let want_lib = [
                a.un(f32::exp_m1, f64::exp_m1),
                a.un(f32::ln_1p, f64::ln_1p),
                a.un(f32::sin, f64::sin),
                a.un(f32::cos, f64::cos),
                a.un(f32::cos, f64::cos),
            ];
            for (j, w) in want_lib.iter().enumerate() {
                let u = ulps(lib[5 * i + j].value(), w.value());
                assert!(u <= lib_ulps, "{ctx}: lib[{j}] = {:?}, want {w:?} ({u} ulp)", lib[5 * i + j]);
            }
            assert_eq!(&flags[7 * i..7 * i + 7], &a.class()[..], "{ctx}");
            assert_eq!(bits[i], a.bits(), "{ctx}");
        }
    }
}

/// `to_bits`, `from_bits` and the classes through the `Float` bound of a generic kernel.
#[gpu_kernel]
fn generic_float_bits<T: Float>(x: &[T], out: &mut [T], flags: &mut [bool]) {
    let i = grid(1);
    if i < x.len() {
        out[i] = T::from_bits(x[i].to_bits());
        flags[i] = x[i].is_nan() || x[i].is_sign_negative();
    }
}

fn check_generic_float<T: StdFloat + Element>(h: &Harness) {
    for len in SIZES {
        let x: Vec<T> = h.vec(len, edge_float::<T>);
        let (mut out, mut flags) = (h.zeros::<T>(len), h.zeros::<bool>(len));
        h.run(&generic_float_bits, LaunchConfig::for_elements(len, 64), (&h.arr(&x), &mut out, &mut flags)).unwrap();
        let out = out.to_vec().unwrap();
        for (i, a) in x.iter().enumerate() {
            assert_eq!(out[i].value(), a.value(), "{}: from_bits(to_bits({a:?}))", T::NAMES.0);
        }
        assert_eq!(flags.to_vec().unwrap(), x.iter().map(|a| a.class()[0] || a.class()[6]).collect::<Vec<_>>());
    }
}

pub fn std_float_methods(h: &Harness) {
    check_float_methods::<f32>(h, &float_methods_f32);
    check_float_methods::<f64>(h, &float_methods_f64);
    check_float_methods::<f16>(h, &float_methods_f16);
    check_float_methods::<bf16>(h, &float_methods_bf16);
    check_generic_float::<f32>(h);
    check_generic_float::<f64>(h);
    check_generic_float::<f16>(h);
    check_generic_float::<bf16>(h);
}

macro_rules! unsigned_method_kernels {
    ($($kernel:ident, $check:ident: $t:ty;)*) => {$(
        #[gpu_kernel]
        fn $kernel(x: &[$t], y: &[$t], ceil: &mut [$t], next: &mut [$t]) {
            let i = grid(1);
            if i < x.len() {
                ceil[i] = x[i].div_ceil(y[i]);
                next[i] = x[i].next_multiple_of(y[i]);
            }
        }

        fn $check(h: &Harness) {
            for n in SIZES {
                let x: Vec<$t> = h.vec(n, |h| edge_int!(h, $t));
                let y: Vec<$t> = h.vec(n, |h| edge_int!(h, $t));
                let (mut ceil, mut next) = (h.zeros::<$t>(n), h.zeros::<$t>(n));
                h.run(&$kernel, (n.div_ceil(128).max(1), 128), (&h.arr(&x), &h.arr(&y), &mut ceil, &mut next)).unwrap();
                // std's, where std does not panic; by zero `/`'s rules (0, and the dividend);
                // past the type's end `next_multiple_of` wraps.
                let want_ceil: Vec<$t> = x.iter().zip(&y).map(|(a, b)| if *b == 0 { 0 } else { a.div_ceil(*b) }).collect();
                let want_next: Vec<$t> = x
                    .iter()
                    .zip(&y)
                    .map(|(a, b)| if *b == 0 || a % b == 0 { *a } else { a.wrapping_add(b - a % b) })
                    .collect();
                assert_eq!(ceil.to_vec().unwrap(), want_ceil, "{}::div_ceil, n={n}", stringify!($t));
                assert_eq!(next.to_vec().unwrap(), want_next, "{}::next_multiple_of, n={n}", stringify!($t));
            }
        }
    )*};
}

unsigned_method_kernels! {
    unsigned_u8, check_unsigned_u8: u8;
    unsigned_u32, check_unsigned_u32: u32;
    unsigned_u64, check_unsigned_u64: u64;
    unsigned_usize, check_unsigned_usize: usize;
}

/// `div_ceil` and `next_multiple_of`, which std has on unsigned integers only.
pub fn unsigned_int_methods(h: &Harness) {
    check_unsigned_u8(h);
    check_unsigned_u32(h);
    check_unsigned_u64(h);
    check_unsigned_usize(h);
}
