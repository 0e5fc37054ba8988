//! Scalar values of the kernel language and their operations, as the README defines them: the
//! oracle's semantics, written from the documentation (and Rust's), not from the compiler.
//!
//! Integers wrap; shift amounts are masked to the type's width; division by zero gives 0 and the
//! remainder by zero the dividend; `MIN / -1` wraps; float → int casts saturate (NaN → 0);
//! f16/bf16 compute in f32 and round to nearest even; `from_f64` rounds once.

use gpujit::codegen::ast::{BinOp, UnOp};
use gpujit::codegen::math::MathFn;
use gpujit::codegen::ScalarType;
use gpujit::prelude::{bf16, f16};
use ScalarType::*;

/// A value: its type and its bits (integers zero-extended, bool 0 or 1, floats' IEEE bits).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct V {
    pub t: ScalarType,
    pub b: u64,
}

pub trait Prim: Copy {
    const T: ScalarType;
    fn from_bits(b: u64) -> Self;
    fn bits(self) -> u64;
}

macro_rules! prim_int {
    ($($ty:ty: $st:ident),*) => {$(
        impl Prim for $ty {
            const T: ScalarType = $st;
            fn from_bits(b: u64) -> Self { b as $ty }
            fn bits(self) -> u64 { (self as u64) & mask(self::$st) }
        }
    )*};
}
prim_int!(i8: I8, i16: I16, i32: I32, i64: I64, u8: U8, u16: U16, u32: U32, u64: U64);

impl Prim for bool {
    const T: ScalarType = Bool;
    fn from_bits(b: u64) -> Self {
        b & 1 != 0
    }
    fn bits(self) -> u64 {
        self as u64
    }
}
impl Prim for f32 {
    const T: ScalarType = F32;
    fn from_bits(b: u64) -> Self {
        f32::from_bits(b as u32)
    }
    fn bits(self) -> u64 {
        self.to_bits() as u64
    }
}
impl Prim for f64 {
    const T: ScalarType = F64;
    fn from_bits(b: u64) -> Self {
        f64::from_bits(b)
    }
    fn bits(self) -> u64 {
        self.to_bits()
    }
}
impl Prim for f16 {
    const T: ScalarType = F16;
    fn from_bits(b: u64) -> Self {
        f16::from_bits(b as u16)
    }
    fn bits(self) -> u64 {
        self.to_bits() as u64
    }
}
impl Prim for bf16 {
    const T: ScalarType = BF16;
    fn from_bits(b: u64) -> Self {
        bf16::from_bits(b as u16)
    }
    fn bits(self) -> u64 {
        self.to_bits() as u64
    }
}

/// The bits of `t`'s width.
pub fn mask(t: ScalarType) -> u64 {
    match t.size_bytes() {
        8 => u64::MAX,
        n => (1u64 << (8 * n)) - 1,
    }
}

pub fn v<T: Prim>(x: T) -> V {
    V { t: T::T, b: x.bits() }
}

impl V {
    pub fn new(t: ScalarType, b: u64) -> V {
        V { t, b: if t == Bool { b & 1 } else { b & mask(t) } }
    }
    pub fn get<T: Prim>(self) -> T {
        T::from_bits(self.b)
    }
    /// An integer's value, sign-extended for signed types.
    pub fn int(self) -> i128 {
        match self.t {
            I8 => self.get::<i8>() as i128,
            I16 => self.get::<i16>() as i128,
            I32 => self.get::<i32>() as i128,
            I64 => self.get::<i64>() as i128,
            Bool => self.b as i128,
            _ => self.b as i128,
        }
    }
    pub fn from_int(t: ScalarType, x: i128) -> V {
        V::new(t, x as u64)
    }
    pub fn boolean(self) -> bool {
        self.b != 0
    }
    /// A float's value widened to f64 (exact for every float type).
    pub fn float(self) -> f64 {
        match self.t {
            F32 => self.get::<f32>() as f64,
            F64 => self.get::<f64>(),
            F16 => self.get::<f16>().to_f64(),
            BF16 => self.get::<bf16>().to_f64(),
            _ => unreachable!("not a float: {:?}", self.t),
        }
    }
    pub fn is_nan(self) -> bool {
        self.t.is_float() && self.float().is_nan()
    }
}

/// An f32 result rounded to the 16-bit float `t` (or kept, for f32).
fn from_f32(t: ScalarType, x: f32) -> V {
    match t {
        F16 => v(f16::from_f32(x)),
        BF16 => v(bf16::from_f32(x)),
        _ => v(x),
    }
}

/// `v` as f32: 16-bit floats widened (exact).
fn as_f32(x: V) -> f32 {
    match x.t {
        F16 => x.get::<f16>().to_f32(),
        BF16 => x.get::<bf16>().to_f32(),
        _ => x.get::<f32>(),
    }
}

/// `x` rounded once to nearest even to a 16-bit float of `max` largest finite magnitude bits
/// (IEEE 754's rounding, independent of the `half` crate, whose `from_f64` rounds through f32).
pub fn round_once(x: f64, t: ScalarType) -> u16 {
    let max: u16 = if t == F16 { 0x7bff } else { 0x7f7f };
    let value = |m: u16| -> f64 {
        if m > max {
            if t == F16 {
                65536.0
            } else {
                2f64.powi(128)
            }
        } else if t == F16 {
            f16::from_bits(m).to_f64()
        } else {
            bf16::from_bits(m).to_f64()
        }
    };
    let sign = if x.is_sign_negative() { 0x8000 } else { 0 };
    if x.is_nan() {
        return sign | (max + 1) | if t == F16 { 0x200 } else { 0x40 };
    }
    let a = x.abs();
    let (mut lo, mut hi) = (0u16, max + 1);
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if value(mid) <= a {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    if lo > max || value(lo) == a {
        return sign | lo;
    }
    let half_way = (value(lo) + value(lo + 1)) / 2.0;
    sign | if a < half_way || (a == half_way && lo % 2 == 0) { lo } else { lo + 1 }
}

/// Rust's `as` (and `from_f32`/`from_f64`/`to_f32`/`to_f64` for the 16-bit floats).
pub fn cast(x: V, to: ScalarType) -> V {
    if x.t == to {
        return x;
    }
    if x.t.is_half() {
        return cast(v(as_f32(x)), to);
    }
    if to.is_half() {
        return match x.t {
            F32 => from_f32(to, x.get::<f32>()),
            _ => V::new(to, round_once(cast(x, F64).get::<f64>(), to) as u64),
        };
    }
    macro_rules! from_src {
        ($s:ty) => {{
            let s = x.get::<$s>();
            match to {
                I8 => v(s as i8),
                I16 => v(s as i16),
                I32 => v(s as i32),
                I64 => v(s as i64),
                U8 => v(s as u8),
                U16 => v(s as u16),
                U32 => v(s as u32),
                U64 => v(s as u64),
                F32 => v(s as f32),
                F64 => v(s as f64),
                _ => unreachable!("cast to {to:?}"),
            }
        }};
    }
    match x.t {
        Bool => V::new(to, x.b),
        I8 => from_src!(i8),
        I16 => from_src!(i16),
        I32 => from_src!(i32),
        I64 => from_src!(i64),
        U8 => from_src!(u8),
        U16 => from_src!(u16),
        U32 => from_src!(u32),
        U64 => from_src!(u64),
        F32 => from_src!(f32),
        F64 => from_src!(f64),
        _ => unreachable!(),
    }
}

pub fn unary(op: UnOp, x: V) -> V {
    match (op, x.t) {
        (UnOp::Not, Bool) => V::new(Bool, x.b ^ 1),
        (UnOp::Not, _) => V::new(x.t, !x.b),
        (UnOp::Neg, F32) => v(-x.get::<f32>()),
        (UnOp::Neg, F64) => v(-x.get::<f64>()),
        (UnOp::Neg, F16) => v(-x.get::<f16>()),
        (UnOp::Neg, BF16) => v(-x.get::<bf16>()),
        (UnOp::Neg, t) => V::from_int(t, x.int().wrapping_neg()),
    }
}

fn compare<T: PartialOrd>(op: BinOp, a: T, b: T) -> V {
    v(match op {
        BinOp::Eq => a == b,
        BinOp::Ne => a != b,
        BinOp::Lt => a < b,
        BinOp::Le => a <= b,
        BinOp::Gt => a > b,
        BinOp::Ge => a >= b,
        _ => unreachable!(),
    })
}

fn float_arith<T>(op: BinOp, a: T, b: T) -> T
where
    T: std::ops::Add<Output = T>
        + std::ops::Sub<Output = T>
        + std::ops::Mul<Output = T>
        + std::ops::Div<Output = T>
        + std::ops::Rem<Output = T>,
{
    match op {
        BinOp::Add => a + b,
        BinOp::Sub => a - b,
        BinOp::Mul => a * b,
        BinOp::Div => a / b,
        BinOp::Rem => a % b,
        _ => unreachable!("{op:?} on floats"),
    }
}

/// A binary operator (logical ones are evaluated by the caller, short-circuiting).
pub fn binary(op: BinOp, a: V, b: V) -> V {
    if op.is_comparison() {
        return match a.t {
            F32 => compare(op, a.get::<f32>(), b.get::<f32>()),
            F64 => compare(op, a.get::<f64>(), b.get::<f64>()),
            F16 | BF16 => compare(op, a.float(), b.float()),
            _ => compare(op, a.int(), b.int()),
        };
    }
    match a.t {
        F32 => return v(float_arith(op, a.get::<f32>(), b.get::<f32>())),
        F64 => return v(float_arith(op, a.get::<f64>(), b.get::<f64>())),
        F16 => return v(float_arith(op, a.get::<f16>(), b.get::<f16>())),
        BF16 => return v(float_arith(op, a.get::<bf16>(), b.get::<bf16>())),
        _ => {}
    }
    let t = a.t;
    let bits = 8 * t.size_bytes() as u32;
    let (x, y) = (a.int(), b.int());
    match op {
        BinOp::BitAnd => V::new(t, a.b & b.b),
        BinOp::BitOr => V::new(t, a.b | b.b),
        BinOp::BitXor => V::new(t, a.b ^ b.b),
        BinOp::Shl | BinOp::Shr => {
            let s = (b.b as u32) & (bits - 1);
            if op == BinOp::Shl {
                V::new(t, a.b << s)
            } else if t.is_signed_int() {
                V::from_int(t, x >> s)
            } else {
                V::new(t, a.b >> s)
            }
        }
        BinOp::Add => V::from_int(t, x.wrapping_add(y)),
        BinOp::Sub => V::from_int(t, x.wrapping_sub(y)),
        BinOp::Mul => V::from_int(t, x.wrapping_mul(y)),
        // Exact in i128, then wrapped: MIN / -1 wraps to MIN, MIN % -1 is 0.
        BinOp::Div => V::from_int(t, if y == 0 { 0 } else { x / y }),
        BinOp::Rem => V::from_int(t, if y == 0 { x } else { x % y }),
        _ => unreachable!("{op:?}"),
    }
}

/// Whether the math method's result is exact (IEEE-correct or exact by definition), so every
/// backend must give the same bits.
pub fn math_is_exact(f: MathFn) -> bool {
    use MathFn::*;
    !matches!(
        f,
        Exp | Exp2
            | Ln
            | Log2
            | Log10
            | Powf
            | Powi
            | Sin
            | Cos
            | Tan
            | Asin
            | Acos
            | Atan
            | Atan2
            | Sinh
            | Cosh
            | Tanh
            | Hypot
            | Cbrt
            | Erf
            | Erfc
            | ExpM1
            | Ln1p
            | SinCos
    )
}

macro_rules! float_math {
    ($f:expr, $a:expr, $ty:ty, $erf:path, $erfc:path) => {{
        let a: &[$ty] = $a;
        use MathFn::*;
        let x = a[0];
        match $f {
            Sqrt => x.sqrt(),
            Exp => x.exp(),
            Exp2 => x.exp2(),
            Ln => x.ln(),
            Log2 => x.log2(),
            Log10 => x.log10(),
            Powf => x.powf(a[1]),
            Sin => x.sin(),
            Cos => x.cos(),
            Tan => x.tan(),
            Asin => x.asin(),
            Acos => x.acos(),
            Atan => x.atan(),
            Atan2 => x.atan2(a[1]),
            Sinh => x.sinh(),
            Cosh => x.cosh(),
            Tanh => x.tanh(),
            Abs => x.abs(),
            Floor => x.floor(),
            Ceil => x.ceil(),
            Round => x.round(),
            Trunc => x.trunc(),
            Min => x.min(a[1]),
            Max => x.max(a[1]),
            MulAdd => x.mul_add(a[1], a[2]),
            Hypot => x.hypot(a[1]),
            Cbrt => x.cbrt(),
            Recip => x.recip(),
            Signum => x.signum(),
            Copysign => x.copysign(a[1]),
            Erf => $erf(x),
            Erfc => $erfc(x),
            ExpM1 => x.exp_m1(),
            Ln1p => x.ln_1p(),
            Fract => x.fract(),
            ToDegrees => x.to_degrees(),
            ToRadians => x.to_radians(),
            // std's formula (std panics for min > max or a NaN bound; kernels do not).
            Clamp => {
                let mut r = x;
                if r < a[1] {
                    r = a[1];
                }
                if r > a[2] {
                    r = a[2];
                }
                r
            }
            RemEuclid => x.rem_euclid(a[1]),
            DivEuclid => x.div_euclid(a[1]),
            f => unreachable!("{f:?} is no float method with a float result"),
        }
    }};
}

fn erf32(x: f32) -> f32 {
    gpujit::kernel_prelude::Float::erf(x)
}
fn erfc32(x: f32) -> f32 {
    gpujit::kernel_prelude::Float::erfc(x)
}
fn erf64(x: f64) -> f64 {
    gpujit::kernel_prelude::Float::erf(x)
}
fn erfc64(x: f64) -> f64 {
    gpujit::kernel_prelude::Float::erfc(x)
}

/// The float methods of bool or bits result, on `x` of any float type.
fn float_predicate(f: MathFn, x: V) -> Option<V> {
    macro_rules! on {
        ($ty:ty) => {{
            let y = x.get::<$ty>();
            Some(match f {
                MathFn::ToBits => V::new(x.t.unsigned()?, x.b),
                MathFn::IsNan => v(y.is_nan()),
                MathFn::IsInfinite => v(y.is_infinite()),
                MathFn::IsFinite => v(y.is_finite()),
                MathFn::IsNormal => v(y.is_normal()),
                MathFn::IsSubnormal => v(y.classify() == std::num::FpCategory::Subnormal),
                MathFn::IsSignPositive => v(y.is_sign_positive()),
                MathFn::IsSignNegative => v(y.is_sign_negative()),
                _ => return None,
            })
        }};
    }
    match x.t {
        F32 => on!(f32),
        F64 => on!(f64),
        F16 => on!(f16),
        _ => on!(bf16),
    }
}

/// The integer methods, on `$ty` (unsigned twin `$uty`): std's own, except where std panics
/// (a zero divisor, `clamp` with min > max), which follows the README's `/` and `%` rules.
macro_rules! int_methods {
    ($f:expr, $a:expr, $ty:ty, $uty:ty, $signed:tt) => {{
        use MathFn::*;
        let a: &[V] = $a;
        let x: $ty = a[0].get::<$ty>();
        let y: $ty = a.get(1).map(|v| v.get::<$ty>()).unwrap_or(0);
        let n: u32 = a.get(1).map(|v| v.get::<u32>()).unwrap_or(0);
        let zero = y == 0;
        match $f {
            Abs => v(x.wrapping_abs_or_self()),
            Min => v(x.min(y)),
            Max => v(x.max(y)),
            Signum => v(x.signum_or_self()),
            Clamp => {
                let (lo, hi) = (y, a[2].get::<$ty>());
                v(if x < lo { lo } else if x > hi { hi } else { x })
            }
            RemEuclid | WrappingRemEuclid => v(if zero { x } else { x.wrapping_rem_euclid(y) }),
            DivEuclid | WrappingDivEuclid => v(if zero { 0 } else { x.wrapping_div_euclid(y) }),
            CountOnes => v(x.count_ones()),
            CountZeros => v(x.count_zeros()),
            LeadingZeros => v(x.leading_zeros()),
            TrailingZeros => v(x.trailing_zeros()),
            ReverseBits => v(x.reverse_bits()),
            SwapBytes => v(x.swap_bytes()),
            RotateLeft => v(x.rotate_left(n)),
            RotateRight => v(x.rotate_right(n)),
            Pow | WrappingPow => v(x.wrapping_pow(n)),
            PowOverflows => v(x.overflowing_pow(n).1),
            SaturatingPow => v(x.saturating_pow(n)),
            AbsDiff => v(x.abs_diff(y)),
            WrappingAdd => v(x.wrapping_add(y)),
            WrappingSub => v(x.wrapping_sub(y)),
            WrappingMul => v(x.wrapping_mul(y)),
            WrappingDiv => v(if zero { 0 } else { x.wrapping_div(y) }),
            WrappingRem => v(if zero { x } else { x.wrapping_rem(y) }),
            WrappingNeg => v(x.wrapping_neg()),
            WrappingShl => v(x.wrapping_shl(n)),
            WrappingShr => v(x.wrapping_shr(n)),
            SaturatingAdd => v(x.saturating_add(y)),
            SaturatingSub => v(x.saturating_sub(y)),
            SaturatingMul => v(x.saturating_mul(y)),
            SaturatingDiv => v(if zero { 0 } else { x.saturating_div(y) }),
            AddOverflows => v(x.overflowing_add(y).1),
            SubOverflows => v(x.overflowing_sub(y).1),
            MulOverflows => v(x.overflowing_mul(y).1),
            DivOverflows => v(!zero && x.overflowing_div(y).1),
            NegOverflows => v(x.overflowing_neg().1),
            ShiftOverflows => v(x.overflowing_shl(n).1),
            MulHi => v(if <$ty>::MIN == 0 {
                ((x as u128 * y as u128) >> <$ty>::BITS) as $ty
            } else {
                ((x as i128 * y as i128) >> <$ty>::BITS) as $ty
            }),
            f => int_methods!(@signed $signed, f, x, $uty),
        }
    }};
    (@signed true, $f:expr, $x:expr, $uty:ty) => {
        match $f {
            WrappingAbs => v($x.wrapping_abs()),
            UnsignedAbs => v($x.unsigned_abs()),
            SaturatingNeg => v($x.saturating_neg()),
            SaturatingAbs => v($x.saturating_abs()),
            AbsOverflows => v($x.overflowing_abs().1),
            f => unreachable!("{f:?} on integers"),
        }
    };
    (@signed false, $f:expr, $x:expr, $uty:ty) => {
        unreachable!("{:?} on unsigned integers", $f)
    };
}

/// `abs` and `signum` on any integer (the language has them on signed ones only).
trait SignedOps {
    fn wrapping_abs_or_self(self) -> Self;
    fn signum_or_self(self) -> Self;
}
macro_rules! signed_ops {
    ($($ty:ty: $abs:expr, $sig:expr;)*) => {$(
        impl SignedOps for $ty {
            fn wrapping_abs_or_self(self) -> Self { ($abs)(self) }
            fn signum_or_self(self) -> Self { ($sig)(self) }
        }
    )*};
}
signed_ops! {
    i8: i8::wrapping_abs, i8::signum; i16: i16::wrapping_abs, i16::signum; i32: i32::wrapping_abs, i32::signum;
    i64: i64::wrapping_abs, i64::signum;
    u8: |x| x, |x| x; u16: |x| x, |x| x; u32: |x| x, |x| x; u64: |x| x, |x| x;
}

/// A math method on integer operands.
fn int_math(f: MathFn, args: &[V]) -> V {
    match args[0].t {
        I8 => int_methods!(f, args, i8, u8, true),
        I16 => int_methods!(f, args, i16, u16, true),
        I32 => int_methods!(f, args, i32, u32, true),
        I64 => int_methods!(f, args, i64, u64, true),
        U8 => int_methods!(f, args, u8, u8, false),
        U16 => int_methods!(f, args, u16, u16, false),
        U32 => int_methods!(f, args, u32, u32, false),
        U64 => int_methods!(f, args, u64, u64, false),
        t => unreachable!("{f:?} on {t:?}"),
    }
}

/// A math method on `args` (receiver first).
pub fn math(f: MathFn, args: &[V]) -> V {
    let t = args[0].t;
    if t.is_int() {
        return int_math(f, args);
    }
    if let Some(r) = float_predicate(f, args[0]) {
        return r;
    }
    if f == MathFn::Powi {
        let n = args[1].get::<i32>();
        return match t {
            F64 => v(args[0].get::<f64>().powi(n)),
            _ => from_f32(t, as_f32(args[0]).powi(n)),
        };
    }
    match t {
        F64 => {
            let a: Vec<f64> = args.iter().map(|x| x.get::<f64>()).collect();
            v(float_math!(f, &a, f64, erf64, erfc64))
        }
        F32 | F16 | BF16 => {
            let a: Vec<f32> = args.iter().map(|x| as_f32(*x)).collect();
            from_f32(t, float_math!(f, &a, f32, erf32, erfc32))
        }
        _ => unreachable!("{f:?} on {t:?}"),
    }
}

/// Units in the last place between two floats of one type (0 for equal bits; NaN: 0 with any
/// NaN, else the largest distance).
pub fn ulps(a: V, b: V) -> u64 {
    if a.is_nan() || b.is_nan() {
        return if a.is_nan() && b.is_nan() { 0 } else { u64::MAX };
    }
    let width = 8 * a.t.size_bytes() as u32;
    let sign = 1u64 << (width - 1);
    // Map the sign-magnitude bits to a monotonic integer line.
    let line = |x: u64| -> i128 {
        if x & sign != 0 {
            -((x & !sign) as i128)
        } else {
            x as i128
        }
    };
    (line(a.b) - line(b.b)).unsigned_abs() as u64
}

/// `t::NAME` from Rust's own constants (and the `half` crate's), `None` where `t` has none.
pub fn type_const(t: ScalarType, c: gpujit::codegen::ast::TypeConst) -> Option<V> {
    use gpujit::codegen::ast::TypeConst::*;
    macro_rules! ints {
        ($($ty:ty: $st:ident),*) => {
            match (c, t) {
                $((Max, ScalarType::$st) => return Some(v(<$ty>::MAX)), (Min, ScalarType::$st) => return Some(v(<$ty>::MIN)),
                  (Bits, ScalarType::$st) => return Some(v(<$ty>::BITS)),)*
                _ => {}
            }
        };
    }
    ints!(i8: I8, i16: I16, i32: I32, i64: I64, u8: U8, u16: U16, u32: U32, u64: U64);
    // The `half` crate's own constants of its types.
    macro_rules! halves {
        ($($ty:ty: $st:ident),*) => {
            match (c, t) {
                $((Zero, ScalarType::$st) => return Some(v(<$ty>::ZERO)),
                  (One, ScalarType::$st) => return Some(v(<$ty>::ONE)),
                  (NegOne, ScalarType::$st) => return Some(v(<$ty>::NEG_ONE)),
                  (NegZero, ScalarType::$st) => return Some(v(<$ty>::NEG_ZERO)),)*
                _ => {}
            }
        };
    }
    halves!(f16: F16, bf16: BF16);
    macro_rules! floats {
        ($($ty:ty: $st:ident),*) => {
            match (c, t) {
                $((Max, ScalarType::$st) => Some(v(<$ty>::MAX)),
                  (Min, ScalarType::$st) => Some(v(<$ty>::MIN)),
                  (Infinity, ScalarType::$st) => Some(v(<$ty>::INFINITY)),
                  (NegInfinity, ScalarType::$st) => Some(v(<$ty>::NEG_INFINITY)),
                  (Nan, ScalarType::$st) => Some(v(<$ty>::NAN)),
                  (Epsilon, ScalarType::$st) => Some(v(<$ty>::EPSILON)),
                  (MinPositive, ScalarType::$st) => Some(v(<$ty>::MIN_POSITIVE)),)*
                _ => None,
            }
        };
    }
    floats!(f32: F32, f64: F64, f16: F16, bf16: BF16)
}
