use gpujit::prelude::*;

#[gpu_kernel]
fn k(x: &[f32], out: &mut [f32]) {
    #[unroll(0)]
    for i in 0..4 {
        out[i] = x[i];
    }
}

#[gpu_kernel]
fn k2(x: &[f32], out: &mut [f32]) {
    #[inline]
    for i in 0..4 {
        out[i] = x[i];
    }
}

#[gpu_kernel]
fn k3(x: &[f32], out: &mut [f32]) {
    #[unroll(n)]
    for i in 0..4 {
        out[i] = x[i];
    }
}

fn main() {}
