//! Fusion: one or more [`Expr`]essions → the source of ONE kernel → the ordinary pipeline
//! (specialize → lower → PTX or host code), cached.
//!
//! The kernel's source is generated from the expression's operations, the kinds of its operands
//! (array or scalar, element type, dimensions) and the plan (a flat loop when every array is
//! contiguous and of the result's shape, else an N-D index; 32-bit indices when the result has
//! fewer than 2^31 elements). Those make the cache key, so re-evaluating an expression of the same
//! form, whatever the scalars' values and the arrays' addresses, finds its kernel with one hash
//! lookup. The kernel is a grid-stride loop; the grid is sized from the device.

use crate::array::{DeviceArray, Element};
use crate::device::Device;
use crate::error::{Error, Result};
use crate::expr::{broadcast_shapes, Expr, ExprGraph, Node};
use crate::fxhash::{FxBuild, FxHasher};
use crate::kernel::Kernel;
use crate::launch::{Arg, KernelArg, LaunchConfig, MAX_ARGS};
use crate::stream::Stream;
use gpujit_codegen::ast::{self, Builtin, Dim, ExprKind, KernelOptions, KernelSource, Param, ParamKind, Place, Span, Stmt, TypeRef};
use gpujit_codegen::specialize::MAX_DIMS;
use gpujit_codegen::ScalarType;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

/// Threads per block of the generated kernels.
pub(crate) const BLOCK: u32 = 256;

/// What a generated kernel depends on besides its operations.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Operand {
    /// `unit` bit `d` set: axis `d` is read at index 0 (the argument's extent there is 1, the
    /// launch's index space broadcasting it: a row or a column beside a matrix).
    Array {
        elem: ScalarType,
        ndim: u8,
        unit: u8,
    },
    Scalar(ScalarType),
}

/// The cache key of a generated kernel.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    pub kind: KernelKind,
    pub nodes: Vec<Node>,
    pub operands: Vec<Operand>,
    pub outputs: Vec<ScalarType>,
    pub callees: Vec<&'static str>,
    /// Dimensions of the index space (1 for the flat plan).
    pub ndim: u8,
    pub index32: bool,
    /// Elements a thread handles at once in the flat plan (1, or 16 bytes' worth when every
    /// array is 16-byte aligned: LLVM then emits 16-byte vector accesses).
    pub vector: u8,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum KernelKind {
    Elementwise,
    Reduce(crate::reduce::ReduceKey),
}

/// Generated kernels by the hash of their key (a few keys may share a hash).
type Cache = HashMap<u64, Vec<(Key, Arc<Kernel>)>, FxBuild>;

fn cache() -> &'static RwLock<Cache> {
    static CACHE: OnceLock<RwLock<Cache>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// The parts of a key, borrowed: looking a kernel up allocates nothing.
pub(crate) struct KeyParts<'k, 'a> {
    pub kind: &'k KernelKind,
    pub nodes: &'k [Node],
    /// The operands as they are passed (only their kinds count).
    pub operands: &'k [Arg<'a>],
    /// Each operand's axes read at index 0 ([`Operand::Array`]'s `unit`; none where absent).
    pub units: &'k [u8],
    pub outputs: &'k [Arg<'a>],
    pub callees: &'k [ast::Callee],
    pub ndim: u8,
    pub index32: bool,
    pub vector: u8,
}

impl KeyParts<'_, '_> {
    fn operand(&self, i: usize, a: &Arg<'_>) -> Operand {
        match (operand(a), self.units.get(i)) {
            (Operand::Array { elem, ndim, .. }, Some(&unit)) => Operand::Array { elem, ndim, unit },
            (o, _) => o,
        }
    }

    fn hash(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = FxHasher::default();
        self.kind.hash(&mut h);
        self.nodes.hash(&mut h);
        for (i, a) in self.operands.iter().enumerate() {
            self.operand(i, a).hash(&mut h);
        }
        for a in self.outputs {
            operand_elem(a).hash(&mut h);
        }
        for c in self.callees {
            c.name.hash(&mut h);
        }
        (self.ndim, self.index32, self.vector).hash(&mut h);
        h.finish()
    }

    fn matches(&self, k: &Key) -> bool {
        k.kind == *self.kind
            && k.nodes == self.nodes
            && k.operands.len() == self.operands.len()
            && k.operands.iter().zip(self.operands).enumerate().all(|(i, (o, a))| *o == self.operand(i, a))
            && k.outputs.len() == self.outputs.len()
            && k.outputs.iter().zip(self.outputs).all(|(o, a)| *o == operand_elem(a))
            && k.callees.len() == self.callees.len()
            && k.callees.iter().zip(self.callees).all(|(n, c)| *n == c.name)
            && (k.ndim, k.index32, k.vector) == (self.ndim, self.index32, self.vector)
    }

    fn to_key(&self) -> Key {
        Key {
            kind: self.kind.clone(),
            nodes: self.nodes.to_vec(),
            operands: self.operands.iter().enumerate().map(|(i, a)| self.operand(i, a)).collect(),
            outputs: self.outputs.iter().map(operand_elem).collect(),
            callees: self.callees.iter().map(|c| c.name).collect(),
            ndim: self.ndim,
            index32: self.index32,
            vector: self.vector,
        }
    }
}

/// The kernel for `parts`, generated by `build` on first use.
pub(crate) fn kernel(parts: &KeyParts<'_, '_>, build: impl FnOnce(&Key) -> KernelSource) -> Arc<Kernel> {
    let hash = parts.hash();
    if let Some(list) = cache().read().unwrap_or_else(|p| p.into_inner()).get(&hash) {
        if let Some((_, k)) = list.iter().find(|(key, _)| parts.matches(key)) {
            return k.clone();
        }
    }
    let key = parts.to_key();
    let k = Arc::new(Kernel::new(build(&key)));
    let mut cache = cache().write().unwrap_or_else(|p| p.into_inner());
    let list = cache.entry(hash).or_default();
    if let Some((_, found)) = list.iter().find(|(key, _)| parts.matches(key)) {
        return found.clone();
    }
    list.push((key, k.clone()));
    GENERATED_HERE.with(|g| g.set(g.get() + 1));
    k
}

thread_local! {
    /// Kernels this thread generated (see [`kernels_generated_here`]).
    static GENERATED_HERE: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// How many generated kernels the calling thread has added to the process's cache: unlike
/// [`cached_kernels`], work on other threads leaves it unchanged.
pub fn kernels_generated_here() -> usize {
    GENERATED_HERE.with(|g| g.get())
}

/// A function called before each launch of a generated kernel, with the kernel and its
/// arguments (tools and tests use it, e.g. to check every generated kernel's PTX).
pub type LaunchHook = fn(&Kernel, &[Arg<'_>]);

/// The hook as a function address (0: none): read on every launch without a lock.
static HOOK: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Installs (or with `None` removes) the [`LaunchHook`].
pub fn set_launch_hook(hook: Option<LaunchHook>) {
    HOOK.store(hook.map_or(0, |h| h as usize), std::sync::atomic::Ordering::SeqCst);
}

/// Launches a generated kernel.
pub(crate) fn launch(k: &Kernel, config: LaunchConfig<'_>, args: &[Arg<'_>]) -> Result<()> {
    let hook = HOOK.load(std::sync::atomic::Ordering::Acquire);
    if hook != 0 {
        // SAFETY: a non-zero HOOK holds the address of a `LaunchHook` stored by set_launch_hook
        // (function pointers and usize have the same size on every supported target).
        let hook: LaunchHook = unsafe { std::mem::transmute::<usize, LaunchHook>(hook) };
        hook(k, args);
    }
    k.launch_slice(&config, args)
}

/// Device memory for the partial results of two-pass reductions, kept for reuse so a
/// reduction in a loop allocates nothing. Each buffer remembers the stream that used it last (0:
/// the legacy default stream). Handing it on as soon as the kernels using it are enqueued is
/// sound when the next user's work is ordered after them: on the same stream, or when one of
/// the two is the legacy default stream (which waits for, and is waited for by, every blocking
/// stream, and `Device::new_stream` makes blocking streams). A buffer used while a graph is
/// captured belongs to the graph.
pub(crate) struct Scratch<'s> {
    array: Option<DeviceArray<u64>>,
    stream: Option<&'s Stream>,
}

/// Pooled buffers and the stream (id, 0 for the default stream) that used each last.
type Pool = std::sync::Mutex<Vec<(DeviceArray<u64>, u64)>>;

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| {
        extern "C" {
            fn atexit(f: extern "C" fn()) -> std::ffi::c_int;
        }
        // SAFETY: `atexit` (C's, always linked) stores the function pointer; `free_pool` is a
        // plain function that only locks the pool and drops its arrays.
        let _ = unsafe { atexit(free_pool) };
        Default::default()
    })
}

/// Frees the pooled buffers when the process exits, before the driver tears down its contexts
/// (registered after the driver's own handler, it runs first), so nothing is leaked (as
/// compute-sanitizer's leak check sees it).
extern "C" fn free_pool() {
    // try_lock: a thread still using the pool at exit keeps it (exit must not wait).
    if let Ok(mut pool) = pool().try_lock() {
        pool.clear();
    }
}

/// Scratch memory of at least `words` 8-byte words on `device`, for work on `stream`.
pub(crate) fn scratch<'s>(device: &Device, words: usize, stream: Option<&'s Stream>) -> Result<Scratch<'s>> {
    let tag = stream.map_or(0, |s| s.id);
    if !stream.is_some_and(|s| s.capture.is_some()) {
        let mut pool = pool().lock().unwrap_or_else(|p| p.into_inner());
        let fits =
            |(a, t): &(DeviceArray<u64>, u64)| a.device.id() == device.id() && a.len() >= words && (*t == tag || *t == 0 || tag == 0);
        if let Some(k) = pool.iter().position(fits) {
            return Ok(Scratch { array: Some(pool.swap_remove(k).0), stream });
        }
    }
    Ok(Scratch { array: Some(DeviceArray::uninit_shape(device, &[words.max(4096)])?), stream })
}

impl Scratch<'_> {
    pub(crate) fn array(&mut self) -> &mut DeviceArray<u64> {
        self.array.as_mut().unwrap_or_else(|| unreachable!("the array is taken only on drop"))
    }
}

impl Drop for Scratch<'_> {
    fn drop(&mut self) {
        let Some(a) = self.array.take() else { return };
        if let Some(capture) = self.stream.and_then(|s| s.capture.as_ref()) {
            capture.lock().unwrap_or_else(|p| p.into_inner()).keep.push(Box::new(a));
            return;
        }
        let mut pool = pool().lock().unwrap_or_else(|p| p.into_inner());
        // Keep a few buffers; free the smallest beyond that.
        pool.push((a, self.stream.map_or(0, |s| s.id)));
        if pool.len() > 8 {
            pool.sort_by_key(|a| std::cmp::Reverse(a.0.len()));
            pool.truncate(8);
        }
    }
}

/// How many distinct generated kernels the process holds (each compiled once per device and
/// argument types): a loop re-evaluating one expression leaves it unchanged.
pub fn cached_kernels() -> usize {
    cache().read().unwrap_or_else(|p| p.into_inner()).values().map(Vec::len).sum()
}

/// Several expressions evaluated by one kernel, each into its own output; every output has the
/// same shape and each expression broadcasts to it.
///
/// ```ignore
/// Fusion::new().output(&mut sum, &x + &y).output(&mut diff, &x - &y).run()?;
/// ```
#[derive(Default)]
pub struct Fusion<'a> {
    graph: ExprGraph<'a>,
    outputs: Vec<Arg<'a>>,
    error: Option<String>,
    stream: Option<&'a Stream>,
}

impl<'a> Fusion<'a> {
    pub fn new() -> Fusion<'a> {
        Fusion::default()
    }

    /// Adds `value` written to `out` (`&mut DeviceArray<T>` or an `ArrayViewMut<T>`).
    pub fn output<T: Element>(mut self, out: impl KernelArg<'a>, value: impl crate::expr::IntoExpr<'a, T>) -> Fusion<'a> {
        let out = out.into_arg();
        let value = value.into_expr();
        match out {
            Arg::Array { elem, writable: true, .. } if elem == T::TYPE => {}
            Arg::Array { writable: true, elem, .. } => {
                self.error.get_or_insert(format!("output {} holds {elem} but its expression gives {}", self.outputs.len() + 1, T::TYPE));
            }
            _ => {
                self.error.get_or_insert(format!("output {} is not a writable array (pass `&mut array`)", self.outputs.len() + 1));
            }
        }
        // The shapes broadcast together (each must broadcast to the outputs' shape, checked when
        // the kernel runs).
        self.graph.append(&value.graph);
        self.outputs.push(out);
        self
    }

    /// Adds the untyped `value` written to `out` (the caller checked their element types).
    pub(crate) fn output_graph(mut self, out: Arg<'a>, value: &ExprGraph<'a>) -> Fusion<'a> {
        if !matches!(out, Arg::Array { writable: true, .. }) {
            self.error.get_or_insert(format!("output {} is not a writable array", self.outputs.len() + 1));
        }
        self.graph.append(value);
        self.outputs.push(out);
        self
    }

    /// Runs the kernel on `stream` instead of the device's default stream.
    pub fn on(mut self, stream: &'a Stream) -> Fusion<'a> {
        self.stream = Some(stream);
        self
    }

    /// Runs the kernel (asynchronously on a GPU).
    pub fn run(self) -> Result<()> {
        if let Some(e) = self.error.or(self.graph.error.clone()) {
            return Err(Error::Expression(e));
        }
        run_elementwise(&self.graph, &self.outputs, self.stream)
    }
}

impl<'a, T: Element> Expr<'a, T> {
    /// Evaluates the expression into a new array of its (broadcast) shape, on the device of its
    /// arrays (or [`Device::current`] for scalars only, giving one element).
    pub fn eval(&self) -> Result<DeviceArray<T>> {
        self.eval_maybe_on(None)
    }

    /// As [`Expr::eval`], on `stream` (of the expression's device).
    pub fn eval_on(&self, stream: &Stream) -> Result<DeviceArray<T>> {
        self.eval_maybe_on(Some(stream))
    }

    fn eval_maybe_on(&self, stream: Option<&Stream>) -> Result<DeviceArray<T>> {
        if let Some(e) = &self.graph.error {
            return Err(Error::Expression(e.clone()));
        }
        let device = match stream {
            Some(s) if self.graph.inputs.iter().all(|a| matches!(a, Arg::Scalar { .. } | Arg::Struct { .. })) => s.device.clone(),
            _ => expr_device(&self.graph)?,
        };
        let shape = if self.graph.shape.is_empty() { vec![1] } else { self.graph.shape.to_vec() };
        let mut out = DeviceArray::<T>::uninit_shape(&device, &shape)?;
        run_elementwise(&self.graph, &[(&mut out).into_arg()], stream)?;
        Ok(out)
    }

    /// Evaluates the expression into `out`, whose shape the expression must broadcast to.
    pub fn eval_into(&self, out: impl KernelArg<'a>) -> Result<()> {
        self.eval_into_maybe_on(out, None)
    }

    /// As [`Expr::eval_into`], on `stream` (of the expression's device): ordered after the
    /// stream's earlier work, and captured when the stream is a graph's
    /// ([`crate::Graph::capture`]).
    pub fn eval_into_on(&self, out: impl KernelArg<'a>, stream: &Stream) -> Result<()> {
        self.eval_into_maybe_on(out, Some(stream))
    }

    fn eval_into_maybe_on(&self, out: impl KernelArg<'a>, stream: Option<&Stream>) -> Result<()> {
        if let Some(e) = &self.graph.error {
            return Err(Error::Expression(e.clone()));
        }
        let out = out.into_arg();
        match out {
            Arg::Array { elem, writable: true, .. } if elem == T::TYPE => run_elementwise(&self.graph, &[out], stream),
            Arg::Array { writable: true, elem, .. } => {
                Err(Error::Expression(format!("the output holds {elem} but the expression gives {}", T::TYPE)))
            }
            _ => Err(Error::Expression("the output is not a writable array (pass `&mut array`)".into())),
        }
    }
}

/// Several expressions evaluated by one kernel into new arrays of their common (broadcast) shape:
/// `(&x + &y, &x - &y).eval()?`, and what a several-output `#[gpu_vectorize]` function's `map`
/// gives. Operands the expressions share are read once.
pub trait EvalAll {
    /// A tuple of one array per expression.
    type Arrays;
    /// Evaluates every expression in one kernel (asynchronously on a GPU).
    fn eval(&self) -> Result<Self::Arrays>;
}

macro_rules! eval_all {
    ($($n:tt $t:ident),*) => {
        impl<'a, $($t: Element),*> EvalAll for ($(Expr<'a, $t>,)*) {
            type Arrays = ($(DeviceArray<$t>,)*);
            fn eval(&self) -> Result<Self::Arrays> {
                let mut all = ExprGraph::default();
                $( all.append(&self.$n.graph); )*
                if let Some(e) = &all.error {
                    return Err(Error::Expression(e.clone()));
                }
                let device = expr_device(&all)?;
                let shape = if all.shape.is_empty() { vec![1] } else { all.shape.to_vec() };
                let mut arrays = ($(DeviceArray::<$t>::uninit_shape(&device, &shape)?,)*);
                Fusion::new()$(.output(&mut arrays.$n, self.$n.clone()))*.run()?;
                Ok(arrays)
            }
        }
    };
}
eval_all!(0 A, 1 B);
eval_all!(0 A, 1 B, 2 C);
eval_all!(0 A, 1 B, 2 C, 3 D);

/// The device an expression runs on: that of its first array (or the current device).
pub(crate) fn expr_device(g: &ExprGraph<'_>) -> Result<Device> {
    for a in &g.inputs {
        if let Arg::Array { device, any_device: false, .. } = a {
            return Ok((*device).clone());
        }
    }
    Device::current()
}

/// `shape`/`strides` of `a` seen with the `ndim`-dimensional shape `to` (NumPy broadcasting:
/// new leading axes and axes of extent 1 get stride 0).
pub(crate) fn broadcast_arg<'a>(a: &Arg<'a>, to: &[usize]) -> Arg<'a> {
    let mut a = *a;
    if let Arg::Array { ndim, shape, strides, .. } = &mut a {
        let n = *ndim as usize;
        let mut s = [0u64; MAX_DIMS];
        let mut t = [0i64; MAX_DIMS];
        for d in 0..to.len() {
            if d + n >= to.len() {
                let src = d + n - to.len();
                s[d] = to[d] as u64;
                t[d] = if shape[src] == 1 && to[d] != 1 { 0 } else { strides[src] };
            } else {
                s[d] = to[d] as u64;
                t[d] = 0;
            }
        }
        *ndim = to.len() as u8;
        *shape = s;
        *strides = t;
    }
    a
}

/// Whether `a` is a C-contiguous array of exactly `shape`.
pub(crate) fn contiguous_of(a: &Arg<'_>, shape: &[usize]) -> bool {
    match a {
        Arg::Array { ndim, shape: s, .. } => {
            *ndim as usize == shape.len()
                && s[..shape.len()].iter().zip(shape).all(|(a, b)| *a as usize == *b)
                && matches!(a.arg_type(), gpujit_codegen::specialize::ArgType::Array { contiguous: true, .. })
        }
        Arg::Scalar { .. } | Arg::Struct { .. } => true,
    }
}

/// `a` as a 1-D array of `n` elements (it is contiguous).
pub(crate) fn flat_arg<'a>(a: &Arg<'a>, n: usize) -> Arg<'a> {
    let mut a = *a;
    if let Arg::Array { ndim, shape, strides, .. } = &mut a {
        *ndim = 1;
        *shape = [n as u64, 0, 0, 0];
        *strides = [1, 0, 0, 0];
    }
    a
}

pub(crate) fn operand(a: &Arg<'_>) -> Operand {
    match *a {
        Arg::Array { elem, ndim, .. } => Operand::Array { elem, ndim, unit: 0 },
        Arg::Scalar { ty, .. } | Arg::Struct { ty, .. } => Operand::Scalar(ty),
    }
}

/// The number of blocks for `n` elements handled by a grid-stride loop of `BLOCK` threads:
/// enough to fill a GPU, no more; one element a thread on the CPU backend.
pub(crate) fn grid_for(device: &Device, n: usize) -> u32 {
    let blocks = n.div_ceil(BLOCK as usize).max(1);
    device.backend().grid_stride_blocks(blocks, resident_blocks(device) as usize).min(i32::MAX as usize) as u32
}

/// Blocks for an elementwise kernel over `groups` groups of elements. On a GPU, one thread a
/// group (measured on an H100: 6-16% faster than a grid capped at the resident blocks, which
/// leaves each thread a loop); `GPUJIT_GRID_WAVES=k` caps it at k times the resident blocks
/// instead. On the CPU backend, the resident blocks (each block is a task for a worker).
fn elementwise_grid(device: &Device, groups: usize) -> u32 {
    static WAVES: OnceLock<Option<usize>> = OnceLock::new();
    let waves = *WAVES.get_or_init(|| std::env::var("GPUJIT_GRID_WAVES").ok().and_then(|v| v.parse().ok()).filter(|w| *w > 0));
    let blocks = groups.div_ceil(BLOCK as usize).max(1);
    let cap = match waves {
        Some(w) => w.saturating_mul(resident_blocks(device) as usize),
        // One thread a group on both backends (see `Backend::grid_stride_blocks`).
        None => i32::MAX as usize,
    };
    blocks.min(cap).min(i32::MAX as usize) as u32
}

/// Blocks of `BLOCK` threads the device runs at once.
pub(crate) fn resident_blocks(device: &Device) -> u32 {
    device.backend().resident_blocks(BLOCK)
}

fn run_elementwise<'a>(graph: &ExprGraph<'a>, outputs: &[Arg<'a>], stream: Option<&Stream>) -> Result<()> {
    let Some(Arg::Array { ndim, shape, .. }) = outputs.first() else {
        return Err(Error::Expression("nothing to evaluate".into()));
    };
    let mut dims = [0usize; MAX_DIMS];
    for (d, s) in dims.iter_mut().zip(&shape[..*ndim as usize]) {
        *d = *s as usize;
    }
    let out_shape = &dims[..*ndim as usize];
    for (j, o) in outputs.iter().enumerate() {
        if let Arg::Array { ndim, shape, .. } = o {
            if shape[..*ndim as usize].iter().map(|&s| s as usize).ne(out_shape.iter().copied()) {
                return Err(Error::Expression(format!(
                    "output {} has shape {:?}, output 1 {out_shape:?}",
                    j + 1,
                    &shape[..*ndim as usize]
                )));
            }
        }
    }
    if graph.shape.as_slice() != out_shape && broadcast_shapes(&graph.shape, out_shape).as_deref() != Some(out_shape) {
        return Err(Error::Expression(format!(
            "an expression of shape {:?} cannot be written to an output of shape {out_shape:?}",
            graph.shape
        )));
    }
    let n: usize = out_shape.iter().product();
    if n == 0 {
        return Ok(());
    }
    let nargs = graph.inputs.len() + outputs.len() + 1;
    if nargs > MAX_ARGS {
        return Err(Error::Expression(format!("an evaluation takes at most {MAX_ARGS} operands and outputs together")));
    }
    let flat = graph.inputs.iter().chain(outputs).all(|a| contiguous_of(a, out_shape));
    let index32 = n <= i32::MAX as usize;
    let mut args = [Arg::NONE; MAX_ARGS];
    for (slot, a) in args.iter_mut().zip(graph.inputs.iter().chain(outputs)) {
        *slot = if flat { flat_arg(a, n) } else { broadcast_arg(a, out_shape) };
    }
    args[nargs - 1] = if index32 { (n as u32).into_arg() } else { (n as u64).into_arg() };
    let args = &args[..nargs];
    let ndim = if flat { 1 } else { out_shape.len() as u8 };
    let current;
    let device: &Device = match outputs.iter().chain(&graph.inputs).find_map(|a| match a {
        Arg::Array { device, any_device: false, .. } => Some(*device),
        _ => None,
    }) {
        Some(d) => d,
        None => match stream {
            Some(s) => &s.device,
            None => {
                current = Device::current()?;
                &current
            }
        },
    };
    let vector = if flat && groups_elements(device) { vector_width(args, vector_bytes()) } else { 1 };
    let nin = graph.inputs.len();
    let parts = KeyParts {
        kind: &KernelKind::Elementwise,
        nodes: &graph.nodes,
        operands: &args[..nin],
        units: &[],
        outputs: &args[nin..nargs - 1],
        callees: &graph.callees,
        ndim,
        index32,
        vector,
    };
    let k = kernel(&parts, |key| elementwise_source(key, &graph.callees));
    let groups = n.div_ceil(vector as usize);
    let grid = elementwise_grid(device, groups);
    let mut config = LaunchConfig::new(grid, BLOCK);
    config.stream = stream;
    launch(&k, config, args)
}

/// Launches a `forall!` kernel over the index space `extents` (its last parameters), on the
/// device of its array arguments, with a grid sized from the device.
pub fn launch_forall<'a>(k: &Kernel, extents: &[usize], args: impl crate::launch::KernelArgs<'a>) -> Result<()> {
    launch_forall_on(k, extents, args, None)
}

/// [`launch_forall`] on `stream` (`forall!(n, |i| ..., stream = &s)`).
pub fn launch_forall_on<'a>(
    k: &Kernel,
    extents: &[usize],
    args: impl crate::launch::KernelArgs<'a>,
    stream: Option<&Stream>,
) -> Result<()> {
    let mut buf = [Arg::NONE; MAX_ARGS];
    let n = args.collect(&mut buf);
    if n + extents.len() > MAX_ARGS {
        return Err(Error::Unsupported {
            kernel: k.name().to_string(),
            message: format!("a forall! body captures at most {} values", MAX_ARGS - extents.len()),
        });
    }
    for (slot, e) in buf[n..].iter_mut().zip(extents) {
        *slot = (*e as u64).into_arg();
    }
    let total = extents.iter().try_fold(1usize, |a, b| a.checked_mul(*b));
    let Some(total) = total else {
        return Err(Error::LaunchConfig { kernel: k.name().to_string(), message: format!("the index space {extents:?} overflows usize") });
    };
    if total == 0 {
        return Ok(());
    }
    let args = &buf[..n + extents.len()];
    let grid = match (
        args.iter().find_map(|a| match a {
            Arg::Array { device, any_device: false, .. } => Some(*device),
            _ => None,
        }),
        stream,
    ) {
        (Some(d), _) => grid_for(d, total),
        (None, Some(s)) => grid_for(&s.device, total),
        (None, None) => grid_for(&Device::current()?, total),
    };
    let mut config = LaunchConfig::new(grid, BLOCK);
    config.stream = stream;
    launch(k, config, args)
}

/// Whether a thread of a generated kernel on `device` takes a group of neighbouring elements
/// ([`Backend::groups_elements`](crate::backend::Backend::groups_elements), or inside
/// [`gpu_shaped`]).
pub(crate) fn groups_elements(device: &Device) -> bool {
    device.backend().groups_elements() || GPU_SHAPED.with(|g| g.get())
}

thread_local! {
    static GPU_SHAPED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with the elementwise kernels its expressions generate in a GPU's shape whatever
/// the device (a group of neighbouring elements a thread): the golden tests check the GPU's
/// code of programs they run on the CPU backend.
#[doc(hidden)]
pub fn gpu_shaped<R>(f: impl FnOnce() -> R) -> R {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            GPU_SHAPED.with(|g| g.set(self.0));
        }
    }
    let _reset = Reset(GPU_SHAPED.with(|g| g.replace(true)));
    f()
}

/// `GPUJIT_VECTORIZE=0` turns 16-byte accesses off (to measure what they bring).
fn vectorize() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var("GPUJIT_VECTORIZE").map(|v| v != "0").unwrap_or(true))
}

/// Bytes of the widest array a thread of the flat plan reads at once: `GPUJIT_VECTOR_BYTES`
/// (16, 32 or 64; default 16).
pub(crate) fn vector_bytes() -> usize {
    static BYTES: OnceLock<usize> = OnceLock::new();
    *BYTES.get_or_init(|| {
        let v: Option<usize> = std::env::var("GPUJIT_VECTOR_BYTES").ok().and_then(|v| v.parse().ok());
        v.filter(|b| matches!(b, 16 | 32 | 64)).unwrap_or(16)
    })
}

/// Elements a thread of the flat plan handles at once: 16 bytes of the widest element type when
/// every array's data is 16-byte aligned (at most 8), else 1.
pub(crate) fn vector_width(args: &[Arg<'_>], bytes: usize) -> u8 {
    let mut widest = 0;
    for a in args {
        if let Arg::Array { elem, ptr, .. } = a {
            if ptr % 16 != 0 {
                return 1;
            }
            widest = widest.max(elem.size_bytes());
        }
    }
    if !vectorize() || widest == 0 {
        return 1;
    }
    (bytes / widest).clamp(1, 16) as u8
}

pub(crate) fn operand_elem(a: &Arg<'_>) -> ScalarType {
    match *a {
        Arg::Array { elem, .. } => elem,
        Arg::Scalar { ty, .. } | Arg::Struct { ty, .. } => ty,
    }
}

// ---- Building the kernel's source -------------------------------------------------------------

pub(crate) fn e(kind: ExprKind) -> ast::SourceExpr {
    ast::SourceExpr::new(kind, Span::default())
}

pub(crate) fn var(name: &str) -> ast::SourceExpr {
    e(ExprKind::Var(name.to_string()))
}

pub(crate) fn int(v: u64, t: ScalarType) -> ast::SourceExpr {
    e(ExprKind::Int(v as u128, Some(t)))
}

pub(crate) fn bin(op: ast::BinOp, a: ast::SourceExpr, b: ast::SourceExpr) -> ast::SourceExpr {
    e(ExprKind::Binary(op, Box::new(a), Box::new(b)))
}

pub(crate) fn cast(a: ast::SourceExpr, t: ScalarType) -> ast::SourceExpr {
    e(ExprKind::Cast(Box::new(a), TypeRef::Scalar(t)))
}

pub(crate) fn let_(name: &str, init: ast::SourceExpr) -> Stmt {
    Stmt::Let { name: name.to_string(), mutable: false, ty: None, init: Some(init), span: Span::default(), id: ast::NodeId::UNSET }
}

pub(crate) fn let_mut(name: &str, init: ast::SourceExpr) -> Stmt {
    Stmt::Let { name: name.to_string(), mutable: true, ty: None, init: Some(init), span: Span::default(), id: ast::NodeId::UNSET }
}

pub(crate) fn set(name: &str, value: ast::SourceExpr) -> Stmt {
    Stmt::Assign { place: Place::Var(name.to_string(), Span::default()), op: None, value, span: Span::default(), id: ast::NodeId::UNSET }
}

/// `name += value;`
pub(crate) fn add_assign(name: &str, value: ast::SourceExpr) -> Stmt {
    Stmt::Assign {
        place: Place::Var(name.to_string(), Span::default()),
        op: Some(ast::BinOp::Add),
        value,
        span: Span::default(),
        id: ast::NodeId::UNSET,
    }
}

/// `while cond { body }`
pub(crate) fn while_(cond: ast::SourceExpr, body: Vec<Stmt>) -> Stmt {
    Stmt::While { cond, body: ast::Block { stmts: body }, label: None, span: Span::default() }
}

pub(crate) fn if_(cond: ast::SourceExpr, then: Vec<Stmt>, otherwise: Option<Vec<Stmt>>) -> Stmt {
    Stmt::If { cond, then: ast::Block { stmts: then }, otherwise: otherwise.map(|s| ast::Block { stmts: s }), span: Span::default() }
}

pub(crate) fn index(array: &str, idx: &[ast::SourceExpr]) -> ast::SourceExpr {
    e(ExprKind::Index { array: array.to_string(), index: idx.to_vec() })
}

/// Operand `i` (`a{i}`) at `idx`, its unit axes at 0.
fn operand_index(operands: &[Operand], i: u8, idx: &[ast::SourceExpr]) -> ast::SourceExpr {
    let unit = match operands[i as usize] {
        Operand::Array { unit, .. } => unit,
        Operand::Scalar(_) => 0,
    };
    let idx: Vec<ast::SourceExpr> =
        idx.iter().enumerate().map(|(d, x)| if d < 8 && unit >> d & 1 == 1 { int(0, ScalarType::U64) } else { x.clone() }).collect();
    index(&format!("a{i}"), &idx)
}

pub(crate) fn builtin(b: Builtin) -> ast::SourceExpr {
    e(ExprKind::Builtin(b, Vec::new()))
}

/// The index type: u32 or u64.
pub(crate) fn index_type(index32: bool) -> ScalarType {
    if index32 {
        ScalarType::U32
    } else {
        ScalarType::U64
    }
}

/// Parameters `a0..` for the operands, in order.
pub(crate) fn operand_params(operands: &[Operand]) -> Vec<Param> {
    operands
        .iter()
        .enumerate()
        .map(|(k, o)| Param {
            name: format!("a{k}"),
            kind: match *o {
                Operand::Array { elem, ndim, .. } => ParamKind::Slice { elem: TypeRef::Scalar(elem), mutable: false, ndim },
                Operand::Scalar(t) => ParamKind::Scalar(TypeRef::Scalar(t)),
            },
            span: Span::default(),
        })
        .collect()
}

pub(crate) fn source(name: &str, params: Vec<Param>, stmts: Vec<Stmt>, callees: &[ast::Callee]) -> KernelSource {
    KernelSource {
        name: name.to_string(),
        generics: Vec::new(),
        params,
        body: ast::Block { stmts },
        span: Span::default(),
        // Their indices are in bounds by construction (see `KernelOptions::flat_refuse_unproven`).
        options: KernelOptions { flat_refuse_unproven: true, ..KernelOptions::default() },
        ret: None,
        callees: callees.to_vec(),
        device: false,
        file: String::new(),
    }
}

/// Statements computing the expression's values at index `idx` (one expression per axis of the
/// operands' arrays); returns the names of the values left on the stack (one per root), `t<k>`
/// named with `prefix`.
pub(crate) fn emit_values(
    nodes: &[Node],
    operands: &[Operand],
    callees: &[&'static str],
    idx: &[ast::SourceExpr],
    prefix: &str,
    out: &mut Vec<Stmt>,
) -> Vec<String> {
    emit_values_loaded(nodes, operands, callees, idx, prefix, HashMap::new(), out)
}

/// Statements loading every array operand the expression reads at `idx` (`<prefix>a<k>`); the
/// map from operand to value name is for [`emit_values_loaded`].
pub(crate) fn emit_loads(
    nodes: &[Node],
    operands: &[Operand],
    idx: &[ast::SourceExpr],
    prefix: &str,
    out: &mut Vec<Stmt>,
) -> HashMap<u8, String> {
    let mut loaded = HashMap::new();
    for n in nodes {
        if let Node::Input(i) = *n {
            if matches!(operands[i as usize], Operand::Array { .. }) && !loaded.contains_key(&i) {
                let name = format!("{prefix}a{i}");
                out.push(let_(&name, operand_index(operands, i, idx)));
                loaded.insert(i, name);
            }
        }
    }
    loaded
}

/// [`emit_values`] with some array operands already loaded (`loaded`: operand → value name).
pub(crate) fn emit_values_loaded(
    nodes: &[Node],
    operands: &[Operand],
    callees: &[&'static str],
    idx: &[ast::SourceExpr],
    prefix: &str,
    mut loaded: HashMap<u8, String>,
    out: &mut Vec<Stmt>,
) -> Vec<String> {
    // 16-bit floats are computed in f32 and rounded once, where a value leaves the expression
    // (an output, a cast): as torch.compile and Triton do, more precise than rounding after each
    // operation and much faster. Each value on the stack carries its 16-bit type while widened.
    // Device functions take their declared types, so expressions calling them are not widened.
    let widen = !nodes.iter().any(|n| matches!(n, Node::Call { .. }));
    let mut stack: Vec<(String, Option<ScalarType>)> = Vec::new();
    for (k, node) in nodes.iter().enumerate() {
        let name = format!("{prefix}{k}");
        let mut pop = |n: usize| -> Vec<(ast::SourceExpr, Option<ScalarType>)> {
            let at = stack.len() - n;
            stack.drain(at..).map(|(s, h)| (var(&s), h)).collect()
        };
        let half = |t: ScalarType| if widen && t.is_half() { Some(t) } else { None };
        let result = match *node {
            Node::Input(i) => {
                let (src, t) = match operands[i as usize] {
                    Operand::Scalar(t) => (format!("a{i}"), t),
                    Operand::Array { elem, .. } => match loaded.get(&i) {
                        Some(l) => (l.clone(), elem),
                        None => {
                            let l = format!("{prefix}l{k}");
                            out.push(let_(&l, operand_index(operands, i, idx)));
                            loaded.insert(i, l.clone());
                            (l, elem)
                        }
                    },
                };
                match half(t) {
                    Some(h) => {
                        out.push(let_(&name, cast(var(&src), ScalarType::F32)));
                        Some(h)
                    }
                    None => {
                        stack.push((src, None));
                        continue;
                    }
                }
            }
            Node::Unary(op) => {
                let (a, h) = pop(1).remove(0);
                out.push(let_(&name, e(ExprKind::Unary(op, Box::new(a)))));
                h
            }
            Node::Binary(op) => {
                let mut v = pop(2);
                let (b, _) = v.pop().unwrap_or((var("?"), None));
                let (a, h) = v.pop().unwrap_or((var("?"), None));
                out.push(let_(&name, bin(op, a, b)));
                if op.is_comparison() {
                    None
                } else {
                    h
                }
            }
            Node::Math(f) => {
                let v = pop(f.arity());
                // Still the widened 16-bit type only when the result is of the operand's type
                // (`is_nan` gives a bool, `to_bits` an integer).
                let h = if f.ret() == gpujit_codegen::math::Ret::Same { v[0].1 } else { None };
                out.push(let_(&name, e(ExprKind::Math(f, v.into_iter().map(|(x, _)| x).collect()))));
                h
            }
            Node::Cast(t) => {
                // A widened value is rounded to its 16-bit type first.
                let (a, from) = pop(1).remove(0);
                let a = match from {
                    Some(h) => cast(a, h),
                    None => a,
                };
                match half(t) {
                    // Rounded to the 16-bit type, then widened again.
                    Some(h) => {
                        out.push(let_(&name, cast(cast(a, t), ScalarType::F32)));
                        Some(h)
                    }
                    None => {
                        out.push(let_(&name, cast(a, t)));
                        None
                    }
                }
            }
            Node::Select => {
                let v = pop(3);
                out.push(let_mut(&name, v[2].0.clone()));
                out.push(if_(v[0].0.clone(), vec![set(&name, v[1].0.clone())], None));
                v[1].1
            }
            Node::Clamp => {
                let v = pop(3);
                let (x, lo, hi) = (v[0].0.clone(), v[1].0.clone(), v[2].0.clone());
                out.push(let_mut(&name, x.clone()));
                out.push(if_(bin(ast::BinOp::Lt, x.clone(), lo.clone()), vec![set(&name, lo)], None));
                out.push(if_(bin(ast::BinOp::Gt, x, hi.clone()), vec![set(&name, hi)], None));
                v[0].1
            }
            Node::Complex(f) => {
                let v = pop(f.params().len());
                out.push(let_(&name, e(ExprKind::Complex(f, v.into_iter().map(|(x, _)| x).collect()))));
                None
            }
            Node::Field(i) => {
                let (a, _) = pop(1).remove(0);
                let field = gpujit_codegen::complex::FIELDS[i as usize & 1].to_string();
                out.push(let_(&name, e(ExprKind::Field(Box::new(a), field))));
                None
            }
            Node::Call { callee, arity } => {
                let v = pop(arity as usize);
                out.push(let_(&name, e(ExprKind::Call(callees[callee as usize].to_string(), v.into_iter().map(|(x, _)| x).collect()))));
                None
            }
        };
        stack.push((name, result));
    }
    // Values leaving the expression get their own type back.
    stack
        .into_iter()
        .enumerate()
        .map(|(j, (v, h))| match h {
            Some(t) => {
                let r = format!("{prefix}r{j}");
                out.push(let_(&r, cast(var(&v), t)));
                r
            }
            None => v,
        })
        .collect()
}

/// `for f in grid-stride over 0..n { body(f) }` as a `while` loop over the index type.
pub(crate) fn grid_stride(index32: bool, n: ast::SourceExpr, body: Vec<Stmt>) -> Vec<Stmt> {
    let it = index_type(index32);
    let mut body = body;
    body.push(add_assign("f", var("step")));
    vec![
        let_mut("f", cast(builtin(Builtin::Grid(Dim::X)), it)),
        let_("step", cast(builtin(Builtin::GridSize(Dim::X)), it)),
        while_(bin(ast::BinOp::Lt, var("f"), n), body),
    ]
}

/// Statements splitting the flat index `flat` (of the index type) into `i0..i{ndim-1}` (usize)
/// over the extents `extent(d)` (u64 expressions), row-major.
pub(crate) fn split_index(
    flat: &str,
    ndim: usize,
    index32: bool,
    prefix: &str,
    extent: impl Fn(usize) -> ast::SourceExpr,
    out: &mut Vec<Stmt>,
) -> Vec<ast::SourceExpr> {
    let it = index_type(index32);
    let r = format!("{prefix}r");
    out.push(let_mut(&r, var(flat)));
    for d in (1..ndim).rev() {
        let ext = format!("{prefix}n{d}");
        out.push(let_(&ext, cast(extent(d), it)));
        out.push(let_(&format!("{prefix}{d}"), cast(bin(ast::BinOp::Rem, var(&r), var(&ext)), ScalarType::U64)));
        out.push(set(&r, bin(ast::BinOp::Div, var(&r), var(&ext))));
    }
    out.push(let_(&format!("{prefix}0"), cast(var(&r), ScalarType::U64)));
    (0..ndim).map(|d| var(&format!("{prefix}{d}"))).collect()
}

fn elementwise_source(key: &Key, callees: &[ast::Callee]) -> KernelSource {
    let mut params = operand_params(&key.operands);
    for (j, t) in key.outputs.iter().enumerate() {
        params.push(Param {
            name: format!("o{j}"),
            kind: ParamKind::Slice { elem: TypeRef::Scalar(*t), mutable: true, ndim: key.ndim },
            span: Span::default(),
        });
    }
    let it = index_type(key.index32);
    params.push(Param { name: "n".into(), kind: ParamKind::Scalar(TypeRef::Scalar(it)), span: Span::default() });
    // The values at `idx`, stored to every output.
    let element = |idx: &[ast::SourceExpr], prefix: &str, loaded: HashMap<u8, String>, body: &mut Vec<Stmt>, stores: &mut Vec<Stmt>| {
        let roots = emit_values_loaded(&key.nodes, &key.operands, &key.callees, idx, prefix, loaded, body);
        for (j, r) in roots.iter().enumerate() {
            stores.push(Stmt::Assign {
                place: Place::Index { array: format!("o{j}"), index: idx.to_vec(), span: Span::default() },
                op: None,
                value: var(r),
                span: Span::default(),
                id: ast::NodeId::UNSET,
            });
        }
    };
    if key.ndim > 1 {
        let mut body = Vec::new();
        let idx = split_index(
            "f",
            key.ndim as usize,
            key.index32,
            "i",
            |d| e(ExprKind::ArrayDim { array: "o0".into(), axis: d as u8, stride: false }),
            &mut body,
        );
        let mut stores = Vec::new();
        element(&idx, "t", HashMap::new(), &mut body, &mut stores);
        body.extend(stores);
        return source("fused", params, grid_stride(key.index32, var("n"), body), callees);
    }
    let v = key.vector.max(1) as u64;
    // Groups of `v` neighbouring elements: every load of the group first, then every store, so
    // LLVM can merge them into vector accesses.
    let mut body = Vec::new();
    body.push(let_("base", bin(ast::BinOp::Mul, cast(var("f"), ScalarType::U64), int(v, ScalarType::U64))));
    let mut stores = Vec::new();
    let mut loads = Vec::new();
    for lane in 0..v {
        let i = format!("i{lane}");
        body.push(let_(&i, bin(ast::BinOp::Add, var("base"), int(lane, ScalarType::U64))));
        loads.push(emit_loads(&key.nodes, &key.operands, &[var(&i)], &format!("l{lane}_"), &mut body));
    }
    for (lane, loaded) in loads.into_iter().enumerate() {
        element(&[var(&format!("i{lane}"))], &format!("t{lane}_"), loaded, &mut body, &mut stores);
    }
    body.extend(stores);
    let mut stmts = vec![let_("groups", bin(ast::BinOp::Div, var("n"), int(v, it)))];
    stmts.extend(grid_stride(key.index32, var("groups"), body));
    if v > 1 {
        // The last n % v elements, one a thread.
        let mut tail =
            vec![let_("i", cast(bin(ast::BinOp::Add, bin(ast::BinOp::Mul, var("groups"), int(v, it)), var("tt")), ScalarType::U64))];
        let mut tail_stores = Vec::new();
        element(&[var("i")], "u", HashMap::new(), &mut tail, &mut tail_stores);
        tail.extend(tail_stores);
        stmts.push(let_("tt", cast(builtin(Builtin::Grid(Dim::X)), it)));
        stmts.push(if_(
            bin(ast::BinOp::Lt, var("tt"), bin(ast::BinOp::Sub, var("n"), bin(ast::BinOp::Mul, var("groups"), int(v, it)))),
            tail,
            None,
        ));
    }
    let mut src = source("fused", params, stmts, callees);
    src.options.aligned16 = key.vector > 1;
    src
}
