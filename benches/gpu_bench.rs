//! GPU benchmark: saxpy bandwidth (2^26 f32) and the host time of a cached launch beside a raw
//! `cuLaunchKernel` of the same PTX, measured in the same process.
//!
//! ```text
//! cargo bench --bench gpu_bench          # needs a CUDA GPU; GPUJIT_REQUIRE_GPU=1 fails without one
//! ```

use gpujit::prelude::*;
use std::time::Instant;

#[path = "support/mod.rs"]
mod support;
use support::{event_ms, host_us};

#[gpu_kernel]
fn saxpy(a: f32, x: &[f32], y: &[f32], z: &mut [f32]) {
    let i = grid(1);
    if i < x.len() {
        z[i] = a * x[i] + y[i];
    }
}

fn main() -> gpujit::Result<()> {
    let Some(dev) = support::gpu_or_skip("gpu bench") else { return Ok(()) };

    // Bandwidth, 2^26 f32: bytes of x, y and z.
    let n = 1usize << 26;
    let x = DeviceArray::from_slice(&dev, &vec![1.5f32; n])?;
    let y = DeviceArray::from_slice(&dev, &vec![-0.5f32; n])?;
    let mut z = DeviceArray::<f32>::zeros(&dev, n)?;
    let t = Instant::now();
    launch!(saxpy[n.div_ceil(256), 256](2.0f32, &x, &y, &mut z))?;
    dev.synchronize()?;
    let first_ms = t.elapsed().as_secs_f64() * 1e3;
    let ms = event_ms(30, || launch!(saxpy[n.div_ceil(256), 256](2.0f32, &x, &y, &mut z)).expect("launch"));
    let gbs = 3.0 * 4.0 * n as f64 / (ms * 1e-3) / 1e9;
    assert!(z.to_vec()?.iter().all(|v| *v == 2.5), "saxpy result");
    println!("saxpy_f32_2^26          gpujit          {gbs:8.1} GB/s  ({ms:.3} ms a kernel)");
    println!("first_launch_saxpy      gpujit          {first_ms:8.2} ms  (specialize + IR->PTX + module load, context up)");

    // Launch host time: small arrays, 3 array arguments and 1 scalar.
    let m = 1024usize;
    let sx = DeviceArray::from_slice(&dev, &vec![1.0f32; m])?;
    let sy = DeviceArray::from_slice(&dev, &vec![1.0f32; m])?;
    let mut sz = DeviceArray::<f32>::zeros(&dev, m)?;
    let ours = host_us(&dev, || launch!(saxpy[4, 256](2.0f32, &sx, &sy, &mut sz)).expect("launch"));

    let raw = support::raw_launch_us(&dev, &saxpy, (2.0f32, &sx, &sy, &mut sz), m)?;
    println!("launch_host_time        gpujit          {ours:8.2} us");
    println!("launch_host_time        raw cuLaunchKernel {raw:5.2} us");
    println!("launch_host_time        ratio gpujit/raw {:6.2}", ours / raw);
    Ok(())
}
