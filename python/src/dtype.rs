//! Element types as NumPy sees them: names, `numpy.dtype` objects, NumPy 2's promotion rules
//! (NEP 50, Python scalars "weak"), casting kinds, and Python values as kernel scalars.

use crate::import::GpujitError;
use ::gpujit::codegen::ScalarType;
use ::gpujit::runtime::launch::value_arg;
use ::gpujit::runtime::Arg;
use num_complex::Complex;
use pyo3::exceptions::{PyOverflowError, PyTypeError};
use pyo3::prelude::*;
use ScalarType::*;

/// Every element type a `gpujit.Array` holds.
pub(crate) const ALL: [ScalarType; 15] = [Bool, I8, I16, I32, I64, U8, U16, U32, U64, F16, BF16, F32, F64, Complex32, Complex64];

/// NumPy's name of `t` (`bfloat16` as ml_dtypes names it).
pub(crate) fn name(t: ScalarType) -> &'static str {
    match t {
        Bool => "bool",
        I8 => "int8",
        I16 => "int16",
        I32 => "int32",
        I64 => "int64",
        U8 => "uint8",
        U16 => "uint16",
        U32 => "uint32",
        U64 => "uint64",
        F16 => "float16",
        BF16 => "bfloat16",
        F32 => "float32",
        F64 => "float64",
        Complex32 => "complex64",
        Complex64 => "complex128",
        _ => "unsupported",
    }
}

/// The element type of NumPy name `s`.
pub(crate) fn from_name(s: &str) -> Option<ScalarType> {
    ALL.iter().copied().find(|t| name(*t) == s)
}

/// `t` as a `numpy.dtype` (bfloat16 through ml_dtypes; its name where that or NumPy is missing).
pub(crate) fn numpy_dtype(py: Python<'_>, t: ScalarType) -> PyResult<Py<PyAny>> {
    let np = match py.import("numpy") {
        Ok(np) => np,
        Err(_) => return Ok(pyo3::types::PyString::new(py, name(t)).into_any().unbind()),
    };
    if t == BF16 {
        return match py.import("ml_dtypes") {
            Ok(m) => Ok(np.getattr("dtype")?.call1((m.getattr("bfloat16")?,))?.unbind()),
            Err(_) => Ok(pyo3::types::PyString::new(py, "bfloat16").into_any().unbind()),
        };
    }
    Ok(np.getattr("dtype")?.call1((name(t),))?.unbind())
}

/// The element type a `dtype=` argument names: a name, a NumPy type or `numpy.dtype`, ml_dtypes'
/// bfloat16. `what` names the function for errors.
pub(crate) fn of(py: Python<'_>, v: &Bound<'_, PyAny>, what: &str) -> PyResult<ScalarType> {
    if let Ok(s) = v.extract::<String>() {
        if let Some(t) = from_name(&s) {
            return Ok(t);
        }
    }
    let found: String = match py.import("numpy").and_then(|np| np.getattr("dtype")?.call1((v,))) {
        Ok(d) => d.getattr("name")?.extract()?,
        Err(_) => v.str()?.extract()?,
    };
    from_name(&found).ok_or_else(|| unsupported(what, &found))
}

/// The error for an element type gpujit arrays do not hold.
pub(crate) fn unsupported(what: &str, found: &str) -> PyErr {
    PyTypeError::new_err(format!(
        "{what}: gpujit arrays hold no {found} elements (they hold bool, int8-64, uint8-64, float16, bfloat16, float32, float64, complex64, complex128)"
    ))
}

/// NumPy's kind letter: `b`, `i`, `u`, `f`, `c`.
pub(crate) fn kind(t: ScalarType) -> char {
    match t {
        Bool => 'b',
        I8 | I16 | I32 | I64 => 'i',
        U8 | U16 | U32 | U64 => 'u',
        F16 | BF16 | F32 | F64 => 'f',
        _ => 'c',
    }
}

fn signed_of(bytes: usize) -> ScalarType {
    match bytes {
        1 => I8,
        2 => I16,
        4 => I32,
        _ => I64,
    }
}

/// The smallest float that holds every value of integer (or bool) type `t`, as NumPy promotes.
fn float_for_int(t: ScalarType) -> ScalarType {
    match t {
        Bool | I8 | U8 => F16,
        I16 | U16 => F32,
        _ => F64,
    }
}

fn promote_floats(a: ScalarType, b: ScalarType) -> ScalarType {
    match (a, b) {
        _ if a == b => a,
        (F16, BF16) | (BF16, F16) => F32,
        _ if a.size_bytes() >= b.size_bytes() => a,
        _ => b,
    }
}

/// NumPy's result type of two array dtypes.
pub(crate) fn promote(a: ScalarType, b: ScalarType) -> ScalarType {
    match (kind(a), kind(b)) {
        _ if a == b => a,
        ('b', _) => b,
        (_, 'b') => a,
        ('i', 'i') | ('u', 'u') => {
            if a.size_bytes() >= b.size_bytes() {
                a
            } else {
                b
            }
        }
        ('i', 'u') | ('u', 'i') => {
            let (s, u) = if kind(a) == 'i' { (a, b) } else { (b, a) };
            if s.size_bytes() > u.size_bytes() {
                s
            } else if u.size_bytes() < 8 {
                signed_of(2 * u.size_bytes())
            } else {
                F64
            }
        }
        ('f', 'f') => promote_floats(a, b),
        ('f', _) | (_, 'f') if kind(a) != 'c' && kind(b) != 'c' => {
            let (f, i) = if kind(a) == 'f' { (a, b) } else { (b, a) };
            promote_floats(f, float_for_int(i))
        }
        _ => {
            // A complex type: the parts' type is the promotion of the real parts.
            let part = |t: ScalarType| match t {
                Complex32 => F32,
                Complex64 => F64,
                t if kind(t) == 'f' => t,
                t => float_for_int(t),
            };
            if promote_floats(part(a), part(b)).size_bytes() <= 4 {
                Complex32
            } else {
                Complex64
            }
        }
    }
}

/// The kind of a Python scalar operand (NEP 50's weak scalars): bool, int, float, complex.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Weak {
    Bool,
    Int,
    Float,
    Complex,
}

/// The dtype of an operation of an array of `t` with a Python scalar of kind `w`: the array's,
/// unless the scalar's kind is higher (NumPy 2).
pub(crate) fn with_weak(t: ScalarType, w: Weak) -> ScalarType {
    match (w, kind(t)) {
        (Weak::Int, 'b') => I64,
        (Weak::Float, 'b' | 'i' | 'u') => F64,
        (Weak::Complex, 'b' | 'i' | 'u') => Complex64,
        (Weak::Complex, 'f') => {
            if t == F64 {
                Complex64
            } else {
                Complex32
            }
        }
        _ => t,
    }
}

/// The dtype of a Python scalar on its own: NumPy's defaults.
pub(crate) fn weak_default(w: Weak) -> ScalarType {
    match w {
        Weak::Bool => Bool,
        Weak::Int => I64,
        Weak::Float => F64,
        Weak::Complex => Complex64,
    }
}

/// The type a float-only operation (true division, `sin`, ...) computes an operand of `t` in,
/// as NumPy chooses (int8 → float16, int16 → float32, int32 and wider → float64).
pub(crate) fn inexact(t: ScalarType) -> ScalarType {
    match kind(t) {
        'b' | 'i' | 'u' => float_for_int(t),
        _ => t,
    }
}

/// Whether NumPy's `same_kind` casting allows `from` → `to` (what `out=` requires).
pub(crate) fn same_kind(from: ScalarType, to: ScalarType) -> bool {
    let rank = |t: ScalarType| match kind(t) {
        'b' => 0,
        'u' => 1,
        'i' => 1,
        'f' => 2,
        _ => 3,
    };
    if from == to || rank(from) < rank(to) {
        return true;
    }
    if rank(from) > rank(to) {
        return false;
    }
    match (kind(from), kind(to)) {
        // Signed into unsigned is not the same kind; unsigned into signed is.
        ('i', 'u') => false,
        _ => true,
    }
}

/// A Python value as a kernel scalar of type `t` (NumPy's conversion: integers must fit).
pub(crate) fn scalar(v: &Bound<'_, PyAny>, t: ScalarType) -> PyResult<Arg<'static>> {
    let int = |lo: i128, hi: i128| -> PyResult<i128> {
        let x: i128 = match v.extract::<i128>() {
            Ok(x) => x,
            Err(_) => v.extract::<f64>()? as i128,
        };
        if x < lo || x > hi {
            return Err(PyOverflowError::new_err(format!("Python integer {x} out of bounds for {}", name(t))));
        }
        Ok(x)
    };
    let re = || -> PyResult<f64> {
        match v.extract::<f64>() {
            Ok(x) => Ok(x),
            Err(_) => Ok(v.extract::<Complex<f64>>()?.re),
        }
    };
    Ok(match t {
        Bool => value_arg(v.is_truthy()?),
        I8 => value_arg(int(i8::MIN as i128, i8::MAX as i128)? as i8),
        I16 => value_arg(int(i16::MIN as i128, i16::MAX as i128)? as i16),
        I32 => value_arg(int(i32::MIN as i128, i32::MAX as i128)? as i32),
        I64 => value_arg(int(i64::MIN as i128, i64::MAX as i128)? as i64),
        U8 => value_arg(int(0, u8::MAX as i128)? as u8),
        U16 => value_arg(int(0, u16::MAX as i128)? as u16),
        U32 => value_arg(int(0, u32::MAX as i128)? as u32),
        U64 => value_arg(int(0, u64::MAX as i128)? as u64),
        F16 => value_arg(half::f16::from_f64(re()?)),
        BF16 => value_arg(half::bf16::from_f64(re()?)),
        F32 => value_arg(re()? as f32),
        F64 => value_arg(re()?),
        Complex32 => {
            let z = v.extract::<Complex<f64>>()?;
            value_arg(Complex::new(z.re as f32, z.im as f32))
        }
        Complex64 => value_arg(v.extract::<Complex<f64>>()?),
        other => return Err(GpujitError::new_err(format!("no Python scalar of type {other}"))),
    })
}

/// The weak kind of a Python scalar (`bool`, `int`, `float`, `complex`), `None` for anything
/// else (NumPy scalars have a dtype and are not weak).
pub(crate) fn weak_kind(v: &Bound<'_, PyAny>) -> Option<Weak> {
    use pyo3::types::{PyBool, PyComplex, PyFloat, PyInt};
    if v.is_exact_instance_of::<PyBool>() {
        Some(Weak::Bool)
    } else if v.is_exact_instance_of::<PyInt>() {
        Some(Weak::Int)
    } else if v.is_exact_instance_of::<PyFloat>() {
        Some(Weak::Float)
    } else if v.is_exact_instance_of::<PyComplex>() {
        Some(Weak::Complex)
    } else {
        None
    }
}
