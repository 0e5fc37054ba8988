// `forall!`: a closure over an index space, compiled as a generic grid-stride kernel over its
// captures.
//
// IR: kernel
// IR: while
// IR-NOT: sync_threads
// PTX: ld.global{{(.nc)?}}.f32
// PTX: st.global.f32
// PTX-NOT: .local
use gpujit::prelude::*;

pub fn run(dev: &Device) -> gpujit::Result<()> {
    let x = DeviceArray::from_slice(dev, &vec![1.5f32; 300])?;
    let mut y = DeviceArray::<f32>::zeros(dev, 300)?;
    let a = 2.0f32;
    forall!(300, |i| y[i] = a * x[i] + 1.0)?;
    assert_eq!(y.to_vec()?, vec![4.0; 300]);
    Ok(())
}
