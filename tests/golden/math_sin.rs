// A math method: libdevice's sinf, linked and inlined, and no other libdevice function kept.
// ARGS: &[f32], &mut [f32]
//
// IR: out[{{i_[0-9]+}}] = x[{{i_[0-9]+}}].sin();
// libdevice is linked, its `__nv_sinf` inlined, and nothing else of it kept.
// LLVM: define ptx_kernel void @math_sin(
// LLVM: __nv_sinf.exit
// LLVM-NOT: define {{.*}}@__nv_
// LLVM-NOT: __nv_cos
// LLVM-NOT: declare {{.*}}@__nv_
// PTX-NOT: .func
// PTX-NOT: sin.approx
//
use gpujit::prelude::*;

#[gpu_kernel]
pub fn math_sin(x: &[f32], out: &mut [f32]) {
    let i = grid(1);
    if i < x.len() {
        out[i] = x[i].sin();
    }
}
