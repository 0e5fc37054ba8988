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
use crate::device::{Device, DeviceInner};
use crate::error::{Error, Result};
use crate::expr::{broadcast_shapes, Expr, Graph, Node};
use crate::kernel::Kernel;
use crate::launch::{Arg, KernelArg, LaunchConfig, MAX_ARGS};
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
    Array { elem: ScalarType, ndim: u8 },
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
type Cache = HashMap<u64, Vec<(Key, Arc<Kernel>)>>;

fn cache() -> &'static RwLock<Cache> {
    static CACHE: OnceLock<RwLock<Cache>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// A fast non-cryptographic hasher (the Fx hash of rustc): keys are hashed on every evaluation.
struct FxHasher(u64);

impl FxHasher {
    #[inline]
    fn add(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl std::hash::Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for c in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..c.len()].copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
    }
    fn write_u8(&mut self, v: u8) {
        self.add(v as u64);
    }
    fn write_u32(&mut self, v: u32) {
        self.add(v as u64);
    }
    fn write_u64(&mut self, v: u64) {
        self.add(v);
    }
    fn write_usize(&mut self, v: usize) {
        self.add(v as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// The parts of a key, borrowed: looking a kernel up allocates nothing.
pub(crate) struct KeyParts<'k, 'a> {
    pub kind: &'k KernelKind,
    pub nodes: &'k [Node],
    /// The operands as they are passed (only their kinds count).
    pub operands: &'k [Arg<'a>],
    pub outputs: &'k [Arg<'a>],
    pub callees: &'k [ast::Callee],
    pub ndim: u8,
    pub index32: bool,
    pub vector: u8,
}

impl KeyParts<'_, '_> {
    fn hash(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = FxHasher(0);
        self.kind.hash(&mut h);
        self.nodes.hash(&mut h);
        for a in self.operands {
            operand(a).hash(&mut h);
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
            && k.operands.iter().zip(self.operands).all(|(o, a)| *o == operand(a))
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
            operands: self.operands.iter().map(operand).collect(),
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
    k
}

/// A function called before each launch of a generated kernel, with the kernel and its
/// arguments (tools and tests use it, e.g. to check every generated kernel's PTX).
pub type LaunchHook = fn(&Kernel, &[Arg<'_>]);

static HOOK: RwLock<Option<LaunchHook>> = RwLock::new(None);

/// Installs (or with `None` removes) the [`LaunchHook`].
pub fn set_launch_hook(hook: Option<LaunchHook>) {
    *HOOK.write().unwrap_or_else(|p| p.into_inner()) = hook;
}

/// Launches a generated kernel.
pub(crate) fn launch(k: &Kernel, config: LaunchConfig<'_>, args: &[Arg<'_>]) -> Result<()> {
    if let Some(hook) = *HOOK.read().unwrap_or_else(|p| p.into_inner()) {
        hook(k, args);
    }
    k.launch(config, args)
}

/// Device memory for the partial results of two-pass reductions, kept for reuse so a
/// reduction in a loop allocates nothing. Sound to hand to the next user as soon as the kernels
/// using it are enqueued: generated kernels all run on the device's legacy default stream, so a
/// later user's kernels are ordered after them.
pub(crate) struct Scratch {
    array: Option<DeviceArray<u64>>,
}

fn pool() -> &'static std::sync::Mutex<Vec<DeviceArray<u64>>> {
    static POOL: OnceLock<std::sync::Mutex<Vec<DeviceArray<u64>>>> = OnceLock::new();
    POOL.get_or_init(Default::default)
}

/// Scratch memory of at least `words` 8-byte words on `device`.
pub(crate) fn scratch(device: &Device, words: usize) -> Result<Scratch> {
    let mut pool = pool().lock().unwrap_or_else(|p| p.into_inner());
    if let Some(k) = pool.iter().position(|a| a.device.id() == device.id() && a.len() >= words) {
        return Ok(Scratch { array: Some(pool.swap_remove(k)) });
    }
    drop(pool);
    Ok(Scratch { array: Some(DeviceArray::uninit_shape(device, &[words.max(4096)])?) })
}

impl Scratch {
    pub(crate) fn array(&mut self) -> &mut DeviceArray<u64> {
        self.array.as_mut().unwrap_or_else(|| unreachable!("the array is taken only on drop"))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Some(a) = self.array.take() {
            let mut pool = pool().lock().unwrap_or_else(|p| p.into_inner());
            // Keep a few buffers; free the smallest beyond that.
            pool.push(a);
            if pool.len() > 8 {
                pool.sort_by_key(|a| std::cmp::Reverse(a.len()));
                pool.truncate(8);
            }
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
    graph: Graph<'a>,
    outputs: Vec<Arg<'a>>,
    error: Option<String>,
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

    /// Runs the kernel (asynchronously on a GPU).
    pub fn run(self) -> Result<()> {
        if let Some(e) = self.error.or(self.graph.error.clone()) {
            return Err(Error::Expression(e));
        }
        run_elementwise(&self.graph, &self.outputs)
    }
}

impl<'a, T: Element> Expr<'a, T> {
    /// Evaluates the expression into a new array of its (broadcast) shape, on the device of its
    /// arrays (or [`Device::current`] for scalars only, giving one element).
    pub fn eval(&self) -> Result<DeviceArray<T>> {
        if let Some(e) = &self.graph.error {
            return Err(Error::Expression(e.clone()));
        }
        let device = expr_device(&self.graph)?;
        let shape = if self.graph.shape.is_empty() { vec![1] } else { self.graph.shape.to_vec() };
        let mut out = DeviceArray::<T>::uninit_shape(&device, &shape)?;
        run_elementwise(&self.graph, &[(&mut out).into_arg()])?;
        Ok(out)
    }

    /// Evaluates the expression into `out`, whose shape the expression must broadcast to.
    pub fn eval_into(&self, out: impl KernelArg<'a>) -> Result<()> {
        if let Some(e) = &self.graph.error {
            return Err(Error::Expression(e.clone()));
        }
        let out = out.into_arg();
        match out {
            Arg::Array { elem, writable: true, .. } if elem == T::TYPE => run_elementwise(&self.graph, &[out]),
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
                let mut all = Graph::default();
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
pub(crate) fn expr_device(g: &Graph<'_>) -> Result<Device> {
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
        Arg::Scalar { .. } => true,
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
        Arg::Array { elem, ndim, .. } => Operand::Array { elem, ndim },
        Arg::Scalar { ty, .. } => Operand::Scalar(ty),
    }
}

/// The number of blocks for `n` elements handled by a grid-stride loop of `BLOCK` threads:
/// enough to fill the device, no more.
pub(crate) fn grid_for(device: &Device, n: usize) -> u32 {
    let blocks = n.div_ceil(BLOCK as usize).max(1);
    blocks.min(resident_blocks(device) as usize) as u32
}

/// Blocks for an elementwise kernel over `groups` groups of elements. On a GPU, one thread a
/// group (measured on an H100: 6-16% faster than a grid capped at the resident blocks, which
/// leaves each thread a loop); `GPUJIT_GRID_WAVES=k` caps it at k times the resident blocks
/// instead. On the CPU backend, the resident blocks (each block is a task for a worker).
fn elementwise_grid(device: &Device, groups: usize) -> u32 {
    static WAVES: OnceLock<Option<usize>> = OnceLock::new();
    let waves = *WAVES.get_or_init(|| std::env::var("GPUJIT_GRID_WAVES").ok().and_then(|v| v.parse().ok()).filter(|w| *w > 0));
    let blocks = groups.div_ceil(BLOCK as usize).max(1);
    let cap = match (&device.inner, waves) {
        (_, Some(w)) => w.saturating_mul(resident_blocks(device) as usize),
        (DeviceInner::Cuda(_), None) => i32::MAX as usize,
        (DeviceInner::Cpu, None) => resident_blocks(device) as usize,
    };
    blocks.min(cap).min(i32::MAX as usize) as u32
}

/// Blocks of `BLOCK` threads the device runs at once.
pub(crate) fn resident_blocks(device: &Device) -> u32 {
    match &device.inner {
        DeviceInner::Cpu => {
            static CORES: OnceLock<u32> = OnceLock::new();
            4 * *CORES.get_or_init(|| std::thread::available_parallelism().map(|n| n.get() as u32).unwrap_or(2))
        }
        DeviceInner::Cuda(d) => d.multiprocessors * (2048 / BLOCK),
    }
}

fn run_elementwise<'a>(graph: &Graph<'a>, outputs: &[Arg<'a>]) -> Result<()> {
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
    let vector = if flat { vector_width(args, vector_bytes()) } else { 1 };
    let nin = graph.inputs.len();
    let parts = KeyParts {
        kind: &KernelKind::Elementwise,
        nodes: &graph.nodes,
        operands: &args[..nin],
        outputs: &args[nin..nargs - 1],
        callees: &graph.callees,
        ndim,
        index32,
        vector,
    };
    let k = kernel(&parts, |key| elementwise_source(key, &graph.callees));
    let device = outputs.iter().chain(&graph.inputs).find_map(|a| match a {
        Arg::Array { device, any_device: false, .. } => Some(*device),
        _ => None,
    });
    let groups = n.div_ceil(vector as usize);
    let grid = match device {
        Some(d) => elementwise_grid(d, groups),
        None => elementwise_grid(&Device::current()?, groups),
    };
    launch(&k, LaunchConfig::new(grid, BLOCK), args)
}

/// Launches a `forall!` kernel over the index space `extents` (its last parameters), on the
/// device of its array arguments, with a grid sized from the device.
pub fn launch_forall<'a>(k: &Kernel, extents: &[usize], args: impl crate::launch::KernelArgs<'a>) -> Result<()> {
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
    let grid = match args.iter().find_map(|a| match a {
        Arg::Array { device, any_device: false, .. } => Some(*device),
        _ => None,
    }) {
        Some(d) => grid_for(d, total),
        None => grid_for(&Device::current()?, total),
    };
    launch(k, LaunchConfig::new(grid, BLOCK), args)
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
        Arg::Scalar { ty, .. } => ty,
    }
}

// ---- Building the kernel's source -------------------------------------------------------------

pub(crate) fn e(kind: ExprKind) -> ast::Expr {
    ast::Expr::new(kind, Span::default())
}

pub(crate) fn var(name: &str) -> ast::Expr {
    e(ExprKind::Var(name.to_string()))
}

pub(crate) fn int(v: u64, t: ScalarType) -> ast::Expr {
    e(ExprKind::Int(v as u128, Some(t)))
}

pub(crate) fn bin(op: ast::BinOp, a: ast::Expr, b: ast::Expr) -> ast::Expr {
    e(ExprKind::Binary(op, Box::new(a), Box::new(b)))
}

pub(crate) fn cast(a: ast::Expr, t: ScalarType) -> ast::Expr {
    e(ExprKind::Cast(Box::new(a), TypeRef::Scalar(t)))
}

pub(crate) fn let_(name: &str, init: ast::Expr) -> Stmt {
    Stmt::Let { name: name.to_string(), mutable: false, ty: None, init: Some(init), span: Span::default() }
}

pub(crate) fn let_mut(name: &str, init: ast::Expr) -> Stmt {
    Stmt::Let { name: name.to_string(), mutable: true, ty: None, init: Some(init), span: Span::default() }
}

pub(crate) fn set(name: &str, value: ast::Expr) -> Stmt {
    Stmt::Assign { place: Place::Var(name.to_string(), Span::default()), op: None, value, span: Span::default() }
}

/// `name += value;`
pub(crate) fn add_assign(name: &str, value: ast::Expr) -> Stmt {
    Stmt::Assign { place: Place::Var(name.to_string(), Span::default()), op: Some(ast::BinOp::Add), value, span: Span::default() }
}

/// `while cond { body }`
pub(crate) fn while_(cond: ast::Expr, body: Vec<Stmt>) -> Stmt {
    Stmt::While { cond, body: ast::Block { stmts: body }, label: None, span: Span::default() }
}

pub(crate) fn if_(cond: ast::Expr, then: Vec<Stmt>, otherwise: Option<Vec<Stmt>>) -> Stmt {
    Stmt::If { cond, then: ast::Block { stmts: then }, otherwise: otherwise.map(|s| ast::Block { stmts: s }), span: Span::default() }
}

pub(crate) fn index(array: &str, idx: &[ast::Expr]) -> ast::Expr {
    e(ExprKind::Index { array: array.to_string(), index: idx.to_vec() })
}

pub(crate) fn builtin(b: Builtin) -> ast::Expr {
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
                Operand::Array { elem, ndim } => ParamKind::Slice { elem: TypeRef::Scalar(elem), mutable: false, ndim },
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
        options: KernelOptions::default(),
        ret: None,
        callees: callees.to_vec(),
        device: false,
    }
}

/// Statements computing the expression's values at index `idx` (one expression per axis of the
/// operands' arrays); returns the names of the values left on the stack (one per root), `t<k>`
/// named with `prefix`.
pub(crate) fn emit_values(
    nodes: &[Node],
    operands: &[Operand],
    callees: &[&'static str],
    idx: &[ast::Expr],
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
    idx: &[ast::Expr],
    prefix: &str,
    out: &mut Vec<Stmt>,
) -> HashMap<u8, String> {
    let mut loaded = HashMap::new();
    for n in nodes {
        if let Node::Input(i) = *n {
            if matches!(operands[i as usize], Operand::Array { .. }) && !loaded.contains_key(&i) {
                let name = format!("{prefix}a{i}");
                out.push(let_(&name, index(&format!("a{i}"), idx)));
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
    idx: &[ast::Expr],
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
        let mut pop = |n: usize| -> Vec<(ast::Expr, Option<ScalarType>)> {
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
                            out.push(let_(&l, index(&format!("a{i}"), idx)));
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
                let h = v[0].1;
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
pub(crate) fn grid_stride(index32: bool, n: ast::Expr, body: Vec<Stmt>) -> Vec<Stmt> {
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
    extent: impl Fn(usize) -> ast::Expr,
    out: &mut Vec<Stmt>,
) -> Vec<ast::Expr> {
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
    let element = |idx: &[ast::Expr], prefix: &str, loaded: HashMap<u8, String>, body: &mut Vec<Stmt>, stores: &mut Vec<Stmt>| {
        let roots = emit_values_loaded(&key.nodes, &key.operands, &key.callees, idx, prefix, loaded, body);
        for (j, r) in roots.iter().enumerate() {
            stores.push(Stmt::Assign {
                place: Place::Index { array: format!("o{j}"), index: idx.to_vec(), span: Span::default() },
                op: None,
                value: var(r),
                span: Span::default(),
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
