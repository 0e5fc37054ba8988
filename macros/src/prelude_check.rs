//! `__check_kernel_prelude!()`: a function, never called, that calls every intrinsic and math
//! method of the language's tables with the signature the table gives. The facade expands it
//! inside `kernel_prelude`, so a host stand-in that is missing, or whose signature differs from
//! the table, fails gpujit's own build.

use gpujit_lang::ast::GenericBound;
use gpujit_lang::intrinsics::{Arg, Intrinsic, INTRINSICS};
use gpujit_lang::math::{Domain, Host, MathFn};
use gpujit_lang::ScalarType;
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

/// The check function's variable holding a value of the bound's type parameter, and its type.
fn value_of(bound: GenericBound) -> (TokenStream, TokenStream) {
    match bound {
        GenericBound::Float => (quote!(f), quote!(F)),
        GenericBound::Int => (quote!(i), quote!(I)),
        GenericBound::Number => (quote!(n), quote!(N)),
        GenericBound::Scalar => (quote!(s), quote!(S)),
    }
}

/// The Rust type kernels see for a scalar type (`U64` is `usize`, the type of indices).
fn rust_type(t: ScalarType) -> TokenStream {
    match t {
        ScalarType::U64 => quote!(usize),
        ScalarType::I64 => quote!(isize),
        t => {
            let i = format_ident!("{}", t.name());
            quote!(#i)
        }
    }
}

/// An argument of the given type (`0u32`, `false`, the value of `T`).
fn argument(a: Arg, bound: GenericBound) -> TokenStream {
    match a {
        Arg::Value => value_of(bound).0,
        Arg::Of(ScalarType::Bool) => quote!(false),
        Arg::Of(t) => {
            let t = rust_type(t);
            quote!(<#t as ::core::default::Default>::default())
        }
        Arg::Array => {
            let v = value_of(bound).0;
            let array = format_ident!("{}_array", v.to_string());
            quote!(&mut *#array)
        }
        Arg::Axes => quote!(1),
    }
}

fn result_type(a: Option<Arg>, bound: GenericBound) -> TokenStream {
    match a {
        None => quote!(()),
        Some(Arg::Value) => value_of(bound).1,
        Some(Arg::Of(t)) => rust_type(t),
        Some(Arg::Array | Arg::Axes) => quote!(_),
    }
}

pub fn expand() -> TokenStream {
    let mut calls = Vec::new();
    for d in INTRINSICS {
        let name = format_ident!("{}", d.name);
        let call = match d.intrinsic {
            // Declarations take the element type and sizes as generics.
            Intrinsic::SharedArray { sizes } => {
                let sizes = (0..sizes).map(|_| quote!(1));
                quote!(#name::<S, #(#sizes),*>())
            }
            Intrinsic::LocalArray => quote!(#name::<S, 1>()),
            _ => {
                let args = d.params.iter().map(|a| argument(*a, d.value));
                let ret = result_type(d.ret, d.value);
                quote!({ let _: #ret = #name(#(#args),*); })
            }
        };
        calls.push(quote!(let _ = #call;));
    }
    for &m in MathFn::ALL {
        let method = format_ident!("{}", m.method());
        // On the `Float` trait's type parameter, and on the integer types for the methods that
        // integers have too (std's own methods).
        let mut receivers = vec![(quote!(f), quote!(F))];
        match m.domain() {
            Domain::Float => {}
            Domain::Signed => receivers.push((quote!(0i32), quote!(i32))),
            Domain::Numeric => receivers.push((quote!(0u32), quote!(u32))),
        }
        for (recv, ty) in receivers {
            let args = m.params()[1..].iter().map(|a| match a {
                Arg::Value => quote!(#recv),
                a => argument(*a, GenericBound::Scalar),
            });
            calls.push(quote!(let _: #ty = #recv.#method(#(#args),*);));
        }
    }
    quote! {
        #[allow(dead_code, unused, clippy::all)]
        fn __gpujit_check_kernel_prelude<F: Float, I: Int, N: Number, S: Scalar>(
            f: F,
            i: I,
            n: N,
            s: S,
            f_array: &mut [F],
            i_array: &mut [I],
            n_array: &mut [N],
            s_array: &mut [S],
        ) {
            #(#calls)*
        }
    }
}

/// `__float_stand_ins!()`: the `Float` trait of the facade's `kernel_prelude` and its
/// implementations for f32, f64, f16 and bf16, generated from the math table ([`MathFn`]): one
/// method per entry, with the table's operand types, computed on the host as the table says
/// (Rust's own method, or the C library's function); f16 and bf16 compute in f32 and round back.
pub fn float_stand_ins() -> TokenStream {
    let methods: Vec<MathFn> = MathFn::ALL.iter().copied().filter(|m| m.admits(ScalarType::F32)).collect();
    // The parameters after `self`, as declared and as passed on.
    let params = |m: MathFn| -> Vec<(syn::Ident, TokenStream)> {
        m.params()[1..]
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let name = format_ident!("a{}", i);
                let ty = match a {
                    Arg::Of(t) => rust_type(*t),
                    _ => quote!(Self),
                };
                (name, ty)
            })
            .collect()
    };
    let decls = methods.iter().map(|&m| {
        let method = format_ident!("{}", m.method());
        let ps = params(m).into_iter().map(|(n, t)| quote!(#n: #t));
        let doc = match m.host() {
            Host::Std => format!(
                "`x.{}(..)`: Rust's `f32::{}` / `f64::{}` on the host; in kernels the GPU's or the CPU backend's lowering.",
                m.method(),
                m.method(),
                m.method()
            ),
            Host::Libm => format!(
                "`x.{}()`: the C library's `{}f` / `{}` on the host; in kernels libdevice on the GPU, libm on the CPU backend.",
                m.method(),
                m.libm_name(ScalarType::F32).unwrap_or_default(),
                m.libm_name(ScalarType::F64).unwrap_or_default()
            ),
        };
        quote!(#[doc = #doc] fn #method(self, #(#ps),*) -> Self;)
    });
    let native = |t: TokenStream, scalar: ScalarType| {
        let bodies = methods.iter().map(|&m| {
            let method = format_ident!("{}", m.method());
            let ps: Vec<_> = params(m);
            let decl = ps.iter().map(|(n, t)| quote!(#n: #t));
            let names: Vec<_> = ps.iter().map(|(n, _)| n.clone()).collect();
            let body = match m.host() {
                Host::Std => quote!(<#t>::#method(self, #(#names),*)),
                Host::Libm => {
                    let f = format_ident!("{}", m.libm_name(scalar).unwrap_or_default());
                    quote!(host_libm::#f(self, #(#names),*))
                }
            };
            quote!(fn #method(self, #(#decl),*) -> Self { #body })
        });
        quote!(#(#bodies)*)
    };
    let half = |t: TokenStream| {
        let bodies = methods.iter().map(|&m| {
            let method = format_ident!("{}", m.method());
            let ps: Vec<_> = params(m);
            let decl = ps.iter().map(|(n, t)| quote!(#n: #t));
            let args = ps.iter().zip(&m.params()[1..]).map(|((n, _), a)| match a {
                Arg::Value => quote!(#n.to_f32()),
                _ => quote!(#n),
            });
            quote!(fn #method(self, #(#decl),*) -> Self { <#t>::from_f32(<f32 as Float>::#method(self.to_f32(), #(#args),*)) })
        });
        quote!(#(#bodies)*)
    };
    // The C library's functions the host stand-ins call, declared from the table.
    let externs = methods.iter().filter(|m| m.host() == Host::Libm).flat_map(|&m| {
        [ScalarType::F32, ScalarType::F64].into_iter().map(move |t| {
            let name = format_ident!("{}", m.libm_name(t).unwrap_or_default());
            let c_name = format_ident!("c_{}", m.libm_name(t).unwrap_or_default());
            let link = m.libm_name(t).unwrap_or_default();
            let ty = rust_type(t);
            let ps: Vec<syn::Ident> = (0..m.arity()).map(|i| format_ident!("x{}", i)).collect();
            let decl: Vec<TokenStream> = ps.iter().map(|p| quote!(#p: #ty)).collect();
            quote! {
                extern "C" {
                    #[link_name = #link]
                    fn #c_name(#(#decl),*) -> #ty;
                }
                pub fn #name(#(#decl),*) -> #ty {
                    // SAFETY: the C99 math functions are pure, defined for every input, and take
                    // and return plain floats.
                    unsafe { #c_name(#(#ps),*) }
                }
            }
        })
    });
    // The associated constants every float type has (`T::INFINITY` in a generic kernel).
    let (const_decls, const_impls) = type_consts(ScalarType::F32);
    let imp = |t: TokenStream, methods: TokenStream| {
        let consts = const_impls(&t);
        quote!(impl Float for #t { #consts #methods })
    };
    let f32_impl = imp(quote!(f32), native(quote!(f32), ScalarType::F32));
    let f64_impl = imp(quote!(f64), native(quote!(f64), ScalarType::F64));
    let f16_impl = imp(quote!(half::f16), half(quote!(half::f16)));
    let bf16_impl = imp(quote!(half::bf16), half(quote!(half::bf16)));
    quote! {
        /// `f32` or `f64` (and `f16`, `bf16`), with the math methods kernels may call on them:
        /// one per entry of `gpujit-lang`'s math table, generated from it.
        pub trait Float: Number + Neg<Output = Self> {
            #const_decls
            #(#decls)*
        }
        #f32_impl
        #f64_impl
        // f16 and bf16 compute their math in f32 and round back, in kernels as on the host.
        #f16_impl
        #bf16_impl
        /// The C library's math functions the host stand-ins call (those Rust has no method for).
        mod host_libm {
            #(#externs)*
        }
    }
}

/// The associated constants of the scalar types like `like` (from `gpujit-lang`'s constant
/// table): their declarations in a stand-in trait, and a function giving a type's
/// implementations of them (`const MAX: Self = <f32>::MAX;`).
fn type_consts(like: ScalarType) -> (TokenStream, impl Fn(&TokenStream) -> TokenStream) {
    let consts: Vec<(syn::Ident, TokenStream)> = gpujit_lang::ast::TypeConst::ALL
        .iter()
        // The constants Rust's own types have (`BITS` only on integers).
        .filter(|c| c.value(like).is_some() && (c.ty(like) == like || like.is_int()))
        .map(|c| {
            let ty = if c.ty(like) == like { quote!(Self) } else { rust_type(c.ty(like)) };
            (format_ident!("{}", c.rust_name()), ty)
        })
        .collect();
    let decls = consts.iter().map(|(c, ty)| {
        let doc = format!("`T::{c}`: the type's own `{c}`.");
        quote!(#[doc = #doc] const #c: #ty;)
    });
    let decls = quote!(#(#decls)*);
    let impls = move |t: &TokenStream| {
        let items = consts.iter().map(|(c, ty)| quote!(const #c: #ty = <#t>::#c;));
        quote!(#(#items)*)
    };
    (decls, impls)
}

/// `__int_consts!()` in the `Int` stand-in trait: its associated constants' declarations;
/// `__int_consts!(i32)` in an `impl Int for i32`: their values. From the constant table.
pub fn int_consts(input: TokenStream) -> TokenStream {
    let (decls, impls) = type_consts(ScalarType::I32);
    if input.is_empty() {
        decls
    } else {
        impls(&input)
    }
}
