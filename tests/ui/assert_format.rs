use gpujit::prelude::*;

// An assertion's message and a print's text are literal format strings whose specifiers kernels
// support; an assertion records at most 8 values.
#[gpu_kernel]
fn pointer_format(x: &[u32], out: &mut [u32]) {
    assert!(x[0] > 0, "{:p}", x[0]);
    out[0] = x[0];
}

#[gpu_kernel]
fn dynamic_precision(x: &[f32], out: &mut [f32]) {
    assert!(x[0] > 0.0, "{:.*}", 2, x[0]);
    out[0] = x[0];
}

#[gpu_kernel]
fn too_many(x: &[u32], out: &mut [u32]) {
    let a = x[0];
    assert_eq!(a, 1, "{} {} {} {} {} {} {}", a, a, a, a, a, a, a);
    out[0] = a;
}

#[gpu_kernel]
fn print_format(x: &[u32], out: &mut [u32]) {
    println!("{:?x}", x[0]);
    out[0] = x[0];
}

fn main() {}
