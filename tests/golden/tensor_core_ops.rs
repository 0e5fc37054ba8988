// A warp's tensor-core step: `cp_async` of 16 bytes (`.cg`, L2 only) into shared memory, a
// commit and a wait, `ldmatrix` (x4 and x2, transposed) into parts of per-thread arrays, and
// `mma_sync` on them: LLVM's NVVM intrinsics, the fragments in registers.
// ARGS: &[bf16], &mut [f32]
//
// IR: bulk(copy_async 8 Default, [tile[
// IR: bulk(wait 0, []);
// IR: bulk(ldmatrix 4, [fa[0u64], tile[
// IR: bulk(ldmatrix 2 trans, [fb[4u64], tile[
// IR: bulk(mma Bf16, [acc[0u64], fa[0u64], fb[4u64]]);
// LLVM: call void @llvm.nvvm.cp.async.cg.shared.global.16(
// LLVM: call { i32, i32, i32, i32 } @llvm.nvvm.ldmatrix.sync.aligned.m8n8.x4.b16.p3(
// LLVM: @llvm.nvvm.mma.m16n8k16.row.col.bf16(
// PTX: cp.async.cg.shared.global [%rd{{[0-9]+}}], [%rd{{[0-9]+}}], 16;
// PTX: cp.async.commit_group;
// PTX: cp.async.wait_group 0;
// PTX: ldmatrix.sync.aligned.m8n8.x4.shared.b16
// PTX: ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16
// PTX: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
// PTX-NOT: .local
use gpujit::prelude::*;
use half::bf16;

#[gpu_kernel]
pub fn tensor_core_ops(x: &[bf16], out: &mut [f32]) {
    let mut tile = shared_array::<bf16, 256>();
    let mut fa = local_array::<bf16, 8>();
    let mut fb = local_array::<bf16, 8>();
    let mut acc = local_array::<f32, 4>();
    let l = thread_idx_x();
    cp_async::<8>(&mut tile[l * 8], &x[l * 8]);
    cp_async_commit();
    cp_async_wait(0);
    sync_threads();
    for i in 0..4 {
        acc[i] = 0.0;
    }
    ldmatrix_x4(&mut fa, &tile[(l % 16) * 16 + (l / 16) * 8]);
    ldmatrix_x2_trans(&mut fb[4..], &tile[(l % 16) * 16]);
    mma_sync(&mut acc, &fa, &fb[4..]);
    out.store::<4>(l * 4, &acc);
}
