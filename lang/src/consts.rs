//! The constants a kernel may name by path: the associated constants of the scalar types
//! (`u32::MAX`, `f32::INFINITY`, `T::EPSILON` for a type parameter) and the mathematical
//! constants of `std::f32::consts` and `std::f64::consts`. Values are Rust's own.

use crate::ast::TypeConst;
use crate::types::ScalarType;

/// A constant's value in the type it has.
#[derive(Copy, Clone, Debug, PartialEq)]
pub enum ConstValue {
    /// An integer's two's-complement bits in its width.
    Int(u64),
    Float(f64),
}

impl TypeConst {
    /// The type of `T::NAME` for `T` (`BITS` is a `u32`, as in Rust).
    pub fn ty(self, t: ScalarType) -> ScalarType {
        if self == TypeConst::Bits {
            ScalarType::U32
        } else {
            t
        }
    }

    /// The Rust name (`MAX`).
    pub fn rust_name(self) -> &'static str {
        match self {
            TypeConst::Max => "MAX",
            TypeConst::Min => "MIN",
            TypeConst::Bits => "BITS",
            TypeConst::Infinity => "INFINITY",
            TypeConst::NegInfinity => "NEG_INFINITY",
            TypeConst::Nan => "NAN",
            TypeConst::Epsilon => "EPSILON",
            TypeConst::MinPositive => "MIN_POSITIVE",
            TypeConst::Zero => "ZERO",
            TypeConst::One => "ONE",
            TypeConst::NegOne => "NEG_ONE",
            TypeConst::NegZero => "NEG_ZERO",
        }
    }

    /// The constant of this Rust name.
    pub fn from_rust_name(name: &str) -> Option<TypeConst> {
        TypeConst::ALL.iter().copied().find(|c| c.rust_name() == name)
    }

    /// The value of `t::NAME`, `None` when `t` has no such constant (`i32::INFINITY`,
    /// `bool::MAX`).
    pub fn value(self, t: ScalarType) -> Option<ConstValue> {
        use ConstValue::{Float, Int};
        use ScalarType::*;
        use TypeConst::*;
        let bits = |v: i128| Int((v as u128 & ((1u128 << t.bits()) - 1)) as u64);
        Some(match (self, t) {
            (_, Bool | Complex32 | Complex64) => return None,
            (Bits, t) => Int(t.bits() as u64),
            (Max, I8) => bits(i8::MAX as i128),
            (Max, I16) => bits(i16::MAX as i128),
            (Max, I32) => bits(i32::MAX as i128),
            (Max, I64) => bits(i64::MAX as i128),
            (Min, I8) => bits(i8::MIN as i128),
            (Min, I16) => bits(i16::MIN as i128),
            (Min, I32) => bits(i32::MIN as i128),
            (Min, I64) => bits(i64::MIN as i128),
            (Max, U8 | U16 | U32 | U64) => bits(-1),
            (Min, U8 | U16 | U32 | U64) => Int(0),
            (Max, F32) => Float(f32::MAX as f64),
            (Min, F32) => Float(f32::MIN as f64),
            (Epsilon, F32) => Float(f32::EPSILON as f64),
            (MinPositive, F32) => Float(f32::MIN_POSITIVE as f64),
            (Max, F64) => Float(f64::MAX),
            (Min, F64) => Float(f64::MIN),
            (Epsilon, F64) => Float(f64::EPSILON),
            (MinPositive, F64) => Float(f64::MIN_POSITIVE),
            // half::f16 and half::bf16's constants, exactly.
            (Max, F16) => Float(65504.0),
            (Min, F16) => Float(-65504.0),
            (Epsilon, F16) => Float(0.0009765625),
            (MinPositive, F16) => Float(6.103515625e-5),
            (Max, BF16) => Float(3.3895313892515355e38),
            (Min, BF16) => Float(-3.3895313892515355e38),
            (Epsilon, BF16) => Float(0.0078125),
            (MinPositive, BF16) => Float(1.1754943508222875e-38),
            (Zero, F16 | BF16) => Float(0.0),
            (One, F16 | BF16) => Float(1.0),
            (NegOne, F16 | BF16) => Float(-1.0),
            (NegZero, F16 | BF16) => Float(-0.0),
            (Infinity, t) if t.is_float() => Float(f64::INFINITY),
            (NegInfinity, t) if t.is_float() => Float(f64::NEG_INFINITY),
            (Nan, t) if t.is_float() => Float(f64::NAN),
            _ => return None,
        })
    }
}

macro_rules! float_consts {
    ($($name:ident),* $(,)?) => {
        /// `std::f32::consts` and `std::f64::consts`: name, the f32 value, the f64 value.
        pub const FLOAT_CONSTS: &[(&str, f32, f64)] = &[$((stringify!($name), std::f32::consts::$name, std::f64::consts::$name)),*];
    };
}

float_consts!(
    PI,
    TAU,
    E,
    SQRT_2,
    FRAC_1_SQRT_2,
    LN_2,
    LN_10,
    LOG2_E,
    LOG10_E,
    LOG2_10,
    LOG10_2,
    FRAC_PI_2,
    FRAC_PI_3,
    FRAC_PI_4,
    FRAC_PI_6,
    FRAC_PI_8,
    FRAC_1_PI,
    FRAC_2_PI,
    FRAC_2_SQRT_PI,
);

/// `std::f32::consts::NAME` (`t` f32) or `std::f64::consts::NAME` (`t` f64), as the f64 that
/// holds its value exactly.
pub fn float_const(t: ScalarType, name: &str) -> Option<f64> {
    let (_, f, d) = FLOAT_CONSTS.iter().find(|(n, _, _)| *n == name)?;
    match t {
        ScalarType::F32 => Some(*f as f64),
        ScalarType::F64 => Some(*d),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_rusts() {
        assert_eq!(TypeConst::Min.value(ScalarType::I8), Some(ConstValue::Int(0x80)));
        assert_eq!(TypeConst::Max.value(ScalarType::U64), Some(ConstValue::Int(u64::MAX)));
        assert_eq!(TypeConst::Min.value(ScalarType::I64), Some(ConstValue::Int(i64::MIN as u64)));
        assert_eq!(TypeConst::Bits.value(ScalarType::U16), Some(ConstValue::Int(16)));
        assert_eq!(TypeConst::Infinity.value(ScalarType::I32), None);
        assert_eq!(TypeConst::Max.value(ScalarType::Bool), None);
        assert_eq!(TypeConst::Epsilon.value(ScalarType::F32), Some(ConstValue::Float(f32::EPSILON as f64)));
        assert_eq!(float_const(ScalarType::F32, "PI"), Some(std::f32::consts::PI as f64));
        assert_eq!(float_const(ScalarType::F64, "LN_2"), Some(std::f64::consts::LN_2));
        assert_eq!(float_const(ScalarType::I32, "PI"), None);
        assert_eq!(TypeConst::One.value(ScalarType::BF16), Some(ConstValue::Float(1.0)));
        assert_eq!(TypeConst::Zero.value(ScalarType::F32), None);
        for c in TypeConst::ALL {
            assert_eq!(TypeConst::from_rust_name(c.rust_name()), Some(*c));
        }
    }
}
