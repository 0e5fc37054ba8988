//! The source form of a kernel: an untyped syntax tree that `#[gpu_kernel]` builds from the Rust
//! function, before any type is known.
//!
//! It is the first stage of the pipeline (parse → **source AST** → specialize → IR → lower). Types
//! of generic parameters are unknown until launch, and the types of unsuffixed literals are inferred
//! from their use, so nothing here is typed: `gpujit_codegen::specialize` turns it into the
//! typed `gpujit_codegen::ir` once the argument types are known.

use crate::complex::ComplexFn;
use crate::intrinsics::{atomic_def, collective_def, Arg};
use crate::math::MathFn;
use crate::named_enum;
use crate::types::ScalarType;
use std::fmt;

/// A position in the user's source file, used in error messages.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Span {
    pub line: u32,
    pub column: u32,
}

impl Span {
    pub const fn new(line: u32, column: u32) -> Span {
        Span { line, column }
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column + 1)
    }
}

/// A type as written in the source: a concrete scalar type or one of the kernel's type parameters.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TypeRef {
    Scalar(ScalarType),
    /// Index into [`KernelSource::generics`].
    Generic(usize),
    /// A type the macro does not know, named as written (a `#[gpu_struct]`): the generated code
    /// replaces it with the type's [`ScalarType`] (`<T as gpujit::Element>::TYPE`), so it never
    /// reaches specialization.
    Named(String),
}

/// What a kernel parameter is.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ParamKind {
    /// A scalar passed by value.
    Scalar(TypeRef),
    /// An array: `&[T]` or `&Array<T, 1>` (1-D), `&Array<T, N>` (N-D); `&mut` when written.
    Slice { elem: TypeRef, mutable: bool, ndim: u8 },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    pub name: String,
    pub kind: ParamKind,
    pub span: Span,
}

/// A type parameter of a generic kernel and the trait bound it was declared with (`T: Float`).
#[derive(Clone, Debug, PartialEq)]
pub struct Generic {
    pub name: String,
    pub bound: GenericBound,
}

named_enum! {
    /// The element types a type parameter may be specialized to.
    #[derive(Copy, Clone, Debug, PartialEq, Eq)]
    pub enum GenericBound {
        /// `T: Float`: f32 or f64.
        Float,
        /// `T: Int`: any integer type.
        Int,
        /// `T: Number`: any integer or float type.
        Number,
        /// `T: Scalar` (or no bound): any scalar type.
        Scalar,
    }
}

impl GenericBound {
    pub fn admits(self, t: ScalarType) -> bool {
        match self {
            GenericBound::Float => t.is_float(),
            GenericBound::Int => t.is_int(),
            GenericBound::Number => t.is_numeric(),
            GenericBound::Scalar => true,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            GenericBound::Float => "Float",
            GenericBound::Int => "Int",
            GenericBound::Number => "Number",
            GenericBound::Scalar => "Scalar",
        }
    }
}

/// Options given as `#[gpu_kernel(fastmath, launch_bounds = 256, max_registers = 64)]`.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct KernelOptions {
    /// Approximate math: fast-math flags on float operations, libdevice's `__nv_fast_*` functions
    /// and flush-to-zero on the GPU.
    pub fastmath: bool,
    /// The most threads per block the kernel will be launched with (CUDA `__launch_bounds__`).
    pub max_threads_per_block: Option<u32>,
    /// The fewest resident blocks per multiprocessor to optimize for (second launch-bounds value).
    pub min_blocks_per_sm: Option<u32>,
    /// The most registers a thread may use.
    pub max_registers: Option<u32>,
    /// Check every array index on the GPU too (the CPU backend always does): an out-of-range
    /// access is skipped and reported as an error after the launch, which then waits for the
    /// kernel. Also turned on for every kernel by `GPUJIT_BOUNDSCHECK=1`.
    pub boundscheck: bool,
    /// `#[gpu_kernel(debug)]` (or `GPUJIT_DEBUG=1`): `debug_assert!` and its forms are
    /// compiled in (else they compile to nothing); implies `lineinfo`.
    pub debug: bool,
    /// `#[gpu_kernel(lineinfo)]` (or `GPUJIT_LINEINFO=1`): the code carries the kernel's source
    /// lines (PTX `.loc`/`.file`), for Nsight Compute, compute-sanitizer and cuda-gdb.
    pub lineinfo: bool,
    /// Every float written to an array parameter is checked (`GPUJIT_CHECK=1` sets it; not
    /// written by users): the first NaN or infinity stored is recorded, as an out-of-range
    /// access is, and the launch reports it.
    pub finitecheck: bool,
    /// Every array parameter's data pointer is 16-byte aligned. Not written by users: kernels
    /// generated for expressions set it after checking the pointers (it is part of their cache
    /// key), so LLVM may merge neighbouring accesses into 16-byte vector loads and stores.
    pub aligned16: bool,
    /// Keep Rust's two roundings of `a * b + c` (`#[gpu_kernel(fp_contract = false)]`, or
    /// `GPUJIT_FP_CONTRACT=0` for every kernel). By default a float multiply feeding an add or
    /// subtract may be fused into one `fma` (one rounding), as nvcc, NVRTC and Numba do.
    pub no_contract: bool,
    /// A written array argument may overlap another array argument (not written by users: the
    /// launch sets it when the arguments overlap). Otherwise array parameters are `noalias` for
    /// LLVM, and read-only ones `readonly` (so the GPU reads them through the non-coherent cache,
    /// `ld.global.nc`), as Rust's `&`/`&mut` rules and CUDA's `__restrict__` allow.
    pub may_alias: bool,
    /// Bit `p` set: array parameter `p` reaches 2^31 elements or more from element 0 (not
    /// written by users: the launch sets it). Every other array's offsets are computed in 32
    /// bits, as are shared and per-thread arrays'.
    pub wide_arrays: u32,
    /// Bit `p` set: array parameter `p`'s data pointer is 16-byte aligned (not written by users:
    /// the launch checks the pointers), so LLVM may merge neighbouring accesses into 8- and
    /// 16-byte vector loads and stores (`ld.global.v4.f32`).
    pub aligned_arrays: u32,
    /// CPU backend: run every loop and `if` of the kernel in lockstep, not only those that
    /// need it (not written by users: the differential fuzzer sets it to test lockstep
    /// execution on every kernel it generates).
    pub lockstep_all: bool,
    /// CPU backend: where a flat kernel's bounds proof fails for a launch, its flat function
    /// refuses the launch, which then runs as a grid (the body, every index checked), rather than
    /// running a checked copy of the flat loop; the proof then covers the whole range at once, so
    /// every worker decides alike. Not written by users: kernels generated for expressions and
    /// reductions set it, whose indices their plans keep in bounds, so that their code holds one
    /// copy of the loop (a reduction's first launch about 40% shorter).
    pub flat_refuse_unproven: bool,
}

/// Everything `#[gpu_kernel]` (or `#[gpu_device]`) knows about a function.
#[derive(Clone, Debug, PartialEq)]
pub struct KernelSource {
    pub name: String,
    pub generics: Vec<Generic>,
    pub params: Vec<Param>,
    pub body: Block,
    pub span: Span,
    pub options: KernelOptions,
    /// The return type of a device function (`None`: returns nothing; kernels never return).
    pub ret: Option<TypeRef>,
    /// The device functions the body calls, by name.
    pub callees: Vec<Callee>,
    /// Whether this is a `#[gpu_device]` function (else a kernel).
    pub device: bool,
    /// The source file (`file!()` where the macro expanded; empty for generated kernels).
    pub file: String,
}

/// A `#[gpu_device]` function a kernel or device function calls.
#[derive(Clone, Copy)]
pub struct Callee {
    pub name: &'static str,
    /// Its source form (built once, on first use).
    pub source: fn() -> &'static KernelSource,
}

impl std::fmt::Debug for Callee {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Callee({})", self.name)
    }
}

impl PartialEq for Callee {
    fn eq(&self, other: &Callee) -> bool {
        self.name == other.name
    }
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct Block {
    pub stmts: Vec<Stmt>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Stmt {
    /// `let [mut] name [: ty] [= init];`
    Let { name: String, mutable: bool, ty: Option<TypeRef>, init: Option<SourceExpr>, span: Span, id: NodeId },
    /// `place = value;` or `place op= value;`
    Assign { place: Place, op: Option<BinOp>, value: SourceExpr, span: Span, id: NodeId },
    /// `if cond { .. } [else { .. }]`; `else if` is an `else` block holding one `If`.
    If { cond: SourceExpr, then: Block, otherwise: Option<Block>, span: Span },
    /// `while cond { .. }`
    While { cond: SourceExpr, body: Block, label: Option<String>, span: Span },
    /// `for var in start..end { .. }`, `start..=end`, optionally `.step_by(step)`.
    For { var: String, range: RangeLoop, body: Block, label: Option<String>, span: Span, id: NodeId },
    /// A nested `{ .. }` block.
    Block(Block),
    /// `break` or `break 'label`.
    Break(Option<String>, Span),
    /// `continue` or `continue 'label`.
    Continue(Option<String>, Span),
    /// `return;`, or `return value;` in a device function (also its tail expression).
    Return(Option<SourceExpr>, Span),
    /// `let mut name = shared_array::<T, N>()` (`dims` = `[N]`), `shared_array_2d::<T, R, C>()`
    /// (`[R, C]`) or `dynamic_shared::<T>()` (`dims` empty: sized by the launch). Each size is a
    /// constant expression ([`SourceExpr::const_int`]): literals, `const` items and const
    /// generic parameters (substituted when the source is built), and arithmetic on them.
    Shared { name: String, elem: TypeRef, dims: Vec<SourceExpr>, span: Span },
    /// `let mut name = local_array::<T, N>()`: a per-thread array (`len` as `Shared`'s sizes).
    Local { name: String, elem: TypeRef, len: SourceExpr, span: Span },
    /// `sync_threads()`: a barrier for the threads of a block.
    Barrier(Span),
    /// `grid_sync()`: a barrier for every thread of the grid (needs a cooperative launch).
    GridBarrier(Span),
    /// `threadfence_block()`, `threadfence()`, `threadfence_system()`.
    Fence(FenceScope, Span),
    /// An expression evaluated for its effect (an atomic whose old value is unused).
    Eval(SourceExpr),
    /// `print!`, `println!`, `eprint!`, `eprintln!`: the values are recorded and formatted on
    /// the host, as Rust formats them, after the launch.
    Print(Box<Printing>),
    /// `assert!(cond)`, `assert_eq!(a, b)`, `assert_ne!(a, b)`, with an optional message, or
    /// their `debug_` forms. A failing one ends the thread's work and fails the launch with
    /// the message formatted as Rust would.
    Assert(Box<Assertion>),
    /// `ptx_asm!("template", in(reg) a, out(reg) b, inout(reg) c)`: inline PTX, GPU only.
    Asm(Box<InlineAsm>),
    /// An operation on several elements at once: a vector load or store, an asynchronous copy,
    /// `ldmatrix`, `mma_sync` (see [`Bulk`]).
    Bulk(Box<Bulk>),
}

named_enum! {
    /// The operations of [`Stmt::Bulk`].
    #[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
    pub enum BulkKind {
        /// `let v = x.load::<N>(i);`: `x[i..i + N]` into a new per-thread array `v`. Operands:
        /// the first element read (`x[i]`).
        Load,
        /// `x.store::<N>(i, &v);`: per-thread array `v` into `x[i..i + N]`. Operands: the first
        /// element written (`x[i]`), then `v` (or `v[j]` for `&v[j..]`).
        Store,
        /// `cp_async::<N>(&mut s[j], &x[i]);`: `N` elements from global to shared memory,
        /// asynchronously. Operands: the first shared element, the first global one.
        CopyAsync,
        /// `cp_async_commit();`: closes the group of the copies issued since the last one.
        AsyncCommit,
        /// `cp_async_wait(n);`: waits until at most `n` groups are pending (`count`).
        AsyncWait,
        /// `ldmatrix(&mut frag, &s[i]);`: a warp loads 8x8 matrices of 16-bit elements from
        /// shared memory (`count` of them, or 0: as many as `frag` holds pairs). Operands:
        /// `frag` (or `frag[j]` for `&mut frag[j..]`), the element this lane's row starts at.
        LdMatrix,
        /// `ldmatrix_trans(..)`: the same, each matrix transposed.
        LdMatrixTrans,
        /// `mma_sync(&mut c, &a, &b);`: a warp's `c += a * b` on tensor cores. Operands: `c`,
        /// `a`, `b`, each whole or a window (`&a[j..]`).
        Mma,
        /// `mbarrier_init(&bar[i], count);`: a shared `u64` becomes a barrier that completes a
        /// phase when `count` threads have arrived (and the bytes it expects have landed).
        /// Operands: the barrier; values: the count.
        BarrierInit,
        /// `mbarrier_arrive(&bar[i]);`: this thread arrives.
        BarrierArrive,
        /// `mbarrier_arrive_expect_tx(&bar[i], bytes);`: this thread arrives, and the phase also
        /// waits for `bytes` more bytes of asynchronous copies (`tma_load_2d`).
        BarrierArriveExpectTx,
        /// `mbarrier_wait(&bar[i], parity);`: waits until the phase of this parity completed.
        BarrierWait,
        /// `fence_proxy_async();`: orders this thread's shared-memory writes before later
        /// asynchronous-proxy reads (`wgmma`, TMA), and the barriers' initialization.
        FenceProxyAsync,
        /// `tma_load_2d(&mut s[i], map, x, y, &bar[j]);`: the tensor map's box at column `x`,
        /// row `y` into shared memory, completing on the barrier. Operands: the first shared
        /// element, the map (a `&TensorMap` parameter, whole), the barrier; values: x, y.
        TmaLoad,
        /// `wgmma_fence();` (`wgmma.fence`): before the first `wgmma` on accumulators that other
        /// instructions wrote.
        WgmmaFence,
        /// `wgmma_commit();`: closes the group of `wgmma`s issued since the last one.
        WgmmaCommit,
        /// `wgmma_wait(n);`: waits until at most `n` groups are pending (`count`).
        WgmmaWait,
        /// `wgmma(&mut acc, &a[i], &b[j]);`: a warpgroup's `acc += A·Bᵀ` (m64nNk16, N from the
        /// accumulator's length) from tiles in shared memory. Operands: `acc`, A's and B's
        /// first elements.
        Wgmma,
    }
}

named_enum! {
    /// The cache operator of a vector load or store (PTX `ld.global.ca/.cg/.cs`,
    /// `st.global.wb/.cg/.cs`).
    #[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
    pub enum CacheHint {
        /// The default: cached at every level (`load`, `store`).
        Default,
        /// Cached in L2, not in L1 (`load_cg`, `store_cg`).
        Global,
        /// Streaming, likely read or written once (`load_cs`, `store_cs`).
        Streaming,
    }
}

impl CacheHint {
    /// The PTX cache operator of a load (`None`: no operator, the default).
    pub fn load_operator(self) -> Option<&'static str> {
        match self {
            CacheHint::Default => None,
            CacheHint::Global => Some("cg"),
            CacheHint::Streaming => Some("cs"),
        }
    }

    /// The PTX cache operator of a store.
    pub fn store_operator(self) -> Option<&'static str> {
        self.load_operator()
    }

    /// The method suffix that selects it (`load_cg`: `"_cg"`).
    pub fn suffix(self) -> &'static str {
        match self {
            CacheHint::Default => "",
            CacheHint::Global => "_cg",
            CacheHint::Streaming => "_cs",
        }
    }
}

/// A [`Stmt::Bulk`] of the source. Each operand is an [`ExprKind::Index`]: an element whose
/// address the operation takes, or, with no index, a whole per-thread array (`&v`).
#[derive(Clone, Debug, PartialEq)]
pub struct Bulk {
    pub kind: BulkKind,
    pub hint: CacheHint,
    /// Elements moved (`Load`, `Store`, `CopyAsync`), or the groups `AsyncWait` leaves pending:
    /// a constant expression (the `N` of `load::<N>`); 0 for the others.
    pub count: SourceExpr,
    pub operands: Vec<SourceExpr>,
    /// Scalar operands (a barrier's count, a copy's coordinates), after the arrays.
    pub values: Vec<SourceExpr>,
    /// `Load`: the per-thread array it declares, and whether it is `mut`.
    pub declares: Option<(String, bool)>,
    pub span: Span,
    pub id: NodeId,
}

named_enum! {
    /// How an inline-PTX operand is used.
    #[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
    pub enum AsmDir {
        /// `in(reg) expr`: a value read by the instructions.
        In,
        /// `out(reg) var`: a local variable the instructions write.
        Out,
        /// `inout(reg) var`: a local variable read and written.
        InOut,
        /// `in(reg) &array[i]`: the element's address, for instructions that read it.
        Address,
        /// `in(reg) &mut array[i]`: the element's address, for instructions that write it.
        AddressMut,
    }
}

/// A `ptx_asm!` of the source: its template (PTX text, `{N}` naming operand N in the order
/// written, `{{`/`}}` for braces; checked by the macro) and its operands; an `Out` or `InOut`
/// operand is a [`ExprKind::Var`], an `Address`/`AddressMut` one an [`ExprKind::Index`].
#[derive(Clone, Debug, PartialEq)]
pub struct InlineAsm {
    pub template: String,
    pub operands: Vec<(AsmDir, SourceExpr)>,
    pub span: Span,
}

named_enum! {
    /// What an assertion compares.
    #[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
    pub enum AssertKind {
        /// `assert!(cond)`: one operand, a bool.
        Cond,
        /// `assert_eq!(left, right)`.
        Eq,
        /// `assert_ne!(left, right)`.
        Ne,
    }
}

/// A `print!` of the source.
#[derive(Clone, Debug, PartialEq)]
pub struct Printing {
    /// The format string (checked by [`crate::format::parse`]) and its arguments (positional,
    /// then captured by name).
    pub format: String,
    pub args: Vec<SourceExpr>,
    /// `println!` / `eprintln!`: a newline ends the text.
    pub newline: bool,
    /// `eprint!` / `eprintln!`: to standard error.
    pub stderr: bool,
    pub span: Span,
}

/// An assertion of the source.
#[derive(Clone, Debug, PartialEq)]
pub struct Assertion {
    pub kind: AssertKind,
    /// The condition, or the two operands compared.
    pub operands: Vec<SourceExpr>,
    /// The message's format string (checked by [`crate::format::parse`]) and its arguments (the
    /// positional ones, then those the string captures by name).
    pub message: Option<(String, Vec<SourceExpr>)>,
    /// The condition as written (`i < n`), for `assertion failed: i < n`.
    pub text: String,
    /// A `debug_assert!`: compiled only with the `debug` option.
    pub debug: bool,
    /// The source file (`file!()` where the kernel is).
    pub file: String,
    pub span: Span,
}

impl Assertion {
    /// Its expressions in source order: the operands, then the message's arguments.
    pub fn exprs(&self) -> impl Iterator<Item = &SourceExpr> {
        self.operands.iter().chain(self.message.iter().flat_map(|(_, a)| a.iter()))
    }

    /// Its expressions in source order, to rewrite them.
    pub fn exprs_mut(&mut self) -> impl Iterator<Item = &mut SourceExpr> {
        self.operands.iter_mut().chain(self.message.iter_mut().flat_map(|(_, a)| a.iter_mut()))
    }
}

impl Stmt {
    /// Where the statement was written (a nested block: its first statement's position).
    pub fn span(&self) -> Span {
        match self {
            Stmt::Let { span, .. }
            | Stmt::Assign { span, .. }
            | Stmt::If { span, .. }
            | Stmt::While { span, .. }
            | Stmt::For { span, .. }
            | Stmt::Shared { span, .. }
            | Stmt::Local { span, .. }
            | Stmt::Break(_, span)
            | Stmt::Continue(_, span)
            | Stmt::Return(_, span)
            | Stmt::Barrier(span)
            | Stmt::GridBarrier(span)
            | Stmt::Fence(_, span) => *span,
            Stmt::Eval(e) => e.span,
            Stmt::Assert(a) => a.span,
            Stmt::Print(p) => p.span,
            Stmt::Asm(a) => a.span,
            Stmt::Bulk(b) => b.span,
            Stmt::Block(b) => b.stmts.first().map(Stmt::span).unwrap_or_default(),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct RangeLoop {
    pub start: SourceExpr,
    pub end: SourceExpr,
    pub inclusive: bool,
    pub step: Option<SourceExpr>,
    /// `(a..b).rev()`: from the last element down to `start`.
    pub reverse: bool,
    /// `#[unroll]` (`Some(0)`: unroll fully) or `#[unroll(n)]` (`Some(n)`: by a factor of n) on
    /// the loop; `None`: the compiler's choice.
    pub unroll: Option<u32>,
}

named_enum! {
    /// The reach of a memory fence.
    #[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
    pub enum FenceScope {
        Block,
        Device,
        System,
    }
}

named_enum! {
    /// An atomic read-modify-write on an array element.
    #[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
    pub enum AtomicOp {
        Add,
        Sub,
        Min,
        Max,
        And,
        Or,
        Xor,
        /// Exchange: store the value, return the old one.
        Exch,
        /// Compare-and-swap: `(expected, new)`; returns the old value.
        Cas,
    }
}

impl AtomicOp {
    /// The Rust name (`atomic_add`), from the intrinsics table.
    pub fn name(self) -> &'static str {
        atomic_def(self).name
    }

    /// Operands after the index: 2 for `Cas`, else 1 (from the table's signature).
    pub fn values(self) -> usize {
        atomic_def(self).params.len() - 2
    }
}

named_enum! {
    /// A collective operation of the threads of a warp or of a block.
    #[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
    pub enum Collective {
        /// `shfl_sync(mask, value, src_lane)`: `value` of lane `src_lane`.
        ShflIdx,
        /// `shfl_up_sync(mask, value, delta)`: `value` of lane `lane - delta` (own value below 0).
        ShflUp,
        /// `shfl_down_sync(mask, value, delta)`: `value` of lane `lane + delta` (own value past 31).
        ShflDown,
        /// `shfl_xor_sync(mask, value, lane_mask)`: `value` of lane `lane ^ lane_mask`.
        ShflXor,
        /// `ballot_sync(mask, pred)`: bit `l` set where lane `l`'s `pred` holds.
        Ballot,
        /// `any_sync(mask, pred)`.
        Any,
        /// `all_sync(mask, pred)`.
        All,
        /// `active_mask()`: the lanes executing this.
        ActiveMask,
        /// `match_any_sync(mask, value)`: the lanes whose `value` equals this lane's.
        MatchAny,
        /// `sync_warp(mask)`.
        SyncWarp,
        /// `sync_threads_count(pred)`: a block barrier that counts the threads whose `pred` holds.
        SyncThreadsCount,
        /// `sync_threads_and(pred)`.
        SyncThreadsAnd,
        /// `sync_threads_or(pred)`.
        SyncThreadsOr,
    }
}

impl Collective {
    /// The Rust name (`shfl_sync`), from the intrinsics table.
    pub fn name(self) -> &'static str {
        collective_def(self).name
    }

    /// The operands, from the table: a fixed type, or [`Arg::Value`] for the value type `T`
    /// (shuffles, `match_any_sync`).
    pub fn operands(self) -> &'static [Arg] {
        collective_def(self).params
    }

    /// The result type given the value type `t` (`None` when the result is `T`).
    pub fn result(self) -> Option<ScalarType> {
        collective_def(self).ret.and_then(Arg::fixed)
    }

    /// Whether `t` may be the value type (a shuffle moves any value: a complex number as its two
    /// parts, a struct as the 64-bit words of its bytes).
    pub fn admits(self, t: ScalarType) -> bool {
        match self {
            Collective::MatchAny => matches!(t, ScalarType::I32 | ScalarType::U32 | ScalarType::I64 | ScalarType::U64),
            _ => true,
        }
    }

    /// Whether it synchronizes the whole block (else a warp).
    pub fn block_wide(self) -> bool {
        matches!(self, Collective::SyncThreadsCount | Collective::SyncThreadsAnd | Collective::SyncThreadsOr)
    }
}

/// The left-hand side of an assignment. `index` has one expression per dimension.
#[derive(Clone, Debug, PartialEq)]
pub enum Place {
    Var(String, Span),
    Index {
        array: String,
        index: Vec<SourceExpr>,
        span: Span,
    },
    /// `base.field = ..` (`z.re`, `a[i].v`, `p.inner.x`), or `base.field[k] = ..` for an array
    /// field, `k` a constant.
    Field {
        base: Box<Place>,
        field: String,
        index: Option<SourceExpr>,
        span: Span,
    },
}

impl Place {
    /// The variable or array element the place is in (itself, or its base's root).
    pub fn root(&self) -> &Place {
        match self {
            Place::Field { base, .. } => base.root(),
            p => p,
        }
    }

    /// The index expressions of the array element the place is in (none for a variable).
    pub fn indices(&self) -> &[SourceExpr] {
        match self.root() {
            Place::Index { index, .. } => index,
            _ => &[],
        }
    }

    /// The expressions in the place, in source order: the indices of the array element it is
    /// in, then the constant indices of array fields.
    pub fn exprs_mut(&mut self) -> Vec<&mut SourceExpr> {
        match self {
            Place::Field { base, index, .. } => {
                let mut out = base.exprs_mut();
                out.extend(index.iter_mut());
                out
            }
            Place::Index { index, .. } => index.iter_mut().collect(),
            Place::Var(..) => Vec::new(),
        }
    }

    /// The expressions in the place, in source order (see [`Place::exprs_mut`]).
    pub fn exprs(&self) -> Vec<&SourceExpr> {
        match self {
            Place::Field { base, index, .. } => {
                let mut out = base.exprs();
                out.extend(index.iter());
                out
            }
            Place::Index { index, .. } => index.iter().collect(),
            Place::Var(..) => Vec::new(),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct SourceExpr {
    pub kind: ExprKind,
    pub span: Span,
    /// Its id in the kernel's source (see [`NodeId`]).
    pub id: NodeId,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// An integer literal, with its suffix type if it had one.
    Int(u128, Option<ScalarType>),
    /// A float literal, with its suffix type if it had one.
    Float(f64, Option<ScalarType>),
    Bool(bool),
    /// A local variable or a scalar parameter.
    Var(String),
    /// `array[index]`
    /// `array[index]`, or `array[[i, j]]` for a 2-D shared array (one expression a dimension).
    Index {
        array: String,
        index: Vec<SourceExpr>,
    },
    /// `array.shape(axis)` (`stride: false`) or `array.stride(axis)` (`stride: true`).
    ArrayDim {
        array: String,
        axis: u8,
        stride: bool,
    },
    /// `array.len()`
    Len(String),
    Unary(UnOp, Box<SourceExpr>),
    Binary(BinOp, Box<SourceExpr>, Box<SourceExpr>),
    /// `expr as ty`
    Cast(Box<SourceExpr>, TypeRef),
    /// A call of one of gpujit's intrinsic functions.
    Builtin(Builtin, Vec<SourceExpr>),
    /// A math method; the receiver is the first operand (`x.powf(y)` → `[x, y]`).
    Math(MathFn, Vec<SourceExpr>),
    /// A call of a `#[gpu_device]` function; array arguments are the arrays' names.
    Call(String, Vec<SourceExpr>),
    /// A warp or block collective (`shfl_sync(mask, v, lane)`, `ballot_sync(mask, p)`, ...).
    Collective(Collective, Vec<SourceExpr>),
    /// `u32::MAX`, `f32::INFINITY`, `T::EPSILON`: an associated constant of a scalar type (its
    /// value, from [`crate::consts`], once the type is known).
    TypeConst(TypeRef, TypeConst),
    /// `f32::from_bits(u)` (or `T::from_bits(u)`): the float of that type whose bits are `u`,
    /// the unsigned integer of its width.
    FromBits(TypeRef, Box<SourceExpr>),
    /// `r.next_u32()`, `r.uniform_f32()`, ...: a draw from the Philox generator `r` (declared
    /// by `let mut r = Philox::new(seed, subsequence)`, whose state is the three locals of
    /// [`crate::random::state_locals`]); it advances the generator.
    Random(crate::random::Draw, String),
    /// `base.re`, `base.v`: a field of a complex number or of a struct.
    Field(Box<SourceExpr>, String),
    /// `base.field[k]`: element `k` (a constant) of an array field of a struct.
    FieldElement(Box<SourceExpr>, String, Box<SourceExpr>),
    /// `Particle { x: .., v: .. }`: a struct value, each field given once (an array field by
    /// its elements, `pos: [a, b, c]`).
    Construct(TypeRef, Vec<(String, Vec<SourceExpr>)>),
    /// `Complex::new(re, im)`, `z.conj()`, `z.norm()`, ...: a function or method of complex
    /// numbers (the receiver first). `z.exp()` and the other methods real floats share parse as
    /// [`ExprKind::Math`] and become this once `z` is known to be complex.
    Complex(ComplexFn, Vec<SourceExpr>),
    /// `atomic_add(array, index, value)`, ...: `operands` are the index then the values.
    Atomic {
        op: AtomicOp,
        array: String,
        operands: Vec<SourceExpr>,
    },
}

named_enum! {
    #[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
    pub enum UnOp {
        Neg,
        Not,
    }
}

named_enum! {
    #[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
    pub enum BinOp {
        Add,
        Sub,
        Mul,
        Div,
        Rem,
        BitAnd,
        BitOr,
        BitXor,
        Shl,
        Shr,
        Eq,
        Ne,
        Lt,
        Le,
        Gt,
        Ge,
        And,
        Or,
    }
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Rem => "%",
            BinOp::BitAnd => "&",
            BinOp::BitOr => "|",
            BinOp::BitXor => "^",
            BinOp::Shl => "<<",
            BinOp::Shr => ">>",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::And => "&&",
            BinOp::Or => "||",
        }
    }

    pub fn is_comparison(self) -> bool {
        matches!(self, BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge)
    }

    pub fn is_logical(self) -> bool {
        matches!(self, BinOp::And | BinOp::Or)
    }

    pub fn is_shift(self) -> bool {
        matches!(self, BinOp::Shl | BinOp::Shr)
    }
}

named_enum! {
    /// An associated constant of the scalar types (`T::MAX`, ...).
    #[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
    pub enum TypeConst {
        Max,
        Min,
        Bits,
        Infinity,
        NegInfinity,
        Nan,
        Epsilon,
        MinPositive,
        /// `f16::ZERO`, `bf16::ONE`, ...: the `half` crate's constants of its types.
        Zero,
        One,
        NegOne,
        NegZero,
    }
}

named_enum! {
    /// A grid dimension: x, y or z.
    #[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
    pub enum Dim {
        X,
        Y,
        Z,
    }
}

impl Dim {
    pub fn name(self) -> &'static str {
        match self {
            Dim::X => "x",
            Dim::Y => "y",
            Dim::Z => "z",
        }
    }
}

/// The intrinsic functions a kernel may call.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Builtin {
    ThreadIdx(Dim),
    BlockIdx(Dim),
    BlockDim(Dim),
    GridDim(Dim),
    /// `grid(n)`: the thread's absolute index along an axis (`blockIdx * blockDim + threadIdx`).
    Grid(Dim),
    /// `grid_size(n)`: the number of threads of the grid along an axis.
    GridSize(Dim),
    /// `lane_id()`: the thread's lane in its warp.
    LaneId,
    /// `warp_size()`: 32.
    WarpSize,
}

impl Builtin {
    pub fn name(self) -> String {
        match self {
            Builtin::ThreadIdx(d) => format!("thread_idx_{}", d.name()),
            Builtin::BlockIdx(d) => format!("block_idx_{}", d.name()),
            Builtin::BlockDim(d) => format!("block_dim_{}", d.name()),
            Builtin::GridDim(d) => format!("grid_dim_{}", d.name()),
            Builtin::Grid(d) => format!("grid_{}", d.name()),
            Builtin::GridSize(d) => format!("grid_size_{}", d.name()),
            Builtin::LaneId => "lane_id".to_string(),
            Builtin::WarpSize => "warp_size".to_string(),
        }
    }
}

impl SourceExpr {
    /// An expression not numbered yet ([`KernelSource::number_nodes`] gives it its id).
    pub fn new(kind: ExprKind, span: Span) -> SourceExpr {
        SourceExpr { kind, span, id: NodeId::UNSET }
    }

    /// An expression with its id, as the macro emits numbered sources.
    pub fn with_id(kind: ExprKind, span: Span, id: NodeId) -> SourceExpr {
        SourceExpr { kind, span, id }
    }

    /// Whether evaluating it does more than give a value: an atomic, a draw from a generator, a
    /// collective, or a device function's call (which may do those) anywhere in it.
    pub fn has_effects(&self) -> bool {
        let mut effects = false;
        visit_expr_kinds(self, &mut |k| {
            effects |= matches!(k, ExprKind::Atomic { .. } | ExprKind::Random(..) | ExprKind::Collective(..) | ExprKind::Call(..))
        });
        effects
    }

    /// Its operand expressions, in source order.
    pub fn children_mut(&mut self) -> Vec<&mut SourceExpr> {
        children_mut(&mut self.kind)
    }

    /// The integer literal `v` (untyped), at no position.
    pub fn int(v: u64) -> SourceExpr {
        SourceExpr::new(ExprKind::Int(v as u128, None), Span::default())
    }

    /// The value of a constant integer expression (literals, the integer types' associated
    /// constants, `+ - * / % << >> & | ^`, unary `-`, `as` to an integer type), as an i128;
    /// `None` when it is not one, divides by zero or overflows.
    pub fn const_int(&self) -> Option<i128> {
        Some(match &self.kind {
            ExprKind::Int(v, _) => i128::try_from(*v).ok()?,
            ExprKind::TypeConst(TypeRef::Scalar(t), c) if t.is_int() => match c.value(*t)? {
                crate::consts::ConstValue::Int(bits) if t.is_signed_int() => {
                    let shift = 128 - t.bits();
                    ((bits as i128) << shift) >> shift
                }
                crate::consts::ConstValue::Int(bits) => bits as i128,
                crate::consts::ConstValue::Float(_) => return None,
            },
            ExprKind::Unary(UnOp::Neg, a) => a.const_int()?.checked_neg()?,
            ExprKind::Cast(a, TypeRef::Scalar(t)) if t.is_int() => a.const_int()?,
            ExprKind::Binary(op, a, b) => {
                let (x, y) = (a.const_int()?, b.const_int()?);
                match op {
                    BinOp::Add => x.checked_add(y)?,
                    BinOp::Sub => x.checked_sub(y)?,
                    BinOp::Mul => x.checked_mul(y)?,
                    BinOp::Div => x.checked_div(y)?,
                    BinOp::Rem => x.checked_rem(y)?,
                    BinOp::Shl => x.checked_shl(u32::try_from(y).ok()?)?,
                    BinOp::Shr => x.checked_shr(u32::try_from(y).ok()?)?,
                    BinOp::BitAnd => x & y,
                    BinOp::BitOr => x | y,
                    BinOp::BitXor => x ^ y,
                    _ => return None,
                }
            }
            _ => return None,
        })
    }
}

/// The id of a node of a kernel's source: every expression, and the statements that declare or
/// assign (`let`, `for`, assignments). Ids are dense from 0 within one [`KernelSource`] and are
/// given when the source is built (the macro numbers at parse time; sources built in code are
/// numbered by [`KernelSource::number_nodes`] before use). Inference keeps its results in
/// tables indexed by them, as rust-analyzer's `InferenceResult` does.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub u32);

impl NodeId {
    /// Not numbered yet.
    pub const UNSET: NodeId = NodeId(u32::MAX);

    /// The id as a table index, or `None` when not numbered.
    pub fn index(self) -> Option<usize> {
        (self != NodeId::UNSET).then_some(self.0 as usize)
    }
}

impl Default for NodeId {
    fn default() -> NodeId {
        NodeId::UNSET
    }
}

impl KernelSource {
    /// Numbers every node of the body in source order from 0 (replacing earlier ids); returns
    /// how many there are.
    pub fn number_nodes(&mut self) -> u32 {
        let mut next = 0u32;
        number_block(&mut self.body, &mut next);
        next
    }

    /// Whether every node has an id (the source was numbered).
    pub fn is_numbered(&self) -> bool {
        let mut all = true;
        visit_block(&self.body, &mut |id| all &= id != NodeId::UNSET);
        all
    }
}

fn fresh(next: &mut u32) -> NodeId {
    let id = NodeId(*next);
    *next += 1;
    id
}

fn number_block(b: &mut Block, next: &mut u32) {
    for s in &mut b.stmts {
        number_stmt(s, next);
    }
}

fn number_stmt(s: &mut Stmt, next: &mut u32) {
    match s {
        Stmt::Let { init, id, .. } => {
            *id = fresh(next);
            if let Some(e) = init {
                number_expr(e, next);
            }
        }
        Stmt::Assign { place, value, id, .. } => {
            *id = fresh(next);
            place.exprs_mut().into_iter().for_each(|e| number_expr(e, next));
            number_expr(value, next);
        }
        Stmt::If { cond, then, otherwise, .. } => {
            number_expr(cond, next);
            number_block(then, next);
            if let Some(o) = otherwise {
                number_block(o, next);
            }
        }
        Stmt::While { cond, body, .. } => {
            number_expr(cond, next);
            number_block(body, next);
        }
        Stmt::For { range, body, id, .. } => {
            *id = fresh(next);
            number_expr(&mut range.start, next);
            number_expr(&mut range.end, next);
            if let Some(step) = &mut range.step {
                number_expr(step, next);
            }
            number_block(body, next);
        }
        Stmt::Block(b) => number_block(b, next),
        Stmt::Return(Some(e), _) | Stmt::Eval(e) => number_expr(e, next),
        Stmt::Assert(a) => a.exprs_mut().for_each(|e| number_expr(e, next)),
        Stmt::Print(p) => p.args.iter_mut().for_each(|e| number_expr(e, next)),
        Stmt::Asm(a) => a.operands.iter_mut().for_each(|(_, e)| number_expr(e, next)),
        Stmt::Bulk(b) => {
            b.id = fresh(next);
            number_expr(&mut b.count, next);
            b.operands.iter_mut().for_each(|e| number_expr(e, next));
            b.values.iter_mut().for_each(|e| number_expr(e, next));
        }
        Stmt::Return(None, _)
        | Stmt::Break(..)
        | Stmt::Continue(..)
        | Stmt::Shared { .. }
        | Stmt::Local { .. }
        | Stmt::Barrier(_)
        | Stmt::GridBarrier(_)
        | Stmt::Fence(..) => {}
    }
}

fn number_expr(e: &mut SourceExpr, next: &mut u32) {
    e.id = fresh(next);
    for c in children_mut(&mut e.kind) {
        number_expr(c, next);
    }
}

/// The operand expressions of an expression, in source order.
fn children_mut(k: &mut ExprKind) -> Vec<&mut SourceExpr> {
    match k {
        ExprKind::Int(..)
        | ExprKind::Float(..)
        | ExprKind::Bool(_)
        | ExprKind::Var(_)
        | ExprKind::Len(_)
        | ExprKind::ArrayDim { .. }
        | ExprKind::Random(..)
        | ExprKind::TypeConst(..) => Vec::new(),
        ExprKind::Index { index, .. } => index.iter_mut().collect(),
        ExprKind::Unary(_, a) | ExprKind::Cast(a, _) | ExprKind::FromBits(_, a) | ExprKind::Field(a, _) => vec![&mut **a],
        ExprKind::Binary(_, a, b) | ExprKind::FieldElement(a, _, b) => vec![&mut **a, &mut **b],
        ExprKind::Construct(_, fields) => fields.iter_mut().flat_map(|(_, v)| v.iter_mut()).collect(),
        ExprKind::Builtin(_, args)
        | ExprKind::Complex(_, args)
        | ExprKind::Math(_, args)
        | ExprKind::Call(_, args)
        | ExprKind::Collective(_, args)
        | ExprKind::Atomic { operands: args, .. } => args.iter_mut().collect(),
    }
}

/// Calls `f` with the id of every numbered node of `b`.
fn visit_block(b: &Block, f: &mut dyn FnMut(NodeId)) {
    for s in &b.stmts {
        match s {
            Stmt::Let { init, id, .. } => {
                f(*id);
                init.iter().for_each(|e| visit_expr(e, f));
            }
            Stmt::Assign { place, value, id, .. } => {
                f(*id);
                place.exprs().into_iter().for_each(|e| visit_expr(e, f));
                visit_expr(value, f);
            }
            Stmt::If { cond, then, otherwise, .. } => {
                visit_expr(cond, f);
                visit_block(then, f);
                otherwise.iter().for_each(|o| visit_block(o, f));
            }
            Stmt::While { cond, body, .. } => {
                visit_expr(cond, f);
                visit_block(body, f);
            }
            Stmt::For { range, body, id, .. } => {
                f(*id);
                visit_expr(&range.start, f);
                visit_expr(&range.end, f);
                range.step.iter().for_each(|e| visit_expr(e, f));
                visit_block(body, f);
            }
            Stmt::Block(b) => visit_block(b, f),
            Stmt::Return(Some(e), _) | Stmt::Eval(e) => visit_expr(e, f),
            Stmt::Assert(a) => a.exprs().for_each(|e| visit_expr(e, f)),
            Stmt::Print(p) => p.args.iter().for_each(|e| visit_expr(e, f)),
            Stmt::Asm(a) => a.operands.iter().for_each(|(_, e)| visit_expr(e, f)),
            Stmt::Bulk(b) => {
                f(b.id);
                visit_expr(&b.count, f);
                b.operands.iter().for_each(|e| visit_expr(e, f));
                b.values.iter().for_each(|e| visit_expr(e, f));
            }
            _ => {}
        }
    }
}

/// The operand expressions of an expression, in source order.
fn children(k: &ExprKind) -> Vec<&SourceExpr> {
    match k {
        ExprKind::Int(..)
        | ExprKind::Float(..)
        | ExprKind::Bool(_)
        | ExprKind::Var(_)
        | ExprKind::Len(_)
        | ExprKind::ArrayDim { .. }
        | ExprKind::Random(..)
        | ExprKind::TypeConst(..) => Vec::new(),
        ExprKind::Index { index: args, .. }
        | ExprKind::Builtin(_, args)
        | ExprKind::Complex(_, args)
        | ExprKind::Math(_, args)
        | ExprKind::Call(_, args)
        | ExprKind::Collective(_, args)
        | ExprKind::Atomic { operands: args, .. } => args.iter().collect(),
        ExprKind::Unary(_, a) | ExprKind::Cast(a, _) | ExprKind::FromBits(_, a) | ExprKind::Field(a, _) => vec![&**a],
        ExprKind::Binary(_, a, b) | ExprKind::FieldElement(a, _, b) => vec![&**a, &**b],
        ExprKind::Construct(_, fields) => fields.iter().flat_map(|(_, v)| v.iter()).collect(),
    }
}

/// Calls `f` with the kind of `e` and of every expression in it.
fn visit_expr_kinds(e: &SourceExpr, f: &mut dyn FnMut(&ExprKind)) {
    f(&e.kind);
    for c in children(&e.kind) {
        visit_expr_kinds(c, f);
    }
}

fn visit_expr(e: &SourceExpr, f: &mut dyn FnMut(NodeId)) {
    f(e.id);
    for c in children(&e.kind) {
        visit_expr(c, f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(kind: ExprKind) -> SourceExpr {
        SourceExpr::new(kind, Span::default())
    }

    #[test]
    fn nodes_are_numbered_densely_in_source_order() {
        let sum = e(ExprKind::Binary(BinOp::Add, Box::new(e(ExprKind::Int(1, None))), Box::new(e(ExprKind::Var("a".into())))));
        let body = Block {
            stmts: vec![
                Stmt::Let {
                    name: "a".into(),
                    mutable: true,
                    ty: None,
                    init: Some(e(ExprKind::Int(2, None))),
                    span: Span::default(),
                    id: NodeId::UNSET,
                },
                Stmt::Assign {
                    place: Place::Var("a".into(), Span::default()),
                    op: None,
                    value: sum,
                    span: Span::default(),
                    id: NodeId::UNSET,
                },
                Stmt::Break(None, Span::default()),
            ],
        };
        let mut src = KernelSource {
            name: "k".into(),
            generics: vec![],
            params: vec![],
            body,
            span: Span::default(),
            options: KernelOptions::default(),
            ret: None,
            callees: vec![],
            device: false,
            file: String::new(),
        };
        assert!(!src.is_numbered());
        assert_eq!(src.number_nodes(), 6);
        assert!(src.is_numbered());
        let mut ids = Vec::new();
        visit_block(&src.body, &mut |id| ids.push(id.0));
        assert_eq!(ids, vec![0, 1, 2, 3, 4, 5]);
        // Renumbering gives the same ids.
        let before = src.clone();
        src.number_nodes();
        assert_eq!(src, before);
    }
}
