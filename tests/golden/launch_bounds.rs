// Kernel options: launch bounds and a register cap become PTX directives.
// ARGS: &mut [f32]
//
// IR: #[options(fastmath = false, launch_bounds = Some(256)/Some(2), max_registers = Some(64)
// PTX: .maxntid 256, 1, 1
// PTX: .minnctapersm 2
// PTX: .maxnreg 64
//
use gpujit::prelude::*;

#[gpu_kernel(launch_bounds = (256, 2), max_registers = 64)]
pub fn launch_bounds(x: &mut [f32]) {
    let i = grid(1);
    if i < x.len() {
        x[i] += 1.0;
    }
}
