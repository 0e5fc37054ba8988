//! `syn` function → the macro's own kernel syntax tree, with spans kept for errors.
//!
//! Everything outside the kernel language is rejected here, at the span of the offending syntax.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{Error, Result};

pub struct Kernel {
    pub options: Options,
    pub name: syn::Ident,
    pub generics: Vec<(String, Bound)>,
    pub params: Vec<Param>,
    pub body: Block,
    /// A device function's return type.
    pub ret: Option<Ty>,
    pub device: bool,
    /// The device functions the body calls (name and the span of its first call).
    pub callees: Vec<(String, Span)>,
}

/// `#[gpu_kernel(fastmath, launch_bounds = 256 | (256, 2), max_registers = 64)]`.
#[derive(Default)]
pub struct Options {
    pub fastmath: bool,
    pub boundscheck: bool,
    pub max_threads: Option<u32>,
    pub min_blocks: Option<u32>,
    pub max_registers: Option<u32>,
}

pub fn options(attr: proc_macro2::TokenStream) -> Result<Options> {
    use syn::parse::Parser;
    let metas = syn::punctuated::Punctuated::<syn::Meta, syn::Token![,]>::parse_terminated.parse2(attr)?;
    let mut o = Options::default();
    let positive = |e: &syn::Expr| -> Result<u32> {
        match strip(e) {
            syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Int(i), .. }) => {
                let v: u32 = i.base10_parse()?;
                if v == 0 {
                    return err(i.span(), "must be at least 1");
                }
                Ok(v)
            }
            other => err(other.span(), "expected an integer literal"),
        }
    };
    for m in metas {
        let key = m.path().get_ident().map(|i| i.to_string()).unwrap_or_default();
        match (key.as_str(), &m) {
            ("fastmath", syn::Meta::Path(_)) => o.fastmath = true,
            ("boundscheck", syn::Meta::Path(_)) => o.boundscheck = true,
            ("launch_bounds", syn::Meta::NameValue(nv)) => match strip(&nv.value) {
                syn::Expr::Tuple(t) if t.elems.len() == 2 => {
                    o.max_threads = Some(positive(&t.elems[0])?);
                    o.min_blocks = Some(positive(&t.elems[1])?);
                }
                v => o.max_threads = Some(positive(v)?),
            },
            ("max_registers", syn::Meta::NameValue(nv)) => o.max_registers = Some(positive(&nv.value)?),
            _ => {
                return err(
                    m.span(),
                    "unknown kernel option; the options are `fastmath`, `boundscheck`, `launch_bounds = N` (or `(N, min_blocks)`) and `max_registers = N`",
                )
            }
        }
    }
    Ok(o)
}

/// The math methods, by Rust name and `MathFn` variant, with the number of arguments they take.
const MATH: &[(&str, &str, usize)] = &[
    ("sqrt", "Sqrt", 0),
    ("exp", "Exp", 0),
    ("exp2", "Exp2", 0),
    ("ln", "Ln", 0),
    ("log2", "Log2", 0),
    ("log10", "Log10", 0),
    ("powf", "Powf", 1),
    ("powi", "Powi", 1),
    ("sin", "Sin", 0),
    ("cos", "Cos", 0),
    ("tan", "Tan", 0),
    ("asin", "Asin", 0),
    ("acos", "Acos", 0),
    ("atan", "Atan", 0),
    ("atan2", "Atan2", 1),
    ("sinh", "Sinh", 0),
    ("cosh", "Cosh", 0),
    ("tanh", "Tanh", 0),
    ("abs", "Abs", 0),
    ("floor", "Floor", 0),
    ("ceil", "Ceil", 0),
    ("round", "Round", 0),
    ("trunc", "Trunc", 0),
    ("min", "Min", 1),
    ("max", "Max", 1),
    ("mul_add", "MulAdd", 2),
    ("hypot", "Hypot", 1),
    ("cbrt", "Cbrt", 0),
    ("recip", "Recip", 0),
    ("signum", "Signum", 0),
    ("copysign", "Copysign", 1),
    ("erf", "Erf", 0),
    ("erfc", "Erfc", 0),
];

#[derive(Copy, Clone)]
pub enum Bound {
    Float,
    Int,
    Number,
    Scalar,
}

/// A type in the kernel language: a scalar type name or a type parameter's index.
#[derive(Clone)]
pub enum Ty {
    Scalar(String),
    Generic(usize),
}

pub enum ParamKind {
    Scalar(Ty),
    Slice { elem: Ty, mutable: bool, ndim: u8 },
}

pub struct Param {
    pub name: String,
    pub kind: ParamKind,
    pub span: Span,
}

pub struct Block {
    pub stmts: Vec<Stmt>,
}

pub enum Stmt {
    Let {
        name: String,
        mutable: bool,
        ty: Option<Ty>,
        init: Option<Expr>,
        span: Span,
    },
    Assign {
        place: Place,
        op: Option<BinOp>,
        value: Expr,
        span: Span,
    },
    If {
        cond: Expr,
        then: Block,
        otherwise: Option<Block>,
        span: Span,
    },
    While {
        cond: Expr,
        body: Block,
        label: Option<String>,
        span: Span,
    },
    For {
        var: String,
        start: Expr,
        end: Expr,
        inclusive: bool,
        step: Option<Expr>,
        reverse: bool,
        body: Block,
        label: Option<String>,
        span: Span,
    },
    Block(Block),
    Break(Option<String>, Span),
    Continue(Option<String>, Span),
    Return(Option<Expr>, Span),
    Shared {
        name: String,
        elem: Ty,
        dims: Vec<u64>,
        span: Span,
    },
    Local {
        name: String,
        elem: Ty,
        len: u64,
        span: Span,
    },
    Barrier(Span),
    GridBarrier(Span),
    /// The `ast::FenceScope` variant.
    Fence(&'static str, Span),
    Eval(Expr),
}

#[derive(Clone)]
pub enum Place {
    Var(String, Span),
    Index { array: String, index: Vec<Expr>, span: Span },
}

#[derive(Clone)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone)]
pub enum ExprKind {
    Int(u128, Option<String>),
    Float(f64, Option<String>),
    Bool(bool),
    Var(String),
    Index {
        array: String,
        index: Vec<Expr>,
    },
    Len(String),
    Unary(&'static str, Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    Cast(Box<Expr>, Ty),
    /// A call of a `#[gpu_device]` function.
    Call(String, Vec<Expr>),
    /// A collective: the `ast::Collective` variant and its operands.
    Collective(&'static str, Vec<Expr>),
    /// `array.shape(axis)` or `array.stride(axis)`.
    ArrayDim {
        array: String,
        axis: u8,
        stride: bool,
    },
    /// An atomic: the `ast::AtomicOp` variant, the array, then index and values.
    Atomic(&'static str, String, Vec<Expr>),
    /// A math method: the `MathFn` variant and the operands, receiver first.
    Math(&'static str, Vec<Expr>),
    /// An intrinsic: the `ast::Builtin` variant and, for per-dimension ones, the `ast::Dim`.
    Builtin(&'static str, Option<&'static str>),
}

/// A binary operator, by the name of its `ast::BinOp` variant.
pub type BinOp = &'static str;

const SCALARS: &[&str] = &["bool", "i8", "i16", "i32", "i64", "isize", "u8", "u16", "u32", "u64", "usize", "f32", "f64", "f16", "bf16"];

fn err<T>(span: Span, msg: impl std::fmt::Display) -> Result<T> {
    Err(Error::new(span, msg))
}

/// Parses a `#[gpu_kernel]` (`device: false`) or `#[gpu_device]` function.
pub fn kernel(f: &syn::ItemFn, options: Options, device: bool) -> Result<Kernel> {
    let sig = &f.sig;
    if let Some(t) = &sig.constness {
        return err(t.span(), "a kernel cannot be `const`");
    }
    if let Some(t) = &sig.asyncness {
        return err(t.span(), "a kernel cannot be `async`");
    }
    if let Some(t) = &sig.unsafety {
        return err(t.span(), "a kernel cannot be `unsafe`");
    }
    if let Some(abi) = &sig.abi {
        return err(abi.span(), "a kernel cannot declare an ABI");
    }
    if let Some(v) = &sig.variadic {
        return err(v.span(), "a kernel cannot be variadic");
    }
    if let (syn::ReturnType::Type(_, ty), false) = (&sig.output, device) {
        return err(ty.span(), "a kernel returns nothing: write results into a `&mut [T]` parameter");
    }
    if let Some(w) = &sig.generics.where_clause {
        return err(w.span(), "`where` clauses are not supported in kernels; write the bound inline (`T: Float`)");
    }
    let mut generics = Vec::new();
    for g in &sig.generics.params {
        match g {
            syn::GenericParam::Type(tp) => {
                let bound = type_bound(tp)?;
                generics.push((tp.ident.to_string(), bound));
            }
            syn::GenericParam::Lifetime(l) => return err(l.span(), "kernels take no lifetime parameters"),
            syn::GenericParam::Const(c) => return err(c.span(), "const generic parameters are not supported in kernels yet"),
        }
    }
    let cx = Cx { generics: &generics, device, callees: Default::default() };
    let mut params = Vec::new();
    for input in &sig.inputs {
        let syn::FnArg::Typed(pt) = input else {
            return err(input.span(), "a kernel cannot take `self`");
        };
        let name = match &*pt.pat {
            syn::Pat::Ident(pi) if pi.by_ref.is_none() && pi.subpat.is_none() => pi.ident.to_string(),
            other => return err(other.span(), "kernel parameters must be plain names"),
        };
        let kind = cx.param_type(&pt.ty)?;
        params.push(Param { name, kind, span: pt.span() });
    }
    let ret = match &sig.output {
        syn::ReturnType::Type(_, ty) => Some(cx.scalar_type(ty)?),
        syn::ReturnType::Default => None,
    };
    let body = if ret.is_some() { cx.return_block(&f.block)? } else { cx.block(&f.block)? };
    let callees = cx.callees.into_inner();
    Ok(Kernel { options, name: sig.ident.clone(), generics, params, body, ret, device, callees })
}

fn type_bound(tp: &syn::TypeParam) -> Result<Bound> {
    if let Some(d) = &tp.default {
        return err(d.span(), "type parameters of kernels cannot have defaults");
    }
    let mut found = None;
    for b in &tp.bounds {
        let syn::TypeParamBound::Trait(t) = b else {
            return err(b.span(), "kernel type parameters take one of the bounds Float, Int, Number or Scalar");
        };
        let Some(last) = t.path.segments.last() else {
            return err(t.span(), "expected a trait name");
        };
        let bound = match last.ident.to_string().as_str() {
            "Float" => Bound::Float,
            "Int" => Bound::Int,
            "Number" => Bound::Number,
            "Scalar" => Bound::Scalar,
            _ => return err(last.ident.span(), "kernel type parameters take one of the bounds Float, Int, Number or Scalar"),
        };
        if found.is_some() {
            return err(b.span(), "give a kernel type parameter one bound: Float, Int, Number or Scalar");
        }
        found = Some(bound);
    }
    Ok(found.unwrap_or(Bound::Scalar))
}

struct Cx<'a> {
    generics: &'a [(String, Bound)],
    /// Whether parsing a device function (which may return values).
    device: bool,
    callees: std::cell::RefCell<Vec<(String, Span)>>,
}

fn single_ident(path: &syn::Path) -> Option<&syn::Ident> {
    if path.leading_colon.is_none() && path.segments.len() == 1 && path.segments[0].arguments.is_none() {
        Some(&path.segments[0].ident)
    } else {
        None
    }
}

fn ident_of(e: &syn::Expr) -> Option<String> {
    match e {
        syn::Expr::Path(p) if p.qself.is_none() => single_ident(&p.path).map(|i| i.to_string()),
        syn::Expr::Paren(p) => ident_of(&p.expr),
        syn::Expr::Group(g) => ident_of(&g.expr),
        _ => None,
    }
}

impl Cx<'_> {
    fn scalar_type(&self, ty: &syn::Type) -> Result<Ty> {
        if let syn::Type::Path(tp) = ty {
            if tp.qself.is_none() {
                if let Some(id) = single_ident(&tp.path) {
                    let name = id.to_string();
                    if SCALARS.contains(&name.as_str()) {
                        return Ok(Ty::Scalar(name));
                    }
                    if let Some(i) = self.generics.iter().position(|(g, _)| *g == name) {
                        return Ok(Ty::Generic(i));
                    }
                }
            }
        }
        match ty {
            syn::Type::Paren(p) => return self.scalar_type(&p.elem),
            // `macro_rules!` passes a `$t:ty` fragment as an invisible group.
            syn::Type::Group(g) => return self.scalar_type(&g.elem),
            _ => {}
        }
        err(ty.span(), "expected a scalar type (bool, i8..i64, u8..u64, isize, usize, f32, f64) or a type parameter of the kernel")
    }

    fn param_type(&self, ty: &syn::Type) -> Result<ParamKind> {
        match ty {
            syn::Type::Reference(r) => {
                if let Some(l) = &r.lifetime {
                    return err(l.span(), "kernel parameters take no lifetimes");
                }
                let mutable = r.mutability.is_some();
                if let syn::Type::Slice(s) = &*r.elem {
                    return Ok(ParamKind::Slice { elem: self.scalar_type(&s.elem)?, mutable, ndim: 1 });
                }
                // `&Array<T, N>`: an N-D array (N = 1 to 4).
                if let syn::Type::Path(tp) = &*r.elem {
                    if let Some(seg) = tp.path.segments.last().filter(|s| s.ident == "Array") {
                        let syn::PathArguments::AngleBracketed(args) = &seg.arguments else {
                            return err(seg.span(), "write `Array<T, N>`: the element type and the number of dimensions");
                        };
                        let args: Vec<&syn::GenericArgument> = args.args.iter().collect();
                        let (Some(syn::GenericArgument::Type(elem)), Some(n), 2) = (args.first(), args.get(1), args.len()) else {
                            return err(seg.arguments.span(), "write `Array<T, N>`: the element type and the number of dimensions");
                        };
                        let ndim = match n {
                            syn::GenericArgument::Const(e) => match strip(e) {
                                syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Int(i), .. }) => i.base10_parse::<u8>().ok(),
                                _ => None,
                            },
                            _ => None,
                        };
                        let Some(ndim @ 1..=4) = ndim else {
                            return err(n.span(), "arrays have 1 to 4 dimensions, given as a literal");
                        };
                        return Ok(ParamKind::Slice { elem: self.scalar_type(elem)?, mutable, ndim });
                    }
                }
                err(r.elem.span(), "array parameters are `&[T]`, `&Array<T, N>` (read) or `&mut [T]`, `&mut Array<T, N>` (written)")
            }
            _ => Ok(ParamKind::Scalar(self.scalar_type(ty)?)),
        }
    }

    fn block(&self, b: &syn::Block) -> Result<Block> {
        let mut stmts = Vec::new();
        for s in &b.stmts {
            match s {
                syn::Stmt::Local(l) => stmts.extend(self.local(l)?),
                syn::Stmt::Expr(e, _) => stmts.push(self.stmt_expr(e)?),
                syn::Stmt::Item(i) => return err(i.span(), "items (fn, struct, use, ...) cannot be declared inside a kernel"),
                syn::Stmt::Macro(m) => return err(m.span(), "macros cannot be used inside a kernel"),
            }
        }
        Ok(Block { stmts })
    }

    fn local(&self, l: &syn::Local) -> Result<Vec<Stmt>> {
        if !l.attrs.is_empty() {
            return err(l.attrs[0].span(), "attributes are not supported on kernel statements");
        }
        if let syn::Pat::Tuple(pt) = &l.pat {
            return self.tuple_let(pt, l);
        }
        let (pat, ty) = match &l.pat {
            syn::Pat::Type(pt) => (&*pt.pat, Some(self.scalar_type(&pt.ty)?)),
            p => (p, None),
        };
        let (name, mutable) = match pat {
            syn::Pat::Ident(pi) if pi.by_ref.is_none() && pi.subpat.is_none() => (pi.ident.to_string(), pi.mutability.is_some()),
            other => return err(other.span(), "`let` in a kernel binds one name (`let x = ..` or `let mut x: T = ..`)"),
        };
        if let Some(init) = &l.init {
            if let Some(stmt) = self.array_decl(&name, &init.expr)? {
                return Ok(vec![stmt]);
            }
            if init.diverge.is_none() && matches!(strip(&init.expr), syn::Expr::If(_) | syn::Expr::Match(_) | syn::Expr::Block(_)) {
                // `let v = if c { a } else { b };`: declare, then assign in each branch.
                let span = l.span();
                let decl = Stmt::Let { name: name.clone(), mutable, ty, init: None, span };
                return Ok(vec![decl, self.assign_value(Place::Var(name, span), None, &init.expr, span)?]);
            }
        }
        let init = match &l.init {
            Some(init) => {
                if let Some((_, d)) = &init.diverge {
                    return err(d.span(), "`let .. else` is not supported in kernels");
                }
                Some(self.expr(&init.expr)?)
            }
            None => None,
        };
        Ok(vec![Stmt::Let { name, mutable, ty, init, span: l.span() }])
    }

    /// `let (a, mut b) = (x, y);`: every value is evaluated first (into hidden temporaries), then
    /// bound, as Rust does (`let (a, b) = (b, a)` swaps).
    fn tuple_let(&self, pt: &syn::PatTuple, l: &syn::Local) -> Result<Vec<Stmt>> {
        let span = l.span();
        let Some(init) = &l.init else {
            return err(pt.span(), "a tuple `let` in a kernel needs a tuple initializer: `let (a, b) = (x, y);`");
        };
        if let Some((_, d)) = &init.diverge {
            return err(d.span(), "`let .. else` is not supported in kernels");
        }
        let mut stmts = Vec::new();
        let temp = |i: usize| format!("__gpujit_tuple_{}_{i}", span.start().line * 10000 + span.start().column);
        if let syn::Expr::Call(c) = strip(&init.expr) {
            let name = ident_of(&c.func).unwrap_or_default();
            if let (Some(n), "grid" | "grid_size") = (grid_arity(c), name.as_str()) {
                // `let (x, y) = grid(2);`: one axis a name.
                if n != pt.elems.len() {
                    return err(init.expr.span(), format!("`{name}({n})` gives {n} values but the pattern has {}", pt.elems.len()));
                }
                let kind = if name == "grid" { "Grid" } else { "GridSize" };
                for (i, axis) in ["X", "Y", "Z"].iter().take(n).enumerate() {
                    let value = Expr { kind: ExprKind::Builtin(kind, Some(axis)), span };
                    stmts.push(Stmt::Let { name: temp(i), mutable: false, ty: None, init: Some(value), span });
                }
            }
        }
        if stmts.is_empty() {
            let syn::Expr::Tuple(values) = strip(&init.expr) else {
                return err(init.expr.span(), "a tuple `let` in a kernel needs a tuple of values on the right: `let (a, b) = (x, y);`");
            };
            if values.elems.len() != pt.elems.len() {
                return err(values.span(), format!("{} names but {} values", pt.elems.len(), values.elems.len()));
            }
            for (i, v) in values.elems.iter().enumerate() {
                stmts.push(Stmt::Let { name: temp(i), mutable: false, ty: None, init: Some(self.expr(v)?), span });
            }
        }
        for (i, p) in pt.elems.iter().enumerate() {
            let (name, mutable) = match p {
                syn::Pat::Ident(pi) if pi.by_ref.is_none() && pi.subpat.is_none() => (pi.ident.to_string(), pi.mutability.is_some()),
                syn::Pat::Wild(_) => continue,
                other => return err(other.span(), "each name of a tuple `let` is a plain name"),
            };
            let init = Expr { kind: ExprKind::Var(temp(i)), span };
            stmts.push(Stmt::Let { name, mutable, ty: None, init: Some(init), span });
        }
        Ok(stmts)
    }

    /// `shared_array::<T, N>()`, `shared_array_2d::<T, R, C>()`, `dynamic_shared::<T>()` or
    /// `local_array::<T, N>()` as the initializer of `let name`.
    fn array_decl(&self, name: &str, e: &syn::Expr) -> Result<Option<Stmt>> {
        let syn::Expr::Call(c) = strip(e) else { return Ok(None) };
        let syn::Expr::Path(p) = strip(&c.func) else { return Ok(None) };
        if p.path.segments.len() != 1 {
            return Ok(None);
        }
        let seg = &p.path.segments[0];
        let (kind, consts) = match seg.ident.to_string().as_str() {
            "shared_array" => ("shared", 1),
            "shared_array_2d" => ("shared", 2),
            "dynamic_shared" => ("shared", 0),
            "local_array" => ("local", 1),
            _ => return Ok(None),
        };
        let span = e.span();
        if !c.args.is_empty() {
            return err(c.args.span(), format!("`{}` takes no arguments; give the type and sizes as generics", seg.ident));
        }
        let syn::PathArguments::AngleBracketed(args) = &seg.arguments else {
            return err(seg.ident.span(), format!("`{}` needs its element type and sizes: `{}::<f32, 256>()`", seg.ident, seg.ident));
        };
        let args: Vec<&syn::GenericArgument> = args.args.iter().collect();
        if args.len() != 1 + consts {
            return err(seg.arguments.span(), format!("`{}` takes the element type and {consts} size(s)", seg.ident));
        }
        let syn::GenericArgument::Type(elem) = args[0] else {
            return err(args[0].span(), "expected the element type");
        };
        let elem = self.scalar_type(elem)?;
        let mut dims = Vec::new();
        for a in &args[1..] {
            let lit = match a {
                syn::GenericArgument::Const(e) => match strip(e) {
                    syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Int(i), .. }) => Some(i),
                    _ => None,
                },
                _ => None,
            };
            let Some(lit) = lit else {
                return err(a.span(), "array sizes are integer literals");
            };
            let v: u64 = lit.base10_parse()?;
            if v == 0 {
                return err(lit.span(), "an array size must be at least 1");
            }
            dims.push(v);
        }
        let name = name.to_string();
        Ok(Some(if kind == "shared" { Stmt::Shared { name, elem, dims, span } } else { Stmt::Local { name, elem, len: dims[0], span } }))
    }

    fn stmt_expr(&self, e: &syn::Expr) -> Result<Stmt> {
        let span = e.span();
        let label = |l: &Option<syn::Label>| l.as_ref().map(|l| l.name.ident.to_string());
        match e {
            syn::Expr::Assign(a) => self.assign_value(self.place(&a.left)?, None, &a.right, span),
            syn::Expr::Binary(b) => {
                let Some(op) = compound_op(&b.op) else {
                    return err(span, "this expression has no effect; a kernel statement must assign, branch or loop");
                };
                self.assign_value(self.place(&b.left)?, Some(op), &b.right, span)
            }
            syn::Expr::If(i) => self.if_stmt(i),
            syn::Expr::Match(m) => self.match_chain(m, &mut |cx, body| cx.arm_stmt(body)),
            syn::Expr::While(w) => Ok(Stmt::While { cond: self.cond(&w.cond)?, body: self.block(&w.body)?, label: label(&w.label), span }),
            syn::Expr::Loop(l) => {
                let cond = Expr { kind: ExprKind::Bool(true), span };
                Ok(Stmt::While { cond, body: self.block(&l.body)?, label: label(&l.label), span })
            }
            syn::Expr::ForLoop(f) => self.for_loop(f),
            syn::Expr::Block(b) => {
                if let Some(l) = &b.label {
                    return err(l.span(), "block labels are not supported in kernels");
                }
                Ok(Stmt::Block(self.block(&b.block)?))
            }
            syn::Expr::Break(b) => {
                if let Some(v) = &b.expr {
                    return err(v.span(), "`break` with a value is not supported in kernels");
                }
                Ok(Stmt::Break(b.label.as_ref().map(|l| l.ident.to_string()), span))
            }
            syn::Expr::Continue(c) => Ok(Stmt::Continue(c.label.as_ref().map(|l| l.ident.to_string()), span)),
            syn::Expr::Return(r) => match &r.expr {
                Some(v) if self.device => self.return_value(v),
                Some(v) => err(v.span(), "a kernel returns nothing: write results into a `&mut [T]` parameter"),
                None => Ok(Stmt::Return(None, span)),
            },
            syn::Expr::Paren(p) => self.stmt_expr(&p.expr),
            syn::Expr::Call(c) => {
                let name = ident_of(&c.func).unwrap_or_default();
                if name == "grid_sync" {
                    if !c.args.is_empty() {
                        return err(c.args.span(), "`grid_sync()` takes no arguments");
                    }
                    return Ok(Stmt::GridBarrier(span));
                }
                let fence = match name.as_str() {
                    "sync_threads" => None,
                    "threadfence_block" => Some("Block"),
                    "threadfence" => Some("Device"),
                    "threadfence_system" => Some("System"),
                    _ => {
                        let e = self.expr(e)?;
                        return match e.kind {
                            ExprKind::Atomic(..) | ExprKind::Collective(..) | ExprKind::Call(..) => Ok(Stmt::Eval(e)),
                            _ => err(span, "this expression has no effect; a kernel statement must assign, branch or loop"),
                        };
                    }
                };
                if !c.args.is_empty() {
                    return err(c.args.span(), format!("`{name}()` takes no arguments"));
                }
                Ok(match fence {
                    None => Stmt::Barrier(span),
                    Some(scope) => Stmt::Fence(scope, span),
                })
            }
            _ => err(span, "this expression has no effect; a kernel statement must assign, branch or loop"),
        }
    }

    /// `return value;` (or a device function's tail expression): `if`/`match`/block values
    /// return from each branch.
    fn return_value(&self, value: &syn::Expr) -> Result<Stmt> {
        let span = value.span();
        match strip(value) {
            syn::Expr::If(i) => {
                let then = self.return_block(&i.then_branch)?;
                let otherwise = match &i.else_branch {
                    Some((_, e)) => Some(Block { stmts: vec![self.return_value(e)?] }),
                    None => return err(i.span(), "an `if` used as a value needs an `else`"),
                };
                Ok(Stmt::If { cond: self.cond(&i.cond)?, then, otherwise, span: i.span() })
            }
            syn::Expr::Block(b) if b.label.is_none() => Ok(Stmt::Block(self.return_block(&b.block)?)),
            syn::Expr::Match(m) => self.match_chain(m, &mut |cx, body| cx.return_value(body)),
            v => Ok(Stmt::Return(Some(self.expr(v)?), span)),
        }
    }

    /// A block whose tail expression is returned.
    fn return_block(&self, b: &syn::Block) -> Result<Block> {
        let (tail, body) = match b.stmts.last() {
            Some(syn::Stmt::Expr(e, None)) => (Some(e), &b.stmts[..b.stmts.len() - 1]),
            _ => (None, &b.stmts[..]),
        };
        let mut stmts = self.block(&syn::Block { brace_token: b.brace_token, stmts: body.to_vec() })?.stmts;
        if let Some(t) = tail {
            stmts.push(self.return_value(t)?);
        }
        Ok(Block { stmts })
    }

    /// `place op= value` where `value` may be an `if`, `match` or block expression: then each
    /// branch assigns its own value.
    fn assign_value(&self, place: Place, op: Option<BinOp>, value: &syn::Expr, span: Span) -> Result<Stmt> {
        match strip(value) {
            syn::Expr::If(i) => {
                let then = self.value_block(&i.then_branch, &place, op)?;
                let otherwise = match &i.else_branch {
                    Some((_, e)) => Some(Block { stmts: vec![self.assign_value(place.clone(), op, e, span)?] }),
                    None => return err(i.span(), "an `if` used as a value needs an `else`"),
                };
                Ok(Stmt::If { cond: self.cond(&i.cond)?, then, otherwise, span: i.span() })
            }
            syn::Expr::Block(b) if b.label.is_none() => Ok(Stmt::Block(self.value_block(&b.block, &place, op)?)),
            syn::Expr::Match(m) => self.match_chain(m, &mut |cx, body| cx.assign_value(place.clone(), op, body, body.span())),
            v => Ok(Stmt::Assign { place, op, value: self.expr(v)?, span }),
        }
    }

    /// A block whose tail expression is the value assigned to `place`.
    fn value_block(&self, b: &syn::Block, place: &Place, op: Option<BinOp>) -> Result<Block> {
        let (tail, body) = match b.stmts.last() {
            Some(syn::Stmt::Expr(e, None)) => (Some(e), &b.stmts[..b.stmts.len() - 1]),
            _ => (None, &b.stmts[..]),
        };
        let mut stmts = self.block(&syn::Block { brace_token: b.brace_token, stmts: body.to_vec() })?.stmts;
        if let Some(t) = tail {
            stmts.push(self.assign_value(place.clone(), op, t, t.span())?);
        }
        Ok(Block { stmts })
    }

    /// The body of a `match` arm used as a statement.
    fn arm_stmt(&self, body: &syn::Expr) -> Result<Stmt> {
        match strip(body) {
            syn::Expr::Block(b) if b.label.is_none() => Ok(Stmt::Block(self.block(&b.block)?)),
            e => self.stmt_expr(e),
        }
    }

    /// `match scrutinee { arms }` on integers or bools, as a chain of `if`s over a temporary
    /// (rustc checks exhaustiveness on the twin). `arm` turns each arm's body into a statement
    /// (a plain statement, or an assignment when the match is a value).
    fn match_chain(&self, m: &syn::ExprMatch, arm: &mut dyn FnMut(&Self, &syn::Expr) -> Result<Stmt>) -> Result<Stmt> {
        let span = m.span();
        let temp = format!("__gpujit_match_{}", span.start().line * 10000 + span.start().column);
        let scrutinee = Stmt::Let { name: temp.clone(), mutable: false, ty: None, init: Some(self.expr(&m.expr)?), span };
        let chain = self.arms(&m.arms, &temp, arm)?;
        Ok(Stmt::Block(Block { stmts: std::iter::once(scrutinee).chain(chain).collect() }))
    }

    fn arms(&self, arms: &[syn::Arm], temp: &str, arm: &mut dyn FnMut(&Self, &syn::Expr) -> Result<Stmt>) -> Result<Option<Stmt>> {
        let Some((first, rest)) = arms.split_first() else { return Ok(None) };
        let span = first.span();
        let body = arm(self, &first.body)?;
        let rest = self.arms(rest, temp, arm)?.map(|s| Block { stmts: vec![s] });
        // A binding pattern: bind the value, then test the guard.
        if let syn::Pat::Ident(pi) = &first.pat {
            if pi.subpat.is_none() && pi.by_ref.is_none() {
                let value = Expr { kind: ExprKind::Var(temp.to_string()), span };
                let bind = Stmt::Let { name: pi.ident.to_string(), mutable: pi.mutability.is_some(), ty: None, init: Some(value), span };
                let inner = match &first.guard {
                    Some((_, g)) => Stmt::If { cond: self.expr(g)?, then: Block { stmts: vec![body] }, otherwise: rest, span },
                    None => body,
                };
                return Ok(Some(Stmt::Block(Block { stmts: vec![bind, inner] })));
            }
        }
        let test = self.pattern_test(&first.pat, temp)?;
        let cond = match (&first.guard, test) {
            (None, None) => return Ok(Some(body)),
            (Some((_, g)), None) => self.expr(g)?,
            (None, Some(t)) => t,
            (Some((_, g)), Some(t)) => Expr { kind: ExprKind::Binary("And", Box::new(t), Box::new(self.expr(g)?)), span },
        };
        Ok(Some(Stmt::If { cond, then: Block { stmts: vec![body] }, otherwise: rest, span }))
    }

    /// The condition under which the value in `temp` matches `pat` (`None`: always).
    fn pattern_test(&self, pat: &syn::Pat, temp: &str) -> Result<Option<Expr>> {
        let span = pat.span();
        let var = || Box::new(Expr { kind: ExprKind::Var(temp.to_string()), span });
        let cmp = |op: BinOp, e: Expr| Expr { kind: ExprKind::Binary(op, var(), Box::new(e)), span };
        Ok(Some(match pat {
            syn::Pat::Wild(_) => return Ok(None),
            syn::Pat::Lit(l) => cmp("Eq", self.expr(&syn::Expr::Lit(l.clone()))?),
            syn::Pat::Paren(p) => return self.pattern_test(&p.pat, temp),
            syn::Pat::Range(r) => {
                let lo = r.start.as_ref().map(|e| self.expr(e)).transpose()?.map(|e| cmp("Ge", e));
                let hi = match (&r.end, &r.limits) {
                    (Some(e), syn::RangeLimits::Closed(_)) => Some(cmp("Le", self.expr(e)?)),
                    (Some(e), syn::RangeLimits::HalfOpen(_)) => Some(cmp("Lt", self.expr(e)?)),
                    (None, _) => None,
                };
                match (lo, hi) {
                    (Some(a), Some(b)) => Expr { kind: ExprKind::Binary("And", Box::new(a), Box::new(b)), span },
                    (Some(a), None) | (None, Some(a)) => a,
                    (None, None) => return Ok(None),
                }
            }
            syn::Pat::Or(o) => {
                let mut acc: Option<Expr> = None;
                for case in &o.cases {
                    let Some(t) = self.pattern_test(case, temp)? else { return Ok(None) };
                    acc = Some(match acc {
                        None => t,
                        Some(a) => Expr { kind: ExprKind::Binary("Or", Box::new(a), Box::new(t)), span },
                    });
                }
                match acc {
                    Some(a) => a,
                    None => return Ok(None),
                }
            }
            syn::Pat::Ident(_) => return err(span, "a binding pattern must be the whole arm (`n => ..` or `n if .. => ..`)"),
            other => return err(other.span(), "kernel `match` arms take integer or bool literals, ranges, `|`, `_` or a name"),
        }))
    }

    fn cond(&self, e: &syn::Expr) -> Result<Expr> {
        if let syn::Expr::Let(l) = e {
            return err(l.span(), "`if let`/`while let` are not supported in kernels");
        }
        self.expr(e)
    }

    fn if_stmt(&self, i: &syn::ExprIf) -> Result<Stmt> {
        let otherwise = match &i.else_branch {
            None => None,
            Some((_, e)) => Some(match &**e {
                syn::Expr::Block(b) => self.block(&b.block)?,
                syn::Expr::If(nested) => Block { stmts: vec![self.if_stmt(nested)?] },
                other => return err(other.span(), "expected `else { .. }` or `else if`"),
            }),
        };
        Ok(Stmt::If { cond: self.cond(&i.cond)?, then: self.block(&i.then_branch)?, otherwise, span: i.span() })
    }

    fn for_loop(&self, f: &syn::ExprForLoop) -> Result<Stmt> {
        let var = match &*f.pat {
            syn::Pat::Ident(pi) if pi.by_ref.is_none() && pi.subpat.is_none() => pi.ident.to_string(),
            syn::Pat::Wild(_) => "_".to_string(),
            other => return err(other.span(), "a kernel `for` loop binds one name"),
        };
        let (inner, step) = match strip(&f.expr) {
            syn::Expr::MethodCall(m) if m.method == "step_by" => {
                if m.args.len() != 1 {
                    return err(m.span(), "`step_by` takes one argument");
                }
                (strip(&m.receiver), Some(self.expr(&m.args[0])?))
            }
            e => (e, None),
        };
        let (range, reverse) = match inner {
            syn::Expr::MethodCall(m) if m.method == "rev" && m.args.is_empty() => (strip(&m.receiver), true),
            e => (e, false),
        };
        if let syn::Expr::MethodCall(m) = range {
            if m.method == "step_by" {
                return err(m.span(), "write `(a..b).rev().step_by(s)`: `(a..b).step_by(s).rev()` is not supported in kernels");
            }
        }
        let syn::Expr::Range(r) = range else {
            return err(f.expr.span(), "a kernel `for` loop runs over a range: `a..b`, `a..=b`, optionally `.step_by(s)`");
        };
        let (Some(start), Some(end)) = (&r.start, &r.end) else {
            return err(r.span(), "a kernel `for` loop needs a range with both ends (`a..b` or `a..=b`)");
        };
        let inclusive = matches!(r.limits, syn::RangeLimits::Closed(_));
        Ok(Stmt::For {
            var,
            start: self.expr(start)?,
            end: self.expr(end)?,
            inclusive,
            step,
            reverse,
            body: self.block(&f.body)?,
            label: f.label.as_ref().map(|l| l.name.ident.to_string()),
            span: f.span(),
        })
    }

    fn place(&self, e: &syn::Expr) -> Result<Place> {
        match strip(e) {
            syn::Expr::Index(ix) => {
                let Some(array) = ident_of(&ix.expr) else {
                    return err(ix.expr.span(), "only array parameters can be indexed: `name[i]`");
                };
                Ok(Place::Index { array, index: self.indices(&ix.index)?, span: e.span() })
            }
            other => match ident_of(other) {
                Some(name) => Ok(Place::Var(name, other.span())),
                None => err(other.span(), "can only assign to a variable or to `array[i]`"),
            },
        }
    }

    fn expr(&self, e: &syn::Expr) -> Result<Expr> {
        let span = e.span();
        let kind = match e {
            syn::Expr::Paren(p) => return self.expr(&p.expr),
            syn::Expr::Group(g) => return self.expr(&g.expr),
            syn::Expr::Lit(l) => lit(&l.lit)?,
            syn::Expr::Path(p) => match (p.qself.is_none()).then(|| single_ident(&p.path)).flatten() {
                Some(id) => ExprKind::Var(id.to_string()),
                None => return err(span, "paths are not supported in kernels; use a local variable or a parameter"),
            },
            syn::Expr::Index(ix) => {
                let Some(array) = ident_of(&ix.expr) else {
                    return err(ix.expr.span(), "only array parameters can be indexed: `name[i]`");
                };
                if let syn::Expr::Range(r) = strip(&ix.index) {
                    return err(r.span(), "slicing is not supported in kernels; index one element");
                }
                ExprKind::Index { array, index: self.indices(&ix.index)? }
            }
            syn::Expr::MethodCall(m) => {
                let method = m.method.to_string();
                match (method.as_str(), ident_of(&m.receiver)) {
                    ("len", Some(array)) if m.args.is_empty() => ExprKind::Len(array),
                    ("len", _) => return err(span, "`len()` applies to an array parameter: `name.len()`"),
                    // f16/bf16 → wider floats (exact).
                    ("to_f32" | "to_f64", _) if m.args.is_empty() => {
                        let to = if method == "to_f32" { "f32" } else { "f64" };
                        ExprKind::Cast(Box::new(self.expr(&m.receiver)?), Ty::Scalar(to.into()))
                    }
                    ("shape" | "stride", Some(array)) => {
                        let axis = match m.args.first().map(strip) {
                            Some(syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Int(i), .. })) if m.args.len() == 1 => {
                                i.base10_parse::<u8>().ok()
                            }
                            _ => None,
                        };
                        let Some(axis) = axis else {
                            return err(m.args.span(), format!("`{method}` takes the axis as an integer literal: `{array}.{method}(0)`"));
                        };
                        ExprKind::ArrayDim { array, axis, stride: method == "stride" }
                    }
                    _ => match MATH.iter().find(|(name, _, _)| *name == method) {
                        Some((_, variant, nargs)) => {
                            if m.args.len() != *nargs {
                                return err(m.span(), format!("`{method}` takes {nargs} argument(s)"));
                            }
                            if m.turbofish.is_some() {
                                return err(m.span(), "turbofish is not supported on math methods");
                            }
                            let mut ops = vec![self.expr(&m.receiver)?];
                            for a in &m.args {
                                ops.push(self.expr(a)?);
                            }
                            ExprKind::Math(variant, ops)
                        }
                        None => return err(m.method.span(), format!("method `{method}` is not supported in kernels yet")),
                    },
                }
            }
            syn::Expr::Unary(u) => {
                let op = match u.op {
                    syn::UnOp::Neg(_) => "Neg",
                    syn::UnOp::Not(_) => "Not",
                    _ => return err(u.op.span(), "dereference is not supported in kernels"),
                };
                ExprKind::Unary(op, Box::new(self.expr(&u.expr)?))
            }
            syn::Expr::Binary(b) => {
                let Some(op) = binary_op(&b.op) else {
                    return err(b.op.span(), "compound assignment is a statement, not an expression, in kernels");
                };
                ExprKind::Binary(op, Box::new(self.expr(&b.left)?), Box::new(self.expr(&b.right)?))
            }
            syn::Expr::Cast(c) => ExprKind::Cast(Box::new(self.expr(&c.expr)?), self.scalar_type(&c.ty)?),
            syn::Expr::Call(c) => self.call(c)?,
            syn::Expr::If(_) | syn::Expr::Match(_) => {
                return err(span, "`if` and `match` give values in kernels as the whole right-hand side of `let` or an assignment")
            }
            syn::Expr::Block(_) => return err(span, "a block as an expression is not supported in kernels yet"),
            syn::Expr::Reference(_) => return err(span, "references cannot be taken inside kernels"),
            syn::Expr::Range(_) => return err(span, "ranges are only supported as `for` loop bounds"),
            syn::Expr::Loop(_) | syn::Expr::While(_) | syn::Expr::ForLoop(_) => {
                return err(span, "loops are statements in kernels, not values (`break` with a value is not supported)")
            }
            syn::Expr::Macro(_) => return err(span, "macros cannot be used inside a kernel"),
            syn::Expr::Closure(_) => return err(span, "closures cannot be used inside a kernel"),
            syn::Expr::Tuple(_) | syn::Expr::Array(_) | syn::Expr::Struct(_) => {
                return err(span, "tuples, arrays and structs are not supported in kernels yet")
            }
            _ => return err(span, "this expression is not supported in kernels"),
        };
        Ok(Expr { kind, span })
    }

    /// `i` or, for 2-D shared arrays, `[i, j]`.
    fn indices(&self, e: &syn::Expr) -> Result<Vec<Expr>> {
        match strip(e) {
            syn::Expr::Array(a) => a.elems.iter().map(|x| self.expr(x)).collect(),
            _ => Ok(vec![self.expr(e)?]),
        }
    }

    fn call(&self, c: &syn::ExprCall) -> Result<ExprKind> {
        // `f16::from_f32(x)`, `bf16::from_f64(x)`, ...: rounding to a 16-bit float (once).
        if let syn::Expr::Path(p) = strip(&c.func) {
            let segs: Vec<String> = p.path.segments.iter().map(|s| s.ident.to_string()).collect();
            if let [ty, f] = &segs[..] {
                if matches!(ty.as_str(), "f16" | "bf16") && matches!(f.as_str(), "from_f32" | "from_f64") && c.args.len() == 1 {
                    let from = if f == "from_f32" { "f32" } else { "f64" };
                    let x =
                        Expr { kind: ExprKind::Cast(Box::new(self.expr(&c.args[0])?), Ty::Scalar(from.into())), span: c.args[0].span() };
                    return Ok(ExprKind::Cast(Box::new(x), Ty::Scalar(ty.clone())));
                }
            }
        }
        let Some(name) = ident_of(&c.func) else {
            return err(c.func.span(), "only gpujit's intrinsics can be called in kernels");
        };
        let atomic = match name.as_str() {
            "atomic_add" => Some(("Add", 1)),
            "atomic_sub" => Some(("Sub", 1)),
            "atomic_min" => Some(("Min", 1)),
            "atomic_max" => Some(("Max", 1)),
            "atomic_and" => Some(("And", 1)),
            "atomic_or" => Some(("Or", 1)),
            "atomic_xor" => Some(("Xor", 1)),
            "atomic_exch" => Some(("Exch", 1)),
            "atomic_cas" => Some(("Cas", 2)),
            _ => None,
        };
        if let Some((op, values)) = atomic {
            if c.args.len() != 2 + values {
                let what = if values == 2 { "(array, index, expected, new)" } else { "(array, index, value)" };
                return err(c.span(), format!("`{name}` takes {what}"));
            }
            let target = match strip(&c.args[0]) {
                syn::Expr::Reference(r) if r.mutability.is_some() => ident_of(&r.expr),
                other => ident_of(other),
            };
            let Some(array) = target else {
                return err(
                    c.args[0].span(),
                    format!("the first argument of `{name}` is an array: `{name}(out, i, v)` or `{name}(&mut shared, i, v)`"),
                );
            };
            let operands = c.args.iter().skip(1).map(|a| self.expr(a)).collect::<Result<Vec<_>>>()?;
            return Ok(ExprKind::Atomic(op, array, operands));
        }
        let collective = match name.as_str() {
            "shfl_sync" => Some(("ShflIdx", 3)),
            "shfl_up_sync" => Some(("ShflUp", 3)),
            "shfl_down_sync" => Some(("ShflDown", 3)),
            "shfl_xor_sync" => Some(("ShflXor", 3)),
            "ballot_sync" => Some(("Ballot", 2)),
            "any_sync" => Some(("Any", 2)),
            "all_sync" => Some(("All", 2)),
            "active_mask" => Some(("ActiveMask", 0)),
            "match_any_sync" => Some(("MatchAny", 2)),
            "sync_warp" => Some(("SyncWarp", 1)),
            "sync_threads_count" => Some(("SyncThreadsCount", 1)),
            "sync_threads_and" => Some(("SyncThreadsAnd", 1)),
            "sync_threads_or" => Some(("SyncThreadsOr", 1)),
            _ => None,
        };
        if let Some((variant, n)) = collective {
            if c.args.len() != n {
                return err(c.span(), format!("`{name}` takes {n} argument(s)"));
            }
            let args = c.args.iter().map(|a| self.expr(a)).collect::<Result<Vec<_>>>()?;
            return Ok(ExprKind::Collective(variant, args));
        }
        if matches!(name.as_str(), "sync_threads" | "grid_sync" | "threadfence" | "threadfence_block" | "threadfence_system") {
            return err(c.span(), format!("`{name}()` is a statement: write `{name}();`"));
        }
        let no_args = |k: &'static str, d: &'static str| -> Result<ExprKind> {
            if !c.args.is_empty() {
                return err(c.args.span(), format!("`{name}()` takes no arguments"));
            }
            Ok(ExprKind::Builtin(k, Some(d)))
        };
        let dims = |k: &'static str| -> Result<ExprKind> {
            match grid_arity(c) {
                Some(1) => Ok(ExprKind::Builtin(k, Some("X"))),
                Some(n) => err(c.span(), format!("`{name}({n})` gives a tuple: destructure it, `let (x, y) = {name}({n});`")),
                None => err(c.args.span(), format!("`{name}` takes the literal 1, 2 or 3")),
            }
        };
        match name.as_str() {
            "thread_idx_x" => no_args("ThreadIdx", "X"),
            "thread_idx_y" => no_args("ThreadIdx", "Y"),
            "thread_idx_z" => no_args("ThreadIdx", "Z"),
            "block_idx_x" => no_args("BlockIdx", "X"),
            "block_idx_y" => no_args("BlockIdx", "Y"),
            "block_idx_z" => no_args("BlockIdx", "Z"),
            "block_dim_x" => no_args("BlockDim", "X"),
            "block_dim_y" => no_args("BlockDim", "Y"),
            "block_dim_z" => no_args("BlockDim", "Z"),
            "grid_dim_x" => no_args("GridDim", "X"),
            "grid_dim_y" => no_args("GridDim", "Y"),
            "grid_dim_z" => no_args("GridDim", "Z"),
            "grid" => dims("Grid"),
            "grid_size" => dims("GridSize"),
            "lane_id" | "warp_size" => {
                if !c.args.is_empty() {
                    return err(c.args.span(), format!("`{name}()` takes no arguments"));
                }
                Ok(ExprKind::Builtin(if name == "lane_id" { "LaneId" } else { "WarpSize" }, None))
            }
            _ => {
                // A `#[gpu_device]` function (rustc reports it if there is none of that name).
                let mut callees = self.callees.borrow_mut();
                if !callees.iter().any(|(n, _)| *n == name) {
                    callees.push((name.clone(), c.func.span()));
                }
                drop(callees);
                let args = c.args.iter().map(|a| self.expr(strip_ref(a))).collect::<Result<Vec<_>>>()?;
                Ok(ExprKind::Call(name, args))
            }
        }
    }
}

/// `n` of `grid(n)`/`grid_size(n)` when it is the literal 1, 2 or 3.
pub fn grid_arity(c: &syn::ExprCall) -> Option<usize> {
    if c.args.len() != 1 {
        return None;
    }
    match strip(&c.args[0]) {
        syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Int(i), .. }) => match i.base10_digits() {
            "1" => Some(1),
            "2" => Some(2),
            "3" => Some(3),
            _ => None,
        },
        _ => None,
    }
}

/// `&x` and `&mut x` as call arguments name the array `x`.
fn strip_ref(e: &syn::Expr) -> &syn::Expr {
    match strip(e) {
        syn::Expr::Reference(r) => strip(&r.expr),
        e => e,
    }
}

fn strip(e: &syn::Expr) -> &syn::Expr {
    match e {
        syn::Expr::Paren(p) => strip(&p.expr),
        syn::Expr::Group(g) => strip(&g.expr),
        e => e,
    }
}

fn lit(l: &syn::Lit) -> Result<ExprKind> {
    let suffix = |s: &str| -> Result<Option<String>> {
        if s.is_empty() {
            Ok(None)
        } else if SCALARS.contains(&s) && s != "bool" {
            Ok(Some(s.to_string()))
        } else {
            err(l.span(), format!("unknown literal suffix `{s}`"))
        }
    };
    Ok(match l {
        // A negative literal (`-5` in a range pattern arrives as one token) is the negation of
        // its magnitude, as `-5` in an expression is.
        syn::Lit::Int(i) if i.base10_digits().starts_with('-') => {
            let s = suffix(i.suffix())?;
            let digits = &i.base10_digits()[1..];
            let inner = if matches!(s.as_deref(), Some("f32" | "f64")) {
                ExprKind::Float(digits.parse::<f64>().map_err(|e| Error::new(i.span(), e))?, s)
            } else {
                ExprKind::Int(digits.parse::<u128>().map_err(|e| Error::new(i.span(), e))?, s)
            };
            ExprKind::Unary("Neg", Box::new(Expr { kind: inner, span: i.span() }))
        }
        syn::Lit::Int(i) => {
            let s = suffix(i.suffix())?;
            if matches!(s.as_deref(), Some("f32" | "f64")) {
                ExprKind::Float(i.base10_parse::<f64>()?, s)
            } else {
                ExprKind::Int(i.base10_parse::<u128>()?, s)
            }
        }
        syn::Lit::Float(f) if f.base10_digits().starts_with('-') => {
            let v: f64 = f.base10_digits()[1..].parse().map_err(|e| Error::new(f.span(), e))?;
            ExprKind::Unary("Neg", Box::new(Expr { kind: ExprKind::Float(v, suffix(f.suffix())?), span: f.span() }))
        }
        syn::Lit::Float(f) => ExprKind::Float(f.base10_parse::<f64>()?, suffix(f.suffix())?),
        syn::Lit::Bool(b) => ExprKind::Bool(b.value),
        other => return err(other.span(), "only integer, float and bool literals are supported in kernels"),
    })
}

fn binary_op(op: &syn::BinOp) -> Option<BinOp> {
    use syn::BinOp as B;
    Some(match op {
        B::Add(_) => "Add",
        B::Sub(_) => "Sub",
        B::Mul(_) => "Mul",
        B::Div(_) => "Div",
        B::Rem(_) => "Rem",
        B::And(_) => "And",
        B::Or(_) => "Or",
        B::BitXor(_) => "BitXor",
        B::BitAnd(_) => "BitAnd",
        B::BitOr(_) => "BitOr",
        B::Shl(_) => "Shl",
        B::Shr(_) => "Shr",
        B::Eq(_) => "Eq",
        B::Lt(_) => "Lt",
        B::Le(_) => "Le",
        B::Ne(_) => "Ne",
        B::Ge(_) => "Ge",
        B::Gt(_) => "Gt",
        _ => return None,
    })
}

fn compound_op(op: &syn::BinOp) -> Option<BinOp> {
    use syn::BinOp as B;
    Some(match op {
        B::AddAssign(_) => "Add",
        B::SubAssign(_) => "Sub",
        B::MulAssign(_) => "Mul",
        B::DivAssign(_) => "Div",
        B::RemAssign(_) => "Rem",
        B::BitXorAssign(_) => "BitXor",
        B::BitAndAssign(_) => "BitAnd",
        B::BitOrAssign(_) => "BitOr",
        B::ShlAssign(_) => "Shl",
        B::ShrAssign(_) => "Shr",
        _ => return None,
    })
}
