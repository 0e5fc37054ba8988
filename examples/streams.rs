//! Streams, events, asynchronous copies and CUDA graphs: a two-stream pipeline through
//! page-locked buffers, timed with events, then an iteration captured once as a graph and
//! replayed. Checks its results against the host; runs on a GPU, or on the CPU backend.
//!
//! ```text
//! cargo run --release --example streams            # GPUJIT_DEVICE=cpu|cuda to choose
//! ```

use gpujit::prelude::*;

/// y = a * x + y
#[gpu_kernel]
fn axpy(a: f32, x: &[f32], y: &mut [f32]) {
    let i = grid(1);
    if i < x.len() {
        y[i] = a * x[i] + y[i];
    }
}

/// x = x * k (a relaxation step)
#[gpu_kernel]
fn damp(x: &mut [f32], k: f32) {
    let i = grid(1);
    if i < x.len() {
        x[i] *= k;
    }
}

fn main() -> gpujit::Result<()> {
    let dev = Device::current()?;
    println!("device: {}", dev.name());
    let n = 1 << 20;
    let xs: Vec<f32> = (0..n).map(|i| (i % 1000) as f32 * 1e-3).collect();
    let ys: Vec<f32> = (0..n).map(|i| (i % 7) as f32).collect();

    // Two streams: x and y go up concurrently; the kernel waits for y's copy through an event.
    let (upload, compute) = (dev.new_stream()?, dev.new_stream()?);
    let (px, py) = (PinnedBuffer::from_slice(&dev, &xs)?, PinnedBuffer::from_slice(&dev, &ys)?);
    let mut x = DeviceArray::<f32>::zeros(&dev, n)?;
    let mut y = DeviceArray::<f32>::zeros(&dev, n)?;
    let start = compute.record_event()?;
    compute.copy_to_device(&px, &mut x)?;
    upload.copy_to_device(&py, &mut y)?;
    compute.wait_event(&upload.record_event()?)?;
    launch!(axpy[n.div_ceil(256), 256, &compute](2.0f32, &x, &mut y))?;
    let mut result = PinnedBuffer::<f32>::new(&dev, n)?;
    compute.copy_to_host(&y, &mut result)?;
    let end = compute.record_event()?;
    println!("pipeline: {:.3} ms (copies in, kernel, copy out)", start.elapsed_ms(&end)?);
    let want: Vec<f32> = xs.iter().zip(&ys).map(|(x, y)| 2.0 * x + y).collect();
    assert_eq!(result.as_slice()?, &want[..], "pipeline result");

    // One iteration of 3 launches, captured once, replayed 10 times.
    let blocks = n.div_ceil(256);
    let graph = Graph::capture(&dev, |s| {
        launch!(damp[blocks, 256, s](&mut y, 0.5f32))?;
        launch!(axpy[blocks, 256, s](1.0f32, &x, &mut y))?;
        launch!(damp[blocks, 256, s](&mut x, 0.9f32))?;
        Ok(())
    })?;
    let t0 = dev.record_event()?;
    for _ in 0..10 {
        graph.launch()?;
    }
    let t1 = dev.record_event()?;
    println!("graph: 10 replays of 3 launches in {:.3} ms", t0.elapsed_ms(&t1)?);
    let (mut hx, mut hy) = (xs.clone(), want.clone());
    for _ in 0..10 {
        for i in 0..n {
            hy[i] = hy[i] * 0.5 + hx[i];
            hx[i] *= 0.9;
        }
    }
    let (gx, gy) = (x.to_vec()?, y.to_vec()?);
    let close = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(a, b)| (a - b).abs() <= 1e-5 * b.abs().max(1.0));
    assert!(close(&gx, &hx) && close(&gy, &hy), "graph replays");
    println!("streams: all results check out on {}", dev.name());
    Ok(())
}
