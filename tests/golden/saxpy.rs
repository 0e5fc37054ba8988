// saxpy over slices, Numba's grid-stride loop: the baseline the speed properties are read on.
// ARGS: f32, &[f32], &mut [f32]
//
// IR: kernel saxpy(a: f32, x: &[f32], y: &mut [f32])
// IR: for {{i_[0-9]+}} in ({{start_[0-9]+}}..x.len()).step_by(grid_size_x())
// IR-NEXT: y[{{i_[0-9]+}}] = ((a_0 * x[{{i_[0-9]+}}]) + y[{{i_[0-9]+}}]);
//
// LLVM: define ptx_kernel void @saxpy(
// LLVM-SAME: ptr addrspace(1) noalias nocapture readonly %x
//
// A simple kernel keeps everything in registers: no local memory, no calls.
// PTX: .visible .entry saxpy(
// PTX-NOT: .local
// PTX-NOT: call
// PTX: ld.global{{(.nc)?}}.f32
// PTX: ld.global{{(.nc)?}}.f32
// PTX: st.global.f32
// PTX90: .target sm_90
// PTX90-NOT: .local
//
//
use gpujit::prelude::*;

#[gpu_kernel]
pub fn saxpy(a: f32, x: &[f32], y: &mut [f32]) {
    let start = grid(1);
    for i in (start..x.len()).step_by(grid_size(1)) {
        y[i] = a * x[i] + y[i];
    }
}
