//! gpujit's runtime: devices, arrays, the specialization cache and kernel launch, on a CUDA GPU
//! (driver loaded at run time through cudarc) or on the CPU backend.
//!
//! Files follow the launch path: [`device`] (which device) → [`array`] (data on it) →
//! [`launch`] (configuration and arguments) → [`kernel`] (bind, specialize, compile, cache,
//! launch) → [`disk_cache`] (cubins kept across processes) → [`cuda`] / [`cpu`] (the two
//! backends). [`dump`] implements `GPUJIT_DUMP_DIR`, [`log`] `GPUJIT_LOG`.

pub mod array;
mod backend;
pub mod cai;
mod cpu;
pub mod cuda;
mod deferred;
pub mod device;
pub mod disk_cache;
pub mod dlpack;
pub mod dump;
pub mod dynamic;
pub mod error;
pub mod expr;
pub mod external;
pub mod fuse;
mod fxhash;
pub mod graph;
mod hopper;
pub mod kernel;
pub mod launch;
pub mod log;
mod memory;
pub mod print;
pub mod reduce;
mod spec_cache;
pub mod stream;
pub mod tensor_map;
mod warp_matrix;

pub use array::{ArrayView, ArrayViewMut, DeviceArray, Element, Layout};
pub use device::{Device, DeviceId};
pub use error::{Error, InteropError, Result, SourceLine};
pub use expr::{expr, select, Expr, IntoExpr};
pub use external::ExternalArray;
pub use fuse::{EvalAll, Fusion};
pub use graph::Graph;
pub use kernel::{Kernel, KernelResources};
pub use launch::{Arg, Dims, IntoDims, KernelArg, KernelArgs, LaunchConfig};
/// The `ndarray` version gpujit's conversions take.
pub use ndarray;
pub use reduce::{dot, Reduction};
pub use stream::{Event, PinnedBuffer, Stream};
pub use tensor_map::TensorMap;
