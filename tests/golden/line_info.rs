// `#[gpu_kernel(lineinfo)]`: the PTX carries the kernel's Rust file and lines (`.file`, `.loc`),
// which Nsight Compute, compute-sanitizer and cuda-gdb show; a device function's lines too, where
// it was inlined.
// ARGS: &[f32], &mut [f32]
//
// IR: #[options({{.*}}lineinfo = true
// IR: file "{{.*}}line_info.rs"
// LLVM: DICompileUnit(language: DW_LANG_Rust{{.*}}emissionKind: LineTablesOnly
// LLVM: !DIFile(filename: "line_info.rs"
// Code for debugging is not asked for (`.target sm_80, debug` would make ptxas compile as -G):
// PTX: .target sm_80{{$}}
// The load is line 30's, the doubling the device function's line 23 (inlined), the store 31's.
// PTX: .loc{{\s+}}1 30 9
// PTX-NEXT: ld.global{{(.nc)?}}.f32
// PTX: .loc{{\s+}}1 23 5
// PTX-NEXT: add.rn.f32
// PTX: .loc{{\s+}}1 31 9
// PTX: .file{{\s+}}1 "{{.*}}line_info.rs"
use gpujit::prelude::*;

#[gpu_device]
pub fn twice(v: f32) -> f32 {
    v * 2.0
}

#[gpu_kernel(lineinfo, fp_contract = false)]
pub fn line_info(x: &[f32], out: &mut [f32]) {
    let i = grid(1);
    if i < x.len() {
        let v = x[i];
        out[i] = twice(v) + 1.0;
    }
}
