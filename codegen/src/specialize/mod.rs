//! Specialization: from the untyped source AST and the argument types of one launch to a typed IR
//! kernel.
//!
//! Two steps, as in Numba's lazy dispatch:
//! 1. [`bind`] matches the launch's arguments against the declared parameters and binds each type
//!    parameter (`T`) to a concrete scalar type. The result, a [`SpecKey`], is small, `Copy` and
//!    allocation-free: the runtime keys its specialization cache on it.
//! 2. [`specialize`] infers the type of every expression and variable the way rustc does for this
//!    subset (unsuffixed literals take their type from their use, default `i32`/`f64`), then builds
//!    the [`ir::Kernel`].
//!
//! One file per stage: [`bind`] (launch time, allocation-free), [`infer`] (types of every
//! expression and local), [`build`] (typed IR).

mod bind;
mod build;
mod bulk;
mod infer;

pub use crate::limits::{MAX_DIMS, MAX_GENERICS, MAX_STATIC_SHARED};
pub use bind::{bind, param_text, ArgType, BindError, SpecKey};

use crate::ast::{self, NodeId, ParamKind, TypeRef};
use crate::error::CompileError;
use crate::ir::{self, ArrayRef};
use crate::types::ScalarType;
use build::Build;
use infer::{Binding, Infer};
use std::cell::RefCell;

/// Specializes `src` to the types in `key`, producing verified IR. A source whose nodes were
/// never numbered (built by hand rather than by the macro or `Kernel::new`) is numbered first.
pub fn specialize(src: &ast::KernelSource, key: &SpecKey) -> Result<ir::Kernel, CompileError> {
    let table = RefCell::new(FnTable::default());
    let mut kernel = specialize_body(src, key, &table, src.options.debug, src.options.lineinfo || src.options.debug)?;
    kernel.options.may_alias = key.aliased();
    kernel.options.wide_arrays = key.wide();
    kernel.options.aligned_arrays = key.aligned();
    kernel.functions = table.into_inner().done.into_iter().map(|(_, _, f)| f).collect();
    crate::verify::verify(&kernel)?;
    Ok(kernel)
}

/// The device-function specializations made while specializing one kernel: calls index `done`.
#[derive(Default)]
struct FnTable {
    done: Vec<(&'static str, SpecKey, ir::Kernel)>,
    /// Being specialized now (a call of one of these is recursion).
    in_progress: Vec<(&'static str, SpecKey)>,
}

/// Specializes a kernel's or device function's body; device functions it calls go to `table`.
/// `debug`: the kernel's `debug` option, which its device functions' `debug_assert!`s follow;
/// `lines`: whether the kernel carries source lines (its device functions' too).
fn specialize_body(
    src: &ast::KernelSource,
    key: &SpecKey,
    table: &RefCell<FnTable>,
    debug: bool,
    lines: bool,
) -> Result<ir::Kernel, CompileError> {
    if !src.is_numbered() {
        // A source built by hand (the macro and `Kernel::new` number theirs).
        let mut numbered = src.clone();
        numbered.number_nodes();
        return specialize_body(&numbered, key, table, debug, lines);
    }
    let params: Vec<ir::Param> = src
        .params
        .iter()
        .enumerate()
        .map(|(i, p)| ir::Param {
            name: p.name.clone(),
            ty: match &p.kind {
                ParamKind::Scalar(t) => ir::ParamType::Scalar(resolve_ref(t, key)),
                ParamKind::Slice { elem, mutable, ndim } => {
                    ir::ParamType::Array { elem: resolve_ref(elem, key), mutable: *mutable, ndim: *ndim, contiguous: !key.strided(i) }
                }
            },
        })
        .collect();
    let signature = {
        let names: Vec<String> = params.iter().map(|p| format!("{}: {}", p.name, p.ty)).collect();
        format!("{}({})", src.name, names.join(", "))
    };
    let ret = src.ret.as_ref().map(|t| resolve_ref(t, key));
    let mut cx = Infer::new(src, key, ret, &params, signature);
    // Scalar parameters become locals, so that `mut` parameters can be assigned.
    let mut prologue = Vec::new();
    for (i, p) in params.iter().enumerate() {
        if let ir::ParamType::Scalar(t) = p.ty {
            let slot = cx.known(t);
            let local = cx.new_local(&p.name, slot);
            cx.scopes[0].insert(p.name.clone(), Binding::Local(local));
            prologue.push((local, i as u32, t));
        } else {
            cx.scopes[0].insert(p.name.clone(), Binding::Array(ArrayRef::Param(i as u32)));
        }
    }
    cx.block(&src.body)?;
    let types = cx.resolve()?;
    let mut locals = Vec::with_capacity(cx.locals.len());
    for (name, slot) in &cx.locals {
        locals.push(ir::Local { name: name.clone(), ty: types[*slot] });
    }
    let build = Build {
        cx: &cx,
        types: &types,
        table,
        loops: RefCell::new(Vec::new()),
        asserts: RefCell::new(Vec::new()),
        prints: RefCell::new(Vec::new()),
        debug,
        lines,
    };
    let mut body: Vec<ir::Stmt> = prologue
        .into_iter()
        .map(|(local, p, t)| {
            ir::Stmt::new(ir::StmtKind::Assign { local, value: ir::TypedExpr::new(ir::TypedExprKind::Param(p), t) }, src.span)
        })
        .collect();
    body.extend(build.block(&src.body)?);
    let (shared, local_arrays) = (cx.shared.clone(), cx.local_arrays.clone());
    let (asserts, prints) = (build.asserts.into_inner(), build.prints.into_inner());
    Ok(ir::Kernel {
        name: src.name.clone(),
        params,
        locals,
        shared,
        local_arrays,
        body,
        options: src.options,
        ret,
        functions: Vec::new(),
        asserts,
        prints,
        file: src.file.clone(),
    })
}

fn resolve_ref(t: &TypeRef, key: &SpecKey) -> ScalarType {
    match t {
        TypeRef::Scalar(s) => *s,
        TypeRef::Generic(g) => key.types().get(*g).copied().unwrap_or(ScalarType::F32),
        // Only the macro's own source names types (its generated code resolves them); a source
        // built in code never does.
        TypeRef::Named(_) => ScalarType::Bool,
    }
}

/// A type variable of inference.
/// A dense table indexed by the [`NodeId`]s of one source: what inference found for each node.
pub(crate) struct NodeTable<T> {
    entries: Vec<Option<T>>,
}

impl<T> Default for NodeTable<T> {
    fn default() -> Self {
        NodeTable { entries: Vec::new() }
    }
}

impl<T> NodeTable<T> {
    /// Records `v` for node `id` (ignored for an unnumbered node, which `specialize` rules out).
    pub(crate) fn insert(&mut self, id: NodeId, v: T) {
        let Some(i) = id.index() else { return };
        if self.entries.len() <= i {
            self.entries.resize_with(i + 1, || None);
        }
        self.entries[i] = Some(v);
    }

    /// What was recorded for node `id`.
    pub(crate) fn get(&self, id: NodeId) -> Option<&T> {
        self.entries.get(id.index()?)?.as_ref()
    }
}
