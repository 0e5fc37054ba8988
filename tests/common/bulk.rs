//! Operations on several elements at once: vector loads and stores (with cache operators),
//! asynchronous copies to shared memory, and the warp's matrix operations (`ldmatrix`,
//! `mma_sync`), on both backends against plain Rust. The fragment layouts are written out here
//! from the PTX ISA, independently of the compiler's table.

use super::{Harness, SIZES};
use gpujit::codegen::nvptx::NvptxTarget;
use gpujit::prelude::*;
use half::bf16;

/// `y[i] = 2 x[i] + 1`, four elements at a time through per-thread arrays, the tail one by one.
#[gpu_kernel]
fn axpb4(x: &[f32], y: &mut [f32]) {
    let q = grid(1) * 4;
    if q + 4 <= x.len() {
        let v = x.load::<4>(q);
        let mut w = local_array::<f32, 4>();
        for j in 0..4 {
            w[j] = 2.0 * v[j] + 1.0;
        }
        y.store::<4>(q, &w);
    } else {
        for i in q..x.len() {
            y[i] = 2.0 * x[i] + 1.0;
        }
    }
}

/// The cache-operator forms, on other widths and types: bf16 eight at a time, f64 two, u16 two.
#[gpu_kernel]
fn hinted_copies(a: &[bf16], b: &mut [bf16], d: &[f64], e: &mut [f64], u: &[u16], w: &mut [u16]) {
    let i = grid(1);
    if i * 8 + 8 <= a.len() {
        let v = a.load_cg::<8>(i * 8);
        b.store_cs::<8>(i * 8, &v);
    }
    if i * 2 + 2 <= d.len() {
        let v = d.load_cs::<2>(i * 2);
        e.store_cg::<2>(i * 2, &v);
    }
    if i * 2 + 2 <= u.len() {
        let mut v = u.load::<2>(i * 2);
        v[1] += 1;
        w.store_cs::<2>(i * 2, &v);
    }
}

/// A 2-D array: four columns at a time along each row (rows of any length: the run stays in
/// its row), then through a shared array.
#[gpu_kernel]
fn rows4(x: &Array<f32, 2>, out: &mut Array<f32, 2>) {
    let mut tile = shared_array::<f32, 256>();
    let (r, c4) = (block_idx_x(), thread_idx_x() * 4);
    let cols = x.shape(1);
    if r < x.shape(0) && c4 + 4 <= cols && c4 + 4 <= 256 {
        let v = x.load::<4>([r, c4]);
        tile.store::<4>(c4, &v);
        let back = tile.load::<4>(c4);
        out.store::<4>([r, c4], &back);
    }
}

pub fn vector_access(h: &Harness) {
    for n in SIZES {
        let x: Vec<f32> = h.vec(n, |h| h.f64_in(-8.0, 8.0) as f32);
        let mut y = h.zeros::<f32>(n);
        h.run(&axpb4, (n.div_ceil(4).div_ceil(64).max(1), 64), (&h.arr(&x), &mut y)).unwrap();
        let want: Vec<f32> = x.iter().map(|v| 2.0 * v + 1.0).collect();
        assert_eq!(y.to_vec().unwrap(), want, "axpb4, n={n}");

        let a: Vec<bf16> = h.vec(n, |h| bf16::from_f64(h.f64_in(-4.0, 4.0)));
        let d: Vec<f64> = h.vec(n, |h| h.f64_in(-1e6, 1e6));
        let u: Vec<u16> = h.vec(n, |h| h.next_u64() as u16 & 0x7fff);
        let (mut b, mut e, mut w) = (h.zeros::<bf16>(n), h.zeros::<f64>(n), h.zeros::<u16>(n));
        h.run(&hinted_copies, (n.div_ceil(128).max(1), 128), (&h.arr(&a), &mut b, &h.arr(&d), &mut e, &h.arr(&u), &mut w)).unwrap();
        let cut = |len: usize, k: usize| len / k * k;
        let mut want_b = vec![bf16::ZERO; n];
        want_b[..cut(n, 8)].copy_from_slice(&a[..cut(n, 8)]);
        assert_eq!(b.to_vec().unwrap(), want_b, "bf16 x8, n={n}");
        let mut want_e = vec![0.0; n];
        want_e[..cut(n, 2)].copy_from_slice(&d[..cut(n, 2)]);
        assert_eq!(e.to_vec().unwrap(), want_e, "f64 x2, n={n}");
        let mut want_w = vec![0u16; n];
        for i in 0..cut(n, 2) {
            want_w[i] = u[i] + (i % 2) as u16;
        }
        assert_eq!(w.to_vec().unwrap(), want_w, "u16 x2, n={n}");
    }
    for (rows, cols) in [(1usize, 4usize), (3, 12), (5, 200), (4, 300), (1, 9)] {
        let x: Vec<f32> = h.vec(rows * cols, |h| h.f64_in(-1.0, 1.0) as f32);
        let dx = DeviceArray::from_shape(&h.dev, &[rows, cols], &x).unwrap();
        let mut out = DeviceArray::<f32>::zeros(&h.dev, rows * cols).unwrap().reshape(&[rows, cols]).unwrap();
        h.run(&rows4, (rows, 64), (&dx, &mut out)).unwrap();
        // Runs of 4 from column 0 on, within the row and the 256 columns of the tile.
        let copied = (cols / 4 * 4).min(256);
        let want: Vec<f32> = (0..rows * cols).map(|i| if i % cols < copied { x[i] } else { 0.0 }).collect();
        assert_eq!(out.to_vec().unwrap(), want, "rows4 {rows}x{cols}");
    }
}

/// One access at `at` (a multiple of 4 or not, in bounds or not).
#[gpu_kernel(boundscheck)]
fn load4_at(x: &[f32], at: usize, out: &mut [f32]) {
    if grid(1) == 0 {
        let v = x.load::<4>(at);
        out.store::<4>(0, &v);
    }
}

/// The PTX of vector accesses, and the checks of their offsets: an offset that is not a
/// multiple of the count, or a run past the end, is an error naming the kernel and the array,
/// and the access is skipped; arrays whose data is not 16-byte aligned take split accesses with
/// the same results.
pub fn vector_access_checks(h: &Harness) {
    let target = NvptxTarget::sm(80).unwrap();
    let (x, mut y) = (h.arr(&[1.0f32; 64]), h.zeros::<f32>(64));
    let ptx = axpb4.ptx(&target, (&x, &mut y)).unwrap().ptx;
    assert!(ptx.contains("ld.global.nc.v4.f32") && ptx.contains("st.global.v4.f32"), "{ptx}");
    let (a, mut b) = (h.arr(&[bf16::ONE; 64]), h.zeros::<bf16>(64));
    let (d, mut e) = (h.arr(&[1.0f64; 64]), h.zeros::<f64>(64));
    let (u, mut w) = (h.arr(&[1u16; 64]), h.zeros::<u16>(64));
    let ptx = hinted_copies.ptx(&target, (&a, &mut b, &d, &mut e, &u, &mut w)).unwrap().ptx;
    for op in ["ld.cg.v4.b32", "st.cs.v4.b32", "ld.cs.v4.b32", "st.cg.v4.b32", "st.cs.b32"] {
        assert!(ptx.contains(op), "{op}:\n{ptx}");
    }

    let x: Vec<f32> = h.vec(64, |h| h.f64_in(-1.0, 1.0) as f32);
    let dx = h.arr(&x);
    for at in [0usize, 4, 60] {
        let mut out = h.zeros::<f32>(4);
        h.run(&load4_at, (1, 32), (&dx, at, &mut out)).unwrap();
        assert_eq!(out.to_vec().unwrap(), x[at..at + 4].to_vec());
    }
    let mut out = h.arr(&[7.0f32; 4]);
    let e = h.run(&load4_at, (1, 32), (&dx, 6usize, &mut out)).expect_err("offset 6 is not a multiple of 4");
    match &e {
        gpujit::Error::Misaligned { kernel, array, offset, count, .. } => {
            assert_eq!((kernel.as_str(), array.as_str(), *offset, *count), ("load4_at", "x", 6, 4), "{e}")
        }
        other => panic!("expected Misaligned, got {other}"),
    }
    assert!(e.to_string().contains("tests/common/bulk.rs"), "{e}");
    assert_eq!(out.to_vec().unwrap(), vec![0.0; 4], "the misaligned load was skipped: it read zeros");
    let e = h.run(&load4_at, (1, 32), (&dx, 64usize, &mut out)).expect_err("past the end");
    assert!(matches!(&e, gpujit::Error::OutOfBounds { array, .. } if array == "x"), "{e}");
    let e = h.run(&load4_at, (1, 32), (&dx, 62usize, &mut out)).expect_err("the run crosses the end");
    assert!(matches!(&e, gpujit::Error::OutOfBounds { array, index: 65, .. } if array == "x"), "{e}");

    // Views 1 to 3 elements in: not 16-byte aligned, so split (no v4), same results.
    let big: Vec<f32> = h.vec(1031, |h| h.f64_in(-8.0, 8.0) as f32);
    let dbig = h.arr(&big);
    for skip in 1..4 {
        let v = dbig.view().slice(0, skip..skip + 1024, 1).unwrap();
        let mut y = h.zeros::<f32>(1024);
        let ptx = axpb4.ptx(&target, (&v, &mut y)).unwrap().ptx;
        assert!(!ptx.contains("ld.global.nc.v4.f32"), "skip {skip}: {ptx}");
        h.run(&axpb4, (4, 64), (&v, &mut y)).unwrap();
        let want: Vec<f32> = big[skip..skip + 1024].iter().map(|v| 2.0 * v + 1.0).collect();
        assert_eq!(y.to_vec().unwrap(), want, "skip {skip}");
    }
}

/// Each block stages `x` in shared memory through asynchronous copies, two tiles in flight
/// (wait for all but the newest group), and writes `out[i] = 3 x[i]`; a tail past the last
/// whole run of 4 is copied with a plain load.
#[gpu_kernel]
fn staged_triple(x: &[f32], out: &mut [f32]) {
    let mut tile = shared_array_2d::<f32, 2, 256>();
    let t = thread_idx_x();
    let tiles = (x.len() + 256 * grid_dim_x() - 1) / (256 * grid_dim_x());
    let mut k = 0;
    // Tile k of this block starts at (k * grid_dim_x() + block_idx_x()) * 256.
    let (first, step) = (block_idx_x() * 256, grid_dim_x() * 256);
    if t < 64 {
        let i = first + t * 4;
        if i + 4 <= x.len() {
            cp_async::<4>(&mut tile[[0, t * 4]], &x[i]);
        }
    }
    cp_async_commit();
    while k < tiles {
        if t < 64 {
            let i = first + (k + 1) * step + t * 4;
            if i + 4 <= x.len() {
                cp_async::<4>(&mut tile[[(k + 1) % 2, t * 4]], &x[i]);
            }
        }
        cp_async_commit();
        cp_async_wait(1);
        sync_threads();
        let i = first + k * step + t;
        if i < x.len() {
            let v = if i < x.len() / 4 * 4 { tile[[k % 2, t]] } else { x[i] };
            out[i] = 3.0 * v;
        }
        sync_threads();
        k += 1;
    }
    cp_async_wait(0);
}

pub fn async_copies(h: &Harness) {
    for n in SIZES.into_iter().chain([10_003]) {
        let x: Vec<f32> = h.vec(n, |h| h.f64_in(-8.0, 8.0) as f32);
        let mut out = h.zeros::<f32>(n);
        h.run(&staged_triple, (3, 256), (&h.arr(&x), &mut out)).unwrap();
        let want: Vec<f32> = x.iter().map(|v| 3.0 * v).collect();
        assert_eq!(out.to_vec().unwrap(), want, "n={n}");
    }
    let target = NvptxTarget::sm(80).unwrap();
    let (x, mut out) = (h.arr(&[1.0f32; 8]), h.zeros::<f32>(8));
    let ptx = staged_triple.ptx(&target, (&x, &mut out)).unwrap().ptx;
    for op in ["cp.async.cg.shared.global", "cp.async.commit_group", "cp.async.wait_group 1", "cp.async.wait_group 0"] {
        assert!(ptx.contains(op), "{op}:\n{ptx}");
    }
    // sm_75 has no cp.async: a typed error naming the kernel, before any code is generated.
    let e = staged_triple.ptx(&NvptxTarget::sm(75).unwrap(), (&x, &mut out)).expect_err("sm_75");
    let text = e.to_string();
    assert!(text.contains("staged_triple") && text.contains("sm_80"), "{text}");
}

/// One 16×8 tile of C a warp, `C = A·B` over k in steps of 16 (A m×k and B k×n row-major),
/// the fragments gathered from global memory by the PTX ISA's m16n8k16 layout.
#[gpu_kernel]
fn mma_k16<T: Float>(a: &[T], b: &[T], c: &mut [f32], m: usize, n: usize, k: usize) {
    let lane = thread_idx_x() % 32;
    let warp = grid(1) / 32;
    let tiles_n = n / 8;
    if tiles_n > 0 && warp < (m / 16) * tiles_n {
        let (r0, c0, g, t) = (warp / tiles_n * 16, warp % tiles_n * 8, lane / 4, lane % 4);
        let mut fa = local_array::<T, 8>();
        let mut fb = local_array::<T, 4>();
        let mut acc = local_array::<f32, 4>();
        for i in 0..4 {
            acc[i] = (r0 + c0) as f32;
        }
        let mut kk = 0;
        while kk < k {
            for i in 0..8 {
                fa[i] = a[(r0 + g + 8 * ((i / 2) % 2)) * k + kk + 2 * t + i % 2 + 8 * (i / 4)];
            }
            for i in 0..4 {
                fb[i] = b[(kk + 2 * t + i % 2 + 8 * (i / 2)) * n + c0 + g];
            }
            mma_sync(&mut acc, &fa, &fb);
            kk += 16;
        }
        for i in 0..4 {
            c[(r0 + g + 8 * (i / 2)) * n + c0 + 2 * t + i % 2] = acc[i];
        }
    }
}

/// m16n8k8 with tf32 inputs (f32 arrays).
#[gpu_kernel]
fn mma_tf32(a: &[f32], b: &[f32], c: &mut [f32], m: usize, n: usize, k: usize) {
    let lane = thread_idx_x() % 32;
    let warp = grid(1) / 32;
    let tiles_n = n / 8;
    if tiles_n > 0 && warp < (m / 16) * tiles_n {
        let (r0, c0, g, t) = (warp / tiles_n * 16, warp % tiles_n * 8, lane / 4, lane % 4);
        let mut fa = local_array::<f32, 4>();
        let mut fb = local_array::<f32, 2>();
        let mut acc = local_array::<f32, 4>();
        for i in 0..4 {
            acc[i] = 0.0;
        }
        let mut kk = 0;
        while kk < k {
            for i in 0..4 {
                fa[i] = a[(r0 + g + 8 * (i % 2)) * k + kk + t + 4 * (i / 2)];
            }
            for i in 0..2 {
                fb[i] = b[(kk + t + 4 * i) * n + c0 + g];
            }
            mma_sync(&mut acc, &fa, &fb);
            kk += 8;
        }
        for i in 0..4 {
            c[(r0 + g + 8 * (i / 2)) * n + c0 + 2 * t + i % 2] = acc[i];
        }
    }
}

/// m16n8k32 with i8 inputs and i32 accumulators (starting at `init`, which may wrap).
#[gpu_kernel]
fn mma_s8(a: &[i8], b: &[i8], c: &mut [i32], m: usize, n: usize, k: usize, init: i32) {
    let lane = thread_idx_x() % 32;
    let warp = grid(1) / 32;
    let tiles_n = n / 8;
    if tiles_n > 0 && warp < (m / 16) * tiles_n {
        let (r0, c0, g, t) = (warp / tiles_n * 16, warp % tiles_n * 8, lane / 4, lane % 4);
        let mut fa = local_array::<i8, 16>();
        let mut fb = local_array::<i8, 8>();
        let mut acc = local_array::<i32, 4>();
        for i in 0..4 {
            acc[i] = init;
        }
        let mut kk = 0;
        while kk < k {
            for i in 0..16 {
                fa[i] = a[(r0 + g + 8 * ((i / 4) % 2)) * k + kk + 4 * t + i % 4 + 16 * (i / 8)];
            }
            for i in 0..8 {
                fb[i] = b[(kk + 4 * t + i % 4 + 16 * (i / 4)) * n + c0 + g];
            }
            mma_sync(&mut acc, &fa, &fb);
            kk += 32;
        }
        for i in 0..4 {
            c[(r0 + g + 8 * (i / 2)) * n + c0 + 2 * t + i % 2] = acc[i];
        }
    }
}

/// `A·B` (+ `init` for every element) on the host, exactly (in f64 or i64).
fn host_matmul(a: &[f64], b: &[f64], m: usize, n: usize, k: usize, init: impl Fn(usize, usize) -> f64) -> Vec<f64> {
    let mut c = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            c[i * n + j] = init(i, j) + (0..k).map(|q| a[i * k + q] * b[q * n + j]).sum::<f64>();
        }
    }
    c
}

/// The warp's `mma_sync` for each shape, on both backends, against the host: small integers
/// (every product and sum exact in f32, so the summation order cannot change a bit) and, for
/// f16/bf16, random values within the documented bound.
pub fn mma_shapes(h: &Harness) {
    for (m, n, k) in [(16usize, 8usize, 32usize), (32, 24, 64), (48, 16, 96)] {
        let warps = (m / 16) * (n / 8);
        let grid = ((warps * 32).div_ceil(64), 64);
        let ai: Vec<f64> = h.vec(m * k, |h| (h.next_u64() % 9) as f64 - 4.0);
        let bi: Vec<f64> = h.vec(k * n, |h| (h.next_u64() % 9) as f64 - 4.0);
        // f16 and bf16: the accumulators start at r0 + c0 (the tile's corner).
        let corner = |i: usize, j: usize| (i / 16 * 16 + j / 8 * 8) as f64;
        let want = host_matmul(&ai, &bi, m, n, k, corner);
        let mut c = h.zeros::<f32>(m * n);
        let (a16, b16): (Vec<bf16>, Vec<bf16>) =
            (ai.iter().map(|v| bf16::from_f64(*v)).collect(), bi.iter().map(|v| bf16::from_f64(*v)).collect());
        h.run(&mma_k16, grid, (&h.arr(&a16), &h.arr(&b16), &mut c, m, n, k)).unwrap();
        assert_eq!(c.to_vec().unwrap(), want.iter().map(|v| *v as f32).collect::<Vec<_>>(), "bf16 {m}x{n}x{k}");
        let (ah, bh): (Vec<half::f16>, Vec<half::f16>) =
            (ai.iter().map(|v| half::f16::from_f64(*v)).collect(), bi.iter().map(|v| half::f16::from_f64(*v)).collect());
        h.run(&mma_k16, grid, (&h.arr(&ah), &h.arr(&bh), &mut c, m, n, k)).unwrap();
        assert_eq!(c.to_vec().unwrap(), want.iter().map(|v| *v as f32).collect::<Vec<_>>(), "f16 {m}x{n}x{k}");
        let want0 = host_matmul(&ai, &bi, m, n, k, |_, _| 0.0);
        let (af, bf): (Vec<f32>, Vec<f32>) = (ai.iter().map(|v| *v as f32).collect(), bi.iter().map(|v| *v as f32).collect());
        h.run(&mma_tf32, grid, (&h.arr(&af), &h.arr(&bf), &mut c, m, n, k)).unwrap();
        assert_eq!(c.to_vec().unwrap(), want0.iter().map(|v| *v as f32).collect::<Vec<_>>(), "tf32 {m}x{n}x{k}");

        // i8 over the whole range, with accumulators that wrap.
        let a8: Vec<i8> = h.vec(m * k, |h| h.next_u64() as i8);
        let b8: Vec<i8> = h.vec(k * n, |h| h.next_u64() as i8);
        let init = i32::MAX - 1000;
        let mut ci = h.zeros::<i32>(m * n);
        h.run(&mma_s8, grid, (&h.arr(&a8), &h.arr(&b8), &mut ci, m, n, k, init)).unwrap();
        let want8: Vec<i32> = (0..m * n)
            .map(|x| {
                let (i, j) = (x / n, x % n);
                let dot: i64 = (0..k).map(|q| a8[i * k + q] as i64 * b8[q * n + j] as i64).sum();
                (init as i64 + dot) as i32
            })
            .collect();
        assert_eq!(ci.to_vec().unwrap(), want8, "s8 {m}x{n}x{k}");

        // Random bf16 values: within K · 2^-23 · Σ|a·b| of the exact sum.
        let ar: Vec<bf16> = h.vec(m * k, |h| bf16::from_f64(h.f64_in(-2.0, 2.0)));
        let br: Vec<bf16> = h.vec(k * n, |h| bf16::from_f64(h.f64_in(-2.0, 2.0)));
        h.run(&mma_k16, grid, (&h.arr(&ar), &h.arr(&br), &mut c, m, n, k)).unwrap();
        let (arf, brf): (Vec<f64>, Vec<f64>) = (ar.iter().map(|v| v.to_f64()).collect(), br.iter().map(|v| v.to_f64()).collect());
        let exact = host_matmul(&arf, &brf, m, n, k, corner);
        let abs: Vec<f64> = host_matmul(
            &arf.iter().map(|v| v.abs()).collect::<Vec<_>>(),
            &brf.iter().map(|v| v.abs()).collect::<Vec<_>>(),
            m,
            n,
            k,
            corner,
        );
        for (x, got) in c.to_vec().unwrap().into_iter().enumerate() {
            let bound = k as f64 * f32::EPSILON as f64 * abs[x] + f32::EPSILON as f64 * exact[x].abs();
            assert!((got as f64 - exact[x]).abs() <= bound, "bf16 random {m}x{n}x{k}[{x}]: {got} vs {}", exact[x]);
        }
    }
    let target = NvptxTarget::sm(80).unwrap();
    let (a, b, mut c) = (h.arr(&[bf16::ONE; 256]), h.arr(&[bf16::ONE; 128]), h.zeros::<f32>(128));
    let ptx = mma_k16.ptx(&target, (&a, &b, &mut c, 16usize, 8usize, 16usize)).unwrap().ptx;
    assert!(ptx.contains("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32"), "{ptx}");
    assert!(!ptx.contains(".local"), "fragments live in registers:\n{ptx}");
}

/// A warp's `ldmatrix` in each form from a 16×16 tile of u16 (stride 24), each lane's fragment
/// written out: x4 (lane l gives row l % 8 of matrix l / 8), x2 and x1, plain and transposed.
#[gpu_kernel]
fn ldmatrix_forms(src: &[u16], out: &mut [u16]) {
    let mut tile = shared_array_2d::<u16, 16, 24>();
    let l = thread_idx_x();
    for j in 0..8 {
        tile[[l / 2, (l % 2) * 8 + j]] = src[(l / 2) * 16 + (l % 2) * 8 + j];
    }
    sync_threads();
    let (m, r) = (l / 8, l % 8);
    let (row, col) = ((m % 2) * 8 + r, (m / 2) * 8);
    let mut f4 = local_array::<u16, 8>();
    let mut f2 = local_array::<u16, 4>();
    let mut f1 = local_array::<u16, 2>();
    let mut t4 = local_array::<u16, 8>();
    ldmatrix_x4(&mut f4, &tile[[row, col]]);
    ldmatrix_x2(&mut f2, &tile[[row % 16, col]]);
    ldmatrix_x1(&mut f1, &tile[[row, col]]);
    ldmatrix_x4_trans(&mut t4, &tile[[row, col]]);
    for e in 0..8 {
        out[l * 22 + e] = f4[e];
        out[l * 22 + 8 + e] = t4[e];
    }
    for e in 0..4 {
        out[l * 22 + 16 + e] = f2[e];
    }
    for e in 0..2 {
        out[l * 22 + 20 + e] = f1[e];
    }
}

pub fn ldmatrix_fragments(h: &Harness) {
    let src: Vec<u16> = h.vec(256, |h| h.next_u64() as u16);
    let mut out = h.zeros::<u16>(32 * 22);
    h.run(&ldmatrix_forms, (1, 32), (&h.arr(&src), &mut out)).unwrap();
    let got = out.to_vec().unwrap();
    // Matrix j's row r is given by lane 8j + r: the tile's row (j % 2) * 8 + r from column
    // (j / 2) * 8 (x2 takes lanes 0..16, x1 lanes 0..8: the same rows).
    let at = |j: usize, r: usize, c: usize| src[((j % 2) * 8 + r) * 16 + (j / 2) * 8 + c];
    for l in 0..32 {
        for e in 0..8 {
            let (j, r, c) = (e / 2, l / 4, 2 * (l % 4) + e % 2);
            assert_eq!(got[l * 22 + e], at(j, r, c), "x4 lane {l} element {e}");
            assert_eq!(got[l * 22 + 8 + e], at(j, c, r), "x4.trans lane {l} element {e}");
            if e < 4 {
                assert_eq!(got[l * 22 + 16 + e], at(j, r, c), "x2 lane {l} element {e}");
            }
            if e < 2 {
                assert_eq!(got[l * 22 + 20 + e], at(j, r, c), "x1 lane {l} element {e}");
            }
        }
    }
    let target = NvptxTarget::sm(80).unwrap();
    let ptx = ldmatrix_forms.ptx(&target, (&h.arr(&src), &mut out)).unwrap().ptx;
    for op in
        ["ldmatrix.sync.aligned.m8n8.x4.shared.b16", "ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16", ".x2.shared.b16", ".x1.shared.b16"]
    {
        assert!(ptx.contains(op), "{op}:\n{ptx}");
    }
}

#[allow(dead_code)]
#[path = "../../examples/gemm_tensor_core.rs"]
mod gemm_example;

/// examples/gemm_tensor_core.rs's kernel on ragged and aligned sizes against the host (exact:
/// small integers), its PTX through ptxas (the harness) with no local memory: the 64
/// accumulators and the fragments stay in registers.
pub fn tensor_core_gemm(h: &Harness) {
    use gemm_example::{gemm_bf16, BK, BM, BN, SHARED_BYTES, STAGES, THREADS};
    let sizes: &[(usize, usize, usize)] = if h.is_gpu() {
        &[(256, 256, 128), (4095, 4097, 1000), (129, 1, 9), (3, 5, 0), (1000, 1000, 1000)]
    } else {
        &[(128, 256, 96), (130, 9, 40), (3, 5, 0)]
    };
    for &(m, n, k) in sizes {
        let a: Vec<bf16> = h.vec(m * k, |h| bf16::from_f32((h.next_u64() % 5) as f32 - 2.0));
        let b: Vec<bf16> = h.vec(k * n, |h| bf16::from_f32((h.next_u64() % 5) as f32 - 2.0));
        let mut c = h.zeros::<f32>(m * n);
        h.run(
            &gemm_bf16::<BM, BN, BK, STAGES>,
            ((n.div_ceil(BN), m.div_ceil(BM)), THREADS, SHARED_BYTES),
            (&h.arr(&a), &h.arr(&b), &mut c, m, n, k),
        )
        .unwrap();
        let got = c.to_vec().unwrap();
        for i in (0..m).step_by(if m > 200 { 37 } else { 1 }) {
            for j in 0..n {
                let want: f32 = (0..k).map(|q| a[i * k + q].to_f32() * b[q * n + j].to_f32()).sum();
                assert_eq!(got[i * n + j], want, "C[{i}][{j}] of {m}x{n}x{k}");
            }
        }
    }
    // The TF32 kernel: small integers are exact in tf32.
    use gemm_example::{gemm_tf32, tf32_shared_bytes};
    let tf32_sizes: &[(usize, usize, usize)] =
        if h.is_gpu() { &[(4095, 4097, 1000), (256, 256, 64)] } else { &[(128, 256, 40), (5, 9, 3)] };
    for &(m, n, k) in tf32_sizes {
        let a: Vec<f32> = h.vec(m * k, |h| (h.next_u64() % 7) as f32 - 3.0);
        let b: Vec<f32> = h.vec(k * n, |h| (h.next_u64() % 7) as f32 - 3.0);
        let mut c = h.zeros::<f32>(m * n);
        let shared = tf32_shared_bytes(128, 256, 32, 3);
        h.run(&gemm_tf32::<128, 256, 32, 3>, ((n.div_ceil(256), m.div_ceil(128)), 256, shared), (&h.arr(&a), &h.arr(&b), &mut c, m, n, k))
            .unwrap();
        let got = c.to_vec().unwrap();
        for i in (0..m).step_by(if m > 200 { 41 } else { 1 }) {
            for j in 0..n {
                let want: f32 = (0..k).map(|q| a[i * k + q] * b[q * n + j]).sum();
                assert_eq!(got[i * n + j], want, "tf32 C[{i}][{j}] of {m}x{n}x{k}");
            }
        }
    }
    let target = NvptxTarget::sm(90).unwrap();
    let (a, b, mut c) = (h.arr(&[bf16::ONE; 64]), h.arr(&[bf16::ONE; 64]), h.zeros::<f32>(64));
    let ptx = gemm_bf16::<BM, BN, BK, STAGES>.ptx(&target, (&a, &b, &mut c, 8usize, 8usize, 8usize)).unwrap().ptx;
    assert!(!ptx.contains(".local"), "the GEMM's fragments live in registers:\n{ptx}");
    for op in [
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32",
        "ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16",
        "cp.async.cg.shared.global",
    ] {
        assert!(ptx.contains(op), "{op}");
    }
}

#[gpu_kernel]
fn mma_wrong_lengths(out: &mut [f32]) {
    let mut c = local_array::<f32, 4>();
    let a = local_array::<bf16, 4>();
    let b = local_array::<bf16, 4>();
    mma_sync(&mut c, &a, &b);
    out[0] = c[0];
}

#[gpu_kernel]
fn cp_async_to_global(x: &[f32], out: &mut [f32]) {
    let i = grid(1) * 4;
    cp_async::<4>(&mut out[i], &x[i]);
}

#[gpu_kernel]
fn load_three(x: &[f32], out: &mut [f32]) {
    let v = x.load::<3>(0);
    out[0] = v[0];
}

#[gpu_kernel]
fn load_rows(x: &Array<f32, 2>, out: &mut [f32]) {
    let v = x.load::<4>([0, 0]);
    out.store::<4>(0, &v);
}

#[gpu_kernel]
fn ldmatrix_f32(out: &mut [f32]) {
    let tile = shared_array::<f32, 64>();
    let mut f = local_array::<f32, 8>();
    ldmatrix_x4(&mut f, &tile[0]);
    out[0] = f[0];
}

#[gpu_kernel]
fn ldmatrix_short_tile(out: &mut [u16]) {
    let tile = shared_array::<u16, 4>();
    let mut f = local_array::<u16, 2>();
    ldmatrix_x1(&mut f, &tile[0]);
    out[0] = f[0];
}

#[gpu_kernel]
fn store_short(out: &mut [f32]) {
    let v = local_array::<f32, 2>();
    out.store::<4>(0, &v);
}

#[gpu_kernel]
fn wait_for_a_variable(n: usize, out: &mut [usize]) {
    cp_async_wait(n);
    out[0] = n;
}

/// Bulk operations a kernel gets wrong are typed errors naming the kernel, found when it is
/// specialized (before anything runs), on both backends.
pub fn bulk_errors(h: &Harness) {
    let mut out = h.zeros::<f32>(16);
    let x = h.arr(&[1.0f32; 16]);
    let expect = |r: gpujit::Result<()>, kernel: &str, text: &str| {
        let e = r.expect_err(kernel).to_string();
        assert!(e.contains(&format!("`{kernel}`")) && e.contains(text), "{kernel}: {e}");
    };
    expect(h.run(&mma_wrong_lengths, (1, 32), (&mut out,)), "mma_wrong_lengths", "no mma shape has fragments `a`: [bf16; 4]");
    expect(h.run(&cp_async_to_global, (1, 4), (&x, &mut out)), "cp_async_to_global", "`cp_async` copies into a shared array");
    expect(h.run(&load_three, (1, 1), (&x, &mut out)), "load_three", "`load::<3>` on f32");
    let grid = DeviceArray::from_shape(&h.dev, &[4, 8], &[1.0f32; 32]).unwrap();
    let strided = grid.view().slice(1, 0..8, 2).unwrap();
    expect(h.run(&load_rows, (1, 1), (&strided, &mut out)), "load_rows", "needs `x` contiguous");
    h.run(&load_rows, (1, 1), (&grid, &mut out)).unwrap();
    expect(h.run(&ldmatrix_f32, (1, 32), (&mut out,)), "ldmatrix_f32", "16-bit elements");
    expect(h.run(&store_short, (1, 1), (&mut out,)), "store_short", "per-thread array of 4 f32");
    let mut halves = h.zeros::<u16>(1);
    expect(h.run(&ldmatrix_short_tile, (1, 32), (&mut halves,)), "ldmatrix_short_tile", "reads rows of 8 elements; `tile` has fewer");
    let mut words = h.zeros::<usize>(1);
    expect(
        h.run(&wait_for_a_variable, (1, 1), (1usize, &mut words)),
        "wait_for_a_variable",
        "`cp_async_wait` takes a constant from 0 to 7",
    );
}
