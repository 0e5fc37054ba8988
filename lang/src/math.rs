//! The math methods kernels may call (`x.sqrt()`, `x.powf(y)`, ...): their names, arities, the
//! types they accept, and how each target computes them.
//!
//! Three ways to lower a method, chosen per method and type:
//! - an LLVM intrinsic both targets select natively (`llvm.sqrt`, `llvm.fma`, `llvm.floor`, ...);
//! - a library function: the host's libm (`sinf`, `erf`, ...) on the CPU backend, libdevice
//!   (`__nv_sinf`, or `__nv_fast_sinf` under `fastmath`) on the GPU;
//! - a few instructions (`recip`, `signum`, integer `abs`/`min`/`max`).

use crate::intrinsics::Arg;
use crate::types::ScalarType;

/// What types a method's operands may have.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Domain {
    /// f32 or f64.
    Float,
    /// A signed integer or a float (`abs`, `signum`).
    Signed,
    /// Any integer or float (`min`, `max`).
    Numeric,
}

/// How the host computes a math method for f32 and f64 (f16 and bf16 go through f32).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Host {
    /// Rust's own method of the same name (`f32::sin`).
    Std,
    /// The C library's function ([`MathFn::libm_name`]): Rust has no method of its own.
    Libm,
}

macro_rules! math_fns {
    ($($variant:ident: $method:literal, [$($arg:expr),*], $domain:ident, $libm:literal, $libdevice:literal, $host:ident;)*) => {
        /// A math method of the kernel language.
        #[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
        pub enum MathFn { $($variant),* }

        impl MathFn {
            pub const ALL: &'static [MathFn] = &[$(MathFn::$variant),*];

            /// The variant's identifier as written in Rust (`"Powf"`), for generated code.
            pub const fn variant_name(self) -> &'static str {
                match self { $(MathFn::$variant => stringify!($variant)),* }
            }

            /// The method's Rust name.
            pub fn method(self) -> &'static str {
                match self { $(MathFn::$variant => $method),* }
            }

            /// The operands, receiver first: [`Arg::Value`] is the receiver's type (`x.powi(n)`
            /// is `[Value, Of(I32)]`).
            pub fn params(self) -> &'static [Arg] {
                match self { $(MathFn::$variant => &[$($arg),*]),* }
            }

            /// Operands including the receiver (`x.powf(y)` has 2).
            pub fn arity(self) -> usize {
                self.params().len()
            }

            pub fn domain(self) -> Domain {
                match self { $(MathFn::$variant => Domain::$domain),* }
            }

            /// How the host stand-in (what rustc checks kernels against, and what a
            /// `#[gpu_device]` function calls on the host) computes it for f32 and f64.
            pub fn host(self) -> Host {
                match self { $(MathFn::$variant => Host::$host),* }
            }

            /// The libm function of the f64 form (`sin`), empty when not a library call.
            fn libm_base(self) -> &'static str {
                match self { $(MathFn::$variant => $libm),* }
            }

            /// The libdevice function of the f64 form without `__nv_` (`sin`), empty when not a
            /// library call.
            fn libdevice_base(self) -> &'static str {
                match self { $(MathFn::$variant => $libdevice),* }
            }
        }
    };
}

const V: Arg = Arg::Value;
use Arg::Of;

math_fns! {
    Sqrt: "sqrt", [V], Float, "", "", Std;
    Exp: "exp", [V], Float, "exp", "exp", Std;
    Exp2: "exp2", [V], Float, "exp2", "exp2", Std;
    Ln: "ln", [V], Float, "log", "log", Std;
    Log2: "log2", [V], Float, "log2", "log2", Std;
    Log10: "log10", [V], Float, "log10", "log10", Std;
    Powf: "powf", [V, V], Float, "pow", "pow", Std;
    Powi: "powi", [V, Of(ScalarType::I32)], Float, "", "powi", Std;
    Sin: "sin", [V], Float, "sin", "sin", Std;
    Cos: "cos", [V], Float, "cos", "cos", Std;
    Tan: "tan", [V], Float, "tan", "tan", Std;
    Asin: "asin", [V], Float, "asin", "asin", Std;
    Acos: "acos", [V], Float, "acos", "acos", Std;
    Atan: "atan", [V], Float, "atan", "atan", Std;
    Atan2: "atan2", [V, V], Float, "atan2", "atan2", Std;
    Sinh: "sinh", [V], Float, "sinh", "sinh", Std;
    Cosh: "cosh", [V], Float, "cosh", "cosh", Std;
    Tanh: "tanh", [V], Float, "tanh", "tanh", Std;
    Abs: "abs", [V], Signed, "", "", Std;
    Floor: "floor", [V], Float, "", "", Std;
    Ceil: "ceil", [V], Float, "", "", Std;
    Round: "round", [V], Float, "", "", Std;
    Trunc: "trunc", [V], Float, "", "", Std;
    Min: "min", [V, V], Numeric, "", "", Std;
    Max: "max", [V, V], Numeric, "", "", Std;
    MulAdd: "mul_add", [V, V, V], Float, "", "", Std;
    Hypot: "hypot", [V, V], Float, "hypot", "hypot", Std;
    Cbrt: "cbrt", [V], Float, "cbrt", "cbrt", Std;
    Recip: "recip", [V], Float, "", "", Std;
    Signum: "signum", [V], Signed, "", "", Std;
    Copysign: "copysign", [V, V], Float, "", "", Std;
    Erf: "erf", [V], Float, "erf", "erf", Libm;
    Erfc: "erfc", [V], Float, "erfc", "erfc", Libm;
}

impl MathFn {
    /// The method of this name, if the kernel language has it.
    pub fn from_method(name: &str) -> Option<MathFn> {
        MathFn::ALL.iter().copied().find(|f| f.method() == name)
    }

    /// Whether `t` is a valid operand type.
    pub fn admits(self, t: ScalarType) -> bool {
        match self.domain() {
            Domain::Float => t.is_float(),
            Domain::Signed => t.is_float() || t.is_signed_int(),
            Domain::Numeric => t.is_numeric(),
        }
    }

    /// The LLVM intrinsic computing this method on floats on every target, if there is one.
    pub fn llvm_intrinsic(self) -> Option<&'static str> {
        Some(match self {
            MathFn::Sqrt => "llvm.sqrt",
            MathFn::Abs => "llvm.fabs",
            MathFn::Floor => "llvm.floor",
            MathFn::Ceil => "llvm.ceil",
            MathFn::Round => "llvm.round",
            MathFn::Trunc => "llvm.trunc",
            MathFn::Min => "llvm.minnum",
            MathFn::Max => "llvm.maxnum",
            MathFn::MulAdd => "llvm.fma",
            MathFn::Copysign => "llvm.copysign",
            _ => return None,
        })
    }

    /// The host libm function for `t` (`sinf` for f32), if the method is a library call there.
    /// `powi` uses `llvm.powi` on the host instead.
    pub fn libm_name(self, t: ScalarType) -> Option<String> {
        let base = self.libm_base();
        if base.is_empty() {
            return None;
        }
        Some(if t == ScalarType::F32 { format!("{base}f") } else { base.to_string() })
    }

    /// The libdevice function for `t`, the fast approximate variant when `fast` and one exists.
    pub fn libdevice_name(self, t: ScalarType, fast: bool) -> Option<String> {
        let base = self.libdevice_base();
        if base.is_empty() {
            return None;
        }
        if t == ScalarType::F32 {
            let has_fast = matches!(
                self,
                MathFn::Sin | MathFn::Cos | MathFn::Tan | MathFn::Exp | MathFn::Ln | MathFn::Log2 | MathFn::Log10 | MathFn::Powf
            );
            if fast && has_fast {
                return Some(format!("__nv_fast_{base}f"));
            }
            return Some(format!("__nv_{base}f"));
        }
        Some(format!("__nv_{base}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(MathFn::from_method("powf"), Some(MathFn::Powf));
        assert_eq!(MathFn::from_method("to_degrees"), None);
        assert_eq!(MathFn::Ln.libm_name(ScalarType::F32).as_deref(), Some("logf"));
        assert_eq!(MathFn::Ln.libdevice_name(ScalarType::F64, false).as_deref(), Some("__nv_log"));
        assert_eq!(MathFn::Sin.libdevice_name(ScalarType::F32, true).as_deref(), Some("__nv_fast_sinf"));
        assert_eq!(MathFn::Erf.libdevice_name(ScalarType::F32, true).as_deref(), Some("__nv_erff"));
        assert_eq!(MathFn::Powi.libdevice_name(ScalarType::F32, false).as_deref(), Some("__nv_powif"));
        assert_eq!(MathFn::Powi.libm_name(ScalarType::F32), None);
        assert!(MathFn::Abs.admits(ScalarType::I8) && !MathFn::Abs.admits(ScalarType::U8));
    }
}
