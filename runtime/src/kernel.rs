//! `Kernel`: a kernel's source form plus its specializations, compiled lazily per device and
//! argument types and cached for the life of the process (Numba's lazy dispatch).

use crate::backend::{host_outcome, Executable, Launch};
use crate::cpu;
use crate::device::{Device, DeviceId};
use crate::disk_cache::DiskCache;
use crate::dump;
use crate::error::{Error, Result};
use crate::launch::{Arg, KernelArgs, LaunchConfig, MAX_ARGS};
use crate::spec_cache::SpecCache;
use gpujit_codegen::ast::KernelSource;
use gpujit_codegen::contract::KernelMetadata;
use gpujit_codegen::ir;
use gpujit_codegen::nvptx::{compile_ptx, NvptxTarget, PtxOutput};
use gpujit_codegen::specialize::MAX_DIMS;
use gpujit_codegen::specialize::{bind, param_text, specialize, ArgType, BindError, SpecKey};
use gpujit_codegen::ScalarType;

/// Argument slots a launch can fill: a scalar takes one, an array 1 + 2 × its dimensions.
pub(crate) const SLOTS: usize = (1 + 2 * MAX_DIMS) * MAX_ARGS;
use std::sync::Arc;
use std::time::Instant;

/// `GPUJIT_BOUNDSCHECK=1`: compile every kernel with bounds checks on the GPU too.
fn boundscheck_everywhere() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var("GPUJIT_BOUNDSCHECK").is_ok_and(|v| v == "1"))
}

/// `GPUJIT_CHECK=1`, the checked mode: every kernel is compiled with bounds checks and a check
/// of the floats it writes to its arrays, and every launch waits for its kernel and reports any
/// error then, naming the kernel.
pub(crate) fn check_mode() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var("GPUJIT_CHECK").is_ok_and(|v| v == "1"))
}

/// `GPUJIT_FP_CONTRACT=0`: every kernel keeps Rust's two roundings of `a * b + c` (as the
/// `fp_contract = false` option does); by default multiplies and adds may fuse.
fn no_contract_everywhere() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var("GPUJIT_FP_CONTRACT").is_ok_and(|v| v == "0"))
}

/// `GPUJIT_DEBUG=1`: compile `debug_assert!`s in every kernel (as the `debug` option does).
fn debug_everywhere() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var("GPUJIT_DEBUG").is_ok_and(|v| v == "1"))
}

/// `GPUJIT_LINEINFO=1`: every kernel's PTX carries its source lines (as the `lineinfo` option).
fn lineinfo_everywhere() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var("GPUJIT_LINEINFO").is_ok_and(|v| v == "1"))
}

/// A CPU-backend launch recorded by a graph capture, replayed by [`crate::Graph::launch`].
pub(crate) struct RecordedLaunch {
    kernel: String,
    compiled: Arc<dyn Executable>,
    slots: Vec<u64>,
    /// Each argument's shape (`None` for scalars), for out-of-bounds errors.
    shapes: Vec<Option<Vec<u64>>>,
    grid: [u32; 3],
    block: [u32; 3],
    shared: u32,
}

impl RecordedLaunch {
    pub(crate) fn replay(&self) -> Result<()> {
        let Some(code) = self.compiled.host_code() else { return Ok(()) };
        // SAFETY: the slots were bound to this specialization when captured; the arrays they
        // point to are kept alive by the graph (crate::graph pins them), and the caller holds
        // the host-memory write lock, so no other access overlaps.
        let oob = unsafe { cpu::launch(code, &self.slots, self.grid, self.block, self.shared as u64) };
        host_outcome(&self.kernel, code, oob, |number| self.shapes.get(number as usize).cloned().flatten())
    }
}

/// What one GPU specialization uses, from the driver ([`Kernel::resources`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelResources {
    /// Registers a thread.
    pub registers: u32,
    /// Local memory a thread, in bytes: spilled registers and local arrays.
    pub local_bytes: u32,
    /// Static shared memory a block, in bytes.
    pub shared_bytes: u32,
    /// Constant memory, in bytes.
    pub const_bytes: u32,
    /// The largest block this kernel can be launched with on the device.
    pub max_threads_per_block: u32,
    /// Bytes of register spill stores and loads a thread, from the JIT's log.
    pub spill_stores: u32,
    pub spill_loads: u32,
    /// The driver JIT's information log.
    pub jit_log: String,
}

/// A kernel: what `#[gpu_kernel]` produces. Launch it with [`Kernel::launch`] or `launch!`.
pub struct Kernel {
    source: KernelSource,
    cache: SpecCache<(DeviceId, SpecKey), Arc<dyn Executable>>,
}

impl std::fmt::Debug for Kernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Kernel({})", self.source.name)
    }
}

impl Kernel {
    /// A kernel from its source form (the `#[gpu_kernel]` macro calls this).
    pub fn new(mut source: KernelSource) -> Kernel {
        // The macro numbers its sources' nodes at parse time; sources built in code (fused
        // expressions, tools) are numbered here.
        if !source.is_numbered() {
            source.number_nodes();
        }
        Kernel { source, cache: SpecCache::new() }
    }

    pub fn name(&self) -> &str {
        &self.source.name
    }

    /// `launch!`'s arguments, unchanged: a `#[gpu_kernel]`'s own method of this name types them
    /// by the kernel's parameters instead.
    #[doc(hidden)]
    #[inline(always)]
    pub fn __gpujit_args<T>(&self, args: T) -> T {
        args
    }

    /// The kernel's source form.
    pub fn source(&self) -> &KernelSource {
        &self.source
    }

    /// Launches the kernel with `config` (grid, block, optional stream and shared memory) on
    /// `args`, a tuple such as `(a, &x, &mut y)`.
    ///
    /// The kernel runs on the device of its array arguments (or of the stream, or
    /// [`Device::current`] when there is neither). On first use with a new combination of argument
    /// types it is specialized and compiled for that device, then cached. Every argument, the
    /// device of each array and the launch dimensions are checked first: on any mismatch an
    /// error names the kernel and the argument, and nothing runs. On a GPU the launch is
    /// asynchronous; on the CPU backend it has finished when this returns.
    pub fn launch<'a, 's>(&self, config: impl Into<LaunchConfig<'s>>, args: impl KernelArgs<'a>) -> Result<()> {
        let config = config.into();
        args.with_slice(|args| self.launch_slice(&config, args))
    }

    /// [`Kernel::launch`] with the arguments already collected (generated kernels' path).
    pub(crate) fn launch_slice(&self, config: &LaunchConfig<'_>, args: &[Arg<'_>]) -> Result<()> {
        if args.len() > MAX_ARGS {
            return Err(self.unsupported(format!("a launch takes at most {MAX_ARGS} arguments, {} were given", args.len())));
        }
        self.launch_args(config, args)
    }

    fn launch_args(&self, config: &LaunchConfig<'_>, args: &[Arg<'_>]) -> Result<()> {
        let key = self.bind_args(args)?;
        let mut current = None;
        let device = self.launch_device(config, args, &mut current)?;
        let Some((grid, block)) =
            config.validate(&device.limits()).map_err(|message| Error::LaunchConfig { kernel: self.source.name.clone(), message })?
        else {
            return Ok(());
        };
        if let Some(max) = self.source.options.max_threads_per_block {
            let threads = block.iter().map(|&b| b as u64).product::<u64>();
            if threads > max as u64 {
                let message = format!("a block of {threads} threads exceeds the kernel's launch_bounds = {max}");
                return Err(Error::LaunchConfig { kernel: self.source.name.clone(), message });
            }
        }
        let compiled = self.compiled(device, key)?;
        let mut slots = [0u64; SLOTS];
        let k = self.marshal(compiled.meta(), args, &mut slots)?;
        // A launch being captured into a graph: the graph keeps its arrays' memory alive; on the
        // CPU backend it is recorded instead of run.
        if let Some(capture) = config.stream.and_then(|s| s.capture.as_ref()) {
            let mut capture = capture.lock().unwrap_or_else(|p| p.into_inner());
            let params: Vec<String> = self.source.params.iter().map(|p| p.name.clone()).collect();
            capture.pin_args(&self.source.name, &params, args)?;
            if compiled.host_code().is_some() {
                capture.launches.push(RecordedLaunch {
                    kernel: self.source.name.clone(),
                    compiled: compiled.clone(),
                    slots: slots[..k].to_vec(),
                    shapes: args
                        .iter()
                        .map(|a| match a {
                            Arg::Array { shape, ndim, .. } => Some(shape[..*ndim as usize].to_vec()),
                            Arg::Scalar { .. } | Arg::Struct { .. } => None,
                        })
                        .collect(),
                    grid,
                    block,
                    shared: config.shared_mem_bytes,
                });
                return Ok(());
            }
        }
        compiled.launch(Launch {
            kernel: &self.source.name,
            words: &mut slots[..k],
            grid,
            block,
            shared_bytes: config.shared_mem_bytes,
            stream: config.stream,
            args,
        })
    }

    /// Writes `args` into `slots` in the argument layout `meta` gives (the one codegen compiled
    /// the kernel with); the number of words written. `bind_args` already matched the arguments
    /// against the parameters, so a disagreement here is an internal error, reported rather than
    /// launched.
    fn marshal(&self, meta: &KernelMetadata, args: &[Arg<'_>], slots: &mut [u64]) -> Result<usize> {
        let layout = &meta.layout;
        let fits = layout.params().len() == args.len() && layout.words() <= slots.len();
        let written = fits
            && args.iter().enumerate().all(|(i, a)| match *a {
                Arg::Scalar { bits, .. } => layout.write_scalar(slots, i, bits),
                Arg::Struct { words, count, .. } => layout.write_words(slots, i, &words[..count as usize]),
                Arg::Array { ptr, ndim, ref shape, ref strides, .. } => {
                    let n = ndim as usize;
                    layout.write_array(slots, i, ptr, &shape[..n], &strides[..n])
                }
            });
        if !written {
            return Err(self.unsupported(format!(
                "internal error: the arguments do not fit the compiled kernel's layout ({} parameters, {} words)",
                layout.params().len(),
                layout.words()
            )));
        }
        Ok(layout.words())
    }

    fn unsupported(&self, message: String) -> Error {
        Error::Unsupported { kernel: self.source.name.clone(), message }
    }

    /// Matches the arguments against the parameters; the key of the specialization they need.
    fn bind_args(&self, args: &[Arg<'_>]) -> Result<SpecKey> {
        let mut types = [ArgType::Scalar(ScalarType::Bool); MAX_ARGS];
        for (i, (t, a)) in types.iter_mut().zip(args).enumerate() {
            if let Arg::Struct { ty, count: 0, .. } = a {
                return Err(Error::ArgType {
                    kernel: self.source.name.clone(),
                    param: self.source.params.get(i).map(|p| p.name.clone()).unwrap_or_default(),
                    position: i + 1,
                    expected: format!(
                        "a struct of at most {} bytes by value (pass a larger one in an array)",
                        crate::launch::MAX_STRUCT_BYTES
                    ),
                    found: format!("`{ty}` of {} bytes", ty.size_bytes()),
                });
            }
            *t = a.arg_type();
        }
        let key = bind(&self.source, &types[..args.len()]).map_err(|e| self.bind_error(e))?;
        let (aliased, wide, aligned) = layout_facts(args);
        Ok(key.with_aliasing(aliased).with_wide(wide).with_aligned(aligned))
    }

    fn bind_error(&self, e: BindError) -> Error {
        let kernel = self.source.name.clone();
        let param = |i: usize| self.source.params.get(i).map(|p| p.name.clone()).unwrap_or_default();
        match e {
            BindError::Count { expected, got } => Error::ArgCount { kernel, expected, got },
            BindError::Mismatch { param: i, expected, got } => {
                Error::ArgType { kernel, param: param(i), position: i + 1, expected, found: got.to_string() }
            }
            BindError::ReadOnly { param: i } => Error::ReadOnly { kernel, param: param(i), position: i + 1 },
            BindError::Conflict { param: i, generic, first, second } => Error::Generic {
                kernel,
                param: param(i),
                position: i + 1,
                message: format!("type parameter `{generic}` is {first} from an earlier argument but {second} here"),
            },
            BindError::Bound { param: i, generic, bound, got } => Error::Generic {
                kernel,
                param: param(i),
                position: i + 1,
                message: format!("type parameter `{generic}: {bound}` cannot be {got}"),
            },
            BindError::TooManyGenerics => self.unsupported("a kernel takes at most 8 type parameters".into()),
        }
    }

    /// The device the launch runs on; every array must be there (pinned host memory is
    /// everywhere).
    /// `current` holds [`Device::current`] when neither names one.
    fn launch_device<'d>(&self, config: &LaunchConfig<'d>, args: &[Arg<'d>], current: &'d mut Option<Device>) -> Result<&'d Device> {
        let first_array = args.iter().find_map(|a| match a {
            Arg::Array { device, any_device: false, .. } => Some(*device),
            _ => None,
        });
        let device: &'d Device = match (config.stream, first_array) {
            (Some(s), _) => &s.device,
            (None, Some(d)) => d,
            (None, None) => current.insert(Device::current()?),
        };
        let mut array_no = 0;
        for (i, a) in args.iter().enumerate() {
            if let Arg::Array { device: d, any_device, .. } = a {
                array_no += 1;
                if d.id() != device.id() && !any_device {
                    let expected = match config.stream {
                        Some(_) => format!("{} (the stream's device)", device.id()),
                        None if array_no > 1 => format!("{} (the device of the first array argument)", device.id()),
                        None => device.id().to_string(),
                    };
                    return Err(Error::DeviceMismatch {
                        kernel: self.source.name.clone(),
                        param: self.source.params.get(i).map(|p| p.name.clone()).unwrap_or_default(),
                        position: i + 1,
                        expected,
                        found: d.id().to_string(),
                    });
                }
            }
        }
        Ok(device)
    }

    /// The specialization for `key` on `device`, compiled on first use. The cached case (every
    /// launch but the first) takes no lock.
    fn compiled(&self, device: &Device, key: SpecKey) -> Result<&Arc<dyn Executable>> {
        let id = (device.id(), key);
        if let Some(c) = self.cache.get(&id) {
            return Ok(c);
        }
        // Compile outside the cache's lock; if another thread won the race, keep its result.
        let compiled = self.compile(device, &key)?;
        Ok(self.cache.insert(id, compiled))
    }

    fn compile(&self, device: &Device, key: &SpecKey) -> Result<Arc<dyn Executable>> {
        let started = Instant::now();
        // Configures the disk caches (kernels, and the compiler's pruned libdevice).
        let _ = DiskCache::global();
        let ir = self.specialized(key)?;
        let dumping = dump::dir().is_some();
        if dumping {
            dump::write(&ir, ".ir", &ir.to_string());
        }
        device.inner.backend().compile(&ir, dumping, started)
    }

    /// The specialization for `key`, with the options the process's environment adds to every
    /// kernel (`GPUJIT_DEBUG`, `GPUJIT_LINEINFO`, `GPUJIT_BOUNDSCHECK`, `GPUJIT_CHECK`).
    fn specialized(&self, key: &SpecKey) -> Result<ir::Kernel> {
        let o = self.source.options;
        let mut ir = if (debug_everywhere() && !o.debug) || (lineinfo_everywhere() && !o.lineinfo) {
            let mut source = self.source.clone();
            source.options.debug |= debug_everywhere();
            source.options.lineinfo |= lineinfo_everywhere();
            specialize(&source, key)?
        } else {
            specialize(&self.source, key)?
        };
        if boundscheck_everywhere() || check_mode() {
            ir.options.boundscheck = true;
        }
        if check_mode() {
            ir.options.finitecheck = true;
        }
        if no_contract_everywhere() {
            ir.options.no_contract = true;
        }
        Ok(ir)
    }

    /// The specialized IR for `args` (only their types matter; nothing runs), as a launch
    /// compiles it.
    pub fn ir<'a>(&self, args: impl KernelArgs<'a>) -> Result<ir::Kernel> {
        let mut buf = [Arg::NONE; MAX_ARGS];
        let n = args.collect(&mut buf);
        let key = self.bind_args(&buf[..n.min(MAX_ARGS)])?;
        self.specialized(&key)
    }

    /// The PTX of the specialization for `args` (only their types matter; nothing runs), for
    /// `target`. Works without a GPU.
    pub fn ptx<'a>(&self, target: &NvptxTarget, args: impl KernelArgs<'a>) -> Result<PtxOutput> {
        let _ = DiskCache::global();
        let ir = self.ir(args)?;
        Ok(compile_ptx(&ir, target, true)?)
    }

    /// The specialized IR for a signature given as types (see [`Kernel::ptx_for`]).
    pub fn ir_for(&self, signature: &[ArgType]) -> Result<ir::Kernel> {
        let key = bind(&self.source, signature).map_err(|e| self.bind_error(e))?;
        self.specialized(&key)
    }

    /// The PTX of the specialization for a signature given as types, without arrays (Numba's
    /// `inspect_asm(signature)`): e.g. `[ArgType::Scalar(F32), ArgType::Array { elem: F32,
    /// writable: false, ndim: 1, contiguous: true }, ...]`. Works without a GPU.
    pub fn ptx_for(&self, target: &NvptxTarget, signature: &[ArgType]) -> Result<PtxOutput> {
        let _ = DiskCache::global();
        Ok(compile_ptx(&self.ir_for(signature)?, target, true)?)
    }

    /// The optimized LLVM IR (NVPTX) of the specialization for `args` (only their types
    /// matter; nothing runs), for `target`. Works without a GPU.
    pub fn llvm_ir<'a>(&self, target: &NvptxTarget, args: impl KernelArgs<'a>) -> Result<String> {
        Ok(self.ptx(target, args)?.llvm_ir.unwrap_or_default())
    }

    /// What the specialization for `args` uses on `device`'s GPU, as its driver compiled it:
    /// registers, local memory and spills, shared memory (compiling and caching it as a launch
    /// would; nothing runs). The CPU backend has no such figures: an `Unsupported` error there.
    pub fn resources<'a>(&self, device: &Device, args: impl KernelArgs<'a>) -> Result<KernelResources> {
        let mut buf = [Arg::NONE; MAX_ARGS];
        let n = args.collect(&mut buf);
        let key = self.bind_args(&buf[..n.min(MAX_ARGS)])?;
        self.compiled(device, key)?.resources(&self.source.name)
    }

    /// How many blocks of `block_threads` threads (with `shared_bytes` of dynamic shared memory)
    /// of the specialization for `args` the device runs at once, all its multiprocessors together
    /// (CUDA's occupancy calculator times the multiprocessors): the largest grid a kernel calling
    /// `grid_sync()` may be launched with, and the grid of a persistent kernel. On the CPU
    /// backend: for a `grid_sync()` kernel the blocks it runs together, else the worker threads.
    /// Compiles the specialization (as a launch would); nothing runs.
    pub fn max_resident_blocks<'a>(
        &self,
        device: &Device,
        block_threads: u32,
        shared_bytes: u32,
        args: impl KernelArgs<'a>,
    ) -> Result<u64> {
        let limit = device.max_threads_per_block();
        if block_threads == 0 || block_threads > limit {
            return Err(Error::LaunchConfig {
                kernel: self.source.name.clone(),
                message: format!("a block of {block_threads} threads (this device takes 1 to {limit})"),
            });
        }
        let mut buf = [Arg::NONE; MAX_ARGS];
        let n = args.collect(&mut buf);
        let key = self.bind_args(&buf[..n.min(MAX_ARGS)])?;
        self.compiled(device, key)?.max_resident_blocks(block_threads, shared_bytes)
    }

    /// The declared parameters in Rust syntax, e.g. `a: T, x: &[T], y: &mut [T]`.
    pub fn signature(&self) -> String {
        let params: Vec<String> = self.source.params.iter().map(|p| format!("{}: {}", p.name, param_text(&self.source, p))).collect();
        params.join(", ")
    }
}

/// What a launch's arrays tell specialization, in one pass over them: whether a written array
/// overlaps another array argument (then no `noalias` facts: Rust's borrows never give such
/// arguments; foreign arrays, the Python module's in-place operations and `unsafe` views may),
/// the arrays (by bit of their position) reaching 2^31 elements from element 0 (64-bit offsets),
/// and those whose data is 16-byte aligned (vector accesses).
fn layout_facts(args: &[Arg<'_>]) -> (bool, u32, u32) {
    let mut spans = [(0u64, 0u64, false); MAX_ARGS];
    let (mut k, mut wide, mut aligned) = (0usize, 0u32, 0u32);
    for (i, a) in args.iter().enumerate() {
        let Arg::Array { ptr, ndim, shape, strides, elem, writable, .. } = a else { continue };
        let bit = if i < 32 { 1u32 << i } else { 0 };
        if ptr % 16 == 0 {
            aligned |= bit;
        }
        let n = *ndim as usize;
        if shape[..n].contains(&0) {
            continue;
        }
        let (mut lo, mut hi, mut reach) = (0i128, 0i128, 0u128);
        let mut len = 1u128;
        for d in 0..n {
            let r = (shape[d] as i128 - 1) * strides[d] as i128;
            reach += r.unsigned_abs();
            len *= shape[d] as u128;
            if r < 0 {
                lo += r;
            } else {
                hi += r;
            }
        }
        if reach.max(len) >= 1 << 31 {
            wide |= bit;
        }
        let (base, size) = (*ptr as i128, elem.size_bytes() as i128);
        if k < spans.len() {
            spans[k] = ((base + lo * size) as u64, (base + (hi + 1) * size) as u64, *writable);
            k += 1;
        }
    }
    let spans = &spans[..k];
    let aliased = k > 1
        && spans
            .iter()
            .enumerate()
            .any(|(i, &(lo, hi, w))| w && spans.iter().enumerate().any(|(j, &(lo2, hi2, _))| i != j && lo < hi2 && lo2 < hi));
    (aliased, wide, aligned)
}
