// The fused expression of `fused_add` as the CPU backend generates it: one element a thread
// (no groups), which the CPU runs flat, its loop vectorized by LLVM.
// MODE: CPU
//
// IR: kernel fused(a0: &[f32], a1: f32, a2: &[f32], o0: &mut [f32], n: u32)
// IR: while (f_{{[0-9]+}} < groups_{{[0-9]+}})
// No tail after the loop (one element a thread has none).
// IR-NOT: tt_
// HOST: flat.run
// HOST: vector.body
// HOST: load <{{[0-9]+}} x float>
// HOST: store <{{[0-9]+}} x float>
use gpujit::prelude::*;

pub fn run(dev: &Device) -> gpujit::Result<()> {
    let x = DeviceArray::from_slice(dev, &vec![1.0f32; 1000])?;
    let y = DeviceArray::from_slice(dev, &vec![2.0f32; 1000])?;
    let mut out = DeviceArray::<f32>::zeros(dev, 1000)?;
    (expr(&x) * 2.0 + &y).eval_into(&mut out)?;
    assert_eq!(out.to_vec()?, vec![4.0; 1000]);
    Ok(())
}
