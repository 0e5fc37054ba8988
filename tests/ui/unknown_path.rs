use gpujit::prelude::*;

#[gpu_kernel]
fn k(out: &mut [f32]) {
    out[0] = std::f32::consts::TWO_PI;
}

fn main() {}
