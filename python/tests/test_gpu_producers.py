"""The gpujit Python module on the GPU with real producers: PyTorch, CuPy (DLPack) and Numba (CUDA
Array Interface) arrays as kernel arguments, contiguous, transposed and sliced with an offset;
gpujit arrays handed to PyTorch and CuPy; producer stream ordering with a deliberately slow
producer kernel. Needs a GPU; run as `python3 python/tests/test_gpu_producers.py` with the module
on PYTHONPATH."""
import sys

import numpy as np

import gpujit

failures = passed = 0


def case(fn):
    global failures, passed
    try:
        fn()
        passed += 1
        print(f"test {fn.__name__} ... ok")
    except Exception as e:
        failures += 1
        print(f"test {fn.__name__} ... FAILED: {type(e).__name__}: {e}")
    return fn


@case
def torch_tensors():
    import torch

    for n in (0, 1, 1000, 1 << 20):
        x = torch.randn(n, device="cuda")
        y = torch.randn(n, device="cuda")
        want = y + 2.0 * x
        gpujit.axpy(2.0, x, y)
        torch.testing.assert_close(y, want)
    a = torch.randn(300, 500, device="cuda", dtype=torch.float64)
    b = torch.randn(500, 300, device="cuda", dtype=torch.float64).T
    c = torch.randn(700, 900, device="cuda", dtype=torch.float64)[100:400, 7:507]
    out = torch.zeros(300, 500, device="cuda", dtype=torch.float64)
    gpujit.add(b, c, out)
    torch.testing.assert_close(out, b + c, rtol=0, atol=0)
    gpujit.add(a, b, out)
    torch.testing.assert_close(out, a + b, rtol=0, atol=0)


@case
def cupy_arrays():
    import cupy as cp

    x = cp.random.standard_normal(4099, dtype=cp.float32)
    y = cp.random.standard_normal(4099, dtype=cp.float32)
    want = y + cp.float32(0.5) * x
    gpujit.axpy(0.5, x, y)
    cp.testing.assert_allclose(y, want, rtol=1e-6, atol=1e-6)
    a = cp.random.standard_normal((64, 48))[::2, 5:45]
    b = cp.random.standard_normal((40, 32)).T
    out = cp.zeros((32, 40))
    gpujit.add(a, b, out)
    cp.testing.assert_array_equal(out, a + b)


class CaiOnly:
    """Only the CUDA Array Interface of an array that also speaks DLPack."""

    def __init__(self, a):
        self.__cuda_array_interface__ = a.__cuda_array_interface__


@case
def cai_from_torch_and_cupy():
    import cupy as cp
    import torch

    x = torch.randn(3001, device="cuda", dtype=torch.float64)
    y = torch.randn(3001, device="cuda", dtype=torch.float64)
    want = y + 0.25 * x
    gpujit.axpy(0.25, CaiOnly(x), CaiOnly(y))
    torch.testing.assert_close(y, want)
    a = cp.random.standard_normal((70, 90))[5:65, ::3]
    out = cp.zeros((30, 60)).T
    gpujit.add(CaiOnly(a), CaiOnly(a), CaiOnly(out))
    cp.testing.assert_array_equal(out, 2 * a)


@case
def numba_arrays_through_cai():
    from numba import cuda

    hx = np.random.standard_normal(5000)
    hy = np.random.standard_normal(5000)
    x, y = cuda.to_device(hx), cuda.to_device(hy)
    gpujit.axpy(-1.5, CaiOnly(x), CaiOnly(y))
    np.testing.assert_allclose(y.copy_to_host(), hy - 1.5 * hx, rtol=1e-12)
    # A transposed Numba view: its interface is taken from the transposed host array's strides
    # (Numba's own `.T` needs `np.row_stack`, which NumPy 2.5 removed).
    h = np.random.standard_normal((50, 60))
    m = cuda.to_device(h)
    t = dict(m.__cuda_array_interface__, shape=(60, 50), strides=(8, 480))
    out = cuda.to_device(np.zeros((60, 50)))

    class Iface:
        __cuda_array_interface__ = t

    gpujit.add(Iface(), Iface(), CaiOnly(out))
    np.testing.assert_array_equal(out.copy_to_host(), 2 * h.T)


@case
def gpujit_arrays_to_torch_and_cupy():
    import cupy as cp
    import torch

    z = gpujit.full((128, 3), 2.5, "float32", device="cuda")
    t = torch.from_dlpack(z)
    assert t.is_cuda and t.shape == (128, 3) and bool((t == 2.5).all())
    c = cp.asarray(z)  # CuPy reads __cuda_array_interface__
    assert c.shape == (128, 3) and bool((c == 2.5).all())
    gpujit.add(z, t, z)  # all three share the memory
    torch.cuda.synchronize()
    assert bool((t == 5.0).all()) and bool((c == 5.0).all())


@case
def slow_producer_is_waited_for():
    import cupy as cp
    import torch

    n = 1 << 22
    for _ in range(3):
        s = torch.cuda.Stream()
        with torch.cuda.stream(s):
            x = torch.zeros(n, device="cuda")
            torch.cuda._sleep(50_000_000)  # ~25 ms of spinning before x is filled
            x.fill_(1.0)
            y = torch.zeros(n, device="cuda")
            gpujit.axpy(1.0, x, y)  # DLPack on the current (non-default) stream
        torch.cuda.synchronize()
        assert float(y.sum()) == n, float(y.sum())
    with cp.cuda.Stream(non_blocking=True):
        x = cp.zeros(n, dtype=cp.float32)
        cp.cuda.runtime.deviceSynchronize()
        torch.cuda._sleep(50_000_000)  # on torch's stream; CuPy's fill below runs on its own
        x.fill(2.0)
        y = cp.zeros(n, dtype=cp.float32)
        gpujit.axpy(1.0, x, y)
    cp.cuda.runtime.deviceSynchronize()
    assert float(y.sum()) == 2.0 * n


@case
def consumer_stream_waits_for_gpujit():
    """`__dlpack__(stream=s)`: the consumer's stream waits for gpujit's pending work through an
    event, not a host synchronization. gpujit's write is held back behind a ~25 ms spin on the
    legacy default stream; torch reads the array on a non-blocking stream of its own."""
    import torch

    n = 1 << 20
    for _ in range(3):
        g = gpujit.full(n, 0.0, "float32", device="cuda")
        ones = gpujit.full(n, 1.0, "float32", device="cuda")
        torch.cuda.synchronize()
        with torch.cuda.stream(torch.cuda.default_stream()):
            torch.cuda._sleep(50_000_000)  # the legacy default stream, where gpujit's work goes
        gpujit.axpy(3.0, ones, g)  # queued behind the spin
        s = torch.cuda.Stream()
        with torch.cuda.stream(s):
            t = torch.from_dlpack(g)  # passes stream=s
            r = t.clone()
        s.synchronize()
        assert float(r.sum()) == 3.0 * n, float(r.sum())
    try:
        g.__dlpack__(stream=0)
    except Exception as e:
        assert "ambiguous" in str(e), e
    else:
        raise AssertionError("stream 0 accepted")


@case
def arrays_in_from_torch_and_cupy():
    """The seed document's third scene with gpujit in CuPy's place: a torch tensor becomes a
    gpujit.Array over the same GPU memory (a kernel's writes show in the tensor), and goes back
    to torch and CuPy without a copy; CuPy arrays come in through the CUDA Array Interface too;
    strided tensors are copied; copy=False refuses a copy."""
    import cupy as cp
    import torch

    t = torch.zeros(4099, device="cuda", dtype=torch.float32)
    g = gpujit.from_dlpack(t)
    assert g.device == "cuda:0" and g.shape == (4099,) and g.dtype == "float32"
    gpujit.axpy(2.0, torch.ones(4099, device="cuda"), g)
    torch.cuda.synchronize()
    assert bool((t == 2.0).all()), "the kernel wrote the tensor's memory"
    back = torch.from_dlpack(g)
    assert back.data_ptr() == t.data_ptr(), "torch got the same memory back"
    c = cp.arange(12, dtype=cp.float64).reshape(3, 4)
    h = gpujit.asarray(c)
    assert cp.asarray(h).data.ptr == c.data.ptr
    # A strided tensor is shared as a view (same memory, same strides); a dtype change copies.
    s = torch.arange(20.0, device="cuda").reshape(4, 5).T
    sc = gpujit.asarray(s, copy=False)
    assert bool((torch.from_dlpack(sc) == s).all()) and torch.from_dlpack(sc).data_ptr() == s.data_ptr()
    assert sc.strides == tuple(4 * st for st in s.stride()), (sc.strides, s.stride())
    sc[0] = -1.0
    torch.cuda.synchronize()
    assert bool((s[0] == -1.0).all()), "the write went through the view"
    try:
        gpujit.asarray(s, dtype="float64", copy=False)
    except ValueError as e:
        assert "dtype" in str(e), e
    else:
        raise AssertionError("copy=False copied")
    # The array engine on GPU arrays: ufuncs with out=/where=, reductions, fuse, matmul.
    a = torch.randn(300, 200, device="cuda")
    ga = gpujit.from_dlpack(a)
    out = gpujit.zeros((300, 200), "float32", device="cuda")
    np.add(ga, 1, out=out, where=ga > 0)
    want = torch.where(a > 0, a + 1, torch.zeros_like(a))
    torch.testing.assert_close(torch.from_dlpack(out), want)
    torch.testing.assert_close(torch.from_dlpack(ga.std(axis=0, ddof=1)), a.std(dim=0), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(torch.from_dlpack(ga @ ga.T), a @ a.T, rtol=1e-4, atol=1e-3)
    f = gpujit.fuse(lambda x: np.exp(-x * x / 2) * np.sin(x))
    torch.testing.assert_close(torch.from_dlpack(f(a)), torch.exp(-a * a / 2) * torch.sin(a))
    h16 = gpujit.from_dlpack(a.half())
    torch.testing.assert_close(torch.from_dlpack(h16 * 2), a.half() * 2)
    b16 = gpujit.from_dlpack(a.bfloat16())
    torch.testing.assert_close(torch.from_dlpack(b16 + b16), a.bfloat16() * 2)
    # Across devices: a host array to the GPU, and back.
    m = gpujit.asarray(np.arange(6.0), device="cuda")
    assert m.device == "cuda:0" and (m.to_numpy() == np.arange(6.0)).all()


@case
def numba_kernel_on_gpujit_arrays():
    """The seed document's second scene with gpujit in CuPy's place: a Numba kernel launched on
    gpujit arrays (read through their __cuda_array_interface__, no copy); then a Numba array in
    the first and third scenes: brought in, NumPy ufuncs on it, and handed back to Numba."""
    from numba import cuda

    if not hasattr(np, "row_stack"):
        np.row_stack = np.vstack  # its alias, removed in NumPy 2.5 and still called by Numba's arrays

    @cuda.jit
    def add(x, y, out):
        start = cuda.grid(1)
        stride = cuda.gridsize(1)
        for i in range(start, x.shape[0], stride):
            out[i] = x[i] + y[i]

    a = gpujit.asarray(np.arange(10), device="cuda")
    b = a * 2
    out = np.zeros_like(a)
    assert isinstance(out, gpujit.Array) and out.device == "cuda:0"
    add[1, 32](a, b, out)
    np.testing.assert_array_equal(out.to_numpy(), np.arange(10) * 3)
    n = 100_003
    hx, hy = np.random.standard_normal(n), np.random.standard_normal(n)
    x, y = gpujit.asarray(hx, device="cuda"), gpujit.asarray(hy, device="cuda")
    z = gpujit.zeros(n, "float64", device="cuda")
    add[7, 128](x, y, z)
    np.testing.assert_array_equal(z.to_numpy(), hx + hy)
    h = np.linspace(0.0, 1.0, 4099)
    d = cuda.to_device(h)
    g = gpujit.asarray(d)
    assert g.device == "cuda:0" and g.shape == (4099,)
    r = np.sin(g) + 1
    back = cuda.as_cuda_array(r)
    np.testing.assert_allclose(back.copy_to_host(), np.sin(h) + 1, rtol=1e-15, atol=0)


@case
def jax_arrays_in_and_out():
    """JAX in the seed's scenes: a JAX array read by a gpujit kernel and ufunc through DLPack
    (JAX's arrays are immutable: imported read-only ones are copied), a gpujit array read by JAX."""
    import jax
    import jax.numpy as jnp

    jx = jax.device_put(jnp.arange(4099, dtype=jnp.float32), jax.devices("gpu")[0])
    g = gpujit.asarray(jx)
    assert g.device == "cuda:0" and g.shape == (4099,)
    np.testing.assert_array_equal((np.sqrt(g) * 2).to_numpy(), np.sqrt(np.arange(4099, dtype=np.float32)) * 2)
    y = gpujit.zeros(4099, "float32", device="cuda")
    gpujit.axpy(1.0, jx, y)
    back = jax.dlpack.from_dlpack(y)
    assert bool((back == jnp.arange(4099, dtype=jnp.float32)).all())


@case
def ufuncs_on_the_gpu():
    import torch

    def ours(t):
        z = gpujit.full(tuple(t.shape), 0, str(t.dtype).replace("torch.", ""), device="cuda")
        torch.from_dlpack(z).copy_(t)
        return z

    def back(z):
        assert isinstance(z, gpujit.Array) and z.device == "cuda:0", z
        return torch.from_dlpack(z)

    a = torch.randn(300, 1, 70, device="cuda", dtype=torch.float64)
    b = torch.randn(40, 70, device="cuda", dtype=torch.float64)
    za, zb = ours(a), ours(b)
    torch.testing.assert_close(back(np.add(za, zb)), a + b, rtol=0, atol=0)
    torch.testing.assert_close(back(np.maximum(za, zb)), torch.maximum(a, b), rtol=0, atol=0)
    torch.testing.assert_close(back(np.exp(za) * 2.0 - zb), torch.exp(a) * 2.0 - b)
    assert bool((back(za < zb) == (a < b)).all())
    big = torch.randn(1 << 22, device="cuda", dtype=torch.float64)
    zbig = ours(big)
    torch.testing.assert_close(back(zbig.sum()), big.sum())
    assert float(back(zbig.max())) == float(big.max())
    m = torch.randn(513, 257, device="cuda", dtype=torch.float32)
    zm = ours(m)
    torch.testing.assert_close(back(np.add.reduce(zm, axis=1)), m.sum(dim=1), rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(back(np.minimum.reduce(zm, axis=0, keepdims=True)), m.min(dim=0, keepdim=True).values)
    # NumPy's promotion, with the conversions run on the GPU.
    i = torch.randint(-50, 50, (77, 5), device="cuda", dtype=torch.int32)
    f = torch.randn(5, device="cuda", dtype=torch.float32)
    zi, zf = ours(i), ours(f)
    got = back(np.add(zi, zf))
    assert got.dtype == torch.float64
    torch.testing.assert_close(got, i.double() + f.double())
    torch.testing.assert_close(back(np.exp(zi)), torch.exp(i.double()))
    s = back(zi.sum(axis=0))
    assert s.dtype == torch.int64 and bool((s == i.long().sum(dim=0)).all())
    e = torch.randint(0, 9, (77, 5), device="cuda", dtype=torch.int32)
    p = back(np.power(zi, ours(e)))
    assert p.dtype == torch.int32 and bool((p == torch.pow(i, e)).all())
    b = back(zi > 0)
    assert int(back(np.add.reduce(ours(b), axis=None))) == int((i > 0).sum())


@case
def complex_on_the_gpu():
    import cupy
    import torch

    def ours(t):
        z = gpujit.full(tuple(t.shape), 0, str(t.dtype).replace("torch.", ""), device="cuda")
        torch.from_dlpack(z).copy_(t)
        return z

    def back(z):
        assert isinstance(z, gpujit.Array) and z.device == "cuda:0", z
        return torch.from_dlpack(z)

    for dtype, tol in ((torch.complex64, 1e-5), (torch.complex128, 1e-12)):
        a = torch.randn(300, 1, 70, device="cuda", dtype=dtype)
        b = torch.randn(40, 70, device="cuda", dtype=dtype)
        za, zb = ours(a), ours(b)
        torch.testing.assert_close(back(np.multiply(za, zb)), a * b, rtol=tol, atol=tol)
        torch.testing.assert_close(back(np.divide(za, zb)), a / b, rtol=10 * tol, atol=10 * tol)
        torch.testing.assert_close(back(np.exp(za) - np.conjugate(zb)), torch.exp(a) - torch.conj(b), rtol=10 * tol, atol=10 * tol)
        got = back(np.absolute(za))
        assert got.dtype == (torch.float32 if dtype == torch.complex64 else torch.float64), got.dtype
        torch.testing.assert_close(got, torch.abs(a), rtol=tol, atol=tol)
        big = torch.randn(1 << 20, device="cuda", dtype=dtype)
        torch.testing.assert_close(back(ours(big).sum()), big.sum(), rtol=100 * tol, atol=100 * tol)
        # CuPy reads a complex gpujit array through DLPack and the CUDA Array Interface.
        c = cupy.from_dlpack(za)
        assert str(c.dtype) == str(dtype).replace("torch.", ""), c.dtype
        assert bool((torch.as_tensor(cupy.asarray(za), device="cuda") == a).all())


@case
def random_arrays_on_the_gpu():
    import cupy

    # The same bits on the GPU as on the CPU backend, handed to CuPy without a copy.
    for dtype in ("float32", "float64"):
        for fill in (gpujit.random.uniform, gpujit.random.normal):
            g = cupy.from_dlpack(fill((1, 2, 3, 4), seed=11, dtype=dtype, device="cuda"))
            c = np.from_dlpack(fill((1, 2, 3, 4), seed=11, dtype=dtype, device="cpu"))
            assert g.shape == (1, 2, 3, 4) and str(g.dtype) == dtype
            assert (cupy.asnumpy(g).view(np.uint8) == c.view(np.uint8)).all(), f"{fill.__name__} {dtype}"
    z = cupy.from_dlpack(gpujit.random.normal((1 << 20,), seed=5, device="cuda"))
    assert abs(float(z.mean())) < 0.01 and abs(float(z.std()) - 1) < 0.01


print(f"test result: {'FAILED' if failures else 'ok'}. {passed} passed; {failures} failed; (python/tests/test_gpu_producers.py)")
sys.exit(1 if failures else 0)
