use gpujit::prelude::*;

#[gpu_kernel]
fn operand_out_of_range(x: &[u32], out: &mut [u32]) {
    let i = grid(1);
    let mut r = 0u32;
    ptx_asm!("add.u32 {0}, {1}, {2};", out(reg) r, in(reg) x[i]);
    out[i] = r;
}

#[gpu_kernel]
fn output_not_a_variable(x: &[u32], out: &mut [u32]) {
    let i = grid(1);
    ptx_asm!("mov.u32 {0}, {1};", out(reg) out[i], in(reg) x[i]);
}

#[gpu_kernel]
fn unknown_class(x: &[u32], out: &mut [u32]) {
    let i = grid(1);
    let mut r = 0u32;
    ptx_asm!("mov.u32 {0}, {1};", out(reg) r, in(freg) x[i]);
    out[i] = r;
}

#[gpu_kernel]
fn lone_brace(x: &[u32], out: &mut [u32]) {
    let i = grid(1);
    let mut r = 0u32;
    ptx_asm!("{ mov.u32 {0}, {1};", out(reg) r, in(reg) x[i]);
    out[i] = r;
}

#[gpu_kernel]
fn address_of_a_variable(x: &[u32], out: &mut [u32]) {
    let i = grid(1);
    let v = x[i];
    let mut r = 0u32;
    ptx_asm!("ld.global.u32 {0}, [{1}];", out(reg) r, in(reg) &v);
    out[i] = r;
}

fn main() {}
