use gpujit::prelude::*;

#[gpu_kernel]
fn k(x: Vec<f32>, out: &mut [f32]) {
    out[0] = 1.0;
}

fn main() {}
