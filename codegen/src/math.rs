//! The math methods kernels may call (`x.sqrt()`, `x.powf(y)`, ...): their names, arities, the
//! types they accept, and how each target computes them.
//!
//! Three ways to lower a method, chosen per method and type:
//! - an LLVM intrinsic both targets select natively (`llvm.sqrt`, `llvm.fma`, `llvm.floor`, ...);
//! - a library function: the host's libm (`sinf`, `erf`, ...) on the CPU backend, libdevice
//!   (`__nv_sinf`, or `__nv_fast_sinf` under `fastmath`) on the GPU;
//! - a few instructions (`recip`, `signum`, integer `abs`/`min`/`max`).

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

macro_rules! math_fns {
    ($($variant:ident: $method:literal, $arity:literal, $domain:ident, $libm:literal, $libdevice:literal;)*) => {
        /// A math method of the kernel language.
        #[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
        pub enum MathFn { $($variant),* }

        impl MathFn {
            pub const ALL: &'static [MathFn] = &[$(MathFn::$variant),*];

            /// The method's Rust name.
            pub fn method(self) -> &'static str {
                match self { $(MathFn::$variant => $method),* }
            }

            /// Operands including the receiver (`x.powf(y)` has 2).
            pub fn arity(self) -> usize {
                match self { $(MathFn::$variant => $arity),* }
            }

            pub fn domain(self) -> Domain {
                match self { $(MathFn::$variant => Domain::$domain),* }
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

math_fns! {
    Sqrt: "sqrt", 1, Float, "", "";
    Exp: "exp", 1, Float, "exp", "exp";
    Exp2: "exp2", 1, Float, "exp2", "exp2";
    Ln: "ln", 1, Float, "log", "log";
    Log2: "log2", 1, Float, "log2", "log2";
    Log10: "log10", 1, Float, "log10", "log10";
    Powf: "powf", 2, Float, "pow", "pow";
    Powi: "powi", 2, Float, "", "powi";
    Sin: "sin", 1, Float, "sin", "sin";
    Cos: "cos", 1, Float, "cos", "cos";
    Tan: "tan", 1, Float, "tan", "tan";
    Asin: "asin", 1, Float, "asin", "asin";
    Acos: "acos", 1, Float, "acos", "acos";
    Atan: "atan", 1, Float, "atan", "atan";
    Atan2: "atan2", 2, Float, "atan2", "atan2";
    Sinh: "sinh", 1, Float, "sinh", "sinh";
    Cosh: "cosh", 1, Float, "cosh", "cosh";
    Tanh: "tanh", 1, Float, "tanh", "tanh";
    Abs: "abs", 1, Signed, "", "";
    Floor: "floor", 1, Float, "", "";
    Ceil: "ceil", 1, Float, "", "";
    Round: "round", 1, Float, "", "";
    Trunc: "trunc", 1, Float, "", "";
    Min: "min", 2, Numeric, "", "";
    Max: "max", 2, Numeric, "", "";
    MulAdd: "mul_add", 3, Float, "", "";
    Hypot: "hypot", 2, Float, "hypot", "hypot";
    Cbrt: "cbrt", 1, Float, "cbrt", "cbrt";
    Recip: "recip", 1, Float, "", "";
    Signum: "signum", 1, Signed, "", "";
    Copysign: "copysign", 2, Float, "", "";
    Erf: "erf", 1, Float, "erf", "erf";
    Erfc: "erfc", 1, Float, "erfc", "erfc";
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
