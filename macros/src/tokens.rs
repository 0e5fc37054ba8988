//! The source form → tokens that rebuild it in the user's crate (`::gpujit::__private::ast`).
//!
//! Every match here is exhaustive over `gpujit-lang`'s types, and enum variants are emitted by
//! their own `variant_name()` (generated from the variant's identifier), so a variant added to or
//! renamed in the language breaks this crate's build, not a user's.

use gpujit_lang::ast::{Block, Builtin, ExprKind, NodeId, Place, RangeLoop, SourceExpr, Span, Stmt, TypeRef};
use gpujit_lang::ScalarType;
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

/// Tokens of an expression that rebuilds the value.
pub trait Rebuild {
    fn rebuild(&self) -> TokenStream;
}

/// `Path::Variant` for a fieldless enum of the language.
fn variant(path: TokenStream, name: &str) -> TokenStream {
    let v = format_ident!("{}", name);
    quote!(#path::#v)
}

impl<T: Rebuild> Rebuild for Option<T> {
    fn rebuild(&self) -> TokenStream {
        match self {
            Some(v) => {
                let v = v.rebuild();
                quote!(::core::option::Option::Some(#v))
            }
            None => quote!(::core::option::Option::None),
        }
    }
}

impl<T: Rebuild> Rebuild for Vec<T> {
    fn rebuild(&self) -> TokenStream {
        let items = self.iter().map(Rebuild::rebuild);
        quote!(::std::vec![#(#items),*])
    }
}

impl<T: Rebuild> Rebuild for Box<T> {
    fn rebuild(&self) -> TokenStream {
        let v = (**self).rebuild();
        quote!(::std::boxed::Box::new(#v))
    }
}

impl Rebuild for String {
    fn rebuild(&self) -> TokenStream {
        quote!(::std::string::String::from(#self))
    }
}

macro_rules! literal {
    ($($t:ty),*) => {$(
        impl Rebuild for $t {
            fn rebuild(&self) -> TokenStream {
                quote!(#self)
            }
        }
    )*};
}
literal!(bool, u8, u64, u128);

impl Rebuild for f64 {
    /// By its bits: exact for every value (NaN, infinities, -0.0 too), and no decimal literal
    /// for lints to judge (`3.141592653589793` would be clippy's `approx_constant` in the
    /// user's crate).
    fn rebuild(&self) -> TokenStream {
        let bits = self.to_bits();
        quote!(::core::primitive::f64::from_bits(#bits))
    }
}

impl Rebuild for Span {
    fn rebuild(&self) -> TokenStream {
        let (line, col) = (self.line, self.column);
        quote!(Span::new(#line, #col))
    }
}

impl Rebuild for NodeId {
    fn rebuild(&self) -> TokenStream {
        let n = self.0;
        quote!(NodeId(#n))
    }
}

impl Rebuild for ScalarType {
    fn rebuild(&self) -> TokenStream {
        // The derived `Debug` of a fieldless variant is its identifier.
        variant(quote!(::gpujit::__private::ScalarType), &format!("{self:?}"))
    }
}

impl Rebuild for TypeRef {
    fn rebuild(&self) -> TokenStream {
        match self {
            TypeRef::Scalar(s) => {
                let s = s.rebuild();
                quote!(TypeRef::Scalar(#s))
            }
            TypeRef::Generic(i) => quote!(TypeRef::Generic(#i)),
            // A #[gpu_struct] by its path, resolved in the user's crate; an error at the type
            // where it is not one.
            TypeRef::Named(text) => {
                let span = crate::resolve::span_of(&format!("type {text}")).unwrap_or_else(proc_macro2::Span::call_site);
                match syn::parse_str::<syn::Path>(text) {
                    Ok(mut path) => {
                        path.segments.iter_mut().for_each(|s| s.ident.set_span(span));
                        quote::quote_spanned!(span=> TypeRef::Scalar(<#path as ::gpujit::__private::KernelType>::TYPE))
                    }
                    Err(_) => quote::quote_spanned!(span=> ::core::compile_error!("not a type kernels know")),
                }
            }
        }
    }
}

impl Rebuild for Block {
    fn rebuild(&self) -> TokenStream {
        let stmts = self.stmts.rebuild();
        quote!(Block { stmts: #stmts })
    }
}

impl Rebuild for Place {
    fn rebuild(&self) -> TokenStream {
        match self {
            Place::Var(n, sp) => {
                let (n, sp) = (n.rebuild(), sp.rebuild());
                quote!(Place::Var(#n, #sp))
            }
            Place::Index { array, index, span } => {
                let (array, index, span) = (array.rebuild(), index.rebuild(), span.rebuild());
                quote!(Place::Index { array: #array, index: #index, span: #span })
            }
            Place::Field { base, field, index, span } => {
                let (base, field, index, span) = (base.rebuild(), field.rebuild(), index.rebuild(), span.rebuild());
                quote!(Place::Field { base: #base, field: #field, index: #index, span: #span })
            }
        }
    }
}

impl Rebuild for RangeLoop {
    fn rebuild(&self) -> TokenStream {
        let RangeLoop { start, end, inclusive, step, reverse, unroll } = self;
        let unroll = match unroll {
            Some(n) => quote!(::core::option::Option::Some(#n)),
            None => quote!(::core::option::Option::None),
        };
        let (start, end, step) = (start.rebuild(), end.rebuild(), step.rebuild());
        quote!(RangeLoop { start: #start, end: #end, inclusive: #inclusive, step: #step, reverse: #reverse, unroll: #unroll })
    }
}

impl Rebuild for Stmt {
    fn rebuild(&self) -> TokenStream {
        match self {
            Stmt::Let { name, mutable, ty, init, span, id } => {
                let (name, ty, init, span, id) = (name.rebuild(), ty.rebuild(), init.rebuild(), span.rebuild(), id.rebuild());
                quote!(Stmt::Let { name: #name, mutable: #mutable, ty: #ty, init: #init, span: #span, id: #id })
            }
            Stmt::Assign { place, op, value, span, id } => {
                let op = match op {
                    Some(op) => {
                        let op = variant(quote!(BinOp), op.variant_name());
                        quote!(::core::option::Option::Some(#op))
                    }
                    None => quote!(::core::option::Option::None),
                };
                let (place, value, span, id) = (place.rebuild(), value.rebuild(), span.rebuild(), id.rebuild());
                quote!(Stmt::Assign { place: #place, op: #op, value: #value, span: #span, id: #id })
            }
            Stmt::If { cond, then, otherwise, span } => {
                let (cond, then, otherwise, span) = (cond.rebuild(), then.rebuild(), otherwise.rebuild(), span.rebuild());
                quote!(Stmt::If { cond: #cond, then: #then, otherwise: #otherwise, span: #span })
            }
            Stmt::While { cond, body, label, span } => {
                let (cond, body, label, span) = (cond.rebuild(), body.rebuild(), label.rebuild(), span.rebuild());
                quote!(Stmt::While { cond: #cond, body: #body, label: #label, span: #span })
            }
            Stmt::For { var, range, body, label, span, id } => {
                let (var, range, body, label, span) = (var.rebuild(), range.rebuild(), body.rebuild(), label.rebuild(), span.rebuild());
                let id = id.rebuild();
                quote!(Stmt::For { var: #var, range: #range, body: #body, label: #label, span: #span, id: #id })
            }
            Stmt::Block(b) => {
                let b = b.rebuild();
                quote!(Stmt::Block(#b))
            }
            Stmt::Break(label, span) => {
                let (label, span) = (label.rebuild(), span.rebuild());
                quote!(Stmt::Break(#label, #span))
            }
            Stmt::Continue(label, span) => {
                let (label, span) = (label.rebuild(), span.rebuild());
                quote!(Stmt::Continue(#label, #span))
            }
            Stmt::Return(value, span) => {
                let (value, span) = (value.rebuild(), span.rebuild());
                quote!(Stmt::Return(#value, #span))
            }
            Stmt::Shared { name, elem, dims, span } => {
                let (name, elem, dims, span) = (name.rebuild(), elem.rebuild(), dims.rebuild(), span.rebuild());
                quote!(Stmt::Shared { name: #name, elem: #elem, dims: #dims, span: #span })
            }
            Stmt::Local { name, elem, len, span } => {
                let (name, elem, len, span) = (name.rebuild(), elem.rebuild(), len.rebuild(), span.rebuild());
                quote!(Stmt::Local { name: #name, elem: #elem, len: #len, span: #span })
            }
            Stmt::Barrier(span) => {
                let span = span.rebuild();
                quote!(Stmt::Barrier(#span))
            }
            Stmt::GridBarrier(span) => {
                let span = span.rebuild();
                quote!(Stmt::GridBarrier(#span))
            }
            Stmt::Fence(scope, span) => {
                let (scope, span) = (variant(quote!(FenceScope), scope.variant_name()), span.rebuild());
                quote!(Stmt::Fence(#scope, #span))
            }
            Stmt::Eval(e) => {
                let e = e.rebuild();
                quote!(Stmt::Eval(#e))
            }
            Stmt::Print(p) => {
                let (format, args, newline, stderr, span) = (p.format.rebuild(), p.args.rebuild(), p.newline, p.stderr, p.span.rebuild());
                quote!(Stmt::Print(::std::boxed::Box::new(Printing { format: #format, args: #args, newline: #newline, stderr: #stderr, span: #span })))
            }
            Stmt::Assert(a) => {
                let kind = variant(quote!(AssertKind), a.kind.variant_name());
                let (operands, text, span, debug) = (a.operands.rebuild(), a.text.rebuild(), a.span.rebuild(), a.debug);
                let message = match &a.message {
                    Some((f, args)) => {
                        let (f, args) = (f.rebuild(), args.rebuild());
                        quote!(::core::option::Option::Some((#f, #args)))
                    }
                    None => quote!(::core::option::Option::None),
                };
                quote!(Stmt::Assert(::std::boxed::Box::new(Assertion {
                    kind: #kind,
                    operands: #operands,
                    message: #message,
                    text: #text,
                    debug: #debug,
                    file: ::std::string::String::from(::core::file!()),
                    span: #span,
                })))
            }
            Stmt::Asm(a) => {
                let (template, span) = (a.template.rebuild(), a.span.rebuild());
                let operands = a.operands.iter().map(|(dir, e)| {
                    let dir = variant(quote!(AsmDir), dir.variant_name());
                    let e = e.rebuild();
                    quote!((#dir, #e))
                });
                quote!(Stmt::Asm(::std::boxed::Box::new(InlineAsm { template: #template, operands: ::std::vec![#(#operands),*], span: #span })))
            }
            Stmt::Bulk(b) => {
                let kind = variant(quote!(BulkKind), b.kind.variant_name());
                let hint = variant(quote!(CacheHint), b.hint.variant_name());
                let (count, operands, span, id) = (b.count.rebuild(), b.operands.rebuild(), b.span.rebuild(), b.id.rebuild());
                let values = b.values.rebuild();
                let declares = match &b.declares {
                    Some((name, mutable)) => {
                        let name = name.rebuild();
                        quote!(::core::option::Option::Some((#name, #mutable)))
                    }
                    None => quote!(::core::option::Option::None),
                };
                quote!(Stmt::Bulk(::std::boxed::Box::new(Bulk {
                    kind: #kind,
                    hint: #hint,
                    count: #count,
                    operands: #operands,
                    values: #values,
                    declares: #declares,
                    span: #span,
                    id: #id,
                })))
            }
        }
    }
}

impl Rebuild for Builtin {
    fn rebuild(&self) -> TokenStream {
        let with_dim = |name: &str, d: gpujit_lang::ast::Dim| {
            let (b, d) = (format_ident!("{}", name), variant(quote!(Dim), d.variant_name()));
            quote!(Builtin::#b(#d))
        };
        match *self {
            Builtin::ThreadIdx(d) => with_dim("ThreadIdx", d),
            Builtin::BlockIdx(d) => with_dim("BlockIdx", d),
            Builtin::BlockDim(d) => with_dim("BlockDim", d),
            Builtin::GridDim(d) => with_dim("GridDim", d),
            Builtin::Grid(d) => with_dim("Grid", d),
            Builtin::GridSize(d) => with_dim("GridSize", d),
            Builtin::LaneId => quote!(Builtin::LaneId),
            Builtin::WarpSize => quote!(Builtin::WarpSize),
        }
    }
}

impl Rebuild for SourceExpr {
    fn rebuild(&self) -> TokenStream {
        let kind = match &self.kind {
            ExprKind::Int(v, s) => {
                let s = s.rebuild();
                quote!(ExprKind::Int(#v, #s))
            }
            ExprKind::Float(v, s) => {
                let (v, s) = (v.rebuild(), s.rebuild());
                quote!(ExprKind::Float(#v, #s))
            }
            ExprKind::Bool(b) => quote!(ExprKind::Bool(#b)),
            ExprKind::Var(n) => match crate::resolve::outer_path(n).and_then(|p| Some((p, syn::parse_str::<syn::Path>(p).ok()?))) {
                // A constant from outside the body: its value, as a typed literal; a wrong type
                // or an unknown name is reported where the body names it.
                Some((text, mut path)) => {
                    let span = crate::resolve::span_of(text).unwrap_or_else(proc_macro2::Span::call_site);
                    path.segments.iter_mut().for_each(|s| s.ident.set_span(span));
                    quote::quote_spanned!(span=> ::gpujit::__private::constant(#path))
                }
                None => {
                    let n = n.rebuild();
                    quote!(ExprKind::Var(#n))
                }
            },
            ExprKind::Index { array, index } => {
                let (array, index) = (array.rebuild(), index.rebuild());
                quote!(ExprKind::Index { array: #array, index: #index })
            }
            ExprKind::ArrayDim { array, axis, stride } => {
                let array = array.rebuild();
                quote!(ExprKind::ArrayDim { array: #array, axis: #axis, stride: #stride })
            }
            ExprKind::Len(a) => {
                let a = a.rebuild();
                quote!(ExprKind::Len(#a))
            }
            ExprKind::Unary(op, a) => {
                let (op, a) = (variant(quote!(UnOp), op.variant_name()), a.rebuild());
                quote!(ExprKind::Unary(#op, #a))
            }
            ExprKind::Binary(op, a, b) => {
                let (op, a, b) = (variant(quote!(BinOp), op.variant_name()), a.rebuild(), b.rebuild());
                quote!(ExprKind::Binary(#op, #a, #b))
            }
            ExprKind::Cast(a, t) => {
                let (a, t) = (a.rebuild(), t.rebuild());
                quote!(ExprKind::Cast(#a, #t))
            }
            ExprKind::Random(d, r) => {
                let (d, r) = (variant(quote!(::gpujit::__private::Draw), d.variant_name()), r.rebuild());
                quote!(ExprKind::Random(#d, #r))
            }
            ExprKind::FromBits(t, a) => {
                let (t, a) = (t.rebuild(), a.rebuild());
                quote!(ExprKind::FromBits(#t, #a))
            }
            ExprKind::Builtin(b, args) => {
                let (b, args) = (b.rebuild(), args.rebuild());
                quote!(ExprKind::Builtin(#b, #args))
            }
            ExprKind::Math(f, ops) => {
                let (f, ops) = (variant(quote!(::gpujit::__private::MathFn), f.variant_name()), ops.rebuild());
                quote!(ExprKind::Math(#f, #ops))
            }
            ExprKind::Call(f, args) => {
                let (f, args) = (f.rebuild(), args.rebuild());
                quote!(ExprKind::Call(#f, #args))
            }
            ExprKind::Field(base, name) => {
                let (base, name) = (base.rebuild(), name.rebuild());
                quote!(ExprKind::Field(#base, #name))
            }
            ExprKind::FieldElement(base, name, index) => {
                let (base, name, index) = (base.rebuild(), name.rebuild(), index.rebuild());
                quote!(ExprKind::FieldElement(#base, #name, #index))
            }
            ExprKind::Construct(t, fields) => {
                let t = t.rebuild();
                let fields = fields.iter().map(|(name, values)| {
                    let (name, values) = (name.rebuild(), values.rebuild());
                    quote!((#name, #values))
                });
                quote!(ExprKind::Construct(#t, ::std::vec![#(#fields),*]))
            }
            ExprKind::Complex(f, ops) => {
                let (f, ops) = (variant(quote!(::gpujit::__private::ComplexFn), f.variant_name()), ops.rebuild());
                quote!(ExprKind::Complex(#f, #ops))
            }
            ExprKind::Collective(c, args) => {
                let (c, args) = (variant(quote!(Collective), c.variant_name()), args.rebuild());
                quote!(ExprKind::Collective(#c, #args))
            }
            ExprKind::TypeConst(t, c) => {
                let (t, c) = (t.rebuild(), variant(quote!(TypeConst), c.variant_name()));
                quote!(ExprKind::TypeConst(#t, #c))
            }
            ExprKind::Atomic { op, array, operands } => {
                let (op, array, operands) = (variant(quote!(AtomicOp), op.variant_name()), array.rebuild(), operands.rebuild());
                quote!(ExprKind::Atomic { op: #op, array: #array, operands: #operands })
            }
        };
        let (span, id) = (self.span.rebuild(), self.id.rebuild());
        quote!(SourceExpr::with_id(#kind, #span, #id))
    }
}
