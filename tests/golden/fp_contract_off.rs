// `fp_contract = false` keeps Rust's two roundings of `a * b + c`: a multiply, then an add, both
// `.rn` so that ptxas does not fuse them.
// ARGS: &[f32], &[f32], &mut [f32]
//
// IR: #[options({{.*}}no_contract = true,
// LLVM-NOT: {{fmul|fadd}} contract
// PTX: mul.rn.f32
// PTX: add.rn.f32
// PTX-NOT: fma.rn.f32
use gpujit::prelude::*;

#[gpu_kernel(fp_contract = false)]
pub fn fp_contract_off(a: &[f32], b: &[f32], out: &mut [f32]) {
    let i = grid(1);
    if i < out.len() {
        let mut acc = out[i];
        acc += a[i] * b[i];
        out[i] = acc * a[i] + b[i];
    }
}
