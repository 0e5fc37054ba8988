"""The example extension's exported kernels on NumPy arrays (CPU backend) and, where a GPU and the
libraries are present, on PyTorch, CuPy and gpujit arrays: results against NumPy, type-parameter
scalars, strided arrays, streams, and errors naming the kernel and the argument."""
import os
import sys

import numpy as np

import my_kernels

rng = np.random.default_rng()
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


def blocks(n, b=256):
    return max(1, (n + b - 1) // b)


@case
def kernels_on_numpy():
    for dtype in (np.float32, np.float64):
        for n in (0, 1, 1000, 4099):
            x = rng.standard_normal(n).astype(dtype)
            y = rng.standard_normal(n).astype(dtype)
            want = y + dtype(2.5) * x
            my_kernels.saxpy[blocks(n), 256](2.5, x, y)
            np.testing.assert_allclose(y, want, rtol=1e-6, atol=1e-6)  # one rounding (fused)
    m = rng.standard_normal((40, 70))
    big = m.copy()
    view = big[::2, 5:65]  # strided, written in place
    s = rng.standard_normal(20)
    want = view * s[:, None]
    my_kernels.scale_rows[(blocks(60, 16), blocks(20, 16)), (16, 16)](view, s)
    np.testing.assert_allclose(big[::2, 5:65], want, rtol=1e-15)
    ints = rng.integers(-9, 9, (5, 6)).astype(np.int32)
    want = ints * np.arange(5, dtype=np.int32)[:, None]
    my_kernels.scale_rows[(1, 1), (16, 16)](ints, np.arange(5, dtype=np.int32))
    assert (ints == want).all()
    x = rng.standard_normal(10007).astype(np.float32)
    c = np.zeros(1, np.uint32)
    my_kernels.count_above[blocks(10007), 256](x, 0.5, c)
    assert c[0] == (x > 0.5).sum(), (c, (x > 0.5).sum())


@case
def errors_name_kernel_and_argument():
    x = np.ones(8, np.float32)
    def expect(f, *needles):
        try:
            f()
        except ValueError as e:  # gpujit.GpujitError is a ValueError
            for n in needles:
                assert n in str(e), (n, str(e))
        except TypeError as e:
            for n in needles:
                assert n in str(e), (n, str(e))
        else:
            raise AssertionError(f"no error naming {needles}")
    expect(lambda: my_kernels.saxpy[1, 32](1.0, x), "saxpy", "3 arguments")
    expect(lambda: my_kernels.saxpy[1, 32](1.0, x, np.ones(8)), "saxpy", "`y`")
    ro = np.ones(8, np.float32)
    ro.flags.writeable = False
    expect(lambda: my_kernels.saxpy[1, 32](1.0, x, ro), "saxpy", "read-only")
    expect(lambda: my_kernels.saxpy[1, 32](1.0, [1.0] * 8, x), "saxpy", "`x`")
    expect(lambda: my_kernels.saxpy(1.0, x, x), "saxpy", "k[grid, block]")
    expect(lambda: my_kernels.count_above[1, 32](x, "big", np.zeros(1, np.uint32)), "count_above", "`limit`")
    assert "saxpy" in repr(my_kernels.saxpy) and my_kernels.saxpy.params == ["a: T", "x: &[T]", "y: &mut [T]"], my_kernels.saxpy.params


@case
def kernels_on_gpu_arrays():
    """On a GPU machine: PyTorch and CuPy tensors, gpujit arrays, and a PyTorch stream."""
    try:
        import torch
    except ImportError:
        torch = None
    if torch is None or not torch.cuda.is_available():
        if os.environ.get("GPUJIT_REQUIRE_GPU") == "1":
            raise AssertionError("GPUJIT_REQUIRE_GPU=1 but torch with CUDA is not available")
        print("  (no GPU with PyTorch: skipped)")
        return
    n = 1 << 20
    x = torch.randn(n, device="cuda")
    y = torch.randn(n, device="cuda")
    want = y + 2.0 * x
    my_kernels.saxpy[blocks(n), 256](2.0, x, y)
    torch.testing.assert_close(y, want)
    s = torch.cuda.Stream()
    with torch.cuda.stream(s):
        a = torch.ones(n, device="cuda")
        b = torch.zeros(n, device="cuda")
        my_kernels.saxpy[blocks(n), 256, s](3.0, a, b)  # on torch's stream, ordered with its work
        total = b.sum()
    s.synchronize()
    assert float(total) == 3.0 * n
    # No stream given: the launch goes to the tensors' current stream, after the work queued
    # there (delayed by a spin, so a launch on another stream would run first and see zeros).
    with torch.cuda.stream(s):
        a = torch.ones(n, device="cuda")
        b = torch.zeros(n, device="cuda")
        torch.cuda._sleep(50_000_000)
        b.fill_(1.0)
        my_kernels.saxpy[blocks(n), 256](2.0, a, b)
        total = b.sum()
    s.synchronize()
    assert float(total) == 3.0 * n, float(total)
    # A strided view, read through its own strides.
    w = torch.randn(3 * 1001, device="cuda")[::3]
    out = torch.zeros(1001, device="cuda")
    my_kernels.saxpy[blocks(1001), 256](1.0, w, out)
    torch.testing.assert_close(out, w)
    # Conjugated views only DLPack describes: refused by it, with the argument named.
    z = torch.randn(64, dtype=torch.complex64, device="cuda").conj()
    try:
        my_kernels.saxpy[1, 64](1.0, z, torch.zeros(64, dtype=torch.complex64, device="cuda"))
    except Exception as e:  # PyTorch's own refusal to export a conjugated view, or ours
        assert "argument 2" in str(e) or "conj" in str(e).lower(), e
    else:
        raise AssertionError("a conjugated view was taken as plain data")
    # A tensor autograd tracks is refused, as PyTorch's own DLPack export refuses it.
    leaf = torch.ones(64, device="cuda", requires_grad=True)
    try:
        my_kernels.saxpy[1, 64](1.0, leaf, torch.zeros(64, device="cuda"))
    except Exception as e:
        assert "argument 2" in str(e) and "grad" in str(e).lower(), e
    else:
        raise AssertionError("a tensor that requires gradients was taken")
    import cupy as cp
    cx = cp.random.standard_normal(4099, dtype=cp.float32)
    cy = cp.zeros(4099, dtype=cp.float32)
    my_kernels.saxpy[blocks(4099), 256, cp.cuda.get_current_stream()](1.0, cx, cy)
    cp.testing.assert_allclose(cy, cx)
    from numba import cuda as ncuda
    nx = ncuda.to_device(np.arange(512, dtype=np.float32))
    # (Numba's `ny[:] = 0` needs `np.row_stack`, which NumPy 2.5 removed.)
    ny = ncuda.to_device(np.zeros(512, dtype=np.float32))
    my_kernels.saxpy[2, 256](0.5, nx, ny)  # through the CUDA Array Interface
    assert (ny.copy_to_host() == 0.5 * np.arange(512, dtype=np.float32)).all()
    import jax
    import jax.numpy as jnp
    jx = jnp.arange(512, dtype=jnp.float32)
    jy = torch.zeros(512, device="cuda")
    my_kernels.saxpy[2, 256](2.0, jx, jy)  # a JAX array read through DLPack
    torch.cuda.synchronize()
    assert bool((jy.cpu() == 2.0 * torch.arange(512.0)).all())
    import gpujit
    g = gpujit.zeros(1000, "float32", device="cuda")
    my_kernels.saxpy[blocks(1000), 256](1.0, gpujit.ones(1000, "float32", device="cuda"), g)
    assert float(g.sum()) == 1000.0


print(f"test result: {'FAILED' if failures else 'ok'}. {passed} passed; {failures} failed; (python/examples/extension/tests/test_extension.py)")
sys.exit(1 if failures else 0)
