// A reduction along the columns of a contiguous matrix as the CPU backend plans it: thread t adds
// the rows of its block into its row of partial results, column after column (contiguous: the
// loop vectorizer's vector loads, adds and stores), every index proven in bounds before the chunk;
// then a thread a column of the few partial rows.
// MODE: CPU
// KERNEL: fused_reduce_row_blocks
//
// IR: kernel fused_reduce_row_blocks(a0: &Array<f32, 2>, out: &mut Array<f32, 2>
// IR: for rr_{{[0-9]+}} in (1u32..(k_{{[0-9]+}} / parts_{{[0-9]+}}))
// IR: for c_{{[0-9]+}} in (0u32..m_{{[0-9]+}})
// HOST: flat.run
// HOST: load <{{(8|16)}} x float>
// HOST: fadd <{{(8|16)}} x float>
// HOST: store <{{(8|16)}} x float>
use gpujit::prelude::*;

pub fn run(dev: &Device) -> gpujit::Result<()> {
    let (k, m) = (301, 300);
    let h: Vec<f32> = (0..k * m).map(|i| (i % 7) as f32).collect();
    let x = DeviceArray::from_shape(dev, &[k, m], &h)?;
    let s = expr(&x).sum().axis(0).eval()?.to_vec()?;
    for (c, v) in s.iter().enumerate() {
        assert_eq!(*v, (0..k).map(|r| h[r * m + c]).sum::<f32>());
    }
    Ok(())
}
