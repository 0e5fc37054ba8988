//! The kernel language of gpujit, defined once.
//!
//! `#[gpu_kernel]` (the `gpujit-macros` crate) parses Rust straight into the [`ast`] types here
//! and generates the tokens that rebuild them; the compiler (`gpujit-codegen`) consumes them; the
//! facade's host stand-ins, which rustc type-checks kernel bodies against, are checked against
//! [`intrinsics::INTRINSICS`] and [`math::MathFn`] when gpujit itself is built. A renamed variant
//! or a changed signature therefore breaks gpujit's build, never a user's.
//!
//! This crate links no LLVM and has no dependencies, so the proc macro stays light.
//!
//! What is here:
//! - [`types`]: the scalar types ([`ScalarType`]).
//! - [`ast`]: the source form of a kernel (untyped, with spans), its operators and intrinsic enums.
//! - [`intrinsics`]: the table of the functions a kernel may call, by Rust name, with signatures.
//! - [`math`]: the table of math methods, with arities, domains and library names.
//! - [`complex`]: complex numbers' fields, functions and methods.
//! - [`limits`]: the sizes every stage agrees on.
//! - [`random`]: the Philox4x32-10 generator and its streams, which every backend reproduces.
//! - [`asm`]: `ptx_asm!` templates.
//!
//! Adding an intrinsic or a math method touches a table here plus its lowering in codegen.

pub mod asm;
pub mod ast;
pub mod bulk;
pub mod complex;
pub mod consts;
pub mod format;
pub mod intrinsics;
pub mod limits;
pub mod math;
pub mod random;
pub mod types;

pub use types::ScalarType;

/// Fieldless enums whose variant names the macro emits as paths (`BinOp::Add`): the name comes
/// from the variant itself, so the macro and the enum cannot disagree.
macro_rules! named_enum {
    ($(#[$m:meta])* pub enum $name:ident { $($(#[$vm:meta])* $variant:ident,)* }) => {
        $(#[$m])*
        pub enum $name { $($(#[$vm])* $variant,)* }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// The variant's identifier as written in Rust (`"Add"`), for generated code.
            pub const fn variant_name(self) -> &'static str {
                match self { $($name::$variant => stringify!($variant)),* }
            }
        }
    };
}
pub(crate) use named_enum;
