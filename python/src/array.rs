//! `gpujit.Array`: memory on a device, an element type and a strided layout, as a NumPy array
//! is. Views (`a.T`, `a[1:, ::2]`, `a[3]`, `reshape` of a contiguous array) share the memory;
//! NumPy, PyTorch, CuPy and JAX take the array through DLPack or the CUDA Array Interface with no
//! copy.

use crate::dtype;
use crate::import::{to_py_err, GpujitError, LEGACY, VERSIONED};
use ::gpujit::codegen::ScalarType;
use ::gpujit::dlpack::{DLManagedTensor, DLManagedTensorVersioned};
use ::gpujit::runtime::{Device, DeviceArray, DeviceId, ExternalArray};
use pyo3::exceptions::{PyAttributeError, PyBufferError, PyIndexError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyCapsule, PyDict, PySlice, PyTuple};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Arrays this module has made and not yet dropped (exported tensors included): lets the tests
/// prove that every DLPack deleter ran.
pub(crate) static LIVE: AtomicUsize = AtomicUsize::new(0);

/// The most axes an array may have (the kernels' limit).
pub(crate) const MAX_NDIM: usize = 4;

/// An array: bytes on a device, seen as elements of `elem` with `shape` and `strides` (in
/// elements) from element `offset` of the buffer.
#[derive(Clone)]
pub(crate) struct Strided {
    pub(crate) buf: Arc<DeviceArray<u8>>,
    pub(crate) elem: ScalarType,
    pub(crate) shape: Vec<usize>,
    pub(crate) strides: Vec<isize>,
    pub(crate) offset: usize,
}

/// C-order strides of `shape`, in elements.
pub(crate) fn c_strides(shape: &[usize]) -> Vec<isize> {
    ::gpujit::runtime::Layout::contiguous(shape).strides
}

impl Strided {
    /// A new C-contiguous array whose elements are not yet written.
    pub(crate) fn uninit(elem: ScalarType, shape: &[usize], device: &Device) -> PyResult<Strided> {
        if shape.len() > MAX_NDIM {
            return Err(PyValueError::new_err(format!("gpujit arrays have at most {MAX_NDIM} dimensions, not {}", shape.len())));
        }
        let n: usize = shape.iter().product::<usize>().max(1);
        let buf = DeviceArray::<u8>::uninit_shape(device, &[n * elem.size_bytes()]).map_err(to_py_err)?;
        Ok(Strided { buf: Arc::new(buf), elem, shape: shape.to_vec(), strides: c_strides(shape), offset: 0 })
    }

    /// A new C-contiguous array holding `bytes` (C order).
    pub(crate) fn from_bytes(elem: ScalarType, shape: &[usize], bytes: &[u8], device: &Device) -> PyResult<Strided> {
        let n: usize = shape.iter().product::<usize>();
        if bytes.len() != n * elem.size_bytes() {
            return Err(GpujitError::new_err(format!("{} bytes for {n} elements of {}", bytes.len(), dtype::name(elem))));
        }
        let mut padded = bytes.to_vec();
        padded.resize(n.max(1) * elem.size_bytes(), 0);
        let buf = DeviceArray::<u8>::from_slice(device, &padded).map_err(to_py_err)?;
        Ok(Strided { buf: Arc::new(buf), elem, shape: shape.to_vec(), strides: c_strides(shape), offset: 0 })
    }

    /// An array over another library's C-contiguous memory, kept alive by `owner`.
    ///
    /// # Safety
    /// As [`DeviceArray::from_foreign`]: `shape`'s elements of `elem` at `address` on `device`,
    /// writable, kept allocated by `owner`.
    pub(crate) unsafe fn foreign(
        elem: ScalarType,
        shape: &[usize],
        device: &Device,
        address: u64,
        owner: Box<dyn Send>,
    ) -> PyResult<Strided> {
        let n: usize = shape.iter().product::<usize>();
        // SAFETY: the caller's contract, for the n * size bytes.
        let buf = unsafe { DeviceArray::<u8>::from_foreign(device, address, &[n * elem.size_bytes()], owner) }.map_err(to_py_err)?;
        Ok(Strided { buf: Arc::new(buf), elem, shape: shape.to_vec(), strides: c_strides(shape), offset: 0 })
    }

    pub(crate) fn device(&self) -> &Device {
        self.buf.device()
    }

    pub(crate) fn size(&self) -> usize {
        self.shape.iter().product()
    }

    /// The address of the first element.
    pub(crate) fn address(&self) -> u64 {
        self.buf.address() + (self.offset * self.elem.size_bytes()) as u64
    }

    /// Whether the elements are in C order without gaps.
    pub(crate) fn is_c_contiguous(&self) -> bool {
        let mut expect = 1isize;
        for (&n, &s) in self.shape.iter().zip(&self.strides).rev() {
            if n != 1 && s != expect {
                return false;
            }
            expect *= n as isize;
        }
        true
    }

    /// The byte range `[lo, hi)` of the buffer the elements occupy (empty for no elements).
    pub(crate) fn span(&self) -> (usize, usize) {
        if self.size() == 0 {
            return (0, 0);
        }
        let (mut lo, mut hi) = (self.offset as isize, self.offset as isize);
        for (&n, &s) in self.shape.iter().zip(&self.strides) {
            let reach = (n as isize - 1) * s;
            if reach < 0 {
                lo += reach;
            } else {
                hi += reach;
            }
        }
        let size = self.elem.size_bytes();
        (lo as usize * size, (hi as usize + 1) * size)
    }

    /// Whether the two arrays may touch the same bytes.
    pub(crate) fn overlaps(&self, other: &Strided) -> bool {
        if !Arc::ptr_eq(&self.buf, &other.buf) && self.buf.address() != other.buf.address() {
            return false;
        }
        let ((a, b), (c, d)) = (self.span(), other.span());
        a < d && c < b
    }

    /// Whether the two describe exactly the same elements.
    pub(crate) fn same_view(&self, other: &Strided) -> bool {
        self.address() == other.address() && self.elem == other.elem && self.shape == other.shape && self.strides == other.strides
    }

    /// The array as a kernel argument (a 0-d array as one element).
    pub(crate) fn view(&self, writable: bool) -> PyResult<ExternalArray<'_>> {
        let (shape, strides) = if self.shape.is_empty() { (vec![1], vec![1]) } else { (self.shape.clone(), self.strides.clone()) };
        // SAFETY: the shape and strides stay inside the buffer (every view is made from the
        // buffer's own layout by slicing, permuting or inserting axes of extent 1), the buffer
        // outlives the result, which borrows `self`. Launches release the GIL, so another Python
        // thread writing the same array meanwhile races with the kernel, as with NumPy's own
        // GIL-free loops.
        unsafe { ExternalArray::from_raw_parts(self.device(), self.elem, self.address(), &shape, Some(&strides), !writable) }
            .map_err(to_py_err)
    }

    /// The same elements with another layout (no copy).
    pub(crate) fn with_layout(&self, shape: Vec<usize>, strides: Vec<isize>, offset: usize) -> Strided {
        Strided { buf: self.buf.clone(), elem: self.elem, shape, strides, offset }
    }

    /// The elements as C-order bytes on the host (a copy; waits for the work writing them).
    pub(crate) fn host_bytes(&self, py: Python<'_>) -> PyResult<Vec<u8>> {
        let n = self.size() * self.elem.size_bytes();
        let whole = self.is_c_contiguous() && self.offset == 0;
        let c = if whole { self.clone() } else { crate::engine::copy(py, self, self.device())? };
        let mut bytes = py.detach(|| c.buf.to_vec()).map_err(to_py_err)?;
        bytes.truncate(n);
        Ok(bytes)
    }

    /// A C-contiguous array (`self` when it is one).
    pub(crate) fn contiguous(&self, py: Python<'_>) -> PyResult<Strided> {
        if self.is_c_contiguous() {
            return Ok(self.clone());
        }
        crate::engine::copy(py, self, self.device())
    }
}

/// A gpujit array: `numpy.from_dlpack`, `torch.from_dlpack` and `cupy.asarray` take it with no
/// copy, and kernels take it like any other array.
#[pyclass(name = "Array", module = "gpujit", frozen)]
pub struct PyArray {
    pub(crate) a: Strided,
}

impl Drop for PyArray {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Rides along with an exported tensor: counted in [`LIVE`] until the deleter drops it.
pub(crate) struct Counted(());

impl Counted {
    pub(crate) fn new() -> Counted {
        LIVE.fetch_add(1, Ordering::SeqCst);
        Counted(())
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, Ordering::SeqCst);
    }
}

impl PyArray {
    pub(crate) fn new(a: Strided) -> PyArray {
        LIVE.fetch_add(1, Ordering::SeqCst);
        PyArray { a }
    }

    pub(crate) fn into_py(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(Py::new(py, self)?.into_any())
    }

    pub(crate) fn device_id(&self) -> DeviceId {
        self.a.device().id()
    }

    /// The view `key` selects (NumPy's basic indexing: integers, slices, `...`, `None`).
    fn select(&self, key: &Bound<'_, PyAny>) -> PyResult<Strided> {
        let items: Vec<Bound<'_, PyAny>> = match key.downcast::<PyTuple>() {
            Ok(t) => t.iter().collect(),
            Err(_) => vec![key.clone()],
        };
        let py = key.py();
        let is_none = |x: &Bound<'_, PyAny>| x.is_none();
        let is_ellipsis = |x: &Bound<'_, PyAny>| x.is(py.Ellipsis());
        let real = items.iter().filter(|x| !is_none(x) && !is_ellipsis(x)).count();
        let nd = self.a.shape.len();
        if real > nd {
            return Err(PyIndexError::new_err(format!("too many indices for an array of {nd} dimensions: {real} were given")));
        }
        if items.iter().filter(|x| is_ellipsis(x)).count() > 1 {
            return Err(PyIndexError::new_err("an index can only have a single ellipsis ('...')"));
        }
        let (mut shape, mut strides) = (Vec::new(), Vec::new());
        let mut offset = self.a.offset as isize;
        let mut axis = 0;
        for x in &items {
            if is_ellipsis(x) {
                for _ in 0..nd - real {
                    shape.push(self.a.shape[axis]);
                    strides.push(self.a.strides[axis]);
                    axis += 1;
                }
            } else if is_none(x) {
                shape.push(1);
                strides.push(0);
            } else if let Ok(s) = x.downcast::<PySlice>() {
                let n = self.a.shape[axis];
                let i = s.indices(n as isize)?;
                offset += if i.slicelength > 0 { i.start * self.a.strides[axis] } else { 0 };
                shape.push(i.slicelength);
                strides.push(self.a.strides[axis] * i.step);
                axis += 1;
            } else if x.is_instance_of::<pyo3::types::PyBool>()
                || x.hasattr("shape")? && !x.getattr("shape")?.extract::<Vec<usize>>()?.is_empty()
            {
                return Err(PyIndexError::new_err(
                    "gpujit arrays take basic indices only (integers, slices, ..., None); boolean and integer-array indexing is not supported",
                ));
            } else {
                let i: isize = x.call_method0("__index__").and_then(|v| v.extract()).map_err(|_| {
                    PyIndexError::new_err(format!(
                        "only integers, slices, ..., and None are valid indices, not {}",
                        x.get_type().name().map(|n| n.to_string()).unwrap_or_default()
                    ))
                })?;
                let n = self.a.shape[axis] as isize;
                if i < -n || i >= n {
                    return Err(PyIndexError::new_err(format!("index {i} is out of bounds for axis {axis} with size {n}")));
                }
                offset += i.rem_euclid(n.max(1)) * self.a.strides[axis];
                axis += 1;
            }
        }
        while axis < nd {
            shape.push(self.a.shape[axis]);
            strides.push(self.a.strides[axis]);
            axis += 1;
        }
        if shape.len() > MAX_NDIM {
            return Err(PyIndexError::new_err(format!("gpujit arrays have at most {MAX_NDIM} dimensions")));
        }
        Ok(self.a.with_layout(shape, strides, offset.max(0) as usize))
    }

    /// The same elements with the axes in `order`.
    pub(crate) fn permuted(a: &Strided, order: &[usize]) -> PyResult<Strided> {
        let nd = a.shape.len();
        let mut seen = vec![false; nd];
        if order.len() != nd || order.iter().any(|&o| o >= nd || std::mem::replace(&mut seen[o], true)) {
            return Err(PyValueError::new_err(format!("axes {order:?} don't match an array of {nd} dimensions")));
        }
        Ok(a.with_layout(order.iter().map(|&o| a.shape[o]).collect(), order.iter().map(|&o| a.strides[o]).collect(), a.offset))
    }

    /// `shape` for `reshape`: `(2, -1)`-style, one -1 inferred.
    pub(crate) fn new_shape(size: usize, dims: &[i64]) -> PyResult<Vec<usize>> {
        let unknown = dims.iter().filter(|&&d| d == -1).count();
        if unknown > 1 || dims.iter().any(|&d| d < -1) {
            return Err(PyValueError::new_err(format!("reshape: {dims:?} is not a shape (one -1 at most, no other negative)")));
        }
        let known: usize = dims.iter().filter(|&&d| d >= 0).map(|&d| d as usize).product();
        let out: Vec<usize> = dims.iter().map(|&d| if d == -1 { size.checked_div(known).unwrap_or(0) } else { d as usize }).collect();
        if out.iter().product::<usize>() != size {
            return Err(PyValueError::new_err(format!("cannot reshape an array of size {size} into shape {dims:?}")));
        }
        Ok(out)
    }

    pub(crate) fn reshaped(py: Python<'_>, a: &Strided, dims: &[i64]) -> PyResult<Strided> {
        let shape = PyArray::new_shape(a.size(), dims)?;
        // A C-contiguous array is reshaped in place; any other is copied first (as NumPy does
        // when no view can express it).
        let c = a.contiguous(py)?;
        let strides = c_strides(&shape);
        Ok(c.with_layout(shape, strides, c.offset))
    }
}

/// The shape argument of `reshape(2, 3)` / `reshape((2, 3))`.
fn dims_of(shape: &Bound<'_, PyTuple>) -> PyResult<Vec<i64>> {
    match shape.len() {
        1 if !shape.get_item(0)?.is_instance_of::<pyo3::types::PyInt>() => shape.get_item(0)?.extract(),
        _ => shape.extract(),
    }
}

#[pymethods]
impl PyArray {
    /// The extents, a tuple as NumPy's.
    #[getter]
    fn shape<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, &self.a.shape)
    }

    /// The element type as a `numpy.dtype` (it compares equal to its name).
    #[getter]
    fn dtype(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        dtype::numpy_dtype(py, self.a.elem)
    }

    #[getter]
    fn ndim(&self) -> usize {
        self.a.shape.len()
    }

    /// The number of elements.
    #[getter]
    fn size(&self) -> usize {
        self.a.size()
    }

    /// Bytes an element.
    #[getter]
    fn itemsize(&self) -> usize {
        self.a.elem.size_bytes()
    }

    /// The bytes of the elements.
    #[getter]
    fn nbytes(&self) -> usize {
        self.a.size() * self.a.elem.size_bytes()
    }

    /// Steps between neighbours along each axis, in bytes (NumPy's `strides`).
    #[getter]
    fn strides<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let size = self.a.elem.size_bytes() as isize;
        PyTuple::new(py, self.a.strides.iter().map(|s| s * size))
    }

    /// Whether the elements are C-contiguous (NumPy's `flags.c_contiguous`).
    #[getter]
    fn is_c_contiguous(&self) -> bool {
        self.a.is_c_contiguous()
    }

    /// The transpose: the axes reversed, a view.
    #[getter]
    #[allow(non_snake_case)]
    fn T(&self) -> PyResult<PyArray> {
        let order: Vec<usize> = (0..self.a.shape.len()).rev().collect();
        Ok(PyArray::new(PyArray::permuted(&self.a, &order)?))
    }

    /// The axes permuted (`transpose()` reverses them, `transpose(1, 0, 2)` or
    /// `transpose((1, 0, 2))` orders them), a view.
    #[pyo3(signature = (*axes))]
    fn transpose(&self, axes: &Bound<'_, PyTuple>) -> PyResult<PyArray> {
        if axes.is_empty() || (axes.len() == 1 && axes.get_item(0)?.is_none()) {
            return self.T();
        }
        let order: Vec<isize> = dims_of(axes)?.into_iter().map(|d| d as isize).collect();
        let nd = self.a.shape.len() as isize;
        let order: Vec<usize> = order.iter().map(|&a| if a < 0 { (a + nd) as usize } else { a as usize }).collect();
        Ok(PyArray::new(PyArray::permuted(&self.a, &order)?))
    }

    /// Axes `a` and `b` exchanged, a view.
    fn swapaxes(&self, a: isize, b: isize) -> PyResult<PyArray> {
        let nd = self.a.shape.len() as isize;
        let norm = |x: isize| -> PyResult<usize> {
            if x < -nd || x >= nd {
                return Err(PyValueError::new_err(format!("axis {x} is out of bounds for an array of {nd} dimensions")));
            }
            Ok(x.rem_euclid(nd.max(1)) as usize)
        };
        let mut order: Vec<usize> = (0..nd as usize).collect();
        order.swap(norm(a)?, norm(b)?);
        Ok(PyArray::new(PyArray::permuted(&self.a, &order)?))
    }

    /// The extent of the first axis (a 0-d array has none).
    fn __len__(&self) -> PyResult<usize> {
        self.a.shape.first().copied().ok_or_else(|| PyTypeError::new_err("len() of a 0-d gpujit.Array"))
    }

    /// NumPy's basic indexing, a view: `a[1]`, `a[1:, ::2]`, `a[..., 0]`, `a[:, None]`; all
    /// integers give a 0-d array.
    fn __getitem__(&self, key: &Bound<'_, PyAny>) -> PyResult<PyArray> {
        Ok(PyArray::new(self.select(key)?))
    }

    /// `a[key] = value`: `value` (an array of any producer, or a scalar) converted to the
    /// array's dtype and broadcast into the selected elements, on the array's device.
    fn __setitem__(&self, key: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let target = self.select(key)?;
        crate::engine::assign(value.py(), &target, value)
    }

    /// The same elements with another shape: a view of a C-contiguous array, else a copy, as
    /// NumPy's `reshape` (`a.reshape(2, 3)`, `a.reshape((2, -1))`).
    #[pyo3(signature = (*shape))]
    fn reshape(&self, py: Python<'_>, shape: &Bound<'_, PyTuple>) -> PyResult<PyArray> {
        Ok(PyArray::new(PyArray::reshaped(py, &self.a, &dims_of(shape)?)?))
    }

    /// The same bytes as elements of `dtype` (NumPy's `a.view(dtype)`, no copy): the last axis
    /// must be contiguous and hold a whole number of the new elements, the data aligned for them.
    fn view(&self, py: Python<'_>, dtype: &Bound<'_, PyAny>) -> PyResult<PyArray> {
        let to = dtype::of(py, dtype, "view")?;
        let a = &self.a;
        let (from_size, to_size) = (a.elem.size_bytes(), to.size_bytes());
        if to == ScalarType::Bool && a.elem != ScalarType::Bool {
            return Err(PyValueError::new_err("view: bool elements cannot be made from arbitrary bytes"));
        }
        if a.shape.is_empty() {
            if from_size != to_size {
                return Err(PyValueError::new_err("view: a 0-d array keeps its itemsize"));
            }
            return Ok(PyArray::new(Strided { elem: to, ..a.clone() }));
        }
        let last = a.shape.len() - 1;
        if a.shape[last] > 1 && a.strides[last] != 1 {
            return Err(PyValueError::new_err("view: the last axis must be contiguous to change the itemsize"));
        }
        let bytes = a.shape[last] * from_size;
        let offset_bytes = a.offset * from_size;
        if bytes % to_size != 0
            || offset_bytes % to_size != 0
            || a.strides[..last].iter().any(|s| (s * from_size as isize) % to_size as isize != 0)
        {
            return Err(PyValueError::new_err(format!(
                "view: the last axis holds {bytes} bytes, which do not divide into {} elements of {to_size} bytes",
                dtype::name(to)
            )));
        }
        let mut shape = a.shape.clone();
        let mut strides: Vec<isize> = a.strides.iter().map(|s| s * from_size as isize / to_size as isize).collect();
        shape[last] = bytes / to_size;
        strides[last] = 1;
        Ok(PyArray::new(Strided { buf: a.buf.clone(), elem: to, shape, strides, offset: offset_bytes / to_size }))
    }

    /// The elements as one axis (a view when C-contiguous).
    fn ravel(&self, py: Python<'_>) -> PyResult<PyArray> {
        Ok(PyArray::new(PyArray::reshaped(py, &self.a, &[-1])?))
    }

    /// The elements as one axis, always a copy.
    fn flatten(&self, py: Python<'_>) -> PyResult<PyArray> {
        let c = crate::engine::copy(py, &self.a, self.a.device())?;
        Ok(PyArray::new(PyArray::reshaped(py, &c, &[-1])?))
    }

    /// A new array of `dtype` holding these elements converted (NumPy's `astype`; a copy even
    /// when the dtype is the same, unless `copy=False`).
    #[pyo3(signature = (dtype, copy = true))]
    fn astype(slf: &Bound<'_, Self>, dtype: &Bound<'_, PyAny>, copy: bool) -> PyResult<Py<PyAny>> {
        crate::asarray::asarray(slf.py(), slf.as_any(), Some(dtype), None, if copy { Some(true) } else { None })
    }

    /// A copy on the same device.
    fn copy(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        crate::asarray::asarray(slf.py(), slf.as_any(), None, None, Some(true))
    }

    /// The elements copied into a new NumPy array (from any device).
    fn to_numpy(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        to_numpy(py, &self.a)
    }

    /// NumPy's `np.asarray(a)` / `np.array(a)`: a host copy, as `to_numpy`.
    #[pyo3(signature = (dtype = None, copy = None))]
    fn __array__(&self, py: Python<'_>, dtype: Option<&Bound<'_, PyAny>>, copy: Option<bool>) -> PyResult<Py<PyAny>> {
        if copy == Some(false) {
            return Err(PyValueError::new_err("a gpujit.Array becomes a NumPy array only by a copy (copy=False)"));
        }
        let a = to_numpy(py, &self.a)?;
        match dtype.filter(|d| !d.is_none()) {
            Some(d) => Ok(a.bind(py).call_method1("astype", (d,))?.unbind()),
            None => Ok(a),
        }
    }

    /// The value of a one-element array as a Python scalar.
    fn item(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        if self.a.size() != 1 {
            return Err(PyValueError::new_err(format!("can only convert an array of size 1 to a Python scalar, not {}", self.a.size())));
        }
        Ok(to_numpy(py, &self.a)?.bind(py).call_method0("item")?.unbind())
    }

    fn __float__(&self, py: Python<'_>) -> PyResult<f64> {
        self.item(py)?.bind(py).call_method0("__float__")?.extract()
    }

    fn __int__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(self.item(py)?.bind(py).call_method0("__int__")?.unbind())
    }

    fn __index__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        if !matches!(dtype::kind(self.a.elem), 'i' | 'u') {
            return Err(PyTypeError::new_err("only integer arrays can be converted to an index"));
        }
        self.__int__(py)
    }

    fn __complex__(&self, py: Python<'_>) -> PyResult<num_complex::Complex<f64>> {
        self.item(py)?.extract::<num_complex::Complex<f64>>(py)
    }

    fn __bool__(&self, py: Python<'_>) -> PyResult<bool> {
        if self.a.size() != 1 {
            return Err(PyValueError::new_err(
                "the truth value of an array with more than one element is ambiguous. Use a.any() or a.all()",
            ));
        }
        self.item(py)?.bind(py).is_truthy()
    }

    /// `cpu` or `cuda:N`.
    #[getter]
    fn device(&self) -> String {
        match self.device_id() {
            DeviceId::Cpu => "cpu".into(),
            DeviceId::Cuda(n) => format!("cuda:{n}"),
        }
    }

    /// `gpujit.Array([1., 2., 3.], dtype=float32, device='cpu')`: the values as NumPy prints
    /// them (summarized when large), read back from the device.
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let values = match to_numpy(py, &self.a) {
            Ok(a) => {
                let np = py.import("numpy")?;
                let kw = PyDict::new(py);
                kw.set_item("separator", ", ")?;
                kw.set_item("prefix", "gpujit.Array(")?;
                np.call_method("array2string", (a,), Some(&kw))?.extract::<String>()?
            }
            Err(_) => format!("<{} elements>", self.a.size()),
        };
        Ok(format!("gpujit.Array({values}, dtype={}, device='{}')", dtype::name(self.a.elem), self.device()))
    }

    /// NumPy's ufunc protocol (NEP 13): `np.add(a, b, out=c, where=m)`, `np.maximum.reduce`, ...
    /// run as gpujit kernels on the arrays' device (see the `engine` module).
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
        crate::engine::array_ufunc(py, &name, method, inputs, kwargs)
    }

    /// NumPy's function protocol (NEP 18): `np.sum(a)`, `np.where(c, a, b)`,
    /// `np.concatenate([a, b])`, ... (see the `functions` module); other functions raise
    /// `TypeError`.
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

    fn __add__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::engine::binary_operator(slf.py(), "add", slf.as_any(), o)
    }
    fn __radd__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::engine::binary_operator(slf.py(), "add", o, slf.as_any())
    }
    fn __iadd__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<()> {
        crate::engine::inplace_operator(slf.py(), "add", slf.as_any(), o)
    }

    fn __sub__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::engine::binary_operator(slf.py(), "subtract", slf.as_any(), o)
    }
    fn __rsub__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::engine::binary_operator(slf.py(), "subtract", o, slf.as_any())
    }
    fn __isub__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<()> {
        crate::engine::inplace_operator(slf.py(), "subtract", slf.as_any(), o)
    }

    fn __mul__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::engine::binary_operator(slf.py(), "multiply", slf.as_any(), o)
    }
    fn __rmul__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::engine::binary_operator(slf.py(), "multiply", o, slf.as_any())
    }
    fn __imul__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<()> {
        crate::engine::inplace_operator(slf.py(), "multiply", slf.as_any(), o)
    }

    fn __truediv__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::engine::binary_operator(slf.py(), "divide", slf.as_any(), o)
    }
    fn __rtruediv__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::engine::binary_operator(slf.py(), "divide", o, slf.as_any())
    }
    fn __itruediv__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<()> {
        crate::engine::inplace_operator(slf.py(), "divide", slf.as_any(), o)
    }

    fn __floordiv__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::engine::binary_operator(slf.py(), "floor_divide", slf.as_any(), o)
    }
    fn __rfloordiv__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::engine::binary_operator(slf.py(), "floor_divide", o, slf.as_any())
    }
    fn __ifloordiv__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<()> {
        crate::engine::inplace_operator(slf.py(), "floor_divide", slf.as_any(), o)
    }

    fn __mod__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::engine::binary_operator(slf.py(), "remainder", slf.as_any(), o)
    }
    fn __rmod__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::engine::binary_operator(slf.py(), "remainder", o, slf.as_any())
    }
    fn __imod__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<()> {
        crate::engine::inplace_operator(slf.py(), "remainder", slf.as_any(), o)
    }

    fn __pow__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>, _modulo: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
        crate::engine::binary_operator(slf.py(), "power", slf.as_any(), o)
    }
    fn __rpow__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>, _modulo: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
        crate::engine::binary_operator(slf.py(), "power", o, slf.as_any())
    }
    fn __ipow__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>, _modulo: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        crate::engine::inplace_operator(slf.py(), "power", slf.as_any(), o)
    }

    fn __and__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::engine::binary_operator(slf.py(), "bitwise_and", slf.as_any(), o)
    }
    fn __rand__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::engine::binary_operator(slf.py(), "bitwise_and", o, slf.as_any())
    }
    fn __iand__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<()> {
        crate::engine::inplace_operator(slf.py(), "bitwise_and", slf.as_any(), o)
    }

    fn __or__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::engine::binary_operator(slf.py(), "bitwise_or", slf.as_any(), o)
    }
    fn __ror__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::engine::binary_operator(slf.py(), "bitwise_or", o, slf.as_any())
    }
    fn __ior__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<()> {
        crate::engine::inplace_operator(slf.py(), "bitwise_or", slf.as_any(), o)
    }

    fn __xor__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::engine::binary_operator(slf.py(), "bitwise_xor", slf.as_any(), o)
    }
    fn __rxor__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::engine::binary_operator(slf.py(), "bitwise_xor", o, slf.as_any())
    }
    fn __ixor__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<()> {
        crate::engine::inplace_operator(slf.py(), "bitwise_xor", slf.as_any(), o)
    }

    fn __lshift__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::engine::binary_operator(slf.py(), "left_shift", slf.as_any(), o)
    }
    fn __rlshift__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::engine::binary_operator(slf.py(), "left_shift", o, slf.as_any())
    }
    fn __ilshift__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<()> {
        crate::engine::inplace_operator(slf.py(), "left_shift", slf.as_any(), o)
    }

    fn __rshift__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::engine::binary_operator(slf.py(), "right_shift", slf.as_any(), o)
    }
    fn __rrshift__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::engine::binary_operator(slf.py(), "right_shift", o, slf.as_any())
    }
    fn __irshift__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<()> {
        crate::engine::inplace_operator(slf.py(), "right_shift", slf.as_any(), o)
    }

    fn __neg__(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        crate::engine::unary_operator(slf.py(), "negative", slf.as_any())
    }

    fn __pos__(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        crate::engine::unary_operator(slf.py(), "positive", slf.as_any())
    }

    fn __abs__(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        crate::engine::unary_operator(slf.py(), "absolute", slf.as_any())
    }

    fn __invert__(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        crate::engine::unary_operator(slf.py(), "invert", slf.as_any())
    }

    fn __richcmp__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>, op: pyo3::basic::CompareOp) -> PyResult<Py<PyAny>> {
        crate::engine::binary_operator(slf.py(), crate::functions::compare_name(op), slf.as_any(), o)
    }

    /// `a @ b` (naive: one fused reduction of the broadcast product).
    fn __matmul__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::functions::matmul(slf.py(), slf.as_any(), o)
    }
    fn __rmatmul__(slf: &Bound<'_, Self>, o: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::functions::matmul(slf.py(), o, slf.as_any())
    }

    /// The sum over `axis` (None: all), as NumPy's (`dtype`, `out`, `keepdims`; small integers summed as 64-bit).
    #[pyo3(signature = (*args, **kwargs))]
    fn sum(slf: &Bound<'_, Self>, args: &Bound<'_, PyTuple>, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Py<PyAny>> {
        crate::functions::method_reduce_args(slf.as_any(), crate::engine::Reduce::Sum, args, kwargs)
    }

    /// The product, as NumPy's `prod`.
    #[pyo3(signature = (*args, **kwargs))]
    fn prod(slf: &Bound<'_, Self>, args: &Bound<'_, PyTuple>, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Py<PyAny>> {
        crate::functions::method_reduce_args(slf.as_any(), crate::engine::Reduce::Prod, args, kwargs)
    }

    /// The mean, as NumPy's (integers in float64; of zero elements NaN).
    #[pyo3(signature = (*args, **kwargs))]
    fn mean(slf: &Bound<'_, Self>, args: &Bound<'_, PyTuple>, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Py<PyAny>> {
        crate::functions::method_reduce_args(slf.as_any(), crate::engine::Reduce::Mean, args, kwargs)
    }

    /// The variance, as NumPy's (`ddof`).
    #[pyo3(signature = (*args, **kwargs))]
    fn var(slf: &Bound<'_, Self>, args: &Bound<'_, PyTuple>, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Py<PyAny>> {
        crate::functions::method_reduce_args(slf.as_any(), crate::engine::Reduce::Var, args, kwargs)
    }

    /// The standard deviation, as NumPy's (`ddof`).
    #[pyo3(signature = (*args, **kwargs))]
    fn std(slf: &Bound<'_, Self>, args: &Bound<'_, PyTuple>, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Py<PyAny>> {
        crate::functions::method_reduce_args(slf.as_any(), crate::engine::Reduce::Std, args, kwargs)
    }

    /// The greatest element (NaN if any is NaN).
    #[pyo3(signature = (*args, **kwargs))]
    fn max(slf: &Bound<'_, Self>, args: &Bound<'_, PyTuple>, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Py<PyAny>> {
        crate::functions::method_reduce_args(slf.as_any(), crate::engine::Reduce::Max, args, kwargs)
    }

    /// The least element (NaN if any is NaN).
    #[pyo3(signature = (*args, **kwargs))]
    fn min(slf: &Bound<'_, Self>, args: &Bound<'_, PyTuple>, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Py<PyAny>> {
        crate::functions::method_reduce_args(slf.as_any(), crate::engine::Reduce::Min, args, kwargs)
    }

    /// The position of the greatest element (the first; over all axes or one).
    #[pyo3(signature = (*args, **kwargs))]
    fn argmax(slf: &Bound<'_, Self>, args: &Bound<'_, PyTuple>, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Py<PyAny>> {
        crate::functions::method_reduce_args(slf.as_any(), crate::engine::Reduce::ArgMax, args, kwargs)
    }

    /// The position of the least element.
    #[pyo3(signature = (*args, **kwargs))]
    fn argmin(slf: &Bound<'_, Self>, args: &Bound<'_, PyTuple>, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Py<PyAny>> {
        crate::functions::method_reduce_args(slf.as_any(), crate::engine::Reduce::ArgMin, args, kwargs)
    }

    /// Whether any element is true (non-zero).
    #[pyo3(signature = (*args, **kwargs))]
    fn any(slf: &Bound<'_, Self>, args: &Bound<'_, PyTuple>, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Py<PyAny>> {
        crate::functions::method_reduce_args(slf.as_any(), crate::engine::Reduce::Any, args, kwargs)
    }

    /// Whether every element is true (non-zero).
    #[pyo3(signature = (*args, **kwargs))]
    fn all(slf: &Bound<'_, Self>, args: &Bound<'_, PyTuple>, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Py<PyAny>> {
        crate::functions::method_reduce_args(slf.as_any(), crate::engine::Reduce::All, args, kwargs)
    }

    /// `(device_type, device_id)` as DLPack numbers them (1 CPU, 2 CUDA).
    fn __dlpack_device__(&self) -> (i32, i32) {
        match self.device_id() {
            DeviceId::Cpu => (1, 0),
            DeviceId::Cuda(n) => (2, n as i32),
        }
    }

    /// The DLPack protocol: a capsule sharing this array's memory (with its strides).
    /// `max_version` of 1.x gives a versioned `dltensor_versioned` capsule, its absence a legacy
    /// `dltensor` one. The consumer's `stream` is made to wait for gpujit's work on the array
    /// with an event, without blocking the host: `None` and 1 (the legacy default stream, where
    /// gpujit's work goes) need nothing, -1 asks for no ordering, 2 is the per-thread default
    /// stream, larger values a `CUstream`; 0 is refused, as DLPack says.
    #[pyo3(signature = (*, stream = None, max_version = None, dl_device = None, copy = None))]
    fn __dlpack__<'py>(
        &self,
        py: Python<'py>,
        stream: Option<i64>,
        max_version: Option<(u32, u32)>,
        dl_device: Option<(i32, i32)>,
        copy: Option<bool>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        if let Some(d) = dl_device {
            if d != self.__dlpack_device__() {
                return Err(PyBufferError::new_err(format!(
                    "the array is on {}; gpujit does not copy across devices in __dlpack__",
                    self.device()
                )));
            }
        }
        if copy == Some(true) {
            return Err(PyBufferError::new_err("gpujit arrays are exported without copies (copy=True is not supported)"));
        }
        match stream {
            None | Some(-1) => {}
            Some(s) if s < -1 => return Err(PyValueError::new_err(format!("__dlpack__: stream {s} is not a stream"))),
            Some(s) => self.a.device().order_stream_after(s as u64).map_err(to_py_err)?,
        }
        let versioned = matches!(max_version, Some((major, _)) if major >= 1);
        let owner: Box<dyn Send> = Box::new((self.a.buf.clone(), Counted::new()));
        let (device, elem, address) = (self.device_id(), self.a.elem, self.a.address());
        // SAFETY: the tensor's elements are this array's (its own layout inside its buffer), and
        // `owner` holds the buffer until the consumer calls the deleter.
        let ptr = unsafe {
            if versioned {
                ::gpujit::dlpack::share_raw(owner, device, elem, address, &self.a.shape, &self.a.strides, false)
                    .map(|p| p as *mut std::ffi::c_void)
            } else {
                ::gpujit::dlpack::share_raw_legacy(owner, device, elem, address, &self.a.shape, &self.a.strides)
                    .map(|p| p as *mut std::ffi::c_void)
            }
        }
        .map_err(to_py_err)?;
        let name = if versioned { VERSIONED } else { LEGACY };
        let destructor = if versioned { destroy_versioned as pyo3::ffi::PyCapsule_Destructor } else { destroy_legacy };
        // SAFETY: `ptr` is a managed tensor we own; the capsule takes it, and its destructor frees
        // it only if no consumer renamed the capsule (took ownership). PyCapsule_New returns a new
        // reference or NULL with an exception set.
        unsafe {
            let cap = pyo3::ffi::PyCapsule_New(ptr, name.as_ptr(), Some(destructor));
            if cap.is_null() {
                destroy_unclaimed(ptr, versioned);
                return Err(PyErr::fetch(py));
            }
            Ok(Bound::from_owned_ptr(py, cap).downcast_into_unchecked())
        }
    }

    /// The CUDA Array Interface (version 3) of an array on a GPU: CuPy, Numba and PyTorch read it
    /// with no copy. Its stream is the legacy default stream (1), where gpujit's work goes.
    #[getter]
    fn __cuda_array_interface__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        if self.device_id() == DeviceId::Cpu {
            return Err(PyAttributeError::new_err("a gpujit array on the CPU has no __cuda_array_interface__ (use __dlpack__)"));
        }
        let typestr =
            typestr(self.a.elem).ok_or_else(|| PyAttributeError::new_err("the CUDA Array Interface has no bfloat16 (use __dlpack__)"))?;
        let d = PyDict::new(py);
        d.set_item("shape", PyTuple::new(py, &self.a.shape)?)?;
        d.set_item("typestr", typestr)?;
        gpujit::runtime::cai::lend(self.device_id(), self.a.address());
        d.set_item("data", (if self.a.size() == 0 { 0 } else { self.a.address() }, false))?;
        if self.a.is_c_contiguous() {
            d.set_item("strides", py.None())?;
        } else {
            let size = self.a.elem.size_bytes() as isize;
            d.set_item("strides", PyTuple::new(py, self.a.strides.iter().map(|s| s * size))?)?;
        }
        d.set_item("version", 3)?;
        d.set_item("stream", 1)?;
        Ok(d)
    }
}

/// The CUDA Array Interface's type string of `t` (none for bfloat16).
fn typestr(t: ScalarType) -> Option<String> {
    let kind = dtype::kind(t);
    let code = if kind == 'b' { 'b' } else { kind };
    if t == ScalarType::BF16 {
        return None;
    }
    let order = if t.size_bytes() == 1 { '|' } else { '<' };
    Some(format!("{order}{code}{}", t.size_bytes()))
}

/// The elements of `a` as a new NumPy array.
pub(crate) fn to_numpy(py: Python<'_>, a: &Strided) -> PyResult<Py<PyAny>> {
    let bytes = a.host_bytes(py)?;
    let np = py.import("numpy")?;
    let dtype = dtype::numpy_dtype(py, a.elem)?;
    if a.elem == ScalarType::BF16 && dtype.bind(py).extract::<String>().is_ok() {
        return Err(PyTypeError::new_err("a bfloat16 array becomes a NumPy array through ml_dtypes, which is not installed"));
    }
    let flat = np.call_method1("frombuffer", (pyo3::types::PyBytes::new(py, &bytes), dtype))?;
    Ok(flat.call_method1("reshape", (a.shape.clone(),))?.call_method0("copy")?.unbind())
}

/// Frees a tensor no consumer claimed.
///
/// # Safety
/// `ptr` is a managed tensor from `__dlpack__` of the given kind whose deleter has not run.
unsafe fn destroy_unclaimed(ptr: *mut std::ffi::c_void, versioned: bool) {
    // SAFETY: the caller's contract; the deleter frees the tensor and drops its owner once.
    unsafe {
        if versioned {
            let p = ptr as *mut DLManagedTensorVersioned;
            if let Some(d) = (*p).deleter {
                d(p)
            }
        } else {
            let p = ptr as *mut DLManagedTensor;
            if let Some(d) = (*p).deleter {
                d(p)
            }
        }
    }
}

unsafe extern "C" fn destroy_versioned(cap: *mut pyo3::ffi::PyObject) {
    // SAFETY: called by Python with the capsule being destroyed; a capsule still named
    // `dltensor_versioned` was never consumed, so its tensor is still ours to free.
    unsafe {
        if pyo3::ffi::PyCapsule_IsValid(cap, VERSIONED.as_ptr()) == 1 {
            let p = pyo3::ffi::PyCapsule_GetPointer(cap, VERSIONED.as_ptr());
            destroy_unclaimed(p, true);
        }
    }
}

unsafe extern "C" fn destroy_legacy(cap: *mut pyo3::ffi::PyObject) {
    // SAFETY: as for `destroy_versioned`.
    unsafe {
        if pyo3::ffi::PyCapsule_IsValid(cap, LEGACY.as_ptr()) == 1 {
            let p = pyo3::ffi::PyCapsule_GetPointer(cap, LEGACY.as_ptr());
            destroy_unclaimed(p, false);
        }
    }
}
