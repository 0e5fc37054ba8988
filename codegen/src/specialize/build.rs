//! IR construction: the inferred body → typed [`ir`] statements and expressions.

use super::bind::SpecKey;
use super::infer::{jump_levels, Binding, Infer, R};
use super::{specialize_body, FnTable};
use crate::ast::{self, AtomicOp, BinOp, ExprKind, ParamKind, Place, Span, UnOp};
use crate::complex::ComplexFn;
use crate::consts::ConstValue;
use crate::error::CompileError;
use crate::ir::{self, ptx_register, ArrayRef, Const, LocalId};
use crate::limits::MAX_GENERICS;
use crate::types::ScalarType;
use crate::verify::{atomic_allowed, cast_allowed};
use std::cell::RefCell;

/// The second pass: builds IR from the AST with the inferred types, checking the rules that need
/// concrete types (operators defined on the type, casts allowed) at their source span.
pub(super) struct Build<'c, 'a> {
    pub(super) cx: &'c Infer<'a>,
    pub(super) types: &'c [ScalarType],
    pub(super) table: &'c RefCell<FnTable>,
    /// Labels of the enclosing loops, innermost last (for `break`/`continue` levels).
    pub(super) loops: RefCell<Vec<Option<String>>>,
    /// The body's assertions, in order.
    pub(super) asserts: RefCell<Vec<ir::AssertInfo>>,
    /// The body's `print!`s, in order.
    pub(super) prints: RefCell<Vec<ir::PrintInfo>>,
    /// Whether `debug_assert!`s are compiled (the kernel's `debug` option).
    pub(super) debug: bool,
    /// Whether the code carries source lines (the kernel's `lineinfo` or `debug` option).
    pub(super) lines: bool,
}

impl Build<'_, '_> {
    /// An internal error: inference left a state building cannot go on from (a bug in gpujit).
    pub(super) fn internal<T>(&self, message: impl Into<String>) -> R<T> {
        Err(CompileError::Verify { kernel: self.cx.src.name.clone(), message: message.into(), ir: String::new() })
    }

    fn ty(&self, e: &ast::SourceExpr) -> R<ScalarType> {
        match self.cx.expr_slot.get(e.id).and_then(|s| self.types.get(*s)) {
            Some(t) => Ok(*t),
            None => self.internal(format!("no type was inferred for the expression at {}", e.span)),
        }
    }

    fn binding(&self, e: &ast::SourceExpr) -> R<Binding> {
        match self.cx.var_ref.get(e.id) {
            Some(b) => Ok(*b),
            None => self.internal(format!("the name at {} was not resolved", e.span)),
        }
    }

    fn decl(&self, id: ast::NodeId, span: Span) -> R<LocalId> {
        match self.cx.decl_local.get(id) {
            Some(l) => Ok(*l),
            None => self.internal(format!("the declaration at {span} has no local")),
        }
    }

    fn jump(&self, label: &Option<String>, span: Span) -> R<u32> {
        match jump_levels(&self.loops.borrow(), label) {
            Some(n) => Ok(n),
            None => self.internal(format!("the jump at {span} has no loop")),
        }
    }

    fn in_loop(&self, label: &Option<String>, body: &ast::Block) -> R<Vec<ir::Stmt>> {
        self.loops.borrow_mut().push(label.clone());
        let r = self.block(body);
        self.loops.borrow_mut().pop();
        r
    }

    pub(super) fn block(&self, b: &ast::Block) -> R<Vec<ir::Stmt>> {
        let mut out = Vec::with_capacity(b.stmts.len());
        for s in &b.stmts {
            if let Some(pre) = self.hoisted(s)? {
                out.extend(pre.into_iter().map(|kind| ir::Stmt::new(kind, s.span())));
            }
            if let Some(s) = self.stmt(s)? {
                out.push(s);
            }
        }
        Ok(out)
    }

    fn stmt(&self, s: &ast::Stmt) -> R<Option<ir::Stmt>> {
        Ok(self.stmt_kind(s)?.map(|kind| ir::Stmt::new(kind, s.span())))
    }

    /// The statements an assignment to an array element needs first when its index has effects:
    /// the value (if it has effects too), then each index, into the hidden locals inference
    /// made for them.
    fn hoisted(&self, s: &ast::Stmt) -> R<Option<Vec<ir::StmtKind>>> {
        let ast::Stmt::Assign { place, value, id, .. } = s else { return Ok(None) };
        let index = place.indices();
        let Some((temps, value_temp)) = self.cx.assign_temps.get(*id) else { return Ok(None) };
        let mut pre = Vec::new();
        if let Some(local) = value_temp {
            pre.push(ir::StmtKind::Assign { local: *local, value: self.expr(value)? });
        }
        for (local, i) in temps.iter().zip(index) {
            pre.push(ir::StmtKind::Assign { local: *local, value: self.expr(i)? });
        }
        Ok(Some(pre))
    }

    fn stmt_kind(&self, s: &ast::Stmt) -> R<Option<ir::StmtKind>> {
        Ok(Some(match s {
            ast::Stmt::Let { init, id, span, .. } => {
                let local = self.decl(*id, *span)?;
                match init {
                    Some(init) => ir::StmtKind::Assign { local, value: self.expr(init)? },
                    None => return Ok(None),
                }
            }
            ast::Stmt::Assign { place, op, value, span, id } => {
                let temps = self.cx.assign_temps.get(*id);
                let local_expr = |l: LocalId| ir::TypedExpr::new(ir::TypedExprKind::Local(l), self.types[self.cx.locals[l as usize].1]);
                let v = match temps {
                    Some((_, Some(l))) => local_expr(*l),
                    _ => self.expr(value)?,
                };
                let binding = match self.cx.place_ref.get(*id) {
                    Some(b) => *b,
                    None => return self.internal(format!("the assignment at {span} was not resolved")),
                };
                match (place.root(), binding) {
                    (Place::Var(..), Binding::Local(local)) => {
                        let ty = self.types[self.cx.locals[local as usize].1];
                        let old = ir::TypedExpr::new(ir::TypedExprKind::Local(local), ty);
                        let (path, old) = self.place_part(place, old)?;
                        let value = self.assigned(old, *op, v, *span)?;
                        match path.is_empty() {
                            true => ir::StmtKind::Assign { local, value },
                            false => ir::StmtKind::AssignField { local, path, value },
                        }
                    }
                    (Place::Index { index, .. }, Binding::Array(p)) => {
                        let elem = self.elem(p);
                        let index = match temps {
                            Some((temps, _)) => self.flatten(p, temps.iter().map(|l| local_expr(*l)).collect())?,
                            None => self.flat_index(p, index)?,
                        };
                        let old = ir::TypedExpr::new(ir::TypedExprKind::Load { array: p, index: index.clone() }, elem);
                        let (path, old) = self.place_part(place, old)?;
                        let value = self.assigned(old, *op, v, *span)?;
                        match path.is_empty() {
                            true => ir::StmtKind::Store { array: p, index, value },
                            // Only the field is written (as CUDA C would), not the whole element.
                            false => ir::StmtKind::StoreField { array: p, index, path, value },
                        }
                    }
                    _ => return self.internal(format!("the assignment at {span} has a target of the wrong kind")),
                }
            }
            ast::Stmt::If { cond, then, otherwise, .. } => ir::StmtKind::If {
                cond: self.expr(cond)?,
                then: self.block(then)?,
                otherwise: match otherwise {
                    Some(o) => self.block(o)?,
                    None => Vec::new(),
                },
            },
            ast::Stmt::While { cond, body, label, .. } => ir::StmtKind::While { cond: self.expr(cond)?, body: self.in_loop(label, body)? },
            ast::Stmt::For { range, body, label, id, span, .. } => {
                let var = self.decl(*id, *span)?;
                let step = match &range.step {
                    Some(st) => self.expr(st)?,
                    None => ir::TypedExpr::new(ir::TypedExprKind::Const(Const::Int(1)), ScalarType::U64),
                };
                ir::StmtKind::ForRange {
                    var,
                    start: self.expr(&range.start)?,
                    end: self.expr(&range.end)?,
                    step,
                    inclusive: range.inclusive,
                    reverse: range.reverse,
                    unroll: range.unroll,
                    body: self.in_loop(label, body)?,
                }
            }
            ast::Stmt::Block(b) => ir::StmtKind::If {
                cond: ir::TypedExpr::new(ir::TypedExprKind::Const(Const::Bool(true)), ScalarType::Bool),
                then: self.block(b)?,
                otherwise: Vec::new(),
            },
            ast::Stmt::Break(label, span) => ir::StmtKind::Break(self.jump(label, *span)?),
            ast::Stmt::Continue(label, span) => ir::StmtKind::Continue(self.jump(label, *span)?),
            ast::Stmt::Return(value, _) => ir::StmtKind::Return(match value {
                Some(v) => Some(self.expr(v)?),
                None => None,
            }),
            ast::Stmt::Barrier(_) => ir::StmtKind::Barrier,
            ast::Stmt::GridBarrier(_) => ir::StmtKind::GridBarrier,
            ast::Stmt::Fence(scope, _) => ir::StmtKind::Fence(*scope),
            ast::Stmt::Eval(e) => ir::StmtKind::Eval(self.expr(e)?),
            ast::Stmt::Print(p) => {
                let values = p.args.iter().map(|e| self.expr(e)).collect::<R<Vec<_>>>()?;
                if let Some(v) = values.iter().find(|v| !(v.ty.is_int() || v.ty.is_float() || v.ty == ScalarType::Bool)) {
                    return self.cx.err(p.span, format!("`print!` in a kernel formats integers, floats and bools, not {}", v.ty));
                }
                let mut table = self.prints.borrow_mut();
                table.push(ir::PrintInfo {
                    format: p.format.clone(),
                    newline: p.newline,
                    stderr: p.stderr,
                    types: values.iter().map(|v| v.ty).collect(),
                });
                ir::StmtKind::Print { id: (table.len() - 1) as u32, values }
            }
            ast::Stmt::Asm(a) => {
                let mut operands = Vec::with_capacity(a.operands.len());
                for (dir, e) in &a.operands {
                    let v = self.expr(e)?;
                    if matches!(dir, ast::AsmDir::Address | ast::AsmDir::AddressMut) {
                        let ir::TypedExprKind::Load { array, .. } = &v.kind else {
                            return self
                                .cx
                                .err(e.span, "an address operand of `ptx_asm!` is an element of an array parameter or a shared array");
                        };
                        // (`&mut` of a read-only array is rustc's error in the kernel's twin.)
                        if let ArrayRef::Local(_) = array {
                            return self.cx.err(
                                e.span,
                                "an address operand of `ptx_asm!` is an element of an array parameter or a shared array, not of a per-thread array",
                            );
                        }
                        operands.push((*dir, v));
                        continue;
                    }
                    if *dir != ast::AsmDir::In && !matches!(v.kind, ir::TypedExprKind::Local(_)) {
                        return self
                            .cx
                            .err(e.span, "an `out(reg)` or `inout(reg)` operand of `ptx_asm!` is a local variable of the kernel");
                    }
                    if ptx_register(v.ty).is_none() {
                        return self.cx.err(
                            e.span,
                            format!("a `ptx_asm!` operand is a 16-, 32- or 64-bit integer or float (a register), not {}", v.ty),
                        );
                    }
                    operands.push((*dir, v));
                }
                ir::StmtKind::Asm { template: a.template.clone(), operands }
            }
            ast::Stmt::Bulk(b) => self.bulk(b)?,
            ast::Stmt::Assert(a) if a.debug && !self.debug => return Ok(None),
            ast::Stmt::Assert(a) => return self.assertion(a).map(Some),
            ast::Stmt::Shared { .. } | ast::Stmt::Local { .. } => return Ok(None),
        }))
    }

    /// An assertion: its condition (for `assert_eq!`, `left == right`), the values its message
    /// records, and its entry in the body's table.
    fn assertion(&self, a: &ast::Assertion) -> R<ir::StmtKind> {
        let operands = a.operands.iter().map(|e| self.expr(e)).collect::<R<Vec<_>>>()?;
        let cond = match a.kind {
            ast::AssertKind::Cond => operands[0].clone(),
            ast::AssertKind::Eq => self.binary(BinOp::Eq, operands[0].clone(), operands[1].clone(), a.span)?,
            ast::AssertKind::Ne => self.binary(BinOp::Ne, operands[0].clone(), operands[1].clone(), a.span)?,
        };
        let mut values = if a.kind == ast::AssertKind::Cond { Vec::new() } else { operands };
        if let Some((_, args)) = &a.message {
            for e in args {
                values.push(self.expr(e)?);
            }
        }
        if let Some(v) = values.iter().find(|v| !(v.ty.is_int() || v.ty.is_float() || v.ty == ScalarType::Bool)) {
            return self.cx.err(a.span, format!("an assertion's message formats integers, floats and bools, not {}", v.ty));
        }
        let mut table = self.asserts.borrow_mut();
        table.push(ir::AssertInfo {
            file: a.file.clone(),
            line: a.span.line,
            column: a.span.column + 1,
            kind: a.kind,
            text: a.text.clone(),
            format: a.message.as_ref().map(|(f, _)| f.clone()),
            types: values.iter().map(|v| v.ty).collect(),
        });
        Ok(ir::StmtKind::Assert { id: (table.len() - 1) as u32, cond, values })
    }

    /// The value assigned by `place op= v` where the place holds `old`: `v`, or `old op v`.
    fn assigned(&self, old: ir::TypedExpr, op: Option<BinOp>, v: ir::TypedExpr, span: Span) -> R<ir::TypedExpr> {
        match op {
            Some(op) => self.binary(op, old, v, span),
            None => Ok(v),
        }
    }

    /// The constant path of `place` inside its root variable or element, and the part's current
    /// value (`root` being the root's): `p.pos[2]` is `[0, 2]` and `Field(root, [0, 2])`.
    fn place_part(&self, place: &Place, root: ir::TypedExpr) -> R<(Vec<u32>, ir::TypedExpr)> {
        let Place::Field { base, field, index, span } = place else { return Ok((Vec::new(), root)) };
        let (mut path, base) = self.place_part(base, root.clone())?;
        let (steps, ty) = self.field_path(base.ty, field, index.as_ref(), *span)?;
        path.extend(steps);
        let part = ir::TypedExpr::new(ir::TypedExprKind::Field(Box::new(root), path.clone()), ty);
        Ok((path, part))
    }

    /// The path steps and type of field `name` (element `index` of an array field) of `t`.
    fn field_path(&self, t: ScalarType, name: &str, index: Option<&ast::SourceExpr>, span: Span) -> R<(Vec<u32>, ScalarType)> {
        let Some((i, ty, len)) = t.field(name) else {
            return self.internal(format!("`{t}` at {span} has no field `{name}`"));
        };
        Ok(match (len, index) {
            (Some(n), Some(k)) => (vec![i, self.cx.field_index(k, n)?], ty),
            (None, None) => (vec![i], ty),
            _ => return self.internal(format!("the field `{name}` at {span} is indexed wrongly")),
        })
    }

    /// `base.path`, one path with `base`'s own when it is a field too (`p.a.b` is one access).
    fn field_of(&self, base: ir::TypedExpr, steps: Vec<u32>, ty: ScalarType) -> ir::TypedExpr {
        match base.kind {
            ir::TypedExprKind::Field(inner, mut path) => {
                path.extend(steps);
                ir::TypedExpr::new(ir::TypedExprKind::Field(inner, path), ty)
            }
            kind => ir::TypedExpr::new(ir::TypedExprKind::Field(Box::new(ir::TypedExpr::new(kind, base.ty)), steps), ty),
        }
    }

    fn elem(&self, a: ArrayRef) -> ScalarType {
        match a {
            ArrayRef::Param(p) => match self.cx.params[p as usize].ty {
                ir::ParamType::Array { elem, .. } => elem,
                ir::ParamType::Scalar(t) => t,
            },
            ArrayRef::Shared(i) => self.cx.shared[i as usize].elem,
            ArrayRef::Local(i) => self.cx.local_arrays[i as usize].elem,
        }
    }

    /// The IR indices of `array[index]`: one an axis for parameters; a 2-D shared array's pair
    /// is flattened to `row * cols + col`.
    pub(super) fn flat_index(&self, a: ArrayRef, index: &[ast::SourceExpr]) -> R<Vec<ir::TypedExpr>> {
        let parts = index.iter().map(|i| self.expr(i)).collect::<R<Vec<_>>>()?;
        self.flatten(a, parts)
    }

    /// Built indices of `a`, one an axis, as the IR takes them (a 2-D shared array's as one).
    fn flatten(&self, a: ArrayRef, parts: Vec<ir::TypedExpr>) -> R<Vec<ir::TypedExpr>> {
        if parts.len() == 1 || matches!(a, ArrayRef::Param(_)) {
            return Ok(parts);
        }
        let cols = match a {
            ArrayRef::Shared(i) => self.cx.shared.get(i as usize).and_then(|s| s.dims.get(1).copied()),
            _ => None,
        };
        let (Some(cols), [row, col]) = (cols, &parts[..]) else {
            return self.internal("two indices into an array that is not a 2-D shared array");
        };
        let (row, col) = (row.clone(), col.clone());
        let u = ScalarType::U64;
        let c = ir::TypedExpr::new(ir::TypedExprKind::Const(Const::Int(cols)), u);
        let scaled = ir::TypedExpr::new(ir::TypedExprKind::Binary(BinOp::Mul, Box::new(row), Box::new(c)), u);
        Ok(vec![ir::TypedExpr::new(ir::TypedExprKind::Binary(BinOp::Add, Box::new(scaled), Box::new(col)), u)])
    }

    /// A call: specializes the callee for the argument types (once per kernel) and builds the
    /// call of that specialization.
    fn call(&self, e: &ast::SourceExpr, name: &str, args: &[ast::SourceExpr], ty: ScalarType) -> R<ir::TypedExpr> {
        let callee = match self.cx.src.callees.iter().find(|c| c.name == name) {
            Some(c) => *c,
            None => return self.internal(format!("the callee `{name}` at {} is not known", e.span)),
        };
        let csrc = (callee.source)();
        let Some(generics) = self.cx.call_generics.get(e.id) else {
            return self.internal(format!("the call at {} has no inferred type parameters", e.span));
        };
        let types: Vec<ScalarType> = generics
            .iter()
            .zip(&csrc.generics)
            .map(|(s, g)| match s {
                Some(s) => self.types[*s],
                None if g.bound.admits(ScalarType::F32) => ScalarType::F32,
                None => ScalarType::I32,
            })
            .collect();
        for (t, g) in types.iter().zip(&csrc.generics) {
            if !g.bound.admits(*t) {
                return self.cx.err(e.span, format!("type parameter `{}: {}` of `{name}` cannot be {t}", g.name, g.bound.name()));
            }
        }
        let Some(mut key) = SpecKey::new(&types) else {
            return self.cx.err(e.span, format!("`{name}` has more than {MAX_GENERICS} type parameters"));
        };
        let mut call_args = Vec::with_capacity(args.len());
        for (i, (a, p)) in args.iter().zip(&csrc.params).enumerate() {
            match &p.kind {
                ParamKind::Scalar(_) => call_args.push(ir::CallArg::Value(self.expr(a)?)),
                ParamKind::Slice { .. } => {
                    let r = match self.binding(a)? {
                        Binding::Array(r) => r,
                        Binding::Local(_) => return self.internal(format!("the array argument at {} is a local", a.span)),
                    };
                    let contiguous = match r {
                        ArrayRef::Param(p) => !matches!(self.cx.params[p as usize].ty, ir::ParamType::Array { contiguous: false, .. }),
                        _ => true,
                    };
                    if !contiguous && i < 32 {
                        key.strided |= 1 << i;
                    }
                    call_args.push(ir::CallArg::Array(r));
                }
            }
        }
        let func = self.function(callee, key, e.span)?;
        Ok(ir::TypedExpr::new(ir::TypedExprKind::Call { func, args: call_args }, ty))
    }

    /// The index of `callee`'s specialization for `key`, specializing it on first use.
    fn function(&self, callee: ast::Callee, key: SpecKey, span: Span) -> R<u32> {
        {
            let t = self.table.borrow();
            if let Some(i) = t.done.iter().position(|(n, k, _)| *n == callee.name && *k == key) {
                return Ok(i as u32);
            }
            if t.in_progress.iter().any(|(n, k)| *n == callee.name && *k == key) {
                return self.cx.err(span, format!("`{}` calls itself: recursion is not supported in device functions", callee.name));
            }
        }
        self.table.borrow_mut().in_progress.push((callee.name, key));
        let f = specialize_body((callee.source)(), &key, self.table, self.debug, self.lines);
        self.table.borrow_mut().in_progress.pop();
        let mut t = self.table.borrow_mut();
        t.done.push((callee.name, key, f?));
        Ok((t.done.len() - 1) as u32)
    }

    /// Builds `a op b`, checking that `op` is defined on the operands' type.
    fn binary(&self, op: BinOp, a: ir::TypedExpr, b: ir::TypedExpr, span: Span) -> R<ir::TypedExpr> {
        let t = a.ty;
        if a.ty.is_struct() || b.ty.is_struct() {
            let on = if a.ty.is_struct() { a.ty } else { b.ty };
            return self.cx.err(span, format!("operator `{}` is not defined on the struct `{on}`; apply it to its fields", op.symbol()));
        }
        if a.ty.is_complex() || b.ty.is_complex() {
            let Some(ty) = crate::complex::binary_result(op, a.ty, b.ty) else {
                let on = if a.ty == b.ty { a.ty.to_string() } else { format!("{} and {}", a.ty, b.ty) };
                return self.cx.err(span, format!("operator `{}` is not defined on {on}", op.symbol()));
            };
            return Ok(ir::TypedExpr::new(ir::TypedExprKind::Binary(op, Box::new(a), Box::new(b)), ty));
        }
        let ok = if op.is_logical() || op.is_comparison() {
            true
        } else if op.is_shift() {
            t.is_int() && b.ty.is_int()
        } else if matches!(op, BinOp::BitAnd | BinOp::BitOr | BinOp::BitXor) {
            t.is_int() || t == ScalarType::Bool
        } else {
            t.is_numeric()
        };
        if !ok {
            return self.cx.err(span, format!("operator `{}` is not defined on {t}", op.symbol()));
        }
        let ty = if op.is_comparison() { ScalarType::Bool } else { t };
        Ok(ir::TypedExpr::new(ir::TypedExprKind::Binary(op, Box::new(a), Box::new(b)), ty))
    }

    pub(super) fn expr(&self, e: &ast::SourceExpr) -> R<ir::TypedExpr> {
        let ty = self.ty(e)?;
        let not_array = || self.internal(format!("the array at {} is not an array", e.span));
        let kind = match &e.kind {
            ExprKind::Int(v, _) => ir::TypedExprKind::Const(Const::Int(*v as u64)),
            ExprKind::Float(v, _) => ir::TypedExprKind::Const(Const::Float(*v)),
            ExprKind::Bool(b) => ir::TypedExprKind::Const(Const::Bool(*b)),
            ExprKind::TypeConst(t, c) => {
                let t = self.cx.type_of_ref(t);
                match c.value(t) {
                    Some(ConstValue::Int(bits)) => ir::TypedExprKind::Const(Const::Int(bits)),
                    Some(ConstValue::Float(v)) => ir::TypedExprKind::Const(Const::Float(v)),
                    None => return self.cx.err(e.span, format!("`{t}` has no associated constant `{}`", c.rust_name())),
                }
            }
            ExprKind::Var(_) => match self.binding(e)? {
                Binding::Local(l) => ir::TypedExprKind::Local(l),
                Binding::Array(_) => return self.internal(format!("the array at {} is used as a value", e.span)),
            },
            ExprKind::Index { index, .. } => match self.binding(e)? {
                Binding::Array(p) => ir::TypedExprKind::Load { array: p, index: self.flat_index(p, index)? },
                Binding::Local(_) => return not_array(),
            },
            ExprKind::Atomic { op, operands, .. } => match self.binding(e)? {
                Binding::Array(p) => {
                    if !atomic_allowed(*op, ty) {
                        let types = if matches!(op, AtomicOp::And | AtomicOp::Or | AtomicOp::Xor) {
                            "i32, u32, i64 and u64"
                        } else {
                            "i32, u32, i64, u64, f32 and f64"
                        };
                        return self.cx.err(e.span, format!("`{}` is supported on {types}, not on {ty}", op.name()));
                    }
                    let index = self.flat_index(p, &operands[..1])?;
                    let values = operands[1..].iter().map(|v| self.expr(v)).collect::<R<Vec<_>>>()?;
                    ir::TypedExprKind::Atomic { op: *op, array: p, index, values }
                }
                Binding::Local(_) => return not_array(),
            },
            ExprKind::ArrayDim { axis, stride, .. } => match self.binding(e)? {
                Binding::Array(ArrayRef::Param(p)) => ir::TypedExprKind::ArrayDim { array: p, axis: *axis, stride: *stride },
                _ => return not_array(),
            },
            ExprKind::Len(_) => match self.binding(e)? {
                Binding::Array(p) => ir::TypedExprKind::Len(p),
                Binding::Local(_) => return not_array(),
            },
            ExprKind::Builtin(b, _) => ir::TypedExprKind::Special(*b),
            ExprKind::Call(name, args) => return self.call(e, name, args, ty),
            ExprKind::Collective(c, args) => {
                let args = args.iter().map(|a| self.expr(a)).collect::<R<Vec<_>>>()?;
                if let Some((v, _)) = args.iter().zip(c.operands()).find(|(_, o)| o.fixed().is_none()) {
                    if !c.admits(v.ty) {
                        return self.cx.err(e.span, format!("`{}` takes i32, u32, i64 or u64 values, not {}", c.name(), v.ty));
                    }
                }
                ir::TypedExprKind::Collective(*c, args)
            }
            ExprKind::Field(base, name) => {
                let base = self.expr(base)?;
                let (steps, t) = self.field_path(base.ty, name, None, e.span)?;
                return Ok(self.field_of(base, steps, t));
            }
            ExprKind::FieldElement(base, name, index) => {
                let base = self.expr(base)?;
                let (steps, t) = self.field_path(base.ty, name, Some(index), e.span)?;
                return Ok(self.field_of(base, steps, t));
            }
            ExprKind::Construct(_, fields) => {
                // The fields in declaration order, an array field's elements in order.
                let Some(def) = ty.struct_def() else {
                    return self.internal(format!("the struct literal at {} is not of a struct", e.span));
                };
                let mut values = Vec::new();
                for f in def.fields {
                    let Some((_, given)) = fields.iter().find(|(n, _)| n == f.name) else {
                        return self.internal(format!("field `{}` at {} was not given", f.name, e.span));
                    };
                    for v in given {
                        values.push(self.expr(v)?);
                    }
                }
                ir::TypedExprKind::Construct(values)
            }
            ExprKind::Complex(f, args) => ir::TypedExprKind::Complex(*f, args.iter().map(|a| self.expr(a)).collect::<R<Vec<_>>>()?),
            ExprKind::Math(f, args) if args.first().and_then(|a| self.ty(a).ok()).is_some_and(ScalarType::is_complex) => {
                let Some(c) = ComplexFn::of_math(*f) else {
                    return self.cx.err(e.span, format!("`{}` is not defined on complex numbers", f.method()));
                };
                ir::TypedExprKind::Complex(c, args.iter().map(|a| self.expr(a)).collect::<R<Vec<_>>>()?)
            }
            ExprKind::Math(f, args) => {
                if args.len() != f.arity() {
                    return self.cx.err(e.span, format!("`{}` takes {} argument(s)", f.method(), f.arity() - 1));
                }
                let args = args.iter().map(|a| self.expr(a)).collect::<R<Vec<_>>>()?;
                let recv = args[0].ty;
                if !f.admits(recv) {
                    return self.cx.err(e.span, format!("`{}` is defined on {}, not on {recv}", f.method(), f.domain().describe()));
                }
                if f.result(recv) != Some(ty) {
                    return self.internal(format!("`{}` on {recv} inferred as {ty}", f.method()));
                }
                ir::TypedExprKind::Math(*f, args)
            }
            ExprKind::Unary(op, a) => {
                let a = self.expr(a)?;
                let ok = match op {
                    UnOp::Neg => ty.is_signed_int() || ty.is_float() || ty.is_complex(),
                    UnOp::Not => ty == ScalarType::Bool || ty.is_int(),
                };
                if !ok {
                    let sym = if *op == UnOp::Neg { "-" } else { "!" };
                    return self.cx.err(e.span, format!("unary `{sym}` is not defined on {ty}"));
                }
                ir::TypedExprKind::Unary(*op, Box::new(a))
            }
            ExprKind::Cast(a, _) => {
                let a = self.expr(a)?;
                if !cast_allowed(a.ty, ty) {
                    return self.cx.err(e.span, format!("cannot cast {} as {ty}", a.ty));
                }
                ir::TypedExprKind::Cast(Box::new(a))
            }
            ExprKind::Random(draw, _) => match self.cx.rng_ref.get(e.id) {
                Some(&[seed, subsequence, drawn]) => ir::TypedExprKind::Random { draw: *draw, seed, subsequence, drawn },
                None => return self.internal(format!("the generator at {} is not resolved", e.span)),
            },
            ExprKind::FromBits(_, a) => {
                let a = self.expr(a)?;
                if !ty.is_float() {
                    return self.cx.err(e.span, format!("`from_bits` gives a float; `{ty}` is not one"));
                }
                ir::TypedExprKind::FromBits(Box::new(a))
            }
            ExprKind::Binary(op, a, b) => return self.binary(*op, self.expr(a)?, self.expr(b)?, e.span),
        };
        Ok(ir::TypedExpr::new(kind, ty))
    }
}
