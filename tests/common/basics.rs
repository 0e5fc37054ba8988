//! The Numba `add` kernel, saxpy, and scalar parameters of every type.

use super::*;

// ---------------------------------------------------------------------------------------------
// The Numba `add` kernel (grid-stride loop) and saxpy.

#[gpu_kernel]
pub(crate) fn add(x: &[f32], y: &[f32], out: &mut [f32]) {
    let start = grid(1);
    let stride = grid_size(1);
    for i in (start..x.len()).step_by(stride) {
        out[i] = x[i] + y[i];
    }
}

pub fn add_grid_stride(h: &Harness) {
    for n in SIZES {
        let x = h.vec(n, |h| h.f64_in(-100.0, 100.0) as f32);
        let y = h.vec(n, |h| h.f64_in(-100.0, 100.0) as f32);
        let (dx, dy) = (h.arr(&x), h.arr(&y));
        let mut out = h.zeros::<f32>(n);
        // A fixed small grid: the stride loop must cover every element.
        h.run(&add, (3, 64), (&dx, &dy, &mut out)).unwrap();
        let want: Vec<f32> = x.iter().zip(&y).map(|(a, b)| a + b).collect();
        assert_eq!(out.to_vec().unwrap(), want, "n = {n}");
    }
}

#[gpu_kernel]
pub(crate) fn axpy<T: Float>(a: T, x: &[T], y: &mut [T]) {
    let i = grid(1);
    if i < x.len() {
        y[i] = a * x[i] + y[i];
    }
}

pub fn axpy_generic(h: &Harness) {
    for n in SIZES {
        let a = h.f64_in(-3.0, 3.0);
        let x = h.vec(n, |h| h.f64_in(-1e3, 1e3));
        let y = h.vec(n, |h| h.f64_in(-1e3, 1e3));
        // f64
        let dx = h.arr(&x);
        let mut dy = h.arr(&y);
        h.run(&axpy, LaunchConfig::for_elements(n, 128), (a, &dx, &mut dy)).unwrap();
        let got = dy.to_vec().unwrap();
        let want: Vec<f64> = x.iter().zip(&y).map(|(x, y)| a.mul_add(*x, *y)).collect();
        let want_sep: Vec<f64> = x.iter().zip(&y).map(|(x, y)| a * x + y).collect();
        // The GPU may contract a*x+y into an fma; either rounding is correct.
        for i in 0..n {
            assert!(got[i] == want[i] || got[i] == want_sep[i], "f64 axpy[{i}]: {} vs {}", got[i], want_sep[i]);
        }
        // f32, same kernel: a second specialization.
        let (a32, x32, y32): (f32, Vec<f32>, Vec<f32>) =
            (a as f32, x.iter().map(|v| *v as f32).collect(), y.iter().map(|v| *v as f32).collect());
        let dx = h.arr(&x32);
        let mut dy = h.arr(&y32);
        h.run(&axpy, LaunchConfig::for_elements(n, 256), (a32, &dx, &mut dy)).unwrap();
        let got = dy.to_vec().unwrap();
        for i in 0..n {
            let (f, s) = (a32.mul_add(x32[i], y32[i]), a32 * x32[i] + y32[i]);
            assert!(got[i] == f || got[i] == s, "f32 axpy[{i}]: {} vs {s}", got[i]);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Scalar parameters of every type.

#[gpu_kernel]
fn fill<T: Scalar>(v: T, out: &mut [T]) {
    let i = grid(1);
    if i < out.len() {
        out[i] = v;
    }
}

fn fill_one<T: Element + PartialEq + std::fmt::Debug>(h: &Harness, v: T) {
    for n in [0usize, 1, 300] {
        let mut out = h.zeros::<T>(n);
        h.run(&fill, LaunchConfig::for_elements(n, 128), (v, &mut out)).unwrap();
        assert_eq!(out.to_vec().unwrap(), vec![v; n], "fill {v:?}");
    }
}

pub fn scalar_params(h: &Harness) {
    fill_one(h, h.next_u64() as i32);
    fill_one(h, h.next_u64() as i64);
    fill_one(h, h.next_u64() as u32);
    fill_one(h, h.next_u64());
    fill_one(h, h.next_u64() as usize);
    fill_one(h, h.next_u64() as i8);
    fill_one(h, h.next_u64() as u16);
    fill_one(h, h.f64_in(-1e6, 1e6) as f32);
    fill_one(h, h.f64_in(-1e300, 1e300));
    fill_one(h, true);
    fill_one(h, false);
}

// ---------------------------------------------------------------------------------------------
// Associated constants of the scalar types and `std::f32::consts` / `std::f64::consts`, for
// concrete types and type parameters, against Rust's own values.

#[gpu_kernel]
fn int_constants(signed: &mut [i64], unsigned: &mut [u64]) {
    if grid(1) == 0 {
        signed[0] = i8::MIN as i64;
        signed[1] = i8::MAX as i64;
        signed[2] = i16::MIN as i64;
        signed[3] = i16::MAX as i64;
        signed[4] = i32::MIN as i64;
        signed[5] = i32::MAX as i64;
        signed[6] = i64::MIN;
        signed[7] = i64::MAX;
        signed[8] = isize::MIN as i64;
        signed[9] = (i32::MIN + 1) as i64;
        unsigned[0] = u8::MAX as u64;
        unsigned[1] = u16::MAX as u64;
        unsigned[2] = u32::MAX as u64;
        unsigned[3] = u64::MAX;
        unsigned[4] = usize::MAX as u64;
        unsigned[5] = u8::MIN as u64;
        unsigned[6] = u32::BITS as u64;
        unsigned[7] = i16::BITS as u64;
        unsigned[8] = u64::BITS as u64;
    }
}

#[gpu_kernel]
fn float_constants(d: &mut [f64], s: &mut [f32]) {
    if grid(1) == 0 {
        d[0] = f64::MAX;
        d[1] = f64::MIN;
        d[2] = f64::EPSILON;
        d[3] = f64::MIN_POSITIVE;
        d[4] = f64::INFINITY;
        d[5] = f64::NEG_INFINITY;
        d[6] = f64::NAN;
        d[7] = std::f64::consts::PI;
        d[8] = core::f64::consts::LN_2;
        d[9] = std::f64::consts::FRAC_1_SQRT_2 * 2.0;
        s[0] = f32::MAX;
        s[1] = f32::MIN;
        s[2] = f32::EPSILON;
        s[3] = f32::MIN_POSITIVE;
        s[4] = f32::INFINITY;
        s[5] = f32::NEG_INFINITY;
        s[6] = f32::NAN;
        s[7] = std::f32::consts::PI;
        s[8] = std::f32::consts::TAU - std::f32::consts::E;
        s[9] = (std::f32::consts::LOG2_E as f64) as f32;
    }
}

/// A type parameter's constants: the specialization's own.
#[gpu_kernel]
fn generic_float_constants<T: Float>(x: &[T], out: &mut [T]) {
    let i = grid(1);
    if i < x.len() {
        // A running minimum starts at +inf, as in a reduction.
        let mut m = T::INFINITY;
        if x[i] < m {
            m = x[i];
        }
        out[i] = if x[i] > T::MAX { T::NAN } else { m + T::EPSILON * T::MIN_POSITIVE };
    }
}

#[gpu_kernel]
fn generic_int_constants<T: Int>(x: &[T], out: &mut [T], bits: &mut [u32]) {
    let i = grid(1);
    if i < x.len() {
        out[i] = if x[i] == T::MIN { T::MAX } else { x[i] };
        bits[i] = T::BITS;
    }
}

pub fn associated_constants(h: &Harness) {
    let (mut s, mut u) = (h.zeros::<i64>(10), h.zeros::<u64>(9));
    h.run(&int_constants, LaunchConfig::for_elements(1, 32), (&mut s, &mut u)).unwrap();
    let want_s = [
        i8::MIN as i64,
        i8::MAX as i64,
        i16::MIN as i64,
        i16::MAX as i64,
        i32::MIN as i64,
        i32::MAX as i64,
        i64::MIN,
        i64::MAX,
        isize::MIN as i64,
        (i32::MIN + 1) as i64,
    ];
    assert_eq!(s.to_vec().unwrap(), want_s);
    let want_u = [u8::MAX as u64, u16::MAX as u64, u32::MAX as u64, u64::MAX, usize::MAX as u64, 0, 32, 16, 64];
    assert_eq!(u.to_vec().unwrap(), want_u);
    let (mut d, mut f) = (h.zeros::<f64>(10), h.zeros::<f32>(10));
    h.run(&float_constants, LaunchConfig::for_elements(1, 32), (&mut d, &mut f)).unwrap();
    let want_d = [
        f64::MAX,
        f64::MIN,
        f64::EPSILON,
        f64::MIN_POSITIVE,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        std::f64::consts::PI,
        std::f64::consts::LN_2,
        std::f64::consts::FRAC_1_SQRT_2 * 2.0,
    ];
    let want_f = [
        f32::MAX,
        f32::MIN,
        f32::EPSILON,
        f32::MIN_POSITIVE,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        std::f32::consts::PI,
        std::f32::consts::TAU - std::f32::consts::E,
        (std::f32::consts::LOG2_E as f64) as f32,
    ];
    let bits64 = |v: &[f64]| v.iter().map(|x| if x.is_nan() { u64::MAX } else { x.to_bits() }).collect::<Vec<_>>();
    let bits32 = |v: &[f32]| v.iter().map(|x| if x.is_nan() { u32::MAX } else { x.to_bits() }).collect::<Vec<_>>();
    assert_eq!(bits64(&d.to_vec().unwrap()), bits64(&want_d));
    assert_eq!(bits32(&f.to_vec().unwrap()), bits32(&want_f));
    for n in SIZES {
        let x: Vec<f32> = h.vec(n, |h| (h.next_u64() % 1000) as f32 - 500.0);
        let mut out = h.zeros::<f32>(n);
        h.run(&generic_float_constants, LaunchConfig::for_elements(n, 64), (&h.arr(&x), &mut out)).unwrap();
        let want: Vec<f32> = x.iter().map(|&v| v.min(f32::INFINITY) + f32::EPSILON * f32::MIN_POSITIVE).collect();
        assert_eq!(out.to_vec().unwrap(), want, "f32");
        let x: Vec<f64> = h.vec(n, |h| (h.next_u64() % 1000) as f64 - 500.0);
        let mut out = h.zeros::<f64>(n);
        h.run(&generic_float_constants, LaunchConfig::for_elements(n, 64), (&h.arr(&x), &mut out)).unwrap();
        let want: Vec<f64> = x.iter().map(|&v| v.min(f64::INFINITY) + f64::EPSILON * f64::MIN_POSITIVE).collect();
        assert_eq!(out.to_vec().unwrap(), want, "f64");
        let x: Vec<i16> = h.vec(n, |h| if h.next_u64() % 3 == 0 { i16::MIN } else { h.next_u64() as i16 });
        let (mut out, mut bits) = (h.zeros::<i16>(n), h.zeros::<u32>(n));
        h.run(&generic_int_constants, LaunchConfig::for_elements(n, 64), (&h.arr(&x), &mut out, &mut bits)).unwrap();
        let want: Vec<i16> = x.iter().map(|&v| if v == i16::MIN { i16::MAX } else { v }).collect();
        assert_eq!(out.to_vec().unwrap(), want, "i16");
        assert!(bits.to_vec().unwrap().iter().all(|b| *b == 16));
        let x: Vec<u64> = h.vec(n, |h| if h.next_u64() % 3 == 0 { 0 } else { h.next_u64() });
        let (mut out, mut bits) = (h.zeros::<u64>(n), h.zeros::<u32>(n));
        h.run(&generic_int_constants, LaunchConfig::for_elements(n, 64), (&h.arr(&x), &mut out, &mut bits)).unwrap();
        let want: Vec<u64> = x.iter().map(|&v| if v == 0 { u64::MAX } else { v }).collect();
        assert_eq!(out.to_vec().unwrap(), want, "u64");
        assert!(bits.to_vec().unwrap().iter().all(|b| *b == 64));
    }
}

// ---------------------------------------------------------------------------------------------
// Launch ergonomics: literals typed by their parameter, dynamic shared memory without a stream.

#[gpu_kernel]
fn scale_by(a: f32, k: u8, y: &mut [f32]) {
    let i = grid(1);
    if i < y.len() {
        y[i] = y[i] * a + (k as f32);
    }
}

/// Reverses each block's elements through dynamic shared memory.
#[gpu_kernel]
fn reverse_blocks(x: &[i64], out: &mut [i64]) {
    let mut buf = dynamic_shared::<i64>();
    let (t, i) = (thread_idx_x(), grid(1));
    buf[t] = if i < x.len() { x[i] } else { 0 };
    sync_threads();
    if i < out.len() {
        out[i] = buf[block_dim_x() - 1 - t];
    }
}

pub fn launch_ergonomics(h: &Harness) {
    for n in SIZES {
        let y0: Vec<f32> = h.vec(n, |h| (h.next_u64() % 100) as f32);
        let mut y = h.arr(&y0);
        // `2.5` and `3` take the parameters' types (f32, u8), as in a call of the function.
        let blocks = n.div_ceil(64).max(1);
        if h.is_gpu() {
            launch!(scale_by[blocks, 64](2.5, 3, &mut y)).unwrap();
        } else {
            h.run(&scale_by, (blocks, 64), scale_by.__gpujit_args((2.5, 3, &mut y))).unwrap();
        }
        let want: Vec<f32> = y0.iter().map(|v| v * 2.5 + 3.0).collect();
        assert_eq!(y.to_vec().unwrap(), want, "n = {n}");
        // `[grid, block, shared_bytes]`: dynamic shared memory on the default stream.
        let x: Vec<i64> = h.vec(n, |h| h.next_u64() as i64);
        let block = 128usize;
        let mut out = h.zeros::<i64>(n);
        let xa = h.arr(&x);
        launch!(reverse_blocks[n.div_ceil(block).max(1), block, (block * 8) as u32](&xa, &mut out)).unwrap();
        let got = out.to_vec().unwrap();
        for (i, g) in got.iter().enumerate() {
            let (b, t) = (i / block, i % block);
            let src = b * block + block - 1 - t;
            let want = if src < n { x[src] } else { 0 };
            assert_eq!(*g, want, "element {i} of {n}");
        }
    }
}
