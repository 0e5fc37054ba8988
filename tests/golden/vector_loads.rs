// Arrays whose data the launch finds 16-byte aligned (allocations are) are specialized with that
// fact, so neighbouring elements are read as one vector: four f32s in one `ld.global.nc.v4.f32`.
//
// IR: #[options({{.*}}aligned_arrays = 3)]
// LLVM: ptr addrspace(1) noalias {{.*}}readonly align 16 %x
// PTX: ld.global.nc.v4.f32
use gpujit::prelude::*;

#[gpu_kernel]
pub fn vector_loads(x: &[f32], out: &mut [f32]) {
    let i = grid(1);
    if 4 * i + 3 < x.len() && i < out.len() {
        out[i] = x[4 * i] + x[4 * i + 1] + x[4 * i + 2] + x[4 * i + 3];
    }
}

pub fn run(dev: &Device) -> gpujit::Result<()> {
    let x = DeviceArray::from_slice(dev, &(0..64).map(|v| v as f32).collect::<Vec<_>>())?;
    let mut out = DeviceArray::<f32>::zeros(dev, 16)?;
    crate::common::Harness::cpu().run(&vector_loads, (1, 32), (&x, &mut out))?;
    assert_eq!(out.to_vec()?, (0..16).map(|i| (16 * i + 6) as f32).collect::<Vec<_>>());
    Ok(())
}
