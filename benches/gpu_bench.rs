//! GPU benchmark: saxpy bandwidth (2^26 f32) and the host time of a cached launch beside a raw
//! `cuLaunchKernel` of the same PTX, measured in the same process.
//!
//! ```text
//! cargo bench --bench gpu_bench          # needs a CUDA GPU; GPUJIT_REQUIRE_GPU=1 fails without one
//! ```

use cudarc::driver::{result, sys};
use gpujit::prelude::*;
use std::ffi::{c_void, CString};
use std::time::Instant;

#[path = "support/mod.rs"]
mod support;
use support::{event_ms, host_us};

#[gpu_kernel]
fn saxpy(a: f32, x: &[f32], y: &[f32], z: &mut [f32]) {
    let i = grid(1);
    if i < x.len() {
        z[i] = a * x[i] + y[i];
    }
}

fn main() -> gpujit::Result<()> {
    let Some(dev) = support::gpu_or_skip("gpu bench") else { return Ok(()) };

    // Bandwidth, 2^26 f32: bytes of x, y and z.
    let n = 1usize << 26;
    let x = DeviceArray::from_slice(&dev, &vec![1.5f32; n])?;
    let y = DeviceArray::from_slice(&dev, &vec![-0.5f32; n])?;
    let mut z = DeviceArray::<f32>::zeros(&dev, n)?;
    let t = Instant::now();
    launch!(saxpy[n.div_ceil(256), 256](2.0f32, &x, &y, &mut z))?;
    dev.synchronize()?;
    let first_ms = t.elapsed().as_secs_f64() * 1e3;
    let ms = event_ms(30, || launch!(saxpy[n.div_ceil(256), 256](2.0f32, &x, &y, &mut z)).expect("launch"));
    let gbs = 3.0 * 4.0 * n as f64 / (ms * 1e-3) / 1e9;
    assert!(z.to_vec()?.iter().all(|v| *v == 2.5), "saxpy result");
    println!("saxpy_f32_2^26          gpujit          {gbs:8.1} GB/s  ({ms:.3} ms a kernel)");
    println!("first_launch_saxpy      gpujit          {first_ms:8.2} ms  (specialize + IR->PTX + module load, context up)");

    // Launch host time: small arrays, 3 array arguments and 1 scalar.
    let m = 1024usize;
    let sx = DeviceArray::from_slice(&dev, &vec![1.0f32; m])?;
    let sy = DeviceArray::from_slice(&dev, &vec![1.0f32; m])?;
    let mut sz = DeviceArray::<f32>::zeros(&dev, m)?;
    let ours = host_us(&dev, || launch!(saxpy[4, 256](2.0f32, &sx, &sy, &mut sz)).expect("launch"));

    // The same kernel's PTX, loaded and launched with raw driver calls on raw allocations.
    let target = dev.nvptx_target().expect("a CUDA device has a PTX target");
    let ptx = saxpy.ptx(&target, (2.0f32, &sx, &sy, &mut sz))?;
    let declared = ptx.ptx.matches(".param .").count();
    assert_eq!(declared, 10, "the raw launch below passes 10 parameters; the kernel declares {declared}");
    let image = CString::new(ptx.ptx).expect("PTX text");
    let name = CString::new(ptx.entry).expect("name");
    // SAFETY: the device's context is current on this thread (the launches above bound it); the
    // module, function and allocations are used only below, with parameters matching the PTX
    // signature (f32, then pointer, extent and stride for each array; the PTX below is checked
    // to declare exactly that many), and all work is synchronized before the allocations are freed.
    let raw = unsafe {
        let module = result::module::load_data(image.as_ptr() as *const c_void).expect("load");
        let f = result::module::get_function(module, name).expect("function");
        let bufs: Vec<sys::CUdeviceptr> = (0..3).map(|_| result::malloc_sync(m * 4).expect("malloc")).collect();
        // The kernel ABI (codegen's lowering): a scalar's value; for each array its data pointer,
        // its extent and its stride (1-D: one of each).
        let mut slots: [u64; 10] = [2.0f32.to_bits() as u64, bufs[0], m as u64, 1, bufs[1], m as u64, 1, bufs[2], m as u64, 1];
        let base = slots.as_mut_ptr();
        let mut params: Vec<*mut c_void> = (0..slots.len()).map(|i| base.add(i) as *mut c_void).collect();
        let us =
            host_us(&dev, || result::launch_kernel(f, (4, 1, 1), (256, 1, 1), 0, std::ptr::null_mut(), &mut params).expect("raw launch"));
        for b in bufs {
            result::free_sync(b).expect("free");
        }
        result::module::unload(module).expect("unload");
        us
    };
    println!("launch_host_time        gpujit          {ours:8.2} us");
    println!("launch_host_time        raw cuLaunchKernel {raw:5.2} us");
    println!("launch_host_time        ratio gpujit/raw {:6.2}", ours / raw);
    Ok(())
}
