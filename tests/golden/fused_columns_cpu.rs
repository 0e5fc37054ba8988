// A reduction along the columns of a contiguous matrix as the CPU backend plans it, one kernel
// launched twice. First (`phase == 0`) thread t adds the rows of its block into its row of
// partial results, column after column (contiguous: the loop vectorizer's vector loads, adds
// and stores); then (`phase == 1`) thread c adds column c of the few partial rows and of the
// rows left over into the output. Every index is proven in bounds before the chunk, each
// phase's in its own launch. A generated kernel has no checked copy of its flat loop (where a
// proof failed, the grid would run the launch: `flat_refuse_unproven`), so two loops are
// vectorized, one a phase, not three.
// MODE: CPU
// KERNEL: fused_reduce_row_blocks
//
// IR: kernel fused_reduce_row_blocks(a0: &Array<f32, 2>, part: &mut Array<f32, 2>, out: &mut [f32], m: u32, k: u32, parts: u32, id: f32, count: f32, phase: u32)
// IR: if (phase_{{[0-9]+}} == 0u32)
// IR: part[[(t_{{[0-9]+}} as u64), (c_{{[0-9]+}} as u64)]] = acc_{{[0-9]+}};
// IR: for rr_{{[0-9]+}} in (1u32..(k_{{[0-9]+}} / parts_{{[0-9]+}}))
// IR: for c_{{[0-9]+}} in (0u32..m_{{[0-9]+}})
// IR: } else {
// IR: for q_{{[0-9]+}} in (0u64..(part.shape(0) as u64))
// IR: acc_{{[0-9]+}}: f32 = (acc_{{[0-9]+}} + part[[q_{{[0-9]+}}, (t_{{[0-9]+}} as u64)]]);
// IR: for rl_{{[0-9]+}} in (((part.shape(0) as u64) * ((k_{{[0-9]+}} as u64) / (part.shape(0) as u64)))..(k_{{[0-9]+}} as u64))
// IR: out[(t_{{[0-9]+}} as u64)] = acc_{{[0-9]+}};
// HOST: flat.run
// HOST: load <{{(8|16)}} x float>
// HOST: fadd <{{(8|16)}} x float>
// HOST: store <{{(8|16)}} x float>
// HOST: {{^}}vector.body{{[0-9]*}}:
// HOST-NOT: {{^}}vector.body{{[0-9]*}}:
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
