// The CUDA C side of benches/gemm_bench.rs: the same register-tiled SGEMM as examples/sgemm.rs
// (128x128 block tile, BK 8, 256 threads, an 8x8 micro-tile a thread), compiled by nvcc -O3 in
// the same device call, and cuBLAS SGEMM (TF32 off) beside it.
//
//   nvcc -O3 -arch=sm_90 benches/support/sgemm.cu -lcublas -o sgemm_ref && ./sgemm_ref 4096 4096 4096
//
// Variants: `scalar` is examples/sgemm.rs line for line (scalar loads, `#pragma unroll` where the
// Rust has `#[unroll]`, nvcc's default -fmad=true); `float4` loads and reads shared memory as
// float4 (sizes that are multiples of the tile only), the usual hand optimisation. Prints one line
// per variant: `name TFLOP/s`, the median of 20 timed launches.
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

#define BM 128
#define BN 128
#define BK 8

__global__ void __launch_bounds__(256) sgemm_scalar(const float* __restrict__ a, const float* __restrict__ b, float* __restrict__ c,
                                                    size_t m, size_t n, size_t k) {
    __shared__ float a_tile[BK * BM];
    __shared__ float b_tile[BK * BN];
    float acc[64], a_reg[8], b_reg[8];
    unsigned t = threadIdx.x;
    size_t row0 = blockIdx.y * (size_t)BM, col0 = blockIdx.x * (size_t)BN;
    unsigned ty = t / 16, tx = t % 16;
    unsigned a_row = t / 2, a_col = (t % 2) * 4, b_row = t / 32, b_col = (t % 32) * 4;
#pragma unroll
    for (int i = 0; i < 64; i++) acc[i] = 0.0f;
    bool interior = row0 + BM <= m && col0 + BN <= n;
    for (size_t k0 = 0; k0 < k; k0 += BK) {
        if (interior && k0 + BK <= k) {
#pragma unroll
            for (int q = 0; q < 4; q++) {
                a_tile[(a_col + q) * BM + a_row] = a[(row0 + a_row) * k + k0 + a_col + q];
                b_tile[b_row * BN + b_col + q] = b[(k0 + b_row) * n + col0 + b_col + q];
            }
        } else {
#pragma unroll
            for (int q = 0; q < 4; q++) {
                size_t r = row0 + a_row, kk = k0 + a_col + q;
                a_tile[(a_col + q) * BM + a_row] = r < m && kk < k ? a[r * k + kk] : 0.0f;
                size_t kb = k0 + b_row, col = col0 + b_col + q;
                b_tile[b_row * BN + b_col + q] = kb < k && col < n ? b[kb * n + col] : 0.0f;
            }
        }
        __syncthreads();
#pragma unroll
        for (int kk = 0; kk < BK; kk++) {
#pragma unroll
            for (int i = 0; i < 8; i++) {
                a_reg[i] = a_tile[kk * BM + ty * 8 + i];
                b_reg[i] = b_tile[kk * BN + tx * 8 + i];
            }
#pragma unroll
            for (int i = 0; i < 8; i++)
#pragma unroll
                for (int j = 0; j < 8; j++) acc[i * 8 + j] += a_reg[i] * b_reg[j];
        }
        __syncthreads();
    }
#pragma unroll
    for (int i = 0; i < 8; i++) {
        size_t row = row0 + ty * 8 + i;
#pragma unroll
        for (int j = 0; j < 8; j++) {
            size_t col = col0 + tx * 8 + j;
            if (row < m && col < n) c[row * n + col] = acc[i * 8 + j];
        }
    }
}

// Sizes multiples of the tiles only.
__global__ void __launch_bounds__(256) sgemm_float4(const float* __restrict__ a, const float* __restrict__ b, float* __restrict__ c,
                                                    int m, int n, int k) {
    __shared__ float4 a_tile4[BK * BM / 4];
    __shared__ float4 b_tile4[BK * BN / 4];
    float* a_tile = (float*)a_tile4;
    float acc[64];
    int t = threadIdx.x;
    int row0 = blockIdx.y * BM, col0 = blockIdx.x * BN;
    int ty = t / 16, tx = t % 16;
    int a_row = t / 2, a_col = (t % 2) * 4, b_row = t / 32, b_col4 = t % 32;
#pragma unroll
    for (int i = 0; i < 64; i++) acc[i] = 0.0f;
    for (int k0 = 0; k0 < k; k0 += BK) {
        float4 av = *(const float4*)&a[(size_t)(row0 + a_row) * k + k0 + a_col];
        a_tile[(a_col + 0) * BM + a_row] = av.x;
        a_tile[(a_col + 1) * BM + a_row] = av.y;
        a_tile[(a_col + 2) * BM + a_row] = av.z;
        a_tile[(a_col + 3) * BM + a_row] = av.w;
        b_tile4[b_row * (BN / 4) + b_col4] = *(const float4*)&b[(size_t)(k0 + b_row) * n + col0 + b_col4 * 4];
        __syncthreads();
#pragma unroll
        for (int kk = 0; kk < BK; kk++) {
            float4 a0 = a_tile4[kk * (BM / 4) + ty * 2], a1 = a_tile4[kk * (BM / 4) + ty * 2 + 1];
            float4 b0 = b_tile4[kk * (BN / 4) + tx * 2], b1 = b_tile4[kk * (BN / 4) + tx * 2 + 1];
            float ar[8] = {a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w};
            float br[8] = {b0.x, b0.y, b0.z, b0.w, b1.x, b1.y, b1.z, b1.w};
#pragma unroll
            for (int i = 0; i < 8; i++)
#pragma unroll
                for (int j = 0; j < 8; j++) acc[i * 8 + j] += ar[i] * br[j];
        }
        __syncthreads();
    }
#pragma unroll
    for (int i = 0; i < 8; i++) {
        float4* out = (float4*)&c[(size_t)(row0 + ty * 8 + i) * n + col0 + tx * 8];
        out[0] = make_float4(acc[i * 8 + 0], acc[i * 8 + 1], acc[i * 8 + 2], acc[i * 8 + 3]);
        out[1] = make_float4(acc[i * 8 + 4], acc[i * 8 + 5], acc[i * 8 + 6], acc[i * 8 + 7]);
    }
}

#define CHECK(x)                                                                   \
    do {                                                                           \
        cudaError_t e_ = (x);                                                      \
        if (e_ != cudaSuccess) {                                                   \
            fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, cudaGetErrorString(e_)); \
            exit(1);                                                               \
        }                                                                          \
    } while (0)

template <class F>
static double median_ms(F launch) {
    cudaEvent_t s, e;
    CHECK(cudaEventCreate(&s));
    CHECK(cudaEventCreate(&e));
    for (int i = 0; i < 3; i++) launch();
    std::vector<float> ms;
    for (int i = 0; i < 20; i++) {
        CHECK(cudaEventRecord(s));
        launch();
        CHECK(cudaEventRecord(e));
        CHECK(cudaEventSynchronize(e));
        float x;
        CHECK(cudaEventElapsedTime(&x, s, e));
        ms.push_back(x);
    }
    std::sort(ms.begin(), ms.end());
    return ms[ms.size() / 2];
}

int main(int argc, char** argv) {
    size_t m = argc > 3 ? atol(argv[1]) : 4096, n = argc > 3 ? atol(argv[2]) : 4096, k = argc > 3 ? atol(argv[3]) : 4096;
    std::vector<float> ha(m * k), hb(k * n);
    for (size_t i = 0; i < ha.size(); i++) ha[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.5f;
    for (size_t i = 0; i < hb.size(); i++) hb[i] = (float)((i * 104729) % 1000) / 1000.0f - 0.5f;
    float *a, *b, *c, *c_ref;
    CHECK(cudaMalloc(&a, m * k * 4));
    CHECK(cudaMalloc(&b, k * n * 4));
    CHECK(cudaMalloc(&c, m * n * 4));
    CHECK(cudaMalloc(&c_ref, m * n * 4));
    CHECK(cudaMemcpy(a, ha.data(), m * k * 4, cudaMemcpyHostToDevice));
    CHECK(cudaMemcpy(b, hb.data(), k * n * 4, cudaMemcpyHostToDevice));
    double flop = 2.0 * m * n * k;
    dim3 grid((n + BN - 1) / BN, (m + BM - 1) / BM);
    cublasHandle_t h;
    cublasCreate(&h);
    cublasSetMathMode(h, CUBLAS_PEDANTIC_MATH);  // TF32 off: f32 FMA throughout
    float one = 1.0f, zero = 0.0f;
    // Row-major C = A·B is column-major Cᵀ = Bᵀ·Aᵀ.
    double ms = median_ms([&] { cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, n, m, k, &one, b, n, a, k, &zero, c_ref, n); });
    printf("cublas_sgemm %.2f\n", flop / ms / 1e9);
    ms = median_ms([&] { sgemm_scalar<<<grid, 256>>>(a, b, c, m, n, k); });
    CHECK(cudaGetLastError());
    printf("nvcc_scalar %.2f\n", flop / ms / 1e9);
    std::vector<float> got(m * n), want(m * n);
    CHECK(cudaMemcpy(got.data(), c, m * n * 4, cudaMemcpyDeviceToHost));
    CHECK(cudaMemcpy(want.data(), c_ref, m * n * 4, cudaMemcpyDeviceToHost));
    double err = 0;
    for (size_t i = 0; i < got.size(); i++) err = std::max(err, (double)fabsf(got[i] - want[i]));
    printf("nvcc_scalar_max_diff_vs_cublas %.2e\n", err);
    if (m % BM == 0 && n % BN == 0 && k % BK == 0) {
        ms = median_ms([&] { sgemm_float4<<<grid, 256>>>(a, b, c, (int)m, (int)n, (int)k); });
        CHECK(cudaGetLastError());
        printf("nvcc_float4 %.2f\n", flop / ms / 1e9);
    }
    return 0;
}
