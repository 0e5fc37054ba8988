//! `__check_kernel_prelude!()`: a function, never called, that calls every intrinsic and math
//! method of the language's tables with the signature the table gives. The facade expands it
//! inside `kernel_prelude`, so a host stand-in that is missing, or whose signature differs from
//! the table, fails gpujit's own build.

use gpujit_lang::ast::GenericBound;
use gpujit_lang::intrinsics::{Arg, Intrinsic, INTRINSICS};
use gpujit_lang::math::{Domain, Host, MathFn, Ret};
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
        // On the `Float` and `Int` traits' type parameters, and on concrete types for the
        // methods they have (std's own methods).
        // The receiver: the `Float` or `Int` type parameter (`None`), or a concrete type.
        let (float, int) = (GenericBound::Float, GenericBound::Int);
        let receivers: Vec<(GenericBound, Option<ScalarType>)> = match m.domain() {
            Domain::Float => vec![(float, None)],
            Domain::Signed => vec![(float, None), (int, Some(ScalarType::I32))],
            Domain::Numeric => vec![(float, None), (int, None), (int, Some(ScalarType::U32))],
            Domain::Int => vec![(int, None), (int, Some(ScalarType::U32)), (int, Some(ScalarType::I8))],
            Domain::SignedInt => vec![(int, Some(ScalarType::I32))],
            Domain::UnsignedInt => vec![(int, Some(ScalarType::U32)), (int, Some(ScalarType::U8))],
        };
        if m.host() == Host::Part {
            continue;
        }
        for (bound, concrete) in receivers {
            let (var, generic) = value_of(bound);
            let recv = match concrete {
                Some(t) => {
                    let t = rust_type(t);
                    quote!(<#t as ::core::default::Default>::default())
                }
                None => var,
            };
            let args: Vec<TokenStream> = m.params()[1..]
                .iter()
                .map(|a| match a {
                    Arg::Value => recv.clone(),
                    a => argument(*a, GenericBound::Scalar),
                })
                .collect();
            let one = |r: Ret| -> TokenStream {
                match (r, concrete) {
                    (Ret::Same, Some(t)) => rust_type(t),
                    (Ret::Same, None) => generic.clone(),
                    (Ret::Of(t), _) => rust_type(t),
                    (Ret::Unsigned, Some(t)) => rust_type(t.unsigned().unwrap_or(t)),
                    (Ret::Unsigned, None) if bound == GenericBound::Float => quote!(F::Bits),
                    (Ret::Unsigned, None) => quote!(I::Unsigned),
                    (Ret::Pair(..), _) => quote!(_),
                }
            };
            let ty = match m.parts() {
                Some([a, b]) => {
                    let (a, b) = (one(a.ret()), one(b.ret()));
                    quote!((#a, #b))
                }
                None => one(m.ret()),
            };
            let call = match m.host() {
                Host::Function => quote!(#method(#recv, #(#args),*)),
                _ => quote!(#recv.#method(#(#args),*)),
            };
            calls.push(quote!(let _: #ty = #call;));
        }
    }
    calls.push(quote!(let _: F = F::from_bits(f.to_bits());));
    calls.push(quote!(let _: f32 = f32::from_bits(0u32);));
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

/// The Rust type of a stand-in method's result (`Self`, `bool`, `Self::Bits`, a pair).
fn stand_in_ret(m: MathFn, unsigned: &TokenStream) -> TokenStream {
    let one = |r: Ret| match r {
        Ret::Same => quote!(Self),
        Ret::Of(t) => rust_type(t),
        Ret::Unsigned => quote!(Self::#unsigned),
        Ret::Pair(..) => quote!(()),
    };
    match m.parts() {
        Some([a, b]) => {
            let (a, b) = (one(a.ret()), one(b.ret()));
            quote!((#a, #b))
        }
        None => one(m.ret()),
    }
}

/// The parameters after `self` of a stand-in method, as declared and as passed on.
fn stand_in_params(m: MathFn) -> Vec<(syn::Ident, TokenStream)> {
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
}

/// `__float_stand_ins!()`: the `Float` trait of the facade's `kernel_prelude` and its
/// implementations for f32, f64, f16 and bf16, generated from the math table ([`MathFn`]): one
/// method per entry, with the table's operand and result types, computed on the host as the
/// table says (Rust's own method, or the C library's function); f16 and bf16 compute in f32 and
/// round back.
pub fn float_stand_ins() -> TokenStream {
    let methods: Vec<MathFn> =
        MathFn::ALL.iter().copied().filter(|m| m.admits(ScalarType::F32) && matches!(m.host(), Host::Std | Host::Libm)).collect();
    let bits = quote!(Bits);
    let decls = methods.iter().map(|&m| {
        let method = format_ident!("{}", m.method());
        let ps = stand_in_params(m).into_iter().map(|(n, t)| quote!(#n: #t));
        let ret = stand_in_ret(m, &bits);
        let doc = match m.host() {
            Host::Libm => format!(
                "`x.{}()`: the C library's `{}f` / `{}` on the host; in kernels libdevice on the GPU, libm on the CPU backend.",
                m.method(),
                m.libm_name(ScalarType::F32).unwrap_or_default(),
                m.libm_name(ScalarType::F64).unwrap_or_default()
            ),
            _ => format!(
                "`x.{}(..)`: Rust's `f32::{}` / `f64::{}` on the host; in kernels the GPU's or the CPU backend's lowering.",
                m.method(),
                m.method(),
                m.method()
            ),
        };
        quote!(#[doc = #doc] fn #method(self, #(#ps),*) -> #ret;)
    });
    let native = |t: TokenStream, scalar: ScalarType| {
        let bodies = methods.iter().map(|&m| {
            let method = format_ident!("{}", m.method());
            let ps = stand_in_params(m);
            let decl = ps.iter().map(|(n, t)| quote!(#n: #t));
            let names: Vec<_> = ps.iter().map(|(n, _)| n.clone()).collect();
            let ret = stand_in_ret(m, &bits);
            let body = match m.host() {
                Host::Libm => {
                    let f = format_ident!("{}", m.libm_name(scalar).unwrap_or_default());
                    quote!(host_libm::#f(self, #(#names),*))
                }
                _ => quote!(<#t>::#method(self, #(#names),*)),
            };
            quote!(fn #method(self, #(#decl),*) -> #ret { #body })
        });
        quote!(#(#bodies)*)
    };
    let half = |t: TokenStream| {
        let bodies = methods.iter().map(|&m| {
            let method = format_ident!("{}", m.method());
            let ps = stand_in_params(m);
            let decl = ps.iter().map(|(n, t)| quote!(#n: #t));
            let args = ps.iter().zip(&m.params()[1..]).map(|((n, _), a)| match a {
                Arg::Value => quote!(#n.to_f32()),
                _ => quote!(#n),
            });
            let ret = stand_in_ret(m, &bits);
            let in_f32 = quote!(<f32 as Float>::#method(self.to_f32(), #(#args),*));
            let body = match (m.ret(), m.parts()) {
                (_, Some(_)) => quote!({ let (a, b) = #in_f32; (<#t>::from_f32(a), <#t>::from_f32(b)) }),
                (Ret::Same, _) => quote!(<#t>::from_f32(#in_f32)),
                // The bits are the 16-bit float's own.
                (Ret::Unsigned, _) => quote!(<#t>::#method(self)),
                _ => in_f32,
            };
            quote!(fn #method(self, #(#decl),*) -> #ret { #body })
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
    // Rust's own bits types (`f64::to_bits` gives u64, not the kernels' index type usize).
    let imp = |t: TokenStream, b: TokenStream, methods: TokenStream| {
        let consts = const_impls(&t);
        quote! {
            impl Float for #t {
                type Bits = #b;
                #consts
                fn from_bits(bits: #b) -> Self { <#t>::from_bits(bits) }
                #methods
            }
        }
    };
    let f32_impl = imp(quote!(f32), quote!(u32), native(quote!(f32), ScalarType::F32));
    let f64_impl = imp(quote!(f64), quote!(u64), native(quote!(f64), ScalarType::F64));
    let f16_impl = imp(quote!(half::f16), quote!(u16), half(quote!(half::f16)));
    let bf16_impl = imp(quote!(half::bf16), quote!(u16), half(quote!(half::bf16)));
    quote! {
        /// `f32` or `f64` (and `f16`, `bf16`), with the math methods kernels may call on them:
        /// one per entry of `gpujit-lang`'s math table, generated from it.
        pub trait Float: Number + Neg<Output = Self> {
            /// The unsigned integer of the type's width: what `to_bits` gives.
            type Bits: Int;
            #const_decls
            /// `T::from_bits(b)`: the float whose bits are `b` (Rust's `f32::from_bits`).
            fn from_bits(bits: Self::Bits) -> Self;
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

/// `__int_stand_ins!()` in the `Int` stand-in trait: its associated constants, its `Unsigned`
/// type and its methods (every integer method of the math table that `Ord` does not give);
/// `__int_stand_ins!(i32, u32, i64)` in `impl Int for i32` (the type, its unsigned twin and a
/// twice-as-wide type for `mul_hi`): their implementations, each Rust's own method.
pub fn int_stand_ins(input: TokenStream) -> TokenStream {
    let (decls, impls) = type_consts(ScalarType::I32);
    let unsigned = quote!(Unsigned);
    // `min`, `max` and `clamp` come from `Ord`, a supertrait: a second method of the name would
    // make calls on concrete integers ambiguous.
    let methods: Vec<MathFn> = MathFn::ALL
        .iter()
        .copied()
        .filter(|m| m.admits(ScalarType::U8) && m.admits(ScalarType::I8))
        .filter(|m| m.host() == Host::Std && !matches!(m, MathFn::Min | MathFn::Max | MathFn::Clamp))
        .collect();
    let types: Vec<syn::Type> =
        match syn::parse::Parser::parse2(syn::punctuated::Punctuated::<syn::Type, syn::Token![,]>::parse_terminated, input) {
            Ok(p) => p.into_iter().collect(),
            Err(e) => return e.to_compile_error(),
        };
    if types.is_empty() {
        let sigs = methods.iter().map(|&m| {
            let method = format_ident!("{}", m.method());
            let ps = stand_in_params(m).into_iter().map(|(n, t)| quote!(#n: #t));
            let ret = stand_in_ret(m, &unsigned);
            let doc = format!("`x.{}(..)`: Rust's own integer method on the host; in kernels the backend's lowering.", m.method());
            quote!(#[doc = #doc] fn #method(self, #(#ps),*) -> #ret;)
        });
        return quote! {
            /// The unsigned integer of the type's width: what `abs_diff` gives.
            type Unsigned: Int;
            #decls
            #(#sigs)*
            /// The high half of the full product (`mul_hi(a, b)`).
            #[doc(hidden)]
            fn __mul_hi(self, other: Self) -> Self;
        };
    }
    let [t, u, wide] = &types[..] else {
        return syn::Error::new(proc_macro2::Span::call_site(), "takes the type, its unsigned type and a wider type").to_compile_error();
    };
    let t = quote!(#t);
    let consts = impls(&t);
    let bodies = methods.iter().map(|&m| {
        let method = format_ident!("{}", m.method());
        let ps = stand_in_params(m);
        let decl = ps.iter().map(|(n, t)| quote!(#n: #t));
        let names = ps.iter().map(|(n, _)| n);
        let ret = stand_in_ret(m, &unsigned);
        quote!(fn #method(self, #(#decl),*) -> #ret { <#t>::#method(self, #(#names),*) })
    });
    quote! {
        type Unsigned = #u;
        #consts
        #(#bodies)*
        fn __mul_hi(self, other: Self) -> Self {
            ((self as #wide * other as #wide) >> <#t>::BITS) as #t
        }
    }
}
