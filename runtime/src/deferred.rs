//! Reports of GPU launches read at the next synchronization, as CUDA reports `printf` output and
//! device-side assertions.
//!
//! A kernel that prints or asserts writes its output and its first failed assertion into module
//! globals (`gpujit_print_buffer`, `gpujit_oob_record`). Reading them after every launch would
//! make each such launch synchronous. Instead a launch is noted here, with an event recorded
//! after it on its stream, and the records are read when the program next waits for that work:
//!
//! - [`crate::Stream::synchronize`]: the kernels launched on that stream;
//! - [`crate::Device::synchronize`]: every kernel of the device;
//! - a blocking read of device memory (`to_vec`, a reduction's value) and
//!   [`crate::Event::synchronize`]: every kernel whose launches have finished.
//!
//! There the prints are written out and the first failure becomes the call's error
//! ([`crate::Error::Assertion`], [`crate::Error::OutOfBounds`]). A kernel's records are shared by
//! its launches, so reading them waits for all of its launches noted so far, on any stream.
//!
//! Launches whose errors must name their own arguments stay synchronous: bounds-checked kernels
//! (the error gives the array's shape) and every launch under `GPUJIT_CHECK=1`. Graph replays
//! are noted here with the arguments captured, so kernels that print, assert or check bounds can
//! be captured.
//!
//! One entry is kept per kernel and stream (its event re-recorded at each launch), so a loop of
//! launches without a synchronization holds one entry, not one per launch.
//!
//! A synchronization returns after the reports it covers are out, also where another thread's
//! synchronization took them first: it waits while another thread reads entries it would have
//! read (a program that prints from one thread and synchronizes from several gets every line
//! before its own synchronization returns).

use crate::cuda::{CudaDevice, CudaFunction, RawEvent};
use crate::error::Result;
use gpujit_codegen::contract::KernelMetadata;
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};

/// A kernel whose launches leave records to read: what reading them needs.
pub(crate) struct Check {
    /// The kernel's name, for errors.
    pub(crate) kernel: String,
    pub(crate) function: Arc<CudaFunction>,
    pub(crate) meta: Arc<KernelMetadata>,
    /// The shape of each array parameter, by parameter number, where the launch is known (graph
    /// captures): bounds errors give the array's length.
    pub(crate) shapes: Vec<Option<Vec<u64>>>,
}

/// Which noted kernels a synchronization reports.
#[derive(Copy, Clone, Debug)]
pub(crate) enum Due {
    /// Every kernel of the device (it was synchronized).
    All,
    /// The kernels launched on this stream (it was synchronized).
    Stream(usize),
    /// The kernels whose every noted launch has finished.
    Finished,
}

struct Entry {
    device: u32,
    stream: usize,
    check: Arc<Check>,
    /// Recorded after the entry's latest launch.
    event: RawEvent,
}

/// An entry a synchronization took and is reading: where, whether it had finished when taken,
/// and which synchronization (a number each).
struct Reading {
    device: u32,
    stream: usize,
    finished: bool,
    by: u64,
}

struct Pending {
    entries: Vec<Entry>,
    reading: Vec<Reading>,
}

static PENDING: Mutex<Pending> = Mutex::new(Pending { entries: Vec::new(), reading: Vec::new() });
/// Signalled when a synchronization has read what it took.
static READ: Condvar = Condvar::new();
/// The number of entries, taken ones included, so that synchronizations with nothing to read
/// skip the lock.
static COUNT: AtomicUsize = AtomicUsize::new(0);
static NEXT_READER: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// Whether this thread is reading taken entries (a print sink that synchronizes, inside).
    static READING: Cell<bool> = const { Cell::new(false) };
}

/// The entries synchronization `by` took: released (other synchronizations then see them out)
/// when it has read them, or unwinds.
struct Release {
    by: u64,
    count: usize,
    outer: bool,
}

impl Drop for Release {
    fn drop(&mut self) {
        READING.with(|r| r.set(self.outer));
        if self.count == 0 {
            return;
        }
        let mut pending = PENDING.lock().unwrap_or_else(|p| p.into_inner());
        pending.reading.retain(|r| r.by != self.by);
        COUNT.fetch_sub(self.count, Ordering::SeqCst);
        READ.notify_all();
    }
}

impl Due {
    /// Whether a synchronization of `due` on `device` covers entries another one is reading.
    fn covers(self, device: u32, r: &Reading) -> bool {
        r.device == device
            && match self {
                Due::All => true,
                Due::Stream(s) => r.stream == s,
                Due::Finished => r.finished,
            }
    }
}

/// Notes a launch of `check`'s kernel just queued on `stream` of `device`.
pub(crate) fn launched(device: &Arc<CudaDevice>, check: &Arc<Check>, stream: cudarc::driver::sys::CUstream) -> Result<()> {
    let mut pending = PENDING.lock().unwrap_or_else(|p| p.into_inner());
    let key = stream as usize;
    if let Some(e) = pending
        .entries
        .iter_mut()
        .find(|e| e.device == device.ordinal && e.stream == key && Arc::ptr_eq(&e.check.function, &check.function))
    {
        e.event.record_again(stream)?;
        if !Arc::ptr_eq(&e.check, check) {
            e.check = check.clone();
        }
        return Ok(());
    }
    let event = RawEvent::record_untimed(device.clone(), stream)?;
    pending.entries.push(Entry { device: device.ordinal, stream: key, check: check.clone(), event });
    COUNT.fetch_add(1, Ordering::SeqCst);
    Ok(())
}

/// Reads the records of the noted kernels of device `ordinal` that `due` selects: prints are
/// written out, and the first failure is the error.
pub(crate) fn report(ordinal: u32, due: Due) -> Result<()> {
    if COUNT.load(Ordering::SeqCst) == 0 {
        return Ok(());
    }
    let by = NEXT_READER.fetch_add(1, Ordering::Relaxed);
    let outer = READING.with(|r| r.replace(true));
    let (taken, _release) = {
        let mut guard = PENDING.lock().unwrap_or_else(|p| p.into_inner());
        // What other synchronizations are reading of this one's share is out before it
        // returns. A thread waits only while it reads nothing (not inside a print sink that
        // synchronizes): the threads holding entries never wait, so no two wait on each other.
        while !outer && guard.reading.iter().any(|r| due.covers(ordinal, r)) {
            guard = READ.wait(guard).unwrap_or_else(|p| p.into_inner());
        }
        let pending = &mut *guard;
        let of_device = |e: &Entry| e.device == ordinal;
        let mut due_functions: Vec<*const CudaFunction> = Vec::new();
        for e in pending.entries.iter().filter(|e| of_device(e)) {
            let f = Arc::as_ptr(&e.check.function);
            if due_functions.contains(&f) {
                continue;
            }
            let selected = match due {
                Due::All => true,
                Due::Stream(s) => e.stream == s,
                Due::Finished => pending
                    .entries
                    .iter()
                    .filter(|o| of_device(o) && Arc::as_ptr(&o.check.function) == f)
                    .all(|o| o.event.is_complete().unwrap_or(true)),
            };
            if selected {
                due_functions.push(f);
            }
        }
        let (taken, kept): (Vec<Entry>, Vec<Entry>) =
            pending.entries.drain(..).partition(|e| of_device(e) && due_functions.contains(&Arc::as_ptr(&e.check.function)));
        pending.entries = kept;
        for e in &taken {
            let finished = e.event.is_complete().unwrap_or(true);
            pending.reading.push(Reading { device: e.device, stream: e.stream, finished, by });
        }
        let release = Release { by, count: taken.len(), outer };
        (taken, release)
    };
    read(&taken)
}

/// Reads the records of the `taken` entries' kernels, each once, after their launches finished.
fn read(taken: &[Entry]) -> Result<()> {
    let mut first = Ok(());
    let mut read: Vec<*const CudaFunction> = Vec::new();
    for e in taken {
        let f = Arc::as_ptr(&e.check.function);
        if read.contains(&f) {
            continue;
        }
        read.push(f);
        // Every launch of the kernel noted so far has finished before its records are read.
        let waited = taken.iter().filter(|o| Arc::as_ptr(&o.check.function) == f).try_for_each(|o| o.event.synchronize());
        let c = &e.check;
        let outcome = waited.and_then(|()| {
            crate::backend::read_records(&c.kernel, &c.meta, &c.function, |number| c.shapes.get(number as usize).cloned().flatten())
        });
        if first.is_ok() {
            first = outcome;
        }
    }
    first
}
