use gpujit::prelude::*;

#[gpu_kernel(fastmath, unroll = 4)]
fn k(x: &[f32], out: &mut [f32]) {
    out[0] = x[0];
}

#[gpu_kernel(launch_bounds = 0)]
fn k2(x: &[f32], out: &mut [f32]) {
    out[0] = x[0];
}

#[gpu_kernel(fp_contract = 0)]
fn k3(x: &[f32], out: &mut [f32]) {
    out[0] = x[0];
}

fn main() {}
