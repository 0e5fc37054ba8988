//! GPU benchmark of fused expressions and reductions (issue 5): saxpy and the 5-op expression
//! `exp(-x*x/2)*sin(y) + sqrt(|x*y|)` as `Expr`s, sum and dot, in f32 and bf16 at 2^26 and 2^28
//! elements (device time by CUDA events, median of 30), and the host time of re-evaluating a 5-op
//! expression in a loop. Run beside `gpu_bench` (raw `cuLaunchKernel`), the hand-written CUDA of
//! `roofline.cu` and the Python peers, in one device call.
//!
//! ```text
//! cargo bench --bench fused_bench        # needs a CUDA GPU; GPUJIT_REQUIRE_GPU=1 fails without one
//! ```

use gpujit::prelude::*;
use std::time::Instant;

#[path = "support/mod.rs"]
mod support;
use support::{event_ms, host_us, host_us_vs_raw};

fn five<'a, T: gpujit::runtime::expr::FloatElement>(x: &'a DeviceArray<T>, y: &'a DeviceArray<T>, half: T) -> Expr<'a, T> {
    (-expr(x) * x * half).exp() * expr(y).sin() + (expr(x) * y).abs().sqrt()
}

#[gpu_kernel]
fn saxpy(a: f32, x: &[f32], y: &[f32], z: &mut [f32]) {
    let i = grid(1);
    if i < x.len() {
        z[i] = a * x[i] + y[i];
    }
}

fn row(case: &str, value: f64, unit: &str, note: &str) {
    println!("{case:28} gpujit {value:10.2} {unit:10} {note}");
}

fn main() -> gpujit::Result<()> {
    let Some(dev) = support::gpu_or_skip("fused bench") else { return Ok(()) };
    let vectorize = std::env::var("GPUJIT_VECTORIZE").map(|v| v != "0").unwrap_or(true);
    let note = if vectorize { "" } else { "(GPUJIT_VECTORIZE=0)" };
    for lg in [26u32, 28] {
        let n = 1usize << lg;
        let xs: Vec<f32> = (0..n).map(|i| ((i % 1000) as f32) * 1e-3 - 0.5).collect();
        let ys: Vec<f32> = (0..n).map(|i| ((i % 777) as f32) * 2e-3 - 0.7).collect();
        let x = DeviceArray::from_slice(&dev, &xs)?;
        let y = DeviceArray::from_slice(&dev, &ys)?;
        let mut z = DeviceArray::<f32>::zeros(&dev, n)?;
        let mut one = DeviceArray::<f32>::zeros(&dev, 1)?;
        let t = event_ms(30, || (2.0f32 * &x + &y).eval_into(&mut z).expect("saxpy"));
        row(&format!("saxpy_f32_2^{lg}"), 12.0 * n as f64 / t / 1e6, "GB/s", note);
        let zv = z.to_vec()?;
        for i in [0, 1, n / 3, n - 1] {
            assert_eq!(zv[i], 2.0 * xs[i] + ys[i], "saxpy[{i}]");
        }
        let t = event_ms(30, || five(&x, &y, 0.5f32).eval_into(&mut z).expect("fused5"));
        row(&format!("fused5_f32_2^{lg}"), 12.0 * n as f64 / t / 1e6, "GB/s(eff)", note);
        let zv = z.to_vec()?;
        for i in [0, 7, n / 3, n - 1] {
            let (a, b) = (xs[i], ys[i]);
            let want = (-a * a * 0.5).exp() * b.sin() + (a * b).abs().sqrt();
            assert!((zv[i] - want).abs() <= 1e-5 * want.abs().max(1.0), "fused5[{i}] {} vs {want}", zv[i]);
        }
        let t = event_ms(30, || expr(&x).sum().eval_into(&mut one).expect("sum"));
        row(&format!("sum_f32_2^{lg}"), 4.0 * n as f64 / t / 1e6, "GB/s", note);
        let want: f64 = xs.iter().map(|v| *v as f64).sum();
        let got = one.to_vec()?[0] as f64;
        assert!((got - want).abs() <= 1e-5 * xs.iter().map(|v| v.abs() as f64).sum::<f64>(), "sum {got} vs {want}");
        let t = event_ms(30, || dot(&x, &y).eval_into(&mut one).expect("dot"));
        row(&format!("dot_f32_2^{lg}"), 8.0 * n as f64 / t / 1e6, "GB/s", note);
        let t = event_ms(30, || expr(&x).reduce_max().eval_into(&mut one).expect("max"));
        row(&format!("max_f32_2^{lg}"), 4.0 * n as f64 / t / 1e6, "GB/s", note);
        assert_eq!(one.to_vec()?[0], xs.iter().copied().fold(f32::NEG_INFINITY, f32::max), "max");
        let mut at = DeviceArray::<usize>::zeros(&dev, 1)?;
        let t = event_ms(30, || expr(&x).argmax().eval_into(&mut at).expect("argmax"));
        row(&format!("argmax_f32_2^{lg}"), 4.0 * n as f64 / t / 1e6, "GB/s", note);
        assert_eq!(xs[at.to_vec()?[0]], xs.iter().copied().fold(f32::NEG_INFINITY, f32::max), "argmax");
        drop((x, y, z));
        // bf16: half the bytes.
        let xb: Vec<bf16> = xs.iter().map(|v| bf16::from_f32(*v)).collect();
        let yb: Vec<bf16> = ys.iter().map(|v| bf16::from_f32(*v)).collect();
        let (x, y) = (DeviceArray::from_slice(&dev, &xb)?, DeviceArray::from_slice(&dev, &yb)?);
        let mut z = DeviceArray::<bf16>::zeros(&dev, n)?;
        let mut oneb = DeviceArray::<bf16>::zeros(&dev, 1)?;
        let two = bf16::from_f32(2.0);
        let t = event_ms(30, || (two * &x + &y).eval_into(&mut z).expect("saxpy bf16"));
        row(&format!("saxpy_bf16_2^{lg}"), 6.0 * n as f64 / t / 1e6, "GB/s", note);
        let t = event_ms(30, || five(&x, &y, bf16::from_f32(0.5)).eval_into(&mut z).expect("fused5 bf16"));
        row(&format!("fused5_bf16_2^{lg}"), 6.0 * n as f64 / t / 1e6, "GB/s(eff)", note);
        let t = event_ms(30, || expr(&x).sum().eval_into(&mut oneb).expect("sum bf16"));
        row(&format!("sum_bf16_2^{lg}"), 2.0 * n as f64 / t / 1e6, "GB/s", note);
        let t = event_ms(30, || dot(&x, &y).eval_into(&mut oneb).expect("dot bf16"));
        row(&format!("dot_bf16_2^{lg}"), 4.0 * n as f64 / t / 1e6, "GB/s", note);
    }
    // A 5-op expression re-evaluated in a loop: build + evaluate, host time a call.
    let m = 1024usize;
    let x = DeviceArray::from_slice(&dev, &vec![0.25f32; m])?;
    let y = DeviceArray::from_slice(&dev, &vec![0.5f32; m])?;
    let mut z = DeviceArray::<f32>::zeros(&dev, m)?;
    let mut s1 = DeviceArray::<f32>::zeros(&dev, 1)?;
    five(&x, &y, 0.5f32).eval_into(&mut z)?;
    expr(&x).sum().eval_into(&mut s1)?;
    let kernels = gpujit::fuse::cached_kernels();
    // The floor, in this process: a raw cuLaunchKernel of a saxpy kernel (3 arrays + 1 scalar),
    // timed in batches alternating with each measured loop.
    launch!(saxpy[4, 256](2.0f32, &x, &y, &mut z))?;
    let mut raw = support::RawLaunch::new(&dev, &saxpy, (2.0f32, &x, &y, &mut z), m)?;
    let (loop_rebuilt, raw1) = host_us_vs_raw(&dev, &mut raw, || five(&x, &y, 0.5f32).eval_into(&mut z).expect("loop"));
    row("expr_loop_host_time", loop_rebuilt, "us", "(5-op, eval_into, 1024 elements)");
    let built = five(&x, &y, 0.5f32);
    let (loop_built, raw2) = host_us_vs_raw(&dev, &mut raw, || built.eval_into(&mut z).expect("loop"));
    row("expr_loop_host_time_built", loop_built, "us", "(5-op built once, eval_into in the loop)");
    let (loop_forall, raw3) = host_us_vs_raw(&dev, &mut raw, || {
        forall!(m, |i| z[i] = (-x[i] * x[i] * 0.5f32).exp() * y[i].sin() + (x[i] * y[i]).abs().sqrt()).expect("forall")
    });
    row("forall_loop_host_time", loop_forall, "us", "(5-op forall!, 1024 elements)");
    let us = host_us(&dev, || drop(five(&x, &y, 0.5f32).eval().expect("loop")));
    row("expr_loop_host_time_alloc", us, "us", "(5-op, eval() allocating its output)");
    let us = host_us(&dev, || expr(&x).sum().eval_into(&mut s1).expect("sum"));
    row("sum_loop_host_time", us, "us", "(sum of 1024, eval_into)");
    assert_eq!(gpujit::fuse::cached_kernels(), kernels, "the loops compiled nothing");
    row("raw_cuLaunchKernel_host_time", support::median(vec![raw1, raw2, raw3]), "us", "(the floor, same process, alternating batches)");
    for (case, us, raw) in [("5-op rebuilt", loop_rebuilt, raw1), ("5-op built once", loop_built, raw2), ("forall!", loop_forall, raw3)] {
        println!("{:28} ratio to raw {:6.2}  ({us:.2} us vs {raw:.2} us)", case, us / raw);
    }
    drop(raw);
    let t = Instant::now();
    let fresh = (expr(&x) * 3.0f32 - &y).tanh();
    fresh.eval_into(&mut z)?;
    dev.synchronize()?;
    row("first_eval_new_expr", t.elapsed().as_secs_f64() * 1e3, "ms", "(generate + specialize + PTX + load)");
    Ok(())
}
