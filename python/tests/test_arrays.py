"""gpujit.Array as NumPy users reach for it, checked against NumPy on fresh random inputs: every
element type and NumPy 2's promotion, views and basic indexing, ufuncs with out= and where=, the
reductions, NumPy's functions (NEP 18) and gpujit.fuse (one kernel per call).

Run by scripts/test.sh on the CPU backend; `GPUJIT_DEVICE=cuda` runs it on a GPU."""
import os
import sys
import warnings

import numpy as np

import gpujit

rng = np.random.default_rng()
DEVICE = os.environ.get("GPUJIT_DEVICE", "cpu")
failures = passed = 0
warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's warnings for 0/0 and the like


def case(fn):
    global failures, passed
    try:
        fn()
        passed += 1
        print(f"test {fn.__name__} ... ok")
    except Exception as e:
        import traceback

        failures += 1
        print(f"test {fn.__name__} ... FAILED: {type(e).__name__}: {e}")
        traceback.print_exc()
    return fn


def g(a):
    """A gpujit array holding a copy of the NumPy array `a`."""
    return gpujit.asarray(np.ascontiguousarray(a), device=DEVICE, copy=True)


def h(x):
    """A gpujit array (or scalar) back on the host as NumPy."""
    return x.to_numpy() if isinstance(x, gpujit.Array) else np.asarray(x)


INTS = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]
FLOATS = [np.float16, np.float32, np.float64]
ALL = [np.bool_] + INTS + FLOATS + [np.complex64, np.complex128]


def sample(t, shape):
    t = np.dtype(t)
    if t == np.bool_:
        return rng.random(shape) > 0.5
    if t.kind in "iu":
        info = np.iinfo(t)
        lo, hi = max(info.min, -100), min(info.max, 100)
        return rng.integers(lo, hi + 1, shape).astype(t)
    if t.kind == "f":
        return (rng.standard_normal(shape) * 4).astype(t)
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(t)


def close(got, want, t=None):
    got, want = h(got), np.asarray(want)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.shape == want.shape, (got.shape, want.shape)
    if want.dtype.kind in "biu":
        assert (got == want).all(), (got, want)
    else:
        tol = {"float16": 2e-3, "float32": 2e-5, "complex64": 2e-5}.get(want.dtype.name, 1e-12)
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol, equal_nan=True)


@case
def dtypes_and_promotion():
    """Every dtype round-trips; binary operations promote as NumPy 2 does, arrays with arrays
    and with Python scalars (weak, NEP 50)."""
    for t in ALL:
        a = sample(t, 7)
        x = g(a)
        assert x.dtype == np.dtype(t) and (h(x) == a).all(), t
    for ta in ALL:
        for tb in ALL:
            a, b = sample(ta, (3, 4)), sample(tb, 4)
            want_t = np.result_type(ta, tb)
            got = g(a) * g(b)
            assert got.dtype == want_t, (ta, tb, got.dtype, want_t)
            if want_t != np.bool_:
                close(got, a * b)
    for t in ALL:
        a = sample(t, 5)
        for s in (True, 3, 2.5, 1 - 2j):
            want = a * s
            got = g(a) * s
            assert got.dtype == want.dtype, (t, s, got.dtype, want.dtype)
            close(got, want)
    # A NumPy scalar is strong: float32 array * float64 scalar is float64.
    assert (g(sample(np.float32, 3)) * np.float64(2)).dtype == np.float64
    # Python integers must fit the array's type, as in NumPy.
    try:
        g(np.zeros(3, np.uint8)) + 300
    except OverflowError:
        pass
    else:
        raise AssertionError("300 + uint8 was accepted")


@case
def astype_between_all_types():
    for ta in ALL:
        a = sample(ta, 11)
        for tb in ALL:
            if np.dtype(tb).kind in "iu" and np.dtype(ta).kind in "fc":
                src = np.abs(a.real if np.dtype(ta).kind == "c" else a).astype(ta)
            elif np.dtype(tb).kind == "u" and np.dtype(ta).kind == "i":
                src = np.abs(a).astype(ta)
            else:
                src = a
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                want = src.astype(tb)
            close(g(src).astype(tb), want)


@case
def views_and_indexing():
    a = rng.standard_normal((6, 7, 5))
    x = g(a)
    for key in [1, -1, (2, 3), (2, 3, 4), slice(1, 5, 2), (slice(None), 0), (Ellipsis, 1), (None, 2),
                (slice(None, None, -1), slice(1, None, 3)), (1, Ellipsis, None), (slice(4, 1, -2), -2, slice(None))]:
        v = x[key]
        want = a[key]
        assert v.shape == np.shape(want), (key, v.shape, np.shape(want))
        np.testing.assert_array_equal(h(v), want)
    assert x[2, 3, 4].shape == () and float(x[2, 3, 4]) == a[2, 3, 4]
    np.testing.assert_array_equal(h(x.T), a.T)
    np.testing.assert_array_equal(h(x.transpose(1, 0, 2)), a.transpose(1, 0, 2))
    np.testing.assert_array_equal(h(x.swapaxes(0, 2)), a.swapaxes(0, 2))
    assert x.T.strides == a.T.strides and x[::2].strides == a[::2].strides
    # Views share memory; NumPy, kernels and ufuncs see their layout.
    v = x[1:5, ::-2]
    if DEVICE == "cpu":
        # NumPy takes host memory only: on the CPU backend it shares the view's memory.
        n = np.from_dlpack(v)
        np.testing.assert_array_equal(n, a[1:5, ::-2])
        assert np.shares_memory(n, np.from_dlpack(x))
    else:
        np.testing.assert_array_equal(h(v), a[1:5, ::-2])
    np.testing.assert_array_equal(h(v * 2), a[1:5, ::-2] * 2)
    # Non-contiguous reshape copies (as NumPy), contiguous reshape does not.
    np.testing.assert_array_equal(h(x.T.reshape(-1)), a.T.reshape(-1))
    # Assignment: scalars, broadcast arrays, conversion, overlap.
    b = a.copy()
    y = g(b)
    y[0] = 7.0
    b[0] = 7.0
    y[:, 1:3] = g(np.arange(5.0))
    b[:, 1:3] = np.arange(5.0)
    y[..., 4] = g(np.ones((6, 7), np.int32))
    b[..., 4] = 1
    y[1:] = y[:-1]
    b[1:] = b[:-1].copy()
    np.testing.assert_array_equal(h(y), b)
    z = g(np.arange(10))
    z[::-1] = z
    np.testing.assert_array_equal(h(z), np.arange(10)[::-1])
    for bad in [(0, 0, 0, 0), 6, np.array([1, 2])]:
        try:
            x[bad]
        except IndexError:
            pass
        else:
            raise AssertionError(f"index {bad!r} was accepted")


@case
def ufuncs_match_numpy():
    shapes = [(5, 1, 3), (4, 3)]
    for t in [np.int8, np.int32, np.uint16, np.int64, np.float16, np.float32, np.float64]:
        a, b = sample(t, shapes[0]), sample(t, shapes[1])
        if np.dtype(t).kind in "iu":
            b = np.where(b == 0, 1, b).astype(t)
        for uf in (np.add, np.subtract, np.multiply, np.true_divide, np.floor_divide, np.remainder, np.fmod,
                   np.maximum, np.minimum, np.fmax, np.fmin, np.equal, np.not_equal, np.less, np.greater_equal,
                   np.logical_and, np.logical_or, np.logical_xor):
            with np.errstate(all="ignore"):
                want = uf(a, b)
            close(uf(g(a), g(b)), want)
        for uf in (np.negative, np.absolute, np.square, np.sign, np.logical_not, np.isnan, np.isinf, np.isfinite, np.signbit,
                   np.sqrt, np.exp, np.log1p, np.sin, np.arctan, np.floor, np.ceil, np.trunc, np.rint, np.cbrt, np.tanh):
            src = np.abs(a) if uf in (np.sqrt, np.log1p) else a
            src = (src % 4).astype(t) if uf is np.exp else src
            with np.errstate(all="ignore"):
                want = uf(src)
            close(uf(g(src)), want)
        if np.dtype(t).kind in "iu":
            for uf in (np.bitwise_and, np.bitwise_or, np.bitwise_xor):
                close(uf(g(a), g(b)), uf(a, b))
            close(np.invert(g(a)), np.invert(a))
            sh = rng.integers(0, np.dtype(t).itemsize * 8, shapes[1]).astype(t)
            close(np.left_shift(g(a), g(sh)), np.left_shift(a, sh))
            close(np.right_shift(g(a), g(sh)), np.right_shift(a, sh))
            e = rng.integers(0, 5, shapes[1]).astype(t)
            close(np.power(g(a), g(e)), np.power(a, e))
        else:
            close(np.arctan2(g(a), g(b)), np.arctan2(a, b))
            close(np.hypot(g(a), g(b)), np.hypot(a, b))
            close(np.copysign(g(a), g(b)), np.copysign(a, b))
            close(np.power(g(np.abs(a) + 1).astype(t), g(b % 3)), np.power((np.abs(a) + 1).astype(t), b % 3))
    # Division by zero: integers give 0, floats inf/nan, as NumPy.
    i = np.array([5, -5, 0, 7], np.int32)
    z = np.zeros(4, np.int32)
    with np.errstate(all="ignore"):
        for uf in (np.floor_divide, np.remainder, np.fmod):
            close(uf(g(i), g(z)), uf(i, z))
        f = np.array([1.0, -1.0, 0.0, np.nan])
        for uf in (np.true_divide, np.floor_divide, np.remainder):
            close(uf(g(f), g(np.zeros(4))), uf(f, np.zeros(4)))
    # Operators map to the ufuncs.
    a, b = sample(np.int32, 9), np.where(sample(np.int32, 9) == 0, 3, sample(np.int32, 9)).astype(np.int32)
    for got, want in [(g(a) // g(b), a // b), (g(a) % g(b), a % b), (-g(a), -a), (~g(a), ~a), (g(a) & 7, a & 7), (g(a) ** 2, a**2),
                      (g(a) < g(b), a < b), (g(a) @ g(b), a @ b)]:
        close(got, want)


@case
def out_and_where():
    a, b = sample(np.float32, (4, 5)), sample(np.float32, 5)
    out = g(np.zeros((4, 5), np.float32))
    r = np.add(g(a), g(b), out=out)
    assert r is out
    close(out, a + b)
    # Another dtype of the same kind or higher; a lower kind is refused.
    out64 = g(np.zeros((4, 5)))
    np.multiply(g(a), 2, out=out64)
    close(out64, (a * np.float32(2)).astype(np.float64))
    try:
        np.add(g(a), g(b), out=g(np.zeros((4, 5), np.int32)))
    except TypeError as e:
        assert "same_kind" in str(e), e
    else:
        raise AssertionError("float into an int out= was accepted")
    np.add(g(a), g(b), out=g(np.zeros((4, 5), np.int32)), casting="unsafe")
    # where=: the other elements keep out's values.
    mask = rng.random((4, 5)) > 0.5
    base = sample(np.float32, (4, 5))
    o = g(base)
    np.subtract(g(a), g(b), out=o, where=g(mask))
    want = base.copy()
    np.subtract(a, b, out=want, where=mask)
    close(o, want)
    # A strided out=.
    big = np.zeros((8, 10), np.float32)
    gb = g(big)
    np.add(g(a), g(b), out=gb[::2, ::2])
    big[::2, ::2] = a + b
    close(gb, big)
    # In-place operators.
    c = g(a.copy())
    c += 1
    c *= g(b)
    close(c, (a + 1) * b)
    x = g(np.arange(6, dtype=np.int64))
    try:
        x /= 2
    except TypeError:
        pass
    else:
        raise AssertionError("int /= was accepted (NumPy refuses the cast)")


@case
def reductions_match_numpy():
    for t in [np.bool_, np.int8, np.int32, np.uint32, np.int64, np.float16, np.float32, np.float64]:
        for shape in [(0,), (1,), (1000,), (7, 9), (3, 4, 5), (2, 0, 3)]:
            a = sample(t, shape)
            x = g(a)
            axes = [None] + list(range(len(shape))) + ([(0, len(shape) - 1)] if len(shape) > 1 else [])
            for axis in axes:
                for keepdims in (False, True):
                    for name in ("sum", "prod", "mean", "max", "min", "any", "all", "var", "std"):
                        if name in ("max", "min") and (a.size == 0 or (axis is not None and np.prod([shape[i] for i in np.atleast_1d(axis)]) == 0)):
                            continue
                        if name == "prod" and t not in (np.bool_, np.int8) and a.size > 50:
                            continue
                        f = getattr(np, name)
                        want = f(a, axis=axis, keepdims=keepdims)
                        got = f(x, axis=axis, keepdims=keepdims)
                        assert got.shape == np.shape(want), (name, t, shape, axis, got.shape, np.shape(want))
                        w = np.asarray(want)
                        if w.dtype == np.float16 or t == np.float16:
                            np.testing.assert_allclose(h(got).astype(np.float64), w.astype(np.float64), rtol=2e-2, atol=2e-2)
                            continue
                        close(got, want)
                if axis is None or isinstance(axis, int):
                    if a.size and (axis is None or shape[axis]):
                        for name in ("argmax", "argmin"):
                            close(getattr(np, name)(x, axis=axis), getattr(np, name)(a, axis=axis))
    a = sample(np.float64, (6, 8))
    close(np.var(g(a), ddof=1, axis=0), np.var(a, ddof=1, axis=0))
    close(np.std(g(a), ddof=1), np.std(a, ddof=1))
    n = a.copy()
    n[2, 3] = np.nan
    assert np.isnan(float(g(n).max())) and np.isnan(float(np.min(g(n))))
    close(np.maximum.reduce(g(a), axis=1), np.maximum.reduce(a, axis=1))
    close(np.logical_or.reduce(g(a > 0), axis=0), np.logical_or.reduce(a > 0, axis=0))
    close(g(a).sum(1), a.sum(1))
    c = sample(np.complex128, (5, 6))
    close(np.var(g(c), axis=1), np.var(c, axis=1))
    out = g(np.zeros(8))
    assert np.sum(g(a), axis=0, out=out) is out
    close(out, a.sum(axis=0))


@case
def numpy_functions():
    a, b = sample(np.float64, (4, 5)), sample(np.float64, (4, 5))
    x, y = g(a), g(b)
    cond = a > b
    close(np.where(g(cond), x, y), np.where(cond, a, b))
    close(np.where(g(cond), x, 0), np.where(cond, a, 0))
    close(np.concatenate([x, y], axis=1), np.concatenate([a, b], axis=1))
    close(np.concatenate([x, g(b.astype(np.float32))]), np.concatenate([a, b.astype(np.float32)]))
    close(np.stack([x, y], axis=1), np.stack([a, b], axis=1))
    for sa, sb in [((3, 4), (4, 5)), ((4,), (4, 2)), ((3, 4), (4,)), ((4,), (4,)), ((2, 3, 4), (2, 4, 5)), ((2, 3, 4), (4, 2))]:
        p, q = sample(np.float64, sa), sample(np.float64, sb)
        close(np.matmul(g(p), g(q)), np.matmul(p, q))
        close(g(p) @ g(q), p @ q)
    pi, qi = sample(np.int32, (5, 6)), sample(np.int32, (6, 3))
    close(g(pi) @ g(qi), pi @ qi)
    close(np.transpose(x), a.T)
    close(np.reshape(x, (5, 4)), a.reshape(5, 4))
    close(np.clip(x, -0.5, 0.5), np.clip(a, -0.5, 0.5))
    for f in (np.zeros_like, np.ones_like):
        close(f(x), f(a))
    close(np.full_like(x, 3.5), np.full_like(a, 3.5))
    close(np.isclose(x, x + 1e-9), np.isclose(a, a + 1e-9))
    assert np.allclose(x, x) and not np.allclose(x, y)
    assert np.array_equal(x, g(a)) and not np.array_equal(x, y)
    close(np.expand_dims(x, 1), np.expand_dims(a, 1))
    close(np.squeeze(g(a[:, :1])), np.squeeze(a[:, :1]))
    assert np.shape(x) == (4, 5) and np.ndim(x) == 2 and np.size(x) == 20
    try:
        np.fft.fft(x)
    except TypeError as e:
        assert "not supported" in str(e) or "fft" in str(e), e
    else:
        raise AssertionError("np.fft.fft was accepted")


@case
def fuse_makes_one_kernel():
    def f(x, y):
        return np.exp(-x * x / 2) * np.sin(y) + np.sqrt(np.abs(x * y))

    fused = gpujit.fuse(f)
    for n in (0, 1, 1000, 4099):
        a, b = sample(np.float32, n), sample(np.float32, n)
        x, y = g(a), g(b)
        before = gpujit._generated_launches()
        got = fused(x, y)
        launches = gpujit._generated_launches() - before
        assert launches == (1 if n else 0), launches
        close(got, f(a, b))
    # Scalars are parameters; several outputs come from one kernel; other producers' arrays.
    @gpujit.fuse()
    def g2(x, k):
        return x * k + 1, x - k

    a = sample(np.float64, (3, 4))
    ga = g(a)
    before = gpujit._generated_launches()
    p, q = g2(ga, 2.5)
    assert gpujit._generated_launches() - before == 1
    close(p, a * 2.5 + 1)
    close(q, a - 2.5)
    if DEVICE == "cpu":
        p, q = g2(a, 3)  # a NumPy array, taken without a copy
        close(p, a * 3 + 1)
    # A reduction inside runs fused with the work before it.
    @gpujit.fuse
    def dot(x, y):
        return np.sum(x * y)

    u, v = sample(np.float64, 777), sample(np.float64, 777)
    gu, gv = g(u), g(v)
    before = gpujit._generated_launches()
    close(dot(gu, gv), np.sum(u * v))
    assert gpujit._generated_launches() - before <= 2  # the reduction's passes
    w = gpujit.fuse(lambda x: np.where(x > 0, x, 0.1 * x))
    close(w(g(a)), np.where(a > 0, a, 0.1 * a))


@case
def reinterpreting_views():
    """`a.view(dtype)`: the same bytes as other elements, as NumPy's."""
    a = sample(np.float32, (6, 8))
    x = g(a)
    for t in (np.uint32, np.int16, np.uint8, np.float64, np.complex64):
        close(x.view(t), a.view(t))
    close(x[:, 2:6].view(np.float64), a[:, 2:6].view(np.float64))
    v = x.view(np.uint32)
    v[0, 0] = 0
    assert h(x)[0, 0] == 0.0, "a view shares the memory"
    for bad in (lambda: x.T.view(np.float64), lambda: x[:, 1:4].view(np.float64), lambda: g(np.zeros(3, np.uint8)).view(np.bool_)):
        try:
            bad()
        except ValueError:
            pass
        else:
            raise AssertionError("a bad view was accepted")


@case
def bfloat16_arrays():
    """bfloat16 computes in float32 and rounds once; without ml_dtypes it is read as float32."""
    a = sample(np.float32, 50)
    x = g(a).astype("bfloat16")
    assert str(x.dtype) == "bfloat16" or x.dtype == "bfloat16"
    back = h(x.astype("float32"))
    np.testing.assert_allclose(back, a, rtol=1e-2, atol=1e-2)
    y = (x * 2 + 1).astype("float32")
    np.testing.assert_allclose(h(y), back * 2 + 1, rtol=1e-2, atol=1e-2)
    assert (x + x).dtype == x.dtype and (x + g(a)).dtype == np.float32


print(f"test result: {'FAILED' if failures else 'ok'}. {passed} passed; {failures} failed; (python/tests/test_arrays.py)")
sys.exit(1 if failures else 0)
