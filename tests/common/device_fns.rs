//! Device functions.

use super::*;

// ---------------------------------------------------------------------------------------------
// Device functions.

#[gpu_device]
pub fn clamp_to<T: Float>(v: T, lo: T, hi: T) -> T {
    if v < lo {
        lo
    } else if v > hi {
        hi
    } else {
        v
    }
}

#[gpu_device]
fn square_clamped(x: f64) -> f64 {
    clamp_to(x * x, 0.0, 1.0)
}

#[gpu_device]
fn dot3(a: &[f32], b: &[f32], base: usize) -> f32 {
    let mut s = 0.0;
    for k in 0..3 {
        s += a[base + k] * b[base + k];
    }
    s
}

#[gpu_device]
fn first_square_above(v: i32) -> i32 {
    for i in 0..100 {
        if i * i > v {
            return i;
        }
    }
    -1
}

#[gpu_device]
fn scale_row(m: &mut Array<f32, 2>, row: usize, k: f32) {
    for j in 0..m.shape(1) {
        m[[row, j]] *= k;
    }
}

#[gpu_device]
fn warp_total(v: i64) -> i64 {
    let mut s = v;
    let mut offset = 16;
    while offset > 0 {
        s += shfl_xor_sync(0xffffffff, s, offset);
        offset /= 2;
    }
    s
}

#[gpu_kernel]
fn device_calls(x: &[f32], out: &mut [f32], d: &[f64], dout: &mut [f64], v: &[i32], vout: &mut [i32], dots: &mut [f32]) {
    let i = grid(1);
    if i < x.len() {
        out[i] = clamp_to(x[i], -0.5, 0.5);
        dout[i] = square_clamped(d[i]);
        vout[i] = first_square_above(v[i]);
    }
    if i + 3 <= x.len() {
        dots[i] = dot3(x, x, i);
    }
}

#[gpu_kernel]
fn device_rows(m: &mut Array<f32, 2>, k: f32) {
    let r = grid(1);
    if r < m.shape(0) {
        scale_row(m, r, k + r as f32);
    }
}

#[gpu_kernel]
fn device_warp_sums(x: &[i64], out: &mut [i64]) {
    let i = grid(1);
    let mut v = 0;
    if i < x.len() {
        v = x[i];
    }
    let t = warp_total(v);
    if i < x.len() {
        out[i] = t;
    }
}

pub fn device_functions(h: &Harness) {
    // Device functions stay ordinary Rust functions.
    assert_eq!(clamp_to(2.0f32, 0.0, 1.0), 1.0);
    assert_eq!(first_square_above(10), 4);
    for n in SIZES {
        let x = h.vec(n, |h| h.f64_in(-1.0, 1.0) as f32);
        let d = h.vec(n, |h| h.f64_in(-2.0, 2.0));
        let v: Vec<i32> = h.vec(n, |h| (h.next_u64() % 12000) as i32 - 100);
        let (mut out, mut dout, mut vout, mut dots) = (h.zeros::<f32>(n), h.zeros::<f64>(n), h.zeros::<i32>(n), h.zeros::<f32>(n));
        h.run(
            &device_calls,
            LaunchConfig::for_elements(n, 128),
            (&h.arr(&x), &mut out, &h.arr(&d), &mut dout, &h.arr(&v), &mut vout, &mut dots),
        )
        .unwrap();
        let clamped: Vec<f32> = x.iter().map(|v| v.clamp(-0.5, 0.5)).collect();
        assert_eq!(out.to_vec().unwrap(), clamped);
        assert_eq!(dout.to_vec().unwrap(), d.iter().map(|v| (v * v).clamp(0.0, 1.0)).collect::<Vec<_>>());
        assert_eq!(vout.to_vec().unwrap(), v.iter().map(|v| first_square_above(*v)).collect::<Vec<_>>());
        let got = dots.to_vec().unwrap();
        for i in 0..n.saturating_sub(2) {
            let want: f32 = (0..3).map(|k| x[i + k] * x[i + k]).sum();
            assert!((got[i] - want).abs() <= 1e-6, "dot3 at {i}: {} vs {want}", got[i]);
        }
    }
    // An array argument that is a strided view; a call as a statement.
    let (rows, cols) = (9usize, 13usize);
    let data = h.vec(rows * cols, |h| h.f64_in(-1.0, 1.0) as f32);
    let mut m = DeviceArray::from_shape(&h.dev, &[rows, cols], &data).unwrap();
    let mut t = m.view_mut().t();
    h.run(&device_rows, LaunchConfig::for_elements(cols, 32), (&mut t, 2.0f32)).unwrap();
    let got = m.to_vec().unwrap();
    for r in 0..rows {
        for c in 0..cols {
            assert_eq!(got[r * cols + c], data[r * cols + c] * (2.0 + c as f32), "[{r}][{c}]");
        }
    }
    // A device function with warp shuffles.
    for n in [1usize, 100, 1000] {
        let x: Vec<i64> = h.vec(n, |h| (h.next_u64() % 1000) as i64);
        let mut out = h.zeros::<i64>(n);
        h.run(&device_warp_sums, (n.div_ceil(64), 64), (&h.arr(&x), &mut out)).unwrap();
        let want: Vec<i64> = (0..n).map(|i| (i / 32 * 32..i / 32 * 32 + 32).map(|j| if j < n { x[j] } else { 0 }).sum()).collect();
        assert_eq!(out.to_vec().unwrap(), want, "n = {n}");
    }
}
