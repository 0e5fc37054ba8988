//! `gpujit.fuse`: a Python function over arrays traced into ONE gpujit expression, hence one
//! kernel per call, as `cupy.fuse` does.
//!
//! ```python
//! @gpujit.fuse
//! def f(x, y):
//!     return np.exp(-x * x / 2) * np.sin(y) + np.sqrt(np.abs(x * y))
//! z = f(x, y)   # one kernel, whatever the number of operations
//! ```
//!
//! The function runs on traced values ([`Traced`]): operators, NumPy ufuncs and `np.where` on
//! them record operations instead of running them. Python scalars stay parameters of the
//! kernel (a new value does not recompile). What it returns, a traced value or a tuple of them,
//! is evaluated then: a tuple by one kernel writing every output. A reduction inside (`x.sum()`,
//! `np.sum(x * y)`) runs at once, fused with the operations before it, and its result is an array
//! the rest of the function reads. Arguments may be gpujit arrays or any producer's arrays
//! (taken through DLPack or the CUDA Array Interface without a copy where possible).

use crate::array::PyArray;
use crate::engine::{self, Term};
use crate::import::GpujitError;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};

/// A value inside a `gpujit.fuse` function: operations on it are recorded, not run.
#[pyclass(name = "Traced", module = "gpujit", frozen)]
pub struct Traced {
    pub(crate) term: Term,
}

impl Traced {
    pub(crate) fn wrap(py: Python<'_>, term: Term) -> PyResult<Py<PyAny>> {
        Ok(Py::new(py, Traced { term })?.into_any())
    }
}

macro_rules! operators {
    ($($op:ident, $rop:ident => $name:literal;)*) => {
        #[pymethods]
        impl Traced {
            #[getter]
            fn shape<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
                PyTuple::new(py, &self.term.shape)
            }

            #[getter]
            fn dtype(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
                crate::dtype::numpy_dtype(py, self.term.dtype)
            }

            #[getter]
            fn ndim(&self) -> usize {
                self.term.shape.len()
            }

            /// The value converted to `dtype` (recorded).
            fn astype(&self, py: Python<'_>, dtype: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
                let t = crate::dtype::of(py, dtype, "astype")?;
                Traced::wrap(py, self.term.clone().cast(t)?)
            }

            fn __bool__(&self) -> PyResult<bool> {
                Err(PyTypeError::new_err("a value inside gpujit.fuse has no truth value (branch with np.where)"))
            }

            #[pyo3(signature = (ufunc, method, *inputs, **kwargs))]
            fn __array_ufunc__(
                &self,
                py: Python<'_>,
                ufunc: &Bound<'_, PyAny>,
                method: &str,
                inputs: &Bound<'_, PyTuple>,
                kwargs: Option<&Bound<'_, PyDict>>,
            ) -> PyResult<Py<PyAny>> {
                let name: String = ufunc.getattr("__name__")?.extract()?;
                engine::array_ufunc(py, &name, method, inputs, kwargs)
            }

            fn __array_function__(
                &self,
                py: Python<'_>,
                func: &Bound<'_, PyAny>,
                types: &Bound<'_, PyAny>,
                args: &Bound<'_, PyTuple>,
                kwargs: &Bound<'_, PyDict>,
            ) -> PyResult<Py<PyAny>> {
                let _ = types;
                crate::functions::array_function(py, func, args, kwargs)
            }

            #[pyo3(signature = (**kwargs))]
            fn sum(slf: &Bound<'_, Self>, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Py<PyAny>> {
                crate::functions::method_reduce(slf.as_any(), engine::Reduce::Sum, kwargs)
            }

            #[pyo3(signature = (**kwargs))]
            fn mean(slf: &Bound<'_, Self>, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Py<PyAny>> {
                crate::functions::method_reduce(slf.as_any(), engine::Reduce::Mean, kwargs)
            }

            #[pyo3(signature = (**kwargs))]
            fn max(slf: &Bound<'_, Self>, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Py<PyAny>> {
                crate::functions::method_reduce(slf.as_any(), engine::Reduce::Max, kwargs)
            }

            #[pyo3(signature = (**kwargs))]
            fn min(slf: &Bound<'_, Self>, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Py<PyAny>> {
                crate::functions::method_reduce(slf.as_any(), engine::Reduce::Min, kwargs)
            }

            fn __pow__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>, _modulo: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
                engine::binary_operator(slf.py(), "power", slf.as_any(), o)
            }

            fn __rpow__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>, _modulo: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
                engine::binary_operator(slf.py(), "power", o, slf.as_any())
            }

            fn __neg__(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
                engine::unary_operator(slf.py(), "negative", slf.as_any())
            }

            fn __pos__(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
                engine::unary_operator(slf.py(), "positive", slf.as_any())
            }

            fn __abs__(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
                engine::unary_operator(slf.py(), "absolute", slf.as_any())
            }

            fn __invert__(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
                engine::unary_operator(slf.py(), "invert", slf.as_any())
            }

            fn __richcmp__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>, op: pyo3::basic::CompareOp) -> PyResult<Py<PyAny>> {
                engine::binary_operator(slf.py(), crate::functions::compare_name(op), slf.as_any(), o)
            }

            $(
                fn $op(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
                    engine::binary_operator(slf.py(), $name, slf.as_any(), o)
                }
                fn $rop(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
                    engine::binary_operator(slf.py(), $name, o, slf.as_any())
                }
            )*
        }
    };
}

operators! {
    __add__, __radd__ => "add";
    __sub__, __rsub__ => "subtract";
    __mul__, __rmul__ => "multiply";
    __truediv__, __rtruediv__ => "divide";
    __floordiv__, __rfloordiv__ => "floor_divide";
    __mod__, __rmod__ => "remainder";
    __and__, __rand__ => "bitwise_and";
    __or__, __ror__ => "bitwise_or";
    __xor__, __rxor__ => "bitwise_xor";
    __lshift__, __rlshift__ => "left_shift";
    __rshift__, __rrshift__ => "right_shift";
}

/// A function compiled by `gpujit.fuse`: calling it traces the function and runs one kernel.
#[pyclass(name = "Fused", module = "gpujit", frozen)]
pub struct Fused {
    func: Py<PyAny>,
}

/// The argument of a fused call as the function sees it: arrays traced, scalars as they are.
fn trace_arg(py: Python<'_>, x: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
    if let Ok(a) = x.downcast::<PyArray>() {
        return Traced::wrap(py, Term::array(&a.get().a));
    }
    if crate::dtype::weak_kind(x).is_some() || x.is_none() {
        return Ok(x.clone().unbind());
    }
    if x.hasattr("__dlpack__")? || x.hasattr("__cuda_array_interface__")? {
        let a = crate::asarray::asarray_on(py, x, None, None, None)?;
        return Traced::wrap(py, Term::array(&a.bind(py).downcast::<PyArray>()?.get().a));
    }
    Ok(x.clone().unbind())
}

/// A result of the function: a traced value's term, `None` for anything else.
fn term_of(x: &Bound<'_, PyAny>) -> Option<Term> {
    x.downcast::<Traced>().ok().map(|t| t.get().term.clone())
}

#[pymethods]
impl Fused {
    #[pyo3(signature = (*args, **kwargs))]
    fn __call__(&self, py: Python<'_>, args: &Bound<'_, PyTuple>, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Py<PyAny>> {
        let traced: Vec<Py<PyAny>> = args.iter().map(|a| trace_arg(py, &a)).collect::<PyResult<_>>()?;
        let traced_kwargs = PyDict::new(py);
        if let Some(k) = kwargs {
            for (key, v) in k.iter() {
                traced_kwargs.set_item(key, trace_arg(py, &v)?)?;
            }
        }
        let result = self.func.bind(py).call(PyTuple::new(py, traced)?, Some(&traced_kwargs))?;
        if let Some(t) = term_of(&result) {
            return PyArray::new(engine::eval_new(py, &t, None)?).into_py(py);
        }
        let items: Option<Vec<Bound<'_, PyAny>>> = match (result.downcast::<PyTuple>(), result.downcast::<PyList>()) {
            (Ok(t), _) => Some(t.iter().collect()),
            (_, Ok(l)) => Some(l.iter().collect()),
            _ => None,
        };
        let Some(items) = items else { return Ok(result.unbind()) };
        // Every traced output of one shape: one kernel writes them all.
        let terms: Vec<Option<Term>> = items.iter().map(term_of).collect();
        let shapes: Vec<&Vec<usize>> = terms.iter().flatten().map(|t| &t.shape).collect();
        let mut outs: Vec<Py<PyAny>> = Vec::new();
        if shapes.windows(2).all(|w| w[0] == w[1]) && !shapes.is_empty() {
            let live: Vec<Term> = terms.iter().flatten().cloned().collect();
            let dev =
                live.iter().find_map(|t| t.device_of()).unwrap_or(::gpujit::runtime::Device::current().map_err(crate::import::to_py_err)?);
            let arrays: Vec<crate::array::Strided> =
                live.iter().map(|t| crate::array::Strided::uninit(t.dtype, &t.shape, &dev)).collect::<PyResult<_>>()?;
            engine::eval_into(py, &live, &arrays)?;
            let mut arrays = arrays.into_iter();
            for (item, t) in items.iter().zip(&terms) {
                outs.push(match t {
                    Some(_) => PyArray::new(arrays.next().ok_or_else(|| GpujitError::new_err("internal error: outputs"))?).into_py(py)?,
                    None => item.clone().unbind(),
                });
            }
        } else {
            for (item, t) in items.iter().zip(&terms) {
                outs.push(match t {
                    Some(t) => PyArray::new(engine::eval_new(py, t, None)?).into_py(py)?,
                    None => item.clone().unbind(),
                });
            }
        }
        Ok(PyTuple::new(py, outs)?.into_any().unbind())
    }

    /// The function fused.
    #[getter]
    fn __wrapped__(&self, py: Python<'_>) -> Py<PyAny> {
        self.func.clone_ref(py)
    }
}

/// `@gpujit.fuse` or `@gpujit.fuse()` (`kernel_name=` is accepted, as CuPy's, and unused).
#[pyfunction]
#[pyo3(signature = (func = None, *, kernel_name = None))]
pub(crate) fn fuse(py: Python<'_>, func: Option<Py<PyAny>>, kernel_name: Option<String>) -> PyResult<Py<PyAny>> {
    let _ = kernel_name;
    match func {
        Some(f) => Ok(Py::new(py, Fused { func: f })?.into_any()),
        None => {
            let decorate = pyo3::types::PyCFunction::new_closure(py, None, None, |args, _| -> PyResult<Py<PyAny>> {
                let py = args.py();
                let f = args.get_item(0)?;
                Ok(Py::new(py, Fused { func: f.unbind() })?.into_any())
            })?;
            Ok(decorate.into_any().unbind())
        }
    }
}
