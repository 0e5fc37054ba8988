//! The generator: random, well-typed kernels in the kernel language's source form (the
//! `KernelSource` that `#[gpu_kernel]` builds), with random inputs.
//!
//! Every kernel is race-free and deterministic, so the CPU backend, the GPU and the oracle must
//! agree: each thread writes only its own output elements; atomics are integer and commutative
//! (their old values unused); shared memory is written at the thread's own slot, then read after a
//! barrier; barriers and warp collectives sit at the top level of the body (all threads reach
//! them) in blocks of whole warps. In bounds-check mode some reads run past their array: the load
//! yields 0 and the launch reports `OutOfBounds`.

use super::value::{self, V};
use super::Rng;
use gpujit::codegen::ast::*;
use gpujit::codegen::math::MathFn;
use gpujit::codegen::ScalarType::{self, *};

/// How exactly an output must match the oracle.
#[derive(Copy, Clone, Debug, PartialEq)]
pub enum Tol {
    Exact,
    /// Within this many units in the last place (CPU backend, GPU).
    Ulps(u64, u64),
}

#[derive(Clone, Debug)]
pub struct ArraySpec {
    pub name: String,
    pub elem: ScalarType,
    pub mutable: bool,
    pub data: Vec<V>,
    pub tol: Tol,
}

/// A kernel and everything needed to run it.
#[derive(Clone, Debug)]
pub struct Case {
    pub source: KernelSource,
    /// Device functions the kernel calls (their sources are registered before each compile).
    pub devices: Vec<KernelSource>,
    pub arrays: Vec<ArraySpec>,
    pub scalars: Vec<(String, V)>,
    /// Parameter order: `true` for the next array, `false` for the next scalar.
    pub order: Vec<bool>,
    pub block: u32,
    pub grid: u32,
}

/// The types the fuzzer generates (complex numbers are tested on their own).
const TYPES: [ScalarType; 13] = [Bool, I8, I16, I32, I64, U8, U16, U32, U64, F32, F64, F16, BF16];
const NUMERIC: [ScalarType; 12] = [I8, I16, I32, I64, U8, U16, U32, U64, F32, F64, F16, BF16];
const INTS: [ScalarType; 8] = [I8, I16, I32, I64, U8, U16, U32, U64];
const ATOMIC: [ScalarType; 4] = [I32, U32, I64, U64];

fn sp() -> Span {
    Span::new(1, 0)
}
fn ex(kind: ExprKind) -> SourceExpr {
    SourceExpr::new(kind, sp())
}
pub fn var(n: &str) -> SourceExpr {
    ex(ExprKind::Var(n.to_string()))
}
fn int_lit(x: u128, t: Option<ScalarType>) -> SourceExpr {
    ex(ExprKind::Int(x, t))
}
fn bin(op: BinOp, a: SourceExpr, b: SourceExpr) -> SourceExpr {
    ex(ExprKind::Binary(op, Box::new(a), Box::new(b)))
}
fn index(a: &str, i: SourceExpr) -> SourceExpr {
    ex(ExprKind::Index { array: a.to_string(), index: vec![i] })
}
fn let_(name: &str, t: ScalarType, mutable: bool, init: SourceExpr) -> Stmt {
    Stmt::Let { name: name.to_string(), mutable, ty: Some(TypeRef::Scalar(t)), init: Some(init), span: sp(), id: NodeId::UNSET }
}

/// A random value of `t` for inputs: specials (NaN, infinities, ±0, MIN/MAX, subnormals, shift
/// amounts past the width) often, else random bits.
pub fn random_value(r: &mut Rng, t: ScalarType) -> V {
    let k = r.below(10);
    match t {
        Bool => V::new(Bool, r.below(2)),
        F32 | F64 | F16 | BF16 => {
            let specials =
                [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.0, -0.0, 1.0, -1.0, 0.5, 3.0, 1e-40, 65504.0, 1e30, f64::MAX, -2.5];
            if k < 3 {
                let x = specials[r.below(specials.len() as u64) as usize];
                value::cast(value::v(x), t)
            } else if k < 6 {
                // Small, ordinary values.
                value::cast(value::v((r.below(2001) as f64 - 1000.0) / 64.0), t)
            } else {
                V::new(t, r.next())
            }
        }
        _ => {
            let bits = 8 * t.size_bytes() as u64;
            let specials: [i128; 8] = [0, 1, -1, bits as i128 - 1, bits as i128, bits as i128 + 1, 2, 63];
            if k < 3 {
                V::from_int(t, specials[r.below(8) as usize])
            } else if k < 4 {
                // MIN or MAX.
                let max = if t.is_signed_int() { (1i128 << (bits - 1)) - 1 } else { (1i128 << bits) - 1 };
                V::from_int(
                    t,
                    if r.below(2) == 0 {
                        max
                    } else if t.is_signed_int() {
                        -max - 1
                    } else {
                        0
                    },
                )
            } else if k < 7 {
                V::from_int(t, r.below(200) as i128 - 100)
            } else {
                V::new(t, r.next())
            }
        }
    }
}

struct Scope {
    /// Scalar variables: name, type, mutable.
    vars: Vec<(String, ScalarType, bool)>,
    /// Per-thread arrays: name, element type, length.
    locals: Vec<(String, ScalarType, u64)>,
}

struct DevFn {
    name: String,
    params: Vec<ScalarType>,
    ret: ScalarType,
}

pub struct Gen<'r> {
    r: &'r mut Rng,
    scopes: Vec<Scope>,
    inputs: Vec<(String, ScalarType)>,
    accs: Vec<(String, ScalarType, AtomicOp)>,
    devfns: Vec<DevFn>,
    fresh: u32,
    /// Inside a device function: no arrays, no atomics.
    in_device: bool,
    boundscheck: bool,
    /// The kernel declared the generator `g` (one stream a thread): leaves may draw from it.
    rng: bool,
}

impl<'r> Gen<'r> {
    fn name(&mut self, p: &str) -> String {
        self.fresh += 1;
        format!("{p}{}", self.fresh)
    }

    fn push(&mut self) {
        self.scopes.push(Scope { vars: Vec::new(), locals: Vec::new() });
    }

    fn declare(&mut self, n: &str, t: ScalarType, m: bool) {
        if let Some(s) = self.scopes.last_mut() {
            s.vars.push((n.to_string(), t, m));
        }
    }

    fn vars_of(&self, t: ScalarType, mutable: bool) -> Vec<String> {
        self.scopes.iter().flat_map(|s| &s.vars).filter(|v| v.1 == t && (!mutable || v.2)).map(|v| v.0.clone()).collect()
    }

    fn pick<T: Clone>(&mut self, v: &[T]) -> T {
        v[self.r.below(v.len() as u64) as usize].clone()
    }

    fn literal(&mut self, t: ScalarType) -> SourceExpr {
        // Now and then an associated constant of the type (`u16::MAX`, `f32::EPSILON`, ...).
        if self.r.below(8) == 0 {
            let consts: Vec<TypeConst> = TypeConst::ALL.iter().copied().filter(|c| c.ty(t) == t && c.value(t).is_some()).collect();
            if !consts.is_empty() {
                return ex(ExprKind::TypeConst(TypeRef::Scalar(t), self.pick(&consts)));
            }
        }
        match t {
            Bool => ex(ExprKind::Bool(self.r.below(2) == 1)),
            F32 | F64 => {
                let vals = [0.0, 1.0, 2.0, 0.5, 3.25, 1e10, 1e-3, 100.0, 0.1];
                let x = self.pick(&vals);
                let x = if t == F32 { x as f32 as f64 } else { x };
                let e = ex(ExprKind::Float(x, Some(t)));
                if self.r.below(3) == 0 {
                    ex(ExprKind::Unary(UnOp::Neg, Box::new(e)))
                } else {
                    e
                }
            }
            F16 | BF16 => {
                // f16::from_f32(x) / bf16::from_f64(x), as the macro builds them.
                let w = if self.r.below(2) == 0 { F32 } else { F64 };
                let inner = self.literal(w);
                ex(ExprKind::Cast(Box::new(ex(ExprKind::Cast(Box::new(inner), TypeRef::Scalar(w)))), TypeRef::Scalar(t)))
            }
            _ => {
                let bits = 8 * t.size_bytes() as u32;
                let choices: [u128; 9] = [0, 1, 2, 7, bits as u128 - 1, bits as u128, bits as u128 + 3, 100, (1u128 << (bits - 1)) - 1];
                let x = self.pick(&choices);
                let e = int_lit(x, Some(t));
                if t.is_signed_int() && self.r.below(4) == 0 {
                    ex(ExprKind::Unary(UnOp::Neg, Box::new(e)))
                } else {
                    e
                }
            }
        }
    }

    /// The lowest finite value of the float type `t`.
    fn lowest(&mut self, t: ScalarType) -> SourceExpr {
        let v = match t {
            F16 => -65504.0,
            BF16 => -3.3895313892515355e38,
            F32 => f32::MIN as f64,
            _ => f64::MIN,
        };
        let lit = |x: f64, w: ScalarType| ex(ExprKind::Unary(UnOp::Neg, Box::new(ex(ExprKind::Float(-x, Some(w))))));
        match t {
            F16 | BF16 => ex(ExprKind::Cast(Box::new(ex(ExprKind::Cast(Box::new(lit(v, F32)), TypeRef::Scalar(F32)))), TypeRef::Scalar(t))),
            _ => lit(v, t),
        }
    }

    /// `0.0` of the float type `t`.
    fn zero(&mut self, t: ScalarType) -> SourceExpr {
        match t {
            F16 | BF16 => ex(ExprKind::Cast(
                Box::new(ex(ExprKind::Cast(Box::new(ex(ExprKind::Float(0.0, Some(F32)))), TypeRef::Scalar(F32)))),
                TypeRef::Scalar(t),
            )),
            _ => ex(ExprKind::Float(0.0, Some(t))),
        }
    }

    /// An index into an input array: the thread's `j`, or (bounds-check mode) past it.
    fn input_index(&mut self) -> SourceExpr {
        if self.boundscheck && self.r.below(3) == 0 {
            bin(BinOp::Add, var("j"), int_lit(1 + self.r.below(3) as u128, None))
        } else {
            var("j")
        }
    }

    fn leaf(&mut self, t: ScalarType) -> SourceExpr {
        let vars = self.vars_of(t, false);
        let inputs: Vec<String> =
            if self.in_device { Vec::new() } else { self.inputs.iter().filter(|a| a.1 == t).map(|a| a.0.clone()).collect() };
        let locals: Vec<(String, u64)> =
            self.scopes.iter().flat_map(|s| &s.locals).filter(|l| l.1 == t).map(|l| (l.0.clone(), l.2)).collect();
        match self.r.below(8) {
            0..=2 if !vars.is_empty() => var(&self.pick(&vars)),
            3..=5 if !inputs.is_empty() => {
                let a = self.pick(&inputs);
                let i = self.input_index();
                index(&a, i)
            }
            6 if !locals.is_empty() => {
                let (l, len) = self.pick(&locals);
                let i = self.expr(U64, 1);
                index(&l, bin(BinOp::Rem, i, int_lit(len as u128, None)))
            }
            7 if self.rng && !self.in_device && matches!(t, U32 | U64 | F32 | F64) => {
                let draws: Vec<gpujit::codegen::random::Draw> =
                    gpujit::codegen::random::Draw::ALL.iter().copied().filter(|d| d.ty() == t).collect();
                let d = self.pick(&draws);
                ex(ExprKind::Random(d, "g".into()))
            }
            _ => self.literal(t),
        }
    }

    /// Whether the language (and Rust) allow `from as to`, in the forms the macro produces.
    fn cast_ok(from: ScalarType, to: ScalarType) -> bool {
        if from == to || to == Bool {
            return false;
        }
        if from.is_half() || to.is_half() {
            let other = if from.is_half() { to } else { from };
            return matches!(other, F32 | F64);
        }
        from != Bool || to.is_int()
    }

    /// An expression of type `t`, at most `d` levels deep; only exact operations.
    pub fn expr(&mut self, t: ScalarType, d: u32) -> SourceExpr {
        if d == 0 || self.r.below(4) == 0 {
            return self.leaf(t);
        }
        let d = d - 1;
        let float = t.is_float();
        match self.r.below(10) {
            // Comparisons and logic make booleans.
            _ if t == Bool => match self.r.below(5) {
                0 | 1 => {
                    let u = self.pick(&TYPES);
                    let ops = if u == Bool {
                        vec![BinOp::Eq, BinOp::Ne]
                    } else {
                        vec![BinOp::Eq, BinOp::Ne, BinOp::Lt, BinOp::Le, BinOp::Gt, BinOp::Ge]
                    };
                    let op = self.pick(&ops);
                    bin(op, self.expr(u, d), self.expr(u, d))
                }
                2 => {
                    let op = self.pick(&[BinOp::And, BinOp::Or, BinOp::BitAnd, BinOp::BitOr, BinOp::BitXor]);
                    bin(op, self.expr(Bool, d), self.expr(Bool, d))
                }
                3 => ex(ExprKind::Unary(UnOp::Not, Box::new(self.expr(Bool, d)))),
                4 => self.bool_method(d),
                _ => self.leaf(Bool),
            },
            0..=2 => {
                let mut ops = vec![BinOp::Add, BinOp::Sub, BinOp::Mul, BinOp::Div, BinOp::Rem];
                if !float {
                    ops.extend([BinOp::BitAnd, BinOp::BitOr, BinOp::BitXor, BinOp::Shl, BinOp::Shr]);
                }
                let op = self.pick(&ops);
                if op.is_shift() {
                    let s = self.pick(&INTS);
                    bin(op, self.expr(t, d), self.expr(s, d))
                } else {
                    bin(op, self.expr(t, d), self.expr(t, d))
                }
            }
            3 if float || t.is_signed_int() => ex(ExprKind::Unary(UnOp::Neg, Box::new(self.expr(t, d)))),
            3 => ex(ExprKind::Unary(UnOp::Not, Box::new(self.expr(t, d)))),
            4 | 5 => {
                let from: Vec<ScalarType> = TYPES.iter().copied().filter(|f| Self::cast_ok(*f, t)).collect();
                let f = self.pick(&from);
                ex(ExprKind::Cast(Box::new(self.expr(f, d)), TypeRef::Scalar(t)))
            }
            6 | 7 if !float && self.r.below(2) == 0 => self.int_method(t, d),
            6 | 7 if float && self.r.below(8) == 0 => {
                // A float from bits: of an integer expression, or of a float's (NaN-free) own.
                let u = t.unsigned().unwrap_or(U32);
                let bits = if self.r.below(2) == 0 { self.expr(u, d) } else { self.bits_of(t, d) };
                ex(ExprKind::FromBits(TypeRef::Scalar(t), Box::new(bits)))
            }
            6 | 7 => {
                use MathFn::*;
                let fns: Vec<MathFn> = if float {
                    vec![
                        Sqrt, Abs, Floor, Ceil, Round, Trunc, Min, Max, MulAdd, Recip, Signum, Copysign, Fract, Clamp, RemEuclid,
                        DivEuclid, ToDegrees, ToRadians,
                    ]
                } else if t.is_signed_int() {
                    vec![Abs, Min, Max, Signum]
                } else {
                    vec![Min, Max]
                };
                let f = self.pick(&fns);
                let mut args: Vec<SourceExpr> = (0..f.arity()).map(|_| self.expr(t, d)).collect();
                if f == MathFn::Copysign {
                    // The sign of a NaN is unspecified (README): `s.max(LOWEST)` is `s` for every
                    // number and LOWEST (negative) for NaN.
                    let s = args.pop().unwrap_or_else(|| self.leaf(t));
                    let lowest = self.lowest(t);
                    args.push(ex(ExprKind::Math(MathFn::Max, vec![s, lowest])));
                }
                let m = ex(ExprKind::Math(f, args));
                if float && matches!(f, MathFn::Min | MathFn::Max) {
                    // Which zero min/max give for +0 and -0 is unspecified (as in Rust): adding
                    // +0 makes either +0.
                    let zero = self.zero(t);
                    bin(BinOp::Add, m, zero)
                } else {
                    m
                }
            }
            8 if !self.in_device => {
                let fns: Vec<usize> = (0..self.devfns.len()).filter(|k| self.devfns[*k].ret == t).collect();
                if fns.is_empty() {
                    return self.leaf(t);
                }
                let k = self.pick(&fns);
                let params = self.devfns[k].params.clone();
                let args = params.iter().map(|p| self.expr(*p, d)).collect();
                ex(ExprKind::Call(self.devfns[k].name.clone(), args))
            }
            _ => self.leaf(t),
        }
    }

    /// `s.max(LOWEST)`: `s` for every number, LOWEST (negative) for NaN, whose sign and payload
    /// are unspecified (README).
    fn nan_free(&mut self, t: ScalarType, d: u32) -> SourceExpr {
        let s = self.expr(t, d);
        let lowest = self.lowest(t);
        ex(ExprKind::Math(MathFn::Max, vec![s, lowest]))
    }

    /// `x.to_bits()` of a NaN-free float expression of type `t`.
    fn bits_of(&mut self, t: ScalarType, d: u32) -> SourceExpr {
        let x = self.nan_free(t, d);
        ex(ExprKind::Math(MathFn::ToBits, vec![x]))
    }

    /// An integer method of result type `t` (an integer type).
    fn int_method(&mut self, t: ScalarType, d: u32) -> SourceExpr {
        use MathFn::*;
        let signed_twin = match t.bits() {
            8 => I8,
            16 => I16,
            32 => I32,
            _ => I64,
        };
        match self.r.below(6) {
            0 if t == U32 => {
                let f = self.pick(&[CountOnes, CountZeros, LeadingZeros, TrailingZeros]);
                let s = self.pick(&INTS);
                return ex(ExprKind::Math(f, vec![self.expr(s, d)]));
            }
            1 if t.is_unsigned_int() => {
                if self.r.below(3) == 0 {
                    return ex(ExprKind::Math(UnsignedAbs, vec![self.expr(signed_twin, d)]));
                }
                let s = if self.r.below(2) == 0 { t } else { signed_twin };
                return ex(ExprKind::Math(AbsDiff, vec![self.expr(s, d), self.expr(s, d)]));
            }
            2 if t.is_unsigned_int() && t != U8 => {
                let floats: Vec<ScalarType> = [F32, F64, F16, BF16].into_iter().filter(|f| f.unsigned() == Some(t)).collect();
                let f = self.pick(&floats);
                return self.bits_of(f, d);
            }
            _ => {}
        }
        let mut fns = vec![
            WrappingAdd,
            WrappingSub,
            WrappingMul,
            WrappingDiv,
            WrappingRem,
            WrappingNeg,
            SaturatingAdd,
            SaturatingSub,
            SaturatingMul,
            SaturatingDiv,
            ReverseBits,
            SwapBytes,
            WrappingDivEuclid,
            WrappingRemEuclid,
            RemEuclid,
            DivEuclid,
            Clamp,
            MulHi,
            RotateLeft,
            RotateRight,
            WrappingShl,
            WrappingShr,
            Pow,
            WrappingPow,
            SaturatingPow,
        ];
        if t.is_signed_int() {
            fns.extend([WrappingAbs, SaturatingNeg, SaturatingAbs]);
        }
        let f = self.pick(&fns);
        let args = f.params().iter().map(|p| self.expr(p.fixed().unwrap_or(t), d)).collect();
        ex(ExprKind::Math(f, args))
    }

    /// A method of bool result: a float's class or sign, or whether integer arithmetic overflows.
    fn bool_method(&mut self, d: u32) -> SourceExpr {
        use MathFn::*;
        if self.r.below(2) == 0 {
            let t = self.pick(&[F32, F64, F16, BF16]);
            let f = self.pick(&[IsNan, IsInfinite, IsFinite, IsNormal, IsSubnormal, IsSignPositive, IsSignNegative]);
            let x = if matches!(f, IsSignPositive | IsSignNegative) { self.nan_free(t, d) } else { self.expr(t, d) };
            return ex(ExprKind::Math(f, vec![x]));
        }
        let t = self.pick(&INTS);
        let mut fns = vec![AddOverflows, SubOverflows, MulOverflows, DivOverflows, NegOverflows, ShiftOverflows, PowOverflows];
        if t.is_signed_int() {
            fns.push(AbsOverflows);
        }
        let f = self.pick(&fns);
        let args = f.params().iter().map(|p| self.expr(p.fixed().unwrap_or(t), d)).collect();
        ex(ExprKind::Math(f, args))
    }

    /// `f(exact expression)` with a math method of inexact result, or an exact expression.
    fn output_expr(&mut self, t: ScalarType) -> (SourceExpr, Tol) {
        if t.is_float() && self.r.below(4) == 0 {
            use MathFn::*;
            let f = self.pick(&[
                Exp, Exp2, Ln, Log2, Log10, Powf, Powi, Sin, Cos, Tan, Asin, Acos, Atan, Atan2, Sinh, Cosh, Tanh, Hypot, Cbrt, Erf, Erfc,
                ExpM1, Ln1p,
            ]);
            let mut args = vec![self.expr(t, 3)];
            if f == Powi {
                // Repeated multiplication: the error grows with the exponent, kept small.
                let n = self.r.below(13) as i128 - 6;
                let lit = int_lit(n.unsigned_abs(), Some(I32));
                args.push(if n < 0 { ex(ExprKind::Unary(UnOp::Neg, Box::new(lit))) } else { lit });
                let tol = if t.is_half() { Tol::Ulps(1, 1) } else { Tol::Ulps(16, 16) };
                return (ex(ExprKind::Math(f, args)), tol);
            } else {
                for _ in 1..f.arity() {
                    args.push(self.expr(t, 3));
                }
            }
            // The host's libm against Rust's (the same library, but erf differs) and libdevice's
            // documented bounds, in the result's own type (16-bit results: one unit).
            let tol = if t.is_half() { Tol::Ulps(1, 1) } else { Tol::Ulps(4, 4) };
            return (ex(ExprKind::Math(f, args)), tol);
        }
        (self.expr(t, 4), Tol::Exact)
    }

    fn block(&mut self, depth: u32, n: u32) -> Block {
        self.push();
        let mut stmts = Vec::new();
        for _ in 0..n {
            self.stmt(depth, &mut stmts);
        }
        self.scopes.pop();
        Block { stmts }
    }

    /// One or a few statements (in divergent code: no barriers or collectives).
    fn stmt(&mut self, depth: u32, out: &mut Vec<Stmt>) {
        let t = self.pick(&TYPES);
        match self.r.below(12) {
            0..=3 => {
                let n = self.name("v");
                let e = self.expr(t, 3);
                out.push(let_(&n, t, true, e));
                self.declare(&n, t, true);
            }
            4 | 5 => {
                let vars = self.vars_of(t, true);
                if vars.is_empty() {
                    return;
                }
                let v = self.pick(&vars);
                let op = match t {
                    Bool => self.pick(&[None, Some(BinOp::BitAnd), Some(BinOp::BitOr), Some(BinOp::BitXor)]),
                    t if t.is_float() => self.pick(&[None, Some(BinOp::Add), Some(BinOp::Mul), Some(BinOp::Sub)]),
                    _ => self.pick(&[None, Some(BinOp::Add), Some(BinOp::Mul), Some(BinOp::BitXor), Some(BinOp::Shl), Some(BinOp::Rem)]),
                };
                let value = if op == Some(BinOp::Shl) { self.expr(U32, 2) } else { self.expr(t, 3) };
                out.push(Stmt::Assign { place: Place::Var(v, sp()), op, value, span: sp(), id: NodeId::UNSET });
            }
            6 if depth > 0 => {
                let cond = self.expr(Bool, 3);
                let n = 1 + self.r.below(3) as u32;
                let then = self.block(depth - 1, n);
                let n = 1 + self.r.below(2) as u32;
                let otherwise = if self.r.below(2) == 0 { Some(self.block(depth - 1, n)) } else { None };
                out.push(Stmt::If { cond, then, otherwise, span: sp() });
            }
            7 if depth > 0 => self.counted_loop(depth, out),
            8 if !self.in_device && !self.accs.is_empty() => {
                // One operation per array, so the order of the threads' updates does not matter.
                let (a, at, op) = self.pick(&self.accs.clone());
                // Each thread's element, or one for the block (which the CPU backend's lockstep
                // form makes one atomic a block: `lower::lockstep::combined_atomics`).
                let at_i = match self.r.below(3) {
                    0 => ex(ExprKind::Builtin(Builtin::BlockIdx(Dim::X), vec![])),
                    _ => var("i"),
                };
                let i = bin(BinOp::Rem, at_i, ex(ExprKind::Len(a.clone())));
                let value = self.expr(at, 2);
                out.push(Stmt::Eval(ex(ExprKind::Atomic { op, array: a, operands: vec![i, value] })));
            }
            9 if depth > 0 && !self.in_device => {
                // A per-thread array, filled, then read through an index.
                let (l, len) = (self.name("l"), 1 + self.r.below(6));
                let t = self.pick(&NUMERIC);
                out.push(Stmt::Local { name: l.clone(), elem: TypeRef::Scalar(t), len: SourceExpr::int(len), span: sp() });
                let q = self.name("q");
                self.push();
                self.declare(&q, U64, false);
                let value = self.expr(t, 2);
                self.scopes.pop();
                let body = Block {
                    stmts: vec![Stmt::Assign {
                        place: Place::Index { array: l.clone(), index: vec![var(&q)], span: sp() },
                        op: None,
                        value,
                        span: sp(),
                        id: NodeId::UNSET,
                    }],
                };
                let range = RangeLoop {
                    start: int_lit(0, None),
                    end: int_lit(len as u128, None),
                    inclusive: false,
                    step: None,
                    reverse: false,
                    unroll: None,
                };
                out.push(Stmt::For { var: q, range, body, label: None, span: sp(), id: NodeId::UNSET });
                if let Some(s) = self.scopes.last_mut() {
                    s.locals.push((l, t, len));
                }
            }
            _ => {
                let n = self.name("c");
                let e = self.expr(t, 2);
                out.push(let_(&n, t, false, e));
                self.declare(&n, t, false);
            }
        }
    }

    /// A `for`, `while` or `loop` that ends: `break`s and `continue`s under random conditions.
    fn counted_loop(&mut self, depth: u32, out: &mut Vec<Stmt>) {
        let label = self.name("lp");
        let kind = self.r.below(3);
        let n = 1 + self.r.below(5) as u128;
        let m = 1 + self.r.below(3) as u32;
        // A `for` counter is visible in its body.
        let (k, kt) = (self.name("k"), self.pick(&[U32, I32, U64, I8]));
        self.push();
        if kind == 0 {
            self.declare(&k, kt, false);
        }
        let mut body = self.block(depth - 1, m);
        self.scopes.pop();
        // A conditional break or continue.
        if self.r.below(2) == 0 {
            let cond = self.expr(Bool, 2);
            let jump =
                if self.r.below(2) == 0 { Stmt::Break(Some(label.clone()), sp()) } else { Stmt::Continue(Some(label.clone()), sp()) };
            let at = self.r.below(body.stmts.len() as u64 + 1) as usize;
            body.stmts.insert(at, Stmt::If { cond, then: Block { stmts: vec![jump] }, otherwise: None, span: sp() });
        }
        match kind {
            0 => {
                let t = kt;
                let (a, b) = if self.r.below(2) == 0 { (0, n) } else { (n, 0) };
                let range = RangeLoop {
                    start: int_lit(a, Some(t)),
                    end: int_lit(b, Some(t)),
                    inclusive: self.r.below(2) == 0,
                    step: if self.r.below(3) == 0 { Some(int_lit(self.r.below(3) as u128, None)) } else { None },
                    reverse: self.r.below(3) == 0,
                    // Unroll hints: fully, by a factor, or the compiler's choice.
                    unroll: match self.r.below(4) {
                        0 => Some(0),
                        1 => Some(1 + self.r.below(4) as u32),
                        _ => None,
                    },
                };
                out.push(Stmt::For { var: k, range, body, label: Some(label), span: sp(), id: NodeId::UNSET });
            }
            _ => {
                // while c < n { c += 1; body }  /  loop { c += 1; if c > n { break } body }
                let c = self.name("w");
                out.push(let_(&c, U32, true, int_lit(0, Some(U32))));
                let inc = Stmt::Assign {
                    place: Place::Var(c.clone(), sp()),
                    op: Some(BinOp::Add),
                    value: int_lit(1, Some(U32)),
                    span: sp(),
                    id: NodeId::UNSET,
                };
                body.stmts.insert(0, inc);
                let cond = if kind == 1 {
                    bin(BinOp::Lt, var(&c), int_lit(n, Some(U32)))
                } else {
                    let stop = Stmt::If {
                        cond: bin(BinOp::Gt, var(&c), int_lit(n, Some(U32))),
                        then: Block { stmts: vec![Stmt::Break(Some(label.clone()), sp())] },
                        otherwise: None,
                        span: sp(),
                    };
                    body.stmts.insert(1, stop);
                    ex(ExprKind::Bool(true))
                };
                out.push(Stmt::While { cond, body, label: Some(label), span: sp() });
            }
        }
    }

    fn device_fn(&mut self, k: usize, seed: u64) -> KernelSource {
        let name = format!("fz{seed:x}_d{k}");
        let np = 1 + self.r.below(3) as usize;
        let params: Vec<ScalarType> = (0..np).map(|_| self.pick(&TYPES)).collect();
        let ret = self.pick(&NUMERIC);
        self.in_device = true;
        self.push();
        let ps: Vec<Param> = params
            .iter()
            .enumerate()
            .map(|(i, t)| Param { name: format!("p{i}"), kind: ParamKind::Scalar(TypeRef::Scalar(*t)), span: sp() })
            .collect();
        for (i, t) in params.iter().enumerate() {
            self.declare(&format!("p{i}"), *t, false);
        }
        let mut stmts = Vec::new();
        for _ in 0..1 + self.r.below(4) {
            self.stmt(2, &mut stmts);
        }
        if self.r.below(3) == 0 {
            let cond = self.expr(Bool, 2);
            let early = self.expr(ret, 2);
            stmts.push(Stmt::If { cond, then: Block { stmts: vec![Stmt::Return(Some(early), sp())] }, otherwise: None, span: sp() });
        }
        let tail = self.expr(ret, 3);
        stmts.push(Stmt::Return(Some(tail), sp()));
        self.scopes.pop();
        self.in_device = false;
        self.devfns.push(DevFn { name: name.clone(), params: params.clone(), ret });
        KernelSource {
            name,
            generics: Vec::new(),
            params: ps,
            body: Block { stmts },
            span: sp(),
            options: KernelOptions::default(),
            ret: Some(TypeRef::Scalar(ret)),
            callees: Vec::new(),
            device: true,
            file: String::new(),
        }
    }
}

/// A random kernel and its inputs, from `seed`.
pub fn generate(seed: u64) -> Case {
    let mut r = Rng::new(seed);
    let boundscheck = r.below(5) == 0;
    let collectives = r.below(3) == 0;
    let shared = r.below(3) == 0;
    let whole_warps = collectives || shared || r.below(2) == 0;
    let block = if whole_warps { 32 * (1 + r.below(4) as u32) } else { [1, 7, 50, 100, 129][r.below(5) as usize] };
    let grid = 1 + r.below(3) as u32;
    let threads = (block * grid) as u64;
    let len = 1 + r.below(threads + 3);
    let n_out = if r.below(8) == 0 { 0 } else { r.below(threads + 4) };

    let mut g = Gen {
        r: &mut r,
        scopes: Vec::new(),
        inputs: Vec::new(),
        accs: Vec::new(),
        devfns: Vec::new(),
        fresh: 0,
        in_device: false,
        boundscheck,
        rng: false,
    };
    let mut arrays = Vec::new();
    let mut scalars = Vec::new();
    let mut order = Vec::new();
    let mut params = Vec::new();
    for k in 0..1 + g.r.below(4) {
        let t = if k == 0 { g.pick(&NUMERIC) } else { g.pick(&TYPES) };
        let name = format!("x{k}");
        let data = (0..len).map(|_| random_value(g.r, t)).collect();
        params.push(Param { name: name.clone(), kind: ParamKind::Slice { elem: TypeRef::Scalar(t), mutable: false, ndim: 1 }, span: sp() });
        arrays.push(ArraySpec { name: name.clone(), elem: t, mutable: false, data, tol: Tol::Exact });
        order.push(true);
        g.inputs.push((name, t));
    }
    for k in 0..g.r.below(3) {
        let t = g.pick(&TYPES);
        let name = format!("s{k}");
        params.push(Param { name: name.clone(), kind: ParamKind::Scalar(TypeRef::Scalar(t)), span: sp() });
        scalars.push((name, random_value(g.r, t)));
        order.push(false);
    }
    if g.r.below(3) == 0 {
        let t = g.pick(&ATOMIC);
        let m = 1 + g.r.below(3);
        params.push(Param { name: "acc".into(), kind: ParamKind::Slice { elem: TypeRef::Scalar(t), mutable: true, ndim: 1 }, span: sp() });
        let data = (0..m).map(|_| random_value(g.r, t)).collect();
        arrays.push(ArraySpec { name: "acc".into(), elem: t, mutable: true, data, tol: Tol::Exact });
        order.push(true);
        let op = g.pick(&[AtomicOp::Add, AtomicOp::Sub, AtomicOp::And, AtomicOp::Or, AtomicOp::Xor, AtomicOp::Min, AtomicOp::Max]);
        g.accs.push(("acc".into(), t, op));
    }
    let devices: Vec<KernelSource> = (0..g.r.below(3) as usize).map(|k| g.device_fn(k, seed)).collect();

    g.push();
    for (n, v) in &scalars {
        g.declare(n, v.t, false);
    }
    // Half the kernels without collectives or shared memory (even seeds, so that no draw
    // changes) read no thread index: `t` is `i % block` (the same value on a 1-D launch), and
    // half of those run their body in a grid-stride loop over the outputs. The CPU backend runs
    // many of them flat (`gpujit_codegen::lower::flat`).
    let flat_shaped = !collectives && !shared && seed % 2 == 0;
    let strided = flat_shaped && (seed / 2) % 2 == 0;
    let t_value = if flat_shaped {
        bin(BinOp::Rem, var("i"), int_lit(block as u128, Some(U64)))
    } else {
        ex(ExprKind::Builtin(Builtin::ThreadIdx(Dim::X), vec![]))
    };
    let mut body = vec![
        let_("i", U64, strided, ex(ExprKind::Builtin(Builtin::Grid(Dim::X), vec![int_lit(1, None)]))),
        let_("t", U64, false, t_value),
        let_("j", U64, false, bin(BinOp::Rem, var("i"), ex(ExprKind::Len("x0".into())))),
    ];
    g.declare("i", U64, false);
    g.declare("t", U64, false);
    g.declare("j", U64, false);
    // Flat-shaped kernels with bounds checks read an integer input in a loop at an index
    // affine in the element's, `x[i * S + q]` for `q` in `0..E` (S and E constants or an
    // input's length): the CPU backend proves a chunk's reads in bounds from the launch's
    // values, or runs the checked loop, which reports the first read past the end. (Drawn from a
    // stream of its own, so that the other draws of a seed stay as they were.)
    let window = if flat_shaped && boundscheck { affine_window(&mut Rng::new(seed ^ 0x05EE_D0FA_11E0), &g.inputs) } else { None };
    if let Some((stmts, _, _)) = &window {
        body.extend(stmts.iter().cloned());
    }
    if g.r.below(3) == 0 {
        // `let mut g = Philox::new(SEED, i as u64);`, as the macro declares it: three hidden
        // u64 locals, the generator's state (not offered to the generator as variables).
        let [seed, sub, drawn] = gpujit::codegen::random::state_locals("g");
        let seed_value = g.r.next();
        body.push(let_(&seed, U64, false, int_lit(seed_value as u128, Some(U64))));
        body.push(let_(&sub, U64, false, var("i")));
        body.push(let_(&drawn, U64, true, int_lit(0, Some(U64))));
        g.rng = true;
    }
    for _ in 0..1 + g.r.below(5) {
        g.stmt(2, &mut body);
    }
    if collectives {
        for _ in 0..1 + g.r.below(3) {
            collective(&mut g, &mut body);
        }
    }
    if shared {
        let t = g.pick(&TYPES);
        let (s, r) = (g.name("sh"), g.name("r"));
        body.push(Stmt::Shared { name: s.clone(), elem: TypeRef::Scalar(t), dims: vec![SourceExpr::int(block as u64)], span: sp() });
        let value = g.expr(t, 3);
        body.push(Stmt::Assign {
            place: Place::Index { array: s.clone(), index: vec![var("t")], span: sp() },
            op: None,
            value,
            span: sp(),
            id: NodeId::UNSET,
        });
        body.push(Stmt::Barrier(sp()));
        let k = int_lit(g.r.below(block as u64 * 2) as u128, None);
        let at = bin(BinOp::Rem, bin(BinOp::Add, var("t"), k), int_lit(block as u128, None));
        body.push(let_(&r, t, false, index(&s, at)));
        g.declare(&r, t, false);
    }
    for _ in 0..g.r.below(3) {
        g.stmt(2, &mut body);
    }
    // The outputs: each thread writes its own element.
    for k in 0..1 + g.r.below(3) {
        let t = g.pick(&TYPES);
        let name = format!("out{k}");
        let (mut e, tol) = g.output_expr(t);
        // The window's value into the first output (integers: exactly).
        if let (0, Some((_, wv, wt))) = (k, &window) {
            if t.is_int() && (t == *wt || Gen::cast_ok(*wt, t)) {
                let v = if t == *wt { var(wv) } else { ex(ExprKind::Cast(Box::new(var(wv)), TypeRef::Scalar(t))) };
                e = bin(BinOp::BitXor, e, v);
            }
        }
        params.push(Param { name: name.clone(), kind: ParamKind::Slice { elem: TypeRef::Scalar(t), mutable: true, ndim: 1 }, span: sp() });
        arrays.push(ArraySpec { name: name.clone(), elem: t, mutable: true, data: vec![V::new(t, 0); n_out as usize], tol });
        order.push(true);
        let write = Stmt::Assign {
            place: Place::Index { array: name.clone(), index: vec![var("i")], span: sp() },
            op: None,
            value: e,
            span: sp(),
            id: NodeId::UNSET,
        };
        body.push(Stmt::If {
            cond: bin(BinOp::Lt, var("i"), ex(ExprKind::Len(name))),
            then: Block { stmts: vec![write] },
            otherwise: None,
            span: sp(),
        });
    }
    if strided {
        // `while i < n_out { ..; i += grid_size(1); }`
        let mut each: Vec<Stmt> = body.split_off(1);
        each.push(Stmt::Assign {
            place: Place::Var("i".into(), sp()),
            op: Some(BinOp::Add),
            value: ex(ExprKind::Builtin(Builtin::GridSize(Dim::X), vec![int_lit(1, None)])),
            span: sp(),
            id: NodeId::UNSET,
        });
        let cond = bin(BinOp::Lt, var("i"), int_lit(n_out as u128, Some(U64)));
        body.push(Stmt::While { cond, body: Block { stmts: each }, label: None, span: sp() });
    }
    g.scopes.pop();
    let callees = Vec::new(); // filled in by the runner (static slots)
    let source = KernelSource {
        name: format!("fz{seed:x}"),
        generics: Vec::new(),
        params,
        body: Block { stmts: body },
        span: sp(),
        // Both float modes: multiplies and adds may fuse (the default), or keep Rust's roundings.
        options: KernelOptions { boundscheck, no_contract: g.r.below(2) == 0, ..KernelOptions::default() },
        ret: None,
        callees,
        device: false,
        file: String::new(),
    };
    Case { source, devices, arrays, scalars, order, block, grid }
}

/// `let mut wv = x[j]; for q in 0..E { wv ^= x[i * S + q]; }` over an integer input `x` (see
/// `generate`): the statements, the value's name and its type.
fn affine_window(r: &mut Rng, inputs: &[(String, ScalarType)]) -> Option<(Vec<Stmt>, String, ScalarType)> {
    let ints: Vec<&(String, ScalarType)> = inputs.iter().filter(|a| a.1.is_int()).collect();
    if ints.is_empty() {
        return None;
    }
    let (x, t) = ints[r.below(ints.len() as u64) as usize].clone();
    let len = |r: &mut Rng| ex(ExprKind::Len(inputs[r.below(inputs.len() as u64) as usize].0.clone()));
    let end = if r.below(2) == 0 { int_lit(r.below(4) as u128, Some(U64)) } else { len(r) };
    let stride = if r.below(2) == 0 { int_lit(r.below(3) as u128, Some(U64)) } else { len(r) };
    let at = bin(BinOp::Add, bin(BinOp::Mul, var("i"), stride), var("q"));
    let step =
        Stmt::Assign { place: Place::Var("wv".into(), sp()), op: Some(BinOp::BitXor), value: index(&x, at), span: sp(), id: NodeId::UNSET };
    let range = RangeLoop { start: int_lit(0, Some(U64)), end, inclusive: false, step: None, reverse: false, unroll: None };
    let stmts = vec![
        let_("wv", t, true, index(&x, var("j"))),
        Stmt::For { var: "q".into(), range, body: Block { stmts: vec![step] }, label: None, span: sp(), id: NodeId::UNSET },
    ];
    Some((stmts, "wv".into(), t))
}

/// A top-level warp or block collective bound to a new variable.
fn collective(g: &mut Gen<'_>, body: &mut Vec<Stmt>) {
    let full = || int_lit(0xffff_ffff, Some(U32));
    let c = g.pick(Collective::ALL);
    let n = g.name("w");
    let (args, t) = match c {
        Collective::ShflIdx | Collective::ShflUp | Collective::ShflDown | Collective::ShflXor => {
            let t = g.pick(&TYPES);
            let lane = int_lit(g.r.below(if c == Collective::ShflIdx || c == Collective::ShflXor { 32 } else { 34 }) as u128, None);
            (vec![full(), g.expr(t, 2), lane], t)
        }
        Collective::Ballot => (vec![full(), g.expr(Bool, 2)], U32),
        Collective::Any | Collective::All => (vec![full(), g.expr(Bool, 2)], Bool),
        Collective::MatchAny => {
            let t = g.pick(&ATOMIC);
            (vec![full(), g.expr(t, 2)], U32)
        }
        Collective::ActiveMask => (vec![], U32),
        Collective::SyncWarp => {
            body.push(Stmt::Eval(ex(ExprKind::Collective(c, vec![full()]))));
            return;
        }
        Collective::SyncThreadsCount => (vec![g.expr(Bool, 2)], I32),
        Collective::SyncThreadsAnd | Collective::SyncThreadsOr => (vec![g.expr(Bool, 2)], Bool),
    };
    body.push(let_(&n, t, false, ex(ExprKind::Collective(c, args))));
    g.declare(&n, t, false);
}
