// A device function, specialized for the caller's types and inlined.
// ARGS: &[f64], &mut [f64]
//
// IR: out[{{i_[0-9]+}}] = (call#0(x[{{i_[0-9]+}}]) + 1.0f64);
// IR: // device function #0
// IR-NEXT: file "{{.*}}device_call.rs"
// IR-NEXT: kernel square(v: f64) -> f64 {
// The device function is specialized for f64 and inlined: no call remains.
// LLVM-NOT: call {{.*}}@square
// PTX-NOT: .func
// Its square and the caller's `+ 1.0` are not one written `a * b + c`, so they round twice,
// the same on both backends (no fma).
// PTX: mul.rn.f64
// PTX-NEXT: add.rn.f64
// PTX-NOT: fma.rn.f64
//
use gpujit::prelude::*;

#[gpu_device]
pub fn square<T: Float>(v: T) -> T {
    v * v
}

#[gpu_kernel]
pub fn device_call(x: &[f64], out: &mut [f64]) {
    let i = grid(1);
    if i < x.len() {
        out[i] = square(x[i]) + 1.0;
    }
}
