//! The CPU backend's Hopper operations: `mbarrier` phases, TMA box copies and `wgmma`, with
//! the GPU's layouts ([`gpujit_codegen::bulk`]: the swizzle, `wgmma`'s tiles and accumulators).
//!
//! A barrier is the shared `u64` itself: bits 0-15 the arrivals still missing in the current
//! phase, 16-31 the count it was initialized with, 32-62 the transaction bytes still expected
//! (signed: a copy may land before its bytes are announced), 63 the phase's parity. Copies and
//! `wgmma` are done when issued, so a barrier's bytes arrive with the copy and accumulators
//! are ready before `wgmma_wait`. Every access stays inside the block's shared memory, and a
//! copy reads only inside its array: anything else is skipped.

use gpujit_codegen::bulk::{swizzle, tensor_map as tm, wgmma_d_at, wgmma_offset, MmaShape};
use gpujit_codegen::host::hopper_op;
use gpujit_codegen::ir::BulkOp;

const PENDING: u64 = 0xffff;
const TX_SHIFT: u32 = 32;
const TX_MASK: u64 = 0x7fff_ffff;
const PHASE: u64 = 1 << 63;

fn tx_of(bar: u64) -> i64 {
    // A 31-bit two's-complement field.
    ((((bar >> TX_SHIFT) & TX_MASK) << 33) as i64) >> 33
}

fn with_tx(bar: u64, tx: i64) -> u64 {
    (bar & !(TX_MASK << TX_SHIFT)) | (((tx as u64) & TX_MASK) << TX_SHIFT)
}

/// Completes the phase when nothing is missing: the parity flips, the count is restored.
fn settle(bar: u64) -> u64 {
    if bar & PENDING == 0 && tx_of(bar) == 0 {
        let count = (bar >> 16) & 0xffff;
        ((bar ^ PHASE) & !PENDING) | count
    } else {
        bar
    }
}

fn arrive(bar: u64) -> u64 {
    settle((bar & !PENDING) | (bar & PENDING).saturating_sub(1))
}

fn add_tx(bar: u64, bytes: i64) -> u64 {
    with_tx(bar, tx_of(bar) + bytes)
}

/// Whether `len` bytes at `p` lie inside `shared`.
fn inside(p: *const u8, len: usize, shared: (*mut u8, usize)) -> bool {
    let (base, size) = (shared.0 as usize, shared.1);
    (p as usize) >= base && (p as usize).checked_add(len).is_some_and(|end| end <= base + size)
}

/// Runs Hopper operation `code` for thread `thread` of a block with operands `ops` (addresses,
/// then values as words); `suspend` lets the block's other fibers run (a barrier's wait), and
/// says whether to go on waiting (`false`: the block can never finish, the wait gives up).
///
/// # Safety
/// `ops` holds the operation's operands as the compiled kernel passes them; `shared` is the
/// block's shared memory.
pub(crate) unsafe fn run(code: u64, ops: *const *mut u8, thread: usize, shared: (*mut u8, usize), suspend: &mut dyn FnMut() -> bool) {
    let Some(op) = hopper_op(code) else { return };
    // SAFETY: the caller's guarantee for the operand list; every shared access is checked to
    // lie inside the block's shared memory before it is made (barriers are 8-byte aligned
    // elements of shared u64 arrays).
    unsafe {
        let word = |i: usize| *ops.add(i) as u64;
        let bar_at = |i: usize| -> Option<*mut u64> {
            let p = *ops.add(i) as *mut u64;
            inside(p as *const u8, 8, shared).then_some(p)
        };
        match op {
            BulkOp::BarrierInit => {
                if let Some(b) = bar_at(0) {
                    let count = word(1) & PENDING;
                    *b = count | count << 16;
                }
            }
            BulkOp::BarrierArrive => {
                if let Some(b) = bar_at(0) {
                    *b = arrive(*b);
                }
            }
            BulkOp::BarrierExpectTx => {
                if let Some(b) = bar_at(0) {
                    *b = arrive(add_tx(*b, (word(1) as u32) as i64));
                }
            }
            BulkOp::BarrierWait => {
                if let Some(b) = bar_at(0) {
                    let parity = (word(1) & 1) << 63;
                    // The phase of this parity is over once the current one's parity differs.
                    while std::ptr::read_volatile(b) & PHASE == parity {
                        if !suspend() {
                            break;
                        }
                    }
                }
            }
            BulkOp::TmaLoad => {
                let (dst, map, bar) = (*ops, *ops.add(1) as *const u64, bar_at(2));
                let (x, y) = (word(3) as u32 as i32 as i64, word(4) as u32 as i32 as i64);
                let Some(bar) = bar else { return };
                if !crate::tensor_map::is_cpu_map(map as u64) || *map != tm::MAGIC {
                    // Not a map of this backend: nothing is copied, nothing expected.
                    *bar = settle(with_tx(*bar, 0));
                    return;
                }
                let w = |i: usize| *map.add(i);
                let (size, cols, rows, pitch) = (w(tm::ELEM_BYTES) as usize, w(tm::COLS) as i64, w(tm::ROWS) as i64, w(tm::PITCH) as usize);
                let (bc, br, swz) = (w(tm::BOX_COLS) as usize, w(tm::BOX_ROWS) as usize, w(tm::SWIZZLE) as u32);
                let data = w(tm::ADDRESS) as *const u8;
                let bytes = bc * br * size;
                if inside(dst, bytes, shared) {
                    let base = dst as usize & !1023;
                    for r in 0..br {
                        for c in 0..bc {
                            let (gr, gc) = (y + r as i64, x + c as i64);
                            let at = (dst as usize - base + (r * bc + c) * size) as u64;
                            let to = (base + swizzle(at, swz) as usize) as *mut u8;
                            if (0..rows).contains(&gr) && (0..cols).contains(&gc) {
                                std::ptr::copy_nonoverlapping(data.add(gr as usize * pitch + gc as usize * size), to, size);
                            } else {
                                std::ptr::write_bytes(to, 0, size);
                            }
                        }
                    }
                }
                *bar = settle(add_tx(*bar, -(bytes as i64)));
            }
            BulkOp::Wgmma { n, input } => {
                let (acc, a, b) = (*ops, *ops.add(1) as *const u8, *ops.add(2) as *const u8);
                let size = input.input().size_bytes();
                let read = |p: *const u8, row: usize, k: usize| -> f64 {
                    let base = p as usize & !1023;
                    let at = (base + wgmma_offset((p as usize - base) as u64, row, k * size) as usize) as *const u8;
                    if !inside(at, size, shared) {
                        return 0.0;
                    }
                    match input {
                        MmaShape::F16 => half::f16::from_bits(*(at as *const u16)).to_f64(),
                        MmaShape::Bf16 => half::bf16::from_bits(*(at as *const u16)).to_f64(),
                        // The tensor cores read tf32: the top 19 bits of the f32.
                        MmaShape::Tf32 => f32::from_bits(*(at as *const u32) & !0x1fff) as f64,
                        MmaShape::S8 => *(at as *const i8) as f64,
                    }
                };
                let t = thread % 128;
                for i in 0..(n / 2) as usize {
                    let (row, col) = wgmma_d_at(t, i);
                    let dot: f64 = (0..input.wgmma_k()).map(|k| read(a, row, k) * read(b, col, k)).sum();
                    if input == MmaShape::S8 {
                        // Exact: integers far below 2^53; the accumulator wraps as the GPU's s32.
                        let p = acc as *mut i32;
                        *p.add(i) = (*p.add(i) as i64).wrapping_add(dot as i64) as i32;
                    } else {
                        let p = acc as *mut f32;
                        *p.add(i) = (*p.add(i) as f64 + dot) as f32;
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn barrier_phases() {
        let init = 2 | 2 << 16;
        let one = arrive(init);
        assert_eq!(one & PHASE, 0);
        let done = arrive(one);
        assert_eq!(done & PHASE, PHASE);
        assert_eq!(done & PENDING, 2);
        // Bytes expected hold the phase open until the copy lands, in either order.
        let b = arrive(add_tx(2 | 2 << 16, 4096));
        let b = arrive(b);
        assert_eq!(b & PHASE, 0);
        assert_eq!(settle(add_tx(b, -4096)) & PHASE, PHASE);
        let early = settle(add_tx(1 | 1 << 16, -64));
        assert_eq!(early & PHASE, 0);
        assert_eq!(arrive(add_tx(early, 64)) & PHASE, PHASE);
    }
}
