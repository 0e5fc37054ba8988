//! A generated kernel printed as the Rust a user would write (`#[gpu_kernel]`), so a failing one
//! can be pasted into a regression test; and the types of its expressions, for the shrinker.

use super::generate::Case;
use gpujit::codegen::ast::*;
use gpujit::codegen::math::{Host as MathHost, MathFn};
use gpujit::codegen::ScalarType::{self, *};
use std::collections::HashMap;
use std::fmt::Write;

/// Types of names in scope: scalars and arrays' element types.
#[derive(Clone, Default)]
pub struct Types {
    pub vars: HashMap<String, ScalarType>,
    pub arrays: HashMap<String, ScalarType>,
    pub calls: HashMap<String, ScalarType>,
}

fn scalar(t: &TypeRef) -> ScalarType {
    match t {
        TypeRef::Scalar(s) => *s,
        TypeRef::Generic(_) | TypeRef::Named(_) => I32,
    }
}

impl Types {
    pub fn of(&self, e: &SourceExpr) -> ScalarType {
        match &e.kind {
            ExprKind::Int(_, t) => t.unwrap_or(U64),
            ExprKind::Float(_, t) => t.unwrap_or(F64),
            ExprKind::Bool(_) => Bool,
            ExprKind::TypeConst(TypeRef::Scalar(t), c) => c.ty(*t),
            ExprKind::TypeConst(TypeRef::Generic(_) | TypeRef::Named(_), _) => I32,
            ExprKind::Var(n) => self.vars.get(n).copied().unwrap_or(I32),
            ExprKind::Index { array, .. } => self.arrays.get(array).copied().unwrap_or(I32),
            ExprKind::ArrayDim { stride, .. } => {
                if *stride {
                    I64
                } else {
                    U64
                }
            }
            ExprKind::Len(_) | ExprKind::Builtin(..) => U64,
            ExprKind::Unary(_, a) => self.of(a),
            ExprKind::Binary(op, a, _) => {
                if op.is_comparison() || op.is_logical() {
                    Bool
                } else {
                    self.of(a)
                }
            }
            ExprKind::Cast(_, t) => scalar(t),
            ExprKind::Math(f, a) => f.result(self.of(&a[0])).unwrap_or(I32),
            ExprKind::FromBits(t, _) => scalar(t),
            ExprKind::Random(d, _) => d.ty(),
            ExprKind::Field(..) | ExprKind::FieldElement(..) | ExprKind::Construct(..) | ExprKind::Complex(..) => {
                unreachable!("the fuzzer generates no complex numbers or structs")
            }
            ExprKind::Call(n, _) => self.calls.get(n).copied().unwrap_or(I32),
            ExprKind::Collective(c, args) => c.result().unwrap_or_else(|| self.of(&args[1])),
            ExprKind::Atomic { array, .. } => self.arrays.get(array).copied().unwrap_or(I32),
        }
    }

    /// Records what `s` declares.
    pub fn declare(&mut self, s: &Stmt) {
        match s {
            Stmt::Let { name, ty: Some(t), .. } => {
                self.vars.insert(name.clone(), scalar(t));
            }
            Stmt::Let { name, init: Some(e), .. } => {
                let t = self.of(e);
                self.vars.insert(name.clone(), t);
            }
            Stmt::For { var, range, .. } => {
                let t = self.of(&range.start);
                self.vars.insert(var.clone(), t);
            }
            Stmt::Local { name, elem, .. } | Stmt::Shared { name, elem, .. } => {
                self.arrays.insert(name.clone(), scalar(elem));
            }
            _ => {}
        }
    }

    /// The types of a kernel's (or device function's) parameters.
    pub fn params(&mut self, src: &KernelSource) {
        for p in &src.params {
            match &p.kind {
                ParamKind::Scalar(t) => {
                    self.vars.insert(p.name.clone(), scalar(t));
                }
                ParamKind::Slice { elem, .. } => {
                    self.arrays.insert(p.name.clone(), scalar(elem));
                }
            }
        }
    }
}

struct Printer<'t> {
    types: &'t mut Types,
    out: String,
    /// A generator's name and seed, between the `let`s of its state.
    philox_seed: Option<(String, String)>,
}

impl Printer<'_> {
    fn expr(&self, e: &SourceExpr) -> String {
        match &e.kind {
            ExprKind::Int(x, t) => format!("{x}{}", t.map(|t| t.name()).unwrap_or("")),
            ExprKind::Float(x, t) => format!("{x:?}{}", t.map(|t| t.name()).unwrap_or("")),
            ExprKind::Bool(b) => b.to_string(),
            ExprKind::TypeConst(TypeRef::Scalar(t), c) => format!("{t}::{}", c.rust_name()),
            ExprKind::TypeConst(TypeRef::Generic(g), c) => format!("T{g}::{}", c.rust_name()),
            ExprKind::TypeConst(TypeRef::Named(n), c) => format!("{n}::{}", c.rust_name()),
            ExprKind::Var(n) => n.clone(),
            ExprKind::Index { array, index } => {
                let ix: Vec<String> = index.iter().map(|i| self.expr(i)).collect();
                if ix.len() == 1 {
                    format!("{array}[{}]", ix[0])
                } else {
                    format!("{array}[[{}]]", ix.join(", "))
                }
            }
            ExprKind::ArrayDim { array, axis, stride } => format!("{array}.{}({axis})", if *stride { "stride" } else { "shape" }),
            ExprKind::Len(a) => format!("{a}.len()"),
            ExprKind::Unary(op, a) => format!("{}({})", if *op == UnOp::Neg { "-" } else { "!" }, self.expr(a)),
            ExprKind::Binary(op, a, b) => format!("({} {} {})", self.expr(a), op.symbol(), self.expr(b)),
            ExprKind::Cast(a, t) => {
                let to = scalar(t);
                if to.is_half() {
                    // `f16::from_f32(x)`: the macro's form is Cast(Cast(x, f32), f16).
                    match &a.kind {
                        ExprKind::Cast(inner, w) => format!("{}::from_{}({})", to.name(), scalar(w).name(), self.expr(inner)),
                        _ => format!("{}::from_{}({})", to.name(), self.types.of(a).name(), self.expr(a)),
                    }
                } else if self.types.of(a).is_half() {
                    format!("({}).to_{}()", self.expr(a), to.name())
                } else {
                    format!("({} as {})", self.expr(a), to.name())
                }
            }
            ExprKind::Builtin(b, _) => match b {
                Builtin::Grid(_) => "grid(1)".to_string(),
                Builtin::GridSize(_) => "grid_size(1)".to_string(),
                other => format!("{}()", other.name()),
            },
            ExprKind::Math(f, args) => {
                let rest: Vec<String> = args[1..].iter().map(|a| self.expr(a)).collect();
                let recv = self.expr(&args[0]);
                match f.host() {
                    MathHost::Function => format!("{}({recv}, {})", f.method(), rest.join(", ")),
                    // A field of a tuple-valued method: `x.overflowing_add(y).1`.
                    MathHost::Part => {
                        let (pair, k) = MathFn::ALL
                            .iter()
                            .find_map(|p| p.parts().and_then(|ps| ps.iter().position(|q| q == f).map(|k| (*p, k))))
                            .unwrap_or((*f, 0));
                        format!("({recv}).{}({}).{k}", pair.method(), rest.join(", "))
                    }
                    _ => format!("({recv}).{}({})", f.method(), rest.join(", ")),
                }
            }
            ExprKind::FromBits(t, a) => format!("{}::from_bits({})", scalar(t).name(), self.expr(a)),
            ExprKind::Random(d, r) => format!("{r}.{}()", d.method()),
            ExprKind::Field(..) | ExprKind::FieldElement(..) | ExprKind::Construct(..) | ExprKind::Complex(..) => {
                unreachable!("the fuzzer generates no complex numbers or structs")
            }
            ExprKind::Call(n, args) => format!("{n}({})", args.iter().map(|a| self.expr(a)).collect::<Vec<_>>().join(", ")),
            ExprKind::Collective(c, args) => format!("{}({})", c.name(), args.iter().map(|a| self.expr(a)).collect::<Vec<_>>().join(", ")),
            ExprKind::Atomic { op, array, operands } => {
                format!("{}({array}, {})", op.name(), operands.iter().map(|o| self.expr(o)).collect::<Vec<_>>().join(", "))
            }
        }
    }

    fn line(&mut self, depth: usize, s: &str) {
        let _ = writeln!(self.out, "{}{s}", "    ".repeat(depth));
    }

    fn block(&mut self, b: &Block, depth: usize) {
        for s in &b.stmts {
            self.stmt(s, depth);
        }
    }

    fn stmt(&mut self, s: &Stmt, d: usize) {
        match s {
            // A generator's state, as the macro desugars `let mut g = Philox::new(seed, sub);`.
            Stmt::Let { name, init: Some(e), .. } if gpujit::codegen::random::state_local_of(name).is_some() => {
                let text = self.expr(e);
                match gpujit::codegen::random::state_local_of(name) {
                    Some((g, 0)) => self.philox_seed = Some((g.to_string(), text)),
                    Some((_, 1)) => {
                        if let Some((g, seed)) = self.philox_seed.take() {
                            self.line(d, &format!("let mut {g} = Philox::new({seed}, {text});"));
                        }
                    }
                    _ => {}
                }
            }
            Stmt::Let { name, mutable, ty, init, .. } => {
                let m = if *mutable { "mut " } else { "" };
                let t = ty.as_ref().map(|t| format!(": {}", scalar(t).name())).unwrap_or_default();
                let i = init.as_ref().map(|e| format!(" = {}", self.expr(e))).unwrap_or_default();
                self.line(d, &format!("let {m}{name}{t}{i};"));
            }
            Stmt::Assign { place, op, value, .. } => {
                let p = match place {
                    Place::Var(n, _) => n.clone(),
                    Place::Index { array, index, .. } => format!("{array}[{}]", self.expr(&index[0])),
                    Place::Field { .. } => unreachable!("the fuzzer generates no complex numbers"),
                };
                let op = op.map(|o| o.symbol()).unwrap_or("");
                let v = self.expr(value);
                self.line(d, &format!("{p} {op}= {v};"));
            }
            Stmt::If { cond, then, otherwise, .. } => {
                let c = self.expr(cond);
                self.line(d, &format!("if {c} {{"));
                self.block(then, d + 1);
                if let Some(o) = otherwise {
                    self.line(d, "} else {");
                    self.block(o, d + 1);
                }
                self.line(d, "}");
            }
            Stmt::While { cond, body, label, .. } => {
                let l = label.as_ref().map(|l| format!("'{l}: ")).unwrap_or_default();
                if cond.kind == ExprKind::Bool(true) {
                    self.line(d, &format!("{l}loop {{"));
                } else {
                    let c = self.expr(cond);
                    self.line(d, &format!("{l}while {c} {{"));
                }
                self.block(body, d + 1);
                self.line(d, "}");
            }
            Stmt::For { var, range, body, label, .. } => {
                let l = label.as_ref().map(|l| format!("'{l}: ")).unwrap_or_default();
                let dots = if range.inclusive { "..=" } else { ".." };
                let mut r = format!("({}{dots}{})", self.expr(&range.start), self.expr(&range.end));
                if range.reverse {
                    r.push_str(".rev()");
                }
                if let Some(s) = &range.step {
                    r = format!("{r}.step_by({})", self.expr(s));
                }
                self.types.declare(s);
                self.line(d, &format!("{l}for {var} in {r} {{"));
                self.block(body, d + 1);
                self.line(d, "}");
            }
            Stmt::Block(b) => {
                self.line(d, "{");
                self.block(b, d + 1);
                self.line(d, "}");
            }
            Stmt::Break(l, _) => self.line(d, &format!("break{};", l.as_ref().map(|l| format!(" '{l}")).unwrap_or_default())),
            Stmt::Continue(l, _) => self.line(d, &format!("continue{};", l.as_ref().map(|l| format!(" '{l}")).unwrap_or_default())),
            Stmt::Return(e, _) => {
                let v = e.as_ref().map(|e| format!(" {}", self.expr(e))).unwrap_or_default();
                self.line(d, &format!("return{v};"));
            }
            Stmt::Shared { name, elem, dims, .. } => {
                self.line(d, &format!("let mut {name} = shared_array::<{}, {}>();", scalar(elem).name(), self.expr(&dims[0])));
            }
            Stmt::Local { name, elem, len, .. } => {
                let len = self.expr(len);
                self.line(d, &format!("let mut {name} = local_array::<{}, {len}>();", scalar(elem).name()));
            }
            Stmt::Barrier(_) => self.line(d, "sync_threads();"),
            Stmt::GridBarrier(_) => self.line(d, "grid_sync();"),
            Stmt::Fence(..) => self.line(d, "threadfence();"),
            Stmt::Assert(_) | Stmt::Print(_) | Stmt::Asm(_) | Stmt::Bulk(_) => {
                unreachable!("the fuzzer generates no assertions, prints, inline PTX or bulk operations")
            }
            Stmt::Eval(e) => {
                let v = self.expr(e);
                self.line(d, &format!("{v};"));
            }
        }
        self.types.declare(s);
    }
}

fn signature(src: &KernelSource) -> String {
    src.params
        .iter()
        .map(|p| match &p.kind {
            ParamKind::Scalar(t) => format!("{}: {}", p.name, scalar(t).name()),
            ParamKind::Slice { elem, mutable, .. } => {
                format!("{}: &{}[{}]", p.name, if *mutable { "mut " } else { "" }, scalar(elem).name())
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The case's kernel and device functions as Rust source.
pub fn rust(case: &Case) -> String {
    let mut calls = HashMap::new();
    for d in &case.devices {
        calls.insert(d.name.clone(), d.ret.as_ref().map(scalar).unwrap_or(I32));
    }
    let mut out = String::new();
    for d in case.devices.iter().chain(std::iter::once(&case.source)) {
        let mut types = Types { calls: calls.clone(), ..Types::default() };
        types.params(d);
        let mut p = Printer { types: &mut types, out: String::new(), philox_seed: None };
        if d.device {
            p.line(0, "#[gpu_device]");
            let ret = d.ret.as_ref().map(|t| format!(" -> {}", scalar(t).name())).unwrap_or_default();
            p.line(0, &format!("fn {}({}){ret} {{", d.name, signature(d)));
        } else {
            p.line(0, if d.options.boundscheck { "#[gpu_kernel(boundscheck)]" } else { "#[gpu_kernel]" });
            p.line(0, &format!("fn {}({}) {{", d.name, signature(d)));
        }
        p.block(&d.body, 1);
        p.line(0, "}");
        out.push_str(&p.out);
    }
    let _ = writeln!(out, "// launched as [{}, {}] on:", case.grid, case.block);
    for a in &case.arrays {
        let vals: Vec<String> = a.data.iter().map(|v| format!("{:#x}", v.b)).collect();
        let _ = writeln!(out, "// {} ({}, bits): [{}]", a.name, a.elem.name(), vals.join(", "));
    }
    for (n, v) in &case.scalars {
        let _ = writeln!(out, "// {n} ({}, bits): {:#x}", v.t.name(), v.b);
    }
    out
}
