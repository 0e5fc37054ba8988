use gpujit::prelude::*;

fn helper(v: f32) -> f32 {
    v
}

#[gpu_kernel]
fn k(x: &[f32], out: &mut [f32]) {
    out[0] = helper(x[0]);
}

fn main() {}
