//! `__check_kernel_prelude!()`: a function, never called, that calls every intrinsic and math
//! method of the language's tables with the signature the table gives. The facade expands it
//! inside `kernel_prelude`, so a host stand-in that is missing, or whose signature differs from
//! the table, fails gpujit's own build.

use gpujit_lang::ast::GenericBound;
use gpujit_lang::intrinsics::{Arg, Intrinsic, INTRINSICS};
use gpujit_lang::math::{Domain, MathFn};
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
