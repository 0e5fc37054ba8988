//! Bounds checks.

use super::*;

// ---------------------------------------------------------------------------------------------
// Bounds checks: always on the CPU backend, with `boundscheck` on the GPU.

#[gpu_kernel(boundscheck)]
fn shifted_copy(x: &[f32], out: &mut [f32]) {
    let i = grid(1);
    if i < out.len() {
        out[i] = x[i + 1];
    }
}

pub fn bounds_checks(h: &Harness) {
    let n = 1000;
    let x = h.vec(n, |h| h.f64_in(-1.0, 1.0) as f32);
    let dx = h.arr(&x);
    let mut out = h.zeros::<f32>(n);
    let e = h.run(&shifted_copy, LaunchConfig::for_elements(n, 128), (&dx, &mut out)).unwrap_err();
    match &e {
        Error::OutOfBounds { kernel, array, axis, index, len, shape, tx, bx, .. } => {
            assert_eq!((kernel.as_str(), array.as_str(), *axis, *index, *len), ("shifted_copy", "x", 0, 1000, 1000), "{e}");
            assert_eq!(&shape[..], &[1000], "{e}");
            assert_eq!((*bx as usize) * 128 + *tx as usize, 999, "the thread: {e}");
        }
        other => panic!("expected OutOfBounds, got {other}"),
    }
    // In-bounds threads did their work; the bad access was skipped.
    let got = out.to_vec().unwrap();
    assert_eq!(&got[..n - 1], &x[1..]);
    // The record was cleared: a correct launch of the same kernel succeeds.
    let mut short = h.zeros::<f32>(n - 1);
    h.run(&shifted_copy, LaunchConfig::for_elements(n - 1, 128), (&dx, &mut short)).unwrap();
    assert_eq!(short.to_vec().unwrap(), x[1..].to_vec());
}
