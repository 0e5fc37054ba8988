//! Host benchmarks (criterion): the compile pipeline (specialize → IR → PTX) and a cached launch
//! on the CPU backend.
//!
//! ```text
//! cargo bench --bench compile
//! ```

use criterion::{criterion_group, criterion_main, Criterion};
use gpujit::codegen::nvptx::{compile_ptx, NvptxTarget};
use gpujit::codegen::specialize::{bind, specialize, ArgType};
use gpujit::codegen::ScalarType;
use gpujit::prelude::*;

#[gpu_kernel]
fn saxpy<T: Float>(a: T, x: &[T], y: &mut [T]) {
    let i = grid(1);
    if i < x.len() {
        y[i] = a * x[i] + y[i];
    }
}

#[gpu_kernel]
fn add(x: &[f32], y: &[f32], out: &mut [f32]) {
    let start = grid(1);
    let stride = grid_size(1);
    for i in (start..x.len()).step_by(stride) {
        out[i] = x[i] + y[i];
    }
}

fn pipeline(c: &mut Criterion) {
    let f32a = |writable| ArgType::Array { elem: ScalarType::F32, writable, ndim: 1, contiguous: true };
    let target = NvptxTarget::sm(90).expect("sm_90");
    let saxpy_args = [ArgType::Scalar(ScalarType::F32), f32a(false), f32a(true)];
    let add_args = [f32a(false), f32a(false), f32a(true)];
    c.bench_function("specialize+ir->ptx saxpy", |b| {
        b.iter(|| {
            let key = bind(saxpy.source(), &saxpy_args).expect("bind");
            let ir = specialize(saxpy.source(), &key).expect("specialize");
            compile_ptx(&ir, &target, false).expect("ptx")
        })
    });
    c.bench_function("specialize+ir->ptx add (grid-stride)", |b| {
        b.iter(|| {
            let key = bind(add.source(), &add_args).expect("bind");
            let ir = specialize(add.source(), &key).expect("specialize");
            compile_ptx(&ir, &target, false).expect("ptx")
        })
    });
}

fn cpu_launch(c: &mut Criterion) {
    let dev = Device::cpu();
    let x = DeviceArray::from_slice(&dev, &[1.0f32; 256]).expect("alloc");
    let mut y = DeviceArray::from_slice(&dev, &[2.0f32; 256]).expect("alloc");
    launch!(saxpy[1, 256](2.0f32, &x, &mut y)).expect("first launch compiles");
    c.bench_function("cached launch, CPU backend, 256 elements", |b| {
        b.iter(|| launch!(saxpy[1, 256](2.0f32, &x, &mut y)).expect("launch"))
    });
}

criterion_group!(benches, pipeline, cpu_launch);
criterion_main!(benches);
