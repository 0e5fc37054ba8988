// `fastmath`: the approximate sine instruction and flush-to-zero.
// ARGS: &[f32], &mut [f32]
//
// IR: #[options(fastmath = true,
// LLVM: call float @llvm.nvvm.sin.approx.ftz.f(
// PTX: sin.approx.ftz.f32
// PTX-NOT: .local
//
use gpujit::prelude::*;

#[gpu_kernel(fastmath)]
pub fn fastmath_sin(x: &[f32], out: &mut [f32]) {
    let i = grid(1);
    if i < x.len() {
        out[i] = x[i].sin() * x[i];
    }
}
