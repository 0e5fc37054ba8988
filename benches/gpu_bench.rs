//! GPU benchmark: saxpy bandwidth (2^26 f32); the host time of a cached launch beside a raw
//! `cuLaunchKernel` of the same PTX, measured in the same process (also on a stream, from 16
//! threads, and as a replayed CUDA graph); compile latency (IR -> PTX in process; a new process's
//! first launches with an empty disk cache, then with a warm one, each in a child process).
//!
//! ```text
//! cargo bench --bench gpu_bench          # needs a CUDA GPU; GPUJIT_REQUIRE_GPU=1 fails without one
//! ```

use gpujit::prelude::*;
use std::time::Instant;

#[path = "support/mod.rs"]
mod support;
use support::{event_ms, host_us, host_us_vs_raw};

#[gpu_kernel]
fn saxpy(a: f32, x: &[f32], y: &[f32], z: &mut [f32]) {
    let i = grid(1);
    if i < x.len() {
        z[i] = a * x[i] + y[i];
    }
}

#[gpu_kernel]
fn wave(a: f32, x: &[f32], y: &mut [f32]) {
    let i = grid(1);
    if i < x.len() {
        y[i] = (a * x[i]).sin() + x[i].exp();
    }
}

#[gpu_kernel]
fn scale(a: f32, x: &mut [f32]) {
    let i = grid(1);
    if i < x.len() {
        x[i] = a * x[i];
    }
}

/// A fresh process (a child of the bench): from the start of `main`, the context, then the first
/// launch of a kernel, a second new kernel and a first expression, each synchronized.
/// `y = a * x + y` on complex64: the complex multiply-add, 24 bytes an element.
#[gpu_kernel]
fn caxpy(a: Complex<f32>, x: &[Complex<f32>], y: &mut [Complex<f32>]) {
    let i = grid(1);
    if i < x.len() {
        y[i] = a * x[i] + y[i];
    }
}

fn child() -> gpujit::Result<()> {
    let t = Instant::now();
    let dev = Device::cuda(0)?;
    let ctx_ms = t.elapsed().as_secs_f64() * 1e3;
    let m = 1024usize;
    let x = DeviceArray::from_slice(&dev, &vec![1.0f32; m])?;
    let y = DeviceArray::from_slice(&dev, &vec![1.0f32; m])?;
    let mut z = DeviceArray::<f32>::zeros(&dev, m)?;
    let ms = |t: Instant| t.elapsed().as_secs_f64() * 1e3;
    let t = Instant::now();
    launch!(saxpy[4, 256](2.0f32, &x, &y, &mut z))?;
    dev.synchronize()?;
    let first = ms(t);
    let t = Instant::now();
    launch!(scale[4, 256](0.5f32, &mut z))?;
    dev.synchronize()?;
    let second = ms(t);
    let t = Instant::now();
    (expr(&x) * 2.0f32 + &y).eval_into(&mut z)?;
    dev.synchronize()?;
    let third = ms(t);
    assert!(z.to_vec()?.iter().all(|v| *v == 3.0), "child results");
    let mut w = DeviceArray::<f32>::zeros(&dev, m)?;
    let t = Instant::now();
    launch!(wave[4, 256](0.5f32, &x, &mut w))?;
    dev.synchronize()?;
    let fourth = ms(t);
    println!("CHILD {ctx_ms:.3} {first:.3} {second:.3} {third:.3} {fourth:.3}");
    Ok(())
}

/// The measurements both modes take (`GPUJIT_CHECK=1` is a process's, so the checked ones run in
/// a child): saxpy on 2^26 f32 (device ms a kernel, by events) and a small launch followed by a
/// synchronization (host us), the medians.
fn saxpy_and_synchronized_launch(dev: &Device) -> gpujit::Result<(f64, f64)> {
    let n = 1usize << 26;
    let x = DeviceArray::from_slice(dev, &vec![1.5f32; n])?;
    let y = DeviceArray::from_slice(dev, &vec![-0.5f32; n])?;
    let mut z = DeviceArray::<f32>::zeros(dev, n)?;
    launch!(saxpy[n.div_ceil(256), 256](2.0f32, &x, &y, &mut z))?;
    dev.synchronize()?;
    let ms = event_ms(30, || launch!(saxpy[n.div_ceil(256), 256](2.0f32, &x, &y, &mut z)).expect("launch"));
    assert!(z.to_vec()?.iter().all(|v| *v == 2.5), "saxpy result");
    let m = 1024usize;
    let sx = DeviceArray::from_slice(dev, &vec![1.0f32; m])?;
    let sy = DeviceArray::from_slice(dev, &vec![1.0f32; m])?;
    let mut sz = DeviceArray::<f32>::zeros(dev, m)?;
    let mut per = Vec::new();
    for _ in 0..15 {
        let t = Instant::now();
        for _ in 0..200 {
            launch!(saxpy[4, 256](2.0f32, &sx, &sy, &mut sz))?;
            dev.synchronize()?;
        }
        per.push(t.elapsed().as_secs_f64() * 1e6 / 200.0);
    }
    Ok((ms, support::median(per)))
}

/// Runs `child` in a new process with the disk cache in `dir`; its five timings (ms).
fn run_child(dir: &std::path::Path) -> [f64; 5] {
    let v = support::run_child(dir);
    [v[0], v[1], v[2], v[3], v[4]]
}

fn main() -> gpujit::Result<()> {
    if std::env::var("GPUJIT_BENCH_CHILD").is_ok() {
        return child();
    }
    if std::env::var("GPUJIT_BENCH_CHECKED").is_ok() {
        let (ms, us) = saxpy_and_synchronized_launch(&Device::cuda(0)?)?;
        println!("CHECKED {ms:.4} {us:.3}");
        return Ok(());
    }
    let Some(dev) = support::gpu_or_skip("gpu bench") else { return Ok(()) };

    // New processes: an empty disk cache, then the same cache warm (three of each, medians).
    let dir = std::env::temp_dir().join(format!("gpujit-bench-cache-{}", std::process::id()));
    let mut cold = Vec::new();
    let mut warm = Vec::new();
    let mut piece_only = Vec::new();
    for _ in 0..3 {
        let _ = std::fs::remove_dir_all(&dir);
        cold.push(run_child(&dir));
        warm.push(run_child(&dir));
        // Kernels gone, the compiler's pruned libdevice kept: new kernels, no libdevice parse.
        for e in std::fs::read_dir(&dir).expect("cache dir").flatten() {
            if e.path().extension().is_some_and(|x| x == "gjk") {
                std::fs::remove_file(e.path()).expect("remove");
            }
        }
        piece_only.push(run_child(&dir));
    }
    let _ = std::fs::remove_dir_all(&dir);
    let col = |v: &[[f64; 5]], i: usize| support::median(v.iter().map(|r| r[i]).collect());
    println!("process_context_ms      gpujit          {:8.2} ms  (Device::cuda(0) in a new process)", col(&cold, 0));
    println!("first_call_saxpy        gpujit          {:8.2} ms  (new process, context up, empty disk cache)", col(&cold, 1));
    println!("second_new_kernel       gpujit          {:8.2} ms  (new process, empty disk cache)", col(&cold, 2));
    println!("first_new_expression    gpujit          {:8.2} ms  (new process, empty disk cache)", col(&cold, 3));
    println!(
        "first_math_kernel       gpujit          {:8.2} ms  (sin + exp: libdevice parsed and pruned; empty disk cache)",
        col(&cold, 4)
    );
    println!(
        "math_kernel_piece_disk  gpujit          {:8.2} ms  (new kernel, pruned libdevice from disk; new process)",
        col(&piece_only, 4)
    );
    println!("warm_first_call_saxpy   gpujit          {:8.2} ms  (new process, context up, warm disk cache)", col(&warm, 1));
    println!("warm_second_kernel      gpujit          {:8.2} ms  (warm disk cache)", col(&warm, 2));
    println!("warm_first_expression   gpujit          {:8.2} ms  (warm disk cache)", col(&warm, 3));
    println!("warm_math_kernel        gpujit          {:8.2} ms  (warm disk cache)", col(&warm, 4));

    // IR -> PTX in process (LLVM, libdevice when used), median of 5 after a first call.
    let target = dev.nvptx_target().expect("target");
    {
        let m = 8usize;
        let x = DeviceArray::from_slice(&dev, &vec![1.0f32; m])?;
        let y = DeviceArray::from_slice(&dev, &vec![1.0f32; m])?;
        let mut z = DeviceArray::<f32>::zeros(&dev, m)?;
        let time = |f: &mut dyn FnMut()| {
            f();
            support::median(
                (0..5)
                    .map(|_| {
                        let t = Instant::now();
                        f();
                        t.elapsed().as_secs_f64() * 1e3
                    })
                    .collect(),
            )
        };
        let ms = time(&mut || drop(saxpy.ptx(&target, (2.0f32, &x, &y, &mut z)).expect("ptx")));
        println!("ir_to_ptx_saxpy         gpujit          {ms:8.2} ms  (specialize + LLVM O3 + PTX emission)");
        let ms = time(&mut || drop(scale.ptx(&target, (2.0f32, &mut z)).expect("ptx")));
        println!("ir_to_ptx_scale         gpujit          {ms:8.2} ms");
    }

    // Bandwidth, 2^26 f32: bytes of x, y and z.
    let n = 1usize << 26;
    let x = DeviceArray::from_slice(&dev, &vec![1.5f32; n])?;
    let y = DeviceArray::from_slice(&dev, &vec![-0.5f32; n])?;
    let mut z = DeviceArray::<f32>::zeros(&dev, n)?;
    launch!(saxpy[n.div_ceil(256), 256](2.0f32, &x, &y, &mut z))?;
    dev.synchronize()?;
    let ms = event_ms(30, || launch!(saxpy[n.div_ceil(256), 256](2.0f32, &x, &y, &mut z)).expect("launch"));
    let gbs = 3.0 * 4.0 * n as f64 / (ms * 1e-3) / 1e9;
    assert!(z.to_vec()?.iter().all(|v| *v == 2.5), "saxpy result");
    println!("saxpy_f32_2^26          gpujit          {gbs:8.1} GB/s  ({ms:.3} ms a kernel)");

    // The checked mode (GPUJIT_CHECK=1, in a child process) beside the same work unchecked: every
    // launch bounds-checked, its float stores tested, and synchronized.
    {
        let v = support::child_numbers(&[("GPUJIT_BENCH_CHECKED", "1".as_ref()), ("GPUJIT_CHECK", "1".as_ref())], "CHECKED");
        let (checked_ms, checked_us) = (v[0], v[1]);
        let (plain_ms, plain_us) = saxpy_and_synchronized_launch(&dev)?;
        let gbs = |ms: f64| 3.0 * 4.0 * n as f64 / (ms * 1e-3) / 1e9;
        println!(
            "checked_saxpy_2^26      GPUJIT_CHECK=1  {:8.1} GB/s  ({checked_ms:.3} ms a kernel; unchecked {:.1} GB/s, {plain_ms:.3} ms; {:.2}x the time)",
            gbs(checked_ms),
            gbs(plain_ms),
            checked_ms / plain_ms
        );
        println!(
            "checked_small_launch    GPUJIT_CHECK=1  {checked_us:8.2} us  (launch + synchronize, 1024 f32; unchecked {plain_us:.2} us; {:.2}x)",
            checked_us / plain_us
        );
    }

    // Complex bandwidth, 2^26 complex64: bytes of x and y read, y written.
    {
        let xc = DeviceArray::from_slice(&dev, &vec![Complex::new(1.0f32, -1.0); n])?;
        let mut yc = DeviceArray::from_slice(&dev, &vec![Complex::new(0.5f32, 0.25); n])?;
        let a = Complex::new(0.0f32, 1.0);
        launch!(caxpy[n.div_ceil(256), 256](a, &xc, &mut yc))?;
        dev.synchronize()?;
        let ms = event_ms(30, || launch!(caxpy[n.div_ceil(256), 256](a, &xc, &mut yc)).expect("launch"));
        let gbs = 3.0 * 8.0 * n as f64 / (ms * 1e-3) / 1e9;
        // Each launch adds i * (1 - i) = 1 + i (exactly) to every element.
        let v = yc.to_vec()?;
        assert!(v.iter().all(|z| *z == v[0]) && v[0].re - 0.5 == v[0].im - 0.25 && v[0].re > 1.0, "caxpy result {}", v[0]);
        println!("caxpy_c64_2^26          gpujit          {gbs:8.1} GB/s  ({ms:.3} ms a kernel)");
    }

    // Random fills, 2^28 elements: the kernel alone (into an array made once), by events, beside
    // a whole `random::*` call that allocates its array (host clock, synchronized).
    let n = 1usize << 28;
    let mut f32s = DeviceArray::<f32>::zeros(&dev, n)?;
    let mut f64s = DeviceArray::<f64>::zeros(&dev, n)?;
    let whole = |f: &mut dyn FnMut()| {
        f();
        dev.synchronize().expect("sync");
        let mut t = Vec::new();
        for _ in 0..10 {
            let s = Instant::now();
            f();
            dev.synchronize().expect("sync");
            t.push(s.elapsed().as_secs_f64() * 1e3);
        }
        support::median(t)
    };
    for (name, bytes, kernel_ms, whole_ms) in [
        (
            "uniform_f32",
            4,
            event_ms(10, || random::uniform_into(&mut f32s, 7).expect("fill")),
            whole(&mut || drop(random::uniform(&dev, &[n], 7).expect("fill"))),
        ),
        (
            "normal_f32",
            4,
            event_ms(10, || random::normal_into(&mut f32s, 7).expect("fill")),
            whole(&mut || drop(random::normal(&dev, &[n], 7).expect("fill"))),
        ),
        (
            "uniform_f64",
            8,
            event_ms(10, || random::uniform_f64_into(&mut f64s, 7).expect("fill")),
            whole(&mut || drop(random::uniform_f64(&dev, &[n], 7).expect("fill"))),
        ),
        (
            "normal_f64",
            8,
            event_ms(10, || random::normal_f64_into(&mut f64s, 7).expect("fill")),
            whole(&mut || drop(random::normal_f64(&dev, &[n], 7).expect("fill"))),
        ),
    ] {
        let gbs = |ms: f64| bytes as f64 * n as f64 / (ms * 1e-3) / 1e9;
        println!(
            "random_{name:<12}2^28 gpujit {:8.1} GB/s  ({kernel_ms:.3} ms the kernel; a whole call with its allocation {whole_ms:.3} ms, {:.1} GB/s)",
            gbs(kernel_ms),
            gbs(whole_ms)
        );
    }

    // Launch host time: small arrays, 3 array arguments and 1 scalar.
    let m = 1024usize;
    let sx = DeviceArray::from_slice(&dev, &vec![1.0f32; m])?;
    let sy = DeviceArray::from_slice(&dev, &vec![1.0f32; m])?;
    let mut sz = DeviceArray::<f32>::zeros(&dev, m)?;
    launch!(saxpy[4, 256](2.0f32, &sx, &sy, &mut sz))?;
    let mut raw_launch = support::RawLaunch::new(&dev, &saxpy, (2.0f32, &sx, &sy, &mut sz), m)?;
    // Alternating batches of ours and of the raw launch, three times.
    for round in 1..=3 {
        let (ours, raw) = host_us_vs_raw(&dev, &mut raw_launch, || launch!(saxpy[4, 256](2.0f32, &sx, &sy, &mut sz)).expect("launch"));
        println!(
            "launch_host_time        gpujit          {ours:8.2} us  (round {round}; raw cuLaunchKernel {raw:.2} us; ratio {:.2})",
            ours / raw
        );
    }
    drop(raw_launch);
    let stream = dev.new_stream()?;
    let on_stream = host_us(&dev, || launch!(saxpy[4, 256, &stream](2.0f32, &sx, &sy, &mut sz)).expect("launch"));
    println!("launch_host_time_stream gpujit          {on_stream:8.2} us  (on a user stream)");

    // 16 threads launching at once: host time a launch, each thread on its own arrays.
    let threads = 16;
    let t = Instant::now();
    let per_thread = 2000;
    std::thread::scope(|s| {
        for _ in 0..threads {
            let dev = dev.clone();
            s.spawn(move || {
                let x = DeviceArray::from_slice(&dev, &vec![1.0f32; m]).expect("alloc");
                let y = DeviceArray::from_slice(&dev, &vec![1.0f32; m]).expect("alloc");
                let mut z = DeviceArray::<f32>::zeros(&dev, m).expect("alloc");
                let stream = dev.new_stream().expect("stream");
                for _ in 0..per_thread {
                    launch!(saxpy[4, 256, &stream](2.0f32, &x, &y, &mut z)).expect("launch");
                }
                stream.synchronize().expect("sync");
            });
        }
    });
    let us = t.elapsed().as_secs_f64() * 1e6 / (threads * per_thread) as f64;
    println!("launch_16_threads       gpujit          {us:8.2} us  (wall time / launches, 16 threads, own streams)");

    // A CUDA graph of 20 launches against the 20 launches themselves.
    let launches = 20;
    let graph = Graph::capture(&dev, |s| {
        for _ in 0..launches {
            launch!(saxpy[4, 256, s](2.0f32, &sx, &sy, &mut sz))?;
        }
        Ok(())
    })?;
    let graph_us = host_us(&dev, || graph.launch().expect("graph"));
    let direct_us = host_us(&dev, || {
        for _ in 0..launches {
            launch!(saxpy[4, 256](2.0f32, &sx, &sy, &mut sz)).expect("launch");
        }
    });
    println!("graph_20_launches       gpujit          {graph_us:8.2} us  (host time a replay; the 20 launches: {direct_us:.2} us)");
    let dev_ms = event_ms(10, || graph.launch().expect("graph"));
    let direct_ms = event_ms(10, || {
        for _ in 0..launches {
            launch!(saxpy[4, 256](2.0f32, &sx, &sy, &mut sz)).expect("launch");
        }
    });
    println!("graph_20_launches_device gpujit         {:8.2} us  (device time a replay; direct: {:.2} us)", dev_ms * 1e3, direct_ms * 1e3);
    Ok(())
}
