use gpujit::prelude::*;

#[gpu_kernel]
fn k(x: &[f32], out: &mut [f32]) {
    let f = |v: f32| v * 2.0;
    out[0] = x[0];
}

fn main() {}
