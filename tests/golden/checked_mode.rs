// `GPUJIT_CHECK=1`: bounds checks, and each float written to an array tested for NaN and
// infinity by its exponent bits (so `fastmath` cannot fold the test away); the first such write is
// recorded with the NON_FINITE marker (axis u32::MAX in the high half of word 1) and the thread
// goes on.
// ARGS: &[f32], &mut [f32]
// MODE: GPUJIT_CHECK=1
//
// IR: #[options({{.*}}boundscheck = true, {{.*}}finitecheck = true
// LLVM: store float %sqrt, ptr addrspace(1)
// LLVM-NEXT: %fbits = bitcast float %sqrt to i32
// LLVM-NEXT: %exp = and i32 %fbits, 2139095040
// LLVM-NEXT: %nonfinite = icmp eq i32 %exp, 2139095040
// The record: array 1 (`out`) with the NON_FINITE axis, then the float's bits, part 0 with one
// index, and the index.
// LLVM: store i64 -4294967295, ptr addrspace(1) getelementptr inbounds (i8, ptr addrspace(1) @gpujit_oob_record, i64 8)
// LLVM: store i64 %bits, ptr addrspace(1) getelementptr inbounds (i8, ptr addrspace(1) @gpujit_oob_record, i64 88)
// LLVM-NEXT: store i64 4294967296, ptr addrspace(1) getelementptr inbounds (i8, ptr addrspace(1) @gpujit_oob_record, i64 96)
// LLVM-NEXT: store i64 %grid, ptr addrspace(1) getelementptr inbounds (i8, ptr addrspace(1) @gpujit_oob_record, i64 104)
// PTX: .visible .global .align 8 .b8 gpujit_oob_record[136];
// PTX: and.b32 {{.*}}, 2139095040;
// PTX: atom.global.cas.b64
//
use gpujit::prelude::*;

#[gpu_kernel(fastmath)]
pub fn checked_mode(x: &[f32], out: &mut [f32]) {
    let i = grid(1);
    if i < x.len() {
        out[i] = x[i].sqrt();
    }
}
