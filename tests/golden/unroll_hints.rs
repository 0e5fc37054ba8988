// `#[unroll]` unrolls a loop fully, past LLVM's own size limit, so that a per-thread array indexed
// by the loop counters lives in registers (an 8x8 micro-tile, GEMM's accumulator): no `.local`
// traffic. The hint is in the IR and reaches LLVM as `llvm.loop.unroll.full`.
// ARGS: &[f32], &[f32], &mut [f32]
//
// IR: #[unroll]
// IR: for {{k_[0-9]+}} in
// PTX-NOT: .local
// PTX: fma.rn.f32
// PTX-NOT: .local
use gpujit::prelude::*;

#[gpu_kernel]
pub fn unroll_hints(a: &[f32], b: &[f32], out: &mut [f32]) {
    let i = grid(1);
    if i < out.len() / 64 && (i + 1) * 64 <= a.len() && b.len() >= 64 {
        let mut c = local_array::<f32, 64>();
        #[unroll]
        for r in 0..64 {
            c[r] = 0.0;
        }
        #[unroll]
        for k in 0..8 {
            #[unroll]
            for r in 0..8 {
                #[unroll]
                for q in 0..8 {
                    c[r * 8 + q] += a[i * 64 + r * 8 + k] * b[k * 8 + q];
                }
            }
        }
        #[unroll]
        for r in 0..64 {
            out[i * 64 + r] = c[r];
        }
    }
}
