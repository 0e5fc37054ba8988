//! The typed, target-independent kernel IR.
//!
//! One IR serves both targets: [`crate::specialize`] produces it from the source AST and a concrete
//! signature, [`crate::verify`] checks it, and [`crate::lower`] emits LLVM IR from it for any
//! [`crate::target::Target`]. It is structured (blocks, `if`, loops) rather than a CFG: every
//! expression carries its concrete type, every variable is a numbered local, and array parameters
//! are explicit. `Display` prints a readable Rust-like text form (see `GPUJIT_DUMP_DIR`).

use crate::ast::{AsmDir, AtomicOp, BinOp, Builtin, CacheHint, Collective, FenceScope, KernelOptions, Span, UnOp};
use crate::bulk::MmaShape;
use crate::complex::ComplexFn;
use crate::math::MathFn;
use crate::types::ScalarType;
use std::fmt::{self, Write as _};

pub type LocalId = u32;
pub type ParamId = u32;

/// The concrete type of a kernel parameter.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum ParamType {
    Scalar(ScalarType),
    /// An array of `elem` with `ndim` dimensions, written by the kernel when `mutable`;
    /// `contiguous`: specialized for C-contiguous data (else for any strides).
    Array {
        elem: ScalarType,
        mutable: bool,
        ndim: u8,
        contiguous: bool,
    },
}

impl fmt::Display for ParamType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamType::Scalar(t) => write!(f, "{t}"),
            ParamType::Array { elem, mutable, ndim, contiguous } => {
                let m = if *mutable { "&mut " } else { "&" };
                let layout = if *contiguous { "" } else { ", strided" };
                if *ndim == 1 {
                    write!(f, "{m}[{elem}{layout}]")
                } else {
                    write!(f, "{m}Array<{elem}, {ndim}{layout}>")
                }
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    pub name: String,
    pub ty: ParamType,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Local {
    pub name: String,
    pub ty: ScalarType,
}

/// An array a kernel reads or writes: a parameter, a block-shared array or a per-thread array.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum ArrayRef {
    Param(ParamId),
    Shared(u32),
    Local(u32),
}

/// A shared-memory array of a block. `dims` empty: dynamic shared memory, sized at launch.
#[derive(Clone, Debug, PartialEq)]
pub struct SharedArray {
    pub name: String,
    pub elem: ScalarType,
    pub dims: Vec<u64>,
}

impl SharedArray {
    /// Elements of a static array (`None` for dynamic shared memory).
    pub fn static_len(&self) -> Option<u64> {
        (!self.dims.is_empty()).then(|| self.dims.iter().product())
    }
}

/// A per-thread array.
#[derive(Clone, Debug, PartialEq)]
pub struct LocalArray {
    pub name: String,
    pub elem: ScalarType,
    pub len: u64,
}

/// Static shared arrays are laid out in declaration order, each aligned to this many bytes;
/// dynamic shared memory starts after them.
pub const SHARED_ALIGN: u64 = 16;

/// The alignment of shared arrays in a kernel that uses TMA, `wgmma` or `mbarrier`.
pub const HOPPER_SHARED_ALIGN: u64 = 1024;

/// A kernel specialized to one concrete signature.
#[derive(Clone, Debug, PartialEq)]
pub struct Kernel {
    pub name: String,
    pub params: Vec<Param>,
    pub locals: Vec<Local>,
    pub shared: Vec<SharedArray>,
    pub local_arrays: Vec<LocalArray>,
    pub body: Vec<Stmt>,
    pub options: KernelOptions,
    /// For a device function: its return type (`None`: returns nothing).
    pub ret: Option<ScalarType>,
    /// The device-function specializations the kernel calls, directly or not (only on the
    /// kernel; calls name them by index).
    pub functions: Vec<Kernel>,
    /// The body's assertions, which [`StmtKind::Assert`] names by index.
    pub asserts: Vec<AssertInfo>,
    /// The body's `print!`s, which [`StmtKind::Print`] names by index.
    pub prints: Vec<PrintInfo>,
    /// The source file the statements' spans are in (empty for generated kernels).
    pub file: String,
}

/// How the host writes a `print!`'s recorded values.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PrintInfo {
    pub format: String,
    pub newline: bool,
    pub stderr: bool,
    /// The recorded values' types: the positional arguments, then the captured ones.
    pub types: Vec<ScalarType>,
}

/// What the runtime needs to report a failed assertion: where it is and how its message reads.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AssertInfo {
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub kind: crate::ast::AssertKind,
    /// The condition as written.
    pub text: String,
    /// The message's format string, if any.
    pub format: Option<String>,
    /// The types of the recorded values: the compared operands (`assert_eq!`), then the
    /// message's arguments.
    pub types: Vec<ScalarType>,
}

/// An argument of a device-function call.
#[derive(Clone, Debug, PartialEq)]
pub enum CallArg {
    Value(TypedExpr),
    Array(ArrayRef),
}

/// A statement and the source position it came from: errors and line information point there.
/// Its `Debug` form is its kind's alone, so positions do not enter cache keys.
#[derive(Clone, PartialEq)]
pub struct Stmt {
    pub kind: StmtKind,
    pub span: Span,
}

impl Stmt {
    pub fn new(kind: StmtKind, span: Span) -> Stmt {
        Stmt { kind, span }
    }
}

impl fmt::Debug for Stmt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.kind.fmt(f)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum StmtKind {
    /// `local = value`
    Assign {
        local: LocalId,
        value: TypedExpr,
    },
    /// `array[index] = value`: one index an axis of a parameter (2-D shared arrays are flattened)
    Store {
        array: ArrayRef,
        index: Vec<TypedExpr>,
        value: TypedExpr,
    },
    /// `local.path = value`: the part of an aggregate local at a constant path (see
    /// [`TypedExprKind::Field`]); the rest of it is untouched.
    AssignField {
        local: LocalId,
        path: Vec<u32>,
        value: TypedExpr,
    },
    /// `array[index].path = value`: only the addressed part of the element is written.
    StoreField {
        array: ArrayRef,
        index: Vec<TypedExpr>,
        path: Vec<u32>,
        value: TypedExpr,
    },
    If {
        cond: TypedExpr,
        then: Vec<Stmt>,
        otherwise: Vec<Stmt>,
    },
    While {
        cond: TypedExpr,
        body: Vec<Stmt>,
    },
    /// Rust's `for var in (start..end).step_by(step)` (`..=` when `inclusive`), `step` a u64.
    /// The counter never overflows; a step of 0 runs no iteration.
    ForRange {
        var: LocalId,
        start: TypedExpr,
        end: TypedExpr,
        step: TypedExpr,
        inclusive: bool,
        /// `(start..end).rev()`: from the last element down.
        reverse: bool,
        /// `#[unroll]` (0: fully) or `#[unroll(n)]`: LLVM's unroll metadata on the loop.
        unroll: Option<u32>,
        body: Vec<Stmt>,
    },
    /// `break`, leaving this many enclosing loops beyond the innermost (0: the innermost).
    Break(u32),
    /// `continue`, of the loop this many levels out (0: the innermost).
    Continue(u32),
    /// `return` (with the value of a device function).
    Return(Option<TypedExpr>),
    /// `sync_threads()`.
    Barrier,
    /// `grid_sync()`.
    GridBarrier,
    Fence(FenceScope),
    /// Evaluate for the effect (an atomic whose result is unused).
    Eval(TypedExpr),
    /// `print!` `id` of the body's table: records `values` (scalars) for the host to format.
    Print {
        id: u32,
        values: Vec<TypedExpr>,
    },
    /// Assertion `id` of the body's table: when `cond` is false, record `values` (scalars, at
    /// most [`crate::limits::MAX_ASSERT_VALUES`]) and end the thread.
    Assert {
        id: u32,
        cond: TypedExpr,
        values: Vec<TypedExpr>,
    },
    /// `ptx_asm!`: inline PTX, `{N}` in `template` naming operand N. An `In` operand is any
    /// scalar expression; an `Out` or `InOut` one is a [`TypedExprKind::Local`], written.
    Asm {
        template: String,
        operands: Vec<(AsmDir, TypedExpr)>,
    },
    /// An operation on several elements at once (see [`BulkOp`]); each operand is the first
    /// element it works on.
    Bulk {
        op: BulkOp,
        operands: Vec<Element>,
        /// Scalar operands (see [`BulkOp::values`]).
        values: Vec<TypedExpr>,
    },
}

/// An element a [`StmtKind::Bulk`] works from: its array and the index of the first element
/// (one an axis for parameters, as [`TypedExprKind::Load`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Element {
    pub array: ArrayRef,
    pub index: Vec<TypedExpr>,
}

/// The operations of [`StmtKind::Bulk`].
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum BulkOp {
    /// `count` consecutive elements from operand 1 to operand 0 (one of them a per-thread
    /// array): a vector load or store with a cache operator, or with `asynchronous` a `cp.async`
    /// from global to shared memory.
    Copy { count: u32, hint: CacheHint, asynchronous: bool },
    /// `cp.async.commit_group`.
    AsyncCommit,
    /// `cp.async.wait_group n`.
    AsyncWait(u32),
    /// `ldmatrix` of `matrices` 8×8 matrices: operand 0 the fragment (a per-thread array),
    /// operand 1 the start of this lane's row in a shared array.
    LdMatrix { matrices: u32, trans: bool },
    /// `mma.sync`: operands c (accumulated in place), a, b, all per-thread arrays.
    Mma(MmaShape),
    /// `mbarrier.init`: operand the barrier (a shared `u64`); value the count (u32).
    BarrierInit,
    /// `mbarrier.arrive`: operand the barrier.
    BarrierArrive,
    /// `mbarrier.arrive.expect_tx`: operand the barrier; value the bytes (u32).
    BarrierExpectTx,
    /// `mbarrier.try_wait.parity` until it succeeds: operand the barrier; value the parity (u32).
    BarrierWait,
    /// `fence.proxy.async.shared::cta`.
    FenceProxyAsync,
    /// `cp.async.bulk.tensor.2d` global to shared: operands the first shared element, the
    /// tensor map (a `u64` array parameter, element 0), the barrier; values x and y (i32).
    TmaLoad,
    /// `wgmma.fence`.
    WgmmaFence,
    /// `wgmma.commit_group`.
    WgmmaCommit,
    /// `wgmma.wait_group n`.
    WgmmaWait(u32),
    /// `wgmma.mma_async` m64nNkK: operands the accumulators (a per-thread array of N / 2 f32,
    /// or i32 for i8 inputs), A's and B's first elements in shared memory, of the input type
    /// of `input` (bf16, f16, tf32 as f32, or i8; K is 32 bytes of them).
    Wgmma { n: u32, input: MmaShape },
}

impl BulkOp {
    /// The IR text's form (`copy 4 Global`, `copy_async 8 Default`, `commit`, `wait 1`,
    /// `ldmatrix 4 trans`, `mma Bf16`), which [`BulkOp::parse`] reads back.
    pub fn text(self) -> String {
        match self {
            BulkOp::Copy { count, hint, asynchronous } => {
                format!("{} {count} {}", if asynchronous { "copy_async" } else { "copy" }, hint.variant_name())
            }
            BulkOp::AsyncCommit => "commit".into(),
            BulkOp::AsyncWait(n) => format!("wait {n}"),
            BulkOp::LdMatrix { matrices, trans } => format!("ldmatrix {matrices}{}", if trans { " trans" } else { "" }),
            BulkOp::Mma(s) => format!("mma {s:?}"),
            BulkOp::BarrierInit => "mbarrier_init".into(),
            BulkOp::BarrierArrive => "mbarrier_arrive".into(),
            BulkOp::BarrierExpectTx => "mbarrier_expect_tx".into(),
            BulkOp::BarrierWait => "mbarrier_wait".into(),
            BulkOp::FenceProxyAsync => "fence_proxy_async".into(),
            BulkOp::TmaLoad => "tma_load_2d".into(),
            BulkOp::WgmmaFence => "wgmma_fence".into(),
            BulkOp::WgmmaCommit => "wgmma_commit".into(),
            BulkOp::WgmmaWait(n) => format!("wgmma_wait {n}"),
            BulkOp::Wgmma { n, input } => format!("wgmma {n} {}", input.input_name()),
        }
    }

    /// The scalar operands it takes, and their type.
    pub fn values(self) -> (usize, ScalarType) {
        match self {
            BulkOp::BarrierInit | BulkOp::BarrierExpectTx | BulkOp::BarrierWait => (1, ScalarType::U32),
            BulkOp::TmaLoad => (2, ScalarType::I32),
            _ => (0, ScalarType::U32),
        }
    }

    /// The array operands it takes.
    pub fn operand_count(self) -> usize {
        match self {
            BulkOp::AsyncCommit
            | BulkOp::AsyncWait(_)
            | BulkOp::FenceProxyAsync
            | BulkOp::WgmmaFence
            | BulkOp::WgmmaCommit
            | BulkOp::WgmmaWait(_) => 0,
            BulkOp::BarrierInit | BulkOp::BarrierArrive | BulkOp::BarrierExpectTx | BulkOp::BarrierWait => 1,
            BulkOp::Copy { .. } | BulkOp::LdMatrix { .. } => 2,
            BulkOp::Mma(_) | BulkOp::TmaLoad | BulkOp::Wgmma { .. } => 3,
        }
    }

    /// Hopper's operations, which the CPU backend runs through [`crate::host::HostCtx::hopper`].
    pub fn is_hopper(self) -> bool {
        matches!(
            self,
            BulkOp::BarrierInit
                | BulkOp::BarrierArrive
                | BulkOp::BarrierExpectTx
                | BulkOp::BarrierWait
                | BulkOp::FenceProxyAsync
                | BulkOp::TmaLoad
                | BulkOp::WgmmaFence
                | BulkOp::WgmmaCommit
                | BulkOp::WgmmaWait(_)
                | BulkOp::Wgmma { .. }
        )
    }

    /// The operation of [`BulkOp::text`]'s words.
    pub fn parse(words: &[&str]) -> Option<BulkOp> {
        let number = |w: Option<&&str>| w.and_then(|w| w.parse::<u32>().ok());
        Some(match words {
            ["copy" | "copy_async", n, hint] => BulkOp::Copy {
                count: number(Some(n))?,
                hint: *CacheHint::ALL.iter().find(|h| h.variant_name() == *hint)?,
                asynchronous: words[0] == "copy_async",
            },
            ["commit"] => BulkOp::AsyncCommit,
            ["wait", n] => BulkOp::AsyncWait(number(Some(n))?),
            ["ldmatrix", n] => BulkOp::LdMatrix { matrices: number(Some(n))?, trans: false },
            ["ldmatrix", n, "trans"] => BulkOp::LdMatrix { matrices: number(Some(n))?, trans: true },
            ["mma", s] => BulkOp::Mma(*MmaShape::ALL.iter().find(|m| format!("{m:?}") == *s)?),
            ["mbarrier_init"] => BulkOp::BarrierInit,
            ["mbarrier_arrive"] => BulkOp::BarrierArrive,
            ["mbarrier_expect_tx"] => BulkOp::BarrierExpectTx,
            ["mbarrier_wait"] => BulkOp::BarrierWait,
            ["fence_proxy_async"] => BulkOp::FenceProxyAsync,
            ["tma_load_2d"] => BulkOp::TmaLoad,
            ["wgmma_fence"] => BulkOp::WgmmaFence,
            ["wgmma_commit"] => BulkOp::WgmmaCommit,
            ["wgmma_wait", n] => BulkOp::WgmmaWait(number(Some(n))?),
            ["wgmma", n, t] => BulkOp::Wgmma { n: number(Some(n))?, input: *MmaShape::ALL.iter().find(|s| s.input_name() == *t)? },
            _ => return None,
        })
    }

    /// Whether the warp's lanes take part together (the CPU backend runs them as fibers).
    pub fn is_collective(self) -> bool {
        matches!(self, BulkOp::LdMatrix { .. } | BulkOp::Mma(_)) || self.is_hopper()
    }
}

/// The register class of a `ptx_asm!` operand of type `t`, as LLVM's NVPTX constraint letter:
/// `h` for 16-bit integers and floats (their bits), `r` and `l` for 32- and 64-bit integers, `f`
/// and `d` for f32 and f64; `None` for the types no PTX register holds as such (bool, 8-bit
/// integers, complex numbers, structs).
pub fn ptx_register(t: ScalarType) -> Option<char> {
    use ScalarType as S;
    match t {
        S::I16 | S::U16 | S::F16 | S::BF16 => Some('h'),
        S::I32 | S::U32 => Some('r'),
        S::I64 | S::U64 => Some('l'),
        S::F32 => Some('f'),
        S::F64 => Some('d'),
        _ => None,
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct TypedExpr {
    pub kind: TypedExprKind,
    pub ty: ScalarType,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TypedExprKind {
    /// A constant; integers hold their two's-complement bits, floats their value.
    Const(Const),
    Local(LocalId),
    /// The value of a scalar parameter.
    Param(ParamId),
    /// `array[index]`, one u64 index an axis.
    Load {
        array: ArrayRef,
        index: Vec<TypedExpr>,
    },
    /// `array.shape(axis)` (a u64) or, with `stride`, `array.stride(axis)` (an i64, in elements).
    ArrayDim {
        array: ParamId,
        axis: u8,
        stride: bool,
    },
    /// The length of an array, a u64.
    Len(ArrayRef),
    /// An atomic read-modify-write of `array[index]` (relaxed ordering, device scope); its value
    /// is the element's old value. `values`: one operand, or (expected, new) for `Cas`.
    Atomic {
        op: AtomicOp,
        array: ArrayRef,
        index: Vec<TypedExpr>,
        values: Vec<TypedExpr>,
    },
    Unary(UnOp, Box<TypedExpr>),
    Binary(BinOp, Box<TypedExpr>, Box<TypedExpr>),
    /// Rust's `as` conversion of the operand to `self.ty`.
    Cast(Box<TypedExpr>),
    /// A thread-model intrinsic, a u64.
    Special(Builtin),
    /// A warp or block collective on its operands.
    Collective(Collective, Vec<TypedExpr>),
    /// A call of device function `func` (an index into the kernel's `functions`).
    Call {
        func: u32,
        args: Vec<CallArg>,
    },
    /// A math method on its operands (receiver first).
    Math(MathFn, Vec<TypedExpr>),
    /// A complex function or method (`Complex::new`, `conj`, `exp`, ...) on its operands, typed
    /// by [`ComplexFn::params`]; `self.ty` by [`ComplexFn::ret`].
    Complex(ComplexFn, Vec<TypedExpr>),
    /// The value at a constant path inside an aggregate: a field's index (a complex number's
    /// `re` is 0, `im` 1; a struct's fields in declaration order), then an element's for an array
    /// field, and so on into nested structs (see [`ScalarType::at_path`]).
    Field(Box<TypedExpr>, Vec<u32>),
    /// A struct value (`self.ty`) from its fields in order, an array field as its elements.
    Construct(Vec<TypedExpr>),
    /// `f32::from_bits(u)`: the float (`self.ty`) whose bits are the operand, the unsigned
    /// integer of its width.
    FromBits(Box<TypedExpr>),
    /// A draw from a Philox generator whose state is three u64 locals: its value is
    /// [`crate::random::draw`] of word `drawn`, and `drawn` advances by the words it takes.
    Random {
        draw: crate::random::Draw,
        seed: LocalId,
        subsequence: LocalId,
        drawn: LocalId,
    },
}

#[derive(Copy, Clone, Debug, PartialEq)]
pub enum Const {
    Int(u64),
    Float(f64),
    Bool(bool),
}

/// A path inside an aggregate of type `t` in Rust syntax: `.re`, `.pos[2]`, `.inner.x`.
pub fn path_text(t: ScalarType, path: &[u32]) -> String {
    let mut out = String::new();
    let mut t = t;
    let mut rest = path;
    while let Some((&i, tail)) = rest.split_first() {
        rest = tail;
        match t {
            ScalarType::Struct(d) => match d.fields.get(i as usize) {
                Some(f) => {
                    let _ = write!(out, ".{}", f.name);
                    t = f.ty;
                    if f.len.is_some() {
                        if let Some((&k, tail)) = rest.split_first() {
                            let _ = write!(out, "[{k}]");
                            rest = tail;
                        }
                    }
                }
                None => {
                    let _ = write!(out, ".<bad field {i}>");
                }
            },
            c if c.is_complex() => {
                out.push_str(if i == 0 { ".re" } else { ".im" });
                t = c.component().unwrap_or(c);
            }
            _ => {
                let _ = write!(out, ".<bad field {i}>");
            }
        }
    }
    out
}

/// The structs a kernel's types name (nested ones first), each once.
pub fn structs_of(kernel: &Kernel) -> Vec<&'static crate::types::StructDef> {
    fn add(t: ScalarType, out: &mut Vec<&'static crate::types::StructDef>) {
        if let ScalarType::Struct(d) = t {
            if out.contains(&d) {
                return;
            }
            for f in d.fields {
                add(f.ty, out);
            }
            out.push(d);
        }
    }
    let mut out = Vec::new();
    for p in &kernel.params {
        match p.ty {
            ParamType::Scalar(t) | ParamType::Array { elem: t, .. } => add(t, &mut out),
        }
    }
    for l in &kernel.locals {
        add(l.ty, &mut out);
    }
    for s in &kernel.shared {
        add(s.elem, &mut out);
    }
    for a in &kernel.local_arrays {
        add(a.elem, &mut out);
    }
    if let Some(r) = kernel.ret {
        add(r, &mut out);
    }
    out
}

impl TypedExpr {
    pub fn new(kind: TypedExprKind, ty: ScalarType) -> TypedExpr {
        TypedExpr { kind, ty }
    }
}

impl Kernel {
    /// The signature in Rust syntax, e.g. `(a: f32, x: &[f32], y: &mut [f32])`.
    pub fn signature(&self) -> String {
        let mut s = String::from("(");
        for (i, p) in self.params.iter().enumerate() {
            if i > 0 {
                s.push_str(", ");
            }
            let _ = write!(s, "{}: {}", p.name, p.ty);
        }
        s.push(')');
        s
    }

    fn local_name(&self, id: LocalId) -> String {
        match self.locals.get(id as usize) {
            Some(l) => format!("{}_{id}", l.name),
            None => format!("<bad local {id}>"),
        }
    }

    fn param_name(&self, id: ParamId) -> &str {
        self.params.get(id as usize).map(|p| p.name.as_str()).unwrap_or("<bad param>")
    }

    /// The name of an array, as written in the kernel.
    pub fn array_name(&self, a: ArrayRef) -> &str {
        match a {
            ArrayRef::Param(p) => self.param_name(p),
            ArrayRef::Shared(i) => self.shared.get(i as usize).map(|s| s.name.as_str()).unwrap_or("<bad shared>"),
            ArrayRef::Local(i) => self.local_arrays.get(i as usize).map(|s| s.name.as_str()).unwrap_or("<bad local>"),
        }
    }

    /// An array's name in the IR text: as written, but `name_k` for per-thread array `k` when
    /// another per-thread array has its name (two `let v = x.load::<4>(..)` in different
    /// scopes), as the text parser reads it back.
    fn text_array_name(&self, a: ArrayRef) -> String {
        let name = self.array_name(a);
        match a {
            ArrayRef::Local(i) if self.local_arrays.iter().filter(|l| l.name == name).count() > 1 => format!("{name}_{i}"),
            _ => name.to_string(),
        }
    }

    /// Element type and writability of an array, `None` if it does not exist.
    pub fn array_info(&self, a: ArrayRef) -> Option<(ScalarType, bool)> {
        match a {
            ArrayRef::Param(p) => match self.params.get(p as usize)?.ty {
                ParamType::Array { elem, mutable, .. } => Some((elem, mutable)),
                ParamType::Scalar(_) => None,
            },
            ArrayRef::Shared(i) => self.shared.get(i as usize).map(|s| (s.elem, true)),
            ArrayRef::Local(i) => self.local_arrays.get(i as usize).map(|s| (s.elem, true)),
        }
    }

    /// Whether the kernel (or a device function it calls) calls `grid_sync()`, so it must be
    /// launched cooperatively.
    pub fn uses_grid_sync(&self) -> bool {
        fn any(stmts: &[Stmt]) -> bool {
            stmts.iter().any(|s| match &s.kind {
                StmtKind::GridBarrier => true,
                StmtKind::If { then, otherwise, .. } => any(then) || any(otherwise),
                StmtKind::While { body, .. } | StmtKind::ForRange { body, .. } => any(body),
                _ => false,
            })
        }
        any(&self.body) || self.functions.iter().any(|f| any(&f.body))
    }

    /// Byte offsets of the static shared arrays, and the bytes they take in all (where dynamic
    /// shared memory starts).
    pub fn shared_layout(&self) -> (Vec<u64>, u64) {
        let mut offsets = Vec::with_capacity(self.shared.len());
        let mut at = 0u64;
        let align = self.shared_align();
        for s in &self.shared {
            offsets.push(at);
            if let Some(n) = s.static_len() {
                at += (n * s.elem.size_bytes() as u64).div_ceil(align) * align;
            }
        }
        (offsets, at)
    }

    /// Bytes a GPU launch adds to the dynamic shared memory a kernel asks for, so that the
    /// kernel can move it to a [`HOPPER_SHARED_ALIGN`] boundary (the GPU starts it 16-byte
    /// aligned after the static arrays): only a kernel with Hopper's operations and dynamic
    /// shared memory; 0 for the others.
    pub fn dynamic_shared_pad(&self) -> u64 {
        if self.shared_align() > SHARED_ALIGN && self.shared.iter().any(|s| s.static_len().is_none()) {
            HOPPER_SHARED_ALIGN
        } else {
            0
        }
    }

    /// The alignment of each shared array: [`SHARED_ALIGN`], or 1024 bytes in a kernel that
    /// uses Hopper's operations (their swizzled tiles start at 1024-byte boundaries).
    pub fn shared_align(&self) -> u64 {
        match self.needs_arch() {
            Some((90.., _)) => HOPPER_SHARED_ALIGN,
            _ => SHARED_ALIGN,
        }
    }

    /// Whether the body or a device function it calls asserts (a failed assertion ends the
    /// thread, so calls are followed by a check of whether the callee ended it).
    /// Whether the body or a device function it calls prints.
    pub fn prints_anywhere(&self) -> bool {
        !self.prints.is_empty() || self.functions.iter().any(|f| !f.prints.is_empty())
    }

    pub fn asserts_anywhere(&self) -> bool {
        !self.asserts.is_empty() || self.functions.iter().any(|f| !f.asserts.is_empty())
    }

    /// The oldest architecture (`sm_XX`) the kernel's instructions exist on, with what needs it,
    /// when that is newer than gpujit's baseline: `cp_async` and `mma_sync` need sm_80,
    /// `ldmatrix` sm_75.
    pub fn needs_arch(&self) -> Option<(u32, &'static str)> {
        fn walk(stmts: &[Stmt], best: &mut Option<(u32, &'static str)>) {
            for s in stmts {
                let need = match &s.kind {
                    StmtKind::Bulk { op, .. } => match op {
                        BulkOp::Copy { asynchronous: true, .. } | BulkOp::AsyncCommit | BulkOp::AsyncWait(_) => Some((80, "`cp_async`")),
                        BulkOp::Mma(_) => Some((80, "`mma_sync`")),
                        BulkOp::LdMatrix { .. } => Some((75, "`ldmatrix`")),
                        BulkOp::Copy { .. } => None,
                        BulkOp::TmaLoad => Some((90, "`tma_load_2d`")),
                        BulkOp::Wgmma { .. } | BulkOp::WgmmaFence | BulkOp::WgmmaCommit | BulkOp::WgmmaWait(_) => Some((90, "`wgmma`")),
                        BulkOp::BarrierInit | BulkOp::BarrierArrive | BulkOp::BarrierExpectTx | BulkOp::BarrierWait => {
                            Some((90, "`mbarrier`"))
                        }
                        BulkOp::FenceProxyAsync => Some((90, "`fence_proxy_async`")),
                    },
                    StmtKind::If { then, otherwise, .. } => {
                        walk(then, best);
                        walk(otherwise, best);
                        None
                    }
                    StmtKind::While { body, .. } | StmtKind::ForRange { body, .. } => {
                        walk(body, best);
                        None
                    }
                    _ => None,
                };
                if let Some(n) = need.filter(|n| best.map_or(true, |b| n.0 > b.0)) {
                    *best = Some(n);
                }
            }
        }
        let mut best = None;
        walk(&self.body, &mut best);
        for f in &self.functions {
            walk(&f.body, &mut best);
        }
        best
    }

    /// Whether the kernel, or a device function it calls, uses `wgmma`: an instruction of
    /// `sm_90a` alone (Hopper's architecture-specific features, absent from later GPUs).
    pub fn uses_wgmma(&self) -> bool {
        fn any(stmts: &[Stmt]) -> bool {
            stmts.iter().any(|s| match &s.kind {
                StmtKind::Bulk { op, .. } => {
                    matches!(op, BulkOp::Wgmma { .. } | BulkOp::WgmmaFence | BulkOp::WgmmaCommit | BulkOp::WgmmaWait(_))
                }
                StmtKind::If { then, otherwise, .. } => any(then) || any(otherwise),
                StmtKind::While { body, .. } | StmtKind::ForRange { body, .. } => any(body),
                _ => false,
            })
        }
        any(&self.body) || self.functions.iter().any(|f| any(&f.body))
    }

    /// Whether the kernel, or a device function it calls, has a `ptx_asm!`.
    pub fn uses_inline_ptx(&self) -> bool {
        fn any(stmts: &[Stmt]) -> bool {
            stmts.iter().any(|s| match &s.kind {
                StmtKind::Asm { .. } => true,
                StmtKind::If { then, otherwise, .. } => any(then) || any(otherwise),
                StmtKind::While { body, .. } | StmtKind::ForRange { body, .. } => any(body),
                _ => false,
            })
        }
        any(&self.body) || self.functions.iter().any(Kernel::uses_inline_ptx)
    }

    /// Whether the kernel synchronizes threads: `sync_threads()` or any warp or block collective.
    /// (The CPU backend then runs a block's threads as fibers.)
    pub fn synchronizes(&self) -> bool {
        fn expr(e: &TypedExpr) -> bool {
            match &e.kind {
                TypedExprKind::Collective(..) => true,
                TypedExprKind::Load { index, .. } => index.iter().any(expr),
                TypedExprKind::Unary(_, a) | TypedExprKind::Cast(a) | TypedExprKind::FromBits(a) | TypedExprKind::Field(a, _) => expr(a),
                TypedExprKind::Construct(args) => args.iter().any(expr),
                TypedExprKind::Binary(_, a, b) => expr(a) || expr(b),
                TypedExprKind::Math(_, args) | TypedExprKind::Complex(_, args) => args.iter().any(expr),
                // Device functions are checked on their own (see below).
                TypedExprKind::Call { args, .. } => args.iter().any(|a| matches!(a, CallArg::Value(v) if expr(v))),
                TypedExprKind::Atomic { index, values, .. } => index.iter().any(expr) || values.iter().any(expr),
                TypedExprKind::Const(_)
                | TypedExprKind::Local(_)
                | TypedExprKind::Random { .. }
                | TypedExprKind::Param(_)
                | TypedExprKind::Len(_)
                | TypedExprKind::Special(_)
                | TypedExprKind::ArrayDim { .. } => false,
            }
        }
        fn any(stmts: &[Stmt]) -> bool {
            stmts.iter().any(|s| match &s.kind {
                StmtKind::Barrier | StmtKind::GridBarrier => true,
                StmtKind::Assign { value, .. } | StmtKind::AssignField { value, .. } | StmtKind::Eval(value) => expr(value),
                StmtKind::Store { index, value, .. } | StmtKind::StoreField { index, value, .. } => index.iter().any(expr) || expr(value),
                StmtKind::If { cond, then, otherwise } => expr(cond) || any(then) || any(otherwise),
                StmtKind::While { cond, body } => expr(cond) || any(body),
                StmtKind::ForRange { start, end, step, body, .. } => expr(start) || expr(end) || expr(step) || any(body),
                StmtKind::Return(v) => v.as_ref().is_some_and(expr),
                StmtKind::Assert { cond, values, .. } => expr(cond) || values.iter().any(expr),
                StmtKind::Print { values, .. } => values.iter().any(expr),
                StmtKind::Asm { operands, .. } => operands.iter().any(|(_, e)| expr(e)),
                StmtKind::Bulk { op, operands, values } => {
                    op.is_collective() || operands.iter().any(|o| o.index.iter().any(expr)) || values.iter().any(expr)
                }
                StmtKind::Break(_) | StmtKind::Continue(_) | StmtKind::Fence(_) => false,
            })
        }
        any(&self.body) || self.functions.iter().any(Kernel::synchronizes)
    }

    fn write_expr(&self, out: &mut String, e: &TypedExpr) {
        match &e.kind {
            // `-5i32` is the constant -5; the negation of the constant 5 is `-(5i32)`.
            TypedExprKind::Const(Const::Int(v)) => {
                if e.ty.is_signed_int() {
                    let shift = 64 - e.ty.bits();
                    let _ = write!(out, "{}{}", ((*v << shift) as i64) >> shift, e.ty);
                } else {
                    let _ = write!(out, "{v}{}", e.ty);
                }
            }
            TypedExprKind::Const(Const::Float(v)) => {
                let _ = write!(out, "{v:?}{}", e.ty);
            }
            TypedExprKind::Const(Const::Bool(b)) => {
                let _ = write!(out, "{b}");
            }
            TypedExprKind::Local(id) => out.push_str(&self.local_name(*id)),
            TypedExprKind::Param(id) => out.push_str(self.param_name(*id)),
            TypedExprKind::Load { array, index } => {
                out.push_str(&self.text_array_name(*array));
                self.write_index(out, index);
            }
            TypedExprKind::ArrayDim { array, axis, stride } => {
                let _ = write!(out, "{}.{}({axis})", self.param_name(*array), if *stride { "stride" } else { "shape" });
            }
            TypedExprKind::Len(id) => {
                let _ = write!(out, "{}.len()", self.text_array_name(*id));
            }
            TypedExprKind::Atomic { op, array, index, values } => {
                let _ = write!(out, "{}({}, ", op.name(), self.text_array_name(*array));
                self.write_index(out, index);
                for v in values {
                    out.push_str(", ");
                    self.write_expr(out, v);
                }
                out.push(')');
            }
            TypedExprKind::Unary(op, a) => {
                out.push_str(match op {
                    UnOp::Neg => "-",
                    UnOp::Not => "!",
                });
                // `-(5i32)` and `-(x.abs())`: `-5i32` is the constant -5, and `-5i32.abs()` its abs.
                let constant = matches!(a.kind, TypedExprKind::Const(_) | TypedExprKind::Math(..));
                if constant {
                    out.push('(');
                }
                self.write_expr(out, a);
                if constant {
                    out.push(')');
                }
            }
            TypedExprKind::Binary(op, a, b) => {
                out.push('(');
                self.write_expr(out, a);
                let _ = write!(out, " {} ", op.symbol());
                self.write_expr(out, b);
                out.push(')');
            }
            TypedExprKind::Cast(a) => {
                out.push('(');
                self.write_expr(out, a);
                let _ = write!(out, " as {})", e.ty);
            }
            TypedExprKind::Random { draw, seed, subsequence, drawn } => {
                let (a, b, c) = (self.local_name(*seed), self.local_name(*subsequence), self.local_name(*drawn));
                let _ = write!(out, "philox({a}, {b}, {c}).{}()", draw.method());
            }
            TypedExprKind::FromBits(a) => {
                let _ = write!(out, "{}::from_bits(", e.ty);
                self.write_expr(out, a);
                out.push(')');
            }
            TypedExprKind::Special(b) => {
                let _ = write!(out, "{}()", b.name());
            }
            TypedExprKind::Call { func, args } => {
                let _ = write!(out, "call#{func}(");
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    match a {
                        CallArg::Value(v) => self.write_expr(out, v),
                        CallArg::Array(r) => out.push_str(&self.text_array_name(*r)),
                    }
                }
                out.push(')');
            }
            TypedExprKind::Collective(c, args) => {
                let _ = write!(out, "{}(", c.name());
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    self.write_expr(out, a);
                }
                out.push(')');
            }
            TypedExprKind::Field(a, path) => {
                let paren = matches!(a.kind, TypedExprKind::Unary(..));
                if paren {
                    out.push('(');
                }
                self.write_expr(out, a);
                if paren {
                    out.push(')');
                }
                out.push_str(&path_text(a.ty, path));
            }
            TypedExprKind::Construct(args) => {
                let _ = write!(out, "{} {{", e.ty);
                for (i, a) in args.iter().enumerate() {
                    out.push_str(if i > 0 { ", " } else { " " });
                    self.write_expr(out, a);
                }
                out.push_str(" }");
            }
            TypedExprKind::Complex(f, args) if !f.is_method() => {
                // `Complex::<f32>::new(..)`: the type, as the IR text reads it back.
                let _ = write!(out, "Complex::<{}>::{}(", e.ty.component().unwrap_or(e.ty), f.name());
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    self.write_expr(out, a);
                }
                out.push(')');
            }
            TypedExprKind::Complex(f, args) => {
                let paren = matches!(args[0].kind, TypedExprKind::Unary(..));
                if paren {
                    out.push('(');
                }
                self.write_expr(out, &args[0]);
                if paren {
                    out.push(')');
                }
                let _ = write!(out, ".{}(", f.name());
                for (i, a) in args[1..].iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    self.write_expr(out, a);
                }
                out.push(')');
            }
            TypedExprKind::Math(f, args) if f.host() == crate::math::Host::Function => {
                let _ = write!(out, "{}(", f.method());
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    self.write_expr(out, a);
                }
                out.push(')');
            }
            TypedExprKind::Math(f, args) => {
                // `(-x).abs()`: a method binds tighter than a prefix operator.
                let paren = matches!(args[0].kind, TypedExprKind::Unary(..));
                if paren {
                    out.push('(');
                }
                self.write_expr(out, &args[0]);
                if paren {
                    out.push(')');
                }
                let _ = write!(out, ".{}(", f.method());
                for (i, a) in args[1..].iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    self.write_expr(out, a);
                }
                out.push(')');
            }
        }
    }

    fn write_index(&self, out: &mut String, index: &[TypedExpr]) {
        out.push_str(if index.len() == 1 { "[" } else { "[[" });
        for (i, x) in index.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            self.write_expr(out, x);
        }
        out.push_str(if index.len() == 1 { "]" } else { "]]" });
    }

    /// The number of indices an access to `a` takes: the parameter's dimensions, else 1.
    pub fn index_count(&self, a: ArrayRef) -> usize {
        match a {
            ArrayRef::Param(p) => match self.params.get(p as usize).map(|p| p.ty) {
                Some(ParamType::Array { ndim, .. }) => ndim as usize,
                _ => 1,
            },
            _ => 1,
        }
    }

    fn write_block(&self, out: &mut String, stmts: &[Stmt], depth: usize) {
        for s in stmts {
            self.write_stmt(out, s, depth);
        }
    }

    fn write_stmt(&self, out: &mut String, s: &Stmt, depth: usize) {
        let pad = "    ".repeat(depth);
        match &s.kind {
            StmtKind::Assign { local, value } => {
                let _ = write!(out, "{pad}{}: {} = ", self.local_name(*local), value.ty);
                self.write_expr(out, value);
                out.push_str(";\n");
            }
            StmtKind::Store { array, index, value } => {
                let _ = write!(out, "{pad}{}", self.text_array_name(*array));
                self.write_index(out, index);
                out.push_str(" = ");
                self.write_expr(out, value);
                out.push_str(";\n");
            }
            StmtKind::AssignField { local, path, value } => {
                let ty = self.locals.get(*local as usize).map(|l| l.ty).unwrap_or(ScalarType::Bool);
                let _ = write!(out, "{pad}{}{} = ", self.local_name(*local), path_text(ty, path));
                self.write_expr(out, value);
                out.push_str(";\n");
            }
            StmtKind::StoreField { array, index, path, value } => {
                let _ = write!(out, "{pad}{}", self.text_array_name(*array));
                self.write_index(out, index);
                let elem = self.array_info(*array).map(|(t, _)| t).unwrap_or(ScalarType::Bool);
                out.push_str(&path_text(elem, path));
                out.push_str(" = ");
                self.write_expr(out, value);
                out.push_str(";\n");
            }
            StmtKind::If { cond, then, otherwise } => {
                let _ = write!(out, "{pad}if ");
                self.write_expr(out, cond);
                out.push_str(" {\n");
                self.write_block(out, then, depth + 1);
                if otherwise.is_empty() {
                    let _ = writeln!(out, "{pad}}}");
                } else {
                    let _ = writeln!(out, "{pad}}} else {{");
                    self.write_block(out, otherwise, depth + 1);
                    let _ = writeln!(out, "{pad}}}");
                }
            }
            StmtKind::While { cond, body } => {
                let _ = write!(out, "{pad}while ");
                self.write_expr(out, cond);
                out.push_str(" {\n");
                self.write_block(out, body, depth + 1);
                let _ = writeln!(out, "{pad}}}");
            }
            StmtKind::ForRange { var, start, end, step, inclusive, reverse, unroll, body } => {
                match unroll {
                    Some(0) => {
                        let _ = writeln!(out, "{pad}#[unroll]");
                    }
                    Some(n) => {
                        let _ = writeln!(out, "{pad}#[unroll({n})]");
                    }
                    None => {}
                }
                let _ = write!(out, "{pad}for {} in (", self.local_name(*var));
                self.write_expr(out, start);
                out.push_str(if *inclusive { "..=" } else { ".." });
                self.write_expr(out, end);
                out.push_str(if *reverse { ").rev().step_by(" } else { ").step_by(" });
                self.write_expr(out, step);
                out.push_str(") {\n");
                self.write_block(out, body, depth + 1);
                let _ = writeln!(out, "{pad}}}");
            }
            StmtKind::Break(0) => {
                let _ = writeln!(out, "{pad}break;");
            }
            StmtKind::Continue(0) => {
                let _ = writeln!(out, "{pad}continue;");
            }
            StmtKind::Break(n) => {
                let _ = writeln!(out, "{pad}break {n} loops out;");
            }
            StmtKind::Continue(n) => {
                let _ = writeln!(out, "{pad}continue {n} loops out;");
            }
            StmtKind::Return(None) => {
                let _ = writeln!(out, "{pad}return;");
            }
            StmtKind::Return(Some(v)) => {
                let _ = write!(out, "{pad}return ");
                self.write_expr(out, v);
                out.push_str(";\n");
            }
            StmtKind::Barrier => {
                let _ = writeln!(out, "{pad}sync_threads();");
            }
            StmtKind::GridBarrier => {
                let _ = writeln!(out, "{pad}grid_sync();");
            }
            StmtKind::Fence(scope) => {
                let _ = writeln!(out, "{pad}fence({scope:?});");
            }
            StmtKind::Eval(e) => {
                out.push_str(&pad);
                self.write_expr(out, e);
                out.push_str(";\n");
            }
            StmtKind::Print { id, values } => {
                let _ = write!(out, "{pad}print#{id}([");
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    self.write_expr(out, v);
                }
                out.push_str("]);\n");
            }
            StmtKind::Asm { template, operands } => {
                let _ = write!(out, "{pad}asm({template:?}, [");
                for (i, (dir, v)) in operands.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    let _ = write!(out, "{} ", dir.variant_name());
                    self.write_expr(out, v);
                }
                out.push_str("]);\n");
            }
            StmtKind::Bulk { op, operands, values } => {
                let _ = write!(out, "{pad}bulk({}, [", op.text());
                for (i, e) in operands.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(&self.text_array_name(e.array));
                    self.write_index(out, &e.index);
                }
                out.push(']');
                if !values.is_empty() {
                    out.push_str(", [");
                    for (i, v) in values.iter().enumerate() {
                        if i > 0 {
                            out.push_str(", ");
                        }
                        self.write_expr(out, v);
                    }
                    out.push(']');
                }
                out.push_str(");\n");
            }
            StmtKind::Assert { id, cond, values } => {
                let _ = write!(out, "{pad}assert#{id}(");
                self.write_expr(out, cond);
                out.push_str(", [");
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    self.write_expr(out, v);
                }
                out.push_str("]);\n");
            }
        }
    }
}

impl fmt::Display for Kernel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        let o = &self.options;
        if *o != KernelOptions::default() {
            // The flags only generated code and tests set appear where set.
            let mut internal = String::new();
            for (name, on) in [("lockstep_all", o.lockstep_all), ("flat_refuse_unproven", o.flat_refuse_unproven)] {
                if on {
                    let _ = write!(internal, ", {name} = true");
                }
            }
            let _ = writeln!(
                out,
                "#[options(fastmath = {}, launch_bounds = {:?}/{:?}, max_registers = {:?}, boundscheck = {}, debug = {}, lineinfo = {}, finitecheck = {}, aligned16 = {}, no_contract = {}, may_alias = {}, wide_arrays = {}, aligned_arrays = {}{internal})]",
                o.fastmath, o.max_threads_per_block, o.min_blocks_per_sm, o.max_registers, o.boundscheck, o.debug, o.lineinfo, o.finitecheck, o.aligned16, o.no_contract, o.may_alias, o.wide_arrays, o.aligned_arrays
            );
        }
        if !self.file.is_empty() {
            let _ = writeln!(out, "file {:?}", self.file);
        }
        // The layouts of the structs it names, so that the text is the whole IR.
        for d in structs_of(self) {
            let fields: Vec<String> = d
                .fields
                .iter()
                .map(|f| match f.len {
                    Some(n) => format!("{}: [{}; {n}] @{}", f.name, f.ty, f.offset),
                    None => format!("{}: {} @{}", f.name, f.ty, f.offset),
                })
                .collect();
            let _ = writeln!(out, "struct {} {{ {} }} size {} align {}", d.name, fields.join(", "), d.size, d.align);
        }
        // The assertions' table: where each is and how its message reads.
        for (i, a) in self.asserts.iter().enumerate() {
            let types: Vec<String> = a.types.iter().map(|t| t.to_string()).collect();
            let format = match &a.format {
                Some(f) => format!("{f:?}"),
                None => "none".into(),
            };
            let _ = writeln!(
                out,
                "assertion {i} {:?} {:?} {} {} {:?} {format} [{}]",
                a.kind,
                a.file,
                a.line,
                a.column,
                a.text,
                types.join(", ")
            );
        }
        for (i, p) in self.prints.iter().enumerate() {
            let types: Vec<String> = p.types.iter().map(|t| t.to_string()).collect();
            let _ = writeln!(out, "printing {i} {:?} newline = {} stderr = {} [{}]", p.format, p.newline, p.stderr, types.join(", "));
        }
        let ret = self.ret.map(|t| format!(" -> {t}")).unwrap_or_default();
        let _ = writeln!(out, "kernel {}{}{ret} {{", self.name, self.signature());
        for s in &self.shared {
            let _ = writeln!(out, "    shared {}: [{}; {:?}];", s.name, s.elem, s.dims);
        }
        for l in &self.local_arrays {
            let _ = writeln!(out, "    local {}: [{}; {}];", l.name, l.elem, l.len);
        }
        self.write_block(&mut out, &self.body, 1);
        out.push_str("}\n");
        for (i, func) in self.functions.iter().enumerate() {
            let _ = write!(out, "\n// device function #{i}\n{func}");
        }
        f.write_str(&out)
    }
}
