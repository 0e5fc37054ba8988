//! Devices: the CPU backend or a CUDA GPU, chosen by probing or by `GPUJIT_DEVICE`.

use crate::backend::Backend;
use crate::cuda::{self, CudaDevice};
use crate::error::{Error, Result};
use crate::stream::{Event, Stream};
use std::fmt;
use std::sync::{Arc, Mutex};

/// Which device an array lives on or a kernel runs on.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum DeviceId {
    Cpu,
    Cuda(u32),
}

impl fmt::Display for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceId::Cpu => f.write_str("cpu"),
            DeviceId::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

/// A device kernels run on: the CPU backend or a CUDA GPU. Cheap to clone.
#[derive(Clone)]
pub struct Device {
    pub(crate) inner: DeviceInner,
}

#[derive(Clone)]
pub(crate) enum DeviceInner {
    Cpu,
    Cuda(Arc<CudaDevice>),
}

impl fmt::Debug for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Device({})", self.id())
    }
}

impl PartialEq for Device {
    fn eq(&self, other: &Device) -> bool {
        self.id() == other.id()
    }
}

impl Device {
    /// The CPU backend: kernels JIT-compiled for the host and run over all cores.
    pub fn cpu() -> Device {
        Device { inner: DeviceInner::Cpu }
    }

    /// CUDA device `ordinal`.
    pub fn cuda(ordinal: u32) -> Result<Device> {
        Ok(Device { inner: DeviceInner::Cuda(CudaDevice::open(ordinal)?) })
    }

    /// Whether a CUDA driver and at least one GPU are present.
    pub fn cuda_available() -> bool {
        cuda::device_count() > 0
    }

    /// The device used when none is named: `GPUJIT_DEVICE` (`cpu`, `cuda`, `cuda:N`) if set, else
    /// the first CUDA GPU if there is one, else the CPU backend. Decided once per process.
    pub fn current() -> Result<Device> {
        static CURRENT: Mutex<Option<Device>> = Mutex::new(None);
        let mut current = CURRENT.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(d) = &*current {
            return Ok(d.clone());
        }
        let spec = std::env::var("GPUJIT_DEVICE").ok();
        let d = Device::from_spec(spec.as_deref())?;
        *current = Some(d.clone());
        Ok(d)
    }

    /// Parses a device spec as `GPUJIT_DEVICE` takes it; `None` or empty means auto-detect.
    pub fn from_spec(spec: Option<&str>) -> Result<Device> {
        match spec.map(str::trim) {
            None | Some("") | Some("auto") => {
                if Device::cuda_available() {
                    Device::cuda(0)
                } else {
                    Ok(Device::cpu())
                }
            }
            Some("cpu") => Ok(Device::cpu()),
            Some("cuda") | Some("gpu") => Device::cuda(0),
            Some(s) => match s.strip_prefix("cuda:").and_then(|n| n.parse::<u32>().ok()) {
                Some(n) => Device::cuda(n),
                None => Err(Error::BadDeviceSpec { value: s.to_string() }),
            },
        }
    }

    pub fn id(&self) -> DeviceId {
        self.backend().id()
    }

    /// What differs between the CPU backend and a GPU, behind one interface.
    pub(crate) fn backend(&self) -> &dyn Backend {
        self.inner.backend()
    }

    pub fn is_cuda(&self) -> bool {
        self.nvptx_target().is_some()
    }

    /// A human-readable description, e.g. `NVIDIA H100 80GB HBM3 (cuda:0, sm_90, PTX 8.5)`.
    pub fn name(&self) -> String {
        self.backend().name()
    }

    /// Waits until all work submitted to the device has finished (a no-op on the CPU backend,
    /// whose launches are synchronous).
    ///
    /// On a GPU this is where kernels' prints appear and a failed assertion is reported (as
    /// [`crate::Error::Assertion`]), as CUDA reports `printf` and device-side `assert`. Reading
    /// an array (`to_vec`) and [`crate::Stream::synchronize`] report too.
    pub fn synchronize(&self) -> Result<()> {
        self.backend().synchronize()
    }

    /// Frees the device memory gpujit keeps for reuse (a no-op on the CPU backend), as CuPy's
    /// `free_all_blocks` and PyTorch's `empty_cache`. On a GPU a dropped array's memory is kept
    /// and handed to a later allocation of its size class once the work queued before the drop
    /// has finished (see the README's "Memory"); `GPUJIT_MEMORY_CACHE=off` turns that off.
    pub fn release_cached_memory(&self) {
        if let DeviceInner::Cuda(d) = &self.inner {
            let _gate = crate::graph::no_capture();
            d.release_cached_memory();
        }
    }

    /// Bytes of device memory kept for reuse (0 on the CPU backend).
    pub fn cached_memory_bytes(&self) -> usize {
        match &self.inner {
            DeviceInner::Cuda(d) => d.cached_memory_bytes(),
            DeviceInner::Cpu => 0,
        }
    }

    /// Makes work a consumer queues on its own stream `consumer` (a `CUstream` as an integer, as
    /// DLPack's `__dlpack__(stream=...)` and the CUDA Array Interface pass it: 1 the legacy
    /// default stream, 2 the per-thread default stream) wait for everything queued on this
    /// device's default stream so far, and so for the work of gpujit's streams before it,
    /// without blocking the host. A no-op on the CPU backend and for the legacy default stream,
    /// which is ordered with that work already; 0 is refused (DLPack leaves it ambiguous).
    pub fn order_stream_after(&self, consumer: u64) -> Result<()> {
        match &self.inner {
            DeviceInner::Cpu => Ok(()),
            DeviceInner::Cuda(_) if consumer == 1 => Ok(()),
            DeviceInner::Cuda(_) if consumer == 0 => {
                Err(crate::Error::Array("stream 0 is ambiguous: pass 1 for the legacy default stream, 2 for the per-thread one".into()))
            }
            DeviceInner::Cuda(d) => d.order_after(std::ptr::null_mut(), consumer as cudarc::driver::sys::CUstream),
        }
    }

    /// A new stream on this device (Numba's third launch slot). It is a blocking stream: work on
    /// the default stream (copies such as `to_vec`, expressions) is ordered with it.
    pub fn new_stream(&self) -> Result<Stream> {
        Ok(Stream::new(self.clone(), self.backend().new_stream(true)?, None))
    }

    /// An event recorded now on the device's default stream (where expressions and launches
    /// without a stream go): for timing and ordering, as [`Stream::record_event`].
    pub fn record_event(&self) -> Result<Event> {
        Event::record(self, None)
    }

    /// The PTX target kernels are compiled for on this device (`None` on the CPU backend).
    pub fn nvptx_target(&self) -> Option<gpujit_codegen::nvptx::NvptxTarget> {
        self.backend().nvptx_target()
    }

    /// The largest number of threads in one block.
    pub fn max_threads_per_block(&self) -> u32 {
        self.limits().max_threads_per_block
    }

    /// The multiprocessors of a GPU (the worker threads of the CPU backend, which runs a block on
    /// each at a time): for sizing grids, e.g. a grid-stride loop's `k * multiprocessor_count()`
    /// blocks. See [`crate::Kernel::max_resident_blocks`] for a kernel's occupancy.
    pub fn multiprocessor_count(&self) -> u32 {
        match &self.inner {
            DeviceInner::Cuda(d) => d.multiprocessors,
            DeviceInner::Cpu => crate::cpu::worker_count() as u32,
        }
    }

    /// The compute capability of a GPU (`(9, 0)` for an H100 or H200); `None` on the CPU backend.
    pub fn compute_capability(&self) -> Option<(u32, u32)> {
        match &self.inner {
            DeviceInner::Cuda(d) => Some(d.compute_capability),
            DeviceInner::Cpu => None,
        }
    }

    /// The threads of a warp: 32 on every device (the CPU backend runs kernels with CUDA's warps).
    pub fn warp_size(&self) -> u32 {
        32
    }

    /// The most shared memory one block may use, in bytes.
    pub fn max_shared_memory_per_block(&self) -> u32 {
        self.limits().max_shared
    }

    /// The largest block extents and grid extents.
    pub fn max_block_dims(&self) -> [u32; 3] {
        self.limits().max_block
    }

    /// The largest grid extents.
    pub fn max_grid_dims(&self) -> [u32; 3] {
        self.limits().max_grid
    }

    pub(crate) fn limits(&self) -> Limits {
        self.backend().limits()
    }
}

#[derive(Copy, Clone, Debug)]
pub(crate) struct Limits {
    pub max_threads_per_block: u32,
    pub max_block: [u32; 3],
    pub max_grid: [u32; 3],
    pub max_shared: u32,
}
