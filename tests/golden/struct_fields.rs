// A #[gpu_struct] element's fields are read and written in place: `b[i].vel += ..` loads and
// stores only `vel` (4 bytes at offset 8), not the element, and an array field's element is one
// more constant offset. A struct by value is its bytes as 64-bit words.
//
// IR: struct Body { pos: [f32; 2] @0, vel: f32 @8, mass: f32 @12 } size 16 align 4
// IR: kernel struct_fields(b: &mut [Body], k: Body, dt: f32)
// IR: b[i_2].vel = (b[i_2].vel + (dt_1 * b[i_2].mass));
// IR: b[i_2].pos[1] = (b[i_2].pos[1] + (dt_1 * k_0.mass));
// LLVM: define ptx_kernel void @struct_fields(ptr addrspace(1) {{.*}}, i64 {{.*}}, i64 {{.*}}, i64 %{{.*}}, i64 %{{.*}}, float
// `vel` and `mass` (offsets 8 and 12) are read together, one 8-byte vector (the array is
// 16-byte aligned and the element 16 bytes); `vel` alone is stored.
// PTX: ld.global.v2.f32 {{.*}}+8];
// PTX: st.global.f32 [{{.*}}+8],
// PTX: ld.global{{(.nc)?}}.f32 {{.*}}+4];
// PTX: st.global.f32 [{{.*}}+4],
// PTX-NOT: st.global.v
// PTX-NOT: st.global.f32 [{{.*}}+12]
use gpujit::prelude::*;

#[gpu_struct]
#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq)]
pub struct Body {
    pub pos: [f32; 2],
    pub vel: f32,
    pub mass: f32,
}

#[gpu_kernel]
pub fn struct_fields(b: &mut [Body], k: Body, dt: f32) {
    let i = grid(1);
    if i < b.len() {
        b[i].vel += dt * b[i].mass;
        b[i].pos[1] += dt * k.mass;
    }
}

pub fn run(dev: &Device) -> gpujit::Result<()> {
    let mut b = DeviceArray::from_slice(dev, &[Body { pos: [1.0, 2.0], vel: 3.0, mass: 4.0 }; 3])?;
    let k = Body { pos: [0.0; 2], vel: 0.0, mass: 8.0 };
    crate::common::Harness::cpu().run(&struct_fields, (1, 32), (&mut b, k, 0.5f32))?;
    assert_eq!(b.to_vec()?, vec![Body { pos: [1.0, 6.0], vel: 5.0, mass: 4.0 }; 3]);
    Ok(())
}
