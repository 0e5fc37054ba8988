// Rust's integer and float bit methods map to the GPU's bit instructions: population count,
// leading zeros, bit reversal, funnel-shift rotation, the high half of a product; a float's bits
// are a move, not a conversion.
// ARGS: &[u32], &[f32], &mut [u32], &mut [f32]
//
// IR: out[(4u64 * i_0)] = (a_1.count_ones() + a_1.leading_zeros());
// IR: a_1.rotate_left(7u32);
// IR: mul_hi(a_1, 2654435769u32);
// IR: g[i_0] = f32::from_bits((f[i_0].to_bits() & 2147483647u32));
// LLVM: @llvm.ctpop.i32
// LLVM: @llvm.fshl.i32
// PTX: popc.b32
// PTX: clz.b32
// PTX: brev.b32
// A rotation by a constant is one funnel shift.
// PTX: shf.l.wrap.b32 {{.*}}, 7;
// PTX: mul.hi.u32
// Clearing the sign bit of the float's bits: an integer `and`, no conversion.
// PTX: and.b32 {{.*}}, 2147483647;
// PTX-NOT: cvt.
//
use gpujit::prelude::*;

#[gpu_kernel]
pub fn bit_methods(x: &[u32], f: &[f32], out: &mut [u32], g: &mut [f32]) {
    let i = grid(1);
    if i < x.len() {
        let a = x[i];
        out[4 * i] = a.count_ones() + a.leading_zeros();
        out[4 * i + 1] = a.reverse_bits();
        out[4 * i + 2] = a.rotate_left(7);
        out[4 * i + 3] = mul_hi(a, 2654435769);
        g[i] = f32::from_bits(f[i].to_bits() & 0x7fff_ffff);
    }
}
