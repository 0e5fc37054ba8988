// Memory fences and block-wide votes: `threadfence*()` and `sync_threads_count/and/or`.
// ARGS: &[i32], &mut [i32]
//
// IR: fence(Block);
// IR: fence(Device);
// IR: fence(System);
// IR: sync_threads_count(
// IR: sync_threads_and(
// IR: sync_threads_or(
// PTX: membar.cta;
// PTX: membar.gl;
// PTX: membar.sys;
// PTX: bar.red.popc.u32
// PTX: bar.red.and.pred
// PTX: bar.red.or.pred
use gpujit::prelude::*;

#[gpu_kernel]
pub fn fences_and_block_votes(x: &[i32], out: &mut [i32]) {
    let i = grid(1);
    let v = if i < x.len() { x[i] } else { 0 };
    threadfence_block();
    threadfence();
    threadfence_system();
    let positive = sync_threads_count(v > 0);
    let all = sync_threads_and(v != 0);
    let any = sync_threads_or(v < 0);
    if i < out.len() {
        out[i] = positive + (all as i32) * 2 + (any as i32) * 4;
    }
}
