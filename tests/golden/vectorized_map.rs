// `#[gpu_vectorize]`: a scalar function applied elementwise, fused into the expression's kernel
// (the device function is inlined: no call remains).
//
// IR: call#0(
// IR: // device function #0
// LLVM-NOT: call {{.*}}@rel_diff
// PTX-NOT: .func
// PTX: div.rn.f32
use gpujit::prelude::*;

#[gpu_vectorize]
pub fn rel_diff(x: f32, y: f32) -> f32 {
    (x - y) / (x.abs() + y.abs() + 1.0)
}

pub fn run(dev: &Device) -> gpujit::Result<()> {
    let x = DeviceArray::from_slice(dev, &vec![3.0f32; 100])?;
    let y = DeviceArray::from_slice(dev, &vec![1.0f32; 100])?;
    let d = rel_diff::map(&x, &y).eval()?;
    assert_eq!(d.to_vec()?, vec![0.4; 100]);
    Ok(())
}
