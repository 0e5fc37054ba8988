//! NumPy's ufunc protocol (NEP 13) on `gpujit.Array`: `np.add(a, b)`, `np.sin(a)`, `a < b`,
//! `np.maximum.reduce(a, axis=1)`, ... run as gpujit kernels on the arrays' device and return a
//! `gpujit.Array`. Operands are gpujit arrays and Python or NumPy scalars, broadcast by NumPy's
//! rules up to 4 dimensions and promoted by NumPy's rules (scalars are weak). Anything else
//! returns `NotImplemented`, so NumPy raises its usual `TypeError`.

// Kernels test for NaN as `a != a` (the kernel language has no `is_nan`).
#![allow(clippy::eq_op)]

use crate::import::{to_py_err, GpujitError};
use crate::module::{dtype_name, filled, Data, PyArray};
use ::gpujit::codegen::ScalarType;
use ::gpujit::prelude::*;
use ::gpujit::runtime::{Arg, Device, ExternalArray, KernelArg};
use num_complex::Complex;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

/// The combining operations of binary ufuncs and reductions.
const ADD: u32 = 0;
const SUBTRACT: u32 = 1;
const MULTIPLY: u32 = 2;
const MAXIMUM: u32 = 3;
const MINIMUM: u32 = 4;

#[gpu_device]
fn combine<T: Number>(a: T, b: T, op: u32) -> T {
    match op {
        0 => a + b,
        1 => a - b,
        2 => a * b,
        // NaN propagates, as in NumPy.
        3 => {
            if a > b || a != a {
                a
            } else {
                b
            }
        }
        _ => {
            if a < b || a != a {
                a
            } else {
                b
            }
        }
    }
}

#[gpu_kernel]
fn ufunc_binary<T: Number>(x: &Array<T, 4>, y: &Array<T, 4>, out: &mut Array<T, 4>, op: u32) {
    let i = grid(1);
    let (d1, d2, d3) = (out.shape(1), out.shape(2), out.shape(3));
    if i < out.shape(0) * d1 * d2 * d3 {
        let (h, j, k, l) = (i / (d1 * d2 * d3), i / (d2 * d3) % d1, i / d3 % d2, i % d3);
        out[[h, j, k, l]] = combine(x[[h, j, k, l]], y[[h, j, k, l]], op);
    }
}

#[gpu_kernel]
fn ufunc_float_binary<T: Float>(x: &Array<T, 4>, y: &Array<T, 4>, out: &mut Array<T, 4>, op: u32) {
    let i = grid(1);
    let (d1, d2, d3) = (out.shape(1), out.shape(2), out.shape(3));
    if i < out.shape(0) * d1 * d2 * d3 {
        let (h, j, k, l) = (i / (d1 * d2 * d3), i / (d2 * d3) % d1, i / d3 % d2, i % d3);
        let (a, b) = (x[[h, j, k, l]], y[[h, j, k, l]]);
        out[[h, j, k, l]] = if op == 0 { a / b } else { a.powf(b) };
    }
}

#[gpu_kernel]
fn ufunc_compare<T: Scalar>(x: &Array<T, 4>, y: &Array<T, 4>, out: &mut Array<bool, 4>, op: u32) {
    let i = grid(1);
    let (d1, d2, d3) = (out.shape(1), out.shape(2), out.shape(3));
    if i < out.shape(0) * d1 * d2 * d3 {
        let (h, j, k, l) = (i / (d1 * d2 * d3), i / (d2 * d3) % d1, i / d3 % d2, i % d3);
        let (a, b) = (x[[h, j, k, l]], y[[h, j, k, l]]);
        out[[h, j, k, l]] = match op {
            0 => a == b,
            1 => a != b,
            2 => a < b,
            3 => a <= b,
            4 => a > b,
            _ => a >= b,
        };
    }
}

#[gpu_kernel]
fn ufunc_float_unary<T: Float>(x: &Array<T, 4>, out: &mut Array<T, 4>, op: u32) {
    let i = grid(1);
    let (d1, d2, d3) = (out.shape(1), out.shape(2), out.shape(3));
    if i < out.shape(0) * d1 * d2 * d3 {
        let (h, j, k, l) = (i / (d1 * d2 * d3), i / (d2 * d3) % d1, i / d3 % d2, i % d3);
        let a = x[[h, j, k, l]];
        out[[h, j, k, l]] = match op {
            0 => -a,
            1 => a.abs(),
            2 => a.exp(),
            3 => a.ln(),
            4 => a.sin(),
            5 => a.cos(),
            6 => a.tanh(),
            _ => a.sqrt(),
        };
    }
}

#[gpu_kernel]
fn ufunc_int_unary<T: Int>(x: &Array<T, 4>, out: &mut Array<T, 4>, op: u32) {
    let i = grid(1);
    let (d1, d2, d3) = (out.shape(1), out.shape(2), out.shape(3));
    if i < out.shape(0) * d1 * d2 * d3 {
        let (h, j, k, l) = (i / (d1 * d2 * d3), i / (d2 * d3) % d1, i / d3 % d2, i % d3);
        let a = x[[h, j, k, l]];
        let zero = a - a;
        out[[h, j, k, l]] = if op == 0 || a < zero { zero - a } else { a };
    }
}

macro_rules! int_power_kernels {
    ($($name:ident: $t:ty;)*) => {$(
        /// `x ** y` by squaring, wrapping on overflow as NumPy does. A negative exponent gives the
        /// truncated result (1 for a base of 1, ±1 for -1, else 0) where NumPy raises.
        #[gpu_kernel]
        fn $name(x: &Array<$t, 4>, y: &Array<$t, 4>, out: &mut Array<$t, 4>) {
            let i = grid(1);
            let (d1, d2, d3) = (out.shape(1), out.shape(2), out.shape(3));
            if i < out.shape(0) * d1 * d2 * d3 {
                let (h, j, k, l) = (i / (d1 * d2 * d3), i / (d2 * d3) % d1, i / d3 % d2, i % d3);
                let (mut base, mut e) = (x[[h, j, k, l]], y[[h, j, k, l]]);
                let mut r: $t = 1;
                if e < 0 {
                    r = if base == 1 {
                        1
                    } else if base == -1 {
                        if e % 2 == 0 { 1 } else { -1 }
                    } else {
                        0
                    };
                } else {
                    while e > 0 {
                        if e % 2 == 1 {
                            r *= base; // kernel arithmetic wraps
                        }
                        base *= base;
                        e /= 2;
                    }
                }
                out[[h, j, k, l]] = r;
            }
        }
    )*};
}

int_power_kernels! {
    ufunc_power_i32: i32;
    ufunc_power_i64: i64;
}

/// `ufunc_complex_unary` op codes beyond the float ones (`negative` 0, `exp` 2, `log` 3,
/// `sqrt` 7).
const CONJUGATE: u32 = 8;
const IDENTITY: u32 = 9;
/// `ufunc_complex_binary`'s code for division (after ADD, SUBTRACT, MULTIPLY).
const DIVIDE: u32 = 5;

macro_rules! complex_kernels {
    ($($binary:ident, $compare:ident, $unary:ident, $abs:ident, $reduce:ident: $c:ty, $r:ty;)*) => {$(
        #[gpu_kernel]
        fn $binary(x: &Array<$c, 4>, y: &Array<$c, 4>, out: &mut Array<$c, 4>, op: u32) {
            let i = grid(1);
            let (d1, d2, d3) = (out.shape(1), out.shape(2), out.shape(3));
            if i < out.shape(0) * d1 * d2 * d3 {
                let (h, j, k, l) = (i / (d1 * d2 * d3), i / (d2 * d3) % d1, i / d3 % d2, i % d3);
                let (a, b) = (x[[h, j, k, l]], y[[h, j, k, l]]);
                out[[h, j, k, l]] = match op {
                    0 => a + b,
                    1 => a - b,
                    2 => a * b,
                    _ => a / b,
                };
            }
        }

        #[gpu_kernel]
        fn $compare(x: &Array<$c, 4>, y: &Array<$c, 4>, out: &mut Array<bool, 4>, op: u32) {
            let i = grid(1);
            let (d1, d2, d3) = (out.shape(1), out.shape(2), out.shape(3));
            if i < out.shape(0) * d1 * d2 * d3 {
                let (h, j, k, l) = (i / (d1 * d2 * d3), i / (d2 * d3) % d1, i / d3 % d2, i % d3);
                let (a, b) = (x[[h, j, k, l]], y[[h, j, k, l]]);
                out[[h, j, k, l]] = if op == 0 { a == b } else { a != b };
            }
        }

        #[gpu_kernel]
        fn $unary(x: &Array<$c, 4>, out: &mut Array<$c, 4>, op: u32) {
            let i = grid(1);
            let (d1, d2, d3) = (out.shape(1), out.shape(2), out.shape(3));
            if i < out.shape(0) * d1 * d2 * d3 {
                let (h, j, k, l) = (i / (d1 * d2 * d3), i / (d2 * d3) % d1, i / d3 % d2, i % d3);
                let a = x[[h, j, k, l]];
                out[[h, j, k, l]] = match op {
                    0 => -a,
                    2 => a.exp(),
                    3 => a.ln(),
                    7 => a.sqrt(),
                    8 => a.conj(),
                    _ => a,
                };
            }
        }

        /// `absolute`: the modulus, a real.
        #[gpu_kernel]
        fn $abs(x: &Array<$c, 4>, out: &mut Array<$r, 4>) {
            let i = grid(1);
            let (d1, d2, d3) = (out.shape(1), out.shape(2), out.shape(3));
            if i < out.shape(0) * d1 * d2 * d3 {
                let (h, j, k, l) = (i / (d1 * d2 * d3), i / (d2 * d3) % d1, i / d3 % d2, i % d3);
                out[[h, j, k, l]] = x[[h, j, k, l]].norm();
            }
        }

        /// Sums (ADD) or products (MULTIPLY) of the last axis of `x` into `out`.
        #[gpu_kernel]
        fn $reduce(x: &Array<$c, 4>, out: &mut Array<$c, 4>, op: u32) {
            let i = grid(1);
            let (d1, d2) = (out.shape(1), out.shape(2));
            if i < out.shape(0) * d1 * d2 {
                let (h, j, k) = (i / (d1 * d2), i / d2 % d1, i % d2);
                let mut acc = x[[h, j, k, 0]];
                for l in 1..x.shape(3) {
                    if op == 0 {
                        acc += x[[h, j, k, l]];
                    } else {
                        acc *= x[[h, j, k, l]];
                    }
                }
                out[[h, j, k, 0]] = acc;
            }
        }
    )*};
}

complex_kernels! {
    ufunc_complex_binary_c64, ufunc_complex_compare_c64, ufunc_complex_unary_c64, ufunc_complex_abs_c64, ufunc_complex_reduce_c64: Complex<f32>, f32;
    ufunc_complex_binary_c128, ufunc_complex_compare_c128, ufunc_complex_unary_c128, ufunc_complex_abs_c128, ufunc_complex_reduce_c128: Complex<f64>, f64;
}

/// The complex kernels of a complex dtype: (binary, compare, unary, absolute, reduce).
fn complex_kernels(t: ScalarType) -> Option<[&'static ::gpujit::runtime::Kernel; 5]> {
    Some(match t {
        ScalarType::Complex32 => [
            &*ufunc_complex_binary_c64,
            &*ufunc_complex_compare_c64,
            &*ufunc_complex_unary_c64,
            &*ufunc_complex_abs_c64,
            &*ufunc_complex_reduce_c64,
        ],
        ScalarType::Complex64 => [
            &*ufunc_complex_binary_c128,
            &*ufunc_complex_compare_c128,
            &*ufunc_complex_unary_c128,
            &*ufunc_complex_abs_c128,
            &*ufunc_complex_reduce_c128,
        ],
        _ => return None,
    })
}

/// Reduces the last axis of `x` into `out` (whose last extent is 1).
#[gpu_kernel]
fn ufunc_reduce<T: Number>(x: &Array<T, 4>, out: &mut Array<T, 4>, op: u32) {
    let i = grid(1);
    let (d1, d2) = (out.shape(1), out.shape(2));
    if i < out.shape(0) * d1 * d2 {
        let (h, j, k) = (i / (d1 * d2), i / d2 % d1, i % d2);
        let mut acc = x[[h, j, k, 0]];
        for l in 1..x.shape(3) {
            acc = combine(acc, x[[h, j, k, l]], op);
        }
        out[[h, j, k, 0]] = acc;
    }
}

enum Op {
    /// `ufunc_binary` (any number type).
    Binary(u32),
    /// `ufunc_float_binary`: 0 divide, 1 power.
    FloatBinary(u32),
    Compare(u32),
    /// Float and integer op codes of a unary ufunc (integers: `None` when undefined for them).
    Unary(u32, Option<u32>),
}

fn op_of(name: &str) -> Option<Op> {
    Some(match name {
        "add" => Op::Binary(ADD),
        "subtract" => Op::Binary(SUBTRACT),
        "multiply" => Op::Binary(MULTIPLY),
        "maximum" => Op::Binary(MAXIMUM),
        "minimum" => Op::Binary(MINIMUM),
        "divide" | "true_divide" => Op::FloatBinary(0),
        "power" => Op::FloatBinary(1),
        "equal" => Op::Compare(0),
        "not_equal" => Op::Compare(1),
        "less" => Op::Compare(2),
        "less_equal" => Op::Compare(3),
        "greater" => Op::Compare(4),
        "greater_equal" => Op::Compare(5),
        "negative" => Op::Unary(0, Some(0)),
        "absolute" => Op::Unary(1, Some(1)),
        "exp" => Op::Unary(2, None),
        "log" => Op::Unary(3, None),
        "sin" => Op::Unary(4, None),
        "cos" => Op::Unary(5, None),
        "tanh" => Op::Unary(6, None),
        "sqrt" => Op::Unary(7, None),
        "conjugate" => Op::Unary(CONJUGATE, None),
        _ => return None,
    })
}

/// The gpujit element type of a NumPy `dtype=` argument (a type, a name or a `numpy.dtype`).
pub(crate) fn dtype_of(py: Python<'_>, v: &Bound<'_, PyAny>, what: &str) -> PyResult<ScalarType> {
    let name: String = py.import("numpy")?.getattr("dtype")?.call1((v,))?.getattr("name")?.extract()?;
    Ok(match name.as_str() {
        "bool" => ScalarType::Bool,
        "float32" => ScalarType::F32,
        "float64" => ScalarType::F64,
        "int32" => ScalarType::I32,
        "int64" => ScalarType::I64,
        "complex64" => ScalarType::Complex32,
        "complex128" => ScalarType::Complex64,
        _ => {
            return Err(GpujitError::new_err(format!(
                "{what}: dtype={name} is not supported on gpujit arrays (bool, float32, float64, int32, int64, complex64, complex128)"
            )))
        }
    })
}

fn is_float(t: ScalarType) -> bool {
    matches!(t, ScalarType::F32 | ScalarType::F64)
}

/// An array's shape and element strides as a 4-D view broadcast to `out` (leading axes added,
/// size-1 axes stretched with stride 0).
fn broadcast4(shape: &[usize], out: &[usize]) -> ([usize; 4], [isize; 4]) {
    let contiguous = ::gpujit::runtime::Layout::contiguous(shape).strides;
    let (mut s, mut st) = ([1usize; 4], [0isize; 4]);
    let pad = 4 - out.len();
    for (i, &o) in out.iter().enumerate() {
        s[pad + i] = o;
        let k = (i + shape.len()).checked_sub(out.len());
        st[pad + i] = match k {
            Some(k) if shape[k] == o && o != 1 => contiguous[k],
            _ => 0,
        };
    }
    (s, st)
}

/// NumPy's broadcasting of `shapes` (at most 4 dimensions).
fn broadcast_shape(shapes: &[Vec<usize>], ufunc: &str) -> PyResult<Vec<usize>> {
    let n = shapes.iter().map(Vec::len).max().unwrap_or(0);
    if n > 4 {
        return Err(GpujitError::new_err(format!("{ufunc}: gpujit ufuncs take arrays of at most 4 dimensions, not {n}")));
    }
    let mut out = vec![1usize; n];
    for s in shapes {
        for (i, &d) in s.iter().enumerate() {
            let o = &mut out[n - s.len() + i];
            if *o == 1 {
                *o = d;
            } else if d != 1 && d != *o {
                return Err(PyValueError::new_err(format!("{ufunc}: operands could not be broadcast together with shapes {shapes:?}")));
            }
        }
    }
    Ok(out)
}

pub(crate) fn launch(py: Python<'_>, kernel: &::gpujit::runtime::Kernel, n: usize, args: &[Arg<'_>]) -> PyResult<()> {
    if n == 0 {
        return Ok(());
    }
    py.detach(|| kernel.launch(LaunchConfig::for_elements(n, 256), args)).map_err(to_py_err)
}

/// An operand as given: one of our arrays, or a scalar.
enum Operand<'py> {
    Array(Data, Vec<usize>),
    /// A Python or NumPy scalar, and its kind: 0 bool, 1 integer, 2 float, 3 complex.
    Scalar(Bound<'py, PyAny>, u8),
}

fn operand<'py>(x: &Bound<'py, PyAny>) -> PyResult<Option<Operand<'py>>> {
    if let Ok(a) = x.downcast::<PyArray>() {
        return Ok(Some(Operand::Array(a.get().data.clone(), a.get().shape.clone())));
    }
    let is_scalar = match x.getattr("shape") {
        Ok(s) => s.extract::<Vec<usize>>().map(|s| s.is_empty()).unwrap_or(false),
        Err(_) => true,
    };
    if !is_scalar {
        return Ok(None);
    }
    if x.extract::<f64>().is_err() {
        // A Python or NumPy complex scalar.
        let complex = x.is_instance_of::<pyo3::types::PyComplex>()
            || x.getattr("dtype").and_then(|d| d.getattr("kind")).and_then(|k| k.extract::<String>()).is_ok_and(|k| k == "c");
        return Ok((complex && x.extract::<Complex<f64>>().is_ok()).then(|| Operand::Scalar(x.clone(), 3)));
    }
    let kind = if x.is_instance_of::<pyo3::types::PyBool>()
        || x.getattr("dtype").and_then(|d| d.getattr("kind")).and_then(|k| k.extract::<String>()).is_ok_and(|k| k == "b")
    {
        0
    } else if x.extract::<i64>().is_ok() && !x.is_instance_of::<pyo3::types::PyFloat>() {
        1
    } else {
        2
    };
    Ok(Some(Operand::Scalar(x.clone(), kind)))
}

/// The rank of a dtype in NumPy's promotion among the dtypes gpujit arrays hold.
fn promote(a: ScalarType, b: ScalarType) -> ScalarType {
    use ScalarType::*;
    match (a, b) {
        _ if a == b => a,
        (Bool, x) | (x, Bool) => x,
        (I32, I64) | (I64, I32) => I64,
        (F32, F64) | (F64, F32) => F64,
        // complex64 keeps float32's precision only.
        (Complex32, F32) | (F32, Complex32) => Complex32,
        (Complex32 | Complex64, _) | (_, Complex32 | Complex64) => Complex64,
        // An integer with a float: float64 (NumPy: int32 with float32 is float64 too).
        _ => F64,
    }
}

/// NumPy's result dtype for arrays of `arrays` dtypes and scalars of `scalars` kinds (Python
/// scalars are "weak": they do not widen an array's dtype of their own kind).
fn result_type(arrays: &[ScalarType], scalars: &[u8]) -> ScalarType {
    let mut t = arrays.iter().copied().reduce(promote).unwrap_or(ScalarType::F64);
    for &k in scalars {
        t = match (k, t) {
            (1, ScalarType::Bool) => ScalarType::I64,
            (2, ScalarType::Bool | ScalarType::I32 | ScalarType::I64) => ScalarType::F64,
            (3, ScalarType::F32) => ScalarType::Complex32,
            (3, t) if !t.is_complex() => ScalarType::Complex64,
            _ => t,
        };
    }
    t
}

macro_rules! cast_kernels {
    ($($name:ident: $from:ty => $to:ty;)*) => {$(
        #[gpu_kernel]
        fn $name(x: &Array<$from, 4>, out: &mut Array<$to, 4>) {
            let i = grid(1);
            let (d1, d2, d3) = (out.shape(1), out.shape(2), out.shape(3));
            if i < out.shape(0) * d1 * d2 * d3 {
                let (h, j, k, l) = (i / (d1 * d2 * d3), i / (d2 * d3) % d1, i / d3 % d2, i % d3);
                out[[h, j, k, l]] = x[[h, j, k, l]] as $to;
            }
        }
    )*};
}

cast_kernels! {
    cast_bool_i32: bool => i32;
    cast_bool_i64: bool => i64;
    cast_i32_i64: i32 => i64;
    cast_i32_f64: i32 => f64;
    cast_i64_f64: i64 => f64;
    cast_f32_f64: f32 => f64;
    cast_i32_f32: i32 => f32;
    cast_i64_i32: i64 => i32;
    cast_i64_f32: i64 => f32;
    cast_f32_i32: f32 => i32;
    cast_f32_i64: f32 => i64;
    cast_f64_i32: f64 => i32;
    cast_f64_i64: f64 => i64;
    cast_f64_f32: f64 => f32;
}

#[gpu_kernel]
fn cast_bool_f32(x: &Array<bool, 4>, out: &mut Array<f32, 4>) {
    let i = grid(1);
    let (d1, d2, d3) = (out.shape(1), out.shape(2), out.shape(3));
    if i < out.shape(0) * d1 * d2 * d3 {
        let (h, j, k, l) = (i / (d1 * d2 * d3), i / (d2 * d3) % d1, i / d3 % d2, i % d3);
        out[[h, j, k, l]] = if x[[h, j, k, l]] { 1.0 } else { 0.0 };
    }
}

#[gpu_kernel]
fn cast_bool_f64(x: &Array<bool, 4>, out: &mut Array<f64, 4>) {
    let i = grid(1);
    let (d1, d2, d3) = (out.shape(1), out.shape(2), out.shape(3));
    if i < out.shape(0) * d1 * d2 * d3 {
        let (h, j, k, l) = (i / (d1 * d2 * d3), i / (d2 * d3) % d1, i / d3 % d2, i % d3);
        out[[h, j, k, l]] = if x[[h, j, k, l]] { 1.0 } else { 0.0 };
    }
}

macro_rules! to_complex_kernels {
    ($($name:ident: $from:ty => $c:ty, $part:ty, |$x:ident| $value:expr;)*) => {$(
        #[gpu_kernel]
        fn $name(x: &Array<$from, 4>, out: &mut Array<$c, 4>) {
            let i = grid(1);
            let (d1, d2, d3) = (out.shape(1), out.shape(2), out.shape(3));
            if i < out.shape(0) * d1 * d2 * d3 {
                let (h, j, k, l) = (i / (d1 * d2 * d3), i / (d2 * d3) % d1, i / d3 % d2, i % d3);
                let $x = x[[h, j, k, l]];
                out[[h, j, k, l]] = $value;
            }
        }
    )*};
}

to_complex_kernels! {
    cast_bool_c64: bool => Complex<f32>, f32, |v| Complex::new(v as u8 as f32, 0.0);
    cast_i32_c64: i32 => Complex<f32>, f32, |v| Complex::new(v as f32, 0.0);
    cast_i64_c64: i64 => Complex<f32>, f32, |v| Complex::new(v as f32, 0.0);
    cast_f32_c64: f32 => Complex<f32>, f32, |v| Complex::new(v, 0.0);
    cast_f64_c64: f64 => Complex<f32>, f32, |v| Complex::new(v as f32, 0.0);
    cast_c128_c64: Complex<f64> => Complex<f32>, f32, |v| Complex::new(v.re as f32, v.im as f32);
    cast_bool_c128: bool => Complex<f64>, f64, |v| Complex::new(v as u8 as f64, 0.0);
    cast_i32_c128: i32 => Complex<f64>, f64, |v| Complex::new(v as f64, 0.0);
    cast_i64_c128: i64 => Complex<f64>, f64, |v| Complex::new(v as f64, 0.0);
    cast_f32_c128: f32 => Complex<f64>, f64, |v| Complex::new(v as f64, 0.0);
    cast_f64_c128: f64 => Complex<f64>, f64, |v| Complex::new(v, 0.0);
    cast_c64_c128: Complex<f32> => Complex<f64>, f64, |v| Complex::new(v.re as f64, v.im as f64);
}

/// A new contiguous array of `to` holding `x` (of `shape`) converted, as NumPy's `astype`.
pub(crate) fn cast(py: Python<'_>, x: &Data, shape: &[usize], to: ScalarType, device: &Device) -> PyResult<Data> {
    use ScalarType::*;
    let from = x.scalar_type();
    if from == to {
        return Ok(x.clone());
    }
    let kernel: &::gpujit::runtime::Kernel = match (from, to) {
        (Bool, I32) => &cast_bool_i32,
        (Bool, I64) => &cast_bool_i64,
        (Bool, F32) => &cast_bool_f32,
        (Bool, F64) => &cast_bool_f64,
        (I32, I64) => &cast_i32_i64,
        (I32, F64) => &cast_i32_f64,
        (I64, F64) => &cast_i64_f64,
        (F32, F64) => &cast_f32_f64,
        (I32, F32) => &cast_i32_f32,
        (I64, I32) => &cast_i64_i32,
        (I64, F32) => &cast_i64_f32,
        (F32, I32) => &cast_f32_i32,
        (F32, I64) => &cast_f32_i64,
        (F64, I32) => &cast_f64_i32,
        (F64, I64) => &cast_f64_i64,
        (F64, F32) => &cast_f64_f32,
        (Bool, Complex32) => &cast_bool_c64,
        (I32, Complex32) => &cast_i32_c64,
        (I64, Complex32) => &cast_i64_c64,
        (F32, Complex32) => &cast_f32_c64,
        (F64, Complex32) => &cast_f64_c64,
        (Complex64, Complex32) => &cast_c128_c64,
        (Bool, Complex64) => &cast_bool_c128,
        (I32, Complex64) => &cast_i32_c128,
        (I64, Complex64) => &cast_i64_c128,
        (F32, Complex64) => &cast_f32_c128,
        (F64, Complex64) => &cast_f64_c128,
        (Complex32, Complex64) => &cast_c64_c128,
        _ => return Err(GpujitError::new_err(format!("no conversion from {} to {}", dtype_name(from), dtype_name(to)))),
    };
    let out = Data::zeros(to, shape, device)?;
    let n: usize = shape.iter().product();
    let (s, st) = broadcast4(shape, shape);
    {
        let xv = x.view(&s, &st, false)?;
        let mut ov = out.view(&s, &st, true)?;
        let args = [(&xv).into_arg(), (&mut ov).into_arg()];
        launch(py, kernel, n, &args)?;
    }
    Ok(out)
}

/// `ufunc(*inputs)` for `method == "__call__"`, `ufunc.reduce(input, ...)` for `"reduce"`.
pub(crate) fn array_ufunc(
    py: Python<'_>,
    name: &str,
    method: &str,
    inputs: &Bound<'_, PyTuple>,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<Py<PyAny>> {
    let Some(op) = op_of(name) else { return Ok(py.NotImplemented()) };
    // The reference array: the first of ours among the operands.
    let Some((first, first_shape)) =
        inputs.iter().find_map(|x| x.downcast::<PyArray>().ok().map(|a| (a.get().data.clone(), a.get().shape.clone())))
    else {
        return Ok(py.NotImplemented());
    };
    let device = first.device().clone();
    match method {
        "__call__" => {
            if let Some(k) = kwargs {
                if let Some((key, _)) = k.iter().find(|(_, v)| !v.is_none()) {
                    return Err(GpujitError::new_err(format!("{name}: the keyword `{key}` is not supported on gpujit arrays")));
                }
            }
            let mut given = Vec::new();
            for x in inputs.iter() {
                match operand(&x)? {
                    Some(o) => given.push(o),
                    None => return Ok(py.NotImplemented()),
                }
            }
            if let Some(Operand::Array(other, _)) =
                given.iter().find(|o| matches!(o, Operand::Array(d, _) if d.device().id() != device.id()))
            {
                return Err(GpujitError::new_err(format!("{name}: operands on {} and {}", device.id(), other.device().id())));
            }
            let arrays: Vec<ScalarType> =
                given.iter().filter_map(|o| if let Operand::Array(d, _) = o { Some(d.scalar_type()) } else { None }).collect();
            let scalars: Vec<u8> = given.iter().filter_map(|o| if let Operand::Scalar(_, k) = o { Some(*k) } else { None }).collect();
            let mut t = result_type(&arrays, &scalars);
            // Float-only ufuncs (true division, exp, ...) of integers give float64, as in NumPy.
            let float_only = matches!(op, Op::FloatBinary(0) | Op::Unary(_, None));
            if float_only && matches!(t, ScalarType::I32 | ScalarType::I64) {
                t = ScalarType::F64;
            }
            let mut ops = Vec::new();
            for o in given {
                ops.push(match o {
                    Operand::Array(d, shape) => (cast(py, &d, &shape, t, &device)?, shape),
                    Operand::Scalar(x, _) => (filled(&[], &x, dtype_name(t), &device)?, Vec::new()),
                });
            }
            call(py, name, op, &ops, t, &device)
        }
        "reduce" => reduce(py, name, op, &first, &first_shape, inputs.len(), kwargs),
        _ => Ok(py.NotImplemented()),
    }
}

fn call(py: Python<'_>, name: &str, op: Op, ops: &[(Data, Vec<usize>)], elem: ScalarType, device: &Device) -> PyResult<Py<PyAny>> {
    let shapes: Vec<Vec<usize>> = ops.iter().map(|(_, s)| s.clone()).collect();
    let out_shape = broadcast_shape(&shapes, name)?;
    let n: usize = out_shape.iter().product();
    let complex = complex_kernels(elem);
    let (kernel, code, out_elem) = match (op, ops.len(), complex) {
        (Op::Binary(c @ (ADD | SUBTRACT | MULTIPLY)), 2, Some(k)) => (k[0], c, elem),
        (Op::FloatBinary(0), 2, Some(k)) => (k[0], DIVIDE, elem),
        (Op::Compare(c @ (0 | 1)), 2, Some(k)) => (k[1], c, ScalarType::Bool),
        (Op::Unary(c @ (0 | 2 | 3 | 7 | CONJUGATE), _), 1, Some(k)) => (k[2], c, elem),
        (Op::Unary(1, _), 1, Some(k)) => (k[3], u32::MAX, elem.component().unwrap_or(elem)),
        (_, _, Some(_)) => return Ok(py.NotImplemented()),
        // The conjugate of a real number is itself.
        (Op::Unary(CONJUGATE, _), 1, None) => {
            let same = copy(&ops[0].0, &ops[0].1, device, py)?;
            return Ok(Py::new(py, PyArray::with_shape(same, ops[0].1.clone()))?.into_any());
        }
        (Op::Binary(c), 2, None) if elem != ScalarType::Bool => (&*ufunc_binary, c, elem),
        (Op::FloatBinary(c), 2, None) if is_float(elem) => (&*ufunc_float_binary, c, elem),
        (Op::FloatBinary(1), 2, None) if elem == ScalarType::I32 => (&*ufunc_power_i32, u32::MAX, elem),
        (Op::FloatBinary(1), 2, None) if elem == ScalarType::I64 => (&*ufunc_power_i64, u32::MAX, elem),
        (Op::Compare(c), 2, None) => (&*ufunc_compare, c, ScalarType::Bool),
        (Op::Unary(c, _), 1, None) if is_float(elem) && c != CONJUGATE => (&*ufunc_float_unary, c, elem),
        (Op::Unary(_, Some(c)), 1, None) if matches!(elem, ScalarType::I32 | ScalarType::I64) => (&*ufunc_int_unary, c, elem),
        _ => return Ok(py.NotImplemented()),
    };
    let out = Data::zeros(out_elem, &out_shape, device)?;
    {
        let (os, ost) = broadcast4(&out_shape, &out_shape);
        let mut ov = out.view(&os, &ost, true)?;
        let views: Vec<ExternalArray<'_>> = ops
            .iter()
            .map(|(d, shape)| {
                let (s, st) = broadcast4(shape, &out_shape);
                d.view(&s, &st, false)
            })
            .collect::<PyResult<_>>()?;
        let mut args: Vec<Arg<'_>> = views.iter().map(|v| v.into_arg()).collect();
        args.push((&mut ov).into_arg());
        if code != u32::MAX {
            args.push(code.into_arg()); // the power kernels of integers take no op code
        }
        launch(py, kernel, n, &args)?;
    }
    Ok(Py::new(py, PyArray::with_shape(out, out_shape))?.into_any())
}

fn reduce(
    py: Python<'_>,
    name: &str,
    op: Op,
    x: &Data,
    shape: &[usize],
    n_inputs: usize,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<Py<PyAny>> {
    let code = match op {
        Op::Binary(c @ (MAXIMUM | MINIMUM)) if x.scalar_type().is_complex() => {
            // NumPy orders complex numbers lexicographically; gpujit does not order them.
            let what = if c == MAXIMUM { "maximum" } else { "minimum" };
            return Err(GpujitError::new_err(format!("{what}.reduce is not supported on complex gpujit arrays")));
        }
        Op::Binary(c @ (ADD | MULTIPLY | MAXIMUM | MINIMUM))
            if (matches!(c, ADD | MULTIPLY) || x.scalar_type() != ScalarType::Bool) && n_inputs == 1 =>
        {
            c
        }
        _ => return Ok(py.NotImplemented()),
    };
    let shape = shape.to_vec();
    let (mut axis, mut keepdims): (Option<Vec<usize>>, bool) = (Some(vec![0]), false);
    let mut dtype: Option<ScalarType> = None;
    if let Some(k) = kwargs {
        for (key, v) in k.iter() {
            let key: String = key.extract()?;
            match key.as_str() {
                "dtype" if !v.is_none() => dtype = Some(dtype_of(py, &v, name)?),
                "axis" if v.is_none() => axis = None,
                "axis" => {
                    let axes: Vec<isize> = v.extract::<isize>().map(|a| vec![a]).or_else(|_| v.extract::<Vec<isize>>())?;
                    let mut norm = Vec::new();
                    for a in axes {
                        let n = shape.len() as isize;
                        if a < -n || a >= n {
                            return Err(PyValueError::new_err(format!(
                                "{name}.reduce: axis {a} is out of bounds for an array of {n} dimensions"
                            )));
                        }
                        norm.push(a.rem_euclid(n.max(1)) as usize);
                    }
                    axis = Some(norm);
                }
                "keepdims" => keepdims = v.is_truthy()?,
                _ if v.is_none() => {}
                _ => return Err(GpujitError::new_err(format!("{name}.reduce: the keyword `{key}` is not supported on gpujit arrays"))),
            }
        }
    }
    // The accumulator's type: `dtype`, else NumPy's default (sums and products of booleans and
    // int32 are int64); the input is converted to it first, as NumPy's reductions do.
    let acc = match dtype {
        Some(ScalarType::Bool) if matches!(code, ADD | MULTIPLY) => {
            return Err(GpujitError::new_err(format!("{name}.reduce: dtype=bool is not supported on gpujit arrays")));
        }
        Some(t) => t,
        None if matches!(code, ADD | MULTIPLY) && matches!(x.scalar_type(), ScalarType::Bool | ScalarType::I32) => ScalarType::I64,
        None => x.scalar_type(),
    };
    let converted;
    let x = if acc != x.scalar_type() {
        converted = cast(py, x, &shape, acc, x.device())?;
        &converted
    } else {
        x
    };
    let axes: Vec<usize> = match axis {
        None => (0..shape.len()).collect(),
        Some(a) if shape.is_empty() && !a.is_empty() => {
            return Err(PyValueError::new_err(format!("{name}.reduce: a 0-d array has no axis to reduce")));
        }
        Some(a) => a,
    };
    let empty = axes.iter().any(|&a| shape[a] == 0);
    let out_shape: Vec<usize> =
        (0..shape.len()).filter_map(|i| if axes.contains(&i) { keepdims.then_some(1) } else { Some(shape[i]) }).collect();
    if empty && matches!(code, MAXIMUM | MINIMUM) && out_shape.iter().product::<usize>() > 0 {
        return Err(PyValueError::new_err(format!("zero-size array to reduction operation {name} which has no identity")));
    }
    let device = x.device().clone();
    // One axis at a time, the last first, each pass a launch over the remaining elements.
    let mut cur = x.clone();
    let mut cur_shape = shape.clone();
    let mut sorted = axes.clone();
    sorted.sort_unstable();
    sorted.dedup();
    if !shape.is_empty() && sorted.len() == shape.len() {
        cur = reduce_all(py, x, shape.iter().product(), code, &device)?;
        cur_shape.clear();
    } else {
        for &a in sorted.iter().rev() {
            cur = reduce_axis(py, &cur, 0, &cur_shape, a, code, &device)?;
            cur_shape.remove(a);
        }
    }
    // `cur` is contiguous in the order of the kept axes, and `out_shape` only inserts 1s: the
    // same memory. With no axis reduced, the result is still a new array, as in NumPy.
    let out = if sorted.is_empty() { copy(&cur, &cur_shape, &device, py)? } else { cur };
    Ok(Py::new(py, PyArray::with_shape(out, out_shape))?.into_any())
}

/// Reduces axis `a` of the contiguous `x` of `shape` into a new contiguous array.
/// Reduces axis `a` of the contiguous `shape` that starts `offset` elements into `x`, into a new
/// contiguous array.
fn reduce_axis(py: Python<'_>, x: &Data, offset: usize, shape: &[usize], a: usize, code: u32, device: &Device) -> PyResult<Data> {
    let strides = ::gpujit::runtime::Layout::contiguous(shape).strides;
    let rest: Vec<usize> = (0..shape.len()).filter(|&i| i != a).collect();
    let out_shape: Vec<usize> = rest.iter().map(|&i| shape[i]).collect();
    let n: usize = out_shape.iter().product();
    if shape[a] == 0 && n > 0 && code == MULTIPLY {
        // Products of nothing are 1.
        return filled(&out_shape, &1i64.into_pyobject(py)?.into_any(), dtype_name(x.scalar_type()), device);
    }
    let out = Data::zeros(x.scalar_type(), &out_shape, device)?;
    if shape[a] == 0 || n == 0 {
        return Ok(out); // sums of nothing are 0 (max/min of nothing were refused before)
    }
    if rest.len() > 3 {
        return Err(GpujitError::new_err("reductions take arrays of at most 4 dimensions"));
    }
    // x viewed as [kept axes (front-padded to 3)..., a]; out as [kept axes..., 1].
    let pad = 3 - rest.len();
    let (mut xs, mut xst, mut os, mut ost) = ([1usize; 4], [0isize; 4], [1usize; 4], [0isize; 4]);
    let out_strides = ::gpujit::runtime::Layout::contiguous(&out_shape).strides;
    for (k, &i) in rest.iter().enumerate() {
        xs[pad + k] = shape[i];
        xst[pad + k] = strides[i];
        os[pad + k] = out_shape[k];
        ost[pad + k] = out_strides[k];
    }
    xs[3] = shape[a];
    xst[3] = strides[a];
    {
        let xv = x.view_at(offset, &xs, &xst, false)?;
        let mut ov = out.view(&os, &ost, true)?;
        let args = [(&xv).into_arg(), (&mut ov).into_arg(), code.into_arg()];
        let kernel = complex_kernels(x.scalar_type()).map_or(&*ufunc_reduce, |k| k[4]);
        launch(py, kernel, n, &args)?;
    }
    Ok(out)
}

/// Reduces all `n` elements of the contiguous `x` to a 0-d array in two passes: √n threads
/// each reduce a row of √n elements, then one reduces the row results (and a short tail).
fn reduce_all(py: Python<'_>, x: &Data, n: usize, code: u32, device: &Device) -> PyResult<Data> {
    if n <= 1 << 12 {
        return reduce_axis(py, x, 0, &[n], 0, code, device);
    }
    let c = (n as f64).sqrt().ceil() as usize;
    let (m, head) = (n / c, n / c * c);
    let rows = reduce_axis(py, x, 0, &[m, c], 1, code, device)?;
    let total = reduce_axis(py, &rows, 0, &[m], 0, code, device)?;
    if head == n {
        return Ok(total);
    }
    let tail = reduce_axis(py, x, head, &[n - head], 0, code, device)?;
    let out = Data::zeros(x.scalar_type(), &[], device)?;
    let (one, zero) = ([1usize; 4], [0isize; 4]);
    {
        let (a, b, mut o) = (total.view(&one, &zero, false)?, tail.view(&one, &zero, false)?, out.view(&one, &zero, true)?);
        let args = [(&a).into_arg(), (&b).into_arg(), (&mut o).into_arg(), code.into_arg()];
        let kernel = complex_kernels(x.scalar_type()).map_or(&*ufunc_binary, |k| k[0]);
        launch(py, kernel, 1, &args)?;
    }
    Ok(out)
}

/// A contiguous copy of `x` (of `shape`).
fn copy(x: &Data, shape: &[usize], device: &Device, py: Python<'_>) -> PyResult<Data> {
    let out = Data::zeros(x.scalar_type(), shape, device)?;
    let n: usize = shape.iter().product();
    let flat = [1usize, 1, 1, n];
    let st = [0isize, 0, 0, 1];
    {
        let xv = x.view(&flat, &st, false)?;
        let mut ov = out.view(&flat, &st, true)?;
        if let Some(k) = complex_kernels(x.scalar_type()) {
            let args = [(&xv).into_arg(), (&mut ov).into_arg(), IDENTITY.into_arg()];
            launch(py, k[2], n, &args)?;
        } else {
            // max(a, a) is a, bit for bit.
            let args = [(&xv).into_arg(), (&xv).into_arg(), (&mut ov).into_arg(), MAXIMUM.into_arg()];
            launch(py, &ufunc_binary, n, &args)?;
        }
    }
    Ok(out)
}
