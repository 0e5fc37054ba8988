// A reduction along the rows of a contiguous matrix as the CPU backend plans it: a thread a row,
// 16 elements a round into 16 accumulators, the row's index and each round's elements proven in
// bounds before a chunk of threads (a loop to `k / 16` the launch sets), so that the round's
// loads are vector loads of consecutive elements (64-bit offsets in the proven loop; LLVM's SLP
// pairs the accumulators two by two, the pairing the fold's tree suggests).
// MODE: CPU
// KERNEL: fused_reduce_rows
//
// IR: kernel fused_reduce_rows(a0: &Array<f32, 2>, out: &mut [f32]
// IR: for r_{{[0-9]+}} in (0u32..(k_{{[0-9]+}} / 16u32))
// IR-NOT: sync_threads
// IR-NOT: shfl
// HOST: flat.run
// HOST: flat.proof
// HOST: load <{{[0-9]+}} x float>
// HOST: fadd <{{[0-9]+}} x float>
use gpujit::prelude::*;

pub fn run(dev: &Device) -> gpujit::Result<()> {
    let (m, k) = (300, 301);
    let h: Vec<f32> = (0..m * k).map(|i| (i % 7) as f32).collect();
    let x = DeviceArray::from_shape(dev, &[m, k], &h)?;
    let s = expr(&x).sum().axis(1).eval()?.to_vec()?;
    for (r, v) in s.iter().enumerate() {
        assert_eq!(*v, h[r * k..(r + 1) * k].iter().sum::<f32>());
    }
    Ok(())
}
