"""cuBLAS through torch.matmul, the reference of benches/gemm_bench.rs (run in the same device
call): bf16 -> f32 accumulate (torch's bf16 matmul output is bf16; the f32-output figure is the
same kernel class), TF32, and f32 with TF32 off, TFLOP/s by CUDA events (median of 20)."""
import torch


def tflops(m, n, k, dtype, tf32=False, transposed_b=False):
    torch.backends.cuda.matmul.allow_tf32 = tf32
    a = torch.randn(m, k, device="cuda", dtype=dtype)
    # transposed_b: B stored n×k (as gemm_wgmma takes it), multiplied as its transpose.
    b = torch.randn(n, k, device="cuda", dtype=dtype).t() if transposed_b else torch.randn(k, n, device="cuda", dtype=dtype)
    for _ in range(3):
        torch.matmul(a, b)
    times = []
    for _ in range(20):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        torch.matmul(a, b)
        e.record()
        e.synchronize()
        times.append(s.elapsed_time(e))
    ms = sorted(times)[len(times) // 2]
    return 2.0 * m * n * k / ms / 1e9, ms


for (m, n, k) in [(8192, 8192, 8192), (4096, 4096, 4096), (4095, 4097, 1000)]:
    t, ms = tflops(m, n, k, torch.bfloat16)
    print(f"torch_bf16 {m}x{n}x{k} {t:8.2f} TFLOP/s ({ms:.3} ms)")
for (m, n, k) in [(8192, 8192, 8192), (4095, 4097, 1000)]:
    t, ms = tflops(m, n, k, torch.bfloat16, transposed_b=True)
    print(f"torch_bf16_tn {m}x{n}x{k} {t:8.2f} TFLOP/s ({ms:.3} ms)")
for (m, n, k) in [(8192, 8192, 8192)]:
    t, ms = tflops(m, n, k, torch.float32, tf32=True)
    print(f"torch_tf32 {m}x{n}x{k} {t:8.2f} TFLOP/s ({ms:.3} ms)")
for (m, n, k) in [(4096, 4096, 4096)]:
    t, ms = tflops(m, n, k, torch.float32, tf32=False)
    print(f"torch_f32 {m}x{n}x{k} {t:8.2f} TFLOP/s ({ms:.3} ms)")
