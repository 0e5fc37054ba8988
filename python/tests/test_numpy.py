"""The gpujit Python module on NumPy arrays (DLPack on the CPU backend): kernels on NumPy's arrays
(contiguous, transposed, sliced, reversed), gpujit arrays handed to NumPy, errors, and deleters.

Run by scripts/test.sh after building the module; on a GPU machine, tests/test_gpu_producers.py
does the same with PyTorch, CuPy and Numba arrays."""
import gc
import sys

import numpy as np

import gpujit

rng = np.random.default_rng()
failures = 0
passed = 0


def case(fn):
    global failures, passed
    try:
        fn()
        passed += 1
        print(f"test {fn.__name__} ... ok")
    except Exception as e:  # report every case, then fail the run
        failures += 1
        print(f"test {fn.__name__} ... FAILED: {type(e).__name__}: {e}")
    return fn


@case
def axpy_on_numpy():
    for dtype in (np.float32, np.float64):
        for n in (0, 1, 1000, 4099):
            x = rng.standard_normal(n).astype(dtype)
            y = rng.standard_normal(n).astype(dtype)
            want = y + dtype(2.5) * x
            gpujit.axpy(2.5, x, y)
            # The kernel fuses the multiply-add (one rounding): within an ulp of the product.
            np.testing.assert_allclose(y, want, rtol=1e-6, atol=1e-6)


@case
def add_on_views():
    a = rng.standard_normal((37, 53))
    b = rng.standard_normal((53, 37)).T  # transposed
    c = rng.standard_normal((80, 120))[3:77:2, 10:63]  # sliced with an offset and a step
    d = rng.standard_normal((37, 53))[::-1, ::-1]  # negative strides
    for x, y in ((a, b), (b, c), (c, d), (d, a)):
        out = np.zeros((37, 53))
        gpujit.add(x, y, out)
        np.testing.assert_array_equal(out, x + y)
    out = np.zeros((53, 37)).T  # a transposed output
    gpujit.add(a, c, out)
    np.testing.assert_array_equal(out, a + c)
    ints = rng.integers(-1000, 1000, (9, 7), dtype=np.int64)
    out = np.zeros((9, 7), dtype=np.int64)
    gpujit.add(ints, ints.T.copy().T, out)
    np.testing.assert_array_equal(out, 2 * ints)
    gpujit.add(np.zeros((0, 5)), np.zeros((0, 5)), np.zeros((0, 5)))


def expect_error(f, *needles):
    try:
        f()
    except gpujit.GpujitError as e:
        for needle in needles:
            assert needle in str(e), f"{needle!r} not in {e}"
    else:
        raise AssertionError(f"no error; expected one naming {needles}")


@case
def errors_name_kernel_and_argument():
    x = np.ones(10, np.float32)
    y = np.ones(10, np.float32)
    y.flags.writeable = False
    expect_error(lambda: gpujit.axpy(1.0, x, y), "axpy_kernel", "read-only")
    expect_error(lambda: gpujit.axpy(1.0, x, np.ones(10)), "axpy_kernel", "`y`")  # f32 x, f64 y
    expect_error(lambda: gpujit.axpy(1, np.ones(10, np.int32), np.ones(10, np.int32)), "axpy_kernel", "Float")
    expect_error(lambda: gpujit.axpy(1.0, x, np.ones(11, np.float32)), "axpy_kernel", "shape")
    expect_error(lambda: gpujit.add(np.ones(3), np.ones(3), np.ones(3)), "add_kernel", "dimensions")
    try:
        gpujit.axpy(1.0, [1.0, 2.0], x)
    except TypeError as e:
        assert "__dlpack__" in str(e), e
    else:
        raise AssertionError("a list was accepted as an array")
    assert issubclass(gpujit.GpujitError, ValueError)


@case
def gpujit_arrays_to_numpy():
    z = gpujit.full((3, 4), 1.5, "float64", device="cpu")
    assert z.shape == (3, 4) and z.dtype == "float64" and z.device == "cpu", repr(z)
    assert z.__dlpack_device__() == (1, 0)
    n = np.from_dlpack(z)
    assert n.shape == (3, 4) and n.dtype == np.float64
    np.testing.assert_array_equal(n, np.full((3, 4), 1.5))
    gpujit.add(z, n, z)  # ours and NumPy's view of the same memory, written in place
    np.testing.assert_array_equal(n, np.full((3, 4), 3.0))
    del z
    gc.collect()
    np.testing.assert_array_equal(n, np.full((3, 4), 3.0))  # the export keeps the memory
    for dtype, npdtype in (("float32", np.float32), ("int32", np.int32), ("int64", np.int64)):
        a = np.from_dlpack(gpujit.full((5,), 7, dtype, device="cpu"))
        assert a.dtype == npdtype and (a == 7).all(), a
    assert not hasattr(gpujit.full((2,), 0.0, device="cpu"), "__cuda_array_interface__")


@case
def capsules_and_deleters():
    gc.collect()
    base = gpujit._live_arrays()
    z = gpujit.full((8,), 2.0, device="cpu")
    assert "dltensor_versioned" in repr(z.__dlpack__(max_version=(1, 0)))
    assert '"dltensor"' in repr(z.__dlpack__())  # legacy consumers
    cap = z.__dlpack__(max_version=(1, 1))  # never consumed: its destructor frees it
    n = np.from_dlpack(z)
    assert gpujit._live_arrays() == base + 3, gpujit._live_arrays() - base  # z, cap, n
    del cap
    gc.collect()
    assert gpujit._live_arrays() == base + 2
    del z
    gc.collect()
    assert gpujit._live_arrays() == base + 1  # NumPy still holds its export
    del n
    gc.collect()
    assert gpujit._live_arrays() == base, gpujit._live_arrays() - base
    try:
        gpujit.full((2,), 0.0, device="cpu").__dlpack__(max_version=(1, 0), copy=True)
    except BufferError:
        pass
    else:
        raise AssertionError("copy=True was accepted")


@case
def round_trip_through_kernels():
    z = gpujit.full((1000,), 1.0, "float32", device="cpu")
    x = rng.standard_normal(1000).astype(np.float32)
    gpujit.axpy(3.0, x, z)
    np.testing.assert_allclose(np.from_dlpack(z), 1.0 + np.float32(3.0) * x, rtol=1e-6, atol=1e-6)


def ours(a):
    """A gpujit array (CPU) holding a copy of the NumPy array `a`."""
    z = gpujit.full(a.shape, 0, str(a.dtype), device="cpu")
    np.from_dlpack(z)[...] = a
    return z


def back(z):
    assert isinstance(z, gpujit.Array), type(z)
    return np.from_dlpack(z)


@case
def ufuncs_elementwise():
    for dtype in (np.float32, np.float64):
        tol = 2e-6 if dtype == np.float32 else 1e-14
        a = rng.standard_normal((3, 1, 5)).astype(dtype)
        b = rng.standard_normal((4, 5)).astype(dtype)  # broadcasts against a to (3, 4, 5)
        za, zb = ours(a), ours(b)
        for uf in (np.add, np.subtract, np.multiply, np.divide, np.maximum, np.minimum):
            np.testing.assert_allclose(back(uf(za, zb)), uf(a, b), rtol=tol, err_msg=uf.__name__)
        for uf in (np.equal, np.not_equal, np.less, np.less_equal, np.greater, np.greater_equal):
            got = back(uf(za, zb))
            assert got.dtype == np.bool_ and (got == uf(a, b)).all(), uf.__name__
        pos = np.abs(a) + dtype(0.5)
        zp = ours(pos)
        for uf in (np.negative, np.absolute, np.exp, np.log, np.sin, np.cos, np.tanh, np.sqrt):
            np.testing.assert_allclose(back(uf(zp)), uf(pos), rtol=4 * tol, err_msg=uf.__name__)
        np.testing.assert_allclose(back(np.power(zp, zb)), np.power(pos, b), rtol=8 * tol)
        # Scalars take the array's dtype; operators go through the same kernels.
        np.testing.assert_allclose(back(np.multiply(za, 2.5)), a * dtype(2.5), rtol=tol)
        np.testing.assert_allclose(back(za * 2.5 + zb), a * dtype(2.5) + b, rtol=tol)
        np.testing.assert_allclose(back(1.0 - za / zb), dtype(1.0) - a / b, rtol=4 * tol)
        np.testing.assert_allclose(back(-abs(za)), -np.abs(a), rtol=0)
        assert (back(za < zb) == (a < b)).all()
    nan = ours(np.array([np.nan, 1.0, 2.0]))
    one = ours(np.array([1.0, np.nan, 3.0]))
    np.testing.assert_array_equal(back(np.maximum(nan, one)), [np.nan, np.nan, 3.0])  # NaN propagates
    i = rng.integers(-100, 100, (7, 6), dtype=np.int64)
    zi = ours(i)
    np.testing.assert_array_equal(back(np.add(zi, zi)), 2 * i)
    np.testing.assert_array_equal(back(np.absolute(zi)), np.abs(i))
    np.testing.assert_array_equal(back(np.negative(zi)), -i)
    np.testing.assert_array_equal(back(zi * 3), i * 3)
    e = ours(np.zeros((0, 3), np.float32))
    assert back(np.add(e, e)).shape == (0, 3)


@case
def ufunc_type_promotion():
    f32 = rng.standard_normal(10).astype(np.float32)
    f64 = rng.standard_normal(10)
    i32 = rng.integers(-50, 50, 10, dtype=np.int32)
    i64 = rng.integers(-50, 50, 10, dtype=np.int64)
    bl = rng.standard_normal(10) > 0
    arrays = [f32, f64, i32, i64, bl]
    for x in arrays:
        for y in arrays:
            if x.dtype == np.bool_ and y.dtype == np.bool_:
                continue  # NumPy's add of booleans is a logical or; not offered
            for uf in (np.add, np.multiply, np.maximum, np.less):
                want = uf(x, y)
                got = back(uf(ours(x), ours(y)))
                assert got.dtype == want.dtype, (uf.__name__, x.dtype, y.dtype, got.dtype, want.dtype)
                np.testing.assert_allclose(got, want, rtol=1e-6)
        for scalar in (2, 2.5, True):
            if x.dtype == np.bool_ and scalar is True:
                continue
            want = np.multiply(x, scalar)
            got = back(np.multiply(ours(x), scalar))
            assert got.dtype == want.dtype, (x.dtype, scalar, got.dtype, want.dtype)
            np.testing.assert_allclose(got, want, rtol=1e-6)
    for x in (i32, i64):
        for uf in (np.exp, np.sin, np.sqrt):
            a = np.abs(x)
            want = uf(a)
            got = back(uf(ours(a)))
            assert got.dtype == want.dtype == np.float64
            np.testing.assert_allclose(got, want, rtol=1e-12)
        base = rng.integers(-9, 10, 500).astype(x.dtype)
        exp = rng.integers(0, 12, 500).astype(x.dtype)
        got = back(np.power(ours(base), ours(exp)))
        assert got.dtype == x.dtype
        np.testing.assert_array_equal(got, np.power(base, exp))
        np.testing.assert_array_equal(back(np.power(ours(base), 3)), base**3)
        big = np.array([3, 7, -5], x.dtype)
        np.testing.assert_array_equal(back(np.power(ours(big), ours(np.array([40, 33, 29], x.dtype)))), np.power(big, np.array([40, 33, 29], x.dtype)))  # wraps as NumPy
        got = back(np.divide(ours(x), ours(i32 + 100)))
        np.testing.assert_allclose(got, x / (i32 + 100), rtol=1e-12)


@case
def ufunc_reductions():
    for shape in ((1000,), (37, 53), (4, 5, 6), (2, 3, 4, 5), (0, 4)):
        a = rng.standard_normal(shape)
        za = ours(a)
        for uf in (np.add, np.maximum, np.minimum):
            for axis in [None] + list(range(-len(shape), len(shape))):
                for keepdims in (False, True):
                    if uf is not np.add and a.size == 0 and (axis is None or shape[axis] == 0):
                        continue  # no identity: checked below
                    want = uf.reduce(a, axis=axis, keepdims=keepdims)
                    got = back(uf.reduce(za, axis=axis, keepdims=keepdims))
                    assert got.shape == np.shape(want), (uf.__name__, shape, axis, got.shape)
                    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(back(np.add.reduce(za)), np.add.reduce(a), rtol=1e-12)  # axis 0 by default
        np.testing.assert_allclose(back(za.sum()), a.sum(), rtol=1e-12, atol=1e-12)
        if a.size:
            assert float(back(za.max())) == a.max() and float(back(za.min())) == a.min()
            np.testing.assert_array_equal(back(np.max(za, axis=0)), a.max(axis=0))
    for n in (4097, 100003, 250000):  # two passes, with and without a tail
        a = rng.standard_normal(n)
        za = ours(a)
        np.testing.assert_allclose(back(za.sum()), a.sum(), rtol=1e-10)
        assert float(back(za.max())) == a.max() and float(back(np.minimum.reduce(za, axis=None))) == a.min()
        assert back(za.sum()).shape == ()
    i = rng.integers(-1000, 1000, (33, 17), dtype=np.int32)
    got = back(ours(i).sum(axis=1))
    assert got.dtype == np.int64  # NumPy sums int32 as int64
    np.testing.assert_array_equal(got, i.sum(axis=1))
    np.testing.assert_array_equal(back(ours(i).max(axis=0)), i.max(axis=0))
    b = rng.standard_normal(1000) > 0
    assert int(back(ours(b).sum())) == int(b.sum())
    try:
        np.maximum.reduce(ours(np.zeros((0, 3))), axis=0)
    except ValueError as e:
        assert "identity" in str(e), e
    else:
        raise AssertionError("max of nothing was accepted")


@case
def mean_prod_and_dtype():
    """np.mean, np.prod and dtype= on sum/prod/mean, as NumPy defines them."""
    for shape in ((0,), (1,), (1000,), (37, 53), (4, 5, 6), (0, 4)):
        for dtype in (np.float32, np.float64, np.int32, np.int64, np.bool_):
            if dtype == np.bool_:
                a = rng.standard_normal(shape) > 0
            elif np.issubdtype(dtype, np.integer):
                a = rng.integers(-3, 4, shape).astype(dtype)
            else:
                a = rng.standard_normal(shape).astype(dtype)
            za = ours(a)
            for axis in [None] + list(range(-len(shape), len(shape))):
                for keepdims in (False, True):
                    with np.errstate(invalid="ignore", divide="ignore"):
                        import warnings
                        with warnings.catch_warnings():
                            warnings.simplefilter("ignore", RuntimeWarning)
                            want = np.mean(a, axis=axis, keepdims=keepdims)
                            got = back(np.mean(za, axis=axis, keepdims=keepdims))
                    assert got.dtype == np.asarray(want).dtype, ("mean", dtype, shape, axis, got.dtype, np.asarray(want).dtype)
                    assert got.shape == np.shape(want), ("mean", shape, axis, got.shape)
                    tol = 1e-5 if dtype == np.float32 else 1e-12
                    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
                    for acc in (np.float64, np.float32, np.int64, np.int32):
                        want = np.sum(a, axis=axis, keepdims=keepdims, dtype=acc)
                        got = back(np.sum(za, axis=axis, keepdims=keepdims, dtype=acc))
                        assert got.dtype == np.dtype(acc), ("sum dtype", dtype, acc, got.dtype)
                        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)
                    if a.size <= 1000:
                        small = a if dtype != np.float32 and dtype != np.float64 else (a / 4 + 1).astype(dtype)
                        zs = ours(small)
                        want = np.prod(small, axis=axis, keepdims=keepdims)
                        got = back(np.prod(zs, axis=axis, keepdims=keepdims))
                        assert got.dtype == want.dtype, ("prod", dtype, got.dtype, want.dtype)
                        np.testing.assert_allclose(got, want, rtol=1e-4)
                        want = np.prod(small, axis=axis, dtype=np.float64)
                        np.testing.assert_allclose(back(np.prod(zs, axis=axis, dtype=np.float64)), want, rtol=1e-12)
    # Named dtypes, an integer mean, and a 0-d result.
    a = rng.standard_normal(100)
    # The mean of 100 normals may be near 0: an absolute bound too (f32 sums of O(1) terms).
    np.testing.assert_allclose(back(np.mean(ours(a), dtype="float32")), np.mean(a, dtype="float32"), rtol=1e-5, atol=1e-6)
    i = rng.integers(0, 100, 10, dtype=np.int64)
    assert back(np.mean(ours(i), dtype=np.int64)) == np.mean(i, dtype=np.int64)
    assert back(np.mean(ours(a))).shape == ()
    assert np.isnan(back(np.mean(ours(np.zeros(0)))))
    # out=, and every dtype; keywords gpujit does not support are errors that name them.
    za = ours(a)
    out = ours(np.zeros(()))
    assert np.mean(za, out=out) is out and np.isclose(back(out), np.mean(a))
    expect_error(lambda: np.mean(za, where=a > 0), "where")
    got = back(np.sum(za, dtype=np.float16))
    assert got.dtype == np.float16 and abs(float(got) - float(np.sum(a, dtype=np.float16))) <= 0.05 * (1 + abs(float(got))), got
    small = ours(rng.integers(0, 3, 5).astype(np.float64))
    assert back(np.prod(small, dtype=np.uint8)) == np.prod(back(small), dtype=np.uint8)
    np.testing.assert_allclose(back(np.prod(za, dtype=np.complex64)), np.prod(a, dtype=np.complex64), rtol=1e-5)
    expect_error(lambda: np.sum(za, initial=1.0), "initial")
    out = ours(np.zeros((), np.float32))
    assert np.sum(za, out=out) is out and np.isclose(back(out), np.sum(a), rtol=1e-5)


@case
def ufunc_refusals():
    za = ours(np.ones(4, np.float32))
    for f in (lambda: np.add(za, np.ones(4, np.float32)), lambda: np.logaddexp(za, za)):
        try:
            f()
        except TypeError:
            pass
        else:
            raise AssertionError("an unsupported ufunc call was accepted")
    try:
        np.add(za, ours(np.ones(3, np.float32)))
    except ValueError as e:
        assert "broadcast" in str(e), e
    else:
        raise AssertionError("mismatched shapes were accepted")
    assert np.add(za, za, out=(za,)) is za and (back(za) == 2).all()


@case
def complex_ufuncs_and_reductions():
    for dtype, real, tol in ((np.complex64, np.float32, 2e-6), (np.complex128, np.float64, 1e-14)):
        def c(shape):
            return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)

        a, b = c((3, 1, 5)), c((4, 5))
        za, zb = ours(a), ours(b)
        assert za.dtype == np.dtype(dtype).name and back(za).dtype == dtype
        np.testing.assert_array_equal(back(za), a)
        for uf in (np.add, np.subtract, np.multiply, np.divide):
            got = back(uf(za, zb))
            assert got.dtype == dtype, (uf.__name__, got.dtype)
            # Division is num-complex's formula, not NumPy's scaled one: a few ulps apart.
            np.testing.assert_allclose(got, uf(a, b), rtol=8 * tol, err_msg=uf.__name__)
        for uf in (np.equal, np.not_equal):
            assert (back(uf(za, za)) == uf(a, a)).all() and (back(uf(za, zb)) == uf(a, b)).all(), uf.__name__
        np.testing.assert_array_equal(back(np.negative(za)), -a)
        np.testing.assert_array_equal(back(np.conjugate(za)), np.conjugate(a))
        got = back(np.absolute(za))
        assert got.dtype == real, got.dtype
        np.testing.assert_allclose(got, np.abs(a), rtol=tol)
        for uf in (np.exp, np.log, np.sqrt):
            np.testing.assert_allclose(back(uf(za)), uf(a), rtol=16 * tol, atol=16 * tol, err_msg=uf.__name__)
        # Real and complex operands, arrays and scalars: NumPy's promotion.
        r = rng.standard_normal((4, 5)).astype(real)
        zr = ours(r)
        for got, want in ((za * zr, a * r), (zr - za, r - a), (za + 2.5, a + real(2.5)), (za * 1j, a * 1j), (zr + 1j, r + 1j)):
            got = back(got)
            assert got.dtype == want.dtype, (got.dtype, want.dtype)
            np.testing.assert_allclose(got, want, rtol=4 * tol)
        i = ours(rng.integers(-9, 9, (4, 5), dtype=np.int64))
        assert back(za * i).dtype == np.complex128
        # Reductions.
        big = c((33, 70))
        zbig = ours(big)
        np.testing.assert_allclose(back(zbig.sum()), big.sum(), rtol=200 * tol)
        np.testing.assert_allclose(back(zbig.sum(axis=1)), big.sum(axis=1), rtol=200 * tol)
        np.testing.assert_allclose(back(zbig.mean(axis=0)), big.mean(axis=0), rtol=200 * tol)
        unit = np.exp(1j * rng.standard_normal(300)).astype(dtype)
        np.testing.assert_allclose(back(ours(unit).prod()), unit.prod(), rtol=2000 * tol)
        np.testing.assert_allclose(back(np.add.reduce(zbig, axis=0, keepdims=True)), big.sum(axis=0, keepdims=True), rtol=200 * tol)
        expect_error(lambda: zbig.max(), "maximum", "complex")
        try:
            np.sin(za)
        except TypeError:
            pass
        else:
            raise AssertionError("sin of a complex gpujit array was accepted")
    full = back(gpujit.full((2, 3), 1 - 2j, "complex64", device="cpu"))
    assert full.dtype == np.complex64 and (full == np.complex64(1 - 2j)).all(), full


@case
def random_arrays():
    from gpujit.random import normal, uniform

    assert uniform is gpujit.random.uniform and normal is gpujit.random.normal
    u = np.from_dlpack(gpujit.random.uniform((1, 2, 3, 4), seed=7, device="cpu"))
    assert u.shape == (1, 2, 3, 4) and u.dtype == np.float32, (u.shape, u.dtype)
    assert ((u >= 0) & (u < 1)).all(), u
    again = np.from_dlpack(gpujit.random.uniform((1, 2, 3, 4), seed=7, device="cpu"))
    assert (u == again).all(), "the same seed gives the same numbers"
    other = np.from_dlpack(gpujit.random.uniform((1, 2, 3, 4), seed=8, device="cpu"))
    assert (u != other).any(), "another seed gives other numbers"
    z = np.from_dlpack(gpujit.random.normal((200000,), seed=3, dtype="float64", device="cpu"))
    assert z.dtype == np.float64 and abs(z.mean()) < 0.015 and abs(z.std() - 1) < 0.01, (z.mean(), z.std())
    # A prefix of a larger fill is the smaller fill (element i is stream i).
    small = np.from_dlpack(gpujit.random.normal((10,), seed=3, dtype="float64", device="cpu"))
    assert (small == z[:10]).all()
    try:
        gpujit.random.uniform((3,), dtype="int32")
    except ValueError as e:
        assert "int32" in str(e), e
    else:
        raise AssertionError("an integer dtype was accepted")


@case
def arrays_in():
    """gpujit.from_dlpack and gpujit.asarray: NumPy's memory without a copy where none is needed
    (a kernel's writes show in the NumPy array), copies otherwise, copy=False refusing them."""
    import weakref

    n = int(rng.integers(1, 300))
    a = np.zeros(n, np.float32)
    g = gpujit.from_dlpack(a)
    assert g.shape == (n,) and g.dtype == "float32" and g.device == "cpu", (g.shape, g.dtype, g.device)
    gpujit.axpy(2.0, np.ones(n, np.float32), g)
    assert (a == 2.0).all(), "the kernel wrote NumPy's memory"
    # The gpujit array keeps NumPy's alive; dropping it lets it go.
    b = np.arange(12.0).reshape(3, 4)
    alive = weakref.ref(b)
    g = gpujit.asarray(b)
    del b
    gc.collect()
    assert alive() is not None and (np.from_dlpack(g) == np.arange(12.0).reshape(3, 4)).all()
    del g
    gc.collect()
    assert alive() is None, "the DLPack deleter did not run"
    # Strided arrays are shared too (a view of the same memory); another dtype or copy=True
    # copies, and the source is untouched by writes.
    x = rng.standard_normal((5, 7))
    for src, want in [(x.T, x.T), (x[::-1, 1::2], x[::-1, 1::2]), (x[2], x[2])]:
        g = gpujit.asarray(src, copy=False)
        assert g.shape == want.shape and (np.from_dlpack(g) == want).all()
        assert g.strides == src.strides, (g.strides, src.strides)
    v = gpujit.asarray(x[::-1, 1::2])
    v[...] = 0.0  # writes through the view into x
    assert (x[::-1, 1::2] == 0).all() and (x[:, 0::2] != 0).any()
    f = gpujit.asarray(x, dtype="float32")
    assert f.dtype == "float32" and (np.from_dlpack(f) == x.astype(np.float32)).all()
    c = np.zeros((1, 4), np.int64)
    g = gpujit.asarray(c, copy=True)
    gpujit.add(np.ones((1, 4), np.int64), np.ones((1, 4), np.int64), gpujit.asarray(c))
    assert (c == 2).all() and (np.from_dlpack(g) == 0).all(), "copy=True shares no memory"
    for src, kw, why in [
        (x, {"dtype": "float32"}, "dtype differs"),
    ]:
        try:
            gpujit.asarray(src, copy=False, **kw)
        except ValueError as e:
            assert why in str(e), e
        else:
            raise AssertionError(f"copy=False was not refused ({why})")
    ro = np.ones(3)
    ro.flags.writeable = False
    g = gpujit.asarray(ro)
    assert (np.from_dlpack(g) == 1).all()
    try:
        gpujit.from_dlpack(ro, copy=False)
    except (ValueError, BufferError) as e:
        assert "read-only" in str(e) or "readonly" in str(e), e
    else:
        raise AssertionError("a read-only array was shared writable")
    # Python sequences and scalars, with NumPy's dtypes; 0-d arrays.
    s = gpujit.asarray([[1, 2, 3], [4, 5, 6]])
    assert s.dtype == "int64" and s.shape == (2, 3) and (np.from_dlpack(s) == [[1, 2, 3], [4, 5, 6]]).all()
    z = gpujit.asarray(2.5)
    assert z.shape == () and z.dtype == "float64" and np.from_dlpack(z) == 2.5
    assert gpujit.asarray([True, False]).dtype == "bool"
    assert gpujit.asarray([1j, 2]).dtype == "complex128"
    # A gpujit array: itself unless something changes.
    assert gpujit.asarray(s) is s and gpujit.asarray(s, copy=True) is not s
    assert (np.from_dlpack(gpujit.asarray(s, dtype="float64")) == [[1.0, 2, 3], [4, 5, 6]]).all()
    # Every element type, and a refusal of an object without an array.
    for t in (np.uint8, np.uint16, np.uint32, np.uint64, np.int8, np.int16, np.float16):
        src = np.arange(5).astype(t)
        g = gpujit.asarray(src)
        assert g.dtype == t and (np.from_dlpack(g) == src).all(), (t, g)
    try:
        gpujit.from_dlpack([1, 2])
    except TypeError as e:
        assert "__dlpack__" in str(e), e
    else:
        raise AssertionError("a list was taken by from_dlpack")
    # Empty arrays.
    e = gpujit.asarray(np.zeros((0, 3)))
    assert e.shape == (0, 3) and np.from_dlpack(e).shape == (0, 3)


@case
def array_basics():
    """The attributes and conversions users reach for first: ndim, size, nbytes, len, a NumPy
    dtype, astype, copy, to_numpy / np.asarray (host copies), and a repr with the values."""
    x = rng.standard_normal((3, 4)).astype(np.float32)
    g = gpujit.asarray(x)
    assert (g.ndim, g.size, g.nbytes, len(g)) == (2, 12, 48, 3)
    assert g.dtype == np.float32 and g.dtype == "float32" and isinstance(g.dtype, np.dtype)
    h = g.to_numpy()
    assert isinstance(h, np.ndarray) and (h == x).all() and h.dtype == np.float32
    h[0, 0] = 99.0
    assert np.from_dlpack(g)[0, 0] == x[0, 0], "to_numpy copies"
    assert (np.asarray(g) == x).all() and np.asarray(g, dtype=np.float64).dtype == np.float64
    d = g.astype("float64")
    assert d.dtype == np.float64 and (d.to_numpy() == x.astype(np.float64)).all()
    assert g.astype("float32", copy=False) is g and g.astype("float32") is not g
    c = g.copy()
    assert c is not g and (c.to_numpy() == x).all()
    r = repr(gpujit.asarray(np.array([1.5, -2.0], np.float32)))
    assert r == "gpujit.Array([ 1.5, -2. ], dtype=float32, device='cpu')", r
    # reshape: a view of the same memory.
    v = g.reshape(4, 3)
    w = g.reshape((2, -1))
    assert v.shape == (4, 3) and w.shape == (2, 6) and g.reshape(-1).shape == (12,)
    before = x.copy()  # g is x's memory (asarray shared it)
    gpujit.axpy(1.0, np.ones(12, np.float32), g.reshape(12))
    assert (v.to_numpy() == (before + 1).reshape(4, 3)).all(), "the reshaped array shares the memory"
    assert (x == before + 1).all(), "and so does x"
    for bad in [(5, 3), (-1, -1), (2, -2)]:
        try:
            g.reshape(*bad)
        except ValueError:
            pass
        else:
            raise AssertionError(f"reshape{bad} was accepted")
    z = gpujit.asarray(3)
    assert z.ndim == 0 and z.size == 1 and repr(z) == "gpujit.Array(3, dtype=int64, device='cpu')", repr(z)
    try:
        len(z)
    except TypeError:
        pass
    else:
        raise AssertionError("len() of a 0-d array")


# The summary line scripts/test.sh adds to the run's totals, in cargo's words.
print(f"test result: {'FAILED' if failures else 'ok'}. {passed} passed; {failures} failed; (python/tests/test_numpy.py)")
sys.exit(1 if failures else 0)
