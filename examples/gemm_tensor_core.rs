//! A bf16 GEMM on tensor cores: `C = A·B` with A (m×k) and B (k×n) row-major bf16 and C (m×n)
//! f32, written in gpujit's kernel language with `mma_sync`, `ldmatrix` and `cp_async`.
//!
//! Each block of 256 threads (8 warps, 2×4) computes a 128×256 tile of C (the kernel takes the
//! tile shape, the slice depth and the stages as const generics); each warp a 64×64 part of it, as 4×8 tensor-core tiles of 16×8 whose 128 accumulators stay in registers.
//! Slices of A and B, 64 deep, are staged in dynamic shared memory (153 KiB) by asynchronous
//! copies, three stages in flight: two slices are being copied while the tensor cores work on a
//! third, with one barrier a slice. Fragments come from shared memory through `ldmatrix` (B transposed on the way, as
//! `mma` takes it column-major). Any sizes work: where a slice runs past a matrix, or its rows
//! are not 16-byte aligned, elements are staged one by one (zeros past the edges). The result
//! is checked against a host computation.
//!
//! ```text
//! cargo run --release --example gemm_tensor_core              # GPUJIT_DEVICE=cpu|cuda
//! cargo run --release --example gemm_tensor_core -- 4096 4096 4096
//! ```

use gpujit::prelude::*;
use half::bf16;
use std::time::Instant;

/// Rows of C a block computes (the example's choice of the kernel's tile shape).
pub const BM: usize = 128;
/// Columns of C a block computes.
pub const BN: usize = 256;
/// The depth of the slices of A and B staged at a time.
pub const BK: usize = 64;
/// Slices in flight.
pub const STAGES: usize = 3;
/// Threads a block: a warp for each 64×64 part of the tile.
pub const THREADS: usize = threads(BM, BN);
/// The dynamic shared memory a block takes, in bytes.
pub const SHARED_BYTES: u32 = shared_bytes(BM, BN, BK, STAGES);

/// Shared rows are padded by 8 elements (16 bytes), so that the 8 rows an `ldmatrix` reads lie
/// in different banks.
pub const PAD: usize = 8;

/// Threads a block of `bm`×`bn` takes: a warp each 64×64.
pub const fn threads(bm: usize, bn: usize) -> usize {
    bm / 64 * (bn / 64) * 32
}

/// Dynamic shared memory of `stages` slices of A (bm rows of bk + PAD) and B (bk rows of bn + PAD).
pub const fn shared_bytes(bm: usize, bn: usize, bk: usize, stages: usize) -> u32 {
    (stages * (bm * (bk + PAD) + bk * (bn + PAD)) * 2) as u32
}

/// Stores a warp's 64×64 part of C, rows from `r0` and columns from `c0`, from its
/// accumulators (4×8 tiles of 16×8, 4 elements a lane each, in `acc[32 mi + 4 nj..]`): lane
/// (g, t4) holds rows g and g + 8, columns 2 t4 and 2 t4 + 1, a pair stored at once where both
/// lie inside C and rows start at even offsets.
#[gpu_device]
pub fn store_warp_tile(c: &mut [f32], acc: &[f32], m: usize, n: usize, r0: usize, c0: usize, lane: usize) {
    let (g, t4) = (lane / 4, lane % 4);
    let mut pair = local_array::<f32, 2>();
    #[unroll]
    for mi in 0..4 {
        #[unroll]
        for nj in 0..8 {
            #[unroll]
            for half in 0..2 {
                let r = r0 + mi * 16 + g + 8 * half;
                let col = c0 + nj * 8 + 2 * t4;
                let at = 32 * mi + 4 * nj + 2 * half;
                if r < m && col + 1 < n && n % 2 == 0 {
                    pair[0] = acc[at];
                    pair[1] = acc[at + 1];
                    c.store::<2>(r * n + col, &pair);
                } else if r < m {
                    if col < n {
                        c[r * n + col] = acc[at];
                    }
                    if col + 1 < n {
                        c[r * n + col + 1] = acc[at + 1];
                    }
                }
            }
        }
    }
}

/// C (m×n, f32) = A (m×k) · B (k×n), bf16 inputs, with tiles of `BM`×`BN` (multiples of 64),
/// slices `BK` deep (a multiple of 16) and `STAGES` slices in flight (2 to 8). Launch with
/// `[(n.div_ceil(BN), m.div_ceil(BM)), threads(BM, BN), shared_bytes(BM, BN, BK, STAGES)]`.
#[gpu_kernel(launch_bounds = 256)]
pub fn gemm_bf16<const BM: usize, const BN: usize, const BK: usize, const STAGES: usize>(
    a: &[bf16],
    b: &[bf16],
    c: &mut [f32],
    m: usize,
    n: usize,
    k: usize,
) {
    // STAGES stages of A's slice, then STAGES of B's.
    let mut smem = dynamic_shared::<bf16>();
    let mut acc = local_array::<f32, 128>();
    let mut fa = local_array::<bf16, 32>();
    let mut fb = local_array::<bf16, 32>();
    let mut row = local_array::<bf16, 8>();
    let (a_stage, b_stage) = (BM * (BK + PAD), BK * (BN + PAD));
    let threads = BM / 64 * (BN / 64) * 32;
    let t = thread_idx_x();
    let (lane, warp) = (t % 32, t / 32);
    let (m0, n0) = (block_idx_y() * BM, block_idx_x() * BN);
    // This warp's 64×64 part of the tile: rows wm.., columns wn.. of the block's.
    let (wm, wn) = ((warp / (BN / 64)) * 64, (warp % (BN / 64)) * 64);
    // Rows of 16 bytes can be copied whole when every row starts 16-byte aligned.
    let (a_whole, b_whole) = (k % 8 == 0, n % 8 == 0);
    #[unroll]
    for i in 0..128 {
        acc[i] = 0.0;
    }
    let slices = (k + BK - 1) / BK;
    // Lane l gives row l % 16, columns from (l / 16) * 8, of each 16×16 piece.
    let (lr, lc) = (lane % 16, (lane / 16) * 8);
    // Step s copies slice s into stage s % STAGES and multiplies slice s - (STAGES - 1): the
    // first STAGES - 1 steps only copy, the last STAGES - 1 only multiply.
    let mut s = 0;
    while s < slices + STAGES - 1 {
        if s >= STAGES - 1 {
            // Slice s - (STAGES - 1) has landed (the STAGES - 2 newest may still be in flight),
            // and every warp is done with the stage the copy below overwrites.
            cp_async_wait(STAGES - 2);
            sync_threads();
        }
        if s < slices {
            let (stage, k0) = (s % STAGES, s * BK);
            // A: BM rows of BK / 8 chunks of 8 elements; B: BK rows of BN / 8.
            #[unroll]
            for h in 0..BM * BK / 8 / threads {
                let q = t + h * threads;
                let (r, kc) = (q / (BK / 8), (q % (BK / 8)) * 8);
                let at = stage * a_stage + r * (BK + PAD) + kc;
                if a_whole && m0 + r < m && k0 + kc + 8 <= k {
                    cp_async::<8>(&mut smem[at], &a[(m0 + r) * k + k0 + kc]);
                } else {
                    #[unroll]
                    for e in 0..8 {
                        let inside = m0 + r < m && k0 + kc + e < k;
                        row[e] = if inside { a[(m0 + r) * k + k0 + kc + e] } else { bf16::ZERO };
                    }
                    smem.store::<8>(at, &row);
                }
            }
            #[unroll]
            for h in 0..BK * BN / 8 / threads {
                let q = t + h * threads;
                let (r, nc) = (q / (BN / 8), (q % (BN / 8)) * 8);
                let at = STAGES * a_stage + stage * b_stage + r * (BN + PAD) + nc;
                if b_whole && k0 + r < k && n0 + nc + 8 <= n {
                    cp_async::<8>(&mut smem[at], &b[(k0 + r) * n + n0 + nc]);
                } else {
                    #[unroll]
                    for e in 0..8 {
                        let inside = k0 + r < k && n0 + nc + e < n;
                        row[e] = if inside { b[(k0 + r) * n + n0 + nc + e] } else { bf16::ZERO };
                    }
                    smem.store::<8>(at, &row);
                }
            }
        }
        cp_async_commit();
        if s >= STAGES - 1 {
            let cur = s - (STAGES - 1);
            let (a0, b0) = ((cur % STAGES) * a_stage, STAGES * a_stage + (cur % STAGES) * b_stage);
            #[unroll]
            for ks in 0..BK / 16 {
                #[unroll]
                for mi in 0..4 {
                    ldmatrix_x4(&mut fa[8 * mi..], &smem[a0 + (wm + mi * 16 + lr) * (BK + PAD) + ks * 16 + lc]);
                }
                #[unroll]
                for nj in 0..4 {
                    // Two 8-column tiles of B a load, transposed: rows k, columns n.
                    ldmatrix_x4_trans(&mut fb[8 * nj..], &smem[b0 + (ks * 16 + lr) * (BN + PAD) + wn + nj * 16 + lc]);
                }
                #[unroll]
                for mi in 0..4 {
                    #[unroll]
                    for nj in 0..8 {
                        mma_sync(&mut acc[32 * mi + 4 * nj..], &fa[8 * mi..], &fb[4 * nj..]);
                    }
                }
            }
        }
        s += 1;
    }
    cp_async_wait(0);
    store_warp_tile(c, &acc, m, n, m0 + wm, n0 + wn, lane);
}

/// C (m×n) = A (m×k) · B (k×n), all f32, on tensor cores in TF32 (m16n8k8: the inputs' top 19
/// bits, as cuBLAS's TF32 mode; f32 accumulators), with `gemm_bf16`'s tiles, stages and edge
/// handling. `ldmatrix` moves 16-bit elements, so each lane reads its fragments' elements from
/// shared memory one by one; the padding (4 columns of A, 8 of B) keeps the 32 lanes of each
/// read in different banks. Launch with `[(n.div_ceil(BN), m.div_ceil(BM)), threads(BM, BN),
/// tf32_shared_bytes(BM, BN, BK, STAGES)]`.
#[gpu_kernel(launch_bounds = 256)]
pub fn gemm_tf32<const BM: usize, const BN: usize, const BK: usize, const STAGES: usize>(
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
    m: usize,
    n: usize,
    k: usize,
) {
    let mut smem = dynamic_shared::<f32>();
    let mut acc = local_array::<f32, 128>();
    let mut fa = local_array::<f32, 16>();
    let mut fb = local_array::<f32, 16>();
    let mut row = local_array::<f32, 4>();
    let (sa, sb) = (BK + 4, BN + 8);
    let (a_stage, b_stage) = (BM * sa, BK * sb);
    let threads = BM / 64 * (BN / 64) * 32;
    let t = thread_idx_x();
    let (lane, warp) = (t % 32, t / 32);
    let (g, t4) = (lane / 4, lane % 4);
    let (m0, n0) = (block_idx_y() * BM, block_idx_x() * BN);
    let (wm, wn) = ((warp / (BN / 64)) * 64, (warp % (BN / 64)) * 64);
    let (a_whole, b_whole) = (k % 4 == 0, n % 4 == 0);
    #[unroll]
    for i in 0..128 {
        acc[i] = 0.0;
    }
    let slices = (k + BK - 1) / BK;
    let mut s = 0;
    while s < slices + STAGES - 1 {
        if s >= STAGES - 1 {
            cp_async_wait(STAGES - 2);
            sync_threads();
        }
        if s < slices {
            let (stage, k0) = (s % STAGES, s * BK);
            // Chunks of 4 f32 (16 bytes): A BM rows of BK / 4, B BK rows of BN / 4.
            #[unroll]
            for h in 0..BM * BK / 4 / threads {
                let q = t + h * threads;
                let (r, kc) = (q / (BK / 4), (q % (BK / 4)) * 4);
                let at = stage * a_stage + r * sa + kc;
                if a_whole && m0 + r < m && k0 + kc + 4 <= k {
                    cp_async::<4>(&mut smem[at], &a[(m0 + r) * k + k0 + kc]);
                } else {
                    #[unroll]
                    for e in 0..4 {
                        row[e] = if m0 + r < m && k0 + kc + e < k { a[(m0 + r) * k + k0 + kc + e] } else { 0.0 };
                    }
                    smem.store::<4>(at, &row);
                }
            }
            #[unroll]
            for h in 0..BK * BN / 4 / threads {
                let q = t + h * threads;
                let (r, nc) = (q / (BN / 4), (q % (BN / 4)) * 4);
                let at = STAGES * a_stage + stage * b_stage + r * sb + nc;
                if b_whole && k0 + r < k && n0 + nc + 4 <= n {
                    cp_async::<4>(&mut smem[at], &b[(k0 + r) * n + n0 + nc]);
                } else {
                    #[unroll]
                    for e in 0..4 {
                        row[e] = if k0 + r < k && n0 + nc + e < n { b[(k0 + r) * n + n0 + nc + e] } else { 0.0 };
                    }
                    smem.store::<4>(at, &row);
                }
            }
        }
        cp_async_commit();
        if s >= STAGES - 1 {
            let cur = s - (STAGES - 1);
            let (a0, b0) = ((cur % STAGES) * a_stage, STAGES * a_stage + (cur % STAGES) * b_stage);
            #[unroll]
            for ks in 0..BK / 8 {
                // A's fragment: (g + 8 (i % 2), t4 + 4 (i / 2)); B's: (t4 + 4 i, g).
                #[unroll]
                for mi in 0..4 {
                    #[unroll]
                    for i in 0..4 {
                        fa[4 * mi + i] = smem[a0 + (wm + mi * 16 + g + 8 * (i % 2)) * sa + ks * 8 + t4 + 4 * (i / 2)];
                    }
                }
                #[unroll]
                for nj in 0..8 {
                    #[unroll]
                    for i in 0..2 {
                        fb[2 * nj + i] = smem[b0 + (ks * 8 + t4 + 4 * i) * sb + wn + nj * 8 + g];
                    }
                }
                #[unroll]
                for mi in 0..4 {
                    #[unroll]
                    for nj in 0..8 {
                        mma_sync(&mut acc[32 * mi + 4 * nj..], &fa[4 * mi..], &fb[2 * nj..]);
                    }
                }
            }
        }
        s += 1;
    }
    cp_async_wait(0);
    store_warp_tile(c, &acc, m, n, m0 + wm, n0 + wn, lane);
}

/// `gemm_tf32`'s dynamic shared memory, in bytes.
pub const fn tf32_shared_bytes(bm: usize, bn: usize, bk: usize, stages: usize) -> u32 {
    (stages * (bm * (bk + 4) + bk * (bn + 8)) * 4) as u32
}

/// Fills `len` bf16 values in [-1, 1) from a seed (a small LCG: the example needs no
/// dependency).
fn values(len: usize, seed: u64) -> Vec<bf16> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            bf16::from_f32(((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0)
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
        _ => (200, 136, 72),
    };
    let (a, b) = (values(m * k, 1), values(k * n, 2));
    let (da, db) = (DeviceArray::from_slice(&dev, &a)?, DeviceArray::from_slice(&dev, &b)?);
    let mut dc = DeviceArray::<f32>::zeros(&dev, m * n)?;
    let grid = (n.div_ceil(BN), m.div_ceil(BM));
    launch!(gemm_bf16::<BM, BN, BK, STAGES>[grid, THREADS, SHARED_BYTES](&da, &db, &mut dc, m, n, k))?;
    dev.synchronize()?;
    let started = Instant::now();
    let reps = if dev.is_cuda() { 10 } else { 1 };
    for _ in 0..reps {
        launch!(gemm_bf16::<BM, BN, BK, STAGES>[grid, THREADS, SHARED_BYTES](&da, &db, &mut dc, m, n, k))?;
    }
    dev.synchronize()?;
    let secs = started.elapsed().as_secs_f64() / reps as f64;
    println!("{m}x{n}x{k}: {:.3} ms, {:.1} TFLOP/s", secs * 1e3, 2.0 * (m * n * k) as f64 / secs / 1e12);

    // Check against the host: f64 sums of the exact bf16 products; the tensor cores sum in f32
    // (within k · 2⁻²³ · Σ|a·b| of the exact value).
    let c = dc.to_vec()?;
    let (af, bf): (Vec<f64>, Vec<f64>) = (a.iter().map(|v| v.to_f64()).collect(), b.iter().map(|v| v.to_f64()).collect());
    let rows: Vec<usize> = if m * n * k > 1 << 27 { (0..m).step_by(m / 61 + 1).collect() } else { (0..m).collect() };
    let mut worst = 0.0f64;
    for &i in &rows {
        for j in 0..n {
            let (mut exact, mut abs) = (0.0f64, 0.0f64);
            for q in 0..k {
                let p = af[i * k + q] * bf[q * n + j];
                exact += p;
                abs += p.abs();
            }
            let err = (c[i * n + j] as f64 - exact).abs();
            let bound = (k as f64 + 1.0) * f32::EPSILON as f64 * abs + f32::MIN_POSITIVE as f64;
            if err > bound {
                eprintln!("C[{i}][{j}] = {}, want {exact} (error {err:e} > {bound:e})", c[i * n + j]);
                std::process::exit(1);
            }
            worst = worst.max(err / bound);
        }
    }
    println!("checked {} rows against the host: worst error {:.3} of the bound", rows.len(), worst);
    Ok(())
}
