//! Timing helpers shared by the GPU benchmarks.

#![allow(dead_code)]

use cudarc::driver::{result, sys};
use gpujit::Device;
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
