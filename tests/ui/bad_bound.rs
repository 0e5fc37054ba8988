use gpujit::prelude::*;

#[gpu_kernel]
fn k<T: Clone>(x: &[T], out: &mut [T]) {
    out[0] = x[0];
}

fn main() {}
