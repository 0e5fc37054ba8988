//! The runtime's error type: every failure a user can cause names the kernel and the argument.

/// Everything that can go wrong between a kernel call and its completion.
///
/// An argument is named by its parameter (`param`) and by its `position` among the launch's
/// arguments, counted from 1 as rustc counts them (`argument 1` is the first).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No device of the requested kind could be used.
    #[error("no {requested} device: {reason}")]
    NoDevice { requested: String, reason: String },
    /// `GPUJIT_DEVICE` holds something other than `cpu`, `cuda` or `cuda:N`.
    #[error("GPUJIT_DEVICE={value:?} is not a device: use `cpu`, `cuda` or `cuda:N`")]
    BadDeviceSpec { value: String },
    /// A CUDA driver call failed. `code` is the driver's result code (`None` where the failure
    /// was found by gpujit around the call, e.g. a name with a NUL byte), so a caller can match
    /// `CUDA_ERROR_OUT_OF_MEMORY`.
    #[error("CUDA driver error in {call}: {message}")]
    Driver { call: &'static str, code: Option<cudarc::driver::sys::CUresult>, message: String },
    /// The launch passed the wrong number of arguments.
    #[error("kernel `{kernel}` takes {expected} arguments but {got} were given")]
    ArgCount { kernel: String, expected: usize, got: usize },
    /// An argument does not match its parameter's type.
    #[error("kernel `{kernel}`, argument {position} (`{param}`): expected {expected}, found {found}")]
    ArgType { kernel: String, param: String, position: usize, expected: String, found: String },
    /// A read-only array (or a shared borrow `&array`) was bound to a `&mut [T]` parameter.
    #[error("kernel `{kernel}`, argument {position} (`{param}`): the parameter is written (`&mut [T]`) but the array is passed read-only; pass `&mut array`")]
    ReadOnly { kernel: String, param: String, position: usize },
    /// A type parameter would be bound to two types, or to one its bound excludes.
    #[error("kernel `{kernel}`, argument {position} (`{param}`): {message}")]
    Generic { kernel: String, param: String, position: usize, message: String },
    /// An array lives on another device than the one the kernel runs on.
    #[error("kernel `{kernel}`, argument {position} (`{param}`): the array is on {found} but the kernel runs on {expected}")]
    DeviceMismatch { kernel: String, param: String, position: usize, expected: String, found: String },
    /// The grid, block, stream or shared-memory size is not valid for the device.
    #[error("kernel `{kernel}`: invalid launch configuration: {message}")]
    LaunchConfig { kernel: String, message: String },
    /// The kernel could not be specialized or compiled.
    #[error(transparent)]
    Compile(#[from] gpujit_codegen::CompileError),
    /// A kernel indexed an array out of bounds (the CPU backend always checks).
    #[error("kernel `{kernel}`: index {index} is out of bounds for axis {axis} of array `{array}` of shape {shape:?} (extent {len}), in thread ({tx}, {ty}, {tz}) of block ({bx}, {by}, {bz}){}", at.as_ref().map(|a| format!(", at {}:{}", a.file, a.line)).unwrap_or_default())]
    OutOfBounds {
        kernel: String,
        /// The source file and line of the access (`None` for generated kernels).
        at: Option<Box<SourceLine>>,
        array: String,
        axis: usize,
        index: u64,
        len: u64,
        shape: Box<[u64]>,
        tx: u32,
        ty: u32,
        tz: u32,
        bx: u32,
        by: u32,
        bz: u32,
    },
    /// A vector access (`load::<N>`, `store::<N>`, `cp_async::<N>`, `ldmatrix`) started at an
    /// element whose offset in the array is not a multiple of its `count` elements (the first
    /// such access of the launch, which was skipped).
    #[error("kernel `{kernel}`: a vector access of {count} elements of `{array}` starts at element offset {offset}, which is not a multiple of {count}, in thread ({}, {}, {}) of block ({}, {}, {}){}", thread[0], thread[1], thread[2], block[0], block[1], block[2], at.as_ref().map(|a| format!(", at {}:{}", a.file, a.line)).unwrap_or_default())]
    Misaligned { kernel: String, at: Option<Box<SourceLine>>, array: String, offset: u64, count: u64, thread: [u32; 3], block: [u32; 3] },
    /// An `assert!` (`assert_eq!`, `assert_ne!`, `debug_assert!`) failed in a kernel: the first
    /// of the launch. Its thread ended there; the others ran to their end. `message` reads as
    /// Rust's panic message would.
    #[error("kernel `{kernel}` panicked at {file}:{line}:{column}, in thread ({}, {}, {}) of block ({}, {}, {}):\n{message}", thread[0], thread[1], thread[2], block[0], block[1], block[2])]
    Assertion { kernel: String, block: [u32; 3], thread: [u32; 3], file: String, line: u32, column: u32, message: String },
    /// `GPUJIT_CHECK=1`: a kernel wrote a NaN or an infinity into a float array parameter (the
    /// first such write of the launch, which ran to its end). `index` is the element's index on
    /// each axis, `part` where the float is inside it (`""` for a float element, `.re`,
    /// `.pos[2]`, ...), `value` the float written, `thread` the thread's index and its block's.
    #[error("kernel `{kernel}` wrote {value} to `{array}`[{}]{part}, in thread ({}, {}, {}) of block ({}, {}, {}){}", index.iter().map(u64::to_string).collect::<Vec<_>>().join(", "), thread[0][0], thread[0][1], thread[0][2], thread[1][0], thread[1][1], thread[1][2], at.as_ref().map(|a| format!(", at {}:{}", a.file, a.line)).unwrap_or_default())]
    NonFinite {
        kernel: String,
        array: String,
        index: Box<[u64]>,
        part: Box<str>,
        value: f64,
        /// The thread and the block (x, y, z each).
        thread: Box<[[u32; 3]; 2]>,
        /// The source file and line of the write (`None` for generated kernels).
        at: Option<Box<SourceLine>>,
    },
    /// `GPUJIT_CHECK=1`: the GPU reported an error (an illegal address, a misaligned access, ...)
    /// when the launch was synchronized, so the kernel named caused it. `code` is the driver's.
    #[error("kernel `{kernel}` failed on the GPU: {message} (found by GPUJIT_CHECK=1, which synchronizes after each launch)")]
    KernelFault { kernel: String, code: Option<cudarc::driver::sys::CUresult>, message: String },
    /// An array operation got incompatible sizes or devices.
    #[error("{0}")]
    Array(String),
    /// An array from another library (DLPack, the CUDA Array Interface, a raw pointer) was
    /// refused, or one of ours cannot be described to it.
    #[error(transparent)]
    Interop(#[from] InteropError),
    /// An array expression cannot be evaluated (shapes that do not broadcast, a wrong output, ...).
    #[error("array expression: {0}")]
    Expression(String),
    /// A limit of this version of gpujit.
    #[error("kernel `{kernel}`: {message}")]
    Unsupported { kernel: String, message: String },
    /// The CPU backend found the threads of a block waiting for one another forever (at
    /// `mbarrier_wait` or a barrier); their waits gave up and the kernel ran to its end, so what
    /// it wrote is not to be trusted. On a GPU the same kernel hangs.
    #[error("kernel `{kernel}` never finishes: {message}")]
    Deadlock { kernel: String, message: String },
}

impl Error {
    pub(crate) fn driver(call: &'static str, e: cudarc::driver::DriverError) -> Error {
        Error::Driver { call, code: Some(e.0), message: e.to_string() }
    }

    /// A driver-call failure found by gpujit, with no result code of the driver's.
    pub(crate) fn driver_message(call: &'static str, message: impl Into<String>) -> Error {
        Error::Driver { call, code: None, message: message.into() }
    }
}

/// Why an array from another library was refused (or one of ours cannot be exported): each
/// refusal of DLPack, the CUDA Array Interface and raw-pointer imports, as a variant to match.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InteropError {
    /// A DLPack dtype of several lanes (a vector type).
    #[error("DLPack dtype with {lanes} lanes: only scalars (1 lane) are supported")]
    VectorDtype { lanes: u16 },
    /// A DLPack dtype gpujit has no scalar type for.
    #[error("DLPack dtype code {code} with {bits} bits is not supported")]
    Dtype { code: u8, bits: u8 },
    /// A NULL pointer where a DLPack structure was expected.
    #[error("a NULL {what}")]
    Null { what: &'static str },
    /// A DLPack major version this gpujit does not read.
    #[error("DLPack major version {major} is not supported (gpujit reads {supported})")]
    DlpackVersion { major: u32, supported: u32 },
    /// A DLPack device type other than CPU, CUDA, CUDA host and CUDA managed.
    #[error("DLPack device type {device_type} is not supported (CPU, CUDA, CUDA host and managed are)")]
    DeviceType { device_type: i32 },
    /// More dimensions than kernels take.
    #[error("a DLPack tensor of {ndim} dimensions (kernels take 0 to 4)")]
    Rank { ndim: i32 },
    /// Negative extents.
    #[error("negative extents {shape:?}")]
    NegativeExtents { shape: Vec<i64> },
    /// An export shape that does not hold the array's elements.
    #[error("shape {shape:?} does not hold the array's {len} elements")]
    ExportShape { shape: Vec<usize>, len: usize },
    /// A NumPy type string gpujit cannot read.
    #[error("unsupported typestr {typestr:?}")]
    Typestr { typestr: String },
    /// A big-endian type string.
    #[error("typestr {typestr:?} is big-endian; gpujit's devices are little-endian")]
    BigEndian { typestr: String },
    /// A CUDA Array Interface version other than 2 and 3.
    #[error("CUDA Array Interface version {version} is not supported (2 and 3 are)")]
    CaiVersion { version: u32 },
    /// A CUDA Array Interface with a `mask`.
    #[error("masked arrays are not supported (the CUDA Array Interface `mask` must be None)")]
    Masked,
    /// The CUDA Array Interface's `stream` 0, which the protocol forbids.
    #[error("CUDA Array Interface `stream` 0 is invalid (use None, 1, 2 or a stream)")]
    StreamZero,
    /// A strides tuple of another length than the shape.
    #[error("{strides} strides for {ndim} dimensions")]
    StrideCount { strides: usize, ndim: usize },
    /// A byte stride that is not a whole number of elements.
    #[error("a byte stride of {stride} is not a multiple of the item size {itemsize}")]
    ByteStride { stride: i64, itemsize: usize },
    /// A number of dimensions kernels cannot take.
    #[error("kernel arrays have 1 to {max} dimensions, not {ndim}")]
    Dimensions { ndim: usize, max: usize },
    /// A null data pointer, or one not aligned to the element size.
    #[error("the data pointer {ptr:#x} is null or not aligned to {align} bytes for {elem}")]
    Pointer { ptr: u64, align: u64, elem: gpujit_codegen::ScalarType },
    /// The CUDA Array Interface asked of an array that is not in device memory.
    #[error("the CUDA Array Interface describes device memory; this array is on {device}")]
    NotDeviceMemory { device: String },
}

/// The runtime's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A place in a kernel's source: where an out-of-range access is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceLine {
    pub file: String,
    pub line: u32,
}
