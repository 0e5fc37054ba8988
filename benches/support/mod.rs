//! Timing helpers shared by the GPU benchmarks.

#![allow(dead_code)]

use cudarc::driver::{result, sys};
use gpujit::Device;
use std::ffi::{c_void, CString};
use std::time::Instant;

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Device time of `f` by CUDA events on the legacy default stream, median of `reps` (ms).
pub fn event_ms(reps: usize, mut f: impl FnMut()) -> f64 {
    // SAFETY: events are created, recorded on the legacy default stream (where the launches go),
    // synchronized and destroyed within this function, with the device's context current.
    unsafe {
        let start = result::event::create(sys::CUevent_flags::CU_EVENT_DEFAULT).expect("event");
        let end = result::event::create(sys::CUevent_flags::CU_EVENT_DEFAULT).expect("event");
        f();
        let mut times = Vec::new();
        for _ in 0..reps {
            result::event::record(start, std::ptr::null_mut()).expect("record");
            f();
            result::event::record(end, std::ptr::null_mut()).expect("record");
            result::event::synchronize(end).expect("sync");
            times.push(result::event::elapsed(start, end).expect("elapsed") as f64);
        }
        result::event::destroy(start).expect("destroy");
        result::event::destroy(end).expect("destroy");
        median(times)
    }
}

/// Host time of one call of `launch` (µs): batches of launches, timed on the host, synchronized
/// between batches so the driver's queue never fills.
pub fn host_us(dev: &Device, mut launch: impl FnMut()) -> f64 {
    let batch = 1000;
    let mut per = Vec::new();
    for _ in 0..15 {
        dev.synchronize().expect("sync");
        let t = Instant::now();
        for _ in 0..batch {
            launch();
        }
        per.push(t.elapsed().as_secs_f64() * 1e6 / batch as f64);
    }
    dev.synchronize().expect("sync");
    median(per)
}

/// Runs this bench again in a new process with the environment `env`: the numbers of the line it
/// printed starting with `tag` (and a space).
pub fn child_numbers(env: &[(&str, &std::ffi::OsStr)], tag: &str) -> Vec<f64> {
    let mut cmd = std::process::Command::new(std::env::current_exe().expect("exe"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("child");
    let text = String::from_utf8_lossy(&out.stdout);
    let prefix = format!("{tag} ");
    let line = text
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("child ({tag}) failed: {text}{}", String::from_utf8_lossy(&out.stderr)));
    line.split_whitespace().skip(1).map(|w| w.parse().expect("number")).collect()
}

/// Runs this bench again in a new process, with `GPUJIT_BENCH_CHILD=1` and the disk cache in
/// `dir`: the numbers of the line it printed starting with `CHILD `.
pub fn run_child(dir: &std::path::Path) -> Vec<f64> {
    child_numbers(&[("GPUJIT_BENCH_CHILD", "1".as_ref()), ("GPUJIT_CACHE_DIR", dir.as_os_str())], "CHILD")
}

/// The first GPU, or `None` after printing why the bench is skipped (a panic instead when
/// `GPUJIT_REQUIRE_GPU=1`).
pub fn gpu_or_skip(bench: &str) -> Option<Device> {
    match Device::cuda(0) {
        Ok(d) => {
            println!("device: {}", d.name());
            Some(d)
        }
        Err(e) => {
            if std::env::var("GPUJIT_REQUIRE_GPU").as_deref() == Ok("1") {
                panic!("GPUJIT_REQUIRE_GPU=1 but no GPU: {e}");
            }
            println!("{bench} skipped: {e}");
            None
        }
    }
}

/// A raw `cuLaunchKernel` of a kernel's PTX, the floor launch costs are compared with: the
/// kernel must have a saxpy-shaped signature `(f32, &[f32], &[f32], &mut [f32])`; it runs on raw
/// allocations of `m` floats.
pub struct RawLaunch {
    module: sys::CUmodule,
    function: sys::CUfunction,
    bufs: Vec<sys::CUdeviceptr>,
    slots: Box<[u64; 10]>,
}

impl RawLaunch {
    pub fn new<'a>(dev: &Device, kernel: &gpujit::Kernel, args: impl gpujit::KernelArgs<'a>, m: usize) -> gpujit::Result<RawLaunch> {
        let target = dev.nvptx_target().expect("a CUDA device has a PTX target");
        let ptx = kernel.ptx(&target, args)?;
        let declared = ptx.ptx.matches(".param .").count();
        assert_eq!(declared, 10, "the raw launch passes 10 parameters; the kernel declares {declared}");
        let image = CString::new(ptx.ptx).expect("PTX text");
        let name = CString::new(ptx.meta.entry).expect("name");
        dev.synchronize()?; // makes the device's context current on this thread
                            // SAFETY: the device's context is current on this thread; the module and allocations are
                            // owned by the RawLaunch and released in Drop after synchronizing.
        unsafe {
            let module = result::module::load_data(image.as_ptr() as *const c_void).expect("load");
            let function = result::module::get_function(module, name).expect("function");
            let bufs: Vec<sys::CUdeviceptr> = (0..3).map(|_| result::malloc_sync(m * 4).expect("malloc")).collect();
            // The kernel ABI (codegen's lowering): a scalar's value; for each array its data
            // pointer, its extent and its stride (1-D: one of each).
            let slots = Box::new([2.0f32.to_bits() as u64, bufs[0], m as u64, 1, bufs[1], m as u64, 1, bufs[2], m as u64, 1]);
            Ok(RawLaunch { module, function, bufs, slots })
        }
    }

    /// One launch of 4 blocks of 256 threads on the legacy default stream.
    pub fn launch(&mut self) {
        let base = self.slots.as_mut_ptr();
        // SAFETY: i < 10, inside the boxed slots, which outlive the call.
        let mut params: [*mut c_void; 10] = std::array::from_fn(|i| unsafe { base.add(i) } as *mut c_void);
        // SAFETY: the parameters match the PTX signature checked in `new`; the allocations live
        // until Drop; the context is current (the caller launches on the device's thread).
        unsafe { result::launch_kernel(self.function, (4, 1, 1), (256, 1, 1), 0, std::ptr::null_mut(), &mut params) }.expect("raw launch");
    }
}

impl Drop for RawLaunch {
    fn drop(&mut self) {
        // SAFETY: everything was created in `new` and is released once, after the work using it.
        unsafe {
            result::ctx::synchronize().expect("sync");
            for b in &self.bufs {
                result::free_sync(*b).expect("free");
            }
            result::module::unload(self.module).expect("unload");
        }
    }
}

/// Host time of one call of `ours` and of one raw launch (µs), measured in alternating batches
/// so that drift in the machine's speed affects both alike.
pub fn host_us_vs_raw(dev: &Device, raw: &mut RawLaunch, mut ours: impl FnMut()) -> (f64, f64) {
    let batch = 1000;
    let (mut a, mut b) = (Vec::new(), Vec::new());
    ours();
    raw.launch();
    for _ in 0..21 {
        dev.synchronize().expect("sync");
        let t = Instant::now();
        for _ in 0..batch {
            ours();
        }
        a.push(t.elapsed().as_secs_f64() * 1e6 / batch as f64);
        dev.synchronize().expect("sync");
        let t = Instant::now();
        for _ in 0..batch {
            raw.launch();
        }
        b.push(t.elapsed().as_secs_f64() * 1e6 / batch as f64);
    }
    dev.synchronize().expect("sync");
    (median(a), median(b))
}
