// A warp's sum by lane shifts. On the CPU backend its block runs in lockstep, and each thread loop
// as SIMD lanes: the loop is `llvm.loop.parallel_accesses` over the frame and the arrays, no
// thread can leave early (no `return`, no assertion), so no mask is read, and the shift by a delta
// the same for every thread reads consecutive threads' words as one vector: 32-bit words, so the
// shuffle selects among float lanes. The uniform `while offset > 0` stays a loop (not unrolled
// into five copies of its thread loops): `offset` is a phi from 16. The lane-0 threads' atomics
// on `total[0]` are one atomic a block, of their sum.
// ARGS: &[f32], &mut [f32]
//
// IR: kernel lockstep_simd(x: &[f32], total: &mut [f32])
// IR: shfl_down_sync(
// HOST: define {{.*}}i32 @gpujit_host_entry(
// HOST-NOT: gpujit_host_thread
// HOST: vector.body
// HOST: = phi i64 {{.*}}[ 16, %
// HOST: select <{{[0-9]+}} x i1> %{{[0-9]+}}, <{{[0-9]+}} x float>
// HOST: fadd <{{[0-9]+}} x float>
// HOST: atomicrmw fadd ptr %total, float %combined
// HOST-NOT: atomicrmw
// HOST: !"llvm.loop.parallel_accesses"
// PTX: shfl.sync.down.b32
use gpujit::prelude::*;

#[gpu_kernel]
pub fn lockstep_simd(x: &[f32], total: &mut [f32]) {
    let i = grid(1);
    let mut v = if i < x.len() { x[i] } else { 0.0 };
    let mut offset = 16;
    while offset > 0 {
        v += shfl_down_sync(0xffffffff, v, offset);
        offset /= 2;
    }
    if lane_id() == 0 {
        atomic_add(total, 0, v);
    }
}
