// f16 arithmetic: computed in f32 and rounded back to nearest even.
// ARGS: &[f16], &[f16], &mut [f16]
//
// IR: out[{{i_[0-9]+}}] = ((x[{{i_[0-9]+}}] * y[{{i_[0-9]+}}]) + x[{{i_[0-9]+}}]);
// 16-bit floats move as their bits and compute with f16 instructions where the target has them.
// The inputs are read through the non-coherent cache (`noalias readonly` parameters).
// PTX: ld.global.nc.u16
// PTX: mul.rn.f16
// PTX-NEXT: add.rn.f16
// PTX: st.global.b16
//
use gpujit::prelude::*;

#[gpu_kernel]
pub fn half_arith(x: &[f16], y: &[f16], out: &mut [f16]) {
    let i = grid(1);
    if i < x.len() {
        out[i] = x[i] * y[i] + x[i];
    }
}
