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
    /// f32 or f64 (and the 16-bit floats, computed in f32).
    Float,
    /// A signed integer or a float (`abs`, `signum`).
    Signed,
    /// Any integer or float (`min`, `max`, `clamp`).
    Numeric,
    /// Any integer (`count_ones`, `wrapping_add`).
    Int,
    /// A signed integer (`wrapping_abs`, `unsigned_abs`).
    SignedInt,
    /// An unsigned integer (`div_ceil`, `next_multiple_of`: std has them on these only).
    UnsignedInt,
}

impl Domain {
    /// Whether `t` is in the domain.
    pub fn admits(self, t: ScalarType) -> bool {
        match self {
            Domain::Float => t.is_float(),
            Domain::Signed => t.is_float() || t.is_signed_int(),
            Domain::Numeric => t.is_numeric(),
            Domain::Int => t.is_int(),
            Domain::SignedInt => t.is_signed_int(),
            Domain::UnsignedInt => t.is_int() && !t.is_signed_int(),
        }
    }

    /// The domain in words, for errors (`"f32 and f64"`).
    pub fn describe(self) -> &'static str {
        match self {
            Domain::Float => "floats",
            Domain::Signed => "signed integers and floats",
            Domain::Numeric => "integers and floats",
            Domain::Int => "integers",
            Domain::SignedInt => "signed integers",
            Domain::UnsignedInt => "unsigned integers",
        }
    }
}

/// A method's result type, given its receiver's type.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Ret {
    /// The receiver's type.
    Same,
    /// A fixed type (`is_nan` gives bool, `count_ones` u32).
    Of(ScalarType),
    /// The unsigned integer of the receiver's width (`to_bits`, `abs_diff`, `unsigned_abs`).
    Unsigned,
    /// A tuple of the two methods' results on the same operands (`sin_cos` is `(sin, cos)`,
    /// `overflowing_add` is `(wrapping_add, add_overflows)`). Kernels destructure it
    /// (`let (s, c) = x.sin_cos();`) or take one field (`.0`); it never reaches the IR.
    Pair(MathFn, MathFn),
}

/// How the host computes a method for f32 and f64 (f16 and bf16 go through f32), and how
/// kernels spell it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Host {
    /// Rust's own method of the same name (`f32::sin`, `u32::count_ones`).
    Std,
    /// The C library's function ([`MathFn::libm_name`]): Rust has no method of its own.
    Libm,
    /// Not a method but a free function of gpujit's prelude (`mul_hi(a, b)`), which computes it.
    Function,
    /// One field of a [`Ret::Pair`] method that has no Rust spelling of its own
    /// (`add_overflows` is `overflowing_add(..).1`); kernels cannot name it.
    Part,
}

macro_rules! math_fns {
    ($($variant:ident: $method:literal, [$($arg:expr),*], $domain:ident -> $ret:expr, $libm:literal, $libdevice:literal, $host:ident;)*) => {
        /// A math method of the kernel language.
        #[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
        pub enum MathFn { $($variant),* }

        impl MathFn {
            pub const ALL: &'static [MathFn] = &[$(MathFn::$variant),*];

            /// The variant's identifier as written in Rust (`"Powf"`), for generated code.
            pub const fn variant_name(self) -> &'static str {
                match self { $(MathFn::$variant => stringify!($variant)),* }
            }

            /// The method's Rust name (for [`Host::Part`], the name the IR text gives it).
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

            /// The result type's rule.
            pub fn ret(self) -> Ret {
                match self { $(MathFn::$variant => $ret),* }
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
const U32: Arg = Arg::Of(ScalarType::U32);
const SAME: Ret = Ret::Same;
const BOOL: Ret = Ret::Of(ScalarType::Bool);
const COUNT: Ret = Ret::Of(ScalarType::U32);
use Arg::Of;
use MathFn as M;

math_fns! {
    Sqrt: "sqrt", [V], Float -> SAME, "", "", Std;
    Exp: "exp", [V], Float -> SAME, "exp", "exp", Std;
    Exp2: "exp2", [V], Float -> SAME, "exp2", "exp2", Std;
    Ln: "ln", [V], Float -> SAME, "log", "log", Std;
    Log2: "log2", [V], Float -> SAME, "log2", "log2", Std;
    Log10: "log10", [V], Float -> SAME, "log10", "log10", Std;
    Powf: "powf", [V, V], Float -> SAME, "pow", "pow", Std;
    Powi: "powi", [V, Of(ScalarType::I32)], Float -> SAME, "", "powi", Std;
    Sin: "sin", [V], Float -> SAME, "sin", "sin", Std;
    Cos: "cos", [V], Float -> SAME, "cos", "cos", Std;
    Tan: "tan", [V], Float -> SAME, "tan", "tan", Std;
    Asin: "asin", [V], Float -> SAME, "asin", "asin", Std;
    Acos: "acos", [V], Float -> SAME, "acos", "acos", Std;
    Atan: "atan", [V], Float -> SAME, "atan", "atan", Std;
    Atan2: "atan2", [V, V], Float -> SAME, "atan2", "atan2", Std;
    Sinh: "sinh", [V], Float -> SAME, "sinh", "sinh", Std;
    Cosh: "cosh", [V], Float -> SAME, "cosh", "cosh", Std;
    Tanh: "tanh", [V], Float -> SAME, "tanh", "tanh", Std;
    Abs: "abs", [V], Signed -> SAME, "", "", Std;
    Floor: "floor", [V], Float -> SAME, "", "", Std;
    Ceil: "ceil", [V], Float -> SAME, "", "", Std;
    Round: "round", [V], Float -> SAME, "", "", Std;
    Trunc: "trunc", [V], Float -> SAME, "", "", Std;
    Min: "min", [V, V], Numeric -> SAME, "", "", Std;
    Max: "max", [V, V], Numeric -> SAME, "", "", Std;
    MulAdd: "mul_add", [V, V, V], Float -> SAME, "", "", Std;
    Hypot: "hypot", [V, V], Float -> SAME, "hypot", "hypot", Std;
    Cbrt: "cbrt", [V], Float -> SAME, "cbrt", "cbrt", Std;
    Recip: "recip", [V], Float -> SAME, "", "", Std;
    Signum: "signum", [V], Signed -> SAME, "", "", Std;
    Copysign: "copysign", [V, V], Float -> SAME, "", "", Std;
    Erf: "erf", [V], Float -> SAME, "erf", "erf", Libm;
    Erfc: "erfc", [V], Float -> SAME, "erfc", "erfc", Libm;
    ExpM1: "exp_m1", [V], Float -> SAME, "expm1", "expm1", Std;
    Ln1p: "ln_1p", [V], Float -> SAME, "log1p", "log1p", Std;
    Fract: "fract", [V], Float -> SAME, "", "", Std;
    ToDegrees: "to_degrees", [V], Float -> SAME, "", "", Std;
    ToRadians: "to_radians", [V], Float -> SAME, "", "", Std;
    SinCos: "sin_cos", [V], Float -> Ret::Pair(M::Sin, M::Cos), "", "", Std;
    ToBits: "to_bits", [V], Float -> Ret::Unsigned, "", "", Std;
    IsNan: "is_nan", [V], Float -> BOOL, "", "", Std;
    IsInfinite: "is_infinite", [V], Float -> BOOL, "", "", Std;
    IsFinite: "is_finite", [V], Float -> BOOL, "", "", Std;
    IsNormal: "is_normal", [V], Float -> BOOL, "", "", Std;
    IsSubnormal: "is_subnormal", [V], Float -> BOOL, "", "", Std;
    IsSignPositive: "is_sign_positive", [V], Float -> BOOL, "", "", Std;
    IsSignNegative: "is_sign_negative", [V], Float -> BOOL, "", "", Std;
    Clamp: "clamp", [V, V, V], Numeric -> SAME, "", "", Std;
    RemEuclid: "rem_euclid", [V, V], Numeric -> SAME, "", "", Std;
    DivEuclid: "div_euclid", [V, V], Numeric -> SAME, "", "", Std;
    CountOnes: "count_ones", [V], Int -> COUNT, "", "", Std;
    CountZeros: "count_zeros", [V], Int -> COUNT, "", "", Std;
    LeadingZeros: "leading_zeros", [V], Int -> COUNT, "", "", Std;
    TrailingZeros: "trailing_zeros", [V], Int -> COUNT, "", "", Std;
    ReverseBits: "reverse_bits", [V], Int -> SAME, "", "", Std;
    SwapBytes: "swap_bytes", [V], Int -> SAME, "", "", Std;
    RotateLeft: "rotate_left", [V, U32], Int -> SAME, "", "", Std;
    RotateRight: "rotate_right", [V, U32], Int -> SAME, "", "", Std;
    Pow: "pow", [V, U32], Int -> SAME, "", "", Std;
    AbsDiff: "abs_diff", [V, V], Int -> Ret::Unsigned, "", "", Std;
    DivCeil: "div_ceil", [V, V], UnsignedInt -> SAME, "", "", Std;
    NextMultipleOf: "next_multiple_of", [V, V], UnsignedInt -> SAME, "", "", Std;
    UnsignedAbs: "unsigned_abs", [V], SignedInt -> Ret::Unsigned, "", "", Std;
    WrappingAdd: "wrapping_add", [V, V], Int -> SAME, "", "", Std;
    WrappingSub: "wrapping_sub", [V, V], Int -> SAME, "", "", Std;
    WrappingMul: "wrapping_mul", [V, V], Int -> SAME, "", "", Std;
    WrappingDiv: "wrapping_div", [V, V], Int -> SAME, "", "", Std;
    WrappingRem: "wrapping_rem", [V, V], Int -> SAME, "", "", Std;
    WrappingNeg: "wrapping_neg", [V], Int -> SAME, "", "", Std;
    WrappingShl: "wrapping_shl", [V, U32], Int -> SAME, "", "", Std;
    WrappingShr: "wrapping_shr", [V, U32], Int -> SAME, "", "", Std;
    WrappingPow: "wrapping_pow", [V, U32], Int -> SAME, "", "", Std;
    WrappingAbs: "wrapping_abs", [V], SignedInt -> SAME, "", "", Std;
    WrappingDivEuclid: "wrapping_div_euclid", [V, V], Int -> SAME, "", "", Std;
    WrappingRemEuclid: "wrapping_rem_euclid", [V, V], Int -> SAME, "", "", Std;
    SaturatingAdd: "saturating_add", [V, V], Int -> SAME, "", "", Std;
    SaturatingSub: "saturating_sub", [V, V], Int -> SAME, "", "", Std;
    SaturatingMul: "saturating_mul", [V, V], Int -> SAME, "", "", Std;
    SaturatingDiv: "saturating_div", [V, V], Int -> SAME, "", "", Std;
    SaturatingPow: "saturating_pow", [V, U32], Int -> SAME, "", "", Std;
    SaturatingNeg: "saturating_neg", [V], SignedInt -> SAME, "", "", Std;
    SaturatingAbs: "saturating_abs", [V], SignedInt -> SAME, "", "", Std;
    OverflowingAdd: "overflowing_add", [V, V], Int -> Ret::Pair(M::WrappingAdd, M::AddOverflows), "", "", Std;
    OverflowingSub: "overflowing_sub", [V, V], Int -> Ret::Pair(M::WrappingSub, M::SubOverflows), "", "", Std;
    OverflowingMul: "overflowing_mul", [V, V], Int -> Ret::Pair(M::WrappingMul, M::MulOverflows), "", "", Std;
    OverflowingDiv: "overflowing_div", [V, V], Int -> Ret::Pair(M::WrappingDiv, M::DivOverflows), "", "", Std;
    OverflowingRem: "overflowing_rem", [V, V], Int -> Ret::Pair(M::WrappingRem, M::DivOverflows), "", "", Std;
    OverflowingDivEuclid: "overflowing_div_euclid", [V, V], Int -> Ret::Pair(M::WrappingDivEuclid, M::DivOverflows), "", "", Std;
    OverflowingRemEuclid: "overflowing_rem_euclid", [V, V], Int -> Ret::Pair(M::WrappingRemEuclid, M::DivOverflows), "", "", Std;
    OverflowingNeg: "overflowing_neg", [V], Int -> Ret::Pair(M::WrappingNeg, M::NegOverflows), "", "", Std;
    OverflowingShl: "overflowing_shl", [V, U32], Int -> Ret::Pair(M::WrappingShl, M::ShiftOverflows), "", "", Std;
    OverflowingShr: "overflowing_shr", [V, U32], Int -> Ret::Pair(M::WrappingShr, M::ShiftOverflows), "", "", Std;
    OverflowingPow: "overflowing_pow", [V, U32], Int -> Ret::Pair(M::WrappingPow, M::PowOverflows), "", "", Std;
    OverflowingAbs: "overflowing_abs", [V], SignedInt -> Ret::Pair(M::WrappingAbs, M::AbsOverflows), "", "", Std;
    AddOverflows: "add_overflows", [V, V], Int -> BOOL, "", "", Part;
    SubOverflows: "sub_overflows", [V, V], Int -> BOOL, "", "", Part;
    MulOverflows: "mul_overflows", [V, V], Int -> BOOL, "", "", Part;
    DivOverflows: "div_overflows", [V, V], Int -> BOOL, "", "", Part;
    NegOverflows: "neg_overflows", [V], Int -> BOOL, "", "", Part;
    ShiftOverflows: "shift_overflows", [V, U32], Int -> BOOL, "", "", Part;
    PowOverflows: "pow_overflows", [V, U32], Int -> BOOL, "", "", Part;
    AbsOverflows: "abs_overflows", [V], SignedInt -> BOOL, "", "", Part;
    MulHi: "mul_hi", [V, V], Int -> SAME, "", "", Function;
}

impl MathFn {
    /// The entry of this name (the IR text's spelling: every entry, [`Host::Part`]s too).
    pub fn from_method(name: &str) -> Option<MathFn> {
        MathFn::ALL.iter().copied().find(|f| f.method() == name)
    }

    /// The method kernels may call as `x.name(..)`, if the kernel language has it.
    pub fn from_user_method(name: &str) -> Option<MathFn> {
        MathFn::from_method(name).filter(|f| matches!(f.host(), Host::Std | Host::Libm))
    }

    /// The free function kernels may call as `name(..)` (`mul_hi`), if there is one.
    pub fn from_function(name: &str) -> Option<MathFn> {
        MathFn::from_method(name).filter(|f| f.host() == Host::Function)
    }

    /// Whether `t` is a valid operand type.
    pub fn admits(self, t: ScalarType) -> bool {
        self.domain().admits(t)
    }

    /// The result type on a receiver of type `t`; `None` for a [`Ret::Pair`] (no one type) or
    /// a receiver outside the domain.
    pub fn result(self, t: ScalarType) -> Option<ScalarType> {
        if !self.admits(t) {
            return None;
        }
        match self.ret() {
            Ret::Same => Some(t),
            Ret::Of(r) => Some(r),
            Ret::Unsigned => t.unsigned(),
            Ret::Pair(..) => None,
        }
    }

    /// The methods of a [`Ret::Pair`] method's two fields.
    pub fn parts(self) -> Option<[MathFn; 2]> {
        match self.ret() {
            Ret::Pair(a, b) => Some([a, b]),
            _ => None,
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
        assert_eq!(MathFn::from_method("to_degrees"), Some(MathFn::ToDegrees));
        assert_eq!(MathFn::from_method("to_gradians"), None);
        assert_eq!(MathFn::Ln.libm_name(ScalarType::F32).as_deref(), Some("logf"));
        assert_eq!(MathFn::Ln.libdevice_name(ScalarType::F64, false).as_deref(), Some("__nv_log"));
        assert_eq!(MathFn::Sin.libdevice_name(ScalarType::F32, true).as_deref(), Some("__nv_fast_sinf"));
        assert_eq!(MathFn::Erf.libdevice_name(ScalarType::F32, true).as_deref(), Some("__nv_erff"));
        assert_eq!(MathFn::Powi.libdevice_name(ScalarType::F32, false).as_deref(), Some("__nv_powif"));
        assert_eq!(MathFn::Powi.libm_name(ScalarType::F32), None);
        assert!(MathFn::Abs.admits(ScalarType::I8) && !MathFn::Abs.admits(ScalarType::U8));
        assert_eq!(MathFn::from_user_method("add_overflows"), None);
        assert_eq!(MathFn::from_user_method("mul_hi"), None);
        assert_eq!(MathFn::from_function("mul_hi"), Some(MathFn::MulHi));
        assert_eq!(MathFn::ToBits.result(ScalarType::BF16), Some(ScalarType::U16));
        assert_eq!(MathFn::AbsDiff.result(ScalarType::I8), Some(ScalarType::U8));
        assert_eq!(MathFn::CountOnes.result(ScalarType::U64), Some(ScalarType::U32));
        assert_eq!(MathFn::IsNan.result(ScalarType::I32), None);
    }

    #[test]
    fn pairs_are_two_one_valued_entries_on_the_same_operands() {
        for &f in MathFn::ALL {
            let names_unique = MathFn::ALL.iter().filter(|g| g.method() == f.method()).count() == 1;
            assert!(names_unique, "{f:?}");
            if let Some(parts) = f.parts() {
                for p in parts {
                    assert!(p.parts().is_none(), "{f:?}: a part is one value");
                    assert_eq!(p.params(), f.params(), "{f:?}: {p:?} takes the same operands");
                    assert!(p.domain() == f.domain() || p.domain() == Domain::Int, "{f:?}: {p:?} admits its receivers");
                }
            }
            // Every part is a field of some pair.
            if f.host() == Host::Part {
                assert!(MathFn::ALL.iter().any(|g| g.parts().is_some_and(|ps| ps.contains(&f))), "{f:?} is no pair's field");
            }
        }
    }
}
