//! The oracle: an interpreter of the source form with the semantics the README documents,
//! written for the fuzzer and sharing nothing with the compiler but the syntax tree.
//!
//! Blocks run one after another. Within a block, each top-level statement runs for every thread
//! before the next starts, which is what barriers and warp collectives need (the generator puts
//! them only at the top level, where every thread reaches them). An out-of-range read yields 0
//! and is recorded, as a bounds-checked launch does.

use super::generate::Case;
use super::value::{self, V};
use gpujit::codegen::ast::*;
use gpujit::codegen::ScalarType::{self, *};
use std::collections::HashMap;

/// What a kernel did: the final contents of every array (in the case's order) and the
/// out-of-range reads (array, index).
#[derive(Debug)]
pub struct Outcome {
    pub arrays: Vec<Vec<V>>,
    pub oob: Vec<(String, u64)>,
}

enum Flow {
    Normal,
    Break(Option<String>),
    Continue(Option<String>),
    Return(Option<V>),
}

struct Frame {
    scopes: Vec<HashMap<String, V>>,
    /// Per-thread arrays by name: element type and values.
    locals: HashMap<String, (ScalarType, Vec<V>)>,
}

impl Frame {
    fn new() -> Frame {
        Frame { scopes: vec![HashMap::new()], locals: HashMap::new() }
    }
    fn get(&self, n: &str) -> V {
        for s in self.scopes.iter().rev() {
            if let Some(v) = s.get(n) {
                return *v;
            }
        }
        panic!("oracle: unknown variable {n}")
    }
    fn set(&mut self, n: &str, v: V) {
        for s in self.scopes.iter_mut().rev() {
            if let Some(slot) = s.get_mut(n) {
                *slot = v;
                return;
            }
        }
        panic!("oracle: assignment to unknown variable {n}")
    }
    fn bind(&mut self, n: &str, v: V) {
        if let Some(s) = self.scopes.last_mut() {
            s.insert(n.to_string(), v);
        }
    }
}

struct Machine<'c> {
    case: &'c Case,
    arrays: Vec<Vec<V>>,
    elems: Vec<ScalarType>,
    names: HashMap<String, usize>,
    shared: HashMap<String, (ScalarType, Vec<V>)>,
    oob: Vec<(String, u64)>,
    tid: u64,
    bid: u64,
    /// Whether `a * b ± c` of f32/f64 is one fused multiply-add (the kernel contracts, and the
    /// device has fma): the written forms `a * b ± c`, `c ± a * b` and `acc ±= a * b`, the
    /// left operand's product first, as the language defines.
    fuse: bool,
}

/// The operands of a product written as such (`a * b`).
fn product(e: &SourceExpr) -> Option<(&SourceExpr, &SourceExpr)> {
    match &e.kind {
        ExprKind::Binary(BinOp::Mul, x, y) => Some((x, y)),
        _ => None,
    }
}

fn elem_type(t: &TypeRef) -> ScalarType {
    match t {
        TypeRef::Scalar(s) => *s,
        TypeRef::Generic(_) => panic!("oracle: generic kernels are not generated"),
        TypeRef::Named(_) => panic!("oracle: the fuzzer names no user types"),
    }
}

impl Machine<'_> {
    /// `x * y + c` with one rounding where f32/f64 fuse (`c` negated first, or the product
    /// negated: `c - x * y`), else the two roundings of Rust.
    fn mul_add(&self, x: V, y: V, c: V, negate_c: bool, negate_product: bool) -> V {
        if matches!(x.t, F32 | F64) {
            let c = if negate_c { value::unary(UnOp::Neg, c) } else { c };
            let x = if negate_product { value::unary(UnOp::Neg, x) } else { x };
            return value::math(gpujit::codegen::math::MathFn::MulAdd, &[x, y, c]);
        }
        let p = value::binary(BinOp::Mul, x, y);
        match (negate_c, negate_product) {
            (true, _) => value::binary(BinOp::Sub, p, c),
            (_, true) => value::binary(BinOp::Sub, c, p),
            _ => value::binary(BinOp::Add, p, c),
        }
    }

    fn load(&mut self, f: &Frame, array: &str, i: u64) -> V {
        if let Some((t, l)) = f.locals.get(array) {
            return l.get(i as usize).copied().unwrap_or(V::new(*t, 0));
        }
        if let Some((t, s)) = self.shared.get(array) {
            return s.get(i as usize).copied().unwrap_or(V::new(*t, 0));
        }
        let k = self.names[array];
        match self.arrays[k].get(i as usize) {
            Some(v) => *v,
            None => {
                self.oob.push((array.to_string(), i));
                V::new(self.elems[k], 0)
            }
        }
    }

    fn store(&mut self, f: &mut Frame, array: &str, i: u64, v: V) {
        if let Some((_, l)) = f.locals.get_mut(array) {
            if let Some(slot) = l.get_mut(i as usize) {
                *slot = v;
            }
            return;
        }
        if let Some((_, s)) = self.shared.get_mut(array) {
            if let Some(slot) = s.get_mut(i as usize) {
                *slot = v;
            }
            return;
        }
        let k = self.names[array];
        match self.arrays[k].get_mut(i as usize) {
            Some(slot) => *slot = v,
            None => self.oob.push((array.to_string(), i)),
        }
    }

    fn expr(&mut self, f: &mut Frame, e: &SourceExpr) -> V {
        match &e.kind {
            ExprKind::Int(x, t) => V::new(t.unwrap_or(U64), *x as u64),
            ExprKind::Float(x, t) => match t {
                Some(F32) => value::v(*x as f32),
                _ => value::v(*x),
            },
            ExprKind::Bool(b) => V::new(Bool, *b as u64),
            ExprKind::TypeConst(TypeRef::Scalar(t), c) => match value::type_const(*t, *c) {
                Some(v) => v,
                None => panic!("the generator made `{t}::{}`, which has no value", c.rust_name()),
            },
            ExprKind::TypeConst(TypeRef::Generic(_) | TypeRef::Named(_), _) => {
                panic!("the generator makes no generic kernels or user types")
            }
            ExprKind::Var(n) => f.get(n),
            ExprKind::Index { array, index } => {
                let i = self.expr(f, &index[0]).b;
                self.load(f, array, i)
            }
            ExprKind::Len(a) => {
                let n = match f.locals.get(a) {
                    Some((_, l)) => l.len(),
                    None => self.arrays[self.names[a]].len(),
                };
                V::new(U64, n as u64)
            }
            ExprKind::ArrayDim { array, stride, .. } => {
                if *stride {
                    V::new(I64, 1)
                } else {
                    V::new(U64, self.arrays[self.names[array]].len() as u64)
                }
            }
            ExprKind::Unary(op, a) => {
                let x = self.expr(f, a);
                value::unary(*op, x)
            }
            ExprKind::Binary(BinOp::And, a, b) => {
                let x = self.expr(f, a);
                if x.boolean() {
                    self.expr(f, b)
                } else {
                    x
                }
            }
            ExprKind::Binary(BinOp::Or, a, b) => {
                let x = self.expr(f, a);
                if x.boolean() {
                    x
                } else {
                    self.expr(f, b)
                }
            }
            ExprKind::Binary(op @ (BinOp::Add | BinOp::Sub), a, b) if self.fuse && (product(a).is_some() || product(b).is_some()) => {
                // Operands in source order: the product's, or the addend first when it is left.
                if let Some((p, q)) = product(a) {
                    let (x, y) = (self.expr(f, p), self.expr(f, q));
                    let c = self.expr(f, b);
                    self.mul_add(x, y, c, *op == BinOp::Sub, false)
                } else {
                    let c = self.expr(f, a);
                    let (p, q) = product(b).unwrap_or_else(|| unreachable!("matched above"));
                    let (x, y) = (self.expr(f, p), self.expr(f, q));
                    self.mul_add(x, y, c, false, *op == BinOp::Sub)
                }
            }
            ExprKind::Binary(op, a, b) => {
                let x = self.expr(f, a);
                let y = self.expr(f, b);
                value::binary(*op, x, y)
            }
            ExprKind::Cast(a, t) => {
                let x = self.expr(f, a);
                value::cast(x, elem_type(t))
            }
            ExprKind::Builtin(b, _) => {
                let block = self.case.block as u64;
                V::new(
                    U64,
                    match b {
                        Builtin::Grid(Dim::X) => self.bid * block + self.tid,
                        Builtin::GridSize(Dim::X) => block * self.case.grid as u64,
                        Builtin::ThreadIdx(Dim::X) => self.tid,
                        Builtin::BlockIdx(Dim::X) => self.bid,
                        Builtin::BlockDim(Dim::X) => block,
                        Builtin::GridDim(Dim::X) => self.case.grid as u64,
                        Builtin::LaneId => self.tid % 32,
                        Builtin::WarpSize => 32,
                        // y and z: a 1-D launch.
                        Builtin::GridDim(_) | Builtin::BlockDim(_) | Builtin::GridSize(_) => 1,
                        _ => 0,
                    },
                )
            }
            ExprKind::Math(m, args) => {
                let a: Vec<V> = args.iter().map(|a| self.expr(f, a)).collect();
                value::math(*m, &a)
            }
            ExprKind::Random(d, name) => {
                // The stream's definition (gpujit-lang's, the host generator's).
                let [seed, sub, drawn] = gpujit::codegen::random::state_locals(name);
                let (s, q, n) = (f.get(&seed).b, f.get(&sub).b, f.get(&drawn).b);
                f.set(&drawn, V::new(U64, n.wrapping_add(d.words())));
                V::new(d.ty(), gpujit::codegen::random::draw(*d, s, q, n))
            }
            ExprKind::FromBits(t, a) => {
                let x = self.expr(f, a);
                V::new(elem_type(t), x.b)
            }
            ExprKind::Field(..) | ExprKind::FieldElement(..) | ExprKind::Construct(..) | ExprKind::Complex(..) => {
                unreachable!("the fuzzer generates no complex numbers or structs")
            }
            ExprKind::Call(name, args) => {
                let a: Vec<V> = args.iter().map(|a| self.expr(f, a)).collect();
                let case = self.case;
                let src = case.devices.iter().find(|d| &d.name == name).unwrap_or_else(|| panic!("oracle: no device function {name}"));
                let mut frame = Frame::new();
                for (p, v) in src.params.iter().zip(a) {
                    frame.bind(&p.name, v);
                }
                match self.block(&mut frame, &src.body) {
                    Flow::Return(Some(v)) => v,
                    _ => panic!("oracle: device function {name} returned no value"),
                }
            }
            ExprKind::Atomic { op, array, operands } => {
                let i = self.expr(f, &operands[0]).b;
                let x = self.expr(f, &operands[1]);
                let old = self.load(f, array, i);
                let new = match op {
                    AtomicOp::Add => value::binary(BinOp::Add, old, x),
                    AtomicOp::Sub => value::binary(BinOp::Sub, old, x),
                    AtomicOp::And => value::binary(BinOp::BitAnd, old, x),
                    AtomicOp::Or => value::binary(BinOp::BitOr, old, x),
                    AtomicOp::Xor => value::binary(BinOp::BitXor, old, x),
                    AtomicOp::Min => value::math(gpujit::codegen::math::MathFn::Min, &[old, x]),
                    AtomicOp::Max => value::math(gpujit::codegen::math::MathFn::Max, &[old, x]),
                    AtomicOp::Exch => x,
                    AtomicOp::Cas => panic!("oracle: atomic_cas is not generated"),
                };
                self.store(f, array, i, new);
                old
            }
            ExprKind::Collective(..) => panic!("oracle: a collective below the top level"),
        }
    }

    fn block(&mut self, f: &mut Frame, b: &Block) -> Flow {
        f.scopes.push(HashMap::new());
        let mut flow = Flow::Normal;
        for s in &b.stmts {
            flow = self.stmt(f, s);
            if !matches!(flow, Flow::Normal) {
                break;
            }
        }
        f.scopes.pop();
        flow
    }

    /// Runs a loop body; `Some(flow)` when the loop must end with that flow.
    fn body(&mut self, f: &mut Frame, b: &Block, label: &Option<String>) -> Option<Flow> {
        match self.block(f, b) {
            Flow::Normal => None,
            Flow::Continue(l) if l.is_none() || l == *label => None,
            Flow::Break(l) if l.is_none() || l == *label => Some(Flow::Normal),
            other => Some(other),
        }
    }

    fn stmt(&mut self, f: &mut Frame, s: &Stmt) -> Flow {
        match s {
            Stmt::Let { name, ty, init, .. } => {
                let v = match init {
                    Some(e) => self.expr(f, e),
                    None => V::new(ty.as_ref().map(elem_type).unwrap_or(I32), 0),
                };
                let v = match ty {
                    Some(t) if elem_type(t) != v.t => panic!("oracle: `let {name}` of {:?} holds {:?}", elem_type(t), v.t),
                    _ => v,
                };
                f.bind(name, v);
            }
            Stmt::Assign { place, op, value, .. } => match place {
                Place::Field { .. } => unreachable!("the fuzzer generates no complex numbers"),
                Place::Var(n, _) => {
                    // `acc ±= x * y` fuses as `acc ± x * y`.
                    if let (Some(op @ (BinOp::Add | BinOp::Sub)), Some((p, q)), true) = (op, product(value), self.fuse) {
                        let (x, y) = (self.expr(f, p), self.expr(f, q));
                        let v = self.mul_add(x, y, f.get(n), false, *op == BinOp::Sub);
                        f.set(n, v);
                        return Flow::Normal;
                    }
                    let rhs = self.expr(f, value);
                    let v = match op {
                        Some(op) => value::binary(*op, f.get(n), rhs),
                        None => rhs,
                    };
                    f.set(n, v);
                }
                Place::Index { array, index, .. } => {
                    // Rust's order: the value, then the place.
                    let fused = match (op, product(value), self.fuse) {
                        (Some(op @ (BinOp::Add | BinOp::Sub)), Some((p, q)), true) => {
                            let (x, y) = (self.expr(f, p), self.expr(f, q));
                            Some((*op, x, y))
                        }
                        _ => None,
                    };
                    let rhs = if fused.is_none() { self.expr(f, value) } else { V::new(Bool, 0) };
                    let i = self.expr(f, &index[0]).b;
                    let v = match (op, fused) {
                        (_, Some((op, x, y))) => {
                            let old = self.load(f, array, i);
                            self.mul_add(x, y, old, false, op == BinOp::Sub)
                        }
                        (Some(op), None) => {
                            let old = self.load(f, array, i);
                            value::binary(*op, old, rhs)
                        }
                        (None, None) => rhs,
                    };
                    self.store(f, array, i, v);
                }
            },
            Stmt::If { cond, then, otherwise, .. } => {
                if self.expr(f, cond).boolean() {
                    return self.block(f, then);
                } else if let Some(o) = otherwise {
                    return self.block(f, o);
                }
            }
            Stmt::While { cond, body, label, .. } => {
                while self.expr(f, cond).boolean() {
                    if let Some(flow) = self.body(f, body, label) {
                        return flow;
                    }
                }
            }
            Stmt::For { var, range, body, label, .. } => {
                let a = self.expr(f, &range.start);
                let b = self.expr(f, &range.end);
                let step = range.step.as_ref().map(|s| self.expr(f, s).b).unwrap_or(1);
                let (lo, hi) = (a.int(), b.int());
                let last = if range.inclusive { hi } else { hi - 1 };
                if step == 0 || lo > last {
                    return Flow::Normal;
                }
                let count = (last - lo) as u128 / step as u128 + 1;
                for k in 0..count {
                    let off = k as i128 * step as i128;
                    // `(a..b).rev().step_by(s)`: from the last element down, s at a time.
                    let x = if range.reverse { last - off } else { lo + off };
                    f.scopes.push(HashMap::new());
                    f.bind(var, V::from_int(a.t, x));
                    let flow = self.body(f, body, label);
                    f.scopes.pop();
                    if let Some(flow) = flow {
                        return flow;
                    }
                }
            }
            Stmt::Block(b) => return self.block(f, b),
            Stmt::Break(l, _) => return Flow::Break(l.clone()),
            Stmt::Continue(l, _) => return Flow::Continue(l.clone()),
            Stmt::Return(e, _) => {
                let v = e.as_ref().map(|e| self.expr(f, e));
                return Flow::Return(v);
            }
            Stmt::Local { name, elem, len, .. } => {
                let t = elem_type(elem);
                let len = len.const_int().unwrap_or_else(|| panic!("the generator sizes arrays by literals")) as usize;
                f.locals.insert(name.clone(), (t, vec![V::new(t, 0); len]));
            }
            Stmt::Eval(e) => {
                self.expr(f, e);
            }
            Stmt::Assert(_) | Stmt::Print(_) | Stmt::Asm(_) | Stmt::Bulk(_) => {
                unreachable!("the fuzzer generates no assertions, prints, inline PTX or bulk operations")
            }
            Stmt::Shared { .. } | Stmt::Barrier(_) | Stmt::GridBarrier(_) | Stmt::Fence(..) => {
                panic!("oracle: a block-wide statement below the top level")
            }
        }
        Flow::Normal
    }
}

/// The value a collective gives each thread of a block, from its operands' values per thread.
fn collective(c: Collective, args: &[Vec<V>], block: usize) -> Vec<V> {
    let lane = |t: usize| t % 32;
    let warp = |t: usize| t - t % 32;
    (0..block)
        .map(|t| match c {
            Collective::ShflIdx | Collective::ShflUp | Collective::ShflDown | Collective::ShflXor => {
                let d = args[2][t].b as i64;
                let l = lane(t) as i64;
                let src = match c {
                    Collective::ShflIdx => d % 32,
                    Collective::ShflUp => l - d,
                    Collective::ShflDown => l + d,
                    _ => l ^ d,
                };
                if (0..32).contains(&src) {
                    args[1][warp(t) + src as usize]
                } else {
                    args[1][t]
                }
            }
            Collective::Ballot => V::new(U32, (0..32).filter(|l| args[1][warp(t) + l].boolean()).fold(0, |m, l| m | 1 << l)),
            Collective::Any => V::new(Bool, (0..32).any(|l| args[1][warp(t) + l].boolean()) as u64),
            Collective::All => V::new(Bool, (0..32).all(|l| args[1][warp(t) + l].boolean()) as u64),
            Collective::ActiveMask => V::new(U32, 0xffff_ffff),
            Collective::MatchAny => V::new(U32, (0..32).filter(|l| args[1][warp(t) + l] == args[1][t]).fold(0, |m, l| m | 1 << l)),
            Collective::SyncWarp => V::new(U32, 0),
            Collective::SyncThreadsCount => V::new(I32, args[0].iter().filter(|v| v.boolean()).count() as u64),
            Collective::SyncThreadsAnd => V::new(Bool, args[0].iter().all(|v| v.boolean()) as u64),
            Collective::SyncThreadsOr => V::new(Bool, args[0].iter().any(|v| v.boolean()) as u64),
        })
        .collect()
}

/// Runs `case` and returns what it leaves in memory; `fuse`: on a device that fuses
/// multiply-adds (a GPU, a CPU with fma), when the kernel contracts.
pub fn run(case: &Case, fuse: bool) -> Outcome {
    let names = case.arrays.iter().enumerate().map(|(k, a)| (a.name.clone(), k)).collect();
    let mut m = Machine {
        case,
        arrays: case.arrays.iter().map(|a| a.data.clone()).collect(),
        elems: case.arrays.iter().map(|a| a.elem).collect(),
        names,
        shared: HashMap::new(),
        oob: Vec::new(),
        tid: 0,
        bid: 0,
        fuse: fuse && !case.source.options.no_contract,
    };
    let block = case.block as usize;
    for bid in 0..case.grid as u64 {
        m.bid = bid;
        m.shared.clear();
        let mut frames: Vec<Frame> = (0..block)
            .map(|_| {
                let mut f = Frame::new();
                for (n, v) in &case.scalars {
                    f.bind(n, *v);
                }
                f
            })
            .collect();
        for s in &case.source.body.stmts {
            match s {
                Stmt::Barrier(_) => {}
                Stmt::Shared { name, elem, dims, .. } => {
                    let t = elem_type(elem);
                    m.shared.insert(
                        name.clone(),
                        (t, vec![V::new(t, 0); dims.iter().map(|d| d.const_int().unwrap_or(0)).product::<i128>() as usize]),
                    );
                }
                Stmt::Eval(SourceExpr { kind: ExprKind::Collective(..), .. }) => {}
                Stmt::Let { name, init: Some(SourceExpr { kind: ExprKind::Collective(c, args), .. }), .. } => {
                    let mut vals: Vec<Vec<V>> = vec![Vec::new(); args.len()];
                    for (t, f) in frames.iter_mut().enumerate() {
                        m.tid = t as u64;
                        for (k, a) in args.iter().enumerate() {
                            let x = m.expr(f, a);
                            vals[k].push(x);
                        }
                    }
                    for (f, r) in frames.iter_mut().zip(collective(*c, &vals, block)) {
                        f.bind(name, r);
                    }
                }
                s => {
                    for (t, f) in frames.iter_mut().enumerate() {
                        m.tid = t as u64;
                        let _ = m.stmt(f, s);
                    }
                }
            }
        }
    }
    Outcome { arrays: m.arrays, oob: m.oob }
}
