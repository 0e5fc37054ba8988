// A fused reduction: a map-reduce with warp-shuffle trees.
//
// IR: kernel fused_reduce(
// IR: shared sv: [f32; [32]];
// 32 bytes a thread a step: two 16-byte vector loads.
// PTX: ld.global{{(.nc)?}}.v4.f32
// PTX: ld.global{{(.nc)?}}.v4.f32
// PTX: shfl.sync.down.b32
// PTX: bar.sync 0;
// PTX-NOT: .local
//
use gpujit::prelude::*;

pub fn run(dev: &Device) -> gpujit::Result<()> {
    let x = DeviceArray::from_slice(dev, &vec![1.0f32; 1000])?;
    let s = (expr(&x) * 2.0).sum().value()?;
    assert_eq!(s, 2000.0);
    Ok(())
}
