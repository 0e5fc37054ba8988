//! The CPU backend's warp matrix operations (`ldmatrix`, `mma_sync`), lane by lane, with the
//! fragment layouts of [`gpujit_codegen::bulk`] (the PTX ISA's).
//!
//! The fibers of a warp meet (see `cpu::fiber_warp_matrix`); each lane then computes its own
//! part from the operands the warp's lanes published: their row addresses for `ldmatrix`, their
//! fragments for `mma_sync`.

use gpujit_codegen::bulk::{ldmatrix_at, MmaShape};

/// One lane's operands, as the kernel passed them (see `HostCtx::warp_matrix`).
pub(crate) type Operands = *const *mut u8;

/// `ldmatrix`: fills lane `lane`'s fragment (`2 * matrices` 16-bit elements at `ops[0]`) from
/// the rows the lanes give (`ops[1]` of lane `8j + r` is row `r` of matrix `j`). Lanes missing
/// from `warp` (finished, or past a partial warp's end) give rows of zeros.
///
/// # Safety
/// Each present lane's operands point to its live fragment and to 8 readable 16-bit elements.
pub(crate) unsafe fn ldmatrix(warp: &[Option<Operands>; 32], lane: usize, matrices: u32, trans: bool) {
    // SAFETY: the caller's guarantee; this lane's fragment is its own.
    unsafe {
        let Some(own) = warp[lane] else { return };
        let frag = *own as *mut u16;
        for e in 0..2 * matrices as usize {
            let (m, row, col) = ldmatrix_at(lane, e, trans);
            let v = match warp[8 * m + row] {
                Some(ops) => *((*ops.add(1)) as *const u16).add(col),
                None => 0,
            };
            *frag.add(e) = v;
        }
    }
}

/// `mma_sync`: lane `lane`'s accumulator (`ops[0]`) becomes `C + A·B`, A and B gathered from the
/// lanes' fragments (`ops[1]`, `ops[2]`). Integers wrap as the GPU's s32 accumulation; floats
/// are summed in f64 (products of 16-bit and tf32 inputs are exact there) and rounded once.
///
/// # Safety
/// Each present lane's operands point to live fragments of `shape`'s lengths.
pub(crate) unsafe fn mma(warp: &[Option<Operands>; 32], lane: usize, shape: MmaShape) {
    let (m, n, k) = shape.mnk();
    let [la, lb, lc] = shape.lens().map(|l| l as usize);
    let mut a = vec![0f64; m * k];
    let mut b = vec![0f64; k * n];
    // SAFETY: the caller's guarantee; fragments are read, and only this lane's C written.
    unsafe {
        let read = |p: *mut u8, i: usize| -> f64 {
            match shape {
                MmaShape::F16 => half::f16::from_bits(*(p as *const u16).add(i)).to_f64(),
                MmaShape::Bf16 => half::bf16::from_bits(*(p as *const u16).add(i)).to_f64(),
                // The tensor cores read tf32: the top 19 bits of the f32.
                MmaShape::Tf32 => f32::from_bits(*(p as *const u32).add(i) & !0x1fff) as f64,
                MmaShape::S8 => *(p as *const i8).add(i) as f64,
            }
        };
        for (l, ops) in warp.iter().enumerate() {
            let Some(ops) = ops else { continue };
            for i in 0..la {
                let (r, c) = shape.a_at(l, i);
                a[r * k + c] = read(*ops.add(1), i);
            }
            for i in 0..lb {
                let (r, c) = shape.b_at(l, i);
                b[r * n + c] = read(*ops.add(2), i);
            }
        }
        let Some(own) = warp[lane] else { return };
        let c = *own;
        for i in 0..lc {
            let (r, col) = shape.c_at(lane, i);
            let dot = (0..k).map(|x| a[r * k + x] * b[x * n + col]);
            if shape == MmaShape::S8 {
                // Exact: every product and partial sum is an integer far below 2^53.
                let p = c as *mut i32;
                let sum = dot.sum::<f64>() as i64;
                *p.add(i) = (*p.add(i) as i64).wrapping_add(sum) as i32;
            } else {
                let p = c as *mut f32;
                *p.add(i) = (*p.add(i) as f64 + dot.sum::<f64>()) as f32;
            }
        }
    }
}
