// `grid_sync()`: a barrier across the grid (a cooperative launch).
// ARGS: &mut [u32]
//
// IR: grid_sync();
// The grid barrier counts arrivals in a module global, with fences around it.
// PTX: .visible .global .align 8 .b8 gpujit_grid_barrier[8];
// PTX: bar.sync 0;
// PTX: membar.gl;
// PTX: ld.volatile.global.u32
//
use gpujit::prelude::*;

#[gpu_kernel]
pub fn grid_barrier(x: &mut [u32]) {
    let i = grid(1);
    if i < x.len() {
        x[i] = 1;
    }
    grid_sync();
    if i == 0 {
        x[0] = x[x.len() - 1] + 1;
    }
}
