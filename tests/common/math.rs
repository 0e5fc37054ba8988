//! Math methods, fastmath and kernel options.

use super::*;

// ---------------------------------------------------------------------------------------------
// Math methods: accuracy in ulp against a reference (f32: the f64 result rounded; f64: the host's
// libm through Rust's methods).

/// Distance in units in the last place between two f32 (0 for equal values and for two NaNs).
pub fn ulps32(a: f32, b: f32) -> u64 {
    if a == b || (a.is_nan() && b.is_nan()) {
        return 0;
    }
    if a.is_nan() || b.is_nan() {
        return u64::MAX;
    }
    let ord = |x: f32| {
        let b = x.to_bits();
        if b & 0x8000_0000 != 0 {
            -((b & 0x7fff_ffff) as i64)
        } else {
            b as i64
        }
    };
    ord(a).abs_diff(ord(b))
}

pub fn ulps64(a: f64, b: f64) -> u64 {
    if a == b || (a.is_nan() && b.is_nan()) {
        return 0;
    }
    if a.is_nan() || b.is_nan() {
        return u64::MAX;
    }
    let ord = |x: f64| {
        let b = x.to_bits();
        if b & (1 << 63) != 0 {
            -((b & !(1 << 63)) as i128)
        } else {
            b as i128
        }
    };
    ord(a).abs_diff(ord(b)) as u64
}

#[gpu_kernel]
fn unary_math<T: Float>(which: u32, x: &[T], out: &mut [T]) {
    let i = grid(1);
    if i >= x.len() {
        return;
    }
    let v = x[i];
    let mut r = v;
    if which == 0 {
        r = v.sqrt();
    } else if which == 1 {
        r = v.exp();
    } else if which == 2 {
        r = v.exp2();
    } else if which == 3 {
        r = v.ln();
    } else if which == 4 {
        r = v.log2();
    } else if which == 5 {
        r = v.log10();
    } else if which == 6 {
        r = v.sin();
    } else if which == 7 {
        r = v.cos();
    } else if which == 8 {
        r = v.tan();
    } else if which == 9 {
        r = v.asin();
    } else if which == 10 {
        r = v.acos();
    } else if which == 11 {
        r = v.atan();
    } else if which == 12 {
        r = v.sinh();
    } else if which == 13 {
        r = v.cosh();
    } else if which == 14 {
        r = v.tanh();
    } else if which == 15 {
        r = v.abs();
    } else if which == 16 {
        r = v.floor();
    } else if which == 17 {
        r = v.ceil();
    } else if which == 18 {
        r = v.round();
    } else if which == 19 {
        r = v.trunc();
    } else if which == 20 {
        r = v.cbrt();
    } else if which == 21 {
        r = v.recip();
    } else if which == 22 {
        r = v.signum();
    } else if which == 23 {
        r = v.erf();
    } else if which == 24 {
        r = v.erfc();
    }
    out[i] = r;
}

#[gpu_kernel]
fn binary_math<T: Float>(which: u32, x: &[T], y: &[T], k: &[i32], out: &mut [T]) {
    let i = grid(1);
    if i < x.len() {
        let a = x[i];
        let b = y[i];
        if which == 0 {
            out[i] = a.powf(b);
        } else if which == 1 {
            out[i] = a.atan2(b);
        } else if which == 2 {
            out[i] = a.hypot(b);
        } else if which == 3 {
            out[i] = a.copysign(b);
        } else if which == 4 {
            out[i] = a.min(b);
        } else if which == 5 {
            out[i] = a.max(b);
        } else if which == 6 {
            out[i] = a.powi(k[i]);
        } else {
            out[i] = a.mul_add(b, a);
        }
    }
}

/// (name, input range, reference in f64, ulp bound: libdevice's documented maximum on the GPU;
/// on the CPU backend the larger of it and 2)
type Unary = (&'static str, (f64, f64), fn(f64) -> f64, u64);

fn erf64(x: f64) -> f64 {
    gpujit::kernel_prelude::Float::erf(x)
}
fn erfc64(x: f64) -> f64 {
    gpujit::kernel_prelude::Float::erfc(x)
}

const UNARY: [Unary; 25] = [
    ("sqrt", (-1.0, 1e6), f64::sqrt, 1),
    ("exp", (-80.0, 80.0), f64::exp, 2),
    ("exp2", (-120.0, 120.0), f64::exp2, 2),
    ("ln", (-1.0, 1e6), f64::ln, 2),
    ("log2", (1e-3, 1e6), f64::log2, 2),
    ("log10", (1e-3, 1e6), f64::log10, 2),
    ("sin", (-100.0, 100.0), f64::sin, 2),
    ("cos", (-100.0, 100.0), f64::cos, 2),
    ("tan", (-1.5, 1.5), f64::tan, 4),
    ("asin", (-1.0, 1.0), f64::asin, 4),
    ("acos", (-1.0, 1.0), f64::acos, 4),
    ("atan", (-1e3, 1e3), f64::atan, 2),
    ("sinh", (-80.0, 80.0), f64::sinh, 3),
    ("cosh", (-80.0, 80.0), f64::cosh, 2),
    ("tanh", (-10.0, 10.0), f64::tanh, 2),
    ("abs", (-1e3, 1e3), f64::abs, 0),
    ("floor", (-1e3, 1e3), f64::floor, 0),
    ("ceil", (-1e3, 1e3), f64::ceil, 0),
    ("round", (-1e3, 1e3), f64::round, 0),
    ("trunc", (-1e3, 1e3), f64::trunc, 0),
    ("cbrt", (-1e6, 1e6), f64::cbrt, 4), // glibc documents up to 4 ulp for cbrt
    ("recip", (-1e3, 1e3), f64::recip, 1),
    ("signum", (-1e3, 1e3), f64::signum, 0),
    ("erf", (-5.0, 5.0), erf64, 2),
    ("erfc", (-5.0, 9.0), erfc64, 5), // CUDA documents 4 ulp for erfcf, 5 for erfc
];

fn math_inputs(h: &Harness, n: usize, range: (f64, f64)) -> Vec<f64> {
    let special: [f64; 8] = [0.0, -0.0, 0.5, -0.5, 1.5, -2.5, 1.0, -1.0];
    h.vec(
        n,
        |h| if h.next_u64() % 8 == 0 { special[(h.next_u64() % 8) as usize].clamp(range.0, range.1) } else { h.f64_in(range.0, range.1) },
    )
}

pub fn math_unary(h: &Harness) {
    let n = 1000;
    let mut worst = Vec::new();
    for (which, (name, range, reference, gpu_ulps)) in UNARY.iter().enumerate() {
        let x = math_inputs(h, n, *range);
        // f32: against the f64 result rounded to f32. The CPU backend calls the host's libm.
        let x32: Vec<f32> = x.iter().map(|v| *v as f32).collect();
        let mut out = h.zeros::<f32>(n);
        h.run(&unary_math, LaunchConfig::for_elements(n, 128), (which as u32, &h.arr(&x32), &mut out)).unwrap();
        let tol32 = if h.is_gpu() { *gpu_ulps } else { (*gpu_ulps).max(2) };
        let mut max32 = 0;
        for (i, g) in out.to_vec().unwrap().iter().enumerate() {
            let want = reference(x32[i] as f64) as f32;
            let u = ulps32(*g, want);
            assert!(u <= tol32, "f32 {name}({}) = {g}, want {want} ({u} ulp > {tol32})", x32[i]);
            max32 = max32.max(u);
        }
        // f64: against Rust's methods on the host (the JIT may bind another libm build than Rust's
        // std does, e.g. compiler-builtins' `cbrt`, so the CPU backend too gets 2 ulp).
        let mut out = h.zeros::<f64>(n);
        h.run(&unary_math, LaunchConfig::for_elements(n, 128), (which as u32, &h.arr(&x), &mut out)).unwrap();
        let tol64 = if h.is_gpu() { *gpu_ulps } else { (*gpu_ulps).max(2) };
        let mut max64 = 0;
        for (i, g) in out.to_vec().unwrap().iter().enumerate() {
            let want = reference(x[i]);
            let u = ulps64(*g, want);
            assert!(u <= tol64, "f64 {name}({}) = {g}, want {want} ({u} ulp > {tol64})", x[i]);
            max64 = max64.max(u);
        }
        worst.push(format!("{name} {max32}/{max64}"));
    }
    eprintln!("max ulp (f32/f64) on {}: {}", h.dev.name(), worst.join(", "));
}

pub fn math_binary(h: &Harness) {
    let n = 777;
    type Binary = (&'static str, fn(f64, f64, i32) -> f64, u64);
    let ops: [Binary; 8] = [
        ("powf", |a, b, _| a.powf(b), 4),
        ("atan2", |a, b, _| a.atan2(b), 3),
        ("hypot", |a, b, _| a.hypot(b), 2),
        ("copysign", |a, b, _| a.copysign(b), 0),
        ("min", |a, b, _| a.min(b), 0),
        ("max", |a, b, _| a.max(b), 0),
        ("powi", |a, _, k| a.powi(k), 4),
        ("mul_add", |a, b, _| a.mul_add(b, a), 0),
    ];
    for (which, (name, reference, gpu_ulps)) in ops.iter().enumerate() {
        let x =
            h.vec(
                n,
                |h| if h.next_u64() % 9 == 0 { f64::NAN } else { h.f64_in(0.01, 20.0) * if h.next_u64() % 3 == 0 { -1.0 } else { 1.0 } },
            );
        let y = h.vec(n, |h| if h.next_u64() % 9 == 0 { f64::NAN } else { h.f64_in(-8.0, 8.0) });
        let k: Vec<i32> = h.vec(n, |h| (h.next_u64() % 21) as i32 - 10);
        let (x32, y32): (Vec<f32>, Vec<f32>) = (x.iter().map(|v| *v as f32).collect(), y.iter().map(|v| *v as f32).collect());
        let mut out = h.zeros::<f32>(n);
        h.run(&binary_math, LaunchConfig::for_elements(n, 128), (which as u32, &h.arr(&x32), &h.arr(&y32), &h.arr(&k), &mut out)).unwrap();
        // powi's f32 result is computed by repeated multiplication in f32, both on the host and by libdevice.
        let tol32 = if h.is_gpu() {
            *gpu_ulps
        } else if *name == "powi" {
            8
        } else {
            2
        };
        for (i, g) in out.to_vec().unwrap().iter().enumerate() {
            let want = if *name == "powi" { x32[i].powi(k[i]) } else { reference(x32[i] as f64, y32[i] as f64, k[i]) as f32 };
            let tol = if *name == "powi" && h.is_gpu() { 8 } else { tol32 };
            assert!(ulps32(*g, want) <= tol, "f32 {name}({}, {}, {}) = {g}, want {want}", x32[i], y32[i], k[i]);
        }
        let mut out = h.zeros::<f64>(n);
        h.run(&binary_math, LaunchConfig::for_elements(n, 128), (which as u32, &h.arr(&x), &h.arr(&y), &h.arr(&k), &mut out)).unwrap();
        let tol64 = if h.is_gpu() { *gpu_ulps } else { 2 };
        for (i, g) in out.to_vec().unwrap().iter().enumerate() {
            let want = reference(x[i], y[i], k[i]);
            assert!(ulps64(*g, want) <= tol64, "f64 {name}({}, {}, {}) = {g}, want {want}", x[i], y[i], k[i]);
        }
    }
}

#[gpu_kernel]
fn int_math(x: &[i32], y: &[i32], u: &[u8], v: &[u8], out: &mut [i32], uo: &mut [u8]) {
    let i = grid(1);
    if i < x.len() {
        out[4 * i] = x[i].abs();
        out[4 * i + 1] = x[i].min(y[i]);
        out[4 * i + 2] = x[i].max(y[i]);
        out[4 * i + 3] = x[i].signum();
        uo[2 * i] = u[i].min(v[i]);
        uo[2 * i + 1] = u[i].max(v[i]);
    }
}

pub fn math_integers(h: &Harness) {
    for n in SIZES {
        let x: Vec<i32> = h.vec(n, |h| if h.next_u64() % 10 == 0 { i32::MIN } else { h.next_u64() as i32 });
        let y: Vec<i32> = h.vec(n, |h| h.next_u64() as i32);
        let (u, v): (Vec<u8>, Vec<u8>) = (h.vec(n, |h| h.next_u64() as u8), h.vec(n, |h| h.next_u64() as u8));
        let mut out = h.zeros::<i32>(4 * n);
        let mut uo = h.zeros::<u8>(2 * n);
        h.run(&int_math, LaunchConfig::for_elements(n, 128), (&h.arr(&x), &h.arr(&y), &h.arr(&u), &h.arr(&v), &mut out, &mut uo)).unwrap();
        let want: Vec<i32> = (0..n).flat_map(|i| [x[i].wrapping_abs(), x[i].min(y[i]), x[i].max(y[i]), x[i].signum()]).collect();
        assert_eq!(out.to_vec().unwrap(), want);
        let want: Vec<u8> = (0..n).flat_map(|i| [u[i].min(v[i]), u[i].max(v[i])]).collect();
        assert_eq!(uo.to_vec().unwrap(), want);
    }
}

#[gpu_kernel(fastmath)]
fn fast_sin_exp(x: &[f32], s: &mut [f32], e: &mut [f32]) {
    let i = grid(1);
    if i < x.len() {
        s[i] = x[i].sin();
        e[i] = (x[i] * 0.5).exp() / 2.0;
    }
}

/// `fastmath`: approximate functions within their documented error.
pub fn fastmath(h: &Harness) {
    let n = 4099;
    let x = h.vec(n, |h| h.f64_in(-std::f64::consts::PI, std::f64::consts::PI) as f32);
    let (mut s, mut e) = (h.zeros::<f32>(n), h.zeros::<f32>(n));
    h.run(&fast_sin_exp, LaunchConfig::for_elements(n, 256), (&h.arr(&x), &mut s, &mut e)).unwrap();
    for (i, (sv, ev)) in s.to_vec().unwrap().iter().zip(e.to_vec().unwrap()).enumerate() {
        let xs = x[i] as f64;
        assert!((*sv as f64 - xs.sin()).abs() < 2e-6, "fast sin({xs}) = {sv}");
        let want = (xs * 0.5).exp() / 2.0;
        assert!(((ev as f64 - want) / want).abs() < 2e-6, "fast exp({xs}) = {ev}, want {want}");
    }
}

#[gpu_kernel(launch_bounds = 128, max_registers = 32)]
fn bounded(x: &mut [f32]) {
    let i = grid(1);
    if i < x.len() {
        x[i] += 1.0;
    }
}

/// `launch_bounds` and `max_registers` reach the PTX; a larger block is refused before launch.
pub fn kernel_options(h: &Harness) {
    let mut x = h.arr(&[1.0f32; 300]);
    h.run(&bounded, LaunchConfig::for_elements(300, 128), (&mut x,)).unwrap();
    assert_eq!(x.to_vec().unwrap(), vec![2.0; 300]);
    let e = h.run(&bounded, LaunchConfig::for_elements(300, 256), (&mut x,)).unwrap_err();
    assert!(matches!(&e, Error::LaunchConfig { .. }) && e.to_string().contains("launch_bounds = 128"), "{e}");
    assert_eq!(x.to_vec().unwrap(), vec![2.0; 300]);
    let target = NvptxTarget::sm(90).unwrap();
    let ptx = bounded.ptx(&target, (&mut x,)).unwrap().ptx;
    assert!(ptx.contains(".maxntid 128, 1, 1") && ptx.contains(".maxnreg 32"), "{ptx}");
    let ptx = fast_sin_exp.ptx(&target, (&x, &mut h.zeros::<f32>(1), &mut h.zeros::<f32>(1))).unwrap().ptx;
    assert!(ptx.contains("sin.approx.ftz.f32") && ptx.contains("ex2.approx.ftz.f32"), "{ptx}");
}

#[gpu_kernel]
fn muladd_default<T: Float>(a: &[T], b: &[T], c: &[T], out: &mut [T]) {
    let i = grid(1);
    if i < out.len() {
        out[i] = a[i] * b[i] + c[i];
    }
}

#[gpu_kernel(fp_contract = false)]
fn muladd_rounded<T: Float>(a: &[T], b: &[T], c: &[T], out: &mut [T]) {
    let i = grid(1);
    if i < out.len() {
        out[i] = a[i] * b[i] + c[i];
    }
}

/// Whether the CPU backend's code may use fused multiply-adds (the JIT targets the host CPU).
pub fn host_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    return std::is_x86_feature_detected!("fma");
    #[cfg(target_arch = "aarch64")]
    return true;
    #[allow(unreachable_code)]
    false
}

/// Floating-point contraction: by default `a * b + c` is one fused multiply-add (one rounding,
/// as nvcc); `fp_contract = false` and `GPUJIT_FP_CONTRACT=0` (re-run in a child) keep Rust's
/// two roundings, bit for bit.
pub fn fp_contraction(h: &Harness) {
    let everywhere_off = std::env::var("GPUJIT_FP_CONTRACT").as_deref() == Ok("0");
    let fused_here = !everywhere_off && (h.is_gpu() || host_fma());
    for n in SIZES {
        let (a, b, c): (Vec<f32>, Vec<f32>, Vec<f32>) =
            (h.vec(n, |h| h.f64_in(-1.0, 1.0) as f32), h.vec(n, |h| h.f64_in(-1.0, 1.0) as f32), h.vec(n, |h| h.f64_in(-1.0, 1.0) as f32));
        let (da, db, dc) = (h.arr(&a), h.arr(&b), h.arr(&c));
        let grid = n.div_ceil(128).max(1);
        let mut out = h.zeros::<f32>(n);
        h.run(&muladd_rounded, (grid, 128), (&da, &db, &dc, &mut out)).unwrap();
        let rounded: Vec<u32> = (0..n).map(|i| (a[i] * b[i] + c[i]).to_bits()).collect();
        let fused: Vec<u32> = (0..n).map(|i| a[i].mul_add(b[i], c[i]).to_bits()).collect();
        assert_eq!(out.to_vec().unwrap().iter().map(|v| v.to_bits()).collect::<Vec<_>>(), rounded, "fp_contract = false, n={n}");
        h.run(&muladd_default, (grid, 128), (&da, &db, &dc, &mut out)).unwrap();
        let got: Vec<u32> = out.to_vec().unwrap().iter().map(|v| v.to_bits()).collect();
        if fused_here {
            assert_eq!(got, fused, "the default contracts, n={n}");
        } else {
            assert_eq!(got, rounded, "contraction off (or no fma on this CPU), n={n}");
        }
        if n >= 1000 {
            // The inputs tell the two apart.
            assert!(rounded.iter().zip(&fused).any(|(r, f)| r != f), "n={n}");
        }
    }
    // f64 too.
    let (a, b, c): (Vec<f64>, Vec<f64>, Vec<f64>) =
        (h.vec(999, |h| h.f64_in(-1.0, 1.0)), h.vec(999, |h| h.f64_in(-1.0, 1.0)), h.vec(999, |h| h.f64_in(-1.0, 1.0)));
    let mut out = h.zeros::<f64>(999);
    h.run(&muladd_default, (8, 128), (&h.arr(&a), &h.arr(&b), &h.arr(&c), &mut out)).unwrap();
    let want: Vec<f64> = (0..999).map(|i| if fused_here { a[i].mul_add(b[i], c[i]) } else { a[i] * b[i] + c[i] }).collect();
    assert_eq!(out.to_vec().unwrap(), want);
    if !everywhere_off && std::env::var("GPUJIT_UNDER_SANITIZER").is_err() {
        // The process-wide switch, in a child process.
        run_case_child("fp_contraction", &[("GPUJIT_FP_CONTRACT", "0")]);
    }
}
