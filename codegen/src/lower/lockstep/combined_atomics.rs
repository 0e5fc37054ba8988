//! Atomics a block makes one: in a thread loop, the threads' `atomic_add(total, 0, v)` on one
//! element become a sum in a register and one atomic after the loop.
//!
//! A GPU compiler does the same for a warp (nvcc's warp-aggregated atomics); on the CPU the
//! gain is larger, since every core's atomics on one element take its cache line in turn: a
//! warp-shuffle sum's one atomic a warp ran at 1.2× on 2 cores instead of 2×. It applies to an
//! atomic statement (its old value unused) in a stretch of the kernel that one thread loop runs,
//! when
//!
//! - the operation is one whose order does not matter: add, sub, min, max, and, or, xor on
//!   integers, add and sub on `f32` and `f64` (the order of a GPU's atomics is not defined);
//! - its index is uniform (the same for every thread of the block);
//! - the stretch's other atomics on that array are such atomics too, of operations that commute
//!   with its own (add and sub; or the same one), and nothing else in the stretch reads or
//!   writes the array; the stretch calls no device function, has no inline assembly and no
//!   bulk copy (which could), and the kernel's arrays do not alias (`may_alias`).
//!
//! The one atomics then come after the loop in an order some interleaving of the threads'
//! atomics also has: each thread's atomics on the array commute, so all of its adds (or mins)
//! may come before all of the next thread's, and every thread's before the loop's end.
//!
//! Each thread still checks its index, as before: a thread whose index is out of bounds adds
//! nothing and reports its fault.

use super::super::{Lower, LR};
use super::uniform_expr;
use crate::ast::AtomicOp;
use crate::ir::{ArrayRef, Stmt, StmtKind, TypedExpr, TypedExprKind};
use crate::types::ScalarType;
use inkwell::values::{BasicValueEnum, IntValue, PointerValue};
use inkwell::IntPredicate;
use std::collections::HashMap;

/// One atomic of the running thread loop made one for the block.
pub(in crate::lower) struct Combined<'ctx> {
    /// The atomic expression (of an `Eval` statement), by address.
    expr: *const TypedExpr,
    op: AtomicOp,
    array: ArrayRef,
    ty: ScalarType,
    index: Vec<TypedExpr>,
    /// The threads' values combined so far; whether any thread gave one.
    acc: PointerValue<'ctx>,
    any: PointerValue<'ctx>,
}

/// The atomics of `run` (the statements of one thread loop) that can be made one.
fn combinable<'s>(run: &'s [Stmt], uniform: &[bool]) -> Vec<&'s TypedExpr> {
    #[derive(Default)]
    struct Seen<'s> {
        /// Each array's accesses: the candidate atomics and the other accesses.
        candidates: HashMap<ArrayRef, Vec<&'s TypedExpr>>,
        touched: Vec<ArrayRef>,
        opaque: bool,
    }
    fn expr<'s>(e: &'s TypedExpr, seen: &mut Seen<'s>) {
        match &e.kind {
            TypedExprKind::Load { array, .. } | TypedExprKind::Atomic { array, .. } => seen.touched.push(*array),
            TypedExprKind::Call { .. } => seen.opaque = true,
            _ => {}
        }
        for c in super::children(e) {
            expr(c, seen);
        }
    }
    fn stmts<'s>(body: &'s [Stmt], uniform: &[bool], seen: &mut Seen<'s>) {
        for s in body {
            match &s.kind {
                StmtKind::Eval(e) if candidate(e, uniform) => {
                    let TypedExprKind::Atomic { array, index, values, .. } = &e.kind else { unreachable!("a candidate is an atomic") };
                    seen.candidates.entry(*array).or_default().push(e);
                    index.iter().chain(values).for_each(|x| expr(x, seen));
                    continue;
                }
                StmtKind::Store { array, .. } | StmtKind::StoreField { array, .. } => seen.touched.push(*array),
                StmtKind::Asm { .. } | StmtKind::Bulk { .. } => seen.opaque = true,
                _ => {}
            }
            for e in super::stmt_exprs(s) {
                expr(e, seen);
            }
            match &s.kind {
                StmtKind::If { then, otherwise, .. } => {
                    stmts(then, uniform, seen);
                    stmts(otherwise, uniform, seen);
                }
                StmtKind::While { body, .. } | StmtKind::ForRange { body, .. } => stmts(body, uniform, seen),
                _ => {}
            }
        }
    }
    let mut seen = Seen::default();
    stmts(run, uniform, &mut seen);
    if seen.opaque {
        return Vec::new();
    }
    let class = |e: &TypedExpr| match e.kind {
        TypedExprKind::Atomic { op: AtomicOp::Sub, .. } => AtomicOp::Add,
        TypedExprKind::Atomic { op, .. } => op,
        _ => unreachable!("candidates are atomics"),
    };
    let mut out: Vec<&TypedExpr> = seen
        .candidates
        .into_iter()
        .filter(|(array, atomics)| !seen.touched.contains(array) && atomics.iter().all(|e| class(e) == class(atomics[0])))
        .flat_map(|(_, atomics)| atomics)
        .collect();
    // A stable order (the generated code does not depend on the map's).
    out.sort_by_key(|e| *e as *const TypedExpr as usize);
    out
}

/// Whether `e` is an atomic of an order-free operation on a uniform element of a parameter
/// or shared array.
fn candidate(e: &TypedExpr, uniform: &[bool]) -> bool {
    use AtomicOp as A;
    let TypedExprKind::Atomic { op, array, index, .. } = &e.kind else { return false };
    let ops = match e.ty {
        ScalarType::F32 | ScalarType::F64 => matches!(op, A::Add | A::Sub),
        t if t.is_int() && t != ScalarType::Bool => matches!(op, A::Add | A::Sub | A::Min | A::Max | A::And | A::Or | A::Xor),
        _ => false,
    };
    ops && matches!(array, ArrayRef::Param(_) | ArrayRef::Shared(_)) && index.iter().all(|i| uniform_expr(i, uniform))
}

impl<'ctx> Lower<'ctx, '_> {
    /// Before the thread loop that runs `run`: the accumulators of its atomics that the block
    /// makes one, set to nothing (see the module's documentation), and noted for the loop.
    pub(super) fn combine_atomics(&mut self, run: &[Stmt]) -> LR<()> {
        if self.kernel.options.may_alias {
            return Ok(());
        }
        let mut combined = Vec::new();
        for e in combinable(run, &self.ls().layout.counts.uniform) {
            let TypedExprKind::Atomic { op, array, index, .. } = &e.kind else { unreachable!("combinable returns atomics") };
            let vt = super::value_type(self.cx, e.ty);
            let (acc, any) = (self.entry_alloca(vt, "combined")?, self.entry_alloca(self.cx.bool_type().into(), "combined.any")?);
            self.b.build_store(acc, vt.const_zero())?;
            self.b.build_store(any, self.cx.bool_type().const_zero())?;
            combined.push(Combined { expr: e, op: *op, array: *array, ty: e.ty, index: index.clone(), acc, any });
        }
        self.ls_mut().combined = combined;
        Ok(())
    }

    /// `e` (an atomic statement's expression) as the running thread's part of the block's one
    /// atomic, if it is one: its value combined into the accumulator where its index is in
    /// bounds. False if `e` is not one.
    pub(in crate::lower) fn ls_combined_atomic(&mut self, e: &TypedExpr) -> LR<bool> {
        let Some(k) = self.ls.as_ref().and_then(|ls| ls.combined.iter().position(|c| std::ptr::eq(c.expr, e))) else {
            return Ok(false);
        };
        let TypedExprKind::Atomic { values, .. } = &e.kind else { unreachable!("a combined atomic is an atomic") };
        let (array, index, acc, any, op, ty) = {
            let c = &self.ls().combined[k];
            (c.array, c.index.clone(), c.acc, c.any, c.op, c.ty)
        };
        let idx = self.indices(&index)?;
        let v = self.expr(&values[0])?;
        let guard = self.bounds_guard(array, &idx)?;
        let old = self.b.build_load(super::value_type(self.cx, ty), acc, "combined")?;
        let some = self.b.build_load(self.cx.bool_type(), any, "combined.any")?.into_int_value();
        let both = self.combine(op, ty, old, v)?;
        // The first value as it is (no identity needed: -0.0 stays -0.0).
        let new = self.b.build_select(some, both, v, "combined.new")?;
        self.b.build_store(acc, new)?;
        self.b.build_store(any, self.cx.bool_type().const_all_ones())?;
        if let Some((_, merge)) = guard {
            self.b.build_unconditional_branch(merge)?;
            self.b.position_at_end(merge);
        }
        Ok(true)
    }

    /// `a op b`, in the order-free way the block's accumulator takes (sub sums, and the one
    /// atomic subtracts the sum).
    fn combine(&self, op: AtomicOp, ty: ScalarType, a: BasicValueEnum<'ctx>, b: BasicValueEnum<'ctx>) -> LR<BasicValueEnum<'ctx>> {
        use AtomicOp as A;
        let bld = &self.b;
        if ty.is_float() {
            let sum = bld.build_float_add(a.into_float_value(), b.into_float_value(), "combined.add")?;
            // In any order, as the atomics of a GPU: the vectorizer may sum in lanes.
            if let Some(inst) = sum.as_instruction() {
                // A float add takes fast-math flags; the result is ignored otherwise.
                let _ = inst.set_fast_math_flags(inkwell::values::FastMathFlags::AllowReassoc);
            }
            return Ok(sum.into());
        }
        let (a, b): (IntValue<'ctx>, IntValue<'ctx>) = (a.into_int_value(), b.into_int_value());
        let signed = ty.is_signed_int();
        let pick = |pred: IntPredicate| -> LR<BasicValueEnum<'ctx>> {
            let pick = bld.build_select(bld.build_int_compare(pred, a, b, "combined.cmp")?, a, b, "combined.pick")?;
            Ok(pick)
        };
        Ok(match op {
            A::Add | A::Sub => bld.build_int_add(a, b, "combined.add")?.into(),
            A::Min => pick(if signed { IntPredicate::SLT } else { IntPredicate::ULT })?,
            A::Max => pick(if signed { IntPredicate::SGT } else { IntPredicate::UGT })?,
            A::And => bld.build_and(a, b, "combined.and")?.into(),
            A::Or => bld.build_or(a, b, "combined.or")?.into(),
            A::Xor => bld.build_xor(a, b, "combined.xor")?.into(),
            A::Exch | A::Cas => unreachable!("not combined (`candidate`)"),
        })
    }

    /// After the thread loop: each combined atomic, once, where a thread gave it a value.
    pub(super) fn flush_combined_atomics(&mut self) -> LR<()> {
        let combined = std::mem::take(&mut self.ls_mut().combined);
        for c in combined {
            let any = self.b.build_load(self.cx.bool_type(), c.any, "combined.any")?.into_int_value();
            let (go, done) = (self.new_block("combined.atomic"), self.new_block("combined.done"));
            self.b.build_conditional_branch(any, go, done)?;
            self.b.position_at_end(go);
            // Uniform: read once, outside the thread loop (and in bounds: a thread checked it).
            let idx = self.indices(&c.index)?;
            let addr = self.element_addr(c.array, &idx)?;
            let v = self.b.build_load(super::value_type(self.cx, c.ty), c.acc, "combined")?;
            self.atomic_rmw(c.op, addr, &[v], c.ty)?;
            self.b.build_unconditional_branch(done)?;
            self.b.position_at_end(done);
        }
        Ok(())
    }
}
