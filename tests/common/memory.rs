//! Shared memory, barriers, atomics, per-thread arrays.

use super::*;

// ---------------------------------------------------------------------------------------------
// Shared memory, barriers, atomics, per-thread arrays.

#[gpu_kernel]
fn block_reverse(x: &[f32], out: &mut [f32]) {
    let mut tile = shared_array::<f32, 128>();
    let t = thread_idx_x();
    let base = block_idx_x() * block_dim_x();
    let i = base + t;
    if i < x.len() {
        tile[t] = x[i];
    }
    sync_threads();
    let r = block_dim_x() - 1 - t;
    if i < x.len() && base + r < x.len() {
        out[i] = tile[r];
    }
}

pub fn shared_block_reverse(h: &Harness) {
    for n in SIZES {
        let x = h.vec(n, |h| h.f64_in(-1.0, 1.0) as f32);
        let mut out = h.zeros::<f32>(n);
        h.run(&block_reverse, LaunchConfig::for_elements(n, 128), (&h.arr(&x), &mut out)).unwrap();
        let mut want = vec![0.0f32; n];
        for (i, w) in want.iter_mut().enumerate() {
            let j = (i / 128) * 128 + (127 - i % 128);
            if j < n {
                *w = x[j];
            }
        }
        assert_eq!(out.to_vec().unwrap(), want, "n = {n}");
    }
}

/// A tree reduction in shared memory, then one atomic a block.
#[gpu_kernel]
fn block_sum(x: &[i64], partial: &mut [i64], total: &mut [i64]) {
    let mut tile = shared_array::<i64, 256>();
    let t = thread_idx_x();
    let i = block_idx_x() * block_dim_x() + t;
    tile[t] = 0;
    if i < x.len() {
        tile[t] = x[i];
    }
    sync_threads();
    let mut s = block_dim_x() / 2;
    while s > 0 {
        if t < s {
            tile[t] += tile[t + s];
        }
        sync_threads();
        s /= 2;
    }
    if t == 0 {
        partial[block_idx_x()] = tile[0];
        threadfence_block();
        atomic_add(total, 0, tile[0]);
    }
}

pub fn shared_reduction(h: &Harness) {
    for n in SIZES {
        let x: Vec<i64> = h.vec(n, |h| (h.next_u64() % 2001) as i64 - 1000);
        let blocks = n.div_ceil(256).max(1);
        let (mut partial, mut total) = (h.zeros::<i64>(blocks), h.zeros::<i64>(1));
        h.run(&block_sum, (blocks, 256), (&h.arr(&x), &mut partial, &mut total)).unwrap();
        let want: Vec<i64> = (0..blocks).map(|b| x.iter().skip(b * 256).take(256).sum()).collect();
        assert_eq!(partial.to_vec().unwrap(), want, "n = {n}");
        assert_eq!(total.to_vec().unwrap(), vec![x.iter().sum::<i64>()], "n = {n}");
    }
}

/// Numba's histogram: per-block counts with shared atomics, merged with global atomics.
#[gpu_kernel]
fn histogram(x: &[u8], hist: &mut [u32]) {
    let mut local = shared_array::<u32, 256>();
    let t = thread_idx_x();
    let mut b = t;
    while b < 256 {
        local[b] = 0;
        b += block_dim_x();
    }
    sync_threads();
    let start = grid(1);
    let stride = grid_size(1);
    for i in (start..x.len()).step_by(stride) {
        atomic_add(&mut local, x[i] as usize, 1u32);
    }
    sync_threads();
    let mut b = t;
    while b < 256 {
        atomic_add(hist, b, local[b]);
        b += block_dim_x();
    }
}

pub fn shared_histogram(h: &Harness) {
    for n in [0usize, 1, 1000, 100_003] {
        let x: Vec<u8> = h.vec(n, |h| (h.next_u64() % 97) as u8 * 2);
        let mut hist = h.zeros::<u32>(256);
        h.run(&histogram, (7, 96), (&h.arr(&x), &mut hist)).unwrap();
        let mut want = vec![0u32; 256];
        for v in &x {
            want[*v as usize] += 1;
        }
        assert_eq!(hist.to_vec().unwrap(), want, "n = {n}");
    }
}

#[gpu_kernel]
fn atomics_num<T: Number>(x: &[T], out: &mut [T], olds: &mut [T]) {
    let i = grid(1);
    if i < x.len() {
        let v = x[i];
        olds[i] = atomic_add(out, 0, v);
        atomic_sub(out, 1, v);
        atomic_min(out, 2, v);
        atomic_max(out, 3, v);
        atomic_exch(out, 4, v);
        // A counter through a compare-and-swap loop.
        let mut seen = out[5];
        loop {
            let old = atomic_cas(out, 5, seen, seen + v);
            if old == seen {
                break;
            }
            seen = old;
        }
    }
}

#[gpu_kernel]
fn atomics_bits<T: Int>(x: &[T], out: &mut [T]) {
    let i = grid(1);
    if i < x.len() {
        atomic_and(out, 0, x[i]);
        atomic_or(out, 1, x[i]);
        atomic_xor(out, 2, x[i]);
    }
}

macro_rules! check_atomics_num {
    ($h:expr, $($t:ty),*) => {$({
        let h: &Harness = $h;
        for n in [1usize, 129, 4099] {
            // Small integers: sums are exact in every type, so any order gives the same result.
            let x: Vec<$t> = h.vec(n, |h| (h.next_u64() % 50 + 1) as $t);
            let init: [$t; 6] = [0 as $t, 1000000 as $t, 255 as $t, 0 as $t, 0 as $t, 0 as $t];
            let mut out = h.arr(&init);
            let mut olds = h.zeros::<$t>(n);
            h.run(&atomics_num, LaunchConfig::for_elements(n, 64), (&h.arr(&x), &mut out, &mut olds)).unwrap();
            let got = out.to_vec().unwrap();
            let sum = x.iter().fold(0 as $t, |a, b| a + *b);
            let min = x.iter().fold(255 as $t, |a, b| if *b < a { *b } else { a });
            let max = x.iter().fold(0 as $t, |a, b| if *b > a { *b } else { a });
            assert_eq!(got[0], sum, "{} add", stringify!($t));
            assert_eq!(got[1], 1000000 as $t - sum, "{} sub", stringify!($t));
            assert_eq!(got[2], min, "{} min", stringify!($t));
            assert_eq!(got[3], max, "{} max", stringify!($t));
            assert!(x.contains(&got[4]), "{} exch left {:?}", stringify!($t), got[4]);
            assert_eq!(got[5], sum, "{} cas counter", stringify!($t));
            // The old values of the adds are distinct running sums, one of them 0.
            let mut olds = olds.to_vec().unwrap();
            olds.sort_by(|a, b| a.partial_cmp(b).unwrap());
            assert_eq!(olds[0], 0 as $t, "{} first add saw 0", stringify!($t));
            assert!(olds.windows(2).all(|w| w[0] < w[1]), "{} add olds are distinct", stringify!($t));
        }
    })*};
}

macro_rules! check_atomics_bits {
    ($h:expr, $($t:ty),*) => {$({
        let h: &Harness = $h;
        for n in [1usize, 129, 4099] {
            let x: Vec<$t> = h.vec(n, |h| h.next_u64() as $t | (h.next_u64() as $t));
            let mut out = h.arr(&[!(0 as $t), 0 as $t, 0 as $t]);
            h.run(&atomics_bits, LaunchConfig::for_elements(n, 64), (&h.arr(&x), &mut out)).unwrap();
            let and = x.iter().fold(!(0 as $t), |a, b| a & b);
            let or = x.iter().fold(0 as $t, |a, b| a | b);
            let xor = x.iter().fold(0 as $t, |a, b| a ^ b);
            assert_eq!(out.to_vec().unwrap(), vec![and, or, xor], "{}", stringify!($t));
        }
    })*};
}

pub fn atomics(h: &Harness) {
    check_atomics_num!(h, i32, u32, i64, u64, f32, f64);
    check_atomics_bits!(h, i32, u32, i64, u64);
}

#[gpu_kernel]
fn dynamic_reverse(x: &[f32], out: &mut [f32], sizes: &mut [u64]) {
    let mut buf = dynamic_shared::<f32>();
    let t = thread_idx_x();
    let n = block_dim_x();
    let i = block_idx_x() * n + t;
    if i < x.len() {
        buf[t] = x[i];
    }
    sync_threads();
    if i < x.len() && block_idx_x() * n + (n - 1 - t) < x.len() {
        out[i] = buf[n - 1 - t];
    }
    if i == 0 {
        sizes[0] = buf.len() as u64;
    }
}

pub fn dynamic_shared_memory(h: &Harness) {
    let n = 1000;
    let x = h.vec(n, |h| h.f64_in(-1.0, 1.0) as f32);
    let (mut out, mut sizes) = (h.zeros::<f32>(n), h.zeros::<u64>(1));
    let config = LaunchConfig::for_elements(n, 100).shared_mem_bytes(100 * 4);
    h.run(&dynamic_reverse, config, (&h.arr(&x), &mut out, &mut sizes)).unwrap();
    let want: Vec<f32> = (0..n).map(|i| x[(i / 100) * 100 + 99 - i % 100]).collect();
    assert_eq!(out.to_vec().unwrap(), want);
    assert_eq!(sizes.to_vec().unwrap(), vec![100]);
}

#[gpu_kernel]
fn local_window(x: &[i32], out: &mut [i32]) {
    let i = grid(1);
    if i < x.len() {
        let mut w = local_array::<i32, 8>();
        for k in 0..8 {
            let j = i + k;
            w[k] = 0;
            if j < x.len() {
                w[k] = x[j];
            }
        }
        let mut acc = 0;
        for k in 0..w.len() {
            acc = acc * 3 + w[7 - k];
        }
        out[i] = acc;
    }
}

pub fn local_arrays(h: &Harness) {
    for n in SIZES {
        let x: Vec<i32> = h.vec(n, |h| (h.next_u64() % 7) as i32 - 3);
        let mut out = h.zeros::<i32>(n);
        h.run(&local_window, LaunchConfig::for_elements(n, 128), (&h.arr(&x), &mut out)).unwrap();
        let want: Vec<i32> = (0..n)
            .map(|i| {
                let w: Vec<i32> = (0..8).map(|k| if i + k < n { x[i + k] } else { 0 }).collect();
                (0..8).fold(0i32, |acc, k| acc.wrapping_mul(3).wrapping_add(w[7 - k]))
            })
            .collect();
        assert_eq!(out.to_vec().unwrap(), want, "n = {n}");
    }
}

/// Numba's tiled matrix multiply with 2-D shared tiles: c (m×p) = a (m×k) · b (k×p), row-major.
#[gpu_kernel]
fn matmul_tiled(a: &[f32], b: &[f32], c: &mut [f32], m: usize, k: usize, p: usize) {
    let mut ta = shared_array_2d::<f32, 16, 16>();
    let mut tb = shared_array_2d::<f32, 16, 16>();
    let tx = thread_idx_x();
    let ty = thread_idx_y();
    let row = block_idx_y() * 16 + ty;
    let col = block_idx_x() * 16 + tx;
    let mut acc = 0.0f32;
    let tiles = (k + 15) / 16;
    for t in 0..tiles {
        ta[[ty, tx]] = 0.0;
        tb[[ty, tx]] = 0.0;
        if row < m && t * 16 + tx < k {
            ta[[ty, tx]] = a[row * k + t * 16 + tx];
        }
        if col < p && t * 16 + ty < k {
            tb[[ty, tx]] = b[(t * 16 + ty) * p + col];
        }
        sync_threads();
        for j in 0..16 {
            acc += ta[[ty, j]] * tb[[j, tx]];
        }
        sync_threads();
    }
    if row < m && col < p {
        c[row * p + col] = acc;
    }
}

pub fn tiled_matmul(h: &Harness) {
    for (m, k, p) in [(37usize, 29usize, 41usize), (16, 16, 16), (1, 70, 3), (0, 5, 5)] {
        let a = h.vec(m * k, |h| h.f64_in(-1.0, 1.0) as f32);
        let b = h.vec(k * p, |h| h.f64_in(-1.0, 1.0) as f32);
        let mut c = h.zeros::<f32>(m * p);
        h.run(&matmul_tiled, ((p.div_ceil(16), m.div_ceil(16)), (16, 16)), (&h.arr(&a), &h.arr(&b), &mut c, m, k, p)).unwrap();
        let got = c.to_vec().unwrap();
        for r in 0..m {
            for col in 0..p {
                let want: f64 = (0..k).map(|j| a[r * k + j] as f64 * b[j * p + col] as f64).sum();
                let g = got[r * p + col] as f64;
                assert!((g - want).abs() < 1e-4, "c[{r}][{col}] = {g}, want {want} ({m}x{k}x{p})");
            }
        }
    }
}

/// Tuple `let`s evaluate every value before binding (so they swap).
#[gpu_kernel]
fn tuple_lets(x: &[i32], out: &mut [i32]) {
    let i = grid(1);
    if i < x.len() {
        let (mut a, mut b) = (x[i], i as i32);
        let (a2, b2) = (b, a);
        a = a2 * 2;
        b = b2 + 1;
        let (a, b) = (b, a);
        let (_, c) = (a, b);
        out[i] = a * 1000 + c;
    }
}

pub fn tuple_let(h: &Harness) {
    for n in SIZES {
        let x: Vec<i32> = h.vec(n, |h| (h.next_u64() % 1000) as i32);
        let mut out = h.zeros::<i32>(n);
        h.run(&tuple_lets, LaunchConfig::for_elements(n, 128), (&h.arr(&x), &mut out)).unwrap();
        let want: Vec<i32> = (0..n).map(|i| (x[i] + 1) * 1000 + 2 * i as i32).collect();
        assert_eq!(out.to_vec().unwrap(), want);
    }
}

// The register-tiled SGEMM of `examples/sgemm.rs` (the same file): each thread's 8×8 micro-tile
// and its rows of A and B are local arrays, written and read back in one stretch between
// barriers. On the CPU backend its thread loops run as SIMD lanes, each lane's arrays apart by
// their size; LLVM's interleaved groups of those strided accesses once moved a thread's reads of
// `a_reg` above its writes (`host::llvm_options_for_thread_loops`).
#[path = "../../examples/shared/sgemm_kernel.rs"]
#[allow(dead_code)]
mod sgemm_kernel;

pub fn register_tiled_sgemm(h: &Harness) {
    for (m, n, k) in [(300usize, 257usize, 131usize), (128, 128, 16), (1, 5, 3)] {
        let a: Vec<f32> = h.vec(m * k, |h| h.f64_in(-1.0, 1.0) as f32);
        let b: Vec<f32> = h.vec(k * n, |h| h.f64_in(-1.0, 1.0) as f32);
        let mut c = h.zeros::<f32>(m * n);
        h.run(
            &sgemm_kernel::sgemm,
            LaunchConfig::new((n.div_ceil(sgemm_kernel::BN) as u32, m.div_ceil(sgemm_kernel::BM) as u32), sgemm_kernel::THREADS as u32),
            (&h.arr(&a), &h.arr(&b), &mut c, m, n, k),
        )
        .unwrap();
        let c = c.to_vec().unwrap();
        for r in 0..m {
            for col in 0..n {
                let want: f64 = (0..k).map(|j| a[r * k + j] as f64 * b[j * n + col] as f64).sum();
                assert!(
                    (c[r * n + col] as f64 - want).abs() <= k as f64 * 2f64.powi(-20),
                    "C[{r}][{col}] = {} against {want} ({m}x{k} · {k}x{n})",
                    c[r * n + col]
                );
            }
        }
    }
}
