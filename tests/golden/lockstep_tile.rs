// C = A·B with 16×16 tiles in shared memory. On the CPU backend its block runs in lockstep, and
// the short constant loop `for kk in 0..16` runs outside the thread loops: each iteration is one
// loop over the block's threads, which the vectorizer runs as a vector's lanes (a tile's row of
// `tb` is consecutive threads' words; `ta[[ty, kk]]` is the same for a row of threads). Inside
// one thread loop, each thread's loop would run in turn, scalar.
// ARGS: &[f32], &[f32], &mut [f32], usize
//
// IR: kernel lockstep_tile(a: &[f32], b: &[f32], c: &mut [f32], n: u64)
// IR: sync_threads()
// HOST: define {{.*}}i32 @gpujit_host_entry(
// HOST-NOT: gpujit_host_thread
// HOST: vector.body
// HOST: {{fmul <[0-9]+ x float>|@llvm.fma.v[0-9]+f32}}
// HOST: !"llvm.loop.parallel_accesses"
// PTX: bar.sync 0
use gpujit::prelude::*;

#[gpu_kernel]
pub fn lockstep_tile(a: &[f32], b: &[f32], c: &mut [f32], n: usize) {
    let mut ta = shared_array_2d::<f32, 16, 16>();
    let mut tb = shared_array_2d::<f32, 16, 16>();
    let (tx, ty) = (thread_idx_x(), thread_idx_y());
    let (row, col) = (block_idx_y() * 16 + ty, block_idx_x() * 16 + tx);
    let mut acc = 0.0f32;
    let mut k0 = 0;
    while k0 < n {
        ta[[ty, tx]] = if row < n && k0 + tx < n { a[row * n + k0 + tx] } else { 0.0 };
        tb[[ty, tx]] = if k0 + ty < n && col < n { b[(k0 + ty) * n + col] } else { 0.0 };
        sync_threads();
        for kk in 0..16 {
            acc += ta[[ty, kk]] * tb[[kk, tx]];
        }
        sync_threads();
        k0 += 16;
    }
    if row < n && col < n {
        c[row * n + col] = acc;
    }
}
