//! The typed, target-independent kernel IR.
//!
//! One IR serves both targets: [`crate::specialize`] produces it from the source AST and a concrete
//! signature, [`crate::verify`] checks it, and [`crate::lower`] emits LLVM IR from it for any
//! [`crate::target::Target`]. It is structured (blocks, `if`, loops) rather than a CFG: every
//! expression carries its concrete type, every variable is a numbered local, and array parameters
//! are explicit. `Display` prints a readable Rust-like text form (see `GPUJIT_DUMP_DIR`).

use crate::ast::{BinOp, Builtin, KernelOptions, UnOp};
use crate::math::MathFn;
use crate::types::ScalarType;
use std::fmt::{self, Write as _};

pub type LocalId = u32;
pub type ParamId = u32;

/// The concrete type of a kernel parameter.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum ParamType {
    Scalar(ScalarType),
    /// A 1-D contiguous array of `elem`, written by the kernel when `mutable`.
    Array {
        elem: ScalarType,
        mutable: bool,
    },
}

impl fmt::Display for ParamType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamType::Scalar(t) => write!(f, "{t}"),
            ParamType::Array { elem, mutable: true } => write!(f, "&mut [{elem}]"),
            ParamType::Array { elem, mutable: false } => write!(f, "&[{elem}]"),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    pub name: String,
    pub ty: ParamType,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Local {
    pub name: String,
    pub ty: ScalarType,
}

/// A kernel specialized to one concrete signature.
#[derive(Clone, Debug, PartialEq)]
pub struct Kernel {
    pub name: String,
    pub params: Vec<Param>,
    pub locals: Vec<Local>,
    pub body: Vec<Stmt>,
    pub options: KernelOptions,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Stmt {
    /// `local = value`
    Assign {
        local: LocalId,
        value: Expr,
    },
    /// `array[index] = value`
    Store {
        array: ParamId,
        index: Expr,
        value: Expr,
    },
    If {
        cond: Expr,
        then: Vec<Stmt>,
        otherwise: Vec<Stmt>,
    },
    While {
        cond: Expr,
        body: Vec<Stmt>,
    },
    /// Rust's `for var in (start..end).step_by(step)` (`..=` when `inclusive`), `step` a u64.
    /// The counter never overflows; a step of 0 runs no iteration.
    ForRange {
        var: LocalId,
        start: Expr,
        end: Expr,
        step: Expr,
        inclusive: bool,
        body: Vec<Stmt>,
    },
    Break,
    Continue,
    Return,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub ty: ScalarType,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// A constant; integers hold their two's-complement bits, floats their value.
    Const(Const),
    Local(LocalId),
    /// The value of a scalar parameter.
    Param(ParamId),
    /// `array[index]`, `index` a u64.
    Load {
        array: ParamId,
        index: Box<Expr>,
    },
    /// The length of an array parameter, a u64.
    Len(ParamId),
    Unary(UnOp, Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// Rust's `as` conversion of the operand to `self.ty`.
    Cast(Box<Expr>),
    /// A thread-model intrinsic, a u64.
    Special(Builtin),
    /// A math method on its operands (receiver first).
    Math(MathFn, Vec<Expr>),
}

#[derive(Copy, Clone, Debug, PartialEq)]
pub enum Const {
    Int(u64),
    Float(f64),
    Bool(bool),
}

impl Expr {
    pub fn new(kind: ExprKind, ty: ScalarType) -> Expr {
        Expr { kind, ty }
    }
}

impl Kernel {
    /// The signature in Rust syntax, e.g. `(a: f32, x: &[f32], y: &mut [f32])`.
    pub fn signature(&self) -> String {
        let mut s = String::from("(");
        for (i, p) in self.params.iter().enumerate() {
            if i > 0 {
                s.push_str(", ");
            }
            let _ = write!(s, "{}: {}", p.name, p.ty);
        }
        s.push(')');
        s
    }

    fn local_name(&self, id: LocalId) -> String {
        match self.locals.get(id as usize) {
            Some(l) => format!("{}_{id}", l.name),
            None => format!("<bad local {id}>"),
        }
    }

    fn param_name(&self, id: ParamId) -> &str {
        self.params.get(id as usize).map(|p| p.name.as_str()).unwrap_or("<bad param>")
    }

    fn write_expr(&self, out: &mut String, e: &Expr) {
        match &e.kind {
            ExprKind::Const(Const::Int(v)) => {
                if e.ty.is_signed_int() {
                    let shift = 64 - e.ty.bits();
                    let _ = write!(out, "{}{}", ((*v << shift) as i64) >> shift, e.ty);
                } else {
                    let _ = write!(out, "{v}{}", e.ty);
                }
            }
            ExprKind::Const(Const::Float(v)) => {
                let _ = write!(out, "{v:?}{}", e.ty);
            }
            ExprKind::Const(Const::Bool(b)) => {
                let _ = write!(out, "{b}");
            }
            ExprKind::Local(id) => out.push_str(&self.local_name(*id)),
            ExprKind::Param(id) => out.push_str(self.param_name(*id)),
            ExprKind::Load { array, index } => {
                out.push_str(self.param_name(*array));
                out.push('[');
                self.write_expr(out, index);
                out.push(']');
            }
            ExprKind::Len(id) => {
                let _ = write!(out, "{}.len()", self.param_name(*id));
            }
            ExprKind::Unary(op, a) => {
                out.push_str(match op {
                    UnOp::Neg => "-",
                    UnOp::Not => "!",
                });
                self.write_expr(out, a);
            }
            ExprKind::Binary(op, a, b) => {
                out.push('(');
                self.write_expr(out, a);
                let _ = write!(out, " {} ", op.symbol());
                self.write_expr(out, b);
                out.push(')');
            }
            ExprKind::Cast(a) => {
                out.push('(');
                self.write_expr(out, a);
                let _ = write!(out, " as {})", e.ty);
            }
            ExprKind::Special(b) => {
                let _ = write!(out, "{}()", b.name());
            }
            ExprKind::Math(f, args) => {
                self.write_expr(out, &args[0]);
                let _ = write!(out, ".{}(", f.method());
                for (i, a) in args[1..].iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    self.write_expr(out, a);
                }
                out.push(')');
            }
        }
    }

    fn write_block(&self, out: &mut String, stmts: &[Stmt], depth: usize) {
        for s in stmts {
            self.write_stmt(out, s, depth);
        }
    }

    fn write_stmt(&self, out: &mut String, s: &Stmt, depth: usize) {
        let pad = "    ".repeat(depth);
        match s {
            Stmt::Assign { local, value } => {
                let _ = write!(out, "{pad}{}: {} = ", self.local_name(*local), value.ty);
                self.write_expr(out, value);
                out.push_str(";\n");
            }
            Stmt::Store { array, index, value } => {
                let _ = write!(out, "{pad}{}[", self.param_name(*array));
                self.write_expr(out, index);
                out.push_str("] = ");
                self.write_expr(out, value);
                out.push_str(";\n");
            }
            Stmt::If { cond, then, otherwise } => {
                let _ = write!(out, "{pad}if ");
                self.write_expr(out, cond);
                out.push_str(" {\n");
                self.write_block(out, then, depth + 1);
                if otherwise.is_empty() {
                    let _ = writeln!(out, "{pad}}}");
                } else {
                    let _ = writeln!(out, "{pad}}} else {{");
                    self.write_block(out, otherwise, depth + 1);
                    let _ = writeln!(out, "{pad}}}");
                }
            }
            Stmt::While { cond, body } => {
                let _ = write!(out, "{pad}while ");
                self.write_expr(out, cond);
                out.push_str(" {\n");
                self.write_block(out, body, depth + 1);
                let _ = writeln!(out, "{pad}}}");
            }
            Stmt::ForRange { var, start, end, step, inclusive, body } => {
                let _ = write!(out, "{pad}for {} in (", self.local_name(*var));
                self.write_expr(out, start);
                out.push_str(if *inclusive { "..=" } else { ".." });
                self.write_expr(out, end);
                out.push_str(").step_by(");
                self.write_expr(out, step);
                out.push_str(") {\n");
                self.write_block(out, body, depth + 1);
                let _ = writeln!(out, "{pad}}}");
            }
            Stmt::Break => {
                let _ = writeln!(out, "{pad}break;");
            }
            Stmt::Continue => {
                let _ = writeln!(out, "{pad}continue;");
            }
            Stmt::Return => {
                let _ = writeln!(out, "{pad}return;");
            }
        }
    }
}

impl fmt::Display for Kernel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        let o = &self.options;
        if *o != KernelOptions::default() {
            let _ = writeln!(
                out,
                "#[options(fastmath = {}, launch_bounds = {:?}/{:?}, max_registers = {:?})]",
                o.fastmath, o.max_threads_per_block, o.min_blocks_per_sm, o.max_registers
            );
        }
        let _ = writeln!(out, "kernel {}{} {{", self.name, self.signature());
        self.write_block(&mut out, &self.body, 1);
        out.push_str("}\n");
        f.write_str(&out)
    }
}
