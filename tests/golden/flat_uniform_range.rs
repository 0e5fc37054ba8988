// A matrix-vector product, a thread a row: the row's elements at `a[i * n + j]`, `n` known only
// at the launch. On the CPU backend the flat plan proves every access in bounds before a chunk
// from the launch's values (the largest `i`, `j` and `n`, in 128 bits), so the chunk's loop
// runs without a check; the checked loop is kept for chunks the proof does not cover.
// ARGS: &[f32], &[f32], &mut [f32], usize
//
// IR: kernel flat_uniform_range(a: &[f32], x: &[f32], y: &mut [f32], n: u64)
// IR: for j_{{[0-9]+}} in (0u64..n_{{[0-9]+}})
// IR: a[((i_{{[0-9]+}} * n_{{[0-9]+}}) + j_{{[0-9]+}})]
// HOST: define {{.*}}i32 @gpujit_host_entry(
// HOST: flat.run
// HOST: mul {{.*}}i128
// HOST: flat.proof
// HOST: call {{.*}}@gpujit.oob_report(
// PTX: .visible .entry flat_uniform_range(
use gpujit::prelude::*;

#[gpu_kernel]
pub fn flat_uniform_range(a: &[f32], x: &[f32], y: &mut [f32], n: usize) {
    let i = grid(1);
    if i < y.len() {
        let mut acc = 0.0f32;
        for j in 0..n {
            acc += a[i * n + j] * x[j];
        }
        y[i] = acc;
    }
}
