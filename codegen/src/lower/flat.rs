//! Flat execution: how the CPU backend runs a kernel that is one grid-stride loop over
//! independent elements.
//!
//! Numba's and CUDA's idiom for "any number of elements on any grid",
//!
//! ```text
//! let mut i = grid(1);
//! while i < n {
//!     out[i] = x[i] + y[i];
//!     i += grid_size(1);
//! }
//! ```
//!
//! visits every `i` of `0..n` exactly once over the grid, thread `i % grid_size` at its
//! iteration `i / grid_size`. Run thread after thread (or block after block in lockstep), each
//! pass of a block touches a block's width of elements and then jumps a grid's width: on a CPU
//! the hardware prefetchers lose the stream at every jump. When no iteration can observe
//! another's effects, the order of the iterations is free, and the CPU backend runs the loop as
//! `for i in lo..hi`, each worker a contiguous chunk of `0..n`; LLVM then vectorizes it where
//! the bounds checks are proven before the loop (see [`Plan::proven`]).
//!
//! A kernel takes this form ([`plan`]) when:
//! - its body is statements assigning uniform values to locals (built from parameters, array
//!   shapes, the launch's extents and constants), the index's start `grid(1)` (or
//!   `block_idx_x() * block_dim_x() + thread_idx_x()`, either way round, cast to any integer
//!   type), then the loop, a `while i < n { ..; i += grid_size(1) }` or a
//!   `for i in (grid(1)..n).step_by(grid_size(1))`, and nothing after it;
//! - the loop's body reads no thread or block index, no value a previous iteration left (each
//!   local it reads is the index, a uniform local or assigned earlier in the same iteration),
//!   and has no synchronization, atomic, random draw, `print!`, assertion, inline PTX, shared or
//!   per-thread array, `return`, or `break`/`continue` of the grid-stride loop; it calls only
//!   device functions on scalars that do none of these either;
//! - every array it writes, it accesses only at `a * i + b` for constants `a ≥ 1` and `b < a`, so
//!   that no two iterations touch one element of it (arrays it only reads, anywhere).
//!
//! Before a chunk `lo..hi`, one comparison an index proves an array's accesses in bounds
//! ([`Plan::proven`]) where each index (of a 1-D array, or each axis of an N-D one) is an
//! [`Affine`] form: a sum of products of the index, variables of loops over constant ranges or
//! over ranges the launch sets (`for j in 0..n`), and values the same in every thread
//! (`a[i * n + j]`, `m[[i, j]]` for `j < m.shape(1)`), at most the extent less one at the
//! factors' largest values. The chunk then runs without checks; else the checked loop runs it.
//!
//! It runs so only on a one-dimensional launch (grid and block), and when the index's type
//! cannot wrap before `n` (else the entry runs the grid as before); `GPUJIT_CPU_FLAT=0` turns
//! it off. Out-of-bounds reports name the thread and block that own the element.

use super::lockstep::{children, stmt_exprs, uniform_over};
use super::{Lower, LR};
use crate::ast::{BinOp, Builtin, Dim};
use crate::ir::{self, ArrayRef, LocalId, ParamType, Stmt, StmtKind, TypedExpr, TypedExprKind};
use crate::target::SpecialReg;
use crate::types::ScalarType;
use inkwell::values::IntValue;
use inkwell::IntPredicate;
use std::collections::HashMap;

/// Whether kernels may run flat: yes, unless `GPUJIT_CPU_FLAT=0`.
pub fn enabled() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var("GPUJIT_CPU_FLAT").map_or(true, |v| v != "0"))
}

/// The name suffix of a kernel's flat function (beside its body).
pub const FLAT_SUFFIX: &str = ".flat";

/// How a kernel runs flat.
#[derive(Debug)]
pub struct Plan {
    /// The grid-stride index.
    pub index: LocalId,
    /// Its type (an integer).
    pub index_type: ScalarType,
    /// The statements before the loop to run first (uniform assignments; not the index's
    /// start).
    pub prelude: Vec<Stmt>,
    /// The elements' bound `n` (of the index's type): the loop's, or the guard's of one element
    /// a thread (`None`: no guard, every thread of the grid).
    pub bound: Option<TypedExpr>,
    /// A loop over the elements, or one element a thread.
    pub form: Form,
    /// The loop's body without its step.
    pub body: Vec<Stmt>,
    /// The array parameters every access of which is at indices affine in the index: each
    /// access's forms, one an index (one for a linear index, else one an axis), and the uniform
    /// conditions it is under. Before a chunk, one comparison an index proves them all in bounds
    /// (an access whose conditions do not all hold in this launch needs none), and the chunk
    /// then runs without checking them.
    pub proven: Vec<(ir::ParamId, Vec<Access>)>,
    /// The loops over uniform ranges whose variables the proven forms read: the variable, the
    /// range's end and whether it is inclusive (the proof computes each one's largest value).
    pub ranges: Vec<(LocalId, TypedExpr, bool)>,
}

/// An access's forms, one an index.
type Forms = Vec<Affine>;

/// An access of a proven array.
#[derive(Clone, Debug)]
pub struct Access {
    /// Its forms, one an index.
    pub forms: Forms,
    /// The conditions of the `if`s around it that are the same in every thread, each with the
    /// branch it is in (true: `then`). Where one does not hold, the access never runs in this
    /// launch.
    pub guards: Vec<(TypedExpr, bool)>,
}

/// How the elements are spread over the grid.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Form {
    /// A grid-stride loop over `0..n`.
    Loop,
    /// Thread `i` of the grid takes element `i` (of `0..n` with a guard).
    Single,
}

/// An index `a * i + b` (`i` the grid-stride index), every value computed on the way to it at
/// most `limit` (the largest of the narrowest type it passes through) when the index is. Where
/// the index reads the variable of a loop over a constant range inside the body, `b` is the
/// largest offset it takes (`exact` false): the index is then between `a * i` and `a * i + b`.
/// Beyond these, `terms`: products of the index, variables of loops over uniform ranges
/// (`for k in 0..n`, `n` the same in every thread) and uniform values (`i * n`, `k * x.shape(1)`),
/// each non-negative; the index is then at most `a * i + b` plus each term at its factors'
/// largest values, which the proof computes before the chunk.
#[derive(Clone, Debug, PartialEq)]
pub struct Affine {
    pub a: u64,
    pub b: u64,
    pub limit: u64,
    /// Whether the offset is always `b` (else at most `b`).
    pub exact: bool,
    pub terms: Vec<Term>,
}

/// `c` times the product of `factors` (at least one, not the index alone).
#[derive(Clone, Debug, PartialEq)]
pub struct Term {
    pub c: u64,
    pub factors: Vec<Factor>,
}

/// A factor of a [`Term`], non-negative where the proof holds.
#[derive(Clone, Debug, PartialEq)]
pub enum Factor {
    /// The grid-stride index: at most the chunk's last.
    Index,
    /// The variable of a loop over a uniform range: at most the range's largest value.
    Var(LocalId),
    /// A value the same in every thread (of an integer type), computed before the chunk; a
    /// negative one fails the proof.
    Uniform(TypedExpr),
}

/// The most terms a form keeps (products of sums multiply them).
const MAX_TERMS: usize = 8;

impl Affine {
    /// The constant `c` (no index, no loop variable).
    fn constant(c: u64) -> Affine {
        Affine { a: 0, b: c, limit: u64::MAX, exact: true, terms: Vec::new() }
    }

    /// One term of one factor.
    fn factor(f: Factor, limit: u64) -> Affine {
        Affine { a: 0, b: 0, limit, exact: true, terms: vec![Term { c: 1, factors: vec![f] }] }
    }

    /// Whether this is a constant.
    fn is_constant(&self) -> bool {
        self.a == 0 && self.exact && self.terms.is_empty()
    }

    /// `self * c`, `None` where it overflows.
    fn scaled(self, c: u64) -> Option<Affine> {
        let terms = self.terms.into_iter().map(|t| Some(Term { c: t.c.checked_mul(c)?, ..t })).collect::<Option<Vec<_>>>()?;
        Some(Affine { a: self.a.checked_mul(c)?, b: self.b.checked_mul(c)?, terms, ..self })
    }

    /// Every part as a term: `b`, `a * i`, then `terms`.
    fn monomials(&self) -> Vec<Term> {
        let mut all = Vec::new();
        if self.b > 0 {
            all.push(Term { c: self.b, factors: Vec::new() });
        }
        if self.a > 0 {
            all.push(Term { c: self.a, factors: vec![Factor::Index] });
        }
        all.extend(self.terms.iter().cloned());
        all
    }

    /// The sum of `terms`, `None` where it overflows or has too many terms.
    fn from_monomials(terms: Vec<Term>, limit: u64, exact: bool) -> Option<Affine> {
        let mut f = Affine { a: 0, b: 0, limit, exact, terms: Vec::new() };
        for t in terms {
            match t.factors.as_slice() {
                [] => f.b = f.b.checked_add(t.c)?,
                [Factor::Index] => f.a = f.a.checked_add(t.c)?,
                _ => match f.terms.iter_mut().find(|u| u.factors == t.factors) {
                    Some(u) => u.c = u.c.checked_add(t.c)?,
                    None => f.terms.push(t),
                },
            }
        }
        (f.terms.len() <= MAX_TERMS).then_some(f)
    }

    /// The variables of loops over uniform ranges the terms read.
    fn vars(&self) -> impl Iterator<Item = LocalId> + '_ {
        self.terms.iter().flat_map(|t| t.factors.iter()).filter_map(|f| match f {
            Factor::Var(v) => Some(*v),
            _ => None,
        })
    }
}

/// The flat form of `kernel`, or `None` where it runs as the grid it is launched on.
pub fn plan(kernel: &ir::Kernel) -> Option<Plan> {
    let o = &kernel.options;
    if o.debug
        || o.may_alias
        || o.finitecheck
        || o.lockstep_all
        || !kernel.shared.is_empty()
        || !kernel.local_arrays.is_empty()
        || kernel.asserts_anywhere()
        || !kernel.prints.is_empty()
        || kernel.synchronizes()
        || kernel.uses_grid_sync()
        || kernel.uses_inline_ptx()
    {
        return None;
    }
    // The prelude: uniform assignments and the index's start.
    let nlocals = kernel.locals.len();
    let mut uniform = vec![false; nlocals];
    let mut stride_locals = vec![false; nlocals];
    let mut starts: Vec<LocalId> = Vec::new();
    let mut prelude = Vec::new();
    let mut at = 0;
    for s in &kernel.body {
        let StmtKind::Assign { local, value } = &s.kind else { break };
        let l = *local as usize;
        if is_start(value) && kernel.locals[l].ty.is_int() && !uniform[l] && !starts.contains(local) {
            starts.push(*local);
        } else if uniform_expr(value, &uniform) && !starts.contains(local) {
            uniform[l] = true;
            stride_locals[l] = is_stride(value, &stride_locals);
            prelude.push(s.clone());
        } else {
            break;
        }
        at += 1;
    }
    let mut rest = &kernel.body[at..];
    while let [more @ .., last] = rest {
        if last.kind != StmtKind::Return(None) {
            break;
        }
        rest = more;
    }
    let index_of = |e: &TypedExpr| match e.kind {
        TypedExprKind::Local(i) if starts.contains(&i) => Some(i),
        _ => None,
    };
    let (index, bound, body, form) = match rest {
        [Stmt { kind: StmtKind::While { cond, body }, .. }] => {
            let TypedExprKind::Binary(BinOp::Lt, lhs, rhs) = &cond.kind else { return None };
            let i = index_of(lhs)?;
            let (last, rest) = body.split_last()?;
            let StmtKind::Assign { local, value } = &last.kind else { return None };
            let TypedExprKind::Binary(BinOp::Add, a, step) = &value.kind else { return None };
            if *local != i || a.kind != TypedExprKind::Local(i) || !is_stride(step, &stride_locals) {
                return None;
            }
            (i, Some((**rhs).clone()), rest, Form::Loop)
        }
        [Stmt { kind: StmtKind::ForRange { var, start, end, step, inclusive: false, reverse: false, unroll: None, body }, .. }] => {
            if !(is_start(start) || index_of(start).is_some()) || !is_stride(step, &stride_locals) || starts.contains(var) {
                return None;
            }
            starts.push(*var);
            (*var, Some(end.clone()), body.as_slice(), Form::Loop)
        }
        // One element a thread: `if i < n { .. }`, or `if i >= n { return; } ..`, or no guard.
        _ => {
            let [i] = starts[..] else { return None };
            let below = |cond: &TypedExpr| match &cond.kind {
                TypedExprKind::Binary(BinOp::Lt, a, n) | TypedExprKind::Binary(BinOp::Gt, n, a) if index_of(a) == Some(i) => {
                    Some((**n).clone())
                }
                _ => None,
            };
            let at_or_past = |cond: &TypedExpr| match &cond.kind {
                TypedExprKind::Binary(BinOp::Ge, a, n) | TypedExprKind::Binary(BinOp::Le, n, a) if index_of(a) == Some(i) => {
                    Some((**n).clone())
                }
                _ => None,
            };
            match rest {
                [Stmt { kind: StmtKind::If { cond, then, otherwise }, .. }] if otherwise.is_empty() && below(cond).is_some() => {
                    (i, below(cond), then.as_slice(), Form::Single)
                }
                [Stmt { kind: StmtKind::If { cond, then, otherwise }, .. }, tail @ ..]
                    if otherwise.is_empty() && then.iter().all(|s| s.kind == StmtKind::Return(None)) && !then.is_empty() =>
                {
                    (i, Some(at_or_past(cond)?), tail, Form::Single)
                }
                _ => (i, None, rest, Form::Single),
            }
        }
    };
    let index_type = kernel.locals[index as usize].ty;
    if !index_type.is_int() || !bound.as_ref().map_or(true, |b| b.ty == index_type && uniform_expr(b, &uniform)) {
        return None;
    }
    // Other locals started at grid(1) are thread-dependent: the body must not read them.
    let mut scope = Scope { kernel, index, uniform: &uniform, defined: vec![false; nlocals], frames: Vec::new() };
    if !scope.block(body, 0) {
        return None;
    }
    // Which elements each iteration touches.
    let ranges = loop_ranges(body, &uniform);
    let defs = affine_defs(kernel, index, &ranges, &uniform, body);
    // Each array's: whether it is written, and each access (`None`: not affine).
    let mut accesses: HashMap<ir::ParamId, (bool, Vec<Option<Access>>)> = HashMap::new();
    let mut guards = Vec::new();
    walk_accesses(body, &uniform, &mut guards, &mut |array, index_exprs, write, guards| {
        if let ArrayRef::Param(p) = array {
            let e = accesses.entry(p).or_insert((false, Vec::new()));
            e.0 |= write;
            let known = Known { defs: &defs, ranges: &ranges, uniform: &uniform };
            let forms: Option<Vec<Affine>> = index_exprs.iter().map(|x| affine(x, index, index_type, &known)).collect();
            e.1.push(forms.map(|forms| Access { forms, guards: guards.to_vec() }));
        }
    });
    let mut proven = Vec::new();
    let mut keys: Vec<_> = accesses.keys().copied().collect();
    keys.sort_unstable();
    for p in keys {
        let (written, forms) = &accesses[&p];
        let one_d = matches!(kernel.params.get(p as usize).map(|q| q.ty), Some(ParamType::Array { ndim: 1, .. }));
        let all: Option<Vec<Access>> = forms.iter().cloned().collect();
        // Two iterations of one thread run in order on the GPU: a written array's elements must
        // belong to one iteration each. (One iteration a thread: another thread's elements
        // would be a race on the GPU too.)
        let disjoint = || {
            all.as_ref().is_some_and(|f| {
                one_d && f.iter().all(|x| matches!(x.forms.as_slice(), [x] if x.a >= 1 && x.b < x.a && x.terms.is_empty()))
            })
        };
        if *written && form == Form::Loop && !disjoint() {
            return None;
        }
        if let Some(f) = all {
            proven.push((p, f));
        }
    }
    // The uniform ranges the proof reads, each once.
    let mut read: Vec<LocalId> = proven.iter().flat_map(|(_, f)| f.iter().flat_map(|a| &a.forms).flat_map(|x| x.vars())).collect();
    read.sort_unstable();
    read.dedup();
    let ranges = read
        .into_iter()
        .filter_map(|v| match ranges.get(&v) {
            Some(Range::Uniform { end, inclusive }) => Some((v, end.clone(), *inclusive)),
            _ => None,
        })
        .collect();
    Some(Plan { index, index_type, prelude, bound, form, body: body.to_vec(), proven, ranges })
}

/// `grid(1)` or `block_idx_x() * block_dim_x() + thread_idx_x()`, under integer casts.
fn is_start(e: &TypedExpr) -> bool {
    let special = |e: &TypedExpr, b: Builtin| e.kind == TypedExprKind::Special(b);
    match &e.kind {
        TypedExprKind::Cast(inner) => e.ty.is_int() && is_start(inner),
        TypedExprKind::Special(Builtin::Grid(Dim::X)) => true,
        TypedExprKind::Binary(BinOp::Add, a, b) => {
            let base = |m: &TypedExpr| match &m.kind {
                TypedExprKind::Binary(BinOp::Mul, p, q) => {
                    (special(p, Builtin::BlockIdx(Dim::X)) && special(q, Builtin::BlockDim(Dim::X)))
                        || (special(q, Builtin::BlockIdx(Dim::X)) && special(p, Builtin::BlockDim(Dim::X)))
                }
                _ => false,
            };
            (base(a) && special(b, Builtin::ThreadIdx(Dim::X))) || (base(b) && special(a, Builtin::ThreadIdx(Dim::X)))
        }
        _ => false,
    }
}

/// `grid_size(1)` (or `block_dim_x() * grid_dim_x()`, or a local holding it), under integer
/// casts.
fn is_stride(e: &TypedExpr, stride_locals: &[bool]) -> bool {
    let special = |e: &TypedExpr, b: Builtin| e.kind == TypedExprKind::Special(b);
    match &e.kind {
        TypedExprKind::Cast(inner) => e.ty.is_int() && is_stride(inner, stride_locals),
        TypedExprKind::Special(Builtin::GridSize(Dim::X)) => true,
        TypedExprKind::Local(l) => stride_locals.get(*l as usize).copied().unwrap_or(false),
        TypedExprKind::Binary(BinOp::Mul, p, q) => {
            (special(p, Builtin::BlockDim(Dim::X)) && special(q, Builtin::GridDim(Dim::X)))
                || (special(q, Builtin::BlockDim(Dim::X)) && special(p, Builtin::GridDim(Dim::X)))
        }
        _ => false,
    }
}

/// Whether `e` is the same for every thread of the grid: built from constants, parameters,
/// array shapes, the launch's extents and uniform locals, without loads or effects.
fn uniform_expr(e: &TypedExpr, uniform: &[bool]) -> bool {
    uniform_over(e, uniform, uniform_special)
}

/// The launch's extents, the same in every thread.
fn uniform_special(b: Builtin) -> bool {
    matches!(b, Builtin::BlockDim(_) | Builtin::GridDim(_) | Builtin::GridSize(_) | Builtin::WarpSize)
}

/// Which locals the loop's body may read: the index, the prelude's uniform ones, and those
/// assigned earlier in the same iteration, in a block around the read (a frame a block).
struct Scope<'k> {
    kernel: &'k ir::Kernel,
    index: LocalId,
    uniform: &'k [bool],
    defined: Vec<bool>,
    frames: Vec<Vec<LocalId>>,
}

impl Scope<'_> {
    /// Whether the statements qualify, `loops` loops inside the grid-stride loop.
    fn block(&mut self, stmts: &[Stmt], loops: u32) -> bool {
        self.frames.push(Vec::new());
        let ok = stmts.iter().all(|s| self.stmt(s, loops));
        for l in self.frames.pop().unwrap_or_default() {
            self.defined[l as usize] = false;
        }
        ok
    }

    fn define(&mut self, l: LocalId) {
        if !self.defined[l as usize] {
            self.defined[l as usize] = true;
            if let Some(f) = self.frames.last_mut() {
                f.push(l);
            }
        }
    }

    fn reads(&self, e: &TypedExpr) -> bool {
        let here = match &e.kind {
            TypedExprKind::Local(l) => *l == self.index || self.uniform[*l as usize] || self.defined[*l as usize],
            TypedExprKind::Special(b) => uniform_special(*b),
            TypedExprKind::Load { array, .. } => matches!(array, ArrayRef::Param(_)),
            TypedExprKind::Len(a) => matches!(a, ArrayRef::Param(_)),
            TypedExprKind::Atomic { .. } | TypedExprKind::Collective(..) | TypedExprKind::Random { .. } => false,
            TypedExprKind::Call { func, args } => {
                args.iter().all(|a| matches!(a, ir::CallArg::Value(_))) && pure_function(self.kernel, *func, 0)
            }
            _ => true,
        };
        here && children(e).into_iter().all(|c| self.reads(c))
    }

    fn stmt(&mut self, s: &Stmt, loops: u32) -> bool {
        if !stmt_exprs(s).into_iter().all(|e| self.reads(e)) {
            return false;
        }
        match &s.kind {
            StmtKind::Assign { local, .. } => {
                if *local == self.index || self.uniform[*local as usize] {
                    return false;
                }
                self.define(*local);
                true
            }
            StmtKind::AssignField { local, .. } => self.defined[*local as usize],
            StmtKind::Store { array, .. } | StmtKind::StoreField { array, .. } => matches!(array, ArrayRef::Param(_)),
            StmtKind::Eval(_) => true,
            StmtKind::If { then, otherwise, .. } => self.block(then, loops) && self.block(otherwise, loops),
            StmtKind::While { body, .. } => self.block(body, loops + 1),
            StmtKind::ForRange { var, body, .. } => {
                if *var == self.index || self.uniform[*var as usize] {
                    return false;
                }
                let was = self.defined[*var as usize];
                self.defined[*var as usize] = true;
                let ok = self.block(body, loops + 1);
                self.defined[*var as usize] = was;
                ok
            }
            StmtKind::Break(n) | StmtKind::Continue(n) => *n < loops,
            StmtKind::Return(_) => false,
            _ => !effects_elsewhere(s),
        }
    }
}

/// Whether `s` acts beyond its thread's iteration or on other threads: synchronization, fences,
/// prints, assertions, inline PTX, bulk operations.
fn effects_elsewhere(s: &Stmt) -> bool {
    matches!(
        s.kind,
        StmtKind::Barrier
            | StmtKind::GridBarrier
            | StmtKind::Fence(_)
            | StmtKind::Print { .. }
            | StmtKind::Assert { .. }
            | StmtKind::Asm { .. }
            | StmtKind::Bulk { .. }
    )
}

/// Whether device function `func` (of `kernel`'s) depends on nothing but its scalar arguments
/// and has no effect but its value.
fn pure_function(kernel: &ir::Kernel, func: u32, depth: u32) -> bool {
    fn expr(kernel: &ir::Kernel, e: &TypedExpr, depth: u32) -> bool {
        let here = match &e.kind {
            TypedExprKind::Special(b) => uniform_special(*b),
            TypedExprKind::Load { array, .. } => matches!(array, ArrayRef::Local(_)),
            TypedExprKind::Atomic { .. } | TypedExprKind::Collective(..) | TypedExprKind::Random { .. } => false,
            TypedExprKind::Call { func, args } => {
                args.iter().all(|a| matches!(a, ir::CallArg::Value(_))) && pure_function(kernel, *func, depth + 1)
            }
            _ => true,
        };
        here && children(e).into_iter().all(|c| expr(kernel, c, depth))
    }
    fn stmts(kernel: &ir::Kernel, body: &[Stmt], depth: u32) -> bool {
        body.iter().all(|s| {
            stmt_exprs(s).into_iter().all(|e| expr(kernel, e, depth))
                && match &s.kind {
                    StmtKind::Store { array, .. } | StmtKind::StoreField { array, .. } => matches!(array, ArrayRef::Local(_)),
                    StmtKind::If { then, otherwise, .. } => stmts(kernel, then, depth) && stmts(kernel, otherwise, depth),
                    StmtKind::While { body, .. } | StmtKind::ForRange { body, .. } => stmts(kernel, body, depth),
                    _ => !effects_elsewhere(s),
                }
        })
    }
    // Device functions do not recurse; the depth bounds the walk all the same.
    match kernel.functions.get(func as usize) {
        Some(f) if depth < 64 => f.params.iter().all(|p| matches!(p.ty, ParamType::Scalar(_))) && stmts(kernel, &f.body, depth),
        _ => false,
    }
}

/// What the proof knows of a loop variable's values: each is at least 0 and at most its range's
/// largest.
#[derive(Clone, Debug)]
enum Range {
    /// A constant range's: its largest value.
    Const(u64),
    /// A range ending at a uniform value (computed before the chunk): below `end`, or at most
    /// `end` when inclusive.
    Uniform { end: TypedExpr, inclusive: bool },
}

/// The variables of the body's loops, `for r in c0..c1` (or `..=c1`, a constant step, forward
/// or reversed), that their loops' bodies do not assign, where every value is known to be
/// non-negative (`c0` a constant, or the variable unsigned) and at most a bound: a constant
/// (`c1 - 1`, or `c1`) where `c0` and `c1` are constants; the uniform `c1` where `c1` is the
/// same in every thread. The body reads such a variable only inside its loop (the [`Scope`]
/// check).
fn loop_ranges(body: &[Stmt], uniform: &[bool]) -> HashMap<LocalId, Range> {
    fn assigns(stmts: &[Stmt], l: LocalId) -> bool {
        stmts.iter().any(|s| match &s.kind {
            StmtKind::Assign { local, .. } | StmtKind::AssignField { local, .. } => *local == l,
            StmtKind::If { then, otherwise, .. } => assigns(then, l) || assigns(otherwise, l),
            StmtKind::While { body, .. } => assigns(body, l),
            StmtKind::ForRange { var, body, .. } => *var == l || assigns(body, l),
            _ => false,
        })
    }
    fn walk(stmts: &[Stmt], uniform: &[bool], seen: &mut HashMap<LocalId, Option<Range>>) {
        for s in stmts {
            match &s.kind {
                StmtKind::If { then, otherwise, .. } => {
                    walk(then, uniform, seen);
                    walk(otherwise, uniform, seen);
                }
                StmtKind::While { body, .. } => walk(body, uniform, seen),
                StmtKind::ForRange { var, start, end, step, inclusive, body, .. } => {
                    let int = |e: &TypedExpr| match e.kind {
                        TypedExprKind::Const(ir::Const::Int(c)) => type_max(e.ty).filter(|m| c <= *m).map(|_| c),
                        _ => None,
                    };
                    let from_zero = int(start).is_some() || (start.ty.is_int() && !start.ty.is_signed_int());
                    let range = match (int(start), int(end), int(step)) {
                        (_, _, Some(st)) if st == 0 || assigns(body, *var) => None,
                        (Some(c0), Some(c1), Some(_)) => {
                            let top = if *inclusive { Some(c1) } else { c1.checked_sub(1) };
                            // An empty range runs nothing: its variable's value is never used.
                            Some(Range::Const(top.filter(|t| *t >= c0).unwrap_or(c0)))
                        }
                        (_, _, Some(_)) if from_zero && end.ty.is_int() && uniform_expr(end, uniform) => {
                            Some(Range::Uniform { end: end.clone(), inclusive: *inclusive })
                        }
                        _ => None,
                    };
                    // A variable two loops share takes the larger constant bound, or none.
                    match seen.entry(*var) {
                        std::collections::hash_map::Entry::Vacant(e) => {
                            e.insert(range);
                        }
                        std::collections::hash_map::Entry::Occupied(mut e) => {
                            let both = match (e.get(), range) {
                                (Some(Range::Const(a)), Some(Range::Const(b))) => Some(Range::Const((*a).max(b))),
                                _ => None,
                            };
                            e.insert(both);
                        }
                    }
                    walk(body, uniform, seen);
                }
                _ => {}
            }
        }
    }
    let mut seen = HashMap::new();
    walk(body, uniform, &mut seen);
    seen.into_iter().filter_map(|(l, m)| m.map(|m| (l, m))).collect()
}

/// What [`affine`] knows of the body's locals: those holding an affine form, and the loop
/// variables of constant ranges.
struct Known<'m> {
    defs: &'m HashMap<LocalId, Affine>,
    ranges: &'m HashMap<LocalId, Range>,
    /// The prelude's uniform locals.
    uniform: &'m [bool],
}

/// The locals of the body assigned once, an affine form of the index: anywhere in the body (the
/// [`Scope`] check makes each read follow the assignment in the same iteration, inside the
/// block that assigns it).
fn affine_defs(
    kernel: &ir::Kernel,
    index: LocalId,
    ranges: &HashMap<LocalId, Range>,
    uniform: &[bool],
    body: &[Stmt],
) -> HashMap<LocalId, Affine> {
    fn count(stmts: &[Stmt], n: &mut HashMap<LocalId, u32>) {
        for s in stmts {
            match &s.kind {
                StmtKind::Assign { local, .. } | StmtKind::AssignField { local, .. } => *n.entry(*local).or_default() += 1,
                StmtKind::If { then, otherwise, .. } => {
                    count(then, n);
                    count(otherwise, n);
                }
                StmtKind::While { body, .. } => count(body, n),
                StmtKind::ForRange { var, body, .. } => {
                    *n.entry(*var).or_default() += 2;
                    count(body, n);
                }
                _ => {}
            }
        }
    }
    let mut n = HashMap::new();
    count(body, &mut n);
    fn walk(
        stmts: &[Stmt],
        index: LocalId,
        index_type: ScalarType,
        n: &HashMap<LocalId, u32>,
        ranges: &HashMap<LocalId, Range>,
        uniform: &[bool],
        defs: &mut HashMap<LocalId, Affine>,
    ) {
        for s in stmts {
            match &s.kind {
                StmtKind::Assign { local, value } if n.get(local) == Some(&1) => {
                    if let Some(f) = affine(value, index, index_type, &Known { defs, ranges, uniform }) {
                        defs.insert(*local, f);
                    }
                }
                StmtKind::While { body, .. } | StmtKind::ForRange { body, .. } => walk(body, index, index_type, n, ranges, uniform, defs),
                StmtKind::If { then, otherwise, .. } => {
                    walk(then, index, index_type, n, ranges, uniform, defs);
                    walk(otherwise, index, index_type, n, ranges, uniform, defs);
                }
                _ => {}
            }
        }
    }
    let index_type = kernel.locals[index as usize].ty;
    let mut defs = HashMap::new();
    walk(body, index, index_type, &n, ranges, uniform, &mut defs);
    defs
}

/// The largest value of an integer type.
fn type_max(t: ScalarType) -> Option<u64> {
    if !t.is_int() {
        return None;
    }
    let bits = t.bits();
    let bits = if t.is_signed_int() { bits - 1 } else { bits };
    Some(if bits >= 64 { u64::MAX } else { (1u64 << bits) - 1 })
}

/// `e` as `a * i + b` with constants `a, b ≥ 0` (`i` the index, non-negative in the loop), plus
/// [`Term`]s: from the index, constants, affine locals, loop variables (of constant ranges: `b`
/// then their largest value; of uniform ones: a factor), uniform values (a factor), additions,
/// multiplications, left shifts by constants, and widening casts. Every operand of such an
/// expression is at most its value, or multiplied by zero.
fn affine(e: &TypedExpr, index: LocalId, index_type: ScalarType, known: &Known<'_>) -> Option<Affine> {
    let limit = type_max(e.ty)?;
    match structure(e, index, index_type, known) {
        Some(f) => Some(Affine { limit: f.limit.min(limit), ..f }),
        // A value the same in every thread, as a whole.
        None if uniform_expr(e, known.uniform) => Some(Affine::factor(Factor::Uniform(e.clone()), limit)),
        None => None,
    }
}

/// [`affine`] of `e` from its parts.
fn structure(e: &TypedExpr, index: LocalId, index_type: ScalarType, known: &Known<'_>) -> Option<Affine> {
    let limit = type_max(e.ty)?;
    let of = |x: &TypedExpr| affine(x, index, index_type, known);
    let f = match &e.kind {
        TypedExprKind::Const(ir::Const::Int(c)) => {
            if *c > limit {
                return None;
            }
            Affine::constant(*c)
        }
        TypedExprKind::Local(l) if *l == index => Affine { a: 1, b: 0, limit: type_max(index_type)?, exact: true, terms: Vec::new() },
        TypedExprKind::Local(l) if !known.uniform.get(*l as usize).copied().unwrap_or(false) => {
            match (known.defs.get(l), known.ranges.get(l)) {
                (Some(f), _) => f.clone(),
                (None, Some(Range::Const(max))) => Affine { a: 0, b: *max, limit, exact: false, terms: Vec::new() },
                (None, Some(Range::Uniform { .. })) => Affine::factor(Factor::Var(*l), limit),
                (None, None) => return None,
            }
        }
        TypedExprKind::Cast(x) => {
            let inner = of(x)?;
            if type_max(x.ty)? > limit {
                return None;
            }
            inner
        }
        TypedExprKind::Binary(BinOp::Add, x, y) => {
            let (p, q) = (of(x)?, of(y)?);
            let (limit, exact) = (p.limit.min(q.limit), p.exact && q.exact);
            let mut all = p.monomials();
            all.extend(q.monomials());
            Affine::from_monomials(all, limit, exact)?
        }
        TypedExprKind::Binary(BinOp::Mul, x, y) => {
            let (p, q) = (of(x)?, of(y)?);
            let (limit, exact) = (p.limit.min(q.limit), p.exact && q.exact);
            // By a constant (a range's variable times a constant is a range too); else every
            // part of one times every part of the other.
            let v = if q.is_constant() {
                p.scaled(q.b)?
            } else if p.is_constant() {
                q.scaled(p.b)?
            } else {
                let (pm, qm) = (p.monomials(), q.monomials());
                let mut all = Vec::new();
                for s in &pm {
                    for t in &qm {
                        all.push(Term { c: s.c.checked_mul(t.c)?, factors: s.factors.iter().chain(&t.factors).cloned().collect() });
                    }
                }
                Affine::from_monomials(all, limit, exact)?
            };
            if v.a == 0 && v.b == 0 && v.terms.is_empty() {
                return None;
            }
            Affine { limit, ..v }
        }
        TypedExprKind::Binary(BinOp::Shl, x, y) => {
            let (p, q) = (of(x)?, of(y)?);
            if !q.is_constant() || q.b >= 63 {
                return None;
            }
            p.scaled(1 << q.b)?
        }
        _ => return None,
    };
    Some(f)
}

/// Calls `f(array, index, written)` for every array access of `stmts`.
/// The accesses of `stmts`, each with whether it writes and the uniform conditions around it
/// (`guards`, as [`Access::guards`]: the caller's, then those of the `if`s inside).
type Visit<'a> = dyn FnMut(ArrayRef, &[TypedExpr], bool, &[(TypedExpr, bool)]) + 'a;

fn walk_accesses(stmts: &[Stmt], uniform: &[bool], guards: &mut Vec<(TypedExpr, bool)>, f: &mut Visit<'_>) {
    fn expr(e: &TypedExpr, guards: &[(TypedExpr, bool)], f: &mut Visit<'_>) {
        if let TypedExprKind::Load { array, index } = &e.kind {
            f(*array, index, false, guards);
        }
        for c in children(e) {
            expr(c, guards, f);
        }
    }
    for s in stmts {
        if let StmtKind::Store { array, index, .. } | StmtKind::StoreField { array, index, .. } = &s.kind {
            f(*array, index, true, guards);
        }
        for e in stmt_exprs(s) {
            expr(e, guards, f);
        }
        match &s.kind {
            StmtKind::If { cond, then, otherwise } => {
                let known = uniform_expr(cond, uniform);
                for (branch, taken) in [(then, true), (otherwise, false)] {
                    if known {
                        guards.push((cond.clone(), taken));
                    }
                    walk_accesses(branch, uniform, guards, f);
                    if known {
                        guards.pop();
                    }
                }
            }
            StmtKind::While { body, .. } | StmtKind::ForRange { body, .. } => walk_accesses(body, uniform, guards, f),
            _ => {}
        }
    }
}

/// What the flat function's reports need: the grid's threads and a block's.
#[derive(Copy, Clone)]
pub(super) struct FlatState<'ctx> {
    grid_size: IntValue<'ctx>,
    block_dim: IntValue<'ctx>,
}

impl<'ctx> Lower<'_, 'ctx> {
    /// The flat function's body: `(kernel params.., first_block, end_block, blocks, target
    /// params..) -> bool`. It runs the elements of `0..n` that blocks `first..end` of `blocks`
    /// stand for (a contiguous chunk, in proportion) and returns true, or returns false at once
    /// where the launch or the bound does not allow it (the entry then runs the blocks).
    pub(super) fn flat_body(&mut self, plan: &Plan) -> LR<()> {
        let (i64t, bool_t) = (self.cx.i64_type(), self.cx.bool_type());
        let extra = self.target.extra_params(self.cx).len() as u32;
        let at = self.f.count_params() - extra - 3;
        let (first, end, blocks) =
            (self.nth_param(at).into_int_value(), self.nth_param(at + 1).into_int_value(), self.nth_param(at + 2).into_int_value());
        let one = i64t.const_int(1, false);
        let mut go = bool_t.const_int(1, false);
        for reg in [SpecialReg::Ntid(Dim::Y), SpecialReg::Ntid(Dim::Z), SpecialReg::Nctaid(Dim::Y), SpecialReg::Nctaid(Dim::Z)] {
            let v = self.special(reg)?;
            go = self.b.build_and(go, self.b.build_int_compare(IntPredicate::EQ, v, one, "flat.1d")?, "flat.go")?;
        }
        for s in &plan.prelude {
            self.stmt(s)?;
        }
        // The bound, as a u64 (a negative one runs nothing).
        let t = plan.index_type;
        let zero = i64t.const_zero();
        let gs = self.builtin(Builtin::GridSize(Dim::X))?;
        let tmax = i64t.const_int(type_max(t).unwrap_or(u64::MAX), false);
        // Every thread's start, grid(1), must fit the index's type.
        let gs_fits = self.b.build_int_compare(IntPredicate::ULE, gs, tmax, "flat.gsfits")?;
        go = self.b.build_and(go, gs_fits, "flat.go")?;
        let n64 = match &plan.bound {
            Some(bound) => {
                let mut n64 = self.flat_i64(bound)?;
                if t.is_signed_int() {
                    let neg = self.b.build_int_compare(IntPredicate::SLT, n64, zero, "flat.neg")?;
                    n64 = self.b.build_select(neg, zero, n64, "flat.n")?.into_int_value();
                }
                n64
            }
            None => gs,
        };
        let n64 = match plan.form {
            Form::Loop => {
                // On the grid, a thread's index goes past its last element by the grid's size:
                // where that wraps its type, the grid runs as launched.
                let empty = self.b.build_int_compare(IntPredicate::EQ, n64, zero, "flat.empty")?;
                let last = self.b.build_int_sub(n64, one, "flat.last")?;
                let room = self.b.build_int_sub(tmax, gs, "flat.room")?;
                let no_wrap = self.b.build_int_compare(IntPredicate::ULE, last, room, "flat.nowrap")?;
                go = self.b.build_and(go, self.b.build_or(empty, no_wrap, "flat.fits")?, "flat.go")?;
                n64
            }
            // One element a thread: the grid's first n.
            Form::Single => {
                let fewer = self.b.build_int_compare(IntPredicate::ULT, n64, gs, "flat.fewer")?;
                self.b.build_select(fewer, n64, gs, "flat.n")?.into_int_value()
            }
        };
        let run = self.new_block("flat.run");
        let refuse = self.new_block("flat.refuse");
        self.b.build_conditional_branch(go, run, refuse)?;
        self.b.position_at_end(refuse);
        self.b.build_return(Some(&bool_t.const_zero()))?;
        self.b.position_at_end(run);
        // Block b's chunk starts at n * b / blocks, down to 64 elements (a cache line of
        // bytes at least) where blocks have that many, the last ending at n. Blocks are at
        // most 2^31 (a 1-D grid), so (n % blocks) * b fits 64 bits.
        let q = self.b.build_int_unsigned_div(n64, blocks, "flat.q")?;
        let r = self.b.build_int_unsigned_rem(n64, blocks, "flat.r")?;
        let many = self.b.build_int_compare(IntPredicate::UGE, q, i64t.const_int(64, false), "flat.many")?;
        let align = self.b.build_select(many, i64t.const_int(!63, false), i64t.const_all_ones(), "flat.align")?.into_int_value();
        let chunk = |l: &Self, b: IntValue<'ctx>| -> LR<IntValue<'ctx>> {
            let whole = l.b.build_int_mul(q, b, "flat.qb")?;
            let part = l.b.build_int_unsigned_div(l.b.build_int_mul(r, b, "flat.rb")?, blocks, "flat.rbn")?;
            let at = l.b.build_and(l.b.build_int_add(whole, part, "flat.at")?, align, "flat.at64")?;
            let is_end = l.b.build_int_compare(IntPredicate::EQ, b, blocks, "flat.isend")?;
            Ok(l.b.build_select(is_end, n64, at, "flat.chunk")?.into_int_value())
        };
        let (lo, hi) = (chunk(self, first)?, chunk(self, end)?);
        self.flat = Some(FlatState { grid_size: gs, block_dim: self.special(SpecialReg::Ntid(Dim::X))? });
        let done = self.new_block("flat.done");
        if plan.proven.is_empty() {
            self.flat_loop(plan, lo, hi)?;
        } else {
            // One comparison an index: every access of these arrays in bounds for lo..hi. The
            // largest index of each form, in 128 bits, at most its extent less one and its limit.
            let i128t = self.cx.i128_type();
            let wide = |l: &Self, v: IntValue<'ctx>| l.b.build_int_z_extend(v, i128t, "flat.wide");
            let (mut maxima, mut empties) = (HashMap::new(), HashMap::new());
            for (v, end, inclusive) in &plan.ranges {
                let e64 = self.flat_i64(end)?;
                // An empty range runs nothing: its variable's value is never used (0 will do).
                let empty = if end.ty.is_signed_int() {
                    self.b.build_int_compare(IntPredicate::SLT, e64, if *inclusive { zero } else { one }, "flat.none")?
                } else if *inclusive {
                    bool_t.const_zero()
                } else {
                    self.b.build_int_compare(IntPredicate::EQ, e64, zero, "flat.none")?
                };
                let top = if *inclusive { e64 } else { self.b.build_int_sub(e64, one, "flat.vmax")? };
                let top = self.b.build_select(empty, zero, top, "flat.vmax")?.into_int_value();
                maxima.insert(*v, wide(self, top)?);
                empties.insert(*v, empty);
            }
            // The chunk's indices; or, where an unproven launch is refused, the whole range's
            // (the same in every worker), an empty one proven.
            let refuse_unproven = self.kernel.options.flat_refuse_unproven;
            let (mut proof, top) = if refuse_unproven {
                (self.b.build_int_compare(IntPredicate::NE, n64, zero, "flat.some")?, n64)
            } else {
                (self.b.build_int_compare(IntPredicate::ULT, lo, hi, "flat.some")?, hi)
            };
            let top_i = wide(self, self.b.build_int_sub(top, one, "flat.top")?)?;
            for (p, accesses) in &plan.proven {
                for access in accesses {
                    let forms = &access.forms;
                    let mut fits = bool_t.const_int(1, false);
                    for (axis, f) in forms.iter().enumerate() {
                        let extent = if forms.len() == 1 { self.param_array(*p).len } else { self.param_array(*p).shape[axis] };
                        let has = self.b.build_int_compare(IntPredicate::UGT, extent, zero, "flat.has")?;
                        let last = self.b.build_int_sub(extent, one, "flat.last")?;
                        let limit = i64t.const_int(f.limit, false);
                        let below = self.b.build_int_compare(IntPredicate::ULT, last, limit, "flat.below")?;
                        let top = wide(self, self.b.build_select(below, last, limit, "flat.top")?.into_int_value())?;
                        let mut ok = has;
                        let mut sum = i128t.const_int(f.b, false);
                        // Each term at its factors' largest values, saturated at `top + 1` (so
                        // that the sum cannot wrap, and a zero factor still gives zero).
                        let cap = self.b.build_int_add(top, i128t.const_int(1, false), "flat.cap")?;
                        let mut parts = vec![(f.a, vec![Factor::Index])];
                        parts.extend(f.terms.iter().map(|t| (t.c, t.factors.clone())));
                        for (c, factors) in parts {
                            if c == 0 {
                                continue;
                            }
                            let mut term = i128t.const_int(c, false);
                            for factor in &factors {
                                let v = match factor {
                                    Factor::Index => top_i,
                                    Factor::Var(v) => match maxima.get(v) {
                                        Some(m) => *m,
                                        // (`plan` lists every term's variable.)
                                        None => cap,
                                    },
                                    // A negative value is huge as a u64: the proof fails.
                                    Factor::Uniform(e) => {
                                        let v = self.flat_i64(e)?;
                                        wide(self, v)?
                                    }
                                };
                                term = self.b.build_int_mul(term, v, "flat.term")?;
                                let over = self.b.build_int_compare(IntPredicate::UGT, term, top, "flat.over")?;
                                term = self.b.build_select(over, cap, term, "flat.term")?.into_int_value();
                            }
                            sum = self.b.build_int_add(sum, term, "flat.sum")?;
                        }
                        ok = self.b.build_and(ok, self.b.build_int_compare(IntPredicate::ULE, sum, top, "flat.in")?, "flat.ok")?;
                        fits = self.b.build_and(fits, ok, "flat.fits")?;
                    }
                    // Or it does not run in this launch: inside a loop over an empty range
                    // (one whose variable it reads), or under a condition that does not hold.
                    let mut inside: Vec<LocalId> = forms
                        .iter()
                        .flat_map(|f| f.terms.iter().flat_map(|t| &t.factors))
                        .filter_map(|f| match f {
                            Factor::Var(v) => Some(*v),
                            _ => None,
                        })
                        .collect();
                    inside.sort_unstable();
                    inside.dedup();
                    for v in inside {
                        if let Some(empty) = empties.get(&v) {
                            fits = self.b.build_or(fits, *empty, "flat.fits")?;
                        }
                    }
                    for (cond, taken) in &access.guards {
                        let c = self.expr(cond)?.into_int_value();
                        let skipped = if *taken { self.b.build_not(c, "flat.skip")? } else { c };
                        fits = self.b.build_or(fits, skipped, "flat.fits")?;
                    }
                    proof = self.b.build_and(proof, fits, "flat.proof")?;
                }
            }
            if refuse_unproven {
                let empty = self.b.build_int_compare(IntPredicate::EQ, n64, zero, "flat.empty")?;
                proof = self.b.build_or(proof, empty, "flat.proof")?;
            }
            // Unproven: the checked loop, or the launch refused (every worker's proof is the
            // whole range's, so they all refuse alike).
            let fast = self.new_block("flat.fast");
            let otherwise = if refuse_unproven { refuse } else { self.new_block("flat.checked") };
            self.b.build_conditional_branch(proof, fast, otherwise)?;
            self.b.position_at_end(fast);
            self.unchecked = plan.proven.iter().map(|(p, _)| *p).collect();
            self.flat_loop(plan, lo, hi)?;
            self.unchecked.clear();
            if !refuse_unproven {
                self.branch_to(done)?;
                self.b.position_at_end(otherwise);
                self.flat_loop(plan, lo, hi)?;
            }
        }
        self.branch_to(done)?;
        self.b.position_at_end(done);
        self.b.build_return(Some(&bool_t.const_int(1, false)))?;
        Ok(())
    }

    /// The integer `e` (uniform: computed before the chunk) in 64 bits, sign-extended if signed.
    fn flat_i64(&mut self, e: &TypedExpr) -> LR<IntValue<'ctx>> {
        let v = self.expr(e)?.into_int_value();
        let i64t = self.cx.i64_type();
        Ok(match (e.ty.bits() < 64, e.ty.is_signed_int()) {
            (true, true) => self.b.build_int_s_extend(v, i64t, "flat.i64")?,
            (true, false) => self.b.build_int_z_extend(v, i64t, "flat.i64")?,
            _ => v,
        })
    }

    /// `for i in lo..hi { body }`, the index set each iteration; leaves the builder after it.
    fn flat_loop(&mut self, plan: &Plan, lo: IntValue<'ctx>, hi: IntValue<'ctx>) -> LR<()> {
        let i64t = self.cx.i64_type();
        let pre = self.b.get_insert_block().unwrap_or_else(|| unreachable!("builder is positioned"));
        let (head, body, exit) = (self.new_block("flat.head"), self.new_block("flat.body"), self.new_block("flat.end"));
        self.b.build_unconditional_branch(head)?;
        self.b.position_at_end(head);
        let i = self.b.build_phi(i64t, "flat.i")?;
        let iv = i.as_basic_value().into_int_value();
        self.b.build_conditional_branch(self.b.build_int_compare(IntPredicate::ULT, iv, hi, "flat.more")?, body, exit)?;
        self.b.position_at_end(body);
        let it = super::int_type(self.cx, plan.index_type.bits());
        let value = if plan.index_type.bits() < 64 { self.b.build_int_truncate(iv, it, "flat.idx")? } else { iv };
        self.b.build_store(self.local(plan.index)?, value)?;
        self.block(&plan.body)?;
        let next = self.b.build_int_add(iv, i64t.const_int(1, false), "flat.next")?;
        let latch = self.b.get_insert_block().unwrap_or_else(|| unreachable!("builder is positioned"));
        self.b.build_unconditional_branch(head)?;
        i.add_incoming(&[(&lo, pre), (&next, latch)]);
        self.b.position_at_end(exit);
        Ok(())
    }

    /// In the flat function, sets the thread and block indices that own the running element
    /// (for a report to read from the target).
    pub(super) fn flat_publish_thread(&self) -> LR<()> {
        let (Some(st), Some(plan)) = (self.flat, self.flat_plan) else { return Ok(()) };
        let i64t = self.cx.i64_type();
        let it = super::int_type(self.cx, plan.index_type.bits());
        let v = self.b.build_load(it, self.local(plan.index)?, "flat.idx")?.into_int_value();
        let v = if plan.index_type.bits() < 64 { self.b.build_int_z_extend(v, i64t, "flat.idx64")? } else { v };
        let t = self.b.build_int_unsigned_rem(v, st.grid_size, "flat.thread")?;
        let tx = self.b.build_int_unsigned_rem(t, st.block_dim, "flat.tx")?;
        let bx = self.b.build_int_unsigned_div(t, st.block_dim, "flat.bx")?;
        let zero = i64t.const_zero();
        for (reg, v) in [
            (SpecialReg::Tid(Dim::X), tx),
            (SpecialReg::Tid(Dim::Y), zero),
            (SpecialReg::Tid(Dim::Z), zero),
            (SpecialReg::Ctaid(Dim::X), bx),
            (SpecialReg::Ctaid(Dim::Y), zero),
            (SpecialReg::Ctaid(Dim::Z), zero),
        ] {
            self.target.write_special(self.module, &self.b, self.f, reg, v)?;
        }
        Ok(())
    }
}
