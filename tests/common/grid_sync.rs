//! Grid synchronization (cooperative launch).

use super::*;

// ---------------------------------------------------------------------------------------------
// Grid synchronization (cooperative launch).

#[gpu_kernel]
fn grid_phases(x: &[i64], tmp: &mut [i64], out: &mut [i64]) {
    let i = grid(1);
    let n = x.len();
    if i < n {
        tmp[i] = x[i] * 2;
    }
    grid_sync();
    // Read what threads of other blocks wrote before the barrier.
    if i < n {
        out[i] = tmp[n - 1 - i] + 1;
    }
    grid_sync();
    if i < n {
        tmp[i] = out[(i + 37) % n];
    }
}

pub fn grid_synchronization(h: &Harness) {
    for n in [1usize, 300, 1000] {
        let x: Vec<i64> = h.vec(n, |h| (h.next_u64() % 1000) as i64);
        let (mut tmp, mut out) = (h.zeros::<i64>(n), h.zeros::<i64>(n));
        h.run(&grid_phases, (8, 128), (&h.arr(&x), &mut tmp, &mut out)).unwrap();
        let want_out: Vec<i64> = (0..n).map(|i| x[n - 1 - i] * 2 + 1).collect();
        assert_eq!(out.to_vec().unwrap(), want_out, "n = {n}");
        assert_eq!(tmp.to_vec().unwrap(), (0..n).map(|i| want_out[(i + 37) % n]).collect::<Vec<_>>(), "n = {n}");
    }
    // A grid too large to be resident at once is refused before launching.
    let x = h.arr(&[1i64; 4]);
    let (mut tmp, mut out) = (h.zeros::<i64>(4), h.zeros::<i64>(4));
    let e = h.run(&grid_phases, (1_000_000, 1024), (&x, &mut tmp, &mut out)).unwrap_err();
    assert!(matches!(&e, Error::LaunchConfig { kernel, .. } if kernel == "grid_phases") && e.to_string().contains("grid_sync"), "{e}");
}

#[gpu_kernel]
fn add_2d(a: &Array<f32, 2>, b: &Array<f32, 2>, out: &mut Array<f32, 2>) {
    let (j, i) = grid(2);
    if i < out.shape(0) && j < out.shape(1) {
        out[[i, j]] = a[[i, j]] + b[[i, j]];
    }
}

/// Broadcasting: a row and a column repeated across a matrix through zero strides.
pub fn broadcast_views(h: &Harness) {
    let (rows, cols) = (37usize, 53usize);
    let row = h.vec(cols, |h| h.f64_in(-1.0, 1.0) as f32);
    let col = h.vec(rows, |h| h.f64_in(-1.0, 1.0) as f32);
    let (r, c) = (h.arr(&row), DeviceArray::from_shape(&h.dev, &[rows, 1], &col).unwrap());
    let rb = r.view().broadcast_to(&[rows, cols]).unwrap();
    let cb = c.view().broadcast_to(&[rows, cols]).unwrap();
    assert_eq!(rb.layout().strides, vec![0, 1]);
    assert_eq!(cb.layout().strides, vec![1, 0]);
    let mut out = DeviceArray::<f32>::zeros_shape(&h.dev, &[rows, cols]).unwrap();
    h.run(&add_2d, ((cols.div_ceil(16), rows.div_ceil(8)), (16, 8)), (&rb, &cb, &mut out)).unwrap();
    let want: Vec<f32> = (0..rows * cols).map(|k| row[k % cols] + col[k / cols]).collect();
    assert_eq!(out.to_vec().unwrap(), want);
    assert!(r.view().broadcast_to(&[rows, cols + 1]).is_err(), "extents must match or be 1");
}

/// Device attributes for sizing grids, and a kernel's resident blocks: exactly the largest grid
/// a `grid_sync()` kernel may be launched with (one more block is refused).
pub fn device_attributes(h: &Harness) {
    let d = &h.dev;
    let sms = d.multiprocessor_count();
    assert!(sms >= 1);
    assert_eq!(d.warp_size(), 32);
    assert!(d.max_shared_memory_per_block() >= 48 * 1024);
    assert_eq!(d.max_block_dims()[0], d.max_threads_per_block());
    assert!(d.max_grid_dims()[0] >= 65535);
    match d.compute_capability() {
        Some((major, _)) => assert!(h.is_gpu() && major >= 5),
        None => {
            assert!(!h.is_gpu());
            let workers = std::env::var("GPUJIT_CPU_THREADS").ok().and_then(|v| v.parse::<u32>().ok()).filter(|n| *n > 0);
            let cores = std::thread::available_parallelism().map(|n| n.get() as u32).unwrap_or(1);
            assert_eq!(sms, workers.unwrap_or(cores));
        }
    }
    for threads in [64u32, 256, 1024] {
        let n = 5000usize;
        let x: Vec<i64> = h.vec(n, |h| (h.next_u64() % 1000) as i64);
        let dx = h.arr(&x);
        let (mut tmp, mut out) = (h.zeros::<i64>(n), h.zeros::<i64>(n));
        let most = grid_phases.max_resident_blocks(d, threads, 0, (&dx, &mut tmp, &mut out)).unwrap();
        assert!(most >= 1, "{threads} threads");
        let blocks = most.min(u32::MAX as u64) as u32;
        h.run(&grid_phases, (blocks, threads), (&dx, &mut tmp, &mut out)).unwrap();
        let covered = (blocks as usize * threads as usize).min(n);
        let got = out.to_vec().unwrap();
        for i in 0..covered {
            assert_eq!(got[i], x[n - 1 - i] * 2 + 1, "{threads} threads, {blocks} blocks, [{i}]");
        }
        let e = h.run(&grid_phases, (blocks + 1, threads), (&dx, &mut tmp, &mut out)).unwrap_err();
        assert!(matches!(&e, Error::LaunchConfig { .. }), "{blocks} + 1 blocks of {threads}: {e}");
    }
    // Any kernel runs at least a block on each multiprocessor at once.
    let a = DeviceArray::from_shape(d, &[4, 4], &[1.0f32; 16]).unwrap();
    let mut o = DeviceArray::<f32>::zeros_shape(d, &[4, 4]).unwrap();
    assert!(add_2d.max_resident_blocks(d, 256, 0, (&a, &a, &mut o)).unwrap() >= sms as u64);
    for bad in [0u32, 4096] {
        let e = add_2d.max_resident_blocks(d, bad, 0, (&a, &a, &mut o)).unwrap_err();
        assert!(matches!(&e, Error::LaunchConfig { kernel, .. } if kernel == "add_2d"), "{e}");
    }
}
