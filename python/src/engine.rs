//! The array engine of the Python module: NumPy's ufuncs, operators and reductions on
//! `gpujit.Array`, built as gpujit expressions ([`DynExpr`]) and run as fused kernels on the
//! arrays' device. There is one engine: a ufunc call is an expression of one operation, a
//! `gpujit.fuse` function one expression of all of its operations, and a reduction reduces an
//! expression in the same kernel.
//!
//! Semantics are NumPy 2's:
//! - types promote by NumPy's rules, Python scalars being "weak" (NEP 50);
//! - operands broadcast (at most 4 dimensions);
//! - `maximum`/`minimum` propagate NaN (`fmax`/`fmin` ignore it);
//! - `floor_divide`/`remainder` floor, with the sign of the divisor;
//! - integer division by zero gives 0, and integers wrap.
//!
//! Ufuncs take `out=` (any layout, same-kind casting) and `where=`; reductions take `axis`,
//! `keepdims` and `dtype`. Operands that are not gpujit arrays or scalars give
//! `NotImplemented`, so NumPy raises its `TypeError`.

use crate::array::{PyArray, Strided};
use crate::dtype::{self, Weak};
use crate::fuse::Traced;
use crate::import::{to_py_err, GpujitError};
use ::gpujit::codegen::ast::{BinOp, UnOp};
use ::gpujit::codegen::complex::ComplexFn;
use ::gpujit::codegen::math::MathFn;
use ::gpujit::codegen::ScalarType;
use ::gpujit::runtime::dynamic::DynExpr;
use ::gpujit::runtime::expr::Node;
use ::gpujit::runtime::launch::value_arg;
use ::gpujit::runtime::reduce::ReduceOp;
use ::gpujit::runtime::{Arg, Device, ExternalArray, KernelArg};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use std::sync::Arc;
use ScalarType::*;

/// A value of an elementwise computation: an array, a scalar, or an operation on others, with
/// its element type and (broadcast) shape.
#[derive(Clone)]
pub(crate) struct Term {
    node: Arc<TermNode>,
    pub(crate) dtype: ScalarType,
    pub(crate) shape: Vec<usize>,
}

enum TermNode {
    Array(Strided),
    /// A scalar the user gave (a kernel parameter of its own).
    Scalar(Arg<'static>),
    /// A constant of the engine's own formulas (0, 1, ½, ...): equal ones are one parameter.
    Const(Arg<'static>),
    Op(Node, Vec<Term>),
}

/// NumPy's broadcasting of two shapes.
pub(crate) fn broadcast(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let n = a.len().max(b.len());
    let mut out = vec![0; n];
    for (d, o) in out.iter_mut().enumerate() {
        let x = if d + a.len() >= n { a[d + a.len() - n] } else { 1 };
        let y = if d + b.len() >= n { b[d + b.len() - n] } else { 1 };
        *o = match (x, y) {
            _ if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return None,
        };
    }
    Some(out)
}

impl Term {
    pub(crate) fn array(a: &Strided) -> Term {
        Term { dtype: a.elem, shape: a.shape.clone(), node: Arc::new(TermNode::Array(a.clone())) }
    }

    pub(crate) fn scalar(arg: Arg<'static>, dtype: ScalarType) -> Term {
        Term { dtype, shape: Vec::new(), node: Arc::new(TermNode::Scalar(arg)) }
    }

    /// A scalar of `dtype` with value `v` (an f64, converted as `as` does).
    fn constant(v: f64, dtype: ScalarType) -> Term {
        let arg = match dtype {
            Bool => value_arg(v != 0.0),
            I8 => value_arg(v as i8),
            I16 => value_arg(v as i16),
            I32 => value_arg(v as i32),
            I64 => value_arg(v as i64),
            U8 => value_arg(v as u8),
            U16 => value_arg(v as u16),
            U32 => value_arg(v as u32),
            U64 => value_arg(v as u64),
            F16 => value_arg(half::f16::from_f64(v)),
            BF16 => value_arg(half::bf16::from_f64(v)),
            F32 => value_arg(v as f32),
            Complex32 => value_arg(num_complex::Complex::new(v as f32, 0.0)),
            Complex64 => value_arg(num_complex::Complex::new(v, 0.0)),
            _ => value_arg(v),
        };
        Term { dtype, shape: Vec::new(), node: Arc::new(TermNode::Const(arg)) }
    }

    /// `node` on `args`, giving `dtype`; the shapes broadcast (a `ValueError` if they cannot).
    fn op(node: Node, args: Vec<Term>, dtype: ScalarType) -> PyResult<Term> {
        let mut shape: Vec<usize> = Vec::new();
        for a in &args {
            shape = broadcast(&shape, &a.shape).ok_or_else(|| {
                let shapes: Vec<&Vec<usize>> = args.iter().map(|a| &a.shape).collect();
                PyValueError::new_err(format!("operands could not be broadcast together with shapes {shapes:?}"))
            })?;
        }
        if shape.len() > crate::array::MAX_NDIM {
            return Err(PyValueError::new_err(format!("gpujit arrays have at most {} dimensions", crate::array::MAX_NDIM)));
        }
        Ok(Term { node: Arc::new(TermNode::Op(node, args)), dtype, shape })
    }

    fn un(self, node: Node, dtype: ScalarType) -> PyResult<Term> {
        Term::op(node, vec![self], dtype)
    }

    fn bin(self, op: BinOp, other: Term) -> PyResult<Term> {
        let dtype = if matches!(op, BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge) { Bool } else { self.dtype };
        Term::op(Node::Binary(op), vec![self, other], dtype)
    }

    fn math(self, f: MathFn) -> PyResult<Term> {
        let dtype = match f {
            MathFn::IsNan | MathFn::IsInfinite | MathFn::IsFinite | MathFn::IsSignNegative => Bool,
            _ => self.dtype,
        };
        Term::op(Node::Math(f), vec![self], dtype)
    }

    fn math2(self, f: MathFn, other: Term) -> PyResult<Term> {
        let dtype = self.dtype;
        Term::op(Node::Math(f), vec![self, other], dtype)
    }

    fn select(cond: Term, a: Term, b: Term) -> PyResult<Term> {
        let dtype = a.dtype;
        Term::op(Node::Select, vec![cond, a, b], dtype)
    }

    fn complex_fn(self, f: ComplexFn, dtype: ScalarType) -> PyResult<Term> {
        Term::op(Node::Complex(f), vec![self], dtype)
    }

    /// A constant of this term's dtype.
    fn lit(&self, v: f64) -> Term {
        Term::constant(v, self.dtype)
    }

    /// Converted to `to` as NumPy's `astype` converts (bool is 0/1 and `x != 0`; a complex
    /// number loses its imaginary part).
    pub(crate) fn cast(self, to: ScalarType) -> PyResult<Term> {
        let from = self.dtype;
        if from == to {
            return Ok(self);
        }
        let plain = |t: Term, to: ScalarType| t.un(Node::Cast(to), to);
        match (dtype::kind(from), dtype::kind(to)) {
            ('c', 'c') => {
                let part = to.component().unwrap_or(F64);
                let from_part = from.component().unwrap_or(F64);
                let re = plain(self.clone().un(Node::Field(0), from_part)?, part)?;
                let im = plain(self.un(Node::Field(1), from_part)?, part)?;
                Term::op(Node::Complex(ComplexFn::New), vec![re, im], to)
            }
            ('c', _) => {
                let part = from.component().unwrap_or(F64);
                self.un(Node::Field(0), part)?.cast(to)
            }
            (_, 'c') => {
                let part = to.component().unwrap_or(F64);
                let re = self.cast(part)?;
                let zero = Term::constant(0.0, part);
                Term::op(Node::Complex(ComplexFn::New), vec![re, zero], to)
            }
            (_, 'b') => {
                let zero = self.lit(0.0);
                self.bin(BinOp::Ne, zero)
            }
            ('b', 'f') => plain(plain(self, U8)?, to),
            _ => plain(self, to),
        }
    }

    /// The arrays the term reads (each once).
    fn leaves(&self, out: &mut Vec<Strided>) {
        match &*self.node {
            TermNode::Array(a) => {
                if !out.iter().any(|b| b.same_view(a)) {
                    out.push(a.clone());
                }
            }
            TermNode::Scalar(_) | TermNode::Const(_) => {}
            TermNode::Op(_, args) => args.iter().for_each(|t| t.leaves(out)),
        }
    }

    /// The term as a gpujit expression over `views` (the views of `leaves`, in order).
    fn lower<'a>(&self, leaves: &[Strided], views: &'a [ExternalArray<'a>]) -> DynExpr<'a> {
        match &*self.node {
            TermNode::Array(a) => {
                let k = leaves.iter().position(|b| b.same_view(a)).unwrap_or(0);
                DynExpr::input(&views[k])
            }
            TermNode::Scalar(s) => DynExpr::input(*s),
            TermNode::Const(s) => DynExpr::constant(*s),
            TermNode::Op(node, args) => {
                let args: Vec<DynExpr<'a>> = args.iter().map(|t| t.lower(leaves, views)).collect();
                DynExpr::apply(*node, &args, self.dtype)
            }
        }
    }

    /// The device of the arrays the term reads (`None` for scalars only); arrays on two
    /// devices are an error.
    fn device(&self, what: &str) -> PyResult<Option<Device>> {
        let mut leaves = Vec::new();
        self.leaves(&mut leaves);
        let mut found: Option<Device> = None;
        for l in &leaves {
            match &found {
                Some(d) if d.id() != l.device().id() => {
                    return Err(GpujitError::new_err(format!("{what}: operands on {} and {}", d.id(), l.device().id())));
                }
                Some(_) => {}
                None => found = Some(l.device().clone()),
            }
        }
        Ok(found)
    }

    /// The device of the arrays the term reads, if any.
    pub(crate) fn device_of(&self) -> Option<Device> {
        self.device("").ok().flatten()
    }
}

/// Evaluates the terms (one kernel) into `outs` (writable arrays of their dtypes, of one
/// shape each term broadcasts to). An output the terms read other than element for element is
/// written through a temporary, as NumPy does for overlapping operands.
pub(crate) fn eval_into(py: Python<'_>, terms: &[Term], outs: &[Strided]) -> PyResult<()> {
    let mut leaves = Vec::new();
    for t in terms {
        t.leaves(&mut leaves);
    }
    for out in outs {
        if leaves.iter().any(|l| l.overlaps(out) && !l.same_view(out)) || outs.iter().filter(|o| o.overlaps(out)).count() > 1 {
            let temps: Vec<Strided> = outs.iter().map(|o| Strided::uninit(o.elem, &o.shape, o.device())).collect::<PyResult<_>>()?;
            eval_into(py, terms, &temps)?;
            let copies: Vec<Term> = temps.iter().map(Term::array).collect();
            return eval_into(py, &copies, outs);
        }
    }
    let views: Vec<ExternalArray<'_>> = leaves.iter().map(|l| l.view(false)).collect::<PyResult<_>>()?;
    let mut out_views: Vec<ExternalArray<'_>> = outs.iter().map(|o| o.view(true)).collect::<PyResult<_>>()?;
    let exprs: Vec<DynExpr<'_>> = terms.iter().map(|t| t.lower(&leaves, &views)).collect();
    let out_args: Vec<Arg<'_>> = out_views.iter_mut().map(|v| v.into_arg()).collect();
    if outs.iter().any(|o| o.size() == 0) {
        return Ok(());
    }
    py.detach(|| DynExpr::eval_all_into(&exprs, &out_args, None)).map_err(to_py_err)
}

/// Evaluates `term` into a new C-contiguous array (on its arrays' device, else `device`).
pub(crate) fn eval_new(py: Python<'_>, term: &Term, device: Option<&Device>) -> PyResult<Strided> {
    let dev = match term.device("expression")? {
        Some(d) => d,
        None => match device {
            Some(d) => d.clone(),
            None => Device::current().map_err(to_py_err)?,
        },
    };
    let out = Strided::uninit(term.dtype, &term.shape, &dev)?;
    eval_into(py, std::slice::from_ref(term), std::slice::from_ref(&out))?;
    Ok(out)
}

/// A C-contiguous copy of `a` on `device`'s kind of memory (the same device: a kernel; another:
/// through the host).
pub(crate) fn copy(py: Python<'_>, a: &Strided, device: &Device) -> PyResult<Strided> {
    if device.id() != a.device().id() {
        let bytes = a.host_bytes(py)?;
        return Strided::from_bytes(a.elem, &a.shape, &bytes, device);
    }
    eval_new(py, &Term::array(a), Some(device))
}

/// `a` converted to `to` in a new array.
pub(crate) fn astype(py: Python<'_>, a: &Strided, to: ScalarType) -> PyResult<Strided> {
    eval_new(py, &Term::array(a).cast(to)?, Some(a.device()))
}

/// `target[...] = value`: converted to the target's dtype and broadcast.
pub(crate) fn assign(py: Python<'_>, target: &Strided, value: &Bound<'_, PyAny>) -> PyResult<()> {
    let term = match operand(value)? {
        Some(Operand::Term(t)) => t,
        Some(Operand::Weak(v, _)) => Term::scalar(dtype::scalar(&v, target.elem)?, target.elem),
        None => {
            // Any other producer's array (or a sequence): brought in first.
            let a = crate::asarray::asarray_on(py, value, None, Some(target.device().clone()), None)?;
            let a = a.bind(py).downcast::<PyArray>()?.get().a.clone();
            Term::array(&a)
        }
    };
    if broadcast(&term.shape, &target.shape).as_deref() != Some(&target.shape[..]) {
        return Err(PyValueError::new_err(format!(
            "could not broadcast input array from shape {:?} into shape {:?}",
            term.shape, target.shape
        )));
    }
    let term = term.cast(target.elem)?;
    eval_into(py, &[term], std::slice::from_ref(target))
}

/// An operand of a ufunc as given.
pub(crate) enum Operand<'py> {
    /// A gpujit array, a traced value of `gpujit.fuse`, or a NumPy scalar (which has a dtype).
    Term(Term),
    /// A Python scalar: its type comes from the other operands (NEP 50).
    Weak(Bound<'py, PyAny>, Weak),
}

/// `x` as an operand, `None` for something gpujit does not compute on (another library's array).
pub(crate) fn operand<'py>(x: &Bound<'py, PyAny>) -> PyResult<Option<Operand<'py>>> {
    if let Ok(a) = x.downcast::<PyArray>() {
        return Ok(Some(Operand::Term(Term::array(&a.get().a))));
    }
    if let Ok(t) = x.downcast::<Traced>() {
        return Ok(Some(Operand::Term(t.get().term.clone())));
    }
    if let Some(w) = dtype::weak_kind(x) {
        return Ok(Some(Operand::Weak(x.clone(), w)));
    }
    // A NumPy scalar (`numpy.float32(2)`): its own dtype, strong.
    let generic = x.py().import("numpy").and_then(|np| np.getattr("generic"));
    if generic.is_ok_and(|g| x.is_instance(&g).unwrap_or(false)) {
        let Ok(t) = dtype::of(x.py(), &x.getattr("dtype")?, "operand") else { return Ok(None) };
        let value = x.call_method0("item")?;
        return Ok(Some(Operand::Term(Term::scalar(dtype::scalar(&value, t)?, t))));
    }
    Ok(None)
}

/// NumPy's common dtype of operands (weak scalars last).
fn common(ops: &[Operand<'_>]) -> ScalarType {
    let strong = ops.iter().filter_map(|o| if let Operand::Term(t) = o { Some(t.dtype) } else { None }).reduce(dtype::promote);
    let weak = ops.iter().filter_map(|o| if let Operand::Weak(_, w) = o { Some(*w) } else { None });
    match strong {
        Some(mut t) => {
            for w in weak {
                t = dtype::with_weak(t, w);
            }
            t
        }
        None => weak.map(dtype::weak_default).reduce(dtype::promote).unwrap_or(F64),
    }
}

/// The operands as terms of `t`.
fn terms_of(ops: &[Operand<'_>], t: ScalarType) -> PyResult<Vec<Term>> {
    ops.iter()
        .map(|o| match o {
            Operand::Term(x) => x.clone().cast(t),
            Operand::Weak(v, _) => Ok(Term::scalar(dtype::scalar(v, t)?, t)),
        })
        .collect()
}

fn is_int(t: ScalarType) -> bool {
    matches!(dtype::kind(t), 'i' | 'u')
}

fn is_float(t: ScalarType) -> bool {
    dtype::kind(t) == 'f'
}

fn is_complex(t: ScalarType) -> bool {
    dtype::kind(t) == 'c'
}

/// The ufuncs gpujit computes, by NumPy name, with their number of inputs.
const UFUNCS: &[(&str, usize)] = &[
    ("add", 2),
    ("subtract", 2),
    ("multiply", 2),
    ("divide", 2),
    ("true_divide", 2),
    ("floor_divide", 2),
    ("remainder", 2),
    ("mod", 2),
    ("fmod", 2),
    ("power", 2),
    ("float_power", 2),
    ("maximum", 2),
    ("minimum", 2),
    ("fmax", 2),
    ("fmin", 2),
    ("arctan2", 2),
    ("hypot", 2),
    ("copysign", 2),
    ("equal", 2),
    ("not_equal", 2),
    ("less", 2),
    ("less_equal", 2),
    ("greater", 2),
    ("greater_equal", 2),
    ("logical_and", 2),
    ("logical_or", 2),
    ("logical_xor", 2),
    ("bitwise_and", 2),
    ("bitwise_or", 2),
    ("bitwise_xor", 2),
    ("left_shift", 2),
    ("right_shift", 2),
    ("negative", 1),
    ("positive", 1),
    ("absolute", 1),
    ("fabs", 1),
    ("sign", 1),
    ("square", 1),
    ("reciprocal", 1),
    ("sqrt", 1),
    ("cbrt", 1),
    ("exp", 1),
    ("exp2", 1),
    ("expm1", 1),
    ("log", 1),
    ("log2", 1),
    ("log10", 1),
    ("log1p", 1),
    ("sin", 1),
    ("cos", 1),
    ("tan", 1),
    ("arcsin", 1),
    ("arccos", 1),
    ("arctan", 1),
    ("sinh", 1),
    ("cosh", 1),
    ("tanh", 1),
    ("deg2rad", 1),
    ("radians", 1),
    ("rad2deg", 1),
    ("degrees", 1),
    ("floor", 1),
    ("ceil", 1),
    ("trunc", 1),
    ("rint", 1),
    ("isnan", 1),
    ("isinf", 1),
    ("isfinite", 1),
    ("signbit", 1),
    ("logical_not", 1),
    ("invert", 1),
    ("bitwise_not", 1),
    ("conjugate", 1),
    ("conj", 1),
];

/// The number of inputs of ufunc `name`, if gpujit computes it.
pub(crate) fn arity(name: &str) -> Option<usize> {
    UFUNCS.iter().find(|(n, _)| *n == name).map(|(_, k)| *k)
}

fn no_loop(name: &str, t: ScalarType) -> PyErr {
    PyTypeError::new_err(format!("ufunc '{name}' is not supported for the input type {}", dtype::name(t)))
}

/// Ufunc `name` applied to `ops` (NumPy's types and semantics), as a term.
pub(crate) fn ufunc(name: &str, ops: &[Operand<'_>]) -> PyResult<Term> {
    let t = common(ops);
    let mut args = terms_of(ops, t)?;
    let b = if args.len() > 1 { Some(args.pop().expect("two operands")) } else { None };
    let a = args.pop().ok_or_else(|| PyValueError::new_err(format!("{name}: no operands")))?;
    let b = || b.clone().ok_or_else(|| PyValueError::new_err(format!("{name} takes two operands")));
    let float_like = |x: Term| -> PyResult<Term> {
        let to = dtype::inexact(x.dtype);
        x.cast(to)
    };
    Ok(match name {
        "add" if t == Bool => a.bin(BinOp::Or, b()?)?,
        "multiply" if t == Bool => a.bin(BinOp::And, b()?)?,
        "subtract" if t == Bool => {
            return Err(PyTypeError::new_err("numpy boolean subtract, the `-` operator, is not supported, use `^` or logical_xor"));
        }
        "add" => a.bin(BinOp::Add, b()?)?,
        "subtract" => a.bin(BinOp::Sub, b()?)?,
        "multiply" => a.bin(BinOp::Mul, b()?)?,
        "divide" | "true_divide" => {
            let to = if is_int(t) || t == Bool { F64 } else { t };
            a.cast(to)?.bin(BinOp::Div, b()?.cast(to)?)?
        }
        "floor_divide" | "remainder" | "mod" if is_complex(t) => return Err(no_loop(name, t)),
        "floor_divide" | "remainder" | "mod" if t == Bool => {
            let (x, y) = (a.cast(I8)?, b()?.cast(I8)?);
            floor_div_mod(x, y, name == "floor_divide")?
        }
        "floor_divide" | "remainder" | "mod" => floor_div_mod(a, b()?, name == "floor_divide")?,
        "fmod" if is_complex(t) => return Err(no_loop(name, t)),
        "fmod" if is_int(t) || t == Bool => {
            let (x, y) = (a.cast(if t == Bool { I8 } else { t })?, b()?.cast(if t == Bool { I8 } else { t })?);
            let zero = y.lit(0.0);
            let r = x.clone().bin(BinOp::Rem, y.clone())?;
            Term::select(y.bin(BinOp::Eq, zero.clone())?, zero, r)?
        }
        "fmod" => a.bin(BinOp::Rem, b()?)?,
        "power" | "float_power" => power(name, a, b()?, name == "float_power")?,
        "maximum" | "minimum" if is_complex(t) => return Err(no_loop(name, t)),
        "maximum" | "minimum" => {
            let f = if name == "maximum" { MathFn::Max } else { MathFn::Min };
            if is_float(t) {
                // NaN propagates: max(a, b) ignores it, so pick the NaN first.
                let b = b()?;
                let m = a.clone().math2(f, b.clone())?;
                let b_nan = b.clone().bin(BinOp::Ne, b.clone())?;
                let inner = Term::select(b_nan, b, m)?;
                Term::select(a.clone().bin(BinOp::Ne, a.clone())?, a, inner)?
            } else if t == Bool {
                let op = if name == "maximum" { BinOp::Or } else { BinOp::And };
                a.bin(op, b()?)?
            } else {
                a.math2(f, b()?)?
            }
        }
        "fmax" | "fmin" if is_complex(t) || t == Bool => return Err(no_loop(name, t)),
        "fmax" => a.math2(MathFn::Max, b()?)?,
        "fmin" => a.math2(MathFn::Min, b()?)?,
        "arctan2" | "hypot" | "copysign" if is_complex(t) => return Err(no_loop(name, t)),
        "arctan2" | "hypot" | "copysign" => {
            let f = match name {
                "arctan2" => MathFn::Atan2,
                "hypot" => MathFn::Hypot,
                _ => MathFn::Copysign,
            };
            let (x, y) = (float_like(a)?, float_like(b()?)?);
            x.math2(f, y)?
        }
        "equal" => a.bin(BinOp::Eq, b()?)?,
        "not_equal" => a.bin(BinOp::Ne, b()?)?,
        "less" | "less_equal" | "greater" | "greater_equal" if is_complex(t) => {
            return Err(PyTypeError::new_err(format!("{name}: gpujit does not order complex numbers")));
        }
        "less" => a.bin(BinOp::Lt, b()?)?,
        "less_equal" => a.bin(BinOp::Le, b()?)?,
        "greater" => a.bin(BinOp::Gt, b()?)?,
        "greater_equal" => a.bin(BinOp::Ge, b()?)?,
        "logical_and" | "logical_or" | "logical_xor" => {
            let op = match name {
                "logical_and" => BinOp::And,
                "logical_or" => BinOp::Or,
                _ => BinOp::Ne,
            };
            a.cast(Bool)?.bin(op, b()?.cast(Bool)?)?
        }
        "bitwise_and" | "bitwise_or" | "bitwise_xor" if !(is_int(t) || t == Bool) => return Err(no_loop(name, t)),
        "bitwise_and" => a.bin(BinOp::BitAnd, b()?)?,
        "bitwise_or" => a.bin(BinOp::BitOr, b()?)?,
        "bitwise_xor" => a.bin(BinOp::BitXor, b()?)?,
        "left_shift" | "right_shift" if !is_int(t) => return Err(no_loop(name, t)),
        "left_shift" | "right_shift" => {
            // NumPy shifts by the full amount: past the width, 0 (or -1 for a negative number
            // shifted right); Rust's shifts mask it.
            let b = b()?;
            let bits = b.lit((t.size_bytes() * 8) as f64);
            let zero = a.lit(0.0);
            let far = b.clone().bin(BinOp::Ge, bits)?;
            let far = if dtype::kind(t) == 'i' { far.bin(BinOp::Or, b.clone().bin(BinOp::Lt, b.lit(0.0))?)? } else { far };
            let (op, fill) = if name == "left_shift" {
                (BinOp::Shl, zero.clone())
            } else if dtype::kind(t) == 'i' {
                (BinOp::Shr, Term::select(a.clone().bin(BinOp::Lt, zero.clone())?, a.lit(-1.0), zero.clone())?)
            } else {
                (BinOp::Shr, zero.clone())
            };
            let shifted = a.bin(op, b.cast(U32)?)?;
            Term::select(far, fill, shifted)?
        }
        "negative" if t == Bool => {
            return Err(PyTypeError::new_err("the numpy boolean negative, the `-` operator, is not supported, use `~`"))
        }
        "negative" if dtype::kind(t) == 'u' => a.lit(0.0).math2(MathFn::WrappingSub, a)?,
        "negative" => a.un(Node::Unary(UnOp::Neg), t)?,
        "positive" if t == Bool => return Err(no_loop(name, t)),
        "positive" => a,
        "absolute" | "fabs" if is_complex(t) => {
            if name == "fabs" {
                return Err(no_loop(name, t));
            }
            let part = t.component().unwrap_or(F64);
            a.complex_fn(ComplexFn::Norm, part)?
        }
        "absolute" | "fabs" if dtype::kind(t) == 'u' || t == Bool => a,
        "absolute" if dtype::kind(t) == 'i' => a.math(MathFn::WrappingAbs)?,
        "absolute" | "fabs" => float_like(a)?.math(MathFn::Abs)?,
        "sign" if is_complex(t) || t == Bool => return Err(no_loop(name, t)),
        "sign" => {
            // 0 stays 0 and NaN stays NaN (Rust's signum gives ±1 for ±0).
            let zero = a.lit(0.0);
            let neg = Term::select(a.clone().bin(BinOp::Lt, zero.clone())?, a.lit(-1.0), a.clone())?;
            Term::select(a.clone().bin(BinOp::Gt, zero)?, a.lit(1.0), neg)?
        }
        "square" if t == Bool => {
            let x = a.cast(I8)?;
            x.clone().bin(BinOp::Mul, x)?
        }
        // Integers are their own floor, ceiling and truncation (NumPy 2 keeps their type).
        "floor" | "ceil" | "trunc" if is_int(t) || t == Bool => a,
        "square" => a.clone().bin(BinOp::Mul, a)?,
        "reciprocal" if t == Bool => return Err(no_loop(name, t)),
        "reciprocal" if is_int(t) => {
            let zero = a.lit(0.0);
            let q = a.lit(1.0).bin(BinOp::Div, a.clone())?;
            Term::select(a.bin(BinOp::Eq, zero.clone())?, zero, q)?
        }
        "reciprocal" => a.lit(1.0).bin(BinOp::Div, a)?,
        "exp" | "log" | "sqrt" if is_complex(t) => {
            let f = match name {
                "exp" => ComplexFn::Exp,
                "log" => ComplexFn::Ln,
                _ => ComplexFn::Sqrt,
            };
            a.complex_fn(f, t)?
        }
        "conjugate" | "conj" if is_complex(t) => a.complex_fn(ComplexFn::Conj, t)?,
        "conjugate" | "conj" => a,
        "isnan" | "isinf" | "isfinite" | "signbit" if is_complex(t) => return Err(no_loop(name, t)),
        // Integers are never NaN or infinite: `x != x` is false, `x == x` true, shape kept.
        "isnan" | "isinf" if !is_float(t) => a.clone().bin(BinOp::Ne, a)?,
        "isfinite" if !is_float(t) => a.clone().bin(BinOp::Eq, a)?,
        "signbit" if !is_float(t) => {
            let zero = a.lit(0.0);
            a.bin(BinOp::Lt, zero)?
        }
        "isnan" => a.math(MathFn::IsNan)?,
        "isinf" => a.math(MathFn::IsInfinite)?,
        "isfinite" => a.math(MathFn::IsFinite)?,
        "signbit" => a.math(MathFn::IsSignNegative)?,
        "logical_not" => a.cast(Bool)?.un(Node::Unary(UnOp::Not), Bool)?,
        "invert" | "bitwise_not" if !(is_int(t) || t == Bool) => return Err(no_loop(name, t)),
        "invert" | "bitwise_not" => a.un(Node::Unary(UnOp::Not), t)?,
        _ if is_complex(t) => return Err(no_loop(name, t)),
        "rint" => {
            // Half to even: round() takes halves away from zero.
            let x = float_like(a)?;
            let r = x.clone().math(MathFn::Round)?;
            let half = r.clone().bin(BinOp::Sub, x.clone())?.math(MathFn::Abs)?.bin(BinOp::Eq, x.lit(0.5))?;
            let even = x.clone().bin(BinOp::Mul, x.lit(0.5))?.math(MathFn::Round)?.bin(BinOp::Mul, x.lit(2.0))?;
            Term::select(half, even, r)?
        }
        _ => {
            let f = match name {
                "sqrt" => MathFn::Sqrt,
                "cbrt" => MathFn::Cbrt,
                "exp" => MathFn::Exp,
                "exp2" => MathFn::Exp2,
                "expm1" => MathFn::ExpM1,
                "log" => MathFn::Ln,
                "log2" => MathFn::Log2,
                "log10" => MathFn::Log10,
                "log1p" => MathFn::Ln1p,
                "sin" => MathFn::Sin,
                "cos" => MathFn::Cos,
                "tan" => MathFn::Tan,
                "arcsin" => MathFn::Asin,
                "arccos" => MathFn::Acos,
                "arctan" => MathFn::Atan,
                "sinh" => MathFn::Sinh,
                "cosh" => MathFn::Cosh,
                "tanh" => MathFn::Tanh,
                "deg2rad" | "radians" => MathFn::ToRadians,
                "rad2deg" | "degrees" => MathFn::ToDegrees,
                "floor" => MathFn::Floor,
                "ceil" => MathFn::Ceil,
                "trunc" => MathFn::Trunc,
                _ => return Err(PyTypeError::new_err(format!("ufunc '{name}' is not supported on gpujit arrays"))),
            };
            float_like(a)?.math(f)?
        }
    })
}

/// `where(cond, x, y)`: `x` and `y` promoted together.
pub(crate) fn select_of(cond: Term, ops: &[Operand<'_>]) -> PyResult<Term> {
    let t = common(ops);
    let mut terms = terms_of(ops, t)?;
    let y = terms.pop().ok_or_else(|| PyValueError::new_err("where: two values"))?;
    let x = terms.pop().ok_or_else(|| PyValueError::new_err("where: two values"))?;
    Term::select(cond, x, y)
}

/// `isclose(a, b)`: `|a - b| <= atol + rtol * |b|` (NaNs equal with `equal_nan`), in the
/// operands' inexact type.
pub(crate) fn isclose(_py: Python<'_>, a: &Operand<'_>, b: &Operand<'_>, rtol: f64, atol: f64, equal_nan: bool) -> PyResult<Term> {
    let ops = [clone_operand(a), clone_operand(b)];
    let t = dtype::inexact(common(&ops));
    let mut terms = terms_of(&ops, t)?;
    let y = terms.pop().ok_or_else(|| PyValueError::new_err("isclose: two values"))?;
    let x = terms.pop().ok_or_else(|| PyValueError::new_err("isclose: two values"))?;
    let abs = |v: Term| -> PyResult<Term> {
        if is_complex(v.dtype) {
            let part = v.dtype.component().unwrap_or(F64);
            v.complex_fn(ComplexFn::Norm, part)
        } else {
            v.math(MathFn::Abs)
        }
    };
    let real = t.component().unwrap_or(t);
    let diff = abs(x.clone().bin(BinOp::Sub, y.clone())?)?;
    let bound = Term::constant(atol, real).bin(BinOp::Add, Term::constant(rtol, real).bin(BinOp::Mul, abs(y.clone())?)?)?;
    let close = diff.bin(BinOp::Le, bound)?;
    // Equal infinities are close (their difference is NaN).
    let close = close.bin(BinOp::Or, x.clone().bin(BinOp::Eq, y.clone())?)?;
    if equal_nan && !is_complex(t) {
        let both = x.clone().bin(BinOp::Ne, x)?.bin(BinOp::And, y.clone().bin(BinOp::Ne, y)?)?;
        return close.bin(BinOp::Or, both);
    }
    Ok(close)
}

fn clone_operand<'py>(o: &Operand<'py>) -> Operand<'py> {
    match o {
        Operand::Term(t) => Operand::Term(t.clone()),
        Operand::Weak(v, w) => Operand::Weak(v.clone(), *w),
    }
}

/// NumPy's `floor_divide` (`quotient`) or `remainder` of `a` by `b`.
fn floor_div_mod(a: Term, b: Term, quotient: bool) -> PyResult<Term> {
    let t = a.dtype;
    let zero = a.lit(0.0);
    if dtype::kind(t) == 'u' {
        let q = if quotient { a.clone().bin(BinOp::Div, b.clone())? } else { a.clone().bin(BinOp::Rem, b.clone())? };
        return Term::select(b.bin(BinOp::Eq, zero.clone())?, zero, q);
    }
    if is_int(t) {
        // Truncated division and remainder, moved one step down when the signs differ.
        let q = a.clone().math2(MathFn::WrappingDiv, b.clone())?;
        let r = a.clone().math2(MathFn::WrappingRem, b.clone())?;
        let differ = r
            .clone()
            .bin(BinOp::Ne, zero.clone())?
            .bin(BinOp::And, r.clone().bin(BinOp::Lt, zero.clone())?.bin(BinOp::Ne, b.clone().bin(BinOp::Lt, zero.clone())?)?)?;
        let v = if quotient {
            Term::select(differ, q.clone().bin(BinOp::Sub, a.lit(1.0))?, q)?
        } else {
            Term::select(differ, r.clone().bin(BinOp::Add, b.clone())?, r)?
        };
        return Term::select(b.bin(BinOp::Eq, zero.clone())?, zero, v);
    }
    // Floats: NumPy's npy_divmod.
    let m = a.clone().bin(BinOp::Rem, b.clone())?;
    let nonzero = m.clone().bin(BinOp::Ne, zero.clone())?;
    let differ =
        nonzero.bin(BinOp::And, b.clone().bin(BinOp::Lt, zero.clone())?.bin(BinOp::Ne, m.clone().bin(BinOp::Lt, zero.clone())?)?)?;
    if !quotient {
        let fixed = Term::select(differ, m.clone().bin(BinOp::Add, b.clone())?, m.clone())?;
        // A zero remainder takes the divisor's sign; division by zero gives NaN (fmod's).
        let signed_zero = zero.clone().math2(MathFn::Copysign, b.clone())?;
        let r = Term::select(fixed.clone().bin(BinOp::Eq, zero.clone())?, signed_zero, fixed)?;
        return Term::select(b.clone().bin(BinOp::Eq, zero)?, m, r);
    }
    let div = a.clone().bin(BinOp::Sub, m)?.bin(BinOp::Div, b.clone())?;
    let div = Term::select(differ, div.clone().bin(BinOp::Sub, a.lit(1.0))?, div)?;
    let fl = div.clone().math(MathFn::Floor)?;
    let up = div.clone().bin(BinOp::Sub, fl.clone())?.bin(BinOp::Gt, a.lit(0.5))?;
    let fl = Term::select(up, fl.clone().bin(BinOp::Add, a.lit(1.0))?, fl)?;
    let plain = a.clone().bin(BinOp::Div, b.clone())?;
    let zero_q = zero.clone().math2(MathFn::Copysign, plain.clone())?;
    let q = Term::select(div.bin(BinOp::Ne, zero.clone())?, fl, zero_q)?;
    Term::select(b.bin(BinOp::Eq, zero)?, plain, q)
}

/// `power` (and `float_power`, in float64 or complex128).
fn power(name: &str, a: Term, b: Term, float_power: bool) -> PyResult<Term> {
    let t = a.dtype;
    if float_power {
        let to = if is_complex(t) { Complex64 } else { F64 };
        return power("power", a.cast(to)?, b.cast(to)?, false);
    }
    if is_complex(t) {
        return Err(no_loop(name, t));
    }
    if t == Bool {
        return power(name, a.cast(I8)?, b.cast(I8)?, false);
    }
    if is_float(t) {
        return a.math2(MathFn::Powf, b);
    }
    let pow = Term::op(Node::Math(MathFn::WrappingPow), vec![a.clone(), b.clone().cast(U32)?], t)?;
    if dtype::kind(t) == 'u' {
        return Ok(pow);
    }
    // A negative exponent: NumPy raises; gpujit gives the truncated result (1 for 1, ±1 for -1,
    // else 0), as the kernel cannot raise.
    let zero = a.lit(0.0);
    let one = a.lit(1.0);
    let odd = b.clone().math2(MathFn::WrappingRem, b.lit(2.0))?.bin(BinOp::Ne, b.lit(0.0))?;
    let minus_one = Term::select(odd, a.lit(-1.0), one.clone())?;
    let neg = Term::select(
        a.clone().bin(BinOp::Eq, one.clone())?,
        one,
        Term::select(a.clone().bin(BinOp::Eq, a.lit(-1.0))?, minus_one, zero.clone())?,
    )?;
    let z = b.lit(0.0);
    Term::select(b.bin(BinOp::Lt, z)?, neg, pow)
}

/// A ufunc's keywords: `out`, `where`, `dtype`, `casting` (others must be their defaults).
struct UfuncKw<'py> {
    out: Option<Bound<'py, PyAny>>,
    where_: Option<Bound<'py, PyAny>>,
    dtype: Option<ScalarType>,
    unsafe_cast: bool,
}

fn ufunc_kwargs<'py>(py: Python<'py>, name: &str, kwargs: Option<&Bound<'py, PyDict>>) -> PyResult<UfuncKw<'py>> {
    let mut kw = UfuncKw { out: None, where_: None, dtype: None, unsafe_cast: false };
    let Some(k) = kwargs else { return Ok(kw) };
    for (key, v) in k.iter() {
        let key: String = key.extract()?;
        match key.as_str() {
            "out" if !v.is_none() => {
                let v = match v.downcast::<PyTuple>() {
                    Ok(t) if t.len() == 1 => t.get_item(0)?,
                    Ok(t) => return Err(PyValueError::new_err(format!("{name}: out= takes one array, not {}", t.len()))),
                    Err(_) => v,
                };
                kw.out = Some(v);
            }
            "where" if dtype::weak_kind(&v) == Some(Weak::Bool) && v.is_truthy()? => {}
            "where" => kw.where_ = Some(v),
            "dtype" | "signature" if !v.is_none() => kw.dtype = Some(dtype::of(py, &v, name)?),
            "casting" => {
                let c: String = v.extract()?;
                match c.as_str() {
                    "same_kind" => {}
                    "unsafe" => kw.unsafe_cast = true,
                    other => return Err(GpujitError::new_err(format!("{name}: casting={other:?} is not supported (same_kind, unsafe)"))),
                }
            }
            "order" if v.extract::<String>().is_ok_and(|o| o == "K") => {}
            "subok" if v.is_truthy()? => {}
            _ if v.is_none() => {}
            _ => return Err(GpujitError::new_err(format!("{name}: the keyword `{key}` is not supported on gpujit arrays"))),
        }
    }
    Ok(kw)
}

/// The gpujit array `x` must be, for a keyword.
fn ours(x: &Bound<'_, PyAny>, what: &str) -> PyResult<Strided> {
    match x.downcast::<PyArray>() {
        Ok(a) => Ok(a.get().a.clone()),
        Err(_) => Err(PyTypeError::new_err(format!("{what} must be a gpujit.Array, not {}", x.get_type().name()?))),
    }
}

/// Whether no keyword is given (or all are None).
fn no_kwargs(kwargs: Option<&Bound<'_, PyDict>>) -> bool {
    kwargs.map_or(true, |d| d.iter().all(|(_, v)| v.is_none()))
}

/// Whether any input is traced (`gpujit.fuse`): then the result is traced too.
fn traced(inputs: &Bound<'_, PyTuple>) -> bool {
    inputs.iter().any(|x| x.downcast::<Traced>().is_ok())
}

/// `ufunc(*inputs, **kwargs)` for `method == "__call__"`, `ufunc.reduce(...)` for `"reduce"`.
pub(crate) fn array_ufunc(
    py: Python<'_>,
    name: &str,
    method: &str,
    inputs: &Bound<'_, PyTuple>,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<Py<PyAny>> {
    match method {
        "__call__" if name == "matmul" && inputs.len() == 2 && no_kwargs(kwargs) => {
            crate::functions::matmul(py, &inputs.get_item(0)?, &inputs.get_item(1)?)
        }
        "__call__" => {
            let Some(n) = arity(name) else { return Ok(py.NotImplemented()) };
            if inputs.len() != n {
                return Ok(py.NotImplemented());
            }
            let mut ops = Vec::new();
            for x in inputs.iter() {
                match operand(&x)? {
                    Some(o) => ops.push(o),
                    None => return Ok(py.NotImplemented()),
                }
            }
            let kw = ufunc_kwargs(py, name, kwargs)?;
            if let Some(t) = kw.dtype {
                // `dtype=`: the operands converted to it first.
                for o in ops.iter_mut() {
                    if let Operand::Term(x) = o {
                        *x = x.clone().cast(t)?;
                    }
                }
            }
            let term = ufunc(name, &ops)?;
            if traced(inputs) {
                if kw.out.is_some() || kw.where_.is_some() {
                    return Err(GpujitError::new_err(format!("{name}: out= and where= are not supported inside gpujit.fuse")));
                }
                return Traced::wrap(py, term);
            }
            finish(py, name, term, kw)
        }
        "reduce" => {
            let Some(op) = reduce_op_of(name) else { return Ok(py.NotImplemented()) };
            if inputs.len() != 1 {
                return Ok(py.NotImplemented());
            }
            let x = inputs.get_item(0)?;
            let mut args = ReduceArgs::parse(py, name, kwargs, Some(0))?;
            args.ufunc = true;
            reduce(py, &x, op, args)
        }
        _ => Ok(py.NotImplemented()),
    }
}

/// A ufunc's term evaluated, into `out=` (same-kind cast, broadcast) where given, where
/// `where=` holds.
fn finish(py: Python<'_>, name: &str, term: Term, kw: UfuncKw<'_>) -> PyResult<Py<PyAny>> {
    let Some(out_obj) = kw.out else {
        let result = match kw.where_ {
            None => eval_new(py, &term, None)?,
            Some(w) => {
                // No `out=`: the elements where the condition is false are 0.
                let dev = term.device(name)?.unwrap_or(Device::current().map_err(to_py_err)?);
                let zeros = eval_new(py, &Term::constant(0.0, term.dtype).broadcast_to(&term.shape)?, Some(&dev))?;
                let cond = where_term(py, &w, name)?;
                eval_new(py, &Term::select(cond, term, Term::array(&zeros))?, Some(&dev))?
            }
        };
        return PyArray::new(result).into_py(py);
    };
    let out = ours(&out_obj, &format!("{name}: out="))?;
    if !kw.unsafe_cast && !dtype::same_kind(term.dtype, out.elem) {
        return Err(PyTypeError::new_err(format!(
            "Cannot cast ufunc '{name}' output from dtype('{}') to dtype('{}') with casting rule 'same_kind'",
            dtype::name(term.dtype),
            dtype::name(out.elem)
        )));
    }
    if broadcast(&term.shape, &out.shape).as_deref() != Some(&out.shape[..]) {
        return Err(PyValueError::new_err(format!(
            "{name}: non-broadcastable output operand with shape {:?} doesn't match the broadcast shape {:?}",
            out.shape, term.shape
        )));
    }
    let mut value = term.cast(out.elem)?;
    if let Some(w) = kw.where_ {
        let cond = where_term(py, &w, name)?;
        value = Term::select(cond, value, Term::array(&out))?;
    }
    eval_into(py, &[value], std::slice::from_ref(&out))?;
    Ok(out_obj.unbind())
}

/// The term of a `where=` argument: a gpujit array (as bool) or a Python bool.
fn where_term(_py: Python<'_>, w: &Bound<'_, PyAny>, name: &str) -> PyResult<Term> {
    if let Some(Weak::Bool) = dtype::weak_kind(w) {
        return Ok(Term::constant(if w.is_truthy()? { 1.0 } else { 0.0 }, Bool));
    }
    Term::array(&ours(w, &format!("{name}: where="))?).cast(Bool)
}

impl Term {
    /// A scalar term seen with `shape` (for filling).
    pub(crate) fn broadcast_to(self, shape: &[usize]) -> PyResult<Term> {
        let mut t = self;
        t.shape = broadcast(&t.shape, shape).ok_or_else(|| PyValueError::new_err(format!("cannot broadcast to {shape:?}")))?;
        Ok(t)
    }
}

/// The Python operands `a op b` of an operator (`a + b`, `a < b`, ...) as ufunc `name`:
/// `NotImplemented` for operands gpujit does not compute on, so Python tries the other side.
pub(crate) fn binary_operator(py: Python<'_>, name: &str, a: &Bound<'_, PyAny>, b: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
    array_ufunc(py, name, "__call__", &PyTuple::new(py, [a, b])?, None)
}

/// `op a` as ufunc `name`.
pub(crate) fn unary_operator(py: Python<'_>, name: &str, a: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
    array_ufunc(py, name, "__call__", &PyTuple::new(py, [a])?, None)
}

/// `a op= b`: the result written into `a` (same-kind casting, as NumPy's in-place operators).
pub(crate) fn inplace_operator(py: Python<'_>, name: &str, a: &Bound<'_, PyAny>, b: &Bound<'_, PyAny>) -> PyResult<()> {
    let kwargs = PyDict::new(py);
    kwargs.set_item("out", a)?;
    let r = array_ufunc(py, name, "__call__", &PyTuple::new(py, [a, b])?, Some(&kwargs))?;
    if r.is(py.NotImplemented()) {
        return Err(PyTypeError::new_err(format!(
            "unsupported operand type for in-place {name}: gpujit.Array and {}",
            b.get_type().name()?
        )));
    }
    Ok(())
}

/// The reductions.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Reduce {
    Sum,
    Prod,
    Min,
    Max,
    ArgMin,
    ArgMax,
    Mean,
    Var,
    Std,
    Any,
    All,
}

impl Reduce {
    /// The NumPy name (`sum`, `argmax`, ...).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Reduce::Sum => "sum",
            Reduce::Prod => "prod",
            Reduce::Min => "min",
            Reduce::Max => "max",
            Reduce::ArgMin => "argmin",
            Reduce::ArgMax => "argmax",
            Reduce::Mean => "mean",
            Reduce::Var => "var",
            Reduce::Std => "std",
            Reduce::Any => "any",
            Reduce::All => "all",
        }
    }
}

fn reduce_op_of(ufunc: &str) -> Option<Reduce> {
    Some(match ufunc {
        "add" => Reduce::Sum,
        "multiply" => Reduce::Prod,
        "maximum" => Reduce::Max,
        "minimum" => Reduce::Min,
        "logical_and" => Reduce::All,
        "logical_or" => Reduce::Any,
        _ => return None,
    })
}

/// The keywords of a reduction.
pub(crate) struct ReduceArgs<'py> {
    /// The axes (`None`: all), as given (possibly negative).
    axis: Option<Vec<isize>>,
    keepdims: bool,
    dtype: Option<ScalarType>,
    out: Option<Bound<'py, PyAny>>,
    ddof: f64,
    /// Called as `ufunc.reduce` (for messages).
    ufunc: bool,
    name: String,
}

impl<'py> ReduceArgs<'py> {
    /// Parses `axis`, `keepdims`, `dtype`, `out`, `ddof`; other keywords must be their defaults.
    /// `default_axis`: `ufunc.reduce`'s 0, else `None` (all axes).
    pub(crate) fn parse(
        py: Python<'py>,
        name: &str,
        kwargs: Option<&Bound<'py, PyDict>>,
        default_axis: Option<isize>,
    ) -> PyResult<ReduceArgs<'py>> {
        let mut r = ReduceArgs {
            axis: default_axis.map(|a| vec![a]),
            keepdims: false,
            dtype: None,
            out: None,
            ddof: 0.0,
            ufunc: false,
            name: name.to_string(),
        };
        let Some(k) = kwargs else { return Ok(r) };
        for (key, v) in k.iter() {
            let key: String = key.extract()?;
            match key.as_str() {
                "axis" if v.is_none() => r.axis = None,
                "axis" => r.axis = Some(v.extract::<isize>().map(|a| vec![a]).or_else(|_| v.extract::<Vec<isize>>())?),
                "keepdims" => r.keepdims = v.is_truthy()?,
                "dtype" if !v.is_none() => r.dtype = Some(dtype::of(py, &v, name)?),
                "out" if !v.is_none() => r.out = Some(v),
                "ddof" => r.ddof = v.extract()?,
                "where" if dtype::weak_kind(&v) == Some(Weak::Bool) && v.is_truthy()? => {}
                _ if v.is_none() => {}
                _ => return Err(GpujitError::new_err(format!("{name}: the keyword `{key}` is not supported on gpujit arrays"))),
            }
        }
        Ok(r)
    }

    /// The axes normalized for `ndim` dimensions (sorted, each once).
    fn axes(&self, ndim: usize) -> PyResult<Vec<usize>> {
        let what = if self.ufunc { format!("{}.reduce", self.name) } else { self.name.clone() };
        let Some(axes) = &self.axis else { return Ok((0..ndim).collect()) };
        if ndim == 0 && !axes.is_empty() {
            if axes.iter().all(|&a| a == 0 || a == -1) {
                return Ok(Vec::new());
            }
            return Err(PyValueError::new_err(format!("{what}: a 0-d array has no axis to reduce")));
        }
        let mut out = Vec::new();
        for &a in axes {
            let n = ndim as isize;
            if a < -n || a >= n {
                return Err(PyValueError::new_err(format!("{what}: axis {a} is out of bounds for an array of {n} dimensions")));
            }
            let a = a.rem_euclid(n) as usize;
            if out.contains(&a) {
                return Err(PyValueError::new_err(format!("{what}: duplicate value in 'axis'")));
            }
            out.push(a);
        }
        out.sort_unstable();
        Ok(out)
    }
}

/// The default accumulation dtype of `sum`/`prod` of `t`: NumPy's (small integers and bool as
/// 64-bit).
fn sum_dtype(t: ScalarType) -> ScalarType {
    match dtype::kind(t) {
        'b' | 'i' => I64,
        'u' => U64,
        _ => t,
    }
}

/// The term of a reduction's input: a gpujit array or a traced value.
fn input_term(x: &Bound<'_, PyAny>, what: &str) -> PyResult<Term> {
    match operand(x)? {
        Some(Operand::Term(t)) => Ok(t),
        Some(Operand::Weak(v, w)) => Ok(Term::scalar(dtype::scalar(&v, dtype::weak_default(w))?, dtype::weak_default(w))),
        None => Err(PyTypeError::new_err(format!("{what}: expected a gpujit.Array, not {}", x.get_type().name()?))),
    }
}

/// Reduction `op` of `x` (a gpujit array or traced value) with `args`.
pub(crate) fn reduce(py: Python<'_>, x: &Bound<'_, PyAny>, op: Reduce, args: ReduceArgs<'_>) -> PyResult<Py<PyAny>> {
    let what = if args.ufunc { format!("{}.reduce", args.name) } else { op.name().to_string() };
    let term = input_term(x, &what)?;
    let result = reduce_term(py, &what, term, op, &args)?;
    if let Some(out_obj) = &args.out {
        let out = ours(out_obj, &format!("{what}: out="))?;
        if out.shape != result.shape {
            return Err(PyValueError::new_err(format!(
                "{what}: output parameter has shape {:?}, the result {:?}",
                out.shape, result.shape
            )));
        }
        eval_into(py, &[Term::array(&result).cast(out.elem)?], std::slice::from_ref(&out))?;
        return Ok(out_obj.clone().unbind());
    }
    PyArray::new(result).into_py(py)
}

/// The reduction of `term` as a new array.
fn reduce_term(py: Python<'_>, what: &str, term: Term, op: Reduce, args: &ReduceArgs<'_>) -> PyResult<Strided> {
    let shape = term.shape.clone();
    let nd = shape.len();
    let axes = args.axes(nd)?;
    let out_shape: Vec<usize> =
        (0..nd).filter_map(|i| if axes.contains(&i) { args.keepdims.then_some(1) } else { Some(shape[i]) }).collect();
    let k: usize = axes.iter().map(|&a| shape[a]).product();
    let dev = match term.device(what)? {
        Some(d) => d,
        None => Device::current().map_err(to_py_err)?,
    };
    let t = term.dtype;
    match op {
        Reduce::Sum | Reduce::Prod => {
            let acc = args.dtype.unwrap_or(sum_dtype(t));
            if acc == Bool {
                return Err(GpujitError::new_err(format!("{what}: dtype=bool is not supported on gpujit arrays")));
            }
            let rop = if op == Reduce::Sum { ReduceOp::Sum } else { ReduceOp::Prod };
            run_reduce(py, term.cast(acc)?, rop, false, acc, &axes, &out_shape, &dev)
        }
        Reduce::Min | Reduce::Max => {
            if is_complex(t) {
                let which = if op == Reduce::Max { "maximum" } else { "minimum" };
                return Err(GpujitError::new_err(format!("{which}.reduce is not supported on complex gpujit arrays")));
            }
            if k == 0 && out_shape.iter().product::<usize>() > 0 {
                let which = if op == Reduce::Max { "maximum" } else { "minimum" };
                return Err(PyValueError::new_err(format!("zero-size array to reduction operation {which} which has no identity")));
            }
            let rop = if op == Reduce::Max { ReduceOp::Max } else { ReduceOp::Min };
            if t == Bool {
                let r = run_reduce(py, term.cast(U8)?, rop, false, U8, &axes, &out_shape, &dev)?;
                return astype(py, &r, Bool);
            }
            run_reduce(py, term, rop, false, t, &axes, &out_shape, &dev)
        }
        Reduce::Any | Reduce::All => {
            let empty = Term::constant(if op == Reduce::All { 1.0 } else { 0.0 }, Bool).broadcast_to(&out_shape)?;
            if k == 0 {
                return eval_new(py, &empty, Some(&dev));
            }
            let rop = if op == Reduce::Any { ReduceOp::Max } else { ReduceOp::Min };
            let r = run_reduce(py, term.cast(Bool)?.cast(U8)?, rop, false, U8, &axes, &out_shape, &dev)?;
            astype(py, &r, Bool)
        }
        Reduce::ArgMin | Reduce::ArgMax => {
            if is_complex(t) {
                return Err(GpujitError::new_err(format!("{what} is not supported on complex gpujit arrays")));
            }
            if axes.len() != 1 && axes.len() != nd {
                return Err(GpujitError::new_err(format!("{what} takes one axis or none")));
            }
            if k == 0 {
                return Err(PyValueError::new_err(format!("attempt to get {what} of an empty sequence")));
            }
            let input = if t == Bool { term.cast(U8)? } else { term };
            let rop = if op == Reduce::ArgMax { ReduceOp::ArgMax } else { ReduceOp::ArgMin };
            let r = run_reduce(py, input, rop, false, U64, &axes, &out_shape, &dev)?;
            astype(py, &r, I64)
        }
        Reduce::Mean | Reduce::Var | Reduce::Std => {
            let acc = match args.dtype {
                Some(d) => d,
                None if is_float(t) || is_complex(t) => t,
                None => F64,
            };
            if acc == Bool {
                return Err(GpujitError::new_err(format!("{what}: dtype=bool is not supported on gpujit arrays")));
            }
            // An integer dtype: computed in float64, then converted (NumPy's unsafe cast).
            let work = if is_int(acc) { F64 } else { acc };
            let x = term.cast(work)?;
            if op == Reduce::Mean {
                let m = run_reduce(py, x, ReduceOp::Sum, true, work, &axes, &out_shape, &dev)?;
                return if work != acc { astype(py, &m, acc) } else { Ok(m) };
            }
            // var = sum(|x - mean|²) / (n - ddof); the mean kept with the reduced axes as 1s.
            let kept: Vec<usize> = (0..nd).map(|i| if axes.contains(&i) { 1 } else { shape[i] }).collect();
            let m = run_reduce(py, x.clone(), ReduceOp::Sum, true, work, &axes, &kept, &dev)?;
            let d = x.bin(BinOp::Sub, Term::array(&m))?;
            let real = work.component().unwrap_or(work);
            let sq = if is_complex(work) { d.complex_fn(ComplexFn::NormSqr, real)? } else { d.clone().bin(BinOp::Mul, d)? };
            let s = run_reduce(py, sq, ReduceOp::Sum, false, real, &axes, &out_shape, &dev)?;
            let n = Term::constant(k as f64 - args.ddof, real);
            let mut v = Term::array(&s).bin(BinOp::Div, n)?;
            if op == Reduce::Std {
                v = v.math(MathFn::Sqrt)?;
            }
            let out_t = if is_int(acc) { acc } else { real };
            eval_new(py, &v.cast(out_t)?, Some(&dev))
        }
    }
}

/// Runs a runtime reduction of `term` (of `elem` elements) along `axes` into a new array of
/// `out_shape` and `out_elem`.
#[allow(clippy::too_many_arguments)]
fn run_reduce(
    py: Python<'_>,
    term: Term,
    op: ReduceOp,
    mean: bool,
    out_elem: ScalarType,
    axes: &[usize],
    out_shape: &[usize],
    dev: &Device,
) -> PyResult<Strided> {
    let out = Strided::uninit(out_elem, out_shape, dev)?;
    if out.size() == 0 {
        return Ok(out);
    }
    let full = term.shape.is_empty() || axes.len() == term.shape.len();
    // A scalar-only term: reduce a one-element array holding it.
    let term = if term.shape.is_empty() { Term::array(&eval_new(py, &term, Some(dev))?) } else { term };
    let mut leaves = Vec::new();
    term.leaves(&mut leaves);
    let views: Vec<ExternalArray<'_>> = leaves.iter().map(|l| l.view(false)).collect::<PyResult<_>>()?;
    let expr = term.lower(&leaves, &views);
    let axes_of: Vec<usize> = if term.shape.is_empty() { vec![0] } else { axes.to_vec() };
    let mut ov = out.view(true)?;
    let out_arg = (&mut ov).into_arg();
    let r = expr.reduce(op, mean, out_elem);
    let r = if full { r } else { r.axes(&axes_of) };
    py.detach(|| r.eval_into(out_arg)).map_err(to_py_err)?;
    Ok(out)
}
