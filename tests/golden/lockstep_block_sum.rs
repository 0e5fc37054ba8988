// A block's tree reduction in shared memory with barriers. On the CPU backend its block runs in
// lockstep (`lower/lockstep.rs`): thread loops between the barriers, the uniform `half` loop
// once for the block, the `if t < half` threads in a loop of their own; no fiber entry.
// ARGS: &[f32], &mut [f32]
//
// IR: kernel lockstep_block_sum(x: &[f32], total: &mut [f32])
// IR: sync_threads();
// HOST: define {{.*}}i32 @gpujit_host_entry(
// HOST-NOT: gpujit_host_thread
// HOST: blk.body
// HOST: thread
// HOST: atomicrmw fadd
// HOST-NOT: gpujit_host_thread
// PTX: bar.sync 0;
// PTX: {{(red|atom)}}.global{{.*}}add.f32
use gpujit::prelude::*;

#[gpu_kernel]
pub fn lockstep_block_sum(x: &[f32], total: &mut [f32]) {
    let mut s = shared_array::<f32, 256>();
    let t = thread_idx_x();
    let i = grid(1);
    s[t] = if i < x.len() { x[i] } else { 0.0 };
    sync_threads();
    let mut half = 128;
    while half > 0 {
        if t < half {
            s[t] += s[t + half];
        }
        sync_threads();
        half /= 2;
    }
    if t == 0 {
        atomic_add(total, 0, s[0]);
    }
}
