//! The CUDA backend: one primary context per device, raw driver calls through cudarc's `result`
//! layer (no per-launch bookkeeping), modules loaded from PTX.
//!
//! The driver library is loaded at run time. cudarc panics on the first call when it is missing,
//! so [`driver_present`] probes for it before anything else touches the driver.

use crate::error::{Error, Result};
use crate::memory::{size_class, MemoryCache};
use cudarc::driver::{result, sys};
use gpujit_codegen::contract::OobRecord;
use gpujit_codegen::nvptx::NvptxTarget;
use std::ffi::{c_void, CString};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// Whether a CUDA driver library can be loaded in this process.
///
/// The library is opened once here and never closed. cudarc's own check opens and closes it,
/// which unloads it before the real load, and cuda-gdb, which hooks the driver when it first
/// loads, then never sees the process's kernels.
pub fn driver_present() -> bool {
    static PRESENT: OnceLock<bool> = OnceLock::new();
    *PRESENT.get_or_init(|| {
        let pinned = ["cuda", "nvcuda"].iter().flat_map(|l| cudarc::get_lib_name_candidates(l)).any(|name| pin_library(&name));
        // SAFETY: is_culib_present only tries to open the library and drops it; it has no
        // preconditions.
        pinned && unsafe { sys::is_culib_present() }
    })
}

/// Opens a shared library for good (`dlopen`, never `dlclose`): whether it loaded.
#[cfg(unix)]
fn pin_library(name: &str) -> bool {
    extern "C" {
        fn dlopen(filename: *const std::ffi::c_char, flag: std::ffi::c_int) -> *mut c_void;
    }
    const RTLD_LAZY: std::ffi::c_int = 1;
    let Ok(name) = CString::new(name) else { return false };
    // SAFETY: `name` is NUL-terminated and outlives the call; the handle is deliberately
    // leaked, so the library stays loaded for the life of the process.
    !unsafe { dlopen(name.as_ptr(), RTLD_LAZY) }.is_null()
}

#[cfg(not(unix))]
fn pin_library(_name: &str) -> bool {
    true
}

fn init_driver() -> Result<()> {
    static INIT: OnceLock<Result<(), String>> = OnceLock::new();
    if !driver_present() {
        return Err(Error::NoDevice { requested: "cuda".into(), reason: "no CUDA driver library (libcuda.so) was found".into() });
    }
    INIT.get_or_init(|| result::init().map_err(|e| e.to_string()))
        .clone()
        .map_err(|reason| Error::NoDevice { requested: "cuda".into(), reason: format!("cuInit failed: {reason}") })
}

/// The number of CUDA devices, 0 when there is no driver.
pub fn device_count() -> usize {
    if init_driver().is_err() {
        return 0;
    }
    result::device::get_count().map(|n| n.max(0) as usize).unwrap_or(0)
}

/// The ordinal of the device that owns device pointer `ptr` (`cuPointerGetAttribute`).
pub fn pointer_device(ptr: u64) -> Result<u32> {
    init_driver()?;
    let mut ordinal: i32 = -1;
    // SAFETY: the output is a live i32, the size DEVICE_ORDINAL returns; the driver validates ptr.
    unsafe {
        sys::cuPointerGetAttribute(
            &mut ordinal as *mut i32 as *mut c_void,
            sys::CUpointer_attribute::CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL,
            ptr,
        )
    }
    .result()
    .map_err(|e| Error::driver("cuPointerGetAttribute", e))?;
    Ok(ordinal.max(0) as u32)
}

thread_local! {
    /// The context this thread's last `bind` made current.
    static BOUND: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// A CUDA device with its retained primary context and the limits launches are checked against.
pub struct CudaDevice {
    pub(crate) ordinal: u32,
    dev: sys::CUdevice,
    ctx: sys::CUcontext,
    pub(crate) name: String,
    pub(crate) compute_capability: (u32, u32),
    pub(crate) driver_version: u32,
    pub(crate) max_threads_per_block: u32,
    pub(crate) max_block: [u32; 3],
    pub(crate) max_grid: [u32; 3],
    pub(crate) max_shared_per_block: u32,
    pub(crate) multiprocessors: u32,
    pub(crate) target: NvptxTarget,
    /// Freed memory kept for reuse (see [`crate::memory`]).
    memory: OnceLock<Option<Arc<MemoryCache>>>,
}

// SAFETY: CUdevice is an integer and CUcontext a handle the driver allows to be used from any
// thread (each thread makes it current before use, see `bind`).
unsafe impl Send for CudaDevice {}
// SAFETY: as for Send; the struct is immutable after construction.
unsafe impl Sync for CudaDevice {}

impl CudaDevice {
    /// The device of `ordinal`, opened once per process.
    pub fn open(ordinal: u32) -> Result<Arc<CudaDevice>> {
        static OPEN: Mutex<Vec<(u32, Arc<CudaDevice>)>> = Mutex::new(Vec::new());
        let mut open = OPEN.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, d)) = open.iter().find(|(o, _)| *o == ordinal) {
            return Ok(d.clone());
        }
        let d = Arc::new(CudaDevice::create(ordinal)?);
        open.push((ordinal, d.clone()));
        Ok(d)
    }

    fn create(ordinal: u32) -> Result<CudaDevice> {
        init_driver()?;
        let count = device_count();
        if ordinal as usize >= count {
            return Err(Error::NoDevice { requested: format!("cuda:{ordinal}"), reason: format!("{count} CUDA device(s) present") });
        }
        let dev = result::device::get(ordinal as i32).map_err(|e| Error::driver("cuDeviceGet", e))?;
        // SAFETY: dev is a valid device handle from cuDeviceGet.
        let ctx = unsafe { result::primary_ctx::retain(dev) }.map_err(|e| Error::driver("cuDevicePrimaryCtxRetain", e))?;
        let attr = |a: sys::CUdevice_attribute| -> Result<u32> {
            // SAFETY: dev is valid and `a` is a device attribute enum value.
            unsafe { result::device::get_attribute(dev, a) }.map(|v| v.max(0) as u32).map_err(|e| Error::driver("cuDeviceGetAttribute", e))
        };
        use sys::CUdevice_attribute as A;
        let cc = (attr(A::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)?, attr(A::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR)?);
        let mut version = 0i32;
        // SAFETY: the pointer is to a live i32.
        unsafe { sys::cuDriverGetVersion(&mut version) }.result().map_err(|e| Error::driver("cuDriverGetVersion", e))?;
        let driver_version = version.max(0) as u32;
        let target = NvptxTarget::for_device(cc.0, cc.1, driver_version).ok_or_else(|| Error::NoDevice {
            requested: format!("cuda:{ordinal}"),
            reason: format!("the driver ({driver_version}) is too old for compute capability {}.{}", cc.0, cc.1),
        })?;
        Ok(CudaDevice {
            ordinal,
            dev,
            ctx,
            name: result::device::get_name(dev).unwrap_or_else(|_| "unknown CUDA device".into()),
            compute_capability: cc,
            driver_version,
            max_threads_per_block: attr(A::CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK)?,
            max_block: [
                attr(A::CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X)?,
                attr(A::CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y)?,
                attr(A::CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z)?,
            ],
            max_grid: [
                attr(A::CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X)?,
                attr(A::CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y)?,
                attr(A::CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z)?,
            ],
            // The opt-in limit (227 KiB on Hopper): launches past 48 KiB of dynamic shared
            // memory raise the kernel's own limit first (`CudaFunction::launch`).
            max_shared_per_block: attr(A::CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN)
                .or_else(|_| attr(A::CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK))?,
            multiprocessors: attr(A::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)?,
            target,
            memory: OnceLock::new(),
        })
    }

    /// Makes this device's context current on the calling thread.
    pub(crate) fn bind(&self) -> Result<()> {
        // SAFETY: ctx is the primary context retained in `create` and released only in Drop.
        unsafe { result::ctx::set_current(self.ctx) }.map_err(|e| Error::driver("cuCtxSetCurrent", e))?;
        BOUND.with(|b| b.set(self.ctx as usize));
        Ok(())
    }

    /// As `bind`, skipped when this thread's last `bind` was ours (the launch path's fast case).
    /// Other code may have changed the thread's context since: a launch that then fails binds
    /// and retries (a failed launch runs nothing).
    fn bind_cached(&self) -> Result<bool> {
        if BOUND.with(|b| b.get()) == self.ctx as usize {
            return Ok(true);
        }
        self.bind()?;
        Ok(false)
    }

    /// The device's memory cache (`None` with `GPUJIT_MEMORY_CACHE=off`).
    fn memory(self: &Arc<Self>) -> Option<&Arc<MemoryCache>> {
        self.memory.get_or_init(|| MemoryCache::of(self)).as_ref()
    }

    /// `bytes` of device memory, from the cache when a block of its size class is idle there
    /// (see [`crate::memory`]). Out of memory, the cache is freed and the allocation retried.
    pub(crate) fn alloc(self: &Arc<Self>, bytes: usize) -> Result<sys::CUdeviceptr> {
        if bytes == 0 {
            return Ok(0);
        }
        let cache = self.memory();
        if let Some(ptr) = cache.and_then(|c| c.take(bytes)) {
            return Ok(ptr);
        }
        let size = if cache.is_some() { size_class(bytes) } else { bytes };
        self.bind()?;
        // SAFETY: the context is current; the returned allocation is owned by the caller.
        match unsafe { result::malloc_sync(size) } {
            Err(e) if e.0 == sys::CUresult::CUDA_ERROR_OUT_OF_MEMORY && cache.is_some_and(|c| c.cached_bytes() > 0) => {
                if let Some(c) = cache {
                    c.release(self);
                }
                self.bind()?;
                // SAFETY: as above.
                unsafe { result::malloc_sync(size) }.map_err(|e| Error::driver("cuMemAlloc", e))
            }
            r => r.map_err(|e| Error::driver("cuMemAlloc", e)),
        }
    }

    /// Frees an allocation of `bytes` made by `alloc`: into the cache, or by `cuMemFree`.
    pub(crate) fn free(self: &Arc<Self>, ptr: sys::CUdeviceptr, bytes: usize) {
        if ptr == 0 {
            return;
        }
        if self.memory().is_some_and(|c| c.put(self, ptr, bytes)) {
            return;
        }
        self.free_now(ptr);
    }

    /// `cuMemFree`: waits for the device's work (cuMemFree synchronizes), then frees.
    pub(crate) fn free_now(&self, ptr: sys::CUdeviceptr) {
        if ptr == 0 || self.bind().is_err() {
            return;
        }
        // SAFETY: ptr came from `alloc` on this device and is freed once, by its owner (or by
        // the cache, which owns the blocks it holds).
        let _ = unsafe { result::free_sync(ptr) };
    }

    /// Bytes the memory cache holds.
    pub(crate) fn cached_memory_bytes(self: &Arc<Self>) -> usize {
        self.memory().map_or(0, |c| c.cached_bytes())
    }

    /// Frees the memory the cache holds.
    pub(crate) fn release_cached_memory(self: &Arc<Self>) {
        if let Some(c) = self.memory() {
            c.release(self);
        }
    }

    pub(crate) fn copy_to_device<T>(&self, dst: sys::CUdeviceptr, src: &[T]) -> Result<()> {
        if src.is_empty() {
            return Ok(());
        }
        self.bind()?;
        // SAFETY: dst points to at least size_of_val(src) bytes allocated on this device.
        unsafe { result::memcpy_htod_sync(dst, src) }.map_err(|e| Error::driver("cuMemcpyHtoD", e))
    }

    /// Sets `bytes` bytes at `dst` to zero (`cuMemsetD8`: ordered on the legacy default stream,
    /// as the copies are), without staging zeros through the host.
    pub(crate) fn zero(&self, dst: sys::CUdeviceptr, bytes: usize) -> Result<()> {
        self.bind()?;
        // SAFETY: dst points to at least `bytes` bytes allocated on this device.
        unsafe { result::memset_d8_sync(dst, 0, bytes) }.map_err(|e| Error::driver("cuMemsetD8", e))
    }

    pub(crate) fn copy_to_host<T>(&self, dst: &mut [T], src: sys::CUdeviceptr) -> Result<()> {
        if dst.is_empty() {
            return Ok(());
        }
        self.bind()?;
        // SAFETY: src points to at least size_of_val(dst) bytes on this device; cuMemcpyDtoH is
        // ordered after the legacy default stream's work, where launches go.
        unsafe { result::memcpy_dtoh_sync(dst, src) }.map_err(|e| Error::driver("cuMemcpyDtoH", e))
    }

    pub(crate) fn synchronize(&self) -> Result<()> {
        self.bind()?;
        result::ctx::synchronize().map_err(|e| Error::driver("cuCtxSynchronize", e))
    }

    /// JIT-compiles PTX to a cubin for this device (`cuLink*`): the cubin, and the JIT's
    /// information log (registers, spills). A PTX the driver rejects gives its error log.
    pub(crate) fn link_ptx(&self, ptx: &str) -> Result<(Vec<u8>, String)> {
        use sys::CUjit_option as O;
        self.bind()?;
        let mut image = Vec::with_capacity(ptx.len() + 1);
        image.extend_from_slice(ptx.as_bytes());
        image.push(0);
        const LOG: usize = 16 * 1024;
        let mut info = vec![0u8; LOG];
        let mut error = vec![0u8; LOG];
        let mut options = vec![
            O::CU_JIT_INFO_LOG_BUFFER,
            O::CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES,
            O::CU_JIT_ERROR_LOG_BUFFER,
            O::CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES,
            O::CU_JIT_LOG_VERBOSE,
        ];
        // Values travel as pointer-sized words: buffers as pointers, numbers as integers.
        let mut values = vec![
            info.as_mut_ptr() as *mut c_void,
            LOG as *mut c_void,
            error.as_mut_ptr() as *mut c_void,
            LOG as *mut c_void,
            1 as *mut c_void,
        ];
        if gpujit_codegen::nvptx::compiled_for_debugging(ptx) {
            // `debug` kernels: device debug information (cuda-gdb's locals and stepping).
            options.push(O::CU_JIT_GENERATE_DEBUG_INFO);
            values.push(1 as *mut c_void);
        }
        let text = |b: &[u8]| String::from_utf8_lossy(&b[..b.iter().position(|&c| c == 0).unwrap_or(b.len())]).trim().to_string();
        let mut state: sys::CUlinkState = std::ptr::null_mut();
        // SAFETY: options and values have the same length and live through the link (the log
        // buffers until cuLinkDestroy); the context is current.
        unsafe { sys::cuLinkCreate_v2(options.len() as u32, options.as_mut_ptr(), values.as_mut_ptr(), &mut state) }
            .result()
            .map_err(|e| Error::driver("cuLinkCreate", e))?;
        let name = c"kernel.ptx";
        // SAFETY: image is NUL-terminated PTX of the given size; state is a live link state.
        let added = unsafe {
            sys::cuLinkAddData_v2(
                state,
                sys::CUjitInputType::CU_JIT_INPUT_PTX,
                image.as_mut_ptr() as *mut c_void,
                image.len(),
                name.as_ptr(),
                0,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        }
        .result();
        let mut cubin: *mut c_void = std::ptr::null_mut();
        let mut size = 0usize;
        // SAFETY: state is live; the cubin it returns belongs to the state until cuLinkDestroy,
        // so it is copied out first.
        let linked = added.and_then(|_| unsafe { sys::cuLinkComplete(state, &mut cubin, &mut size) }.result());
        let out = linked.map(|_| {
            // SAFETY: cuLinkComplete succeeded: cubin points to size bytes owned by the state.
            unsafe { std::slice::from_raw_parts(cubin as *const u8, size) }.to_vec()
        });
        // SAFETY: state was created above and is destroyed once; nothing refers to it afterwards.
        let _ = unsafe { sys::cuLinkDestroy(state) };
        match out {
            Ok(cubin) => Ok((cubin, text(&info))),
            Err(e) => Err(Error::Driver { call: "cuLinkAddData (PTX JIT)", code: Some(e.0), message: format!("{e}: {}", text(&error)) }),
        }
    }

    /// Loads a module image (a cubin, or NUL-terminated PTX) and looks up its kernel and, among
    /// the `globals` the compiled module is known to define, the out-of-bounds record. (Looking up
    /// a symbol the module lacks is an API error that compute-sanitizer reports.)
    pub(crate) fn load_image(self: &Arc<Self>, image: &[u8], entry: &str, globals: &[String]) -> Result<CudaFunction> {
        self.bind()?;
        // SAFETY: image is a whole cubin or NUL-terminated PTX that outlives the call (the driver
        // copies it); the context is current.
        let module =
            unsafe { result::module::load_data(image.as_ptr() as *const c_void) }.map_err(|e| Error::driver("cuModuleLoadData", e))?;
        let name = CString::new(entry).map_err(|_| Error::driver_message("cuModuleGetFunction", "kernel name contains a NUL byte"))?;
        // SAFETY: module was just loaded; name is NUL-terminated.
        let function = match unsafe { result::module::get_function(module, name) } {
            Ok(f) => f,
            Err(e) => {
                // SAFETY: module is loaded and not used elsewhere.
                let _ = unsafe { result::module::unload(module) };
                return Err(Error::driver("cuModuleGetFunction", e));
            }
        };
        // Kernels compiled with bounds checks hold a record of their first bad access.
        let mut oob_record = None;
        if globals.iter().any(|g| g == gpujit_codegen::nvptx::OOB_RECORD) {
            let record =
                CString::new(gpujit_codegen::nvptx::OOB_RECORD).map_err(|_| Error::driver_message("cuModuleGetGlobal", "bad name"))?;
            // SAFETY: module is loaded and defines the global (its PTX declares it).
            match unsafe { result::module::get_global(module, record) } {
                Ok((ptr, _)) => oob_record = Some(ptr),
                Err(e) => {
                    // SAFETY: module is loaded and not used elsewhere.
                    let _ = unsafe { result::module::unload(module) };
                    return Err(Error::driver("cuModuleGetGlobal", e));
                }
            }
        }
        // Kernels that print hold a print buffer.
        let mut print_buffer = None;
        if globals.iter().any(|g| g == gpujit_codegen::nvptx::PRINT_BUFFER) {
            let name =
                CString::new(gpujit_codegen::nvptx::PRINT_BUFFER).map_err(|_| Error::driver_message("cuModuleGetGlobal", "bad name"))?;
            // SAFETY: module is loaded and defines the global (its PTX declares it).
            match unsafe { result::module::get_global(module, name) } {
                Ok((ptr, _)) => print_buffer = Some(ptr),
                Err(e) => {
                    // SAFETY: module is loaded and not used elsewhere.
                    let _ = unsafe { result::module::unload(module) };
                    return Err(Error::driver("cuModuleGetGlobal", e));
                }
            }
        }
        Ok(CudaFunction {
            device: self.clone(),
            module,
            function,
            oob_record,
            print_buffer,
            dynamic_shared: AtomicU32::new(DEFAULT_DYNAMIC_SHARED),
        })
    }
}

impl Drop for CudaDevice {
    fn drop(&mut self) {
        // SAFETY: the primary context was retained once in `create`.
        let _ = unsafe { result::primary_ctx::release(self.dev) };
    }
}

/// A kernel loaded on a device; unloads its module when dropped.
pub struct CudaFunction {
    device: Arc<CudaDevice>,
    module: sys::CUmodule,
    pub(crate) function: sys::CUfunction,
    /// The out-of-bounds record of a bounds-checked kernel.
    oob_record: Option<sys::CUdeviceptr>,
    /// The print buffer of a kernel that prints.
    print_buffer: Option<sys::CUdeviceptr>,
    /// The dynamic shared memory the kernel may use now (`CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES`),
    /// raised by a launch that needs more.
    dynamic_shared: AtomicU32,
}

/// What a kernel may use of dynamic shared memory before its limit is raised.
const DEFAULT_DYNAMIC_SHARED: u32 = 48 * 1024;

// SAFETY: module and function handles may be used from any thread once the owning context is
// current; every use binds the context first.
unsafe impl Send for CudaFunction {}
// SAFETY: as for Send; launching the same function concurrently is allowed by the driver.
unsafe impl Sync for CudaFunction {}

impl CudaFunction {
    /// A function attribute (`cuFuncGetAttribute`).
    pub(crate) fn attribute(&self, a: sys::CUfunction_attribute) -> Result<i32> {
        self.device.bind()?;
        let mut v = 0i32;
        // SAFETY: the function belongs to the current context; v is a live i32.
        unsafe { sys::cuFuncGetAttribute(&mut v, a, self.function) }.result().map_err(|e| Error::driver("cuFuncGetAttribute", e))?;
        Ok(v)
    }

    /// How many blocks of `block_threads` threads (and `shared` bytes of dynamic shared memory)
    /// can be resident at once: the largest grid of a cooperative launch.
    pub(crate) fn max_resident_blocks(&self, block_threads: u32, shared: u32) -> Result<u64> {
        self.device.bind()?;
        // SAFETY: the function belongs to the current context.
        let per_sm =
            unsafe { result::occupancy::max_active_block_per_multiprocessor(self.function, block_threads as i32, shared as usize) }
                .map_err(|e| Error::driver("cuOccupancyMaxActiveBlocksPerMultiprocessor", e))?;
        Ok(per_sm.max(0) as u64 * self.device.multiprocessors as u64)
    }

    /// As `launch`, cooperatively (every block resident at once, for `grid_sync()`).
    pub(crate) fn launch_cooperative(
        &self,
        grid: [u32; 3],
        block: [u32; 3],
        shared: u32,
        stream: sys::CUstream,
        params: &mut [*mut c_void],
    ) -> Result<()> {
        self.device.bind()?;
        if shared > self.dynamic_shared.load(Ordering::Relaxed) {
            self.allow_dynamic_shared(shared)?;
        }
        // SAFETY: as for `launch`; the caller checked that the grid fits the resident blocks.
        unsafe {
            result::launch_cooperative_kernel(
                self.function,
                (grid[0], grid[1], grid[2]),
                (block[0], block[1], block[2]),
                shared,
                stream,
                params,
            )
        }
        .map_err(|e| Error::driver("cuLaunchCooperativeKernel", e))
    }

    /// Raises the kernel's limit of dynamic shared memory to `bytes` (past the 48 KiB every
    /// kernel may use, up to the device's opt-in limit, which the launch configuration checked;
    /// the static shared memory counts against it too, which the driver checks).
    fn allow_dynamic_shared(&self, bytes: u32) -> Result<()> {
        self.device.bind()?;
        let a = sys::CUfunction_attribute::CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES;
        // SAFETY: the function belongs to the current context; the attribute takes an int.
        unsafe { sys::cuFuncSetAttribute(self.function, a, bytes as i32) }
            .result()
            .map_err(|e| Error::driver("cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES)", e))?;
        self.dynamic_shared.fetch_max(bytes, Ordering::Relaxed);
        Ok(())
    }

    /// Launches with kernel parameters `params` (pointers to each parameter's value).
    pub(crate) fn launch(
        &self,
        grid: [u32; 3],
        block: [u32; 3],
        shared: u32,
        stream: sys::CUstream,
        params: &mut [*mut c_void],
    ) -> Result<()> {
        let cached = self.device.bind_cached()?;
        if shared > self.dynamic_shared.load(Ordering::Relaxed) {
            self.allow_dynamic_shared(shared)?;
        }
        let launch = |params: &mut [*mut c_void]| {
            // SAFETY: the function belongs to the device's context (current, or the launch fails
            // without running); `params` holds one pointer per kernel parameter, each to a value
            // of the parameter's size, alive for the call (the driver copies them before
            // returning); grid, block and shared memory were validated against the device's
            // limits; every array pointer is a live allocation of this device.
            unsafe {
                result::launch_kernel(self.function, (grid[0], grid[1], grid[2]), (block[0], block[1], block[2]), shared, stream, params)
            }
        };
        match launch(params) {
            Err(_) if cached => {
                self.device.bind()?;
                launch(params).map_err(|e| Error::driver("cuLaunchKernel", e))
            }
            r => r.map_err(|e| Error::driver("cuLaunchKernel", e)),
        }
    }
}

impl CudaFunction {
    /// Waits for the work queued on `stream` (a launch's stream, or null for the legacy default
    /// stream): the error the device reports, if any, as a [`Error::KernelFault`] of `kernel`.
    pub(crate) fn wait(&self, kernel: &str, stream: sys::CUstream) -> Result<()> {
        self.device.bind()?;
        // SAFETY: stream is the launch's stream (or null, the legacy default stream) of this
        // device's context.
        unsafe { result::stream::synchronize(stream) }.map_err(|e| Error::KernelFault {
            kernel: kernel.to_string(),
            code: Some(e.0),
            message: e.to_string(),
        })
    }

    /// Waits for the work queued on `stream` (null: the legacy default stream).
    pub(crate) fn synchronize(&self, stream: sys::CUstream) -> Result<()> {
        self.device.bind()?;
        // SAFETY: stream is a launch's stream (or null, the legacy default stream) of this
        // device's context.
        unsafe { result::stream::synchronize(stream) }.map_err(|e| Error::driver("cuStreamSynchronize", e))
    }

    /// The device the function is loaded on.
    pub(crate) fn device(&self) -> &Arc<CudaDevice> {
        &self.device
    }

    /// For a kernel that prints, once its launches have finished: the words its prints
    /// reserved and the records that fit (the buffer is emptied for the next launches).
    pub(crate) fn take_prints(&self) -> Result<Option<(u64, Vec<u64>)>> {
        let Some(ptr) = self.print_buffer else { return Ok(None) };
        let mut reserved = [0u64; 1];
        self.device.copy_to_host(&mut reserved, ptr)?;
        if reserved[0] == 0 {
            return Ok(None);
        }
        let mut words = vec![0u64; (reserved[0] as usize).min(gpujit_codegen::limits::PRINT_WORDS)];
        self.device.copy_to_host(&mut words, ptr + 8)?;
        self.device.copy_to_device(ptr, &[0u64; 1])?;
        Ok(Some((reserved[0], words)))
    }

    /// For a kernel that checks bounds or asserts, once its launches have finished: the record
    /// of the first failure (cleared for the next launches). `None` for other kernels and when
    /// nothing failed.
    pub(crate) fn take_oob(&self) -> Result<Option<[u64; OobRecord::WORDS]>> {
        let Some(ptr) = self.oob_record else { return Ok(None) };
        let mut record = [0u64; OobRecord::WORDS];
        self.device.copy_to_host(&mut record, ptr)?;
        if record[0] == 0 {
            return Ok(None);
        }
        self.device.copy_to_device(ptr, &[0u64; OobRecord::WORDS])?;
        Ok(Some(record))
    }

    /// Whether launches leave records to read afterwards (prints, a failure record).
    pub(crate) fn has_records(&self) -> bool {
        self.print_buffer.is_some() || self.oob_record.is_some()
    }
}

impl CudaDevice {
    /// Makes `consumer` wait for the work queued so far on `producer`, without blocking the host:
    /// an event recorded on the producer's stream that the consumer's stream waits for.
    pub(crate) fn order_after(&self, producer: sys::CUstream, consumer: sys::CUstream) -> Result<()> {
        self.bind()?;
        let event = result::event::create(sys::CUevent_flags::CU_EVENT_DISABLE_TIMING).map_err(|e| Error::driver("cuEventCreate", e))?;
        // SAFETY: event is fresh; both streams belong to this context (CAI's 1 and 2 are the
        // driver's legacy and per-thread default streams); the event may be destroyed once the
        // wait is queued (the driver releases it after use).
        unsafe {
            let r = result::event::record(event, producer)
                .and_then(|_| result::stream::wait_event(consumer, event, sys::CUevent_wait_flags::CU_EVENT_WAIT_DEFAULT));
            let _ = result::event::destroy(event);
            r.map_err(|e| Error::driver("cuStreamWaitEvent", e))
        }
    }
}

impl Drop for CudaFunction {
    fn drop(&mut self) {
        if self.device.bind().is_ok() {
            // SAFETY: the module was loaded by `load` and is unloaded once, here.
            let _ = unsafe { result::module::unload(self.module) };
        }
    }
}

/// A CUDA stream of a device.
pub(crate) struct RawStream {
    pub(crate) device: Arc<CudaDevice>,
    pub(crate) raw: sys::CUstream,
    /// Created here (destroyed when dropped), not another library's.
    owned: bool,
    /// Ordered with the legacy default stream (blocking streams, the default streams): work on
    /// the others is noted for the memory cache ([`crate::memory`]).
    ordered: bool,
}

// SAFETY: a CUstream handle may be used from any thread with its context current.
unsafe impl Send for RawStream {}
// SAFETY: as for Send.
unsafe impl Sync for RawStream {}

impl RawStream {
    pub(crate) fn new(device: Arc<CudaDevice>) -> Result<RawStream> {
        device.bind()?;
        // A blocking stream: the legacy default stream (copies, default launches) orders with it.
        let raw = result::stream::create(result::stream::StreamKind::Default).map_err(|e| Error::driver("cuStreamCreate", e))?;
        Ok(RawStream { device, raw, owned: true, ordered: true })
    }

    pub(crate) fn synchronize(&self) -> Result<()> {
        self.device.bind()?;
        // SAFETY: raw is a live stream of this device's context.
        unsafe { result::stream::synchronize(self.raw) }.map_err(|e| Error::driver("cuStreamSynchronize", e))
    }
}

impl Drop for RawStream {
    fn drop(&mut self) {
        if self.owned && self.device.bind().is_ok() {
            // SAFETY: raw was created by `new` and is destroyed once; pending work completes.
            let _ = unsafe { result::stream::destroy(self.raw) };
        }
    }
}

impl RawStream {
    /// Another library's stream `raw` of `device` (1 and 2 are the legacy and per-thread default
    /// streams), used and never destroyed.
    pub(crate) fn borrowed(device: Arc<CudaDevice>, raw: sys::CUstream) -> RawStream {
        // 0 (null) and 1 are the legacy default stream, 2 the per-thread one (which orders with
        // it); another library's stream may be non-blocking.
        RawStream { device, raw, owned: false, ordered: (raw as usize) <= 2 }
    }

    /// A non-blocking stream: work on the legacy default stream neither waits for it nor makes
    /// it wait (what graph capture needs: other threads' default-stream work cannot break it).
    pub(crate) fn new_non_blocking(device: Arc<CudaDevice>) -> Result<RawStream> {
        device.bind()?;
        let raw = result::stream::create(result::stream::StreamKind::NonBlocking).map_err(|e| Error::driver("cuStreamCreate", e))?;
        Ok(RawStream { device, raw, owned: true, ordered: false })
    }

    /// Makes this stream's later work wait for `event`, without blocking the host.
    pub(crate) fn wait_event(&self, event: &RawEvent) -> Result<()> {
        self.device.bind()?;
        // SAFETY: both handles are live and belong to this device's context.
        unsafe { result::stream::wait_event(self.raw, event.raw, sys::CUevent_wait_flags::CU_EVENT_WAIT_DEFAULT) }
            .map_err(|e| Error::driver("cuStreamWaitEvent", e))
    }

    /// Queues a copy of `bytes` bytes from host memory `src` to device memory `dst`.
    ///
    /// # Safety
    /// `src` must stay valid and unchanged, and `dst` allocated, until the copy has run (page-
    /// locked `src`: the copy is asynchronous).
    pub(crate) unsafe fn copy_htod(&self, dst: sys::CUdeviceptr, src: *const u8, bytes: usize) -> Result<()> {
        self.device.bind()?;
        self.note_work();
        // SAFETY: forwarded from the caller.
        unsafe { sys::cuMemcpyHtoDAsync_v2(dst, src as *const c_void, bytes, self.raw) }
            .result()
            .map_err(|e| Error::driver("cuMemcpyHtoDAsync", e))
    }

    /// Queues a copy of `bytes` bytes from device memory `src` to host memory `dst`.
    ///
    /// # Safety
    /// As for `copy_htod`, with `dst` written and not read by anyone until the copy has run.
    pub(crate) unsafe fn copy_dtoh(&self, dst: *mut u8, src: sys::CUdeviceptr, bytes: usize) -> Result<()> {
        self.device.bind()?;
        self.note_work();
        // SAFETY: forwarded from the caller.
        unsafe { sys::cuMemcpyDtoHAsync_v2(dst as *mut c_void, src, bytes, self.raw) }
            .result()
            .map_err(|e| Error::driver("cuMemcpyDtoHAsync", e))
    }

    /// Notes work queued on this stream for the memory cache, if the stream does not order with
    /// the legacy default stream (a captured stream's work runs only in replays, noted there).
    pub(crate) fn note_work(&self) {
        if !self.ordered {
            crate::memory::note_foreign_stream_work();
        }
    }

    /// Starts capturing this stream's work into a graph (relaxed mode: other threads are free).
    pub(crate) fn begin_capture(&self) -> Result<()> {
        self.device.bind()?;
        // SAFETY: the stream is live and not capturing (the caller starts one capture at a time).
        unsafe { result::stream::begin_capture(self.raw, sys::CUstreamCaptureMode::CU_STREAM_CAPTURE_MODE_RELAXED) }
            .map_err(|e| Error::driver("cuStreamBeginCapture", e))
    }

    /// Ends the capture; the graph of the work queued since `begin_capture`, instantiated.
    pub(crate) fn end_capture(&self) -> Result<RawGraph> {
        self.device.bind()?;
        // SAFETY: the stream is capturing (begin_capture succeeded).
        let graph = unsafe { result::stream::end_capture(self.raw) }.map_err(|e| Error::driver("cuStreamEndCapture", e))?;
        if graph.is_null() {
            return Err(Error::driver_message("cuStreamEndCapture", "the capture produced no graph"));
        }
        // SAFETY: graph is the live graph just captured.
        match unsafe { result::graph::instantiate(graph, sys::CUgraphInstantiate_flags(0)) } {
            Ok(exec) => Ok(RawGraph { device: self.device.clone(), graph, exec }),
            Err(e) => {
                // SAFETY: graph is live and owned here.
                let _ = unsafe { result::graph::destroy(graph) };
                Err(Error::driver("cuGraphInstantiate", e))
            }
        }
    }
}

/// A CUDA event, with timing.
pub(crate) struct RawEvent {
    device: Arc<CudaDevice>,
    raw: sys::CUevent,
}

// SAFETY: an event handle may be used from any thread with its context current (every use binds).
unsafe impl Send for RawEvent {}
// SAFETY: as for Send.
unsafe impl Sync for RawEvent {}

impl RawEvent {
    /// An event recorded on `stream` (null: the legacy default stream).
    pub(crate) fn record(device: Arc<CudaDevice>, stream: sys::CUstream) -> Result<RawEvent> {
        RawEvent::record_with(device, stream, sys::CUevent_flags::CU_EVENT_DEFAULT)
    }

    /// As `record`, without timing (cheaper to record and to wait for).
    pub(crate) fn record_untimed(device: Arc<CudaDevice>, stream: sys::CUstream) -> Result<RawEvent> {
        RawEvent::record_with(device, stream, sys::CUevent_flags::CU_EVENT_DISABLE_TIMING)
    }

    fn record_with(device: Arc<CudaDevice>, stream: sys::CUstream, flags: sys::CUevent_flags) -> Result<RawEvent> {
        device.bind()?;
        let raw = result::event::create(flags).map_err(|e| Error::driver("cuEventCreate", e))?;
        let event = RawEvent { device, raw };
        event.record_again(stream)?;
        Ok(event)
    }

    /// Records the event again, now on `stream`: it then completes with the work queued there
    /// so far.
    pub(crate) fn record_again(&self, stream: sys::CUstream) -> Result<()> {
        self.device.bind()?;
        // SAFETY: the event is live and the stream belongs to the current context.
        unsafe { result::event::record(self.raw, stream) }.map_err(|e| Error::driver("cuEventRecord", e))
    }

    pub(crate) fn synchronize(&self) -> Result<()> {
        self.device.bind()?;
        // SAFETY: the event is live and recorded.
        unsafe { result::event::synchronize(self.raw) }.map_err(|e| Error::driver("cuEventSynchronize", e))
    }

    /// The ordinal of the event's device.
    pub(crate) fn device_ordinal(&self) -> u32 {
        self.device.ordinal
    }

    /// Whether the work before the event has finished.
    pub(crate) fn is_complete(&self) -> Result<bool> {
        self.device.bind()?;
        // SAFETY: the event is live and recorded.
        match unsafe { sys::cuEventQuery(self.raw) } {
            sys::CUresult::CUDA_SUCCESS => Ok(true),
            sys::CUresult::CUDA_ERROR_NOT_READY => Ok(false),
            e => Err(Error::driver("cuEventQuery", cudarc::driver::DriverError(e))),
        }
    }

    /// Milliseconds from this event to `end` (both complete).
    pub(crate) fn elapsed_ms(&self, end: &RawEvent) -> Result<f32> {
        self.device.bind()?;
        // SAFETY: both events are live, recorded with timing, and belong to the same context.
        unsafe { result::event::elapsed(self.raw, end.raw) }.map_err(|e| Error::driver("cuEventElapsedTime", e))
    }
}

impl Drop for RawEvent {
    fn drop(&mut self) {
        if self.device.bind().is_ok() {
            // SAFETY: created in `record`, destroyed once; the driver releases it after pending use.
            let _ = unsafe { result::event::destroy(self.raw) };
        }
    }
}

/// A captured, instantiated CUDA graph.
pub(crate) struct RawGraph {
    device: Arc<CudaDevice>,
    graph: sys::CUgraph,
    exec: sys::CUgraphExec,
}

// SAFETY: graph handles may be used from any thread with the context current; launching one
// executable graph from several threads is allowed (launches are ordered by their streams).
unsafe impl Send for RawGraph {}
// SAFETY: as for Send.
unsafe impl Sync for RawGraph {}

impl RawGraph {
    pub(crate) fn device_ordinal(&self) -> u32 {
        self.device.ordinal
    }

    /// Waits for the work queued on `stream` (null: the legacy default stream).
    pub(crate) fn synchronize(&self, stream: sys::CUstream) -> Result<()> {
        self.device.bind()?;
        // SAFETY: stream is a stream of this graph's context, or null.
        unsafe { result::stream::synchronize(stream) }.map_err(|e| Error::driver("cuStreamSynchronize", e))
    }

    pub(crate) fn launch(&self, stream: sys::CUstream) -> Result<()> {
        self.device.bind()?;
        // SAFETY: exec is live; stream belongs to the same context (or is the legacy default);
        // the allocations the graph uses are kept alive by the owning `Graph`.
        unsafe { result::graph::launch(self.exec, stream) }.map_err(|e| Error::driver("cuGraphLaunch", e))
    }
}

impl Drop for RawGraph {
    fn drop(&mut self) {
        if self.device.bind().is_ok() {
            // SAFETY: created in `end_capture`, destroyed once; cuGraphExecDestroy waits for
            // nothing but the driver keeps running launches valid.
            unsafe {
                let _ = result::graph::exec_destroy(self.exec);
                let _ = result::graph::destroy(self.graph);
            }
        }
    }
}

impl CudaDevice {
    /// Page-locked host memory of `bytes` bytes (null for 0).
    pub(crate) fn alloc_host(&self, bytes: usize) -> Result<*mut u8> {
        if bytes == 0 {
            return Ok(std::ptr::null_mut());
        }
        self.bind()?;
        // SAFETY: the context is current; the caller owns the allocation and frees it with free_host.
        unsafe { result::malloc_host(bytes, 0) }.map(|p| p as *mut u8).map_err(|e| Error::driver("cuMemHostAlloc", e))
    }

    /// Frees memory from `alloc_host`, once nothing uses it.
    pub(crate) fn free_host(&self, ptr: *mut u8) {
        if ptr.is_null() || self.bind().is_err() {
            return;
        }
        // SAFETY: ptr came from alloc_host and is freed once, by its owner.
        let _ = unsafe { result::free_host(ptr as *mut c_void) };
    }
}
