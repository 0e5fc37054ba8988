//! The runtime's launch path: no heap allocation once a kernel is cached (a counting allocator
//! proves it), and launches from many threads at once.

use super::{serial, Harness};
use gpujit::prelude::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// Counts the calling thread's allocations (other tests running beside do not disturb it).
pub struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: forwards every call to the system allocator unchanged; the counter is a
// const-initialised thread local without a destructor, so touching it never allocates.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: the caller's contract is forwarded.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: as for alloc.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: as for alloc.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as for alloc.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Allocations the calling thread makes in `f`.
pub fn allocations_in(f: impl FnOnce()) -> u64 {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

#[gpu_kernel]
fn axpby(a: f32, x: &[f32], y: &[f32], out: &mut [f32]) {
    let i = grid(1);
    if i < x.len() {
        out[i] = a * x[i] + y[i];
    }
}

fn five<'a>(x: &'a DeviceArray<f32>, y: &'a DeviceArray<f32>, h: f32) -> Expr<'a, f32> {
    (-expr(x) * x * h).exp() * expr(y).sin() + (expr(x) * y).abs().sqrt()
}

/// Once a kernel is cached, a launch of 3 arrays and a scalar allocates nothing on the host; nor
/// does building and evaluating a 5-operation expression into a given output, a `forall!`, or a
/// sum read back with `value()`.
pub fn launch_allocates_nothing(h: &Harness) {
    let _serial = serial();
    let n = 1000;
    let x = h.arr(&h.vec(n, |h| h.f64_in(-1.0, 1.0) as f32));
    let y = h.arr(&h.vec(n, |h| h.f64_in(-1.0, 1.0) as f32));
    let mut out = h.zeros::<f32>(n);
    let config = LaunchConfig::for_elements(n, 128);
    // The first launch compiles and caches.
    launch!(axpby[config](2.0f32, &x, &y, &mut out)).unwrap();
    five(&x, &y, 0.5).eval_into(&mut out).unwrap();
    let run_forall = |out: &mut DeviceArray<f32>, a: f32| forall!(n, |i| out[i] = a * x[i] - y[i]).unwrap();
    run_forall(&mut out, 1.0);
    h.dev.synchronize().unwrap();
    // The CPU harness's check of generated kernels' PTX is off on this thread while counting.
    super::SKIP_PTX_CHECKS.with(|c| c.set(true));

    let count = allocations_in(|| {
        for k in 0..100 {
            launch!(axpby[config](k as f32, &x, &y, &mut out)).unwrap();
        }
    });
    assert_eq!(count, 0, "100 launches of a cached kernel allocated {count} times");
    let count = allocations_in(|| {
        for k in 0..100 {
            five(&x, &y, k as f32 * 0.01).eval_into(&mut out).unwrap();
        }
    });
    assert_eq!(count, 0, "100 evaluations of a 5-op expression allocated {count} times");
    let count = allocations_in(|| {
        for k in 0..100 {
            run_forall(&mut out, k as f32);
        }
    });
    assert_eq!(count, 0, "100 forall! launches allocated {count} times");
    // A reduction: its launch path allocates nothing on a GPU (the CPU backend runs a kernel with
    // barriers as fibers, whose stacks it allocates per launch); `value()` adds nothing to that.
    let _ = expr(&x).abs().sum().value().unwrap();
    let mut one = h.zeros::<f32>(1);
    let into = allocations_in(|| {
        for _ in 0..100 {
            expr(&x).abs().sum().eval_into(&mut one).unwrap();
        }
    });
    let mut total = 0.0f32;
    let count = allocations_in(|| {
        for _ in 0..100 {
            total += expr(&x).abs().sum().value().unwrap();
        }
    });
    assert_eq!(count, into, "value() allocated beyond the reduction's launch");
    if h.is_gpu() {
        assert_eq!(count, 0, "100 sums read back with value() allocated {count} times");
    }
    let want: f32 = x.to_vec().unwrap().iter().map(|v| v.abs()).sum();
    assert!((total / 100.0 - want).abs() <= 1e-3 * (1.0 + want.abs()), "{total} vs 100 x {want}");
    super::SKIP_PTX_CHECKS.with(|c| c.set(false));
    // And the launches did their work.
    let (xs, ys) = (x.to_vec().unwrap(), y.to_vec().unwrap());
    let want: Vec<f32> = xs.iter().zip(&ys).map(|(x, y)| h.madd(99.0, *x, -y)).collect();
    assert_eq!(out.to_vec().unwrap(), want);
}

#[gpu_kernel]
fn scale_add<T: Number>(a: T, x: &[T], out: &mut [T]) {
    for i in (grid(1)..x.len()).step_by(grid_size(1)) {
        out[i] = out[i] + a * x[i];
    }
}

/// 16 threads launching at once: the first launches race to compile the same specializations
/// (of a kernel no other case uses), the later ones hit the cache; every result is right. Their
/// large launches (on the CPU backend, the worker pool's) run side by side too.
pub fn concurrent_launches(h: &Harness) {
    let threads = 16;
    let barrier = std::sync::Barrier::new(threads);
    let seeds: Vec<u64> = (0..threads).map(|_| h.next_u64()).collect();
    std::thread::scope(|s| {
        for (t, seed) in seeds.iter().enumerate() {
            let (barrier, dev) = (&barrier, &h.dev);
            s.spawn(move || {
                let n = 1000 + (seed % 3000) as usize + t;
                let x: Vec<f32> = (0..n).map(|i| ((i as u64).wrapping_mul(*seed) % 97) as f32 - 48.0).collect();
                let xi: Vec<i64> = (0..n).map(|i| ((i as u64 ^ seed) % 1001) as i64 - 500).collect();
                let dx = DeviceArray::from_slice(dev, &x).unwrap();
                let dxi = DeviceArray::from_slice(dev, &xi).unwrap();
                let mut out = DeviceArray::<f32>::zeros(dev, n).unwrap();
                let mut outi = DeviceArray::<i64>::zeros(dev, n).unwrap();
                let nbig = 50_000 + t;
                let xbig: Vec<i64> = (0..nbig).map(|i| ((i as u64 ^ seed) % 999) as i64 - 499).collect();
                let dbig = DeviceArray::from_slice(dev, &xbig).unwrap();
                let mut obig = DeviceArray::<i64>::zeros(dev, nbig).unwrap();
                barrier.wait();
                for k in 0..50 {
                    launch!(scale_add[7, 64](k as f32, &dx, &mut out)).unwrap();
                    launch!(scale_add[5, 96](k as i64 - 20, &dxi, &mut outi)).unwrap();
                    launch!(scale_add[160, 256](k as i64 - 20, &dbig, &mut obig)).unwrap();
                }
                let want: Vec<i64> = xbig.iter().map(|v| v * 225).collect();
                assert_eq!(obig.to_vec().unwrap(), want, "thread {t}, large launches");
                // sum of k over 0..50 = 1225, of k - 20 = 225.
                let want: Vec<f32> = x.iter().map(|v| v * 1225.0).collect();
                assert_eq!(out.to_vec().unwrap(), want, "thread {t}");
                let want: Vec<i64> = xi.iter().map(|v| v * 225).collect();
                assert_eq!(outi.to_vec().unwrap(), want, "thread {t}");
            });
        }
    });
}

/// The disk cache's entries: round trips, misses, damaged files detected and removed, the size
/// bound (least recently used first), and threads storing and loading the same keys at once.
pub fn disk_cache_entries(h: &Harness) {
    use gpujit::runtime::disk_cache::{CacheEntry, DiskCache};
    let dir = std::env::temp_dir().join(format!("gpujit-cache-test-{}-{}", std::process::id(), h.next_u64()));
    let entry = |n: usize, seed: u64| CacheEntry {
        cubin: (0..n).map(|i| (i as u64 ^ seed) as u8).collect(),
        ptx: format!(".version 8.5\n// {seed}\n"),
        info: format!("ptxas info    : Used {} registers", seed % 64),
    };
    let cache = DiskCache::open(&dir, 1 << 20);
    assert_eq!(cache.load("absent"), None);
    let e1 = entry(5000, 1);
    cache.store("kernel one", &e1);
    assert_eq!(cache.load("kernel one"), Some(e1.clone()));
    assert_eq!(cache.load("kernel two"), None);
    let files = || -> Vec<std::path::PathBuf> {
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|x| x == "gjk")).collect()
    };
    assert_eq!(files().len(), 1);

    // Truncated, then one flipped byte, then garbage: each is a miss, and the file is removed.
    for damage in 0..3 {
        cache.store("kernel one", &e1);
        let path = files().pop().unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        match damage {
            0 => bytes.truncate(bytes.len() / 2),
            1 => {
                let i = (h.next_u64() as usize) % bytes.len();
                bytes[i] ^= 0x20;
            }
            _ => bytes = b"not a cache entry".to_vec(),
        }
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(cache.load("kernel one"), None, "damage {damage}");
        assert!(files().is_empty(), "damage {damage}: the damaged entry is removed");
    }

    // The bound: entries of ~100 kB in a 350 kB cache; the one just loaded survives.
    let small = DiskCache::open(&dir, 350_000);
    small.clear();
    let big: Vec<CacheEntry> = (0..8).map(|k| entry(100_000, k)).collect();
    small.store("big 0", &big[0]);
    for (k, e) in big.iter().enumerate().skip(1) {
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(small.load("big 0"), Some(big[0].clone()), "the most recently used entry is kept");
        std::thread::sleep(std::time::Duration::from_millis(20));
        small.store(&format!("big {k}"), e);
        assert!(small.size_bytes() <= 350_000, "{} bytes after {k} stores", small.size_bytes());
    }
    assert_eq!(small.load("big 7"), Some(big[7].clone()));
    assert_eq!(small.load("big 1"), None, "the least recently used entry was evicted");

    // Threads (as processes would) storing and loading the same keys: whole entries or none.
    small.clear();
    std::thread::scope(|s| {
        for t in 0..8u64 {
            let (cache, big) = (&small, &big);
            s.spawn(move || {
                for r in 0..20u64 {
                    let k = ((t + r) % 3) as usize;
                    cache.store(&format!("shared {k}"), &big[k]);
                    if let Some(e) = cache.load(&format!("shared {}", (k + 1) % 3)) {
                        assert_eq!(e, big[(k + 1) % 3]);
                    }
                }
            });
        }
    });
    for (k, e) in big.iter().enumerate().take(3) {
        assert_eq!(small.load(&format!("shared {k}")).as_ref(), Some(e));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Introspection: the IR, LLVM IR and PTX of a specialization without a GPU, and on a GPU its
/// registers and spills as the driver compiled it (an error on the CPU backend).
pub fn introspection(h: &Harness) {
    let n = 300;
    let x = h.arr(&h.vec(n, |h| h.f64_in(-1.0, 1.0) as f32));
    let y = h.arr(&h.vec(n, |h| h.f64_in(-1.0, 1.0) as f32));
    let mut out = h.zeros::<f32>(n);
    let target = gpujit::codegen::nvptx::NvptxTarget::sm(90).unwrap();
    let ir = axpby.ir((1.0f32, &x, &y, &mut out)).unwrap();
    assert!(ir.to_string().contains("kernel axpby"), "{ir}");
    let ll = axpby.llvm_ir(&target, (1.0f32, &x, &y, &mut out)).unwrap();
    assert!(ll.contains("define") && ll.contains("axpby") && ll.contains("nvptx"), "{ll}");
    let ptx = axpby.ptx(&target, (1.0f32, &x, &y, &mut out)).unwrap();
    assert!(ptx.ptx.contains(".entry axpby") && ptx.ptx.contains(".target sm_90"), "{}", ptx.ptx);
    // The same from a signature of types alone.
    use gpujit::codegen::specialize::ArgType;
    use gpujit::codegen::ScalarType::F32;
    let arr = |writable| ArgType::Array { elem: F32, writable, ndim: 1, contiguous: true };
    let by_types = axpby.ptx_for(&target, &[ArgType::Scalar(F32), arr(false), arr(false), arr(true)]).unwrap();
    assert_eq!(by_types.ptx, ptx.ptx);
    let e = axpby.ptx_for(&target, &[ArgType::Scalar(F32), arr(false), arr(false), arr(false)]).unwrap_err();
    assert!(matches!(&e, gpujit::Error::ReadOnly { param, .. } if param == "out"), "{e}");
    match axpby.resources(&h.dev, (1.0f32, &x, &y, &mut out)) {
        Ok(r) => {
            assert!(h.is_gpu(), "the CPU backend has no registers");
            assert!(r.registers > 0 && r.registers <= 255, "{r:?}");
            assert!(r.max_threads_per_block >= 128, "{r:?}");
            assert_eq!((r.spill_stores, r.spill_loads, r.local_bytes, r.shared_bytes), (0, 0, 0, 0), "{r:?}");
        }
        Err(e) => {
            assert!(!h.is_gpu(), "{e}");
            assert!(matches!(&e, gpujit::Error::Unsupported { kernel, .. } if kernel == "axpby"), "{e}");
        }
    }
    // The same log format from ptxas (the CPU harness has it): registers read from it.
    if !h.is_gpu() {
        let ptxas = gpujit::codegen::toolchain::find_ptxas().unwrap();
        let report = gpujit::codegen::toolchain::ptxas_check(&ptxas, &ptx.ptx, 90).unwrap();
        assert!(report.registers > 0 && report.spill_stores == 0, "{report:?}");
    }
}

#[gpu_kernel]
fn probe(a: f32, x: &[f32], out: &mut [f32]) {
    let i = grid(1);
    if i < x.len() {
        out[i] = (a * x[i]).sin() + 1.0;
    }
}

/// The first launches of a process: a kernel and an expression, checked. Also run as a child
/// process by the disk cache and log tests, which read what it prints.
pub fn first_launch(h: &Harness) {
    // It evaluates an expression: not while `expr_cache` counts generated kernels.
    let _serial = serial();
    let t = std::time::Instant::now();
    let n = 1000;
    let xs: Vec<f32> = h.vec(n, |h| h.f64_in(-2.0, 2.0) as f32);
    let x = h.arr(&xs);
    let mut out = h.zeros::<f32>(n);
    launch!(probe[n.div_ceil(128), 128](0.5f32, &x, &mut out)).unwrap();
    h.dev.synchronize().unwrap();
    let first_ms = t.elapsed().as_secs_f64() * 1e3;
    let want: Vec<f32> = xs.iter().map(|v| (0.5 * v).sin() + 1.0).collect();
    let got = out.to_vec().unwrap();
    for (g, w) in got.iter().zip(&want) {
        assert!((g - w).abs() <= 1e-6, "probe: {g} vs {w}");
    }
    let e = (expr(&x) * 3.0f32 - 1.0f32).abs().eval().unwrap();
    assert_eq!(e.to_vec().unwrap(), xs.iter().map(|v| (v * 3.0 - 1.0).abs()).collect::<Vec<_>>());
    println!("first launch ready in {first_ms:.2} ms");
    // PTX of a kernel calling libdevice's sin: the compiler parses libdevice, or finds its pruned
    // copy on disk.
    let target = gpujit::codegen::nvptx::NvptxTarget::sm(90).unwrap();
    let ptx = probe.ptx(&target, (0.5f32, &x, &mut out)).unwrap();
    assert!(ptx.ptx.contains(".entry probe") && !ptx.ptx.contains("__nv_sinf"), "libdevice is linked in, not called");
    println!("libdevice full parses: {}", gpujit::codegen::nvptx::libdevice_full_parses());
}

/// Runs the `first_launch` case of this test binary in a child process with `env`; its stdout
/// and stderr, after checking that it passed.
pub fn run_first_launch_child(env: &[(&str, &str)]) -> (String, String) {
    run_case_child("first_launch", env)
}

/// Runs test `case` of this test binary in a child process with `env` (what a process reads
/// once, such as `GPUJIT_CHECK`); its stdout and stderr, after checking that it passed.
pub fn run_case_child(case: &str, env: &[(&str, &str)]) -> (String, String) {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = std::process::Command::new(exe);
    cmd.args(["--exact", case, "--nocapture", "--test-threads=1"]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout).to_string(), String::from_utf8_lossy(&out.stderr).to_string());
    assert!(out.status.success(), "child failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("1 passed"), "the child ran no test:\n{stdout}");
    (stdout, stderr)
}

/// Streams, events and asynchronous copies through page-locked buffers: a pipeline over two
/// streams ordered by an event, then timed by events.
pub fn streams_and_events(h: &Harness) {
    for n in [0usize, 1, 1000, 70_001] {
        let xs: Vec<f32> = h.vec(n, |h| h.f64_in(-5.0, 5.0) as f32);
        let ys: Vec<f32> = h.vec(n, |h| h.f64_in(-5.0, 5.0) as f32);
        let s1 = h.dev.new_stream().unwrap();
        let s2 = h.dev.new_stream().unwrap();
        let px = PinnedBuffer::from_slice(&h.dev, &xs).unwrap();
        let py = PinnedBuffer::from_slice(&h.dev, &ys).unwrap();
        let mut x = h.zeros::<f32>(n);
        let mut y = h.zeros::<f32>(n);
        let mut out = h.zeros::<f32>(n);
        let start = s1.record_event().unwrap();
        s1.copy_to_device(&px, &mut x).unwrap();
        s2.copy_to_device(&py, &mut y).unwrap();
        let y_ready = s2.record_event().unwrap();
        s1.wait_event(&y_ready).unwrap();
        let config = LaunchConfig::for_elements(n, 256).stream(&s1);
        launch!(axpby[config](3.0f32, &x, &y, &mut out)).unwrap();
        let mut back = PinnedBuffer::<f32>::new(&h.dev, n).unwrap();
        s1.copy_to_host(&out, &mut back).unwrap();
        let end = s1.record_event().unwrap();
        let ms = start.elapsed_ms(&end).unwrap();
        assert!(ms >= 0.0 && ms.is_finite(), "{ms}");
        assert!(end.is_complete().unwrap());
        let want: Vec<f32> = xs.iter().zip(&ys).map(|(x, y)| h.madd(3.0, *x, *y)).collect();
        assert_eq!(back.as_slice().unwrap(), &want[..], "n = {n}");
        // Writing a buffer waits for the copy reading it; the array keeps the old contents.
        s2.copy_to_device(&back, &mut y).unwrap();
        back.as_mut_slice().unwrap().fill(-1.0);
        assert_eq!(y.to_vec().unwrap(), want);
    }
    let s = h.dev.new_stream().unwrap();
    let p = PinnedBuffer::<f32>::new(&h.dev, 3).unwrap();
    let mut a = h.zeros::<f32>(4);
    assert!(matches!(s.copy_to_device(&p, &mut a), Err(gpujit::Error::Array(m)) if m.contains("3 elements but the array 4")));
    let t0 = h.dev.record_event().unwrap();
    let t1 = h.dev.record_event().unwrap();
    assert!(t0.elapsed_ms(&t1).unwrap() >= 0.0);
}

#[gpu_kernel]
fn step(x: &mut [f32], y: &[f32], k: f32) {
    let i = grid(1);
    if i < x.len() {
        x[i] = x[i] * k + y[i];
    }
}

#[gpu_kernel]
fn one_past(y: &mut [f32]) {
    let i = grid(1);
    if i <= y.len() {
        y[i] = 1.0;
    }
}

/// A graph of launches captured once and replayed: in order, with the captured scalars, the
/// arrays' current contents, kept alive when dropped before the graph; foreign memory refused.
pub fn graph_capture(h: &Harness) {
    for n in [0usize, 1, 1000, 4099] {
        let x0: Vec<f32> = h.vec(n, |h| h.f64_in(-1.0, 1.0) as f32);
        let y0: Vec<f32> = h.vec(n, |h| h.f64_in(-1.0, 1.0) as f32);
        let mut x = h.arr(&x0);
        let y = h.arr(&y0);
        let mut tmp = h.zeros::<f32>(n);
        let blocks = n.div_ceil(128);
        let graph = Graph::capture(&h.dev, |s| {
            launch!(step[blocks, 128, s](&mut x, &y, 0.5f32))?;
            launch!(axpby[blocks, 128, s](2.0f32, &x, &y, &mut tmp))?;
            launch!(step[blocks, 128, s](&mut x, &tmp, 0.25f32))?;
            Ok(())
        })
        .unwrap();
        // Nothing ran during capture.
        assert_eq!(x.to_vec().unwrap(), x0, "n = {n}");
        // The three captured launches, on the host.
        let mut want = x0.clone();
        let replayed = |want: &mut Vec<f32>| {
            for i in 0..n {
                want[i] = want[i] * 0.5 + y0[i];
                let tmp = 2.0 * want[i] + y0[i];
                want[i] = want[i] * 0.25 + tmp;
            }
        };
        for replay in 0..3 {
            if replay == 2 {
                graph.launch_on(&h.dev.new_stream().unwrap()).unwrap();
            } else {
                graph.launch().unwrap();
            }
            replayed(&mut want);
            h.dev.synchronize().unwrap();
            assert_eq!(x.to_vec().unwrap(), want, "n = {n}, replay {replay}");
        }
        // Arrays dropped before the graph: their memory stays until the graph goes.
        drop(tmp);
        drop(y);
        graph.launch().unwrap();
        replayed(&mut want);
        h.dev.synchronize().unwrap();
        assert_eq!(x.to_vec().unwrap(), want, "n = {n}, after drops");
        drop(graph);
        // New arrays may reuse the released memory; x is still correct.
        let _fresh = h.arr(&y0);
        assert_eq!(x.to_vec().unwrap(), want);
    }
    // A replay on the CPU backend checks indices as a launch does.
    if !h.is_gpu() {
        let mut y = h.zeros::<f32>(10);
        let graph = Graph::capture(&h.dev, |s| launch!(one_past[1, 32, s](&mut y)).map(|_| ())).unwrap();
        let e = graph.launch().unwrap_err();
        assert!(
            matches!(&e, gpujit::Error::OutOfBounds { kernel, array, index: 10, shape, .. } if kernel == "one_past" && array == "y" && shape[..] == [10u64]),
            "{e}"
        );
    }
    // An error inside the capture gives no graph.
    let x = h.arr(&[1.0f32; 10]);
    // (`launch!` would refuse the wrong count at compile time; the method checks it at run time.)
    let e = Graph::capture(&h.dev, |s| axpby.launch((1, 32, s), (1.0f32, &x, &x)).map(|_| ())).err().expect("an argument count error");
    assert!(matches!(e, gpujit::Error::ArgCount { .. }), "{e}");
    // Foreign memory cannot be kept alive by a graph.
    let mut host = [1.0f32; 16];
    if !h.is_gpu() {
        let mut view = gpujit::ndarray::ArrayViewMut1::from(&mut host[..]);
        let mut ext = gpujit::ExternalArray::from_ndarray_mut(&mut view).unwrap();
        let e =
            Graph::capture(&h.dev, |s| launch!(step[1, 32, s](&mut ext, &x, 1.0f32)).map(|_| ())).err().expect("foreign memory refused");
        assert!(e.to_string().contains("foreign array") && e.to_string().contains("`x`"), "{e}");
        // Taken when the caller vouches for it: `host` outlives the graph below.
        let ones = h.arr(&[1.0f32; 16]);
        // SAFETY: `host` (borrowed by `ext`) stays alive and untouched until the graph is dropped.
        let graph =
            unsafe { Graph::capture_with_foreign(&h.dev, |s| launch!(step[1, 32, s](&mut ext, &ones, 2.0f32)).map(|_| ())) }.unwrap();
        graph.launch().unwrap();
        graph.launch().unwrap();
        drop(graph);
        drop(ext);
        // x = 2x + 1, twice.
        assert_eq!(host, [7.0f32; 16]);
    }
}

/// Expressions, `Fusion`s and reductions on user streams, and captured into a graph (a two-pass
/// reduction's scratch memory then belongs to the graph).
pub fn expressions_on_streams(h: &Harness) {
    let _serial = serial();
    for n in [0usize, 1, 1000, 100_003] {
        let xs: Vec<f32> = h.vec(n, |h| h.f64_in(-2.0, 2.0) as f32);
        let ys: Vec<f32> = h.vec(n, |h| h.f64_in(-2.0, 2.0) as f32);
        let (x, y) = (h.arr(&xs), h.arr(&ys));
        let (s1, s2) = (h.dev.new_stream().unwrap(), h.dev.new_stream().unwrap());
        let mut a = h.zeros::<f32>(n);
        let mut b = h.zeros::<f32>(n);
        (expr(&x) * 2.0f32 + &y).eval_into_on(&mut a, &s1).unwrap();
        let mut f = h.zeros::<f32>(n);
        forall!(n, |i| f[i] = x[i] - 2.0 * y[i], stream = &s2).unwrap();
        Fusion::new().output(&mut b, expr(&x) - &y).on(&s2).run().unwrap();
        let c = (expr(&x) * &y).eval_on(&s2).unwrap();
        // Two-pass sums on two streams at once, then in a loop: scratch memory handed between them.
        let mut sums = [h.zeros::<f32>(1), h.zeros::<f32>(1)];
        for round in 0..3 {
            let [s_a, s_b] = &mut sums;
            expr(&x).abs().sum().on(&s1).eval_into(&mut *s_a).unwrap();
            expr(&y).abs().sum().on(if round % 2 == 0 { &s2 } else { &s1 }).eval_into(&mut *s_b).unwrap();
        }
        s1.synchronize().unwrap();
        s2.synchronize().unwrap();
        assert_eq!(a.to_vec().unwrap(), xs.iter().zip(&ys).map(|(x, y)| x * 2.0 + y).collect::<Vec<_>>());
        assert_eq!(b.to_vec().unwrap(), xs.iter().zip(&ys).map(|(x, y)| x - y).collect::<Vec<_>>());
        assert_eq!(c.to_vec().unwrap(), xs.iter().zip(&ys).map(|(x, y)| x * y).collect::<Vec<_>>());
        assert_eq!(f.to_vec().unwrap(), xs.iter().zip(&ys).map(|(x, y)| x - 2.0 * y).collect::<Vec<_>>());
        let close = |got: f32, want: f64| (got as f64 - want).abs() <= 1e-4 * (1.0 + want.abs());
        let want_x: f64 = xs.iter().map(|v| v.abs() as f64).sum();
        let want_y: f64 = ys.iter().map(|v| v.abs() as f64).sum();
        let (gx, gy) = (sums[0].to_vec().unwrap()[0], sums[1].to_vec().unwrap()[0]);
        assert!(close(gx, want_x) && close(gy, want_y), "n = {n}: {gx} vs {want_x}, {gy} vs {want_y}");

        // Captured: an expression and a two-pass reduction, replayed after x changes.
        let mut x = x;
        let mut out = h.zeros::<f32>(n);
        let mut total = h.zeros::<f32>(1);
        let mut twice = h.zeros::<f32>(n);
        let graph = Graph::capture(&h.dev, |s| {
            (expr(&x) * 0.5f32 + &y).eval_into_on(&mut out, s)?;
            forall!(n, |i| twice[i] = 2.0 * x[i], stream = s)?;
            expr(&x).sum().on(s).eval_into(&mut total)
        })
        .unwrap();
        let xs2: Vec<f32> = h.vec(n, |h| h.f64_in(-2.0, 2.0) as f32);
        x.copy_from(&xs2).unwrap();
        graph.launch().unwrap();
        h.dev.synchronize().unwrap();
        assert_eq!(out.to_vec().unwrap(), xs2.iter().zip(&ys).map(|(x, y)| x * 0.5 + y).collect::<Vec<_>>());
        assert_eq!(twice.to_vec().unwrap(), xs2.iter().map(|x| 2.0 * x).collect::<Vec<_>>());
        let want: f64 = xs2.iter().map(|v| *v as f64).sum();
        let got = total.to_vec().unwrap()[0];
        assert!(close(got, want), "captured sum, n = {n}: {got} vs {want}");
        // Another sum meanwhile may reuse pooled scratch, never the graph's.
        let other = expr(&y).sum().value().unwrap();
        graph.launch().unwrap();
        h.dev.synchronize().unwrap();
        assert!(close(total.to_vec().unwrap()[0], want) && close(other, ys.iter().map(|v| *v as f64).sum()));
    }
}

#[gpu_kernel]
fn scale_into(x: &[f32], out: &mut [f32], k: f32) {
    let i = grid(1);
    if i < x.len() && i < out.len() {
        out[i] = x[i] * k;
    }
}

/// Arguments that overlap a written array get a specialization without LLVM's `noalias` facts
/// (Rust's borrows never make them; foreign arrays and in-place operations may), and compute
/// correctly in place.
pub fn aliased_arguments(h: &Harness) {
    for n in super::SIZES {
        let v: Vec<f32> = h.vec(n, |h| h.f64_in(-1.0, 1.0) as f32);
        let mut a = h.arr(&v);
        let b = h.zeros::<f32>(n);
        let ptr = a.address();
        // SAFETY: both views are of `a`'s n elements, alive for the launch; the kernel reads each
        // element before the same thread writes it (an in-place map), which is what is tested.
        let (src, mut dst) = unsafe {
            (
                gpujit::ExternalArray::from_raw_parts(&h.dev, gpujit::codegen::ScalarType::F32, ptr, &[n], None, true).unwrap(),
                gpujit::ExternalArray::from_raw_parts(&h.dev, gpujit::codegen::ScalarType::F32, ptr, &[n], None, false).unwrap(),
            )
        };
        if n > 0 {
            let aliased = scale_into.ir((&src, &mut dst, 2.0f32)).unwrap().to_string();
            assert!(aliased.contains("may_alias = true"), "{aliased}");
            let disjoint = scale_into.ir((&b, &mut a, 2.0f32)).unwrap().to_string();
            assert!(!disjoint.contains("may_alias = true"), "{disjoint}");
        }
        h.run(&scale_into, (n.div_ceil(128).max(1), 128), (&src, &mut dst, 2.0f32)).unwrap();
        drop((src, dst));
        assert_eq!(a.to_vec().unwrap(), v.iter().map(|x| x * 2.0).collect::<Vec<_>>(), "n={n}");
    }
}

#[gpu_kernel]
fn strided_sum(a: &Array<f32, 2>, out: &mut [f32]) {
    let i = grid(1);
    if i < out.len() {
        out[i] = a[[i, 0]] + a[[i, 1]];
    }
}

/// Array offsets are computed in 32 bits when every element is within 2^31 of element 0 (the
/// launch checks the extents and strides), else in 64: a view reaching 2^40 elements is
/// specialized apart, with 64-bit arithmetic (its types are all that matters: nothing runs).
pub fn wide_offsets(h: &Harness) {
    let target = gpujit::codegen::nvptx::NvptxTarget::sm(80).unwrap();
    let mut out = h.zeros::<f32>(4);
    let small = DeviceArray::from_shape(&h.dev, &[4, 2], &[1.0f32; 8]).unwrap();
    let ir = strided_sum.ir((&small, &mut out)).unwrap().to_string();
    assert!(!ir.contains("wide_arrays = 1"), "{ir}");
    let narrow = strided_sum.ptx(&target, (&small, &mut out)).unwrap().ptx;
    assert!(narrow.contains("mad.lo.s32") || narrow.contains("mul.lo.s32") || narrow.contains("shl.b32"), "{narrow}");
    // SAFETY: never launched or read: only the view's types and layout reach specialization.
    let far = unsafe {
        gpujit::ExternalArray::from_raw_parts(&h.dev, gpujit::codegen::ScalarType::F32, 1 << 20, &[4, 2], Some(&[1 << 40, 1]), true)
    }
    .unwrap();
    let ir = strided_sum.ir((&far, &mut out)).unwrap().to_string();
    assert!(ir.contains("wide_arrays = 1,"), "{ir}");
    let wide = strided_sum.ptx(&target, (&far, &mut out)).unwrap().ptx;
    assert!(wide.contains("mul.lo.s64") || wide.contains("mad.lo.s64") || wide.contains("shl.b64"), "{wide}");
    // And small arrays compute right with 32-bit offsets (strided, offset into the middle).
    let m: Vec<f32> = h.vec(40, |h| h.f64_in(-1.0, 1.0) as f32);
    let dm = DeviceArray::from_shape(&h.dev, &[10, 4], &m).unwrap();
    let v = dm.view().slice(1, 1..4, 2).unwrap();
    let mut o = h.zeros::<f32>(10);
    h.run(&strided_sum, (1, 32), (&v, &mut o)).unwrap();
    assert_eq!(o.to_vec().unwrap(), (0..10).map(|i| m[i * 4 + 1] + m[i * 4 + 3]).collect::<Vec<_>>());
}
