//! Lockstep execution: how the CPU backend runs the threads of a block together.
//!
//! Run one after another, GPU-style kernels are slow on a CPU: a grid-stride loop touches one
//! element a cache line a pass, and a barrier needs every thread suspended (a fiber each). A
//! kernel compiled for lockstep instead runs a block as a sequence of *thread loops*: each
//! runs a stretch of the kernel that has no synchronization for every thread of the block in
//! turn, consecutive threads touching consecutive elements. The stretches end where the
//! threads must meet:
//!
//! - `sync_threads()`: the next thread loop starts once every thread has finished this one;
//! - a warp or block collective: one thread loop publishes each thread's operand, a second
//!   computes each thread's result from its warp's (a lane permutation, a vote) or the block's;
//! - a loop whose trip count is not a constant, or that holds one of these: each iteration is a
//!   thread loop over the threads still iterating ("a loop runs while any lane is active");
//! - an `if` holding one of these: each branch runs for the threads that take it.
//!
//! Which threads take part is a *mask* a level of nesting: a byte a thread, in the block's
//! frame. Level 0 is the threads that have not returned; an `if` sets level k + 1 from level k
//! and its condition; a loop keeps the threads still iterating at k + 1 and those in this
//! iteration at k + 2, so `break`, `continue` and `return` clear the levels they leave. Every
//! value a thread keeps across thread loops (its locals, per-thread arrays, loop counters) lives
//! in the frame too, one array a variable with the threads side by side.
//!
//! The rest runs as it does on the GPU's thread model, on fibers: `grid_sync()`, the warp's
//! matrix operations and Hopper's, collectives in a device function, a collective in a `while`
//! condition or after a short-circuiting `&&`/`||`, or in a statement with side effects
//! (atomics, calls, random draws) whose order hoisting it would change, and `debug` kernels,
//! whose locals a debugger finds on the stack. A kernel without any point to meet runs thread
//! after thread, as before.

use super::{aggregate::words_of, memory_type, value_type, Lower, LR};
use crate::ast::{BinOp, Collective, Dim};
use crate::ir::{self, BulkOp, Stmt, StmtKind, TypedExpr, TypedExprKind};
use crate::target::SpecialReg;
use crate::types::ScalarType;
use inkwell::basic_block::BasicBlock;
use inkwell::context::Context;
use inkwell::targets::TargetData;
use inkwell::types::BasicType;
use inkwell::values::{BasicValueEnum, IntValue, PointerValue};

mod combined_atomics;
use inkwell::IntPredicate;
use std::collections::HashMap;

/// Whether kernels may run in lockstep: yes, unless `GPUJIT_CPU_LOCKSTEP=0` (every block's
/// threads then run one after another, or as fibers where they synchronize).
pub fn enabled() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var("GPUJIT_CPU_LOCKSTEP").map_or(true, |v| v != "0"))
}

/// Whether thread loops may run as vectors (consecutive threads a vector's lanes): yes, unless
/// `GPUJIT_CPU_SIMD=0` (each thread then runs on its own, one after another).
pub fn vectorize() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var("GPUJIT_CPU_SIMD").map_or(true, |v| v != "0"))
}

/// The kernel to compile for lockstep execution, or `None` where it runs as before (nothing in
/// it makes threads meet) or only on fibers (see the module's documentation). In the kernel
/// returned, every collective is the whole value of an assignment of its own, to a new local.
pub fn prepare(kernel: &ir::Kernel) -> Option<ir::Kernel> {
    if kernel.options.debug || kernel.uses_grid_sync() || kernel.uses_inline_ptx() || kernel.functions.iter().any(ir::Kernel::synchronizes)
    {
        return None;
    }
    // Uniform statements alone are no reason to run in lockstep.
    let mut tc = thread_counts(kernel);
    tc.uniform.iter_mut().for_each(|u| *u = false);
    if !supported(&kernel.body) || !meets(kernel, &tc) {
        return None;
    }
    let mut k = kernel.clone();
    let body = std::mem::take(&mut k.body);
    let mut hoist = Hoist { locals: &mut k.locals };
    k.body = hoist.block(body)?;
    Some(k)
}

/// Whether every statement has a lockstep form (no warp-matrix or Hopper operation).
fn supported(stmts: &[Stmt]) -> bool {
    stmts.iter().all(|s| match &s.kind {
        StmtKind::Bulk { op, .. } => matches!(op, BulkOp::Copy { .. } | BulkOp::AsyncCommit | BulkOp::AsyncWait(_)),
        StmtKind::GridBarrier | StmtKind::Asm { .. } => false,
        StmtKind::If { then, otherwise, .. } => supported(then) && supported(otherwise),
        StmtKind::While { body, .. } | StmtKind::ForRange { body, .. } => supported(body),
        _ => true,
    })
}

/// Whether the threads meet anywhere: a barrier, a collective, a loop run in lockstep.
fn meets(kernel: &ir::Kernel, tc: &Meet) -> bool {
    fn any(stmts: &[Stmt], tc: &Meet) -> bool {
        stmts.iter().any(|s| {
            is_sync(s, tc)
                || match &s.kind {
                    StmtKind::If { then, otherwise, .. } => any(then, tc) || any(otherwise, tc),
                    StmtKind::While { body, .. } | StmtKind::ForRange { body, .. } => any(body, tc),
                    _ => false,
                }
        })
    }
    tc.all || kernel.synchronizes() || any(&kernel.body, tc)
}

/// How a statement runs in lockstep.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Form {
    /// In a thread loop, for each thread.
    Plain,
    /// `sync_threads()`: where a thread loop ends.
    Barrier,
    /// `local = collective(..)`: a thread loop publishing, one computing.
    Collective,
    /// An assignment of a uniform local: once for the block, between thread loops.
    Scalar,
    /// An `if` on a uniform condition: evaluated once, its branch run for every thread.
    ScalarIf,
    /// An `if` whose threads may differ: each branch for the threads that take it (masks).
    MaskedIf,
    /// A loop on uniform bounds (no `break` or `continue` out of it): every thread iterates
    /// together, the loop itself run once.
    ScalarLoop,
    /// A loop each thread leaves on its own: each iteration for the threads still iterating.
    MaskedLoop,
}

/// How `s` runs (see the module's documentation); in a prepared kernel, a collective is
/// always the value of an assignment of its own.
pub(crate) fn form(s: &Stmt, tc: &Meet) -> Form {
    let inner = |b: &[Stmt]| b.iter().any(|s| is_sync(s, tc));
    match &s.kind {
        StmtKind::Barrier => Form::Barrier,
        StmtKind::Assign { value, .. } if matches!(value.kind, TypedExprKind::Collective(..)) => Form::Collective,
        StmtKind::Assign { local, .. } if tc.uniform[*local as usize] => Form::Scalar,
        StmtKind::If { cond, then, otherwise } if tc.all || inner(then) || inner(otherwise) => {
            if uniform_expr(cond, &tc.uniform) {
                Form::ScalarIf
            } else {
                Form::MaskedIf
            }
        }
        StmtKind::While { cond, body } => {
            let scalar = uniform_expr(cond, &tc.uniform) && !jumps_out(body, 0);
            match (scalar, tc.all || inner(body)) {
                (true, true) => Form::ScalarLoop,
                (_, true) => Form::MaskedLoop,
                (_, false) if strided(body, tc) => Form::MaskedLoop,
                _ => Form::Plain,
            }
        }
        StmtKind::ForRange { var, start, end, step, inclusive, reverse, unroll, body } => {
            match (tc.uniform[*var as usize], tc.all || inner(body)) {
                (true, true) => Form::ScalarLoop,
                (_, true) => Form::MaskedLoop,
                (_, false) if counts_threads(step, tc) => Form::MaskedLoop,
                // A short loop of a constant count (a tile's `for kk in 0..16`) runs outside the
                // thread loops, each iteration one over the block's threads: the threads are
                // then a vector's lanes, where inside a thread loop it would run each thread's
                // loop in turn (LLVM does not vectorize a loop around a loop).
                // (Not a loop the user unrolls: that is each thread's, inside the thread loop.)
                (true, false) if unroll.is_none() && short_constant(start, end, step, *inclusive || *reverse) => Form::ScalarLoop,
                _ => Form::Plain,
            }
        }
        _ => Form::Plain,
    }
}

/// Whether `start..end` stepped by `step` are constants of at most [`SHORT_LOOP`] iterations
/// (`odd`: an inclusive or reversed range, left as it is).
fn short_constant(start: &TypedExpr, end: &TypedExpr, step: &TypedExpr, odd: bool) -> bool {
    let int = |e: &TypedExpr| match e.kind {
        TypedExprKind::Const(ir::Const::Int(v)) => Some(v),
        _ => None,
    };
    match (int(start), int(end), int(step)) {
        (Some(a), Some(b), Some(st)) if !odd && st > 0 && a <= b => (b - a).div_ceil(st) <= SHORT_LOOP,
        _ => false,
    }
}

/// The most iterations of a constant loop run outside the thread loops ([`short_constant`]).
const SHORT_LOOP: u64 = 64;

/// Whether `s` ends a thread loop.
pub(crate) fn is_sync(s: &Stmt, tc: &Meet) -> bool {
    form(s, tc) != Form::Plain
}

/// Whether `stmts` hold a `return`.
fn returns(stmts: &[Stmt]) -> bool {
    stmts.iter().any(|s| match &s.kind {
        StmtKind::Return(_) => true,
        StmtKind::If { then, otherwise, .. } => returns(then) || returns(otherwise),
        StmtKind::While { body, .. } | StmtKind::ForRange { body, .. } => returns(body),
        _ => false,
    })
}

/// Whether a `break` or `continue` in `stmts`, `depth` loops inside a loop, leaves that loop
/// (or one around it).
fn jumps_out(stmts: &[Stmt], depth: u32) -> bool {
    stmts.iter().any(|s| match &s.kind {
        StmtKind::Break(n) | StmtKind::Continue(n) => *n >= depth,
        StmtKind::If { then, otherwise, .. } => jumps_out(then, depth) || jumps_out(otherwise, depth),
        StmtKind::While { body, .. } | StmtKind::ForRange { body, .. } => jumps_out(body, depth + 1),
        _ => false,
    })
}

/// Whether `e` has one value for every thread of the block: built from constants,
/// parameters, array shapes, the block's and grid's indices and extents, and uniform locals.
fn uniform_expr(e: &TypedExpr, uniform: &[bool]) -> bool {
    use crate::ast::Builtin as B;
    uniform_over(e, uniform, |b| matches!(b, B::BlockIdx(_) | B::BlockDim(_) | B::GridDim(_) | B::GridSize(_) | B::WarpSize))
}

/// Whether `e` is built from constants, parameters, array shapes, the `uniform` locals and
/// the intrinsics `special` admits, without loads or effects: the same for every thread that
/// shares what `special` admits (a block, a grid).
pub(super) fn uniform_over(e: &TypedExpr, uniform: &[bool], special: fn(crate::ast::Builtin) -> bool) -> bool {
    let here = match &e.kind {
        TypedExprKind::Const(_) | TypedExprKind::Param(_) | TypedExprKind::Len(_) | TypedExprKind::ArrayDim { .. } => true,
        TypedExprKind::Local(l) => uniform.get(*l as usize).copied().unwrap_or(false),
        TypedExprKind::Special(b) => special(*b),
        TypedExprKind::Unary(..)
        | TypedExprKind::Binary(..)
        | TypedExprKind::Cast(_)
        | TypedExprKind::FromBits(_)
        | TypedExprKind::Field(..)
        | TypedExprKind::Construct(_)
        | TypedExprKind::Math(..)
        | TypedExprKind::Complex(..) => true,
        TypedExprKind::Load { .. }
        | TypedExprKind::Atomic { .. }
        | TypedExprKind::Call { .. }
        | TypedExprKind::Collective(..)
        | TypedExprKind::Random { .. } => false,
    };
    here && children(e).into_iter().all(|c| uniform_over(c, uniform, special))
}

/// The locals whose value is the same in every thread wherever it is read: assigned only
/// uniform values, where every thread is (not under an `if` or loop the threads may take
/// differently). They live once for the block; their statements run once (`Form::Scalar`).
fn uniform_locals(kernel: &ir::Kernel) -> Vec<bool> {
    fn walk(stmts: &[Stmt], scalar: bool, u: &mut Vec<bool>) -> bool {
        let mut changed = false;
        let clear = |l: ir::LocalId, u: &mut Vec<bool>| std::mem::replace(&mut u[l as usize], false);
        for s in stmts {
            for e in stmt_exprs(s) {
                // A generator's state advances in each thread.
                let mut drawn = Vec::new();
                collect_random(e, &mut drawn);
                for l in drawn {
                    changed |= clear(l, u);
                }
            }
            match &s.kind {
                StmtKind::Assign { local, value } if !(scalar && uniform_expr(value, u)) => changed |= clear(*local, u),
                StmtKind::AssignField { local, .. } => changed |= clear(*local, u),
                StmtKind::If { cond, then, otherwise } => {
                    let c = scalar && uniform_expr(cond, u);
                    changed |= walk(then, c, u);
                    changed |= walk(otherwise, c, u);
                }
                StmtKind::While { cond, body } => {
                    let c = scalar && uniform_expr(cond, u) && !jumps_out(body, 0);
                    changed |= walk(body, c, u);
                }
                StmtKind::ForRange { var, start, end, step, body, .. } => {
                    let c = scalar && [start, end, step].iter().all(|e| uniform_expr(e, u)) && !jumps_out(body, 0);
                    if !c {
                        changed |= clear(*var, u);
                    }
                    changed |= walk(body, c, u);
                }
                _ => {}
            }
        }
        changed
    }
    let mut u = vec![true; kernel.locals.len()];
    while walk(&kernel.body, true, &mut u) {}
    u
}

fn collect_random(e: &TypedExpr, out: &mut Vec<ir::LocalId>) {
    if let TypedExprKind::Random { seed, subsequence, drawn, .. } = e.kind {
        out.extend([seed, subsequence, drawn]);
    }
    for c in children(e) {
        collect_random(c, out);
    }
}

/// Whether `e` involves the number of threads (`grid_size`, `block_dim`, `grid_dim`, or a
/// local `tc` marks as set from them), as the step of a loop that spreads elements over the
/// threads does.
fn counts_threads(e: &TypedExpr, tc: &Meet) -> bool {
    use crate::ast::Builtin as B;
    any_expr(e, &|x| match x.kind {
        TypedExprKind::Special(B::GridSize(_) | B::BlockDim(_) | B::GridDim(_)) => true,
        TypedExprKind::Local(l) => tc.counts.get(l as usize).copied().unwrap_or(false),
        _ => false,
    })
}

/// Whether a `while` body steps a variable by the number of threads (`i += grid_size(1)`, or
/// by a local set to it): the loop of a grid-stride or block-stride kernel, which visits
/// consecutive elements with consecutive threads. Run in lockstep, its threads do the same;
/// run one after another, each would touch one element a cache line. Other loops without
/// synchronization run a thread at a time, as before.
fn strided(body: &[Stmt], tc: &Meet) -> bool {
    body.iter().any(|s| match &s.kind {
        StmtKind::Assign { local, value } => match &value.kind {
            TypedExprKind::Binary(BinOp::Add | BinOp::Sub, a, b) => {
                matches!(a.kind, TypedExprKind::Local(l) if l == *local) && counts_threads(b, tc)
            }
            _ => false,
        },
        _ => false,
    })
}

/// What decides which statements end a thread loop ([`is_sync`]).
#[derive(Debug, Default)]
pub(crate) struct Meet {
    /// The locals set (directly) from the number of threads, anywhere in the kernel.
    counts: Vec<bool>,
    /// Every loop and `if` ([`ir::KernelOptions::lockstep_all`]).
    all: bool,
    /// The uniform locals ([`uniform_locals`]).
    uniform: Vec<bool>,
    /// The locals only ever set to `thread_idx_x()`.
    tid_x: Vec<bool>,
}

/// The kernel's [`Meet`].
pub(crate) fn thread_counts(kernel: &ir::Kernel) -> Meet {
    fn walk(stmts: &[Stmt], tc: &mut Meet) {
        use crate::ast::Builtin as B;
        for s in stmts {
            match &s.kind {
                StmtKind::Assign { local, value } | StmtKind::AssignField { local, value, .. } => {
                    let l = *local as usize;
                    if counts_threads(value, tc) {
                        tc.counts[l] = true;
                    }
                    let tid =
                        matches!(s.kind, StmtKind::Assign { .. }) && matches!(value.kind, TypedExprKind::Special(B::ThreadIdx(Dim::X)));
                    tc.tid_x[l] &= tid;
                }
                StmtKind::ForRange { var, body, .. } => {
                    tc.tid_x[*var as usize] = false;
                    walk(body, tc);
                }
                StmtKind::If { then, otherwise, .. } => {
                    walk(then, tc);
                    walk(otherwise, tc);
                }
                StmtKind::While { body, .. } => walk(body, tc),
                _ => {}
            }
            for e in stmt_exprs(s) {
                let mut drawn = Vec::new();
                collect_random(e, &mut drawn);
                for l in drawn {
                    tc.tid_x[l as usize] = false;
                }
            }
        }
    }
    let n = kernel.locals.len();
    let mut tc = Meet { counts: vec![false; n], all: kernel.options.lockstep_all, uniform: uniform_locals(kernel), tid_x: vec![true; n] };
    walk(&kernel.body, &mut tc);
    tc
}

/// The expressions a statement evaluates itself (not those of the statements it holds).
pub(super) fn stmt_exprs(s: &Stmt) -> Vec<&TypedExpr> {
    match &s.kind {
        StmtKind::Assign { value, .. } | StmtKind::AssignField { value, .. } | StmtKind::Eval(value) => vec![value],
        StmtKind::Store { index, value, .. } | StmtKind::StoreField { index, value, .. } => index.iter().chain([value]).collect(),
        StmtKind::If { cond, .. } | StmtKind::While { cond, .. } => vec![cond],
        StmtKind::ForRange { start, end, step, .. } => vec![start, end, step],
        StmtKind::Return(v) => v.iter().collect(),
        StmtKind::Assert { cond, values, .. } => std::iter::once(cond).chain(values).collect(),
        StmtKind::Print { values, .. } => values.iter().collect(),
        StmtKind::Asm { operands, .. } => operands.iter().map(|(_, e)| e).collect(),
        StmtKind::Bulk { operands, values, .. } => operands.iter().flat_map(|o| o.index.iter()).chain(values).collect(),
        StmtKind::Break(_) | StmtKind::Continue(_) | StmtKind::Barrier | StmtKind::GridBarrier | StmtKind::Fence(_) => Vec::new(),
    }
}

/// The operands of an expression.
pub(super) fn children(e: &TypedExpr) -> Vec<&TypedExpr> {
    match &e.kind {
        TypedExprKind::Load { index, .. } => index.iter().collect(),
        TypedExprKind::Atomic { index, values, .. } => index.iter().chain(values).collect(),
        TypedExprKind::Unary(_, a) | TypedExprKind::Cast(a) | TypedExprKind::FromBits(a) | TypedExprKind::Field(a, _) => vec![a],
        TypedExprKind::Binary(_, a, b) => vec![a, b],
        TypedExprKind::Collective(_, args)
        | TypedExprKind::Math(_, args)
        | TypedExprKind::Complex(_, args)
        | TypedExprKind::Construct(args) => args.iter().collect(),
        TypedExprKind::Call { args, .. } => args
            .iter()
            .filter_map(|a| match a {
                ir::CallArg::Value(v) => Some(v),
                ir::CallArg::Array(_) => None,
            })
            .collect(),
        TypedExprKind::Const(_)
        | TypedExprKind::Local(_)
        | TypedExprKind::Param(_)
        | TypedExprKind::ArrayDim { .. }
        | TypedExprKind::Len(_)
        | TypedExprKind::Special(_)
        | TypedExprKind::Random { .. } => Vec::new(),
    }
}

fn any_expr(e: &TypedExpr, pred: &dyn Fn(&TypedExpr) -> bool) -> bool {
    pred(e) || children(e).into_iter().any(|c| any_expr(c, pred))
}

fn has_collective(e: &TypedExpr) -> bool {
    any_expr(e, &|x| matches!(x.kind, TypedExprKind::Collective(..)))
}

fn has_effects(e: &TypedExpr) -> bool {
    any_expr(e, &|x| matches!(x.kind, TypedExprKind::Atomic { .. } | TypedExprKind::Call { .. } | TypedExprKind::Random { .. }))
}

/// Moves each collective out of the expression it is in, into an assignment of its own before
/// the statement (inner ones first), so that a thread loop can end at it.
struct Hoist<'k> {
    locals: &'k mut Vec<ir::Local>,
}

impl Hoist<'_> {
    fn block(&mut self, stmts: Vec<Stmt>) -> Option<Vec<Stmt>> {
        let mut out = Vec::with_capacity(stmts.len());
        for s in stmts {
            self.stmt(s, &mut out)?;
        }
        Some(out)
    }

    fn stmt(&mut self, s: Stmt, out: &mut Vec<Stmt>) -> Option<()> {
        let exprs = stmt_exprs(&s);
        let collective = exprs.iter().any(|e| has_collective(e));
        if collective && (exprs.iter().any(|e| has_effects(e)) || matches!(s.kind, StmtKind::While { .. })) {
            // Hoisting would move the collective before an effect it comes after, or out of
            // a condition evaluated each iteration.
            return None;
        }
        let span = s.span;
        let mut pre = Vec::new();
        let mut e = |x: TypedExpr, pre: &mut Vec<Stmt>| if collective { self.expr(x, pre, span) } else { Some(x) };
        let kind = match s.kind {
            StmtKind::Assign { local, value } => StmtKind::Assign { local, value: e(value, &mut pre)? },
            StmtKind::AssignField { local, path, value } => StmtKind::AssignField { local, path, value: e(value, &mut pre)? },
            StmtKind::Eval(value) => StmtKind::Eval(e(value, &mut pre)?),
            StmtKind::Store { array, index, value } => {
                let index = index.into_iter().map(|i| e(i, &mut pre)).collect::<Option<_>>()?;
                StmtKind::Store { array, index, value: e(value, &mut pre)? }
            }
            StmtKind::StoreField { array, index, path, value } => {
                let index = index.into_iter().map(|i| e(i, &mut pre)).collect::<Option<_>>()?;
                StmtKind::StoreField { array, index, path, value: e(value, &mut pre)? }
            }
            StmtKind::Return(v) => StmtKind::Return(match v {
                Some(v) => Some(e(v, &mut pre)?),
                None => None,
            }),
            StmtKind::Assert { id, cond, values } => {
                let cond = e(cond, &mut pre)?;
                StmtKind::Assert { id, cond, values: values.into_iter().map(|v| e(v, &mut pre)).collect::<Option<_>>()? }
            }
            StmtKind::Print { id, values } => {
                StmtKind::Print { id, values: values.into_iter().map(|v| e(v, &mut pre)).collect::<Option<_>>()? }
            }
            StmtKind::Bulk { op, operands, values } => {
                let mut ops = Vec::with_capacity(operands.len());
                for o in operands {
                    ops.push(ir::Element { index: o.index.into_iter().map(|i| e(i, &mut pre)).collect::<Option<_>>()?, ..o });
                }
                StmtKind::Bulk { op, operands: ops, values: values.into_iter().map(|v| e(v, &mut pre)).collect::<Option<_>>()? }
            }
            StmtKind::If { cond, then, otherwise } => {
                let cond = e(cond, &mut pre)?;
                StmtKind::If { cond, then: self.block(then)?, otherwise: self.block(otherwise)? }
            }
            StmtKind::While { cond, body } => StmtKind::While { cond, body: self.block(body)? },
            StmtKind::ForRange { var, start, end, step, inclusive, reverse, unroll, body } => {
                let (start, end, step) = (e(start, &mut pre)?, e(end, &mut pre)?, e(step, &mut pre)?);
                StmtKind::ForRange { var, start, end, step, inclusive, reverse, unroll, body: self.block(body)? }
            }
            k @ (StmtKind::Break(_)
            | StmtKind::Continue(_)
            | StmtKind::Barrier
            | StmtKind::GridBarrier
            | StmtKind::Fence(_)
            | StmtKind::Asm { .. }) => k,
        };
        out.extend(pre);
        out.push(Stmt::new(kind, span));
        Some(())
    }

    /// `e` with its collectives replaced by new locals, assigned in `pre`.
    fn expr(&mut self, e: TypedExpr, pre: &mut Vec<Stmt>, span: crate::ast::Span) -> Option<TypedExpr> {
        if !has_collective(&e) {
            return Some(e);
        }
        let ty = e.ty;
        let mut sub = |x: Box<TypedExpr>, pre: &mut Vec<Stmt>| self.expr(*x, pre, span).map(Box::new);
        let kind = match e.kind {
            // A short-circuiting operand is evaluated by some threads only.
            TypedExprKind::Binary(BinOp::And | BinOp::Or, _, b) if has_collective(&b) => return None,
            TypedExprKind::Binary(op, a, b) => {
                let a = sub(a, pre)?;
                TypedExprKind::Binary(op, a, sub(b, pre)?)
            }
            TypedExprKind::Unary(op, a) => TypedExprKind::Unary(op, sub(a, pre)?),
            TypedExprKind::Cast(a) => TypedExprKind::Cast(sub(a, pre)?),
            TypedExprKind::FromBits(a) => TypedExprKind::FromBits(sub(a, pre)?),
            TypedExprKind::Field(a, path) => TypedExprKind::Field(sub(a, pre)?, path),
            TypedExprKind::Load { array, index } => TypedExprKind::Load { array, index: self.list(index, pre, span)? },
            TypedExprKind::Math(f, args) => TypedExprKind::Math(f, self.list(args, pre, span)?),
            TypedExprKind::Complex(f, args) => TypedExprKind::Complex(f, self.list(args, pre, span)?),
            TypedExprKind::Construct(args) => TypedExprKind::Construct(self.list(args, pre, span)?),
            TypedExprKind::Collective(c, args) => {
                let args = self.list(args, pre, span)?;
                let local = self.locals.len() as ir::LocalId;
                self.locals.push(ir::Local { name: format!("collective.{local}"), ty });
                pre.push(Stmt::new(StmtKind::Assign { local, value: TypedExpr::new(TypedExprKind::Collective(c, args), ty) }, span));
                TypedExprKind::Local(local)
            }
            // Operands with effects were refused by the statement; the rest hold no collective.
            k => k,
        };
        Some(TypedExpr::new(kind, ty))
    }

    fn list(&mut self, xs: Vec<TypedExpr>, pre: &mut Vec<Stmt>, span: crate::ast::Span) -> Option<Vec<TypedExpr>> {
        xs.into_iter().map(|x| self.expr(x, pre, span)).collect()
    }
}

/// Which locals need no place in the frame: those a single thread loop uses, writing them
/// before any read each time it runs (a temporary of a loop body, say). They live on the stack
/// of the thread running, where LLVM keeps them in registers; the rest are kept in the frame.
/// The walk follows the thread loops the lowering emits (see `Lower::ls_block`).
fn private_locals(kernel: &ir::Kernel, tc: &Meet) -> Vec<bool> {
    struct Walk<'t> {
        tc: &'t Meet,
        region: u32,
        /// The thread loop of each local's first use, and whether that use writes it.
        first: Vec<Option<(u32, bool)>>,
        /// Whether a second thread loop uses it.
        shared: Vec<bool>,
    }
    impl Walk<'_> {
        fn new_region(&mut self) -> u32 {
            self.region += 1;
            self.region
        }
        fn touch(&mut self, l: ir::LocalId, r: u32, defines: bool) {
            let l = l as usize;
            match self.first[l] {
                None => self.first[l] = Some((r, defines)),
                Some((at, _)) if at != r => self.shared[l] = true,
                Some(_) => {}
            }
        }
        fn reads(&mut self, e: &TypedExpr, r: u32) {
            match e.kind {
                TypedExprKind::Local(l) => self.touch(l, r, false),
                TypedExprKind::Random { seed, subsequence, drawn, .. } => {
                    for l in [seed, subsequence, drawn] {
                        self.touch(l, r, false);
                    }
                }
                _ => {}
            }
            for c in children(e) {
                self.reads(c, r);
            }
        }
        fn plain(&mut self, s: &Stmt, r: u32, top: bool) {
            for e in stmt_exprs(s) {
                self.reads(e, r);
            }
            match &s.kind {
                StmtKind::Assign { local, .. } => self.touch(*local, r, top),
                StmtKind::AssignField { local, .. } => self.touch(*local, r, false),
                StmtKind::If { then, otherwise, .. } => then.iter().chain(otherwise).for_each(|c| self.plain(c, r, false)),
                StmtKind::ForRange { var, body, .. } => {
                    // Written by the loop before its body reads it.
                    self.touch(*var, r, true);
                    body.iter().for_each(|c| self.plain(c, r, false));
                }
                StmtKind::While { body, .. } => body.iter().for_each(|c| self.plain(c, r, false)),
                _ => {}
            }
        }
        fn runs(&self, s: &Stmt) -> bool {
            matches!(form(s, self.tc), Form::Plain | Form::Collective)
        }
        fn block(&mut self, stmts: &[Stmt]) {
            let mut i = 0;
            while i < stmts.len() {
                if !self.runs(&stmts[i]) {
                    self.sync(&stmts[i]);
                    i += 1;
                    continue;
                }
                let mut r = self.new_region();
                while i < stmts.len() && self.runs(&stmts[i]) {
                    r = self.run(&stmts[i], r);
                    i += 1;
                }
            }
        }
        /// A statement of a run in thread loop `r`; returns the thread loop after it (a
        /// collective publishes in `r` and computes in the next).
        fn run(&mut self, s: &Stmt, r: u32) -> u32 {
            match (&s.kind, form(s, self.tc)) {
                (StmtKind::Assign { local, value }, Form::Collective) => {
                    self.reads(value, r);
                    let next = self.new_region();
                    self.reads(value, next);
                    self.touch(*local, next, true);
                    next
                }
                _ => {
                    self.plain(s, r, true);
                    r
                }
            }
        }
        fn sync(&mut self, s: &Stmt) {
            match (form(s, self.tc), &s.kind) {
                // Uniform: once, outside the thread loops (uniform locals are on the stack anyway).
                (Form::Scalar | Form::Barrier, _) => {}
                (Form::ScalarIf, StmtKind::If { then, otherwise, .. }) => {
                    self.block(then);
                    self.block(otherwise);
                }
                (Form::ScalarLoop, StmtKind::While { body, .. } | StmtKind::ForRange { body, .. }) => self.block(body),
                (_, StmtKind::If { cond, then, otherwise }) => {
                    let r = self.new_region();
                    self.reads(cond, r);
                    self.block(then);
                    self.new_region();
                    self.block(otherwise);
                }
                (_, StmtKind::While { cond, body }) => {
                    let r = self.new_region();
                    self.reads(cond, r);
                    self.body(body, r);
                }
                (_, StmtKind::ForRange { var, start, end, step, body, .. }) => {
                    let r = self.new_region();
                    for e in [start, end, step] {
                        self.reads(e, r);
                    }
                    let r = self.new_region();
                    self.touch(*var, r, true);
                    self.body(body, r);
                }
                _ => {}
            }
        }
        /// A lockstep loop's body: its first run is in the iteration's thread loop `r`.
        fn body(&mut self, body: &[Stmt], r: u32) {
            let j = body.iter().position(|s| !self.runs(s)).unwrap_or(body.len());
            let mut r = r;
            for s in &body[..j] {
                r = self.run(s, r);
            }
            self.block(&body[j..]);
        }
    }
    let n = kernel.locals.len();
    let mut w = Walk { tc, region: 0, first: vec![None; n], shared: vec![false; n] };
    w.block(&kernel.body);
    (0..n).map(|l| !w.shared[l] && w.first[l].map_or(true, |(_, defines)| defines)).collect()
}

/// The locals a thread loop recomputes where it reads them, instead of keeping them in the
/// frame: each is assigned once, at the kernel's top level, a small expression without loads or
/// effects of the thread's and block's indices, parameters, array shapes, uniform locals and
/// other such locals (`t = thread_idx_x()`, `i = grid(1)`, `row = block_idx_y() * 16 + ty`).
/// Recomputed, the optimizer sees what they are: consecutive threads' `s[t]` are consecutive
/// elements, and a loop over `kk` needs no load of `tx` from memory each iteration.
fn recomputed_locals(kernel: &ir::Kernel, uniform: &[bool]) -> Vec<Option<TypedExpr>> {
    fn count(stmts: &[Stmt], n: &mut [u32]) {
        for s in stmts {
            for e in stmt_exprs(s) {
                let mut drawn = Vec::new();
                collect_random(e, &mut drawn);
                drawn.into_iter().for_each(|l| n[l as usize] += 2);
            }
            match &s.kind {
                StmtKind::Assign { local, .. } => n[*local as usize] += 1,
                StmtKind::AssignField { local, .. } => n[*local as usize] += 2,
                StmtKind::If { then, otherwise, .. } => {
                    count(then, n);
                    count(otherwise, n);
                }
                StmtKind::ForRange { var, body, .. } => {
                    n[*var as usize] += 2;
                    count(body, n);
                }
                StmtKind::While { body, .. } => count(body, n),
                _ => {}
            }
        }
    }
    /// Whether `e` is cheap to evaluate again, its value the same wherever it is: no more
    /// than `budget` nodes, reading only locals `fixed` holds.
    fn cheap(e: &TypedExpr, fixed: &[bool], budget: &mut u32) -> bool {
        if *budget == 0 {
            return false;
        }
        *budget -= 1;
        let here = match &e.kind {
            TypedExprKind::Const(_)
            | TypedExprKind::Param(_)
            | TypedExprKind::Len(_)
            | TypedExprKind::ArrayDim { .. }
            | TypedExprKind::Special(_)
            | TypedExprKind::Unary(..)
            | TypedExprKind::Cast(_) => true,
            TypedExprKind::Local(l) => fixed[*l as usize],
            // A division only by a constant that is not zero (it cannot fault).
            TypedExprKind::Binary(BinOp::Div | BinOp::Rem, _, d) => {
                matches!(d.kind, TypedExprKind::Const(ir::Const::Int(v)) if v != 0) && d.ty.is_int()
            }
            TypedExprKind::Binary(..) => true,
            _ => false,
        };
        here && children(e).into_iter().all(|c| cheap(c, fixed, budget))
    }
    let n = kernel.locals.len();
    let mut assigned = vec![0u32; n];
    count(&kernel.body, &mut assigned);
    // Locals whose value is settled where they are read: uniform or recomputed, assigned once
    // before.
    let mut fixed = vec![false; n];
    let mut out = vec![None; n];
    for s in &kernel.body {
        let StmtKind::Assign { local, value } = &s.kind else { continue };
        let l = *local as usize;
        if assigned[l] != 1 {
            continue;
        }
        if uniform[l] {
            fixed[l] = true;
        } else if (value.ty.is_int() || value.ty == ScalarType::Bool) && cheap(value, &fixed, &mut 16) {
            fixed[l] = true;
            out[l] = Some(value.clone());
        }
    }
    out
}

/// Where a per-thread variable lives in the frame: its threads' values side by side, from
/// `offset × threads` bytes on, `size` bytes each.
#[derive(Copy, Clone, Debug, Default)]
struct Slot {
    offset: u64,
    size: u64,
}

/// The frame of a kernel run in lockstep: what each thread keeps across thread loops.
#[derive(Debug, Default)]
pub struct Layout {
    /// Bytes a thread.
    pub bytes: u64,
    locals: Vec<Slot>,
    local_arrays: Vec<Slot>,
    masks: Vec<Slot>,
    /// The 64-bit words each thread publishes for a collective, two sets of them.
    exchange: Vec<Slot>,
    /// Each thread's first bad access in the running thread loop: the access's number (from
    /// 1; 0: none) with the failing axis in the high half, and the index (two slots, so that
    /// consecutive threads' words are consecutive).
    fault: [Slot; 2],
    /// A lockstep `if`'s condition; a lockstep range loop's counter, bound and step.
    stmts: HashMap<*const Stmt, Vec<Slot>>,
    /// What ends a thread loop ([`thread_counts`]).
    counts: Meet,
    /// The locals kept on the stack of the thread running, not in the frame
    /// ([`private_locals`], and the recomputed ones).
    private: Vec<bool>,
    /// The locals thread loops recompute where they read them ([`recomputed_locals`]).
    recomputed: Vec<Option<TypedExpr>>,
}

impl Layout {
    /// The frame of `kernel` (prepared by [`prepare`]).
    pub fn of(cx: &Context, td: &TargetData, kernel: &ir::Kernel) -> Layout {
        let mut l = Layout::default();
        let mut slot = |size: u64| {
            let s = Slot { offset: l.bytes, size };
            l.bytes += size.div_ceil(16) * 16;
            s
        };
        let counts = thread_counts(kernel);
        // Uniform locals too live once (on the stack), for every thread.
        let recomputed = recomputed_locals(kernel, &counts.uniform);
        let private: Vec<bool> = private_locals(kernel, &counts)
            .into_iter()
            .zip(&counts.uniform)
            .zip(&recomputed)
            .map(|((p, u), r)| p || *u || r.is_some())
            .collect();
        let locals =
            kernel.locals.iter().zip(&private).map(|(x, p)| slot(if *p { 0 } else { td.get_abi_size(&value_type(cx, x.ty)) })).collect();
        let arrays = kernel.local_arrays.iter().map(|a| slot(td.get_abi_size(&memory_type(cx, a.elem).array_type(a.len as u32)))).collect();
        let (mut depth, mut words, mut stmts) = (0usize, 0usize, Vec::new());
        walk(&kernel.body, &counts, 0, &mut depth, &mut words, &mut stmts);
        let masks = (0..=depth).map(|_| slot(1)).collect();
        // Two sets: a thread loop computes one collective's results from one while the threads
        // publish the next collective's operands into the other.
        let exchange = (0..2 * words).map(|_| slot(8)).collect();
        let fault = [slot(8), slot(8)];
        let mut map = HashMap::new();
        for (s, sizes) in stmts {
            let slots = sizes.iter().map(|n| slot(*n)).collect();
            map.insert(s, slots);
        }
        l.locals = locals;
        l.local_arrays = arrays;
        l.masks = masks;
        l.exchange = exchange;
        l.fault = fault;
        l.stmts = map;
        l.counts = counts;
        l.private = private;
        l.recomputed = recomputed;
        l
    }
}

/// The word a thread publishes for a collective: 32 bits for values of 32 bits or fewer (and
/// every predicate), else 64. Narrow words keep a shuffle of `f32` or `i32` as wide a vector as
/// the values it moves.
#[derive(Clone, Copy)]
struct ExchangeWord<'ctx> {
    ty: inkwell::types::IntType<'ctx>,
    bytes: u64,
}

impl<'ctx> ExchangeWord<'ctx> {
    fn of(cx: &'ctx inkwell::context::Context, op: Collective, value: ScalarType) -> Self {
        if op.block_wide() || value.bits() <= 32 {
            ExchangeWord { ty: cx.i32_type(), bytes: 4 }
        } else {
            ExchangeWord { ty: cx.i64_type(), bytes: 8 }
        }
    }
}

/// The deepest mask level, the most words a collective exchanges, and each lockstep
/// statement's own slots (their sizes).
fn walk(stmts: &[Stmt], tc: &Meet, level: usize, depth: &mut usize, words: &mut usize, out: &mut Vec<(*const Stmt, Vec<u64>)>) {
    for s in stmts {
        match (form(s, tc), &s.kind) {
            (Form::Collective, StmtKind::Assign { value, .. }) => {
                let t = value.ty;
                let n = if t.is_struct() {
                    words_of(t.size_bytes())
                } else if t.is_complex() {
                    2
                } else {
                    1
                };
                *words = (*words).max(n);
            }
            (Form::ScalarIf, StmtKind::If { then, otherwise, .. }) => {
                walk(then, tc, level, depth, words, out);
                walk(otherwise, tc, level, depth, words, out);
            }
            (Form::MaskedIf, StmtKind::If { then, otherwise, .. }) => {
                *depth = (*depth).max(level + 1);
                out.push((s as *const Stmt, vec![1]));
                walk(then, tc, level + 1, depth, words, out);
                walk(otherwise, tc, level + 1, depth, words, out);
            }
            (Form::ScalarLoop, StmtKind::While { body, .. } | StmtKind::ForRange { body, .. }) => walk(body, tc, level, depth, words, out),
            (Form::MaskedLoop, StmtKind::While { body, .. }) => {
                *depth = (*depth).max(level + 2);
                walk(body, tc, level + 2, depth, words, out);
            }
            (Form::MaskedLoop, StmtKind::ForRange { body, .. }) => {
                *depth = (*depth).max(level + 2);
                out.push((s as *const Stmt, vec![8, 8, 8]));
                walk(body, tc, level + 2, depth, words, out);
            }
            _ => {}
        }
    }
}

/// The lowering's state for a kernel run in lockstep.
pub(super) struct Lockstep<'ctx> {
    layout: Layout,
    frame: PointerValue<'ctx>,
    threads: IntValue<'ctx>,
    /// The block's extents (x, y, z), as i64.
    dims: [IntValue<'ctx>; 3],
    /// The block's index (x, y, z), then the grid's extents, as i64.
    grid: [IntValue<'ctx>; 6],
    /// Where each slot's values start, this block.
    locals: Vec<PointerValue<'ctx>>,
    local_arrays: Vec<PointerValue<'ctx>>,
    masks: Vec<PointerValue<'ctx>>,
    exchange: Vec<PointerValue<'ctx>>,
    /// Where the threads' bad accesses are kept ([`Layout::fault`]); whether one was kept
    /// in the running thread loop (an i8 on the stack); the bounds checks that keep them (the
    /// array's number, the line and the body), the first of the running thread loop's at
    /// `sites_from`.
    fault: [PointerValue<'ctx>; 2],
    faulted: PointerValue<'ctx>,
    sites: std::cell::RefCell<Vec<(u32, u64, u64)>>,
    sites_from: std::cell::Cell<usize>,
    /// The thread loops' back edges, which get their loop IDs once the body is done
    /// ([`Lower::thread_loop_metadata`]).
    backedges: Vec<inkwell::values::InstructionValue<'ctx>>,
    /// The thread-loop counters (row, x).
    counters: [PointerValue<'ctx>; 2],
    /// The stack slot of each private local.
    stack: Vec<Option<PointerValue<'ctx>>>,
    /// The mask level of the statements being lowered.
    level: usize,
    /// Whether no thread leaves before the end (see [`Lower::ls_everyone`]).
    everyone: bool,
    /// The thread loop being emitted.
    iter: Option<Iter<'ctx>>,
    phase: Phase<'ctx>,
    /// The exchange set the collective being lowered uses (they alternate).
    parity: usize,
    /// The next word of the collective being evaluated.
    word: usize,
    /// The running thread loop's atomics that the block makes one ([`combined_atomics`]).
    combined: Vec<combined_atomics::Combined<'ctx>>,
}

/// The thread a thread loop is running.
#[derive(Copy, Clone)]
struct Iter<'ctx> {
    /// Its linear index in the block.
    t: IntValue<'ctx>,
    /// Its index (x, y, z), as i64.
    tid: [IntValue<'ctx>; 3],
    /// Where the next thread starts.
    next: BasicBlock<'ctx>,
}

/// What a collective does when evaluated.
#[derive(Copy, Clone)]
enum Phase<'ctx> {
    /// Outside the statement of a collective.
    None,
    /// Each thread publishes its operand.
    Publish,
    /// Each thread computes its result from the published operands at mask level `level`;
    /// `block`: the active threads and those whose predicate holds (block collectives).
    Compute { level: usize, block: Option<(PointerValue<'ctx>, PointerValue<'ctx>)> },
}

/// Which threads of each row a thread loop visits.
#[derive(Copy, Clone)]
enum Visit<'ctx> {
    All,
    /// The x indices from, to.
    Xs(IntValue<'ctx>, IntValue<'ctx>),
    /// The threads in lane u of their warp.
    Lane(IntValue<'ctx>),
}

/// Emitted thread loop.
pub(super) struct ThreadLoop<'ctx> {
    next: BasicBlock<'ctx>,
    done: BasicBlock<'ctx>,
}

type Loop<'a> = (Option<&'a TypedExpr>, Option<RangeLoop<'a>>);

/// A range loop's parts.
#[derive(Copy, Clone)]
struct RangeLoop<'a> {
    var: ir::LocalId,
    start: &'a TypedExpr,
    end: &'a TypedExpr,
    step: &'a TypedExpr,
    inclusive: bool,
    reverse: bool,
}

impl<'a, 'ctx> Lower<'a, 'ctx> {
    fn ls(&self) -> &Lockstep<'ctx> {
        match &self.ls {
            Some(l) => l,
            None => unreachable!("only a kernel run in lockstep has lockstep state"),
        }
    }

    fn ls_mut(&mut self) -> &mut Lockstep<'ctx> {
        match &mut self.ls {
            Some(l) => l,
            None => unreachable!("only a kernel run in lockstep has lockstep state"),
        }
    }

    /// Sets up the block's frame and runs the kernel's body in lockstep.
    pub(super) fn ls_body(&mut self, layout: Layout) -> LR<()> {
        let i64t = self.cx.i64_type();
        let frame = self.target.lockstep_frame(self.module, &self.b, self.f)?;
        let dims =
            [self.special(SpecialReg::Ntid(Dim::X))?, self.special(SpecialReg::Ntid(Dim::Y))?, self.special(SpecialReg::Ntid(Dim::Z))?];
        let threads = self.b.build_int_nuw_mul(self.b.build_int_nuw_mul(dims[0], dims[1], "nxy")?, dims[2], "threads")?;
        // The block's index and the grid's extents, read once: thread loops then read nothing
        // of the target's state.
        let mut grid = Vec::with_capacity(6);
        for reg in [SpecialReg::Ctaid, SpecialReg::Nctaid] {
            for d in [Dim::X, Dim::Y, Dim::Z] {
                grid.push(self.special(reg(d))?);
            }
        }
        let grid = [grid[0], grid[1], grid[2], grid[3], grid[4], grid[5]];
        let base = |s: &Slot| -> LR<PointerValue<'ctx>> {
            let at = self.b.build_int_nuw_mul(i64t.const_int(s.offset, false), threads, "slot.at")?;
            // SAFETY (of the generated code): the runtime gives the block `layout.bytes × threads`
            // bytes of frame, and every slot lies inside (`offset + size <= bytes`).
            Ok(unsafe { self.b.build_in_bounds_gep(self.cx.i8_type(), frame, &[at], "slot")? })
        };
        let locals = layout.locals.iter().map(base).collect::<LR<Vec<_>>>()?;
        let local_arrays = layout.local_arrays.iter().map(base).collect::<LR<Vec<_>>>()?;
        let masks = layout.masks.iter().map(base).collect::<LR<Vec<_>>>()?;
        let exchange = layout.exchange.iter().map(base).collect::<LR<Vec<_>>>()?;
        let fault = [base(&layout.fault[0])?, base(&layout.fault[1])?];
        let faulted = self.entry_alloca(self.cx.i8_type().into(), "faulted")?;
        // The private locals, on the stack (each thread writes one before reading it).
        let mut stack = Vec::with_capacity(self.kernel.locals.len());
        for (local, private) in self.kernel.locals.iter().zip(&layout.private) {
            stack.push(if *private { Some(self.entry_alloca(value_type(self.cx, local.ty), &local.name)?) } else { None });
        }
        let counters = [self.entry_alloca(i64t.into(), "row")?, self.entry_alloca(i64t.into(), "tx")?];
        self.ls = Some(Lockstep {
            layout,
            frame,
            threads,
            dims,
            grid,
            locals,
            local_arrays,
            masks,
            exchange,
            fault,
            faulted,
            sites: Default::default(),
            sites_from: Default::default(),
            backedges: Vec::new(),
            counters,
            stack,
            level: 0,
            everyone: !self.root.asserts_anywhere() && !returns(&self.kernel.body),
            iter: None,
            combined: Vec::new(),
            phase: Phase::None,
            parity: 0,
            word: 0,
        });
        // Every thread starts alive, without a bad access kept (the frame holds what the
        // last block left).
        let lc = self.thread_loop_begin(None, &[])?;
        self.store_mask(0, true)?;
        let t = self.thread().t;
        self.b.build_store(self.slot_at(self.ls().fault[0], 8, t)?, i64t.const_zero())?;
        self.thread_loop_end(lc)?;
        let kernel = self.kernel;
        self.ls_block(&kernel.body)?;
        if self.open() {
            self.b.build_return(None)?;
        }
        self.thread_loop_metadata(frame)?;
        Ok(())
    }

    /// Tells the optimizer what lockstep knows about memory, on every load and store of the
    /// body, and gives the thread loops their loop IDs:
    ///
    /// - the frame is memory of its own: an access based on `frame` gets the alias scope
    ///   "frame", one whose base is another value (an argument, a loaded pointer, an alloca, a
    ///   global) the same scope as `noalias`. A thread's locals then stay in registers across
    ///   its loads and stores of arrays (a `kk` loop's accumulator). The frame's one pointer is
    ///   `frame` (loaded once, in the body's entry); nothing stores it, so no other base
    ///   reaches it. Accesses based on a `phi`, `select` or call are left untagged.
    /// - the threads of a thread loop are independent: between two points where they meet,
    ///   threads that share memory race (as on a GPU, where they run in any order), and each
    ///   thread's place in the frame is its own. So the accesses of the frame, the arrays and
    ///   shared memory are one access group, and each thread loop is
    ///   `llvm.loop.parallel_accesses` over it: the vectorizer runs consecutive threads as a
    ///   vector's lanes. The target's own state (registers, fault record, print buffer) and
    ///   the stack stay in program order.
    fn thread_loop_metadata(&self, frame: PointerValue<'ctx>) -> LR<()> {
        use inkwell::llvm_sys::core::*;
        use inkwell::llvm_sys::debuginfo::{LLVMMetadataReplaceAllUsesWith, LLVMTemporaryMDNode};
        use inkwell::llvm_sys::prelude::{LLVMMetadataRef, LLVMValueRef};
        use inkwell::llvm_sys::LLVMOpcode;
        use inkwell::values::AsValueRef;
        let ctx = self.cx.raw();
        let frame = frame.as_value_ref();
        let context: Vec<LLVMValueRef> = self.target.lockstep_context(self.f).iter().map(|p| p.as_value_ref()).collect();
        let group = if vectorize() { self.access_group() } else { None };
        let vectorize = group.is_some();
        let group = group.unwrap_or(std::ptr::null_mut());
        // SAFETY: every handle is of this context and function and live; the temporary nodes
        // are replaced (and freed) by the nodes they stand for before anything else sees them;
        // operands are read only at indices the opcode has (a load's 0, a store's 1, a GEP's 0).
        unsafe {
            let string = |s: &str| LLVMMDStringInContext2(ctx, s.as_ptr() as *const _, s.len());
            let node = |ops: &mut [LLVMMetadataRef]| LLVMMDNodeInContext2(ctx, ops.as_mut_ptr(), ops.len());
            let self_ref = |extra: &[LLVMMetadataRef]| {
                let temp = LLVMTemporaryMDNode(ctx, std::ptr::null_mut(), 0);
                let mut ops = vec![temp];
                ops.extend_from_slice(extra);
                let n = node(&mut ops);
                LLVMMetadataReplaceAllUsesWith(temp, n);
                n
            };
            let domain = self_ref(&[string("gpujit lockstep")]);
            let frame_scope = self_ref(&[domain, string("gpujit lockstep: frame")]);
            let state_scope = self_ref(&[domain, string("gpujit lockstep: target state")]);
            let list = |scopes: &mut [LLVMMetadataRef]| LLVMMetadataAsValue(ctx, node(scopes));
            let (frame_only, state_only, both) =
                (list(&mut [frame_scope]), list(&mut [state_scope]), list(&mut [frame_scope, state_scope]));
            let group_value = LLVMMetadataAsValue(ctx, group);
            let kind = |k: &str| self.cx.get_kind_id(k);
            let (scope_kind, noalias_kind, group_kind) = (kind("alias.scope"), kind("noalias"), kind("llvm.access.group"));
            // What an access is based on.
            #[derive(PartialEq)]
            enum Base {
                Frame,
                /// An array, shared memory: the threads' own.
                Threads,
                /// The target's state (its context, the fault record): in program order.
                State,
                /// The stack, a global: in program order.
                Stack,
            }
            let based = |mut v: LLVMValueRef| -> Option<Base> {
                loop {
                    if v == frame {
                        return Some(Base::Frame);
                    }
                    if !LLVMIsAGetElementPtrInst(v).is_null() {
                        v = LLVMGetOperand(v, 0);
                    } else if !LLVMIsASelectInst(v).is_null() && {
                        // A choice between two places of the frame (a loop's first iteration
                        // reads the enclosing level's mask, later ones its own).
                        let frame_gep = |p: LLVMValueRef| !LLVMIsAGetElementPtrInst(p).is_null() && LLVMGetOperand(p, 0) == frame;
                        frame_gep(LLVMGetOperand(v, 1)) && frame_gep(LLVMGetOperand(v, 2))
                    } {
                        return Some(Base::Frame);
                    } else if !LLVMIsAArgument(v).is_null() {
                        return Some(if context.contains(&v) { Base::State } else { Base::Threads });
                    } else if !LLVMIsALoadInst(v).is_null() {
                        // A pointer the target's context holds: shared memory.
                        return Some(Base::Threads);
                    } else if !LLVMIsAAllocaInst(v).is_null() || !LLVMIsAGlobalValue(v).is_null() {
                        return Some(Base::Stack);
                    } else {
                        return None;
                    }
                }
            };
            let mut bb = LLVMGetFirstBasicBlock(self.f.as_value_ref());
            while !bb.is_null() {
                let mut inst = LLVMGetFirstInstruction(bb);
                while !inst.is_null() {
                    let ptr = match LLVMGetInstructionOpcode(inst) {
                        LLVMOpcode::LLVMLoad => Some(LLVMGetOperand(inst, 0)),
                        LLVMOpcode::LLVMStore => Some(LLVMGetOperand(inst, 1)),
                        _ => None,
                    };
                    let base = ptr.and_then(based);
                    let (scope, noalias) = match base {
                        Some(Base::Frame) => (Some(frame_only), state_only),
                        Some(Base::State) => (Some(state_only), frame_only),
                        Some(Base::Threads | Base::Stack) => (None, both),
                        None => (None, std::ptr::null_mut()),
                    };
                    if let Some(scope) = scope {
                        LLVMSetMetadata(inst, scope_kind, scope);
                    }
                    if !noalias.is_null() {
                        LLVMSetMetadata(inst, noalias_kind, noalias);
                    }
                    if vectorize && matches!(base, Some(Base::Frame | Base::Threads)) {
                        LLVMSetMetadata(inst, group_kind, group_value);
                    }
                    inst = LLVMGetNextInstruction(inst);
                }
                bb = LLVMGetNextBasicBlock(bb);
            }
            let loop_kind = kind("llvm.loop");
            for back in &self.ls().backedges {
                let mut hints = vec![node(&mut [string("llvm.loop.unroll.disable")])];
                if vectorize {
                    hints.push(node(&mut [string("llvm.loop.parallel_accesses"), group]));
                } else {
                    let no = LLVMValueAsMetadata(self.cx.bool_type().const_zero().as_value_ref());
                    let one = LLVMValueAsMetadata(self.cx.i32_type().const_int(1, false).as_value_ref());
                    hints.push(node(&mut [string("llvm.loop.vectorize.enable"), no]));
                    hints.push(node(&mut [string("llvm.loop.interleave.count"), one]));
                }
                let id = self_ref(&hints);
                LLVMSetMetadata(back.as_value_ref(), loop_kind, LLVMMetadataAsValue(ctx, id));
            }
        }
        Ok(())
    }

    /// A new access group (a distinct metadata node without operands, which the C API cannot
    /// make): parsed from IR into this context, where it outlives the module that held it.
    /// `None` if the IR does not parse (it does: the loops then stay scalar).
    fn access_group(&self) -> Option<inkwell::llvm_sys::prelude::LLVMMetadataRef> {
        use inkwell::values::AsValueRef;
        const IR: &str =
            "define void @g(ptr %p) {\n  %v = load i8, ptr %p, align 1, !llvm.access.group !0\n  ret void\n}\n!0 = distinct !{}\n";
        let buffer = inkwell::memory_buffer::MemoryBuffer::create_from_memory_range_copy(IR.as_bytes(), "access_group");
        let module = self.cx.create_module_from_ir(buffer).ok()?;
        let load = module.get_function("g")?.get_first_basic_block()?.get_first_instruction()?;
        let group = load.get_metadata(self.cx.get_kind_id("llvm.access.group"))?;
        // SAFETY: a metadata value's handle; the node it wraps belongs to the context.
        Some(unsafe { inkwell::llvm_sys::core::LLVMValueAsMetadata(group.as_value_ref()) })
    }

    /// The address of thread `t`'s value in the slot starting at `base`, `size` bytes a thread.
    fn slot_at(&self, base: PointerValue<'ctx>, size: u64, t: IntValue<'ctx>) -> LR<PointerValue<'ctx>> {
        let i64t = self.cx.i64_type();
        let at = self.b.build_int_nuw_mul(t, i64t.const_int(size, false), "at")?;
        // SAFETY (of the generated code): t < threads, so the value lies inside its slot.
        Ok(unsafe { self.b.build_in_bounds_gep(self.cx.i8_type(), base, &[at], "thread.slot")? })
    }

    fn mask_at(&self, level: usize, t: IntValue<'ctx>) -> LR<PointerValue<'ctx>> {
        self.slot_at(self.ls().masks[level], 1, t)
    }

    fn thread(&self) -> Iter<'ctx> {
        match self.ls().iter {
            Some(it) => it,
            None => unreachable!("statements are lowered inside a thread loop"),
        }
    }

    /// Sets the running thread's mask at `level`.
    fn store_mask(&self, level: usize, on: bool) -> LR<()> {
        let t = self.thread().t;
        self.b.build_store(self.mask_at(level, t)?, self.cx.i8_type().const_int(on as u64, false))?;
        Ok(())
    }

    fn store_mask_value(&self, level: usize, on: IntValue<'ctx>) -> LR<()> {
        let t = self.thread().t;
        let byte = self.b.build_int_z_extend(on, self.cx.i8_type(), "mask")?;
        self.b.build_store(self.mask_at(level, t)?, byte)?;
        Ok(())
    }

    /// Starts a loop over the block's threads (x fastest) that runs those active at `level`
    /// (all, for `None`), clearing the masks `clear` of the others. The caller emits the
    /// thread's code, then [`Lower::thread_loop_end`].
    fn thread_loop_begin(&mut self, level: Option<usize>, clear: &[usize]) -> LR<ThreadLoop<'ctx>> {
        let mask = level.filter(|l| !self.ls_everyone(*l)).map(|l| self.ls().masks[l]);
        self.thread_loop_from(mask, clear)
    }

    /// [`Lower::thread_loop_begin`] over the threads whose byte in `mask` is set.
    fn thread_loop_from(&mut self, mask: Option<PointerValue<'ctx>>, clear: &[usize]) -> LR<ThreadLoop<'ctx>> {
        self.thread_loop_in(mask, clear, Visit::All)
    }

    /// [`Lower::thread_loop_from`], only over the threads `xs` names.
    fn thread_loop_in(&mut self, mask: Option<PointerValue<'ctx>>, clear: &[usize], xs: Visit<'ctx>) -> LR<ThreadLoop<'ctx>> {
        let i64t = self.cx.i64_type();
        let ls = self.ls();
        let (counters, dims) = (ls.counters, ls.dims);
        // A loop over the block's rows (y and z), and in each over x: t = row × x extent + x.
        // Thread loops are many and short: LLVM does not unroll them (which multiplied the
        // code, and its compile time, for little); it vectorizes them (`thread_loop_metadata`).
        let (rows, row, head, run, next, row_next, done) = (
            self.new_block("rows"),
            self.new_block("row"),
            self.new_block("threads"),
            self.new_block("thread"),
            self.new_block("thread.next"),
            self.new_block("row.next"),
            self.new_block("threads.done"),
        );
        let [cr, cx] = counters;
        let zero = i64t.const_zero();
        let one = i64t.const_int(1, false);
        let load = |p: PointerValue<'ctx>, n: &str| -> LR<IntValue<'ctx>> { Ok(self.b.build_load(i64t, p, n)?.into_int_value()) };
        let nrows = self.b.build_int_nuw_mul(dims[1], dims[2], "rows.n")?;
        self.b.build_store(cr, zero)?;
        let faulted = self.ls().faulted;
        self.b.build_store(faulted, self.cx.i8_type().const_zero())?;
        self.ls().sites_from.set(self.ls().sites.borrow().len());
        self.b.build_unconditional_branch(rows)?;
        self.b.position_at_end(rows);
        let r = load(cr, "r")?;
        self.b.build_conditional_branch(self.b.build_int_compare(IntPredicate::ULT, r, nrows, "more.rows")?, row, done)?;
        self.b.position_at_end(row);
        let ty = self.b.build_int_unsigned_rem(r, dims[1], "ty")?;
        let tz = self.b.build_int_unsigned_div(r, dims[1], "tz")?;
        let base = self.b.build_int_nuw_mul(r, dims[0], "row.t")?;
        let (x_from, x_to, step) = match xs {
            Visit::All => (zero, dims[0], one),
            Visit::Xs(from, to) => (from, to, one),
            // The row's first x whose thread is in lane u, then every 32nd (none for u >= 32).
            Visit::Lane(u) => {
                let c31 = i64t.const_int(31, false);
                let first = self.b.build_and(self.b.build_int_sub(u, base, "lane.off")?, c31, "lane.x")?;
                let some = self.b.build_int_compare(IntPredicate::ULE, u, c31, "lane.some")?;
                let first = self.b.build_select(some, first, dims[0], "lane.first")?.into_int_value();
                (first, dims[0], i64t.const_int(32, false))
            }
        };
        self.b.build_store(cx, x_from)?;
        self.b.build_unconditional_branch(head)?;
        self.b.position_at_end(head);
        let tx = load(cx, "tx")?;
        self.b.build_conditional_branch(self.b.build_int_compare(IntPredicate::ULT, tx, x_to, "more")?, run, row_next)?;
        self.b.position_at_end(next);
        let x = load(cx, "x")?;
        self.b.build_store(cx, self.b.build_int_nuw_add(x, step, "x.next")?)?;
        let x_back = self.b.build_unconditional_branch(head)?;
        self.b.position_at_end(row_next);
        let r = load(cr, "r")?;
        self.b.build_store(cr, self.b.build_int_nuw_add(r, one, "r.next")?)?;
        let row_back = self.b.build_unconditional_branch(rows)?;
        self.ls_mut().backedges.extend([x_back, row_back]);
        self.b.position_at_end(run);
        let t = self.b.build_int_nuw_add(base, tx, "t")?;
        self.ls_mut().iter = Some(Iter { t, tid: [tx, ty, tz], next });
        if let Some(mask) = mask {
            let m = self.b.build_load(self.cx.i8_type(), self.slot_at(mask, 1, t)?, "active")?.into_int_value();
            let on = self.b.build_int_compare(IntPredicate::NE, m, self.cx.i8_type().const_zero(), "on")?;
            let (go, skip) = (self.new_block("thread.run"), self.new_block("thread.skip"));
            self.b.build_conditional_branch(on, go, skip)?;
            self.b.position_at_end(skip);
            for c in clear {
                self.store_mask(*c, false)?;
            }
            self.b.build_unconditional_branch(next)?;
            self.b.position_at_end(go);
        }
        // What the thread's code reads: its indices (device functions read them from the
        // context), its locals and arrays, a clear exit flag.
        if !self.root.functions.is_empty() {
            self.ls_publish_thread()?;
        }
        // (Its locals' places are made where they are used: `Lower::local`.)
        let mut arrays = Vec::with_capacity(self.kernel.local_arrays.len());
        for ((base, s), a) in self.ls().local_arrays.iter().zip(&self.ls().layout.local_arrays).zip(&self.kernel.local_arrays) {
            arrays.push((self.slot_at(*base, s.size, t)?, i64t.const_int(a.len, false)));
        }
        self.local_arrays = arrays;
        if let Some(flag) = self.exit_flag {
            self.b.build_store(flag, self.cx.i8_type().const_zero())?;
        }
        Ok(ThreadLoop { next, done })
    }

    /// Where local `id` is in lockstep: on the stack (private and uniform locals), or in the
    /// frame, the running thread's; `None` outside lockstep.
    pub(super) fn ls_local(&self, id: ir::LocalId) -> LR<Option<PointerValue<'ctx>>> {
        let Some(ls) = &self.ls else { return Ok(None) };
        let i = id as usize;
        if let Some(p) = ls.stack[i] {
            return Ok(Some(p));
        }
        match ls.iter {
            Some(it) => Ok(Some(self.slot_at(ls.locals[i], ls.layout.locals[i].size, it.t)?)),
            // Outside a thread loop only uniform locals are read (thread 0's place otherwise).
            None => Ok(Some(ls.locals[i])),
        }
    }

    /// What a thread loop evaluates for a read of local `id`, where it recomputes it
    /// ([`recomputed_locals`]); `None` where it loads it.
    pub(super) fn ls_recomputed(&self, id: ir::LocalId) -> Option<TypedExpr> {
        let ls = self.ls.as_ref()?;
        ls.iter?;
        ls.layout.recomputed[id as usize].clone()
    }

    /// Writes the running thread's indices where the target reads them (device functions, fault
    /// records); nothing outside lockstep.
    pub(super) fn ls_publish_thread(&self) -> LR<()> {
        if let Some(it) = self.ls.as_ref().and_then(|l| l.iter) {
            for (d, v) in [Dim::X, Dim::Y, Dim::Z].into_iter().zip(it.tid) {
                self.target.write_special(self.module, &self.b, self.f, SpecialReg::Tid(d), v)?;
            }
        }
        Ok(())
    }

    fn thread_loop_end(&mut self, lc: ThreadLoop<'ctx>) -> LR<()> {
        self.branch_to(lc.next)?;
        self.b.position_at_end(lc.done);
        self.ls_mut().iter = None;
        self.flush_combined_atomics()?;
        self.report_deferred_faults()
    }

    /// A bad access in a thread loop (see [`Lower::bounds_guard`]): kept in the thread's
    /// place in the frame when it is the thread's first in this thread loop, and reported
    /// once the loop is done ([`Lower::report_deferred_faults`]). Deferred so, a thread loop
    /// holds no store to the fault record, which every thread shares: the loop's threads stay
    /// independent, and the optimizer can run them as a vector's lanes.
    pub(super) fn ls_defer_fault(&self, array: u32, index: IntValue<'ctx>, axis: IntValue<'ctx>, line: u64, body: u64) -> LR<()> {
        let i64t = self.cx.i64_type();
        let t = self.thread().t;
        let ls = self.ls();
        ls.sites.borrow_mut().push((array, line, body));
        let site = ls.sites.borrow().len() as u64;
        let fault = ls.fault;
        let (word0, word1) = (self.slot_at(fault[0], 8, t)?, self.slot_at(fault[1], 8, t)?);
        // Without a branch (selects, stores either way): the bad access's path stays one block,
        // which the vectorizer turns into masked stores.
        let kept = self.b.build_load(i64t, word0, "fault.kept")?.into_int_value();
        let first = self.b.build_int_compare(IntPredicate::EQ, kept, i64t.const_zero(), "fault.first")?;
        let high = self.b.build_left_shift(axis, i64t.const_int(32, false), "fault.axis")?;
        let this = self.b.build_or(high, i64t.const_int(site, false), "fault.site")?;
        self.b.build_store(word0, self.b.build_select(first, this, kept, "fault.word0")?)?;
        let kept_index = self.b.build_load(i64t, word1, "fault.kept_index")?.into_int_value();
        self.b.build_store(word1, self.b.build_select(first, index, kept_index, "fault.word1")?)?;
        Ok(())
    }

    /// Before a bounds check's branch in a thread loop: notes whether the access is in bounds
    /// (`inb`) in the thread loop's flag, an "or" over its threads that the vectorizer keeps
    /// in a register.
    pub(super) fn ls_note_check(&self, inb: IntValue<'ctx>) -> LR<()> {
        let i8t = self.cx.i8_type();
        let faulted = self.ls().faulted;
        let was = self.b.build_load(i8t, faulted, "faulted")?.into_int_value();
        let bad = self.b.build_int_z_extend(self.b.build_not(inb, "oob")?, i8t, "oob8")?;
        self.b.build_store(faulted, self.b.build_or(was, bad, "faulted.now")?)?;
        Ok(())
    }

    /// After a thread loop whose bounds checks defer their faults: if one was kept, reports
    /// the first (the lowest thread's, whose first bad access it is) as
    /// [`Lower::report_out_of_bounds`] would have, and clears every thread's.
    fn report_deferred_faults(&mut self) -> LR<()> {
        let (from, to) = (self.ls().sites_from.get(), self.ls().sites.borrow().len());
        if from == to {
            return Ok(());
        }
        let (i64t, i8t) = (self.cx.i64_type(), self.cx.i8_type());
        let ls = self.ls();
        let (fault, faulted, threads, dims, counter) = (ls.fault, ls.faulted, ls.threads, ls.dims, ls.counters[1]);
        let sites = ls.sites.borrow()[from..to].to_vec();
        let any = self.b.build_load(i8t, faulted, "faulted")?.into_int_value();
        let any = self.b.build_int_compare(IntPredicate::NE, any, i8t.const_zero(), "faulted.any")?;
        let (scan, head, thread, report, next, done) = (
            self.new_block("faults"),
            self.new_block("faults.thread"),
            self.new_block("faults.load"),
            self.new_block("faults.report"),
            self.new_block("faults.next"),
            self.new_block("faults.done"),
        );
        self.b.build_conditional_branch(any, scan, done)?;
        self.b.position_at_end(scan);
        self.b.build_store(counter, i64t.const_zero())?;
        self.b.build_unconditional_branch(head)?;
        self.b.position_at_end(head);
        let t = self.b.build_load(i64t, counter, "fault.t")?.into_int_value();
        self.b.build_conditional_branch(self.b.build_int_compare(IntPredicate::ULT, t, threads, "faults.more")?, thread, done)?;
        self.b.position_at_end(thread);
        let (word0, word1) = (self.slot_at(fault[0], 8, t)?, self.slot_at(fault[1], 8, t)?);
        let kept = self.b.build_load(i64t, word0, "fault.kept")?.into_int_value();
        let bad = self.b.build_int_compare(IntPredicate::NE, kept, i64t.const_zero(), "fault.bad")?;
        self.b.build_conditional_branch(bad, report, next)?;
        self.b.position_at_end(report);
        self.b.build_store(word0, i64t.const_zero())?;
        let index = self.b.build_load(i64t, word1, "fault.index")?.into_int_value();
        let site = self.b.build_and(kept, i64t.const_int(u32::MAX as u64, false), "fault.site")?;
        let axis = self.b.build_right_shift(kept, i64t.const_int(32, false), false, "fault.axis")?;
        // The thread's indices, where the record reads them.
        let tx = self.b.build_int_unsigned_rem(t, dims[0], "fault.tx")?;
        let row = self.b.build_int_unsigned_div(t, dims[0], "fault.row")?;
        let ty = self.b.build_int_unsigned_rem(row, dims[1], "fault.ty")?;
        let tz = self.b.build_int_unsigned_div(row, dims[1], "fault.tz")?;
        for (d, v) in [Dim::X, Dim::Y, Dim::Z].into_iter().zip([tx, ty, tz]) {
            self.target.write_special(self.module, &self.b, self.f, SpecialReg::Tid(d), v)?;
        }
        let cases = sites
            .iter()
            .enumerate()
            .map(|(k, _)| (i64t.const_int((from + k + 1) as u64, false), self.new_block("fault.site")))
            .collect::<Vec<_>>();
        self.b.build_switch(site, next, &cases)?;
        for ((_, block), (array, line, body)) in cases.iter().zip(&sites) {
            self.b.position_at_end(*block);
            let values = [i64t.const_int(*line, false), i64t.const_int(*body, false)];
            self.target.report_out_of_bounds(self.module, &self.b, self.f, *array, index, axis, &values)?;
            self.b.build_unconditional_branch(next)?;
        }
        self.b.position_at_end(next);
        self.b.build_store(counter, self.b.build_int_nuw_add(t, i64t.const_int(1, false), "fault.t.next")?)?;
        self.b.build_unconditional_branch(head)?;
        self.b.position_at_end(done);
        Ok(())
    }

    /// Leaves the running thread's code for the levels from `from` up (a `break`, `continue`
    /// or `return` out of a lockstep statement, a failed assertion): they are cleared, and the
    /// next thread runs. The block is terminated.
    pub(super) fn ls_escape(&mut self, from: usize) -> LR<()> {
        for level in from..=self.ls().level {
            self.store_mask(level, false)?;
        }
        self.b.build_unconditional_branch(self.thread().next)?;
        Ok(())
    }

    /// Whether every thread of the block is active at mask `level`: level 0 where no thread
    /// can leave the kernel early (no `return`, no assertion). Its thread loops and lane
    /// shifts then read no mask.
    fn ls_everyone(&self, level: usize) -> bool {
        level == 0 && self.ls().everyone
    }

    /// Whether the body being lowered runs in lockstep and is inside a thread loop.
    pub(super) fn in_thread_loop(&self) -> bool {
        self.ls.as_ref().is_some_and(|l| l.iter.is_some())
    }

    /// The running thread's index register, in lockstep (`None`: read it from the target).
    pub(super) fn ls_special(&self, reg: SpecialReg) -> Option<IntValue<'ctx>> {
        let ls = self.ls.as_ref()?;
        let at = |d: Dim| match d {
            Dim::X => 0,
            Dim::Y => 1,
            Dim::Z => 2,
        };
        match reg {
            SpecialReg::Ntid(d) => return Some(ls.dims[at(d)]),
            SpecialReg::Ctaid(d) => return Some(ls.grid[at(d)]),
            SpecialReg::Nctaid(d) => return Some(ls.grid[3 + at(d)]),
            _ => {}
        }
        let it = ls.iter?;
        match reg {
            SpecialReg::Tid(Dim::X) => Some(it.tid[0]),
            SpecialReg::Tid(Dim::Y) => Some(it.tid[1]),
            SpecialReg::Tid(Dim::Z) => Some(it.tid[2]),
            SpecialReg::LaneId => self.b.build_and(it.t, self.cx.i64_type().const_int(31, false), "lane").ok(),
            _ => None,
        }
    }

    fn ls_syncs(&self, s: &Stmt) -> bool {
        is_sync(s, &self.ls().layout.counts)
    }

    /// Statements at the current level: runs of unsynchronized ones in a thread loop each.
    pub(super) fn ls_block(&mut self, stmts: &[Stmt]) -> LR<()> {
        let mut i = 0;
        while i < stmts.len() {
            let j = (i..stmts.len()).find(|&j| !self.ls_runs(&stmts[j])).unwrap_or(stmts.len());
            if j > i {
                // Atomics on one element, made one for the block (one thread loop: no collective).
                if stmts[i..j].iter().all(|s| form(s, &self.ls().layout.counts) == Form::Plain) {
                    self.combine_atomics(&stmts[i..j])?;
                }
                // A run that is one `if thread_idx_x() < u` (or `== u`), u uniform, visits
                // only the threads it admits (a tree reduction's `if t < half`).
                // So does one `if lane_id() == u` (a warp's result written by its lane 0).
                let open = match (j - i, self.x_guard(&stmts[i]), self.lane_guard(&stmts[i])) {
                    (1, Some((op, bound)), _) => Some(self.guarded_thread_loop(op, bound)?),
                    (1, None, Some(lane)) => {
                        let u = self.expr(lane)?.into_int_value();
                        let level = self.ls().level;
                        let mask = (!self.ls_everyone(level)).then(|| self.ls().masks[level]);
                        Some(self.thread_loop_in(mask, &[], Visit::Lane(u))?)
                    }
                    _ => None,
                };
                if let Some(lc) = self.ls_run(&stmts[i..j], open)? {
                    self.thread_loop_end(lc)?;
                }
                i = j;
                continue;
            }
            self.ls_sync(&stmts[i])?;
            i += 1;
        }
        Ok(())
    }

    /// `s` as `if lane_id() == u { .. }` with `u` a uniform u64 and no `else`: `u`.
    fn lane_guard<'s>(&self, s: &'s Stmt) -> Option<&'s TypedExpr> {
        let tc = &self.ls().layout.counts;
        let StmtKind::If { cond, otherwise, .. } = &s.kind else { return None };
        let TypedExprKind::Binary(BinOp::Eq, a, b) = &cond.kind else { return None };
        let lane = matches!(a.kind, TypedExprKind::Special(crate::ast::Builtin::LaneId));
        (otherwise.is_empty() && lane && b.ty == ScalarType::U64 && uniform_expr(b, &tc.uniform)).then_some(&**b)
    }

    /// `s` as `if thread_idx_x() < bound { .. }` (or `==`) with `bound` a uniform u64 and no
    /// `else`: the comparison and the bound.
    fn x_guard<'s>(&self, s: &'s Stmt) -> Option<(BinOp, &'s TypedExpr)> {
        use crate::ast::Builtin as B;
        let tc = &self.ls().layout.counts;
        let StmtKind::If { cond, otherwise, .. } = &s.kind else { return None };
        let TypedExprKind::Binary(op @ (BinOp::Lt | BinOp::Eq), a, b) = &cond.kind else { return None };
        let tid = match a.kind {
            TypedExprKind::Special(B::ThreadIdx(Dim::X)) => true,
            TypedExprKind::Local(l) => tc.tid_x[l as usize],
            _ => false,
        };
        (otherwise.is_empty() && tid && a.ty == ScalarType::U64 && b.ty == ScalarType::U64 && uniform_expr(b, &tc.uniform))
            .then_some((*op, &**b))
    }

    /// A thread loop at the current level over the threads whose x index is below `bound`
    /// (`Lt`) or equal to it (`Eq`).
    fn guarded_thread_loop(&mut self, op: BinOp, bound: &TypedExpr) -> LR<ThreadLoop<'ctx>> {
        let b = self.expr(bound)?.into_int_value();
        let bx = self.ls().dims[0];
        let one = self.cx.i64_type().const_int(1, false);
        let below = self.b.build_int_compare(IntPredicate::ULT, b, bx, "guard.in")?;
        let (lo, hi) = match op {
            BinOp::Lt => (self.cx.i64_type().const_zero(), self.b.build_select(below, b, bx, "guard.hi")?.into_int_value()),
            _ => (
                self.b.build_select(below, b, bx, "guard.lo")?.into_int_value(),
                self.b.build_select(below, self.b.build_int_nuw_add(b, one, "guard.next")?, bx, "guard.hi")?.into_int_value(),
            ),
        };
        let level = self.ls().level;
        let mask = (!self.ls_everyone(level)).then(|| self.ls().masks[level]);
        self.thread_loop_in(mask, &[], Visit::Xs(lo, hi))
    }

    /// Whether `s` runs inside thread loops: unsynchronized, or a collective (whose publishing
    /// ends the thread loop it is in, and whose results start the next).
    fn ls_runs(&self, s: &Stmt) -> bool {
        matches!(form(s, &self.ls().layout.counts), Form::Plain | Form::Collective)
    }

    /// Statements that [`Lower::ls_runs`], in thread loops at the current level: in `open`,
    /// or a new one; returns the one left open.
    fn ls_run(&mut self, stmts: &[Stmt], mut open: Option<ThreadLoop<'ctx>>) -> LR<Option<ThreadLoop<'ctx>>> {
        let level = self.ls().level;
        for s in stmts {
            if open.is_none() {
                open = Some(self.thread_loop_begin(Some(level), &[])?);
            }
            match (&s.kind, form(s, &self.ls().layout.counts)) {
                (StmtKind::Assign { local, value }, Form::Collective) => {
                    self.line = s.span.line;
                    if let Some((li, scope)) = self.lines {
                        self.b.set_current_debug_location(li.at(s.span, scope));
                    }
                    if let Some(lc) = open.take() {
                        open = Some(self.ls_collective(*local, value, lc)?);
                    }
                }
                _ => self.stmt(s)?,
            }
        }
        Ok(open)
    }

    fn ls_sync(&mut self, s: &Stmt) -> LR<()> {
        self.line = s.span.line;
        if let Some((li, scope)) = self.lines {
            self.b.set_current_debug_location(li.at(s.span, scope));
        }
        let f = form(s, &self.ls().layout.counts);
        match (f, &s.kind) {
            // The thread loop ended here: every thread has reached the barrier.
            (Form::Barrier, _) => Ok(()),
            // Uniform: the block's one copy, once. (Its value reads only uniform locals.)
            (Form::Scalar, _) => self.stmt(s),
            (Form::ScalarIf, StmtKind::If { cond, then, otherwise }) => {
                let c = self.expr(cond)?.into_int_value();
                let (then_bb, else_bb, merge) = (self.new_block("u.then"), self.new_block("u.else"), self.new_block("u.endif"));
                self.b.build_conditional_branch(c, then_bb, else_bb)?;
                self.b.position_at_end(then_bb);
                self.ls_block(then)?;
                self.branch_to(merge)?;
                self.b.position_at_end(else_bb);
                self.ls_block(otherwise)?;
                self.branch_to(merge)?;
                self.b.position_at_end(merge);
                Ok(())
            }
            // (Nothing leaves it: `jumps_out`.)
            (Form::ScalarLoop, StmtKind::While { cond, body }) => self.while_loop(cond, body, true),
            (Form::ScalarLoop, StmtKind::ForRange { var, start, end, step, inclusive, reverse, unroll, body }) => {
                self.for_range(*var, start, end, step, *inclusive, *reverse, *unroll, body, true)
            }
            (Form::MaskedIf, StmtKind::If { cond, then, otherwise }) => self.ls_if(s, cond, then, otherwise),
            (Form::MaskedLoop, StmtKind::While { cond, body }) => self.ls_loop(s, (Some(cond), None), body),
            (Form::MaskedLoop, StmtKind::ForRange { var, start, end, step, inclusive, reverse, body, .. }) => {
                let r = RangeLoop { var: *var, start, end, step, inclusive: *inclusive, reverse: *reverse };
                self.ls_loop(s, (None, Some(r)), body)
            }
            _ => unreachable!("form names only these statements"),
        }
    }

    /// Where statement `s`'s slot `i` starts, and its size a thread.
    fn stmt_slot(&self, s: &Stmt, i: usize) -> LR<(PointerValue<'ctx>, u64)> {
        let ls = self.ls();
        let Some(slot) = ls.layout.stmts.get(&(s as *const Stmt)).and_then(|v| v.get(i)).copied() else {
            unreachable!("the layout has slots for every lockstep statement")
        };
        let at = self.b.build_int_nuw_mul(self.cx.i64_type().const_int(slot.offset, false), ls.threads, "slot.at")?;
        // SAFETY (of the generated code): as in `ls_body`, the slot lies inside the frame.
        let base = unsafe { self.b.build_in_bounds_gep(self.cx.i8_type(), ls.frame, &[at], "stmt.slot")? };
        Ok((base, slot.size))
    }

    fn flag(&self, name: &str, init: bool) -> LR<PointerValue<'ctx>> {
        let bt = self.cx.bool_type();
        let p = self.entry_alloca(bt.into(), name)?;
        self.b.build_store(p, bt.const_int(init as u64, false))?;
        Ok(p)
    }

    /// Adds the running thread's decision `takes` (an i1) to a loop iteration's count.
    fn count_taking(&self, count: PointerValue<'ctx>, takes: IntValue<'ctx>) -> LR<()> {
        let i32t = self.cx.i32_type();
        let old = self.b.build_load(i32t, count, "taking")?.into_int_value();
        let one = self.b.build_int_z_extend(takes, i32t, "takes")?;
        self.b.build_store(count, self.b.build_int_add(old, one, "taking.next")?)?;
        Ok(())
    }

    fn set_flag(&self, p: PointerValue<'ctx>, v: IntValue<'ctx>) -> LR<()> {
        let old = self.b.build_load(self.cx.bool_type(), p, "flag")?.into_int_value();
        self.b.build_store(p, self.b.build_or(old, v, "flag.or")?)?;
        Ok(())
    }

    fn load_flag(&self, p: PointerValue<'ctx>) -> LR<IntValue<'ctx>> {
        Ok(self.b.build_load(self.cx.bool_type(), p, "flag")?.into_int_value())
    }

    /// An `if` with a meeting point in a branch: each branch runs for the threads taking it.
    fn ls_if(&mut self, s: &Stmt, cond: &TypedExpr, then: &[Stmt], otherwise: &[Stmt]) -> LR<()> {
        let k = self.ls().level;
        let (taken, size) = self.stmt_slot(s, 0)?;
        let (any_then, any_else) = (self.flag("any.then", false)?, self.flag("any.else", false)?);
        let lc = self.thread_loop_begin(Some(k), &[k + 1])?;
        let c = self.expr(cond)?.into_int_value();
        let t = self.thread().t;
        self.b.build_store(self.slot_at(taken, size, t)?, self.b.build_int_z_extend(c, self.cx.i8_type(), "taken")?)?;
        self.store_mask_value(k + 1, c)?;
        self.set_flag(any_then, c)?;
        self.set_flag(any_else, self.b.build_not(c, "not")?)?;
        self.thread_loop_end(lc)?;
        let end = self.new_block("ls.endif");
        if !then.is_empty() {
            let (go, after) = (self.new_block("ls.then"), self.new_block("ls.after_then"));
            self.b.build_conditional_branch(self.load_flag(any_then)?, go, after)?;
            self.b.position_at_end(go);
            self.ls_mut().level = k + 1;
            self.ls_block(then)?;
            self.ls_mut().level = k;
            self.branch_to(after)?;
            self.b.position_at_end(after);
        }
        if !otherwise.is_empty() {
            let go = self.new_block("ls.else");
            self.b.build_conditional_branch(self.load_flag(any_else)?, go, end)?;
            self.b.position_at_end(go);
            // The threads still active at k that did not take the first branch.
            let lc = self.thread_loop_begin(Some(k), &[k + 1])?;
            let t = self.thread().t;
            let was = self.b.build_load(self.cx.i8_type(), self.slot_at(taken, size, t)?, "taken")?.into_int_value();
            let not = self.b.build_int_compare(IntPredicate::EQ, was, self.cx.i8_type().const_zero(), "else")?;
            self.store_mask_value(k + 1, not)?;
            self.thread_loop_end(lc)?;
            self.ls_mut().level = k + 1;
            self.ls_block(otherwise)?;
            self.ls_mut().level = k;
        }
        self.branch_to(end)?;
        self.b.position_at_end(end);
        Ok(())
    }

    /// A loop in lockstep: each iteration runs for the threads still iterating, until none is.
    fn ls_loop<'s>(&mut self, s: &Stmt, kind: Loop<'s>, body: &[Stmt]) -> LR<()> {
        let k = self.ls().level;
        let (iterating, this) = (k + 1, k + 2);
        let i64t = self.cx.i64_type();
        // A range loop's counter, bound and step are each thread's.
        let slots = match kind.1 {
            Some(_) => Some((self.stmt_slot(s, 0)?.0, self.stmt_slot(s, 1)?.0, self.stmt_slot(s, 2)?.0)),
            None => None,
        };
        // The body's first run of unsynchronized statements runs in the iteration's thread
        // loop; when that is all of it, no later thread loop reads the iteration's mask.
        let whole = !body.iter().any(|s| self.ls_syncs(s));
        let j = body.iter().position(|s| !self.ls_runs(s)).unwrap_or(body.len());
        let first_iter = self.flag("ls.first", true)?;
        // How many threads take this iteration: a count, not a flag, so that its update (an add
        // where a thread decides, `+ 0` where it stops) stays a reduction the vectorizer knows
        // (the optimizer folds a flag's `or` into a `true` stored on one path).
        let i32t = self.cx.i32_type();
        let any = self.entry_alloca(i32t.into(), "ls.taking")?;
        let (head, exit) = (self.new_block("ls.loop"), self.new_block("ls.loop_end"));
        self.b.build_unconditional_branch(head)?;
        self.b.position_at_end(head);
        self.b.build_store(any, i32t.const_zero())?;
        // Each iteration runs the threads still iterating; the first, those at k (which start).
        let first = self.load_flag(first_iter)?;
        let (at_k, at_it) = (self.ls().masks[k], self.ls().masks[iterating]);
        let active = self.b.build_select(first, at_k, at_it, "ls.active")?.into_pointer_value();
        let clear: &[usize] = if whole { &[iterating] } else { &[iterating, this] };
        let lc = self.thread_loop_from(Some(active), clear)?;
        let (take, stop) = (self.new_block("ls.take"), self.new_block("ls.stop"));
        let t = self.thread().t;
        let range = match (kind, slots) {
            ((Some(cond), _), _) => {
                let c = self.expr(cond)?.into_int_value();
                self.count_taking(any, c)?;
                self.b.build_conditional_branch(c, take, stop)?;
                None
            }
            ((None, Some(r)), Some((ctr, bound, stp))) => {
                let ity = super::int_type(self.cx, r.start.ty.bits());
                let (start, advance, inc) = (self.new_block("for.start"), self.new_block("for.advance"), self.new_block("for.inc"));
                self.b.build_conditional_branch(first, start, advance)?;
                // The first iteration: the thread's range, from its first element.
                self.b.position_at_end(start);
                let sv = self.expr(r.start)?.into_int_value();
                let ev = self.expr(r.end)?.into_int_value();
                let st = self.expr(r.step)?.into_int_value();
                let from = match (r.reverse, r.inclusive) {
                    (false, _) => sv,
                    (true, true) => ev,
                    (true, false) => self.b.build_int_sub(ev, ity.const_int(1, false), "last")?,
                };
                let pred = match (r.inclusive, r.start.ty.is_signed_int()) {
                    (false, true) => IntPredicate::SLT,
                    (false, false) => IntPredicate::ULT,
                    (true, true) => IntPredicate::SLE,
                    (true, false) => IntPredicate::ULE,
                };
                let nonempty = self.b.build_int_compare(pred, sv, ev, "for.nonempty")?;
                let step_ok = self.b.build_int_compare(IntPredicate::NE, st, i64t.const_zero(), "for.step_ok")?;
                let enter = self.b.build_and(nonempty, step_ok, "for.enter")?;
                self.count_taking(any, enter)?;
                self.b.build_store(self.slot_at(ctr, 8, t)?, from)?;
                self.b.build_store(self.slot_at(bound, 8, t)?, if r.reverse { sv } else { ev })?;
                self.b.build_store(self.slot_at(stp, 8, t)?, st)?;
                self.b.build_conditional_branch(enter, take, stop)?;
                // After an iteration at i, go on iff step < end - i (<= for ..=), or for a
                // reversed range step <= i - start; then step.
                self.b.position_at_end(advance);
                let i = self.b.build_load(ity, self.slot_at(ctr, 8, t)?, "i")?.into_int_value();
                let bv = self.b.build_load(ity, self.slot_at(bound, 8, t)?, "bound")?.into_int_value();
                let st = self.b.build_load(i64t, self.slot_at(stp, 8, t)?, "step")?.into_int_value();
                let dist = if r.reverse { self.b.build_int_sub(i, bv, "for.dist")? } else { self.b.build_int_sub(bv, i, "for.dist")? };
                let dist = if r.start.ty.bits() < 64 { self.b.build_int_z_extend(dist, i64t, "for.dist64")? } else { dist };
                let go_on = if r.inclusive || r.reverse { IntPredicate::ULE } else { IntPredicate::ULT };
                let more = self.b.build_int_compare(go_on, st, dist, "for.more")?;
                self.count_taking(any, more)?;
                self.b.build_conditional_branch(more, inc, stop)?;
                self.b.position_at_end(inc);
                let st_n = if r.start.ty.bits() < 64 { self.b.build_int_truncate(st, ity, "for.step")? } else { st };
                let next =
                    if r.reverse { self.b.build_int_sub(i, st_n, "for.next")? } else { self.b.build_int_add(i, st_n, "for.next")? };
                self.b.build_store(self.slot_at(ctr, 8, t)?, next)?;
                self.b.build_unconditional_branch(take)?;
                Some((r, ity, ctr))
            }
            _ => unreachable!("a lockstep loop is a while or a range loop"),
        };
        self.b.position_at_end(stop);
        for level in clear {
            self.store_mask(*level, false)?;
        }
        self.b.build_unconditional_branch(self.thread().next)?;
        self.b.position_at_end(take);
        if let Some((r, ity, ctr)) = range {
            let i = self.b.build_load(ity, self.slot_at(ctr, 8, t)?, "i")?;
            self.b.build_store(self.local(r.var)?, i)?;
        }
        self.store_mask(iterating, true)?;
        if !whole {
            self.store_mask(this, true)?;
        }
        self.loops.push(super::LoopExit::Lockstep(iterating));
        self.ls_mut().level = this;
        if let Some(lc) = self.ls_run(&body[..j], Some(lc))? {
            self.thread_loop_end(lc)?;
        }
        self.b.build_store(first_iter, self.cx.bool_type().const_zero())?;
        let taking = self.b.build_load(i32t, any, "ls.taking")?.into_int_value();
        let go = self.b.build_int_compare(IntPredicate::NE, taking, i32t.const_zero(), "ls.any")?;
        if j < body.len() {
            let rest = self.new_block("ls.rest");
            self.b.build_conditional_branch(go, rest, exit)?;
            self.b.position_at_end(rest);
            self.ls_block(&body[j..])?;
            self.branch_to(head)?;
        } else {
            self.b.build_conditional_branch(go, head, exit)?;
        }
        self.loops.pop();
        self.ls_mut().level = k;
        self.b.position_at_end(exit);
        Ok(())
    }

    /// `local = collective(...)`: every active thread publishes its operand at the end of the
    /// thread loop `open`, then computes its result, from those of its warp (or block), at the
    /// start of the next one, which it returns open.
    fn ls_collective(&mut self, local: ir::LocalId, value: &TypedExpr, open: ThreadLoop<'ctx>) -> LR<ThreadLoop<'ctx>> {
        let k = self.ls().level;
        let TypedExprKind::Collective(op, _) = value.kind else { unreachable!("form names assignments of collectives") };
        self.ls_mut().phase = Phase::Publish;
        self.ls_mut().word = 0;
        self.expr(value)?;
        self.ls_mut().phase = Phase::None;
        self.thread_loop_end(open)?;
        let mut block = None;
        if op.block_wide() {
            let i64t = self.cx.i64_type();
            let (n, yes) = (self.entry_alloca(i64t.into(), "block.n")?, self.entry_alloca(i64t.into(), "block.yes")?);
            self.b.build_store(n, i64t.const_zero())?;
            self.b.build_store(yes, i64t.const_zero())?;
            let lc = self.thread_loop_begin(Some(k), &[])?;
            let t = self.thread().t;
            let set = self.ls().exchange.len() / 2 * self.ls().parity;
            // A predicate: a narrow word (`ExchangeWord::of`).
            let i32t = self.cx.i32_type();
            let v = self.b.build_load(i32t, self.slot_at(self.ls().exchange[set], 4, t)?, "pred")?.into_int_value();
            let holds =
                self.b.build_int_z_extend(self.b.build_int_compare(IntPredicate::NE, v, i32t.const_zero(), "holds")?, i64t, "one")?;
            let old = self.b.build_load(i64t, n, "n")?.into_int_value();
            self.b.build_store(n, self.b.build_int_add(old, i64t.const_int(1, false), "n1")?)?;
            let old = self.b.build_load(i64t, yes, "yes")?.into_int_value();
            self.b.build_store(yes, self.b.build_int_add(old, holds, "yes1")?)?;
            self.thread_loop_end(lc)?;
            block = Some((n, yes));
        }
        self.ls_mut().phase = Phase::Compute { level: k, block };
        self.ls_mut().word = 0;
        let lc = self.thread_loop_begin(Some(k), &[])?;
        let v = self.expr(value)?;
        self.b.build_store(self.local(local)?, v)?;
        self.ls_mut().phase = Phase::None;
        let ls = self.ls_mut();
        ls.parity ^= 1;
        Ok(lc)
    }

    /// One word of a collective in lockstep (`None` outside a collective's statement, where
    /// the target's collective applies).
    pub(super) fn ls_collective_word(
        &mut self,
        op: Collective,
        value: ScalarType,
        vals: &[BasicValueEnum<'ctx>],
    ) -> LR<Option<BasicValueEnum<'ctx>>> {
        let Some(ls) = &self.ls else { return Ok(None) };
        let phase = ls.phase;
        if matches!(phase, Phase::None) {
            return Ok(None);
        }
        let (v, arg, mask) = crate::host::collective_operands(self.module, &self.b, op, vals)?;
        let w = ls.word;
        self.ls_mut().word += 1;
        let i64t = self.cx.i64_type();
        let t = self.thread().t;
        let exchange = self.ls().exchange[self.ls().exchange.len() / 2 * self.ls().parity + w];
        let word = ExchangeWord::of(self.cx, op, value);
        let v = if word.bytes < 8 { self.b.build_int_truncate(v, word.ty, "word")? } else { v };
        let r = match phase {
            Phase::Publish => {
                self.b.build_store(self.slot_at(exchange, word.bytes, t)?, v)?;
                i64t.const_zero()
            }
            Phase::Compute { level, block } => self.exchanged(op, level, block, exchange, word, t, v, arg, mask)?,
            Phase::None => unreachable!("returned above"),
        };
        Ok(Some(crate::host::collective_result(&self.b, op, value, r)?))
    }

    /// Thread `t`'s result of `op` (64 bits) from the words its warp's (or block's) threads
    /// published at `exchange`, `v` its own, `arg` its lane or delta, `mask` its member mask.
    #[allow(clippy::too_many_arguments)]
    fn exchanged(
        &self,
        op: Collective,
        level: usize,
        block: Option<(PointerValue<'ctx>, PointerValue<'ctx>)>,
        exchange: PointerValue<'ctx>,
        word: ExchangeWord<'ctx>,
        t: IntValue<'ctx>,
        v: IntValue<'ctx>,
        arg: IntValue<'ctx>,
        mask: IntValue<'ctx>,
    ) -> LR<IntValue<'ctx>> {
        use Collective as C;
        let (i64t, i8t) = (self.cx.i64_type(), self.cx.i8_type());
        let b = &self.b;
        let c = |n: u64| i64t.const_int(n, false);
        let lane = b.build_and(t, c(31), "lane")?;
        let base = b.build_int_sub(t, lane, "warp")?;
        let threads = self.ls().threads;
        // Lane l's thread, or t itself where l is past the block's end.
        let source = |l: IntValue<'ctx>, ok: IntValue<'ctx>| -> LR<(IntValue<'ctx>, IntValue<'ctx>)> {
            let at = b.build_int_add(base, l, "src")?;
            let inside = b.build_and(ok, b.build_int_compare(IntPredicate::ULT, at, threads, "inside")?, "ok")?;
            let idx = b.build_select(inside, at, t, "src.t")?.into_int_value();
            if self.ls_everyone(level) {
                return Ok((idx, inside));
            }
            let m = b.build_load(i8t, self.mask_at(level, idx)?, "src.on")?.into_int_value();
            let on = b.build_and(inside, b.build_int_compare(IntPredicate::NE, m, i8t.const_zero(), "on")?, "active")?;
            Ok((idx, on))
        };
        let ExchangeWord { ty: wt, bytes } = word;
        let word = |idx: IntValue<'ctx>| -> LR<IntValue<'ctx>> {
            Ok(b.build_load(wt, self.slot_at(exchange, bytes, idx)?, "x")?.into_int_value())
        };
        // A word taken, as the collective's 64 bits.
        let widened = |x: IntValue<'ctx>| -> LR<IntValue<'ctx>> { Ok(if bytes < 8 { b.build_int_z_extend(x, i64t, "x64")? } else { x }) };
        let shuffle = |l: IntValue<'ctx>, ok: IntValue<'ctx>| -> LR<IntValue<'ctx>> {
            let (idx, on) = source(l, ok)?;
            let x = word(idx)?;
            widened(b.build_select(on, x, v, "shfl")?.into_int_value())
        };
        // A shift by `arg` lanes, up or down: thread t reads thread t ∓ min(arg, 32)'s word and
        // mask, whether or not it takes them. With a delta the same for every thread (a tree
        // reduction's, a scan's), consecutive threads read consecutive words, which the
        // vectorizer loads as one vector; the reads past a slot's ends (32 threads at most)
        // stay inside the frame's padding (`contract::LOCKSTEP_FRAME_PAD`).
        // Which source lanes exist is computed on 32 bits (a block has at most 1024 threads),
        // so that the vector of conditions is as wide as one of 32-bit words: up, lane >= d;
        // down, lane < 32 - d and t + d < threads (a last warp may be partial).
        let shift = |up: bool| -> LR<IntValue<'ctx>> {
            let i32t = self.cx.i32_type();
            let c32 = |n: u64| i32t.const_int(n, false);
            let d = b.build_select(b.build_int_compare(IntPredicate::ULT, arg, c(32), "near")?, arg, c(32), "d")?.into_int_value();
            let (t32, d32) = (b.build_int_truncate(t, i32t, "t32")?, b.build_int_truncate(d, i32t, "d32")?);
            let lane32 = b.build_and(t32, c32(31), "lane32")?;
            let (src, inside) = if up {
                (b.build_int_sub(t, d, "src")?, b.build_int_compare(IntPredicate::ULE, d32, lane32, "up.ok")?)
            } else {
                let room = b.build_int_compare(IntPredicate::ULT, lane32, b.build_int_sub(c32(32), d32, "room")?, "down.ok")?;
                let threads32 = b.build_int_truncate(threads, i32t, "threads32")?;
                let below = b.build_int_compare(IntPredicate::ULT, b.build_int_add(t32, d32, "src32")?, threads32, "inside")?;
                (b.build_int_add(t, d, "src")?, b.build_and(room, below, "ok")?)
            };
            // SAFETY (of the generated code): -32 <= src - t <= 32, inside the padded frame.
            let (m, x) =
                unsafe { (b.build_gep(i8t, self.ls().masks[level], &[src], "src.mask")?, b.build_gep(wt, exchange, &[src], "src.word")?) };
            let on = if self.ls_everyone(level) {
                inside
            } else {
                let m = b.build_load(i8t, m, "src.on")?.into_int_value();
                b.build_and(inside, b.build_int_compare(IntPredicate::NE, m, i8t.const_zero(), "on")?, "active")?
            };
            let x = b.build_load(wt, x, "x")?.into_int_value();
            widened(b.build_select(on, x, v, "shfl")?.into_int_value())
        };
        let yes = self.cx.bool_type().const_all_ones();
        Ok(match op {
            C::ShflIdx => shuffle(b.build_and(arg, c(31), "l")?, yes)?,
            C::ShflUp => shift(true)?,
            C::ShflDown => shift(false)?,
            C::ShflXor => shuffle(b.build_xor(lane, b.build_and(arg, c(31), "x")?, "l")?, yes)?,
            C::SyncWarp => c(0),
            C::SyncThreadsCount | C::SyncThreadsAnd | C::SyncThreadsOr => {
                let Some((n, holds)) = block else { unreachable!("block collectives count first") };
                let n = b.build_load(i64t, n, "n")?.into_int_value();
                let holds = b.build_load(i64t, holds, "yes")?.into_int_value();
                match op {
                    C::SyncThreadsCount => holds,
                    C::SyncThreadsAnd => b.build_int_z_extend(b.build_int_compare(IntPredicate::EQ, holds, n, "all")?, i64t, "and")?,
                    _ => b.build_int_z_extend(b.build_int_compare(IntPredicate::NE, holds, c(0), "any")?, i64t, "or")?,
                }
            }
            C::Ballot | C::Any | C::All | C::ActiveMask | C::MatchAny => {
                // A bit a lane of the warp.
                let acc = self.entry_alloca(i64t.into(), "vote")?;
                b.build_store(acc, c(0))?;
                let mask64 = b.build_int_z_extend(mask, i64t, "mask64")?;
                super::counted_loop(self.cx, b, self.f, c(0), c(32), "lane", &mut |l| {
                    let (idx, on) = source(l, yes)?;
                    let member = b.build_and(
                        on,
                        b.build_int_compare(
                            IntPredicate::NE,
                            b.build_and(b.build_right_shift(mask64, l, false, "m")?, c(1), "mb")?,
                            c(0),
                            "in",
                        )?,
                        "member",
                    )?;
                    let x = word(idx)?;
                    let bit = match op {
                        C::Ballot | C::Any => {
                            b.build_and(member, b.build_int_compare(IntPredicate::NE, x, wt.const_zero(), "set")?, "bit")?
                        }
                        C::All => b.build_and(member, b.build_int_compare(IntPredicate::EQ, x, wt.const_zero(), "unset")?, "bit")?,
                        C::ActiveMask => on,
                        _ => b.build_and(member, b.build_int_compare(IntPredicate::EQ, x, v, "same")?, "bit")?,
                    };
                    let old = b.build_load(i64t, acc, "acc")?.into_int_value();
                    let shifted = b.build_left_shift(b.build_int_z_extend(bit, i64t, "b64")?, l, "at")?;
                    b.build_store(acc, b.build_or(old, shifted, "acc.or")?)?;
                    Ok(())
                })?;
                let bits = b.build_load(i64t, acc, "bits")?.into_int_value();
                match op {
                    C::Any => b.build_int_z_extend(b.build_int_compare(IntPredicate::NE, bits, c(0), "any")?, i64t, "r")?,
                    C::All => b.build_int_z_extend(b.build_int_compare(IntPredicate::EQ, bits, c(0), "all")?, i64t, "r")?,
                    _ => bits,
                }
            }
        })
    }
}
