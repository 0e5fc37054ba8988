//! NumPy's functions on gpujit arrays (NEP 18's `__array_function__`): `np.sum`, `np.mean`,
//! `np.where`, `np.concatenate`, `np.matmul`, ... run on the arrays' device through the engine.
//! A NumPy function gpujit does not implement raises a `TypeError` naming it.

use crate::array::{c_strides, PyArray, Strided};
use crate::engine::{self, Operand, Reduce, ReduceArgs, Term};
use crate::import::GpujitError;
use ::gpujit::codegen::ScalarType;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

/// The functions `__array_function__` implements, by NumPy name.
pub(crate) const SUPPORTED: &[&str] = &[
    "sum",
    "prod",
    "mean",
    "var",
    "std",
    "min",
    "max",
    "amin",
    "amax",
    "argmin",
    "argmax",
    "any",
    "all",
    "where",
    "concatenate",
    "stack",
    "matmul",
    "dot",
    "transpose",
    "swapaxes",
    "reshape",
    "ravel",
    "copy",
    "clip",
    "zeros_like",
    "ones_like",
    "full_like",
    "empty_like",
    "isclose",
    "allclose",
    "array_equal",
    "expand_dims",
    "squeeze",
    "shape",
    "ndim",
    "size",
    "astype",
    "square",
    "abs",
    "absolute",
];

/// The Python name of a comparison.
pub(crate) fn compare_name(op: pyo3::basic::CompareOp) -> &'static str {
    use pyo3::basic::CompareOp::*;
    match op {
        Lt => "less",
        Le => "less_equal",
        Eq => "equal",
        Ne => "not_equal",
        Gt => "greater",
        Ge => "greater_equal",
    }
}

/// `args`/`kwargs` of a call bound to parameter `names` (NumPy's signature order): the value of
/// each name, `None` where not given.
fn bind<'py>(
    what: &str,
    names: &[&str],
    args: &Bound<'py, PyTuple>,
    kwargs: &Bound<'py, PyDict>,
) -> PyResult<Vec<Option<Bound<'py, PyAny>>>> {
    if args.len() > names.len() {
        return Err(PyTypeError::new_err(format!("{what}() takes at most {} positional arguments", names.len())));
    }
    let mut out: Vec<Option<Bound<'py, PyAny>>> = args.iter().map(Some).collect();
    out.resize(names.len(), None);
    for (key, v) in kwargs.iter() {
        let key: String = key.extract()?;
        match names.iter().position(|n| *n == key) {
            Some(i) if out[i].is_none() => out[i] = Some(v),
            Some(_) => return Err(PyTypeError::new_err(format!("{what}() got multiple values for argument '{key}'"))),
            None if v.is_none() => {}
            None => return Err(GpujitError::new_err(format!("{what}: the keyword `{key}` is not supported on gpujit arrays"))),
        }
    }
    Ok(out)
}

fn reduction_of(name: &str) -> Option<Reduce> {
    Some(match name {
        "sum" => Reduce::Sum,
        "prod" => Reduce::Prod,
        "mean" => Reduce::Mean,
        "var" => Reduce::Var,
        "std" => Reduce::Std,
        "min" | "amin" => Reduce::Min,
        "max" | "amax" => Reduce::Max,
        "argmin" => Reduce::ArgMin,
        "argmax" => Reduce::ArgMax,
        "any" => Reduce::Any,
        "all" => Reduce::All,
        _ => return None,
    })
}

/// The parameters of a reduction, after the array, in NumPy's order.
fn reduce_params(op: Reduce) -> &'static [&'static str] {
    match op {
        Reduce::Sum | Reduce::Prod | Reduce::Mean => &["axis", "dtype", "out", "keepdims", "initial", "where"],
        Reduce::Var | Reduce::Std => &["axis", "dtype", "out", "ddof", "keepdims", "where"],
        Reduce::Min | Reduce::Max => &["axis", "out", "keepdims", "initial", "where"],
        Reduce::ArgMin | Reduce::ArgMax => &["axis", "out", "keepdims"],
        Reduce::Any | Reduce::All => &["axis", "out", "keepdims", "where"],
    }
}

/// A reduction called as a method (`a.sum(axis=1)`) or function (`np.sum(a, 1)`): `rest` are the
/// arguments after the array.
fn call_reduce(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    op: Reduce,
    name: &str,
    rest: &Bound<'_, PyTuple>,
    kwargs: &Bound<'_, PyDict>,
) -> PyResult<Py<PyAny>> {
    let params = reduce_params(op);
    let bound = bind(name, params, rest, kwargs)?;
    let kw = PyDict::new(py);
    for (n, v) in params.iter().zip(bound) {
        if let Some(v) = v {
            kw.set_item(*n, v)?;
        }
    }
    let args = ReduceArgs::parse(py, name, Some(&kw), None)?;
    engine::reduce(py, x, op, args)
}

/// A reduction method of `gpujit.Array` or a traced value.
pub(crate) fn method_reduce(x: &Bound<'_, PyAny>, op: Reduce, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Py<PyAny>> {
    let py = x.py();
    let kwargs = match kwargs {
        Some(k) => k.clone(),
        None => PyDict::new(py),
    };
    call_reduce(py, x, op, op.name(), &PyTuple::empty(py), &kwargs)
}

/// As [`method_reduce`] with positional arguments (`a.sum(0)`).
pub(crate) fn method_reduce_args(
    x: &Bound<'_, PyAny>,
    op: Reduce,
    args: &Bound<'_, PyTuple>,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<Py<PyAny>> {
    let py = x.py();
    let kwargs = match kwargs {
        Some(k) => k.clone(),
        None => PyDict::new(py),
    };
    call_reduce(py, x, op, op.name(), args, &kwargs)
}

/// The gpujit array behind `x` (a gpujit array, or any producer's, brought in without a copy
/// where possible).
fn array_of(py: Python<'_>, x: &Bound<'_, PyAny>) -> PyResult<Strided> {
    if let Ok(a) = x.downcast::<PyArray>() {
        return Ok(a.get().a.clone());
    }
    let a = crate::asarray::asarray_on(py, x, None, None, None)?;
    let a = a.bind(py).downcast::<PyArray>()?.get().a.clone();
    Ok(a)
}

/// `x` as an engine operand (arrays of other producers brought in).
fn operand_of<'py>(py: Python<'py>, x: &Bound<'py, PyAny>) -> PyResult<Operand<'py>> {
    match engine::operand(x)? {
        Some(o) => Ok(o),
        None => Ok(Operand::Term(Term::array(&array_of(py, x)?))),
    }
}

fn result(py: Python<'_>, a: Strided) -> PyResult<Py<PyAny>> {
    PyArray::new(a).into_py(py)
}

fn axis_arg(v: Option<&Bound<'_, PyAny>>, default: isize) -> PyResult<isize> {
    match v {
        Some(v) if !v.is_none() => v.extract(),
        _ => Ok(default),
    }
}

fn norm_axis(a: isize, nd: usize, what: &str) -> PyResult<usize> {
    let n = nd as isize;
    if a < -n || a >= n {
        return Err(PyValueError::new_err(format!("{what}: axis {a} is out of bounds for an array of {nd} dimensions")));
    }
    Ok(a.rem_euclid(n.max(1)) as usize)
}

/// `np.concatenate(arrays, axis)` (`stack`: along a new axis).
fn concatenate(py: Python<'_>, arrays: &Bound<'_, PyAny>, axis: isize, stack: bool) -> PyResult<Py<PyAny>> {
    let what = if stack { "stack" } else { "concatenate" };
    let items: Vec<Strided> = arrays.try_iter()?.map(|x| array_of(py, &x?)).collect::<PyResult<_>>()?;
    let first = items.first().ok_or_else(|| PyValueError::new_err(format!("need at least one array to {what}")))?;
    let items: Vec<Strided> = if stack {
        let nd = first.shape.len() + 1;
        let ax = norm_axis(axis, nd, what)?;
        items
            .iter()
            .map(|a| {
                if a.shape != first.shape {
                    return Err(PyValueError::new_err("all input arrays must have the same shape"));
                }
                let (mut s, mut st) = (a.shape.clone(), a.strides.clone());
                s.insert(ax, 1);
                st.insert(ax, 0);
                Ok(a.with_layout(s, st, a.offset))
            })
            .collect::<PyResult<_>>()?
    } else {
        items
    };
    let first = &items[0];
    let nd = first.shape.len();
    if nd == 0 {
        return Err(PyValueError::new_err("zero-dimensional arrays cannot be concatenated"));
    }
    let ax = norm_axis(axis, nd, what)?;
    let mut shape = first.shape.clone();
    shape[ax] = 0;
    let mut elem = first.elem;
    for a in &items {
        if a.shape.len() != nd || (0..nd).any(|d| d != ax && a.shape[d] != first.shape[d]) {
            return Err(PyValueError::new_err(format!(
                "all the input array dimensions except for the concatenation axis must match exactly: {:?} and {:?}",
                first.shape, a.shape
            )));
        }
        if a.device().id() != first.device().id() {
            return Err(GpujitError::new_err(format!("{what}: arrays on {} and {}", first.device().id(), a.device().id())));
        }
        shape[ax] += a.shape[ax];
        elem = crate::dtype::promote(elem, a.elem);
    }
    let out = Strided::uninit(elem, &shape, first.device())?;
    let mut at = 0usize;
    for a in &items {
        let mut s = out.shape.clone();
        s[ax] = a.shape[ax];
        let part = out.with_layout(s, out.strides.clone(), out.offset + at * out.strides[ax] as usize);
        engine::eval_into(py, &[Term::array(a).cast(elem)?], std::slice::from_ref(&part))?;
        at += a.shape[ax];
    }
    result(py, out)
}

/// `a @ b` for 1-D to 3-D arrays: one fused reduction of the broadcast product (naive, no
/// tiling).
pub(crate) fn matmul(py: Python<'_>, a: &Bound<'_, PyAny>, b: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
    let (x, y) = (array_of(py, a)?, array_of(py, b)?);
    if x.shape.is_empty() || y.shape.is_empty() {
        return Err(PyValueError::new_err("matmul: input operand does not have enough dimensions (0-d)"));
    }
    if x.shape.len() > 3 || y.shape.len() > 3 {
        return Err(GpujitError::new_err("matmul: gpujit multiplies arrays of at most 3 dimensions"));
    }
    // 1-D operands become a row (left) or a column (right), removed from the result after.
    let (xv, drop_row) =
        if x.shape.len() == 1 { (x.with_layout(vec![1, x.shape[0]], vec![0, x.strides[0]], x.offset), true) } else { (x, false) };
    let (yv, drop_col) =
        if y.shape.len() == 1 { (y.with_layout(vec![y.shape[0], 1], vec![y.strides[0], 0], y.offset), true) } else { (y, false) };
    let (m, k) = (xv.shape[xv.shape.len() - 2], xv.shape[xv.shape.len() - 1]);
    let (k2, n) = (yv.shape[yv.shape.len() - 2], yv.shape[yv.shape.len() - 1]);
    if k != k2 {
        return Err(PyValueError::new_err(format!("matmul: mismatch in core dimension: {:?} @ {:?} ({k} != {k2})", xv.shape, yv.shape)));
    }
    let batch_x: Vec<usize> = xv.shape[..xv.shape.len() - 2].to_vec();
    let batch_y: Vec<usize> = yv.shape[..yv.shape.len() - 2].to_vec();
    let batch = engine::broadcast(&batch_x, &batch_y).ok_or_else(|| PyValueError::new_err("matmul: batch dimensions do not broadcast"))?;
    // x as [..batch, m, k, 1], y as [..batch, 1, k, n]: their product summed over k.
    let expand = |v: &Strided, at: usize| {
        let (mut s, mut st) = (v.shape.clone(), v.strides.clone());
        s.insert(at, 1);
        st.insert(at, 0);
        v.with_layout(s, st, v.offset)
    };
    let x4 = expand(&xv, xv.shape.len());
    let y4 = expand(&yv, yv.shape.len() - 2);
    let t = crate::dtype::promote(x4.elem, y4.elem);
    let prod = Term::array(&x4).cast(t)?;
    let prod = engine::ufunc("multiply", &[Operand::Term(prod), Operand::Term(Term::array(&y4).cast(t)?)])?;
    let nd = prod.shape.len();
    let kw = PyDict::new(py);
    kw.set_item("axis", nd as isize - 2)?;
    kw.set_item("dtype", crate::dtype::name(t))?;
    let args = ReduceArgs::parse(py, "matmul", Some(&kw), None)?;
    let traced = crate::fuse::Traced::wrap(py, prod)?;
    let r = engine::reduce(py, traced.bind(py), Reduce::Sum, args)?;
    let r = r.bind(py).downcast::<PyArray>()?.get().a.clone();
    let mut shape = batch.clone();
    if !drop_row {
        shape.push(m);
    }
    if !drop_col {
        shape.push(n);
    }
    let strides = c_strides(&shape);
    result(py, r.with_layout(shape, strides, r.offset))
}

/// `np.func(*args, **kwargs)` for a function of [`SUPPORTED`].
pub(crate) fn array_function(
    py: Python<'_>,
    func: &Bound<'_, PyAny>,
    args: &Bound<'_, PyTuple>,
    kwargs: &Bound<'_, PyDict>,
) -> PyResult<Py<PyAny>> {
    let name: String = func.getattr("__name__")?.extract()?;
    let first = || args.get_item(0);
    let rest = || args.get_slice(1, args.len());
    if let Some(op) = reduction_of(&name) {
        let x = match first() {
            Ok(x) => x,
            Err(_) => kwargs.get_item("a")?.ok_or_else(|| PyTypeError::new_err(format!("{name}() missing the array")))?,
        };
        let kwargs = kwargs.copy()?;
        let _ = kwargs.del_item("a");
        return call_reduce(py, &x, op, &name, &rest(), &kwargs);
    }
    let traced = args.iter().any(|a| a.downcast::<crate::fuse::Traced>().is_ok());
    match name.as_str() {
        "where" => {
            let b = bind("where", &["condition", "x", "y"], args, kwargs)?;
            let (Some(c), Some(x), Some(y)) = (&b[0], &b[1], &b[2]) else {
                return Err(GpujitError::new_err(
                    "where: gpujit takes where(condition, x, y); where(condition) (nonzero) is not supported",
                ));
            };
            let ops = [operand_of(py, x)?, operand_of(py, y)?];
            // x and y promote together; the condition is taken as bool.
            let cond = match operand_of(py, c)? {
                Operand::Term(t) => t.cast(ScalarType::Bool)?,
                Operand::Weak(v, _) => Term::scalar(crate::dtype::scalar(&v, ScalarType::Bool)?, ScalarType::Bool),
            };
            let term = engine::select_of(cond, &ops)?;
            if traced {
                return crate::fuse::Traced::wrap(py, term);
            }
            result(py, engine::eval_new(py, &term, None)?)
        }
        "concatenate" | "stack" => {
            let b = bind(&name, &["arrays", "axis", "out", "dtype", "casting"], args, kwargs)?;
            let arrays = b[0].clone().ok_or_else(|| PyTypeError::new_err(format!("{name}() missing the arrays")))?;
            if b[2].is_some() || b[3].is_some() || b[4].is_some() {
                return Err(GpujitError::new_err(format!("{name}: out=, dtype= and casting= are not supported on gpujit arrays")));
            }
            concatenate(py, &arrays, axis_arg(b[1].as_ref(), 0)?, name == "stack")
        }
        "matmul" | "dot" => {
            let b = bind(&name, &["a", "b", "out"], args, kwargs)?;
            let (Some(x), Some(y)) = (&b[0], &b[1]) else { return Err(PyTypeError::new_err(format!("{name}() takes two arrays"))) };
            if b[2].is_some() {
                return Err(GpujitError::new_err(format!("{name}: out= is not supported on gpujit arrays")));
            }
            matmul(py, x, y)
        }
        "transpose" | "swapaxes" | "reshape" | "ravel" | "copy" | "astype" => {
            let x = first()?;
            let x = if x.downcast::<PyArray>().is_ok() { x } else { PyArray::new(array_of(py, &x)?).into_py(py)?.into_bound(py) };
            let method = if name == "copy" { "copy" } else { name.as_str() };
            let rest = rest();
            if name == "reshape" {
                let b = bind("reshape", &["newshape", "order", "shape", "copy"], &rest, kwargs)?;
                let shape = b[0].clone().or(b[2].clone()).ok_or_else(|| PyTypeError::new_err("reshape() missing the shape"))?;
                return Ok(x.call_method1("reshape", (shape,))?.unbind());
            }
            Ok(x.call_method(method, rest, Some(kwargs))?.unbind())
        }
        "clip" => {
            let b = bind("clip", &["a", "a_min", "a_max", "out", "min", "max"], args, kwargs)?;
            let x = b[0].clone().ok_or_else(|| PyTypeError::new_err("clip() missing the array"))?;
            let lo = b[1].clone().or(b[4].clone()).filter(|v| !v.is_none());
            let hi = b[2].clone().or(b[5].clone()).filter(|v| !v.is_none());
            let mut v: Py<PyAny> = x.clone().unbind();
            if let Some(lo) = lo {
                v = engine::binary_operator(py, "maximum", v.bind(py), &lo)?;
            }
            if let Some(hi) = hi {
                v = engine::binary_operator(py, "minimum", v.bind(py), &hi)?;
            }
            match &b[3] {
                Some(out) => {
                    let out = array_of(py, out)?;
                    let src = array_of(py, v.bind(py))?;
                    engine::eval_into(py, &[Term::array(&src).cast(out.elem)?], std::slice::from_ref(&out))?;
                    Ok(b[3].clone().map(|o| o.unbind()).unwrap_or(v))
                }
                None => Ok(v),
            }
        }
        "square" | "abs" | "absolute" => {
            let uf = if name == "abs" { "absolute" } else { name.as_str() };
            engine::array_ufunc(py, uf, "__call__", &PyTuple::new(py, [first()?])?, Some(kwargs))
        }
        "zeros_like" | "ones_like" | "full_like" | "empty_like" => {
            let params: &[&str] = if name == "full_like" {
                &["a", "fill_value", "dtype", "order", "subok", "shape"]
            } else {
                &["a", "dtype", "order", "subok", "shape"]
            };
            let b = bind(&name, params, args, kwargs)?;
            let x = array_of(py, b[0].as_ref().ok_or_else(|| PyTypeError::new_err(format!("{name}() missing the array")))?)?;
            let off = usize::from(name == "full_like");
            let elem = match &b[1 + off] {
                Some(d) if !d.is_none() => crate::dtype::of(py, d, &name)?,
                _ => x.elem,
            };
            let shape: Vec<usize> = match &b[4 + off] {
                Some(s) if !s.is_none() => s.extract::<Vec<usize>>().or_else(|_| s.extract::<usize>().map(|n| vec![n]))?,
                _ => x.shape.clone(),
            };
            let fill = match name.as_str() {
                "ones_like" => Some(1i64.into_pyobject(py)?.into_any()),
                "full_like" => b[1].clone(),
                "zeros_like" => Some(0i64.into_pyobject(py)?.into_any()),
                _ => None,
            };
            let out = Strided::uninit(elem, &shape, x.device())?;
            if let Some(v) = fill {
                engine::assign(py, &out, &v)?;
            }
            result(py, out)
        }
        "isclose" | "allclose" => {
            let b = bind(&name, &["a", "b", "rtol", "atol", "equal_nan"], args, kwargs)?;
            let (Some(x), Some(y)) = (&b[0], &b[1]) else { return Err(PyTypeError::new_err(format!("{name}() takes two arrays"))) };
            let rtol: f64 = b[2].as_ref().map(|v| v.extract()).transpose()?.unwrap_or(1e-5);
            let atol: f64 = b[3].as_ref().map(|v| v.extract()).transpose()?.unwrap_or(1e-8);
            let equal_nan = b[4].as_ref().map(|v| v.is_truthy()).transpose()?.unwrap_or(false);
            let close = engine::isclose(py, &operand_of(py, x)?, &operand_of(py, y)?, rtol, atol, equal_nan)?;
            if name == "isclose" {
                return result(py, engine::eval_new(py, &close, None)?);
            }
            let all = engine::reduce(
                py,
                crate::fuse::Traced::wrap(py, close)?.bind(py),
                Reduce::All,
                ReduceArgs::parse(py, "allclose", None, None)?,
            )?;
            Ok(all.bind(py).call_method0("item")?.unbind())
        }
        "array_equal" => {
            let b = bind(&name, &["a1", "a2", "equal_nan"], args, kwargs)?;
            let (Some(x), Some(y)) = (&b[0], &b[1]) else { return Err(PyTypeError::new_err("array_equal() takes two arrays")) };
            let (xa, ya) = (array_of(py, x)?, array_of(py, y)?);
            if xa.shape != ya.shape {
                return Ok(false.into_pyobject(py)?.to_owned().into_any().unbind());
            }
            let eq = engine::ufunc("equal", &[Operand::Term(Term::array(&xa)), Operand::Term(Term::array(&ya))])?;
            let all = engine::reduce(
                py,
                crate::fuse::Traced::wrap(py, eq)?.bind(py),
                Reduce::All,
                ReduceArgs::parse(py, "array_equal", None, None)?,
            )?;
            Ok(all.bind(py).call_method0("item")?.unbind())
        }
        "expand_dims" | "squeeze" => {
            let b = bind(&name, &["a", "axis"], args, kwargs)?;
            let x = array_of(py, b[0].as_ref().ok_or_else(|| PyTypeError::new_err(format!("{name}() missing the array")))?)?;
            let (mut s, mut st) = (x.shape.clone(), x.strides.clone());
            if name == "expand_dims" {
                let ax = norm_axis(axis_arg(b[1].as_ref(), 0)?, s.len() + 1, &name)?;
                s.insert(ax, 1);
                st.insert(ax, 0);
            } else {
                let axes: Option<Vec<usize>> = match &b[1] {
                    Some(v) if !v.is_none() => {
                        let raw: Vec<isize> = v.extract::<isize>().map(|a| vec![a]).or_else(|_| v.extract())?;
                        Some(raw.into_iter().map(|a| norm_axis(a, s.len(), "squeeze")).collect::<PyResult<_>>()?)
                    }
                    _ => None,
                };
                let keep: Vec<usize> = (0..s.len())
                    .filter(|&d| match &axes {
                        Some(a) => !a.contains(&d),
                        None => s[d] != 1,
                    })
                    .collect();
                if let Some(a) = &axes {
                    if a.iter().any(|&d| s[d] != 1) {
                        return Err(PyValueError::new_err("cannot select an axis to squeeze out which has size not equal to one"));
                    }
                }
                st = keep.iter().map(|&d| st[d]).collect();
                s = keep.iter().map(|&d| s[d]).collect();
            }
            result(py, x.with_layout(s, st, x.offset))
        }
        "shape" => Ok(PyTuple::new(py, array_of(py, &first()?)?.shape)?.into_any().unbind()),
        "ndim" => Ok(array_of(py, &first()?)?.shape.len().into_pyobject(py)?.into_any().unbind()),
        "size" => Ok(array_of(py, &first()?)?.size().into_pyobject(py)?.into_any().unbind()),
        _ => Err(PyTypeError::new_err(format!(
            "numpy.{name} is not supported on gpujit arrays; supported: {} and the ufuncs",
            SUPPORTED.join(", ")
        ))),
    }
}
