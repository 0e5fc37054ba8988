use gpujit::prelude::*;

// A constant a kernel names has a scalar type; so has a const generic parameter.
const NAME: &str = "tile";

#[gpu_kernel]
fn not_scalar(out: &mut [f32]) {
    let n = NAME;
    out[0] = 1.0;
}

#[gpu_kernel]
fn char_param<const C: char>(out: &mut [f32]) {
    out[0] = 1.0;
}

fn main() {}
