"""Peers for the fused-expression bench beyond ../shared/peers/peers.py (which covers f32 at
2^26): f32 at 2^28, bf16 at 2^26 and 2^28, and dot. Run on the device beside fused_bench:
python3 benches/peers_fused.py (one line a figure: case, peer, value, unit)."""
import numpy as np, cupy as cp, torch

def rec(case, peer, val, unit):
    print(f"{case:28s} {peer:26s} {val:10.2f} {unit}", flush=True)

def evtime(fn, reps=30):
    fn(); torch.cuda.synchronize()
    s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    ts = []
    for _ in range(reps):
        s.record(); fn(); e.record(); e.synchronize(); ts.append(s.elapsed_time(e))
    return float(np.median(ts))

def expr(m, x, y, half):
    return m.exp(-x * x * half) * m.sin(y) + m.sqrt(m.abs(x * y))

for lg in (26, 28):
    n = 1 << lg
    for dt, size in ((torch.float32, 4), (torch.bfloat16, 2)):
        name = "f32" if dt == torch.float32 else "bf16"
        if lg == 26 and dt == torch.float32:
            # saxpy/fused5/sum f32 2^26 are in peers.py; dot is not.
            pass
        tx = torch.rand(n, device="cuda", dtype=dt); ty = torch.rand(n, device="cuda", dtype=dt); tz = torch.empty_like(tx)
        if not (lg == 26 and dt == torch.float32):
            t = evtime(lambda: torch.add(ty, tx, alpha=2.0, out=tz)); rec(f"saxpy_{name}_2^{lg}", "torch add(alpha)", 3 * size * n / t / 1e6, "GB/s")
            t = evtime(lambda: expr(torch, tx, ty, 0.5)); rec(f"fused5_{name}_2^{lg}", "torch eager", 3 * size * n / t / 1e6, "GB/s(eff)")
            t = evtime(lambda: tx.sum()); rec(f"sum_{name}_2^{lg}", "torch sum", size * n / t / 1e6, "GB/s")
        t = evtime(lambda: torch.dot(tx, ty)); rec(f"dot_{name}_2^{lg}", "torch dot", 2 * size * n / t / 1e6, "GB/s")
        if dt == torch.bfloat16 and lg == 26:
            try:
                tc = torch.compile(lambda a, b: expr(torch, a, b, 0.5))
                tc(tx, ty)
                t = evtime(lambda: tc(tx, ty)); rec(f"fused5_{name}_2^{lg}", "torch.compile", 3 * size * n / t / 1e6, "GB/s(eff)")
            except Exception as ex:
                print("torch.compile failed:", repr(ex)[:300])
        if dt == torch.float32:
            x = cp.asarray(tx); y = cp.asarray(ty); z = cp.empty_like(x)
            if lg == 28:
                k = cp.ElementwiseKernel('float32 a, float32 x, float32 y', 'float32 z', 'z = a*x+y', 'saxpy')
                t = evtime(lambda: k(np.float32(2.0), x, y, z)); rec(f"saxpy_f32_2^{lg}", "cupy ElementwiseKernel", 12 * n / t / 1e6, "GB/s")
                f = cp.fuse(kernel_name="fused5")(lambda a, b: expr(cp, a, b, np.float32(0.5)))
                t = evtime(lambda: f(x, y)); rec(f"fused5_f32_2^{lg}", "cupy.fuse", 12 * n / t / 1e6, "GB/s(eff)")
                t = evtime(lambda: x.sum()); rec(f"sum_f32_2^{lg}", "cupy sum", 4 * n / t / 1e6, "GB/s")
            t = evtime(lambda: cp.dot(x, y)); rec(f"dot_f32_2^{lg}", "cupy dot", 8 * n / t / 1e6, "GB/s")
        del tx, ty, tz
        torch.cuda.empty_cache()
