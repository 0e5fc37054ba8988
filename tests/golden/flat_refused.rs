// A grid-stride loop whose iterations depend on the thread's earlier ones (a running sum) runs
// on the CPU backend as its grid, block by block in lockstep: no flat function, no vector code.
// ARGS: &[i64], &mut [i64]
//
// IR: kernel flat_refused(x: &[i64], out: &mut [i64])
// HOST: define {{.*}}i32 @gpujit_host_entry(
// HOST-NOT: flat.
// HOST: blk.body
// HOST-NOT: flat.
// PTX: .visible .entry flat_refused(
use gpujit::prelude::*;

#[gpu_kernel]
pub fn flat_refused(x: &[i64], out: &mut [i64]) {
    let mut i = grid(1);
    let mut acc = 0i64;
    while i < out.len() {
        acc += x[i];
        out[i] = acc;
        i += grid_size(1);
    }
}
