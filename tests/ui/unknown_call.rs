use gpujit::prelude::*;

// Kernels call `#[gpu_device]` functions only: a plain Rust function is refused at the call.
fn helper(v: f32) -> f32 {
    v
}

#[gpu_kernel]
fn k(x: &[f32], out: &mut [f32]) {
    out[0] = helper(x[0]);
}

fn main() {}
