use gpujit::prelude::*;

#[gpu_kernel]
fn k(out: &mut [u64]) {
    let i = grid(2);
    out[0] = i as u64;
}

fn main() {}
