//! `GPUJIT_CHECK=1`, the checked mode: a NaN or infinity written into a float array is an error
//! naming the kernel, the array, the element's index (and the part of a complex or struct
//! element), the value and the line; bounds are checked on every backend; kernels that write
//! finite values give the same results as without the mode. The mode is the process's, so the
//! case runs again in a child process with `GPUJIT_CHECK=1`.

use super::*;

#[gpu_struct]
#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq)]
pub struct Body {
    pub vel: [f32; 3],
    pub mass: f32,
}

#[gpu_kernel]
fn roots(x: &[f32], out: &mut [f32]) {
    let i = grid(1);
    if i < x.len() {
        out[i] = x[i].sqrt();
    }
}

#[gpu_kernel]
fn reciprocals(x: &Array<f64, 2>, out: &mut Array<f64, 2>) {
    let (j, i) = grid(2);
    if i < x.shape(0) && j < x.shape(1) {
        out[[i, j]] = 1.0 / x[[i, j]];
    }
}

#[gpu_kernel]
fn quotients(z: &[Complex<f64>], w: &[Complex<f64>], out: &mut [Complex<f64>]) {
    let i = grid(1);
    if i < z.len() {
        out[i] = z[i] / w[i];
    }
}

#[gpu_device]
fn push(b: &mut [Body], i: usize, f: f32) {
    b[i].vel[1] += f / b[i].mass;
}

#[gpu_kernel]
fn kick(b: &mut [Body], f: f32) {
    let i = grid(1);
    if i < b.len() {
        push(b, i, f);
    }
}

#[gpu_kernel]
fn squares_f16(x: &[f16], out: &mut [f16]) {
    let i = grid(1);
    if i < x.len() {
        out[i] = x[i] * x[i];
    }
}

/// Writes only even elements; reads NaNs without writing them.
#[gpu_kernel]
fn evens(x: &[f32], out: &mut [f32], count: &mut [u32]) {
    let i = grid(1);
    if i < x.len() {
        if x[i].is_nan() {
            atomic_add(count, 0, 1u32);
        }
        if i % 2 == 0 {
            out[i] = i as f32;
        }
    }
}

#[gpu_kernel]
fn past_the_end(x: &[f32], out: &mut [f32]) {
    let i = grid(1);
    if i <= x.len() {
        out[i] = x[i];
    }
}

/// The line of `needle` in this file (1-based).
fn line_of(needle: &str) -> u32 {
    let text = include_str!("checked.rs");
    text.lines().position(|l| l.contains(needle)).map(|p| p as u32 + 1).unwrap_or(0)
}

fn expect_non_finite(e: &Error, kernel: &str, array: &str, index: &[u64], part: &str, nan: bool, line: u32) {
    match e {
        Error::NonFinite { kernel: k, array: a, index: ix, part: p, value, at: Some(at), .. } => {
            assert_eq!((k.as_str(), a.as_str(), &ix[..], &p[..]), (kernel, array, index, part), "{e}");
            assert!(if nan { value.is_nan() } else { value.is_infinite() }, "{e}");
            assert!(at.file.ends_with("tests/common/checked.rs") && at.line == line, "{e}");
            let text = e.to_string();
            assert!(text.starts_with(&format!("kernel `{kernel}` wrote ")) && text.ends_with(&format!("checked.rs:{line}")), "{text}");
        }
        other => panic!("expected NonFinite from {kernel}, got {other:?}"),
    }
}

pub fn checked_mode(h: &Harness) {
    if std::env::var("GPUJIT_CHECK").as_deref() != Ok("1") {
        let (stdout, _) = run_case_child("checked_mode", &[("GPUJIT_CHECK", "1")]);
        assert!(stdout.contains("test checked_mode ... ok"), "{stdout}");
        return;
    }
    // Finite results are the same as without the mode, at every size.
    for n in SIZES {
        let x: Vec<f32> = h.vec(n, |h| h.f64_in(0.0, 100.0) as f32);
        let mut out = h.zeros::<f32>(n);
        h.run(&roots, (n.div_ceil(128).max(1), 128), (&h.arr(&x), &mut out)).unwrap();
        assert_eq!(out.to_vec().unwrap(), x.iter().map(|v| v.sqrt()).collect::<Vec<_>>());
    }
    // The library's own kernels (expressions, reductions whose partial results start from an
    // infinity) write no NaN or infinity of their own.
    for n in [1usize, 129, 4099, 100_003, 1_000_003] {
        let x: Vec<f32> = h.vec(n, |h| h.f64_in(-100.0, 100.0) as f32);
        let dx = h.arr(&x);
        let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let min = x.iter().copied().fold(f32::INFINITY, f32::min);
        assert_eq!(expr(&dx).reduce_max().value().unwrap(), max);
        assert_eq!(expr(&dx).reduce_min().value().unwrap(), min);
        assert_eq!(x[expr(&dx).argmax().value().unwrap()], max);
        let s = expr(&dx).sum().value().unwrap() as f64;
        let want: f64 = x.iter().map(|&v| v as f64).sum();
        assert!((s - want).abs() <= 1e-3 * x.iter().map(|v| v.abs() as f64).sum::<f64>().max(1.0), "{s} vs {want}");
        let e = (expr(&dx) * 2.0f32 + 1.0f32).eval().unwrap().to_vec().unwrap();
        assert_eq!(e, x.iter().map(|v| v * 2.0 + 1.0).collect::<Vec<_>>());
    }
    let (rows, cols) = (129usize, 37usize);
    let m: Vec<f32> = h.vec(rows * cols, |h| h.f64_in(-1.0, 1.0) as f32);
    let dm = DeviceArray::from_shape(&h.dev, &[rows, cols], &m).unwrap();
    let col_max = expr(&dm).reduce_max().axis(0).eval().unwrap().to_vec().unwrap();
    let want: Vec<f32> = (0..cols).map(|j| (0..rows).map(|i| m[i * cols + j]).fold(f32::NEG_INFINITY, f32::max)).collect();
    assert_eq!(col_max, want);

    // One negative input: NaN at its index.
    let n = 1000;
    let bad = (h.next_u64() % n as u64) as usize;
    let mut x: Vec<f32> = h.vec(n, |h| h.f64_in(0.0, 100.0) as f32);
    x[bad] = -1.0 - x[bad];
    let mut out = h.zeros::<f32>(n);
    let e = h.run(&roots, (n.div_ceil(128), 128), (&h.arr(&x), &mut out)).unwrap_err();
    expect_non_finite(&e, "roots", "out", &[bad as u64], "", true, line_of("out[i] = x[i].sqrt();"));
    if let Error::NonFinite { thread, .. } = &e {
        let [thread, block] = **thread;
        assert_eq!((block[0] * 128 + thread[0]) as usize, bad, "{e}");
    }
    // The other threads ran to their end.
    let got = out.to_vec().unwrap();
    assert!((0..n).filter(|&i| i != bad).all(|i| got[i] == x[i].sqrt()) && got[bad].is_nan());

    // Two dimensions: the index on each axis; an infinity.
    let (rows, cols) = (37usize, 53usize);
    let mut m: Vec<f64> = h.vec(rows * cols, |h| h.f64_in(1.0, 2.0));
    let (bi, bj) = ((h.next_u64() % rows as u64) as usize, (h.next_u64() % cols as u64) as usize);
    m[bi * cols + bj] = 0.0;
    let xm = DeviceArray::from_shape(&h.dev, &[rows, cols], &m).unwrap();
    let mut om = DeviceArray::<f64>::zeros_shape(&h.dev, &[rows, cols]).unwrap();
    let e = h.run(&reciprocals, ((cols.div_ceil(16), rows.div_ceil(16)), (16, 16)), (&xm, &mut om)).unwrap_err();
    expect_non_finite(&e, "reciprocals", "out", &[bi as u64, bj as u64], "", false, line_of("out[[i, j]] = 1.0 / x[[i, j]];"));

    // Complex elements: the part named.
    let n = 129;
    let z: Vec<Complex<f64>> = h.vec(n, |h| Complex::new(h.f64_in(1.0, 2.0), h.f64_in(1.0, 2.0)));
    let mut w: Vec<Complex<f64>> = h.vec(n, |h| Complex::new(h.f64_in(1.0, 2.0), h.f64_in(-2.0, -1.0)));
    let bad = (h.next_u64() % n as u64) as usize;
    w[bad] = Complex::new(0.0, 0.0);
    let mut out = h.zeros::<Complex<f64>>(n);
    let e = h.run(&quotients, (2, 128), (&h.arr(&z), &h.arr(&w), &mut out)).unwrap_err();
    expect_non_finite(&e, "quotients", "out", &[bad as u64], ".re", true, line_of("out[i] = z[i] / w[i];"));

    // A struct's field written in place inside a device function: the field's path and the
    // device function's line.
    let n = 300;
    let mut bodies: Vec<Body> = h.vec(n, |h| Body { vel: [h.f64_in(-1.0, 1.0) as f32; 3], mass: h.f64_in(1.0, 2.0) as f32 });
    let bad = (h.next_u64() % n as u64) as usize;
    bodies[bad].mass = 0.0;
    let mut b = h.arr(&bodies);
    let e = h.run(&kick, (3, 128), (&mut b, 2.0f32)).unwrap_err();
    expect_non_finite(&e, "kick", "b (in push)", &[bad as u64], ".vel[1]", false, line_of("b[i].vel[1] += f / b[i].mass;"));

    // 16-bit floats: an overflow to infinity.
    let n = 127;
    let mut xs: Vec<f16> = h.vec(n, |h| f16::from_f64(h.f64_in(-100.0, 100.0)));
    let bad = (h.next_u64() % n as u64) as usize;
    xs[bad] = f16::from_f32(300.0);
    let mut out = h.zeros::<f16>(n);
    let e = h.run(&squares_f16, (1, 128), (&h.arr(&xs), &mut out)).unwrap_err();
    expect_non_finite(&e, "squares_f16", "out", &[bad as u64], "", false, line_of("out[i] = x[i] * x[i];"));

    // NaNs read, or already in the output and not written, are not reported.
    let n = 1001;
    let mut x: Vec<f32> = h.vec(n, |h| h.f64_in(0.0, 1.0) as f32);
    for i in (1..n).step_by(7) {
        x[i] = f32::NAN;
    }
    let mut out = h.arr(&vec![f32::NAN; n]);
    let mut count = h.zeros::<u32>(1);
    h.run(&evens, (n.div_ceil(128), 128), (&h.arr(&x), &mut out, &mut count)).unwrap();
    assert_eq!(count.to_vec().unwrap(), vec![(1..n).step_by(7).count() as u32]);
    let got = out.to_vec().unwrap();
    assert!((0..n).all(|i| if i % 2 == 0 { got[i] == i as f32 } else { got[i].is_nan() }));

    // Bounds are checked on every backend.
    let n = 200;
    let e = h.run(&past_the_end, (2, 128), (&h.arr(&vec![1.0f32; n]), &mut h.zeros::<f32>(n + 1))).unwrap_err();
    assert!(matches!(&e, Error::OutOfBounds { array, index: 200, .. } if array == "x"), "{e}");
}
