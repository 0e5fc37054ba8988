//! gpujit's compiler: the kernel IR and its lowering through LLVM.
//!
//! The pipeline, one module per stage:
//! [`ast`] (the source form `#[gpu_kernel]` builds, defined in `gpujit-lang`) → [`specialize`] (bind argument types, infer,
//! build typed [`ir`]) → [`verify`] → [`lower`] (IR → LLVM IR for any [`target::Target`]) →
//! [`nvptx`] (PTX text) or [`host`] (JIT machine code for the CPU backend), each returning the
//! [`contract`]'s description of the compiled kernel. [`ir_text`] parses the IR's text form.
//! [`toolchain`] finds the CUDA tools (`ptxas`) used to check PTX without a GPU.
//!
//! This crate never depends on the runtime.

pub mod contract;
pub mod error;
pub mod half;
pub mod host;
pub mod ir;
pub mod ir_text;
pub mod lower;
pub mod nvptx;
pub mod specialize;
pub mod target;
pub mod toolchain;
pub mod verify;

pub use error::CompileError;
/// The kernel language's definition (source form, scalar types, intrinsic and math tables), from
/// `gpujit-lang`.
pub use gpujit_lang::{asm, ast, bulk, complex, consts, format, intrinsics, limits, math, random, types};

/// gpujit's version and a fingerprint of this compiler's sources: code it generated is reused
/// (the runtime's disk cache) only by the same compiler.
pub const COMPILER_ID: &str = concat!(env!("CARGO_PKG_VERSION"), "+", env!("GPUJIT_CODEGEN_FINGERPRINT"));
pub use types::ScalarType;
