// A 2-D strided array: element addresses use the stride of each axis.
// ARGS: &Array<f32, 2> strided, &mut Array<f32, 2>
//
// IR: kernel nd_strided(a: &Array<f32, 2, strided>, out: &mut Array<f32, 2>)
// IR: out[[{{r_[0-9]+}}, {{c_[0-9]+}}]] = (a[[{{r_[0-9]+}}, {{c_[0-9]+}}]] * 2.0f32);
// Each array carries its extents and strides as parameters after the pointer.
// LLVM: define ptx_kernel void @nd_strided(ptr addrspace(1) noalias nocapture readonly %a, i64 %0, i64 %1, i64 %2, i64 %3
// Its offsets fit 32 bits (the launch checked the extents and strides): 32-bit multiply-adds.
// PTX: mad.lo.s32
// PTX: ld.global{{(.nc)?}}.f32
// PTX: st.global.f32
//
use gpujit::prelude::*;

#[gpu_kernel]
pub fn nd_strided(a: &Array<f32, 2>, out: &mut Array<f32, 2>) {
    let (r, c) = grid(2);
    if r < a.shape(0) && c < a.shape(1) {
        out[[r, c]] = a[[r, c]] * 2.0;
    }
}
