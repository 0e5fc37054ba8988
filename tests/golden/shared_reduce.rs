// A block reduction in shared memory with barriers.
// ARGS: &[f32], &mut [f32]
//
// IR: kernel shared_reduce(x: &[f32], out: &mut [f32])
// IR-NEXT: shared tile: [f32; [256]];
// IR: sync_threads();
// PTX: .shared .align {{[0-9]+}} .b8 gpujit_shared_0[1024];
// PTX: st.shared.f32
// PTX: bar.sync 0;
// PTX: ld.shared.f32
// PTX-NOT: .local
//
use gpujit::prelude::*;

#[gpu_kernel]
pub fn shared_reduce(x: &[f32], out: &mut [f32]) {
    let mut tile = shared_array::<f32, 256>();
    let t = thread_idx_x();
    let i = grid(1);
    tile[t] = if i < x.len() { x[i] } else { 0.0 };
    sync_threads();
    let mut s = 128;
    while s > 0 {
        if t < s {
            tile[t] += tile[t + s];
        }
        sync_threads();
        s /= 2;
    }
    if t == 0 {
        out[block_idx_x()] = tile[0];
    }
}
