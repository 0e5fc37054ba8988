use gpujit::prelude::*;

#[gpu_kernel]
fn k(out: &mut [f32]) {
    let v = loop {
        break 1.0;
    };
    out[0] = v;
}

fn main() {}
