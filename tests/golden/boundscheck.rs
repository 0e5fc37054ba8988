// `boundscheck`: out-of-range indices are skipped and recorded in the module's OOB record.
// ARGS: &[f32], &mut [f32]
//
// IR: #[options({{.*}}boundscheck = true
// The first out-of-range access is recorded in the module's OOB record, read after the launch.
// PTX: .visible .global .align 8 .b8 gpujit_oob_record[136];
// PTX: atom.global.cas.b64
// PTX: st.global.u64 [gpujit_oob_record+8]
//
use gpujit::prelude::*;

#[gpu_kernel(boundscheck)]
pub fn boundscheck(x: &[f32], out: &mut [f32]) {
    let i = grid(1);
    out[i] = x[i + 1];
}
