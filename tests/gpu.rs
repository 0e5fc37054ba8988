//! The kernel suite on a CUDA GPU. Without a GPU each test is skipped with a message, unless
//! `GPUJIT_REQUIRE_GPU=1`, which makes a missing GPU a failure.

#[macro_use]
mod common;

use common::Harness;
use gpujit::prelude::*;

macro_rules! suite {
    ($($case:ident),* $(,)?) => {$(
        #[test]
        fn $case() {
            if let Some(h) = Harness::gpu_for(stringify!($case)) {
                common::$case(&h);
            }
        }
    )*};
}

for_each_case!(suite);

#[gpu_kernel]
fn twice(x: &[f32], out: &mut [f32]) {
    let i = grid(1);
    if i < x.len() {
        out[i] = 2.0 * x[i];
    }
}

/// An array on the CPU backend passed to a launch on the GPU names the argument and both devices.
#[test]
fn device_mismatch() {
    let Some(h) = Harness::gpu() else { return };
    let x = h.arr(&[1.0f32, 2.0]);
    let mut host_out = DeviceArray::<f32>::zeros(&Device::cpu(), 2).unwrap();
    let e = launch!(twice[1, 32](&x, &mut host_out)).unwrap_err();
    assert!(matches!(&e, gpujit::Error::DeviceMismatch { param, position: 2, .. } if param == "out"), "{e}");
    assert!(e.to_string().contains("cuda:0") && e.to_string().contains("cpu"), "{e}");
}

/// Launches on a user stream (Numba's third slot), ordered, then read back.
#[test]
fn launch_on_a_stream() {
    let Some(h) = Harness::gpu() else { return };
    let stream = h.dev.new_stream().unwrap();
    let n = 100_000;
    let x: Vec<f32> = (0..n).map(|i| i as f32).collect();
    let dx = h.arr(&x);
    let mut a = h.zeros::<f32>(n);
    let mut b = h.zeros::<f32>(n);
    launch!(twice[n.div_ceil(256), 256, &stream](&dx, &mut a)).unwrap();
    launch!(twice[n.div_ceil(256), 256, &stream, 0u32](&a, &mut b)).unwrap();
    stream.synchronize().unwrap();
    assert_eq!(b.to_vec().unwrap(), x.iter().map(|v| 4.0 * v).collect::<Vec<_>>());
}

#[gpu_kernel]
fn double_into(x: &[f32], out: &mut [f32]) {
    let i = grid(1);
    if i < x.len() {
        out[i] = 2.0 * x[i];
    }
}

/// cudarc `CudaSlice`s as kernel arguments: borrowed, ordered after the slice's stream.
#[test]
fn cudarc_slices() {
    let Some(_h) = Harness::gpu() else { return };
    let ctx = cudarc::driver::CudaContext::new(0).unwrap();
    let stream = ctx.default_stream();
    let host: Vec<f32> = (0..5000).map(|i| i as f32 * 0.25).collect();
    let x = stream.clone_htod(&host).unwrap();
    let mut out = stream.clone_htod(&vec![0.0f32; host.len()]).unwrap();
    {
        let xa = gpujit::ExternalArray::from_cuda_slice(&x).unwrap();
        let mut oa = gpujit::ExternalArray::from_cuda_slice_mut(&mut out).unwrap();
        assert!(xa.is_read_only() && !oa.is_read_only());
        launch!(double_into[host.len().div_ceil(256), 256](&xa, &mut oa)).unwrap();
        xa.device().synchronize().unwrap();
    }
    let got = stream.clone_dtoh(&out).unwrap();
    assert_eq!(got, host.iter().map(|v| 2.0 * v).collect::<Vec<_>>());
}

/// A CUDA graph over cudarc slices: refused by `Graph::capture` (the graph cannot keep them
/// alive), taken by `Graph::capture_with_foreign` and replayed.
#[test]
fn graph_over_cudarc_slices() {
    let Some(h) = Harness::gpu() else { return };
    let ctx = cudarc::driver::CudaContext::new(0).unwrap();
    let stream = ctx.default_stream();
    let host: Vec<f32> = (0..3000).map(|i| i as f32 - 1000.0).collect();
    let x = stream.clone_htod(&host).unwrap();
    let mut out = stream.clone_htod(&vec![0.0f32; host.len()]).unwrap();
    stream.synchronize().unwrap();
    {
        let xa = gpujit::ExternalArray::from_cuda_slice(&x).unwrap();
        let mut oa = gpujit::ExternalArray::from_cuda_slice_mut(&mut out).unwrap();
        let blocks = host.len().div_ceil(256);
        let e = Graph::capture(&h.dev, |s| launch!(double_into[blocks, 256, s](&xa, &mut oa)).map(|_| ())).err().expect("refused");
        assert!(e.to_string().contains("foreign array"), "{e}");
        // SAFETY: `x` and `out` outlive the graph, which is dropped at the end of this block.
        let graph =
            unsafe { Graph::capture_with_foreign(&h.dev, |s| launch!(double_into[blocks, 256, s](&xa, &mut oa)).map(|_| ())) }.unwrap();
        graph.launch().unwrap();
        h.dev.synchronize().unwrap();
    }
    let got = stream.clone_dtoh(&out).unwrap();
    assert_eq!(got, host.iter().map(|v| 2.0 * v).collect::<Vec<_>>());
}

/// The disk cache across processes (children running the `first_launch` case): the first
/// compiles and stores, the second loads everything from the cache, damaged entries are rebuilt,
/// and `GPUJIT_CACHE=off` compiles without touching the directory.
#[test]
fn disk_cache_across_processes() {
    let Some(_h) = Harness::gpu() else { return };
    let dir = std::env::temp_dir().join(format!("gpujit-cache-gpu-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let d = dir.to_string_lossy().to_string();
    let env = [("GPUJIT_LOG", "compile"), ("GPUJIT_CACHE_DIR", d.as_str())];
    let entries = || {
        std::fs::read_dir(&dir)
            .map(|r| r.filter_map(|e| e.ok()).filter(|e| e.path().extension().is_some_and(|x| x == "gjk")).count())
            .unwrap_or(0)
    };

    let (out1, err1) = common::run_first_launch_child(&env);
    assert!(err1.contains("gpujit: compiled `probe(") && !err1.contains("disk cache"), "{err1}");
    let stored = entries();
    assert!(stored >= 2, "the kernel and the expression are stored: {stored} entries\n{err1}");

    let (out2, err2) = common::run_first_launch_child(&env);
    assert!(!err2.contains("gpujit: compiled"), "a warm process compiles nothing:\n{err2}");
    assert!(err2.matches("loaded from the disk cache").count() >= 2, "{err2}");
    assert_eq!(entries(), stored);
    eprintln!("cold child: {}", out1.lines().find(|l| l.contains("ready in")).unwrap_or(""));
    eprintln!("warm child: {}", out2.lines().find(|l| l.contains("ready in")).unwrap_or(""));

    // Truncate every entry: detected, removed and rebuilt.
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let bytes = std::fs::read(&p).unwrap();
        std::fs::write(&p, &bytes[..bytes.len() / 3]).unwrap();
    }
    let (_, err3) = common::run_first_launch_child(&env);
    assert!(err3.contains("removing damaged cache entry") && err3.contains("gpujit: compiled `probe("), "{err3}");
    assert_eq!(entries(), stored);
    let (_, err4) = common::run_first_launch_child(&env);
    assert!(!err4.contains("gpujit: compiled"), "{err4}");

    // Off: compiles, stores nothing.
    std::fs::remove_dir_all(&dir).unwrap();
    let (_, err5) = common::run_first_launch_child(&[("GPUJIT_LOG", "compile"), ("GPUJIT_CACHE_DIR", d.as_str()), ("GPUJIT_CACHE", "off")]);
    assert!(err5.contains("gpujit: compiled `probe(") && !err5.contains("disk cache"), "{err5}");
    assert!(!dir.exists(), "GPUJIT_CACHE=off wrote to the directory");
}

/// Whether this process runs under a CUDA tool (`scripts/gpu-check.sh`, which counts a child's
/// reports as its own): the tests that run a tool on a child of theirs skip then.
fn under_cuda_tool() -> bool {
    let under = ["CUDA_INJECTION64_PATH", "NV_SANITIZER_INJECTION_PORT_BASE", "GPUJIT_UNDER_SANITIZER"]
        .iter()
        .any(|v| std::env::var_os(v).is_some());
    if under {
        eprintln!("skipping: this process runs under a CUDA tool");
    }
    under
}

/// A tool's run on a child process: `None` (skip) when the tool cannot be started, which fails
/// the test instead with `GPUJIT_REQUIRE_GPU=1`.
fn tool_output(run: std::io::Result<std::process::Output>, tool: &str) -> Option<std::process::Output> {
    match run {
        Ok(o) => Some(o),
        Err(e) if std::env::var("GPUJIT_REQUIRE_GPU").as_deref() == Ok("1") => panic!("cannot run {tool}: {e}"),
        Err(e) => {
            eprintln!("skipping: cannot run {tool}: {e}");
            None
        }
    }
}

/// An out-of-range write, planted: bounds checks are off, the PTX carries source lines.
#[gpu_kernel(lineinfo)]
fn planted_write(x: &[f32], out: &mut [f32]) {
    let i = grid(1);
    if i < x.len() {
        out[i + 8] = x[i]; // PLANTED: the last 8 threads write past `out`
    }
}

/// compute-sanitizer's memcheck names the Rust file and line of a planted out-of-range write in
/// a `lineinfo` kernel (the launch runs in a child process under the tool). Skipped when this
/// suite itself runs under a sanitizer (`scripts/gpu-check.sh`), which counts the child's
/// reports as its own; compute-sanitizer is required with `GPUJIT_REQUIRE_GPU=1`.
#[test]
fn sanitizer_names_rust_lines() {
    if std::env::var("GPUJIT_PLANTED_WRITE").as_deref() == Ok("1") {
        // The child: the faulty launch itself.
        let dev = Device::cuda(0).unwrap();
        let x = DeviceArray::from_slice(&dev, &[1.0f32; 1000]).unwrap();
        let mut out = DeviceArray::<f32>::zeros(&dev, 1000).unwrap();
        let _ = launch!(planted_write[4, 256](&x, &mut out)).and_then(|_| dev.synchronize());
        return;
    }
    let Some(_h) = Harness::gpu() else { return };
    if under_cuda_tool() {
        return;
    }
    let tool = std::env::var("GPUJIT_SANITIZER").unwrap_or_else(|_| "compute-sanitizer".into());
    let run = std::process::Command::new(&tool)
        .args(["--tool", "memcheck", "--error-exitcode", "99", "--print-limit", "4"])
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", "sanitizer_names_rust_lines", "--nocapture", "--test-threads=1"])
        .env("GPUJIT_PLANTED_WRITE", "1")
        .env("GPUJIT_CACHE", "off")
        // Exact allocations: a size class's slack would hide the planted write from memcheck.
        .env("GPUJIT_MEMORY_CACHE", "off")
        .output();
    let Some(out) = tool_output(run, &tool) else { return };
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let line = include_str!("gpu.rs").lines().position(|l| l.contains("// PLANTED:")).unwrap() + 1;
    assert_eq!(out.status.code(), Some(99), "memcheck found no error:\n{text}");
    assert!(text.contains("Invalid __global__ write of size 4 bytes"), "{text}");
    // The tool names the file by its name: `at planted_write+0x3a0 in gpu.rs:165`.
    assert!(
        text.contains("at planted_write+") && text.contains(&format!(" in gpu.rs:{line}\n")),
        "the report names no Rust line (gpu.rs:{line}):\n{text}"
    );
}

/// A kernel built for the debugger (`debug`): unoptimized, with its locals described.
#[gpu_kernel(debug)]
fn stepped(x: &[f32], rounds: u32, out: &mut [f32]) {
    let i = grid(1);
    if i < x.len() {
        let mut acc = 0.0f32;
        let mut k = 0u32;
        while k < rounds {
            acc += x[i] * (k as f32 + 1.0); // BREAK: cuda-gdb stops here
            k += 1;
        }
        out[i] = acc;
    }
}

/// cuda-gdb stops at a breakpoint on a `debug` kernel's Rust line and shows its locals (the
/// launch runs in a child process under the debugger). Skipped under a CUDA tool; cuda-gdb is
/// required with `GPUJIT_REQUIRE_GPU=1`.
#[test]
fn debugger_shows_locals() {
    if std::env::var("GPUJIT_DEBUGGED_CHILD").as_deref() == Ok("1") {
        let dev = Device::cuda(0).unwrap();
        let x = DeviceArray::from_slice(&dev, &[2.0f32; 64]).unwrap();
        let mut out = DeviceArray::<f32>::zeros(&dev, 64).unwrap();
        launch!(stepped[1, 64](&x, 3u32, &mut out)).unwrap();
        assert_eq!(out.to_vec().unwrap(), vec![12.0f32; 64]);
        return;
    }
    let Some(_h) = Harness::gpu() else { return };
    if under_cuda_tool() {
        return;
    }
    let line = include_str!("gpu.rs").lines().position(|l| l.contains("// BREAK:")).unwrap() + 1;
    let tool = std::env::var("GPUJIT_CUDA_GDB").unwrap_or_else(|_| "cuda-gdb".into());
    let run = std::process::Command::new("timeout")
        .arg("180")
        .arg(&tool)
        .args(["-batch", "-ex", "set breakpoint pending on", "-ex", "set pagination off"])
        .args([
            "-ex",
            &format!("break gpu.rs:{line}"),
            "-ex",
            "run",
            "-ex",
            "info locals",
            "-ex",
            "info args",
            "-ex",
            "print k",
            "-ex",
            "bt",
            "-ex",
            "kill",
        ])
        .arg("--args")
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", "debugger_shows_locals", "--nocapture", "--test-threads=1"])
        .env("GPUJIT_DEBUGGED_CHILD", "1")
        .env("GPUJIT_CACHE", "off")
        .output();
    let Some(out) = tool_output(run, &tool) else { return };
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if text.contains("No such file or directory") && text.contains(&tool) && std::env::var("GPUJIT_REQUIRE_GPU").as_deref() != Ok("1") {
        return eprintln!("skipping: no {tool}");
    }
    assert!(text.contains(&format!("gpu.rs:{line}")), "cuda-gdb did not stop at gpu.rs:{line}:\n{text}");
    assert!(text.contains("acc = ") && text.contains("rounds = "), "cuda-gdb shows no locals:\n{text}");
    assert!(text.contains("$1 = 0"), "`print k` at the first stop:\n{text}");
}

/// `GPUJIT_CHECK=1` turns a device fault into `Error::KernelFault` naming the kernel that caused
/// it, at its launch: a child process writes through a planted bad pointer (the fault ends its
/// CUDA context, so it cannot share this process) and prints the error it got.
#[test]
fn checked_mode_names_faulting_kernel() {
    if std::env::var("GPUJIT_FAULT_CHILD").as_deref() == Ok("1") {
        let dev = Device::cuda(0).unwrap();
        let x = DeviceArray::from_slice(&dev, &[1.0f32; 256]).unwrap();
        // SAFETY: deliberately not: a pointer to no allocation, 256-byte aligned (the planted
        // fault this test is about; the process exits right after).
        let mut bad =
            unsafe { gpujit::ExternalArray::from_raw_parts(&dev, gpujit::codegen::ScalarType::F32, 0x100, &[256], None, false) }.unwrap();
        let r = launch!(twice[1, 256](&x, &mut bad));
        match r {
            Err(e @ gpujit::Error::KernelFault { .. }) => println!("FAULT-REPORT {e}"),
            other => println!("FAULT-REPORT unexpected {other:?}"),
        }
        return;
    }
    let Some(_h) = Harness::gpu() else { return };
    if under_cuda_tool() {
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "checked_mode_names_faulting_kernel", "--nocapture", "--test-threads=1"])
        .env("GPUJIT_FAULT_CHILD", "1")
        .env("GPUJIT_CHECK", "1")
        .env("GPUJIT_CACHE", "off")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.contains("FAULT-REPORT")).unwrap_or_default();
    assert!(
        line.contains("kernel `twice` failed on the GPU") && line.contains("GPUJIT_CHECK=1"),
        "child said:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The memory cache: a dropped array's memory is handed to the next allocation of its size
/// class once the work before the drop is done, and not while a kernel may still use it; memory
/// used on another library's non-blocking stream, or lent through the CUDA Array Interface, is
/// freed at once (`cuMemFree`); `release_cached_memory` empties the cache. In a child process:
/// the cache is the process's, and other tests' launches would change what it holds.
#[test]
fn memory_cache_reuses_idle_memory() {
    let Some(h) = Harness::gpu() else { return };
    if std::env::var("GPUJIT_MEMORY_CHILD").as_deref() != Ok("1") {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "memory_cache_reuses_idle_memory", "--nocapture", "--test-threads=1"])
            .env("GPUJIT_MEMORY_CHILD", "1")
            .output()
            .unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success() && text.contains("1 passed"), "child:\n{text}");
        return;
    }
    let dev = &h.dev;
    dev.synchronize().unwrap();
    dev.release_cached_memory();
    assert_eq!(dev.cached_memory_bytes(), 0);
    let n = 1_000_003usize;
    let a = DeviceArray::<f32>::zeros(dev, n).unwrap();
    let first = a.address();
    drop(a);
    // Off with GPUJIT_MEMORY_CACHE=off and under compute-sanitizer (exact extents for memcheck,
    // as scripts/gpu-check.sh runs the suite): nothing is kept, and the results stay right.
    let off =
        std::env::var("GPUJIT_MEMORY_CACHE").as_deref() == Ok("off") || std::env::var_os("NV_SANITIZER_INJECTION_PORT_BASE").is_some();
    if off {
        assert_eq!(dev.cached_memory_bytes(), 0, "the cache is off");
        let x = DeviceArray::from_slice(dev, &vec![1.5f32; n]).unwrap();
        for _ in 0..4 {
            let mut out = DeviceArray::<f32>::uninit_shape(dev, &[n]).unwrap();
            launch!(twice[n.div_ceil(256), 256](&x, &mut out)).unwrap();
            assert!(out.to_vec().unwrap().iter().all(|v| *v == 3.0));
        }
        assert_eq!(dev.cached_memory_bytes(), 0, "the cache is off");
        return;
    }
    assert!(dev.cached_memory_bytes() >= n * 4, "the freed array is cached");
    dev.synchronize().unwrap();
    // A size of the same class (2 MiB steps here) takes the idle block.
    let b = DeviceArray::<f32>::zeros(dev, n - 100).unwrap();
    assert_eq!(b.address(), first, "the idle block is reused");
    assert_eq!(b.to_vec().unwrap(), vec![0.0f32; n - 100], "zeroed when asked");
    drop(b);
    // Made, filled and dropped in a loop with no synchronization: each result is right, so no
    // block is handed out while a kernel still writes it.
    let x = DeviceArray::from_slice(dev, &(0..n).map(|i| i as f32).collect::<Vec<_>>()).unwrap();
    let mut kept = Vec::new();
    for round in 0..24 {
        let mut out = DeviceArray::<f32>::uninit_shape(dev, &[n]).unwrap();
        launch!(twice[n.div_ceil(256), 256](&x, &mut out)).unwrap();
        if round % 6 == 5 {
            kept.push((round, out));
        }
    }
    for (round, out) in &kept {
        let v = out.to_vec().unwrap();
        assert!(v.iter().enumerate().all(|(i, v)| *v == 2.0 * i as f32), "round {round}");
    }
    drop(kept);
    // Lent through the CUDA Array Interface: freed at once, not cached.
    dev.release_cached_memory();
    let lent = DeviceArray::<f32>::zeros(dev, 4096).unwrap();
    let _ = lent.cuda_array_interface().unwrap();
    drop(lent);
    assert_eq!(dev.cached_memory_bytes(), 0, "lent memory is not cached");
    // Used on another library's non-blocking stream: the next free synchronizes and frees.
    let raw = cudarc::driver::result::stream::create(cudarc::driver::result::stream::StreamKind::NonBlocking).unwrap();
    {
        // SAFETY: `raw` is a live stream of this device's primary context, destroyed below.
        let s = unsafe { Stream::from_foreign(dev, raw as u64) };
        let mut out = DeviceArray::<f32>::zeros(dev, n).unwrap();
        launch!(twice[n.div_ceil(256), 256, &s](&x, &mut out)).unwrap();
        drop(out);
        assert_eq!(dev.cached_memory_bytes(), 0, "memory used on a non-blocking stream is freed");
        s.synchronize().unwrap();
    }
    // SAFETY: created above, no work pending (synchronized), destroyed once.
    unsafe { cudarc::driver::result::stream::destroy(raw) }.unwrap();
    let c = DeviceArray::<f32>::zeros(dev, 4096).unwrap();
    drop(c);
    assert!(dev.cached_memory_bytes() > 0, "after that free, caching resumes");
    dev.release_cached_memory();
    assert_eq!(dev.cached_memory_bytes(), 0);
}

/// A kernel the profiler looks at: its PTX carries source lines (`lineinfo`).
#[gpu_kernel(lineinfo)]
fn profiled(x: &[f32], out: &mut [f32]) {
    let i = grid(1);
    if i < x.len() {
        out[i] = x[i].sqrt() * 3.0 + 1.0; // PROFILED: ncu shows this line
    }
}

/// Nsight Compute's source page (`ncu --import-source yes --page source --print-source
/// cuda,sass`) shows a `lineinfo` kernel's Rust file and line, with the line's text, above its
/// SASS. The launch runs in a child process under ncu, in a folder holding this file as
/// `tests/gpu.rs`, so no path of the build machine is needed. Skipped under a CUDA tool; ncu is
/// required with `GPUJIT_REQUIRE_GPU=1`.
#[test]
fn profiler_shows_rust_lines() {
    if std::env::var("GPUJIT_PROFILED_CHILD").as_deref() == Ok("1") {
        let dev = Device::cuda(0).unwrap();
        let x = DeviceArray::from_slice(&dev, &[4.0f32; 1000]).unwrap();
        let mut out = DeviceArray::<f32>::zeros(&dev, 1000).unwrap();
        launch!(profiled[4, 256](&x, &mut out)).unwrap();
        assert_eq!(out.to_vec().unwrap(), vec![7.0f32; 1000]);
        return;
    }
    let Some(_h) = Harness::gpu() else { return };
    if under_cuda_tool() {
        return;
    }
    let src = std::env::temp_dir().join(format!("gpujit-ncu-{}", std::process::id()));
    std::fs::create_dir_all(src.join("tests")).unwrap();
    std::fs::write(src.join("tests/gpu.rs"), include_str!("gpu.rs")).unwrap();
    let tool = std::env::var("GPUJIT_NCU").unwrap_or_else(|_| "ncu".into());
    let run = std::process::Command::new(&tool)
        .args(["--import-source", "yes", "--page", "source", "--print-source", "cuda,sass", "-k", "profiled", "-c", "1"])
        .arg("--source-folders")
        .arg(&src)
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", "profiler_shows_rust_lines", "--nocapture", "--test-threads=1"])
        .current_dir(&src)
        .env("GPUJIT_PROFILED_CHILD", "1")
        .env("GPUJIT_CACHE", "off")
        .output();
    let _ = std::fs::remove_dir_all(&src);
    let Some(out) = tool_output(run, &tool) else { return };
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let line = include_str!("gpu.rs").lines().position(|l| l.contains("// PROFILED:")).unwrap() + 1;
    assert!(out.status.success(), "ncu failed:\n{text}");
    assert!(text.contains("File Path:") && text.contains("gpu.rs"), "ncu names no Rust file:\n{text}");
    let shown = text.lines().any(|l| l.trim_start().starts_with(&format!("{line} ")) && l.contains("x[i].sqrt() * 3.0 + 1.0"));
    assert!(shown, "ncu shows no source line {line} with its text:\n{text}");
}
