//! CUDA graphs: a sequence of launches captured once and replayed with one call.
//!
//! [`Graph::capture`] runs a closure that launches kernels on the stream it is given; nothing
//! runs then. [`Graph::launch`] replays every captured launch, in order, with the arguments they
//! had (array addresses and scalar values are part of the graph, as in CUDA).
//!
//! A graph keeps the arrays it uses alive: an array dropped while a graph that uses it exists
//! gives its memory back only when the last such graph is dropped. Memory gpujit does not own
//! (foreign arrays) cannot be kept alive, so capture refuses it. On the CPU backend the launches
//! are recorded and replayed in the same way.

use crate::cuda::RawGraph;
use crate::device::{Device, DeviceId};
use crate::error::{Error, Result};
use crate::kernel::RecordedLaunch;
use crate::launch::Arg;
use crate::stream::Stream;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

/// A captured sequence of launches, replayed by [`Graph::launch`].
pub struct Graph {
    device: Device,
    id: u64,
    exec: GraphExec,
    /// The captured GPU kernels that leave records (prints, assertions, bounds checks), read at
    /// the synchronization after a replay.
    checks: Vec<std::sync::Arc<crate::deferred::Check>>,
    /// Scratch memory of captured reductions.
    _keep: Vec<Box<dyn Send>>,
}

enum GraphExec {
    Cpu(Vec<RecordedLaunch>),
    Cuda(RawGraph),
}

/// What the capturing stream gathers.
pub(crate) struct CaptureState {
    graph: u64,
    /// The CPU backend's launches, in order.
    pub(crate) launches: Vec<RecordedLaunch>,
    /// Memory the captured work uses that nobody else owns (reductions' scratch), kept by the
    /// graph.
    pub(crate) keep: Vec<Box<dyn Send>>,
    /// The GPU kernels captured that leave records.
    pub(crate) checks: Vec<std::sync::Arc<crate::deferred::Check>>,
    /// Foreign arrays are the caller's responsibility ([`Graph::capture_with_foreign`]).
    allow_foreign: bool,
}

impl Graph {
    /// Captures the launches `record` makes on the stream it is given (pass it in each launch's
    /// configuration: `launch!(k[grid, block, s](..))`) into a graph of `device`. Nothing runs
    /// during capture. Work on other streams, expressions evaluated without a stream (they use the
    /// default stream) cannot be captured; on a GPU they give a driver error and no graph.
    /// Kernels that print, assert or check bounds can: their output and failures are read at
    /// the synchronization after a replay (the shapes a bounds error gives are the captured
    /// arguments'). Expressions and reductions evaluated on the stream
    /// (`eval_into_on(out, s)`, `.on(s)`) are captured like launches.
    pub fn capture(device: &Device, record: impl FnOnce(&Stream) -> Result<()>) -> Result<Graph> {
        Graph::capture_with(device, record, false)
    }

    /// As [`Graph::capture`], also taking foreign arrays (DLPack, CUDA Array Interface, cudarc),
    /// whose memory the graph cannot keep alive.
    ///
    /// # Safety
    /// Every foreign array a captured launch uses must stay allocated, and be written by nobody
    /// else while a replay may run, for as long as the graph exists (CUDA's own rule for graphs).
    /// A capture records no dependency on other streams: the caller orders each replay after
    /// the work of the arrays' producers (synchronize them, or replay on their stream).
    pub unsafe fn capture_with_foreign(device: &Device, record: impl FnOnce(&Stream) -> Result<()>) -> Result<Graph> {
        Graph::capture_with(device, record, true)
    }

    fn capture_with(device: &Device, record: impl FnOnce(&Stream) -> Result<()>, allow_foreign: bool) -> Result<Graph> {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        let raw = device.backend().new_stream(false)?;
        let stream = Stream::new(
            device.clone(),
            raw,
            Some(Mutex::new(CaptureState { graph: id, launches: Vec::new(), keep: Vec::new(), checks: Vec::new(), allow_foreign })),
        );
        // While a stream captures, the driver refuses to synchronize the whole device (and
        // invalidates the capture); `Device::synchronize` on other threads waits for the gate.
        let _gate = Capturing::enter();
        if let Some(raw) = &stream.raw {
            raw.begin_capture()?;
        }
        let recorded = record(&stream);
        let (launches, keep, mut checks) = match &stream.capture {
            Some(c) => {
                let mut c = c.lock().unwrap_or_else(|p| p.into_inner());
                (std::mem::take(&mut c.launches), std::mem::take(&mut c.keep), std::mem::take(&mut c.checks))
            }
            None => (Vec::new(), Vec::new(), Vec::new()),
        };
        // One reader a kernel: a replay's records are read once, whatever the launches.
        let mut seen = Vec::new();
        checks.retain(|c| {
            let f = std::sync::Arc::as_ptr(&c.function);
            let new = !seen.contains(&f);
            seen.push(f);
            new
        });
        let exec = match &stream.raw {
            // End the capture whatever happened, so the stream is usable and freed.
            Some(raw) => {
                let ended = raw.end_capture();
                recorded.and(ended).map(GraphExec::Cuda)
            }
            None => recorded.map(|_| GraphExec::Cpu(launches)),
        };
        match exec {
            Ok(exec) => Ok(Graph { device: device.clone(), id, exec, checks, _keep: keep }),
            Err(e) => {
                unpin(id);
                Err(e)
            }
        }
    }

    /// Replays the graph on the device's default stream (asynchronously on a GPU).
    pub fn launch(&self) -> Result<()> {
        self.replay(None)
    }

    /// Replays the graph on `stream`.
    pub fn launch_on(&self, stream: &Stream) -> Result<()> {
        if stream.device.id() != self.device.id() {
            return Err(Error::Array(format!("the graph belongs to {} but the stream to {}", self.device.id(), stream.device.id())));
        }
        self.replay(Some(stream))
    }

    fn replay(&self, stream: Option<&Stream>) -> Result<()> {
        match &self.exec {
            GraphExec::Cuda(g) => {
                let raw = stream.and_then(|s| s.raw.as_ref()).map(|s| s.raw).unwrap_or(std::ptr::null_mut());
                if let Some(s) = stream.and_then(|s| s.raw.as_ref()) {
                    s.note_work();
                }
                g.launch(raw)?;
                for c in &self.checks {
                    crate::deferred::launched(c.function.device(), c, raw)?;
                }
                if crate::kernel::check_mode() {
                    // GPUJIT_CHECK=1: each replay is waited for and its kernels' records read.
                    let ordinal = g.device_ordinal();
                    g.synchronize(raw)?;
                    crate::deferred::report(ordinal, crate::deferred::Due::Stream(raw as usize))?;
                }
                Ok(())
            }
            GraphExec::Cpu(launches) => {
                // Replays write arrays no borrow guards: exclude every other use of host memory.
                let _all = crate::cpu::host_memory_write();
                for l in launches {
                    l.replay()?;
                }
                Ok(())
            }
        }
    }

    /// The device the graph runs on.
    pub fn device(&self) -> &Device {
        &self.device
    }
}

impl Drop for Graph {
    fn drop(&mut self) {
        // The graph first (the CUDA graph's own resources), then the memory it kept alive.
        self.exec = GraphExec::Cpu(Vec::new());
        self._keep.clear();
        unpin(self.id);
    }
}

impl CaptureState {
    /// Keeps the memory `args` use alive for the graph; refuses foreign memory.
    pub(crate) fn pin_args(&self, kernel: &str, params: &[String], args: &[Arg<'_>]) -> Result<()> {
        for (i, a) in args.iter().enumerate() {
            if let Arg::Array { foreign, ptr, ndim, shape, strides, elem, device, .. } = a {
                let name = params.get(i).cloned().unwrap_or_default();
                if *foreign && self.allow_foreign {
                    continue;
                }
                if *foreign {
                    return Err(Error::Unsupported {
                        kernel: kernel.to_string(),
                        message: format!(
                            "argument {} (`{name}`) is a foreign array: a graph cannot keep memory it does not own alive (Graph::capture_with_foreign takes it, unsafely)",
                            i + 1
                        ),
                    });
                }
                let n = *ndim as usize;
                if shape[..n].contains(&0) {
                    continue;
                }
                let size = elem.size_bytes() as i64;
                let (mut lo, mut hi) = (0i64, 0i64);
                for d in 0..n {
                    let span = (shape[d] as i64 - 1).saturating_mul(strides[d]);
                    if span < 0 {
                        lo += span;
                    } else {
                        hi += span;
                    }
                }
                let start = (*ptr as i64).wrapping_add(lo.saturating_mul(size)) as u64;
                let end = (*ptr as i64).wrapping_add((hi + 1).saturating_mul(size)) as u64;
                pin(self.graph, device.id(), start, end);
            }
        }
        Ok(())
    }
}

/// Captures in progress hold this for reading; synchronizing the whole device takes it for
/// writing, so the two never overlap.
static CAPTURE_GATE: std::sync::RwLock<()> = std::sync::RwLock::new(());

thread_local! {
    /// Captures in progress on this thread (a capture closure that synchronizes the device gets
    /// the driver's error, not a deadlock).
    static CAPTURING: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// A capture in progress on this thread: the gate's read guard (held by the outermost capture
/// of the thread only: taking it again while a writer waits would deadlock).
struct Capturing(#[allow(dead_code)] Option<std::sync::RwLockReadGuard<'static, ()>>);

impl Capturing {
    fn enter() -> Capturing {
        let outer = CAPTURING.with(|c| c.get()) == 0;
        let guard = outer.then(|| CAPTURE_GATE.read().unwrap_or_else(|p| p.into_inner()));
        CAPTURING.with(|c| c.set(c.get() + 1));
        Capturing(guard)
    }
}

impl Drop for Capturing {
    fn drop(&mut self) {
        CAPTURING.with(|c| c.set(c.get().saturating_sub(1)));
    }
}

/// Waits until no other thread is capturing, and keeps new captures from starting while the
/// returned guard lives. `None` on a thread that is capturing itself.
pub(crate) fn no_capture() -> Option<std::sync::RwLockWriteGuard<'static, ()>> {
    if CAPTURING.with(|c| c.get()) > 0 {
        return None;
    }
    Some(CAPTURE_GATE.write().unwrap_or_else(|p| p.into_inner()))
}

/// Memory ranges live graphs use, and memory dropped while a graph still used it.
struct Registry {
    pinned: Vec<(u64, DeviceId, u64, u64)>,
    orphans: Vec<Orphan>,
}

struct Orphan {
    device: DeviceId,
    start: u64,
    end: u64,
    release: Box<dyn FnOnce() + Send>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry { pinned: Vec::new(), orphans: Vec::new() });
/// How many ranges are pinned: 0 lets `release` skip the lock (every array drop calls it).
static PINNED: AtomicUsize = AtomicUsize::new(0);

fn overlaps(pinned: &[(u64, DeviceId, u64, u64)], device: DeviceId, start: u64, end: u64) -> bool {
    pinned.iter().any(|&(_, d, s, e)| d == device && s < end && start < e)
}

fn pin(graph: u64, device: DeviceId, start: u64, end: u64) {
    let mut r = REGISTRY.lock().unwrap_or_else(|p| p.into_inner());
    r.pinned.push((graph, device, start, end));
    PINNED.fetch_add(1, Ordering::SeqCst);
}

fn unpin(graph: u64) {
    let released: Vec<Orphan> = {
        let mut r = REGISTRY.lock().unwrap_or_else(|p| p.into_inner());
        let before = r.pinned.len();
        r.pinned.retain(|p| p.0 != graph);
        PINNED.fetch_sub(before - r.pinned.len(), Ordering::SeqCst);
        let Registry { pinned, orphans } = &mut *r;
        let (free, keep): (Vec<Orphan>, Vec<Orphan>) = orphans.drain(..).partition(|o| !overlaps(pinned, o.device, o.start, o.end));
        *orphans = keep;
        free
    };
    // Outside the lock: freeing device memory waits for the device.
    for o in released {
        (o.release)();
    }
}

/// Gives memory `[start, end)` of `device` back through `release`, now, or when the last graph
/// using it is dropped.
pub(crate) fn release(device: DeviceId, start: u64, end: u64, release: impl FnOnce() + Send + 'static) {
    if PINNED.load(Ordering::SeqCst) == 0 || start == end {
        return release();
    }
    let mut r = REGISTRY.lock().unwrap_or_else(|p| p.into_inner());
    if overlaps(&r.pinned, device, start, end) {
        r.orphans.push(Orphan { device, start, end, release: Box::new(release) });
        return;
    }
    drop(r);
    release();
}
