//! `Kernel`: a kernel's source form plus its specializations, compiled lazily per device and
//! argument types and cached for the life of the process (Numba's lazy dispatch).

use crate::cpu;
use crate::cuda::{CudaDevice, CudaFunction};
use crate::device::{Device, DeviceId, DeviceInner};
use crate::disk_cache::{CacheEntry, DiskCache};
use crate::dump;
use crate::error::{Error, Result};
use crate::launch::{Arg, KernelArgs, LaunchConfig, MAX_ARGS};
use crate::log;
use crate::spec_cache::SpecCache;
use gpujit_codegen::ast::KernelSource;
use gpujit_codegen::contract::{KernelMetadata, OobRecord};
use gpujit_codegen::host::{compile_host, HostCode};
use gpujit_codegen::ir;
use gpujit_codegen::nvptx::{compile_ptx, NvptxTarget, PtxOutput};
use gpujit_codegen::specialize::MAX_DIMS;
use gpujit_codegen::specialize::{bind, param_text, specialize, ArgType, BindError, SpecKey};
use gpujit_codegen::ScalarType;

/// Argument slots a launch can fill: a scalar takes one, an array 1 + 2 × its dimensions.
const SLOTS: usize = (1 + 2 * MAX_DIMS) * MAX_ARGS;
use std::ffi::c_void;
use std::sync::Arc;
use std::time::Instant;

/// What identifies a GPU specialization's machine code: the compiler, the whole specialized IR
/// (its options included), the target and the driver that JIT-compiles the PTX.
fn cache_key(ir: &ir::Kernel, d: &CudaDevice) -> String {
    format!(
        "gpujit {} | sm_{} PTX {} | compute capability {}.{} | driver {}\n{ir:?}",
        gpujit_codegen::COMPILER_ID,
        d.target.arch,
        d.target.ptx_version,
        d.compute_capability.0,
        d.compute_capability.1,
        d.driver_version
    )
}

enum Compiled {
    Host(HostCode),
    Cuda(CudaKernel),
}

/// A specialization loaded on a GPU.
struct CudaKernel {
    function: CudaFunction,
    /// The compiled-kernel description (argument layout, array table, cooperative or not).
    meta: KernelMetadata,
    /// The driver JIT's information log (registers, spills).
    jit_info: String,
}

impl Compiled {
    /// The compiled-kernel description codegen returned with the code.
    fn meta(&self) -> &KernelMetadata {
        match self {
            Compiled::Host(code) => code.meta(),
            Compiled::Cuda(k) => &k.meta,
        }
    }
}

/// `GPUJIT_BOUNDSCHECK=1`: compile every kernel with bounds checks on the GPU too.
fn boundscheck_everywhere() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var("GPUJIT_BOUNDSCHECK").is_ok_and(|v| v == "1"))
}

/// A CPU-backend launch recorded by a graph capture, replayed by [`crate::Graph::launch`].
pub(crate) struct RecordedLaunch {
    kernel: String,
    compiled: Arc<Compiled>,
    slots: Vec<u64>,
    /// Each argument's shape (`None` for scalars), for out-of-bounds errors.
    shapes: Vec<Option<Vec<u64>>>,
    grid: [u32; 3],
    block: [u32; 3],
    shared: u32,
}

impl RecordedLaunch {
    pub(crate) fn replay(&self) -> Result<()> {
        let Compiled::Host(code) = &*self.compiled else { return Ok(()) };
        // SAFETY: the slots were bound to this specialization when captured; the arrays they
        // point to are kept alive by the graph (crate::graph pins them), and the caller holds
        // the host-memory write lock, so no other access overlaps.
        let oob = unsafe { cpu::launch(code, &self.slots, self.grid, self.block, self.shared as u64) };
        host_outcome(&self.kernel, code, oob, |number| self.shapes.get(number as usize).cloned().flatten())
    }
}

/// The result of a CPU-backend launch as the caller sees it: the first out-of-bounds access as
/// an [`Error::OutOfBounds`] (with `shape_of` the shape of array parameter `number`), a launch
/// the backend cannot run as the matching error.
fn host_outcome(
    kernel: &str,
    code: &HostCode,
    outcome: std::result::Result<Option<OobRecord>, cpu::CpuError>,
    shape_of: impl Fn(u32) -> Option<Vec<u64>>,
) -> Result<()> {
    match outcome {
        Ok(None) => Ok(()),
        Ok(Some(oob)) => Err(out_of_bounds(kernel, code.meta(), &oob, shape_of)),
        Err(cpu::CpuError::Stack(message)) => Err(Error::Unsupported { kernel: kernel.to_string(), message }),
        Err(cpu::CpuError::TooLarge(message)) => Err(Error::LaunchConfig { kernel: kernel.to_string(), message }),
    }
}

/// The error for a kernel's out-of-bounds record, on either backend; `shape_of` gives the shape
/// of array parameter `number` (static arrays' lengths come from the metadata).
fn out_of_bounds(kernel: &str, meta: &KernelMetadata, oob: &OobRecord, shape_of: impl Fn(u32) -> Option<Vec<u64>>) -> Error {
    let axis = oob.axis as usize;
    let shape = shape_of(oob.array).unwrap_or_else(|| vec![meta.static_len(oob.array).unwrap_or(0)]);
    let len = shape.get(axis).copied().unwrap_or(0);
    Error::OutOfBounds {
        kernel: kernel.to_string(),
        array: meta.array_name(oob.array).to_string(),
        axis,
        index: oob.index,
        len,
        shape,
        tx: oob.thread[0],
        ty: oob.thread[1],
        tz: oob.thread[2],
        bx: oob.block[0],
        by: oob.block[1],
        bz: oob.block[2],
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
    cache: SpecCache<(DeviceId, SpecKey), Arc<Compiled>>,
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
        let mut buf = [Arg::NONE; MAX_ARGS];
        let n = args.collect(&mut buf);
        if n > MAX_ARGS {
            return Err(self.unsupported(format!("a launch takes at most {MAX_ARGS} arguments, {n} were given")));
        }
        self.launch_args(&config, &buf[..n])
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
            if let Compiled::Host(_) = &**compiled {
                capture.launches.push(RecordedLaunch {
                    kernel: self.source.name.clone(),
                    compiled: compiled.clone(),
                    slots: slots[..k].to_vec(),
                    shapes: args
                        .iter()
                        .map(|a| match a {
                            Arg::Array { shape, ndim, .. } => Some(shape[..*ndim as usize].to_vec()),
                            Arg::Scalar { .. } => None,
                        })
                        .collect(),
                    grid,
                    block,
                    shared: config.shared_mem_bytes,
                });
                return Ok(());
            }
        }
        match &**compiled {
            Compiled::Host(code) => {
                let _read = cpu::host_memory_read();
                // SAFETY: the code was compiled for exactly this specialization, whose parameters
                // `bind_args` matched against `args`; every array slot holds the data pointer and
                // length of a live DeviceArray borrowed for this call (writable ones mutably), on
                // the CPU device (`launch_device` checked).
                let oob = unsafe { cpu::launch(code, &slots[..k], grid, block, config.shared_mem_bytes as u64) };
                host_outcome(&self.source.name, code, oob, |number| match args.get(number as usize) {
                    Some(Arg::Array { shape, ndim, .. }) => Some(shape[..*ndim as usize].to_vec()),
                    _ => None,
                })
            }
            Compiled::Cuda(CudaKernel { function: f, meta, .. }) => {
                let mut params = [std::ptr::null_mut::<c_void>(); SLOTS];
                let base = slots.as_mut_ptr();
                for (i, p) in params.iter_mut().enumerate().take(k) {
                    // SAFETY: i < k <= slots.len(), so the pointer stays inside `slots`.
                    *p = unsafe { base.add(i) } as *mut c_void;
                }
                let stream = config.stream.and_then(|s| s.raw.as_ref()).map(|s| s.raw).unwrap_or(std::ptr::null_mut());
                // Foreign arrays with pending work on their producer's stream: wait on an event.
                // Not while capturing a graph: a capture cannot depend on uncaptured work (the
                // caller of `Graph::capture_with_foreign` orders replays after producers).
                let capturing = config.stream.is_some_and(|s| s.capture.is_some());
                for a in args.iter().filter(|_| !capturing) {
                    if let Arg::Array { wait: Some(producer), device, .. } = a {
                        if let DeviceInner::Cuda(d) = &device.inner {
                            d.order_after(*producer as cudarc::driver::sys::CUstream, stream)?;
                        }
                    }
                }
                if meta.cooperative {
                    let threads = block.iter().product::<u32>();
                    let blocks = grid.iter().map(|&g| g as u64).product::<u64>();
                    let resident = f.max_resident_blocks(threads, config.shared_mem_bytes)?;
                    if blocks > resident {
                        let message = format!(
                            "a kernel calling grid_sync() needs all its blocks resident at once; this device holds {resident} blocks of {threads} threads, the grid has {blocks}"
                        );
                        return Err(Error::LaunchConfig { kernel: self.source.name.clone(), message });
                    }
                    f.launch_cooperative(grid, block, config.shared_mem_bytes, stream, &mut params[..k])?;
                } else {
                    f.launch(grid, block, config.shared_mem_bytes, stream, &mut params[..k])?;
                }
                match f.take_oob(stream)?.as_ref().and_then(OobRecord::decode) {
                    None => Ok(()),
                    Some(oob) => Err(out_of_bounds(&self.source.name, meta, &oob, |number| match args.get(number as usize) {
                        Some(Arg::Array { shape, ndim, .. }) => Some(shape[..*ndim as usize].to_vec()),
                        _ => None,
                    })),
                }
            }
        }
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
        for (t, a) in types.iter_mut().zip(args) {
            *t = a.arg_type();
        }
        bind(&self.source, &types[..args.len()]).map_err(|e| self.bind_error(e))
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
    fn compiled(&self, device: &Device, key: SpecKey) -> Result<&Arc<Compiled>> {
        let id = (device.id(), key);
        if let Some(c) = self.cache.get(&id) {
            return Ok(c);
        }
        // Compile outside the cache's lock; if another thread won the race, keep its result.
        let compiled = Arc::new(self.compile(device, &key)?);
        Ok(self.cache.insert(id, compiled))
    }

    fn compile(&self, device: &Device, key: &SpecKey) -> Result<Compiled> {
        let started = Instant::now();
        // Configures the disk caches (kernels, and the compiler's pruned libdevice).
        let _ = DiskCache::global();
        let mut ir = specialize(&self.source, key)?;
        if boundscheck_everywhere() {
            ir.options.boundscheck = true;
        }
        let dumping = dump::dir().is_some();
        if dumping {
            dump::write(&ir, ".ir", &ir.to_string());
        }
        match &device.inner {
            DeviceInner::Cpu => {
                let code = compile_host(&ir, dumping)?;
                if let Some(ll) = code.llvm_ir() {
                    dump::write(&ir, ".host.ll", ll);
                }
                log::compile(format_args!(
                    "compiled `{}{}` for the CPU backend in {:.2} ms",
                    ir.name,
                    ir.signature(),
                    log::ms_since(started)
                ));
                Ok(Compiled::Host(code))
            }
            DeviceInner::Cuda(d) => self.compile_cuda(d, &ir, dumping, started),
        }
    }

    /// IR → PTX (LLVM) → cubin (the driver's JIT) → loaded module, or the cubin from the disk
    /// cache when an earlier process (or this one) compiled the same specialization.
    fn compile_cuda(&self, d: &Arc<CudaDevice>, ir: &ir::Kernel, dumping: bool, started: Instant) -> Result<Compiled> {
        let label = || format!("`{}{}` for sm_{}", ir.name, ir.signature(), d.target.arch);
        let cache = DiskCache::global();
        let key = cache.map(|_| cache_key(ir, d));
        if let (Some(cache), Some(key)) = (cache, &key) {
            if let Some(entry) = cache.load(key) {
                // A cubin the driver refuses (a damaged file with a valid checksum is unlikely,
                // but possible) is rebuilt below.
                let meta = KernelMetadata::of(ir, gpujit_codegen::nvptx::ptx_globals(&entry.ptx));
                if let Ok(function) = d.load_image(&entry.cubin, &meta.entry, &meta.globals) {
                    log::compile(format_args!("{}: loaded from the disk cache in {:.2} ms", label(), log::ms_since(started)));
                    return Ok(Compiled::Cuda(CudaKernel { function, meta, jit_info: entry.info }));
                }
            }
        }
        let t = Instant::now();
        let out = compile_ptx(ir, &d.target, dumping)?;
        let llvm_ms = log::ms_since(t);
        if let Some(ll) = &out.llvm_ir {
            dump::write(ir, ".ll", ll);
        }
        if dumping {
            dump::write(ir, ".ptx", &out.ptx);
        }
        let t = Instant::now();
        let (cubin, jit_info) = d.link_ptx(&out.ptx)?;
        let jit_ms = log::ms_since(t);
        let function = d.load_image(&cubin, &out.meta.entry, &out.meta.globals)?;
        if let (Some(cache), Some(key)) = (cache, &key) {
            cache.store(key, &CacheEntry { cubin, ptx: out.ptx, info: jit_info.clone() });
        }
        log::compile(format_args!(
            "compiled {}: IR -> PTX {llvm_ms:.2} ms (LLVM), PTX -> cubin {jit_ms:.2} ms (driver JIT), {:.2} ms in all",
            label(),
            log::ms_since(started)
        ));
        Ok(Compiled::Cuda(CudaKernel { function, meta: out.meta, jit_info }))
    }

    /// The specialized IR for `args` (only their types matter; nothing runs).
    pub fn ir<'a>(&self, args: impl KernelArgs<'a>) -> Result<ir::Kernel> {
        let mut buf = [Arg::NONE; MAX_ARGS];
        let n = args.collect(&mut buf);
        let key = self.bind_args(&buf[..n.min(MAX_ARGS)])?;
        Ok(specialize(&self.source, &key)?)
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
        Ok(specialize(&self.source, &key)?)
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
        let compiled = self.compiled(device, key)?;
        let Compiled::Cuda(k) = &**compiled else {
            return Err(self.unsupported("registers and spills are figures of a GPU specialization; this is the CPU backend".into()));
        };
        use cudarc::driver::sys::CUfunction_attribute as A;
        let attr = |a| k.function.attribute(a).map(|v| v.max(0) as u32);
        let report = gpujit_codegen::toolchain::PtxasReport::parse(k.jit_info.clone());
        Ok(KernelResources {
            registers: attr(A::CU_FUNC_ATTRIBUTE_NUM_REGS)?,
            local_bytes: attr(A::CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES)?,
            shared_bytes: attr(A::CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES)?,
            const_bytes: attr(A::CU_FUNC_ATTRIBUTE_CONST_SIZE_BYTES)?,
            max_threads_per_block: attr(A::CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK)?,
            spill_stores: report.spill_stores,
            spill_loads: report.spill_loads,
            jit_log: report.log,
        })
    }

    /// The declared parameters in Rust syntax, e.g. `a: T, x: &[T], y: &mut [T]`.
    pub fn signature(&self) -> String {
        let params: Vec<String> = self.source.params.iter().map(|p| format!("{}: {}", p.name, param_text(&self.source, p))).collect();
        params.join(", ")
    }
}
