//! A 2-D stencil (the 5-point Laplacian) on a strided view: the interior of a larger grid, every
//! other row, without copying. Checked against a host computation.
//!
//! ```text
//! cargo run --release --example stencil       # GPUJIT_DEVICE=cpu|cuda to choose
//! ```

use gpujit::prelude::*;

#[gpu_kernel]
fn laplacian(u: &Array<f32, 2>, out: &mut Array<f32, 2>) {
    let (j, i) = grid(2);
    let (rows, cols) = (u.shape(0), u.shape(1));
    if i >= 1 && j >= 1 && i + 1 < rows && j + 1 < cols {
        out[[i, j]] = u[[i - 1, j]] + u[[i + 1, j]] + u[[i, j - 1]] + u[[i, j + 1]] - 4.0 * u[[i, j]];
    }
}

fn main() -> gpujit::Result<()> {
    let dev = Device::current()?;
    println!("device: {}", dev.name());
    let (rows, cols) = if dev.is_cuda() { (4096, 4096) } else { (1024, 768) };
    let data: Vec<f32> = (0..rows * cols).map(|k| ((k % cols) as f32 * 0.01).sin() + ((k / cols) as f32 * 0.02).cos()).collect();
    let grid = DeviceArray::from_shape(&dev, &[rows, cols], &data)?;
    // Every other row of the interior, as a view with strides (2 * cols, 1).
    let view = grid.view().slice(0, 8..rows - 8, 2)?.slice(1, 8..cols - 8, 1)?;
    let (vr, vc) = (view.shape()[0], view.shape()[1]);
    let mut out = DeviceArray::<f32>::zeros_shape(&dev, &[vr, vc])?;
    launch!(laplacian[(vc.div_ceil(32), vr.div_ceil(8)), (32, 8)](&view, &mut out))?;
    let got = out.to_vec()?;
    let u = view.to_vec()?;
    let mut max_err = 0.0f32;
    for i in 1..vr - 1 {
        for j in 1..vc - 1 {
            let want = u[(i - 1) * vc + j] + u[(i + 1) * vc + j] + u[i * vc + j - 1] + u[i * vc + j + 1] - 4.0 * u[i * vc + j];
            max_err = max_err.max((got[i * vc + j] - want).abs());
        }
    }
    println!("laplacian of a {vr}x{vc} strided view of a {rows}x{cols} grid: max error {max_err:.2e}");
    if max_err > 1e-5 {
        eprintln!("stencil: differs from the host computation");
        std::process::exit(1);
    }
    println!("stencil: verified against the host");
    Ok(())
}
