//! The runtime's backend interface: one trait with two implementations, the CPU backend
//! ([`CpuBackend`]) and a CUDA GPU ([`CudaDevice`]). Everything that differs between them goes
//! through it: the device's description and limits, synchronization, streams and events, and
//! for kernels compiling (or loading from the disk cache), launching and resources.
//!
//! Launching is the second half of the compiled-kernel contract (`gpujit_codegen::contract`):
//! a backend's [`Executable`] carries the [`KernelMetadata`] codegen returned with its code, and
//! the kernel's arguments reach it already marshalled into that layout's words.
//!
//! Memory is an address on either backend (the CPU backend's are host addresses of 16-byte-aligned
//! allocations), so arrays have one representation. Recorded events are values of each backend
//! ([`EventKind`]).

use crate::cpu;
use crate::cuda::{CudaDevice, CudaFunction, RawEvent, RawStream};
use crate::deferred;
use crate::device::{DeviceId, DeviceInner, Limits};
use crate::disk_cache::{CacheEntry, DiskCache};
use crate::dump;
use crate::error::{Error, Result};
use crate::kernel::KernelResources;
use crate::launch::Arg;
use crate::log;
use crate::stream::Stream;
use gpujit_codegen::contract::{KernelMetadata, OobRecord};
use gpujit_codegen::host::{compile_host, HostCode};
use gpujit_codegen::ir;
use gpujit_codegen::nvptx::{compile_ptx, NvptxTarget};
use gpujit_codegen::ScalarType;
use std::ffi::c_void;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

/// What the runtime asks of a device.
pub(crate) trait Backend: Send + Sync {
    fn id(&self) -> DeviceId;
    /// A human-readable description.
    fn name(&self) -> String;
    fn limits(&self) -> Limits;
    /// The PTX target kernels are compiled for (`None` on the CPU backend).
    fn nvptx_target(&self) -> Option<NvptxTarget>;
    /// Blocks of `threads` threads the device runs at once.
    fn resident_blocks(&self, threads: u32) -> u32;
    /// The blocks a generated grid-stride kernel (`forall!`) launches for `blocks` blocks of
    /// work: on a GPU at most `resident` (the loop covers the rest); on the CPU backend all of
    /// them, one element a thread: it runs a block's threads one after another, so that with a
    /// capped grid each thread's loop would sweep the whole array a few elements at a time,
    /// while one element a thread walks it in order. (Fused expressions are uncapped on both.)
    fn grid_stride_blocks(&self, blocks: usize, resident: usize) -> usize;
    /// Whether a thread of a fused elementwise kernel takes a group of neighbouring elements
    /// (for 16-byte accesses): on a GPU; not on the CPU backend, whose flat form of the kernel
    /// (`gpujit_codegen::lower::flat`) vectorizes the loop over single elements itself.
    fn groups_elements(&self) -> bool {
        true
    }
    /// Waits for all work submitted to the device.
    fn synchronize(&self) -> Result<()>;
    /// A new stream's handle (`None` on the CPU backend, which runs work when submitted).
    /// `blocking`: ordered with the legacy default stream.
    fn new_stream(&self, blocking: bool) -> Result<Option<RawStream>>;
    /// An event recorded now on `stream` (`None`: the default stream).
    fn record_event(&self, stream: Option<&Stream>) -> Result<EventKind>;
    /// Compiles a specialization for this device (or loads it from the disk cache).
    fn compile(&self, ir: &ir::Kernel, dumping: bool, started: Instant) -> Result<Arc<dyn Executable>>;

    /// `bytes` of array memory (zeroed on the CPU backend; not initialized on a GPU unless
    /// `zeroed`): its address (on a GPU 0 for none).
    fn alloc(&self, bytes: usize, zeroed: bool) -> Result<u64>;
    /// Frees an allocation of [`Backend::alloc`] of `bytes` (on a GPU after the work using it).
    fn free(&self, ptr: u64, bytes: usize);
    /// Copies host bytes to array memory, ordered after the work queued before.
    fn write(&self, dst: u64, src: &[u8]) -> Result<()>;
    /// Copies array memory to host bytes, waiting for the work that writes it.
    fn read(&self, dst: &mut [u8], src: u64) -> Result<()>;
    /// `bytes` of host memory for asynchronous copies (page-locked on a GPU), zeroed; null for 0.
    fn alloc_pinned(&self, bytes: usize) -> Result<*mut u8>;
    /// Frees memory of [`Backend::alloc_pinned`].
    fn free_pinned(&self, ptr: *mut u8, bytes: usize);
}

/// Host allocations are aligned for 16-byte vector accesses (fused kernels' `aligned16`).
const HOST_ALIGN: usize = 16;

fn host_layout(bytes: usize) -> Option<std::alloc::Layout> {
    std::alloc::Layout::from_size_align(bytes, HOST_ALIGN).ok()
}

/// A zeroed host allocation of `bytes` (a dangling, aligned address for 0).
fn host_alloc(bytes: usize) -> Result<u64> {
    if bytes == 0 {
        return Ok(HOST_ALIGN as u64);
    }
    let Some(layout) = host_layout(bytes) else {
        return Err(Error::Array(format!("an allocation of {bytes} bytes is too large")));
    };
    // SAFETY: the layout has a nonzero size.
    let p = unsafe { std::alloc::alloc_zeroed(layout) };
    if p.is_null() {
        return Err(Error::Array(format!("out of host memory allocating {bytes} bytes")));
    }
    Ok(p as u64)
}

fn host_free(ptr: u64, bytes: usize) {
    if let (Some(layout), true) = (host_layout(bytes), bytes > 0) {
        // SAFETY: ptr came from `host_alloc` with this size (and so this layout), freed once.
        unsafe { std::alloc::dealloc(ptr as *mut u8, layout) };
    }
}

/// A recorded event: a moment on the CPU backend, a CUDA event on a GPU.
pub(crate) enum EventKind {
    Cpu(Instant),
    Cuda(RawEvent),
}

impl EventKind {
    /// Waits until the work before the event has finished.
    pub(crate) fn synchronize(&self) -> Result<()> {
        match self {
            EventKind::Cpu(_) => Ok(()),
            EventKind::Cuda(e) => {
                e.synchronize()?;
                deferred::report(e.device_ordinal(), deferred::Due::Finished)
            }
        }
    }

    /// Whether the work before the event has finished (without waiting).
    pub(crate) fn is_complete(&self) -> Result<bool> {
        match self {
            EventKind::Cpu(_) => Ok(true),
            EventKind::Cuda(e) => e.is_complete(),
        }
    }

    /// Milliseconds of device time from this event to `end`, waiting for `end` first.
    pub(crate) fn elapsed_ms(&self, end: &EventKind) -> Result<f32> {
        match (self, end) {
            (EventKind::Cpu(a), EventKind::Cpu(b)) => Ok(b.saturating_duration_since(*a).as_secs_f32() * 1e3),
            (EventKind::Cuda(a), EventKind::Cuda(b)) => {
                b.synchronize()?;
                a.elapsed_ms(b)
            }
            _ => Err(Error::Array("elapsed_ms: the events belong to different devices".into())),
        }
    }

    /// Makes the work queued on `stream` (a GPU stream, or `None` for the CPU backend's) wait
    /// for the event.
    pub(crate) fn wait_on(&self, stream: Option<&RawStream>) -> Result<()> {
        match (stream, self) {
            (Some(s), EventKind::Cuda(e)) => s.wait_event(e),
            (None, EventKind::Cpu(_)) => Ok(()),
            _ => Err(Error::Array("wait_event: the event belongs to another device than the stream".into())),
        }
    }
}

/// One launch, its arguments marshalled: what an [`Executable`] runs.
pub(crate) struct Launch<'l, 'a> {
    /// The kernel's name, for errors.
    pub kernel: &'l str,
    /// The argument words, in the layout of the executable's metadata.
    pub words: &'l mut [u64],
    pub grid: [u32; 3],
    pub block: [u32; 3],
    pub shared_bytes: u32,
    pub stream: Option<&'l Stream>,
    /// The arguments as passed (shapes for out-of-bounds errors, producers to wait for).
    pub args: &'l [Arg<'a>],
}

/// A specialization compiled for one backend.
pub(crate) trait Executable: Send + Sync {
    /// The compiled-kernel description codegen returned with the code.
    fn meta(&self) -> &KernelMetadata;
    /// Runs (CPU) or queues (GPU) one launch.
    fn launch(&self, launch: Launch<'_, '_>) -> Result<()>;
    /// The host code, when this is the CPU backend's (a graph capture records its launches).
    fn host_code(&self) -> Option<&HostCode> {
        None
    }
    /// What the specialization uses on its GPU.
    fn resources(&self, kernel: &str) -> Result<KernelResources>;
    /// How many blocks of `threads` threads (and `shared` bytes of dynamic shared memory) the
    /// device runs at once: the largest grid of a `grid_sync()` launch.
    fn max_resident_blocks(&self, threads: u32, shared: u32) -> Result<u64>;
}

impl DeviceInner {
    /// The backend of this device.
    pub(crate) fn backend(&self) -> &dyn Backend {
        match self {
            DeviceInner::Cpu => &CpuBackend,
            DeviceInner::Cuda(d) => d,
        }
    }
}

/// The CPU backend keeps CUDA's limits, so a launch valid there is valid on a GPU.
const CPU_MAX_THREADS_PER_BLOCK: u32 = 1024;

/// The CPU backend: kernels JIT-compiled for the host and run over all cores.
pub(crate) struct CpuBackend;

impl Backend for CpuBackend {
    fn id(&self) -> DeviceId {
        DeviceId::Cpu
    }

    fn name(&self) -> String {
        let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        format!("CPU backend ({threads} threads)")
    }

    fn limits(&self) -> Limits {
        Limits {
            max_threads_per_block: CPU_MAX_THREADS_PER_BLOCK,
            max_block: [1024, 1024, 64],
            max_grid: [i32::MAX as u32, 65535, 65535],
            // A Hopper GPU's opt-in limit, so that kernels sized for one run here too.
            max_shared: 227 * 1024,
        }
    }

    fn nvptx_target(&self) -> Option<NvptxTarget> {
        None
    }

    fn resident_blocks(&self, _threads: u32) -> u32 {
        static CORES: OnceLock<u32> = OnceLock::new();
        4 * *CORES.get_or_init(|| std::thread::available_parallelism().map(|n| n.get() as u32).unwrap_or(2))
    }

    fn grid_stride_blocks(&self, blocks: usize, _resident: usize) -> usize {
        blocks
    }

    fn groups_elements(&self) -> bool {
        // Without the flat form (`GPUJIT_CPU_FLAT=0`), groups give LLVM neighbouring accesses.
        !gpujit_codegen::lower::flat::enabled()
    }

    fn synchronize(&self) -> Result<()> {
        Ok(())
    }

    fn new_stream(&self, _blocking: bool) -> Result<Option<RawStream>> {
        Ok(None)
    }

    fn record_event(&self, _stream: Option<&Stream>) -> Result<EventKind> {
        Ok(EventKind::Cpu(Instant::now()))
    }

    fn alloc(&self, bytes: usize, _zeroed: bool) -> Result<u64> {
        host_alloc(bytes)
    }

    fn free(&self, ptr: u64, bytes: usize) {
        host_free(ptr, bytes)
    }

    fn write(&self, dst: u64, src: &[u8]) -> Result<()> {
        if !src.is_empty() {
            let _read = cpu::host_memory_read();
            // SAFETY: dst is an allocation of this backend of at least src.len() bytes, owned by
            // an array borrowed mutably by the caller; kernels write host memory only under the
            // host memory lock's other side.
            unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), dst as *mut u8, src.len()) };
        }
        Ok(())
    }

    fn read(&self, dst: &mut [u8], src: u64) -> Result<()> {
        if !dst.is_empty() {
            let _read = cpu::host_memory_read();
            // SAFETY: src is an allocation of this backend of at least dst.len() initialized
            // (zeroed at allocation) bytes.
            unsafe { std::ptr::copy_nonoverlapping(src as *const u8, dst.as_mut_ptr(), dst.len()) };
        }
        Ok(())
    }

    fn alloc_pinned(&self, bytes: usize) -> Result<*mut u8> {
        if bytes == 0 {
            return Ok(std::ptr::null_mut());
        }
        host_alloc(bytes).map(|p| p as *mut u8)
    }

    fn free_pinned(&self, ptr: *mut u8, bytes: usize) {
        if !ptr.is_null() {
            host_free(ptr as u64, bytes);
        }
    }

    fn compile(&self, ir: &ir::Kernel, dumping: bool, started: Instant) -> Result<Arc<dyn Executable>> {
        let code = compile_host(ir, dumping)?;
        if let Some(ll) = code.llvm_ir() {
            dump::write(ir, ".host.ll", ll);
        }
        log::compile(format_args!("compiled `{}{}` for the CPU backend in {:.2} ms", ir.name, ir.signature(), log::ms_since(started)));
        Ok(Arc::new(code))
    }
}

impl Executable for HostCode {
    fn meta(&self) -> &KernelMetadata {
        HostCode::meta(self)
    }

    fn launch(&self, l: Launch<'_, '_>) -> Result<()> {
        let _read = cpu::host_memory_read();
        // SAFETY: the code was compiled for exactly this specialization, whose parameters the
        // kernel's binding matched against `args` and whose layout wrote `words`; every array
        // word holds the data pointer and extents of a live array borrowed for this call
        // (writable ones mutably), on the CPU device (the launch checked).
        let outcome = unsafe { cpu::launch(self, l.words, l.grid, l.block, l.shared_bytes as u64) };
        host_outcome(l.kernel, self, outcome, |number| match l.args.get(number as usize) {
            Some(Arg::Array { shape, ndim, .. }) => Some(shape[..*ndim as usize].to_vec()),
            _ => None,
        })
    }

    fn host_code(&self) -> Option<&HostCode> {
        Some(self)
    }

    fn resources(&self, kernel: &str) -> Result<KernelResources> {
        let message = "registers and spills are figures of a GPU specialization; this is the CPU backend".into();
        Err(Error::Unsupported { kernel: kernel.to_string(), message })
    }

    /// A `grid_sync()` kernel's blocks all run together as fibers, up to
    /// [`cpu::MAX_COOPERATIVE_THREADS`] threads; any other kernel's run one a worker at a time.
    fn max_resident_blocks(&self, threads: u32, _shared: u32) -> Result<u64> {
        let threads = threads.max(1) as u64;
        Ok(if self.meta().cooperative { cpu::MAX_COOPERATIVE_THREADS / threads } else { cpu::worker_count() as u64 })
    }
}

/// The error for a failed assertion's record: its message formatted from the recorded values as
/// Rust's `assert!` family formats its panic message.
fn assertion(kernel: &str, meta: &KernelMetadata, id: u32, oob: &OobRecord) -> Error {
    use gpujit_codegen::ast::AssertKind;
    use gpujit_codegen::format::{self, Value};
    let Some(info) = meta.asserts.get(id as usize) else {
        return Error::Unsupported {
            kernel: kernel.to_string(),
            message: format!("internal error: assertion {id} is not in the kernel's table"),
        };
    };
    let values: Vec<Value> = info.types.iter().zip(oob.values).map(|(t, bits)| crate::print::value(*t, bits)).collect();
    let compared = if info.kind == AssertKind::Cond { 0 } else { 2 };
    // The message's values are its positional arguments, then the names it captures: the one
    // split of them under which the string (checked when the kernel was built) parses.
    let args = &values[compared.min(values.len())..];
    let custom = info.format.as_ref().map(|f| match crate::print::parse_with(f, args.len()) {
        Some(parsed) => format::render(&parsed, args),
        None => f.clone(),
    });
    let debug = format::Spec { fill: ' ', kind: "?", ..Default::default() };
    let message = match (info.kind, custom) {
        (AssertKind::Cond, None) => format!("assertion failed: {}", info.text),
        (AssertKind::Cond, Some(m)) => m,
        (kind, m) => {
            let op = if kind == AssertKind::Eq { "==" } else { "!=" };
            let m = m.map(|m| format!(": {m}")).unwrap_or_default();
            let (l, r) = (format::format_value(values[0], &debug), format::format_value(values[1], &debug));
            format!("assertion `left {op} right` failed{m}\n  left: {l}\n right: {r}")
        }
    };
    Error::Assertion {
        kernel: kernel.to_string(),
        block: oob.block,
        thread: oob.thread,
        file: info.file.clone(),
        line: info.line,
        column: info.column,
        message,
    }
}

/// The result of a CPU-backend launch as the caller sees it: the first out-of-bounds access as
/// an [`Error::OutOfBounds`] (with `shape_of` the shape of array parameter `number`), a launch
/// the backend cannot run as the matching error.
pub(crate) fn host_outcome(
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
        Err(cpu::CpuError::Deadlock(message)) => Err(Error::Deadlock { kernel: kernel.to_string(), message }),
        Err(cpu::CpuError::Internal(message)) => {
            Err(Error::Unsupported { kernel: kernel.to_string(), message: format!("internal error of gpujit's CPU backend: {message}") })
        }
    }
}

/// The error for a kernel's out-of-bounds record, on either backend; `shape_of` gives the shape
/// of array parameter `number` (static arrays' lengths come from the metadata).
fn out_of_bounds(kernel: &str, meta: &KernelMetadata, oob: &OobRecord, shape_of: impl Fn(u32) -> Option<Vec<u64>>) -> Error {
    if let Some(id) = oob.assertion() {
        return assertion(kernel, meta, id, oob);
    }
    let at = match (meta.files.get(oob.values[1] as usize), oob.values[0] as u32) {
        (Some(file), line) if line > 0 && !file.is_empty() => Some(Box::new(crate::error::SourceLine { file: file.clone(), line })),
        _ => None,
    };
    if oob.non_finite() {
        return non_finite(kernel, meta, oob, at);
    }
    if oob.misaligned() {
        return Error::Misaligned {
            kernel: kernel.to_string(),
            at,
            array: meta.array_name(oob.array).to_string(),
            offset: oob.index,
            count: oob.values[2],
            thread: oob.thread,
            block: oob.block,
        };
    }
    let axis = oob.axis as usize;
    let shape = shape_of(oob.array).unwrap_or_else(|| vec![meta.static_len(oob.array).unwrap_or(0)]);
    let len = shape.get(axis).copied().unwrap_or(0);
    Error::OutOfBounds {
        kernel: kernel.to_string(),
        at,
        array: meta.array_name(oob.array).to_string(),
        axis,
        index: oob.index,
        len,
        shape: shape.into_boxed_slice(),
        tx: oob.thread[0],
        ty: oob.thread[1],
        tz: oob.thread[2],
        bx: oob.block[0],
        by: oob.block[1],
        bz: oob.block[2],
    }
}

/// The error for a record of a NaN or infinity written (`GPUJIT_CHECK=1`): values 2 and 3 are
/// the float's bits and its part of the element (the count of indices in the high half), the
/// indices follow.
fn non_finite(kernel: &str, meta: &KernelMetadata, oob: &OobRecord, at: Option<Box<crate::error::SourceLine>>) -> Error {
    let (bits, part) = (oob.values[2], oob.values[3]);
    let ndim = ((part >> 32) as usize).min(oob.values.len() - 4);
    let parts = meta.array_elem(oob.array).map(|t| t.float_parts()).unwrap_or_default();
    let (path, ty) = match parts.get(part as u32 as usize) {
        Some((_, path, ty)) => (path.clone(), *ty),
        None => (String::new(), ScalarType::F64),
    };
    let value = match ty {
        ScalarType::F16 => half::f16::from_bits(bits as u16).to_f64(),
        ScalarType::BF16 => half::bf16::from_bits(bits as u16).to_f64(),
        ScalarType::F32 => f32::from_bits(bits as u32) as f64,
        _ => f64::from_bits(bits),
    };
    Error::NonFinite {
        kernel: kernel.to_string(),
        array: meta.array_name(oob.array).to_string(),
        index: oob.values[4..4 + ndim].into(),
        part: path.into_boxed_str(),
        value,
        thread: Box::new([oob.thread, oob.block]),
        at,
    }
}

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

/// A specialization loaded on a GPU.
struct CudaKernel {
    function: Arc<CudaFunction>,
    /// The compiled-kernel description (argument layout, array table, cooperative or not).
    meta: Arc<KernelMetadata>,
    /// The driver JIT's information log (registers, spills).
    jit_info: String,
    /// What reading the records of its launches at a later synchronization needs (kernels that
    /// print or assert), made at the first such launch.
    deferred: OnceLock<Arc<deferred::Check>>,
}

impl CudaKernel {
    fn new(function: CudaFunction, meta: KernelMetadata, jit_info: String) -> CudaKernel {
        CudaKernel { function: Arc::new(function), meta: Arc::new(meta), jit_info, deferred: OnceLock::new() }
    }

    /// The records' reader of a launch of this kernel as `kernel`, with `args` its arguments
    /// (kept only where a bounds error may need the shapes).
    fn check(&self, kernel: &str, args: Option<&[Arg<'_>]>) -> Arc<deferred::Check> {
        let made = |shapes| {
            Arc::new(deferred::Check { kernel: kernel.to_string(), function: self.function.clone(), meta: self.meta.clone(), shapes })
        };
        match args {
            Some(args) => made(args.iter().map(|a| array_shape(a)).collect()),
            None => self.deferred.get_or_init(|| made(Vec::new())).clone(),
        }
    }
}

/// The shape of an array argument.
fn array_shape(a: &Arg<'_>) -> Option<Vec<u64>> {
    match a {
        Arg::Array { shape, ndim, .. } => Some(shape[..*ndim as usize].to_vec()),
        _ => None,
    }
}

/// Reads a GPU kernel's records once its launches have finished: writes out its prints, and
/// gives its first failure (a failed assertion, an out-of-bounds access, a NaN written) as the
/// error, `shape_of` giving the shape of array parameter `number`.
pub(crate) fn read_records(
    kernel: &str,
    meta: &KernelMetadata,
    f: &CudaFunction,
    shape_of: impl Fn(u32) -> Option<Vec<u64>>,
) -> Result<()> {
    if let Some((reserved, words)) = f.take_prints()? {
        crate::print::emit(meta, reserved, &words);
    }
    match f.take_oob()?.as_ref().and_then(OobRecord::decode) {
        None => Ok(()),
        Some(oob) => Err(out_of_bounds(kernel, meta, &oob, shape_of)),
    }
}

impl Backend for Arc<CudaDevice> {
    fn id(&self) -> DeviceId {
        DeviceId::Cuda(self.ordinal)
    }

    fn name(&self) -> String {
        format!(
            "{} (cuda:{}, driver {}.{}, compute capability {}.{}, code for sm_{}, PTX {}.{})",
            self.name,
            self.ordinal,
            self.driver_version / 1000,
            (self.driver_version % 1000) / 10,
            self.compute_capability.0,
            self.compute_capability.1,
            self.target.arch,
            self.target.ptx_version / 10,
            self.target.ptx_version % 10
        )
    }

    fn limits(&self) -> Limits {
        Limits {
            max_threads_per_block: self.max_threads_per_block,
            max_block: self.max_block,
            max_grid: self.max_grid,
            max_shared: self.max_shared_per_block,
        }
    }

    fn nvptx_target(&self) -> Option<NvptxTarget> {
        Some(self.target)
    }

    fn resident_blocks(&self, threads: u32) -> u32 {
        self.multiprocessors * (2048 / threads.max(1))
    }

    fn grid_stride_blocks(&self, blocks: usize, resident: usize) -> usize {
        blocks.min(resident)
    }

    fn synchronize(&self) -> Result<()> {
        // Not while another thread captures a graph (the driver would refuse, and spoil that
        // capture).
        let _gate = crate::graph::no_capture();
        CudaDevice::synchronize(self)?;
        deferred::report(self.ordinal, deferred::Due::All)
    }

    fn new_stream(&self, blocking: bool) -> Result<Option<RawStream>> {
        Ok(Some(if blocking { RawStream::new(self.clone())? } else { RawStream::new_non_blocking(self.clone())? }))
    }

    fn record_event(&self, stream: Option<&Stream>) -> Result<EventKind> {
        let raw = stream.and_then(|s| s.raw.as_ref()).map(|s| s.raw).unwrap_or(std::ptr::null_mut());
        Ok(EventKind::Cuda(RawEvent::record(self.clone(), raw)?))
    }

    fn alloc(&self, bytes: usize, zeroed: bool) -> Result<u64> {
        let ptr = CudaDevice::alloc(self, bytes)?;
        if zeroed && bytes > 0 {
            if let Err(e) = self.zero(ptr, bytes) {
                CudaDevice::free(self, ptr, bytes);
                return Err(e);
            }
        }
        Ok(ptr)
    }

    fn free(&self, ptr: u64, bytes: usize) {
        CudaDevice::free(self, ptr, bytes)
    }

    fn write(&self, dst: u64, src: &[u8]) -> Result<()> {
        self.copy_to_device(dst, src)
    }

    fn read(&self, dst: &mut [u8], src: u64) -> Result<()> {
        self.copy_to_host(dst, src)?;
        // A blocking read is a synchronization: what finished kernels printed or failed shows.
        deferred::report(self.ordinal, deferred::Due::Finished)
    }

    fn alloc_pinned(&self, bytes: usize) -> Result<*mut u8> {
        let ptr = self.alloc_host(bytes)?;
        if bytes > 0 {
            // SAFETY: ptr is a fresh allocation of `bytes` bytes.
            unsafe { std::ptr::write_bytes(ptr, 0, bytes) };
        }
        Ok(ptr)
    }

    fn free_pinned(&self, ptr: *mut u8, _bytes: usize) {
        self.free_host(ptr);
    }

    /// IR → PTX (LLVM) → cubin (the driver's JIT) → loaded module, or the cubin from the disk
    /// cache when an earlier process (or this one) compiled the same specialization.
    fn compile(&self, ir: &ir::Kernel, dumping: bool, started: Instant) -> Result<Arc<dyn Executable>> {
        let d = self;
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
                    return Ok(Arc::new(CudaKernel::new(function, meta, entry.info)));
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
        Ok(Arc::new(CudaKernel::new(function, out.meta, jit_info)))
    }
}

impl Executable for CudaKernel {
    fn meta(&self) -> &KernelMetadata {
        &self.meta
    }

    fn launch(&self, l: Launch<'_, '_>) -> Result<()> {
        let f = &self.function;
        let k = l.words.len();
        let mut params = [std::ptr::null_mut::<c_void>(); crate::kernel::SLOTS];
        if k > params.len() {
            return Err(Error::Unsupported {
                kernel: l.kernel.to_string(),
                message: format!("{k} argument words exceed the launch's {}", params.len()),
            });
        }
        let base = l.words.as_mut_ptr();
        for (i, p) in params.iter_mut().enumerate().take(k) {
            // SAFETY: i < k = words.len(), so the pointer stays inside `words`.
            *p = unsafe { base.add(i) } as *mut c_void;
        }
        let stream = l.stream.and_then(|s| s.raw.as_ref()).map(|s| s.raw).unwrap_or(std::ptr::null_mut());
        // Foreign arrays with pending work on their producer's stream: wait on an event. Not
        // while capturing a graph: a capture cannot depend on uncaptured work (the caller of
        // `Graph::capture_with_foreign` orders replays after producers).
        let capturing = l.stream.is_some_and(|s| s.capture.is_some());
        for a in l.args.iter().filter(|_| !capturing) {
            if let Arg::Array { wait: Some(producer), device, .. } = a {
                // Work on the launch's own stream is ordered already.
                if *producer as cudarc::driver::sys::CUstream == stream {
                    continue;
                }
                if let DeviceInner::Cuda(d) = &device.inner {
                    d.order_after(*producer as cudarc::driver::sys::CUstream, stream)?;
                }
            }
        }
        if let Some(s) = l.stream.and_then(|s| s.raw.as_ref()).filter(|_| !capturing) {
            s.note_work();
        }
        // (Room for the kernel to move its dynamic shared memory to a 1024-byte boundary.)
        let shared_bytes = l.shared_bytes + self.meta.dynamic_shared_pad;
        if self.meta.cooperative {
            let threads = l.block.iter().product::<u32>();
            let blocks = l.grid.iter().map(|&g| g as u64).product::<u64>();
            let resident = f.max_resident_blocks(threads, shared_bytes)?;
            if blocks > resident {
                let message = format!(
                    "a kernel calling grid_sync() needs all its blocks resident at once; this device holds {resident} blocks of {threads} threads, the grid has {blocks}"
                );
                return Err(Error::LaunchConfig { kernel: l.kernel.to_string(), message });
            }
            f.launch_cooperative(l.grid, l.block, shared_bytes, stream, &mut params[..k])?;
        } else {
            f.launch(l.grid, l.block, shared_bytes, stream, &mut params[..k])?;
        }
        if !f.has_records() {
            if crate::kernel::check_mode() && !capturing {
                f.wait(l.kernel, stream)?;
            }
            return Ok(());
        }
        if let Some(capture) = l.stream.and_then(|s| s.capture.as_ref()) {
            // Read at each replay's next synchronization, with the shapes captured.
            let check = self.check(l.kernel, Some(l.args));
            capture.lock().unwrap_or_else(|p| p.into_inner()).checks.push(check);
            return Ok(());
        }
        if self.meta.boundscheck {
            // Bounds errors name the shapes of this launch's arrays, and GPUJIT_CHECK=1 reports
            // at the launch: wait, then read.
            if crate::kernel::check_mode() {
                f.wait(l.kernel, stream)?;
            } else {
                f.synchronize(stream)?;
            }
            return read_records(l.kernel, &self.meta, f, |number| l.args.get(number as usize).and_then(array_shape));
        }
        deferred::launched(f.device(), &self.check(l.kernel, None), stream)
    }

    fn max_resident_blocks(&self, threads: u32, shared: u32) -> Result<u64> {
        // With the padding the launch adds (see `launch`).
        self.function.max_resident_blocks(threads, shared + self.meta.dynamic_shared_pad)
    }

    fn resources(&self, _kernel: &str) -> Result<KernelResources> {
        use cudarc::driver::sys::CUfunction_attribute as A;
        let attr = |a| self.function.attribute(a).map(|v| v.max(0) as u32);
        let report = gpujit_codegen::toolchain::PtxasReport::parse(self.jit_info.clone());
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
}
