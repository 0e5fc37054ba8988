use gpujit::prelude::*;

#[gpu_kernel]
fn k(x: &[f32], out: &mut [f32]) {
    let i = grid(1);
    out[i] = x[i];
}

fn main() -> gpujit::Result<()> {
    let dev = Device::cpu();
    let x = DeviceArray::from_slice(&dev, &[1.0f32])?;
    let mut out = DeviceArray::<f32>::zeros(&dev, 1)?;
    launch!(k[1, 32](x, &mut out))
}
