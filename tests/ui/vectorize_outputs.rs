use gpujit::prelude::*;

#[gpu_vectorize]
fn three_for_two(x: f32) -> (f32, f32) {
    (x, x, x)
}

#[gpu_vectorize]
fn named_tuple(x: f32) -> (f32, f32) {
    let t = (x, x);
    t
}

#[gpu_vectorize]
fn bare_return(x: f32) -> (f32, f32) {
    if x > 0.0 {
        return;
    }
    (x, x)
}

fn main() {}
