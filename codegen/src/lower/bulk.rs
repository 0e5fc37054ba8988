//! Lowering of bulk statements ([`ir::StmtKind::Bulk`]): the bounds and alignment checks and the
//! addresses here, for both targets; the instructions through [`crate::target::Target::bulk`],
//! with a portable vector copy where the target has nothing of its own.

use super::{memory_type, Lower, LR};
use crate::ast::{Builtin, CacheHint};
use crate::contract::OobRecord;
use crate::ir::{self, ArrayRef, BulkOp};
use crate::target::BulkAccess;
use crate::types::ScalarType;
use inkwell::types::BasicTypeEnum;
use inkwell::values::BasicValue;
use inkwell::values::IntValue;
use inkwell::IntPredicate;

impl<'ctx> Lower<'_, 'ctx> {
    pub(super) fn bulk(&mut self, op: BulkOp, operands: &[ir::Element], values: &[ir::TypedExpr]) -> LR<()> {
        if op.is_hopper() {
            return self.hopper(op, operands, values);
        }
        let idx = operands.iter().map(|o| self.indices(&o.index)).collect::<LR<Vec<_>>>()?;
        let local: Vec<bool> = operands.iter().map(|o| matches!(o.array, ArrayRef::Local(_))).collect();
        let global: Vec<bool> = operands.iter().map(|o| matches!(o.array, ArrayRef::Param(_))).collect();
        let elem = operands.first().map(|o| self.element_type(o.array)).unwrap_or(ScalarType::U8);
        let i64t = self.cx.i64_type();
        match op {
            BulkOp::AsyncCommit | BulkOp::AsyncWait(_) => {
                let access = BulkAccess { op, elem, addrs: Vec::new(), local, global, align: 1, values: Vec::new() };
                self.target.bulk(self.module, &self.b, self.f, &access)?;
            }
            BulkOp::Copy { count, hint, asynchronous } => {
                // Each operand in memory holds `count` elements from its index on, at an offset
                // that is a multiple of `count`; otherwise the copy is reported and skipped.
                let mut ok = None;
                for (o, i) in operands.iter().zip(&idx) {
                    // (A per-thread array's part has no alignment to keep: it is registers.)
                    let c = self.run_check(o.array, i, count as u64, !matches!(o.array, ArrayRef::Local(_)))?;
                    ok = Some(match ok {
                        None => c,
                        Some(prev) => self.and_checks(prev, c)?,
                    });
                }
                let addrs = operands.iter().zip(&idx).map(|(o, i)| self.element_addr(o.array, i)).collect::<LR<Vec<_>>>()?;
                let bytes = elem.size_bytes() as u32 * count;
                let merge = match ok {
                    Some(c) if self.target.bounds_check(self.root) => {
                        let (go, bad, merge) = (self.new_block("vector"), self.new_block("vector.bad"), self.new_block("vector.end"));
                        self.b.build_conditional_branch(c.ok, go, bad)?;
                        self.b.position_at_end(bad);
                        self.report_run(c)?;
                        // A load that is skipped reads zeros, as an out-of-bounds element does.
                        if local[0] && !asynchronous {
                            for e in 0..count as u64 {
                                let i64t = self.cx.i64_type();
                                // SAFETY (of the generated code): the verifier checked that the
                                // per-thread array holds the `count` elements from here.
                                let at = unsafe {
                                    self.b.build_gep(memory_type(self.cx, elem), addrs[0], &[i64t.const_int(e, false)], "zero.at")?
                                };
                                self.b.build_store(at, memory_type(self.cx, elem).const_zero())?;
                            }
                        }
                        self.b.build_unconditional_branch(merge)?;
                        self.b.position_at_end(go);
                        Some(merge)
                    }
                    _ => None,
                };
                let align = if operands.iter().all(|o| self.base_aligned(o.array)) { bytes } else { elem.align_bytes() as u32 };
                // Cache operators are for global memory.
                let hint = if global.iter().any(|g| *g) { hint } else { CacheHint::Default };
                let access = BulkAccess {
                    op: BulkOp::Copy { count, hint, asynchronous },
                    elem,
                    addrs: addrs.clone(),
                    local,
                    global,
                    align,
                    values: Vec::new(),
                };
                if !self.target.bulk(self.module, &self.b, self.f, &access)? {
                    let vt = match memory_type(self.cx, elem) {
                        BasicTypeEnum::IntType(t) => t.vec_type(count),
                        BasicTypeEnum::FloatType(t) => t.vec_type(count),
                        _ => self.cx.i8_type().vec_type(bytes),
                    };
                    let v = self.b.build_load(vt, addrs[1], "vload")?;
                    if let Some(i) = v.as_instruction_value() {
                        let _ = i.set_alignment(align);
                    }
                    let st = self.b.build_store(addrs[0], v)?;
                    let _ = st.set_alignment(align);
                }
                if let Some(merge) = merge {
                    self.b.build_unconditional_branch(merge)?;
                    self.b.position_at_end(merge);
                }
            }
            BulkOp::LdMatrix { matrices, .. } => {
                // Every lane takes part (a warp collective): a lane whose row is out of bounds
                // (only lanes that give one, 8 per matrix) is reported and reads the array's
                // first row instead.
                let (o, i) = (&operands[1], &idx[1]);
                let mut i = i.clone();
                let frag = self.clamped_window(&operands[0], &idx[0], 2 * matrices as u64)?;
                if self.target.bounds_check(self.root) {
                    let mut c = self.run_check(o.array, &i, 8, true)?;
                    let lane = self.builtin(Builtin::LaneId)?;
                    let unused = self.b.build_int_compare(IntPredicate::UGE, lane, i64t.const_int(8 * matrices as u64, false), "noaddr")?;
                    c.ok = self.b.build_or(c.ok, unused, "rowok")?;
                    let (bad, go) = (self.new_block("ldmatrix.bad"), self.new_block("ldmatrix"));
                    self.b.build_conditional_branch(c.ok, go, bad)?;
                    self.b.position_at_end(bad);
                    self.report_run(c)?;
                    self.b.build_unconditional_branch(go)?;
                    self.b.position_at_end(go);
                    let last = i.len() - 1;
                    i[last] = self.b.build_select(c.ok, i[last], i64t.const_zero(), "row")?.into_int_value();
                }
                let addrs = vec![self.element_addr(operands[0].array, &frag)?, self.element_addr(o.array, &i)?];
                let access = BulkAccess { op, elem, addrs, local, global, align: 16, values: Vec::new() };
                self.target.bulk(self.module, &self.b, self.f, &access)?;
            }
            BulkOp::Mma(shape) => {
                let [la, lb, lc] = shape.lens();
                let mut addrs = Vec::with_capacity(3);
                for ((o, i), need) in operands.iter().zip(&idx).zip([lc, la, lb]) {
                    let i = self.clamped_window(o, i, need)?;
                    addrs.push(self.element_addr(o.array, &i)?);
                }
                let access = BulkAccess { op, elem: shape.input(), addrs, local, global, align: 16, values: Vec::new() };
                self.target.bulk(self.module, &self.b, self.f, &access)?;
            }
            _ => unreachable!("Hopper's operations are lowered by `hopper`"),
        }
        Ok(())
    }

    /// Hopper's operations: barriers, TMA, `wgmma`. A barrier or a TMA destination out of
    /// bounds (or a destination off a 128-byte boundary) is reported and the operation skipped;
    /// `wgmma`, which the warpgroup runs together, then works on element 0 instead.
    fn hopper(&mut self, op: BulkOp, operands: &[ir::Element], values: &[ir::TypedExpr]) -> LR<()> {
        let idx = operands.iter().map(|o| self.indices(&o.index)).collect::<LR<Vec<_>>>()?;
        let local: Vec<bool> = operands.iter().map(|o| matches!(o.array, ArrayRef::Local(_))).collect();
        let global: Vec<bool> = operands.iter().map(|o| matches!(o.array, ArrayRef::Param(_))).collect();
        let mut vals = Vec::with_capacity(values.len());
        for v in values {
            vals.push(self.expr(v)?.into_int_value());
        }
        let elem = match op {
            BulkOp::Wgmma { input, .. } => input.input(),
            _ => operands.first().map(|o| self.element_type(o.array)).unwrap_or(ScalarType::U64),
        };
        let mut idx = idx;
        let mut merge = None;
        if let BulkOp::Wgmma { n, .. } = op {
            idx[0] = self.clamped_window(&operands[0], &idx[0], n as u64 / 2)?;
            // The tiles' descriptors address 16-byte units.
            let per16 = 16 / elem.size_bytes() as u64;
            for k in 1..3 {
                idx[k] = self.clamped_run(&operands[k], &idx[k], per16)?;
            }
        } else if !operands.is_empty() && self.target.bounds_check(self.root) {
            let mut ok = None;
            for (k, (o, i)) in operands.iter().zip(&idx).enumerate() {
                if global[k] {
                    continue;
                }
                let n = if op == BulkOp::TmaLoad && k == 0 { (128 / self.element_type(o.array).size_bytes() as u64).max(1) } else { 1 };
                let c = self.run_check(o.array, i, n, n > 1)?;
                ok = Some(match ok {
                    None => c,
                    Some(prev) => self.and_checks(prev, c)?,
                });
            }
            if let Some(c) = ok {
                let (go, bad, end) = (self.new_block("hopper"), self.new_block("hopper.bad"), self.new_block("hopper.end"));
                self.b.build_conditional_branch(c.ok, go, bad)?;
                self.b.position_at_end(bad);
                self.report_run(c)?;
                self.b.build_unconditional_branch(end)?;
                self.b.position_at_end(go);
                merge = Some(end);
            }
        }
        let addrs = operands.iter().zip(&idx).map(|(o, i)| self.element_addr(o.array, i)).collect::<LR<Vec<_>>>()?;
        let access = BulkAccess { op, elem, addrs, local, global, align: 16, values: vals };
        self.target.bulk(self.module, &self.b, self.f, &access)?;
        if let Some(end) = merge {
            self.b.build_unconditional_branch(end)?;
            self.b.position_at_end(end);
        }
        Ok(())
    }

    /// Whether `array`'s first element is known 16-byte aligned here: shared and per-thread
    /// arrays always; a kernel's array parameter when the launch found its data so.
    fn base_aligned(&self, array: ArrayRef) -> bool {
        match array {
            ArrayRef::Shared(_) | ArrayRef::Local(_) => true,
            ArrayRef::Param(p) => {
                self.body_number == 0 && (self.kernel.options.aligned16 || (p < 32 && self.kernel.options.aligned_arrays & (1 << p) != 0))
            }
        }
    }

    /// The first element of a fragment of `need` elements from `idx` of a per-thread array, for
    /// an operation the whole warp takes part in: when the part does not fit in the array, the
    /// access is reported (on targets that check bounds) and made at element 0 instead, so that
    /// every lane still takes part.
    fn clamped_window(&mut self, o: &ir::Element, idx: &[IntValue<'ctx>], need: u64) -> LR<Vec<IntValue<'ctx>>> {
        self.clamped(o, idx, need, false)
    }

    /// `idx` of a shared array when a run of `n` elements from it is in bounds and its offset a
    /// multiple of `n` (a `wgmma` tile's 16-byte start); else, as [`Lower::clamped_window`],
    /// reported and element 0.
    fn clamped_run(&mut self, o: &ir::Element, idx: &[IntValue<'ctx>], n: u64) -> LR<Vec<IntValue<'ctx>>> {
        self.clamped(o, idx, n, true)
    }

    fn clamped(&mut self, o: &ir::Element, idx: &[IntValue<'ctx>], n: u64, aligned: bool) -> LR<Vec<IntValue<'ctx>>> {
        if !self.target.bounds_check(self.root) {
            return Ok(idx.to_vec());
        }
        let c = self.run_check(o.array, idx, n, aligned)?;
        let (bad, go) = (self.new_block("fragment.bad"), self.new_block("fragment"));
        self.b.build_conditional_branch(c.ok, go, bad)?;
        self.b.position_at_end(bad);
        self.report_run(c)?;
        self.b.build_unconditional_branch(go)?;
        self.b.position_at_end(go);
        let zero = self.cx.i64_type().const_zero();
        let last = idx.len() - 1;
        let mut out = idx.to_vec();
        out[last] = self.b.build_select(c.ok, idx[last], zero, "fragment.at")?.into_int_value();
        Ok(out)
    }

    /// The check of a run of `n` elements of `array` from `idx` on: every index in bounds, the
    /// last one's run within its axis, and (when `aligned`) the element offset a multiple of `n`.
    fn run_check(&self, array: ArrayRef, idx: &[IntValue<'ctx>], n: u64, aligned: bool) -> LR<RunCheck<'ctx>> {
        let i64t = self.cx.i64_type();
        let extents: Vec<IntValue<'ctx>> = match array {
            ArrayRef::Param(p) if idx.len() > 1 => self.param_array(p).shape.clone(),
            _ => vec![self.array(array).1],
        };
        let last = idx.len() - 1;
        let end = self.b.build_int_add(idx[last], i64t.const_int(n - 1, false), "runend")?;
        // In bounds: each index below its extent, and the run's end too (which cannot wrap past
        // an extent once its start is below it).
        let mut ok = self.b.build_int_compare(IntPredicate::ULT, end, extents[last], "runok")?;
        let (mut bad, mut axis) = (end, i64t.const_int(last as u64, false));
        for d in (0..idx.len()).rev() {
            let inb = self.b.build_int_compare(IntPredicate::ULT, idx[d], extents[d], "inbounds")?;
            ok = self.b.build_and(ok, inb, "runok")?;
            bad = self.b.build_select(inb, bad, idx[d], "oobindex")?.into_int_value();
            axis = self.b.build_select(inb, axis, i64t.const_int(d as u64, false), "oobaxis")?.into_int_value();
        }
        // The element offset: row-major over the extents (the arrays here are contiguous).
        let mut flat = idx[0];
        for (d, i) in idx.iter().enumerate().skip(1) {
            flat = self.b.build_int_mul(flat, extents[d], "flat")?;
            flat = self.b.build_int_add(flat, *i, "flat")?;
        }
        let inb = ok;
        if aligned {
            // (Counts of vector accesses are powers of two.)
            let rem = self.b.build_and(flat, i64t.const_int(n - 1, false), "runrem")?;
            let multiple = self.b.build_int_compare(IntPredicate::EQ, rem, i64t.const_zero(), "runaligned")?;
            ok = self.b.build_and(ok, multiple, "runok")?;
        }
        Ok(RunCheck { ok, inb, array, bad, axis, flat, n, second: None })
    }

    /// Both checks: the first failing one is reported.
    fn and_checks(&self, a: RunCheck<'ctx>, b: RunCheck<'ctx>) -> LR<RunCheck<'ctx>> {
        let ok = self.b.build_and(a.ok, b.ok, "runok")?;
        // The report names the first operand's array when it failed, else the second's.
        let first = self.b.build_not(a.ok, "firstbad")?;
        let pick = |x: IntValue<'ctx>, y: IntValue<'ctx>| -> LR<IntValue<'ctx>> {
            Ok(self.b.build_select(first, x, y, "which")?.into_int_value())
        };
        let inb = pick(a.inb, b.inb)?;
        let (bad, axis, flat) = (pick(a.bad, b.bad)?, pick(a.axis, b.axis)?, pick(a.flat, b.flat)?);
        Ok(RunCheck { ok, inb, array: a.array, bad, axis, flat, n: a.n, second: Some((b.array, first)) })
    }

    /// Records the failed check (an out-of-bounds index, or a misaligned offset).
    fn report_run(&self, c: RunCheck<'ctx>) -> LR<()> {
        let i64t = self.cx.i64_type();
        let (line, body) = (i64t.const_int(self.line as u64, false), i64t.const_int(self.body_number as u64, false));
        let misaligned = i64t.const_int(OobRecord::MISALIGNED as u64, false);
        let axis = self.b.build_select(c.inb, misaligned, c.axis, "badaxis")?.into_int_value();
        let index = self.b.build_select(c.inb, c.flat, c.bad, "badindex")?.into_int_value();
        let values = [line, body, i64t.const_int(c.n, false)];
        match c.second {
            None => self.report_out_of_bounds(self.array_number(c.array), index, axis, &values),
            Some((other, first_failed)) => {
                let (one, two, done) = (self.new_block("bad.first"), self.new_block("bad.second"), self.new_block("bad.done"));
                self.b.build_conditional_branch(first_failed, one, two)?;
                self.b.position_at_end(one);
                self.report_out_of_bounds(self.array_number(c.array), index, axis, &values)?;
                self.b.build_unconditional_branch(done)?;
                self.b.position_at_end(two);
                self.report_out_of_bounds(self.array_number(other), index, axis, &values)?;
                self.b.build_unconditional_branch(done)?;
                self.b.position_at_end(done);
                Ok(())
            }
        }
    }
}

/// A vector access's check (see [`Lower::run_check`]).
#[derive(Copy, Clone)]
struct RunCheck<'ctx> {
    /// All is well.
    ok: IntValue<'ctx>,
    /// Every index is in bounds (so a failure is a misaligned offset).
    inb: IntValue<'ctx>,
    array: ArrayRef,
    /// The first index out of bounds, and its axis.
    bad: IntValue<'ctx>,
    axis: IntValue<'ctx>,
    /// The element offset.
    flat: IntValue<'ctx>,
    n: u64,
    /// Two operands checked together: the second's array, and whether the first failed.
    second: Option<(ArrayRef, IntValue<'ctx>)>,
}
