//! Reductions of expressions: sum, prod, min, max, argmin, argmax, mean, norm, dot and user
//! reductions, over all elements or along axes, fused with the expression they reduce (the
//! elementwise work happens while reading, in the same pass).
//!
//! Plan: the expression's index space is split into kept axes (the outputs, `M` of them) and
//! reduced axes (`K` elements an output). When the reduced elements are contiguous, a block of
//! threads reduces each output (coalesced reads, a warp-shuffle tree, then one shared-memory
//! step); else each thread reduces one output. When there are too few outputs to fill the device,
//! each output's range is split over several blocks and a second pass reduces the partial
//! results. The order of operations depends only on the sizes and the device, so results are
//! deterministic for a given launch configuration. 16-bit floats accumulate in f32, 8- and 16-bit
//! integers in 32 bits (integer sums wrap, as in Rust).
//!
//! The CPU backend takes plans of its own, whose threads read contiguous runs that the flat form
//! (`gpujit_codegen::lower::flat`) proves in bounds once a chunk and LLVM vectorizes:
//! - one flat range: `Strategy::Chunks` of 1024 f32 a thread in lane accumulators, levels of
//!   partial results, `Strategy::Serial` for the tails and the last few; argmin/argmax, rows of
//!   `ARG_ROW` a thread (`Strategy::Rows` writing candidates), then one thread over them;
//! - rows of a contiguous `[m, k]` matrix: `Strategy::Rows`, a thread a row;
//! - columns of a contiguous `[k, m]` matrix: `Strategy::RowBlocks` then a thread a column of
//!   the partial results, or `Strategy::Columns` (groups of columns a thread) where a row of
//!   partial results would not fit a core's cache, or a thread a column for few elements.
//!
//! Along axes, the plans need one operand C-contiguous as that matrix; the others may be
//! broadcast (a row or a column beside it) or strided, as long as each is a matrix of two
//! strides (`collapse_2d`); a broadcast axis is then one element read at index 0 (the key's
//! `Operand::Array::unit`), so that a row or a column beside a matrix is read as contiguously
//! as the matrix. Operands that are not keep the GPU's plans.

use crate::array::{DeviceArray, Element};
use crate::error::{Error, Result};
use crate::expr::{Arith, Expr, ExprGraph, FloatElement, InexactElement, Node, NumElement};
use crate::fuse::{
    self, bin, builtin, cast, e, emit_values, if_, index, int, let_, let_mut, set, split_index, var, KernelKind, Key, Operand, BLOCK,
};
use crate::launch::{Arg, KernelArg, LaunchConfig, MAX_ARGS};
use crate::stream::Stream;
use gpujit_codegen::ast::{self, BinOp, Builtin, Callee, Collective, Dim, ExprKind, Param, ParamKind, Place, Span, Stmt, TypeRef, UnOp};
use gpujit_codegen::math::MathFn;
use gpujit_codegen::ScalarType;
use smallvec::SmallVec;
use std::marker::PhantomData;

/// The combining operation of a reduction.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum ReduceOp {
    Sum,
    Prod,
    /// The least element; a NaN anywhere gives NaN (as NumPy).
    Min,
    /// The greatest element; a NaN anywhere gives NaN.
    Max,
    /// The position of the least element (the first one; the first NaN if any).
    ArgMin,
    /// The position of the greatest element (the first one; the first NaN if any).
    ArgMax,
    /// A `#[gpu_device]` function `fn(acc, value) -> acc` with an identity.
    Custom,
}

/// What is done to the accumulated value before it is written.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Finish {
    None,
    /// Divide by the number of reduced elements.
    Mean,
    Sqrt,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Strategy {
    /// A block of threads reduces each (output, part).
    Block,
    /// A thread reduces each output.
    Thread,
    /// The CPU backend's plan, over one flat range: a thread reduces each group of
    /// [`chunk_elements`] contiguous elements (`k` groups), in [`lanes`] accumulators.
    Chunks,
    /// The CPU backend's plan: one thread reduces all `k` elements, in order.
    Serial,
    /// The CPU backend's plan for the rows of a contiguous `[m, k]` matrix: a thread reduces
    /// each row, in [`lanes`] accumulators ([`column_lanes`] for argmin/argmax). With two
    /// outputs, the flat argmin/argmax's candidates: each row's value and its position in the
    /// whole range.
    Rows,
    /// The CPU backend's plan for the columns of a contiguous `[k, m]` matrix: a thread reduces
    /// each group of [`column_lanes`] neighbouring columns (`m / lanes` groups), row after row.
    Columns,
    /// The CPU backend's plan for the columns of a contiguous `[k, m]` matrix of few columns
    /// (a row of them fits a core's cache): thread t reduces rows `t * k / parts..` into row t
    /// of the `[parts, m]` partial results, a row at a time (contiguous: vector operations).
    RowBlocks,
}

/// The part of a reduction kernel's cache key beyond its expression.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct ReduceKey {
    op: ReduceOp,
    acc: ScalarType,
    out: ScalarType,
    strategy: Strategy,
    kept: u8,
    reduced: u8,
    finish: Finish,
    /// Second pass of an arg-reduction: positions come from the partial results (operand 1).
    positions_from_input: bool,
}

/// The type a reduction of `t` accumulates in.
fn acc_type(t: ScalarType) -> ScalarType {
    use ScalarType::*;
    match t {
        F16 | BF16 => F32,
        I8 | I16 => I32,
        U8 | U16 | Bool => U32,
        t => t,
    }
}

/// The identity of `op` in type `t`, as argument bits (a complex number's: its real part's, the
/// imaginary part being 0).
fn identity(op: ReduceOp, t: ScalarType) -> u64 {
    use ScalarType::*;
    let float = |v: f64| match t {
        F32 | Complex32 => (v as f32).to_bits() as u64,
        _ => v.to_bits(),
    };
    if t.is_complex() {
        return if op == ReduceOp::Prod { float(1.0) } else { 0 };
    }
    let mask = |v: u64| if t.size_bytes() == 8 { v } else { v & ((1u64 << (8 * t.size_bytes())) - 1) };
    match op {
        ReduceOp::Sum | ReduceOp::Custom => {
            if t.is_float() {
                float(0.0)
            } else {
                0
            }
        }
        ReduceOp::Prod => {
            if t.is_float() {
                float(1.0)
            } else {
                1
            }
        }
        ReduceOp::Min | ReduceOp::ArgMin => match t {
            F32 | F64 => float(f64::INFINITY),
            t if t.is_signed_int() => mask(u64::MAX >> (65 - 8 * t.size_bytes() as u32)),
            _ => mask(u64::MAX),
        },
        ReduceOp::Max | ReduceOp::ArgMax => match t {
            F32 | F64 => float(f64::NEG_INFINITY),
            t if t.is_signed_int() => mask(1u64 << (8 * t.size_bytes() as u32 - 1)),
            _ => 0,
        },
    }
}

/// A lazy reduction of an expression of `T` giving `R`: choose axes with [`Reduction::axes`],
/// then [`Reduction::eval`] (an array on the device) or [`Reduction::value`] (all elements, to
/// the host).
#[derive(Clone, Debug)]
pub struct Reduction<'a, T: Element, R: Element = T> {
    graph: ExprGraph<'a>,
    op: ReduceOp,
    finish: Finish,
    axes: Option<Vec<usize>>,
    keepdims: bool,
    /// The identity of a custom reduction (bits of `T`).
    custom_identity: Arg<'static>,
    /// Where the kernels run (`None`: the device's default stream).
    stream: Option<&'a Stream>,
    /// The element types of the expression and of the result: `T`'s and `R`'s, or those an
    /// untyped reduction states ([`crate::dynamic`]).
    elem: ScalarType,
    out_elem: ScalarType,
    _t: PhantomData<(T, R)>,
}

impl<'a, T: Element, R: Element> Reduction<'a, T, R> {
    fn new(expr: Expr<'a, T>, op: ReduceOp, finish: Finish) -> Reduction<'a, T, R> {
        Reduction::with_types(expr.graph, op, finish, T::TYPE, R::TYPE)
    }

    /// A reduction of `graph`, whose elements are `elem`, giving `out_elem`.
    pub(crate) fn with_types(graph: ExprGraph<'a>, op: ReduceOp, finish: Finish, elem: ScalarType, out_elem: ScalarType) -> Self {
        Reduction {
            graph,
            op,
            finish,
            axes: None,
            keepdims: false,
            custom_identity: Arg::NONE,
            stream: None,
            elem,
            out_elem,
            _t: PhantomData,
        }
    }

    /// The shape of the result (as `eval` makes it).
    pub fn result_shape(&self) -> Result<Vec<usize>> {
        self.plan().map(|(_, _, s)| s.to_vec())
    }

    /// Runs the reduction's kernels on `stream` (of the expression's device) instead of the
    /// default stream: ordered after the stream's earlier work, and captured when the stream is
    /// a graph's ([`crate::Graph::capture`]).
    pub fn on(mut self, stream: &'a Stream) -> Self {
        self.stream = Some(stream);
        self
    }

    /// Reduces only along `axes` (of the expression's broadcast shape); the others are kept.
    pub fn axes(mut self, axes: &[usize]) -> Self {
        self.axes = Some(axes.to_vec());
        self
    }

    /// Reduces only along `axis`.
    pub fn axis(self, axis: usize) -> Self {
        self.axes(&[axis])
    }

    /// Keeps each reduced axis as an axis of extent 1 (NumPy's `keepdims=True`).
    pub fn keepdims(mut self, keep: bool) -> Self {
        self.keepdims = keep;
        self
    }

    /// The shape of the result: the kept axes (or `[1]` when every axis is reduced).
    fn plan(&self) -> Result<(Dims, Dims, Dims)> {
        if let Some(e) = &self.graph.error {
            return Err(Error::Expression(e.clone()));
        }
        let shape = &self.graph.shape;
        if shape.is_empty() {
            return Err(Error::Expression("a reduction needs an array operand".into()));
        }
        let nd = shape.len();
        let mut reduced: SmallVec<[bool; 4]> = SmallVec::from_elem(false, nd);
        match &self.axes {
            None => reduced.iter_mut().for_each(|r| *r = true),
            Some(axes) => {
                for &a in axes {
                    if a >= nd {
                        return Err(Error::Expression(format!("axis {a} is out of range for an expression of shape {shape:?}")));
                    }
                    if std::mem::replace(&mut reduced[a], true) {
                        return Err(Error::Expression(format!("axis {a} is given twice")));
                    }
                }
            }
        }
        if matches!(self.op, ReduceOp::ArgMin | ReduceOp::ArgMax)
            && reduced.iter().filter(|r| **r).count() > 1
            && reduced.iter().any(|r| !r)
        {
            return Err(Error::Expression("argmin/argmax reduce one axis or all of them".into()));
        }
        let kept: Dims = (0..nd).filter(|&d| !reduced[d]).collect();
        let red: Dims = (0..nd).filter(|&d| reduced[d]).collect();
        let out_shape: Dims = if self.keepdims {
            shape.iter().enumerate().map(|(d, &s)| if reduced[d] { 1 } else { s }).collect()
        } else if kept.is_empty() {
            SmallVec::from_elem(1, 1)
        } else {
            kept.iter().map(|&d| shape[d]).collect()
        };
        Ok((kept, red, out_shape))
    }

    /// Evaluates the reduction into a new array on the expression's device.
    pub fn eval(&self) -> Result<DeviceArray<R>> {
        let (_, _, out_shape) = self.plan()?;
        let device = fuse::expr_device(&self.graph)?;
        let mut out = DeviceArray::<R>::uninit_shape(&device, &out_shape)?;
        self.eval_into(&mut out)?;
        Ok(out)
    }

    /// Evaluates the reduction into `out` (a contiguous array with the result's number of
    /// elements).
    pub fn eval_into(&self, out: impl KernelArg<'a>) -> Result<()> {
        let (kept, red, out_shape) = self.plan()?;
        let out = out.into_arg();
        let m: usize = kept.iter().map(|&d| self.graph.shape[d]).product();
        match out {
            Arg::Array { elem, writable: true, .. } if elem == self.out_elem => {}
            _ => return Err(Error::Expression(format!("the output must be a writable array of {}", self.out_elem))),
        }
        if !matches!(out.arg_type(), gpujit_codegen::specialize::ArgType::Array { contiguous: true, .. }) || out_len(&out) != m {
            return Err(Error::Expression(format!("the output must be a contiguous array of {m} elements (shape {out_shape:?})")));
        }
        let k: usize = red.iter().map(|&d| self.graph.shape[d]).product();
        if k == 0 && matches!(self.op, ReduceOp::Min | ReduceOp::Max | ReduceOp::ArgMin | ReduceOp::ArgMax) && m > 0 {
            return Err(Error::Expression(format!("{:?} of zero elements has no value", self.op)));
        }
        if m == 0 {
            return Ok(());
        }
        run(self, &kept, &red, m, k, fuse::flat_arg(&out, m))
    }

    /// Evaluates a reduction of every element and copies the result to the host.
    pub fn value(&self) -> Result<R> {
        if self.axes.as_ref().is_some_and(|a| a.len() < self.graph.shape.len()) {
            return Err(Error::Expression("value() needs a reduction of every axis; use eval()".into()));
        }
        // Into pooled scratch memory rather than a new array: no allocation in a loop.
        let device = fuse::expr_device(&self.graph)?;
        let mut scratch = fuse::scratch(&device, std::mem::size_of::<R>().div_ceil(8), self.stream)?;
        self.eval_into(raw_array(scratch.array(), R::TYPE, 1))?;
        scratch.array().read_first_as::<R>()
    }
}

fn out_len(a: &Arg<'_>) -> usize {
    match a {
        Arg::Array { ndim, shape, .. } => shape[..*ndim as usize].iter().product::<u64>() as usize,
        Arg::Scalar { .. } | Arg::Struct { .. } => 1,
    }
}

impl<'a, T: Arith> Expr<'a, T> {
    /// The sum of the elements (integers wrap).
    pub fn sum(self) -> Reduction<'a, T> {
        Reduction::new(self, ReduceOp::Sum, Finish::None)
    }

    /// The product of the elements (integers wrap).
    pub fn prod(self) -> Reduction<'a, T> {
        Reduction::new(self, ReduceOp::Prod, Finish::None)
    }

    /// The sum of `self * other`, fused (complex numbers are not conjugated: NumPy's `dot`,
    /// not `vdot`).
    pub fn dot(self, other: impl crate::expr::IntoExpr<'a, T>) -> Reduction<'a, T> {
        (self * other).sum()
    }
}

impl<'a, T: InexactElement> Expr<'a, T> {
    /// The mean of the elements (NaN for zero elements).
    pub fn mean(self) -> Reduction<'a, T> {
        Reduction::new(self, ReduceOp::Sum, Finish::Mean)
    }
}

impl<'a, T: NumElement> Expr<'a, T> {
    /// The least element (NaN if any element is NaN). Zero elements are an error.
    pub fn reduce_min(self) -> Reduction<'a, T> {
        Reduction::new(self, ReduceOp::Min, Finish::None)
    }

    /// The greatest element (NaN if any element is NaN). Zero elements are an error.
    pub fn reduce_max(self) -> Reduction<'a, T> {
        Reduction::new(self, ReduceOp::Max, Finish::None)
    }

    /// The row-major position of the least element (of the first one; of the first NaN if any),
    /// over all axes or along one.
    pub fn argmin(self) -> Reduction<'a, T, usize> {
        Reduction::new(self, ReduceOp::ArgMin, Finish::None)
    }

    /// The position of the greatest element (the first one; the first NaN if any).
    pub fn argmax(self) -> Reduction<'a, T, usize> {
        Reduction::new(self, ReduceOp::ArgMax, Finish::None)
    }
}

impl<'a, T: FloatElement> Expr<'a, T> {
    /// The Euclidean norm, `sqrt(sum(x²))`.
    pub fn norm(self) -> Reduction<'a, T> {
        let sq = self.clone() * self;
        Reduction::new(sq, ReduceOp::Sum, Finish::Sqrt)
    }

    /// The 1-norm, `sum(|x|)`.
    pub fn norm_l1(self) -> Reduction<'a, T> {
        self.abs().sum()
    }
}

impl<'a, T: Element> Expr<'a, T> {
    /// A reduction by a `#[gpu_device]` function `combine(acc: T, value: T) -> T`, which must be
    /// associative, starting from `identity` (CuPy's ReductionKernel). Name the function with
    /// [`device_fn!`](crate::device_fn).
    pub fn reduce(self, combine: Callee, identity: T) -> Reduction<'a, T> {
        let mut graph = self.graph;
        graph.callees.retain(|c| c.name != combine.name);
        graph.callees.insert(0, combine);
        // Calls in the expression shift by one.
        for n in &mut graph.nodes {
            if let Node::Call { callee, .. } = n {
                *callee += 1;
            }
        }
        let mut r = Reduction::new(Expr::<T>::from_graph(graph), ReduceOp::Custom, Finish::None);
        r.custom_identity = crate::launch::value_arg(identity);
        r
    }
}

/// `dot(a, b)`: the sum of the elementwise product, in one pass.
pub fn dot<'a, T: Arith>(a: impl crate::expr::IntoExpr<'a, T>, b: impl crate::expr::IntoExpr<'a, T>) -> Reduction<'a, T> {
    a.into_expr().dot(b)
}

/// Positions carried by arg-reductions.
const POS: ScalarType = ScalarType::U64;

/// Axis lists and shapes (at most `MAX_DIMS` entries: no allocation).
type Dims = SmallVec<[usize; 4]>;

fn run<T: Element, R: Element>(r: &Reduction<'_, T, R>, kept: &[usize], red: &[usize], m: usize, k: usize, out: Arg<'_>) -> Result<()> {
    let g = &r.graph;
    let device = match out {
        Arg::Array { device, .. } => device.clone(),
        Arg::Scalar { .. } | Arg::Struct { .. } => fuse::expr_device(g)?,
    };
    let acc = if r.op == ReduceOp::Custom { r.elem } else { acc_type(r.elem) };
    let id = if r.op == ReduceOp::Custom { r.custom_identity } else { Arg::Scalar { ty: acc, bits: identity(r.op, acc) as u128 } };
    let total: usize = g.shape.iter().product();
    let index32 = total <= i32::MAX as usize && m * k <= i32::MAX as usize;
    // Operands in the order kept axes, reduced axes.
    let order: Dims = kept.iter().chain(red).copied().collect();
    let full: &[usize] = &g.shape;
    let mut inputs: SmallVec<[Arg<'_>; 8]> = g.inputs.iter().map(|a| permute(&fuse::broadcast_arg(a, full), &order)).collect();
    let mut kept_n = kept.len() as u8;
    let mut red_n = red.len() as u8;
    // Everything contiguous and reduced: one flat axis.
    if kept.is_empty() && g.inputs.iter().all(|a| matches!(a, Arg::Scalar { .. } | Arg::Struct { .. }) || fuse::contiguous_of(a, full)) {
        inputs = g.inputs.iter().map(|a| fuse::flat_arg(a, total)).collect();
        red_n = 1;
    }
    if red.is_empty() {
        red_n = 0;
    }
    if kept.is_empty() {
        kept_n = 0;
    }
    let arg = matches!(r.op, ReduceOp::ArgMin | ReduceOp::ArgMax);
    let cpu_plan = !fuse::groups_elements(&device) && kept_n == 0 && red_n == 1 && !arg;
    // Reduced elements contiguous in the first array: a block per output.
    let inner_contiguous = inputs.iter().find_map(|a| match a {
        Arg::Array { ndim, strides, .. } => Some(strides[*ndim as usize - 1] == 1),
        _ => None,
    });
    let resident = fuse::resident_blocks(&device) as usize;
    let strategy =
        if red_n > 0 && (inner_contiguous.unwrap_or(true) || m < resident) && k >= 32 { Strategy::Block } else { Strategy::Thread };
    let parts = if strategy == Strategy::Block && m < resident {
        (resident * reduce_waves() / m).max(1).min(k.div_ceil(BLOCK as usize * 4)).max(1)
    } else {
        1
    };
    let first = |out_elem: ScalarType, finish: Finish| ReduceKey {
        op: r.op,
        acc,
        out: out_elem,
        strategy,
        kept: kept_n,
        reduced: red_n,
        finish,
        positions_from_input: false,
    };
    // `mean`'s count, in the accumulator's real type.
    let count_type = count_type(acc);
    // `phase`: a RowBlocks kernel's launch (the other kernels have no such parameter).
    let launch_phase = |key: ReduceKey,
                        nodes: &[Node],
                        operands: &[Arg<'_>],
                        outs: &[Arg<'_>],
                        (mm, kk, p): (usize, usize, usize),
                        phase: Option<u32>,
                        grid: u32,
                        threads: u32| {
        let it = |v: usize| if index32 { (v as u32).into_arg() } else { (v as u64).into_arg() };
        let count = Arg::Scalar { ty: count_type, bits: count_bits(count_type, k) as u128 };
        let mut scalars: SmallVec<[Arg<'_>; 6]> = SmallVec::from_slice(&[it(mm), it(kk), it(p), id, count]);
        scalars.extend(phase.map(|p| p.into_arg()));
        let mut all = [Arg::NONE; MAX_ARGS];
        let n = operands.len() + outs.len() + scalars.len();
        if n > MAX_ARGS {
            return Err(Error::Expression(format!("a reduction takes at most {} operands", MAX_ARGS - outs.len() - scalars.len())));
        }
        for (slot, a) in all.iter_mut().zip(operands.iter().chain(outs).chain(&scalars)) {
            *slot = *a;
        }
        let args = &all[..n];
        let flat = key.kept == 0 && key.reduced == 1 && key.strategy == Strategy::Block && !key.positions_from_input;
        // Reductions read 32 bytes a thread per step (two 16-byte loads in flight): measured
        // faster than 16 for sums and dots at 2^28 on an H100.
        let vector = if flat { fuse::vector_width(operands, reduce_bytes()) } else { 1 };
        let kind = KernelKind::Reduce(key);
        let units: SmallVec<[u8; 8]> = operands.iter().map(unit_axes).collect();
        let fkey =
            fuse::KeyParts { kind: &kind, nodes, operands, units: &units, outputs: outs, callees: &g.callees, ndim: 0, index32, vector };
        let kernel = fuse::kernel(&fkey, |key| reduce_source(key, &g.callees));
        let mut config = LaunchConfig::new(grid, threads);
        config.stream = r.stream;
        fuse::launch(&kernel, config, args)
    };
    let launch = |key: ReduceKey,
                  nodes: &[Node],
                  operands: &[Arg<'_>],
                  outs: &[Arg<'_>],
                  mm: usize,
                  kk: usize,
                  p: usize,
                  grid: u32,
                  threads: u32| { launch_phase(key, nodes, operands, outs, (mm, kk, p), None, grid, threads) };
    let grid_of = |rows: usize| rows.clamp(1, 65535 * 8) as u32;
    let keyed = |strategy: Strategy, out: ScalarType, finish: Finish| ReduceKey { strategy, ..first(out, finish) };
    let flat_key = |strategy: Strategy, out: ScalarType, finish: Finish| ReduceKey { kept: 0, reduced: 1, ..keyed(strategy, out, finish) };
    // The CPU plans' launches: enough blocks of threads for every worker; keys of kernels over
    // `[rows, columns]` matrices.
    let threads = |n: usize| if n >= BLOCK as usize * resident { BLOCK } else { 32 };
    let matrix = |strategy: Strategy| ReduceKey { kept: 1, reduced: 1, ..keyed(strategy, r.out_elem, r.finish) };

    // A reduction of one flat range on the CPU backend: levels of partial results, each a
    // group's (and the tail's) of the level before, until few are left; then one thread
    // reduces them, in order.
    let flat_plan = |inputs: &[Arg<'_>], k: usize, out: Arg<'_>| -> Result<()> {
        let group = chunk_elements(acc);
        let mut sizes: SmallVec<[usize; 8]> = SmallVec::new();
        let mut n = k;
        while n >= 2 * group {
            n = n / group * lanes(acc) + 1;
            sizes.push(n);
        }
        // Each level 64-byte aligned, as the operands usually are: one specialization of each
        // kernel serves every level.
        let words = |n: usize| (n * acc.size_bytes()).div_ceil(64) * 8;
        let mut scratch = fuse::scratch(&device, sizes.iter().map(|&n| words(n)).sum::<usize>().max(1), r.stream)?;
        let base = raw_array(scratch.array(), acc, 0);
        let input = [Node::Input(0)];
        let mut level: SmallVec<[Arg<'_>; 8]> = inputs.iter().copied().collect();
        let (mut nodes, mut n, mut at) = (&g.nodes[..], k, 0usize);
        for &size in &sizes {
            let groups = n / group;
            let main: SmallVec<[Arg<'_>; 8]> = level.iter().map(|a| range_view(a, 0, groups * group)).collect();
            let tail: SmallVec<[Arg<'_>; 8]> = level.iter().map(|a| range_view(a, groups * group, n - groups * group)).collect();
            let partial = byte_view(&base, at, size);
            let grid = groups.div_ceil(BLOCK as usize) as u32;
            launch(
                flat_key(Strategy::Chunks, acc, Finish::None),
                nodes,
                &main,
                &[range_view(&partial, 0, groups * lanes(acc))],
                1,
                groups,
                1,
                grid,
                BLOCK,
            )?;
            launch(
                flat_key(Strategy::Serial, acc, Finish::None),
                nodes,
                &tail,
                &[range_view(&partial, groups * lanes(acc), 1)],
                1,
                n - groups * group,
                1,
                1,
                1,
            )?;
            level = SmallVec::from_elem(readable(partial), 1);
            nodes = &input;
            n = size;
            at += words(size) * 8;
        }
        launch(flat_key(Strategy::Serial, r.out_elem, r.finish), nodes, &level, &[out], 1, n, 1, 1, 1)
    };
    if cpu_plan {
        return flat_plan(&inputs, k, out);
    }
    // argmin/argmax of one flat range on the CPU backend: rows of `ARG_ROW` elements a thread
    // each (and the last few), their candidates, then one thread over them in order.
    if !fuse::groups_elements(&device) && kept_n == 0 && red_n == 1 && arg && k > 0 {
        let rows = k / ARG_ROW;
        let left = k - rows * ARG_ROW;
        let key = |out: ScalarType| ReduceKey { kept: 1, reduced: 1, ..keyed(Strategy::Rows, out, Finish::None) };
        if rows == 0 {
            let one: SmallVec<[Arg<'_>; 8]> = inputs.iter().map(|a| matrix_arg(a, 1, k)).collect();
            return launch(key(r.out_elem), &g.nodes, &one, &[out], 1, k, 0, 1, 1);
        }
        let cands = rows + usize::from(left > 0);
        let mut values = fuse::scratch(&device, (cands * acc.size_bytes()).div_ceil(8), r.stream)?;
        let mut positions = fuse::scratch(&device, cands, r.stream)?;
        let (vals, pos) = (raw_array(values.array(), acc, cands), raw_array(positions.array(), POS, cands));
        let mats: SmallVec<[Arg<'_>; 8]> = inputs.iter().map(|a| matrix_arg(a, rows, ARG_ROW)).collect();
        let outs = [range_view(&vals, 0, rows), range_view(&pos, 0, rows)];
        launch(key(acc), &g.nodes, &mats, &outs, rows, ARG_ROW, 0, rows.div_ceil(threads(rows) as usize) as u32, threads(rows))?;
        if left > 0 {
            let last: SmallVec<[Arg<'_>; 8]> = inputs.iter().map(|a| matrix_arg(&range_view(a, rows * ARG_ROW, left), 1, left)).collect();
            let outs = [range_view(&vals, rows, 1), range_view(&pos, rows, 1)];
            launch(key(acc), &g.nodes, &last, &outs, 1, left, rows * ARG_ROW, 1, 1)?;
        }
        let serial = ReduceKey { kept: 0, reduced: 1, positions_from_input: true, ..keyed(Strategy::Serial, r.out_elem, r.finish) };
        return launch(serial, &[Node::Input(0)], &[readable(vals), readable(pos)], &[out], 1, cands, 1, 1, 1);
    }

    // Axis reductions on the CPU backend, where the operands are one contiguous matrix.
    let layout = if fuse::groups_elements(&device) || kept_n == 0 || red_n == 0 || k == 0 {
        None
    } else {
        let originals: SmallVec<[Arg<'_>; 8]> = g.inputs.iter().copied().collect();
        matrix_layout(&originals, full, kept, red)
    };
    // The columns of `[k, m]` matrices: groups of neighbouring columns, then the last few.
    let columns = |nodes: &[Node], mats: &[Arg<'_>], k: usize| -> Result<()> {
        let groups = m / column_lanes(acc);
        if groups > 0 {
            let grid = groups.div_ceil(threads(groups) as usize) as u32;
            launch(matrix(Strategy::Columns), nodes, mats, &[out], m, k, 1, grid, threads(groups))?;
        }
        // The last few columns, a thread each.
        let done = groups * column_lanes(acc);
        if done < m {
            let tail: SmallVec<[Arg<'_>; 8]> = mats.iter().map(|a| range_view(&permute(a, &[1, 0]), done, m - done)).collect();
            let left = m - done;
            launch(matrix(Strategy::Thread), nodes, &tail, &[range_view(&out, done, left)], left, k, 1, left.div_ceil(32) as u32, 32)?;
        }
        Ok(())
    };
    if let Some(MatrixLayout { strategy: layout, mats, contiguous }) = layout {
        if layout == Strategy::Rows {
            // Few long rows: each row in the flat plan, which spreads it over the workers.
            if contiguous && m < resident && k >= 2 * resident * chunk_elements(acc) && !arg {
                for row in 0..m {
                    let one: SmallVec<[Arg<'_>; 8]> = mats.iter().map(|a| range_view(&fuse::flat_arg(a, m * k), row * k, k)).collect();
                    flat_plan(&one, k, range_view(&out, row, 1))?;
                }
                return Ok(());
            }
            return launch(matrix(Strategy::Rows), &g.nodes, &mats, &[out], m, k, 1, m.div_ceil(threads(m) as usize) as u32, threads(m));
        }
        // Few elements: a thread a column, one kernel (the cheapest to compile, and fast
        // enough: the plans below take two kernels, or a larger one).
        if m * k < SMALL_COLUMNS {
            let view: SmallVec<[Arg<'_>; 8]> = mats.iter().map(|a| permute(a, &[1, 0])).collect();
            let grid = m.div_ceil(threads(m) as usize) as u32;
            return launch(matrix(Strategy::Thread), &g.nodes, &view, &[out], m, k, 1, grid, threads(m));
        }
        // Few columns (a row of partial results fits a core's cache) and enough rows: blocks
        // of rows into rows of partial results (and positions), contiguous, then each column of
        // them, a thread each (little work: the simplest kernel, the cheapest to compile).
        let row_bytes = m * (acc.size_bytes() + if arg { POS.size_bytes() } else { 0 });
        // (Its launch takes three arrays and six scalars beside the operands.)
        if row_bytes <= ROW_BLOCK_BYTES && k >= resident && mats.len() + 9 <= MAX_ARGS {
            let parts = resident;
            let mut values = fuse::scratch(&device, (parts * m * acc.size_bytes()).div_ceil(8), r.stream)?;
            let mut positions = fuse::scratch(&device, if arg { parts * m } else { 1 }, r.stream)?;
            let mut outs: SmallVec<[Arg<'_>; 3]> = SmallVec::new();
            outs.push(matrix_arg(&raw_array(values.array(), acc, parts * m), parts, m));
            if arg {
                outs.push(matrix_arg(&raw_array(positions.array(), POS, parts * m), parts, m));
            }
            outs.push(out);
            // One kernel (one compile), launched twice: the blocks of rows, then the columns.
            let key = matrix(Strategy::RowBlocks);
            launch_phase(key.clone(), &g.nodes, &mats, &outs, (m, k, parts), Some(0), parts as u32, 1)?;
            let grid = m.div_ceil(threads(m) as usize) as u32;
            return launch_phase(key, &g.nodes, &mats, &outs, (m, k, m), Some(1), grid, threads(m));
        }
        return columns(&g.nodes, &mats, k);
    }

    if parts == 1 {
        let key = first(r.out_elem, r.finish);
        let (grid, threads) = match strategy {
            Strategy::Block => (grid_of(m), BLOCK),
            // (The CPU plan's strategies returned above.)
            Strategy::Thread | Strategy::Chunks | Strategy::Serial | Strategy::Rows | Strategy::Columns | Strategy::RowBlocks => {
                (fuse::grid_for(&device, m), BLOCK)
            }
        };
        return launch(key, &g.nodes, &inputs, &[out], m, k, 1, grid, threads);
    }
    // Two passes: partial results [m, parts], then a reduction of each row of them.
    // Partial results in 8-byte-aligned scratch memory, seen as an array of the accumulator type.
    let mut partial = fuse::scratch(&device, (m * parts * acc.size_bytes()).div_ceil(8), r.stream)?;
    let mut positions = fuse::scratch(&device, if arg { m * parts } else { 1 }, r.stream)?;
    let p_arg = raw_array(partial.array(), acc, m * parts);
    let i_arg = raw_array(positions.array(), POS, m * parts);
    let mut outs1: SmallVec<[Arg<'_>; 2]> = SmallVec::new();
    outs1.push(p_arg);
    if arg {
        outs1.push(i_arg);
    }
    launch(first(acc, Finish::None), &g.nodes, &inputs, &outs1, m, k, parts, grid_of(m * parts), BLOCK)?;
    let mut ops2: SmallVec<[Arg<'_>; 2]> = SmallVec::new();
    ops2.push(partial_view(&outs1[0], kept_n == 0, m, parts));
    if arg {
        ops2.push(partial_view(&outs1[1], kept_n == 0, m, parts));
    }
    let key2 = ReduceKey {
        op: if r.op == ReduceOp::Custom { ReduceOp::Custom } else { r.op },
        acc,
        out: r.out_elem,
        strategy: Strategy::Block,
        kept: if kept_n == 0 { 0 } else { 1 },
        reduced: 1,
        finish: r.finish,
        positions_from_input: arg,
    };
    // The second pass combines partial results with the same operation (sums of partial sums).
    launch(key2, &[Node::Input(0)], &ops2, &[out], m, parts, 1, grid_of(m), BLOCK)
}

/// The partial results `[m, parts]` (or `[parts]`), read by the second pass.
fn partial_view<'a>(a: &Arg<'a>, all: bool, m: usize, parts: usize) -> Arg<'a> {
    let mut a = *a;
    if let Arg::Array { writable, ndim, shape, strides, .. } = &mut a {
        *writable = false;
        *ndim = if all { 1 } else { 2 };
        *shape = if all { [parts as u64, 0, 0, 0] } else { [m as u64, parts as u64, 0, 0] };
        *strides = if all { [1, 0, 0, 0] } else { [parts as i64, 1, 0, 0] };
    }
    a
}

/// `a` (a 1-D array) from element `start`, `len` elements; a scalar as it is.
fn range_view<'a>(a: &Arg<'a>, start: usize, len: usize) -> Arg<'a> {
    let mut a = *a;
    if let Arg::Array { elem, ptr, shape, strides, .. } = &mut a {
        *ptr = ptr.wrapping_add_signed(strides[0].wrapping_mul(start as i64).wrapping_mul(elem.size_bytes() as i64));
        shape[0] = len as u64;
    }
    a
}

/// `len` elements of array `a` from byte `offset` of its memory.
fn byte_view<'a>(a: &Arg<'a>, offset: usize, len: usize) -> Arg<'a> {
    let mut a = *a;
    if let Arg::Array { ptr, shape, .. } = &mut a {
        *ptr += offset as u64;
        shape[0] = len as u64;
    }
    a
}

/// How the CPU backend's axis plans see the operands.
struct MatrixLayout<'a> {
    /// [`Strategy::Rows`]: `[m, k]` matrices (kept axes, then reduced ones); or
    /// [`Strategy::Columns`]: `[k, m]` (reduced axes first).
    strategy: Strategy,
    /// The operands as those matrices (scalars as they are).
    mats: SmallVec<[Arg<'a>; 8]>,
    /// Whether every array operand is C-contiguous in that order.
    contiguous: bool,
}

/// The operands as `[m, k]` matrices ([`Strategy::Rows`]) where at least as many array
/// operands are C-contiguous with the kept axes before the reduced ones as with the reduced
/// axes first, else as `[k, m]` matrices ([`Strategy::Columns`]). Every array operand must be
/// such a matrix (its kept axes one of stride, its reduced axes one: a broadcast operand's
/// stride 0, a column view's), and one at least contiguous; else `None` (the GPU's plans).
fn matrix_layout<'a>(inputs: &[Arg<'a>], full: &[usize], kept: &[usize], red: &[usize]) -> Option<MatrixLayout<'a>> {
    let (m, k): (usize, usize) = (kept.iter().map(|&d| full[d]).product(), red.iter().map(|&d| full[d]).product());
    let rows: Dims = kept.iter().chain(red).copied().collect();
    let cols: Dims = red.iter().chain(kept).copied().collect();
    // The operands in `order` as `[first, second]` matrices (`split` axes, then the rest), and
    // how many array operands are contiguous that way.
    let as_matrices = |order: &[usize], split: usize, first: usize, second: usize| -> Option<(SmallVec<[Arg<'a>; 8]>, usize)> {
        let shape: Dims = order.iter().map(|&d| full[d]).collect();
        let mut contiguous = 0;
        let mut mats = SmallVec::new();
        for a in inputs {
            let b = permute(&fuse::broadcast_arg(a, full), order);
            if let Arg::Array { .. } = b {
                if fuse::contiguous_of(&b, &shape) {
                    contiguous += 1;
                }
            }
            mats.push(collapse_2d(&b, split, first, second)?);
        }
        Some((mats, contiguous))
    };
    let arrays = inputs.iter().filter(|a| matches!(a, Arg::Array { .. })).count();
    let by_rows = as_matrices(&rows, kept.len(), m, k).filter(|(_, c)| *c > 0);
    let by_cols = as_matrices(&cols, red.len(), k, m).filter(|(_, c)| *c > 0);
    let (strategy, (mats, contiguous)) = match (by_rows, by_cols) {
        (Some(r), Some(c)) if c.1 > r.1 => (Strategy::Columns, c),
        (Some(r), _) => (Strategy::Rows, r),
        (None, Some(c)) => (Strategy::Columns, c),
        (None, None) => return None,
    };
    Some(MatrixLayout { strategy, mats, contiguous: contiguous == arrays })
}

/// The axes of operand `a` its kernel reads at index 0 (bit `d`: axis `d`): those of extent 1
/// and stride 0, a broadcast row or column as `collapse_2d` gives it (where an axis has extent
/// 1, index 0 is the only one in bounds anyway).
fn unit_axes(a: &Arg<'_>) -> u8 {
    match a {
        Arg::Array { ndim, shape, strides, .. } if *ndim >= 2 => {
            (0..*ndim as usize).filter(|&d| shape[d] == 1 && strides[d] == 0).fold(0, |m, d| m | 1 << d)
        }
        _ => 0,
    }
}

/// Array `a` (of `ndim` axes) as a `[first, second]` matrix: its first `split` axes one axis,
/// the others another, where each group is one of stride (axes of extent 1 aside; stride 0
/// throughout a broadcast group); a scalar as it is. `None` where a group is not.
fn collapse_2d<'a>(a: &Arg<'a>, split: usize, first: usize, second: usize) -> Option<Arg<'a>> {
    let mut a = *a;
    if let Arg::Array { ndim, shape, strides, .. } = &mut a {
        let n = *ndim as usize;
        let group = |axes: std::ops::Range<usize>| -> Option<i64> {
            // From the innermost axis out: each next axis a whole step of the ones inside.
            let mut stride = None::<i64>;
            let mut next = 0i64;
            for d in axes.rev() {
                if shape[d] == 1 {
                    continue;
                }
                match stride {
                    None => stride = Some(strides[d]),
                    Some(_) if strides[d] != next => return None,
                    Some(_) => {}
                }
                next = strides[d].checked_mul(i64::try_from(shape[d]).ok()?)?;
            }
            Some(stride.unwrap_or(0))
        };
        let (s0, s1) = (group(0..split.min(n))?, group(split.min(n)..n)?);
        // A broadcast axis (stride 0) is one element, read at index 0 (`unit_axes`).
        let extent = |e: usize, s: i64| if s == 0 { 1 } else { e as u64 };
        *ndim = 2;
        *shape = [extent(first, s0), extent(second, s1), 0, 0];
        *strides = [s0, s1, 0, 0];
    }
    Some(a)
}

/// `a` (a C-contiguous array of `rows * cols` elements, or a 1-D view of them) as a
/// `[rows, cols]` matrix; a scalar as it is.
fn matrix_arg<'a>(a: &Arg<'a>, rows: usize, cols: usize) -> Arg<'a> {
    let mut a = *a;
    if let Arg::Array { ndim, shape, strides, .. } = &mut a {
        // (A C-contiguous array's elements are 1 apart, whatever stride an axis of extent 1
        // has; a 1-D view's are its stride apart.)
        let s = if *ndim == 1 { strides[0] } else { 1 };
        *ndim = 2;
        *shape = [rows as u64, cols as u64, 0, 0];
        *strides = [(cols as i64).wrapping_mul(s), s, 0, 0];
    }
    a
}

/// `a`, read-only.
fn readable(mut a: Arg<'_>) -> Arg<'_> {
    if let Arg::Array { writable, .. } = &mut a {
        *writable = false;
    }
    a
}

/// Accumulators of a thread of the CPU plan: a 64-byte vector's worth of `acc` (a power of
/// two, 1 to 16), which LLVM keeps in vector registers.
fn lanes(acc: ScalarType) -> usize {
    let n = (64 / acc.size_bytes().max(1)).clamp(1, 16);
    1 << n.ilog2()
}

/// Elements a thread of the CPU backend's argmin/argmax of a flat range takes.
const ARG_ROW: usize = 4096;

/// Below this many elements, the CPU backend reduces the columns of a matrix a thread a column.
const SMALL_COLUMNS: usize = 1 << 16;

/// The most bytes of a row of partial results for [`Strategy::RowBlocks`] (else
/// [`Strategy::Columns`] reads the matrix directly).
const ROW_BLOCK_BYTES: usize = 128 << 10;

/// Columns a thread of the CPU plan for columns reduces: a 32-byte vector's worth of `acc` (a
/// power of two, 1 to 8; half of [`lanes`]' width, for half the code to compile).
fn column_lanes(acc: ScalarType) -> usize {
    let n = (32 / acc.size_bytes().max(1)).clamp(1, 8);
    1 << n.ilog2()
}

/// Rounds of a thread of the CPU plan over its group: `lanes` elements a round.
const ROUNDS: usize = 64;

/// The elements a thread of the CPU plan reduces.
fn chunk_elements(acc: ScalarType) -> usize {
    lanes(acc) * ROUNDS
}

/// The type of `mean`'s count: the accumulator's real type (a complex sum is divided by a real);
/// a struct accumulator (a custom reduction, which has no mean) gets an unused u64.
fn count_type(acc: ScalarType) -> ScalarType {
    match acc {
        ScalarType::Struct(_) => ScalarType::U64,
        t => t.component().unwrap_or(t),
    }
}

/// The number of reduced elements in the accumulator type (for `mean`).
fn count_bits(acc: ScalarType, k: usize) -> u64 {
    match acc {
        ScalarType::F32 => (k as f32).to_bits() as u64,
        ScalarType::F64 => (k as f64).to_bits(),
        _ => k as u64,
    }
}

fn raw_array<'a>(bytes: &'a mut DeviceArray<u64>, elem: ScalarType, n: usize) -> Arg<'a> {
    let mut a = bytes.into_arg();
    if let Arg::Array { elem: e, shape, .. } = &mut a {
        *e = elem;
        shape[0] = n as u64;
    }
    a
}

fn permute<'a>(a: &Arg<'a>, order: &[usize]) -> Arg<'a> {
    let mut a = *a;
    if let Arg::Array { shape, strides, .. } = &mut a {
        let (s0, t0) = (*shape, *strides);
        for (d, &o) in order.iter().enumerate() {
            shape[d] = s0[o];
            strides[d] = t0[o];
        }
    }
    a
}

// ---- The kernel's source -----------------------------------------------------------------------

fn stmt_if(cond: ast::SourceExpr, then: Vec<Stmt>) -> Stmt {
    if_(cond, then, None)
}

/// `for var in start..end { body }`.
fn for_range(var: &str, start: ast::SourceExpr, end: ast::SourceExpr, body: Vec<Stmt>) -> Stmt {
    Stmt::For {
        var: var.into(),
        range: ast::RangeLoop { start, end, inclusive: false, step: None, reverse: false, unroll: None },
        body: ast::Block { stmts: body },
        label: None,
        span: Span::default(),
        id: ast::NodeId::UNSET,
    }
}

fn not(a: ast::SourceExpr) -> ast::SourceExpr {
    e(ExprKind::Unary(UnOp::Not, Box::new(a)))
}

/// Statements folding the candidate `(v, vi)` into the accumulator `(acc, ai)`.
#[allow(clippy::too_many_arguments)]
fn combine(rk: &ReduceKey, callee: Option<&str>, acc: &str, ai: &str, v: ast::SourceExpr, vi: ast::SourceExpr, out: &mut Vec<Stmt>) {
    let (op, t) = (rk.op, rk.acc);
    // The CPU backend's own plans choose with `&` and `|`, which evaluate both sides, rather
    // than `&&` and `||`, which branch: the choice becomes selects, which LLVM vectorizes across
    // lanes. The plans GPUs run keep the branches (measured on the H200: argmax of 2^28 f32
    // 3434-3490 GB/s with them, 2930-2942 with selects).
    let (or, and) =
        if matches!(rk.strategy, Strategy::Block | Strategy::Thread) { (BinOp::Or, BinOp::And) } else { (BinOp::BitOr, BinOp::BitAnd) };
    let a = || var(acc);
    match op {
        ReduceOp::Sum => out.push(set(acc, bin(BinOp::Add, a(), v))),
        ReduceOp::Prod => out.push(set(acc, bin(BinOp::Mul, a(), v))),
        ReduceOp::Custom => out.push(set(acc, e(ExprKind::Call(callee.unwrap_or_default().to_string(), vec![a(), v])))),
        ReduceOp::Min | ReduceOp::Max => {
            let cmp = if op == ReduceOp::Min { BinOp::Lt } else { BinOp::Gt };
            let mut cond = bin(cmp, v.clone(), a());
            if t.is_float() {
                cond = bin(or, cond, bin(BinOp::Ne, v.clone(), v.clone()));
            }
            out.push(stmt_if(cond, vec![set(acc, v)]));
        }
        ReduceOp::ArgMin | ReduceOp::ArgMax => {
            let cmp = if op == ReduceOp::ArgMin { BinOp::Lt } else { BinOp::Gt };
            let earlier = bin(BinOp::Lt, vi.clone(), var(ai));
            let better = bin(or, bin(cmp, v.clone(), a()), bin(and, bin(BinOp::Eq, v.clone(), a()), earlier.clone()));
            let take = format!("{acc}_take");
            if t.is_float() && or == BinOp::Or {
                // A NaN wins over a number, and the earlier of two NaNs.
                let vn = bin(BinOp::Ne, v.clone(), v.clone());
                let an = bin(BinOp::Ne, a(), a());
                out.push(let_mut(&take, e(ExprKind::Bool(false))));
                out.push(if_(vn, vec![set(&take, bin(or, not(an.clone()), earlier))], Some(vec![set(&take, bin(and, not(an), better))])));
            } else if t.is_float() {
                // The same with selects.
                let (vn, an) = (format!("{acc}_vn"), format!("{acc}_an"));
                out.push(let_(&vn, bin(BinOp::Ne, v.clone(), v.clone())));
                out.push(let_(&an, bin(BinOp::Ne, a(), a())));
                let if_nan = bin(and, var(&vn), bin(or, not(var(&an)), earlier));
                let if_number = bin(and, not(var(&vn)), bin(and, not(var(&an)), better));
                out.push(let_(&take, bin(or, if_nan, if_number)));
            } else {
                out.push(let_(&take, better));
            }
            out.push(stmt_if(var(&take), vec![set(acc, v), set(ai, vi)]));
        }
    }
}

/// [`combine`] for a candidate that comes after every element the accumulator holds (a later
/// position): argmin/argmax then takes it only when it is strictly better (or the first NaN),
/// without comparing positions (fewer operations, which LLVM vectorizes and compiles faster).
fn combine_in_order(
    rk: &ReduceKey,
    callee: Option<&str>,
    acc: &str,
    ai: &str,
    v: ast::SourceExpr,
    vi: ast::SourceExpr,
    out: &mut Vec<Stmt>,
) {
    let cmp = match rk.op {
        ReduceOp::ArgMin => BinOp::Lt,
        ReduceOp::ArgMax => BinOp::Gt,
        _ => return combine(rk, callee, acc, ai, v, vi, out),
    };
    let take = format!("{acc}_take");
    let better = bin(cmp, v.clone(), var(acc));
    if rk.acc.is_float() {
        // Not after a NaN; a NaN, or a greater (lesser) number.
        let (vn, an) = (bin(BinOp::Ne, v.clone(), v.clone()), bin(BinOp::Ne, var(acc), var(acc)));
        out.push(let_(&take, bin(BinOp::BitAnd, not(an), bin(BinOp::BitOr, vn, better))));
    } else {
        out.push(let_(&take, better));
    }
    out.push(stmt_if(var(&take), vec![set(acc, v), set(ai, vi)]));
}

fn shfl_down(v: ast::SourceExpr, delta: u64) -> ast::SourceExpr {
    e(ExprKind::Collective(Collective::ShflDown, vec![int(0xffff_ffff, ScalarType::U32), v, int(delta, ScalarType::U64)]))
}

/// A warp-shuffle tree folding the warp's accumulators into lane 0's.
fn warp_tree(rk: &ReduceKey, callee: Option<&str>, out: &mut Vec<Stmt>) {
    let arg = matches!(rk.op, ReduceOp::ArgMin | ReduceOp::ArgMax);
    for (n, delta) in [16u64, 8, 4, 2, 1].into_iter().enumerate() {
        let v = format!("w{n}");
        out.push(let_(&v, shfl_down(var("acc"), delta)));
        let vi = if arg {
            let name = format!("wi{n}");
            out.push(let_(&name, shfl_down(var("ai"), delta)));
            var(&name)
        } else {
            var("ai")
        };
        // A lane whose partner lane + delta is past 31 gets its own value back and combines it
        // twice; only lane 0's result is used, and every partner in its chain is a real one.
        combine(rk, callee, "acc", "ai", var(&v), vi, out);
    }
}

fn finish(rk: &ReduceKey, acc: ast::SourceExpr) -> ast::SourceExpr {
    let v = match rk.finish {
        Finish::None => acc,
        Finish::Mean => bin(BinOp::Div, acc, var("count")),
        Finish::Sqrt => e(ExprKind::Math(MathFn::Sqrt, vec![acc])),
    };
    if rk.out == rk.acc || matches!(rk.op, ReduceOp::ArgMin | ReduceOp::ArgMax) {
        v
    } else {
        cast(v, rk.out)
    }
}

fn dim(array: &str, axis: usize) -> ast::SourceExpr {
    e(ExprKind::ArrayDim { array: array.into(), axis: axis as u8, stride: false })
}

fn store(array: &str, i: ast::SourceExpr, v: ast::SourceExpr) -> Stmt {
    Stmt::Assign {
        place: Place::Index { array: array.into(), index: vec![i], span: Span::default() },
        op: None,
        value: v,
        span: Span::default(),
        id: ast::NodeId::UNSET,
    }
}

fn reduce_source(key: &Key, callees: &[Callee]) -> gpujit_codegen::ast::KernelSource {
    let KernelKind::Reduce(rk) = &key.kind else { unreachable!("reduce_source is given reduction keys") };
    let it = fuse::index_type(key.index32);
    let arg = matches!(rk.op, ReduceOp::ArgMin | ReduceOp::ArgMax);
    let custom = if rk.op == ReduceOp::Custom { callees.first().map(|c| c.name) } else { None };
    let mut params = fuse::operand_params(&key.operands);
    // RowBlocks: the partial results' rows (and their positions), then the output.
    let outs: &[(&str, u8)] = match (rk.strategy, key.outputs.len()) {
        (Strategy::RowBlocks, 3) => &[("part", 2), ("part_i", 2), ("out", 1)],
        (Strategy::RowBlocks, _) => &[("part", 2), ("out", 1)],
        (_, 1) => &[("out", 1)],
        _ => &[("out", 1), ("out_i", 1)],
    };
    for (&(name, ndim), t) in outs.iter().zip(&key.outputs) {
        params.push(Param {
            name: name.into(),
            kind: ParamKind::Slice { elem: TypeRef::Scalar(*t), mutable: true, ndim },
            span: Span::default(),
        });
    }
    // `mean` divides by the count in the accumulator's real type (a complex sum by a real).
    let count_type = count_type(rk.acc);
    for (name, t) in [("m", it), ("k", it), ("parts", it), ("id", rk.acc), ("count", count_type)] {
        params.push(Param { name: name.into(), kind: ParamKind::Scalar(TypeRef::Scalar(t)), span: Span::default() });
    }
    if rk.strategy == Strategy::RowBlocks {
        params.push(Param { name: "phase".into(), kind: ParamKind::Scalar(TypeRef::Scalar(ScalarType::U32)), span: Span::default() });
    }
    // The array whose extents give the index space.
    let shape_of = key
        .operands
        .iter()
        .position(|o| matches!(o, Operand::Array { unit: 0, .. }))
        .map(|k| format!("a{k}"))
        .unwrap_or_else(|| "a0".into());
    let (kn, rn) = (rk.kept as usize, rk.reduced as usize);
    let value_at = |kidx: &[ast::SourceExpr], ridx: &[ast::SourceExpr], body: &mut Vec<Stmt>, kname: &str| {
        let idx: Vec<ast::SourceExpr> = kidx.iter().chain(ridx).cloned().collect();
        let roots = emit_values(&key.nodes, &key.operands, &key.callees, &idx, "t", body);
        let v = var(&roots[0]);
        let v = cast(v, rk.acc);
        let vi = if rk.positions_from_input { index("a1", &idx) } else { cast(var(kname), POS) };
        (v, vi)
    };
    let mut body = Vec::new();
    match rk.strategy {
        Strategy::Chunks => {
            // Thread f: elements f * group.. of the range, `lanes` at a time, each lane its own
            // accumulator (vector registers), then a tree over the lanes. Every index is
            // affine in f: the CPU backend checks the bounds once before its chunk of threads.
            let lanes = lanes(rk.acc) as u64;
            let u = ScalarType::U64;
            let mut group = vec![let_("gb", bin(BinOp::Mul, cast(var("f"), u), int(lanes * ROUNDS as u64, u)))];
            for j in 0..lanes {
                group.push(let_mut(&format!("acc{j}"), var("id")));
            }
            let mut round = vec![let_("rb", bin(BinOp::Add, var("gb"), bin(BinOp::Mul, var("r"), int(lanes, u))))];
            let mut loads = Vec::new();
            for j in 0..lanes {
                let at = format!("g{j}");
                round.push(let_(&at, bin(BinOp::Add, var("rb"), int(j, u))));
                loads.push(fuse::emit_loads(&key.nodes, &key.operands, &[var(&at)], &format!("l{j}_"), &mut round));
            }
            for (j, loaded) in loads.into_iter().enumerate() {
                let at = format!("g{j}");
                let roots =
                    fuse::emit_values_loaded(&key.nodes, &key.operands, &key.callees, &[var(&at)], &format!("t{j}_"), loaded, &mut round);
                combine(rk, custom, &format!("acc{j}"), "ai", cast(var(&roots[0]), rk.acc), var(&at), &mut round);
            }
            group.push(for_range("r", int(0, u), int(ROUNDS as u64, u), round));
            let at = bin(BinOp::Mul, cast(var("f"), u), int(lanes, u));
            for j in 0..lanes {
                group.push(store("out", bin(BinOp::Add, at.clone(), int(j, u)), var(&format!("acc{j}"))));
            }
            body.push(let_("f", cast(builtin(Builtin::Grid(Dim::X)), it)));
            body.push(stmt_if(bin(BinOp::Lt, var("f"), var("k")), group));
        }
        Strategy::Rows | Strategy::Columns => {
            // Rows: thread f reduces row f of the `[m, k]` operands, `lanes` elements a round
            // into `lanes` accumulators, folded pairwise at the end, then the row's last
            // `k % lanes` elements. Columns: thread f reduces columns `f * lanes..` of the
            // `[k, m]` operands, each in its accumulator, row after row. Either way the
            // neighbouring elements of a round are contiguous (LLVM's SLP makes them vector
            // loads and operations), and every index is affine in f and the loops' variables:
            // the CPU backend checks the bounds once before its chunk of threads.
            let rows = rk.strategy == Strategy::Rows;
            let lanes = if rows && !arg { lanes(rk.acc) } else { column_lanes(rk.acc) } as u64;
            let u = ScalarType::U64;
            let fu = || cast(var("f"), u);
            let mut work = Vec::new();
            for j in 0..lanes {
                work.push(let_mut(&format!("acc{j}"), var("id")));
                work.push(let_mut(&format!("ai{j}"), int(u64::MAX, POS)));
            }
            // Lane j's element of a round: its position along the reduced axis, and its indices.
            let at = |j: u64| -> (ast::SourceExpr, Vec<ast::SourceExpr>) {
                if rows {
                    let p = bin(BinOp::Add, var("rb"), int(j, u));
                    (p.clone(), vec![fu(), p])
                } else {
                    (var("ku"), vec![var("ku"), bin(BinOp::Add, var("cb"), int(j, u))])
                }
            };
            let mut round = Vec::new();
            if rows {
                round.push(let_("rb", bin(BinOp::Mul, cast(var("r"), u), int(lanes, u))));
            } else {
                round.push(let_("ku", cast(var("kk"), u)));
            }
            let mut loads = Vec::new();
            for j in 0..lanes {
                let (p, idx) = at(j);
                round.push(let_(&format!("p{j}"), p));
                round.push(let_(&format!("i{j}"), idx[1].clone()));
                loads.push(fuse::emit_loads(
                    &key.nodes,
                    &key.operands,
                    &[idx[0].clone(), var(&format!("i{j}"))],
                    &format!("l{j}_"),
                    &mut round,
                ));
            }
            for (j, loaded) in loads.into_iter().enumerate() {
                let (_, idx) = at(j as u64);
                let idx = [idx[0].clone(), var(&format!("i{j}"))];
                let roots = fuse::emit_values_loaded(&key.nodes, &key.operands, &key.callees, &idx, &format!("t{j}_"), loaded, &mut round);
                let (acc, ai) = (format!("acc{j}"), format!("ai{j}"));
                combine(rk, custom, &acc, &ai, cast(var(&roots[0]), rk.acc), var(&format!("p{j}")), &mut round);
            }
            let rounds = bin(BinOp::Div, var("k"), int(lanes, it));
            if rows {
                work.push(for_range("r", int(0, it), rounds.clone(), round));
                // The lanes, pairwise: lane j takes lane j + w's, w = lanes/2, .., 1.
                let mut w = lanes / 2;
                while w >= 1 {
                    for j in 0..w {
                        let (acc, ai) = (format!("acc{j}"), format!("ai{j}"));
                        let (v, vi) = (var(&format!("acc{}", j + w)), var(&format!("ai{}", j + w)));
                        combine(rk, custom, &acc, &ai, v, vi, &mut work);
                    }
                    w /= 2;
                }
                let mut tail = vec![let_("ku", cast(var("kk"), u))];
                let (v, vi) = value_at(&[fu()], &[var("ku")], &mut tail, "ku");
                combine(rk, custom, "acc0", "ai0", v, vi, &mut tail);
                work.push(for_range("kk", bin(BinOp::Mul, rounds, int(lanes, it)), var("k"), tail));
                if key.outputs.len() > 1 {
                    // The flat plan's candidates: the row's value and its position in the whole
                    // range (the rows from element `parts`, `k` apart).
                    work.push(store("out", fu(), var("acc0")));
                    let start = bin(BinOp::Add, cast(var("parts"), u), bin(BinOp::Mul, fu(), cast(var("k"), u)));
                    work.push(store("out_i", fu(), bin(BinOp::Add, var("ai0"), start)));
                } else {
                    let out = if arg { var("ai0") } else { finish(rk, var("acc0")) };
                    work.push(store("out", fu(), out));
                }
                body.push(let_("f", cast(builtin(Builtin::Grid(Dim::X)), it)));
                body.push(stmt_if(bin(BinOp::Lt, var("f"), var("m")), work));
            } else {
                work.insert(0, let_("cb", bin(BinOp::Mul, fu(), int(lanes, u))));
                work.push(for_range("kk", int(0, it), var("k"), round));
                for j in 0..lanes {
                    let out = if arg { var(&format!("ai{j}")) } else { finish(rk, var(&format!("acc{j}"))) };
                    work.push(store("out", bin(BinOp::Add, var("cb"), int(j, u)), out));
                }
                body.push(let_("f", cast(builtin(Builtin::Grid(Dim::X)), it)));
                body.push(stmt_if(bin(BinOp::Lt, var("f"), bin(BinOp::Div, var("m"), int(lanes, it))), work));
            }
        }
        Strategy::RowBlocks => {
            // Two launches of one kernel. First (`phase == 0`), thread t: rows `t * per..`
            // (`per = k / parts`) into row t of the partial results (and of their positions), a
            // row at a time. Then (`phase == 1`, `parts` the columns), thread c: column c of the
            // partial results and of the rows after theirs, in order, finished into the output.
            // (Each phase's accesses are proven in bounds only in its own launch.)
            let u = ScalarType::U64;
            let (tu, cu) = (cast(var("t"), u), cast(var("c"), u));
            let at = |array: &str| index(array, &[tu.clone(), cu.clone()]);
            let store2 = |array: &str, v: ast::SourceExpr| Stmt::Assign {
                place: Place::Index { array: array.into(), index: vec![tu.clone(), cu.clone()], span: Span::default() },
                op: None,
                value: v,
                span: Span::default(),
                id: ast::NodeId::UNSET,
            };
            // Folds row `r` (u64) into the partial results: from what they hold, or (`first`) from
            // the identity (which is not stored: it may not be finite, which `GPUJIT_CHECK=1`
            // reports). Folding a value into the identity gives the value itself (and its
            // position) for these operations, but for the sign of a zero sum, which the second
            // launch's start from the identity gives back: the row is the values themselves.
            let plain_first = matches!(rk.op, ReduceOp::Min | ReduceOp::Max | ReduceOp::ArgMin | ReduceOp::ArgMax | ReduceOp::Sum)
                || (rk.op == ReduceOp::Prod && !rk.acc.is_complex());
            let fold = |r: &str, first: bool| {
                let mut col = if first {
                    vec![let_mut("acc", var("id")), let_mut("ai", int(u64::MAX, POS))]
                } else {
                    vec![let_mut("acc", at("part")), let_mut("ai", if arg { at("part_i") } else { int(u64::MAX, POS) })]
                };
                let (v, vi) = value_at(&[var(r)], std::slice::from_ref(&cu), &mut col, r);
                if first && plain_first {
                    col.push(set("acc", v));
                    col.push(set("ai", vi));
                } else if first {
                    combine(rk, custom, "acc", "ai", v, vi, &mut col);
                } else {
                    // (Row r after the rows the partial result holds.)
                    combine_in_order(rk, custom, "acc", "ai", v, vi, &mut col);
                }
                col.push(store2("part", var("acc")));
                if arg {
                    col.push(store2("part_i", var("ai")));
                }
                for_range("c", int(0, it), var("m"), col)
            };
            // (The rows a thread as an expression: the CPU backend's bounds proof knows uniform
            // expressions, not the body's locals.)
            let per = || bin(BinOp::Div, var("k"), var("parts"));
            let mut blocks = vec![let_("r0", bin(BinOp::Mul, tu.clone(), cast(per(), u))), fold("r0", true)];
            let next = vec![let_("ku", bin(BinOp::Add, var("r0"), cast(var("rr"), u))), fold("ku", false)];
            blocks.push(for_range("rr", int(1, it), per(), next));
            // The second launch.
            let rows = || cast(dim("part", 0), u);
            // (Each block's rows after the block's before it; argmin/argmax from the first
            // block's, then in order.)
            let part = |array: &str, q: ast::SourceExpr| index(array, &[q, tu.clone()]);
            let mut column = if arg {
                vec![let_mut("acc", part("part", int(0, u))), let_mut("ai", part("part_i", int(0, u)))]
            } else {
                vec![let_mut("acc", var("id")), let_mut("ai", int(u64::MAX, POS))]
            };
            let mut partial = Vec::new();
            let vi = if arg { part("part_i", var("q")) } else { int(u64::MAX, POS) };
            combine_in_order(rk, custom, "acc", "ai", part("part", var("q")), vi, &mut partial);
            column.push(for_range("q", int(u64::from(arg), u), rows(), partial));
            let mut rest = Vec::new();
            let (v, vi) = value_at(&[var("rl")], std::slice::from_ref(&tu), &mut rest, "rl");
            combine_in_order(rk, custom, "acc", "ai", v, vi, &mut rest);
            let done = bin(BinOp::Mul, rows(), bin(BinOp::Div, cast(var("k"), u), rows()));
            column.push(for_range("rl", done, cast(var("k"), u), rest));
            column.push(store("out", tu.clone(), if arg { var("ai") } else { finish(rk, var("acc")) }));
            let phases = if_(bin(BinOp::Eq, var("phase"), int(0, ScalarType::U32)), blocks, Some(column));
            body.push(let_("t", cast(builtin(Builtin::Grid(Dim::X)), it)));
            body.push(stmt_if(bin(BinOp::Lt, var("t"), var("parts")), vec![phases]));
        }
        Strategy::Serial => {
            // One thread, the elements in order (few: a tail, or the last partial results).
            let mut all = vec![let_mut("acc", var("id")), let_mut("ai", int(u64::MAX, POS))];
            let mut kloop = Vec::new();
            let (v, vi) = value_at(&[], &[cast(var("kk"), ScalarType::U64)], &mut kloop, "kk");
            combine(rk, custom, "acc", "ai", v, vi, &mut kloop);
            all.push(for_range("kk", int(0, it), var("k"), kloop));
            all.push(store("out", int(0, ScalarType::U64), if arg { var("ai") } else { finish(rk, var("acc")) }));
            body.push(let_("f", cast(builtin(Builtin::Grid(Dim::X)), it)));
            body.push(stmt_if(bin(BinOp::Lt, var("f"), int(1, it)), all));
        }
        Strategy::Thread => {
            let mut inner = Vec::new();
            let kidx = if kn > 0 { split_index("f", kn, key.index32, "m", |d| dim(&shape_of, d), &mut inner) } else { Vec::new() };
            inner.push(let_mut("acc", var("id")));
            inner.push(let_mut("ai", int(u64::MAX, POS)));
            let mut kloop = Vec::new();
            let ridx = if rn > 0 { split_index("kk", rn, key.index32, "r", |d| dim(&shape_of, kn + d), &mut kloop) } else { Vec::new() };
            let (v, vi) = value_at(&kidx, &ridx, &mut kloop, "kk");
            combine(rk, custom, "acc", "ai", v, vi, &mut kloop);
            // (A `for` over `0..k`: the CPU backend's bounds proof knows its range.)
            inner.push(for_range("kk", int(0, it), var("k"), kloop));
            let at = cast(var("f"), ScalarType::U64);
            inner.push(if arg { store("out", at, var("ai")) } else { store("out", at, finish(rk, var("acc"))) });
            body.extend(fuse::grid_stride(key.index32, var("m"), inner));
        }
        Strategy::Block => {
            body.push(Stmt::Shared {
                name: "sv".into(),
                elem: TypeRef::Scalar(rk.acc),
                dims: vec![ast::SourceExpr::int(32)],
                span: Span::default(),
            });
            if arg {
                body.push(Stmt::Shared {
                    name: "si".into(),
                    elem: TypeRef::Scalar(POS),
                    dims: vec![ast::SourceExpr::int(32)],
                    span: Span::default(),
                });
            }
            body.push(let_("tid", cast(builtin(Builtin::ThreadIdx(Dim::X)), it)));
            body.push(let_("nt", cast(builtin(Builtin::BlockDim(Dim::X)), it)));
            body.push(let_("lane", bin(BinOp::Rem, builtin(Builtin::ThreadIdx(Dim::X)), int(32, ScalarType::U64))));
            body.push(let_("warp", bin(BinOp::Div, builtin(Builtin::ThreadIdx(Dim::X)), int(32, ScalarType::U64))));
            body.push(let_("nwarps", bin(BinOp::Div, builtin(Builtin::BlockDim(Dim::X)), int(32, ScalarType::U64))));
            // Each part a whole number of vector groups, so every group starts aligned.
            let vw = key.vector.max(1) as u64;
            let per_part = bin(BinOp::Div, bin(BinOp::Sub, bin(BinOp::Add, var("k"), var("parts")), int(1, it)), var("parts"));
            let rounded = bin(BinOp::Mul, bin(BinOp::Div, bin(BinOp::Add, per_part, int(vw - 1, it)), int(vw, it)), int(vw, it));
            body.push(let_("chunk", rounded));
            body.push(let_mut("row", cast(builtin(Builtin::BlockIdx(Dim::X)), it)));
            body.push(let_("rows", bin(BinOp::Mul, var("m"), var("parts"))));
            let mut row = vec![
                let_("mo", bin(BinOp::Div, var("row"), var("parts"))),
                let_("part", bin(BinOp::Rem, var("row"), var("parts"))),
                let_("k0", bin(BinOp::Mul, var("part"), var("chunk"))),
            ];
            row.push(let_mut("k1", bin(BinOp::Add, var("k0"), var("chunk"))));
            row.push(stmt_if(bin(BinOp::Gt, var("k1"), var("k")), vec![set("k1", var("k"))]));
            let kidx = if kn > 0 { split_index("mo", kn, key.index32, "m", |d| dim(&shape_of, d), &mut row) } else { Vec::new() };
            row.push(let_mut("acc", var("id")));
            row.push(let_mut("ai", int(u64::MAX, POS)));
            if vw > 1 {
                // Flat, aligned operands: groups of `vw` neighbouring elements a thread (loads
                // first, so LLVM merges them into 16-byte accesses); then the few elements after
                // the last whole group, one a thread.
                row.push(let_mut("gg", bin(BinOp::Add, bin(BinOp::Div, var("k0"), int(vw, it)), var("tid"))));
                row.push(let_("g1", bin(BinOp::Div, var("k1"), int(vw, it))));
                let mut vloop = Vec::new();
                vloop.push(let_("gbase", bin(BinOp::Mul, cast(var("gg"), ScalarType::U64), int(vw, ScalarType::U64))));
                let mut loads = Vec::new();
                for lane in 0..vw {
                    let i = format!("g{lane}");
                    vloop.push(let_(&i, bin(BinOp::Add, var("gbase"), int(lane, ScalarType::U64))));
                    loads.push(fuse::emit_loads(&key.nodes, &key.operands, &[var(&i)], &format!("l{lane}_"), &mut vloop));
                }
                for (lane, loaded) in loads.into_iter().enumerate() {
                    let i = format!("g{lane}");
                    let roots = fuse::emit_values_loaded(
                        &key.nodes,
                        &key.operands,
                        &key.callees,
                        &[var(&i)],
                        &format!("t{lane}_"),
                        loaded,
                        &mut vloop,
                    );
                    combine(rk, custom, "acc", "ai", cast(var(&roots[0]), rk.acc), var(&i), &mut vloop);
                }
                vloop.push(fuse::add_assign("gg", var("nt")));
                row.push(fuse::while_(bin(BinOp::Lt, var("gg"), var("g1")), vloop));
                row.push(let_mut("kk", bin(BinOp::Add, bin(BinOp::Mul, var("g1"), int(vw, it)), var("tid"))));
            } else {
                row.push(let_mut("kk", bin(BinOp::Add, var("k0"), var("tid"))));
            }
            let mut kloop = Vec::new();
            let ridx = if rn > 0 { split_index("kk", rn, key.index32, "r", |d| dim(&shape_of, kn + d), &mut kloop) } else { Vec::new() };
            let (v, vi) = value_at(&kidx, &ridx, &mut kloop, "kk");
            combine(rk, custom, "acc", "ai", v, vi, &mut kloop);
            // One by one: `nt` apart, or after the groups the few left (one thread has them).
            kloop.push(fuse::add_assign("kk", var("nt")));
            row.push(fuse::while_(bin(BinOp::Lt, var("kk"), var("k1")), kloop));
            warp_tree(rk, custom, &mut row);
            let mut lane0 = vec![store("sv", var("warp"), var("acc"))];
            if arg {
                lane0.push(store("si", var("warp"), var("ai")));
            }
            row.push(stmt_if(bin(BinOp::Eq, var("lane"), int(0, ScalarType::U64)), lane0));
            row.push(Stmt::Barrier(Span::default()));
            let mut w0 = vec![set("acc", var("id")), set("ai", int(u64::MAX, POS))];
            let mut load = vec![set("acc", index("sv", &[var("lane")]))];
            if arg {
                load.push(set("ai", index("si", &[var("lane")])));
            }
            w0.push(stmt_if(bin(BinOp::Lt, var("lane"), var("nwarps")), load));
            warp_tree(rk, custom, &mut w0);
            let out_at = cast(var("row"), ScalarType::U64);
            let mut write = Vec::new();
            if arg && key.outputs.len() == 1 {
                write.push(store("out", out_at, var("ai")));
            } else {
                write.push(store("out", out_at.clone(), finish(rk, var("acc"))));
                if arg {
                    write.push(store("out_i", out_at, var("ai")));
                }
            }
            w0.push(stmt_if(bin(BinOp::Eq, var("lane"), int(0, ScalarType::U64)), write));
            row.push(stmt_if(bin(BinOp::Eq, var("warp"), int(0, ScalarType::U64)), w0));
            row.push(Stmt::Barrier(Span::default()));
            row.push(fuse::add_assign("row", cast(builtin(Builtin::GridDim(Dim::X)), it)));
            body.push(fuse::while_(bin(BinOp::Lt, var("row"), var("rows")), row));
        }
    }
    let name = match rk.strategy {
        Strategy::Block | Strategy::Thread => "fused_reduce",
        Strategy::Chunks => "fused_reduce_chunks",
        Strategy::Serial => "fused_reduce_serial",
        Strategy::Rows => "fused_reduce_rows",
        Strategy::Columns => "fused_reduce_columns",
        Strategy::RowBlocks => "fused_reduce_row_blocks",
    };
    let mut src = fuse::source(name, params, body, callees);
    src.options.aligned16 = key.vector > 1;
    src
}

/// Bytes a thread of a flat reduction reads per step: `GPUJIT_REDUCE_BYTES` (16, 32 or 64),
/// default 32.
fn reduce_bytes() -> usize {
    static BYTES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *BYTES.get_or_init(|| {
        let v: Option<usize> = std::env::var("GPUJIT_REDUCE_BYTES").ok().and_then(|v| v.parse().ok());
        v.filter(|b| matches!(b, 16 | 32 | 64)).unwrap_or(32)
    })
}

/// Blocks of a two-pass reduction's first pass, in multiples of what the device holds at once:
/// `GPUJIT_REDUCE_WAVES` (1 to 8), default 1.
fn reduce_waves() -> usize {
    static WAVES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *WAVES
        .get_or_init(|| std::env::var("GPUJIT_REDUCE_WAVES").ok().and_then(|v| v.parse().ok()).filter(|w| (1..=8).contains(w)).unwrap_or(1))
}
