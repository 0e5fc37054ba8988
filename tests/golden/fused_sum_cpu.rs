// A fused reduction as the CPU backend plans it: a thread a group of 1024 contiguous elements, in
// 16 accumulators that LLVM keeps in vector registers (one on AVX-512), the group's bounds checked once
// before each chunk of threads (the flat form's proof) rather than at every load.
// MODE: CPU
// KERNEL: fused_reduce_chunks
//
// IR: kernel fused_reduce_chunks(a0: &[f32], a1: f32, out: &mut [f32]
// IR: gb_{{[0-9]+}}: u64 = ((f_{{[0-9]+}} as u64) * 1024u64);
// IR: acc15_{{[0-9]+}}: f32 = id_{{[0-9]+}};
// IR: for r_{{[0-9]+}} in (0u64..64u64)
// IR-NOT: sync_threads
// IR-NOT: shfl
// HOST: flat.run
// HOST: load <{{(8|16)}} x float>
// HOST: fadd <{{(8|16)}} x float>
// HOST: store <{{(8|16)}} x float>
use gpujit::prelude::*;

pub fn run(dev: &Device) -> gpujit::Result<()> {
    let n = 5000;
    let x = DeviceArray::from_slice(dev, &(0..n).map(|i| (i % 7) as f32).collect::<Vec<_>>())?;
    let s = (expr(&x) * 2.0).sum().value()?;
    assert_eq!(s, 2.0 * (0..n).map(|i| (i % 7) as f32).sum::<f32>());
    Ok(())
}
