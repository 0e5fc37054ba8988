use gpujit::prelude::*;

// rustc reports the missing method: integers have no `sqrt`.
#[gpu_kernel]
fn k(x: &[i32], out: &mut [i32]) {
    out[0] = x[0].sqrt();
}

fn main() {}
