//! A histogram with atomics: per-block counts in shared memory, merged into the global histogram
//! (the Numba documentation's pattern), checked against a host count.
//!
//! ```text
//! cargo run --release --example histogram     # GPUJIT_DEVICE=cpu|cuda to choose
//! ```

use gpujit::prelude::*;

#[gpu_kernel]
fn histogram(x: &[u8], hist: &mut [u32]) {
    let mut local = shared_array::<u32, 256>();
    let t = thread_idx_x();
    let mut b = t;
    while b < 256 {
        local[b] = 0;
        b += block_dim_x();
    }
    sync_threads();
    for i in (grid(1)..x.len()).step_by(grid_size(1)) {
        atomic_add(&mut local, x[i] as usize, 1u32);
    }
    sync_threads();
    let mut b = t;
    while b < 256 {
        if local[b] > 0 {
            atomic_add(hist, b, local[b]);
        }
        b += block_dim_x();
    }
}

fn main() -> gpujit::Result<()> {
    let dev = Device::current()?;
    println!("device: {}", dev.name());
    let n = if dev.is_cuda() { 1 << 26 } else { 1 << 22 };
    // A skewed distribution: many collisions on a few bins.
    let data: Vec<u8> = (0..n as u64).map(|i| ((i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8) / ((i % 3) as u8 + 1)).collect();
    let x = DeviceArray::from_slice(&dev, &data)?;
    let mut hist = DeviceArray::<u32>::zeros(&dev, 256)?;
    launch!(histogram[264, 256](&x, &mut hist))?;
    let got = hist.to_vec()?;
    let mut want = vec![0u32; 256];
    for v in &data {
        want[*v as usize] += 1;
    }
    println!(
        "histogram of {n} bytes: {} non-empty bins, largest {}",
        got.iter().filter(|c| **c > 0).count(),
        got.iter().max().unwrap_or(&0)
    );
    if got != want {
        eprintln!("histogram: counts differ from the host count");
        std::process::exit(1);
    }
    println!("histogram: verified against the host");
    Ok(())
}
