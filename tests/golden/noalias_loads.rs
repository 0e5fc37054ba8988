// Rust's `&`/`&mut` rules reach the optimizer: array parameters are `noalias`, read-only ones `readonly`,
// so the GPU reads them through the non-coherent cache (`ld.global.nc`, CUDA's
// `const __restrict__`). The written array is read with a plain load.
// ARGS: &[f32], &[f32], &mut [f32]
//
// IR-NOT: may_alias = true
// LLVM: define {{.*}}@noalias_loads(ptr addrspace(1) noalias {{.*}}readonly %x, {{.*}}ptr addrspace(1) noalias {{.*}}readonly %w, {{.*}}ptr addrspace(1) noalias {{.*}}%out
// PTX: ld.global.nc.f32
// PTX: ld.global.nc.f32
// PTX-NOT: ld.global.nc
// PTX: st.global.f32
use gpujit::prelude::*;

#[gpu_kernel]
pub fn noalias_loads(x: &[f32], w: &[f32], out: &mut [f32]) {
    let i = grid(1);
    if i < out.len() && i < x.len() && i < w.len() {
        out[i] = x[i] * w[i] + out[i];
    }
}
