//! `#[gpu_struct]`: a `#[repr(C)]` struct of scalars, complex numbers, other `#[gpu_struct]`s and
//! fixed arrays of those, made a type kernels take (by value and as array elements).
//!
//! It generates the struct's layout as a constant (`gpujit::__private::StructDef`, from
//! `size_of`, `align_of` and `offset_of!`, so it is Rust's own) and the implementation of
//! `gpujit::Element` through it, and checks at compile time that the struct has no padding, so
//! its bytes (copied to and from devices, passed as arguments) are all initialized.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Error, Result};

pub fn expand(attr: TokenStream, item: syn::ItemStruct) -> Result<TokenStream> {
    if !attr.is_empty() {
        return Err(Error::new_spanned(attr, "#[gpu_struct] takes no options"));
    }
    let repr_c = item.attrs.iter().any(|a| {
        a.path().is_ident("repr")
            && a.parse_args_with(syn::punctuated::Punctuated::<syn::Path, syn::Token![,]>::parse_terminated)
                .is_ok_and(|reprs| reprs.iter().any(|r| r.is_ident("C")))
    });
    if !repr_c {
        return Err(Error::new(item.ident.span(), "a #[gpu_struct] is `#[repr(C)]`, so that kernels and the host agree on its layout"));
    }
    if !item.generics.params.is_empty() {
        return Err(Error::new_spanned(&item.generics, "a #[gpu_struct] has no generic parameters"));
    }
    let syn::Fields::Named(fields) = &item.fields else {
        return Err(Error::new(item.ident.span(), "a #[gpu_struct] has named fields"));
    };
    if fields.named.is_empty() {
        return Err(Error::new(item.ident.span(), "a #[gpu_struct] has at least one field"));
    }
    let ident = &item.ident;
    let name = ident.to_string();
    let mut defs = Vec::new();
    let mut sizes = Vec::new();
    for f in &fields.named {
        let Some(fname) = &f.ident else { continue };
        let (elem, len) = match &f.ty {
            syn::Type::Array(a) => (&*a.elem, Some(&a.len)),
            t => (t, None),
        };
        if matches!(elem, syn::Type::Reference(_) | syn::Type::Ptr(_) | syn::Type::Tuple(_) | syn::Type::Slice(_) | syn::Type::Array(_)) {
            return Err(Error::new(
                elem.span(),
                "a #[gpu_struct]'s fields are scalars, complex numbers, #[gpu_struct]s or fixed arrays of those",
            ));
        }
        let ty = quote_spanned!(elem.span()=> <#elem as ::gpujit::__private::KernelType>::TYPE);
        let len_tokens = match len {
            Some(n) => quote!(::core::option::Option::Some(#n)),
            None => quote!(::core::option::Option::None),
        };
        let fname_str = fname.to_string();
        defs.push(quote! {
            ::gpujit::__private::FieldDef {
                name: #fname_str,
                ty: #ty,
                len: #len_tokens,
                offset: ::core::mem::offset_of!(#ident, #fname),
            }
        });
        let ty = &f.ty;
        sizes.push(quote!(::core::mem::size_of::<#ty>()));
    }
    let message = format!("#[gpu_struct] `{name}` has padding between or after its fields: reorder them (largest first) or add explicit padding fields, so that every byte of it is initialized");
    Ok(quote! {
        #item

        const _: () = ::core::assert!(::core::mem::size_of::<#ident>() == 0 #(+ #sizes)*, #message);

        // SAFETY: `#ident` is `#[repr(C)]`, has no padding (asserted above) and only fields that
        // are themselves kernel types (plain data, any bit pattern of which `Default` and the
        // kernels produce is valid), as `Element` requires.
        unsafe impl ::gpujit::__private::GpuStruct for #ident {
            const DEF: &'static ::gpujit::__private::StructDef = &::gpujit::__private::StructDef {
                name: #name,
                size: ::core::mem::size_of::<#ident>(),
                align: ::core::mem::align_of::<#ident>(),
                fields: &[#(#defs),*],
            };
        }
    })
}
