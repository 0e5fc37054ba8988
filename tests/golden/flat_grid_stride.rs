// Numba's grid-stride loop over independent elements. On the CPU backend a one-dimensional
// launch runs it flat (`lower/flat.rs`): each worker a contiguous chunk of the elements, whose
// bounds checks one comparison an array proves before the chunk, so that the chunk's loop is
// vectorized; the checked loop is kept for the rest, and the blocks as launched for other grids.
// ARGS: &[f32], &[f32], &mut [f32]
//
// IR: kernel flat_grid_stride(x: &[f32], y: &[f32], out: &mut [f32])
// IR: while (i_0 < out.len())
// HOST: define {{.*}}i32 @gpujit_host_entry(
// HOST: flat.run
// HOST: vector.body
// HOST: load <{{[0-9]+}} x float>
// HOST: fadd <{{[0-9]+}} x float>
// HOST: store <{{[0-9]+}} x float>
// HOST: call {{.*}}@gpujit.oob_report(
// HOST: blk.body
// PTX: .visible .entry flat_grid_stride(
// PTX-NOT: .local
use gpujit::prelude::*;

#[gpu_kernel]
pub fn flat_grid_stride(x: &[f32], y: &[f32], out: &mut [f32]) {
    let mut i = grid(1);
    while i < out.len() {
        out[i] = x[i] + y[i];
        i += grid_size(1);
    }
}
