//! Lowering of complex numbers: a value is an LLVM struct `{ T, T }` (real part, imaginary
//! part), in registers as in memory, where its layout is `num_complex::Complex<T>`'s
//! (`#[repr(C)]`, aligned as `T`).
//!
//! Every operation is num-complex 0.4's formula, with its special cases as selects, built from
//! the same component operations as real arithmetic and math methods (so `fastmath` reaches
//! them too): the CPU backend, the GPU and host Rust agree to the rounding of those.

use super::{value_type, Lower, LR};
use crate::ast::BinOp;
use crate::complex::ComplexFn;
use crate::math::MathFn;
use crate::types::ScalarType;
use inkwell::values::{BasicValueEnum, FloatValue, IntValue};
use inkwell::FloatPredicate;

type F<'ctx> = FloatValue<'ctx>;

impl<'a, 'ctx> Lower<'a, 'ctx> {
    /// The real and imaginary parts of complex value `z`.
    fn parts(&self, z: BasicValueEnum<'ctx>) -> LR<(F<'ctx>, F<'ctx>)> {
        let z = z.into_struct_value();
        let re = self.b.build_extract_value(z, 0, "re")?.into_float_value();
        let im = self.b.build_extract_value(z, 1, "im")?.into_float_value();
        Ok((re, im))
    }

    /// The complex value of type `t` with parts `re` and `im`.
    pub(super) fn complex(&self, t: ScalarType, re: F<'ctx>, im: F<'ctx>) -> LR<BasicValueEnum<'ctx>> {
        let ty = value_type(self.cx, t).into_struct_type();
        let z = self.b.build_insert_value(ty.get_undef(), re, 0, "z")?;
        let z = self.b.build_insert_value(z, im, 1, "z")?;
        Ok(z.into_struct_value().into())
    }

    /// Field `i` of a complex value.
    pub(super) fn complex_field(&self, z: BasicValueEnum<'ctx>, i: u32) -> LR<BasicValueEnum<'ctx>> {
        self.b.build_extract_value(z.into_struct_value(), i, "field")
    }

    /// `a op b` on parts of type `part`, as real arithmetic lowers it.
    fn op(&self, op: BinOp, a: F<'ctx>, b: F<'ctx>, part: ScalarType) -> LR<F<'ctx>> {
        Ok(self.fast_only(self.binary(op, a.into(), b.into(), part, part)?).into_float_value())
    }

    /// A real math method on parts.
    fn real(&self, f: MathFn, part: ScalarType, args: &[F<'ctx>]) -> LR<F<'ctx>> {
        let args: Vec<BasicValueEnum<'ctx>> = args.iter().map(|a| (*a).into()).collect();
        Ok(self.fast(self.math(f, part, &args)?).into_float_value())
    }

    fn cmp(&self, p: FloatPredicate, a: F<'ctx>, b: F<'ctx>) -> LR<IntValue<'ctx>> {
        self.b.build_float_compare(p, a, b, "cmp")
    }

    fn pick(&self, c: IntValue<'ctx>, a: F<'ctx>, b: F<'ctx>) -> LR<F<'ctx>> {
        Ok(self.b.build_select(c, a, b, "pick")?.into_float_value())
    }

    fn constant(&self, part: ScalarType, v: f64) -> F<'ctx> {
        value_type(self.cx, part).into_float_type().const_float(v)
    }

    /// `re * re + im * im`.
    fn norm_sqr(&self, re: F<'ctx>, im: F<'ctx>, part: ScalarType) -> LR<F<'ctx>> {
        let (rr, ii) = (self.op(BinOp::Mul, re, re, part)?, self.op(BinOp::Mul, im, im, part)?);
        self.op(BinOp::Add, rr, ii, part)
    }

    /// `Complex::from_polar(r, theta)`: `(r * cos θ, r * sin θ)`.
    fn polar(&self, t: ScalarType, r: F<'ctx>, theta: F<'ctx>) -> LR<BasicValueEnum<'ctx>> {
        let part = t.component().unwrap_or(t);
        let (c, s) = (self.real(MathFn::Cos, part, &[theta])?, self.real(MathFn::Sin, part, &[theta])?);
        self.complex(t, self.op(BinOp::Mul, r, c, part)?, self.op(BinOp::Mul, r, s, part)?)
    }

    /// `(norm, arg)`: `(hypot(re, im), atan2(im, re))`.
    fn to_polar(&self, re: F<'ctx>, im: F<'ctx>, part: ScalarType) -> LR<(F<'ctx>, F<'ctx>)> {
        Ok((self.real(MathFn::Hypot, part, &[re, im])?, self.real(MathFn::Atan2, part, &[im, re])?))
    }

    /// Unary minus: both parts negated.
    pub(super) fn complex_neg(&self, t: ScalarType, z: BasicValueEnum<'ctx>) -> LR<BasicValueEnum<'ctx>> {
        let (re, im) = self.parts(z)?;
        let neg = |x: F<'ctx>| -> LR<F<'ctx>> { Ok(self.fast(self.b.build_float_neg(x, "neg")?.into()).into_float_value()) };
        self.complex(t, neg(re)?, neg(im)?)
    }

    /// `x op y` where an operand (of types `xt`, `yt`) is complex: num-complex's operators on
    /// two complex numbers, a complex and a real, and a real and a complex.
    pub(super) fn complex_binary(
        &self,
        op: BinOp,
        x: BasicValueEnum<'ctx>,
        y: BasicValueEnum<'ctx>,
        xt: ScalarType,
        yt: ScalarType,
    ) -> LR<BasicValueEnum<'ctx>> {
        let t = if xt.is_complex() { xt } else { yt };
        let part = t.component().unwrap_or(t);
        let f = |op, a, b| self.op(op, a, b, part);
        let zero = self.constant(part, 0.0);
        match (xt.is_complex(), yt.is_complex()) {
            (true, true) => {
                let ((a, b), (c, d)) = (self.parts(x)?, self.parts(y)?);
                match op {
                    BinOp::Add => self.complex(t, f(BinOp::Add, a, c)?, f(BinOp::Add, b, d)?),
                    BinOp::Sub => self.complex(t, f(BinOp::Sub, a, c)?, f(BinOp::Sub, b, d)?),
                    BinOp::Mul => {
                        let re = f(BinOp::Sub, f(BinOp::Mul, a, c)?, f(BinOp::Mul, b, d)?)?;
                        let im = f(BinOp::Add, f(BinOp::Mul, a, d)?, f(BinOp::Mul, b, c)?)?;
                        self.complex(t, re, im)
                    }
                    BinOp::Div => {
                        let n = self.norm_sqr(c, d, part)?;
                        let re = f(BinOp::Add, f(BinOp::Mul, a, c)?, f(BinOp::Mul, b, d)?)?;
                        let im = f(BinOp::Sub, f(BinOp::Mul, b, c)?, f(BinOp::Mul, a, d)?)?;
                        self.complex(t, f(BinOp::Div, re, n)?, f(BinOp::Div, im, n)?)
                    }
                    // The derived `PartialEq`: `ne` is `!eq`.
                    BinOp::Eq => {
                        let both = self.b.build_and(self.cmp(FloatPredicate::OEQ, a, c)?, self.cmp(FloatPredicate::OEQ, b, d)?, "eq")?;
                        Ok(both.into())
                    }
                    _ => {
                        let either = self.b.build_or(self.cmp(FloatPredicate::UNE, a, c)?, self.cmp(FloatPredicate::UNE, b, d)?, "ne")?;
                        Ok(either.into())
                    }
                }
            }
            (true, false) => {
                let ((a, b), r) = (self.parts(x)?, y.into_float_value());
                match op {
                    BinOp::Add => self.complex(t, f(BinOp::Add, a, r)?, b),
                    BinOp::Sub => self.complex(t, f(BinOp::Sub, a, r)?, b),
                    _ => self.complex(t, f(op, a, r)?, f(op, b, r)?),
                }
            }
            _ => {
                let (r, (c, d)) = (x.into_float_value(), self.parts(y)?);
                match op {
                    BinOp::Add => self.complex(t, f(BinOp::Add, r, c)?, d),
                    BinOp::Sub => self.complex(t, f(BinOp::Sub, r, c)?, f(BinOp::Sub, zero, d)?),
                    BinOp::Mul => self.complex(t, f(BinOp::Mul, r, c)?, f(BinOp::Mul, r, d)?),
                    _ => {
                        let n = self.norm_sqr(c, d, part)?;
                        let re = f(BinOp::Div, f(BinOp::Mul, r, c)?, n)?;
                        let im = f(BinOp::Sub, zero, f(BinOp::Div, f(BinOp::Mul, r, d)?, n)?)?;
                        self.complex(t, re, im)
                    }
                }
            }
        }
    }

    /// A complex function or method; `t` is the complex type it works on (the receiver's, or
    /// the result's for `Complex::new` and the other associated functions).
    pub(super) fn complex_fn(&self, f: ComplexFn, t: ScalarType, args: &[BasicValueEnum<'ctx>]) -> LR<BasicValueEnum<'ctx>> {
        let part = t.component().unwrap_or(t);
        let op = |o, a, b| self.op(o, a, b, part);
        let real = |g, a: &[F<'ctx>]| self.real(g, part, a);
        let c = |v| self.constant(part, v);
        match f {
            ComplexFn::New => return self.complex(t, args[0].into_float_value(), args[1].into_float_value()),
            ComplexFn::FromPolar => return self.polar(t, args[0].into_float_value(), args[1].into_float_value()),
            ComplexFn::Cis => {
                // `(cos θ, sin θ)`, without multiplications by 1.
                let theta = args[0].into_float_value();
                return self.complex(t, real(MathFn::Cos, &[theta])?, real(MathFn::Sin, &[theta])?);
            }
            _ => {}
        }
        let (re, im) = self.parts(args[0])?;
        let neg = |x: F<'ctx>| -> LR<F<'ctx>> { Ok(self.fast(self.b.build_float_neg(x, "neg")?.into()).into_float_value()) };
        match f {
            ComplexFn::Conj => self.complex(t, re, neg(im)?),
            ComplexFn::Inv => {
                let n = self.norm_sqr(re, im, part)?;
                self.complex(t, op(BinOp::Div, re, n)?, op(BinOp::Div, neg(im)?, n)?)
            }
            ComplexFn::Norm => Ok(real(MathFn::Hypot, &[re, im])?.into()),
            ComplexFn::NormSqr => Ok(self.norm_sqr(re, im, part)?.into()),
            ComplexFn::L1Norm => Ok(op(BinOp::Add, real(MathFn::Abs, &[re])?, real(MathFn::Abs, &[im])?)?.into()),
            ComplexFn::Arg => Ok(real(MathFn::Atan2, &[im, re])?.into()),
            ComplexFn::Ln => {
                let (r, theta) = self.to_polar(re, im, part)?;
                self.complex(t, real(MathFn::Ln, &[r])?, theta)
            }
            ComplexFn::Exp => {
                let e = real(MathFn::Exp, &[re])?;
                let (cos, sin) = (real(MathFn::Cos, &[im])?, real(MathFn::Sin, &[im])?);
                let (mut out_re, mut out_im) = (op(BinOp::Mul, e, cos)?, op(BinOp::Mul, e, sin)?);
                let inf = c(f64::INFINITY);
                let abs = |x| real(MathFn::Abs, &[x]);
                let re_inf = self.cmp(FloatPredicate::OEQ, abs(re)?, inf)?;
                let re_neg = self.cmp(FloatPredicate::OLT, re, c(0.0))?;
                let im_finite = self.cmp(FloatPredicate::OLT, abs(im)?, inf)?;
                let im_inf = self.cmp(FloatPredicate::OEQ, abs(im)?, inf)?;
                let im_zero = self.cmp(FloatPredicate::OEQ, im, c(0.0))?;
                let b = &self.b;
                // re = -inf, im not finite: 0.
                let zero_case = b.build_and(b.build_and(re_inf, re_neg, "")?, b.build_not(im_finite, "")?, "exp.zero")?;
                out_re = self.pick(zero_case, c(0.0), out_re)?;
                out_im = self.pick(zero_case, c(0.0), out_im)?;
                // re = +inf, im zero or not finite: (re, im), an infinite im made NaN.
                let keep = b.build_or(im_zero, b.build_not(im_finite, "")?, "")?;
                let pos_case = b.build_and(b.build_and(re_inf, b.build_not(re_neg, "")?, "")?, keep, "exp.inf")?;
                // re NaN, im zero: the value itself.
                let re_nan = self.cmp(FloatPredicate::UNO, re, re)?;
                let nan_case = b.build_and(re_nan, im_zero, "exp.nan")?;
                let same = b.build_or(pos_case, nan_case, "")?;
                out_re = self.pick(same, re, out_re)?;
                let im_kept = self.pick(b.build_and(pos_case, im_inf, "")?, c(f64::NAN), im)?;
                out_im = self.pick(same, im_kept, out_im)?;
                self.complex(t, out_re, out_im)
            }
            ComplexFn::Sqrt => {
                let positive =
                    |x: F<'ctx>| -> LR<IntValue<'ctx>> { Ok(self.math(MathFn::IsSignPositive, part, &[x.into()])?.into_int_value()) };
                // The general case: from_polar(sqrt(r), θ / 2).
                let (r, theta) = self.to_polar(re, im, part)?;
                let general = self.polar(t, real(MathFn::Sqrt, &[r])?, op(BinOp::Div, theta, c(2.0))?)?;
                let (g_re, g_im) = self.parts(general)?;
                // im = ±0: sqrt(re) with im's sign kept, or ±i sqrt(-re).
                let im_zero = self.cmp(FloatPredicate::OEQ, im, c(0.0))?;
                let (re_pos, im_pos) = (positive(re)?, positive(im)?);
                let root_neg = real(MathFn::Sqrt, &[neg(re)?])?;
                let z_re = self.pick(re_pos, real(MathFn::Sqrt, &[re])?, c(0.0))?;
                let z_im = self.pick(re_pos, im, self.pick(im_pos, root_neg, neg(root_neg)?)?)?;
                // re = ±0 (im not zero): sqrt(|im| / 2) (1 ± i).
                let re_zero = self.cmp(FloatPredicate::OEQ, re, c(0.0))?;
                let x = real(MathFn::Sqrt, &[op(BinOp::Div, real(MathFn::Abs, &[im])?, c(2.0))?])?;
                let i_im = self.pick(im_pos, x, neg(x)?)?;
                let out_re = self.pick(im_zero, z_re, self.pick(re_zero, x, g_re)?)?;
                let out_im = self.pick(im_zero, z_im, self.pick(re_zero, i_im, g_im)?)?;
                self.complex(t, out_re, out_im)
            }
            ComplexFn::Powf => {
                // powf(0) is 1 whatever the receiver; else from_polar(r^e, θ e).
                let e = args[1].into_float_value();
                let (r, theta) = self.to_polar(re, im, part)?;
                let general = self.polar(t, real(MathFn::Powf, &[r, e])?, op(BinOp::Mul, theta, e)?)?;
                let (g_re, g_im) = self.parts(general)?;
                let e_zero = self.cmp(FloatPredicate::OEQ, e, c(0.0))?;
                self.complex(t, self.pick(e_zero, c(1.0), g_re)?, self.pick(e_zero, c(0.0), g_im)?)
            }
            ComplexFn::New | ComplexFn::FromPolar | ComplexFn::Cis => unreachable!("handled above"),
        }
    }
}
