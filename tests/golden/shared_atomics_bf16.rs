// Atomics on a block's shared array, and bf16 atomics on global memory (sm_90's own instruction;
// sm_80 has no bf16 atomic add, so a compare-and-swap loop on the element's 2 bytes).
// ARGS: &[u32], &[bf16], &mut [u32], &mut [bf16]
//
// IR: shared bins: [u32; [64]];
// IR: atomic_add(bins, [
// PTX: atom.shared.add.u32
// PTX: atom.cas.b16
// PTX-NOT: cas.b32
// PTX90: atom.global.add.noftz.bf16
use gpujit::prelude::*;

#[gpu_kernel]
pub fn shared_atomics_bf16(x: &[u32], w: &[bf16], hist: &mut [u32], total: &mut [bf16]) {
    let mut bins = shared_array::<u32, 64>();
    let t = thread_idx_x();
    if t < 64 {
        bins[t] = 0;
    }
    sync_threads();
    let i = grid(1);
    if i < x.len() {
        atomic_add(&mut bins, (x[i] % 64) as usize, 1u32);
        atomic_add(total, 0, w[i]);
    }
    sync_threads();
    if t < 64 && t < hist.len() {
        atomic_add(hist, t, bins[t]);
    }
}
