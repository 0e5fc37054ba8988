use gpujit::prelude::*;

#[gpu_kernel]
fn k(out: &mut [f32]) {
    'outer: for i in 0..4 {
        out[i] = 1.0;
    }
}

fn main() {}
