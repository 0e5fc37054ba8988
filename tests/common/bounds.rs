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

/// Threads that meet (shared memory, a barrier): on the CPU backend they run in lockstep, where a
/// thread's bad access is kept in its place in the block's frame and reported once its thread
/// loop is done. Two accesses can fail: `y[i + 2k]` from thread 990 on, `x[i + k]` from 995 on.
#[gpu_kernel(boundscheck)]
fn staged_shift(x: &[f32], y: &[f32], k: usize, out: &mut [f32]) {
    let mut s = shared_array::<f32, 128>();
    let t = thread_idx_y() * block_dim_x() + thread_idx_x();
    let i = block_idx_x() * 128 + t;
    s[t] = if i < out.len() { x[i] } else { 0.0 };
    sync_threads();
    if i < out.len() {
        out[i] = s[t] + x[i + k] * y[i + 2 * k];
    }
}

/// Fills a lockstep frame: 64 words a thread, live across a barrier (a per-thread array).
#[gpu_kernel]
fn frame_filler(out: &mut [u64]) {
    let mut a = local_array::<u64, 64>();
    let t = thread_idx_y() * block_dim_x() + thread_idx_x();
    for j in 0..64 {
        a[j] = 0x0101_0101_0101_0101 + j as u64;
    }
    sync_threads();
    let mut s = 0u64;
    for j in 0..64 {
        s ^= a[j];
    }
    out[block_idx_x() * 128 + t] = s;
}

pub fn bounds_checks_where_threads_meet(h: &Harness) {
    let n = 1000;
    let x = h.vec(n, |h| h.f64_in(-1.0, 1.0) as f32);
    let y = h.vec(n, |h| h.f64_in(-1.0, 1.0) as f32);
    let (dx, dy) = (h.arr(&x), h.arr(&y));
    let blocks = n.div_ceil(128) as u32;
    let config = || LaunchConfig::new(blocks, (32, 4));
    // The frame a launch gets holds what the last left (this OS thread's): here, words that are
    // not zero where the next kernel keeps its threads' bad accesses.
    let mut filled = h.zeros::<u64>(blocks as usize * 128);
    h.run(&frame_filler, config(), (&mut filled,)).unwrap();
    let word = (0..64u64).fold(0, |s, j| s ^ (0x0101_0101_0101_0101 + j));
    assert!(filled.to_vec().unwrap().iter().all(|&w| w == word));
    // In bounds, it leaves the frame full of its values (the next launch's must not read them).
    let mut out = h.zeros::<f32>(n);
    h.run(&staged_shift, config(), (&dx, &dy, 0usize, &mut out)).unwrap();
    let expect = |k: usize, i: usize| h.madd(x[i + k], y[i + 2 * k], x[i]);
    assert_eq!(out.to_vec().unwrap(), (0..n).map(|i| expect(0, i)).collect::<Vec<_>>());
    let k = 5;
    let mut out = h.zeros::<f32>(n);
    let e = h.run(&staged_shift, config(), (&dx, &dy, k, &mut out)).unwrap_err();
    match &e {
        Error::OutOfBounds { kernel, array, index, len, tx, ty, bx, .. } => {
            let i = *bx as usize * 128 + *ty as usize * 32 + *tx as usize;
            assert!((n - 2 * k..n).contains(&i), "a thread that faults: {e}");
            // The access the thread made, and where it failed: `x` from 995 on, else `y`.
            let at = match array.as_str() {
                "x" => i + k,
                _ => i + 2 * k,
            };
            assert!(at >= n, "an index in bounds reported: {e}");
            assert_eq!((kernel.as_str(), *index as usize, *len), ("staged_shift", at, n as u64), "{e}");
            assert_eq!(array, if i < n - k { "y" } else { "x" }, "{e}");
            if !h.is_gpu() {
                // Threads run in order: the first to fault is 990 (block 7, thread (30, 2)).
                assert_eq!((i, *tx, *ty, *bx), (n - 2 * k, 30, 2, 7), "{e}");
            }
        }
        other => panic!("expected OutOfBounds, got {other}"),
    }
    // The threads in bounds did their work.
    let got = out.to_vec().unwrap();
    assert_eq!(&got[..n - 2 * k], &(0..n - 2 * k).map(|i| expect(k, i)).collect::<Vec<_>>()[..]);
    // Nothing of the fault is left: the next launch in bounds succeeds.
    h.run(&staged_shift, config(), (&dx, &dy, 0usize, &mut out)).unwrap();
}
