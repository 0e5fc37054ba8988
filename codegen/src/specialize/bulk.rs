//! Bulk statements ([`ast::Stmt::Bulk`]): typing and checks (inference), then the IR (build).
//!
//! Every rule that needs the arrays' concrete types is checked here, at the statement's span:
//! the element counts a vector access or an asynchronous copy may move, where each operand may
//! live, and which fragment lengths and types make an `mma_sync` shape.

use super::build::Build;
use super::infer::{ArrayInfo, Binding, Infer, R};
use crate::ast::{self, BulkKind, ExprKind};
use crate::bulk::{async_copy_allowed, vector_allowed, MmaShape};
use crate::ir::{self, ArrayRef, BulkOp, Const};
use crate::types::ScalarType;

/// What inference found for a bulk statement: its IR operation and each operand's array (for a
/// vector load, the per-thread array it declares first).
pub(crate) struct Resolved {
    op: BulkOp,
    arrays: Vec<ArrayRef>,
}

/// Whether an operand is a whole per-thread array (`&v`), not an element or a window.
fn is_whole(e: &ast::SourceExpr) -> bool {
    matches!(&e.kind, ExprKind::Index { index, .. } if index.is_empty())
}

fn operand_name(e: &ast::SourceExpr) -> &str {
    match &e.kind {
        ExprKind::Index { array, .. } => array,
        _ => "",
    }
}

impl Infer<'_> {
    /// Types a bulk statement's operands and checks it; declares the array a load makes.
    pub(super) fn bulk(&mut self, b: &ast::Bulk) -> R<()> {
        // (The macro writes these counts; a source form built by hand may not.)
        let (operands, values, value_type) = b.kind.arity();
        if b.operands.len() != operands || b.values.len() != values {
            return self.err(
                b.span,
                format!(
                    "`{}` takes {operands} array operand(s) and {values} value(s), not {} and {}",
                    b.kind.variant_name(),
                    b.operands.len(),
                    b.values.len()
                ),
            );
        }
        for v in &b.values {
            let s = self.expr(v)?;
            let want = self.known(value_type);
            self.unify(s, want, v.span, &format!("`{}`'s argument (a {value_type})", b.kind.variant_name()))?;
        }
        let mut infos = Vec::with_capacity(b.operands.len() + 1);
        for (k, e) in b.operands.iter().enumerate() {
            let name = operand_name(e);
            let info = self.array(name, e.span)?;
            if b.kind == BulkKind::TmaLoad && k == 1 {
                let map = matches!(info.r, ArrayRef::Param(_)) && info.elem == ScalarType::U64 && !info.mutable && is_whole(e);
                if !map {
                    return self.err(e.span, format!("`tma_load_2d` takes a tensor map, a `&TensorMap` parameter; `{name}` is not one"));
                }
                self.var_ref.insert(e.id, Binding::Array(info.r));
                infos.push((name.to_string(), info));
                continue;
            }
            if is_whole(e) {
                if !matches!(info.r, ArrayRef::Local(_)) {
                    return self.err(e.span, format!("`{name}` is not a per-thread array; give an element: `&{name}[i]`"));
                }
                self.var_ref.insert(e.id, Binding::Array(info.r));
            } else {
                self.expr(e)?;
            }
            infos.push((name.to_string(), info));
        }
        if matches!(b.kind, BulkKind::AsyncWait | BulkKind::WgmmaWait) && b.count.const_int().map_or(true, |n| !(0..=7).contains(&n)) {
            let f = if b.kind == BulkKind::AsyncWait { "cp_async_wait" } else { "wgmma_wait" };
            return self.err(b.count.span, format!("`{f}` takes a constant from 0 to 7: the groups left pending"));
        }
        let count = match b.kind {
            BulkKind::Load
            | BulkKind::Store
            | BulkKind::CopyAsync
            | BulkKind::AsyncWait
            | BulkKind::WgmmaWait
            | BulkKind::LdMatrix
            | BulkKind::LdMatrixTrans => match b.count.const_int() {
                Some(n) if (0..=1 << 16).contains(&n) => n as u64,
                _ => return self.err(b.count.span, "the number of elements is a constant (a literal, a `const` or a const generic)"),
            },
            _ => 0,
        };
        let global = |i: &ArrayInfo| matches!(i.r, ArrayRef::Param(_));
        let local = |i: &ArrayInfo| matches!(i.r, ArrayRef::Local(_));
        let method = |verb: &str| format!("{verb}{}", b.hint.suffix());
        let (op, mut arrays) = match b.kind {
            BulkKind::Load | BulkKind::Store => {
                let (name, array) = &infos[0];
                let m = method(if b.kind == BulkKind::Load { "load" } else { "store" });
                if local(array) {
                    return self.err(b.span, format!("`{m}` works on array parameters and shared arrays; `{name}` is a per-thread array"));
                }
                if !vector_allowed(array.elem, count) {
                    return self.err(
                        b.span,
                        format!(
                            "`{m}::<{count}>` on {}: a vector access moves 1, 2, 4, 8 or 16 elements of 2 to 16 bytes in all",
                            array.elem
                        ),
                    );
                }
                self.contiguous(array, name, &m, b.span)?;
                if b.kind == BulkKind::Store {
                    if !array.mutable {
                        return self.err(b.span, format!("`{m}` writes `{name}`, which is a `&[T]`, not `&mut [T]`"));
                    }
                    let (vname, values) = &infos[1];
                    self.fragment(
                        values,
                        vname,
                        array.elem,
                        count,
                        is_whole(&b.operands[1]),
                        &format!("the values of `{m}::<{count}>`"),
                        b.span,
                    )?;
                }
                (
                    BulkOp::Copy { count: count as u32, hint: b.hint, asynchronous: false },
                    infos.iter().map(|(_, i)| i.r).collect::<Vec<_>>(),
                )
            }
            BulkKind::CopyAsync => {
                let ((dname, dst), (sname, src)) = (&infos[0], &infos[1]);
                if !matches!(dst.r, ArrayRef::Shared(_)) {
                    return self.err(b.operands[0].span, format!("`cp_async` copies into a shared array; `{dname}` is not one"));
                }
                if !global(src) {
                    return self.err(
                        b.operands[1].span,
                        format!("`cp_async` copies from an array parameter (global memory); `{sname}` is not one"),
                    );
                }
                if dst.elem != src.elem {
                    return self.err(
                        b.span,
                        format!("`cp_async` copies between arrays of one type; `{dname}` holds {}, `{sname}` {}", dst.elem, src.elem),
                    );
                }
                if !async_copy_allowed(src.elem, count) {
                    return self.err(b.span, format!("`cp_async::<{count}>` of {}: it copies 4, 8 or 16 bytes", src.elem));
                }
                self.contiguous(src, sname, "cp_async", b.span)?;
                (BulkOp::Copy { count: count as u32, hint: b.hint, asynchronous: true }, vec![dst.r, src.r])
            }
            BulkKind::AsyncCommit => (BulkOp::AsyncCommit, Vec::new()),
            BulkKind::AsyncWait => (BulkOp::AsyncWait(count as u32), Vec::new()),
            BulkKind::LdMatrix | BulkKind::LdMatrixTrans => {
                let ((fname, frag), (sname, src)) = (&infos[0], &infos[1]);
                let f = format!("ldmatrix_x{count}{}", if b.kind == BulkKind::LdMatrix { "" } else { "_trans" });
                let len = self.local_len(frag);
                if !local(frag) || frag.elem.size_bytes() != 2 {
                    return self.err(
                        b.operands[0].span,
                        format!("`{f}` loads into a per-thread array of 16-bit elements (f16, bf16, i16, u16); `{fname}` is not one"),
                    );
                }
                let need = 2 * count;
                if len < need || (is_whole(&b.operands[0]) && len != need) {
                    return self.err(
                        b.span,
                        format!("`{f}` fills {need} elements; `{fname}` has {len} (give a part of a larger array as `&mut {fname}[i..]`)"),
                    );
                }
                let matrices = count as u32;
                if !matches!(src.r, ArrayRef::Shared(_)) || src.elem != frag.elem {
                    return self
                        .err(b.operands[1].span, format!("`{f}` reads rows of a shared array of {}; `{sname}` is not one", frag.elem));
                }
                // A row out of bounds is read at element 0 instead (every lane takes part): the
                // array holds a row there.
                if let ArrayRef::Shared(i) = src.r {
                    if self.shared[i as usize].static_len().is_some_and(|n| n < 8) {
                        return self.err(b.operands[1].span, format!("`{f}` reads rows of 8 elements; `{sname}` has fewer"));
                    }
                }
                (BulkOp::LdMatrix { matrices, trans: b.kind == BulkKind::LdMatrixTrans }, vec![frag.r, src.r])
            }
            BulkKind::Mma => {
                let ((cname, c), (aname, a), (bname, bb)) = (&infos[0], &infos[1], &infos[2]);
                for ((name, i), e) in infos.iter().zip(&b.operands) {
                    if !local(i) {
                        return self.err(e.span, format!("`mma_sync` works on fragments in per-thread arrays; `{name}` is not one"));
                    }
                }
                if a.elem != bb.elem {
                    return self.err(
                        b.span,
                        format!("`mma_sync` multiplies fragments of one type; `{aname}` holds {}, `{bname}` {}", a.elem, bb.elem),
                    );
                }
                let lens = [self.local_len(a), self.local_len(bb), self.local_len(c)];
                // The input type gives the shape; a window takes the fragment's length from where
                // it starts, a whole array is exactly one fragment.
                let fits = MmaShape::ALL.iter().copied().find(|s| s.input() == a.elem && s.acc() == c.elem).filter(|s| {
                    let need = s.lens();
                    let order = [1, 2, 0];
                    (0..3).all(|k| {
                        let whole = is_whole(&b.operands[order[k]]);
                        if whole {
                            lens[k] == need[k]
                        } else {
                            lens[k] >= need[k]
                        }
                    })
                });
                let Some(shape) = fits else {
                    return self.err(
                        b.span,
                        format!(
                            "no mma shape has fragments `{aname}`: [{}; {}], `{bname}`: [{}; {}], `{cname}`: [{}; {}]; they are [f16 or bf16; 8], [..; 4], [f32; 4] (m16n8k16), [f32; 4], [f32; 2], [f32; 4] (m16n8k8, tf32) or [i8; 16], [i8; 8], [i32; 4] (m16n8k32), whole arrays or parts of larger ones (`&a[i..]`)",
                            a.elem, lens[0], bb.elem, lens[1], c.elem, lens[2]
                        ),
                    );
                };
                (BulkOp::Mma(shape), vec![c.r, a.r, bb.r])
            }
            BulkKind::BarrierInit | BulkKind::BarrierArrive | BulkKind::BarrierArriveExpectTx | BulkKind::BarrierWait => {
                let (name, bar) = &infos[0];
                self.barrier_operand(bar, name, b.kind, b.operands[0].span)?;
                let op = match b.kind {
                    BulkKind::BarrierInit => BulkOp::BarrierInit,
                    BulkKind::BarrierArrive => BulkOp::BarrierArrive,
                    BulkKind::BarrierArriveExpectTx => BulkOp::BarrierExpectTx,
                    _ => BulkOp::BarrierWait,
                };
                (op, vec![bar.r])
            }
            BulkKind::FenceProxyAsync => (BulkOp::FenceProxyAsync, Vec::new()),
            BulkKind::WgmmaFence => (BulkOp::WgmmaFence, Vec::new()),
            BulkKind::WgmmaCommit => (BulkOp::WgmmaCommit, Vec::new()),
            BulkKind::WgmmaWait => (BulkOp::WgmmaWait(count as u32), Vec::new()),
            BulkKind::TmaLoad => {
                let ((dname, dst), (_, map), (bname, bar)) = (&infos[0], &infos[1], &infos[2]);
                if !matches!(dst.r, ArrayRef::Shared(_)) {
                    return self.err(b.operands[0].span, format!("`tma_load_2d` copies into a shared array; `{dname}` is not one"));
                }
                self.barrier_operand(bar, bname, b.kind, b.operands[2].span)?;
                (BulkOp::TmaLoad, vec![dst.r, map.r, bar.r])
            }
            BulkKind::Wgmma => {
                let ((cname, c), (aname, a), (bname, bb)) = (&infos[0], &infos[1], &infos[2]);
                for ((name, i), e) in [(aname, a), (bname, bb)].into_iter().zip(&b.operands[1..]) {
                    if !matches!(i.r, ArrayRef::Shared(_)) || crate::bulk::wgmma_input(i.elem).is_none() {
                        return self.err(
                            e.span,
                            format!("`wgmma` reads its tiles from shared arrays of bf16, f16, f32 (as tf32) or i8; `{name}` is not one"),
                        );
                    }
                }
                if a.elem != bb.elem {
                    return self
                        .err(b.span, format!("`wgmma` multiplies tiles of one type; `{aname}` holds {}, `{bname}` {}", a.elem, bb.elem));
                }
                let input = crate::bulk::wgmma_input(a.elem).unwrap_or(crate::bulk::MmaShape::Bf16);
                if !local(c) || c.elem != input.acc() {
                    return self.err(
                        b.operands[0].span,
                        format!("`wgmma` of {} accumulates into a per-thread array of {}; `{cname}` is not one", a.elem, input.acc()),
                    );
                }
                let len = self.local_len(c);
                let n = if is_whole(&b.operands[0]) { crate::bulk::wgmma_n(len) } else { None };
                let Some(n) = n else {
                    return self.err(
                        b.operands[0].span,
                        format!(
                            "`wgmma`'s accumulator is a whole per-thread array of N / 2 {} for m64nNk{}, N a multiple of 8 up to 256; `{cname}` has {len}",
                            input.acc(),
                            input.wgmma_k()
                        ),
                    );
                };
                (BulkOp::Wgmma { n, input }, vec![c.r, a.r, bb.r])
            }
        };
        if b.kind == BulkKind::Load {
            // The declared array comes first: the load's destination.
            let Some((name, _)) = &b.declares else {
                return self.err(b.span, "a vector load declares a per-thread array: `let v = x.load::<4>(i);`");
            };
            let elem = infos[0].1.elem;
            self.local_arrays.push(ir::LocalArray { name: name.clone(), elem, len: count });
            let r = ArrayRef::Local((self.local_arrays.len() - 1) as u32);
            self.declare(name, Binding::Array(r));
            arrays.insert(0, r);
        }
        self.bulk.insert(b.id, Resolved { op, arrays });
        Ok(())
    }

    /// A barrier is an element of a shared `u64` array.
    fn barrier_operand(&self, i: &ArrayInfo, name: &str, kind: BulkKind, span: ast::Span) -> R<()> {
        if matches!(i.r, ArrayRef::Shared(_)) && i.elem == ScalarType::U64 {
            return Ok(());
        }
        let f = crate::bulk::FUNCTIONS.iter().find(|f| f.1 == kind).map_or("mbarrier", |f| f.0);
        self.err(span, format!("`{f}` takes a barrier, an element of a shared u64 array: `&bars[i]`; `{name}` is not one"))
    }

    fn local_len(&self, i: &ArrayInfo) -> u64 {
        match i.r {
            ArrayRef::Local(k) => self.local_arrays[k as usize].len,
            _ => 0,
        }
    }

    /// A per-thread array `name` of `count` elements of `elem` (or at least that many, for a
    /// part of it), for `what`.
    #[allow(clippy::too_many_arguments)]
    fn fragment(&self, i: &ArrayInfo, name: &str, elem: ScalarType, count: u64, whole: bool, what: &str, span: ast::Span) -> R<()> {
        let len = self.local_len(i);
        if matches!(i.r, ArrayRef::Local(_)) && i.elem == elem && (len == count || (!whole && len >= count)) {
            return Ok(());
        }
        self.err(
            span,
            format!("{what} are a per-thread array of {count} {elem} (or a part of a larger one, `&v[i..]`); `{name}` is not one"),
        )
    }

    /// Vector accesses to an N-D array parameter need it contiguous (its rows back to back).
    fn contiguous(&self, i: &ArrayInfo, name: &str, what: &str, span: ast::Span) -> R<()> {
        if let ArrayRef::Param(p) = i.r {
            if let ir::ParamType::Array { contiguous: false, .. } = self.params[p as usize].ty {
                return self.err(span, format!("`{what}` needs `{name}` contiguous; this launch passes a strided view (copy it first)"));
            }
        }
        Ok(())
    }
}

impl Build<'_, '_> {
    /// The IR of a bulk statement that inference resolved.
    pub(super) fn bulk(&self, b: &ast::Bulk) -> R<ir::StmtKind> {
        let Some(resolved) = self.cx.bulk.get(b.id) else {
            return self.internal(format!("the bulk statement at {} was not resolved", b.span));
        };
        let zero = || vec![ir::TypedExpr::new(ir::TypedExprKind::Const(Const::Int(0)), ScalarType::U64)];
        let mut operands = Vec::with_capacity(resolved.arrays.len());
        let declared = b.declares.is_some() as usize;
        for (k, &array) in resolved.arrays.iter().enumerate() {
            let index = match k.checked_sub(declared).map(|i| &b.operands[i].kind) {
                None => zero(),
                Some(ExprKind::Index { index, .. }) if index.is_empty() => zero(),
                Some(ExprKind::Index { index, .. }) => self.flat_index(array, index)?,
                Some(_) => return self.internal(format!("an operand at {} is not an element", b.span)),
            };
            operands.push(ir::Element { array, index });
        }
        let values = b.values.iter().map(|v| self.expr(v)).collect::<R<Vec<_>>>()?;
        Ok(ir::StmtKind::Bulk { op: resolved.op, operands, values })
    }
}
