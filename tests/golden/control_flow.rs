// `match` on integers, labeled loops with `break` and `continue`, `if` as a value.
// ARGS: &[i32], &mut [i32]
//
// IR: if ((__gpujit_match_{{[0-9_]+}} >= 1i32) && (__gpujit_match_{{[0-9_]+}} <= 5i32)) {
// IR: continue 1 loops out;
// IR: break 1 loops out;
// PTX: .visible .entry control_flow(
// PTX: selp.b32
// PTX-NOT: .local
//
use gpujit::prelude::*;

#[gpu_kernel]
pub fn control_flow(x: &[i32], out: &mut [i32]) {
    let i = grid(1);
    if i >= x.len() {
        return;
    }
    let mut acc = match x[i] {
        0 => 10,
        1..=5 => 20,
        n if n < 0 => -n,
        _ => 0,
    };
    'outer: for a in 0..4 {
        for b in 0..4 {
            if b == a {
                continue 'outer;
            }
            if acc > 100 {
                break 'outer;
            }
            acc += a * b;
        }
    }
    out[i] = if acc % 2 == 0 { acc } else { -acc };
}
