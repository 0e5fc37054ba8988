//! Arithmetic, bitwise, shift, comparison and logical operators with Rust semantics.

use super::*;

// ---------------------------------------------------------------------------------------------
// Arithmetic on every numeric type, with Rust's wrapping semantics.

#[gpu_kernel]
fn arith<T: Number>(x: &[T], y: &[T], sum: &mut [T], diff: &mut [T], prod: &mut [T], quot: &mut [T], rem: &mut [T]) {
    let i = grid(1);
    if i < x.len() {
        let a = x[i];
        let b = y[i];
        sum[i] = a + b;
        diff[i] = a - b;
        prod[i] = a * b;
        quot[i] = a / b;
        rem[i] = a % b;
    }
}

macro_rules! int_arith {
    ($h:expr, $($t:ty),*) => {$({
        let h: &Harness = $h;
        for n in SIZES {
            let x: Vec<$t> = h.vec(n, |h| h.next_u64() as $t);
            // Small divisors, zero and -1 included, to reach the special cases.
            let y: Vec<$t> = h.vec(n, |h| match h.next_u64() % 4 { 0 => (h.next_u64() % 5) as $t, 1 => (0 as $t).wrapping_sub(1), _ => h.next_u64() as $t });
            let (dx, dy) = (h.arr(&x), h.arr(&y));
            let mut outs: Vec<DeviceArray<$t>> = (0..5).map(|_| h.zeros::<$t>(n)).collect();
            let [s, d, p, q, r] = &mut outs[..] else { unreachable!() };
            h.run(&arith, LaunchConfig::for_elements(n, 128), (&dx, &dy, s, d, p, q, r)).unwrap();
            let div = |a: $t, b: $t| if b == 0 { 0 } else { a.wrapping_div(b) };
            let rem = |a: $t, b: $t| if b == 0 { a } else { a.wrapping_rem(b) };
            let want: [Vec<$t>; 5] = [
                x.iter().zip(&y).map(|(a, b)| a.wrapping_add(*b)).collect(),
                x.iter().zip(&y).map(|(a, b)| a.wrapping_sub(*b)).collect(),
                x.iter().zip(&y).map(|(a, b)| a.wrapping_mul(*b)).collect(),
                x.iter().zip(&y).map(|(a, b)| div(*a, *b)).collect(),
                x.iter().zip(&y).map(|(a, b)| rem(*a, *b)).collect(),
            ];
            for (k, (o, w)) in outs.iter().zip(&want).enumerate() {
                assert_eq!(&o.to_vec().unwrap(), w, "{} op {k}, n = {n}", stringify!($t));
            }
        }
    })*};
}

pub fn int_arithmetic(h: &Harness) {
    int_arith!(h, i8, i16, i32, i64, u8, u16, u32, u64);
}

pub fn float_arithmetic(h: &Harness) {
    for n in SIZES {
        let mut x = h.vec(n, |h| h.f64_in(-1e3, 1e3));
        let mut y = h.vec(n, |h| if h.next_u64() % 8 == 0 { 0.0 } else { h.f64_in(-50.0, 50.0) });
        if n > 1 {
            // f32 `%` where x / y rounds up to an integer: `x - y * trunc(x / y)` gives 0, fmod
            // (Rust's `%`) 0.0154795.
            (x[1], y[1]) = (470.14597f32 as f64, -0.015485704f32 as f64);
        }
        let check = |outs: Vec<Vec<f64>>, tol_rem: f64, what: &str| {
            let want: [Vec<f64>; 5] = [
                x.iter().zip(&y).map(|(a, b)| a + b).collect(),
                x.iter().zip(&y).map(|(a, b)| a - b).collect(),
                x.iter().zip(&y).map(|(a, b)| a * b).collect(),
                x.iter().zip(&y).map(|(a, b)| a / b).collect(),
                x.iter().zip(&y).map(|(a, b)| a % b).collect(),
            ];
            for k in 0..4 {
                assert_close(&outs[k], &want[k], 1e-6, &format!("{what} op {k}"));
            }
            assert_close(&outs[4], &want[4], tol_rem, &format!("{what} rem"));
        };
        // f64: +-*/ exact on both backends; % exact on the CPU (fmod), within rounding on the GPU.
        let (dx, dy) = (h.arr(&x), h.arr(&y));
        let mut o: Vec<DeviceArray<f64>> = (0..5).map(|_| h.zeros(n)).collect();
        let [s, d, p, q, r] = &mut o[..] else { unreachable!() };
        h.run(&arith, LaunchConfig::for_elements(n, 256), (&dx, &dy, s, d, p, q, r)).unwrap();
        let outs: Vec<Vec<f64>> = o.iter().map(|a| a.to_vec().unwrap()).collect();
        check(outs, if h.is_gpu() { 1e-9 } else { 0.0 }, "f64");
        // f32, compared in f64 against the f32 operations.
        let (x32, y32): (Vec<f32>, Vec<f32>) = (x.iter().map(|v| *v as f32).collect(), y.iter().map(|v| *v as f32).collect());
        let (dx, dy) = (h.arr(&x32), h.arr(&y32));
        let mut o: Vec<DeviceArray<f32>> = (0..5).map(|_| h.zeros(n)).collect();
        let [s, d, p, q, r] = &mut o[..] else { unreachable!() };
        h.run(&arith, LaunchConfig::for_elements(n, 256), (&dx, &dy, s, d, p, q, r)).unwrap();
        let got: Vec<Vec<f32>> = o.iter().map(|a| a.to_vec().unwrap()).collect();
        let want: [Vec<f32>; 5] = [
            x32.iter().zip(&y32).map(|(a, b)| a + b).collect(),
            x32.iter().zip(&y32).map(|(a, b)| a - b).collect(),
            x32.iter().zip(&y32).map(|(a, b)| a * b).collect(),
            x32.iter().zip(&y32).map(|(a, b)| a / b).collect(),
            x32.iter().zip(&y32).map(|(a, b)| a % b).collect(),
        ];
        for k in 0..5 {
            let tol = if k == 4 && h.is_gpu() { 1e-4 } else { 0.0 };
            let g: Vec<f64> = got[k].iter().map(|v| *v as f64).collect();
            let w: Vec<f64> = want[k].iter().map(|v| *v as f64).collect();
            assert_close(&g, &w, tol, &format!("f32 op {k}"));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Bitwise operators and shifts (amounts masked as wrapping_shl/shr do), unary operators.

#[gpu_kernel]
fn bits<T: Int>(x: &[T], y: &[T], s: &[u32], and: &mut [T], or: &mut [T], xor: &mut [T], shl: &mut [T], shr: &mut [T], not: &mut [T]) {
    let i = grid(1);
    if i < x.len() {
        and[i] = x[i] & y[i];
        or[i] = x[i] | y[i];
        xor[i] = x[i] ^ y[i];
        shl[i] = x[i] << s[i];
        let mut v = x[i];
        v >>= s[i];
        shr[i] = v;
        not[i] = !x[i];
    }
}

macro_rules! bit_ops {
    ($h:expr, $($t:ty),*) => {$({
        let h: &Harness = $h;
        for n in SIZES {
            let x: Vec<$t> = h.vec(n, |h| h.next_u64() as $t);
            let y: Vec<$t> = h.vec(n, |h| h.next_u64() as $t);
            let s: Vec<u32> = h.vec(n, |h| (h.next_u64() % 200) as u32);
            let (dx, dy, ds) = (h.arr(&x), h.arr(&y), h.arr(&s));
            let mut o: Vec<DeviceArray<$t>> = (0..6).map(|_| h.zeros::<$t>(n)).collect();
            let [a, b, c, d, e, f] = &mut o[..] else { unreachable!() };
            h.run(&bits, LaunchConfig::for_elements(n, 128), (&dx, &dy, &ds, a, b, c, d, e, f)).unwrap();
            let want: [Vec<$t>; 6] = [
                x.iter().zip(&y).map(|(a, b)| a & b).collect(),
                x.iter().zip(&y).map(|(a, b)| a | b).collect(),
                x.iter().zip(&y).map(|(a, b)| a ^ b).collect(),
                x.iter().zip(&s).map(|(a, s)| a.wrapping_shl(*s)).collect(),
                x.iter().zip(&s).map(|(a, s)| a.wrapping_shr(*s)).collect(),
                x.iter().map(|a| !a).collect(),
            ];
            for (k, (o, w)) in o.iter().zip(&want).enumerate() {
                assert_eq!(&o.to_vec().unwrap(), w, "{} bit op {k}, n = {n}", stringify!($t));
            }
        }
    })*};
}

pub fn bitwise_and_shifts(h: &Harness) {
    bit_ops!(h, i8, i16, i32, i64, u8, u16, u32, u64);
}

#[gpu_kernel]
fn negate(x: &[i32], f: &[f64], b: &[bool], nx: &mut [i32], nf: &mut [f64], nb: &mut [bool]) {
    let i = grid(1);
    if i < x.len() {
        nx[i] = -x[i];
        nf[i] = -f[i];
        nb[i] = !b[i];
    }
}

pub fn unary_ops(h: &Harness) {
    for n in SIZES {
        let x: Vec<i32> = h.vec(n, |h| if h.next_u64() % 10 == 0 { i32::MIN } else { h.next_u64() as i32 });
        let f = h.vec(n, |h| h.f64_in(-1e9, 1e9));
        let b = h.vec(n, |h| h.next_u64() % 2 == 0);
        let (dx, df, db) = (h.arr(&x), h.arr(&f), h.arr(&b));
        let (mut nx, mut nf, mut nb) = (h.zeros::<i32>(n), h.zeros::<f64>(n), h.zeros::<bool>(n));
        h.run(&negate, LaunchConfig::for_elements(n, 64), (&dx, &df, &db, &mut nx, &mut nf, &mut nb)).unwrap();
        assert_eq!(nx.to_vec().unwrap(), x.iter().map(|v| v.wrapping_neg()).collect::<Vec<_>>());
        assert_eq!(nf.to_vec().unwrap(), f.iter().map(|v| -v).collect::<Vec<_>>());
        assert_eq!(nb.to_vec().unwrap(), b.iter().map(|v| !v).collect::<Vec<_>>());
    }
}

// ---------------------------------------------------------------------------------------------
// Comparisons (NaN included) and short-circuit logic.

#[gpu_kernel]
fn compare<T: Number>(x: &[T], y: &[T], out: &mut [u8]) {
    let i = grid(1);
    if i < x.len() {
        let a = x[i];
        let b = y[i];
        let mut m = 0u8;
        if a == b {
            m |= 1;
        }
        if a != b {
            m |= 2;
        }
        if a < b {
            m |= 4;
        }
        if a <= b {
            m |= 8;
        }
        if a > b {
            m |= 16;
        }
        if a >= b {
            m |= 32;
        }
        if (a < b && b != a) || !(a >= b) {
            m |= 64;
        }
        out[i] = m;
    }
}

#[allow(clippy::neg_cmp_op_on_partial_ord)] // NaN semantics are what is tested
fn cmp_mask<T: PartialOrd>(a: T, b: T) -> u8 {
    let mut m = 0u8;
    for (bit, c) in [a == b, a != b, a < b, a <= b, a > b, a >= b, (a < b && b != a) || !(a >= b)].into_iter().enumerate() {
        if c {
            m |= 1 << bit;
        }
    }
    m
}

pub fn comparisons(h: &Harness) {
    for n in SIZES {
        let x = h.vec(n, |h| match h.next_u64() % 6 {
            0 => f32::NAN,
            1 => 1.5,
            _ => h.f64_in(-2.0, 2.0) as f32,
        });
        let y = h.vec(n, |h| match h.next_u64() % 6 {
            0 => f32::NAN,
            1 => 1.5,
            _ => h.f64_in(-2.0, 2.0) as f32,
        });
        let mut out = h.zeros::<u8>(n);
        h.run(&compare, LaunchConfig::for_elements(n, 128), (&h.arr(&x), &h.arr(&y), &mut out)).unwrap();
        assert_eq!(out.to_vec().unwrap(), x.iter().zip(&y).map(|(a, b)| cmp_mask(*a, *b)).collect::<Vec<_>>(), "f32");
        let xi: Vec<i64> = h.vec(n, |h| (h.next_u64() % 5) as i64 - 2);
        let yi: Vec<i64> = h.vec(n, |h| (h.next_u64() % 5) as i64 - 2);
        let mut out = h.zeros::<u8>(n);
        h.run(&compare, LaunchConfig::for_elements(n, 128), (&h.arr(&xi), &h.arr(&yi), &mut out)).unwrap();
        assert_eq!(out.to_vec().unwrap(), xi.iter().zip(&yi).map(|(a, b)| cmp_mask(*a, *b)).collect::<Vec<_>>(), "i64");
        let xu: Vec<u16> = h.vec(n, |h| (h.next_u64() % 3) as u16 * 30000);
        let yu: Vec<u16> = h.vec(n, |h| (h.next_u64() % 3) as u16 * 30000);
        let mut out = h.zeros::<u8>(n);
        h.run(&compare, LaunchConfig::for_elements(n, 128), (&h.arr(&xu), &h.arr(&yu), &mut out)).unwrap();
        assert_eq!(out.to_vec().unwrap(), xu.iter().zip(&yu).map(|(a, b)| cmp_mask(*a, *b)).collect::<Vec<_>>(), "u16");
    }
}

/// Threads past the end test `i < n` first: without short-circuit evaluation, `x[i]` would be
/// read out of bounds (an error on the CPU backend).
#[gpu_kernel]
fn positive_or_flagged(x: &[f32], flag: &[bool], out: &mut [i32]) {
    let i = grid(1);
    let n = x.len();
    if i < n && x[i] > 0.0 || i < n && flag[i] {
        out[i] = 1;
    } else if i < n {
        out[i] = -1;
    }
}

pub fn short_circuit(h: &Harness) {
    for n in SIZES {
        let x = h.vec(n, |h| h.f64_in(-1.0, 1.0) as f32);
        let flag = h.vec(n, |h| h.next_u64() % 3 == 0);
        let mut out = h.zeros::<i32>(n);
        // Many more threads than elements.
        h.run(&positive_or_flagged, (n / 64 + 3, 64), (&h.arr(&x), &h.arr(&flag), &mut out)).unwrap();
        let want: Vec<i32> = x.iter().zip(&flag).map(|(v, f)| if *v > 0.0 || *f { 1 } else { -1 }).collect();
        assert_eq!(out.to_vec().unwrap(), want);
    }
}
