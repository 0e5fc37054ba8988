// Rust's semantics where C's differ: saturating float-to-int casts, and integer division by zero
// giving 0 (remainder: the dividend) instead of undefined behaviour.
// ARGS: &[f32], &[i32], &mut [i32], &mut [i32]
//
// IR: n_1: i32 = (x[i_0] as i32);
// IR: q[i_0] = (n_1 / d[i_0]);
// A float-to-int cast saturates (NaN gives 0).
// LLVM: @llvm.fptosi.sat.i32.f32
// PTX: cvt.rzi.s32.f32
// PTX: setp.nan.f32
// Division by zero is tested for: no trap, no undefined result.
// PTX: setp.eq.s32
// PTX: div.s32
//
use gpujit::prelude::*;

#[gpu_kernel]
pub fn casts_and_division(x: &[f32], d: &[i32], q: &mut [i32], r: &mut [i32]) {
    let i = grid(1);
    if i < x.len() {
        let n = x[i] as i32;
        q[i] = n / d[i];
        r[i] = n % d[i];
    }
}
