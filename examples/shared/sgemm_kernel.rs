//! The register-tiled SGEMM kernel of `examples/sgemm.rs`, in a file of its own so that the test
//! suite runs the same kernel (`tests/common/memory.rs`, `register_tiled_sgemm`).

use gpujit::prelude::*;

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
