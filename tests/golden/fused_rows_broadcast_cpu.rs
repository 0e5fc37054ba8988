// A reduction along the rows of a matrix with a broadcast column and a broadcast row beside it,
// as the CPU backend plans it: each operand a `[m, k]` matrix, the broadcast axis of each one
// element read at index 0 (the column `a1[[f, 0]]`, the row `a2[[0, p]]`), so that the row is
// read as contiguously as the matrix and the lanes of a round are vector loads.
// MODE: CPU
// KERNEL: fused_reduce_rows
//
// IR: kernel fused_reduce_rows(a0: &Array<f32, 2>, a1: &Array<f32, 2>, a2: &Array<f32, 2>, out: &mut [f32]
// IR: a0[[(f_{{[0-9]+}} as u64), i0_{{[0-9]+}}]]
// IR: a1[[(f_{{[0-9]+}} as u64), 0u64]]
// IR: a2[[0u64, i0_{{[0-9]+}}]]
// HOST: flat.run
// HOST: load <{{[0-9]+}} x float>
use gpujit::prelude::*;

pub fn run(dev: &Device) -> gpujit::Result<()> {
    let (m, k) = (37, 300);
    let h: Vec<f32> = (0..m * k).map(|i| (i % 7) as f32).collect();
    let col: Vec<f32> = (0..m).map(|i| (i % 3) as f32).collect();
    let row: Vec<f32> = (0..k).map(|j| (j % 5) as f32).collect();
    let x = DeviceArray::from_shape(dev, &[m, k], &h)?;
    let c = DeviceArray::from_shape(dev, &[m, 1], &col)?;
    let r = DeviceArray::from_slice(dev, &row)?;
    let s = (expr(&x) - &c * &r).sum().axis(1).eval()?.to_vec()?;
    for (i, v) in s.iter().enumerate() {
        assert_eq!(*v, (0..k).map(|j| h[i * k + j] - col[i] * row[j]).sum::<f32>(), "row {i}");
    }
    Ok(())
}
