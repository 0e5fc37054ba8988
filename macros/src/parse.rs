//! `syn` function → the kernel language's source form ([`gpujit_lang::ast`]), with spans kept for
//! errors.
//!
//! The macro parses straight into the source form the compiler consumes: operators, intrinsics,
//! collectives, atomics and math methods are the real enums of `gpujit-lang`, recognized by its
//! tables ([`gpujit_lang::intrinsics::INTRINSICS`], [`MathFn`]). Everything outside the kernel
//! language is rejected here, at the span of the offending syntax.

use gpujit_lang::ast::{
    self, AsmDir, AssertKind, BinOp, Block, Dim, ExprKind, Generic, GenericBound, KernelOptions, KernelSource, NodeId, Param, ParamKind,
    Place, RangeLoop, SourceExpr, Stmt, TypeConst, TypeRef, UnOp,
};
use gpujit_lang::complex::ComplexFn;
use gpujit_lang::consts::float_const;
use gpujit_lang::intrinsics::{self, Intrinsic};
use gpujit_lang::math::MathFn;
use gpujit_lang::ScalarType;
use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{Error, Result};

mod bulk;

/// A parsed `#[gpu_kernel]` or `#[gpu_device]` function: its source form and what token
/// generation needs besides (the callees' paths, the spans of names).
/// A device function a body calls, as written: `f(..)`, or `f::<4>(..)` for a const generic one.
pub struct CalleeRef {
    /// The name calls use in the source form: the function's, with its const arguments when it
    /// has some (`"f::<4>"`), so each instance is its own callee.
    pub key: String,
    /// The function's name.
    pub function: String,
    /// The const arguments, as written (`<4>`, `<B>`).
    pub turbofish: Option<syn::AngleBracketedGenericArguments>,
    /// The span of its first call.
    pub span: Span,
}

pub struct Kernel {
    /// The source form; `callees` is left empty (generated code fills it with the callees'
    /// source functions, named in [`Kernel::callees`]).
    pub source: KernelSource,
    pub name: syn::Ident,
    /// The span of each parameter, for errors raised after parsing.
    pub param_spans: Vec<Span>,
    /// The device functions the body calls (name and the span of its first call).
    pub callees: Vec<CalleeRef>,
    /// The parameters' and the result's Rust types as written (for `#[gpu_vectorize]`'s `map`).
    pub rust_params: Vec<syn::Type>,
    pub rust_ret: Option<syn::Type>,
    /// The kernel's const generic parameters (`const B: usize`), as written.
    pub const_generics: Vec<syn::ConstParam>,
}

/// The source form's position of a span.
pub fn at(s: Span) -> ast::Span {
    let start = s.start();
    ast::Span::new(start.line as u32, start.column as u32)
}

/// `#[gpu_kernel(fastmath, launch_bounds = 256 | (256, 2), max_registers = 64)]`.
pub fn options(attr: proc_macro2::TokenStream) -> Result<KernelOptions> {
    use syn::parse::Parser;
    let metas = syn::punctuated::Punctuated::<syn::Meta, syn::Token![,]>::parse_terminated.parse2(attr)?;
    let mut o = KernelOptions::default();
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
            ("debug", syn::Meta::Path(_)) => o.debug = true,
            ("lineinfo", syn::Meta::Path(_)) => o.lineinfo = true,
            ("launch_bounds", syn::Meta::NameValue(nv)) => match strip(&nv.value) {
                syn::Expr::Tuple(t) if t.elems.len() == 2 => {
                    o.max_threads_per_block = Some(positive(&t.elems[0])?);
                    o.min_blocks_per_sm = Some(positive(&t.elems[1])?);
                }
                v => o.max_threads_per_block = Some(positive(v)?),
            },
            ("max_registers", syn::Meta::NameValue(nv)) => o.max_registers = Some(positive(&nv.value)?),
            ("fp_contract", syn::Meta::NameValue(nv)) => match strip(&nv.value) {
                syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Bool(b), .. }) => o.no_contract = !b.value,
                other => return err(other.span(), "expected `true` or `false`"),
            },
            _ => {
                return err(
                    m.span(),
                    "unknown kernel option; the options are `fastmath`, `boundscheck`, `debug`, `lineinfo`, `fp_contract = false`, `launch_bounds = N` (or `(N, min_blocks)`) and `max_registers = N`",
                )
            }
        }
    }
    Ok(o)
}

/// A scalar type by its Rust name (`usize` is `u64`).
fn scalar_named(name: &str) -> Option<ScalarType> {
    ScalarType::from_rust_name(name)
}

/// The complex type a path names: `Complex<f32>` (also `num_complex::Complex<f64>`),
/// `Complex32`, `Complex64`; `Some(None)` for `Complex` without its component type.
fn complex_named(path: &syn::Path) -> Option<Option<ScalarType>> {
    let last = path.segments.last()?;
    let name = last.ident.to_string();
    match (name.as_str(), &last.arguments) {
        ("Complex32" | "Complex64", syn::PathArguments::None) => Some(scalar_named(&name)),
        ("Complex", syn::PathArguments::None) => Some(None),
        ("Complex", syn::PathArguments::AngleBracketed(a)) => match a.args.iter().collect::<Vec<_>>()[..] {
            [syn::GenericArgument::Type(t)] => Some(part_type(t).and_then(ScalarType::complex)),
            _ => Some(None),
        },
        _ => None,
    }
}

/// A complex type's part type as written (`f32`, also through a `macro_rules!` fragment).
fn part_type(t: &syn::Type) -> Option<ScalarType> {
    match t {
        syn::Type::Group(g) => part_type(&g.elem),
        syn::Type::Paren(p) => part_type(&p.elem),
        syn::Type::Path(p) if p.qself.is_none() => single_ident(&p.path).and_then(|i| scalar_named(&i.to_string())),
        _ => None,
    }
}

/// Gives the unsuffixed float literals of `e` (through unary minus and arithmetic) type `t`:
/// `Complex32::new(1.5, -2.0)` has f32 parts, as rustc infers them.
fn suffix_floats(e: &mut SourceExpr, t: ScalarType) {
    match &mut e.kind {
        ExprKind::Float(_, suffix @ None) => *suffix = Some(t),
        ExprKind::Unary(UnOp::Neg, a) => suffix_floats(a, t),
        ExprKind::Binary(op, a, b) if !op.is_comparison() && !op.is_logical() => {
            suffix_floats(a, t);
            suffix_floats(b, t);
        }
        _ => {}
    }
}

fn err<T>(span: Span, msg: impl std::fmt::Display) -> Result<T> {
    Err(Error::new(span, msg))
}

/// Parses a `#[gpu_kernel]` (`device: false`) or `#[gpu_device]` function.
pub fn kernel(f: &syn::ItemFn, options: KernelOptions, device: bool) -> Result<Kernel> {
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
    let mut const_generics = Vec::new();
    for g in &sig.generics.params {
        match g {
            syn::GenericParam::Type(tp) => {
                let bound = type_bound(tp)?;
                generics.push(Generic { name: tp.ident.to_string(), bound });
            }
            syn::GenericParam::Lifetime(l) => return err(l.span(), "kernels take no lifetime parameters"),
            syn::GenericParam::Const(c) => {
                if let Some(d) = &c.default {
                    return err(d.span(), "const generic parameters of kernels and device functions cannot have defaults");
                }
                let ok = matches!(&c.ty, syn::Type::Path(p) if p.path.get_ident().and_then(|i| scalar_named(&i.to_string())).is_some());
                if !ok {
                    return err(
                        c.ty.span(),
                        "a const generic parameter of a kernel or device function has a scalar type (`const B: usize`)",
                    );
                }
                const_generics.push(c.clone());
            }
        }
    }
    let cx = Cx { generics: &generics, device, callees: Default::default(), rngs: Default::default() };
    let mut params = Vec::new();
    let mut param_spans = Vec::new();
    for input in &sig.inputs {
        let syn::FnArg::Typed(pt) = input else {
            return err(input.span(), "a kernel cannot take `self`");
        };
        let name = match &*pt.pat {
            syn::Pat::Ident(pi) if pi.by_ref.is_none() && pi.subpat.is_none() => pi.ident.to_string(),
            other => return err(other.span(), "kernel parameters must be plain names"),
        };
        let kind = cx.param_type(&pt.ty)?;
        params.push(Param { name, kind, span: at(pt.span()) });
        param_spans.push(pt.span());
    }
    let ret = match &sig.output {
        syn::ReturnType::Type(_, ty) => Some(cx.scalar_type(ty)?),
        syn::ReturnType::Default => None,
    };
    let body = if ret.is_some() { cx.return_block(&f.block)? } else { cx.block(&f.block)? };
    let callees = cx.callees.into_inner();
    let name = sig.ident.clone();
    let mut source = KernelSource {
        name: name.to_string(),
        generics,
        params,
        body,
        span: at(name.span()),
        options,
        ret,
        callees: Vec::new(),
        device,
        file: String::new(),
    };
    // Names from outside the body (constants, const generic parameters): their values are
    // captured when the source is built.
    crate::resolve::mark_outer_names(&mut source);
    // Ids at parse time: the compiler's tables are indexed by them.
    source.number_nodes();
    let rust_params = sig.inputs.iter().filter_map(|i| if let syn::FnArg::Typed(pt) = i { Some((*pt.ty).clone()) } else { None }).collect();
    let rust_ret = match &sig.output {
        syn::ReturnType::Type(_, ty) => Some((**ty).clone()),
        syn::ReturnType::Default => None,
    };
    Ok(Kernel { source, name, param_spans, callees, rust_params, rust_ret, const_generics })
}

fn type_bound(tp: &syn::TypeParam) -> Result<GenericBound> {
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
        let name = last.ident.to_string();
        let bound = match GenericBound::ALL.iter().find(|b| b.name() == name) {
            Some(b) => *b,
            None => return err(last.ident.span(), "kernel type parameters take one of the bounds Float, Int, Number or Scalar"),
        };
        if found.is_some() {
            return err(b.span(), "give a kernel type parameter one bound: Float, Int, Number or Scalar");
        }
        found = Some(bound);
    }
    Ok(found.unwrap_or(GenericBound::Scalar))
}

/// What a block's tail expression becomes (a `return`, an assignment of the block's value).
type TailFn<'f> = dyn Fn(&syn::Expr) -> Result<Stmt> + 'f;

struct Cx<'a> {
    generics: &'a [Generic],
    /// Whether parsing a device function (which may return values).
    device: bool,
    callees: std::cell::RefCell<Vec<CalleeRef>>,
    /// The Philox generators declared so far (`let mut r = Philox::new(..)`).
    rngs: std::cell::RefCell<Vec<String>>,
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
    fn scalar_type(&self, ty: &syn::Type) -> Result<TypeRef> {
        if let syn::Type::Path(tp) = ty {
            if tp.qself.is_none() {
                if let Some(id) = single_ident(&tp.path) {
                    let name = id.to_string();
                    if let Some(t) = scalar_named(&name) {
                        return Ok(TypeRef::Scalar(t));
                    }
                    if let Some(i) = self.generics.iter().position(|g| g.name == name) {
                        return Ok(TypeRef::Generic(i));
                    }
                }
                match complex_named(&tp.path) {
                    Some(Some(t)) => return Ok(TypeRef::Scalar(t)),
                    Some(None) => return err(ty.span(), "complex numbers in kernels are `Complex<f32>` or `Complex<f64>`"),
                    None => {}
                }
            }
        }
        match ty {
            syn::Type::Paren(p) => return self.scalar_type(&p.elem),
            // `macro_rules!` passes a `$t:ty` fragment as an invisible group.
            syn::Type::Group(g) => return self.scalar_type(&g.elem),
            // Any other named type: a #[gpu_struct] (rustc checks it is one where the generated
            // code names its layout).
            syn::Type::Path(tp) if tp.qself.is_none() && tp.path.segments.iter().all(|s| s.arguments.is_none()) => {
                let text = quote::ToTokens::to_token_stream(&tp.path).to_string().replace(' ', "");
                crate::resolve::remember_span(&format!("type {text}"), ty.span());
                return Ok(TypeRef::Named(text));
            }
            _ => {}
        }
        err(
            ty.span(),
            "expected a scalar type (bool, i8..i64, u8..u64, isize, usize, f16, bf16, f32, f64, Complex<f32>, Complex<f64>) or a type parameter of the kernel",
        )
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
                // `&TensorMap`: a TMA descriptor, which the kernel sees as its 16 words.
                if let syn::Type::Path(tp) = &*r.elem {
                    if tp.path.segments.last().is_some_and(|s| s.ident == "TensorMap") {
                        if mutable {
                            return err(r.span(), "a tensor map is read: `&TensorMap`");
                        }
                        return Ok(ParamKind::Slice { elem: gpujit_lang::ast::TypeRef::Scalar(ScalarType::U64), mutable, ndim: 1 });
                    }
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
        self.scoped(|| self.stmts(&b.stmts, None))
    }

    /// `f` in a block's scope: the generators declared in it end with it (the names they
    /// shadowed come back).
    fn scoped<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let generators = self.rngs.borrow().clone();
        let r = f();
        *self.rngs.borrow_mut() = generators;
        r
    }

    /// A block's statements; a tail expression (`{ ..; value }`) becomes `tail`'s statement.
    fn stmts(&self, all: &[syn::Stmt], tail: Option<&TailFn<'_>>) -> Result<Block> {
        let (last, body) = match (all.last(), tail) {
            (Some(syn::Stmt::Expr(e, None)), Some(_)) => (Some(e), &all[..all.len() - 1]),
            _ => (None, all),
        };
        let mut stmts = Vec::new();
        for s in body {
            match s {
                syn::Stmt::Local(l) => stmts.extend(self.local(l)?),
                syn::Stmt::Expr(e, _) => stmts.push(self.stmt_expr(e)?),
                syn::Stmt::Item(i) => return err(i.span(), "items (fn, struct, use, ...) cannot be declared inside a kernel"),
                syn::Stmt::Macro(m) => stmts.push(self.macro_stmt(&m.mac)?),
            }
        }
        if let (Some(e), Some(tail)) = (last, tail) {
            stmts.push(tail(e)?);
        }
        Ok(Block { stmts })
    }

    /// `name` is bound to something other than a generator from here on (a `let` shadows it).
    fn shadow_generator(&self, name: &str) {
        self.rngs.borrow_mut().retain(|r| r != name);
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
            if let Some(stmt) = self.bulk_let(&name, mutable, &init.expr)? {
                if ty.is_some() {
                    return err(l.pat.span(), "a vector load gives a per-thread array; leave its type out: `let v = x.load::<4>(i);`");
                }
                self.shadow_generator(&name);
                return Ok(vec![stmt]);
            }
            if let Some(stmt) = self.array_decl(&name, &init.expr)? {
                return Ok(vec![stmt]);
            }
            if let Some(stmts) = self.generator_decl(&name, &init.expr)? {
                return Ok(stmts);
            }
            if init.diverge.is_none() && matches!(strip(&init.expr), syn::Expr::If(_) | syn::Expr::Match(_) | syn::Expr::Block(_)) {
                // `let v = if c { a } else { b };`: declare, then assign in each branch.
                let span = l.span();
                let decl = Stmt::Let { name: name.clone(), mutable, ty, init: None, span: at(span), id: NodeId::UNSET };
                let assign = self.assign_value(Place::Var(name.clone(), at(span)), None, &init.expr, span)?;
                self.shadow_generator(&name);
                return Ok(vec![decl, assign]);
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
        self.shadow_generator(&name);
        Ok(vec![Stmt::Let { name, mutable, ty, init, span: at(l.span()), id: NodeId::UNSET }])
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
            if let (Some(n), Some(Intrinsic::PerAxis(per_axis))) = (grid_arity(c), intrinsics::intrinsic(&name).map(|d| d.intrinsic)) {
                // `let (x, y) = grid(2);`: one axis a name.
                if n != pt.elems.len() {
                    return err(init.expr.span(), format!("`{name}({n})` gives {n} values but the pattern has {}", pt.elems.len()));
                }
                for (i, axis) in [Dim::X, Dim::Y, Dim::Z].into_iter().take(n).enumerate() {
                    let value = SourceExpr::new(ExprKind::Builtin(per_axis.at(axis), Vec::new()), at(span));
                    stmts.push(Stmt::Let { name: temp(i), mutable: false, ty: None, init: Some(value), span: at(span), id: NodeId::UNSET });
                }
            }
        }
        if let syn::Expr::MethodCall(m) = strip(&init.expr) {
            let parts = MathFn::from_user_method(&m.method.to_string()).and_then(MathFn::parts);
            if let Some(parts) = parts {
                // `let (s, c) = x.sin_cos();`: the operands once, then each field.
                if pt.elems.len() != 2 {
                    return err(pt.span(), format!("`{}` gives 2 values but the pattern has {}", m.method, pt.elems.len()));
                }
                let (_, ops) = self.method_call(m)?;
                let operand = |k: usize| format!("{}_op{k}", temp(0));
                let mut vars = Vec::new();
                for (k, op) in ops.into_iter().enumerate() {
                    stmts.push(Stmt::Let { name: operand(k), mutable: false, ty: None, init: Some(op), span: at(span), id: NodeId::UNSET });
                    vars.push(SourceExpr::new(ExprKind::Var(operand(k)), at(span)));
                }
                for (i, part) in parts.into_iter().enumerate() {
                    let value = SourceExpr::new(ExprKind::Math(part, vars.clone()), at(span));
                    stmts.push(Stmt::Let { name: temp(i), mutable: false, ty: None, init: Some(value), span: at(span), id: NodeId::UNSET });
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
                stmts.push(Stmt::Let {
                    name: temp(i),
                    mutable: false,
                    ty: None,
                    init: Some(self.expr(v)?),
                    span: at(span),
                    id: NodeId::UNSET,
                });
            }
        }
        for (i, p) in pt.elems.iter().enumerate() {
            let (name, mutable) = match p {
                syn::Pat::Ident(pi) if pi.by_ref.is_none() && pi.subpat.is_none() => (pi.ident.to_string(), pi.mutability.is_some()),
                syn::Pat::Wild(_) => continue,
                other => return err(other.span(), "each name of a tuple `let` is a plain name"),
            };
            let init = SourceExpr { kind: ExprKind::Var(temp(i)), span: at(span), id: NodeId::UNSET };
            stmts.push(Stmt::Let { name, mutable, ty: None, init: Some(init), span: at(span), id: NodeId::UNSET });
        }
        Ok(stmts)
    }

    /// `Philox::new(seed, subsequence)` or `Philox::with_offset(seed, subsequence, offset)` as
    /// the initializer of `let mut name`: the generator's state, three hidden u64 locals (seed,
    /// subsequence, words drawn so far).
    fn generator_decl(&self, name: &str, e: &syn::Expr) -> Result<Option<Vec<Stmt>>> {
        let syn::Expr::Call(c) = strip(e) else { return Ok(None) };
        let syn::Expr::Path(p) = strip(&c.func) else { return Ok(None) };
        let segs: Vec<String> = p.path.segments.iter().map(|s| s.ident.to_string()).collect();
        let with_offset = match &segs[..] {
            [.., ty, f] if ty == "Philox" && f == "new" => false,
            [.., ty, f] if ty == "Philox" && f == "with_offset" => true,
            _ => return Ok(None),
        };
        if c.args.len() != 2 + with_offset as usize {
            let usage = if with_offset {
                "`Philox::with_offset` takes the seed, the subsequence and the words to skip (all u64)"
            } else {
                "`Philox::new` takes the seed and the subsequence (both u64): `Philox::new(seed, i as u64)`"
            };
            return err(c.span(), usage);
        }
        let span = at(e.span());
        let [seed, sub, drawn] = gpujit_lang::random::state_locals(name);
        let u64t = Some(TypeRef::Scalar(ScalarType::U64));
        let offset = if with_offset { self.expr(&c.args[2])? } else { SourceExpr::int(0) };
        let mut stmts = Vec::new();
        for (local, init, mutable) in [(seed, self.expr(&c.args[0])?, false), (sub, self.expr(&c.args[1])?, false), (drawn, offset, true)] {
            stmts.push(Stmt::Let { name: local, mutable, ty: u64t.clone(), init: Some(init), span, id: NodeId::UNSET });
        }
        self.rngs.borrow_mut().push(name.to_string());
        Ok(Some(stmts))
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
        let (shared, consts) = match intrinsics::intrinsic(&seg.ident.to_string()).map(|d| d.intrinsic) {
            Some(Intrinsic::SharedArray { sizes }) => (true, sizes),
            Some(Intrinsic::LocalArray) => (false, 1),
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
            dims.push(self.const_arg(a)?);
        }
        let name = name.to_string();
        let span = at(span);
        Ok(Some(if shared {
            Stmt::Shared { name, elem, dims, span }
        } else {
            let len = dims.pop().unwrap_or_else(|| SourceExpr::int(1));
            Stmt::Local { name, elem, len, span }
        }))
    }

    /// A constant generic argument (an array size, the `N` of `load::<N>`): an integer literal
    /// of at least 1, a constant (`TILE`, `B`, `config::TILE`) or a constant expression in
    /// braces (`{ TILE + 1 }`).
    fn const_arg(&self, a: &syn::GenericArgument) -> Result<SourceExpr> {
        let size = match a {
            syn::GenericArgument::Const(e) => match strip(e) {
                syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Int(i), .. }) => {
                    if i.base10_parse::<u64>()? == 0 {
                        return err(i.span(), "an array size must be at least 1");
                    }
                    Some(self.expr(e)?)
                }
                syn::Expr::Block(b) if b.block.stmts.len() == 1 => match &b.block.stmts[0] {
                    syn::Stmt::Expr(e, None) => Some(self.expr(e)?),
                    _ => None,
                },
                _ => None,
            },
            // rustc parses a path here as a type.
            syn::GenericArgument::Type(syn::Type::Path(p)) if p.qself.is_none() => {
                let path = syn::ExprPath { attrs: Vec::new(), qself: None, path: p.path.clone() };
                Some(self.expr(&syn::Expr::Path(path))?)
            }
            _ => None,
        };
        match size {
            Some(s) => Ok(s),
            None => err(
                a.span(),
                "an array size is an integer literal, a constant (`TILE`, `B`) or a constant expression in braces (`{ TILE + 1 }`)",
            ),
        }
    }

    /// A macro as a statement: `assert!`, `assert_eq!`, `assert_ne!` and their `debug_` forms.
    fn macro_stmt(&self, m: &syn::Macro) -> Result<Stmt> {
        let name = m.path.get_ident().map(|i| i.to_string()).unwrap_or_default();
        if let Some((newline, stderr)) = match name.as_str() {
            "print" => Some((false, false)),
            "println" => Some((true, false)),
            "eprint" => Some((false, true)),
            "eprintln" => Some((true, true)),
            _ => None,
        } {
            return self.print_stmt(m, newline, stderr);
        }
        if name == "ptx_asm" {
            return self.asm_stmt(m);
        }
        let (kind, debug) = match name.as_str() {
            "assert" => (AssertKind::Cond, false),
            "assert_eq" => (AssertKind::Eq, false),
            "assert_ne" => (AssertKind::Ne, false),
            "debug_assert" => (AssertKind::Cond, true),
            "debug_assert_eq" => (AssertKind::Eq, true),
            "debug_assert_ne" => (AssertKind::Ne, true),
            _ => {
                return err(
                    m.span(),
                    "macros cannot be used inside a kernel, but for `print!`, `println!`, `eprint!`, `eprintln!`, `assert!`, `assert_eq!`, `assert_ne!`, their `debug_` forms and `ptx_asm!`",
                )
            }
        };
        let args = m.parse_body_with(syn::punctuated::Punctuated::<syn::Expr, syn::Token![,]>::parse_terminated)?;
        let args: Vec<&syn::Expr> = args.iter().collect();
        let n = if kind == AssertKind::Cond { 1 } else { 2 };
        if args.len() < n {
            return err(m.span(), format!("`{name}!` takes {} and an optional message", if n == 1 { "a condition" } else { "two values" }));
        }
        let operands = args[..n].iter().map(|a| self.expr(a)).collect::<Result<Vec<_>>>()?;
        let message = match args.get(n) {
            None => None,
            Some(syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(f), .. })) => {
                let rest = &args[n + 1..];
                let parsed = gpujit_lang::format::parse(&f.value(), rest.len()).map_err(|e| Error::new(f.span(), e))?;
                let mut values = rest.iter().map(|a| self.expr(a)).collect::<Result<Vec<_>>>()?;
                for name in &parsed.captured {
                    crate::resolve::remember_span(name, f.span());
                    values.push(SourceExpr::new(ExprKind::Var(name.clone()), at(f.span())));
                }
                let recorded = values.len() + if kind == AssertKind::Cond { 0 } else { 2 };
                if recorded > gpujit_lang::limits::MAX_ASSERT_VALUES {
                    return err(
                        f.span(),
                        format!(
                            "an assertion's message records at most {} values (with the compared ones)",
                            gpujit_lang::limits::MAX_ASSERT_VALUES
                        ),
                    );
                }
                Some((f.value(), values))
            }
            Some(other) => return err(other.span(), "an assertion's message is a string literal, then its arguments"),
        };
        let text = quote::ToTokens::to_token_stream(args[0]).to_string();
        let span = at(m.path.span());
        Ok(Stmt::Assert(Box::new(ast::Assertion { kind, operands, message, text, debug, file: String::new(), span })))
    }

    /// `ptx_asm!("add.s32 {0}, {1}, {2};", out(reg) r, in(reg) a, in(reg) b)`: a literal PTX
    /// template, then operands, each `in(reg) expr`, `out(reg) var` or `inout(reg) var` (a local
    /// variable). `{N}` in the template names operand N; `{{` and `}}` are braces.
    fn asm_stmt(&self, m: &syn::Macro) -> Result<Stmt> {
        use syn::parse::Parser;
        struct Operand {
            dir: AsmDir,
            expr: syn::Expr,
        }
        let parser = |input: syn::parse::ParseStream<'_>| -> syn::Result<(syn::LitStr, Vec<Operand>)> {
            let template: syn::LitStr = input.parse().map_err(|e| {
                syn::Error::new(e.span(), "`ptx_asm!` takes a string literal of PTX, then operands: `in(reg) a`, `out(reg) b`")
            })?;
            let mut operands = Vec::new();
            while !input.is_empty() {
                input.parse::<syn::Token![,]>()?;
                if input.is_empty() {
                    break;
                }
                let dir = if input.peek(syn::Token![in]) {
                    input.parse::<syn::Token![in]>()?;
                    AsmDir::In
                } else {
                    let id: syn::Ident = input
                        .parse()
                        .map_err(|e| syn::Error::new(e.span(), "an operand is `in(reg) value`, `out(reg) var` or `inout(reg) var`"))?;
                    match id.to_string().as_str() {
                        "out" => AsmDir::Out,
                        "inout" => AsmDir::InOut,
                        _ => return Err(syn::Error::new(id.span(), "an operand is `in(reg) value`, `out(reg) var` or `inout(reg) var`")),
                    }
                };
                let class;
                syn::parenthesized!(class in input);
                let class: syn::Ident = class.parse()?;
                if class != "reg" {
                    return Err(syn::Error::new(class.span(), "the operand class is `reg` (a register of the value's type)"));
                }
                operands.push(Operand { dir, expr: input.parse()? });
            }
            Ok((template, operands))
        };
        let (template, operands) = parser.parse2(m.tokens.clone())?;
        let text = template.value();
        // `{N}` with N < the operand count, `{{` and `}}`; nothing else in braces.
        gpujit_lang::asm::pieces(&text, operands.len()).map_err(|e| Error::new(template.span(), e))?;
        let mut out = Vec::new();
        for o in &operands {
            if o.dir != AsmDir::In && ident_of(&o.expr).is_none() {
                return err(o.expr.span(), "an `out(reg)` or `inout(reg)` operand is a local variable (declared with `let mut`)");
            }
            // `in(reg) &x[i]` / `&mut x[i]`: the element's address.
            if let (AsmDir::In, syn::Expr::Reference(r)) = (o.dir, strip(&o.expr)) {
                if !matches!(strip(&r.expr), syn::Expr::Index(_)) {
                    return err(r.span(), "an address operand is `&array[index]` (or `&mut array[index]` for instructions that write it)");
                }
                let dir = if r.mutability.is_some() { AsmDir::AddressMut } else { AsmDir::Address };
                out.push((dir, self.expr(&r.expr)?));
                continue;
            }
            out.push((o.dir, self.expr(&o.expr)?));
        }
        Ok(Stmt::Asm(Box::new(ast::InlineAsm { template: text, operands: out, span: at(m.path.span()) })))
    }

    /// `println!("x = {x:8.3}, i = {}", i)`: a literal format string and scalar arguments.
    fn print_stmt(&self, m: &syn::Macro, newline: bool, stderr: bool) -> Result<Stmt> {
        let args = m.parse_body_with(syn::punctuated::Punctuated::<syn::Expr, syn::Token![,]>::parse_terminated)?;
        let args: Vec<&syn::Expr> = args.iter().collect();
        let (format, rest) = match args.split_first() {
            None => (String::new(), &[][..]),
            Some((syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(f), .. }), rest)) => (f.value(), rest),
            Some((other, _)) => return err(other.span(), "`print!` takes a string literal, then its arguments"),
        };
        let parsed = gpujit_lang::format::parse(&format, rest.len())
            .map_err(|e| Error::new(args.first().map(|a| a.span()).unwrap_or_else(|| m.span()), e))?;
        let mut values = rest.iter().map(|a| self.expr(a)).collect::<Result<Vec<_>>>()?;
        for name in &parsed.captured {
            values.push(SourceExpr::new(ExprKind::Var(name.clone()), at(m.span())));
        }
        if values.len() > gpujit_lang::limits::MAX_PRINT_VALUES {
            return err(m.span(), format!("a `print!` in a kernel formats at most {} values", gpujit_lang::limits::MAX_PRINT_VALUES));
        }
        Ok(Stmt::Print(Box::new(ast::Printing { format, args: values, newline, stderr, span: at(m.path.span()) })))
    }

    fn stmt_expr(&self, e: &syn::Expr) -> Result<Stmt> {
        let span = e.span();
        if let Some(stmt) = self.bulk_stmt(e)? {
            return Ok(stmt);
        }
        let label = |l: &Option<syn::Label>| l.as_ref().map(|l| l.name.ident.to_string());
        match e {
            syn::Expr::Macro(m) => self.macro_stmt(&m.mac),
            syn::Expr::Assign(a) => self.assign_value(self.place(&a.left)?, None, &a.right, span),
            syn::Expr::Binary(b) => {
                let Some(op) = compound_op(&b.op) else {
                    return err(span, "this expression has no effect; a kernel statement must assign, branch or loop");
                };
                self.assign_value(self.place(&b.left)?, Some(op), &b.right, span)
            }
            syn::Expr::If(i) => self.if_stmt(i),
            syn::Expr::Match(m) => self.match_chain(m, &mut |cx, body| cx.arm_stmt(body)),
            syn::Expr::While(w) => {
                Ok(Stmt::While { cond: self.cond(&w.cond)?, body: self.block(&w.body)?, label: label(&w.label), span: at(span) })
            }
            syn::Expr::Loop(l) => {
                let cond = SourceExpr { kind: ExprKind::Bool(true), span: at(span), id: NodeId::UNSET };
                Ok(Stmt::While { cond, body: self.block(&l.body)?, label: label(&l.label), span: at(span) })
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
                Ok(Stmt::Break(b.label.as_ref().map(|l| l.ident.to_string()), at(span)))
            }
            syn::Expr::Continue(c) => Ok(Stmt::Continue(c.label.as_ref().map(|l| l.ident.to_string()), at(span))),
            syn::Expr::Return(r) => match &r.expr {
                Some(v) if self.device => self.return_value(v),
                Some(v) => err(v.span(), "a kernel returns nothing: write results into a `&mut [T]` parameter"),
                None => Ok(Stmt::Return(None, at(span))),
            },
            syn::Expr::Paren(p) => self.stmt_expr(&p.expr),
            syn::Expr::Call(c) => {
                let name = ident_of(&c.func).unwrap_or_default();
                let statement = match intrinsics::intrinsic(&name).map(|d| d.intrinsic) {
                    Some(Intrinsic::Barrier) => Stmt::Barrier(at(span)),
                    Some(Intrinsic::GridBarrier) => Stmt::GridBarrier(at(span)),
                    Some(Intrinsic::Fence(scope)) => Stmt::Fence(scope, at(span)),
                    _ => {
                        let e = self.expr(e)?;
                        return match e.kind {
                            ExprKind::Atomic { .. } | ExprKind::Collective(..) | ExprKind::Call(..) => Ok(Stmt::Eval(e)),
                            _ => err(span, "this expression has no effect; a kernel statement must assign, branch or loop"),
                        };
                    }
                };
                if !c.args.is_empty() {
                    return err(c.args.span(), format!("`{name}()` takes no arguments"));
                }
                Ok(statement)
            }
            // `r.next_u32();`: a draw discarded, which advances the generator.
            syn::Expr::MethodCall(m) if ident_of(&m.receiver).is_some_and(|r| self.rngs.borrow().contains(&r)) => {
                Ok(Stmt::Eval(self.expr(e)?))
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
                Ok(Stmt::If { cond: self.cond(&i.cond)?, then, otherwise, span: at(i.span()) })
            }
            syn::Expr::Block(b) if b.label.is_none() => Ok(Stmt::Block(self.return_block(&b.block)?)),
            syn::Expr::Match(m) => self.match_chain(m, &mut |cx, body| cx.return_value(body)),
            v => Ok(Stmt::Return(Some(self.expr(v)?), at(span))),
        }
    }

    /// A block whose tail expression is returned.
    fn return_block(&self, b: &syn::Block) -> Result<Block> {
        self.scoped(|| self.stmts(&b.stmts, Some(&|t| self.return_value(t))))
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
                Ok(Stmt::If { cond: self.cond(&i.cond)?, then, otherwise, span: at(i.span()) })
            }
            syn::Expr::Block(b) if b.label.is_none() => Ok(Stmt::Block(self.value_block(&b.block, &place, op)?)),
            syn::Expr::Match(m) => self.match_chain(m, &mut |cx, body| cx.assign_value(place.clone(), op, body, body.span())),
            v => Ok(Stmt::Assign { place, op, value: self.expr(v)?, span: at(span), id: NodeId::UNSET }),
        }
    }

    /// A block whose tail expression is the value assigned to `place`.
    fn value_block(&self, b: &syn::Block, place: &Place, op: Option<BinOp>) -> Result<Block> {
        self.scoped(|| self.stmts(&b.stmts, Some(&|t| self.assign_value(place.clone(), op, t, t.span()))))
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
        let scrutinee =
            Stmt::Let { name: temp.clone(), mutable: false, ty: None, init: Some(self.expr(&m.expr)?), span: at(span), id: NodeId::UNSET };
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
                let value = SourceExpr { kind: ExprKind::Var(temp.to_string()), span: at(span), id: NodeId::UNSET };
                let bind = Stmt::Let {
                    name: pi.ident.to_string(),
                    mutable: pi.mutability.is_some(),
                    ty: None,
                    init: Some(value),
                    span: at(span),
                    id: NodeId::UNSET,
                };
                let inner = match &first.guard {
                    Some((_, g)) => Stmt::If { cond: self.expr(g)?, then: Block { stmts: vec![body] }, otherwise: rest, span: at(span) },
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
            (Some((_, g)), Some(t)) => {
                SourceExpr { kind: ExprKind::Binary(BinOp::And, Box::new(t), Box::new(self.expr(g)?)), span: at(span), id: NodeId::UNSET }
            }
        };
        Ok(Some(Stmt::If { cond, then: Block { stmts: vec![body] }, otherwise: rest, span: at(span) }))
    }

    /// The condition under which the value in `temp` matches `pat` (`None`: always).
    fn pattern_test(&self, pat: &syn::Pat, temp: &str) -> Result<Option<SourceExpr>> {
        let span = pat.span();
        let var = || Box::new(SourceExpr { kind: ExprKind::Var(temp.to_string()), span: at(span), id: NodeId::UNSET });
        let cmp =
            |op: BinOp, e: SourceExpr| SourceExpr { kind: ExprKind::Binary(op, var(), Box::new(e)), span: at(span), id: NodeId::UNSET };
        Ok(Some(match pat {
            syn::Pat::Wild(_) => return Ok(None),
            syn::Pat::Lit(l) => cmp(BinOp::Eq, self.expr(&syn::Expr::Lit(l.clone()))?),
            syn::Pat::Paren(p) => return self.pattern_test(&p.pat, temp),
            syn::Pat::Range(r) => {
                let lo = r.start.as_ref().map(|e| self.expr(e)).transpose()?.map(|e| cmp(BinOp::Ge, e));
                let hi = match (&r.end, &r.limits) {
                    (Some(e), syn::RangeLimits::Closed(_)) => Some(cmp(BinOp::Le, self.expr(e)?)),
                    (Some(e), syn::RangeLimits::HalfOpen(_)) => Some(cmp(BinOp::Lt, self.expr(e)?)),
                    (None, _) => None,
                };
                match (lo, hi) {
                    (Some(a), Some(b)) => {
                        SourceExpr { kind: ExprKind::Binary(BinOp::And, Box::new(a), Box::new(b)), span: at(span), id: NodeId::UNSET }
                    }
                    (Some(a), None) | (None, Some(a)) => a,
                    (None, None) => return Ok(None),
                }
            }
            syn::Pat::Or(o) => {
                let mut acc: Option<SourceExpr> = None;
                for case in &o.cases {
                    let Some(t) = self.pattern_test(case, temp)? else { return Ok(None) };
                    acc = Some(match acc {
                        None => t,
                        Some(a) => {
                            SourceExpr { kind: ExprKind::Binary(BinOp::Or, Box::new(a), Box::new(t)), span: at(span), id: NodeId::UNSET }
                        }
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

    fn cond(&self, e: &syn::Expr) -> Result<SourceExpr> {
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
        Ok(Stmt::If { cond: self.cond(&i.cond)?, then: self.block(&i.then_branch)?, otherwise, span: at(i.span()) })
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
        let mut unroll = None;
        for a in &f.attrs {
            if !a.path().is_ident("unroll") {
                return err(a.span(), "the attribute a kernel `for` loop takes is `#[unroll]` (fully) or `#[unroll(n)]` (by a factor)");
            }
            unroll = Some(match &a.meta {
                syn::Meta::Path(_) => 0,
                syn::Meta::List(l) => {
                    let n: syn::LitInt =
                        l.parse_args().map_err(|_| syn::Error::new(l.span(), "`#[unroll(n)]` takes an integer literal, at least 1"))?;
                    let v: u32 = n.base10_parse()?;
                    if v == 0 {
                        return err(n.span(), "an unroll factor is at least 1 (`#[unroll]` unrolls fully)");
                    }
                    v
                }
                syn::Meta::NameValue(nv) => return err(nv.span(), "write `#[unroll]` or `#[unroll(n)]`"),
            });
        }
        Ok(Stmt::For {
            var,
            range: RangeLoop { start: self.expr(start)?, end: self.expr(end)?, inclusive, step, reverse, unroll },
            body: self.block(&f.body)?,
            label: f.label.as_ref().map(|l| l.name.ident.to_string()),
            span: at(f.span()),
            id: NodeId::UNSET,
        })
    }

    fn place(&self, e: &syn::Expr) -> Result<Place> {
        match strip(e) {
            // `p.pos[k] = ..`: an element of a struct's array field.
            syn::Expr::Index(ix) if matches!(strip(&ix.expr), syn::Expr::Field(f) if matches!(f.member, syn::Member::Named(_))) => {
                let syn::Expr::Field(fe) = strip(&ix.expr) else { unreachable!("matched above") };
                let syn::Member::Named(field) = &fe.member else { unreachable!("matched above") };
                Ok(Place::Field {
                    base: Box::new(self.place(&fe.base)?),
                    field: field.to_string(),
                    index: Some(self.expr(&ix.index)?),
                    span: at(field.span()),
                })
            }
            syn::Expr::Index(ix) => {
                let Some(array) = ident_of(&ix.expr) else {
                    return err(ix.expr.span(), "only array parameters can be indexed: `name[i]`");
                };
                Ok(Place::Index { array, index: self.indices(&ix.index)?, span: at(e.span()) })
            }
            syn::Expr::Field(fe) => match &fe.member {
                syn::Member::Named(field) => Ok(Place::Field {
                    base: Box::new(self.place(&fe.base)?),
                    field: field.to_string(),
                    index: None,
                    span: at(field.span()),
                }),
                syn::Member::Unnamed(i) => err(i.span(), "tuple fields cannot be assigned in kernels"),
            },
            other => match ident_of(other) {
                Some(name) => Ok(Place::Var(name, at(other.span()))),
                None => err(other.span(), "can only assign to a variable, to `array[i]` or to a field of one (`z.re`)"),
            },
        }
    }

    fn expr(&self, e: &syn::Expr) -> Result<SourceExpr> {
        let span = e.span();
        let kind = match e {
            syn::Expr::Paren(p) => return self.expr(&p.expr),
            syn::Expr::Group(g) => return self.expr(&g.expr),
            syn::Expr::Lit(l) => lit(&l.lit)?,
            syn::Expr::Path(p) => match (p.qself.is_none()).then(|| single_ident(&p.path)).flatten() {
                Some(id) if self.rngs.borrow().iter().any(|r| id == r) => {
                    return err(id.span(), format!("a Philox generator is used through its methods (`{id}.next_u32()`), not as a value"))
                }
                Some(id) => {
                    crate::resolve::remember_span(&id.to_string(), id.span());
                    ExprKind::Var(id.to_string())
                }
                None => self.const_path(p)?,
            },
            // `p.pos[k]`: an element of a struct's array field.
            syn::Expr::Index(ix) if matches!(strip(&ix.expr), syn::Expr::Field(f) if matches!(f.member, syn::Member::Named(_))) => {
                let syn::Expr::Field(fe) = strip(&ix.expr) else { unreachable!("matched above") };
                let syn::Member::Named(field) = &fe.member else { unreachable!("matched above") };
                ExprKind::FieldElement(Box::new(self.expr(&fe.base)?), field.to_string(), Box::new(self.expr(&ix.index)?))
            }
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
                let rng = ident_of(&m.receiver).filter(|r| self.rngs.borrow().contains(r));
                match (method.as_str(), ident_of(&m.receiver)) {
                    (_, Some(r)) if rng.is_some() => match gpujit_lang::random::Draw::from_method(&method) {
                        Some(d) if m.args.is_empty() => ExprKind::Random(d, r),
                        _ => {
                            let all: Vec<&str> = gpujit_lang::random::Draw::ALL.iter().map(|d| d.method()).collect();
                            return err(
                                m.method.span(),
                                format!("a Philox generator has the methods {}, without arguments", all.join(", ")),
                            );
                        }
                    },
                    ("len", Some(array)) if m.args.is_empty() => ExprKind::Len(array),
                    ("len", _) => return err(span, "`len()` applies to an array parameter: `name.len()`"),
                    // f16/bf16 → wider floats (exact).
                    ("to_f32" | "to_f64", _) if m.args.is_empty() => {
                        let to = if method == "to_f32" { ScalarType::F32 } else { ScalarType::F64 };
                        ExprKind::Cast(Box::new(self.expr(&m.receiver)?), TypeRef::Scalar(to))
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
                    _ if MathFn::from_user_method(&method).is_none() && ComplexFn::from_method(&method).is_some() => {
                        self.complex_method(m)?
                    }
                    _ => {
                        let (f, ops) = self.method_call(m)?;
                        if f.parts().is_some() {
                            return err(
                                m.method.span(),
                                format!("`{method}` gives a tuple: destructure it (`let (a, b) = x.{method}(..);`) or take a field (`.0`, `.1`)"),
                            );
                        }
                        ExprKind::Math(f, ops)
                    }
                }
            }
            // `x.overflowing_add(y).1`: one field of a tuple-valued method.
            syn::Expr::Field(fe) => {
                let method = match strip(&fe.base) {
                    syn::Expr::MethodCall(m) if MathFn::from_user_method(&m.method.to_string()).is_some_and(|f| f.parts().is_some()) => {
                        Some(m)
                    }
                    _ => None,
                };
                let Some(m) = method else {
                    return match &fe.member {
                        // `z.re`, `a[i].im`: a field of a complex value.
                        syn::Member::Named(name) => Ok(SourceExpr {
                            kind: ExprKind::Field(Box::new(self.expr(&fe.base)?), name.to_string()),
                            span: at(name.span()),
                            id: NodeId::UNSET,
                        }),
                        syn::Member::Unnamed(i) => err(
                            i.span(),
                            "tuple fields are only taken of tuple-valued methods in kernels (`x.sin_cos().0`); destructure tuples with `let (a, b) = ..`",
                        ),
                    };
                };
                let (f, ops) = self.method_call(m)?;
                let Some(parts) = f.parts() else {
                    return err(fe.member.span(), format!("`{}` gives one value, not a tuple", m.method));
                };
                let field = match &fe.member {
                    syn::Member::Unnamed(i) => parts.get(i.index as usize),
                    syn::Member::Named(_) => None,
                };
                let Some(part) = field else {
                    return err(fe.member.span(), format!("`{}` gives a pair: its fields are `.0` and `.1`", m.method));
                };
                ExprKind::Math(*part, ops)
            }
            syn::Expr::Unary(u) => {
                let op = match u.op {
                    syn::UnOp::Neg(_) => UnOp::Neg,
                    syn::UnOp::Not(_) => UnOp::Not,
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
            syn::Expr::Struct(st) if complex_named(&st.path).is_some() => self.complex_literal(st)?,
            syn::Expr::Struct(st) => self.struct_literal(st)?,
            syn::Expr::Tuple(_) | syn::Expr::Array(_) => {
                return err(span, "tuples and arrays are not values in kernels (an array literal may initialize a struct's array field)")
            }
            _ => return err(span, "this expression is not supported in kernels"),
        };
        Ok(SourceExpr { kind, span: at(span), id: NodeId::UNSET })
    }

    /// `x.method(args)` of the math table: the method and its operands, receiver first.
    fn method_call(&self, m: &syn::ExprMethodCall) -> Result<(MathFn, Vec<SourceExpr>)> {
        let method = m.method.to_string();
        let Some(f) = MathFn::from_user_method(&method) else {
            return err(m.method.span(), format!("method `{method}` is not supported in kernels yet"));
        };
        let nargs = f.arity() - 1;
        if m.args.len() != nargs {
            return err(m.span(), format!("`{method}` takes {nargs} argument(s)"));
        }
        if m.turbofish.is_some() {
            return err(m.span(), "turbofish is not supported on math methods");
        }
        let mut ops = vec![self.expr(&m.receiver)?];
        for a in &m.args {
            ops.push(self.expr(a)?);
        }
        Ok((f, ops))
    }

    /// A path naming a constant: `u32::MAX`, `f32::INFINITY`, `T::EPSILON` (a type parameter's),
    /// or `std::f64::consts::PI` (also `core::`).
    fn const_path(&self, p: &syn::ExprPath) -> Result<ExprKind> {
        // Errors point at the constant's name (a span over the whole path needs span joining,
        // which stable Rust's proc macros do not have), a wrong type at the type.
        let span = p.path.segments.last().map(|s| s.ident.span()).unwrap_or_else(|| p.span());
        let segs: Vec<String> = p.path.segments.iter().map(|s| s.ident.to_string()).collect();
        if p.path.segments.iter().any(|s| !s.arguments.is_none()) {
            return err(span, "generic arguments are not supported in kernel paths");
        }
        let names: Vec<&str> = segs.iter().map(String::as_str).collect();
        match names[..] {
            [ty, name] => {
                let ty_ref = if let Some(t) = scalar_named(ty) {
                    TypeRef::Scalar(t)
                } else if let Some(i) = self.generics.iter().position(|g| g.name == ty) {
                    TypeRef::Generic(i)
                } else {
                    // `config::TILE`, `Tile::SIZE`: a constant of the user's code.
                    return Ok(outer(&segs, span));
                };
                let Some(c) = TypeConst::from_rust_name(name) else {
                    let all: Vec<&str> = TypeConst::ALL.iter().map(|c| c.rust_name()).collect();
                    return err(span, format!("`{ty}::{name}` is not a constant kernels know; the scalar types have {}", all.join(", ")));
                };
                if let TypeRef::Scalar(t) = ty_ref {
                    if c.value(t).is_none() {
                        return err(span, format!("`{ty}` has no associated constant `{name}`"));
                    }
                }
                Ok(ExprKind::TypeConst(ty_ref, c))
            }
            ["std" | "core", ty @ ("f32" | "f64"), "consts", name] => {
                let t = if ty == "f32" { ScalarType::F32 } else { ScalarType::F64 };
                match float_const(t, name) {
                    Some(v) => Ok(ExprKind::Float(v, Some(t))),
                    None => err(span, format!("`{ty}::consts::{name}` is not a constant of `std::{ty}::consts`")),
                }
            }
            _ if p.path.leading_colon.is_none() => Ok(outer(&segs, p.path.segments.first().map(|s| s.ident.span()).unwrap_or(span))),
            _ => err(span, "paths in kernels name constants: `TILE`, `config::TILE`, `u32::MAX`, `T::INFINITY`, `std::f64::consts::PI`"),
        }
    }

    /// `i` or, for 2-D shared arrays, `[i, j]`.
    fn indices(&self, e: &syn::Expr) -> Result<Vec<SourceExpr>> {
        match strip(e) {
            syn::Expr::Array(a) => a.elems.iter().map(|x| self.expr(x)).collect(),
            _ => Ok(vec![self.expr(e)?]),
        }
    }

    /// `z.conj()`, `z.norm()`, ...: a method only complex numbers have.
    fn complex_method(&self, m: &syn::ExprMethodCall) -> Result<ExprKind> {
        let method = m.method.to_string();
        let Some(f) = ComplexFn::from_method(&method) else {
            return err(m.method.span(), format!("method `{method}` is not supported in kernels yet"));
        };
        let nargs = f.params().len() - 1;
        if m.args.len() != nargs {
            return err(m.span(), format!("`{method}` takes {nargs} argument(s)"));
        }
        let mut ops = vec![self.expr(&m.receiver)?];
        for a in &m.args {
            ops.push(self.expr(a)?);
        }
        Ok(ExprKind::Complex(f, ops))
    }

    /// `Particle { pos: [x, y, z], mass: m }`: a #[gpu_struct] value, every field given.
    fn struct_literal(&self, st: &syn::ExprStruct) -> Result<ExprKind> {
        if st.qself.is_some() || st.path.segments.iter().any(|s| !s.arguments.is_none()) {
            return err(st.path.span(), "a struct literal in a kernel names a #[gpu_struct] without generic arguments");
        }
        if let Some(rest) = &st.rest {
            return err(rest.span(), "`..` is not supported in kernels: give every field");
        }
        let mut fields = Vec::with_capacity(st.fields.len());
        for f in &st.fields {
            let syn::Member::Named(name) = &f.member else {
                return err(f.member.span(), "a #[gpu_struct] has named fields");
            };
            let values = match strip(&f.expr) {
                // An array field: its elements.
                syn::Expr::Array(a) => a.elems.iter().map(|x| self.expr(x)).collect::<Result<Vec<_>>>()?,
                syn::Expr::Repeat(r) => {
                    let n = match strip(&r.len) {
                        syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Int(i), .. }) => i.base10_parse::<usize>().ok(),
                        _ => None,
                    };
                    let Some(n) = n else {
                        return err(r.len.span(), "the length of `[x; N]` in a struct literal is an integer literal");
                    };
                    let x = self.expr(&r.expr)?;
                    vec![x; n]
                }
                _ => vec![self.expr(&f.expr)?],
            };
            fields.push((name.to_string(), values));
        }
        let text = quote::ToTokens::to_token_stream(&st.path).to_string().replace(' ', "");
        crate::resolve::remember_span(&format!("type {text}"), st.path.span());
        Ok(ExprKind::Construct(TypeRef::Named(text), fields))
    }

    /// `Complex { re, im }`.
    fn complex_literal(&self, st: &syn::ExprStruct) -> Result<ExprKind> {
        let mut parts = [None, None];
        for f in &st.fields {
            let name = match &f.member {
                syn::Member::Named(n) => n.to_string(),
                syn::Member::Unnamed(i) => i.index.to_string(),
            };
            let Some(i) = gpujit_lang::complex::field_index(&name) else {
                return err(f.member.span(), format!("`Complex` has the fields `re` and `im`, not `{name}`"));
            };
            parts[i as usize] = Some(self.expr(&f.expr)?);
        }
        if st.rest.is_some() {
            return err(st.span(), "`..` is not supported in kernels");
        }
        let [Some(mut re), Some(mut im)] = parts else {
            return err(st.span(), "`Complex { re, im }` needs both fields");
        };
        if let Some(Some(t)) = complex_named(&st.path) {
            let part = t.component().unwrap_or(ScalarType::F64);
            suffix_floats(&mut re, part);
            suffix_floats(&mut im, part);
        }
        Ok(ExprKind::Complex(ComplexFn::New, vec![re, im]))
    }

    fn call(&self, c: &syn::ExprCall) -> Result<ExprKind> {
        // `Complex::new(re, im)`, `Complex32::from_polar(r, theta)`, `Complex::<f64>::cis(t)`.
        if let syn::Expr::Path(p) = strip(&c.func) {
            let n = p.path.segments.len();
            if n >= 2 && p.qself.is_none() {
                let ty = syn::Path { leading_colon: None, segments: p.path.segments.iter().take(n - 1).cloned().collect() };
                if let Some(t) = complex_named(&ty) {
                    let name = p.path.segments[n - 1].ident.to_string();
                    let Some(f) = ComplexFn::from_function(&name) else {
                        let all: Vec<String> =
                            ComplexFn::ALL.iter().filter(|f| !f.is_method()).map(|f| format!("`{}`", f.spelling())).collect();
                        return err(
                            p.path.segments[n - 1].ident.span(),
                            format!("`Complex::{name}` is not supported in kernels; they have {}", all.join(", ")),
                        );
                    };
                    if c.args.len() != f.params().len() {
                        return err(c.span(), format!("`{}` takes {} argument(s)", f.spelling(), f.params().len()));
                    }
                    let mut args = c.args.iter().map(|a| self.expr(a)).collect::<Result<Vec<_>>>()?;
                    if let Some(t) = t {
                        let part = t.component().unwrap_or(ScalarType::F64);
                        args.iter_mut().for_each(|a| suffix_floats(a, part));
                    }
                    return Ok(ExprKind::Complex(f, args));
                }
            }
        }
        // `f16::from_f32(x)`, `bf16::from_f64(x)`, ...: rounding to a 16-bit float (once).
        if let syn::Expr::Path(p) = strip(&c.func) {
            let segs: Vec<String> = p.path.segments.iter().map(|s| s.ident.to_string()).collect();
            if let [ty, f] = &segs[..] {
                let half = scalar_named(ty).filter(|t| t.is_half());
                if let (Some(half), "from_f32" | "from_f64", 1) = (half, f.as_str(), c.args.len()) {
                    let from = if f == "from_f32" { ScalarType::F32 } else { ScalarType::F64 };
                    let x = SourceExpr::new(ExprKind::Cast(Box::new(self.expr(&c.args[0])?), TypeRef::Scalar(from)), at(c.args[0].span()));
                    return Ok(ExprKind::Cast(Box::new(x), TypeRef::Scalar(half)));
                }
            }
        }
        // `f32::from_bits(u)`, `T::from_bits(u)` (a `Float` type parameter's).
        if let syn::Expr::Path(p) = strip(&c.func) {
            let segs: Vec<String> = p.path.segments.iter().map(|s| s.ident.to_string()).collect();
            if let [ty, f] = &segs[..] {
                if f == "from_bits" {
                    let ty_ref = match scalar_named(ty) {
                        Some(t) if t.is_float() => TypeRef::Scalar(t),
                        Some(_) => {
                            return err(
                                c.func.span(),
                                format!("`{ty}::from_bits` is not supported in kernels: only the float types have it"),
                            )
                        }
                        None => match self.generics.iter().position(|g| g.name == *ty) {
                            Some(i) => TypeRef::Generic(i),
                            None => {
                                return err(c.func.span(), format!("`{ty}::from_bits`: `{ty}` is not a float type or a type parameter"))
                            }
                        },
                    };
                    if c.args.len() != 1 {
                        return err(c.span(), format!("`{ty}::from_bits` takes 1 argument"));
                    }
                    return Ok(ExprKind::FromBits(ty_ref, Box::new(self.expr(&c.args[0])?)));
                }
            }
        }
        // `f::<4>(x)`: a const generic device function's instance.
        if let syn::Expr::Path(p) = strip(&c.func) {
            let seg = p.path.segments.first().filter(|_| p.qself.is_none() && p.path.segments.len() == 1 && p.path.leading_colon.is_none());
            if let Some(syn::PathSegment { ident, arguments: syn::PathArguments::AngleBracketed(turbofish) }) = seg {
                let function = ident.to_string();
                let key = format!("{function}::{}", quote::ToTokens::to_token_stream(turbofish)).replace(' ', "");
                let mut callees = self.callees.borrow_mut();
                if !callees.iter().any(|c| c.key == key) {
                    callees.push(CalleeRef { key: key.clone(), function, turbofish: Some(turbofish.clone()), span: c.func.span() });
                }
                drop(callees);
                let args = c.args.iter().map(|a| self.expr(strip_ref(a))).collect::<Result<Vec<_>>>()?;
                return Ok(ExprKind::Call(key, args));
            }
        }
        let Some(name) = ident_of(&c.func) else {
            return err(c.func.span(), "only gpujit's intrinsics and `#[gpu_device]` functions can be called in kernels");
        };
        if let Some(f) = MathFn::from_function(&name) {
            // `mul_hi(a, b)`: a function of the math table; the first operand is the receiver.
            if c.args.len() != f.arity() {
                return err(c.span(), format!("`{name}` takes {} argument(s)", f.arity()));
            }
            let args = c.args.iter().map(|a| self.expr(a)).collect::<Result<Vec<_>>>()?;
            return Ok(ExprKind::Math(f, args));
        }
        let Some(def) = intrinsics::intrinsic(&name) else {
            // A `#[gpu_device]` function (rustc reports it if there is none of that name).
            let mut callees = self.callees.borrow_mut();
            if !callees.iter().any(|c| c.key == name) {
                callees.push(CalleeRef { key: name.clone(), function: name.clone(), turbofish: None, span: c.func.span() });
            }
            drop(callees);
            let args = c.args.iter().map(|a| self.expr(strip_ref(a))).collect::<Result<Vec<_>>>()?;
            return Ok(ExprKind::Call(name, args));
        };
        match def.intrinsic {
            Intrinsic::Atomic(op) => {
                if c.args.len() != def.params.len() {
                    let what = if op.values() == 2 { "(array, index, expected, new)" } else { "(array, index, value)" };
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
                Ok(ExprKind::Atomic { op, array, operands })
            }
            Intrinsic::Collective(op) => {
                if c.args.len() != def.params.len() {
                    return err(c.span(), format!("`{name}` takes {} argument(s)", def.params.len()));
                }
                let args = c.args.iter().map(|a| self.expr(a)).collect::<Result<Vec<_>>>()?;
                Ok(ExprKind::Collective(op, args))
            }
            Intrinsic::Builtin(b) => {
                if !c.args.is_empty() {
                    return err(c.args.span(), format!("`{name}()` takes no arguments"));
                }
                Ok(ExprKind::Builtin(b, Vec::new()))
            }
            Intrinsic::PerAxis(per_axis) => match grid_arity(c) {
                Some(1) => Ok(ExprKind::Builtin(per_axis.at(Dim::X), Vec::new())),
                Some(n) => err(c.span(), format!("`{name}({n})` gives a tuple: destructure it, `let (x, y) = {name}({n});`")),
                None => err(c.args.span(), format!("`{name}` takes the literal 1, 2 or 3")),
            },
            Intrinsic::Barrier | Intrinsic::GridBarrier | Intrinsic::Fence(_) => {
                err(c.span(), format!("`{name}()` is a statement: write `{name}();`"))
            }
            Intrinsic::SharedArray { .. } | Intrinsic::LocalArray => {
                err(c.span(), format!("`{name}` declares an array: `let mut a = {name}::<T, ..>();`"))
            }
        }
    }
}

/// A constant of the user's code, by its path: captured by value when the source is built.
fn outer(segs: &[String], span: Span) -> ExprKind {
    crate::resolve::remember_span(&segs.join("::"), span);
    ExprKind::Var(format!("{}{}", crate::resolve::OUTER, segs.join("::")))
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
    let suffix = |s: &str| -> Result<Option<ScalarType>> {
        if s.is_empty() {
            Ok(None)
        } else if let Some(t) = scalar_named(s).filter(|t| *t != ScalarType::Bool) {
            Ok(Some(t))
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
            let inner = if matches!(s, Some(ScalarType::F32 | ScalarType::F64)) {
                ExprKind::Float(digits.parse::<f64>().map_err(|e| Error::new(i.span(), e))?, s)
            } else {
                ExprKind::Int(digits.parse::<u128>().map_err(|e| Error::new(i.span(), e))?, s)
            };
            ExprKind::Unary(UnOp::Neg, Box::new(SourceExpr::new(inner, at(i.span()))))
        }
        syn::Lit::Int(i) => {
            let s = suffix(i.suffix())?;
            if matches!(s, Some(ScalarType::F32 | ScalarType::F64)) {
                ExprKind::Float(i.base10_parse::<f64>()?, s)
            } else {
                ExprKind::Int(i.base10_parse::<u128>()?, s)
            }
        }
        syn::Lit::Float(f) if f.base10_digits().starts_with('-') => {
            let v: f64 = f.base10_digits()[1..].parse().map_err(|e| Error::new(f.span(), e))?;
            ExprKind::Unary(UnOp::Neg, Box::new(SourceExpr::new(ExprKind::Float(v, suffix(f.suffix())?), at(f.span()))))
        }
        syn::Lit::Float(f) => ExprKind::Float(f.base10_parse::<f64>()?, suffix(f.suffix())?),
        syn::Lit::Bool(b) => ExprKind::Bool(b.value),
        other => return err(other.span(), "only integer, float and bool literals are supported in kernels"),
    })
}

fn binary_op(op: &syn::BinOp) -> Option<BinOp> {
    use syn::BinOp as B;
    Some(match op {
        B::Add(_) => BinOp::Add,
        B::Sub(_) => BinOp::Sub,
        B::Mul(_) => BinOp::Mul,
        B::Div(_) => BinOp::Div,
        B::Rem(_) => BinOp::Rem,
        B::And(_) => BinOp::And,
        B::Or(_) => BinOp::Or,
        B::BitXor(_) => BinOp::BitXor,
        B::BitAnd(_) => BinOp::BitAnd,
        B::BitOr(_) => BinOp::BitOr,
        B::Shl(_) => BinOp::Shl,
        B::Shr(_) => BinOp::Shr,
        B::Eq(_) => BinOp::Eq,
        B::Lt(_) => BinOp::Lt,
        B::Le(_) => BinOp::Le,
        B::Ne(_) => BinOp::Ne,
        B::Ge(_) => BinOp::Ge,
        B::Gt(_) => BinOp::Gt,
        _ => return None,
    })
}

fn compound_op(op: &syn::BinOp) -> Option<BinOp> {
    use syn::BinOp as B;
    Some(match op {
        B::AddAssign(_) => BinOp::Add,
        B::SubAssign(_) => BinOp::Sub,
        B::MulAssign(_) => BinOp::Mul,
        B::DivAssign(_) => BinOp::Div,
        B::RemAssign(_) => BinOp::Rem,
        B::BitXorAssign(_) => BinOp::BitXor,
        B::BitAndAssign(_) => BinOp::BitAnd,
        B::BitOrAssign(_) => BinOp::BitOr,
        B::ShlAssign(_) => BinOp::Shl,
        B::ShrAssign(_) => BinOp::Shr,
        _ => return None,
    })
}
