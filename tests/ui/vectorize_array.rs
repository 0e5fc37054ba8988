use gpujit::prelude::*;

#[gpu_vectorize]
fn scale(x: &[f32], k: f32) -> f32 {
    x[0] * k
}

#[gpu_vectorize]
fn nothing(x: f32) {
    let y = x;
}

fn main() {}
