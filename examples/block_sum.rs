//! Sum of an array with warp shuffles: a butterfly reduction in each warp, the warps' partial
//! sums through shared memory, and one atomic a block. Checked against a host sum.
//!
//! ```text
//! cargo run --release --example block_sum     # GPUJIT_DEVICE=cpu|cuda to choose
//! ```

use gpujit::prelude::*;
use std::time::Instant;

#[gpu_kernel]
fn block_sum(x: &[f64], total: &mut [f64]) {
    let mut partial = shared_array::<f64, 32>();
    let lane = lane_id();
    let warp = thread_idx_x() / 32;
    // Grid-stride accumulation: a fixed grid sums any length.
    let mut v = 0.0;
    for i in (grid(1)..x.len()).step_by(grid_size(1)) {
        v += x[i];
    }
    let mut offset = 16;
    while offset > 0 {
        v += shfl_xor_sync(0xffffffff, v, offset);
        offset /= 2;
    }
    if lane == 0 {
        partial[warp] = v;
    }
    sync_threads();
    if warp == 0 {
        let mut s = if lane < block_dim_x() / 32 { partial[lane] } else { 0.0 };
        let mut offset = 16;
        while offset > 0 {
            s += shfl_down_sync(0xffffffff, s, offset);
            offset /= 2;
        }
        if lane == 0 {
            atomic_add(total, 0, s);
        }
    }
}

fn main() -> gpujit::Result<()> {
    let dev = Device::current()?;
    println!("device: {}", dev.name());
    let n: usize = if dev.is_cuda() { 1 << 26 } else { 1 << 20 };
    let data: Vec<f64> = (0..n).map(|i| ((i * 7919) % 10007) as f64 / 10007.0 - 0.5).collect();
    let x = DeviceArray::from_slice(&dev, &data)?;
    let mut total = DeviceArray::<f64>::zeros(&dev, 1)?;
    let blocks = if dev.is_cuda() { 132 * 8 } else { 64 };
    launch!(block_sum[blocks, 256](&x, &mut total))?;
    total.copy_from(&[0.0])?;
    let t = Instant::now();
    launch!(block_sum[blocks, 256](&x, &mut total))?;
    let got = total.to_vec()?[0];
    let secs = t.elapsed().as_secs_f64();
    let want: f64 = data.iter().sum();
    println!("sum of {n} f64: {got:.6} (host {want:.6}), {:.1} GB/s including the copy back", 8.0 * n as f64 / secs / 1e9);
    if (got - want).abs() > 1e-6 * (n as f64).sqrt() {
        eprintln!("block_sum: differs from the host sum");
        std::process::exit(1);
    }
    println!("block_sum: verified against the host");
    Ok(())
}
