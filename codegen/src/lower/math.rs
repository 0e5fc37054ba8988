//! Lowering of the math table's methods ([`MathFn`]): Rust's own semantics for each, on both
//! targets. Float methods are LLVM intrinsics, library calls (libm on the host, libdevice on the
//! GPU) or a few instructions; integer methods are LLVM's bit-manipulation, saturating and
//! overflow intrinsics, or short sequences (`pow` is a square-and-multiply loop).
//!
//! Where Rust would panic (`div_euclid` by zero), the result follows the `/` and `%` convention
//! of [`Lower::int_div`].

use super::{int_type, value_type, Lower, LR};
use crate::ast::BinOp;
use crate::math::MathFn;
use crate::types::ScalarType;
use inkwell::types::{BasicMetadataTypeEnum, BasicTypeEnum};
use inkwell::values::{BasicValueEnum, FloatValue, IntValue};
use inkwell::{FloatPredicate, IntPredicate};

impl<'a, 'ctx> Lower<'a, 'ctx> {
    /// A math method on `args` (receiver first) whose receiver has type `t` (16-bit floats
    /// arrive widened to f32, but for the methods that read their bits: see [`Lower::half_math`]).
    pub(super) fn math(&self, f: MathFn, t: ScalarType, args: &[BasicValueEnum<'ctx>]) -> LR<BasicValueEnum<'ctx>> {
        if t.is_int() {
            return self.int_math(f, t, args);
        }
        if let Some(v) = self.float_bits_method(f, t, args[0])? {
            return Ok(v);
        }
        let b = &self.b;
        let ty = value_type(self.cx, t);
        let ft = ty.into_float_type();
        let x = args[0].into_float_value();
        let fcmp = |p, a: FloatValue<'ctx>, c: FloatValue<'ctx>| b.build_float_compare(p, a, c, "fcmp");
        match f {
            MathFn::Recip => return Ok(b.build_float_div(ft.const_float(1.0), x, "recip")?.into()),
            MathFn::Signum => {
                // Rust: NaN stays NaN, otherwise ±1.0 with the sign of x (also for ±0.0).
                let one = self.call(self.intrinsic("llvm.copysign", &[ty]), &[ft.const_float(1.0).into(), x.into()], "sign")?;
                let nan = fcmp(FloatPredicate::UNO, x, x)?;
                return b.build_select(nan, BasicValueEnum::from(x), one, "signum");
            }
            MathFn::IsNan => return Ok(fcmp(FloatPredicate::UNO, x, x)?.into()),
            MathFn::IsInfinite | MathFn::IsFinite => {
                let abs = self.call(self.intrinsic("llvm.fabs", &[ty]), &[x.into()], "abs")?.into_float_value();
                let inf = ft.const_float(f64::INFINITY);
                let p = if f == MathFn::IsInfinite { FloatPredicate::OEQ } else { FloatPredicate::OLT };
                return Ok(fcmp(p, abs, inf)?.into());
            }
            MathFn::Fract => {
                // Rust: `self - self.trunc()`.
                let t = self.call(self.intrinsic("llvm.trunc", &[ty]), &[x.into()], "trunc")?.into_float_value();
                return Ok(b.build_float_sub(x, t, "fract")?.into());
            }
            MathFn::ToDegrees | MathFn::ToRadians => {
                // std's constants, rounded in the type as std rounds them.
                let k = match (f == MathFn::ToDegrees, t) {
                    (true, ScalarType::F64) => 180.0f64 / std::f64::consts::PI,
                    (false, ScalarType::F64) => std::f64::consts::PI / 180.0,
                    (true, _) => 57.295_78_f32 as f64,
                    (false, _) => (std::f32::consts::PI / 180.0f32) as f64,
                };
                return Ok(b.build_float_mul(x, ft.const_float(k), f.method())?.into());
            }
            MathFn::Clamp => {
                // Rust: `if x < min { x = min } if x > max { x = max }`: NaN stays NaN, and a
                // zero keeps its sign (`0.0.clamp(lo, -0.0)` is +0). The selects are the target's
                // on the values' bits (`Target::select_bits`): on floats LLVM's NVPTX backend
                // turns `x < y ? x : y` into `min.f16`, which gives -0 there (the GPU fuzz
                // campaign's kernel seed 7638957394747517551), and LLVM folds an LLVM select of
                // bits back into one of floats.
                let (lo, hi) = (args[1].into_float_value(), args[2].into_float_value());
                let it = match ft.get_bit_width() {
                    16 => self.cx.i16_type(),
                    32 => self.cx.i32_type(),
                    _ => self.cx.i64_type(),
                };
                let bits = |v: FloatValue<'ctx>| -> LR<IntValue<'ctx>> { Ok(b.build_bit_cast(v, it, "clamp.bits")?.into_int_value()) };
                let below = fcmp(FloatPredicate::OLT, x, lo)?;
                let r = self.target.select_bits(self.module, b, below, bits(lo)?, bits(x)?)?;
                let r = b.build_bit_cast(r, ft, "clamp.lo.f")?.into_float_value();
                let above = fcmp(FloatPredicate::OGT, r, hi)?;
                let out = self.target.select_bits(self.module, b, above, bits(hi)?, bits(r)?)?;
                return b.build_bit_cast(out, ft, "clamp");
            }
            MathFn::RemEuclid => {
                // Rust: `let r = self % rhs; if r < 0.0 { r + rhs.abs() } else { r }`.
                let y = args[1].into_float_value();
                let r = self.binary(BinOp::Rem, x.into(), y.into(), t, t)?.into_float_value();
                let ay = self.call(self.intrinsic("llvm.fabs", &[ty]), &[y.into()], "absy")?.into_float_value();
                let neg = fcmp(FloatPredicate::OLT, r, ft.const_zero())?;
                let fixed = b.build_float_add(r, ay, "r.pos")?;
                return b.build_select(neg, fixed, r, "rem_euclid");
            }
            MathFn::DivEuclid => {
                // Rust: `let q = (self / rhs).trunc(); if self % rhs < 0.0 { if rhs > 0.0 { q - 1.0 }
                // else { q + 1.0 } } else { q }`.
                let y = args[1].into_float_value();
                let div = b.build_float_div(x, y, "div")?;
                let q = self.call(self.intrinsic("llvm.trunc", &[ty]), &[div.into()], "q")?.into_float_value();
                let r = self.binary(BinOp::Rem, x.into(), y.into(), t, t)?.into_float_value();
                let neg = fcmp(FloatPredicate::OLT, r, ft.const_zero())?;
                let pos_y = fcmp(FloatPredicate::OGT, y, ft.const_zero())?;
                let one = ft.const_float(1.0);
                let down = b.build_float_sub(q, one, "q.down")?;
                let up = b.build_float_add(q, one, "q.up")?;
                let adj = b.build_select(pos_y, down, up, "q.adj")?.into_float_value();
                return b.build_select(neg, adj, q, "div_euclid");
            }
            _ => {}
        }
        if f == MathFn::Powi && !self.kernel.options.fastmath {
            return self.powi(args[0].into_float_value(), args[1].into_int_value());
        }
        if let Some(name) = self.target.math_function(f, t, self.kernel.options.fastmath) {
            let params: Vec<BasicMetadataTypeEnum> = args.iter().map(|a| a.get_type().into()).collect();
            let func = self.library_fn(&name, ty, &params);
            return self.call(func, args, f.method());
        }
        if f == MathFn::Powi {
            let powi = self.intrinsic("llvm.powi", &[ty, self.cx.i32_type().into()]);
            return self.call(powi, args, "powi");
        }
        match f.llvm_intrinsic() {
            Some(name) => self.call(self.intrinsic(name, &[ty]), args, f.method()),
            None => unreachable!("the verifier admits {f:?} on floats only with a lowering here"),
        }
    }

    /// `a.powi(b)` as Rust's runtime computes it (compiler-rt's `__powisf2`/`__powidf2`, what
    /// `llvm.powi` becomes when not folded): binary exponentiation from the low bit, then the
    /// reciprocal for a negative exponent, on both backends. (`llvm.powi` of constants is folded
    /// through a double `pow`, which gives other results where `a^|b|` overflows, e.g.
    /// `1e10f32.powi(-4)`: 1e-40 there, 0 at run time; fuzz seed 13215625350877354508.)
    fn powi(&self, a: FloatValue<'ctx>, b: IntValue<'ctx>) -> LR<BasicValueEnum<'ctx>> {
        let bd = &self.b;
        let (ty, i32t) = (a.get_type(), self.cx.i32_type());
        let entry = bd.get_insert_block().unwrap_or_else(|| unreachable!("builder is positioned"));
        let head = self.new_block("powi.loop");
        let exit = self.new_block("powi.done");
        bd.build_unconditional_branch(head)?;
        bd.position_at_end(head);
        let r = bd.build_phi(ty, "powi.r")?;
        let base = bd.build_phi(ty, "powi.a")?;
        let n = bd.build_phi(i32t, "powi.n")?;
        r.add_incoming(&[(&ty.const_float(1.0), entry)]);
        base.add_incoming(&[(&a, entry)]);
        n.add_incoming(&[(&b, entry)]);
        let (rv, av, nv) =
            (r.as_basic_value().into_float_value(), base.as_basic_value().into_float_value(), n.as_basic_value().into_int_value());
        let odd =
            bd.build_int_compare(IntPredicate::NE, bd.build_and(nv, i32t.const_int(1, false), "powi.bit")?, i32t.const_zero(), "powi.odd")?;
        let times = bd.build_float_mul(rv, av, "powi.times")?;
        let r2 = bd.build_select(odd, times, rv, "powi.r2")?.into_float_value();
        let n2 = bd.build_int_signed_div(nv, i32t.const_int(2, false), "powi.half")?;
        let a2 = bd.build_float_mul(av, av, "powi.square")?;
        let done = bd.build_int_compare(IntPredicate::EQ, n2, i32t.const_zero(), "powi.end")?;
        r.add_incoming(&[(&r2, head)]);
        base.add_incoming(&[(&a2, head)]);
        n.add_incoming(&[(&n2, head)]);
        bd.build_conditional_branch(done, exit, head)?;
        bd.position_at_end(exit);
        let negative = bd.build_int_compare(IntPredicate::SLT, b, i32t.const_zero(), "powi.neg")?;
        let recip = bd.build_float_div(ty.const_float(1.0), r2, "powi.recip")?;
        bd.build_select(negative, recip, r2, "powi")
    }

    /// A math method on a 16-bit float `x` (its bits): the methods that read the bits work on
    /// them; the others compute in f32, and a 16-bit result is rounded back.
    pub(super) fn half_math(&self, f: MathFn, t: ScalarType, args: &[BasicValueEnum<'ctx>]) -> LR<BasicValueEnum<'ctx>> {
        if let Some(v) = self.float_bits_method(f, t, args[0])? {
            return Ok(v);
        }
        let mut wide = Vec::with_capacity(args.len());
        for (v, p) in args.iter().zip(f.params()) {
            wide.push(if p.fixed().is_none() { self.half_to_f32(*v, t)?.into() } else { *v });
        }
        let v = self.math(f, ScalarType::F32, &wide)?;
        if f.result(t) == Some(t) {
            self.f32_to_half(self.fast(v).into_float_value(), t)
        } else {
            Ok(v)
        }
    }

    /// The float methods that read a float's bits (exact for every width, flush-to-zero or
    /// not): `to_bits`, `is_sign_*`, `is_normal`, `is_subnormal`. `x` is the float, or a 16-bit
    /// float's bits.
    fn float_bits_method(&self, f: MathFn, t: ScalarType, x: BasicValueEnum<'ctx>) -> LR<Option<BasicValueEnum<'ctx>>> {
        if !matches!(f, MathFn::ToBits | MathFn::IsSignNegative | MathFn::IsSignPositive | MathFn::IsNormal | MathFn::IsSubnormal) {
            return Ok(None);
        }
        let b = &self.b;
        let it = int_type(self.cx, t.bits());
        let bits = if x.is_int_value() { x.into_int_value() } else { b.build_bit_cast(x, it, "bits")?.into_int_value() };
        let mantissa = match t {
            ScalarType::F64 => 52,
            ScalarType::F32 => 23,
            ScalarType::F16 => 10,
            _ => 7,
        };
        let sign = it.const_int(1u64 << (t.bits() - 1), false);
        let exp_mask = it.const_int(((1u64 << (t.bits() - 1)) - 1) & !((1u64 << mantissa) - 1), false);
        let man_mask = it.const_int((1u64 << mantissa) - 1, false);
        let zero = it.const_zero();
        let icmp = |p, a: IntValue<'ctx>, c: IntValue<'ctx>| b.build_int_compare(p, a, c, "icmp");
        Ok(Some(match f {
            MathFn::ToBits => bits.into(),
            MathFn::IsSignNegative | MathFn::IsSignPositive => {
                let s = b.build_and(bits, sign, "sign")?;
                let p = if f == MathFn::IsSignNegative { IntPredicate::NE } else { IntPredicate::EQ };
                icmp(p, s, zero)?.into()
            }
            _ => {
                let e = b.build_and(bits, exp_mask, "exp")?;
                if f == MathFn::IsNormal {
                    let some = icmp(IntPredicate::NE, e, zero)?;
                    let not_all = icmp(IntPredicate::NE, e, exp_mask)?;
                    b.build_and(some, not_all, "normal")?.into()
                } else {
                    let m = b.build_and(bits, man_mask, "man")?;
                    let e0 = icmp(IntPredicate::EQ, e, zero)?;
                    let m1 = icmp(IntPredicate::NE, m, zero)?;
                    b.build_and(e0, m1, "subnormal")?.into()
                }
            }
        }))
    }

    /// A math method on integers of type `t`.
    fn int_math(&self, f: MathFn, t: ScalarType, args: &[BasicValueEnum<'ctx>]) -> LR<BasicValueEnum<'ctx>> {
        let b = &self.b;
        let ty: BasicTypeEnum<'ctx> = value_type(self.cx, t);
        let it = ty.into_int_type();
        let signed = t.is_signed_int();
        let x = args[0].into_int_value();
        let y = || args[1].into_int_value();
        let bits = t.bits();
        let min = if signed { it.const_int(1u64 << (bits - 1), false) } else { it.const_zero() };
        let max = if signed { it.const_int((1u64 << (bits - 1)) - 1, false) } else { it.const_all_ones() };
        let icmp = |p, a: IntValue<'ctx>, c: IntValue<'ctx>| b.build_int_compare(p, a, c, "icmp");
        let lt = if signed { IntPredicate::SLT } else { IntPredicate::ULT };
        let gt = if signed { IntPredicate::SGT } else { IntPredicate::UGT };
        let call1 = |name: &str, a: &[BasicValueEnum<'ctx>]| -> LR<IntValue<'ctx>> {
            Ok(self.call(self.intrinsic(name, &[ty]), a, name)?.into_int_value())
        };
        let not_poison = self.cx.bool_type().const_zero();
        // A count (u32) from a value of the type's width.
        let count = |v: IntValue<'ctx>| -> LR<BasicValueEnum<'ctx>> {
            let u32t = self.cx.i32_type();
            Ok(match bits {
                32 => v,
                64 => b.build_int_truncate(v, u32t, "count")?,
                _ => b.build_int_z_extend(v, u32t, "count")?,
            }
            .into())
        };
        // The u32 operand (a shift or rotate amount, an exponent) in the type's width.
        let amount = |n: IntValue<'ctx>| -> LR<IntValue<'ctx>> {
            Ok(match bits {
                32 => n,
                64 => b.build_int_z_extend(n, it, "amount")?,
                _ => b.build_int_truncate(n, it, "amount")?,
            })
        };
        let with_overflow = |op: &str, a: IntValue<'ctx>, c: IntValue<'ctx>| -> LR<(IntValue<'ctx>, IntValue<'ctx>)> {
            let name = format!("llvm.{}{op}.with.overflow", if signed { "s" } else { "u" });
            let pair = self.call(self.intrinsic(&name, &[ty]), &[a.into(), c.into()], op)?.into_struct_value();
            Ok((b.build_extract_value(pair, 0, "v")?.into_int_value(), b.build_extract_value(pair, 1, "o")?.into_int_value()))
        };
        let select = |c: IntValue<'ctx>, a: IntValue<'ctx>, e: IntValue<'ctx>, name: &str| -> LR<IntValue<'ctx>> {
            Ok(b.build_select(c, a, e, name)?.into_int_value())
        };
        let v: IntValue<'ctx> = match f {
            MathFn::Abs | MathFn::WrappingAbs | MathFn::UnsignedAbs => call1("llvm.abs", &[x.into(), not_poison.into()])?,
            MathFn::Min | MathFn::Max => {
                let name = match (f == MathFn::Min, signed) {
                    (true, true) => "llvm.smin",
                    (true, false) => "llvm.umin",
                    (false, true) => "llvm.smax",
                    (false, false) => "llvm.umax",
                };
                call1(name, &args[..2])?
            }
            MathFn::Signum => {
                let zero = it.const_zero();
                let pos = b.build_int_z_extend(icmp(IntPredicate::SGT, x, zero)?, it, "pos1")?;
                let neg = b.build_int_z_extend(icmp(IntPredicate::SLT, x, zero)?, it, "neg1")?;
                b.build_int_sub(pos, neg, "signum")?
            }
            MathFn::Clamp => {
                // `Ord::clamp`: `if x < min { min } else if x > max { max } else { x }`.
                let (lo, hi) = (args[1].into_int_value(), args[2].into_int_value());
                let r = select(icmp(gt, x, hi)?, hi, x, "clamp.hi")?;
                select(icmp(lt, x, lo)?, lo, r, "clamp")?
            }
            // On integers `div_euclid` and `rem_euclid` wrap already (`MIN.div_euclid(-1)` is MIN).
            MathFn::RemEuclid | MathFn::WrappingRemEuclid if !signed => self.int_div(BinOp::Rem, x, y(), false)?,
            MathFn::DivEuclid | MathFn::WrappingDivEuclid if !signed => self.int_div(BinOp::Div, x, y(), false)?,
            MathFn::RemEuclid | MathFn::WrappingRemEuclid => {
                // `let r = x % y; if r < 0 { r.wrapping_add(y.wrapping_abs()) } else { r }`.
                let r = self.int_div(BinOp::Rem, x, y(), true)?;
                let ay = call1("llvm.abs", &[y().into(), not_poison.into()])?;
                let fixed = b.build_int_add(r, ay, "r.pos")?;
                select(icmp(IntPredicate::SLT, r, it.const_zero())?, fixed, r, "rem_euclid")?
            }
            MathFn::DivEuclid | MathFn::WrappingDivEuclid => {
                // `let q = x / y; if x % y < 0 { if y > 0 { q - 1 } else { q + 1 } } else { q }`.
                let q = self.int_div(BinOp::Div, x, y(), true)?;
                let r = self.int_div(BinOp::Rem, x, y(), true)?;
                let one = it.const_int(1, false);
                let down = b.build_int_sub(q, one, "q.down")?;
                let up = b.build_int_add(q, one, "q.up")?;
                let adj = select(icmp(IntPredicate::SGT, y(), it.const_zero())?, down, up, "q.adj")?;
                let q = select(icmp(IntPredicate::SLT, r, it.const_zero())?, adj, q, "q.e")?;
                // By zero: 0, as `/` gives.
                select(icmp(IntPredicate::EQ, y(), it.const_zero())?, it.const_zero(), q, "div_euclid")?
            }
            MathFn::CountOnes => return count(call1("llvm.ctpop", &[x.into()])?),
            MathFn::CountZeros => {
                let not = b.build_not(x, "not")?;
                return count(call1("llvm.ctpop", &[not.into()])?);
            }
            MathFn::LeadingZeros => return count(call1("llvm.ctlz", &[x.into(), not_poison.into()])?),
            MathFn::TrailingZeros => return count(call1("llvm.cttz", &[x.into(), not_poison.into()])?),
            MathFn::ReverseBits => call1("llvm.bitreverse", &[x.into()])?,
            // One byte has nothing to swap (and `llvm.bswap` takes whole pairs of bytes).
            MathFn::SwapBytes if bits == 8 => x,
            MathFn::SwapBytes => call1("llvm.bswap", &[x.into()])?,
            MathFn::RotateLeft | MathFn::RotateRight => {
                // A funnel shift of x with itself rotates by the amount modulo the width.
                let n = amount(args[1].into_int_value())?;
                let name = if f == MathFn::RotateLeft { "llvm.fshl" } else { "llvm.fshr" };
                call1(name, &[x.into(), x.into(), n.into()])?
            }
            MathFn::WrappingAdd => b.build_int_add(x, y(), "add")?,
            MathFn::WrappingSub => b.build_int_sub(x, y(), "sub")?,
            MathFn::WrappingMul => b.build_int_mul(x, y(), "mul")?,
            MathFn::WrappingDiv => self.int_div(BinOp::Div, x, y(), signed)?,
            MathFn::WrappingRem => self.int_div(BinOp::Rem, x, y(), signed)?,
            MathFn::WrappingNeg => b.build_int_sub(it.const_zero(), x, "neg")?,
            MathFn::WrappingShl | MathFn::WrappingShr => {
                let op = if f == MathFn::WrappingShl { BinOp::Shl } else { BinOp::Shr };
                self.binary(op, x.into(), args[1], t, ScalarType::U32)?.into_int_value()
            }
            MathFn::Pow | MathFn::WrappingPow => self.int_pow(t, x, args[1].into_int_value())?.0,
            MathFn::PowOverflows => self.int_pow(t, x, args[1].into_int_value())?.1,
            MathFn::SaturatingPow => {
                // std: `checked_pow`, else MIN for a negative base and an odd exponent, else MAX.
                let n = args[1].into_int_value();
                let (v, o) = self.int_pow(t, x, n)?;
                let limit = if signed {
                    let neg = icmp(IntPredicate::SLT, x, it.const_zero())?;
                    let odd = b.build_and(n, n.get_type().const_int(1, false), "odd")?;
                    let odd = icmp(IntPredicate::NE, odd, n.get_type().const_zero())?;
                    select(b.build_and(neg, odd, "to.min")?, min, max, "limit")?
                } else {
                    max
                };
                select(o, limit, v, "saturating_pow")?
            }
            MathFn::SaturatingAdd | MathFn::SaturatingSub => {
                let name = format!("llvm.{}{}.sat", if signed { "s" } else { "u" }, if f == MathFn::SaturatingAdd { "add" } else { "sub" });
                call1(&name, &args[..2])?
            }
            MathFn::SaturatingMul => {
                let (v, o) = with_overflow("mul", x, y())?;
                let limit = if signed {
                    let opposite = icmp(IntPredicate::SLT, b.build_xor(x, y(), "signs")?, it.const_zero())?;
                    select(opposite, min, max, "limit")?
                } else {
                    max
                };
                select(o, limit, v, "saturating_mul")?
            }
            MathFn::SaturatingDiv => {
                let q = self.int_div(BinOp::Div, x, y(), signed)?;
                if signed {
                    select(self.div_overflows(x, y(), min)?, max, q, "saturating_div")?
                } else {
                    q
                }
            }
            MathFn::SaturatingNeg => {
                let neg = b.build_int_sub(it.const_zero(), x, "neg")?;
                select(icmp(IntPredicate::EQ, x, min)?, max, neg, "saturating_neg")?
            }
            MathFn::SaturatingAbs => {
                let abs = call1("llvm.abs", &[x.into(), not_poison.into()])?;
                select(icmp(IntPredicate::EQ, x, min)?, max, abs, "saturating_abs")?
            }
            MathFn::AddOverflows => with_overflow("add", x, y())?.1,
            MathFn::SubOverflows => with_overflow("sub", x, y())?.1,
            MathFn::MulOverflows => with_overflow("mul", x, y())?.1,
            MathFn::DivOverflows if signed => self.div_overflows(x, y(), min)?,
            MathFn::DivOverflows => self.cx.bool_type().const_zero(),
            // Signed: only MIN overflows; unsigned: every value but 0.
            MathFn::NegOverflows => icmp(if signed { IntPredicate::EQ } else { IntPredicate::NE }, x, min)?,
            MathFn::AbsOverflows => icmp(IntPredicate::EQ, x, min)?,
            MathFn::ShiftOverflows => {
                let n = args[1].into_int_value();
                icmp(IntPredicate::UGE, n, n.get_type().const_int(bits as u64, false))?
            }
            MathFn::AbsDiff => {
                // `if x < y { y - x } else { x - y }`, in the unsigned type of the width.
                let (a, c) = (x, y());
                let up = b.build_int_sub(c, a, "d.up")?;
                let down = b.build_int_sub(a, c, "d.down")?;
                select(icmp(lt, a, c)?, up, down, "abs_diff")?
            }
            MathFn::DivCeil => {
                // `x / y + (x % y != 0) as T` (unsigned); by zero 0, as `/` gives.
                let (q, r) = (self.int_div(BinOp::Div, x, y(), false)?, self.int_div(BinOp::Rem, x, y(), false)?);
                // (`x % 0` is `x`, by `%`'s rule: no rounding up then.)
                let rest =
                    b.build_and(icmp(IntPredicate::NE, r, it.const_zero())?, icmp(IntPredicate::NE, y(), it.const_zero())?, "rest")?;
                let up = b.build_int_z_extend(rest, it, "up")?;
                b.build_int_add(q, up, "div_ceil")?
            }
            MathFn::NextMultipleOf => {
                // `if x % y == 0 { x } else { x + (y - x % y) }`, wrapping; by zero `x`.
                let r = self.int_div(BinOp::Rem, x, y(), false)?;
                let step = b.build_int_sub(y(), r, "step")?;
                let next = b.build_int_add(x, step, "next")?;
                let stay =
                    b.build_or(icmp(IntPredicate::EQ, r, it.const_zero())?, icmp(IntPredicate::EQ, y(), it.const_zero())?, "stay")?;
                select(stay, x, next, "next_multiple_of")?
            }
            MathFn::MulHi => self.target.mul_hi(self.module, b, x, y(), signed)?,
            _ => unreachable!("the verifier admits {f:?} on integers only with a lowering here"),
        };
        Ok(v.into())
    }

    /// Whether signed `x / y` overflows: `MIN / -1`.
    fn div_overflows(&self, x: IntValue<'ctx>, y: IntValue<'ctx>, min: IntValue<'ctx>) -> LR<IntValue<'ctx>> {
        let b = &self.b;
        let is_min = b.build_int_compare(IntPredicate::EQ, x, min, "x.min")?;
        let is_m1 = b.build_int_compare(IntPredicate::EQ, y, x.get_type().const_all_ones(), "y.m1")?;
        b.build_and(is_min, is_m1, "div.ovf")
    }

    /// `x.overflowing_pow(n)` as std computes it (square and multiply, the base squared only
    /// while bits of the exponent remain): the wrapped power, and whether any step overflowed.
    fn int_pow(&self, t: ScalarType, x: IntValue<'ctx>, n: IntValue<'ctx>) -> LR<(IntValue<'ctx>, IntValue<'ctx>)> {
        let b = &self.b;
        let it = x.get_type();
        let ty: BasicTypeEnum<'ctx> = it.into();
        let (nt, bt) = (n.get_type(), self.cx.bool_type());
        let name = format!("llvm.{}mul.with.overflow", if t.is_signed_int() { "s" } else { "u" });
        let mul = self.intrinsic(&name, &[ty]);
        let pre = b.get_insert_block().unwrap_or_else(|| unreachable!("builder is positioned"));
        let head = self.new_block("pow.head");
        let body = self.new_block("pow.body");
        let exit = self.new_block("pow.end");
        b.build_unconditional_branch(head)?;
        b.position_at_end(head);
        let acc = b.build_phi(it, "acc")?;
        let base = b.build_phi(it, "base")?;
        let exp = b.build_phi(nt, "exp")?;
        let ovf = b.build_phi(bt, "ovf")?;
        let (accv, basev, expv, ovfv) = (
            acc.as_basic_value().into_int_value(),
            base.as_basic_value().into_int_value(),
            exp.as_basic_value().into_int_value(),
            ovf.as_basic_value().into_int_value(),
        );
        let more = b.build_int_compare(IntPredicate::NE, expv, nt.const_zero(), "more")?;
        b.build_conditional_branch(more, body, exit)?;
        b.position_at_end(body);
        let step = |a: IntValue<'ctx>, c: IntValue<'ctx>| -> LR<(IntValue<'ctx>, IntValue<'ctx>)> {
            let pair = self.call(mul, &[a.into(), c.into()], "pow.mul")?.into_struct_value();
            Ok((b.build_extract_value(pair, 0, "v")?.into_int_value(), b.build_extract_value(pair, 1, "o")?.into_int_value()))
        };
        let bit = b.build_and(expv, nt.const_int(1, false), "bit")?;
        let odd = b.build_int_compare(IntPredicate::NE, bit, nt.const_zero(), "odd")?;
        let (m, o1) = step(accv, basev)?;
        let acc2 = b.build_select(odd, m, accv, "acc2")?.into_int_value();
        let o1 = b.build_and(odd, o1, "o1")?;
        let exp2 = b.build_right_shift(expv, nt.const_int(1, false), false, "exp2")?;
        let (sq, o2) = step(basev, basev)?;
        let again = b.build_int_compare(IntPredicate::NE, exp2, nt.const_zero(), "again")?;
        let o2 = b.build_and(again, o2, "o2")?;
        let ovf2 = b.build_or(ovfv, b.build_or(o1, o2, "o12")?, "ovf2")?;
        let latch = b.get_insert_block().unwrap_or_else(|| unreachable!("builder is positioned"));
        b.build_unconditional_branch(head)?;
        acc.add_incoming(&[(&it.const_int(1, false), pre), (&acc2, latch)]);
        base.add_incoming(&[(&x, pre), (&sq, latch)]);
        exp.add_incoming(&[(&n, pre), (&exp2, latch)]);
        ovf.add_incoming(&[(&bt.const_zero(), pre), (&ovf2, latch)]);
        b.position_at_end(exit);
        Ok((accv, ovfv))
    }
}
