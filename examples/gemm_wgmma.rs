//! GEMM on Hopper's warpgroup tensor cores: `C = A·Bᵀ` with A (m×k) and B (n×k) row-major
//! (both K-major, as `wgmma` reads them) and C (m×n) f32, A and B of bf16 or of f32 (multiplied
//! as tf32), written in gpujit's kernel language with `tma_load_2d`, `mbarrier_*` and
//! `wgmma`: one generic kernel. Needs an sm_90 GPU (H100, H200); the CPU backend runs it too,
//! at its speed.
//!
//! A block of 384 threads computes a 128×256 tile of C. Its first warpgroup is the producer:
//! one thread streams slices of A (128 rows) and B (256 rows), 128 bytes deep (64 bf16 or 32
//! f32), into a ring of `STAGES` shared buffers with the tensor memory accelerator, each
//! buffer's `full` barrier armed with the slice's 48 KiB. The two other warpgroups are consumers, 64 rows of the tile each: they
//! wait for a slice, run four `wgmma` m64n256 on it (K 16 of bf16, 8 of tf32; the 128
//! accumulators a thread stay in registers), keep one group in flight, and release the buffer of the slice before (its
//! `empty` barrier). The tiles are 128-byte swizzled by TMA, the layout `wgmma` reads. Any
//! sizes with rows of A and B a multiple of 16 bytes (TMA's rule): the copies fill zeros past the edges, the
//! epilogue stores inside C only. Blocks take their tiles in groups of 8 tile rows, for L2
//! reuse. The result is checked against a host computation.
//!
//! ```text
//! cargo run --release --example gemm_wgmma              # GPUJIT_DEVICE=cpu|cuda
//! cargo run --release --example gemm_wgmma -- 8192 8192 8192
//! ```

use gpujit::prelude::*;
use half::bf16;
use std::time::Instant;

/// Rows of C a block computes: 64 a consumer warpgroup.
pub const BM: usize = 128;
/// Columns of C a block computes: `wgmma`'s largest N.
pub const BN: usize = 256;
/// The depth of a slice of bf16 (128 bytes; 32 for f32).
pub const BK: usize = 64;
/// Slices in flight.
pub const STAGES: usize = 4;
/// Threads a block: a producer warpgroup and two consumers.
pub const THREADS: usize = 384;
/// Bytes of one stage: A's slice of 128 rows of 128 bytes, then B's of 256.
pub const STAGE_BYTES: usize = (BM + BN) * 128;
/// The dynamic shared memory a block takes, in bytes.
pub const SHARED_BYTES: u32 = (STAGES * STAGE_BYTES) as u32;

/// The kernel. `a` is A (its shape gives m and k); `ma` maps it with boxes of 128 rows of
/// `bk` elements (128 bytes: 64 for bf16, 32 for f32), `mb` maps B with boxes of 256 rows,
/// both 128-byte swizzled (see [`maps`]).
#[gpu_kernel(launch_bounds = 384)]
pub fn gemm_wgmma<T: Float, const S: usize>(a: &Array<T, 2>, ma: &TensorMap, mb: &TensorMap, c: &mut [f32], n: usize, bk: usize) {
    let (m, k) = (a.shape(0), a.shape(1));
    let full = shared_array::<u64, S>();
    let empty = shared_array::<u64, S>();
    let mut tiles = dynamic_shared::<T>();
    let t = thread_idx_x();
    // Blocks take their tiles in groups of 8 tile rows, column by column within a group, so
    // that the blocks running at once share slices of A and B in L2.
    let (tiles_n, tiles_m) = (grid_dim_x(), grid_dim_y());
    let id = block_idx_y() * tiles_n + block_idx_x();
    let first = id / (8 * tiles_n) * 8;
    let rows = (tiles_m - first).min(8);
    let within = id % (8 * tiles_n);
    let (tile_m, tile_n) = ((first + within % rows) * 128, within / rows * 256);
    if t == 0 {
        for s in 0..S {
            mbarrier_init(&full[s], 1);
            // One arrival a consumer warpgroup.
            mbarrier_init(&empty[s], 2);
        }
        fence_proxy_async();
    }
    sync_threads();
    let slices = k.div_ceil(bk);
    let stage = (128 + 256) * bk;
    if t < 128 {
        if t == 0 {
            for i in 0..slices {
                let s = i % S;
                if i >= S {
                    // The consumers have released this buffer's previous slice.
                    mbarrier_wait(&empty[s], ((i / S - 1) % 2) as u32);
                }
                mbarrier_arrive_expect_tx(&full[s], ((128 + 256) * 128) as u32);
                tma_load_2d(&mut tiles[s * stage], ma, (i * bk) as i32, tile_m as i32, &full[s]);
                tma_load_2d(&mut tiles[s * stage + 128 * bk], mb, (i * bk) as i32, tile_n as i32, &full[s]);
            }
        }
    } else {
        let wg = t / 128 - 1;
        let mut acc = local_array::<f32, 128>();
        #[unroll]
        for j in 0..128 {
            acc[j] = 0.0;
        }
        for i in 0..slices {
            let s = i % S;
            mbarrier_wait(&full[s], ((i / S) % 2) as u32);
            let (a0, b0, step) = (s * stage + wg * 64 * bk, s * stage + 128 * bk, bk / 4);
            wgmma_fence();
            #[unroll]
            for kk in 0..4 {
                wgmma(&mut acc, &tiles[a0 + kk * step], &tiles[b0 + kk * step]);
            }
            wgmma_commit();
            // The slice before is done: release its buffer.
            wgmma_wait(1);
            if i > 0 && t % 128 == 0 {
                mbarrier_arrive(&empty[(i - 1) % S]);
            }
        }
        wgmma_wait(0);
        // Each thread holds pairs of neighbours in a row: stored 8 bytes at once where both lie
        // inside C and rows start at even offsets, else one by one.
        let (w, l) = ((t % 128) / 32, t % 32);
        let row0 = tile_m + wg * 64 + 16 * w + l / 4;
        #[unroll]
        for p in 0..64 {
            let j = 2 * p;
            let row = row0 + 8 * ((j % 4) / 2);
            let col = tile_n + 8 * (j / 4) + 2 * (l % 4);
            if row < m && col + 1 < n && n % 2 == 0 {
                c.store::<2>(row * n + col, &acc[j..]);
            } else if row < m && col < n {
                c[row * n + col] = acc[j];
                if col + 1 < n {
                    c[row * n + col + 1] = acc[j + 1];
                }
            }
        }
    }
}

/// Tensor maps of A (m×k) and B (n×k) as the kernel reads them: boxes of 128 and 256 rows of
/// 128 bytes, 128-byte swizzled.
pub fn maps<'a, T: gpujit::Element>(a: &'a DeviceArray<T>, b: &'a DeviceArray<T>) -> gpujit::Result<(TensorMap<'a>, TensorMap<'a>)> {
    let bk = (128 / std::mem::size_of::<T>()) as u32;
    Ok((TensorMap::tiled_2d(a, BM as u32, bk, 128)?, TensorMap::tiled_2d(b, BN as u32, bk, 128)?))
}

/// Values in [-1, 1), a few bits each (exact in bf16 and tf32).
fn values(len: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// Runs the kernel on A and B converted to `T`, times it, and checks C against f64 sums of the
/// products of `exact` values: within `(k + 1) · 2⁻²³ · Σ|a·b|` for bf16 (exact products, f32
/// sums), `2⁻⁹ · Σ|a·b|` for f32 (tf32 keeps 10 of the 23 mantissa bits).
fn run<T: gpujit::Element + Copy>(
    dev: &Device,
    m: usize,
    n: usize,
    k: usize,
    convert: fn(f32) -> T,
    exact: fn(T) -> f64,
) -> gpujit::Result<()> {
    let tf32 = std::mem::size_of::<T>() == 4;
    let name = std::any::type_name::<T>().rsplit("::").next().unwrap_or("?");
    let bk = 128 / std::mem::size_of::<T>();
    if (k * std::mem::size_of::<T>()) % 16 != 0 {
        println!("{name}: skipped, rows of {k} elements are not a multiple of 16 bytes");
        return Ok(());
    }
    let a: Vec<T> = values(m * k, 1).into_iter().map(convert).collect();
    let b: Vec<T> = values(n * k, 2).into_iter().map(convert).collect();
    let da = DeviceArray::from_shape(dev, &[m, k], &a)?;
    let db = DeviceArray::from_shape(dev, &[n, k], &b)?;
    let (ma, mb) = maps(&da, &db)?;
    let mut dc = DeviceArray::<f32>::zeros(dev, m * n)?;
    let grid = (n.div_ceil(BN), m.div_ceil(BM));
    launch!(gemm_wgmma::<STAGES>[grid, THREADS, SHARED_BYTES](&da, &ma, &mb, &mut dc, n, bk))?;
    dev.synchronize()?;
    let started = Instant::now();
    let reps = if dev.is_cuda() { 10 } else { 1 };
    for _ in 0..reps {
        launch!(gemm_wgmma::<STAGES>[grid, THREADS, SHARED_BYTES](&da, &ma, &mb, &mut dc, n, bk))?;
    }
    dev.synchronize()?;
    let secs = started.elapsed().as_secs_f64() / reps as f64;
    println!("{name} {m}x{n}x{k}: {:.3} ms, {:.1} TFLOP/s", secs * 1e3, 2.0 * (m * n * k) as f64 / secs / 1e12);
    let c = dc.to_vec()?;
    let (af, bf): (Vec<f64>, Vec<f64>) = (a.iter().map(|v| exact(*v)).collect(), b.iter().map(|v| exact(*v)).collect());
    let rows: Vec<usize> = if m * n * k > 1 << 27 { (0..m).step_by(m / 61 + 1).collect() } else { (0..m).collect() };
    let mut worst = 0.0f64;
    for &i in &rows {
        for j in 0..n {
            let (mut sum, mut abs) = (0.0f64, 0.0f64);
            for q in 0..k {
                let p = af[i * k + q] * bf[j * k + q];
                sum += p;
                abs += p.abs();
            }
            let err = (c[i * n + j] as f64 - sum).abs();
            let bound = if tf32 { abs / 512.0 } else { (k as f64 + 1.0) * f32::EPSILON as f64 * abs } + f32::MIN_POSITIVE as f64;
            if err > bound {
                eprintln!("{name}: C[{i}][{j}] = {}, want {sum} (error {err:e} > {bound:e})", c[i * n + j]);
                std::process::exit(1);
            }
            worst = worst.max(err / bound);
        }
    }
    println!("{name}: checked {} rows against the host: worst error {:.3} of the bound", rows.len(), worst);
    Ok(())
}

fn main() -> gpujit::Result<()> {
    let dev = Device::current()?;
    println!("device: {}", dev.name());
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let (m, n, k) = match args[..] {
        [m, n, k] => (m, n, k),
        _ if dev.is_cuda() => (2049, 1999, 1000),
        _ => (200, 300, 136),
    };
    run(&dev, m, n, k, bf16::from_f32, |v| v.to_f64())?;
    // f32 inputs multiply as tf32.
    run(&dev, m, n, k, |v| v, |v| v as f64)
}
