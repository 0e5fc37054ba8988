//! Complex numbers in kernels: `num_complex::Complex<f32>` and `Complex<f64>`
//! ([`ScalarType::Complex32`], [`ScalarType::Complex64`]).
//!
//! A complex value has two fields, `re` (0) and `im` (1), of its component type. Arithmetic
//! (`+ - * /` and unary `-`, with complex or real operands on either side) and `==`/`!=` are
//! operators; everything else is a [`ComplexFn`] of the table below. Each computes what
//! num-complex 0.4 computes, formula for formula, so the CPU backend, the GPU and host Rust agree
//! to the rounding of the component operations.

use crate::ast::BinOp;
use crate::math::MathFn;
use crate::types::ScalarType;

/// An operand or result of a [`ComplexFn`].
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Operand {
    /// The complex type (the receiver's).
    Complex,
    /// Its component type (f32 for `Complex<f32>`).
    Real,
}

macro_rules! complex_fns {
    ($($variant:ident: $spelling:literal, [$($param:ident),*] -> $ret:ident, $method:expr;)*) => {
        /// A function or method on complex numbers.
        #[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
        pub enum ComplexFn { $($variant),* }

        impl ComplexFn {
            pub const ALL: &'static [ComplexFn] = &[$(ComplexFn::$variant),*];

            /// The variant's identifier as written in Rust (`"Conj"`), for generated code.
            pub const fn variant_name(self) -> &'static str {
                match self { $(ComplexFn::$variant => stringify!($variant)),* }
            }

            /// How kernels spell it: a method (`conj`) or an associated function of `Complex`
            /// (`Complex::new`).
            pub fn spelling(self) -> &'static str {
                match self { $(ComplexFn::$variant => $spelling),* }
            }

            /// Its operands, the receiver first for a method.
            pub fn params(self) -> &'static [Operand] {
                match self { $(ComplexFn::$variant => &[$(Operand::$param),*]),* }
            }

            /// Its result.
            pub fn ret(self) -> Operand {
                match self { $(ComplexFn::$variant => Operand::$ret),* }
            }

            /// The real math method of the same name, which the kernel's syntax gives before the
            /// receiver's type is known (`z.exp()` parses as [`MathFn::Exp`]).
            pub fn math(self) -> Option<MathFn> {
                match self { $(ComplexFn::$variant => $method),* }
            }
        }
    };
}

complex_fns! {
    New: "Complex::new", [Real, Real] -> Complex, None;
    FromPolar: "Complex::from_polar", [Real, Real] -> Complex, None;
    Cis: "Complex::cis", [Real] -> Complex, None;
    Conj: "conj", [Complex] -> Complex, None;
    Inv: "inv", [Complex] -> Complex, None;
    Norm: "norm", [Complex] -> Real, None;
    NormSqr: "norm_sqr", [Complex] -> Real, None;
    L1Norm: "l1_norm", [Complex] -> Real, None;
    Arg: "arg", [Complex] -> Real, None;
    Exp: "exp", [Complex] -> Complex, Some(MathFn::Exp);
    Ln: "ln", [Complex] -> Complex, Some(MathFn::Ln);
    Sqrt: "sqrt", [Complex] -> Complex, Some(MathFn::Sqrt);
    Powf: "powf", [Complex, Real] -> Complex, Some(MathFn::Powf);
}

impl ComplexFn {
    /// Whether kernels call it as `z.name(..)` (else as `Complex::name(..)`).
    pub fn is_method(self) -> bool {
        self.params().first() == Some(&Operand::Complex)
    }

    /// The method `z.name(..)` of this name that only complex numbers have (`conj`, `norm`);
    /// the ones real floats share (`exp`) parse as their [`MathFn`].
    pub fn from_method(name: &str) -> Option<ComplexFn> {
        ComplexFn::ALL.iter().copied().find(|f| f.is_method() && f.math().is_none() && f.spelling() == name)
    }

    /// `Complex::name(..)`: the associated function of this name.
    pub fn from_function(name: &str) -> Option<ComplexFn> {
        ComplexFn::ALL.iter().copied().find(|f| !f.is_method() && f.spelling().strip_prefix("Complex::") == Some(name))
    }

    /// The complex form of a real math method (`exp` on a complex receiver).
    pub fn of_math(f: MathFn) -> Option<ComplexFn> {
        ComplexFn::ALL.iter().copied().find(|c| c.math() == Some(f))
    }

    /// The method's or function's name alone (`conj`, `new`).
    pub fn name(self) -> &'static str {
        let s = self.spelling();
        s.strip_prefix("Complex::").unwrap_or(s)
    }

    /// The type of operand or result `o` for the complex type `c`.
    pub fn type_of(o: Operand, c: ScalarType) -> ScalarType {
        match o {
            Operand::Complex => c,
            Operand::Real => c.component().unwrap_or(c),
        }
    }
}

/// The type of `a op b` when an operand is complex: complex `+ - * /` with a complex operand
/// or a real one of its parts' type on either side; `==`/`!=` of two complex values. `None`
/// when no operand is complex or the operator is not defined on them.
pub fn binary_result(op: BinOp, a: ScalarType, b: ScalarType) -> Option<ScalarType> {
    let c = if a.is_complex() { a } else { b };
    let (pa, pb) = (a.component().unwrap_or(a), b.component().unwrap_or(b));
    if !c.is_complex() || pa != pb {
        return None;
    }
    match op {
        BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div => Some(c),
        BinOp::Eq | BinOp::Ne if a == b => Some(ScalarType::Bool),
        _ => None,
    }
}

/// The names of a complex value's fields, by index.
pub const FIELDS: [&str; 2] = ["re", "im"];

/// The index of field `name` of a complex value.
pub fn field_index(name: &str) -> Option<u32> {
    FIELDS.iter().position(|f| *f == name).map(|i| i as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(ComplexFn::from_method("conj"), Some(ComplexFn::Conj));
        assert_eq!(ComplexFn::from_method("exp"), None, "parses as the real method");
        assert_eq!(ComplexFn::of_math(MathFn::Exp), Some(ComplexFn::Exp));
        assert_eq!(ComplexFn::from_function("new"), Some(ComplexFn::New));
        assert_eq!(ComplexFn::from_function("conj"), None);
        assert_eq!(ComplexFn::from_method("new"), None);
        assert_eq!(field_index("im"), Some(1));
        let (c, f) = (ScalarType::Complex32, ScalarType::F32);
        assert_eq!(binary_result(BinOp::Mul, f, c), Some(c));
        assert_eq!(binary_result(BinOp::Div, c, f), Some(c));
        assert_eq!(binary_result(BinOp::Add, c, ScalarType::F64), None);
        assert_eq!(binary_result(BinOp::Lt, c, c), None);
        assert_eq!(binary_result(BinOp::Eq, c, f), None);
        assert_eq!(binary_result(BinOp::Ne, c, c), Some(ScalarType::Bool));
        assert_eq!(binary_result(BinOp::Add, f, f), None);
        for &f in ComplexFn::ALL {
            if let Some(m) = f.math() {
                assert_eq!(m.method(), f.spelling(), "{f:?}");
                assert_eq!(m.arity(), f.params().len(), "{f:?}");
            }
        }
    }
}
