use gpujit::prelude::*;

#[gpu_kernel]
fn k(x: &[f32], out: &mut [f32]) {
    x[0] = out[0];
}

fn main() {}
