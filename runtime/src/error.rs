//! The runtime's error type: every failure a user can cause names the kernel and the argument.

/// Everything that can go wrong between a kernel call and its completion.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No device of the requested kind could be used.
    #[error("no {requested} device: {reason}")]
    NoDevice { requested: String, reason: String },
    /// `GPUJIT_DEVICE` holds something other than `cpu`, `cuda` or `cuda:N`.
    #[error("GPUJIT_DEVICE={value:?} is not a device: use `cpu`, `cuda` or `cuda:N`")]
    BadDeviceSpec { value: String },
    /// A CUDA driver call failed.
    #[error("CUDA driver error in {call}: {message}")]
    Driver { call: &'static str, message: String },
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
    #[error("kernel `{kernel}`: index {index} is out of bounds for axis {axis} of array `{array}` of shape {shape:?} (extent {len}), in thread ({tx}, {ty}, {tz}) of block ({bx}, {by}, {bz})")]
    OutOfBounds {
        kernel: String,
        array: String,
        axis: usize,
        index: u64,
        len: u64,
        shape: Vec<u64>,
        tx: u32,
        ty: u32,
        tz: u32,
        bx: u32,
        by: u32,
        bz: u32,
    },
    /// An array operation got incompatible sizes or devices.
    #[error("{0}")]
    Array(String),
    /// An array expression cannot be evaluated (shapes that do not broadcast, a wrong output, ...).
    #[error("array expression: {0}")]
    Expression(String),
    /// A limit of this version of gpujit.
    #[error("kernel `{kernel}`: {message}")]
    Unsupported { kernel: String, message: String },
}

impl Error {
    pub(crate) fn driver(call: &'static str, e: cudarc::driver::DriverError) -> Error {
        Error::Driver { call, message: e.to_string() }
    }
}

/// The runtime's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
