//! f16 and bf16 kernels.

use super::*;

// ---------------------------------------------------------------------------------------------
// f16 and bf16: computed in f32 and rounded to nearest even, as the `half` crate does.

#[gpu_kernel]
fn half_ops<T: Float>(x: &[T], y: &[T], out: &mut [T], cmp: &mut [u8]) {
    let i = grid(1);
    if i < x.len() {
        let (a, b) = (x[i], y[i]);
        out[6 * i] = a + b;
        out[6 * i + 1] = a - b;
        out[6 * i + 2] = a * b;
        out[6 * i + 3] = a / b;
        out[6 * i + 4] = -a;
        out[6 * i + 5] = a.abs().sqrt();
        let mut c = 0u8;
        if a < b {
            c |= 1;
        }
        if a == b {
            c |= 2;
        }
        cmp[i] = c;
    }
}

macro_rules! check_half_ops {
    ($h:expr, $t:ty) => {{
        let h: &Harness = $h;
        for n in SIZES {
            let x: Vec<$t> = h.vec(n, |h| <$t>::from_f32(h.f64_in(-100.0, 100.0) as f32));
            let y: Vec<$t> =
                h.vec(n, |h| if h.next_u64() % 7 == 0 { <$t>::from_f32(0.0) } else { <$t>::from_f32(h.f64_in(-3.0, 3.0) as f32) });
            let (mut out, mut cmp) = (h.zeros::<$t>(6 * n), h.zeros::<u8>(n));
            h.run(&half_ops, LaunchConfig::for_elements(n, 128), (&h.arr(&x), &h.arr(&y), &mut out, &mut cmp)).unwrap();
            let got = out.to_vec().unwrap();
            for i in 0..n {
                let (a, b) = (x[i], y[i]);
                let want = [a + b, a - b, a * b, a / b, -a, <$t>::from_f32(a.to_f32().abs().sqrt())];
                for k in 0..6 {
                    let (g, w) = (got[6 * i + k], want[k]);
                    assert!(
                        g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan()),
                        "{} op {k} on ({a}, {b}): {g} vs {w}",
                        stringify!($t)
                    );
                }
            }
            let want_cmp: Vec<u8> = x.iter().zip(&y).map(|(a, b)| (a < b) as u8 | ((a == b) as u8) << 1).collect();
            assert_eq!(cmp.to_vec().unwrap(), want_cmp);
        }
    }};
}

#[gpu_kernel]
fn half_convert(x: &[f32], hx: &mut [f16], bx: &mut [bf16], back: &mut [f64]) {
    let i = grid(1);
    if i < x.len() {
        hx[i] = f16::from_f32(x[i]);
        bx[i] = bf16::from_f32(x[i]);
        back[2 * i] = hx[i].to_f64();
        back[2 * i + 1] = bx[i].to_f32() as f64;
    }
}

#[gpu_kernel]
fn half_atomics(x: &[f16], y: &[bf16], totals_h: &mut [f16], totals_b: &mut [bf16], shuffled: &mut [f16]) {
    let i = grid(1);
    let mut v = f16::from_f32(0.0);
    if i < x.len() {
        v = x[i];
        atomic_add(totals_h, 0, x[i]);
        atomic_add(totals_b, 0, y[i]);
    }
    let s = shfl_xor_sync(0xffffffff, v, 1);
    if i < x.len() {
        shuffled[i] = s;
    }
}

pub fn half_floats(h: &Harness) {
    check_half_ops!(h, f16);
    check_half_ops!(h, bf16);
    // Conversions: specials, overflow, subnormals and ties round to nearest even.
    let special = [f32::NAN, f32::INFINITY, -f32::INFINITY, 70000.0, -1e-7, 6e-8, 1.0 + 1.0 / 2048.0, 1.0 + 3.0 / 2048.0, 3.0e38, -0.0];
    let n = 2000;
    let x: Vec<f32> = (0..n)
        .map(|i| if i < special.len() { special[i] } else { (h.f64_in(-1.0, 1.0) * 10f64.powi((h.next_u64() % 12) as i32 - 6)) as f32 })
        .collect();
    let (mut hx, mut bx, mut back) = (h.zeros::<f16>(n), h.zeros::<bf16>(n), h.zeros::<f64>(2 * n));
    h.run(&half_convert, LaunchConfig::for_elements(n, 256), (&h.arr(&x), &mut hx, &mut bx, &mut back)).unwrap();
    let (hx, bx, back) = (hx.to_vec().unwrap(), bx.to_vec().unwrap(), back.to_vec().unwrap());
    for i in 0..n {
        let (wh, wb) = (f16::from_f32(x[i]), bf16::from_f32(x[i]));
        assert!(hx[i].to_bits() == wh.to_bits() || (hx[i].is_nan() && wh.is_nan()), "f16::from_f32({}) = {} vs {}", x[i], hx[i], wh);
        assert!(bx[i].to_bits() == wb.to_bits() || (bx[i].is_nan() && wb.is_nan()), "bf16::from_f32({}) = {} vs {}", x[i], bx[i], wb);
        let (b0, b1) = (back[2 * i], back[2 * i + 1]);
        assert!(b0 == wh.to_f64() || (b0.is_nan() && wh.is_nan()), "f16 → f64");
        assert!(b1 == wb.to_f64() || (b1.is_nan() && wb.is_nan()), "bf16 → f64");
    }
    // Atomic add (exact: small integers) and shuffles.
    let n = 100;
    let xs: Vec<f16> = h.vec(n, |h| f16::from_f32((h.next_u64() % 3) as f32));
    let ys: Vec<bf16> = h.vec(n, |h| bf16::from_f32((h.next_u64() % 3) as f32));
    let (mut th, mut tb, mut sh) = (h.zeros::<f16>(1), h.zeros::<bf16>(1), h.zeros::<f16>(n));
    h.run(&half_atomics, (4, 32), (&h.arr(&xs), &h.arr(&ys), &mut th, &mut tb, &mut sh)).unwrap();
    assert_eq!(th.to_vec().unwrap()[0].to_f32(), xs.iter().map(|v| v.to_f32()).sum::<f32>());
    assert_eq!(tb.to_vec().unwrap()[0].to_f32(), ys.iter().map(|v| v.to_f32()).sum::<f32>());
    let want: Vec<f16> = (0..n).map(|i| if (i ^ 1) < n { xs[i ^ 1] } else { f16::from_f32(0.0) }).collect();
    assert_eq!(sh.to_vec().unwrap(), want);
}
