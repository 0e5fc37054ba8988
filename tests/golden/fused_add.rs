// A fused elementwise expression on 16-byte-aligned contiguous f32 arrays.
//
// IR: #[options({{.*}}aligned16 = true,
// IR: kernel fused(a0: &[f32], a1: f32, a2: &[f32], o0: &mut [f32], n: u32)
// Below 2^31 elements the index is 32-bit.
// IR: f_3: u32 = (grid_x() as u32);
// IR: while (f_3 < groups_2)
// LLVM: ptr addrspace(1) noalias nocapture readonly align 16 %a0
// 16-byte vector accesses, four f32 a thread.
// PTX: setp.ge.u32
// PTX: ld.global{{(.nc)?}}.v4.f32
// PTX: ld.global{{(.nc)?}}.v4.f32
// PTX: st.global.v4.f32
// PTX-NOT: .local
//
use gpujit::prelude::*;

pub fn run(dev: &Device) -> gpujit::Result<()> {
    let x = DeviceArray::from_slice(dev, &vec![1.0f32; 1000])?;
    let y = DeviceArray::from_slice(dev, &vec![2.0f32; 1000])?;
    let mut out = DeviceArray::<f32>::zeros(dev, 1000)?;
    (expr(&x) * 2.0 + &y).eval_into(&mut out)?;
    assert_eq!(out.to_vec()?, vec![4.0; 1000]);
    Ok(())
}
