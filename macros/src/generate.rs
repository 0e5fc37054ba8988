//! The macro's syntax tree → tokens: the kernel's unit struct, the code that builds its source
//! form (`gpujit::__private::ast`) on first use, and the type-checked twin of the function.

use crate::parse::{Block, Bound, Expr, ExprKind, Kernel, ParamKind, Place, Stmt, Ty};
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};

/// The expression building the function's `KernelSource`. `callee_prefix` leads the paths to
/// the callees' source functions (`super::` from inside a device function's module).
fn source(k: &Kernel, callee_prefix: TokenStream) -> TokenStream {
    let name_str = k.name.to_string();
    let generics = k.generics.iter().map(|(g, b)| {
        let bound = format_ident!(
            "{}",
            match b {
                Bound::Float => "Float",
                Bound::Int => "Int",
                Bound::Number => "Number",
                Bound::Scalar => "Scalar",
            }
        );
        quote!(Generic { name: ::std::string::String::from(#g), bound: GenericBound::#bound })
    });
    let params = k.params.iter().map(|p| {
        let pname = &p.name;
        let kind = match &p.kind {
            ParamKind::Scalar(t) => {
                let t = ty(t);
                quote!(ParamKind::Scalar(#t))
            }
            ParamKind::Slice { elem, mutable, ndim } => {
                let t = ty(elem);
                quote!(ParamKind::Slice { elem: #t, mutable: #mutable, ndim: #ndim })
            }
        };
        let sp = span(p.span);
        quote!(Param { name: ::std::string::String::from(#pname), kind: #kind, span: #sp })
    });
    let callees = k.callees.iter().map(|(c, sp)| {
        let module = syn::Ident::new(c, *sp);
        let source = quote::quote_spanned!(*sp=> #callee_prefix #module::__gpujit_source);
        quote!(Callee { name: #c, source: #source })
    });
    let body = block(&k.body);
    let o = &k.options;
    let fastmath = o.fastmath;
    let boundscheck = o.boundscheck;
    let opt = |v: Option<u32>| match v {
        Some(v) => quote!(::core::option::Option::Some(#v)),
        None => quote!(::core::option::Option::None),
    };
    let (max_threads, min_blocks, max_registers) = (opt(o.max_threads), opt(o.min_blocks), opt(o.max_registers));
    let ret = match &k.ret {
        Some(t) => {
            let t = ty(t);
            quote!(::core::option::Option::Some(#t))
        }
        None => quote!(::core::option::Option::None),
    };
    let device = k.device;
    let sp = span(k.name.span());
    quote! {{
        #[allow(unused_imports)]
        use ::gpujit::__private::ast::*;
        KernelSource {
            name: ::std::string::String::from(#name_str),
            generics: ::std::vec![#(#generics),*],
            params: ::std::vec![#(#params),*],
            body: #body,
            span: #sp,
            options: KernelOptions {
                fastmath: #fastmath,
                max_threads_per_block: #max_threads,
                min_blocks_per_sm: #min_blocks,
                max_registers: #max_registers,
                boundscheck: #boundscheck,
                aligned16: false,
            },
            ret: #ret,
            callees: ::std::vec![#(#callees),*],
            device: #device,
        }
    }}
}

/// The expression building a kernel's source form (for `forall!`).
pub fn kernel_source(k: &Kernel) -> TokenStream {
    source(k, quote!())
}

pub fn kernel(k: &Kernel, func: &syn::ItemFn) -> TokenStream {
    let name = &k.name;
    let vis = &func.vis;
    let docs: Vec<&syn::Attribute> = func.attrs.iter().filter(|a| a.path().is_ident("doc")).collect();
    let source = source(k, quote!());
    let mut twin = func.clone();
    twin.attrs.retain(|a| !a.path().is_ident("doc"));
    syn::visit_mut::VisitMut::visit_block_mut(&mut TupleGrids, &mut twin.block);
    quote! {
        #(#docs)*
        #[allow(non_camel_case_types)]
        #[derive(Copy, Clone, Debug)]
        #vis struct #name;

        impl ::core::ops::Deref for #name {
            type Target = ::gpujit::Kernel;
            fn deref(&self) -> &::gpujit::Kernel {
                static KERNEL: ::std::sync::OnceLock<::gpujit::Kernel> = ::std::sync::OnceLock::new();
                KERNEL.get_or_init(|| ::gpujit::Kernel::new(#source))
            }
        }

        // The function itself, never called: rustc type-checks the kernel body against host
        // stand-ins of the intrinsics, so type errors show at `cargo build`.
        const _: () = {
            #[allow(unused_imports)]
            use ::gpujit::kernel_prelude::*;
            #[allow(dead_code, unused, non_snake_case, unstable_name_collisions, clippy::all)]
            #twin
        };
    }
}

/// `#[gpu_device]`: the function itself (an ordinary Rust function, callable on the host too,
/// and what rustc checks kernels' calls against), and beside it a module of the same name whose
/// `__gpujit_source()` gives its source form to the kernels that call it.
pub fn device(k: &Kernel, func: &syn::ItemFn) -> TokenStream {
    device_with(k, func, TokenStream::new(), quote!())
}

/// [`device`] with `extra` items in the function's module.
fn device_with(k: &Kernel, func: &syn::ItemFn, extra: TokenStream, attrs: TokenStream) -> TokenStream {
    let name = &k.name;
    let vis = &func.vis;
    let source = source(k, quote!(super::));
    let host = host_function(func);
    quote! {
        #[allow(unstable_name_collisions)]
        #attrs
        #host

        #[doc(hidden)]
        #[allow(non_snake_case)]
        #vis mod #name {
            /// The source form of the device function, for the kernels that call it.
            pub fn __gpujit_source() -> &'static ::gpujit::__private::ast::KernelSource {
                static SOURCE: ::std::sync::OnceLock<::gpujit::__private::ast::KernelSource> = ::std::sync::OnceLock::new();
                SOURCE.get_or_init(|| #source)
            }

            #extra
        }
    }
}

/// `#[gpu_vectorize]`: the device function plus `map`, building an expression that calls it.
pub fn vectorize(k: &Kernel, func: &syn::ItemFn) -> syn::Result<TokenStream> {
    let ret = map_return(k)?;
    let (generics, args, operands) = map_signature(k)?;
    let name_str = k.name.to_string();
    let doc = format!("`{name_str}` applied elementwise: a lazy expression over arrays, views and scalars (broadcast).");
    let extra = quote! {
        #[doc = #doc]
        #[allow(clippy::too_many_arguments)]
        pub fn map<'__gpujit, #(#generics),*>(#(#args),*) -> ::gpujit::Expr<'__gpujit, #ret> {
            ::gpujit::runtime::expr::call(
                ::gpujit::runtime::expr::callee(#name_str, __gpujit_source),
                ::std::vec![#(#operands),*],
            )
        }
    };
    // Used through `map` alone, the scalar function is not dead code.
    Ok(device_with(k, func, extra, quote!(#[allow(dead_code)])))
}

/// One output of a several-output `#[gpu_vectorize]` function, as a device function of its own.
pub fn device_part(k: &Kernel, func: &syn::ItemFn) -> TokenStream {
    // A part may not use every local of the whole body.
    device_with(k, func, TokenStream::new(), quote!(#[allow(dead_code, unused_variables)]))
}

/// The function for the host, as `#[gpu_device]` emits it.
pub fn host_function(func: &syn::ItemFn) -> syn::ItemFn {
    let mut host = func.clone();
    syn::visit_mut::VisitMut::visit_block_mut(&mut TupleGrids, &mut host.block);
    let prelude: syn::Stmt = syn::parse_quote!(
        #[allow(unused_imports)]
        use ::gpujit::kernel_prelude::*;
    );
    host.block.stmts.insert(0, prelude);
    host
}

/// The Rust type of a vectorized function's result.
pub fn map_return(k: &Kernel) -> syn::Result<TokenStream> {
    match &k.ret {
        Some(ret) => Ok(rust_ty(k, ret)),
        None => Err(syn::Error::new(k.name.span(), "a #[gpu_vectorize] function returns its result: add `-> T`")),
    }
}

fn rust_ty(k: &Kernel, t: &Ty) -> TokenStream {
    match t {
        Ty::Scalar(s) if s == "f16" || s == "bf16" => {
            let i = format_ident!("{}", s);
            quote!(::gpujit::prelude::#i)
        }
        Ty::Scalar(s) => {
            let i = format_ident!("{}", s);
            quote!(#i)
        }
        Ty::Generic(g) => {
            let i = format_ident!("{}", k.generics[*g].0);
            quote!(#i)
        }
    }
}

/// `map`'s generic parameters, its parameters (`__gpujit_operandN: impl IntoExpr<T>`) and the
/// expressions turning each into an operand graph.
pub fn map_signature(k: &Kernel) -> syn::Result<(Vec<TokenStream>, Vec<TokenStream>, Vec<TokenStream>)> {
    let mut args = Vec::new();
    let mut operands = Vec::new();
    for (n, p) in k.params.iter().enumerate() {
        let ParamKind::Scalar(t) = &p.kind else {
            return Err(syn::Error::new(p.span, "#[gpu_vectorize] functions take scalars; for arrays write a #[gpu_kernel]"));
        };
        let a = format_ident!("__gpujit_operand{}", n);
        let t = rust_ty(k, t);
        args.push(quote!(#a: impl ::gpujit::IntoExpr<'__gpujit, #t>));
        operands.push(quote!(::gpujit::expr::<#t>(#a).into_graph()));
    }
    let generics = k
        .generics
        .iter()
        .map(|(g, b)| {
            let g = format_ident!("{}", g);
            let bound = format_ident!(
                "{}",
                match b {
                    Bound::Float => "FloatElement",
                    Bound::Int => "IntElement",
                    Bound::Number => "NumElement",
                    Bound::Scalar => "Element",
                }
            );
            quote!(#g: ::gpujit::runtime::expr::#bound)
        })
        .collect();
    Ok((generics, args, operands))
}

fn span(s: Span) -> TokenStream {
    let start = s.start();
    let (line, col) = (start.line as u32, start.column as u32);
    quote!(Span::new(#line, #col))
}

fn scalar(name: &str) -> TokenStream {
    let v = match name {
        "bool" => "Bool",
        "i8" => "I8",
        "i16" => "I16",
        "i32" => "I32",
        "i64" | "isize" => "I64",
        "u8" => "U8",
        "u16" => "U16",
        "u32" => "U32",
        "u64" | "usize" => "U64",
        "f32" => "F32",
        "f16" => "F16",
        "bf16" => "BF16",
        _ => "F64",
    };
    let v = format_ident!("{}", v);
    quote!(::gpujit::__private::ScalarType::#v)
}

fn ty(t: &Ty) -> TokenStream {
    match t {
        Ty::Scalar(s) => {
            let s = scalar(s);
            quote!(TypeRef::Scalar(#s))
        }
        Ty::Generic(i) => quote!(TypeRef::Generic(#i)),
    }
}

fn opt_scalar(s: &Option<String>) -> TokenStream {
    match s {
        Some(s) => {
            let s = scalar(s);
            quote!(::core::option::Option::Some(#s))
        }
        None => quote!(::core::option::Option::None),
    }
}

fn opt_string(s: &Option<String>) -> TokenStream {
    match s {
        Some(s) => quote!(::core::option::Option::Some(::std::string::String::from(#s))),
        None => quote!(::core::option::Option::None),
    }
}

fn block(b: &Block) -> TokenStream {
    let stmts = b.stmts.iter().map(stmt);
    quote!(Block { stmts: ::std::vec![#(#stmts),*] })
}

fn opt_block(b: &Option<Block>) -> TokenStream {
    match b {
        Some(b) => {
            let b = block(b);
            quote!(::core::option::Option::Some(#b))
        }
        None => quote!(::core::option::Option::None),
    }
}

fn opt_expr(e: &Option<Expr>) -> TokenStream {
    match e {
        Some(e) => {
            let e = expr(e);
            quote!(::core::option::Option::Some(#e))
        }
        None => quote!(::core::option::Option::None),
    }
}

fn stmt(s: &Stmt) -> TokenStream {
    match s {
        Stmt::Let { name, mutable, ty: t, init, span: sp } => {
            let t = match t {
                Some(t) => {
                    let t = ty(t);
                    quote!(::core::option::Option::Some(#t))
                }
                None => quote!(::core::option::Option::None),
            };
            let init = opt_expr(init);
            let sp = span(*sp);
            quote!(Stmt::Let { name: ::std::string::String::from(#name), mutable: #mutable, ty: #t, init: #init, span: #sp })
        }
        Stmt::Assign { place, op, value, span: sp } => {
            let place = match place {
                Place::Var(n, sp) => {
                    let sp = span(*sp);
                    quote!(Place::Var(::std::string::String::from(#n), #sp))
                }
                Place::Index { array, index, span: sp } => {
                    let index = index.iter().map(expr);
                    let sp = span(*sp);
                    quote!(Place::Index { array: ::std::string::String::from(#array), index: ::std::vec![#(#index),*], span: #sp })
                }
            };
            let op = match op {
                Some(op) => {
                    let op = format_ident!("{}", op);
                    quote!(::core::option::Option::Some(BinOp::#op))
                }
                None => quote!(::core::option::Option::None),
            };
            let value = expr(value);
            let sp = span(*sp);
            quote!(Stmt::Assign { place: #place, op: #op, value: #value, span: #sp })
        }
        Stmt::If { cond, then, otherwise, span: sp } => {
            let (cond, then, otherwise, sp) = (expr(cond), block(then), opt_block(otherwise), span(*sp));
            quote!(Stmt::If { cond: #cond, then: #then, otherwise: #otherwise, span: #sp })
        }
        Stmt::While { cond, body, label, span: sp } => {
            let (cond, body, label, sp) = (expr(cond), block(body), opt_string(label), span(*sp));
            quote!(Stmt::While { cond: #cond, body: #body, label: #label, span: #sp })
        }
        Stmt::For { var, start, end, inclusive, step, reverse, body, label, span: sp } => {
            let (start, end, step, body, sp) = (expr(start), expr(end), opt_expr(step), block(body), span(*sp));
            let label = opt_string(label);
            quote!(Stmt::For {
                var: ::std::string::String::from(#var),
                range: RangeLoop { start: #start, end: #end, inclusive: #inclusive, step: #step, reverse: #reverse },
                body: #body,
                label: #label,
                span: #sp,
            })
        }
        Stmt::Block(b) => {
            let b = block(b);
            quote!(Stmt::Block(#b))
        }
        Stmt::Break(label, sp) => {
            let (label, sp) = (opt_string(label), span(*sp));
            quote!(Stmt::Break(#label, #sp))
        }
        Stmt::Continue(label, sp) => {
            let (label, sp) = (opt_string(label), span(*sp));
            quote!(Stmt::Continue(#label, #sp))
        }
        Stmt::Return(value, sp) => {
            let (value, sp) = (opt_expr(value), span(*sp));
            quote!(Stmt::Return(#value, #sp))
        }
        Stmt::Shared { name, elem, dims, span: sp } => {
            let (elem, sp) = (ty(elem), span(*sp));
            quote!(Stmt::Shared { name: ::std::string::String::from(#name), elem: #elem, dims: ::std::vec![#(#dims),*], span: #sp })
        }
        Stmt::Local { name, elem, len, span: sp } => {
            let (elem, sp) = (ty(elem), span(*sp));
            quote!(Stmt::Local { name: ::std::string::String::from(#name), elem: #elem, len: #len, span: #sp })
        }
        Stmt::Barrier(sp) => {
            let sp = span(*sp);
            quote!(Stmt::Barrier(#sp))
        }
        Stmt::GridBarrier(sp) => {
            let sp = span(*sp);
            quote!(Stmt::GridBarrier(#sp))
        }
        Stmt::Fence(scope, sp) => {
            let (scope, sp) = (format_ident!("{}", scope), span(*sp));
            quote!(Stmt::Fence(FenceScope::#scope, #sp))
        }
        Stmt::Eval(e) => {
            let e = expr(e);
            quote!(Stmt::Eval(#e))
        }
    }
}

fn expr(e: &Expr) -> TokenStream {
    let sp = span(e.span);
    let kind = match &e.kind {
        ExprKind::Int(v, s) => {
            let s = opt_scalar(s);
            quote!(ExprKind::Int(#v, #s))
        }
        ExprKind::Float(v, s) => {
            let s = opt_scalar(s);
            quote!(ExprKind::Float(#v, #s))
        }
        ExprKind::Bool(b) => quote!(ExprKind::Bool(#b)),
        ExprKind::Var(n) => quote!(ExprKind::Var(::std::string::String::from(#n))),
        ExprKind::Index { array, index } => {
            let index = index.iter().map(expr);
            quote!(ExprKind::Index { array: ::std::string::String::from(#array), index: ::std::vec![#(#index),*] })
        }
        ExprKind::ArrayDim { array, axis, stride } => {
            quote!(ExprKind::ArrayDim { array: ::std::string::String::from(#array), axis: #axis, stride: #stride })
        }
        ExprKind::Call(f, args) => {
            let args = args.iter().map(expr);
            quote!(ExprKind::Call(::std::string::String::from(#f), ::std::vec![#(#args),*]))
        }
        ExprKind::Collective(c, args) => {
            let c = format_ident!("{}", c);
            let args = args.iter().map(expr);
            quote!(ExprKind::Collective(Collective::#c, ::std::vec![#(#args),*]))
        }
        ExprKind::Atomic(op, array, operands) => {
            let op = format_ident!("{}", op);
            let operands = operands.iter().map(expr);
            quote!(ExprKind::Atomic { op: AtomicOp::#op, array: ::std::string::String::from(#array), operands: ::std::vec![#(#operands),*] })
        }
        ExprKind::Len(a) => quote!(ExprKind::Len(::std::string::String::from(#a))),
        ExprKind::Unary(op, a) => {
            let op = format_ident!("{}", op);
            let a = expr(a);
            quote!(ExprKind::Unary(UnOp::#op, ::std::boxed::Box::new(#a)))
        }
        ExprKind::Binary(op, a, b) => {
            let op = format_ident!("{}", op);
            let (a, b) = (expr(a), expr(b));
            quote!(ExprKind::Binary(BinOp::#op, ::std::boxed::Box::new(#a), ::std::boxed::Box::new(#b)))
        }
        ExprKind::Cast(a, t) => {
            let (a, t) = (expr(a), ty(t));
            quote!(ExprKind::Cast(::std::boxed::Box::new(#a), #t))
        }
        ExprKind::Math(f, ops) => {
            let f = format_ident!("{}", f);
            let ops = ops.iter().map(expr);
            quote!(ExprKind::Math(::gpujit::__private::MathFn::#f, ::std::vec![#(#ops),*]))
        }
        ExprKind::Builtin(b, dim) => {
            let b = format_ident!("{}", b);
            match dim {
                Some(d) => {
                    let d = format_ident!("{}", d);
                    quote!(ExprKind::Builtin(Builtin::#b(Dim::#d), ::std::vec::Vec::new()))
                }
                None => quote!(ExprKind::Builtin(Builtin::#b, ::std::vec::Vec::new())),
            }
        }
    };
    quote!(Expr::new(#kind, #sp))
}

/// Rewrites `grid(2)`, `grid(3)`, `grid_size(2)`, `grid_size(3)` in the twin into the stand-ins
/// that return tuples (`grid_2d()`, ...), so rustc type-checks `let (x, y) = grid(2);`.
struct TupleGrids;

impl syn::visit_mut::VisitMut for TupleGrids {
    fn visit_expr_mut(&mut self, e: &mut syn::Expr) {
        if let syn::Expr::Call(c) = e {
            let name = match &*c.func {
                syn::Expr::Path(p) if p.path.segments.len() == 1 => p.path.segments[0].ident.to_string(),
                _ => String::new(),
            };
            if let (Some(n @ (2 | 3)), "grid" | "grid_size") = (crate::parse::grid_arity(c), name.as_str()) {
                let f = format_ident!("{}_{}d", name, n, span = c.func.span_hint());
                *e = syn::parse_quote_spanned!(c.func.span_hint()=> ::gpujit::kernel_prelude::#f());
                return;
            }
        }
        syn::visit_mut::visit_expr_mut(self, e);
    }
}

trait SpanHint {
    fn span_hint(&self) -> Span;
}

impl SpanHint for syn::Expr {
    fn span_hint(&self) -> Span {
        syn::spanned::Spanned::span(self)
    }
}
