//! Complex numbers in kernels (`num_complex::Complex<f32>` and `Complex<f64>`): every operator
//! with complex and real operands on either side, every function and method, fields read and
//! written (of locals and of array elements), scalar parameters, device functions, shared and
//! per-thread arrays, inference of unsuffixed literals. Each is checked against num-complex on
//! the host, on random inputs mixed with the edge values (±0, ±inf, NaN, ±1): bit for bit on
//! the CPU backend (the same formulas on the same libm), within a few ulps on the GPU, whose
//! libdevice rounds transcendental functions differently (arithmetic stays exact).

use super::fuzz::value::{ulps, v};
use super::*;
use gpujit::Complex;

/// Complex results a thread writes, real results, flags.
const OUT: usize = 27;
const REALS: usize = 6;
const FLAGS: usize = 3;

macro_rules! complex_kernels {
    ($($kernel:ident, $dev:ident: $t:ty;)*) => {$(
        #[gpu_device]
        fn $dev(a: Complex<$t>, k: $t) -> Complex<$t> {
            let mut c = a * k;
            c.im += 1.0;
            c
        }

        #[gpu_kernel]
        fn $kernel(z: &[Complex<$t>], w: &[Complex<$t>], r: &[$t], s: Complex<$t>, out: &mut [Complex<$t>], reals: &mut [$t], flags: &mut [bool]) {
            let i = grid(1);
            if i >= z.len() {
                return;
            }
            let (a, b, x) = (z[i], w[i], r[i]);
            let o = 27 * i;
            out[o] = a + b;
            out[o + 1] = a - b;
            out[o + 2] = a * b;
            out[o + 3] = a / b;
            out[o + 4] = a + x;
            out[o + 5] = a - x;
            out[o + 6] = a * x;
            out[o + 7] = a / x;
            out[o + 8] = x + a;
            out[o + 9] = x - a;
            out[o + 10] = x * a;
            out[o + 11] = x / a;
            out[o + 12] = -a;
            out[o + 13] = a.conj();
            out[o + 14] = a.inv();
            out[o + 15] = a.exp();
            out[o + 16] = a.ln();
            out[o + 17] = a.sqrt();
            out[o + 18] = a.powf(x);
            out[o + 19] = Complex::new(x, a.re);
            out[o + 20] = Complex::from_polar(x, a.im);
            out[o + 21] = Complex::cis(x);
            out[o + 22] = a * s;
            // Compound assignment and fields of a local.
            let mut c = a;
            c += b;
            c *= x;
            c.re = 2.0 * c.im;
            c.im -= x;
            out[o + 23] = c;
            // A field of an element, assigned in place.
            out[o + 24] = a;
            out[o + 24].im += x;
            out[o + 25] = $dev(b, x);
            // A literal's type follows from its use.
            let mut acc = Complex::new(0.0, 0.5);
            acc = acc * 2.0 + a;
            out[o + 26] = acc;
            let q = 6 * i;
            reals[q] = a.re;
            reals[q + 1] = a.im;
            reals[q + 2] = a.norm();
            reals[q + 3] = a.norm_sqr();
            reals[q + 4] = a.arg();
            reals[q + 5] = a.l1_norm();
            let f = 3 * i;
            flags[f] = a == b;
            flags[f + 1] = a != b;
            flags[f + 2] = a == a;
        }
    )*};
}

complex_kernels! {
    complex_ops_f32, complex_scale_f32: f32;
    complex_ops_f64, complex_scale_f64: f64;
}

macro_rules! complex_reference {
    ($($name:ident: $t:ty;)*) => {$(
        /// What the kernel computes, in host Rust with num-complex.
        fn $name(a: Complex<$t>, b: Complex<$t>, x: $t, s: Complex<$t>) -> ([Complex<$t>; OUT], [$t; REALS], [bool; FLAGS]) {
            let mut c = a;
            c += b;
            c *= x;
            c.re = 2.0 * c.im;
            c.im -= x;
            let mut e = a;
            e.im += x;
            let mut d = b * x;
            d.im += 1.0;
            let acc = Complex::new(0.0, 0.5) * 2.0 + a;
            (
                [
                    a + b,
                    a - b,
                    a * b,
                    a / b,
                    a + x,
                    a - x,
                    a * x,
                    a / x,
                    x + a,
                    x - a,
                    x * a,
                    x / a,
                    -a,
                    a.conj(),
                    a.inv(),
                    a.exp(),
                    a.ln(),
                    a.sqrt(),
                    a.powf(x),
                    Complex::new(x, a.re),
                    Complex::from_polar(x, a.im),
                    Complex::cis(x),
                    a * s,
                    c,
                    e,
                    d,
                    acc,
                ],
                [a.re, a.im, a.norm(), a.norm_sqr(), a.arg(), a.l1_norm()],
                [a == b, a != b, a == a],
            )
        }
    )*};
}

complex_reference! {
    reference_f32: f32;
    reference_f64: f64;
}

/// Results whose formulas call a transcendental function (by index into a thread's complex
/// results): the GPU's libdevice may round those differently from the host's libm.
const TRANSCENDENTAL: [usize; 6] = [15, 16, 17, 18, 20, 21];

macro_rules! complex_case {
    ($h:expr, $kernel:ident, $reference:ident, $t:ty) => {{
        let h: &Harness = $h;
        let edge = |h: &Harness| -> $t {
            match h.next_u64() % 10 {
                0 => 0.0,
                1 => -0.0,
                2 => <$t>::INFINITY,
                3 => <$t>::NEG_INFINITY,
                4 => <$t>::NAN,
                5 => 1.0,
                6 => -1.0,
                _ => h.f64_in(-8.0, 8.0) as $t,
            }
        };
        let c = |h: &Harness| Complex::new(edge(h), edge(h));
        for n in SIZES {
            let (zs, ws, rs) = (h.vec(n, c), h.vec(n, c), h.vec(n, edge));
            let s = Complex::new(h.f64_in(-2.0, 2.0) as $t, h.f64_in(-2.0, 2.0) as $t);
            let (z, w, r) = (h.arr(&zs), h.arr(&ws), h.arr(&rs));
            let mut out = h.zeros::<Complex<$t>>(OUT * n);
            let mut reals = h.zeros::<$t>(REALS * n);
            let mut flags = h.zeros::<bool>(FLAGS * n);
            h.run(&$kernel, (n.div_ceil(128).max(1), 128), (&z, &w, &r, s, &mut out, &mut reals, &mut flags)).unwrap();
            let (out, reals, flags) = (out.to_vec().unwrap(), reals.to_vec().unwrap(), flags.to_vec().unwrap());
            // Exact on the CPU backend; a few ulps of a libdevice function on the GPU, and what
            // follows from them through the formula.
            // Bit for bit: the sign of a zero matters (it picks the side of a branch cut).
            let close = |got: $t, want: $t, transcendental: bool| {
                let exact = got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan());
                let u = ulps(v(got), v(want));
                exact || (h.is_gpu() && transcendental && (u <= 4 || (got - want).abs() <= 1e-5 * want.abs().max(1.0)))
            };
            for i in 0..n {
                let (want, want_reals, want_flags) = $reference(zs[i], ws[i], rs[i], s);
                let ctx = format!("{} n={n} i={i} z={} w={} x={}", stringify!($kernel), zs[i], ws[i], rs[i]);
                for (j, w) in want.iter().enumerate() {
                    let got = out[OUT * i + j];
                    let exact = close(got.re, w.re, false) && close(got.im, w.im, false);
                    // A transcendental result on the GPU: within the relative error of the
                    // modulus (a part much smaller than the modulus carries its absolute error).
                    let finite = w.re.is_finite() && w.im.is_finite() && got.re.is_finite() && got.im.is_finite();
                    let near =
                        finite && (got - w).norm() <= (if std::mem::size_of::<$t>() == 4 { 1e-5 } else { 1e-12 }) * w.norm().max(1.0);
                    let tr = h.is_gpu() && TRANSCENDENTAL.contains(&j);
                    assert!(
                        exact || (tr && (near || close(got.re, w.re, true) && close(got.im, w.im, true))),
                        "{ctx}: result {j} = {got}, want {w}"
                    );
                }
                for (j, w) in want_reals.iter().enumerate() {
                    let got = reals[REALS * i + j];
                    assert!(close(got, *w, j == 2 || j == 4), "{ctx}: real {j} = {got}, want {w}");
                }
                assert_eq!(&flags[FLAGS * i..FLAGS * (i + 1)], &want_flags, "{ctx}: flags");
            }
        }
    }};
}

/// Every operator, function, method and field of complex numbers, against num-complex.
pub fn complex_numbers(h: &Harness) {
    complex_case!(h, complex_ops_f32, reference_f32, f32);
    complex_case!(h, complex_ops_f64, reference_f64, f64);
}

/// A block's sum of complex numbers through shared memory, a per-thread array of them, and a
/// 2-D (maybe transposed) complex array read through its strides.
#[gpu_kernel]
fn complex_block_sums(x: &Array<Complex<f64>, 2>, sums: &mut [Complex<f64>], twice: &mut Array<Complex<f64>, 2>) {
    let mut tile = shared_array::<Complex<f64>, 128>();
    let mut pair = local_array::<Complex<f64>, 2>();
    let t = thread_idx_x();
    let (rows, cols) = (x.shape(0), x.shape(1));
    let i = grid(1);
    let mut mine = Complex::new(0.0, 0.0);
    if i < rows * cols {
        let (r, c) = (i / cols, i % cols);
        pair[0] = x[[r, c]];
        pair[1] = pair[0].conj();
        mine = pair[0] + pair[1] * Complex::<f64>::new(0.0, 1.0);
        twice[[r, c]] = 2.0 * x[[r, c]];
    }
    tile[t] = mine;
    sync_threads();
    if t == 0 {
        let mut s = Complex::new(0.0, 0.0);
        for k in 0..block_dim_x() {
            s += tile[k];
        }
        sums[block_idx_x()] = s;
    }
}

/// Any element type, complex ones included.
#[gpu_kernel]
fn copy_generic<T: Scalar>(x: &[T], out: &mut [T]) {
    let i = grid(1);
    if i < x.len() {
        out[i] = x[i];
    }
}

/// `<` is not defined on complex numbers: a `Scalar` kernel specialized for one says so.
#[gpu_kernel]
fn less_generic<T: Scalar>(x: &[T], out: &mut [bool]) {
    let i = grid(1);
    if i < x.len() {
        out[i] = x[i] < x[0];
    }
}

/// Complex numbers in shared and per-thread arrays, in 2-D and strided arrays, through a
/// generic kernel; and the errors of operations complex numbers do not have.
pub fn complex_arrays(h: &Harness) {
    for (rows, cols) in [(0, 5), (1, 1), (7, 19), (33, 40)] {
        let data: Vec<Complex<f64>> = h.vec(rows * cols, |h| Complex::new(h.f64_in(-4.0, 4.0), h.f64_in(-4.0, 4.0)));
        let x = DeviceArray::from_shape(&h.dev, &[rows, cols], &data).unwrap();
        for transposed in [false, true] {
            let (r, c) = if transposed { (cols, rows) } else { (rows, cols) };
            let blocks = (r * c).div_ceil(128).max(1);
            let mut sums = h.zeros::<Complex<f64>>(blocks);
            let mut twice = DeviceArray::<Complex<f64>>::zeros_shape(&h.dev, &[r, c]).unwrap();
            let view = if transposed { x.view().t() } else { x.view() };
            h.run(&complex_block_sums, (blocks, 128), (&view, &mut sums, &mut twice)).unwrap();
            let at = |i: usize, j: usize| if transposed { data[j * cols + i] } else { data[i * cols + j] };
            let mut want = vec![Complex::new(0.0, 0.0); blocks];
            for k in 0..r * c {
                let v = at(k / c, k % c);
                want[k / 128] += v + v.conj() * Complex::new(0.0, 1.0);
            }
            let got = sums.to_vec().unwrap();
            for (b, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!((g - w).norm() <= 1e-12 * w.norm().max(1.0), "{rows}x{cols} t={transposed} block {b}: {g} vs {w}");
            }
            let twice = twice.to_vec().unwrap();
            for (k, v) in twice.iter().enumerate() {
                assert_eq!(*v, 2.0 * at(k / c, k % c), "{rows}x{cols} t={transposed} [{k}]");
            }
        }
    }
    for n in SIZES {
        let zs: Vec<Complex<f32>> = h.vec(n, |h| Complex::new(h.next_u64() as f32, -(h.next_u64() as f32)));
        let z = h.arr(&zs);
        let mut out = h.zeros::<Complex<f32>>(n);
        h.run(&copy_generic, (n.div_ceil(128).max(1), 128), (&z, &mut out)).unwrap();
        assert_eq!(out.to_vec().unwrap(), zs);
    }
    // A complex array through DLPack (`kDLComplex`, 128 bits) and back into a kernel.
    let zs: Vec<Complex<f64>> = h.vec(1000, |h| Complex::new(h.f64_in(-1.0, 1.0), h.f64_in(-1.0, 1.0)));
    let exported = h.arr(&zs).into_dlpack();
    // SAFETY: `exported` came from `into_dlpack`; the import owns it from here on.
    let t = unsafe { gpujit::dlpack::DlpackTensor::from_versioned(exported) }.unwrap();
    let a = t.array().unwrap();
    let mut out = h.zeros::<Complex<f64>>(1000);
    h.run(&copy_generic, (8, 128), (&a, &mut out)).unwrap();
    assert_eq!(out.to_vec().unwrap(), zs);
    drop(t);
    let z = h.arr(&[Complex::new(1.0f64, 2.0)]);
    let mut flags = h.zeros::<bool>(1);
    let e = h.run(&less_generic, (1, 32), (&z, &mut flags)).unwrap_err();
    let text = e.to_string();
    assert!(
        matches!(e, Error::Compile(_)) && text.contains("`<`") && text.contains("Complex<f64>") && text.contains("less_generic"),
        "{text}"
    );
}

/// Complex expressions (`expr(&z).norm()`, mixed real operands, `complex(re, im)`) and
/// reductions (`sum`, `prod`, `mean`, `dot`, along an axis too), against num-complex.
pub fn complex_expressions(h: &Harness) {
    let _serial = super::fused::serial();
    for n in [0usize, 1, 127, 129, 4099, 100_003] {
        let zs: Vec<Complex<f64>> = h.vec(n, |h| Complex::new(h.f64_in(-1.0, 1.0), h.f64_in(-1.0, 1.0)));
        let ws: Vec<Complex<f64>> = h.vec(n, |h| Complex::new(h.f64_in(-1.0, 1.0), h.f64_in(-1.0, 1.0)));
        let xs: Vec<f64> = h.vec(n, |h| h.f64_in(0.5, 2.0));
        let (z, w, x) = (h.arr(&zs), h.arr(&ws), h.arr(&xs));
        // Elementwise: bit for bit on the CPU backend (the same formulas, libm and rounding).
        let exact =
            |got: f64, want: f64| got.to_bits() == want.to_bits() || (h.is_gpu() && (got - want).abs() <= 1e-14 * want.abs().max(1.0));
        let got = ((expr(&z) * &w + 2.0) / &x - expr(&z).conj()).exp().eval().unwrap().to_vec().unwrap();
        for i in 0..n {
            let want = ((zs[i] * ws[i] + 2.0) / xs[i] - zs[i].conj()).exp();
            assert!(exact(got[i].re, want.re) && exact(got[i].im, want.im), "n={n} [{i}]: {} vs {want}", got[i]);
        }
        let norms = expr(&z).norm().eval().unwrap().to_vec().unwrap();
        let parts = (expr(&z).re() * expr(&z).im() + expr(&w).arg()).eval().unwrap().to_vec().unwrap();
        let built = gpujit::expr::complex(&x, expr(&z).im()).eval().unwrap().to_vec().unwrap();
        for i in 0..n {
            assert!(exact(norms[i], zs[i].norm()), "norm [{i}]");
            assert!(exact(parts[i], zs[i].re * zs[i].im + ws[i].arg()), "re*im+arg [{i}]");
            assert_eq!(built[i], Complex::new(xs[i], zs[i].im), "complex(x, z.im) [{i}]");
        }
        // Reductions: sums in a different order than the host's, so within rounding.
        let tol = 1e-13 * (n as f64).max(1.0);
        let close = |got: Complex<f64>, want: Complex<f64>, what: &str| {
            assert!((got - want).norm() <= tol * want.norm().max(1.0), "{what} n={n}: {got} vs {want}");
        };
        let sum: Complex<f64> = zs.iter().sum();
        close(expr(&z).sum().value().unwrap(), sum, "sum");
        close(dot(&z, &w).value().unwrap(), zs.iter().zip(&ws).map(|(a, b)| a * b).sum(), "dot");
        let mean = expr(&z).mean().value().unwrap();
        if n == 0 {
            assert!(mean.re.is_nan() && mean.im.is_nan(), "mean of nothing: {mean}");
        } else {
            close(mean, sum / n as f64, "mean");
        }
        // A product of numbers on the unit circle stays on it.
        let unit: Vec<Complex<f64>> = zs.iter().map(|z| Complex::from_polar(1.0, z.arg())).collect();
        let u = h.arr(&unit);
        close(expr(&u).prod().value().unwrap(), unit.iter().product(), "prod");
    }
    // Along an axis of a 2-D complex array, f32.
    let (rows, cols) = (37usize, 300usize);
    let data: Vec<Complex<f32>> = h.vec(rows * cols, |h| Complex::new(h.f64_in(-1.0, 1.0) as f32, h.f64_in(-1.0, 1.0) as f32));
    let a = DeviceArray::from_shape(&h.dev, &[rows, cols], &data).unwrap();
    let sums = expr(&a).sum().axis(1).eval().unwrap().to_vec().unwrap();
    for r in 0..rows {
        let want: Complex<f32> = data[r * cols..(r + 1) * cols].iter().sum();
        assert!((sums[r] - want).norm() <= 1e-4, "row {r}: {} vs {want}", sums[r]);
    }
}
