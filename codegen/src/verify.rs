//! The IR verifier: checks the typing rules and structural invariants of a specialized kernel
//! before it is lowered, so that a bug in specialization is reported as such rather than as an
//! LLVM crash or a miscompiled kernel.

use crate::ast::AtomicOp;
use crate::ast::{BinOp, UnOp};
use crate::complex::{ComplexFn, Operand};
use crate::error::CompileError;
use crate::ir::{ArrayRef, CallArg, Const, Kernel, ParamType, Stmt, StmtKind, TypedExpr, TypedExprKind};
use crate::types::ScalarType;

/// Checks `kernel`; the error names the first broken rule.
pub fn verify(kernel: &Kernel) -> Result<(), CompileError> {
    let err = |message| CompileError::Verify { kernel: kernel.name.clone(), message, ir: kernel.to_string() };
    for f in std::iter::once(kernel).chain(&kernel.functions) {
        if !f.functions.is_empty() && !std::ptr::eq(f, kernel) {
            return Err(err(format!("device function `{}` holds functions of its own", f.name)));
        }
        let v = Verifier { k: f, functions: &kernel.functions };
        v.block(&f.body, 0).map_err(|m| err(format!("in `{}`: {m}", f.name)))?;
    }
    Ok(())
}

/// Whether the atomic `op` is supported on elements of type `t` (on both targets).
pub fn atomic_allowed(op: AtomicOp, t: ScalarType) -> bool {
    let word = matches!(t, ScalarType::I32 | ScalarType::U32 | ScalarType::I64 | ScalarType::U64);
    match op {
        AtomicOp::And | AtomicOp::Or | AtomicOp::Xor => word,
        // f16 and bf16: add only (as CUDA).
        AtomicOp::Add => word || t.is_float(),
        _ => word || (t.is_float() && !t.is_half()),
    }
}

/// Whether Rust's `as` allows converting `from` to `to`.
pub fn cast_allowed(from: ScalarType, to: ScalarType) -> bool {
    if from == to {
        return true;
    }
    match (from, to) {
        (_, ScalarType::Bool) => false,
        (ScalarType::Bool, t) => t.is_int(),
        (f, t) => f.is_numeric() && t.is_numeric(),
    }
}

struct Verifier<'k> {
    k: &'k Kernel,
    /// The kernel's device functions, which calls index.
    functions: &'k [Kernel],
}

type R = Result<(), String>;

impl Verifier<'_> {
    fn block(&self, stmts: &[Stmt], loops: usize) -> R {
        stmts.iter().try_for_each(|s| self.stmt(s, loops))
    }

    fn array(&self, a: ArrayRef) -> Result<(ScalarType, bool), String> {
        self.k.array_info(a).ok_or_else(|| format!("{a:?} is not an array of the kernel"))
    }

    fn indices(&self, a: ArrayRef, index: &[TypedExpr]) -> R {
        if index.len() != self.k.index_count(a) {
            return Err(format!("{a:?} indexed with {} indices", index.len()));
        }
        index.iter().try_for_each(|i| self.expect(i, ScalarType::U64, "array index"))
    }

    fn expect(&self, e: &TypedExpr, ty: ScalarType, what: &str) -> R {
        self.expr(e)?;
        if e.ty != ty {
            return Err(format!("{what} has type {} but must be {ty}", e.ty));
        }
        Ok(())
    }

    fn stmt(&self, s: &Stmt, loops: usize) -> R {
        match &s.kind {
            StmtKind::Assign { local, value } => {
                let l = self.k.locals.get(*local as usize).ok_or(format!("local {local} does not exist"))?;
                self.expect(value, l.ty, &format!("value assigned to `{}`", l.name))
            }
            StmtKind::Store { array, index, value } => {
                let (elem, mutable) = self.array(*array)?;
                if !mutable {
                    return Err(format!("store to read-only array {array:?}"));
                }
                self.indices(*array, index)?;
                self.expect(value, elem, "stored value")
            }
            StmtKind::AssignField { local, path, value } => {
                let l = self.k.locals.get(*local as usize).ok_or(format!("local {local} does not exist"))?;
                match l.ty.at_path(path).filter(|_| !path.is_empty()) {
                    Some(t) => self.expect(value, t, &format!("value assigned to a field of `{}`", l.name)),
                    None => Err(format!("local `{}` of {} has no field {path:?}", l.name, l.ty)),
                }
            }
            StmtKind::StoreField { array, index, path, value } => {
                let (elem, mutable) = self.array(*array)?;
                if !mutable {
                    return Err(format!("store to read-only array {array:?}"));
                }
                self.indices(*array, index)?;
                match elem.at_path(path).filter(|_| !path.is_empty()) {
                    Some(t) => self.expect(value, t, "stored field"),
                    None => Err(format!("{elem} has no field {path:?}")),
                }
            }
            StmtKind::If { cond, then, otherwise } => {
                self.expect(cond, ScalarType::Bool, "if condition")?;
                self.block(then, loops)?;
                self.block(otherwise, loops)
            }
            StmtKind::While { cond, body } => {
                self.expect(cond, ScalarType::Bool, "while condition")?;
                self.block(body, loops + 1)
            }
            StmtKind::ForRange { var, start, end, step, body, .. } => {
                let l = self.k.locals.get(*var as usize).ok_or(format!("local {var} does not exist"))?;
                if !l.ty.is_int() {
                    return Err(format!("range loop variable has type {}", l.ty));
                }
                self.expect(start, l.ty, "range start")?;
                self.expect(end, l.ty, "range end")?;
                self.expect(step, ScalarType::U64, "range step")?;
                self.block(body, loops + 1)
            }
            StmtKind::Break(n) | StmtKind::Continue(n) if *n as usize >= loops => Err("break or continue outside its loop".into()),
            StmtKind::Return(None) if self.k.ret.is_some() => Err("`return` without a value in a function returning one".into()),
            StmtKind::Return(Some(v)) => match self.k.ret {
                Some(t) => self.expect(v, t, "returned value"),
                None => Err("`return` with a value in a function returning nothing".into()),
            },
            StmtKind::Break(_)
            | StmtKind::Continue(_)
            | StmtKind::Return(None)
            | StmtKind::Barrier
            | StmtKind::GridBarrier
            | StmtKind::Fence(_) => Ok(()),
            StmtKind::Eval(e) => self.expr(e),
            StmtKind::Print { id, values } => {
                let Some(info) = self.k.prints.get(*id as usize) else { return Err(format!("print {id} is not in the table")) };
                if values.len() != info.types.len() {
                    return Err(format!("print {id} records {} values", values.len()));
                }
                values.iter().zip(&info.types).try_for_each(|(v, t)| self.expect(v, *t, "a printed value"))
            }
            StmtKind::Asm { template, operands } => {
                crate::asm::pieces(template, operands.len())?;
                operands.iter().try_for_each(|(dir, v)| self.asm_operand(*dir, v))
            }
            StmtKind::Bulk { op, operands, values } => {
                let (n, ty) = op.values();
                if values.len() != n {
                    return Err(format!("bulk {} has {} values", op.text(), values.len()));
                }
                values.iter().try_for_each(|v| self.expect(v, ty, "a bulk operation's value"))?;
                self.bulk(*op, operands)
            }
            StmtKind::Assert { id, cond, values } => {
                let Some(info) = self.k.asserts.get(*id as usize) else { return Err(format!("assertion {id} is not in the table")) };
                self.expect(cond, ScalarType::Bool, "assertion")?;
                if values.len() != info.types.len() || values.len() > crate::limits::MAX_ASSERT_VALUES {
                    return Err(format!("assertion {id} records {} values", values.len()));
                }
                values.iter().zip(&info.types).try_for_each(|(v, t)| self.expect(v, *t, "an assertion's value"))
            }
        }
    }

    /// A bulk statement: its operands' arrays, places and types fit the operation (the
    /// specializer's rules, checked again on IR from elsewhere).
    fn bulk(&self, op: crate::ir::BulkOp, operands: &[crate::ir::Element]) -> R {
        use crate::bulk::{async_copy_allowed, vector_allowed};
        use crate::ir::BulkOp;
        let want = op.operand_count();
        if operands.len() != want {
            return Err(format!("bulk {} has {} operands", op.text(), operands.len()));
        }
        let mut info = Vec::new();
        for o in operands {
            self.indices(o.array, &o.index)?;
            let (elem, mutable) = self.array(o.array)?;
            let local_len = match o.array {
                ArrayRef::Local(i) => Some(self.k.local_arrays[i as usize].len),
                _ => None,
            };
            info.push((o.array, elem, mutable, local_len));
        }
        let bad = |why: &str| Err(format!("bulk {}: {why}", op.text()));
        match op {
            BulkOp::Copy { count, asynchronous, .. } => {
                let ((d, de, dm, dl), (s, se, _, sl)) = (info[0], info[1]);
                let n = count as u64;
                if de != se || !dm {
                    return bad("the operands' types differ or the destination is read-only");
                }
                if asynchronous {
                    if !matches!(d, ArrayRef::Shared(_)) || !matches!(s, ArrayRef::Param(_)) || !async_copy_allowed(se, n) {
                        return bad("an asynchronous copy is of 4, 8 or 16 bytes from an array parameter to a shared array");
                    }
                } else if !vector_allowed(se, n) || (dl.is_some() == sl.is_some()) || dl.or(sl).map_or(true, |l| l < n) {
                    return bad("a vector access moves 2 to 16 bytes between an array and a per-thread array of that length");
                }
                Ok(())
            }
            BulkOp::AsyncCommit
            | BulkOp::AsyncWait(_)
            | BulkOp::FenceProxyAsync
            | BulkOp::WgmmaFence
            | BulkOp::WgmmaCommit
            | BulkOp::WgmmaWait(_) => Ok(()),
            BulkOp::BarrierInit | BulkOp::BarrierArrive | BulkOp::BarrierExpectTx | BulkOp::BarrierWait => {
                if !matches!(info[0].0, ArrayRef::Shared(_)) || info[0].1 != ScalarType::U64 {
                    return bad("a barrier is an element of a shared u64 array");
                }
                Ok(())
            }
            BulkOp::TmaLoad => {
                let ((d, _, dm, _), (m, me, _, _), (bar, be, _, _)) = (info[0], info[1], info[2]);
                if !matches!(d, ArrayRef::Shared(_)) || !dm || !matches!(m, ArrayRef::Param(_)) || me != ScalarType::U64 {
                    return bad("a TMA load copies into a shared array with a tensor map parameter");
                }
                if !matches!(bar, ArrayRef::Shared(_)) || be != ScalarType::U64 {
                    return bad("a barrier is an element of a shared u64 array");
                }
                Ok(())
            }
            BulkOp::Wgmma { n, input } => {
                let ((_, ce, _, cl), (a, ae, _, _), (b, be, _, _)) = (info[0], info[1], info[2]);
                if ce != input.acc()
                    || cl.map_or(true, |l| l < n as u64 / 2)
                    || crate::bulk::wgmma_n(n as u64 / 2) != Some(n)
                    || !matches!(a, ArrayRef::Shared(_))
                    || !matches!(b, ArrayRef::Shared(_))
                    || crate::bulk::wgmma_input(ae) != Some(input)
                    || be != ae
                {
                    return bad("wgmma accumulates N / 2 values a thread from A and B tiles of its input type in shared arrays");
                }
                Ok(())
            }
            BulkOp::LdMatrix { matrices, .. } => {
                let ((_, fe, _, fl), (s, se, _, _)) = (info[0], info[1]);
                if fe.size_bytes() != 2
                    || fl.map_or(true, |l| l < 2 * matrices as u64)
                    || !matches!(s, ArrayRef::Shared(_))
                    || se != fe
                    || !matches!(matrices, 1 | 2 | 4)
                {
                    return bad(
                        "ldmatrix loads 1, 2 or 4 matrices of 16-bit elements from a shared array into a per-thread array of twice as many",
                    );
                }
                Ok(())
            }
            BulkOp::Mma(shape) => {
                let (c, a, b) = (info[0], info[1], info[2]);
                let lens = [a.3, b.3, c.3];
                if a.1 != b.1 || lens.iter().any(Option::is_none) {
                    return bad("mma fragments are per-thread arrays, A's and B's of one type");
                }
                let fits = lens.iter().zip(shape.lens()).all(|(l, need)| l.is_some_and(|l| l >= need));
                if shape.input() != a.1 || shape.acc() != c.1 || !fits {
                    return bad("the fragments do not fit the shape");
                }
                Ok(())
            }
        }
    }

    /// A `ptx_asm!` operand: an array element for an address, else a scalar with a register
    /// class (an output a local).
    fn asm_operand(&self, dir: crate::ast::AsmDir, v: &TypedExpr) -> R {
        use crate::ast::AsmDir;
        if matches!(dir, AsmDir::Address | AsmDir::AddressMut) {
            return match &v.kind {
                TypedExprKind::Load { .. } => self.expr(v),
                _ => Err("an inline-PTX address operand is not an array element".into()),
            };
        }
        if crate::ir::ptx_register(v.ty).is_none() {
            return Err(format!("an inline-PTX operand of type {} has no register class", v.ty));
        }
        if dir != AsmDir::In && !matches!(v.kind, TypedExprKind::Local(_)) {
            return Err("an inline-PTX output is not a local".into());
        }
        self.expr(v)
    }

    fn expr(&self, e: &TypedExpr) -> R {
        let t = e.ty;
        match &e.kind {
            TypedExprKind::Const(c) => match (c, t) {
                (Const::Int(_), t) if t.is_int() => Ok(()),
                (Const::Float(_), t) if t.is_float() => Ok(()),
                (Const::Bool(_), ScalarType::Bool) => Ok(()),
                _ => Err(format!("constant {c:?} typed {t}")),
            },
            TypedExprKind::Local(id) => match self.k.locals.get(*id as usize) {
                Some(l) if l.ty == t => Ok(()),
                Some(l) => Err(format!("local `{}` is {} but read as {t}", l.name, l.ty)),
                None => Err(format!("local {id} does not exist")),
            },
            TypedExprKind::Param(id) => match self.k.params.get(*id as usize).map(|p| p.ty) {
                Some(ParamType::Scalar(pt)) if pt == t => Ok(()),
                other => Err(format!("parameter {id} ({other:?}) read as scalar {t}")),
            },
            TypedExprKind::Load { array, index } => {
                let (elem, _) = self.array(*array)?;
                if elem != t {
                    return Err(format!("load of {elem} typed {t}"));
                }
                self.indices(*array, index)
            }
            TypedExprKind::Len(id) => {
                self.array(*id)?;
                if t != ScalarType::U64 {
                    return Err("len() must be u64".into());
                }
                Ok(())
            }
            TypedExprKind::ArrayDim { array, axis, stride } => {
                let ndim = self.k.index_count(ArrayRef::Param(*array));
                let want = if *stride { ScalarType::I64 } else { ScalarType::U64 };
                if self.k.array_info(ArrayRef::Param(*array)).is_none() || *axis as usize >= ndim || t != want {
                    return Err(format!("bad shape/stride query of parameter {array}"));
                }
                Ok(())
            }
            TypedExprKind::Special(_) => {
                if t != ScalarType::U64 {
                    return Err("thread-model intrinsics are u64".into());
                }
                Ok(())
            }
            TypedExprKind::Unary(op, a) => {
                self.expect(a, t, "operand of unary operator")?;
                match op {
                    UnOp::Neg if t.is_signed_int() || t.is_float() || t.is_complex() => Ok(()),
                    UnOp::Not if t == ScalarType::Bool || t.is_int() => Ok(()),
                    _ => Err(format!("unary {op:?} on {t}")),
                }
            }
            TypedExprKind::Random { draw, seed, subsequence, drawn } => {
                for l in [seed, subsequence, drawn] {
                    match self.k.locals.get(*l as usize) {
                        Some(local) if local.ty == ScalarType::U64 => {}
                        _ => return Err(format!("generator state local {l} is not a u64 local")),
                    }
                }
                if t != draw.ty() {
                    return Err(format!("`{}` typed {t}", draw.method()));
                }
                Ok(())
            }
            TypedExprKind::FromBits(a) => {
                self.expr(a)?;
                if !t.is_float() || t.unsigned() != Some(a.ty) {
                    return Err(format!("{t}::from_bits of {}", a.ty));
                }
                Ok(())
            }
            TypedExprKind::Cast(a) => {
                self.expr(a)?;
                if cast_allowed(a.ty, t) {
                    Ok(())
                } else {
                    Err(format!("cast from {} to {t}", a.ty))
                }
            }
            TypedExprKind::Binary(op, a, b) => self.binary(*op, a, b, t),
            TypedExprKind::Atomic { op, array, index, values } => {
                let (elem, writable) = self.array(*array)?;
                if !writable {
                    return Err(format!("atomic on read-only array {array:?}"));
                }
                if matches!(array, ArrayRef::Local(_)) {
                    return Err("atomic on a per-thread array".into());
                }
                if elem != t || !atomic_allowed(*op, elem) {
                    return Err(format!("{} on {elem} typed {t}", op.name()));
                }
                if values.len() != op.values() {
                    return Err(format!("{} with {} values", op.name(), values.len()));
                }
                self.indices(*array, index)?;
                values.iter().try_for_each(|v| self.expect(v, elem, "atomic operand"))
            }
            TypedExprKind::Call { func, args } => {
                let Some(f) = self.functions.get(*func as usize) else {
                    return Err(format!("call of missing function {func}"));
                };
                if args.len() != f.params.len() || f.ret.unwrap_or(ScalarType::U32) != t {
                    return Err(format!("call of `{}` with {} arguments typed {t}", f.name, args.len()));
                }
                for (a, p) in args.iter().zip(&f.params) {
                    match (a, p.ty) {
                        (CallArg::Value(v), ParamType::Scalar(pt)) => self.expect(v, pt, &format!("argument `{}`", p.name))?,
                        (CallArg::Array(r), ParamType::Array { elem, mutable, .. }) => {
                            let (e, writable) = self.array(*r)?;
                            if e != elem || (mutable && !writable) {
                                return Err(format!("array argument `{}` of `{}`", p.name, f.name));
                            }
                        }
                        _ => return Err(format!("argument `{}` of `{}` is of the wrong kind", p.name, f.name)),
                    }
                }
                Ok(())
            }
            TypedExprKind::Collective(c, args) => {
                let ops = c.operands();
                if args.len() != ops.len() {
                    return Err(format!("`{}` with {} operands", c.name(), args.len()));
                }
                let value = args.iter().zip(ops).find(|(_, o)| o.fixed().is_none()).map(|(a, _)| a.ty);
                for (a, o) in args.iter().zip(ops) {
                    self.expect(a, o.fixed().or(value).unwrap_or(a.ty), &format!("operand of `{}`", c.name()))?;
                }
                let want = c.result().or(value).unwrap_or(t);
                if t != want || value.is_some_and(|v| !c.admits(v)) {
                    return Err(format!("`{}` typed {t}", c.name()));
                }
                Ok(())
            }
            TypedExprKind::Field(a, path) => {
                self.expr(a)?;
                if path.is_empty() || a.ty.at_path(path) != Some(t) {
                    return Err(format!("field {path:?} of {} typed {t}", a.ty));
                }
                Ok(())
            }
            TypedExprKind::Construct(args) => {
                let Some(def) = t.struct_def() else { return Err(format!("a struct value typed {t}")) };
                let want: Vec<ScalarType> = def.fields.iter().flat_map(|f| std::iter::repeat(f.ty).take(f.len.unwrap_or(1))).collect();
                if args.len() != want.len() {
                    return Err(format!("`{}` from {} values, not {}", def.name, args.len(), want.len()));
                }
                args.iter().zip(want).try_for_each(|(a, w)| self.expect(a, w, &format!("a field of `{}`", def.name)))
            }
            TypedExprKind::Complex(f, args) => {
                let Some(c) = (if f.ret() == Operand::Complex { Some(t) } else { args.first().map(|a| a.ty) }).filter(|c| c.is_complex())
                else {
                    return Err(format!("`{}` typed {t}", f.spelling()));
                };
                if args.len() != f.params().len() || ComplexFn::type_of(f.ret(), c) != t {
                    return Err(format!("`{}` with {} operands typed {t}", f.spelling(), args.len()));
                }
                for (i, (a, o)) in args.iter().zip(f.params()).enumerate() {
                    self.expect(a, ComplexFn::type_of(*o, c), &format!("operand {i} of `{}`", f.spelling()))?;
                }
                Ok(())
            }
            TypedExprKind::Math(f, args) => {
                if args.len() != f.arity() {
                    return Err(format!("`{}` takes {} operands, has {}", f.method(), f.arity(), args.len()));
                }
                let recv = args[0].ty;
                if f.result(recv) != Some(t) {
                    return Err(format!("`{}` on {recv} typed {t}", f.method()));
                }
                for (i, (a, param)) in args.iter().zip(f.params()).enumerate() {
                    let want = param.fixed().unwrap_or(recv);
                    self.expect(a, want, &format!("operand {i} of `{}`", f.method()))?;
                }
                Ok(())
            }
        }
    }

    fn binary(&self, op: BinOp, a: &TypedExpr, b: &TypedExpr, t: ScalarType) -> R {
        self.expr(a)?;
        self.expr(b)?;
        let sym = op.symbol();
        if a.ty.is_complex() || b.ty.is_complex() {
            if crate::complex::binary_result(op, a.ty, b.ty) != Some(t) {
                return Err(format!("`{sym}` on {} and {} typed {t}", a.ty, b.ty));
            }
        } else if op.is_logical() {
            if a.ty != ScalarType::Bool || b.ty != ScalarType::Bool || t != ScalarType::Bool {
                return Err(format!("`{sym}` needs bool operands"));
            }
        } else if op.is_comparison() {
            if a.ty != b.ty || t != ScalarType::Bool {
                return Err(format!("`{sym}` compares {} with {}", a.ty, b.ty));
            }
        } else if op.is_shift() {
            if !a.ty.is_int() || !b.ty.is_int() || t != a.ty {
                return Err(format!("`{sym}` on {} and {}", a.ty, b.ty));
            }
        } else {
            if a.ty != b.ty || t != a.ty {
                return Err(format!("`{sym}` on {} and {} typed {t}", a.ty, b.ty));
            }
            let ok = match op {
                BinOp::BitAnd | BinOp::BitOr | BinOp::BitXor => t.is_int() || t == ScalarType::Bool,
                _ => t.is_numeric(),
            };
            if !ok {
                return Err(format!("`{sym}` is not defined on {t}"));
            }
        }
        Ok(())
    }
}

/// The verifier on IR written as text (parsed by [`crate::ir_text`]), not reached through the
/// macro and the specializer: what it accepts and what it rejects.
#[cfg(test)]
mod tests {
    use super::verify;
    use crate::ir_text::parse;

    fn verdict(text: &str) -> Result<(), String> {
        let k = parse(text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        verify(&k).map_err(|e| e.to_string())
    }

    #[test]
    fn accepts_a_well_typed_kernel() {
        let ok = "kernel saxpy(a: f32, x: &[f32], y: &mut [f32]) {
            a_0: f32 = a;
            for i_1 in (grid_x()..x.len()).step_by(grid_size_x()) {
                y[i_1] = ((a_0 * x[i_1]) + y[i_1]);
            }
        }";
        assert_eq!(verdict(ok), Ok(()));
    }

    #[test]
    fn rejects_what_the_specializer_never_produces() {
        let cases = [
            // A store into a read-only array.
            ("kernel k(x: &[f32]) { x[0u64] = 1.0f32; }", "read-only"),
            // A value of the wrong type stored.
            ("kernel k(x: &mut [f32]) { x[0u64] = 1u32; }", "u32"),
            // `break` outside any loop.
            ("kernel k(x: &mut [f32]) { break; }", "outside"),
            // An `if` on a non-bool.
            ("kernel k(x: &mut [f32]) { if 1u32 { x[0u64] = 1.0f32; } }", "bool"),
            // Operands of different types.
            ("kernel k(x: &mut [f32]) { x[0u64] = (1.0f32 + 2.0f64); }", "f64"),
            // A compare-and-swap with one value.
            ("kernel k(x: &mut [u32]) { atomic_cas(x, [0u64], 1u32); }", "atomic_cas"),
            // `return v` in a kernel.
            ("kernel k(x: &mut [u32]) { return 1u32; }", "return"),
        ];
        for (text, needle) in cases {
            match verdict(text) {
                Ok(()) => panic!("accepted:\n{text}"),
                Err(e) => assert!(e.contains(needle), "{text}\nrejected for another reason: {e}"),
            }
        }
    }

    #[test]
    fn text_round_trips() {
        let text =
            "#[options(fastmath = true, launch_bounds = Some(256)/None, max_registers = None, boundscheck = false, aligned16 = false, lockstep_all = true, flat_refuse_unproven = true)]
kernel k(x: &Array<f32, 2, strided>, n: i32, out: &mut [f32]) {
    shared t: [f32; [4, 4]];
    local acc: [f32; 2];
    n_0: i32 = n;
    v_1: f32 = (-(1.5f32) * x[[0u64, 1u64]]).abs();
    m_2: i32 = (-5i32 % n_0);
    if ((m_2 < 0i32) && !false) {
        for i_3 in (0u64..=3u64).rev().step_by(1u64) {
            t[i_3] = shfl_xor_sync(4294967295u32, v_1, i_3);
            continue;
        }
    } else {
        out[0u64] = (v_1 as f32);
    }
    sync_threads();
    atomic_add(out, [0u64], (x.stride(1).abs() as f32));
}
";
        let k = parse(text).unwrap();
        let again = parse(&k.to_string()).unwrap();
        assert_eq!(format!("{k:?}"), format!("{again:?}"));
        assert_eq!(k.shared[0].dims, vec![4, 4]);
        assert!(k.options.fastmath && k.options.max_threads_per_block == Some(256));
        assert!(k.options.lockstep_all && k.options.flat_refuse_unproven);
        // Options off by default are printed only when on.
        let plain = parse("kernel p(x: &mut [f32]) { x[0u64] = 1.0f32; }").unwrap();
        let printed = plain.to_string();
        assert!(!printed.contains("lockstep_all") && !printed.contains("flat_refuse_unproven"), "{printed}");
        assert_eq!(format!("{:?}", parse(&printed).unwrap().options), format!("{:?}", plain.options));
    }
}
