// Dynamic shared memory, sized at launch: an extern shared array.
// ARGS: &[f64], &mut [f64]
//
// IR: shared buf: [f64; []];
// PTX: .extern .shared .align 16 .b8 gpujit_dynamic_shared[];
// PTX: st.shared.f64
// PTX: bar.sync 0;
// PTX: ld.shared.f64
//
use gpujit::prelude::*;

#[gpu_kernel]
pub fn extern_shared(x: &[f64], out: &mut [f64]) {
    let mut buf = dynamic_shared::<f64>();
    let t = thread_idx_x();
    let i = grid(1);
    if i < x.len() {
        buf[t] = x[i];
    }
    sync_threads();
    if i < x.len() {
        out[i] = buf[block_dim_x() - 1 - t];
    }
}
