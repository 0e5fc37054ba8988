// Hopper's operations: barriers in shared memory, a TMA box copy completing on one, the
// async-proxy fence, and a warpgroup's `wgmma` m64n64k16 from 1024-byte aligned shared tiles,
// with its fence, commit and wait: inline PTX (LLVM 19 has no intrinsics for them), the
// architecture-specific target `sm_90a`, the accumulators in registers.
// ARGS: &[u64], &mut [f32]
//
// IR: bulk(mbarrier_init, [bar[0u64]], [1u32]);
// IR: bulk(fence_proxy_async, []);
// IR: bulk(mbarrier_expect_tx, [bar[0u64]], [16384u32]);
// IR: bulk(tma_load_2d, [sa[0u64], map[0u64], bar[0u64]], [0i32, 0i32]);
// IR: bulk(mbarrier_wait, [bar[0u64]], [0u32]);
// IR: bulk(wgmma 64 bf16, [acc[0u64], sa[
// IR: bulk(wgmma_wait 0, []);
// LLVM: "mbarrier.init.shared::cta.b64 [$0], $1;"
// LLVM: setp.ne.b32 p, $34, 0; wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16
// PTX: .target sm_90a
// PTX: .shared .align 1024
// PTX: mbarrier.init.shared::cta.b64
// PTX: fence.proxy.async.shared::cta;
// PTX: mbarrier.arrive.expect_tx.shared::cta.b64
// PTX: cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes
// PTX: mbarrier.try_wait.parity.shared::cta.b64
// PTX: wgmma.fence.sync.aligned;
// PTX: wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16
// PTX: wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16
// PTX: wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16
// PTX: wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16
// PTX: wgmma.commit_group.sync.aligned;
// PTX: wgmma.wait_group.sync.aligned 0;
// PTX-NOT: .local
use gpujit::prelude::*;
use half::bf16;

#[gpu_kernel]
pub fn hopper_ops(map: &TensorMap, out: &mut [f32]) {
    let bar = shared_array::<u64, 1>();
    let mut sa = shared_array::<bf16, 4096>();
    let mut acc = local_array::<f32, 32>();
    let t = thread_idx_x();
    #[unroll]
    for i in 0..32 {
        acc[i] = 0.0;
    }
    if t == 0 {
        mbarrier_init(&bar[0], 1);
        fence_proxy_async();
    }
    sync_threads();
    if t == 0 {
        mbarrier_arrive_expect_tx(&bar[0], 16384);
        tma_load_2d(&mut sa[0], map, 0, 0, &bar[0]);
    }
    mbarrier_wait(&bar[0], 0);
    wgmma_fence();
    #[unroll]
    for kk in 0..4 {
        wgmma(&mut acc, &sa[kk * 16], &sa[kk * 16]);
    }
    wgmma_commit();
    wgmma_wait(0);
    #[unroll]
    for i in 0..32 {
        out[t * 32 + i] = acc[i];
    }
}
