use gpujit::prelude::*;

#[gpu_kernel]
fn k(x: &[f32], out: &mut [f32]) {
    let v = vec![x[0]];
}

fn main() {}
