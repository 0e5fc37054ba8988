use gpujit::prelude::*;

#[gpu_kernel(fastmath)]
fn k(x: &[f32], out: &mut [f32]) {
    out[0] = x[0];
}

fn main() {}
