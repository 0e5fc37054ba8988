//! Every f16/bf16 operation of the kernel language against the `half` crate, on every bit pattern
//! of the 16-bit type: arithmetic, comparisons, selects (`if` values, clamps, `forall!`), every
//! math method, conversions from f32 and f64 (rounded once, ties to even) and to them, local
//! arrays, and the 16-bit atomics.
//!
//! On the CPU backend (CI) results must equal the crate's bit for bit (NaN: any NaN). On a GPU the
//! transcendental methods may differ by one unit in the last place of the 16-bit result, since
//! libdevice and the host's libm may round their f32 results differently.

use super::Harness;
use gpujit::codegen::ScalarType::{BF16, F16};
use gpujit::prelude::*;

#[gpu_kernel]
fn half_select<T: Float>(x: &[T], z: &[T], lo: T, y: &mut [T], clamped: &mut [T]) {
    let i = grid(1);
    if i < x.len() {
        y[i] = if x[i] < z[i] { x[i] } else { z[i] };
        let mut v = x[i];
        if v < lo {
            v = lo;
        }
        clamped[i] = v;
    }
}

/// Operations with an exact result: the arithmetic, comparisons, and the IEEE-exact methods.
pub const EXACT_OPS: usize = 18;

#[gpu_kernel]
fn half_exact<T: Float>(x: &[T], y: &[T], z: &[T], out: &mut [T], cmp: &mut [u8]) {
    let i = grid(1);
    if i < x.len() {
        let (a, b, c) = (x[i], y[i], z[i]);
        let k = 18 * i;
        out[k] = a + b;
        out[k + 1] = a - b;
        out[k + 2] = a * b;
        out[k + 3] = a / b;
        out[k + 4] = a % b;
        out[k + 5] = -a;
        out[k + 6] = a.sqrt();
        out[k + 7] = a.abs();
        out[k + 8] = a.floor();
        out[k + 9] = a.ceil();
        out[k + 10] = a.round();
        out[k + 11] = a.trunc();
        out[k + 12] = a.min(b);
        out[k + 13] = a.max(b);
        out[k + 14] = a.mul_add(b, c);
        out[k + 15] = a.recip();
        out[k + 16] = a.signum();
        out[k + 17] = a.copysign(b);
        // A local array of the type, written and read back through a dynamic index.
        let mut l = local_array::<T, 4>();
        l[i % 4] = a;
        let mut m = 0u8;
        if l[i % 4] < b {
            m |= 1;
        }
        if a <= b {
            m |= 2;
        }
        if a > b {
            m |= 4;
        }
        if a >= b {
            m |= 8;
        }
        if a == b {
            m |= 16;
        }
        if a != b {
            m |= 32;
        }
        cmp[i] = m;
    }
}

/// Methods computed by a library in f32, then rounded.
pub const LIBRARY_OPS: usize = 21;

#[gpu_kernel]
fn half_library<T: Float>(x: &[T], y: &[T], out: &mut [T]) {
    let i = grid(1);
    if i < x.len() {
        let (a, b) = (x[i], y[i]);
        let k = 21 * i;
        out[k] = a.exp();
        out[k + 1] = a.exp2();
        out[k + 2] = a.ln();
        out[k + 3] = a.log2();
        out[k + 4] = a.log10();
        out[k + 5] = a.sin();
        out[k + 6] = a.cos();
        out[k + 7] = a.tan();
        out[k + 8] = a.asin();
        out[k + 9] = a.acos();
        out[k + 10] = a.atan();
        out[k + 11] = a.sinh();
        out[k + 12] = a.cosh();
        out[k + 13] = a.tanh();
        out[k + 14] = a.cbrt();
        out[k + 15] = a.erf();
        out[k + 16] = a.erfc();
        out[k + 17] = a.powf(b);
        out[k + 18] = a.atan2(b);
        out[k + 19] = a.hypot(b);
        out[k + 20] = a.powi(3);
    }
}

#[gpu_kernel]
fn half_from_wide(x: &[f32], d: &[f64], h32: &mut [f16], b32: &mut [bf16], h64: &mut [f16], b64: &mut [bf16]) {
    let i = grid(1);
    if i < x.len() {
        h32[i] = f16::from_f32(x[i]);
        b32[i] = bf16::from_f32(x[i]);
        h64[i] = f16::from_f64(d[i]);
        b64[i] = bf16::from_f64(d[i]);
    }
}

#[gpu_kernel]
fn half_to_wide(h: &[f16], b: &[bf16], f: &mut [f32], d: &mut [f64], hb: &mut [bf16], bh: &mut [f16]) {
    let i = grid(1);
    if i < h.len() {
        f[2 * i] = h[i].to_f32();
        f[2 * i + 1] = b[i].to_f32();
        d[2 * i] = h[i].to_f64();
        d[2 * i + 1] = b[i].to_f64();
        hb[i] = bf16::from_f32(h[i].to_f32());
        bh[i] = f16::from_f32(b[i].to_f32());
    }
}

#[gpu_kernel]
fn half_atomic_sums(x: &[f16], y: &[bf16], sh: &mut [f16], sb: &mut [bf16], olds: &mut [f16]) {
    let i = grid(1);
    if i < x.len() {
        // Many threads on few elements; an element at the very end of its allocation too.
        olds[i] = atomic_add(sh, i % sh.len(), x[i]);
        atomic_add(sb, i % sb.len(), y[i]);
    }
}

#[gpu_kernel]
fn half_shared_atomics(x: &[bf16], out: &mut [f32]) {
    let mut t = shared_array::<bf16, 3>();
    let tid = thread_idx_x();
    if tid < 3 {
        t[tid] = bf16::from_f32(0.0);
    }
    sync_threads();
    let i = grid(1);
    if i < x.len() {
        atomic_add(&mut t, tid % 3, x[i]);
    }
    sync_threads();
    if tid < 3 {
        atomic_add(out, tid, t[tid].to_f32());
    }
}

/// Same value, or both NaN.
fn same_f32(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

fn same_f64(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// Equal bits (with `ulps` 0), or within `ulps` units in the last place of a 16-bit float; NaN
/// matches any NaN.
fn close16(g: u16, w: u16, nan: (bool, bool), ulps: u16) -> bool {
    if nan.0 || nan.1 {
        return nan.0 && nan.1;
    }
    if (g ^ w) & 0x8000 != 0 {
        // Opposite signs: the distance through zero.
        return (g & 0x7fff) + (w & 0x7fff) <= ulps && ulps > 0;
    }
    g.abs_diff(w) <= ulps
}

/// Inputs of a 16-bit type: every bit pattern once (shuffled), then more random ones.
fn every_pattern(h: &Harness) -> Vec<u16> {
    let mut v: Vec<u16> = (0..=u16::MAX).collect();
    for i in (1..v.len()).rev() {
        let j = (h.next_u64() % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
    v.extend((0..37).map(|_| h.next_u64() as u16));
    v
}

/// A random 16-bit pattern, with zeros, infinities and NaNs more likely.
fn random_pattern(h: &Harness, inf: u16) -> u16 {
    match h.next_u64() % 16 {
        0 => 0,
        1 => 0x8000,
        2 => inf,
        3 => inf | 0x8000,
        4 => inf | 1,
        _ => h.next_u64() as u16,
    }
}

macro_rules! check_half_type {
    ($h:expr, $t:ty, $inf:expr) => {{
        let h: &Harness = $h;
        let tol_lib: u16 = if h.is_gpu() { 1 } else { 0 };
        for n in [0usize, 1, 129, 65_573] {
            let pats = every_pattern(h);
            let x: Vec<$t> = pats[..n.min(pats.len())].iter().map(|b| <$t>::from_bits(*b)).collect();
            let n = x.len();
            let y: Vec<$t> = h.vec(n, |h| <$t>::from_bits(random_pattern(h, $inf)));
            let z: Vec<$t> = h.vec(n, |h| <$t>::from_bits(random_pattern(h, $inf)));
            let lo = <$t>::from_f32(-1.5);
            let (dx, dy, dz) = (h.arr(&x), h.arr(&y), h.arr(&z));
            let what = stringify!($t);

            // Selects: an `if` value, a clamp, and the same select in a `forall!` closure.
            let (mut sel, mut clamped, mut fsel) = (h.zeros::<$t>(n), h.zeros::<$t>(n), h.zeros::<$t>(n));
            h.run(&half_select, LaunchConfig::for_elements(n, 128), (&dx, &dz, lo, &mut sel, &mut clamped)).unwrap();
            forall!(n, |i| fsel[i] = if dx[i] < dz[i] { dx[i] } else { dz[i] }).unwrap();
            let (sel, clamped, fsel) = (sel.to_vec().unwrap(), clamped.to_vec().unwrap(), fsel.to_vec().unwrap());
            for i in 0..n {
                let want = if x[i] < z[i] { x[i] } else { z[i] };
                assert_eq!(sel[i].to_bits(), want.to_bits(), "{what} select({}, {})", x[i], z[i]);
                assert_eq!(fsel[i].to_bits(), want.to_bits(), "{what} forall! select({}, {})", x[i], z[i]);
                let want = if x[i] < lo { lo } else { x[i] };
                assert_eq!(clamped[i].to_bits(), want.to_bits(), "{what} clamp({})", x[i]);
            }

            // Exact operations and comparisons.
            let (mut out, mut cmp) = (h.zeros::<$t>(EXACT_OPS * n), h.zeros::<u8>(n));
            h.run(&half_exact, LaunchConfig::for_elements(n, 128), (&dx, &dy, &dz, &mut out, &mut cmp)).unwrap();
            let (out, cmp) = (out.to_vec().unwrap(), cmp.to_vec().unwrap());
            let r = |v: f32| <$t>::from_f32(v);
            for i in 0..n {
                let (a, b, c) = (x[i], y[i], z[i]);
                let (fa, fb, fc) = (a.to_f32(), b.to_f32(), c.to_f32());
                let want = [
                    a + b,
                    a - b,
                    a * b,
                    a / b,
                    a % b,
                    -a,
                    r(fa.sqrt()),
                    r(fa.abs()),
                    r(fa.floor()),
                    r(fa.ceil()),
                    r(fa.round()),
                    r(fa.trunc()),
                    r(fa.min(fb)),
                    r(fa.max(fb)),
                    r(fa.mul_add(fb, fc)),
                    r(fa.recip()),
                    r(fa.signum()),
                    r(fa.copysign(fb)),
                ];
                for (k, w) in want.iter().enumerate() {
                    let g = out[EXACT_OPS * i + k];
                    // The sign of a NaN is unspecified (the GPU's f16 → f32 conversion makes it
                    // positive): copysign from a NaN gives either sign. Likewise which zero
                    // min/max give for +0 and -0 (as in Rust).
                    let zeros = a.to_f32() == 0.0 && b.to_f32() == 0.0;
                    let (g, w) = if (k == 17 && b.is_nan()) || (matches!(k, 12 | 13) && zeros) { (g.abs(), w.abs()) } else { (g, *w) };
                    assert!(
                        close16(g.to_bits(), w.to_bits(), (g.is_nan(), w.is_nan()), 0),
                        "{what} exact op {k} on ({a}, {b}, {c}): {g} vs {w}"
                    );
                }
                let m = (a < b) as u8
                    | ((a <= b) as u8) << 1
                    | ((a > b) as u8) << 2
                    | ((a >= b) as u8) << 3
                    | ((a == b) as u8) << 4
                    | ((a != b) as u8) << 5;
                assert_eq!(cmp[i], m, "{what} comparisons of ({a}, {b})");
            }

            // Library methods.
            let mut out = h.zeros::<$t>(LIBRARY_OPS * n);
            h.run(&half_library, LaunchConfig::for_elements(n, 128), (&dx, &dy, &mut out)).unwrap();
            let out = out.to_vec().unwrap();
            for i in 0..n {
                let (a, b) = (x[i], y[i]);
                let (fa, fb) = (a.to_f32(), b.to_f32());
                let want = [
                    fa.exp(),
                    fa.exp2(),
                    fa.ln(),
                    fa.log2(),
                    fa.log10(),
                    fa.sin(),
                    fa.cos(),
                    fa.tan(),
                    fa.asin(),
                    fa.acos(),
                    fa.atan(),
                    fa.sinh(),
                    fa.cosh(),
                    fa.tanh(),
                    fa.cbrt(),
                    gpujit::kernel_prelude::Float::erf(fa),
                    gpujit::kernel_prelude::Float::erfc(fa),
                    fa.powf(fb),
                    fa.atan2(fb),
                    fa.hypot(fb),
                    fa.powi(3),
                ];
                for (k, w) in want.iter().map(|w| r(*w)).enumerate() {
                    let g = out[LIBRARY_OPS * i + k];
                    assert!(
                        close16(g.to_bits(), w.to_bits(), (g.is_nan(), w.is_nan()), tol_lib),
                        "{what} library op {k} on ({a}, {b}): {g} vs {w}"
                    );
                }
            }
        }
    }};
}

/// f32 and f64 inputs for conversions: specials, every 16-bit value and the points halfway
/// between neighbours (ties) with one unit more or less, and random bit patterns.
fn wide_inputs(h: &Harness) -> (Vec<f32>, Vec<f64>) {
    let mut f = vec![
        f32::NAN,
        -f32::NAN,
        f32::INFINITY,
        -f32::INFINITY,
        0.0,
        -0.0,
        f32::MAX,
        f32::MIN,
        f32::MIN_POSITIVE,
        1e-45,
        65504.0,
        65520.0,
        65519.99,
    ];
    let mut d = vec![
        f64::NAN,
        f64::INFINITY,
        -f64::INFINITY,
        0.0,
        -0.0,
        f64::MAX,
        1e-300,
        65520.0,
        65519.999999,
        5.960464477539063e-8,
        2.9802322387695312e-8,
        2.98023223876953e-8,
        2.9802322387695315e-8,
    ];
    for bits in (0..=u16::MAX).step_by(7) {
        for wide in [f16::from_bits(bits).to_f64(), bf16::from_bits(bits).to_f64()] {
            let next = if wide.is_finite() { wide + wide.abs().max(1e-30) * 2f64.powi(-11) } else { wide };
            let mid = (wide + next) / 2.0;
            for v in [wide, mid, mid.next_up_(), mid.next_down_()] {
                f.push(v as f32);
                d.push(v);
            }
        }
    }
    for _ in 0..20_000 {
        f.push(f32::from_bits(h.next_u64() as u32));
        d.push(f64::from_bits(h.next_u64()));
        // Values in the 16-bit types' ranges, at full f64 precision.
        d.push(f64::from_bits(h.next_u64() >> 12 | (1023 - 30 + h.next_u64() % 50) << 52));
    }
    d.truncate(f.len());
    while d.len() < f.len() {
        d.push(f64::from_bits(h.next_u64()));
    }
    (f, d)
}

/// `v` rounded once to nearest even (IEEE 754's rounding, independent of the `half` crate's):
/// the oracle's reference.
fn round_once(v: f64, t: gpujit::codegen::ScalarType) -> u16 {
    super::fuzz::value::round_once(v, t)
}

trait NextF64 {
    fn next_up_(self) -> f64;
    fn next_down_(self) -> f64;
}

impl NextF64 for f64 {
    fn next_up_(self) -> f64 {
        if !self.is_finite() {
            self
        } else if self >= 0.0 {
            f64::from_bits(self.to_bits() + 1)
        } else {
            f64::from_bits(self.to_bits() - 1)
        }
    }
    fn next_down_(self) -> f64 {
        -(-self).next_up_()
    }
}

pub fn half_every_operation(h: &Harness) {
    check_half_type!(h, f16, 0x7c00);
    check_half_type!(h, bf16, 0x7f80);

    // Conversions from f32 and f64, rounded once to nearest even.
    let (f, d) = wide_inputs(h);
    let n = f.len();
    let (mut h32, mut b32, mut h64, mut b64) = (h.zeros::<f16>(n), h.zeros::<bf16>(n), h.zeros::<f16>(n), h.zeros::<bf16>(n));
    h.run(&half_from_wide, LaunchConfig::for_elements(n, 256), (&h.arr(&f), &h.arr(&d), &mut h32, &mut b32, &mut h64, &mut b64)).unwrap();
    let (h32, b32, h64, b64) = (h32.to_vec().unwrap(), b32.to_vec().unwrap(), h64.to_vec().unwrap(), b64.to_vec().unwrap());
    for i in 0..n {
        // From f32 the `half` crate is exact; from f64 it rounds through f32 on x86 (F16C) or
        // drops the low mantissa word, so f64 is checked against the rounding defined below.
        let (rh32, rb32) = (round_once(f[i] as f64, F16), round_once(f[i] as f64, BF16));
        if !f[i].is_nan() {
            assert_eq!((rh32, rb32), (f16::from_f32(f[i]).to_bits(), bf16::from_f32(f[i]).to_bits()), "the reference on {:e}", f[i]);
        }
        let checks = [
            (h32[i].to_bits(), rh32, h32[i].is_nan(), f[i].is_nan(), "f16::from_f32", f[i] as f64),
            (b32[i].to_bits(), rb32, b32[i].is_nan(), f[i].is_nan(), "bf16::from_f32", f[i] as f64),
            (h64[i].to_bits(), round_once(d[i], F16), h64[i].is_nan(), d[i].is_nan(), "f16::from_f64", d[i]),
            (b64[i].to_bits(), round_once(d[i], BF16), b64[i].is_nan(), d[i].is_nan(), "bf16::from_f64", d[i]),
        ];
        for (g, w, gn, wn, what, v) in checks {
            assert!(close16(g, w, (gn, wn), 0), "{what}({v:e}) = {g:#06x}, want {w:#06x}");
            if wn && !h.is_gpu() {
                // The CPU backend keeps a NaN's sign (the GPU's conversion instructions make it
                // positive; the README leaves the sign of a NaN unspecified).
                assert_eq!(g & 0x8000, w & 0x8000, "{what}({v:e}): the sign of a NaN");
            }
        }
    }

    // To f32 and f64 (exact), and between the two 16-bit types.
    let pats = every_pattern(h);
    let hs: Vec<f16> = pats.iter().map(|b| f16::from_bits(*b)).collect();
    let bs: Vec<bf16> = pats.iter().rev().map(|b| bf16::from_bits(*b)).collect();
    let n = hs.len();
    let (mut fo, mut dout, mut hb, mut bh) = (h.zeros::<f32>(2 * n), h.zeros::<f64>(2 * n), h.zeros::<bf16>(n), h.zeros::<f16>(n));
    h.run(&half_to_wide, LaunchConfig::for_elements(n, 256), (&h.arr(&hs), &h.arr(&bs), &mut fo, &mut dout, &mut hb, &mut bh)).unwrap();
    let (fo, dout, hb, bh) = (fo.to_vec().unwrap(), dout.to_vec().unwrap(), hb.to_vec().unwrap(), bh.to_vec().unwrap());
    for i in 0..n {
        assert!(same_f32(fo[2 * i], hs[i].to_f32()), "f16 {:#06x} to_f32: {}", hs[i].to_bits(), fo[2 * i]);
        assert!(same_f32(fo[2 * i + 1], bs[i].to_f32()), "bf16 {:#06x} to_f32: {}", bs[i].to_bits(), fo[2 * i + 1]);
        assert!(same_f64(dout[2 * i], hs[i].to_f64()), "f16 {:#06x} to_f64", hs[i].to_bits());
        assert!(same_f64(dout[2 * i + 1], bs[i].to_f64()), "bf16 {:#06x} to_f64", bs[i].to_bits());
        let (w1, w2) = (bf16::from_f32(hs[i].to_f32()), f16::from_f32(bs[i].to_f32()));
        assert!(close16(hb[i].to_bits(), w1.to_bits(), (hb[i].is_nan(), w1.is_nan()), 0), "f16 {} to bf16", hs[i]);
        assert!(close16(bh[i].to_bits(), w2.to_bits(), (bh[i].is_nan(), w2.is_nan()), 0), "bf16 {} to f16", bs[i]);
    }

    // 16-bit atomics on global memory, on arrays whose last element ends their allocation, and
    // on shared memory. Sums of small integers stay exact in any order while at most 256
    // values (bf16 holds integers up to 256 exactly) go to one element.
    for (n, m) in [(0usize, 1usize), (1, 1), (256, 1), (4099, 17)] {
        let xs: Vec<f16> = h.vec(n, |h| f16::from_f32((h.next_u64() % 5) as f32 - 2.0));
        let ys: Vec<bf16> = h.vec(n, |h| bf16::from_f32((h.next_u64() % 3) as f32 - 1.0));
        let (mut sh, mut sb, mut olds) = (h.zeros::<f16>(m), h.zeros::<bf16>(m), h.zeros::<f16>(n));
        h.run(&half_atomic_sums, LaunchConfig::for_elements(n, 128), (&h.arr(&xs), &h.arr(&ys), &mut sh, &mut sb, &mut olds)).unwrap();
        let (sh, sb) = (sh.to_vec().unwrap(), sb.to_vec().unwrap());
        for k in 0..m {
            let wh: f32 = xs.iter().skip(k).step_by(m).map(|v| v.to_f32()).sum();
            let wb: f32 = ys.iter().skip(k).step_by(m).map(|v| v.to_f32()).sum();
            assert_eq!((sh[k].to_f32(), sb[k].to_f32()), (wh, wb), "16-bit atomic sums of {n} into {m}, element {k}");
        }
        // Each old value is a partial sum: an integer of at most the total's magnitude.
        let bound = xs.iter().map(|v| v.to_f32().abs()).sum::<f32>();
        assert!(olds.to_vec().unwrap().iter().all(|o| o.to_f32().fract() == 0.0 && o.to_f32().abs() <= bound));
        let mut out = h.zeros::<f32>(3);
        h.run(&half_shared_atomics, LaunchConfig::for_elements(n, 96), (&h.arr(&ys), &mut out)).unwrap();
        let out = out.to_vec().unwrap();
        for (k, got) in out.iter().enumerate() {
            // Thread t of each block adds to element t % 3 (32 values of at most 1 each: exact).
            let want: f32 = ys.iter().enumerate().filter(|(i, _)| (i % 96) % 3 == k).map(|(_, v)| v.to_f32()).sum();
            assert_eq!(*got, want, "shared bf16 atomic sums, element {k}");
        }
    }
}
