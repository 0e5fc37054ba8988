//! Lowering of draws from a Philox generator ([`crate::random`]): the Philox4x32-10 block as an
//! internal function of the module (`gpujit.philox.word`), and the conversions to floats as the
//! same IEEE-exact operations, in the same order, as [`crate::random::draw`], so that every
//! backend gives the stream's exact bits.

use super::{Lower, LR};
use crate::random::{self, Draw};
use inkwell::attributes::{Attribute, AttributeLoc};
use inkwell::module::Linkage;
use inkwell::values::{BasicValueEnum, FloatValue, FunctionValue, IntValue};
use inkwell::{FloatPredicate, IntPredicate};

impl<'a, 'ctx> Lower<'a, 'ctx> {
    /// A draw `d` at word `n` of the stream of `(seed, subsequence)` (all i64).
    pub(super) fn random_draw(&self, d: Draw, seed: IntValue<'ctx>, sub: IntValue<'ctx>, n: IntValue<'ctx>) -> LR<BasicValueEnum<'ctx>> {
        let b = &self.b;
        let (i32t, i64t, f32t, f64t) = (self.cx.i32_type(), self.cx.i64_type(), self.cx.f32_type(), self.cx.f64_type());
        let word_fn = self.philox_word_fn()?;
        let word = |i: u64| -> LR<IntValue<'ctx>> {
            let at = b.build_int_add(n, i64t.const_int(i, false), "at")?;
            Ok(self.call(word_fn, &[seed.into(), sub.into(), at.into()], "word")?.into_int_value())
        };
        let u64_at = |i: u64| -> LR<IntValue<'ctx>> {
            let lo = b.build_int_z_extend(word(i)?, i64t, "lo")?;
            let hi = b.build_int_z_extend(word(i + 1)?, i64t, "hi")?;
            let hi = b.build_left_shift(hi, i64t.const_int(32, false), "hi.s")?;
            b.build_or(lo, hi, "u64")
        };
        let uniform_f64_at = |i: u64| -> LR<FloatValue<'ctx>> {
            let bits = b.build_right_shift(u64_at(i)?, i64t.const_int(11, false), false, "b53")?;
            let x = b.build_unsigned_int_to_float(bits, f64t, "u53")?;
            b.build_float_mul(x, f64t.const_float(random::INV_2_53), "uniform")
        };
        // `(w >> 8) + add` as an f64 times 2^-24.
        let u24 = |w: IntValue<'ctx>, add: u64| -> LR<FloatValue<'ctx>> {
            let x = b.build_right_shift(w, i32t.const_int(8, false), false, "b24")?;
            let x = b.build_int_add(x, i32t.const_int(add, false), "b24.a")?;
            let x = b.build_unsigned_int_to_float(x, f64t, "u24")?;
            b.build_float_mul(x, f64t.const_float(random::INV_2_24), "u24.s")
        };
        Ok(match d {
            Draw::NextU32 => word(0)?.into(),
            Draw::NextU64 => u64_at(0)?.into(),
            Draw::UniformF32 => {
                let x = b.build_right_shift(word(0)?, i32t.const_int(8, false), false, "b24")?;
                let x = b.build_unsigned_int_to_float(x, f32t, "u24")?;
                b.build_float_mul(x, f32t.const_float(random::INV_2_24), "uniform")?.into()
            }
            Draw::UniformF64 => uniform_f64_at(0)?.into(),
            Draw::NormalF32 => {
                let (u1, u2) = (u24(word(0)?, 1)?, u24(word(1)?, 0)?);
                let z = self.box_muller(u1, u2)?;
                b.build_float_trunc(z, f32t, "normal")?.into()
            }
            Draw::NormalF64 => {
                let u1 = b.build_float_sub(f64t.const_float(1.0), uniform_f64_at(0)?, "u1")?;
                let u2 = uniform_f64_at(2)?;
                self.box_muller(u1, u2)?.into()
            }
        })
    }

    /// `gpujit.philox.word(seed, subsequence, n)`: word `n % 4` of block `n / 4`, an internal
    /// function of the module, made on first use.
    fn philox_word_fn(&self) -> LR<FunctionValue<'ctx>> {
        const NAME: &str = "gpujit.philox.word";
        if let Some(f) = self.module.get_function(NAME) {
            return Ok(f);
        }
        let cx = self.cx;
        let (i32t, i64t) = (cx.i32_type(), cx.i64_type());
        let f = self.module.add_function(NAME, i32t.fn_type(&[i64t.into(), i64t.into(), i64t.into()], false), Some(Linkage::Internal));
        let inline = cx.create_enum_attribute(Attribute::get_named_enum_kind_id("alwaysinline"), 0);
        f.add_attribute(AttributeLoc::Function, inline);
        let b = cx.create_builder();
        b.position_at_end(cx.append_basic_block(f, "entry"));
        let arg = |i: u32| f.get_nth_param(i).map(|p| p.into_int_value()).unwrap_or_else(|| unreachable!("declared with 3 parameters"));
        let (seed, sub, n) = (arg(0), arg(1), arg(2));
        let lo = |v: IntValue<'ctx>| b.build_int_truncate(v, i32t, "lo");
        let hi = |v: IntValue<'ctx>| -> LR<IntValue<'ctx>> { lo(b.build_right_shift(v, i64t.const_int(32, false), false, "hi")?) };
        let block = b.build_right_shift(n, i64t.const_int(2, false), false, "block")?;
        let mut c = [lo(block)?, hi(block)?, lo(sub)?, hi(sub)?];
        let mut k = [lo(seed)?, hi(seed)?];
        // The halves of the 64-bit product apart, each a 32-bit instruction on the GPU (one
        // 64-bit product became `mul.lo.s64`, several).
        let mulhilo = |m: u32, x: IntValue<'ctx>| -> LR<(IntValue<'ctx>, IntValue<'ctx>)> {
            let mc = i32t.const_int(m as u64, false);
            let high = self.target.mul_hi(self.module, &b, mc, x, false)?;
            Ok((high, b.build_int_mul(mc, x, "lo")?))
        };
        for round in 0..random::ROUNDS {
            if round > 0 {
                k = [
                    b.build_int_add(k[0], i32t.const_int(random::W0 as u64, false), "k0")?,
                    b.build_int_add(k[1], i32t.const_int(random::W1 as u64, false), "k1")?,
                ];
            }
            let (hi0, lo0) = mulhilo(random::M0, c[0])?;
            let (hi1, lo1) = mulhilo(random::M1, c[2])?;
            let x0 = b.build_xor(b.build_xor(hi1, c[1], "x")?, k[0], "c0")?;
            let x2 = b.build_xor(b.build_xor(hi0, c[3], "x")?, k[1], "c2")?;
            c = [x0, lo1, x2, lo0];
        }
        let w = lo(b.build_and(n, i64t.const_int(3, false), "w")?)?;
        let is = |i: u64| b.build_int_compare(IntPredicate::EQ, w, i32t.const_int(i, false), "is");
        let r = b.build_select(is(2)?, c[2], c[3], "w23")?.into_int_value();
        let r = b.build_select(is(1)?, c[1], r, "w123")?.into_int_value();
        let r = b.build_select(is(0)?, c[0], r, "word")?.into_int_value();
        b.build_return(Some(&r))?;
        Ok(f)
    }

    /// `p = c[n-1]; p = p * x + c[i]`, as [`random::horner`].
    fn horner(&self, c: &[f64], x: FloatValue<'ctx>) -> LR<FloatValue<'ctx>> {
        let (b, f64t) = (&self.b, self.cx.f64_type());
        let mut p = f64t.const_float(c[c.len() - 1]);
        for &ci in c[..c.len() - 1].iter().rev() {
            p = b.build_float_add(b.build_float_mul(p, x, "h.m")?, f64t.const_float(ci), "h.a")?;
        }
        Ok(p)
    }

    /// `sqrt(-2 ln u1) * cos(2 pi u2)`, as [`random::box_muller`].
    fn box_muller(&self, u1: FloatValue<'ctx>, u2: FloatValue<'ctx>) -> LR<FloatValue<'ctx>> {
        let (b, cx) = (&self.b, self.cx);
        let (i64t, f64t) = (cx.i64_type(), cx.f64_type());
        let k = |v: f64| f64t.const_float(v);
        let ki = |v: u64| i64t.const_int(v, false);
        // ln u1 (random::ln).
        let bits = b.build_bit_cast(u1, i64t, "bits")?.into_int_value();
        let e = b.build_and(b.build_right_shift(bits, ki(52), false, "e.s")?, ki(0x7ff), "e.m")?;
        let e = b.build_int_sub(e, ki(1023), "e")?;
        let m = b.build_or(b.build_and(bits, ki(0x000f_ffff_ffff_ffff), "m.b")?, ki(0x3ff0_0000_0000_0000), "m.o")?;
        let m = b.build_bit_cast(m, f64t, "m")?.into_float_value();
        let big = b.build_float_compare(FloatPredicate::OGT, m, k(random::SQRT2), "big")?;
        let m = b.build_select(big, b.build_float_mul(m, k(0.5), "m.h")?, m, "m2")?.into_float_value();
        let e = b.build_select(big, b.build_int_add(e, ki(1), "e.1")?, e, "e2")?.into_int_value();
        let s = b.build_float_div(b.build_float_sub(m, k(1.0), "m-1")?, b.build_float_add(m, k(1.0), "m+1")?, "s")?;
        let p = self.horner(&random::ln_series(), b.build_float_mul(s, s, "s2")?)?;
        let ef = b.build_signed_int_to_float(e, f64t, "ef")?;
        let tail = b.build_float_mul(b.build_float_mul(k(2.0), s, "2s")?, p, "2sp")?;
        let tail = b.build_float_add(b.build_float_mul(ef, k(random::LN2_LO), "elo")?, tail, "tail")?;
        let ln = b.build_float_add(b.build_float_mul(ef, k(random::LN2_HI), "ehi")?, tail, "ln")?;
        // sqrt(-2 ln u1).
        let r = b.build_float_mul(k(-2.0), ln, "-2ln")?;
        let r = self.call(self.intrinsic("llvm.sqrt", &[f64t.into()]), &[r.into()], "r")?.into_float_value();
        // cos(2 pi u2) (random::cos_2pi).
        let t = b.build_float_mul(u2, k(4.0), "t")?;
        let q = self.call(self.intrinsic("llvm.floor", &[f64t.into()]), &[t.into()], "q")?.into_float_value();
        let a = b.build_float_mul(b.build_float_sub(t, q, "f")?, k(random::FRAC_PI_2), "a")?;
        let a2 = b.build_float_mul(a, a, "a2")?;
        let (sin_c, cos_c) = random::sin_cos_taylor();
        let c = self.horner(&cos_c, a2)?;
        let s = b.build_float_mul(a, self.horner(&sin_c, a2)?, "sin")?;
        let is = |v: f64| b.build_float_compare(FloatPredicate::OEQ, q, k(v), "q.is");
        let v = b.build_select(is(2.0)?, b.build_float_neg(c, "-c")?, s, "c23")?.into_float_value();
        let v = b.build_select(is(1.0)?, b.build_float_neg(s, "-s")?, v, "c123")?.into_float_value();
        let cos = b.build_select(is(0.0)?, c, v, "cos")?.into_float_value();
        b.build_float_mul(r, cos, "normal")
    }
}
