use gpujit::prelude::*;

const TILE: usize = 32;

#[gpu_kernel]
fn misspelled(out: &mut [f32]) {
    out[0] = TILEE as f32;
}

fn main() {}
