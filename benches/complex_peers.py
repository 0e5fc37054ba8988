"""Complex baselines beside gpu_bench's `caxpy_c64_2^26`, on the GPU machine: y = a * x + y on
2^26 complex64 elements with CuPy (ElementwiseKernel, and its array operators) and PyTorch, in
GB/s of the 24 bytes an element moves. Run there: python3 benches/complex_peers.py"""
import cupy as cp
import numpy as np
import torch

N = 1 << 26


def evtime(fn, reps=30):
    fn()
    cp.cuda.Device().synchronize()
    s, e = cp.cuda.Event(), cp.cuda.Event()
    ts = []
    for _ in range(reps):
        s.record()
        fn()
        e.record()
        e.synchronize()
        ts.append(cp.cuda.get_elapsed_time(s, e))
    return float(np.median(ts))


x = cp.full(N, 1 - 1j, dtype=cp.complex64)
y = cp.full(N, 0.5 + 0.25j, dtype=cp.complex64)
a = np.complex64(1j)
k = cp.ElementwiseKernel("complex64 a, complex64 x", "complex64 y", "y = a * x + y", "caxpy")
for name, fn in (
    ("cupy ElementwiseKernel", lambda: k(a, x, y)),
    ("cupy operators (a*x+y)", lambda: cp.add(a * x, y, out=y)),
):
    t = evtime(fn)
    print(f"caxpy_c64_2^26          {name:24s} {3 * 8 * N / t / 1e6:8.1f} GB/s  ({t:.3f} ms)")
tx, ty = torch.as_tensor(x, device="cuda"), torch.as_tensor(y, device="cuda")
ta = torch.tensor(1j, dtype=torch.complex64, device="cuda")
t = evtime(lambda: ty.add_(tx, alpha=ta))
print(f"caxpy_c64_2^26          {'torch add_(alpha)':24s} {3 * 8 * N / t / 1e6:8.1f} GB/s  ({t:.3f} ms)")
