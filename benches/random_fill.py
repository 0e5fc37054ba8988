"""Random fills on a GPU, in one process: gpujit.random (Philox4x32-10) against CuPy
(cupy.random, cuRAND's XORWOW by default), PyTorch (torch.rand/randn, Philox) and a plain write of
the same bytes (CuPy's `fill`, the practical ceiling). Each figure is the median time of a whole
call (allocation included, as a user sees it) over 15 calls after a warm-up, as GB/s written.

    PYTHONPATH=<dir with gpujit.abi3.so> python3 benches/random_fill.py [log2 n ...]
"""
import statistics
import sys
import time

import cupy
import torch

import gpujit


def median_s(f, reps=15):
    f()
    cupy.cuda.runtime.deviceSynchronize()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        x = f()
        cupy.cuda.runtime.deviceSynchronize()
        times.append(time.perf_counter() - start)
        del x
    return statistics.median(times)


def main():
    sizes = [int(a) for a in sys.argv[1:]] or [24, 28]
    for log2 in sizes:
        n = 1 << log2
        for dtype, size in (("float32", 4), ("float64", 8)):
            td = getattr(torch, dtype)
            cd = getattr(cupy, dtype)
            rows = {
                "uniform": {
                    "gpujit": lambda: gpujit.random.uniform((n,), seed=1, dtype=dtype, device="cuda"),
                    "cupy": lambda: cupy.random.random(n, dtype=cd),
                    "torch": lambda: torch.rand(n, device="cuda", dtype=td),
                },
                "normal": {
                    "gpujit": lambda: gpujit.random.normal((n,), seed=1, dtype=dtype, device="cuda"),
                    "cupy": lambda: cupy.random.standard_normal(n, dtype=cd),
                    "torch": lambda: torch.randn(n, device="cuda", dtype=td),
                },
            }
            ceiling = median_s(lambda: cupy.empty(n, dtype=cd).fill(0.5))
            for kind, fs in rows.items():
                line = [f"2^{log2} {dtype} {kind}:"]
                for name, f in fs.items():
                    s = median_s(f)
                    line.append(f"{name} {n * size / s / 1e9:.0f} GB/s ({s * 1e3:.3f} ms)")
                line.append(f"write ceiling {n * size / ceiling / 1e9:.0f} GB/s")
                print("  ".join(line), flush=True)


main()
