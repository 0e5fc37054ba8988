// Inline PTX (`ptx_asm!`): the template lands in the PTX between LLVM's inline-asm markers with
// the operands in their registers; outputs come back into locals, an `inout` operand is one
// register read and written, and `{{ }}` gives PTX's braces.
// ARGS: &[u32], &[f32], &mut [u32], &mut [f32]
//
// IR: asm("mul.hi.u32 {0}, {1}, {2};", [Out
// LLVM: call i32 asm sideeffect "mul.hi.u32 $0, $1, $2;", "=r,r,r,~{memory}"
// LLVM: asm sideeffect "fma.rn.f32 $0, $1, $2, $0;", "=f,f,f,0,~{memory}"
// PTX: // begin inline asm
// PTX-NEXT: mul.hi.u32 %r{{[0-9]+}}, %r{{[0-9]+}}, %r{{[0-9]+}};
// PTX: fma.rn.f32 %f{{[0-9]+}}, %f{{[0-9]+}}, %f{{[0-9]+}}, %f{{[0-9]+}};
// An address operand (`&x[i]`) is the element's 64-bit address, computed outside the asm:
// PTX: ld.global.cg.f32 %f{{[0-9]+}}, [%rd{{[0-9]+}}];
// PTX: { .reg .b32 t; mov.b32 t, %r{{[0-9]+}}; mov.b32 %r{{[0-9]+}}, t; }
use gpujit::prelude::*;

#[gpu_kernel]
pub fn inline_ptx(a: &[u32], x: &[f32], hi: &mut [u32], acc: &mut [f32]) {
    let i = grid(1);
    if i < hi.len() {
        let mut h = 0u32;
        ptx_asm!("mul.hi.u32 {0}, {1}, {2};", out(reg) h, in(reg) a[i], in(reg) 0x9e3779b9u32);
        let mut s = acc[i];
        ptx_asm!("fma.rn.f32 {0}, {1}, {2}, {0};", inout(reg) s, in(reg) x[i], in(reg) 2.0f32);
        let mut xi = 0.0f32;
        ptx_asm!("ld.global.cg.f32 {0}, [{1}];", out(reg) xi, in(reg) &x[i]);
        s += xi;
        let mut copy = 0u32;
        ptx_asm!("{{ .reg .b32 t; mov.b32 t, {1}; mov.b32 {0}, t; }}", out(reg) copy, in(reg) h);
        hi[i] = copy;
        acc[i] = s;
    }
}
