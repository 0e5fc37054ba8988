//! Kernels the fuzzer found wrong, shrunk, kept as tests (each failed before its fix).

use super::super::{Harness, SIZES};
use gpujit::prelude::*;
use half::f16;

macro_rules! abs_kernels {
    ($($name:ident: $t:ty;)*) => {$(
        // Seed 233590347680 on the H200: ptxas treated `abs.s16` of i16::MIN as non-negative,
        // so `MIN.abs().signum()` was 1 instead of -1 (see `nvptx::widen_16bit_neg_abs`).
        #[gpu_kernel]
        fn $name(x: &[$t], out: &mut [$t]) {
            let i = grid(1);
            if i < x.len() {
                out[i] = x[i].max(x[i].abs().signum() - x[i]);
            }
        }
    )*};
}

abs_kernels! {
    abs_signum_i8: i8;
    abs_signum_i16: i16;
    abs_signum_i32: i32;
    abs_signum_i64: i64;
}

macro_rules! check_abs {
    ($h:expr, $k:ident, $t:ty) => {{
        let h: &Harness = $h;
        for n in SIZES {
            let x: Vec<$t> = (0..n).map(|i| if i % 3 == 0 { <$t>::MIN } else { h.next_u64() as $t }).collect();
            let mut out = h.zeros::<$t>(n);
            h.run(&$k, LaunchConfig::for_elements(n, 64), (&h.arr(&x), &mut out)).unwrap();
            let want: Vec<$t> = x.iter().map(|v| (*v).max(v.wrapping_abs().signum().wrapping_sub(*v))).collect();
            assert_eq!(out.to_vec().unwrap(), want, "{}", stringify!($t));
        }
    }};
}

// Seed 2943769267825 on the H200: a float remainder of constants, 1 ulp off on the GPU (the
// difference to subtract was a tie, rounded away from even).
#[gpu_kernel]
fn rem_of_constants(x: &[f32], y: &[f32], out: &mut [f32]) {
    let i = grid(1);
    if i < x.len() {
        out[i] = -3.25f32 - ((-1.0f32 - 0.001f32) % 100.0f32);
        out[i + x.len()] = -3.25f32 - ((x[i] - 0.001f32) % 100.0f32);
        out[i + 2 * x.len()] = x[i] - y[i];
    }
}

// Seed 1162642868857 on the H200: `shfl_up_sync(mask, v, 33)` gave lane l the value of lane l - 1
// (the hardware reads 5 bits of the delta) where a delta past the warp keeps the thread's own
// value, as on the CPU backend. Deltas 0 to 40, constant and computed, up and down.
#[gpu_kernel]
fn far_shuffles(x: &[u32], deltas: &[u32], up: &mut [u32], down: &mut [u32], up33: &mut [u32]) {
    let i = grid(1);
    let v = if i < x.len() { x[i] } else { 0 };
    let d = deltas[(i / 32) % deltas.len()] as usize;
    let u = shfl_up_sync(0xffff_ffff, v, d);
    let w = shfl_down_sync(0xffff_ffff, v, d);
    let c = shfl_up_sync(0xffff_ffff, v, 33);
    if i < x.len() {
        up[i] = u;
        down[i] = w;
        up33[i] = c;
    }
}

fn far_shuffles_check(h: &Harness) {
    let deltas: Vec<u32> = (0..=40).collect();
    let n = 32 * deltas.len();
    let x: Vec<u32> = h.vec(n, |h| h.next_u64() as u32);
    let (mut up, mut down, mut up33) = (h.zeros::<u32>(n), h.zeros::<u32>(n), h.zeros::<u32>(n));
    h.run(&far_shuffles, LaunchConfig::for_elements(n, 64), (&h.arr(&x), &h.arr(&deltas), &mut up, &mut down, &mut up33)).unwrap();
    let (up, down, up33) = (up.to_vec().unwrap(), down.to_vec().unwrap(), up33.to_vec().unwrap());
    for i in 0..n {
        let (warp, lane, d) = (i / 32 * 32, i % 32, deltas[(i / 32) % deltas.len()] as usize);
        let want_up = if d <= lane { x[warp + lane - d] } else { x[i] };
        let want_down = if lane + d < 32 { x[warp + lane + d] } else { x[i] };
        assert_eq!((up[i], down[i], up33[i]), (want_up, want_down, x[i]), "lane {lane} of warp {}, delta {d}", i / 32);
    }
}

// Seed 13215625350877354508 on the CPU backend: `(1e10f32).powi(-4)` of constants was folded by
// LLVM through a double `pow` (1e-40, a subnormal) where Rust's run-time powi (and the oracle)
// gives 0 (1e40 overflows before the reciprocal). powi is now that algorithm on both backends,
// folded or not.
#[gpu_kernel]
fn powi_of_constants(x: &[f32], n: &[i32], out: &mut [f32]) {
    let i = grid(1);
    if i < x.len() {
        out[i] = (10000000000.0f64 as f32).powi(-4);
        out[i + x.len()] = x[i].powi(n[i]);
    }
}

fn powi_regression(h: &Harness) {
    let x: Vec<f32> = vec![1e10, 3.0, -2.5, 0.5, 1e-20, f32::NAN, 0.0, -0.0, f32::INFINITY, 7.0];
    let n: Vec<i32> = vec![-4, 5, -3, 12, -2, 0, -1, -3, 2, i32::MIN];
    let mut out = h.zeros::<f32>(2 * x.len());
    h.run(&powi_of_constants, LaunchConfig::for_elements(x.len(), 32), (&h.arr(&x), &h.arr(&n), &mut out)).unwrap();
    let got = out.to_vec().unwrap();
    // What Rust computes at run time (`black_box` keeps rustc from folding it).
    let runtime = |a: f32, b: i32| std::hint::black_box(a).powi(std::hint::black_box(b));
    for (i, (a, b)) in x.iter().zip(&n).enumerate() {
        assert_eq!(got[i].to_bits(), runtime(1e10, -4).to_bits(), "constant: {}", got[i]);
        let want = runtime(*a, *b);
        assert!(
            got[i + x.len()].to_bits() == want.to_bits() || (want.is_nan() && got[i + x.len()].is_nan()),
            "{a}.powi({b}): {} vs {want}",
            got[i + x.len()]
        );
    }
}

pub fn fuzz_regressions(h: &Harness) {
    // Kernel seed 10799609714662971061 (campaign 10799609706699663754, CI): `x - (x + x) * x`
    // in f64 fuses on a device with fma; the oracle rounded twice (it now fuses the written
    // forms as the language does, per device).
    let case = super::generate::generate(10_799_609_714_662_971_061);
    if let Err(f) = super::check(std::slice::from_ref(&h.dev), &case, false) {
        panic!("kernel seed 10799609714662971061: {f:?}");
    }
    // Kernel seed 7638957394747517551 (campaign on the H200): `0.0f16.clamp(NAN, -0.0)` is +0
    // by std's formula; LLVM's NVPTX backend made `min.f16` of the selects, which gives -0.
    let case = super::generate::generate(7_638_957_394_747_517_551);
    if let Err(f) = super::check(std::slice::from_ref(&h.dev), &case, false) {
        panic!("kernel seed 7638957394747517551: {f:?}");
    }
    clamp_zero_signs(h);
    powi_regression(h);
    far_shuffles_check(h);
    loops_in_inlined_loops(h);
    negation_of_min(h);
    check_abs!(h, abs_signum_i8, i8);
    check_abs!(h, abs_signum_i16, i16);
    check_abs!(h, abs_signum_i32, i32);
    check_abs!(h, abs_signum_i64, i64);
    // x[0] - y[0] is the tie of the seed: -3.25 - (-1.001).
    let x: Vec<f32> = vec![-3.25, -1.0, 3.5, -250.75, 1e-3, 99.99];
    let y: Vec<f32> = vec![-1.0f32 - 0.001f32, 1.0, 1.0, 2.0, 3.0, 4.0];
    let mut out = h.zeros::<f32>(3 * x.len());
    h.run(&rem_of_constants, LaunchConfig::for_elements(x.len(), 32), (&h.arr(&x), &h.arr(&y), &mut out)).unwrap();
    let got = out.to_vec().unwrap();
    let k = -3.25f32 - ((-1.0f32 - 0.001f32) % 100.0f32);
    for (i, v) in x.iter().enumerate() {
        let d = x[i] - y[i];
        assert_eq!(got[i + 2 * x.len()].to_bits(), d.to_bits(), "{} - {}: {} vs {d}", x[i], y[i], got[i + 2 * x.len()]);
        assert_eq!(got[i].to_bits(), k.to_bits(), "constant remainder: {} vs {k}", got[i]);
        let w = -3.25f32 - ((v - 0.001f32) % 100.0f32);
        assert_eq!(got[i + x.len()].to_bits(), w.to_bits(), "remainder of {v}: {} vs {w}", got[i + x.len()]);
    }
}

// Seed 3 of the first H200 run: a `for` counter's stack slot was made where the loop began, so a
// `for` inside a `while` of a device function was a dynamic alloca; inlined, it needed
// `stacksave`, and LLVM's NVPTX backend aborted the process ("Cannot select: stacksave") when
// generating PTX 8.5 (a CUDA 13 driver's). The PTX check of the CPU suite covers that version.
#[gpu_device]
fn triangle(n: u32) -> u32 {
    let mut s = 0u32;
    let mut c = 0u32;
    while c < n {
        c += 1;
        for k in 0..c {
            s += k;
        }
    }
    s
}

#[gpu_kernel]
fn loop_in_loop(x: &[u32], out: &mut [u32]) {
    let i = grid(1);
    if i < x.len() {
        let mut acc = 0u32;
        for r in 0..3u32 {
            if x[i] > r {
                for q in 0..2u32 {
                    acc += triangle(x[i] % 7 + r + q);
                }
            }
        }
        out[i] = acc;
    }
}

fn loops_in_inlined_loops(h: &Harness) {
    let tri = |n: u32| (1..=n).map(|c| (0..c).sum::<u32>()).sum::<u32>();
    for n in SIZES {
        let x: Vec<u32> = (0..n).map(|_| (h.next_u64() % 10) as u32).collect();
        let mut out = h.zeros::<u32>(n);
        h.run(&loop_in_loop, LaunchConfig::for_elements(n, 64), (&h.arr(&x), &mut out)).unwrap();
        let want: Vec<u32> =
            x.iter().map(|v| (0..3u32).filter(|r| v > r).map(|r| (0..2u32).map(|q| tri(v % 7 + r + q)).sum::<u32>()).sum()).collect();
        assert_eq!(out.to_vec().unwrap(), want);
    }
}

// Seed 257480270603 on the H200: `-c / 127` for c = i16::MIN (a saturated cast) was 258: ptxas
// took `neg.s16` of MIN as +32768 (see `nvptx::widen_16bit_neg_abs`).
#[gpu_kernel]
fn neg_of_min(x: &[f64], out: &mut [i16], small: &mut [i8]) {
    let i = grid(1);
    if i < x.len() {
        let c: i16 = x[i] as i16;
        out[i] = -c / 127i16;
        let b: i8 = x[i] as i8;
        small[i] = (0i8 - b) / 3i8;
    }
}

fn negation_of_min(h: &Harness) {
    for n in SIZES {
        let x: Vec<f64> =
            (0..n).map(|i| [f64::NEG_INFINITY, -40000.0, 32767.0, -128.5, 1e9, -3.0][i % 6] + (h.next_u64() % 2) as f64).collect();
        let (mut out, mut small) = (h.zeros::<i16>(n), h.zeros::<i8>(n));
        h.run(&neg_of_min, LaunchConfig::for_elements(n, 64), (&h.arr(&x), &mut out, &mut small)).unwrap();
        let want: Vec<i16> = x.iter().map(|v| (*v as i16).wrapping_neg() / 127).collect();
        let want8: Vec<i8> = x.iter().map(|v| 0i8.wrapping_sub(*v as i8) / 3).collect();
        assert_eq!(out.to_vec().unwrap(), want);
        assert_eq!(small.to_vec().unwrap(), want8);
    }
}

/// `clamp` keeps std's formula on zeros of either sign, in every float type.
#[gpu_kernel]
fn clamps_of_zeros(x: &[f32], lo: &[f32], hi: &[f32], out: &mut [f32], out16: &mut [f16], out64: &mut [f64]) {
    let i = grid(1);
    if i < x.len() {
        out[i] = x[i].clamp(lo[i], hi[i]);
        out16[i] = f16::from_f32(x[i]).clamp(f16::from_f32(lo[i]), f16::from_f32(hi[i]));
        out64[i] = (x[i] as f64).clamp(lo[i] as f64, hi[i] as f64);
    }
}

fn clamp_zero_signs(h: &Harness) {
    let cases: [(f32, f32, f32); 6] =
        [(0.0, f32::NAN, -0.0), (-0.0, 0.0, 1.0), (0.0, -1.0, -0.0), (-0.0, -0.0, 0.0), (0.0, -0.0, 0.0), (-0.0, f32::NAN, 0.0)];
    let (x, lo, hi): (Vec<f32>, Vec<f32>, Vec<f32>) =
        (cases.iter().map(|c| c.0).collect(), cases.iter().map(|c| c.1).collect(), cases.iter().map(|c| c.2).collect());
    let n = x.len();
    let (mut o, mut o16, mut o64) = (h.zeros::<f32>(n), h.zeros::<f16>(n), h.zeros::<f64>(n));
    h.run(&clamps_of_zeros, (1, 32), (&h.arr(&x), &h.arr(&lo), &h.arr(&hi), &mut o, &mut o16, &mut o64)).unwrap();
    // std's formula, which panics on a NaN bound: written out.
    let clamp = |x: f64, lo: f64, hi: f64| {
        let r = if x < lo { lo } else { x };
        if r > hi {
            hi
        } else {
            r
        }
    };
    let (o, o16, o64) = (o.to_vec().unwrap(), o16.to_vec().unwrap(), o64.to_vec().unwrap());
    for (i, &(a, l, u)) in cases.iter().enumerate() {
        let want = clamp(a as f64, l as f64, u as f64);
        assert_eq!(o[i].to_bits(), (want as f32).to_bits(), "f32 {a}.clamp({l}, {u})");
        assert_eq!(o16[i].to_bits(), f16::from_f64(want).to_bits(), "f16 {a}.clamp({l}, {u})");
        assert_eq!(o64[i].to_bits(), want.to_bits(), "f64 {a}.clamp({l}, {u})");
    }
}
