use gpujit::prelude::*;

#[gpu_kernel]
fn k(x: &[f32], out: &mut [f32]) {
    out[0] = x[1..3];
}

fn main() {}
