use gpujit::prelude::*;

// Complex numbers have f32 or f64 parts; `Complex { .. }` needs both fields; `Complex` has the
// associated functions the kernel language knows; complex numbers are not ordered (rustc says
// so: kernel bodies are type-checked).
#[gpu_kernel]
fn int_parts(z: &[Complex<i32>], out: &mut [i32]) {
    out[0] = z[0].re;
}

#[gpu_kernel]
fn one_field(out: &mut [Complex<f32>]) {
    out[0] = Complex { re: 1.0f32 };
}

#[gpu_kernel]
fn unknown_function(out: &mut [Complex<f32>]) {
    out[0] = Complex::<f32>::i();
}

#[gpu_kernel]
fn ordered(z: &[Complex<f32>], out: &mut [bool]) {
    out[0] = z[0] < z[1];
}

fn main() {}
