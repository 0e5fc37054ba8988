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
