use gpujit::prelude::*;

// Not a gpujit syntax error: rustc type-checks the kernel body and reports the mismatch.
#[gpu_kernel]
fn k(x: &[f32], out: &mut [f32]) {
    let i = grid(1);
    out[i] = x[i] > 0.0;
}

fn main() {}
