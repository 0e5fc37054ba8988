//! Streams, events and page-locked host buffers: ordering, timing and asynchronous copies.
//!
//! On the CPU backend work runs when it is submitted, so a stream only carries its device, an
//! event is the moment it was recorded, and copies are immediate; the API is the same.

use crate::array::{as_bytes, as_bytes_mut, DeviceArray, Element};
use crate::cuda::{RawEvent, RawStream};
use crate::device::Device;
use crate::error::{Error, Result};
use crate::graph::CaptureState;
use std::sync::Mutex;

/// An ordered queue of work on a device. Kernels launched on one stream run in order; the
/// CPU backend runs everything synchronously, so its streams only carry the device.
pub struct Stream {
    pub(crate) device: Device,
    pub(crate) raw: Option<RawStream>,
    /// Unique in the process (scratch memory remembers the stream that used it last).
    pub(crate) id: u64,
    /// Set on the stream a [`crate::Graph::capture`] records.
    pub(crate) capture: Option<Mutex<CaptureState>>,
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Stream({}, #{}{})", self.device.id(), self.id, if self.capture.is_some() { ", capturing" } else { "" })
    }
}

impl Stream {
    pub(crate) fn new(device: Device, raw: Option<RawStream>, capture: Option<Mutex<CaptureState>>) -> Stream {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        Stream { device, raw, id: NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed), capture }
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Another library's stream, as a `CUstream` handle (`torch.cuda.Stream.cuda_stream`,
    /// CuPy's `Stream.ptr`; 1 and 2 the legacy and per-thread default streams), to launch on:
    /// gpujit's work on it is ordered with that library's. The stream is never destroyed here.
    /// On the CPU backend the handle is ignored (work runs when submitted).
    ///
    /// # Safety
    /// On a GPU, `handle` must be a stream of `device`'s (primary) context, 1 or 2, and stay
    /// alive while the result is used.
    pub unsafe fn from_foreign(device: &Device, handle: u64) -> Stream {
        let raw = match &device.inner {
            crate::device::DeviceInner::Cuda(d) => Some(RawStream::borrowed(d.clone(), handle as cudarc::driver::sys::CUstream)),
            crate::device::DeviceInner::Cpu => None,
        };
        Stream::new(device.clone(), raw, None)
    }

    /// The `CUstream` handle as an integer (0 on the CPU backend), as the CUDA Array Interface's
    /// `stream` and DLPack's stream arguments take it.
    pub fn as_raw(&self) -> u64 {
        self.raw.as_ref().map(|s| s.raw as u64).unwrap_or(0)
    }

    /// Waits until the work queued on this stream has finished.
    ///
    /// On a GPU this is where the prints of the kernels launched on the stream appear, and where
    /// a failed assertion in one of them is reported (as [`Error::Assertion`]).
    pub fn synchronize(&self) -> Result<()> {
        match &self.raw {
            Some(s) => {
                s.synchronize()?;
                crate::deferred::report(s.device.ordinal, crate::deferred::Due::Stream(s.raw as usize))
            }
            None => Ok(()),
        }
    }

    /// An event recorded now on this stream: it completes when the work queued before it has.
    pub fn record_event(&self) -> Result<Event> {
        Event::record(&self.device, Some(self))
    }

    /// Makes the work queued on this stream from now on wait for `event` (recorded on any
    /// stream of the same device), without blocking the host.
    pub fn wait_event(&self, event: &Event) -> Result<()> {
        event.inner.wait_on(self.raw.as_ref())
    }

    /// Copies `src` into `dst` (of the same length) asynchronously, ordered on this stream: the
    /// call returns at once on a GPU. `src` stays readable; writing it (`as_mut_slice`) waits for
    /// the copy.
    pub fn copy_to_device<T: Element>(&self, src: &PinnedBuffer<T>, dst: &mut DeviceArray<T>) -> Result<()> {
        check_lengths("copy_to_device", src.len, dst.len())?;
        self.same_device("copy_to_device", dst.device())?;
        match &self.raw {
            // The CPU backend copies at once.
            None => dst.device.backend().write(dst.ptr, as_bytes(src.host_slice())),
            Some(raw) => {
                let ptr = dst.ptr;
                // A copy still writing `src` (possibly on another stream) must land first.
                src.wait_pending()?;
                // SAFETY: src is page-locked memory of src.len elements, kept alive (its Drop
                // waits for the event recorded below) and not written while the event is pending
                // (as_mut_slice waits); dst is an allocation of the same length on this device.
                unsafe { raw.copy_htod(ptr, src.ptr as *const u8, src.len * std::mem::size_of::<T>())? };
                src.set_pending(RawEvent::record(raw.device.clone(), raw.raw)?);
                Ok(())
            }
        }
    }

    /// Copies `src` into `dst` (of the same length) asynchronously, ordered on this stream after
    /// the work queued before it; reading `dst` (`as_slice`) waits for the copy.
    pub fn copy_to_host<T: Element>(&self, src: &DeviceArray<T>, dst: &mut PinnedBuffer<T>) -> Result<()> {
        check_lengths("copy_to_host", dst.len, src.len())?;
        self.same_device("copy_to_host", src.device())?;
        match &self.raw {
            None => src.device.backend().read(as_bytes_mut(dst.host_slice_mut()), src.ptr),
            Some(raw) => {
                let ptr = &src.ptr;
                dst.wait_pending()?;
                // SAFETY: dst is page-locked memory of dst.len elements, borrowed mutably here and
                // afterwards read only through as_slice/as_mut_slice, which wait for the event
                // recorded below (as does Drop); src is an allocation of the same length.
                unsafe { raw.copy_dtoh(dst.ptr as *mut u8, *ptr, dst.len * std::mem::size_of::<T>())? };
                dst.set_pending(RawEvent::record(raw.device.clone(), raw.raw)?);
                Ok(())
            }
        }
    }

    fn same_device(&self, what: &str, d: &Device) -> Result<()> {
        if d.id() != self.device.id() {
            return Err(Error::Array(format!("{what}: the array is on {} but the stream on {}", d.id(), self.device.id())));
        }
        Ok(())
    }
}

fn check_lengths(what: &str, host: usize, device: usize) -> Result<()> {
    if host != device {
        return Err(Error::Array(format!("{what}: the host buffer has {host} elements but the array {device}")));
    }
    Ok(())
}

/// A point in a stream's work: for ordering streams ([`Stream::wait_event`]) and timing
/// ([`Event::elapsed_ms`]).
pub struct Event {
    inner: EventInner,
}

use crate::backend::EventKind as EventInner;

impl Event {
    pub(crate) fn record(device: &Device, stream: Option<&Stream>) -> Result<Event> {
        Ok(Event { inner: device.backend().record_event(stream)? })
    }

    /// Waits until the work before the event has finished.
    pub fn synchronize(&self) -> Result<()> {
        self.inner.synchronize()
    }

    /// Whether the work before the event has finished (without waiting).
    pub fn is_complete(&self) -> Result<bool> {
        self.inner.is_complete()
    }

    /// Milliseconds of device time from this event to `end`, waiting for `end` first.
    pub fn elapsed_ms(&self, end: &Event) -> Result<f32> {
        self.inner.elapsed_ms(&end.inner)
    }
}

/// Page-locked ("pinned") host memory: the host side of asynchronous copies
/// ([`Stream::copy_to_device`], [`Stream::copy_to_host`]). Reading or writing it on the host
/// waits for the copies still using it, and so does dropping it. Plain host memory on the CPU
/// backend.
pub struct PinnedBuffer<T: Element> {
    device: Device,
    ptr: *mut T,
    len: usize,
    /// The last copy using the buffer.
    pending: Mutex<Option<RawEvent>>,
}

// SAFETY: the buffer owns its memory (page-locked, or a host allocation on the CPU backend) like
// a Vec<T> does, and T: Send + Sync; the pending event is behind a Mutex.
unsafe impl<T: Element> Send for PinnedBuffer<T> {}
// SAFETY: shared access only reads the memory (after waiting for pending copies that write it).
unsafe impl<T: Element> Sync for PinnedBuffer<T> {}

impl<T: Element> PinnedBuffer<T> {
    /// A buffer of `len` default values (zeros) for copies with `device`.
    pub fn new(device: &Device, len: usize) -> Result<PinnedBuffer<T>> {
        let bytes = len
            .checked_mul(std::mem::size_of::<T>())
            .filter(|b| *b <= isize::MAX as usize)
            .ok_or_else(|| Error::Array(format!("a pinned buffer of {len} elements of {} is too large", T::TYPE)))?;
        // Zeroed: every element type's default value (0, 0.0, false) is all zero bits. A null
        // ptr (len 0) is never dereferenced (host_slice checks len) nor freed.
        let ptr = device.backend().alloc_pinned(bytes)? as *mut T;
        Ok(PinnedBuffer { device: device.clone(), ptr, len, pending: Mutex::new(None) })
    }

    /// A buffer holding a copy of `data`.
    pub fn from_slice(device: &Device, data: &[T]) -> Result<PinnedBuffer<T>> {
        let mut b = PinnedBuffer::new(device, data.len())?;
        b.host_slice_mut().copy_from_slice(data);
        Ok(b)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The contents, once the copies using the buffer have finished.
    pub fn as_slice(&self) -> Result<&[T]> {
        self.wait_pending()?;
        Ok(self.host_slice())
    }

    /// The contents for writing, once the copies using the buffer have finished.
    pub fn as_mut_slice(&mut self) -> Result<&mut [T]> {
        self.wait_pending()?;
        Ok(self.host_slice_mut())
    }

    fn host_slice(&self) -> &[T] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: ptr points to len initialized elements owned by the buffer; callers wait for
        // copies writing them first (or hold &mut self, under which no new copy can start).
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }

    fn host_slice_mut(&mut self) -> &mut [T] {
        if self.len == 0 {
            return &mut [];
        }
        // SAFETY: as host_slice, with exclusive access through &mut self.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }

    /// Waits for the last copy using the buffer, and forgets it.
    fn wait_pending(&self) -> Result<()> {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = pending.take() {
            if let Err(err) = e.synchronize() {
                *pending = Some(e);
                return Err(err);
            }
        }
        Ok(())
    }

    fn set_pending(&self, e: RawEvent) {
        *self.pending.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
    }
}

impl<T: Element> Drop for PinnedBuffer<T> {
    fn drop(&mut self) {
        let pending = self.pending.get_mut().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(e) = pending {
            // A copy still using the memory must finish first; if waiting fails the context
            // is broken and freeing is all that is left.
            let _ = e.synchronize();
        }
        self.device.backend().free_pinned(self.ptr as *mut u8, self.len * std::mem::size_of::<T>());
    }
}
