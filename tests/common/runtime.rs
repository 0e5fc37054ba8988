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
/// does building and evaluating a 5-operation expression into a given output, or a `forall!`.
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
    // The CPU harness's hook checking generated kernels' PTX is off while counting.
    gpujit::fuse::set_launch_hook(None);

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
    if !h.is_gpu() {
        gpujit::fuse::set_launch_hook(Some(super::check_ptx));
    }
    // And the launches did their work.
    let (xs, ys) = (x.to_vec().unwrap(), y.to_vec().unwrap());
    let want: Vec<f32> = xs.iter().zip(&ys).map(|(x, y)| 99.0 * x - y).collect();
    assert_eq!(out.to_vec().unwrap(), want);
}

#[gpu_kernel]
fn scale_add<T: Number>(a: T, x: &[T], out: &mut [T]) {
    for i in (grid(1)..x.len()).step_by(grid_size(1)) {
        out[i] = out[i] + a * x[i];
    }
}

/// 16 threads launching at once: the first launches race to compile the same specializations
/// (of a kernel no other case uses), the later ones hit the cache; every result is right.
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
                barrier.wait();
                for k in 0..50 {
                    launch!(scale_add[7, 64](k as f32, &dx, &mut out)).unwrap();
                    launch!(scale_add[5, 96](k as i64 - 20, &dxi, &mut outi)).unwrap();
                }
                // sum of k over 0..50 = 1225, of k - 20 = 225.
                let want: Vec<f32> = x.iter().map(|v| v * 1225.0).collect();
                assert_eq!(out.to_vec().unwrap(), want, "thread {t}");
                let want: Vec<i64> = xi.iter().map(|v| v * 225).collect();
                assert_eq!(outi.to_vec().unwrap(), want, "thread {t}");
            });
        }
    });
}
