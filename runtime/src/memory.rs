//! Device memory kept for reuse on a GPU, as CuPy's and PyTorch's memory pools keep it:
//! `cuMemAlloc` costs tens of microseconds and `cuMemFree` waits for the whole device, so an
//! array made and dropped in a loop (a Python expression's result) would cost more than the
//! kernel that fills it.
//!
//! When an array is freed its memory goes to its device's cache with an event recorded on the
//! legacy default stream. That stream orders after the work queued so far on gpujit's streams
//! and on every other blocking stream, so the event completes only when no queued work can still
//! touch the memory. An allocation takes a cached block of its size class whose event has
//! completed, and so may use it on any stream; otherwise it allocates.
//!
//! Two cases go back to `cuMemFree`, which waits for everything:
//! - the device ran launches on streams that do not order with the legacy default stream
//!   (another library's non-blocking stream, given to a launch) since the last such free;
//! - the memory was lent to another library (DLPack, the CUDA Array Interface), whose streams
//!   gpujit cannot see.
//!
//! An allocation that fails for lack of memory frees the cache (after a device synchronization)
//! and tries again. [`crate::Device::release_cached_memory`] frees it on request;
//! `GPUJIT_MEMORY_CACHE=off` turns the cache off (every free is a `cuMemFree`). The cache is
//! freed at process exit, so leak checkers see nothing left.

use crate::cuda::{CudaDevice, RawEvent};
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// The size class of an allocation: 512-byte steps up to 1 MiB, 2 MiB steps beyond (PyTorch's
/// classes), so a block serves requests of nearly its size.
pub(crate) fn size_class(bytes: usize) -> usize {
    const SMALL: usize = 512;
    const LARGE: usize = 2 << 20;
    if bytes <= 1 << 20 {
        bytes.div_ceil(SMALL) * SMALL
    } else {
        bytes.div_ceil(LARGE) * LARGE
    }
}

struct Block {
    ptr: u64,
    /// Recorded on the legacy default stream when the block was freed.
    freed: RawEvent,
}

#[derive(Default)]
struct State {
    /// Free blocks by size class, oldest first.
    blocks: HashMap<usize, Vec<Block>>,
    cached_bytes: usize,
    /// `FOREIGN_LAUNCHES` when this device was last synchronized by a free.
    synced: u64,
    /// Events of blocks handed out again, for the next frees.
    spare: Vec<RawEvent>,
}

/// One device's cache.
pub(crate) struct MemoryCache {
    state: Mutex<State>,
}

/// Device addresses lent to other libraries (DLPack, the CUDA Array Interface): the block
/// holding one is freed by `cuMemFree`.
static LENT: Mutex<BTreeSet<u64>> = Mutex::new(BTreeSet::new());

/// Notes that the memory at `address` on `device` is lent to another library, whose streams
/// gpujit cannot see: its free then waits for the device.
pub(crate) fn lend(device: crate::DeviceId, address: u64) {
    if matches!(device, crate::DeviceId::Cuda(_)) && address != 0 && enabled() {
        LENT.lock().unwrap_or_else(|p| p.into_inner()).insert(address);
    }
}

/// Launches on streams that do not order with the legacy default stream, in this process.
static FOREIGN_LAUNCHES: AtomicU64 = AtomicU64::new(0);

/// Notes a launch (or replay) on a stream that does not order with the legacy default stream.
pub(crate) fn note_foreign_stream_work() {
    FOREIGN_LAUNCHES.fetch_add(1, Ordering::Relaxed);
}

/// Off with `GPUJIT_MEMORY_CACHE=off`, and under compute-sanitizer (which sets
/// `NV_SANITIZER_INJECTION_PORT_BASE` in its target) or another CUDA tool injected through
/// `CUDA_INJECTION64_PATH` (Nsight Compute, Nsight Systems): memcheck then sees each array's
/// exact extent, not its size class, and reports a write one element past it.
fn enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| {
        let tool = ["NV_SANITIZER_INJECTION_PORT_BASE", "CUDA_INJECTION64_PATH"].iter().any(|v| std::env::var_os(v).is_some());
        !matches!(std::env::var("GPUJIT_MEMORY_CACHE").as_deref(), Ok("off" | "0")) && !tool
    })
}

/// Every device's cache, with its device (for the exit handler).
type Caches = Mutex<Vec<(Arc<CudaDevice>, Arc<MemoryCache>)>>;

fn caches() -> &'static Caches {
    static ALL: OnceLock<Caches> = OnceLock::new();
    ALL.get_or_init(|| {
        extern "C" {
            fn atexit(f: extern "C" fn()) -> std::ffi::c_int;
        }
        // SAFETY: `atexit` (C's, always linked) stores the function pointer; `release_all` only
        // locks the caches and frees their blocks.
        let _ = unsafe { atexit(release_all) };
        Mutex::new(Vec::new())
    })
}

/// Frees every cached block at process exit, before the driver tears down its contexts.
extern "C" fn release_all() {
    // try_lock: a thread still allocating at exit keeps its memory (exit must not wait).
    if let Ok(all) = caches().try_lock() {
        for (device, cache) in all.iter() {
            cache.release(device);
        }
    }
}

impl MemoryCache {
    /// The cache of `device` (made on first use).
    pub(crate) fn of(device: &Arc<CudaDevice>) -> Option<Arc<MemoryCache>> {
        if !enabled() {
            return None;
        }
        let mut all = caches().lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, c)) = all.iter().find(|(d, _)| d.ordinal == device.ordinal) {
            return Some(c.clone());
        }
        let c = Arc::new(MemoryCache { state: Mutex::new(State::default()) });
        all.push((device.clone(), c.clone()));
        Some(c)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A cached block of `bytes`' size class no queued work uses, if there is one.
    pub(crate) fn take(&self, bytes: usize) -> Option<u64> {
        let mut s = self.lock();
        let class = size_class(bytes);
        let list = s.blocks.get_mut(&class)?;
        // Oldest first: the likeliest to be idle.
        let k = list.iter().position(|b| b.freed.is_complete().unwrap_or(false))?;
        let b = list.remove(k);
        s.cached_bytes -= class;
        s.spare.push(b.freed);
        Some(b.ptr)
    }

    /// Takes back a block of `bytes` (an allocation of `bytes`' size class) at `ptr`; `false` if
    /// it must be freed now instead (see the module's documentation).
    pub(crate) fn put(&self, device: &Arc<CudaDevice>, ptr: u64, bytes: usize) -> bool {
        let class = size_class(bytes);
        {
            let mut lent = LENT.lock().unwrap_or_else(|p| p.into_inner());
            let inside: Vec<u64> = lent.range(ptr..ptr + class as u64).copied().collect();
            if !inside.is_empty() {
                for a in inside {
                    lent.remove(&a);
                }
                return false;
            }
        }
        let mut s = self.lock();
        let foreign = FOREIGN_LAUNCHES.load(Ordering::Relaxed);
        if foreign != s.synced {
            // cuMemFree synchronizes the device: later frees need not, until the next such launch.
            s.synced = foreign;
            return false;
        }
        let freed = match s.spare.pop() {
            Some(e) => e.record_again(std::ptr::null_mut()).map(|_| e),
            None => RawEvent::record_untimed(device.clone(), std::ptr::null_mut()),
        };
        let Ok(freed) = freed else { return false };
        s.blocks.entry(class).or_default().push(Block { ptr, freed });
        s.cached_bytes += class;
        true
    }

    /// Bytes held in the cache.
    pub(crate) fn cached_bytes(&self) -> usize {
        self.lock().cached_bytes
    }

    /// Frees every cached block (waiting for the work that may use them).
    pub(crate) fn release(&self, device: &Arc<CudaDevice>) {
        let blocks: Vec<Block> = {
            let mut s = self.lock();
            s.cached_bytes = 0;
            s.spare.clear();
            s.blocks.drain().flat_map(|(_, v)| v).collect()
        };
        for b in blocks {
            device.free_now(b.ptr);
        }
    }
}
