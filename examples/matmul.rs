//! Tiled matrix multiply with 2-D shared-memory tiles (the Numba documentation's `fast_matmul`),
//! checked against a host computation.
//!
//! ```text
//! cargo run --release --example matmul        # GPUJIT_DEVICE=cpu|cuda to choose
//! ```

use gpujit::prelude::*;
use std::time::Instant;

const TILE: usize = 16;

/// c (m×p) = a (m×k) · b (k×p), row-major; one thread an element of c, 16×16 threads a block.
#[gpu_kernel]
fn matmul<T: Float>(a: &[T], b: &[T], c: &mut [T], m: usize, k: usize, p: usize) {
    let mut ta = shared_array_2d::<T, 16, 16>();
    let mut tb = shared_array_2d::<T, 16, 16>();
    let (tx, ty) = (thread_idx_x(), thread_idx_y());
    let row = block_idx_y() * 16 + ty;
    let col = block_idx_x() * 16 + tx;
    let mut acc = a[0] - a[0];
    for t in 0..(k + 15) / 16 {
        ta[[ty, tx]] = acc - acc;
        tb[[ty, tx]] = acc - acc;
        if row < m && t * 16 + tx < k {
            ta[[ty, tx]] = a[row * k + t * 16 + tx];
        }
        if col < p && t * 16 + ty < k {
            tb[[ty, tx]] = b[(t * 16 + ty) * p + col];
        }
        sync_threads();
        for j in 0..16 {
            acc += ta[[ty, j]] * tb[[j, tx]];
        }
        sync_threads();
    }
    if row < m && col < p {
        c[row * p + col] = acc;
    }
}

fn main() -> gpujit::Result<()> {
    let dev = Device::current()?;
    println!("device: {}", dev.name());
    let (m, k, p) = if dev.is_cuda() { (1000, 777, 1203) } else { (200, 131, 250) };
    let a: Vec<f32> = (0..m * k).map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5).collect();
    let b: Vec<f32> = (0..k * p).map(|i| ((i * 104729) % 1000) as f32 / 1000.0 - 0.5).collect();
    let (da, db) = (DeviceArray::from_slice(&dev, &a)?, DeviceArray::from_slice(&dev, &b)?);
    let mut dc = DeviceArray::<f32>::zeros(&dev, m * p)?;
    let grid = (p.div_ceil(TILE), m.div_ceil(TILE));
    launch!(matmul[grid, (TILE, TILE)](&da, &db, &mut dc, m, k, p))?;
    dev.synchronize()?;
    let t = Instant::now();
    launch!(matmul[grid, (TILE, TILE)](&da, &db, &mut dc, m, k, p))?;
    dev.synchronize()?;
    let secs = t.elapsed().as_secs_f64();
    let c = dc.to_vec()?;
    let mut max_err = 0.0f64;
    for r in 0..m {
        for col in 0..p {
            let want: f64 = (0..k).map(|j| a[r * k + j] as f64 * b[j * p + col] as f64).sum();
            max_err = max_err.max((c[r * p + col] as f64 - want).abs());
        }
    }
    println!("matmul {m}x{k} · {k}x{p} (f32): max error {max_err:.2e}, {:.2} GFLOP/s", 2.0 * (m * k * p) as f64 / secs / 1e9);
    if max_err > 1e-3 {
        eprintln!("matmul: result differs from the host computation");
        std::process::exit(1);
    }
    println!("matmul: verified against the host");
    Ok(())
}
