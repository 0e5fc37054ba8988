//! `#[gpu_vectorize]` functions with several outputs: `fn f(x: T) -> (T, T) { ...; (a, b) }`.
//!
//! Device functions return one scalar, so the function is split into one device function per
//! output: each has the whole body, with every tuple it returns replaced by its own element.
//! `f::map(..)` gives a tuple of expressions; evaluated together (a `Fusion`, or `.eval()` on the
//! tuple) they form one kernel, where the inlined copies share their common work (LLVM merges
//! the identical pure computations) and read each operand once.

use crate::generate;
use crate::parse;
use proc_macro2::TokenStream;
use quote::{format_ident, quote, ToTokens};
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;

/// The element types of a tuple return type of 2 or more elements, or `None`.
pub fn tuple_outputs(func: &syn::ItemFn) -> Option<Vec<syn::Type>> {
    match &func.sig.output {
        syn::ReturnType::Type(_, ty) => match &**ty {
            syn::Type::Tuple(t) if t.elems.len() >= 2 => Some(t.elems.iter().cloned().collect()),
            _ => None,
        },
        syn::ReturnType::Default => None,
    }
}

/// Expands `#[gpu_vectorize]` on a function returning a tuple of `outputs.len()` scalars.
pub fn expand(func: &syn::ItemFn, outputs: &[syn::Type]) -> syn::Result<TokenStream> {
    let name = &func.sig.ident;
    let mut parts = Vec::new();
    let mut kernels = Vec::new();
    for (k, ty) in outputs.iter().enumerate() {
        let mut part = func.clone();
        part.sig.ident = format_ident!("__gpujit_{}_out{}", name, k);
        part.sig.output = syn::ReturnType::Type(Default::default(), Box::new(ty.clone()));
        part.vis = syn::Visibility::Inherited;
        part.attrs.retain(|a| !a.path().is_ident("doc"));
        let mut pick = Pick { k, n: outputs.len(), error: None };
        pick.visit_block_mut(&mut part.block);
        pick.tail(&mut part.block)?;
        if let Some(e) = pick.error {
            return Err(e);
        }
        let kernel = parse::kernel(&part, Default::default(), true)?;
        parts.push(generate::device_part(&kernel, &part));
        kernels.push((kernel, part.sig.ident.clone()));
    }
    // The function itself, for the host (and rustc's checks of the tuple it returns).
    let host = generate::host_function(func);
    let vis = &func.vis;
    // `map` takes the first part's parameters and hands clones of the operands to every part.
    let first = &kernels[0].0;
    let (generics, args, operands) = generate::map_signature(first)?;
    let rets: Vec<TokenStream> = kernels.iter().map(|(k, _)| generate::map_return(k)).collect::<syn::Result<_>>()?;
    let idents: Vec<syn::Ident> = (0..args.len()).map(|n| format_ident!("__gpujit_operand{}", n)).collect();
    let calls = kernels.iter().zip(&rets).map(|((_, part), ret)| {
        let part_str = part.to_string();
        quote! {
            ::gpujit::runtime::expr::call::<#ret>(
                ::gpujit::runtime::expr::callee(#part_str, super::#part::__gpujit_source),
                ::std::vec![#(#idents.clone()),*],
            )
        }
    });
    let name_str = name.to_string();
    let doc = format!(
        "`{name_str}` applied elementwise: a tuple of lazy expressions, one per output. Evaluate them together \
         (`.eval()` on the tuple, or a `Fusion`) to compute every output in one kernel."
    );
    let parts_tokens = quote!(#(#parts)*);
    Ok(quote! {
        #[allow(dead_code)]
        #host

        #parts_tokens

        #[doc(hidden)]
        #[allow(non_snake_case)]
        #vis mod #name {
            #[doc = #doc]
            #[allow(clippy::too_many_arguments)]
            pub fn map<'__gpujit, #(#generics),*>(#(#args),*) -> (#(::gpujit::Expr<'__gpujit, #rets>),*) {
                #(let #idents = #operands;)*
                (#(#calls),*)
            }
        }
    }
    .into_token_stream())
}

/// Replaces each returned tuple by its element `k`: `return (a, b)` anywhere, and the tuple the
/// body ends with (through `if`/`else` and blocks).
struct Pick {
    k: usize,
    n: usize,
    error: Option<syn::Error>,
}

impl Pick {
    fn element(&mut self, e: &syn::Expr) -> syn::Result<syn::Expr> {
        match e {
            syn::Expr::Tuple(t) if t.elems.len() == self.n => Ok(t.elems[self.k].clone()),
            syn::Expr::Tuple(t) => {
                Err(syn::Error::new(t.span(), format!("this tuple has {} values; the function returns {}", t.elems.len(), self.n)))
            }
            syn::Expr::Paren(p) => self.element(&p.expr),
            syn::Expr::If(i) => {
                let mut i = i.clone();
                self.tail(&mut i.then_branch)?;
                match i.else_branch.as_mut() {
                    Some((_, e)) => **e = self.element(e)?,
                    None => return Err(syn::Error::new(i.span(), "an `if` giving the outputs needs an `else`")),
                }
                Ok(syn::Expr::If(i))
            }
            syn::Expr::Block(b) => {
                let mut b = b.clone();
                self.tail(&mut b.block)?;
                Ok(syn::Expr::Block(b))
            }
            other => Err(syn::Error::new(
                other.span(),
                "a #[gpu_vectorize] function with several outputs gives them as a tuple expression: `(a, b)`",
            )),
        }
    }

    fn tail(&mut self, block: &mut syn::Block) -> syn::Result<()> {
        match block.stmts.last_mut() {
            Some(syn::Stmt::Expr(e, None)) => {
                if !matches!(e, syn::Expr::Return(_)) {
                    *e = self.element(e)?;
                }
                Ok(())
            }
            Some(syn::Stmt::Expr(syn::Expr::Return(_), Some(_))) => Ok(()),
            _ => Err(syn::Error::new(block.span(), "a #[gpu_vectorize] function with several outputs ends with a tuple `(a, b)`")),
        }
    }
}

impl VisitMut for Pick {
    fn visit_expr_mut(&mut self, e: &mut syn::Expr) {
        if let syn::Expr::Return(r) = e {
            match r.expr.as_deref().map(|v| self.element(v)) {
                Some(Ok(v)) => r.expr = Some(Box::new(v)),
                Some(Err(err)) => {
                    self.error.get_or_insert(err);
                }
                None => {
                    self.error.get_or_insert(syn::Error::new(r.span(), "return the outputs as a tuple: `return (a, b)`"));
                }
            }
            return;
        }
        // Closures are not kernel syntax (the parser reports them); nested returns are ours.
        syn::visit_mut::visit_expr_mut(self, e);
    }
}
