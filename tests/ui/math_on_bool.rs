use gpujit::prelude::*;

// rustc reports the missing method: math methods are defined on floats.
#[gpu_kernel]
fn k(x: &[bool], out: &mut [f32]) {
    out[0] = x[0].exp();
}

fn main() {}
