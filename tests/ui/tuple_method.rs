use gpujit::prelude::*;

// A tuple-valued method is destructured or has a field taken; its field 2 does not exist; an
// overflow flag has no method of its own.
#[gpu_kernel]
fn whole(x: &[f32], out: &mut [f32]) {
    let t = x[0].sin_cos();
    out[0] = t;
}

#[gpu_kernel]
fn field(x: &[i32], out: &mut [i32]) {
    out[0] = x[0].overflowing_add(1).2;
}

#[gpu_kernel]
fn hidden(x: &[i32], out: &mut [bool]) {
    out[0] = x[0].add_overflows(1);
}

#[gpu_kernel]
fn int_from_bits(x: &[u32], out: &mut [i32]) {
    out[0] = i32::from_bits(x[0]);
}

fn main() {}
