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

use crate::ast::{self, AtomicOp, BinOp, ExprKind, ParamKind, Place, Span, TypeRef, UnOp};
use crate::error::CompileError;
use crate::ir::{self, ArrayRef, Const, LocalId};
use crate::math::Domain;
use crate::types::ScalarType;
use crate::verify::{atomic_allowed, cast_allowed};
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;

pub use crate::limits::{MAX_DIMS, MAX_GENERICS, MAX_STATIC_SHARED};

/// The concrete types bound to a kernel's type parameters: identifies one specialization.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct SpecKey {
    types: [ScalarType; MAX_GENERICS],
    len: u8,
    /// Bit `p` set: array parameter `p` is strided (not C-contiguous).
    strided: u32,
}

impl SpecKey {
    /// A key binding the kernel's type parameters, in declaration order, to `types`.
    pub fn new(types: &[ScalarType]) -> Option<SpecKey> {
        if types.len() > MAX_GENERICS {
            return None;
        }
        let mut key = SpecKey { types: [ScalarType::Bool; MAX_GENERICS], len: types.len() as u8, strided: 0 };
        key.types[..types.len()].copy_from_slice(types);
        Some(key)
    }

    /// Whether array parameter `p` is specialized for strided (not C-contiguous) data.
    pub fn strided(&self, p: usize) -> bool {
        p < 32 && self.strided & (1 << p) != 0
    }

    pub fn types(&self) -> &[ScalarType] {
        &self.types[..self.len as usize]
    }
}

impl fmt::Display for SpecKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.types().iter().map(|t| t.name()).collect();
        write!(f, "<{}>", names.join(", "))?;
        if self.strided != 0 {
            write!(f, " strided {:#b}", self.strided)?;
        }
        Ok(())
    }
}

/// What a launch passes for one parameter, as far as specialization cares.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ArgType {
    Scalar(ScalarType),
    /// An array of `elem` with `ndim` dimensions; `writable` is false for read-only arrays and
    /// shared borrows; `contiguous` when C-contiguous (row-major, no gaps).
    Array {
        elem: ScalarType,
        writable: bool,
        ndim: u8,
        contiguous: bool,
    },
}

impl fmt::Display for ArgType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArgType::Scalar(t) => write!(f, "{t}"),
            ArgType::Array { elem, writable, ndim, .. } => {
                let access = if *writable { "writable" } else { "read-only" };
                write!(f, "{access} {ndim}-D array of {elem}")
            }
        }
    }
}

/// Why a launch's arguments do not fit a kernel's parameters. `param` indexes
/// [`ast::KernelSource::params`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BindError {
    Count {
        expected: usize,
        got: usize,
    },
    /// The argument is of the wrong kind or element type.
    Mismatch {
        param: usize,
        expected: String,
        got: ArgType,
    },
    /// A read-only array was passed for a `&mut [T]` parameter.
    ReadOnly {
        param: usize,
    },
    /// A type parameter was bound to two different types.
    Conflict {
        param: usize,
        generic: String,
        first: ScalarType,
        second: ScalarType,
    },
    /// The type bound to a type parameter does not satisfy its bound.
    Bound {
        param: usize,
        generic: String,
        bound: &'static str,
        got: ScalarType,
    },
    TooManyGenerics,
}

fn type_ref_text(src: &ast::KernelSource, t: &TypeRef) -> String {
    match t {
        TypeRef::Scalar(s) => s.name().to_string(),
        TypeRef::Generic(g) => src.generics.get(*g).map(|g| g.name.clone()).unwrap_or_default(),
    }
}

/// The declared type of parameter `p`, in Rust syntax (`&mut [T]`).
pub fn param_text(src: &ast::KernelSource, p: &ast::Param) -> String {
    match &p.kind {
        ParamKind::Scalar(t) => type_ref_text(src, t),
        ParamKind::Slice { elem, mutable, ndim } => {
            let m = if *mutable { "&mut " } else { "&" };
            if *ndim == 1 {
                format!("{m}[{}]", type_ref_text(src, elem))
            } else {
                format!("{m}Array<{}, {ndim}>", type_ref_text(src, elem))
            }
        }
    }
}

/// Matches `args` against the parameters of `src` and binds its type parameters.
/// Allocation-free on success: it runs on every launch.
pub fn bind(src: &ast::KernelSource, args: &[ArgType]) -> Result<SpecKey, BindError> {
    if src.generics.len() > MAX_GENERICS {
        return Err(BindError::TooManyGenerics);
    }
    if args.len() != src.params.len() {
        return Err(BindError::Count { expected: src.params.len(), got: args.len() });
    }
    let mut bound: [Option<ScalarType>; MAX_GENERICS] = [None; MAX_GENERICS];
    let mut strided = 0u32;
    for (i, (p, a)) in src.params.iter().zip(args).enumerate() {
        let (want, got) = match (&p.kind, *a) {
            (ParamKind::Scalar(t), ArgType::Scalar(g)) => (t, g),
            (ParamKind::Slice { elem, mutable, ndim }, ArgType::Array { elem: g, writable, ndim: got_ndim, contiguous }) => {
                if *mutable && !writable {
                    return Err(BindError::ReadOnly { param: i });
                }
                if *ndim != got_ndim {
                    return Err(BindError::Mismatch { param: i, expected: param_text(src, p), got: *a });
                }
                if !contiguous {
                    if i >= 32 {
                        return Err(BindError::TooManyGenerics);
                    }
                    strided |= 1 << i;
                }
                (elem, g)
            }
            _ => return Err(BindError::Mismatch { param: i, expected: param_text(src, p), got: *a }),
        };
        match want {
            TypeRef::Scalar(s) if *s == got => {}
            TypeRef::Scalar(_) => return Err(BindError::Mismatch { param: i, expected: param_text(src, p), got: *a }),
            TypeRef::Generic(g) => {
                let generic = &src.generics[*g];
                if !generic.bound.admits(got) {
                    return Err(BindError::Bound { param: i, generic: generic.name.clone(), bound: generic.bound.name(), got });
                }
                match bound[*g] {
                    None => bound[*g] = Some(got),
                    Some(first) if first == got => {}
                    Some(first) => return Err(BindError::Conflict { param: i, generic: generic.name.clone(), first, second: got }),
                }
            }
        }
    }
    let mut key = SpecKey { types: [ScalarType::Bool; MAX_GENERICS], len: src.generics.len() as u8, strided };
    for (slot, b) in key.types.iter_mut().zip(bound.iter()).take(src.generics.len()) {
        // A type parameter no parameter mentions cannot be inferred from the arguments; it only
        // matters for casts, where f32 (or i32 for Int bounds) is the natural default.
        *slot = b.unwrap_or(ScalarType::F32);
    }
    for (slot, g) in key.types.iter_mut().zip(&src.generics) {
        if !g.bound.admits(*slot) {
            *slot = ScalarType::I32;
        }
    }
    Ok(key)
}

/// Specializes `src` to the types in `key`, producing verified IR.
pub fn specialize(src: &ast::KernelSource, key: &SpecKey) -> Result<ir::Kernel, CompileError> {
    let table = RefCell::new(FnTable::default());
    let mut kernel = specialize_body(src, key, &table)?;
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
fn specialize_body(src: &ast::KernelSource, key: &SpecKey, table: &RefCell<FnTable>) -> Result<ir::Kernel, CompileError> {
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
    let mut cx = Infer {
        src,
        key,
        ret,
        call_generics: HashMap::new(),
        params: &params,
        signature,
        slots: Vec::new(),
        expr_slot: HashMap::new(),
        var_ref: HashMap::new(),
        place_ref: HashMap::new(),
        decl_local: HashMap::new(),
        locals: Vec::new(),
        shared: Vec::new(),
        local_arrays: Vec::new(),
        loop_labels: Vec::new(),
        jump_levels: HashMap::new(),
        scopes: vec![HashMap::new()],
    };
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
    let build = Build { cx: &cx, types: &types, table };
    let mut body: Vec<ir::Stmt> = prologue
        .into_iter()
        .map(|(local, p, t)| ir::Stmt::Assign { local, value: ir::TypedExpr::new(ir::TypedExprKind::Param(p), t) })
        .collect();
    body.extend(build.block(&src.body)?);
    let (shared, local_arrays) = (cx.shared.clone(), cx.local_arrays.clone());
    Ok(ir::Kernel { name: src.name.clone(), params, locals, shared, local_arrays, body, options: src.options, ret, functions: Vec::new() })
}

fn resolve_ref(t: &TypeRef, key: &SpecKey) -> ScalarType {
    match t {
        TypeRef::Scalar(s) => *s,
        TypeRef::Generic(g) => key.types().get(*g).copied().unwrap_or(ScalarType::F32),
    }
}

/// A type variable of inference.
#[derive(Copy, Clone, Debug, PartialEq)]
enum Slot {
    Known(ScalarType),
    /// An unsuffixed integer literal's type, not yet known.
    AnyInt,
    /// An unsuffixed float literal's type, not yet known.
    AnyFloat,
    /// Nothing known yet (a `let` without type or initializer).
    Unknown,
    /// Unified with another slot.
    Link(usize),
}

#[derive(Copy, Clone, Debug)]
enum Binding {
    Local(LocalId),
    Array(ArrayRef),
}

/// What indexing an array needs to know.
#[derive(Copy, Clone, Debug)]
struct ArrayInfo {
    r: ArrayRef,
    elem: ScalarType,
    mutable: bool,
    /// Indices it takes: 2 for a 2-D shared array, else 1.
    ndim: usize,
}

struct Infer<'a> {
    src: &'a ast::KernelSource,
    key: &'a SpecKey,
    /// The return type of a device function.
    ret: Option<ScalarType>,
    /// For each call, the type slot of each of the callee's type parameters.
    call_generics: HashMap<*const ast::Expr, Vec<Option<usize>>>,
    params: &'a [ir::Param],
    signature: String,
    slots: Vec<Slot>,
    /// The type slot of every expression, by address (the AST is not moved while specializing).
    expr_slot: HashMap<*const ast::Expr, usize>,
    /// What each `Var`, `Index` or `Len` expression refers to.
    var_ref: HashMap<*const ast::Expr, Binding>,
    /// What each assignment target refers to. (A separate map: a place and its first field may
    /// share an address.)
    place_ref: HashMap<*const Place, Binding>,
    /// The local each `let` or `for` declares, by the statement's address.
    decl_local: HashMap<*const ast::Stmt, LocalId>,
    /// Name and type slot of each local.
    locals: Vec<(String, usize)>,
    shared: Vec<ir::SharedArray>,
    local_arrays: Vec<ir::LocalArray>,
    /// Labels of the enclosing loops, innermost last.
    loop_labels: Vec<Option<String>>,
    /// How many loops out each `break`/`continue` jumps.
    jump_levels: HashMap<*const ast::Stmt, u32>,
    scopes: Vec<HashMap<String, Binding>>,
}

type R<T> = Result<T, CompileError>;

impl<'a> Infer<'a> {
    fn err<T>(&self, span: Span, message: impl Into<String>) -> R<T> {
        Err(CompileError::Type { kernel: self.src.name.clone(), signature: self.signature.clone(), span, message: message.into() })
    }

    fn slot(&mut self, s: Slot) -> usize {
        self.slots.push(s);
        self.slots.len() - 1
    }

    fn known(&mut self, t: ScalarType) -> usize {
        self.slot(Slot::Known(t))
    }

    fn find(&self, mut s: usize) -> usize {
        while let Slot::Link(n) = self.slots[s] {
            s = n;
        }
        s
    }

    fn show(&self, s: usize) -> String {
        match self.slots[self.find(s)] {
            Slot::Known(t) => t.name().to_string(),
            Slot::AnyInt => "{integer}".into(),
            Slot::AnyFloat => "{float}".into(),
            _ => "_".into(),
        }
    }

    fn unify(&mut self, a: usize, b: usize, span: Span, what: &str) -> R<()> {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return Ok(());
        }
        let merged = match (self.slots[ra], self.slots[rb]) {
            (Slot::Unknown, x) | (x, Slot::Unknown) => x,
            (Slot::Known(x), Slot::Known(y)) if x == y => Slot::Known(x),
            (Slot::Known(t), Slot::AnyInt) | (Slot::AnyInt, Slot::Known(t)) if t.is_int() => Slot::Known(t),
            (Slot::Known(t), Slot::AnyFloat) | (Slot::AnyFloat, Slot::Known(t)) if t.is_float() => Slot::Known(t),
            (Slot::AnyInt, Slot::AnyInt) => Slot::AnyInt,
            (Slot::AnyFloat, Slot::AnyFloat) => Slot::AnyFloat,
            _ => {
                let msg = format!("mismatched types in {what}: {} and {}", self.show(ra), self.show(rb));
                return self.err(span, msg);
            }
        };
        self.slots[ra] = merged;
        self.slots[rb] = Slot::Link(ra);
        Ok(())
    }

    fn type_of_ref(&self, t: &TypeRef) -> ScalarType {
        resolve_ref(t, self.key)
    }

    fn new_local(&mut self, name: &str, slot: usize) -> LocalId {
        self.locals.push((name.to_string(), slot));
        (self.locals.len() - 1) as LocalId
    }

    /// Binds `name` in the innermost scope (the kernel's own scope is always there).
    fn declare(&mut self, name: &str, b: Binding) {
        if let Some(scope) = self.scopes.last_mut() {
            scope.insert(name.to_string(), b);
        }
    }

    fn lookup(&self, name: &str) -> Option<Binding> {
        self.scopes.iter().rev().find_map(|s| s.get(name).copied())
    }

    fn array(&self, name: &str, span: Span) -> R<ArrayInfo> {
        match self.lookup(name) {
            Some(Binding::Array(r)) => Ok(match r {
                ArrayRef::Param(p) => match self.params[p as usize].ty {
                    ir::ParamType::Array { elem, mutable, ndim, .. } => ArrayInfo { r, elem, mutable, ndim: ndim as usize },
                    ir::ParamType::Scalar(_) => return self.err(span, format!("`{name}` is not an array")),
                },
                ArrayRef::Shared(i) => {
                    let s = &self.shared[i as usize];
                    let ndim = s.dims.len().max(1);
                    ArrayInfo { r, elem: s.elem, mutable: true, ndim }
                }
                ArrayRef::Local(i) => ArrayInfo { r, elem: self.local_arrays[i as usize].elem, mutable: true, ndim: 1 },
            }),
            Some(Binding::Local(_)) => self.err(span, format!("`{name}` is not an array")),
            None => self.err(span, format!("cannot find array `{name}` in this kernel")),
        }
    }

    /// Types the indices of an access to `a` (one per dimension, each a usize).
    fn indices(&mut self, a: &ArrayInfo, name: &str, index: &[ast::Expr], span: Span) -> R<()> {
        if index.len() != a.ndim {
            let want = if a.ndim == 2 { format!("`{name}[[row, col]]`") } else { format!("`{name}[i]`") };
            return self.err(span, format!("`{name}` takes {} index(es): {want}", a.ndim));
        }
        for i in index {
            let s = self.expr(i)?;
            let u = self.known(ScalarType::U64);
            self.unify(s, u, i.span, "array index (usize)")?;
        }
        Ok(())
    }

    fn block(&mut self, b: &ast::Block) -> R<()> {
        self.scopes.push(HashMap::new());
        let r = b.stmts.iter().try_for_each(|s| self.stmt(s));
        self.scopes.pop();
        r
    }

    fn bool_cond(&mut self, e: &ast::Expr, what: &str) -> R<()> {
        let s = self.expr(e)?;
        let b = self.known(ScalarType::Bool);
        self.unify(s, b, e.span, what)
    }

    fn stmt(&mut self, s: &ast::Stmt) -> R<()> {
        match s {
            ast::Stmt::Let { name, ty, init, span, .. } => {
                let slot = match ty {
                    Some(t) => {
                        let t = self.type_of_ref(t);
                        self.known(t)
                    }
                    None => self.slot(Slot::Unknown),
                };
                if let Some(init) = init {
                    let v = self.expr(init)?;
                    self.unify(slot, v, *span, &format!("`let {name}`"))?;
                }
                let local = self.new_local(name, slot);
                self.decl_local.insert(s as *const _, local);
                self.declare(name, Binding::Local(local));
                Ok(())
            }
            ast::Stmt::Assign { place, op, value, span } => {
                let v = self.expr(value)?;
                let target = match place {
                    Place::Var(name, pspan) => match self.lookup(name) {
                        Some(b @ Binding::Local(l)) => {
                            self.place_ref.insert(place as *const Place, b);
                            self.locals[l as usize].1
                        }
                        Some(Binding::Array(_)) => {
                            return self.err(*pspan, format!("cannot assign to array `{name}`; assign to `{name}[i]`"))
                        }
                        None => return self.err(*pspan, format!("cannot find value `{name}` in this kernel")),
                    },
                    Place::Index { array, index, span } => {
                        let a = self.array(array, *span)?;
                        self.place_ref.insert(place as *const Place, Binding::Array(a.r));
                        if !a.mutable {
                            return self.err(*span, format!("cannot assign to `{array}[..]`: `{array}` is a `&[T]`, not `&mut [T]`"));
                        }
                        self.indices(&a, array, index, *span)?;
                        self.known(a.elem)
                    }
                };
                match op {
                    Some(op) if op.is_shift() => self.int_operand(target, *span).and(self.int_operand(v, value.span)),
                    _ => self.unify(target, v, *span, "assignment"),
                }
            }
            ast::Stmt::If { cond, then, otherwise, .. } => {
                self.bool_cond(cond, "`if` condition")?;
                self.block(then)?;
                if let Some(o) = otherwise {
                    self.block(o)?;
                }
                Ok(())
            }
            ast::Stmt::While { cond, body, label, .. } => {
                self.bool_cond(cond, "`while` condition")?;
                self.loop_labels.push(label.clone());
                let r = self.block(body);
                self.loop_labels.pop();
                r
            }
            ast::Stmt::For { var, range, body, span, label } => {
                let var_slot = self.slot(Slot::AnyInt);
                let a = self.expr(&range.start)?;
                self.unify(var_slot, a, range.start.span, "range start")?;
                let b = self.expr(&range.end)?;
                self.unify(var_slot, b, range.end.span, "range end")?;
                if let Some(step) = &range.step {
                    let s = self.expr(step)?;
                    let u = self.known(ScalarType::U64);
                    self.unify(s, u, step.span, "`step_by` (usize)")?;
                }
                if let Slot::Known(t) = self.slots[self.find(var_slot)] {
                    if !t.is_int() {
                        return self.err(*span, format!("cannot iterate over a range of {t}"));
                    }
                }
                let local = self.new_local(var, var_slot);
                self.decl_local.insert(s as *const _, local);
                self.scopes.push(HashMap::from([(var.clone(), Binding::Local(local))]));
                self.loop_labels.push(label.clone());
                let r = self.block(body);
                self.loop_labels.pop();
                self.scopes.pop();
                r
            }
            ast::Stmt::Block(b) => self.block(b),
            ast::Stmt::Break(label, span) | ast::Stmt::Continue(label, span) => {
                let what = if matches!(s, ast::Stmt::Break(..)) { "break" } else { "continue" };
                let levels = match label {
                    None if self.loop_labels.is_empty() => return self.err(*span, format!("`{what}` outside of a loop")),
                    None => 0,
                    Some(l) => match self.loop_labels.iter().rev().position(|x| x.as_deref() == Some(l.as_str())) {
                        Some(levels) => levels as u32,
                        None => return self.err(*span, format!("no enclosing loop is labeled `'{l}`")),
                    },
                };
                self.jump_levels.insert(s as *const _, levels);
                Ok(())
            }
            ast::Stmt::Return(value, span) => match (value, self.ret) {
                (None, None) => Ok(()),
                (Some(v), Some(t)) => {
                    let s = self.expr(v)?;
                    let k = self.known(t);
                    self.unify(s, k, v.span, "returned value")
                }
                (Some(v), None) => self.err(v.span, "this function returns nothing; kernels write results into `&mut` arrays"),
                (None, Some(t)) => self.err(*span, format!("`return` needs a value of type {t}")),
            },
            ast::Stmt::Barrier(_) | ast::Stmt::GridBarrier(_) | ast::Stmt::Fence(..) => Ok(()),
            ast::Stmt::Eval(e) => self.expr(e).map(|_| ()),
            ast::Stmt::Shared { name, elem, dims, span } => {
                if self.src.device {
                    return self.err(*span, "shared arrays are declared in kernels; pass them to device functions as arguments");
                }
                let elem = self.type_of_ref(elem);
                if elem == ScalarType::Bool && dims.is_empty() {
                    return self.err(*span, "dynamic shared memory of bool is not supported; use u8");
                }
                if dims.iter().product::<u64>() * elem.size_bytes() as u64 > MAX_STATIC_SHARED {
                    return self.err(
                        *span,
                        format!("`{name}` takes more than the {} KiB of static shared memory a block can have", MAX_STATIC_SHARED / 1024),
                    );
                }
                self.shared.push(ir::SharedArray { name: name.clone(), elem, dims: dims.clone() });
                let r = ArrayRef::Shared((self.shared.len() - 1) as u32);
                self.declare(name, Binding::Array(r));
                Ok(())
            }
            ast::Stmt::Local { name, elem, len, .. } => {
                let elem = self.type_of_ref(elem);
                self.local_arrays.push(ir::LocalArray { name: name.clone(), elem, len: *len });
                let r = ArrayRef::Local((self.local_arrays.len() - 1) as u32);
                self.declare(name, Binding::Array(r));
                Ok(())
            }
        }
    }

    fn int_operand(&mut self, s: usize, span: Span) -> R<()> {
        let r = self.find(s);
        match self.slots[r] {
            Slot::Known(t) if t.is_int() => Ok(()),
            Slot::AnyInt => Ok(()),
            Slot::Unknown => {
                self.slots[r] = Slot::AnyInt;
                Ok(())
            }
            _ => self.err(span, format!("expected an integer, found {}", self.show(r))),
        }
    }

    fn expr(&mut self, e: &ast::Expr) -> R<usize> {
        let slot = match &e.kind {
            ExprKind::Int(_, Some(t)) => self.known(*t),
            ExprKind::Int(_, None) => self.slot(Slot::AnyInt),
            ExprKind::Float(_, Some(t)) => self.known(*t),
            ExprKind::Float(_, None) => self.slot(Slot::AnyFloat),
            ExprKind::Bool(_) => self.known(ScalarType::Bool),
            ExprKind::Var(name) => match self.lookup(name) {
                Some(b @ Binding::Local(l)) => {
                    self.var_ref.insert(e as *const ast::Expr, b);
                    self.locals[l as usize].1
                }
                Some(Binding::Array(_)) => return self.err(e.span, format!("array `{name}` used as a value; index it: `{name}[i]`")),

                None => return self.err(e.span, format!("cannot find value `{name}` in this kernel")),
            },
            ExprKind::Index { array, index } => {
                let a = self.array(array, e.span)?;
                self.var_ref.insert(e as *const ast::Expr, Binding::Array(a.r));
                self.indices(&a, array, index, e.span)?;
                self.known(a.elem)
            }
            ExprKind::ArrayDim { array, axis, stride } => {
                let a = self.array(array, e.span)?;
                if !matches!(a.r, ArrayRef::Param(_)) {
                    return self.err(e.span, format!("`{array}` is not an array parameter; use `{array}.len()`"));
                }
                if *axis as usize >= a.ndim {
                    return self.err(e.span, format!("`{array}` has {} dimension(s); axis {axis} does not exist", a.ndim));
                }
                self.var_ref.insert(e as *const ast::Expr, Binding::Array(a.r));
                self.known(if *stride { ScalarType::I64 } else { ScalarType::U64 })
            }
            ExprKind::Len(array) => {
                let a = self.array(array, e.span)?;
                self.var_ref.insert(e as *const ast::Expr, Binding::Array(a.r));
                self.known(ScalarType::U64)
            }
            ExprKind::Atomic { op, array, operands } => {
                let a = self.array(array, e.span)?;
                self.var_ref.insert(e as *const ast::Expr, Binding::Array(a.r));
                if !a.mutable {
                    return self.err(e.span, format!("`{}` writes `{array}`, which is a `&[T]`, not `&mut [T]`", op.name()));
                }
                if matches!(a.r, ArrayRef::Local(_)) {
                    return self.err(e.span, format!("`{}` works on global and shared arrays, not on per-thread `{array}`", op.name()));
                }
                if operands.len() != 1 + op.values() {
                    return self.err(e.span, format!("`{}` takes the array, an index and {} value(s)", op.name(), op.values()));
                }
                self.indices(&a, array, &operands[..1], e.span)?;
                let elem = self.known(a.elem);
                for v in &operands[1..] {
                    let s = self.expr(v)?;
                    self.unify(elem, s, v.span, op.name())?;
                }
                elem
            }
            ExprKind::Builtin(_, args) => {
                for a in args {
                    self.expr(a)?;
                }
                self.known(ScalarType::U64)
            }
            ExprKind::Unary(_, a) => self.expr(a)?,
            ExprKind::Call(name, args) => self.call(e, name, args)?,
            ExprKind::Collective(c, args) => {
                let ops = c.operands();
                if args.len() != ops.len() {
                    return self.err(e.span, format!("`{}` takes {} argument(s)", c.name(), ops.len()));
                }
                let mut value = None;
                for (a, o) in args.iter().zip(ops) {
                    let s = self.expr(a)?;
                    match o.fixed() {
                        Some(t) => {
                            let k = self.known(t);
                            self.unify(s, k, a.span, c.name())?;
                        }
                        None => value = Some(s),
                    }
                }
                match (c.result(), value) {
                    (Some(t), _) => self.known(t),
                    (None, Some(v)) => v,
                    (None, None) => unreachable!("every collective without a fixed result takes a value"),
                }
            }
            ExprKind::Math(f, args) => {
                let what = format!("`{}`", f.method());
                let mut result = None;
                for (a, param) in args.iter().zip(f.params()) {
                    let s = self.expr(a)?;
                    if let Some(fixed) = param.fixed() {
                        let t = self.known(fixed);
                        self.unify(s, t, a.span, &format!("{what} operand ({fixed})"))?;
                    } else if let Some(r) = result {
                        self.unify(r, s, a.span, &what)?;
                    } else {
                        result = Some(s);
                    }
                }
                match result {
                    Some(r) => r,
                    None => return self.err(e.span, format!("{what} needs a receiver")),
                }
            }
            ExprKind::Cast(a, t) => {
                self.expr(a)?;
                let t = self.type_of_ref(t);
                self.known(t)
            }
            ExprKind::Binary(op, a, b) => {
                let sa = self.expr(a)?;
                let sb = self.expr(b)?;
                let what = format!("`{}`", op.symbol());
                if op.is_logical() {
                    let bt = self.known(ScalarType::Bool);
                    self.unify(sa, bt, a.span, &what)?;
                    self.unify(sb, bt, b.span, &what)?;
                    bt
                } else if op.is_comparison() {
                    self.unify(sa, sb, e.span, &what)?;
                    self.known(ScalarType::Bool)
                } else if op.is_shift() {
                    self.int_operand(sa, a.span)?;
                    self.int_operand(sb, b.span)?;
                    sa
                } else {
                    self.unify(sa, sb, e.span, &what)?;
                    sa
                }
            }
        };
        self.expr_slot.insert(e as *const _, slot);
        Ok(slot)
    }

    /// Types a call of device function `name`: binds the callee's type parameters to the
    /// arguments' slots; the result is the slot of its return type.
    fn call(&mut self, e: &ast::Expr, name: &str, args: &[ast::Expr]) -> R<usize> {
        let Some(callee) = self.src.callees.iter().find(|c| c.name == name) else {
            return self.err(e.span, format!("`{name}` is not a #[gpu_device] function"));
        };
        let csrc = (callee.source)();
        if args.len() != csrc.params.len() {
            return self.err(e.span, format!("`{name}` takes {} argument(s), {} given", csrc.params.len(), args.len()));
        }
        let mut generics: Vec<Option<usize>> = vec![None; csrc.generics.len()];
        for (a, p) in args.iter().zip(&csrc.params) {
            let (t, slot) = match &p.kind {
                ParamKind::Scalar(t) => (t, self.expr(a)?),
                ParamKind::Slice { elem, mutable, ndim } => {
                    let array = match &a.kind {
                        ExprKind::Var(n) => n,
                        _ => return self.err(a.span, format!("parameter `{}` of `{name}` is an array: pass an array by name", p.name)),
                    };
                    let info = self.array(array, a.span)?;
                    self.var_ref.insert(a as *const ast::Expr, Binding::Array(info.r));
                    if info.ndim != *ndim as usize {
                        return self
                            .err(a.span, format!("`{array}` has {} dimension(s) but `{}` of `{name}` takes {ndim}", info.ndim, p.name));
                    }
                    if *mutable && !info.mutable {
                        return self.err(a.span, format!("`{}` of `{name}` is written but `{array}` is read-only", p.name));
                    }
                    (elem, self.known(info.elem))
                }
            };
            match t {
                TypeRef::Scalar(s) => {
                    let k = self.known(*s);
                    self.unify(slot, k, a.span, &format!("argument `{}` of `{name}`", p.name))?;
                }
                TypeRef::Generic(g) => match generics[*g] {
                    Some(gs) => self.unify(gs, slot, a.span, &format!("type parameter `{}` of `{name}`", csrc.generics[*g].name))?,
                    None => generics[*g] = Some(slot),
                },
            }
        }
        let result = match &csrc.ret {
            None => self.known(ScalarType::U32),
            Some(TypeRef::Scalar(t)) => self.known(*t),
            Some(TypeRef::Generic(g)) => match generics[*g] {
                Some(s) => s,
                None => return self.err(e.span, format!("cannot infer the return type of `{name}` from its arguments")),
            },
        };
        self.call_generics.insert(e as *const ast::Expr, generics);
        Ok(result)
    }

    /// Resolves every slot to a concrete type (Rust's literal defaults: `i32`, `f64`).
    fn resolve(&self) -> R<Vec<ScalarType>> {
        Ok((0..self.slots.len())
            .map(|s| match self.slots[self.find(s)] {
                Slot::Known(t) => t,
                Slot::AnyFloat => ScalarType::F64,
                _ => ScalarType::I32,
            })
            .collect())
    }
}

/// The second pass: builds IR from the AST with the inferred types, checking the rules that need
/// concrete types (operators defined on the type, casts allowed) at their source span.
struct Build<'c, 'a> {
    cx: &'c Infer<'a>,
    types: &'c [ScalarType],
    table: &'c RefCell<FnTable>,
}

impl Build<'_, '_> {
    fn ty(&self, e: &ast::Expr) -> ScalarType {
        self.types[self.cx.expr_slot[&(e as *const _)]]
    }

    fn binding(&self, at: *const ast::Expr) -> Binding {
        match self.cx.var_ref.get(&at) {
            Some(b) => *b,
            None => unreachable!("inference resolved every name"),
        }
    }

    fn block(&self, b: &ast::Block) -> R<Vec<ir::Stmt>> {
        let mut out = Vec::with_capacity(b.stmts.len());
        for s in &b.stmts {
            if let Some(s) = self.stmt(s)? {
                out.push(s);
            }
        }
        Ok(out)
    }

    fn stmt(&self, s: &ast::Stmt) -> R<Option<ir::Stmt>> {
        Ok(Some(match s {
            ast::Stmt::Let { init, .. } => {
                let local = self.cx.decl_local[&(s as *const _)];
                match init {
                    Some(init) => ir::Stmt::Assign { local, value: self.expr(init)? },
                    None => return Ok(None),
                }
            }
            ast::Stmt::Assign { place, op, value, span } => {
                let v = self.expr(value)?;
                let binding = match self.cx.place_ref.get(&(place as *const Place)) {
                    Some(b) => *b,
                    None => unreachable!("inference resolved every place"),
                };
                match (place, binding) {
                    (Place::Var(..), Binding::Local(local)) => {
                        let ty = self.types[self.cx.locals[local as usize].1];
                        let value = match op {
                            Some(op) => self.binary(*op, ir::TypedExpr::new(ir::TypedExprKind::Local(local), ty), v, *span)?,
                            None => v,
                        };
                        ir::Stmt::Assign { local, value }
                    }
                    (Place::Index { index, .. }, Binding::Array(p)) => {
                        let elem = self.elem(p);
                        let index = self.flat_index(p, index)?;
                        let value = match op {
                            Some(op) => {
                                let old = ir::TypedExprKind::Load { array: p, index: index.clone() };
                                self.binary(*op, ir::TypedExpr::new(old, elem), v, *span)?
                            }
                            None => v,
                        };
                        ir::Stmt::Store { array: p, index, value }
                    }
                    _ => unreachable!("inference checked the place"),
                }
            }
            ast::Stmt::If { cond, then, otherwise, .. } => ir::Stmt::If {
                cond: self.expr(cond)?,
                then: self.block(then)?,
                otherwise: match otherwise {
                    Some(o) => self.block(o)?,
                    None => Vec::new(),
                },
            },
            ast::Stmt::While { cond, body, .. } => ir::Stmt::While { cond: self.expr(cond)?, body: self.block(body)? },
            ast::Stmt::For { range, body, .. } => {
                let var = self.cx.decl_local[&(s as *const _)];
                let step = match &range.step {
                    Some(st) => self.expr(st)?,
                    None => ir::TypedExpr::new(ir::TypedExprKind::Const(Const::Int(1)), ScalarType::U64),
                };
                ir::Stmt::ForRange {
                    var,
                    start: self.expr(&range.start)?,
                    end: self.expr(&range.end)?,
                    step,
                    inclusive: range.inclusive,
                    reverse: range.reverse,
                    body: self.block(body)?,
                }
            }
            ast::Stmt::Block(b) => ir::Stmt::If {
                cond: ir::TypedExpr::new(ir::TypedExprKind::Const(Const::Bool(true)), ScalarType::Bool),
                then: self.block(b)?,
                otherwise: Vec::new(),
            },
            ast::Stmt::Break(..) => ir::Stmt::Break(self.cx.jump_levels[&(s as *const _)]),
            ast::Stmt::Continue(..) => ir::Stmt::Continue(self.cx.jump_levels[&(s as *const _)]),
            ast::Stmt::Return(value, _) => ir::Stmt::Return(match value {
                Some(v) => Some(self.expr(v)?),
                None => None,
            }),
            ast::Stmt::Barrier(_) => ir::Stmt::Barrier,
            ast::Stmt::GridBarrier(_) => ir::Stmt::GridBarrier,
            ast::Stmt::Fence(scope, _) => ir::Stmt::Fence(*scope),
            ast::Stmt::Eval(e) => ir::Stmt::Eval(self.expr(e)?),
            ast::Stmt::Shared { .. } | ast::Stmt::Local { .. } => return Ok(None),
        }))
    }

    fn elem(&self, a: ArrayRef) -> ScalarType {
        match a {
            ArrayRef::Param(p) => match self.cx.params[p as usize].ty {
                ir::ParamType::Array { elem, .. } => elem,
                ir::ParamType::Scalar(t) => t,
            },
            ArrayRef::Shared(i) => self.cx.shared[i as usize].elem,
            ArrayRef::Local(i) => self.cx.local_arrays[i as usize].elem,
        }
    }

    /// The IR indices of `array[index]`: one an axis for parameters; a 2-D shared array's pair
    /// is flattened to `row * cols + col`.
    fn flat_index(&self, a: ArrayRef, index: &[ast::Expr]) -> R<Vec<ir::TypedExpr>> {
        let mut parts = index.iter().map(|i| self.expr(i)).collect::<R<Vec<_>>>()?;
        if parts.len() == 1 || matches!(a, ArrayRef::Param(_)) {
            return Ok(parts);
        }
        let cols = match a {
            ArrayRef::Shared(i) => self.cx.shared[i as usize].dims[1],
            _ => unreachable!("only shared arrays are 2-D"),
        };
        let u = ScalarType::U64;
        let c = ir::TypedExpr::new(ir::TypedExprKind::Const(Const::Int(cols)), u);
        let col = parts.pop().unwrap_or_else(|| unreachable!("two indices"));
        let row = parts.pop().unwrap_or_else(|| unreachable!("two indices"));
        let scaled = ir::TypedExpr::new(ir::TypedExprKind::Binary(BinOp::Mul, Box::new(row), Box::new(c)), u);
        Ok(vec![ir::TypedExpr::new(ir::TypedExprKind::Binary(BinOp::Add, Box::new(scaled), Box::new(col)), u)])
    }

    /// A call: specializes the callee for the argument types (once per kernel) and builds the
    /// call of that specialization.
    fn call(&self, e: &ast::Expr, name: &str, args: &[ast::Expr], ty: ScalarType) -> R<ir::TypedExpr> {
        let callee = match self.cx.src.callees.iter().find(|c| c.name == name) {
            Some(c) => *c,
            None => unreachable!("inference found the callee"),
        };
        let csrc = (callee.source)();
        let types: Vec<ScalarType> = self.cx.call_generics[&(e as *const ast::Expr)]
            .iter()
            .zip(&csrc.generics)
            .map(|(s, g)| match s {
                Some(s) => self.types[*s],
                None if g.bound.admits(ScalarType::F32) => ScalarType::F32,
                None => ScalarType::I32,
            })
            .collect();
        for (t, g) in types.iter().zip(&csrc.generics) {
            if !g.bound.admits(*t) {
                return self.cx.err(e.span, format!("type parameter `{}: {}` of `{name}` cannot be {t}", g.name, g.bound.name()));
            }
        }
        let Some(mut key) = SpecKey::new(&types) else {
            return self.cx.err(e.span, format!("`{name}` has more than {MAX_GENERICS} type parameters"));
        };
        let mut call_args = Vec::with_capacity(args.len());
        for (i, (a, p)) in args.iter().zip(&csrc.params).enumerate() {
            match &p.kind {
                ParamKind::Scalar(_) => call_args.push(ir::CallArg::Value(self.expr(a)?)),
                ParamKind::Slice { .. } => {
                    let r = match self.binding(a as *const ast::Expr) {
                        Binding::Array(r) => r,
                        Binding::Local(_) => unreachable!("inference checked the array argument"),
                    };
                    let contiguous = match r {
                        ArrayRef::Param(p) => !matches!(self.cx.params[p as usize].ty, ir::ParamType::Array { contiguous: false, .. }),
                        _ => true,
                    };
                    if !contiguous && i < 32 {
                        key.strided |= 1 << i;
                    }
                    call_args.push(ir::CallArg::Array(r));
                }
            }
        }
        let func = self.function(callee, key, e.span)?;
        Ok(ir::TypedExpr::new(ir::TypedExprKind::Call { func, args: call_args }, ty))
    }

    /// The index of `callee`'s specialization for `key`, specializing it on first use.
    fn function(&self, callee: ast::Callee, key: SpecKey, span: Span) -> R<u32> {
        {
            let t = self.table.borrow();
            if let Some(i) = t.done.iter().position(|(n, k, _)| *n == callee.name && *k == key) {
                return Ok(i as u32);
            }
            if t.in_progress.iter().any(|(n, k)| *n == callee.name && *k == key) {
                return self.cx.err(span, format!("`{}` calls itself: recursion is not supported in device functions", callee.name));
            }
        }
        self.table.borrow_mut().in_progress.push((callee.name, key));
        let f = specialize_body((callee.source)(), &key, self.table);
        self.table.borrow_mut().in_progress.pop();
        let mut t = self.table.borrow_mut();
        t.done.push((callee.name, key, f?));
        Ok((t.done.len() - 1) as u32)
    }

    /// Builds `a op b`, checking that `op` is defined on the operands' type.
    fn binary(&self, op: BinOp, a: ir::TypedExpr, b: ir::TypedExpr, span: Span) -> R<ir::TypedExpr> {
        let t = a.ty;
        let ok = if op.is_logical() || op.is_comparison() {
            true
        } else if op.is_shift() {
            t.is_int() && b.ty.is_int()
        } else if matches!(op, BinOp::BitAnd | BinOp::BitOr | BinOp::BitXor) {
            t.is_int() || t == ScalarType::Bool
        } else {
            t.is_numeric()
        };
        if !ok {
            return self.cx.err(span, format!("operator `{}` is not defined on {t}", op.symbol()));
        }
        let ty = if op.is_comparison() { ScalarType::Bool } else { t };
        Ok(ir::TypedExpr::new(ir::TypedExprKind::Binary(op, Box::new(a), Box::new(b)), ty))
    }

    fn expr(&self, e: &ast::Expr) -> R<ir::TypedExpr> {
        let ty = self.ty(e);
        let at = e as *const ast::Expr;
        let kind = match &e.kind {
            ExprKind::Int(v, _) => ir::TypedExprKind::Const(Const::Int(*v as u64)),
            ExprKind::Float(v, _) => ir::TypedExprKind::Const(Const::Float(*v)),
            ExprKind::Bool(b) => ir::TypedExprKind::Const(Const::Bool(*b)),
            ExprKind::Var(_) => match self.binding(at) {
                Binding::Local(l) => ir::TypedExprKind::Local(l),
                Binding::Array(_) => unreachable!("inference rejected arrays as values"),
            },
            ExprKind::Index { index, .. } => match self.binding(at) {
                Binding::Array(p) => ir::TypedExprKind::Load { array: p, index: self.flat_index(p, index)? },
                Binding::Local(_) => unreachable!("inference checked the array"),
            },
            ExprKind::Atomic { op, operands, .. } => match self.binding(at) {
                Binding::Array(p) => {
                    if !atomic_allowed(*op, ty) {
                        let types = if matches!(op, AtomicOp::And | AtomicOp::Or | AtomicOp::Xor) {
                            "i32, u32, i64 and u64"
                        } else {
                            "i32, u32, i64, u64, f32 and f64"
                        };
                        return self.cx.err(e.span, format!("`{}` is supported on {types}, not on {ty}", op.name()));
                    }
                    let index = self.flat_index(p, &operands[..1])?;
                    let values = operands[1..].iter().map(|v| self.expr(v)).collect::<R<Vec<_>>>()?;
                    ir::TypedExprKind::Atomic { op: *op, array: p, index, values }
                }
                Binding::Local(_) => unreachable!("inference checked the array"),
            },
            ExprKind::ArrayDim { axis, stride, .. } => match self.binding(at) {
                Binding::Array(ArrayRef::Param(p)) => ir::TypedExprKind::ArrayDim { array: p, axis: *axis, stride: *stride },
                _ => unreachable!("inference checked the array parameter"),
            },
            ExprKind::Len(_) => match self.binding(at) {
                Binding::Array(p) => ir::TypedExprKind::Len(p),
                Binding::Local(_) => unreachable!("inference checked the array"),
            },
            ExprKind::Builtin(b, _) => ir::TypedExprKind::Special(*b),
            ExprKind::Call(name, args) => return self.call(e, name, args, ty),
            ExprKind::Collective(c, args) => {
                let args = args.iter().map(|a| self.expr(a)).collect::<R<Vec<_>>>()?;
                if let Some((v, _)) = args.iter().zip(c.operands()).find(|(_, o)| o.fixed().is_none()) {
                    if !c.admits(v.ty) {
                        return self.cx.err(e.span, format!("`{}` takes i32, u32, i64 or u64 values, not {}", c.name(), v.ty));
                    }
                }
                ir::TypedExprKind::Collective(*c, args)
            }
            ExprKind::Math(f, args) => {
                if args.len() != f.arity() {
                    return self.cx.err(e.span, format!("`{}` takes {} argument(s)", f.method(), f.arity() - 1));
                }
                if !f.admits(ty) {
                    let what = match f.domain() {
                        Domain::Float => "f32 and f64",
                        Domain::Signed => "signed integers and floats",
                        Domain::Numeric => "integers and floats",
                    };
                    return self.cx.err(e.span, format!("`{}` is defined on {what}, not on {ty}", f.method()));
                }
                let args = args.iter().map(|a| self.expr(a)).collect::<R<Vec<_>>>()?;
                ir::TypedExprKind::Math(*f, args)
            }
            ExprKind::Unary(op, a) => {
                let a = self.expr(a)?;
                let ok = match op {
                    UnOp::Neg => ty.is_signed_int() || ty.is_float(),
                    UnOp::Not => ty == ScalarType::Bool || ty.is_int(),
                };
                if !ok {
                    let sym = if *op == UnOp::Neg { "-" } else { "!" };
                    return self.cx.err(e.span, format!("unary `{sym}` is not defined on {ty}"));
                }
                ir::TypedExprKind::Unary(*op, Box::new(a))
            }
            ExprKind::Cast(a, _) => {
                let a = self.expr(a)?;
                if !cast_allowed(a.ty, ty) {
                    return self.cx.err(e.span, format!("cannot cast {} as {ty}", a.ty));
                }
                ir::TypedExprKind::Cast(Box::new(a))
            }
            ExprKind::Binary(op, a, b) => return self.binary(*op, self.expr(a)?, self.expr(b)?, e.span),
        };
        Ok(ir::TypedExpr::new(kind, ty))
    }
}
