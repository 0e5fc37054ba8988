// A per-thread array indexed by loop counters.
// ARGS: &[f32], &mut [f32]
//
// IR: local acc: [f32; 4];
// A small per-thread array indexed by unrolled loop counters lives in registers.
// PTX-NOT: .local
// PTX90-NOT: .local
//
use gpujit::prelude::*;

#[gpu_kernel]
pub fn per_thread_array(x: &[f32], out: &mut [f32]) {
    let i = grid(1);
    if i < out.len() {
        let mut acc = local_array::<f32, 4>();
        for k in 0..4 {
            acc[k] = x[(i + k) % x.len()];
        }
        let mut s = 0.0;
        for k in 0..4 {
            s += acc[k] * (k as f32);
        }
        out[i] = s;
    }
}
