//! The macro's syntax tree → tokens: the kernel's unit struct, the code that builds its source
//! form (`gpujit::__private::ast`) on first use, and the type-checked twin of the function.

use crate::parse::Kernel;
use crate::tokens::Rebuild;
use gpujit_lang::ast::{GenericBound, KernelOptions, ParamKind};
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};

/// The expression building the function's `KernelSource`. `callee_prefix` leads the paths to
/// the callees' source functions (`super::` from inside a device function's module).
fn source(k: &Kernel, callee_prefix: TokenStream) -> TokenStream {
    let src = &k.source;
    let name = src.name.rebuild();
    let generics = src.generics.iter().map(|g| {
        let (name, bound) = (g.name.rebuild(), format_ident!("{}", g.bound.variant_name()));
        quote!(Generic { name: #name, bound: GenericBound::#bound })
    });
    let params = src.params.iter().map(|p| {
        let kind = match &p.kind {
            ParamKind::Scalar(t) => {
                let t = t.rebuild();
                quote!(ParamKind::Scalar(#t))
            }
            ParamKind::Slice { elem, mutable, ndim } => {
                let t = elem.rebuild();
                quote!(ParamKind::Slice { elem: #t, mutable: #mutable, ndim: #ndim })
            }
        };
        let (name, span) = (p.name.rebuild(), p.span.rebuild());
        quote!(Param { name: #name, kind: #kind, span: #span })
    });
    let callees = k.callees.iter().map(|c| {
        let (key, sp) = (&c.key, c.span);
        let module = syn::Ident::new(&c.function, sp);
        let turbofish = c.turbofish.clone().map(|mut t| {
            t.colon2_token = Some(Default::default());
            t
        });
        let source = quote::quote_spanned!(sp=> #callee_prefix #module::__gpujit_source #turbofish);
        quote!(Callee { name: #key, source: #source })
    });
    let body = src.body.rebuild();
    let KernelOptions {
        fastmath,
        max_threads_per_block,
        min_blocks_per_sm,
        max_registers,
        boundscheck,
        debug,
        lineinfo,
        finitecheck,
        aligned16,
        no_contract,
        may_alias,
        wide_arrays,
        aligned_arrays,
        lockstep_all: _,
        flat_refuse_unproven: _,
    } = src.options;
    let opt = |v: Option<u32>| match v {
        Some(v) => quote!(::core::option::Option::Some(#v)),
        None => quote!(::core::option::Option::None),
    };
    let (max_threads, min_blocks, max_registers) = (opt(max_threads_per_block), opt(min_blocks_per_sm), opt(max_registers));
    let ret = src.ret.rebuild();
    let device = src.device;
    let span = src.span.rebuild();
    quote! {{
        #[allow(unused_imports)]
        use ::gpujit::__private::ast::*;
        KernelSource {
            name: #name,
            generics: ::std::vec![#(#generics),*],
            params: ::std::vec![#(#params),*],
            body: #body,
            span: #span,
            options: KernelOptions {
                fastmath: #fastmath,
                max_threads_per_block: #max_threads,
                min_blocks_per_sm: #min_blocks,
                max_registers: #max_registers,
                boundscheck: #boundscheck,
                debug: #debug,
                lineinfo: #lineinfo,
                finitecheck: #finitecheck,
                aligned16: #aligned16,
                no_contract: #no_contract,
                may_alias: #may_alias,
                wide_arrays: #wide_arrays,
                aligned_arrays: #aligned_arrays,
                lockstep_all: false,
                flat_refuse_unproven: false,
            },
            ret: #ret,
            callees: ::std::vec![#(#callees),*],
            device: #device,
            file: ::std::string::String::from(::core::file!()),
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
    // A concrete scalar parameter keeps its type; any other argument is any kernel argument.
    let mut arg_generics = Vec::new();
    let arg_types: Vec<TokenStream> = k
        .source
        .params
        .iter()
        .zip(&k.rust_params)
        .enumerate()
        .map(|(i, (p, ty))| match &p.kind {
            ParamKind::Scalar(gpujit_lang::ast::TypeRef::Scalar(_)) => rust_ty(ty),
            _ => {
                let g = format_ident!("__GpujitArg{}", i);
                arg_generics.push(g.clone());
                quote!(#g)
            }
        })
        .collect();
    let mut twin = func.clone();
    twin.attrs.retain(|a| !a.path().is_ident("doc"));
    syn::visit_mut::VisitMut::visit_block_mut(&mut TupleGrids, &mut twin.block);
    // A const generic kernel is a generic unit struct, `tile::<128>` one instance: one `Kernel`
    // each, whose source has the values in it.
    let consts = &k.const_generics;
    let const_names: Vec<&syn::Ident> = consts.iter().map(|c| &c.ident).collect();
    let (decl, args) = if consts.is_empty() { (quote!(), quote!()) } else { (quote!(<#(#consts),*>), quote!(<#(#const_names),*>)) };
    let instance = if consts.is_empty() {
        quote! {
            static KERNEL: ::std::sync::OnceLock<::gpujit::Kernel> = ::std::sync::OnceLock::new();
            KERNEL.get_or_init(|| ::gpujit::Kernel::new(#source))
        }
    } else {
        // Named for its values (`tile_64`), in errors, profiles and the PTX entry alike.
        let base = name.to_string();
        quote! {
            ::gpujit::__private::instance::<Self, ::gpujit::Kernel>(|| {
                let mut source = #source;
                source.name = ::gpujit::__private::instance_name(#base, &[#(::std::format!("{}", #const_names)),*]);
                ::gpujit::Kernel::new(source)
            })
        }
    };
    let def = quote!(#vis struct #name #decl;);
    quote! {
        #(#docs)*
        #[allow(non_camel_case_types)]
        #[derive(Copy, Clone, Debug)]
        #def

        impl #decl #name #args {
            /// The launch's arguments as the kernel's parameters type them, so that a scalar
            /// literal takes its parameter's declared type (`2.0` for an `f32`), as in a call
            /// (`launch!` passes its arguments through this).
            #[doc(hidden)]
            #[inline(always)]
            #[allow(clippy::type_complexity, clippy::too_many_arguments)]
            pub fn __gpujit_args<'__gpujit, #(#arg_generics: ::gpujit::KernelArg<'__gpujit>),*>(&self, args: (#(#arg_types,)*)) -> (#(#arg_types,)*) {
                args
            }
        }

        impl #decl ::core::ops::Deref for #name #args {
            type Target = ::gpujit::Kernel;
            fn deref(&self) -> &::gpujit::Kernel {
                #instance
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
    let mut source = source(k, quote!(super::));
    let host = host_function(func);
    let consts = &k.const_generics;
    let getter = if consts.is_empty() {
        quote! {
            pub fn __gpujit_source() -> &'static ::gpujit::__private::ast::KernelSource {
                static SOURCE: ::std::sync::OnceLock<::gpujit::__private::ast::KernelSource> = ::std::sync::OnceLock::new();
                SOURCE.get_or_init(|| #source)
            }
        }
    } else {
        // One source per instance (`f::<4>`), named for its values so that its code is told
        // apart from another instance's in a kernel that calls both.
        let names: Vec<&syn::Ident> = consts.iter().map(|c| &c.ident).collect();
        let base = name.to_string();
        source = quote! {{
            let mut source = #source;
            source.name = ::gpujit::__private::instance_name(#base, &[#(::std::format!("{}", #names)),*]);
            source
        }};
        quote! {
            pub struct __GpujitInstance<#(#consts),*>;
            pub fn __gpujit_source<#(#consts),*>() -> &'static ::gpujit::__private::ast::KernelSource {
                ::gpujit::__private::instance::<__GpujitInstance<#(#names),*>, _>(|| #source)
            }
        }
    };
    // `out(reg) v` assigns `v` in the host stand-in without reading its first value.
    let asm = quote!(#func).to_string().contains("ptx_asm");
    let asm_allow = if asm { quote!(#[allow(unused_assignments)]) } else { quote!() };
    quote! {
        #[allow(unstable_name_collisions)]
        #asm_allow
        #attrs
        #host

        #[doc(hidden)]
        #[allow(non_snake_case)]
        #vis mod #name {
            // The types the source names (#[gpu_struct]s) resolve as in the function's scope.
            #[allow(unused_imports)]
            use super::*;

            /// The source form of the device function, for the kernels that call it.
            #getter

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
    match &k.rust_ret {
        Some(ret) => Ok(rust_ty(ret)),
        None => Err(syn::Error::new(k.name.span(), "a #[gpu_vectorize] function returns its result: add `-> T`")),
    }
}

/// A type of the signature as generated code names it (`f16` through the prelude).
fn rust_ty(t: &syn::Type) -> TokenStream {
    match t {
        syn::Type::Path(p) if p.qself.is_none() && (p.path.is_ident("f16") || p.path.is_ident("bf16")) => {
            let i = &p.path.segments[0].ident;
            quote!(::gpujit::prelude::#i)
        }
        syn::Type::Paren(p) => rust_ty(&p.elem),
        syn::Type::Group(g) => rust_ty(&g.elem),
        t => quote!(#t),
    }
}

/// `map`'s generic parameters, its parameters (`__gpujit_operandN: impl IntoExpr<T>`) and the
/// expressions turning each into an operand graph.
pub fn map_signature(k: &Kernel) -> syn::Result<(Vec<TokenStream>, Vec<TokenStream>, Vec<TokenStream>)> {
    let mut args = Vec::new();
    let mut operands = Vec::new();
    for (n, (p, ty)) in k.source.params.iter().zip(&k.rust_params).enumerate() {
        let ParamKind::Scalar(_) = &p.kind else {
            return Err(syn::Error::new(k.param_spans[n], "#[gpu_vectorize] functions take scalars; for arrays write a #[gpu_kernel]"));
        };
        let a = format_ident!("__gpujit_operand{}", n);
        let t = rust_ty(ty);
        args.push(quote!(#a: impl ::gpujit::IntoExpr<'__gpujit, #t>));
        operands.push(quote!(::gpujit::expr::<#t>(#a).into_graph()));
    }
    let generics = k
        .source
        .generics
        .iter()
        .map(|g| {
            let name = format_ident!("{}", g.name);
            let bound = format_ident!(
                "{}",
                match g.bound {
                    GenericBound::Float => "FloatElement",
                    GenericBound::Int => "IntElement",
                    GenericBound::Number => "NumElement",
                    GenericBound::Scalar => "Element",
                }
            );
            quote!(#name: ::gpujit::runtime::expr::#bound)
        })
        .collect();
    Ok((generics, args, operands))
}

/// Rewrites the twin where rustc's checks differ from the kernel language's:
/// - `grid(2)`, `grid(3)`, `grid_size(2)`, `grid_size(3)` into the stand-ins that return tuples
///   (`grid_2d()`, ...), so rustc type-checks `let (x, y) = grid(2);`;
/// - an array size that is not a literal (`TILE`, `{ B / 32 + 1 }`) into 1: stable Rust takes no
///   arithmetic on const generic parameters there, and the size's own names are checked in the
///   code that builds the source form, which evaluates it.
struct TupleGrids;

impl syn::visit_mut::VisitMut for TupleGrids {
    fn visit_expr_mut(&mut self, e: &mut syn::Expr) {
        // `#[unroll]` is the kernel compiler's; rustc checks the loop without it.
        if let syn::Expr::ForLoop(f) = e {
            f.attrs.retain(|a| !a.path().is_ident("unroll"));
        }
        if let syn::Expr::Call(c) = e {
            if let syn::Expr::Path(p) = &mut *c.func {
                if let Some(seg) = p.path.segments.last_mut() {
                    let declares = matches!(seg.ident.to_string().as_str(), "shared_array" | "shared_array_2d" | "local_array");
                    if let (true, syn::PathArguments::AngleBracketed(args)) = (declares, &mut seg.arguments) {
                        for a in args.args.iter_mut().skip(1) {
                            let literal = matches!(a, syn::GenericArgument::Const(syn::Expr::Lit(_)));
                            if !literal {
                                *a = syn::parse_quote!(1);
                            }
                        }
                    }
                }
            }
        }
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
