//! 16-bit floats (`f16`, `bf16`): their conversions as integer code.
//!
//! Values of both types are carried as their bits (`i16`) on every target, so loads, stores,
//! selects, phis, shuffles and parameters never make an LLVM backend reach for a compiler-runtime
//! routine (`__truncsfbf2`, `__extendhfsf2`, ...) that the machine's libgcc may lack. Arithmetic
//! widens to f32 and rounds back, as the `half` crate does. The conversions here are what every
//! target uses unless it has an instruction of its own ([`crate::target::Target::half_to_f32`]):
//! rounding to nearest even, straight from f32 or f64 (no double rounding), overflow to infinity,
//! subnormals kept, and a NaN kept as a quiet NaN of the same sign.

use crate::types::ScalarType;
use inkwell::builder::{Builder, BuilderError};
use inkwell::context::ContextRef;
use inkwell::values::{FloatValue, IntValue};
use inkwell::IntPredicate;

/// An IEEE binary format: exponent and mantissa widths, in bits.
#[derive(Copy, Clone, Debug)]
struct Format {
    exp: u32,
    man: u32,
}

impl Format {
    const F16: Format = Format { exp: 5, man: 10 };
    const BF16: Format = Format { exp: 8, man: 7 };
    const F32: Format = Format { exp: 8, man: 23 };
    const F64: Format = Format { exp: 11, man: 52 };

    fn of(t: ScalarType) -> Format {
        match t {
            ScalarType::F16 => Format::F16,
            ScalarType::BF16 => Format::BF16,
            ScalarType::F64 => Format::F64,
            _ => Format::F32,
        }
    }

    fn bias(self) -> u64 {
        (1 << (self.exp - 1)) - 1
    }

    fn exp_all_ones(self) -> u64 {
        (1 << self.exp) - 1
    }
}

/// The bits (`i16`) of a 16-bit float `t` widened to f32 (exact), in integer code. A NaN becomes
/// a quiet NaN of the same sign and payload, as the `half` crate's `to_f32` gives it.
pub fn widen_to_f32<'ctx>(
    b: &Builder<'ctx>,
    cx: &ContextRef<'ctx>,
    bits: IntValue<'ctx>,
    t: ScalarType,
) -> Result<FloatValue<'ctx>, BuilderError> {
    let i32t = cx.i32_type();
    let c = |v: u64| i32t.const_int(v, false);
    let h = b.build_int_z_extend(bits, i32t, "h")?;
    let f = Format::of(t);
    let mag = b.build_and(h, c(0x7fff), "hmag")?;
    let sign = b.build_left_shift(b.build_and(h, c(0x8000), "hsign")?, c(16), "sign")?;
    let nan_limit = f.exp_all_ones() << f.man;
    let is_nan = b.build_int_compare(IntPredicate::UGT, mag, c(nan_limit), "hnan")?;
    // The exponent rebased to f32's, the mantissa moved to f32's top bits.
    let shift = c((23 - f.man) as u64);
    let moved = b.build_left_shift(mag, shift, "moved")?;
    let wide = if f.exp == 8 {
        // bf16 is the top half of an f32.
        moved
    } else {
        // f16: normal numbers rebase the exponent; infinity and NaN keep an all-ones one;
        // subnormals (and zero) are m * 2^-24, computed exactly as an f32 product.
        let e = b.build_right_shift(mag, c(f.man as u64), false, "hexp")?;
        let rebias = c((127 - f.bias()) << 23);
        let normal = b.build_int_add(moved, rebias, "normal")?;
        let is_special = b.build_int_compare(IntPredicate::EQ, e, c(f.exp_all_ones()), "hspecial")?;
        let special = b.build_or(moved, c(0xff << 23), "special")?;
        let m = b.build_and(mag, c((1 << f.man) - 1), "hman")?;
        let sub = b.build_unsigned_int_to_float(m, cx.f32_type(), "subf")?;
        let sub = b.build_float_mul(sub, cx.f32_type().const_float(2f64.powi(-24)), "subscaled")?;
        let sub = b.build_bit_cast(sub, i32t, "subbits")?.into_int_value();
        let is_sub = b.build_int_compare(IntPredicate::EQ, e, c(0), "hsub")?;
        let r = b.build_select(is_special, special, normal, "hnorm")?.into_int_value();
        b.build_select(is_sub, sub, r, "hwide")?.into_int_value()
    };
    let quiet = b.build_or(wide, c(0x0040_0000), "quiet")?;
    let wide = b.build_select(is_nan, quiet, wide, "hq")?.into_int_value();
    let r = b.build_or(wide, sign, "f32bits")?;
    Ok(b.build_bit_cast(r, cx.f32_type(), "hf32")?.into_float_value())
}

/// An f32 or f64 rounded to the 16-bit float `t` (its bits, `i16`), to nearest even, in integer
/// code: straight from `v`'s own precision, so an f64 is rounded once. Too large a value becomes
/// infinity, a NaN a quiet NaN of the same sign (its top mantissa bits kept, as the `half` crate
/// does).
pub fn narrow<'ctx>(b: &Builder<'ctx>, cx: &ContextRef<'ctx>, v: FloatValue<'ctx>, t: ScalarType) -> Result<IntValue<'ctx>, BuilderError> {
    let i64t = cx.i64_type();
    let c = |x: u64| i64t.const_int(x, false);
    let (src, src_int) = if v.get_type() == cx.f64_type() { (Format::F64, cx.i64_type()) } else { (Format::F32, cx.i32_type()) };
    let dst = Format::of(t);
    let raw = b.build_bit_cast(v, src_int, "fbits")?.into_int_value();
    let bits = if src.man == 52 { raw } else { b.build_int_z_extend(raw, i64t, "fbits64")? };
    let width = src.exp + src.man;
    let sign = b.build_right_shift(bits, c(width as u64), false, "fsign")?;
    let sign = b.build_left_shift(b.build_and(sign, c(1), "fsign1")?, c((dst.exp + dst.man) as u64), "hsign")?;
    let mag = b.build_and(bits, c((1 << width) - 1), "fmag")?;
    let e = b.build_right_shift(mag, c(src.man as u64), false, "fexp")?;
    let m = b.build_and(mag, c((1 << src.man) - 1), "fman")?;
    // NaN: quiet, the top mantissa bits kept.
    let is_nan = b.build_int_compare(IntPredicate::UGT, mag, c(src.exp_all_ones() << src.man), "fnan")?;
    let payload = b.build_right_shift(m, c((src.man - dst.man) as u64), false, "payload")?;
    let nan = b.build_or(payload, c((dst.exp_all_ones() << dst.man) | (1 << (dst.man - 1))), "hnan")?;
    // A finite value is full * 2^(e1 - bias - man), full holding the implicit bit when normal.
    let is_sub = b.build_int_compare(IntPredicate::EQ, e, c(0), "fsub")?;
    let full = b.build_select(is_sub, m, b.build_or(m, c(1 << src.man), "implicit")?, "full")?.into_int_value();
    let e1 = b.build_select(is_sub, c(1), e, "e1")?.into_int_value();
    // The target's biased exponent (signed: below 1 means a subnormal or zero result).
    let de = b.build_int_sub(e1, c(src.bias() - dst.bias()), "dexp")?;
    let one = c(1);
    let below = b.build_int_sub(one, de, "below")?;
    let pos = b.build_int_compare(IntPredicate::SGT, below, c(0), "isbelow")?;
    let extra = b.build_select(pos, below, c(0), "extra")?.into_int_value();
    // Bits dropped; past man + 2 every finite value rounds to zero, so the shift is capped there.
    let shift = b.build_int_add(extra, c((src.man - dst.man) as u64), "shift")?;
    let cap = c(src.man as u64 + 2);
    let over = b.build_int_compare(IntPredicate::UGT, shift, cap, "shiftcap")?;
    let shift = b.build_select(over, cap, shift, "dshift")?.into_int_value();
    let q = b.build_right_shift(full, shift, false, "q")?;
    let low_mask = b.build_int_sub(b.build_left_shift(one, shift, "pow")?, one, "lowmask")?;
    let rem = b.build_and(full, low_mask, "rem")?;
    let halfway = b.build_left_shift(one, b.build_int_sub(shift, one, "shift1")?, "halfway")?;
    let above = b.build_int_compare(IntPredicate::UGT, rem, halfway, "above")?;
    let tie = b.build_int_compare(IntPredicate::EQ, rem, halfway, "tie")?;
    let odd = b.build_int_compare(IntPredicate::NE, b.build_and(q, one, "qodd")?, c(0), "odd")?;
    let up = b.build_or(above, b.build_and(tie, odd, "tieodd")?, "up")?;
    let q = b.build_int_add(q, b.build_int_z_extend(up, i64t, "up64")?, "qr")?;
    // The exponent field above q's implicit bit; a carry out of the mantissa moves into it (up to
    // infinity, whose encoding is exactly the carry out of the largest finite value).
    let kept = b.build_int_compare(IntPredicate::SGT, de, one, "normal")?;
    let base = b.build_select(kept, b.build_int_sub(de, one, "ebase")?, c(0), "base")?.into_int_value();
    let finite = b.build_int_add(b.build_left_shift(base, c(dst.man as u64), "efield")?, q, "finite")?;
    let inf = c(dst.exp_all_ones() << dst.man);
    let overflow = b.build_int_compare(IntPredicate::SGE, de, c(dst.exp_all_ones()), "overflow")?;
    let r = b.build_select(overflow, inf, finite, "hfinite")?.into_int_value();
    let r = b.build_select(is_nan, nan, r, "hval")?.into_int_value();
    let r = b.build_or(r, sign, "hbits64")?;
    b.build_int_truncate(r, cx.i16_type(), "hbits")
}

/// The bits of the constant `v` rounded to the 16-bit float `t`: once, from f64, as [`narrow`]
/// does at run time. (The `half` crate's `from_f64` rounds through f32 on x86 with F16C.)
pub fn const_bits(v: f64, t: ScalarType) -> u16 {
    let (src, dst) = (Format::F64, Format::of(t));
    let bits = v.to_bits();
    let sign = ((bits >> 63) as u16) << 15;
    let mag = bits & !(1 << 63);
    let (e, m) = (mag >> src.man, mag & ((1 << src.man) - 1));
    if mag > src.exp_all_ones() << src.man {
        let nan = (dst.exp_all_ones() << dst.man) | (1 << (dst.man - 1)) | (m >> (src.man - dst.man));
        return sign | nan as u16;
    }
    let full = if e == 0 { m } else { m | 1 << src.man };
    // The target's biased exponent; below 1, a subnormal (or zero) result.
    let de = e.max(1) as i64 - src.bias() as i64 + dst.bias() as i64;
    if de >= dst.exp_all_ones() as i64 {
        return sign | (dst.exp_all_ones() << dst.man) as u16;
    }
    let shift = ((src.man - dst.man) as i64 + (1 - de).max(0)).min(src.man as i64 + 2) as u32;
    let (q, rem, half) = (full >> shift, full & ((1 << shift) - 1), 1u64 << (shift - 1));
    let q = q + u64::from(rem > half || (rem == half && q & 1 == 1));
    let finite = (((de.max(1) - 1) as u64) << dst.man) + q;
    sign | finite as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    /// From values an f32 holds exactly (so rounding through f32 is rounding once) the `half`
    /// crate is the reference; ties between 16-bit neighbours at f64 precision go to even.
    #[test]
    fn constants_round_once() {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for k in 0..200_000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let f = f32::from_bits(if k < 65_536 { (k << 16) | (x as u32 & 0xffff) } else { x as u32 });
            let v = f as f64;
            let (h, b) = (const_bits(v, ScalarType::F16), const_bits(v, ScalarType::BF16));
            let (wh, wb) = (::half::f16::from_f32(f), ::half::bf16::from_f32(f));
            if f.is_nan() {
                assert!(::half::f16::from_bits(h).is_nan() && ::half::bf16::from_bits(b).is_nan());
            } else {
                assert_eq!((h, b), (wh.to_bits(), wb.to_bits()), "{f:e}");
            }
        }
        // 65520 - 2^-30 is below the halfway point to infinity: f32 would round it up first.
        assert_eq!(const_bits(65520.0 - 2f64.powi(-30), ScalarType::F16), 0x7bff);
        assert_eq!(const_bits(65520.0, ScalarType::F16), 0x7c00);
        // 1 + 2^-11 is a tie between 1 and its neighbour: to even; a hair above rounds up.
        assert_eq!(const_bits(1.0 + 2f64.powi(-11), ScalarType::F16), 0x3c00);
        assert_eq!(const_bits(1.0 + 2f64.powi(-11) + 2f64.powi(-40), ScalarType::F16), 0x3c01);
        assert_eq!(const_bits(-0.0, ScalarType::BF16), 0x8000);
        assert_eq!(const_bits(2f64.powi(-25) * 1.5, ScalarType::F16), 0x0001);
    }
}
