//! GEMM on the GPU: examples/sgemm.rs (register-tiled f32 on CUDA cores, written plainly) at
//! 4096³ and at the ragged 4095×4097×1000, and examples/gemm_tensor_core.rs (bf16 → f32 on
//! tensor cores: mma.sync, ldmatrix, cp.async) and examples/gemm_wgmma.rs (Hopper: TMA, mbarrier,
//! wgmma) at 8192³, 4096³ and 4095×4097×1000: TFLOP/s by
//! CUDA events (median of 20), registers and spills, and the compile time cold and from the disk
//! cache (new processes). The CUDA C and cuBLAS figures come from benches/support/sgemm.cu and
//! torch.matmul (benches/support/torch_matmul.py) in the same device call:
//!
//! ```text
//! cargo bench --bench gemm_bench
//! nvcc -O3 -arch=sm_90 benches/support/sgemm.cu -lcublas -o sgemm_ref && ./sgemm_ref 4096 4096 4096
//! python3 benches/support/torch_matmul.py
//! ```

#[path = "support/mod.rs"]
mod support;

#[allow(dead_code)]
#[path = "../examples/sgemm.rs"]
mod sgemm_example;

#[allow(dead_code)]
#[path = "../examples/gemm_tensor_core.rs"]
mod tensor_core_example;

#[allow(dead_code)]
#[path = "../examples/gemm_wgmma.rs"]
mod wgmma_example;

use gpujit::prelude::*;
use half::bf16;
use sgemm_example::{sgemm, BM, BN, THREADS};
use std::time::Instant;
use tensor_core_example::{
    gemm_bf16, gemm_tf32, shared_bytes, tf32_shared_bytes, threads, BK as TC_BK, BM as TC_BM, BN as TC_BN, SHARED_BYTES,
    STAGES as TC_STAGES, THREADS as TC_THREADS,
};
use wgmma_example::{gemm_wgmma, maps as wgmma_maps, SHARED_BYTES as WG_SHARED, STAGES as WG_STAGES, THREADS as WG_THREADS};

/// Host copies of A and B, and A, B and C on the device.
type Inputs = (Vec<f32>, Vec<f32>, DeviceArray<f32>, DeviceArray<f32>, DeviceArray<f32>);

fn inputs(dev: &Device, m: usize, n: usize, k: usize) -> gpujit::Result<Inputs> {
    let a: Vec<f32> = (0..m * k).map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5).collect();
    let b: Vec<f32> = (0..k * n).map(|i| ((i * 104729) % 1000) as f32 / 1000.0 - 0.5).collect();
    let (da, db) = (DeviceArray::from_slice(dev, &a)?, DeviceArray::from_slice(dev, &b)?);
    let dc = DeviceArray::<f32>::zeros(dev, m * n)?;
    Ok((a, b, da, db, dc))
}

/// The child process: the first launch of each kernel (compile or disk-cache load included), in
/// ms.
fn child() -> gpujit::Result<()> {
    let dev = Device::cuda(0)?;
    let (m, n, k) = (256, 256, 64);
    let (_, _, da, db, mut dc) = inputs(&dev, m, n, k)?;
    let t = Instant::now();
    launch!(sgemm[(n.div_ceil(BN), m.div_ceil(BM)), THREADS](&da, &db, &mut dc, m, n, k))?;
    dev.synchronize()?;
    let first = t.elapsed().as_secs_f64() * 1e3;
    let (ha, hb) = (vec![bf16::ONE; m * k], vec![bf16::ONE; k * n]);
    let (ha, hb) = (DeviceArray::from_slice(&dev, &ha)?, DeviceArray::from_slice(&dev, &hb)?);
    let t = Instant::now();
    launch!(gemm_bf16::<TC_BM, TC_BN, TC_BK, TC_STAGES>[(n.div_ceil(TC_BN), m.div_ceil(TC_BM)), TC_THREADS, SHARED_BYTES](&ha, &hb, &mut dc, m, n, k))?;
    dev.synchronize()?;
    let second = t.elapsed().as_secs_f64() * 1e3;
    let (ta, tb) = (
        DeviceArray::from_shape(&dev, &[m, k], &vec![bf16::ONE; m * k])?,
        DeviceArray::from_shape(&dev, &[n, k], &vec![bf16::ONE; n * k])?,
    );
    let (ma, mb) = wgmma_maps(&ta, &tb)?;
    let t = Instant::now();
    launch!(gemm_wgmma::<WG_STAGES>[(n.div_ceil(256), m.div_ceil(128)), WG_THREADS, WG_SHARED](&ta, &ma, &mb, &mut dc, n, 64usize))?;
    dev.synchronize()?;
    println!("CHILD {first:.3} {second:.3} {:.3}", t.elapsed().as_secs_f64() * 1e3);
    Ok(())
}

/// The largest error of 64 sampled elements of C (m×n) against f64 sums of A·B's products, in
/// units of the sum of the products' magnitudes.
fn sampled_error(c: &[f32], m: usize, n: usize, k: usize, a: impl Fn(usize) -> f64, b: impl Fn(usize) -> f64) -> f64 {
    let mut max_rel = 0.0f64;
    for s in 0..64 {
        let (row, col) = (s * 97 % m, s * 131 % n);
        let (mut want, mut abs) = (0.0f64, 0.0f64);
        for j in 0..k {
            let p = a(row * k + j) * b(j * n + col);
            want += p;
            abs += p.abs();
        }
        max_rel = max_rel.max((c[row * n + col] as f64 - want).abs() / abs.max(1e-30));
    }
    max_rel
}

/// Host copies of A and B (bf16), and A, B and C on the device.
type Inputs16 = (Vec<bf16>, Vec<bf16>, DeviceArray<bf16>, DeviceArray<bf16>, DeviceArray<f32>);

fn inputs16(dev: &Device, m: usize, n: usize, k: usize) -> gpujit::Result<Inputs16> {
    let a: Vec<bf16> = (0..m * k).map(|i| bf16::from_f32(((i * 7919) % 1000) as f32 / 1000.0 - 0.5)).collect();
    let b: Vec<bf16> = (0..k * n).map(|i| bf16::from_f32(((i * 104729) % 1000) as f32 / 1000.0 - 0.5)).collect();
    let (da, db) = (DeviceArray::from_slice(dev, &a)?, DeviceArray::from_slice(dev, &b)?);
    let dc = DeviceArray::<f32>::zeros(dev, m * n)?;
    Ok((a, b, da, db, dc))
}

/// `gemm_wgmma` on A (m×k, on the device as `da`) and B (k×n, host `b`, transposed here to n×k
/// as `wgmma` reads it): TFLOP/s, resources, and the sampled error against `bound`.
fn wgmma_run<T: gpujit::Element + Copy>(
    label: &str,
    dev: &Device,
    (m, n, k): (usize, usize, usize),
    (a, b, da, mut dc): (&[T], &[T], DeviceArray<T>, DeviceArray<f32>),
    value: fn(T) -> f64,
    bound: f64,
) -> gpujit::Result<()> {
    let bk = 128 / std::mem::size_of::<T>();
    let bt: Vec<T> = (0..n * k).map(|i| b[(i % k) * n + i / k]).collect();
    let da = da.reshape(&[m, k])?;
    let dbt = DeviceArray::from_shape(dev, &[n, k], &bt)?;
    let (ma, mb) = wgmma_maps(&da, &dbt)?;
    let grid = (n.div_ceil(256), m.div_ceil(128));
    let r = gemm_wgmma::<WG_STAGES>.resources(dev, (&da, &ma, &mb, &mut dc, n, bk))?;
    let ms = support::event_ms(20, || {
        launch!(gemm_wgmma::<WG_STAGES>[grid, WG_THREADS, WG_SHARED](&da, &ma, &mb, &mut dc, n, bk)).expect("launch")
    });
    let max_rel = sampled_error(&dc.to_vec()?, m, n, k, |i| value(a[i]), |i| value(b[i]));
    assert!(max_rel < bound, "{label} {m}x{n}x{k}: error {max_rel} of the sum of |products|");
    println!(
        "{label} {m}x{n}x{k}  {:7.2} TFLOP/s  ({ms:.3} ms; {} registers, {} B local, spills {}/{} B, error {max_rel:.1e} of sum|a·b|)",
        2.0 * (m * n * k) as f64 / ms / 1e9,
        r.registers,
        r.local_bytes,
        r.spill_stores,
        r.spill_loads
    );
    Ok(())
}

fn main() -> gpujit::Result<()> {
    if std::env::var("GPUJIT_BENCH_CHILD").is_ok() {
        return child();
    }
    let Some(dev) = support::gpu_or_skip("gemm bench") else { return Ok(()) };
    let dir = std::env::temp_dir().join(format!("gpujit-gemm-cache-{}", std::process::id()));
    let (mut cold, mut warm) = ([Vec::new(), Vec::new(), Vec::new()], [Vec::new(), Vec::new(), Vec::new()]);
    for _ in 0..3 {
        let _ = std::fs::remove_dir_all(&dir);
        let c = support::run_child(&dir);
        let w = support::run_child(&dir);
        for i in 0..3 {
            cold[i].push(c[i]);
            warm[i].push(w[i]);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    for (i, name) in ["sgemm", "gemm_bf16", "gemm_wgmma"].iter().enumerate() {
        let (c, w) = (support::median(cold[i].clone()), support::median(warm[i].clone()));
        println!("{name}_first_launch_ms  cold {c:8.1}  disk_cache {w:8.1}");
    }

    // The example's tile shape at every size, and other shapes of the same kernel beside it.
    macro_rules! tensor_core_run {
        ($label:expr, $bm:expr, $bn:expr, $bk:expr, $stages:expr, $sizes:expr) => {
            for (m, n, k) in $sizes {
                let (a, b, da, db, mut dc) = inputs16(&dev, m, n, k)?;
                let grid = (n.div_ceil($bn), m.div_ceil($bm));
                let (t, shared) = (threads($bm, $bn), shared_bytes($bm, $bn, $bk, $stages));
                let r = gemm_bf16::<$bm, $bn, $bk, $stages>.resources(&dev, (&da, &db, &mut dc, m, n, k))?;
                let ms = support::event_ms(20, || {
                    launch!(gemm_bf16::<$bm, $bn, $bk, $stages>[grid, t, shared](&da, &db, &mut dc, m, n, k)).expect("launch")
                });
                let max_rel = sampled_error(&dc.to_vec()?, m, n, k, |i| a[i].to_f64(), |i| b[i].to_f64());
                assert!(max_rel < k as f64 * 1.2e-7, "gemm_bf16 {m}x{n}x{k}: error {max_rel} of the sum of |products|");
                println!(
                    "{} {}x{}x{}/{} {m}x{n}x{k}  {:7.2} TFLOP/s  ({ms:.3} ms; {} registers, {} B local, spills {}/{} B, error {max_rel:.1e} of sum|a·b|)",
                    $label, $bm, $bn, $bk, $stages,
                    2.0 * (m * n * k) as f64 / ms / 1e9,
                    r.registers,
                    r.local_bytes,
                    r.spill_stores,
                    r.spill_loads
                );
            }
        };
    }
    let all = [(8192usize, 8192usize, 8192usize), (4096, 4096, 4096), (4095, 4097, 1000)];
    // Hopper's path: TMA, mbarrier and wgmma (B given transposed, n×k, as wgmma reads it), bf16
    // at every size, and f32 inputs as tf32 at 8192³.
    for (m, n, k) in all {
        let (a, b, da, _, dc) = inputs16(&dev, m, n, k)?;
        wgmma_run("gemm_wgmma_gpujit", &dev, (m, n, k), (&a, &b, da, dc), |v| v.to_f64(), k as f64 * 1.2e-7)?;
    }
    let (m, n, k) = (8192usize, 8192usize, 8192usize);
    let (a, b, da, _, dc) = inputs(&dev, m, n, k)?;
    // tf32 keeps 10 of f32's 23 mantissa bits: each product within 2^-9 of its value.
    wgmma_run("gemm_wgmma_tf32_gpujit", &dev, (m, n, k), (&a, &b, da, dc), |v| v as f64, 4.0 / 1024.0)?;
    tensor_core_run!("gemm_bf16_gpujit", TC_BM, TC_BN, TC_BK, TC_STAGES, all);
    let square = [(8192usize, 8192usize, 8192usize), (4096, 4096, 4096)];
    tensor_core_run!("gemm_bf16_shape", 128, 256, 32, 4, square);
    tensor_core_run!("gemm_bf16_shape", 256, 128, 64, 3, square);
    tensor_core_run!("gemm_bf16_shape", 128, 128, 32, 4, square);
    tensor_core_run!("gemm_bf16_shape", 128, 128, 64, 3, square);
    tensor_core_run!("gemm_bf16_shape", 64, 256, 64, 3, square);

    // TF32 on tensor cores (f32 inputs), 128×256 tiles, slices 32 deep, three stages.
    for (m, n, k) in [(8192usize, 8192usize, 8192usize), (4096, 4096, 4096)] {
        let (a, b, da, db, mut dc) = inputs(&dev, m, n, k)?;
        let (grid, shared) = ((n.div_ceil(256), m.div_ceil(128)), tf32_shared_bytes(128, 256, 32, 3));
        let r = gemm_tf32::<128, 256, 32, 3>.resources(&dev, (&da, &db, &mut dc, m, n, k))?;
        let ms =
            support::event_ms(20, || launch!(gemm_tf32::<128, 256, 32, 3>[grid, 256, shared](&da, &db, &mut dc, m, n, k)).expect("launch"));
        let max_rel = sampled_error(&dc.to_vec()?, m, n, k, |i| a[i] as f64, |i| b[i] as f64);
        // tf32 keeps 10 of f32's 23 mantissa bits: each product within 2^-9 of its value.
        assert!(max_rel < 4.0 / 1024.0, "gemm_tf32 {m}x{n}x{k}: error {max_rel} of the sum of |products|");
        println!(
            "gemm_tf32_gpujit {m}x{n}x{k}  {:7.2} TFLOP/s  ({ms:.3} ms; {} registers, {} B local, spills {}/{} B, error {max_rel:.1e} of sum|a·b|)",
            2.0 * (m * n * k) as f64 / ms / 1e9,
            r.registers,
            r.local_bytes,
            r.spill_stores,
            r.spill_loads
        );
    }

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
