// 2-D grids: `let (x, y) = grid(2);` reads both axes of the thread geometry.
// ARGS: &mut Array<u32, 2>
//
// IR: {{__gpujit_tuple_[0-9_]+}}: u64 = grid_x();
// IR-NEXT: {{__gpujit_tuple_[0-9_]+}}: u64 = grid_y();
// PTX: mov.u32 {{%r[0-9]+}}, %tid.x;
// PTX: mov.u32 {{%r[0-9]+}}, %ctaid.x;
// PTX: mov.u32 {{%r[0-9]+}}, %tid.y;
// PTX: mov.u32 {{%r[0-9]+}}, %ctaid.y;
//
use gpujit::prelude::*;

#[gpu_kernel]
pub fn grid_2d(out: &mut Array<u32, 2>) {
    let (x, y) = grid(2);
    if y < out.shape(0) && x < out.shape(1) {
        out[[y, x]] = (x + 1000 * y) as u32;
    }
}
