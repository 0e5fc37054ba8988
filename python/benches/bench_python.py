"""Python-side benchmarks of issue 16's goals, each beside its peer in the same process:

1. `gpujit.fuse` of `exp(-x*x/2)*sin(y) + sqrt(abs(x*y))` on 2^26 float32 against `cupy.fuse` (and
   CuPy's unfused ufuncs, PyTorch eager): device time per call (CUDA events, median of 20).
2. The host time of a Python launch of an exported kernel (`my_kernels.saxpy[g, b](a, x, y)`) on
   two torch tensors against CuPy's `RawKernel` launch of the same saxpy: microseconds per launch
   over 20000 launches without synchronizing (median of 5 rounds).

Run on a GPU machine with gpujit and my_kernels (python/examples/extension) importable:
`python3 python/benches/bench_python.py`. Prints one line per measurement and the ratios."""
import statistics
import time

import cupy as cp
import numpy as np
import torch

import gpujit
import my_kernels

N = 1 << 26


def device_ms(fn, reps=20):
    fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b))
    return statistics.median(times)


def f(x, y):
    return np.exp(-x * x / 2) * np.sin(y) + np.sqrt(np.abs(x * y))


@cp.fuse()
def cupy_fused(x, y):
    return cp.exp(-x * x / 2) * cp.sin(y) + cp.sqrt(cp.abs(x * y))


gpujit_fused = gpujit.fuse(f)

tx = torch.randn(N, device="cuda")
ty = torch.randn(N, device="cuda")
cx, cy = cp.asarray(tx), cp.asarray(ty)
gx, gy = gpujit.from_dlpack(tx), gpujit.from_dlpack(ty)
# The same results first.
want = cp.asnumpy(cupy_fused(cx, cy))
got = gpujit_fused(gx, gy).to_numpy()
np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5)
bytes_moved = 3 * 4 * N
ms_g = device_ms(lambda: gpujit_fused(gx, gy))
ms_c = device_ms(lambda: cupy_fused(cx, cy))
ms_u = device_ms(lambda: cp.exp(-cx * cx / 2) * cp.sin(cy) + cp.sqrt(cp.abs(cx * cy)))
ms_t = device_ms(lambda: torch.exp(-tx * tx / 2) * torch.sin(ty) + torch.sqrt(torch.abs(tx * ty)))
for name, ms in (("gpujit.fuse", ms_g), ("cupy.fuse", ms_c), ("cupy ufuncs", ms_u), ("torch eager", ms_t)):
    print(f"fuse 5-op 2^26 f32: {name:12s} {ms:8.3f} ms  {bytes_moved / ms / 1e6:7.0f} GB/s")
print(f"fuse 5-op 2^26 f32: gpujit.fuse is {ms_c / ms_g:.2f}x cupy.fuse (goal >= 1.3)")

# Launch host time.
n = 1 << 20
x = torch.randn(n, device="cuda")
y = torch.randn(n, device="cuda")
blocks = (n + 255) // 256
raw = cp.RawKernel(
    r"""extern "C" __global__ void saxpy(float a, const float* x, float* y, unsigned long long n) {
        unsigned long long i = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x;
        if (i < n) y[i] += a * x[i];
    }""",
    "saxpy",
)
cxs, cys = cp.asarray(x), cp.asarray(y)


def launches(fn, k=20000, rounds=5):
    fn()
    torch.cuda.synchronize()
    out = []
    for _ in range(rounds):
        t = time.perf_counter()
        for _ in range(k):
            fn()
        out.append((time.perf_counter() - t) / k * 1e6)
        torch.cuda.synchronize()
    return statistics.median(out)


us_g = launches(lambda: my_kernels.saxpy[blocks, 256](2.0, x, y))
us_c = launches(lambda: raw((blocks,), (256,), (cp.float32(2.0), cxs, cys, cp.uint64(n))))
print(f"launch host time: my_kernels.saxpy on torch tensors {us_g:.2f} us, cupy.RawKernel {us_c:.2f} us: {us_g / us_c:.2f}x (goal <= 1.5)")
