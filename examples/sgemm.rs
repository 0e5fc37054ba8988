//! A register-tiled SGEMM on CUDA cores, written plainly: `acc += a * b`, no intrinsics, 16-byte
//! loads of four neighbours (`a.load::<4>(i)`) where rows start at multiples of 4. Each
//! block computes a 128×128 tile of C from 8-wide slices of A and B staged in shared memory; each
//! of its 256 threads keeps an 8×8 micro-tile of C in registers. Any sizes work: the tiles at the
//! edges read zeros past the matrices and store only what lies inside. The result is checked
//! against a host computation.
//!
//! ```text
//! cargo run --release --example sgemm              # GPUJIT_DEVICE=cpu|cuda to choose
//! cargo run --release --example sgemm -- 4096 4096 4096
//! ```

use gpujit::prelude::*;
use std::time::Instant;

#[path = "shared/sgemm_kernel.rs"]
mod sgemm_kernel;
pub use sgemm_kernel::{sgemm, BM, BN, THREADS};

/// Fills `len` values in [-1, 1) from a seed (a small LCG: the example needs no dependency).
fn values(len: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

fn main() -> gpujit::Result<()> {
    let dev = Device::current()?;
    println!("device: {}", dev.name());
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let (m, n, k) = match args[..] {
        [m, n, k] => (m, n, k),
        _ if dev.is_cuda() => (2049, 1999, 1000),
        _ => (300, 257, 131),
    };
    let (a, b) = (values(m * k, 1), values(k * n, 2));
    let (da, db) = (DeviceArray::from_slice(&dev, &a)?, DeviceArray::from_slice(&dev, &b)?);
    let mut dc = DeviceArray::<f32>::zeros(&dev, m * n)?;
    let grid = (n.div_ceil(BN), m.div_ceil(BM));
    launch!(sgemm[grid, THREADS](&da, &db, &mut dc, m, n, k))?;
    dev.synchronize()?;
    let t = Instant::now();
    launch!(sgemm[grid, THREADS](&da, &db, &mut dc, m, n, k))?;
    dev.synchronize()?;
    let secs = t.elapsed().as_secs_f64();
    let c = dc.to_vec()?;
    // Every row on a small problem, 256 sampled rows on a large one.
    let rows: Vec<usize> = if m <= 512 { (0..m).collect() } else { (0..256).map(|i| i * (m - 1) / 255).collect() };
    let mut max_err = 0.0f64;
    for &r in &rows {
        for col in 0..n {
            let want: f64 = (0..k).map(|j| a[r * k + j] as f64 * b[j * n + col] as f64).sum();
            // f32 accumulation over k terms of size < 1: an error well under k * 2^-22.
            max_err = max_err.max((c[r * n + col] as f64 - want).abs());
        }
    }
    let bound = (k as f64) * 2f64.powi(-20);
    println!("sgemm {m}x{k} · {k}x{n}: max error {max_err:.2e} (bound {bound:.1e}), {:.2} TFLOP/s", 2.0 * (m * n * k) as f64 / secs / 1e12);
    if max_err > bound.max(1e-5) {
        eprintln!("sgemm: result differs from the host computation");
        std::process::exit(1);
    }
    println!("sgemm: verified against the host");
    Ok(())
}
