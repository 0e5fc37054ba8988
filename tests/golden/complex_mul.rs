// Complex numbers are `{ re, im }` pairs: a complex scalar parameter is two words, an element
// is loaded and stored part by part (a `Complex<f32>` is 4-aligned, as Rust's), a product is
// num-complex's four multiplications, and no call is left for any of it.
// ARGS: Complex<f32>, &[Complex<f32>], &[Complex<f32>], &mut [Complex<f32>]
//
// IR: kernel complex_mul(a: Complex<f32>, z: &[Complex<f32>], w: &[Complex<f32>], out: &mut [Complex<f32>])
// IR: out[i_1] = (((z[i_1] * w[i_1]) + a_0) * 2.0f32);
// A field assigned in place writes only that field.
// IR: t_2: f32 = out[i_1].re;
// IR-NEXT: out[i_1].re = out[i_1].im;
// IR-NEXT: out[i_1].im = t_2;
// LLVM: define ptx_kernel void @complex_mul(float %0, float %1, ptr addrspace(1)
// PTX: .param .f32 complex_mul_param_0
// PTX: .param .f32 complex_mul_param_1
// PTX: ld.global{{(.nc)?}}.f32 {{.*}}+4];
// PTX: mul.rn.f32
// PTX-NEXT: mul.rn.f32
// PTX-NEXT: sub.rn.f32
// PTX-NEXT: mul.rn.f32
// PTX-NEXT: mul.rn.f32
// PTX-NEXT: add.rn.f32
// PTX-NOT: call
// The swap of the parts is folded into the two stores.
// PTX: st.global.f32 [{{.*}}],
// PTX-NEXT: st.global.f32 [{{.*}}+4],
//
use gpujit::prelude::*;

#[gpu_kernel]
pub fn complex_mul(a: Complex<f32>, z: &[Complex<f32>], w: &[Complex<f32>], out: &mut [Complex<f32>]) {
    let i = grid(1);
    if i < z.len() {
        out[i] = (z[i] * w[i] + a) * 2.0;
        let t = out[i].re;
        out[i].re = out[i].im;
        out[i].im = t;
    }
}
