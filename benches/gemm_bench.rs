//! GEMM on the GPU: examples/sgemm.rs (register-tiled f32 on CUDA cores, written plainly) at
//! 4096³ and at the ragged 4095×4097×1000, TFLOP/s by CUDA events (median of 20), its registers
//! and spills, and its compile time cold and from the disk cache (new processes). The CUDA C and
//! cuBLAS figures come from benches/support/sgemm.cu in the same device call:
//!
//! ```text
//! cargo bench --bench gemm_bench
//! nvcc -O3 -arch=sm_90 benches/support/sgemm.cu -lcublas -o sgemm_ref && ./sgemm_ref 4096 4096 4096
//! ```

#[path = "support/mod.rs"]
mod support;

#[allow(dead_code)]
#[path = "../examples/sgemm.rs"]
mod sgemm_example;

use gpujit::prelude::*;
use sgemm_example::{sgemm, BM, BN, THREADS};
use std::time::Instant;

/// Host copies of A and B, and A, B and C on the device.
type Inputs = (Vec<f32>, Vec<f32>, DeviceArray<f32>, DeviceArray<f32>, DeviceArray<f32>);

fn inputs(dev: &Device, m: usize, n: usize, k: usize) -> gpujit::Result<Inputs> {
    let a: Vec<f32> = (0..m * k).map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5).collect();
    let b: Vec<f32> = (0..k * n).map(|i| ((i * 104729) % 1000) as f32 / 1000.0 - 0.5).collect();
    let (da, db) = (DeviceArray::from_slice(dev, &a)?, DeviceArray::from_slice(dev, &b)?);
    let dc = DeviceArray::<f32>::zeros(dev, m * n)?;
    Ok((a, b, da, db, dc))
}

/// The child process: the first launch (compile or disk-cache load included), in ms.
fn child() -> gpujit::Result<()> {
    let dev = Device::cuda(0)?;
    let (m, n, k) = (256, 256, 64);
    let (_, _, da, db, mut dc) = inputs(&dev, m, n, k)?;
    let t = Instant::now();
    launch!(sgemm[(n.div_ceil(BN), m.div_ceil(BM)), THREADS](&da, &db, &mut dc, m, n, k))?;
    dev.synchronize()?;
    println!("CHILD {:.3}", t.elapsed().as_secs_f64() * 1e3);
    Ok(())
}

fn first_launch_ms(dir: &std::path::Path) -> f64 {
    support::run_child(dir)[0]
}

fn main() -> gpujit::Result<()> {
    if std::env::var("GPUJIT_BENCH_CHILD").is_ok() {
        return child();
    }
    let Some(dev) = support::gpu_or_skip("gemm bench") else { return Ok(()) };
    let dir = std::env::temp_dir().join(format!("gpujit-gemm-cache-{}", std::process::id()));
    let (mut cold, mut warm) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        let _ = std::fs::remove_dir_all(&dir);
        cold.push(first_launch_ms(&dir));
        warm.push(first_launch_ms(&dir));
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!("sgemm_first_launch_ms  cold {:8.1}  disk_cache {:8.1}", support::median(cold), support::median(warm));

    for (m, n, k) in [(4096usize, 4096usize, 4096usize), (4095, 4097, 1000)] {
        let (a, b, da, db, mut dc) = inputs(&dev, m, n, k)?;
        let grid = (n.div_ceil(BN), m.div_ceil(BM));
        let r = sgemm.resources(&dev, (&da, &db, &mut dc, m, n, k))?;
        let ms = support::event_ms(20, || launch!(sgemm[grid, THREADS](&da, &db, &mut dc, m, n, k)).expect("launch"));
        let c = dc.to_vec()?;
        let mut max_err = 0.0f64;
        for s in 0..64 {
            let (row, col) = (s * 97 % m, s * 131 % n);
            let want: f64 = (0..k).map(|j| a[row * k + j] as f64 * b[j * n + col] as f64).sum();
            max_err = max_err.max((c[row * n + col] as f64 - want).abs());
        }
        assert!(max_err < k as f64 * 1e-6, "sgemm {m}x{n}x{k}: max error {max_err}");
        println!(
            "sgemm_gpujit {m}x{n}x{k}  {:7.2} TFLOP/s  ({ms:.3} ms; {} registers, {} B local, spills {}/{} B, max error {max_err:.1e})",
            2.0 * (m * n * k) as f64 / ms / 1e9,
            r.registers,
            r.local_bytes,
            r.spill_stores,
            r.spill_loads
        );
    }
    Ok(())
}
