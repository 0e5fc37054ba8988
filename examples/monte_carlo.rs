//! Monte Carlo with the Philox generator: pi from random points in the unit square, with a
//! tile size from a module constant and a block-wide count in shared memory; checked against the
//! same stream drawn on the host, and against pi.
//!
//! ```text
//! cargo run --release --example monte_carlo     # GPUJIT_DEVICE=cpu|cuda to choose
//! ```

use gpujit::prelude::*;

/// Threads per block, and the size of the block's shared counts.
const BLOCK: usize = 256;
/// Points each thread draws.
const POINTS: u32 = 64;

#[gpu_kernel]
fn count_inside(seed: u64, hits: &mut [u32]) {
    let mut inside = shared_array::<u32, BLOCK>();
    let t = thread_idx_x();
    // One stream per thread: the same numbers whatever the launch's shape or backend.
    let mut r = Philox::new(seed, grid(1) as u64);
    let mut n = 0u32;
    for _ in 0..POINTS {
        let (x, y) = (r.uniform_f64(), r.uniform_f64());
        if x * x + y * y < 1.0 {
            n += 1;
        }
    }
    inside[t] = n;
    sync_threads();
    let mut stride = BLOCK / 2;
    while stride > 0 {
        if t < stride {
            inside[t] += inside[t + stride];
        }
        sync_threads();
        stride /= 2;
    }
    if t == 0 {
        hits[block_idx_x()] = inside[0];
    }
}

fn main() -> gpujit::Result<()> {
    let dev = Device::current()?;
    println!("device: {}", dev.name());
    let blocks = if dev.is_cuda() { 16384 } else { 256 };
    let seed = 2026;
    let mut hits = DeviceArray::<u32>::zeros(&dev, blocks)?;
    launch!(count_inside[blocks as u32, BLOCK as u32](seed, &mut hits))?;
    let hits = hits.to_vec()?;
    // The first block again, on the host: the same stream, so the same count.
    let host: u32 = (0..BLOCK as u64)
        .map(|thread| {
            let mut r = Philox::new(seed, thread);
            (0..POINTS)
                .filter(|_| {
                    let (x, y) = (r.uniform_f64(), r.uniform_f64());
                    x * x + y * y < 1.0
                })
                .count() as u32
        })
        .sum();
    assert_eq!(hits[0], host, "block 0 counts as the host does");
    let total = (blocks * BLOCK) as f64 * POINTS as f64;
    let pi = 4.0 * hits.iter().map(|h| *h as f64).sum::<f64>() / total;
    // Within 6 standard deviations of a binomial estimate.
    let sigma = 4.0 * (std::f64::consts::FRAC_PI_4 * (1.0 - std::f64::consts::FRAC_PI_4) / total).sqrt();
    println!("pi ~ {pi:.6} from {total:.0} points (error {:.1e}, sigma {sigma:.1e})", (pi - std::f64::consts::PI).abs());
    assert!((pi - std::f64::consts::PI).abs() < 6.0 * sigma);
    Ok(())
}
