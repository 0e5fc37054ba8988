// Warp collectives: a butterfly sum and a ballot.
// ARGS: &[f32], &mut [f32], &mut [u32]
//
// IR: shfl_xor_sync(4294967295u32, {{v_[0-9]+}}, {{m_[0-9]+}})
// IR: ballot_sync(4294967295u32,
// PTX-COUNT-1: shfl.sync.bfly.b32
// PTX: vote.sync.ballot.b32
//
use gpujit::prelude::*;

#[gpu_kernel]
pub fn warp_ops(x: &[f32], sums: &mut [f32], votes: &mut [u32]) {
    let i = grid(1);
    let mut v = if i < x.len() { x[i] } else { 0.0 };
    let mut m = 16;
    while m > 0 {
        v += shfl_xor_sync(0xffff_ffff, v, m);
        m /= 2;
    }
    let ballot = ballot_sync(0xffff_ffff, v > 0.0);
    if lane_id() == 0 && i / 32 < sums.len() {
        sums[i / 32] = v;
        votes[i / 32] = ballot;
    }
}
