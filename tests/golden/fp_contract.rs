// Floating-point contraction, gpujit's default as nvcc's: `acc += a * b` and `a * b + c` become
// fused multiply-adds (one rounding), not a multiply and an add.
// ARGS: &[f32], &[f32], &mut [f32]
//
// IR-NOT: no_contract = true
// LLVM: call {{.*}}@llvm.fma.f32
// PTX: fma.rn.f32
// PTX-NOT: mul.rn.f32
use gpujit::prelude::*;

#[gpu_kernel]
pub fn fp_contract(a: &[f32], b: &[f32], out: &mut [f32]) {
    let i = grid(1);
    if i < out.len() {
        let mut acc = out[i];
        acc += a[i] * b[i];
        out[i] = acc * a[i] + b[i];
    }
}
