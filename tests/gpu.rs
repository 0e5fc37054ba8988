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
            if let Some(h) = Harness::gpu() {
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

/// Launches from many host threads at once stay correct.
#[test]
fn concurrent_launches() {
    let Some(h) = Harness::gpu() else { return };
    let dev = h.dev.clone();
    std::thread::scope(|s| {
        for t in 0..8 {
            let dev = dev.clone();
            s.spawn(move || {
                let x: Vec<f32> = (0..1000).map(|i| (i * t) as f32).collect();
                let dx = DeviceArray::from_slice(&dev, &x).unwrap();
                let mut out = DeviceArray::<f32>::zeros(&dev, 1000).unwrap();
                for _ in 0..20 {
                    launch!(twice[4, 256](&dx, &mut out)).unwrap();
                }
                assert_eq!(out.to_vec().unwrap(), x.iter().map(|v| 2.0 * v).collect::<Vec<_>>());
            });
        }
    });
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
