//! Type inference of one kernel or device function body for one [`SpecKey`], the way rustc
//! does it for this subset: unsuffixed literals take their type from their use (default `i32` /
//! `f64`). Results are kept in tables indexed by the source's [`NodeId`]s.

use super::bind::SpecKey;
use super::{resolve_ref, NodeTable};
use crate::ast::{self, ExprKind, ParamKind, Place, Span, TypeRef};
use crate::complex::{ComplexFn, Operand};
use crate::error::CompileError;
use crate::ir::{self, ArrayRef, LocalId};
use crate::limits::MAX_STATIC_SHARED;
use crate::math::Ret;
use crate::types::ScalarType;
use std::collections::HashMap;

#[derive(Copy, Clone, Debug, PartialEq)]
enum Slot {
    Known(ScalarType),
    /// An unsuffixed integer literal's type, not yet known.
    AnyInt,
    /// An unsuffixed float literal's type, not yet known.
    AnyFloat,
    /// Nothing known yet (a `let` without type or initializer).
    Unknown,
    /// A complex number whose parts have the type of the slot (f32 or f64, maybe a float
    /// literal's still). A complex type is always this, never `Known`.
    Complex(usize),
    /// Unified with another slot.
    Link(usize),
}

#[derive(Copy, Clone, Debug)]
pub(super) enum Binding {
    Local(LocalId),
    Array(ArrayRef),
}

/// What indexing an array needs to know.
#[derive(Copy, Clone, Debug)]
pub(super) struct ArrayInfo {
    pub(super) r: ArrayRef,
    pub(super) elem: ScalarType,
    pub(super) mutable: bool,
    /// Indices it takes: 2 for a 2-D shared array, else 1.
    pub(super) ndim: usize,
}

pub(super) struct Infer<'a> {
    pub(super) src: &'a ast::KernelSource,
    pub(super) key: &'a SpecKey,
    /// The return type of a device function.
    pub(super) ret: Option<ScalarType>,
    /// For each call, the type slot of each of the callee's type parameters.
    pub(super) call_generics: NodeTable<Vec<Option<usize>>>,
    pub(super) params: &'a [ir::Param],
    pub(super) signature: String,
    slots: Vec<Slot>,
    /// The type slot of every expression.
    pub(super) expr_slot: NodeTable<usize>,
    /// What each `Var`, `Index` or `Len` expression refers to.
    pub(super) var_ref: NodeTable<Binding>,
    /// For an assignment to an array element whose index has effects, by the assignment's id:
    /// the hidden locals its indices (and, if it has effects too, its value) are evaluated into.
    pub(super) assign_temps: NodeTable<(Vec<LocalId>, Option<LocalId>)>,
    /// The state locals (seed, subsequence, words drawn) of each draw from a generator.
    pub(super) rng_ref: NodeTable<[LocalId; 3]>,
    /// What each assignment's target refers to, by the assignment's id.
    pub(super) place_ref: NodeTable<Binding>,
    /// The local each `let` or `for` declares, by the statement's id.
    pub(super) decl_local: NodeTable<LocalId>,
    /// What each bulk statement works on, by its id (see [`super::bulk`]).
    pub(super) bulk: NodeTable<super::bulk::Resolved>,
    /// Name and type slot of each local.
    pub(super) locals: Vec<(String, usize)>,
    pub(super) shared: Vec<ir::SharedArray>,
    pub(super) local_arrays: Vec<ir::LocalArray>,
    /// Labels of the enclosing loops, innermost last.
    pub(super) loop_labels: Vec<Option<String>>,
    pub(super) scopes: Vec<HashMap<String, Binding>>,
}

pub(super) type R<T> = Result<T, CompileError>;

impl<'a> Infer<'a> {
    pub(super) fn new(
        src: &'a ast::KernelSource,
        key: &'a SpecKey,
        ret: Option<ScalarType>,
        params: &'a [ir::Param],
        signature: String,
    ) -> Self {
        Infer {
            src,
            key,
            ret,
            call_generics: NodeTable::default(),
            params,
            signature,
            slots: Vec::new(),
            expr_slot: NodeTable::default(),
            var_ref: NodeTable::default(),
            place_ref: NodeTable::default(),
            rng_ref: NodeTable::default(),
            assign_temps: NodeTable::default(),
            decl_local: NodeTable::default(),
            bulk: NodeTable::default(),
            locals: Vec::new(),
            shared: Vec::new(),
            local_arrays: Vec::new(),
            loop_labels: Vec::new(),
            scopes: vec![HashMap::new()],
        }
    }

    pub(super) fn err<T>(&self, span: Span, message: impl Into<String>) -> R<T> {
        Err(CompileError::Type { kernel: self.src.name.clone(), signature: self.signature.clone(), span, message: message.into() })
    }

    fn slot(&mut self, s: Slot) -> usize {
        self.slots.push(s);
        self.slots.len() - 1
    }

    pub(super) fn known(&mut self, t: ScalarType) -> usize {
        match t.component() {
            Some(part) => {
                let part = self.slot(Slot::Known(part));
                self.slot(Slot::Complex(part))
            }
            None => self.slot(Slot::Known(t)),
        }
    }

    /// The slot of the parts of a complex slot `s` as inference knows it now.
    fn complex_part(&self, s: usize) -> Option<usize> {
        match self.slots[self.find(s)] {
            Slot::Complex(part) => Some(part),
            _ => None,
        }
    }

    /// Requires the parts' slot `s` of a complex number to be f32 or f64 (a float literal's
    /// type is one).
    fn complex_parts(&mut self, s: usize, span: Span) -> R<()> {
        let r = self.find(s);
        match self.slots[r] {
            Slot::Known(ScalarType::F32 | ScalarType::F64) | Slot::AnyFloat => Ok(()),
            Slot::Unknown => {
                self.slots[r] = Slot::AnyFloat;
                Ok(())
            }
            _ => self.err(span, format!("complex numbers in kernels have f32 or f64 parts, not {}", self.show(r))),
        }
    }

    fn find(&self, mut s: usize) -> usize {
        while let Slot::Link(n) = self.slots[s] {
            s = n;
        }
        s
    }

    fn show(&self, s: usize) -> String {
        match self.slots[self.find(s)] {
            Slot::Known(t) => t.name().to_string(),
            Slot::AnyInt => "{integer}".into(),
            Slot::AnyFloat => "{float}".into(),
            Slot::Complex(part) => format!("Complex<{}>", self.show(part)),
            _ => "_".into(),
        }
    }

    pub(super) fn unify(&mut self, a: usize, b: usize, span: Span, what: &str) -> R<()> {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return Ok(());
        }
        if let (Slot::Complex(pa), Slot::Complex(pb)) = (self.slots[ra], self.slots[rb]) {
            self.unify(pa, pb, span, what)?;
            self.slots[rb] = Slot::Link(ra);
            return Ok(());
        }
        let merged = match (self.slots[ra], self.slots[rb]) {
            (Slot::Unknown, x) | (x, Slot::Unknown) => x,
            (Slot::Known(x), Slot::Known(y)) if x == y => Slot::Known(x),
            (Slot::Known(t), Slot::AnyInt) | (Slot::AnyInt, Slot::Known(t)) if t.is_int() => Slot::Known(t),
            (Slot::Known(t), Slot::AnyFloat) | (Slot::AnyFloat, Slot::Known(t)) if t.is_float() => Slot::Known(t),
            (Slot::AnyInt, Slot::AnyInt) => Slot::AnyInt,
            (Slot::AnyFloat, Slot::AnyFloat) => Slot::AnyFloat,
            _ => {
                let msg = format!("mismatched types in {what}: {} and {}", self.show(ra), self.show(rb));
                return self.err(span, msg);
            }
        };
        self.slots[ra] = merged;
        self.slots[rb] = Slot::Link(ra);
        Ok(())
    }

    pub(super) fn type_of_ref(&self, t: &TypeRef) -> ScalarType {
        resolve_ref(t, self.key)
    }

    pub(super) fn new_local(&mut self, name: &str, slot: usize) -> LocalId {
        self.locals.push((name.to_string(), slot));
        (self.locals.len() - 1) as LocalId
    }

    /// Binds `name` in the innermost scope (the kernel's own scope is always there).
    pub(super) fn declare(&mut self, name: &str, b: Binding) {
        if let Some(scope) = self.scopes.last_mut() {
            scope.insert(name.to_string(), b);
        }
    }

    fn lookup(&self, name: &str) -> Option<Binding> {
        self.scopes.iter().rev().find_map(|s| s.get(name).copied())
    }

    pub(super) fn array(&self, name: &str, span: Span) -> R<ArrayInfo> {
        match self.lookup(name) {
            Some(Binding::Array(r)) => Ok(match r {
                ArrayRef::Param(p) => match self.params[p as usize].ty {
                    ir::ParamType::Array { elem, mutable, ndim, .. } => ArrayInfo { r, elem, mutable, ndim: ndim as usize },
                    ir::ParamType::Scalar(_) => return self.err(span, format!("`{name}` is not an array")),
                },
                ArrayRef::Shared(i) => {
                    let s = &self.shared[i as usize];
                    let ndim = s.dims.len().max(1);
                    ArrayInfo { r, elem: s.elem, mutable: true, ndim }
                }
                ArrayRef::Local(i) => ArrayInfo { r, elem: self.local_arrays[i as usize].elem, mutable: true, ndim: 1 },
            }),
            Some(Binding::Local(_)) => self.err(span, format!("`{name}` is not an array")),
            None => self.err(span, format!("cannot find array `{name}` in this kernel")),
        }
    }

    /// Types the indices of an access to `a` (one per dimension, each a usize).
    fn indices(&mut self, a: &ArrayInfo, name: &str, index: &[ast::SourceExpr], span: Span) -> R<()> {
        if index.len() != a.ndim {
            let want = if a.ndim == 2 { format!("`{name}[[row, col]]`") } else { format!("`{name}[i]`") };
            return self.err(span, format!("`{name}` takes {} index(es): {want}", a.ndim));
        }
        for i in index {
            let s = self.expr(i)?;
            let u = self.known(ScalarType::U64);
            self.unify(s, u, i.span, "array index (usize)")?;
        }
        Ok(())
    }

    pub(super) fn block(&mut self, b: &ast::Block) -> R<()> {
        self.scopes.push(HashMap::new());
        let r = b.stmts.iter().try_for_each(|s| self.stmt(s));
        self.scopes.pop();
        r
    }

    fn bool_cond(&mut self, e: &ast::SourceExpr, what: &str) -> R<()> {
        let s = self.expr(e)?;
        let b = self.known(ScalarType::Bool);
        self.unify(s, b, e.span, what)
    }

    fn stmt(&mut self, s: &ast::Stmt) -> R<()> {
        match s {
            ast::Stmt::Let { name, ty, init, span, id, .. } => {
                let slot = match ty {
                    Some(t) => {
                        let t = self.type_of_ref(t);
                        self.known(t)
                    }
                    None => self.slot(Slot::Unknown),
                };
                if let Some(init) = init {
                    let v = self.expr(init)?;
                    self.unify(slot, v, *span, &format!("`let {name}`"))?;
                }
                let local = self.new_local(name, slot);
                self.decl_local.insert(*id, local);
                self.declare(name, Binding::Local(local));
                Ok(())
            }
            ast::Stmt::Assign { place, op, value, span, id } => {
                let v = self.expr(value)?;
                let root = match place.root() {
                    Place::Field { .. } => return self.err(*span, "a field's place has a variable or an element at its root"),
                    Place::Var(name, pspan) => match self.lookup(name) {
                        Some(b @ Binding::Local(l)) => {
                            self.place_ref.insert(*id, b);
                            self.locals[l as usize].1
                        }
                        Some(Binding::Array(_)) => {
                            return self.err(*pspan, format!("cannot assign to array `{name}`; assign to `{name}[i]`"))
                        }
                        None => return self.err(*pspan, format!("cannot find value `{name}` in this kernel")),
                    },
                    Place::Index { array, index, span } => {
                        let a = self.array(array, *span)?;
                        self.place_ref.insert(*id, Binding::Array(a.r));
                        if !a.mutable {
                            return self.err(*span, format!("cannot assign to `{array}[..]`: `{array}` is a `&[T]`, not `&mut [T]`"));
                        }
                        self.indices(&a, array, index, *span)?;
                        // An index with effects (an atomic, a draw) is evaluated once, after the
                        // value, as Rust does (`a[f()] += g()` calls g, then f, once each): both
                        // go to hidden locals first.
                        if index.iter().any(ast::SourceExpr::has_effects) {
                            let temps = index
                                .iter()
                                .map(|_| {
                                    let u = self.known(ScalarType::U64);
                                    self.new_local("__gpujit_index", u)
                                })
                                .collect();
                            let value_temp = value.has_effects().then(|| self.new_local("__gpujit_value", v));
                            self.assign_temps.insert(*id, (temps, value_temp));
                        }
                        self.known(a.elem)
                    }
                };
                let target = self.place_fields(place, root)?;
                match (op, self.complex_part(target), self.complex_part(v)) {
                    (Some(op), ..) if op.is_shift() => self.int_operand(target, *span).and(self.int_operand(v, value.span)),
                    // `z *= 2.0`: num-complex's `Complex<T> op= T`.
                    (Some(_), Some(part), None) => self.unify(part, v, value.span, "assignment"),
                    _ => self.unify(target, v, *span, "assignment"),
                }
            }
            ast::Stmt::If { cond, then, otherwise, .. } => {
                self.bool_cond(cond, "`if` condition")?;
                self.block(then)?;
                if let Some(o) = otherwise {
                    self.block(o)?;
                }
                Ok(())
            }
            ast::Stmt::While { cond, body, label, .. } => {
                self.bool_cond(cond, "`while` condition")?;
                self.loop_labels.push(label.clone());
                let r = self.block(body);
                self.loop_labels.pop();
                r
            }
            ast::Stmt::For { var, range, body, span, label, id } => {
                let var_slot = self.slot(Slot::AnyInt);
                let a = self.expr(&range.start)?;
                self.unify(var_slot, a, range.start.span, "range start")?;
                let b = self.expr(&range.end)?;
                self.unify(var_slot, b, range.end.span, "range end")?;
                if let Some(step) = &range.step {
                    let s = self.expr(step)?;
                    let u = self.known(ScalarType::U64);
                    self.unify(s, u, step.span, "`step_by` (usize)")?;
                }
                if let Slot::Known(t) = self.slots[self.find(var_slot)] {
                    if !t.is_int() {
                        return self.err(*span, format!("cannot iterate over a range of {t}"));
                    }
                }
                let local = self.new_local(var, var_slot);
                self.decl_local.insert(*id, local);
                self.scopes.push(HashMap::from([(var.clone(), Binding::Local(local))]));
                self.loop_labels.push(label.clone());
                let r = self.block(body);
                self.loop_labels.pop();
                self.scopes.pop();
                r
            }
            ast::Stmt::Block(b) => self.block(b),
            ast::Stmt::Break(label, span) | ast::Stmt::Continue(label, span) => {
                let what = if matches!(s, ast::Stmt::Break(..)) { "break" } else { "continue" };
                match (label, jump_levels(&self.loop_labels, label)) {
                    (_, Some(_)) => Ok(()),
                    (None, None) => self.err(*span, format!("`{what}` outside of a loop")),
                    (Some(l), None) => self.err(*span, format!("no enclosing loop is labeled `'{l}`")),
                }
            }
            ast::Stmt::Return(value, span) => match (value, self.ret) {
                (None, None) => Ok(()),
                (Some(v), Some(t)) => {
                    let s = self.expr(v)?;
                    let k = self.known(t);
                    self.unify(s, k, v.span, "returned value")
                }
                (Some(v), None) => self.err(v.span, "this function returns nothing; kernels write results into `&mut` arrays"),
                (None, Some(t)) => self.err(*span, format!("`return` needs a value of type {t}")),
            },
            ast::Stmt::Barrier(_) | ast::Stmt::GridBarrier(_) | ast::Stmt::Fence(..) => Ok(()),
            ast::Stmt::Eval(e) => self.expr(e).map(|_| ()),
            ast::Stmt::Print(p) => p.args.iter().try_for_each(|e| self.expr(e).map(|_| ())),
            ast::Stmt::Asm(a) => a.operands.iter().try_for_each(|(_, e)| self.expr(e).map(|_| ())),
            ast::Stmt::Bulk(b) => self.bulk(b),
            ast::Stmt::Assert(a) => {
                match a.kind {
                    ast::AssertKind::Cond => self.bool_cond(&a.operands[0], "assertion")?,
                    _ => {
                        let (l, r) = (self.expr(&a.operands[0])?, self.expr(&a.operands[1])?);
                        self.unify(l, r, a.span, "the operands of an assertion")?;
                    }
                }
                if let Some((_, args)) = &a.message {
                    for e in args {
                        self.expr(e)?;
                    }
                }
                Ok(())
            }
            ast::Stmt::Shared { name, elem, dims, span } => {
                if self.src.device {
                    return self.err(*span, "shared arrays are declared in kernels; pass them to device functions as arguments");
                }
                let elem = self.type_of_ref(elem);
                if elem == ScalarType::Bool && dims.is_empty() {
                    return self.err(*span, "dynamic shared memory of bool is not supported; use u8");
                }
                let dims = dims.iter().map(|d| self.array_size(d)).collect::<R<Vec<u64>>>()?;
                let bytes = dims.iter().try_fold(elem.size_bytes() as u64, |a, d| a.checked_mul(*d));
                if !bytes.is_some_and(|b| b <= MAX_STATIC_SHARED) {
                    return self.err(
                        *span,
                        format!("`{name}` takes more than the {} KiB of static shared memory a block can have", MAX_STATIC_SHARED / 1024),
                    );
                }
                self.shared.push(ir::SharedArray { name: name.clone(), elem, dims });
                let r = ArrayRef::Shared((self.shared.len() - 1) as u32);
                self.declare(name, Binding::Array(r));
                Ok(())
            }
            ast::Stmt::Local { name, elem, len, .. } => {
                let elem = self.type_of_ref(elem);
                let len = self.array_size(len)?;
                self.local_arrays.push(ir::LocalArray { name: name.clone(), elem, len });
                let r = ArrayRef::Local((self.local_arrays.len() - 1) as u32);
                self.declare(name, Binding::Array(r));
                Ok(())
            }
        }
    }

    /// An array's size: a constant integer expression of at least 1.
    fn array_size(&self, e: &ast::SourceExpr) -> R<u64> {
        match e.const_int() {
            Some(v) if v >= 1 => u64::try_from(v).or_else(|_| self.err(e.span, "this array size does not fit in u64")),
            Some(v) => self.err(e.span, format!("an array size must be at least 1, not {v}")),
            None => self.err(
                e.span,
                "an array size is a constant: an integer literal, a `const` item or a const generic parameter, or arithmetic on them",
            ),
        }
    }

    fn int_operand(&mut self, s: usize, span: Span) -> R<()> {
        let r = self.find(s);
        match self.slots[r] {
            Slot::Known(t) if t.is_int() => Ok(()),
            Slot::AnyInt => Ok(()),
            Slot::Unknown => {
                self.slots[r] = Slot::AnyInt;
                Ok(())
            }
            _ => self.err(span, format!("expected an integer, found {}", self.show(r))),
        }
    }

    pub(super) fn expr(&mut self, e: &ast::SourceExpr) -> R<usize> {
        let slot = match &e.kind {
            ExprKind::Int(_, Some(t)) => self.known(*t),
            ExprKind::Int(_, None) => self.slot(Slot::AnyInt),
            ExprKind::Float(_, Some(t)) => self.known(*t),
            ExprKind::Float(_, None) => self.slot(Slot::AnyFloat),
            ExprKind::Bool(_) => self.known(ScalarType::Bool),
            ExprKind::Var(name) => match self.lookup(name) {
                Some(b @ Binding::Local(l)) => {
                    self.var_ref.insert(e.id, b);
                    self.locals[l as usize].1
                }
                Some(Binding::Array(_)) => return self.err(e.span, format!("array `{name}` used as a value; index it: `{name}[i]`")),

                None => return self.err(e.span, format!("cannot find value `{name}` in this kernel")),
            },
            ExprKind::Index { array, index } => {
                let a = self.array(array, e.span)?;
                self.var_ref.insert(e.id, Binding::Array(a.r));
                self.indices(&a, array, index, e.span)?;
                self.known(a.elem)
            }
            ExprKind::ArrayDim { array, axis, stride } => {
                let a = self.array(array, e.span)?;
                if !matches!(a.r, ArrayRef::Param(_)) {
                    return self.err(e.span, format!("`{array}` is not an array parameter; use `{array}.len()`"));
                }
                if *axis as usize >= a.ndim {
                    return self.err(e.span, format!("`{array}` has {} dimension(s); axis {axis} does not exist", a.ndim));
                }
                self.var_ref.insert(e.id, Binding::Array(a.r));
                self.known(if *stride { ScalarType::I64 } else { ScalarType::U64 })
            }
            ExprKind::Len(array) => {
                let a = self.array(array, e.span)?;
                self.var_ref.insert(e.id, Binding::Array(a.r));
                self.known(ScalarType::U64)
            }
            ExprKind::Atomic { op, array, operands } => {
                let a = self.array(array, e.span)?;
                self.var_ref.insert(e.id, Binding::Array(a.r));
                if !a.mutable {
                    return self.err(e.span, format!("`{}` writes `{array}`, which is a `&[T]`, not `&mut [T]`", op.name()));
                }
                if matches!(a.r, ArrayRef::Local(_)) {
                    return self.err(e.span, format!("`{}` works on global and shared arrays, not on per-thread `{array}`", op.name()));
                }
                if operands.len() != 1 + op.values() {
                    return self.err(e.span, format!("`{}` takes the array, an index and {} value(s)", op.name(), op.values()));
                }
                self.indices(&a, array, &operands[..1], e.span)?;
                let elem = self.known(a.elem);
                for v in &operands[1..] {
                    let s = self.expr(v)?;
                    self.unify(elem, s, v.span, op.name())?;
                }
                elem
            }
            ExprKind::Builtin(_, args) => {
                for a in args {
                    self.expr(a)?;
                }
                self.known(ScalarType::U64)
            }
            ExprKind::Unary(_, a) => self.expr(a)?,
            ExprKind::Call(name, args) => self.call(e, name, args)?,
            ExprKind::Collective(c, args) => {
                let ops = c.operands();
                if args.len() != ops.len() {
                    return self.err(e.span, format!("`{}` takes {} argument(s)", c.name(), ops.len()));
                }
                let mut value = None;
                for (a, o) in args.iter().zip(ops) {
                    let s = self.expr(a)?;
                    match o.fixed() {
                        Some(t) => {
                            let k = self.known(t);
                            self.unify(s, k, a.span, c.name())?;
                        }
                        None => value = Some(s),
                    }
                }
                match (c.result(), value) {
                    (Some(t), _) => self.known(t),
                    (None, Some(v)) => v,
                    (None, None) => return self.err(e.span, format!("`{}` has no value operand to type its result", c.name())),
                }
            }
            ExprKind::Field(base, name) => {
                let b = self.expr(base)?;
                self.field(b, name, None, e.span)?
            }
            ExprKind::FieldElement(base, name, index) => {
                let b = self.expr(base)?;
                self.field(b, name, Some(index), e.span)?
            }
            ExprKind::Construct(t, fields) => {
                let t = self.type_of_ref(t);
                self.construct(t, fields, e.span)?
            }
            ExprKind::Complex(f, args) => self.complex_call(*f, args, None, e.span)?,
            ExprKind::Math(f, args) => {
                let what = format!("`{}`", f.method());
                if args.len() != f.arity() {
                    return self.err(e.span, format!("{what} takes {} argument(s)", f.arity() - 1));
                }
                // `z.exp()` on a complex `z`: the complex method.
                let recv = self.expr(&args[0])?;
                if let (Some(_), Some(c)) = (self.complex_part(recv), ComplexFn::of_math(*f)) {
                    let slot = self.complex_call(c, args, Some(recv), e.span)?;
                    self.expr_slot.insert(e.id, slot);
                    return Ok(slot);
                }
                let mut value = None;
                for (i, (a, param)) in args.iter().zip(f.params()).enumerate() {
                    let s = if i == 0 { recv } else { self.expr(a)? };
                    if let Some(fixed) = param.fixed() {
                        let t = self.known(fixed);
                        self.unify(s, t, a.span, &format!("{what} operand ({fixed})"))?;
                    } else if let Some(r) = value {
                        self.unify(r, s, a.span, &what)?;
                    } else {
                        value = Some(s);
                    }
                }
                let Some(value) = value else {
                    return self.err(e.span, format!("{what} needs a receiver"));
                };
                match f.ret() {
                    Ret::Same => value,
                    Ret::Of(t) => self.known(t),
                    // The width is the receiver's: its type must be known here, as rustc asks.
                    Ret::Unsigned => match self.slots[self.find(value)] {
                        Slot::Known(t) => match t.unsigned() {
                            Some(u) if f.admits(t) => self.known(u),
                            _ => return self.err(e.span, format!("{what} is defined on {}, not on {t}", f.domain().describe())),
                        },
                        _ => {
                            return self.err(
                                e.span,
                                format!("the receiver of {what} has an ambiguous numeric type: give it one (`1.5f32`, `x as u32`)"),
                            )
                        }
                    },
                    Ret::Pair(..) => {
                        return self.err(e.span, format!("{what} gives a tuple: destructure it (`let (a, b) = ..`) or take `.0` or `.1`"))
                    }
                }
            }
            ExprKind::Random(draw, name) => {
                let mut state = [0; 3];
                for (slot, local) in state.iter_mut().zip(crate::random::state_locals(name)) {
                    let Some(Binding::Local(l)) = self.lookup(&local) else {
                        return self.err(
                            e.span,
                            format!(
                                "`{name}` is not a Philox generator: declare it with `let mut {name} = Philox::new(seed, subsequence);`"
                            ),
                        );
                    };
                    let (u, s) = (self.known(ScalarType::U64), self.locals[l as usize].1);
                    self.unify(s, u, e.span, "a generator's state (u64)")?;
                    *slot = l;
                }
                self.rng_ref.insert(e.id, state);
                self.known(draw.ty())
            }
            ExprKind::FromBits(t, a) => {
                let t = self.type_of_ref(t);
                let s = self.expr(a)?;
                let Some(bits) = t.unsigned().filter(|_| t.is_float()) else {
                    return self.err(e.span, format!("`{t}::from_bits`: only the float types have it"));
                };
                let b = self.known(bits);
                self.unify(s, b, a.span, &format!("`{t}::from_bits` operand ({bits})"))?;
                self.known(t)
            }
            ExprKind::Cast(a, t) => {
                self.expr(a)?;
                let t = self.type_of_ref(t);
                self.known(t)
            }
            ExprKind::TypeConst(t, c) => {
                let t = self.type_of_ref(t);
                self.known(c.ty(t))
            }
            ExprKind::Binary(op, a, b) => {
                let sa = self.expr(a)?;
                let sb = self.expr(b)?;
                let what = format!("`{}`", op.symbol());
                if op.is_logical() {
                    let bt = self.known(ScalarType::Bool);
                    self.unify(sa, bt, a.span, &what)?;
                    self.unify(sb, bt, b.span, &what)?;
                    bt
                } else if op.is_comparison() {
                    self.unify(sa, sb, e.span, &what)?;
                    self.known(ScalarType::Bool)
                } else if op.is_shift() {
                    self.int_operand(sa, a.span)?;
                    self.int_operand(sb, b.span)?;
                    sa
                } else {
                    // `z * 2.0`, `x + z`: a real operand beside a complex one has the type of
                    // its parts (num-complex's `Complex<T> op T` and `T op Complex<T>`).
                    match (self.complex_part(sa), self.complex_part(sb)) {
                        (Some(_), Some(_)) | (None, None) => {
                            self.unify(sa, sb, e.span, &what)?;
                            sa
                        }
                        (Some(part), None) => {
                            self.unify(part, sb, b.span, &what)?;
                            sa
                        }
                        (None, Some(part)) => {
                            self.unify(sa, part, a.span, &what)?;
                            sb
                        }
                    }
                }
            }
        };
        self.expr_slot.insert(e.id, slot);
        Ok(slot)
    }

    /// The slot of the place `p` (`z.re`, `a[i].im`) whose root variable or element has `root`.
    fn place_fields(&mut self, p: &Place, root: usize) -> R<usize> {
        match p {
            Place::Field { base, field, index, span } => {
                let b = self.place_fields(base, root)?;
                self.field(b, field, index.as_ref(), *span)
            }
            _ => Ok(root),
        }
    }

    /// The slot of field `name` of a value of slot `base`; with `index`, of element `index` (a
    /// constant) of an array field.
    fn field(&mut self, base: usize, name: &str, index: Option<&ast::SourceExpr>, span: Span) -> R<usize> {
        if let Some(part) = self.complex_part(base) {
            return match (crate::complex::field_index(name), index) {
                (Some(_), None) => Ok(part),
                (Some(_), Some(i)) => self.err(i.span, format!("`{name}` of a complex number is not an array")),
                (None, _) => self.err(span, format!("complex numbers have the fields `re` and `im`, not `{name}`")),
            };
        }
        let t = match self.slots[self.find(base)] {
            Slot::Known(t) => t,
            _ => return self.err(span, format!("the type of the value whose field `{name}` is taken must be known here: annotate it")),
        };
        let Some((_, ty, len)) = t.field(name) else {
            let names = t.field_names();
            return if names.is_empty() {
                self.err(span, format!("`{t}` has no fields"))
            } else {
                self.err(span, format!("`{t}` has no field `{name}`; its fields are {}", names.join(", ")))
            };
        };
        match (len, index) {
            (None, None) => {}
            (Some(_), None) => return self.err(span, format!("`{name}` is an array field: index it with a constant (`.{name}[0]`)")),
            (None, Some(i)) => return self.err(i.span, format!("`{name}` of `{t}` is not an array")),
            (Some(n), Some(i)) => {
                self.field_index(i, n)?;
            }
        }
        Ok(self.known(ty))
    }

    /// The constant index `i` of an array field of `n` elements.
    pub(super) fn field_index(&self, i: &ast::SourceExpr, n: usize) -> R<u32> {
        match i.const_int() {
            Some(k) if (0..n as i128).contains(&k) => Ok(k as u32),
            Some(k) => self.err(i.span, format!("index {k} is out of range for an array field of {n} elements")),
            None => self.err(
                i.span,
                "an array field is indexed by a constant (a literal, a `const` item or a const generic parameter); copy the field's elements into a `local_array` to index them by a variable",
            ),
        }
    }

    /// Types `T { field: value, .. }`: every field of the struct once, an array field by all its
    /// elements.
    fn construct(&mut self, t: ScalarType, fields: &[(String, Vec<ast::SourceExpr>)], span: Span) -> R<usize> {
        let Some(def) = t.struct_def() else {
            return self.err(span, format!("`{t}` is not a #[gpu_struct]"));
        };
        for (name, values) in fields {
            let Some((_, f)) = def.field(name) else {
                let names: Vec<&str> = def.fields.iter().map(|f| f.name).collect();
                return self.err(span, format!("`{}` has no field `{name}`; its fields are {}", def.name, names.join(", ")));
            };
            if fields.iter().filter(|(n, _)| n == name).count() > 1 {
                return self.err(span, format!("field `{name}` is given twice"));
            }
            let want = f.len.unwrap_or(1);
            if values.len() != want || (f.len.is_none() && values.len() != 1) {
                return self.err(span, format!("field `{name}` of `{}` takes {want} value(s), {} given", def.name, values.len()));
            }
            let k = self.known(f.ty);
            for v in values {
                let s = self.expr(v)?;
                self.unify(k, s, v.span, &format!("field `{name}`"))?;
            }
        }
        if let Some(missing) = def.fields.iter().find(|f| !fields.iter().any(|(n, _)| n == f.name)) {
            return self.err(span, format!("field `{}` of `{}` is not given", missing.name, def.name));
        }
        Ok(self.known(t))
    }

    /// Types a complex function or method; `recv`: the receiver's slot when already typed.
    fn complex_call(&mut self, f: ComplexFn, args: &[ast::SourceExpr], recv: Option<usize>, span: Span) -> R<usize> {
        let what = format!("`{}`", f.spelling());
        if args.len() != f.params().len() {
            return self.err(span, format!("{what} takes {} argument(s)", f.params().len()));
        }
        // The parts' slot: the receiver's, or a fresh one the real operands decide.
        let mut part = None;
        let mut slots = Vec::with_capacity(args.len());
        for (i, a) in args.iter().enumerate() {
            let s = match (i, recv) {
                (0, Some(r)) => r,
                _ => self.expr(a)?,
            };
            slots.push(s);
        }
        if f.is_method() {
            match self.complex_part(slots[0]) {
                Some(p) => part = Some(p),
                None => return self.err(args[0].span, format!("{what} is a method of complex numbers; this is {}", self.show(slots[0]))),
            }
        }
        let part = match part {
            Some(p) => p,
            None => self.slot(Slot::Unknown),
        };
        for ((a, s), o) in args.iter().zip(&slots).zip(f.params()) {
            if *o == Operand::Real {
                self.unify(part, *s, a.span, &what)?;
            }
        }
        self.complex_parts(part, span)?;
        Ok(match f.ret() {
            Operand::Real => part,
            Operand::Complex if f.is_method() => slots[0],
            Operand::Complex => self.slot(Slot::Complex(part)),
        })
    }

    /// Types a call of device function `name`: binds the callee's type parameters to the
    /// arguments' slots; the result is the slot of its return type.
    fn call(&mut self, e: &ast::SourceExpr, name: &str, args: &[ast::SourceExpr]) -> R<usize> {
        let Some(callee) = self.src.callees.iter().find(|c| c.name == name) else {
            return self.err(e.span, format!("`{name}` is not a #[gpu_device] function"));
        };
        let csrc = (callee.source)();
        if args.len() != csrc.params.len() {
            return self.err(e.span, format!("`{name}` takes {} argument(s), {} given", csrc.params.len(), args.len()));
        }
        let mut generics: Vec<Option<usize>> = vec![None; csrc.generics.len()];
        for (a, p) in args.iter().zip(&csrc.params) {
            let (t, slot) = match &p.kind {
                ParamKind::Scalar(t) => (t, self.expr(a)?),
                ParamKind::Slice { elem, mutable, ndim } => {
                    let array = match &a.kind {
                        ExprKind::Var(n) => n,
                        _ => return self.err(a.span, format!("parameter `{}` of `{name}` is an array: pass an array by name", p.name)),
                    };
                    let info = self.array(array, a.span)?;
                    self.var_ref.insert(a.id, Binding::Array(info.r));
                    if info.ndim != *ndim as usize {
                        return self
                            .err(a.span, format!("`{array}` has {} dimension(s) but `{}` of `{name}` takes {ndim}", info.ndim, p.name));
                    }
                    if *mutable && !info.mutable {
                        return self.err(a.span, format!("`{}` of `{name}` is written but `{array}` is read-only", p.name));
                    }
                    (elem, self.known(info.elem))
                }
            };
            match t {
                TypeRef::Scalar(s) => {
                    let k = self.known(*s);
                    self.unify(slot, k, a.span, &format!("argument `{}` of `{name}`", p.name))?;
                }
                TypeRef::Generic(g) => match generics[*g] {
                    Some(gs) => self.unify(gs, slot, a.span, &format!("type parameter `{}` of `{name}`", csrc.generics[*g].name))?,
                    None => generics[*g] = Some(slot),
                },
                TypeRef::Named(n) => return self.err(a.span, format!("the type `{n}` of `{}` of `{name}` was not resolved", p.name)),
            }
        }
        let result = match &csrc.ret {
            None => self.known(ScalarType::U32),
            Some(TypeRef::Scalar(t)) => self.known(*t),
            Some(TypeRef::Generic(g)) => match generics[*g] {
                Some(s) => s,
                None => return self.err(e.span, format!("cannot infer the return type of `{name}` from its arguments")),
            },
            Some(TypeRef::Named(n)) => return self.err(e.span, format!("the return type `{n}` of `{name}` was not resolved")),
        };
        self.call_generics.insert(e.id, generics);
        Ok(result)
    }

    /// Resolves every slot to a concrete type (Rust's literal defaults: `i32`, `f64`).
    pub(super) fn resolve(&self) -> R<Vec<ScalarType>> {
        let scalar = |s: usize| match self.slots[self.find(s)] {
            Slot::Known(t) => t,
            Slot::AnyFloat => ScalarType::F64,
            _ => ScalarType::I32,
        };
        Ok((0..self.slots.len())
            .map(|s| match self.slots[self.find(s)] {
                // Inference keeps complex parts f32 or f64 (see `complex_parts`).
                Slot::Complex(part) => scalar(part).complex().unwrap_or(ScalarType::Complex64),
                _ => scalar(s),
            })
            .collect())
    }
}

/// How many loops out a `break`/`continue` with `label` jumps, given the labels of the enclosing
/// loops (innermost last); `None` when there is no such loop.
pub(super) fn jump_levels(loops: &[Option<String>], label: &Option<String>) -> Option<u32> {
    match label {
        None => (!loops.is_empty()).then_some(0),
        Some(l) => loops.iter().rev().position(|x| x.as_deref() == Some(l.as_str())).map(|n| n as u32),
    }
}
