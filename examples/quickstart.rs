//! Quick start: the Numba `add` kernel of CuPy's interoperability guide and a generic saxpy, run on
//! whatever device is present (GPU if there is one, else the CPU backend) and checked against a
//! host computation.
//!
//! ```text
//! cargo run --release --example quickstart            # GPUJIT_DEVICE=cpu|cuda to choose
//! ```

use gpujit::prelude::*;
use std::time::Instant;

/// out[i] = x[i] + y[i], with a grid-stride loop: any grid covers any length.
#[gpu_kernel]
fn add(x: &[f32], y: &[f32], out: &mut [f32]) {
    let start = grid(1);
    let stride = grid_size(1);
    for i in (start..x.len()).step_by(stride) {
        out[i] = x[i] + y[i];
    }
}

/// y = a * x + y, for f32 or f64.
#[gpu_kernel]
fn saxpy<T: Float>(a: T, x: &[T], y: &mut [T]) {
    let i = grid(1);
    if i < x.len() {
        y[i] = a * x[i] + y[i];
    }
}

fn main() -> gpujit::Result<()> {
    let dev = Device::current()?;
    println!("device: {}", dev.name());

    let n = 1_000_003usize; // not a multiple of the block size
    let x: Vec<f32> = (0..n).map(|i| (i % 1000) as f32 * 0.5).collect();
    let y: Vec<f32> = (0..n).map(|i| (i % 777) as f32 * -0.25).collect();

    // add, launched Numba-style on a fixed grid that the grid-stride loop makes cover everything.
    let dx = DeviceArray::from_slice(&dev, &x)?;
    let dy = DeviceArray::from_slice(&dev, &y)?;
    let mut out = DeviceArray::<f32>::zeros(&dev, n)?;
    let t = Instant::now();
    launch!(add[256, 256](&dx, &dy, &mut out))?;
    dev.synchronize()?;
    let first = t.elapsed();
    let t = Instant::now();
    launch!(add[256, 256](&dx, &dy, &mut out))?;
    dev.synchronize()?;
    let cached = t.elapsed();
    let got = out.to_vec()?;
    let err_add = got.iter().zip(x.iter().zip(&y)).map(|(g, (a, b))| (g - (a + b)).abs()).fold(0.0f32, f32::max);
    println!("add:   n = {n}, max error {err_add:e}, first launch (compile) {first:.2?}, cached launch {cached:.2?}");

    // saxpy, specialized to f64 at launch; one thread per element.
    let a = 2.5f64;
    let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    let y64: Vec<f64> = y.iter().map(|&v| v as f64).collect();
    let dx = DeviceArray::from_slice(&dev, &x64)?;
    let mut dy = DeviceArray::from_slice(&dev, &y64)?;
    let t = Instant::now();
    saxpy.launch(LaunchConfig::for_elements(n, 256), (a, &dx, &mut dy))?;
    dev.synchronize()?;
    let first = t.elapsed();
    let got = dy.to_vec()?;
    let err_saxpy = got.iter().zip(x64.iter().zip(&y64)).map(|(g, (xv, yv))| (g - (a * xv + yv)).abs()).fold(0.0f64, f64::max);
    println!("saxpy: n = {n}, f64, max error {err_saxpy:e}, first launch (compile) {first:.2?}");

    if err_add != 0.0 || err_saxpy > 1e-12 {
        eprintln!("quickstart: results differ from the host computation");
        std::process::exit(1);
    }
    println!("quickstart: results verified against the host");
    Ok(())
}
