// A generic kernel specialized for f64: the type parameter is gone from the IR.
// ARGS: f64, &[f64], &mut [f64]
//
// IR: kernel generic_axpy(a: f64, x: &[f64], y: &mut [f64])
// IR-NOT: T
// PTX: ld.param.f64
// PTX: ld.global{{(.nc)?}}.f64
// PTX: st.global.f64
//
use gpujit::prelude::*;

#[gpu_kernel]
pub fn generic_axpy<T: Float>(a: T, x: &[T], y: &mut [T]) {
    let i = grid(1);
    if i < x.len() {
        y[i] = a * x[i] + y[i];
    }
}
