//! Limits every stage agrees on: the macro, the specializer, the lowering and the runtime.

/// The most static shared memory a kernel may declare (CUDA's limit without opt-in).
pub const MAX_STATIC_SHARED: u64 = 48 * 1024;

/// The most dimensions an array parameter may have.
pub const MAX_DIMS: usize = 4;

/// The most type parameters a kernel may declare.
pub const MAX_GENERICS: usize = 8;

/// The most values an assertion's message records (the compared operands and the arguments).
pub const MAX_ASSERT_VALUES: usize = 8;

/// The most values one `print!` records.
pub const MAX_PRINT_VALUES: usize = 16;

/// The 64-bit words of a launch's print buffer (records beyond it are dropped, and counted).
pub const PRINT_WORDS: usize = 1 << 17;
