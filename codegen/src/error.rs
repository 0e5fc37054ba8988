//! Errors of the compile pipeline.

use crate::ast::Span;

/// Why a kernel could not be specialized or compiled.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CompileError {
    /// The kernel body does not type-check for the signature it is specialized to.
    #[error("kernel `{kernel}` at {span}: {message} (specialized as {signature})")]
    Type { kernel: String, signature: String, span: Span, message: String },
    /// The specialized IR broke an invariant: a bug in gpujit, not in the kernel.
    #[error("kernel `{kernel}`: internal error, the IR failed verification: {message}\n{ir}")]
    Verify { kernel: String, message: String, ir: String },
    /// A tool or library the compile needs (libdevice) is missing.
    #[error("kernel `{kernel}`: {message}")]
    Toolchain { kernel: String, message: String },
    /// The CPU backend's machine code calls a function this process does not define (a
    /// compiler-runtime routine the machine's libgcc lacks, say): refused before it could run.
    #[error("kernel `{kernel}`: the CPU backend's code needs the symbol `{symbol}`, which this process does not define")]
    UnresolvedSymbol { kernel: String, symbol: String },
    /// The kernel uses what this target cannot run (`ptx_asm!` on the CPU backend).
    #[error("kernel `{kernel}` cannot run on the {target}: {message}")]
    Unsupported { kernel: String, target: &'static str, message: String },
    /// LLVM rejected the module or could not emit code.
    #[error("kernel `{kernel}`: LLVM {stage} failed: {message}")]
    Llvm { kernel: String, stage: &'static str, message: String },
}
