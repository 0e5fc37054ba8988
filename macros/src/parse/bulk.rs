//! Operations on several elements at once ([`Stmt::Bulk`]): vector loads and stores
//! (`let v = x.load::<4>(i);`, `y.store_cs::<4>(i, &v);`), asynchronous copies
//! (`cp_async::<4>(&mut s[j], &x[i]);`, `cp_async_commit();`, `cp_async_wait(1);`) and warp
//! matrix operations (`ldmatrix(&mut a, &s[i]);`, `mma_sync(&mut c, &a, &b);`).

use super::{at, err, ident_of, strip, Cx};
use gpujit_lang::ast::{self, BulkKind, CacheHint, ExprKind, NodeId, SourceExpr, Stmt};
use gpujit_lang::bulk;
use syn::spanned::Spanned;
use syn::Result;

impl Cx<'_> {
    /// `let v = x.load::<N>(i);` (also `load_cg`, `load_cs`): `None` when the initializer is
    /// not a vector load.
    pub(super) fn bulk_let(&self, name: &str, mutable: bool, init: &syn::Expr) -> Result<Option<Stmt>> {
        let syn::Expr::MethodCall(m) = strip(init) else { return Ok(None) };
        let Some((BulkKind::Load, hint)) = bulk::method(&m.method.to_string()) else { return Ok(None) };
        let Some(array) = ident_of(&m.receiver) else { return Ok(None) };
        if m.args.len() != 1 {
            return err(m.args.span(), format!("`{}` takes the index of the first element: `{array}.{}::<4>(i)`", m.method, m.method));
        }
        let count = self.count(m)?;
        let first = self.element_at(&array, &m.args[0])?;
        Ok(Some(self.bulk(BulkKind::Load, hint, count, vec![first], Some((name.to_string(), mutable)), init.span())))
    }

    /// A bulk operation as a statement: `x.store::<N>(i, &v)`, or a call of one of
    /// [`bulk::FUNCTIONS`]. `None` when `e` is neither.
    pub(super) fn bulk_stmt(&self, e: &syn::Expr) -> Result<Option<Stmt>> {
        let span = e.span();
        match strip(e) {
            syn::Expr::MethodCall(m) => {
                let Some((kind, hint)) = bulk::method(&m.method.to_string()) else { return Ok(None) };
                let Some(array) = ident_of(&m.receiver) else { return Ok(None) };
                if kind == BulkKind::Load {
                    return err(
                        m.method.span(),
                        format!("`{}` gives a per-thread array: `let v = {array}.{}::<4>(i);`", m.method, m.method),
                    );
                }
                if m.args.len() != 2 {
                    return err(
                        m.method.span(),
                        format!("`{}` takes the first index and a per-thread array: `{array}.{}::<4>(i, &v)`", m.method, m.method),
                    );
                }
                let count = self.count(m)?;
                let dst = self.element_at(&array, &m.args[0])?;
                let src = self.whole(&m.args[1], "the values stored are a per-thread array, borrowed: `&v` (or `&v[i..]`)")?;
                Ok(Some(self.bulk(kind, hint, count, vec![dst, src], None, span)))
            }
            syn::Expr::Call(c) => {
                let name = ident_of(&c.func).or_else(|| match strip(&c.func) {
                    syn::Expr::Path(p) if p.path.segments.len() == 1 => Some(p.path.segments[0].ident.to_string()),
                    _ => None,
                });
                let Some((kind, matrices)) = name.as_deref().and_then(bulk::function) else { return Ok(None) };
                let name = name.unwrap_or_default();
                let args: Vec<&syn::Expr> = c.args.iter().collect();
                let want = |n: usize, usage: &str| -> Result<()> {
                    if args.len() == n {
                        Ok(())
                    } else {
                        err(if args.is_empty() { c.span() } else { c.args.span() }, format!("`{name}` takes {n} argument(s): `{usage}`"))
                    }
                };
                let turbofish = match strip(&c.func) {
                    syn::Expr::Path(p) => match &p.path.segments[0].arguments {
                        syn::PathArguments::AngleBracketed(a) => Some(a),
                        _ => None,
                    },
                    _ => None,
                };
                let none = SourceExpr::int(0);
                let mut values = Vec::new();
                let (count, operands) = match kind {
                    BulkKind::CopyAsync => {
                        want(2, "cp_async::<4>(&mut shared[j], &x[i])")?;
                        let Some(t) = turbofish else {
                            return err(c.func.span(), "`cp_async` needs the number of elements: `cp_async::<4>(&mut shared[j], &x[i])`");
                        };
                        let count = self.one_const(t, "cp_async")?;
                        (count, vec![self.element(args[0], true)?, self.element(args[1], false)?])
                    }
                    BulkKind::AsyncCommit => {
                        want(0, "cp_async_commit()")?;
                        (none, Vec::new())
                    }
                    BulkKind::AsyncWait => {
                        want(1, "cp_async_wait(0)")?;
                        // A constant (a literal, a `const`, a const generic): checked when specialized.
                        let n = self.expr(args[0])?;
                        if n.const_int().is_some_and(|v| !(0..=7).contains(&v)) {
                            return err(args[0].span(), "`cp_async_wait` takes a constant from 0 to 7: the groups left pending");
                        }
                        (n, Vec::new())
                    }
                    BulkKind::LdMatrix | BulkKind::LdMatrixTrans => {
                        want(2, &format!("{name}(&mut fragment, &shared[row_start])"))?;
                        let frag = self
                            .whole(args[0], "the fragment is a per-thread array, borrowed mutably: `&mut fragment` (or `&mut f[i..]`)")?;
                        (SourceExpr::int(matrices as u64), vec![frag, self.element(args[1], false)?])
                    }
                    BulkKind::Mma => {
                        want(3, "mma_sync(&mut c, &a, &b)")?;
                        let c0 =
                            self.whole(args[0], "the accumulator is a per-thread array, borrowed mutably: `&mut c` (or `&mut c[i..]`)")?;
                        let a0 = self.whole(args[1], "the A fragment is a per-thread array, borrowed: `&a` (or `&a[i..]`)")?;
                        let b0 = self.whole(args[2], "the B fragment is a per-thread array, borrowed: `&b` (or `&b[i..]`)")?;
                        (none, vec![c0, a0, b0])
                    }
                    BulkKind::BarrierInit | BulkKind::BarrierArriveExpectTx | BulkKind::BarrierWait => {
                        let value = match kind {
                            BulkKind::BarrierInit => "count",
                            BulkKind::BarrierWait => "parity",
                            _ => "bytes",
                        };
                        want(2, &format!("{name}(&bars[i], {value})"))?;
                        values.push(self.expr(args[1])?);
                        (none, vec![self.element(args[0], false)?])
                    }
                    BulkKind::BarrierArrive => {
                        want(1, "mbarrier_arrive(&bars[i])")?;
                        (none, vec![self.element(args[0], false)?])
                    }
                    BulkKind::FenceProxyAsync | BulkKind::WgmmaFence | BulkKind::WgmmaCommit => {
                        want(0, &format!("{name}()"))?;
                        (none, Vec::new())
                    }
                    BulkKind::WgmmaWait => {
                        want(1, "wgmma_wait(0)")?;
                        let n = self.expr(args[0])?;
                        if n.const_int().is_some_and(|v| !(0..=7).contains(&v)) {
                            return err(args[0].span(), "`wgmma_wait` takes a constant from 0 to 7: the groups left pending");
                        }
                        (n, Vec::new())
                    }
                    BulkKind::TmaLoad => {
                        want(5, "tma_load_2d(&mut shared[i], map, x, y, &bars[j])")?;
                        let Some(map) = ident_of(args[1]) else {
                            return err(args[1].span(), "the tensor map is a `&TensorMap` parameter of the kernel, by name: `map`");
                        };
                        let map = SourceExpr {
                            kind: ExprKind::Index { array: map, index: Vec::new() },
                            span: at(args[1].span()),
                            id: NodeId::UNSET,
                        };
                        values.push(self.expr(args[2])?);
                        values.push(self.expr(args[3])?);
                        (none, vec![self.element(args[0], true)?, map, self.element(args[4], false)?])
                    }
                    BulkKind::Wgmma => {
                        want(3, "wgmma(&mut acc, &a[i], &b[j])")?;
                        let acc = self
                            .whole(args[0], "the accumulator is a per-thread array, borrowed mutably: `&mut acc` (or `&mut acc[i..]`)")?;
                        (none, vec![acc, self.element(args[1], false)?, self.element(args[2], false)?])
                    }
                    BulkKind::Load | BulkKind::Store => unreachable!("methods, not functions"),
                };
                if turbofish.is_some() && kind != BulkKind::CopyAsync {
                    return err(c.func.span(), format!("`{name}` takes no generic arguments"));
                }
                let mut stmt = self.bulk(kind, CacheHint::Default, count, operands, None, span);
                if let Stmt::Bulk(b) = &mut stmt {
                    b.values = values;
                }
                Ok(Some(stmt))
            }
            _ => Ok(None),
        }
    }

    fn bulk(
        &self,
        kind: BulkKind,
        hint: CacheHint,
        count: SourceExpr,
        operands: Vec<SourceExpr>,
        declares: Option<(String, bool)>,
        span: proc_macro2::Span,
    ) -> Stmt {
        Stmt::Bulk(Box::new(ast::Bulk { kind, hint, count, operands, values: Vec::new(), declares, span: at(span), id: NodeId::UNSET }))
    }

    /// The `N` of `x.load::<N>(..)`.
    fn count(&self, m: &syn::ExprMethodCall) -> Result<SourceExpr> {
        match &m.turbofish {
            Some(t) => self.one_const(t, &m.method.to_string()),
            None => err(m.method.span(), format!("`{}` needs the number of elements: `{}::<4>(..)`", m.method, m.method)),
        }
    }

    /// One constant generic argument: an integer literal, a constant, or one in braces.
    fn one_const(&self, t: &syn::AngleBracketedGenericArguments, what: &str) -> Result<SourceExpr> {
        if t.args.len() != 1 {
            return err(t.span(), format!("`{what}` takes one generic argument, the number of elements"));
        }
        self.const_arg(&t.args[0])
    }

    /// `array[index]` as an operand: the element at `index` (`[r, c]` for two axes).
    fn element_at(&self, array: &str, index: &syn::Expr) -> Result<SourceExpr> {
        let kind = ExprKind::Index { array: array.to_string(), index: self.indices(index)? };
        Ok(SourceExpr { kind, span: at(index.span()), id: NodeId::UNSET })
    }

    /// `&x[i]` (or `&mut x[i]` when `mutable`): the element.
    fn element(&self, e: &syn::Expr, mutable: bool) -> Result<SourceExpr> {
        let want = if mutable { "`&mut array[index]`" } else { "`&array[index]`" };
        match strip(e) {
            syn::Expr::Reference(r) if r.mutability.is_some() == mutable => match strip(&r.expr) {
                syn::Expr::Index(ix) => match ident_of(&ix.expr) {
                    Some(array) => self.element_at(&array, &ix.index),
                    None => err(ix.expr.span(), "only arrays can be indexed: `name[i]`"),
                },
                other => err(other.span(), format!("expected an array element, {want}")),
            },
            other => err(other.span(), format!("expected an array element, {want}")),
        }
    }

    /// `&v` or `&mut v` of a whole per-thread array (an element with no index), or `&v[i..]`
    /// (`&mut v[i..]`) of the part from element `i` on (a window, as long as the operation
    /// needs: fragments kept in one larger array).
    fn whole(&self, e: &syn::Expr, message: &str) -> Result<SourceExpr> {
        let syn::Expr::Reference(r) = strip(e) else { return err(e.span(), message) };
        if let Some(name) = ident_of(&r.expr) {
            let kind = ExprKind::Index { array: name, index: Vec::new() };
            return Ok(SourceExpr { kind, span: at(r.expr.span()), id: NodeId::UNSET });
        }
        if let syn::Expr::Index(ix) = strip(&r.expr) {
            if let (Some(name), syn::Expr::Range(range)) = (ident_of(&ix.expr), strip(&ix.index)) {
                if let (Some(start), None, syn::RangeLimits::HalfOpen(_)) = (&range.start, &range.end, &range.limits) {
                    return self.element_at(&name, start);
                }
                return err(range.span(), "a part of a per-thread array is written from its first element on: `&v[i..]`");
            }
        }
        err(r.expr.span(), message)
    }
}
