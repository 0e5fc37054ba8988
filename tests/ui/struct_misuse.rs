use gpujit::prelude::*;

// A #[gpu_struct] is #[repr(C)], has no padding, and holds only kernel types; a kernel names only
// kernel types; a struct array has no DLPack dtype.
#[gpu_struct]
#[derive(Clone, Copy, Default)]
struct NotC {
    a: f32,
}

#[gpu_struct]
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct Padded {
    a: u8,
    b: f32,
}

#[gpu_struct]
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct Unknown {
    a: std::time::Duration,
}

#[gpu_kernel]
fn takes_a_string(s: String, out: &mut [f32]) {
    out[0] = 1.0;
}

#[gpu_struct]
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct Fine {
    a: f32,
    b: [u32; 2],
}

fn export(dev: &Device) {
    let a = DeviceArray::from_slice(dev, &[Fine::default()]).unwrap();
    let _ = a.into_dlpack();
}

fn main() {}
