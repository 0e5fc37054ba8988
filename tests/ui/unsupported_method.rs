use gpujit::prelude::*;

#[gpu_kernel]
fn k(x: &[f32], out: &mut [f32]) {
    let i = grid(1);
    out[i] = x[i].next_up();
}

fn main() {}
