// Explicit vector accesses: `x.load::<4>(i)` is one 16-byte load (`.nc`: `x` is read-only and
// disjoint; aligned: the launch found the data so), the per-thread array it fills stays in
// registers, `store_cs` is a streaming store through inline PTX (LLVM has no cache operators),
// and the IR says what each operation is.
//
// IR: bulk(copy 4 Default, [v[0u64], x[
// IR: bulk(copy 4 Streaming, [y[
// LLVM: load float, ptr addrspace(1) {{.*}}, align 16
// PTX: ld.global.nc.v4.f32
// PTX: st.cs.v4.b32 [%rd{{[0-9]+}}], {%r{{[0-9]+}},%r{{[0-9]+}},%r{{[0-9]+}},%r{{[0-9]+}}};
// PTX-NOT: .local
use gpujit::prelude::*;

#[gpu_kernel]
pub fn vector_access(x: &[f32], y: &mut [f32]) {
    let q = grid(1) * 4;
    if q + 4 <= x.len() {
        let v = x.load::<4>(q);
        let mut w = local_array::<f32, 4>();
        for j in 0..4 {
            w[j] = v[j] * 2.0;
        }
        y.store_cs::<4>(q, &w);
    }
}

pub fn run(dev: &Device) -> gpujit::Result<()> {
    let x = DeviceArray::from_slice(dev, &(0..64).map(|v| v as f32).collect::<Vec<_>>())?;
    let mut y = DeviceArray::<f32>::zeros(dev, 64)?;
    crate::common::Harness::cpu().run(&vector_access, (1, 32), (&x, &mut y))?;
    assert_eq!(y.to_vec()?, (0..64).map(|i| (2 * i) as f32).collect::<Vec<_>>());
    Ok(())
}
