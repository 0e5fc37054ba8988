//! `forall!(n, |i| body)`: a closure over an index space, compiled as a kernel.
//!
//! The closure's body is in the kernel language. Every name it uses that it does not bind itself
//! is a capture from the surrounding code: indexed (`x[i]`, `x[[i, j]]`) or asked for its
//! `len()`/`shape(d)`/`stride(d)`, it is an array (written when assigned to through an index or
//! used by an atomic); otherwise a scalar. Each capture gets its own type parameter, so the kernel
//! is specialized on the captured values' types at launch, like any generic kernel.

use crate::{generate, parse};
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use std::collections::BTreeMap;
use syn::parse::{Parse, ParseStream};
use syn::visit::Visit;
use syn::{Error, Result};

pub struct Forall {
    dims: Vec<syn::Expr>,
    closure: syn::ExprClosure,
    /// `stream = &s` after the closure.
    stream: Option<syn::Expr>,
}

impl Parse for Forall {
    fn parse(input: ParseStream) -> Result<Forall> {
        let space: syn::Expr = input.parse()?;
        input.parse::<syn::Token![,]>()?;
        let closure: syn::ExprClosure = input.parse()?;
        let mut stream = None;
        if input.parse::<Option<syn::Token![,]>>()?.is_some() && !input.is_empty() {
            let key: syn::Ident = input.parse()?;
            if key != "stream" {
                return Err(Error::new(key.span(), "after the closure, `forall!` takes only `stream = &stream`"));
            }
            input.parse::<syn::Token![=]>()?;
            stream = Some(input.parse::<syn::Expr>()?);
            let _ = input.parse::<Option<syn::Token![,]>>()?;
        }
        let dims = match space {
            syn::Expr::Tuple(t) => t.elems.into_iter().collect(),
            syn::Expr::Paren(p) => vec![*p.expr],
            e => vec![e],
        };
        Ok(Forall { dims, closure, stream })
    }
}

#[derive(Default)]
struct Use {
    array: bool,
    written: bool,
    ndim: u8,
    first: Option<Span>,
}

/// Names the body uses, and which of them it binds itself.
#[derive(Default)]
struct Captures {
    uses: BTreeMap<String, Use>,
    order: Vec<String>,
    bound: Vec<String>,
}

impl Captures {
    fn note(&mut self, name: &str, span: Span) -> &mut Use {
        if !self.uses.contains_key(name) {
            self.order.push(name.to_string());
        }
        let u = self.uses.entry(name.to_string()).or_default();
        u.first.get_or_insert(span);
        u
    }

    fn array_of(&mut self, e: &syn::Expr, ndim: u8, written: bool) {
        if let syn::Expr::Path(p) = e {
            if let Some(id) = p.path.get_ident() {
                let u = self.note(&id.to_string(), id.span());
                u.array = true;
                u.written |= written;
                u.ndim = u.ndim.max(ndim);
            }
        }
    }
}

fn index_ndim(i: &syn::ExprIndex) -> u8 {
    match &*i.index {
        syn::Expr::Array(a) => a.elems.len() as u8,
        _ => 1,
    }
}

impl<'ast> Visit<'ast> for Captures {
    fn visit_expr_path(&mut self, p: &'ast syn::ExprPath) {
        if let Some(id) = p.path.get_ident() {
            self.note(&id.to_string(), id.span());
        }
    }

    fn visit_expr_call(&mut self, c: &'ast syn::ExprCall) {
        // The callee is an intrinsic or a device function, not a capture; atomics write their
        // first argument.
        if let syn::Expr::Path(p) = &*c.func {
            let name = p.path.segments.last().map(|s| s.ident.to_string()).unwrap_or_default();
            if name.starts_with("atomic_") {
                if let Some(a) = c.args.first() {
                    self.array_of(a, 1, true);
                }
            }
        }
        for a in &c.args {
            self.visit_expr(a);
        }
    }

    fn visit_expr_index(&mut self, i: &'ast syn::ExprIndex) {
        self.array_of(&i.expr, index_ndim(i), false);
        self.visit_expr(&i.index);
    }

    fn visit_expr_assign(&mut self, a: &'ast syn::ExprAssign) {
        if let syn::Expr::Index(i) = &*a.left {
            self.array_of(&i.expr, index_ndim(i), true);
        }
        self.visit_expr(&a.left);
        self.visit_expr(&a.right);
    }

    fn visit_expr_binary(&mut self, b: &'ast syn::ExprBinary) {
        let compound = !matches!(
            b.op,
            syn::BinOp::Add(_)
                | syn::BinOp::Sub(_)
                | syn::BinOp::Mul(_)
                | syn::BinOp::Div(_)
                | syn::BinOp::Rem(_)
                | syn::BinOp::And(_)
                | syn::BinOp::Or(_)
                | syn::BinOp::BitXor(_)
                | syn::BinOp::BitAnd(_)
                | syn::BinOp::BitOr(_)
                | syn::BinOp::Shl(_)
                | syn::BinOp::Shr(_)
                | syn::BinOp::Eq(_)
                | syn::BinOp::Lt(_)
                | syn::BinOp::Le(_)
                | syn::BinOp::Ne(_)
                | syn::BinOp::Ge(_)
                | syn::BinOp::Gt(_)
        );
        if compound {
            if let syn::Expr::Index(i) = &*b.left {
                self.array_of(&i.expr, index_ndim(i), true);
            }
        }
        self.visit_expr(&b.left);
        self.visit_expr(&b.right);
    }

    fn visit_expr_method_call(&mut self, m: &'ast syn::ExprMethodCall) {
        let name = m.method.to_string();
        if matches!(name.as_str(), "len" | "shape" | "stride") {
            self.array_of(&m.receiver, 1, false);
        }
        self.visit_expr(&m.receiver);
        for a in &m.args {
            self.visit_expr(a);
        }
    }

    fn visit_pat_ident(&mut self, p: &'ast syn::PatIdent) {
        self.bound.push(p.ident.to_string());
    }

    fn visit_expr_for_loop(&mut self, f: &'ast syn::ExprForLoop) {
        self.visit_pat(&f.pat);
        self.visit_expr(&f.expr);
        self.visit_block(&f.body);
    }

    fn visit_macro(&mut self, _: &'ast syn::Macro) {}

    fn visit_type(&mut self, _: &'ast syn::Type) {}
}

pub fn expand(f: Forall) -> Result<TokenStream> {
    let call_span = f.closure.or1_token.span;
    let nd = f.dims.len();
    if nd == 0 || nd > 3 {
        return Err(Error::new(call_span, "forall! takes 1 to 3 extents: `n`, `(rows, cols)` or `(a, b, c)`"));
    }
    let mut index_vars = Vec::new();
    for p in &f.closure.inputs {
        match p {
            syn::Pat::Ident(id) => index_vars.push(id.ident.clone()),
            syn::Pat::Type(t) => match &*t.pat {
                syn::Pat::Ident(id) => index_vars.push(id.ident.clone()),
                other => return Err(Error::new_spanned(other, "forall! closures take index names: `|i|`, `|i, j|`")),
            },
            other => return Err(Error::new_spanned(other, "forall! closures take index names: `|i|`, `|i, j|`")),
        }
    }
    if index_vars.len() != nd {
        return Err(Error::new_spanned(
            &f.closure.inputs,
            format!("the index space has {nd} extent(s), so the closure takes {nd} index name(s)"),
        ));
    }
    let body = &f.closure.body;
    let mut caps = Captures::default();
    caps.visit_expr(body);
    let known_fns = ["grid", "grid_size", "lane_id", "warp_size"];
    let captured: Vec<(String, &Use)> = caps
        .order
        .iter()
        .filter(|n| !caps.bound.contains(n) && !index_vars.iter().any(|v| v == n.as_str()) && !known_fns.contains(&n.as_str()))
        .filter(|n| n.chars().next().is_some_and(|c| c.is_lowercase() || c == '_'))
        .map(|n| (n.clone(), &caps.uses[n]))
        .collect();
    // The kernel: one type parameter a capture, then the extents.
    let mut generics = Vec::new();
    let mut params = Vec::new();
    let mut args = Vec::new();
    for (k, (name, u)) in captured.iter().enumerate() {
        let t = format_ident!("__GpujitT{}", k);
        let id = syn::Ident::new(name, u.first.unwrap_or(call_span));
        generics.push(quote!(#t: Scalar));
        if u.array {
            let nd = u.ndim.max(1) as usize;
            if u.written {
                params.push(quote!(#id: &mut Array<#t, #nd>));
                args.push(quote!(#id.capture_write()));
            } else {
                params.push(quote!(#id: &Array<#t, #nd>));
                args.push(quote!(#id.capture_read()));
            }
        } else {
            params.push(quote!(#id: #t));
            args.push(quote!(#id.capture_read()));
        }
    }
    let extents: Vec<syn::Ident> = (0..nd).map(|d| format_ident!("__gpujit_n{}", d)).collect();
    // Row-major: the last index varies fastest.
    let mut split = Vec::new();
    split.push(quote!(let mut __gpujit_r = __gpujit_f;));
    for d in (1..nd).rev() {
        let (v, n) = (&index_vars[d], &extents[d]);
        split.push(quote!(let #v = __gpujit_r % #n; __gpujit_r = __gpujit_r / #n;));
    }
    let v0 = &index_vars[0];
    split.push(quote!(let #v0 = __gpujit_r;));
    let total = extents.iter().fold(quote!(1usize), |acc, n| quote!(#acc * #n));
    // Named for the call site's line, so errors say which `forall!` failed.
    let kname = format_ident!("forall_line_{}", call_span.start().line);
    let func: syn::ItemFn = syn::parse_quote_spanned! {call_span=>
        fn #kname<#(#generics),*>(#(#params,)* #(#extents: usize),*) {
            let __gpujit_total = #total;
            let mut __gpujit_f = grid(1);
            while __gpujit_f < __gpujit_total {
                #(#split)*
                { #body; }
                __gpujit_f += grid_size(1);
            }
        }
    };
    let k = parse::kernel(&func, Default::default(), false)?;
    let source = generate::kernel_source(&k);
    let dims = &f.dims;
    let stream = match &f.stream {
        Some(s) => quote!(::core::option::Option::Some(::gpujit::__private::as_stream(#s))),
        None => quote!(::core::option::Option::None),
    };
    Ok(quote! {{
        static __GPUJIT_FORALL: ::std::sync::OnceLock<::gpujit::Kernel> = ::std::sync::OnceLock::new();
        let __gpujit_kernel = __GPUJIT_FORALL.get_or_init(|| ::gpujit::Kernel::new(#source));
        #[allow(unused_imports)]
        use ::gpujit::__private::{CaptureRead as _, CaptureWrite as _};
        ::gpujit::fuse::launch_forall_on(__gpujit_kernel, &[#((#dims) as usize),*], &[#(#args),*][..], #stream)
    }})
}
