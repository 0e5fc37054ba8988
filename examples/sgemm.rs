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

/// Rows of C a block computes.
pub const BM: usize = 128;
/// Columns of C a block computes.
pub const BN: usize = 128;
/// The depth of the slices of A and B staged in shared memory at a time.
pub const BK: usize = 8;
/// Threads a block (16×16 of them, each an 8×8 micro-tile).
pub const THREADS: usize = 256;

/// C (m×n) = A (m×k) · B (k×n), all row-major f32. Launch with `[(n.div_ceil(BN), m.div_ceil(BM)), THREADS]`.
#[gpu_kernel]
pub fn sgemm(a: &[f32], b: &[f32], c: &mut [f32], m: usize, n: usize, k: usize) {
    // The slice of A stored transposed (As[kk][row]), so a thread's 8 rows are consecutive.
    let mut a_tile = shared_array::<f32, { BK * BM }>();
    let mut b_tile = shared_array::<f32, { BK * BN }>();
    let mut acc = local_array::<f32, 64>();
    let mut a_reg = local_array::<f32, 8>();
    let mut b_reg = local_array::<f32, 8>();
    let t = thread_idx_x();
    let (row0, col0) = (block_idx_y() * BM, block_idx_x() * BN);
    // This thread's micro-tile: rows ty*8.., columns tx*8.. of the block's tile.
    let (ty, tx) = (t / 16, t % 16);
    // What this thread stages: 4 neighbours of A's slice (row t/2) and of B's (row t/32).
    let (a_row, a_col) = (t / 2, (t % 2) * 4);
    let (b_row, b_col) = (t / 32, (t % 32) * 4);
    #[unroll]
    for i in 0..64 {
        acc[i] = 0.0;
    }
    let interior = row0 + BM <= m && col0 + BN <= n;
    // Rows of A and B start at multiples of 4 elements: 4 neighbours are one 16-byte load.
    let fours = k % 4 == 0 && n % 4 == 0;
    let mut k0 = 0;
    while k0 < k {
        if interior && k0 + BK <= k && fours {
            let va = a.load::<4>((row0 + a_row) * k + k0 + a_col);
            let vb = b.load::<4>((k0 + b_row) * n + col0 + b_col);
            #[unroll]
            for q in 0..4 {
                a_tile[(a_col + q) * BM + a_row] = va[q];
            }
            b_tile.store::<4>(b_row * BN + b_col, &vb);
        } else if interior && k0 + BK <= k {
            #[unroll]
            for q in 0..4 {
                a_tile[(a_col + q) * BM + a_row] = a[(row0 + a_row) * k + k0 + a_col + q];
                b_tile[b_row * BN + b_col + q] = b[(k0 + b_row) * n + col0 + b_col + q];
            }
        } else {
            // An edge tile: zeros past the matrices.
            #[unroll]
            for q in 0..4 {
                let (r, kk) = (row0 + a_row, k0 + a_col + q);
                a_tile[(a_col + q) * BM + a_row] = if r < m && kk < k { a[r * k + kk] } else { 0.0 };
                let (kk, col) = (k0 + b_row, col0 + b_col + q);
                b_tile[b_row * BN + b_col + q] = if kk < k && col < n { b[kk * n + col] } else { 0.0 };
            }
        }
        sync_threads();
        #[unroll]
        for kk in 0..BK {
            #[unroll]
            for i in 0..8 {
                a_reg[i] = a_tile[kk * BM + ty * 8 + i];
                b_reg[i] = b_tile[kk * BN + tx * 8 + i];
            }
            #[unroll]
            for i in 0..8 {
                #[unroll]
                for j in 0..8 {
                    acc[i * 8 + j] += a_reg[i] * b_reg[j];
                }
            }
        }
        sync_threads();
        k0 += BK;
    }
    #[unroll]
    for i in 0..8 {
        let row = row0 + ty * 8 + i;
        #[unroll]
        for j in 0..8 {
            let col = col0 + tx * 8 + j;
            if row < m && col < n {
                c[row * n + col] = acc[i * 8 + j];
            }
        }
    }
}

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
