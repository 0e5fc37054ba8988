//! Hopper's operations (sm_90): `mbarrier` phases, TMA copies of tensor-map boxes into shared
//! memory with each swizzle, and `wgmma` from swizzled tiles, on both backends against plain
//! Rust. The swizzle and the accumulator layout are written out here from the PTX ISA and the
//! CUDA driver's documentation, independently of the compiler's table.

use super::Harness;
use gpujit::prelude::*;
use gpujit::{Element, Kernel, TensorMap};
use half::{bf16, f16};

/// One box of `map` per block into dynamic shared memory, which is then copied out as it lies
/// (swizzled): block (bx, by) loads the box at column `bx * box_cols`, row `by * box_rows`.
#[gpu_kernel]
fn tma_boxes<T: Number>(map: &TensorMap, out: &mut [T], box_cols: u32, box_rows: u32, bytes: u32) {
    let bar = shared_array::<u64, 1>();
    let mut tile = dynamic_shared::<T>();
    let t = thread_idx_x();
    if t == 0 {
        mbarrier_init(&bar[0], 1);
        fence_proxy_async();
    }
    sync_threads();
    if t == 0 {
        mbarrier_arrive_expect_tx(&bar[0], bytes);
        tma_load_2d(&mut tile[0], map, (block_idx_x() as u32 * box_cols) as i32, (block_idx_y() as u32 * box_rows) as i32, &bar[0]);
    }
    mbarrier_wait(&bar[0], 0);
    let n = (box_cols * box_rows) as usize;
    let block = block_idx_y() * grid_dim_x() + block_idx_x();
    let mut i = t;
    while i < n {
        out[block * n + i] = tile[i];
        i += block_dim_x();
    }
}

/// Where the byte at `offset` of a swizzled box lands (the driver's `CU_TENSOR_MAP_SWIZZLE_*`:
/// within each 1024-byte block, 16-byte chunk `c` of 128-byte row `r` goes to chunk
/// `c ^ (r % (span / 16))`).
fn swizzled(offset: usize, span: usize) -> usize {
    if span == 0 {
        return offset;
    }
    let (row, chunk) = (offset / 128, (offset / 16) % 8);
    let moved = chunk ^ (row % (span / 16));
    offset - chunk * 16 + moved * 16
}

/// The shared memory a block should hold: the box of `a` (rows x cols) at (x0, y0), zeros past
/// the edges, each element at its swizzled place.
#[allow(clippy::too_many_arguments)]
fn expected_box<T: Copy + Default>(a: &[T], cols: usize, rows: usize, x0: usize, y0: usize, bc: usize, br: usize, span: usize) -> Vec<T> {
    let size = std::mem::size_of::<T>();
    let mut out = vec![T::default(); bc * br];
    for r in 0..br {
        for c in 0..bc {
            let (gr, gc) = (y0 + r, x0 + c);
            let v = if gr < rows && gc < cols { a[gr * cols + gc] } else { T::default() };
            out[swizzled((r * bc + c) * size, span) / size] = v;
        }
    }
    out
}

pub fn tma_copies(h: &Harness) {
    // (rows, cols): ragged edges in both directions, and a single box.
    for (rows, cols) in [(37usize, 136usize), (8, 64), (130, 72)] {
        let a: Vec<u16> = h.vec(rows * cols, |h| h.next_u64() as u16);
        let arr = DeviceArray::from_shape(&h.dev, &[rows, cols], &a).unwrap();
        // (box rows, box cols, swizzle): each swizzle with rows as long as it allows, and none.
        for (br, bc, span) in [(16usize, 64usize, 128usize), (8, 32, 64), (24, 16, 32), (5, 24, 0)] {
            let map = TensorMap::tiled_2d(&arr, br as u32, bc as u32, span as u32).unwrap();
            let (gx, gy) = (cols.div_ceil(bc), rows.div_ceil(br));
            let mut out = h.zeros::<u16>(gx * gy * bc * br);
            let bytes = map.box_bytes();
            assert_eq!(bytes as usize, br * bc * 2);
            h.run(&tma_boxes, ((gx, gy), 64, bytes), (&map, &mut out, bc as u32, br as u32, bytes)).unwrap();
            let got = out.to_vec().unwrap();
            for by in 0..gy {
                for bx in 0..gx {
                    let want = expected_box(&a, cols, rows, bx * bc, by * br, bc, br, span);
                    let at = (by * gx + bx) * bc * br;
                    assert_eq!(
                        &got[at..at + bc * br],
                        &want[..],
                        "rows {rows} cols {cols} box {br}x{bc} swizzle {span} block ({bx}, {by})"
                    );
                }
            }
        }
    }
    // A map of a view: rows 3..40, columns 16..80 of a 45×136 matrix (its rows 272 bytes apart).
    let (rows, cols) = (45usize, 136usize);
    let a: Vec<u16> = h.vec(rows * cols, |h| h.next_u64() as u16);
    let arr = DeviceArray::from_shape(&h.dev, &[rows, cols], &a).unwrap();
    let view = arr.view().slice(0, 3..40, 1).unwrap().slice(1, 16..80, 1).unwrap();
    let sub: Vec<u16> = (3..40).flat_map(|r| a[r * cols + 16..r * cols + 80].to_vec()).collect();
    let map = TensorMap::tiled_2d_view(&view, 16, 64, 128).unwrap();
    let (gx, gy) = (1usize, 37usize.div_ceil(16));
    let mut out = h.zeros::<u16>(gx * gy * 1024);
    h.run(&tma_boxes, ((gx, gy), 64, 2048u32), (&map, &mut out, 64u32, 16u32, 2048u32)).unwrap();
    let got = out.to_vec().unwrap();
    for by in 0..gy {
        let want = expected_box(&sub, 64, 37, 0, by * 16, 64, 16, 128);
        assert_eq!(&got[by * 1024..(by + 1) * 1024], &want[..], "view block {by}");
    }
    let strided = arr.view().slice(1, 0..136, 2).unwrap();
    let e = TensorMap::tiled_2d_view(&strided, 8, 8, 0).expect_err("column stride 2").to_string();
    assert!(e.contains("rows of consecutive elements"), "{e}");
    // f32 boxes, 128-byte swizzle (32 columns).
    let (rows, cols) = (50usize, 100usize);
    let a: Vec<f32> = h.vec(rows * cols, |h| h.f64_in(-1e3, 1e3) as f32);
    let arr = DeviceArray::from_shape(&h.dev, &[rows, cols], &a).unwrap();
    let map = TensorMap::tiled_2d(&arr, 16, 32, 128).unwrap();
    let (gx, gy) = (cols.div_ceil(32), rows.div_ceil(16));
    let mut out = h.zeros::<f32>(gx * gy * 512);
    h.run(&tma_boxes, ((gx, gy), 128, map.box_bytes()), (&map, &mut out, 32u32, 16u32, map.box_bytes())).unwrap();
    let got = out.to_vec().unwrap();
    for by in 0..gy {
        for bx in 0..gx {
            let want = expected_box(&a, cols, rows, bx * 32, by * 16, 32, 16, 128);
            let at = (by * gx + bx) * 512;
            assert_eq!(&got[at..at + 512], &want[..], "f32 block ({bx}, {by})");
        }
    }
}

/// A two-stage pipeline with warp specialization: thread 0 streams the column of boxes
/// `block_idx_x()` of `map` through two shared buffers (a `full` barrier per stage, armed with
/// the box's bytes), warps 1 to 3 sum each box and release the buffer (an `empty` barrier per
/// stage, 96 arrivals). The barriers' phases alternate, so each wait's parity is its use count
/// modulo 2.
#[gpu_kernel]
fn pipelined_sums(map: &TensorMap, sums: &mut [u32], boxes: u32, bytes: u32, box_elems: u32) {
    let full = shared_array::<u64, 2>();
    let empty = shared_array::<u64, 2>();
    let mut tiles = dynamic_shared::<u32>();
    let t = thread_idx_x() as u32;
    if t == 0 {
        for s in 0..2 {
            mbarrier_init(&full[s], 1);
            mbarrier_init(&empty[s], 96);
        }
        fence_proxy_async();
    }
    sync_threads();
    let stage_elems = 1024 / 4 * bytes.div_ceil(1024);
    if t == 0 {
        for k in 0..boxes {
            let s = (k % 2) as usize;
            if k >= 2 {
                // The consumers released this buffer's previous box.
                mbarrier_wait(&empty[s], (k / 2 - 1) % 2);
            }
            mbarrier_arrive_expect_tx(&full[s], bytes);
            tma_load_2d(&mut tiles[s * stage_elems as usize], map, (block_idx_x() as u32 * 32) as i32, (k * 8) as i32, &full[s]);
        }
    } else if t >= 32 {
        for k in 0..boxes {
            let s = (k % 2) as usize;
            mbarrier_wait(&full[s], (k / 2) % 2);
            let mut part = 0u32;
            let mut i = t - 32;
            while i < box_elems {
                part = part.wrapping_add(tiles[s * stage_elems as usize + i as usize]);
                i += 96;
            }
            atomic_add(sums, (block_idx_x() as u32 * boxes + k) as usize, part);
            mbarrier_arrive(&empty[s]);
        }
    }
}

pub fn barrier_pipeline(h: &Harness) {
    for rows in [8usize, 61, 200] {
        let cols = 64usize;
        let a: Vec<u32> = h.vec(rows * cols, |h| (h.next_u64() % 1000) as u32);
        let arr = DeviceArray::from_shape(&h.dev, &[rows, cols], &a).unwrap();
        let map = TensorMap::tiled_2d(&arr, 8, 32, 128).unwrap();
        let boxes = rows.div_ceil(8);
        let mut sums = h.zeros::<u32>(2 * boxes);
        let bytes = map.box_bytes();
        let shared = 2 * bytes.div_ceil(1024) * 1024;
        h.run(&pipelined_sums, (2, 128, shared), (&map, &mut sums, boxes as u32, bytes, 256u32)).unwrap();
        let mut want = vec![0u32; 2 * boxes];
        for (bx, w) in want.chunks_mut(boxes).enumerate() {
            for (k, v) in w.iter_mut().enumerate() {
                for r in k * 8..(k * 8 + 8).min(rows) {
                    for c in bx * 32..bx * 32 + 32 {
                        *v += a[r * cols + c];
                    }
                }
            }
        }
        assert_eq!(sums.to_vec().unwrap(), want, "rows {rows}");
    }
}

/// One warpgroup's 64×N tile of `A · Bᵀ` (A m×k, B n×k, both row-major) from TMA boxes of
/// 128-byte rows (`bk` elements: 64 of bf16 or f16, 32 of f32 as tf32), 128-byte swizzled,
/// through `wgmma` four K steps a box; D written out from the accumulator layout. A's box at
/// byte 0 of dynamic shared memory, B's at 8192.
#[gpu_kernel]
fn wgmma_tile<T: Float, const H: usize>(ma: &TensorMap, mb: &TensorMap, d: &mut [f32], k: u32, bk: u32, like: &[T]) {
    // (`like`, empty, gives the tiles' element type.)
    let _unused = like.len();
    let bar = shared_array::<u64, 1>();
    let mut tiles = dynamic_shared::<T>();
    let mut acc = local_array::<f32, H>();
    let t = thread_idx_x();
    #[unroll]
    for i in 0..H {
        acc[i] = 0.0;
    }
    let n = 2 * H;
    let b0 = (64 * bk) as usize;
    let step = (bk / 4) as usize;
    if t == 0 {
        mbarrier_init(&bar[0], 1);
        fence_proxy_async();
    }
    sync_threads();
    let mut phase = 0u32;
    for s in 0..k.div_ceil(bk) {
        if t == 0 {
            mbarrier_arrive_expect_tx(&bar[0], ((64 + n) * 128) as u32);
            tma_load_2d(&mut tiles[0], ma, (s * bk) as i32, (block_idx_x() * 64) as i32, &bar[0]);
            tma_load_2d(&mut tiles[b0], mb, (s * bk) as i32, 0, &bar[0]);
        }
        mbarrier_wait(&bar[0], phase);
        phase ^= 1;
        wgmma_fence();
        #[unroll]
        for kk in 0..4 {
            wgmma(&mut acc, &tiles[kk * step], &tiles[b0 + kk * step]);
        }
        wgmma_commit();
        wgmma_wait(0);
        // Every thread has read this slice's tiles before the next copy overwrites them.
        sync_threads();
    }
    let (w, l) = (t / 32, t % 32);
    #[unroll]
    for i in 0..H {
        let row = block_idx_x() * 64 + 16 * w + l / 4 + 8 * ((i % 4) / 2);
        let col = 8 * (i / 4) + 2 * (l % 4) + i % 2;
        d[row * n + col] = acc[i];
    }
}

/// The same with i8 tiles (128 a row, K steps of 32) and i32 accumulators.
#[gpu_kernel]
fn wgmma_tile_s8<const H: usize>(ma: &TensorMap, mb: &TensorMap, d: &mut [i32], k: u32) {
    let bar = shared_array::<u64, 1>();
    let mut tiles = dynamic_shared::<i8>();
    let mut acc = local_array::<i32, H>();
    let t = thread_idx_x();
    #[unroll]
    for i in 0..H {
        acc[i] = 0;
    }
    let n = 2 * H;
    if t == 0 {
        mbarrier_init(&bar[0], 1);
        fence_proxy_async();
    }
    sync_threads();
    let mut phase = 0u32;
    for s in 0..k.div_ceil(128) {
        if t == 0 {
            mbarrier_arrive_expect_tx(&bar[0], ((64 + n) * 128) as u32);
            tma_load_2d(&mut tiles[0], ma, (s * 128) as i32, (block_idx_x() * 64) as i32, &bar[0]);
            tma_load_2d(&mut tiles[8192], mb, (s * 128) as i32, 0, &bar[0]);
        }
        mbarrier_wait(&bar[0], phase);
        phase ^= 1;
        wgmma_fence();
        #[unroll]
        for kk in 0..4 {
            wgmma(&mut acc, &tiles[kk * 32], &tiles[8192 + kk * 32]);
        }
        wgmma_commit();
        wgmma_wait(0);
        sync_threads();
    }
    let (w, l) = (t / 32, t % 32);
    #[unroll]
    for i in 0..H {
        let row = block_idx_x() * 64 + 16 * w + l / 4 + 8 * ((i % 4) / 2);
        let col = 8 * (i / 4) + 2 * (l % 4) + i % 2;
        d[row * n + col] = acc[i];
    }
}

#[allow(clippy::too_many_arguments)]
fn wgmma_case<T: Element + Copy>(h: &Harness, m: usize, k: usize, kernel: &Kernel, n: usize, bk: usize, from: fn(f64) -> T) {
    // Small integers: every product and sum is exact in f32 (and in tf32's 10 bits).
    let a: Vec<f64> = h.vec(m * k, |h| (h.next_u64() % 9) as f64 - 4.0);
    let b: Vec<f64> = h.vec(n * k, |h| (h.next_u64() % 9) as f64 - 4.0);
    let ta: Vec<T> = a.iter().map(|&v| from(v)).collect();
    let tb: Vec<T> = b.iter().map(|&v| from(v)).collect();
    let (da, db) = (DeviceArray::from_shape(&h.dev, &[m, k], &ta).unwrap(), DeviceArray::from_shape(&h.dev, &[n, k], &tb).unwrap());
    let (ma, mb) = (TensorMap::tiled_2d(&da, 64, bk as u32, 128).unwrap(), TensorMap::tiled_2d(&db, n as u32, bk as u32, 128).unwrap());
    let mut d = h.zeros::<f32>(m * n);
    let like = h.zeros::<T>(0);
    h.run(kernel, (m / 64, 128, (8192 + n * 128) as u32), (&ma, &mb, &mut d, k as u32, bk as u32, &like)).unwrap();
    let mut want = vec![0f32; m * n];
    for i in 0..m {
        for j in 0..n {
            want[i * n + j] = (0..k).map(|x| a[i * k + x] * b[j * k + x]).sum::<f64>() as f32;
        }
    }
    assert_eq!(d.to_vec().unwrap(), want, "wgmma {} m {m} n {n} k {k}", std::any::type_name::<T>());
}

pub fn wgmma_tiles(h: &Harness) {
    // K: one slice, a ragged one (zeros past the edge), several.
    for k in [64usize, 40, 200] {
        wgmma_case(h, 128, k, &wgmma_tile::<32>, 64, 64, bf16::from_f64);
        wgmma_case(h, 64, k, &wgmma_tile::<8>, 16, 64, f16::from_f64);
        wgmma_case(h, 64, k, &wgmma_tile::<24>, 48, 32, |v| v as f32);
    }
    wgmma_case(h, 64, 136, &wgmma_tile::<128>, 256, 64, bf16::from_f64);
    // tf32 keeps 10 mantissa bits: inputs with more are truncated to them.
    let (m, n, k) = (64usize, 8usize, 32usize);
    let a: Vec<f32> = h.vec(m * k, |h| h.f64_in(-2.0, 2.0) as f32);
    let b: Vec<f32> = h.vec(n * k, |h| h.f64_in(-2.0, 2.0) as f32);
    let (da, db) = (DeviceArray::from_shape(&h.dev, &[m, k], &a).unwrap(), DeviceArray::from_shape(&h.dev, &[n, k], &b).unwrap());
    let (ma, mb) = (TensorMap::tiled_2d(&da, 64, 32, 128).unwrap(), TensorMap::tiled_2d(&db, n as u32, 32, 128).unwrap());
    let mut d = h.zeros::<f32>(m * n);
    let like = h.zeros::<f32>(0);
    h.run(&wgmma_tile::<4>, (1, 128, (8192 + n * 128) as u32), (&ma, &mb, &mut d, k as u32, 32u32, &like)).unwrap();
    let tf32 = |v: f32| f32::from_bits(v.to_bits() & !0x1fff) as f64;
    let got = d.to_vec().unwrap();
    for i in 0..m {
        for j in 0..n {
            let (exact, abs): (f64, f64) =
                (0..k).map(|x| tf32(a[i * k + x]) * tf32(b[j * k + x])).fold((0.0, 0.0), |(s, t), p| (s + p, t + p.abs()));
            let err = (got[i * n + j] as f64 - exact).abs();
            assert!(err <= (k as f64 + 1.0) * f32::EPSILON as f64 * abs + 1e-30, "tf32 D[{i}][{j}] = {}, want {exact}", got[i * n + j]);
        }
    }
    // i8 over its whole range into i32, exactly.
    for (m, n, k) in [(64usize, 64usize, 128usize), (128, 32, 304)] {
        let a: Vec<i8> = h.vec(m * k, |h| h.next_u64() as i8);
        let b: Vec<i8> = h.vec(n * k, |h| h.next_u64() as i8);
        let (da, db) = (DeviceArray::from_shape(&h.dev, &[m, k], &a).unwrap(), DeviceArray::from_shape(&h.dev, &[n, k], &b).unwrap());
        let (ma, mb) = (TensorMap::tiled_2d(&da, 64, 128, 128).unwrap(), TensorMap::tiled_2d(&db, n as u32, 128, 128).unwrap());
        let mut d = h.zeros::<i32>(m * n);
        let kernel: &Kernel = if n == 64 { &wgmma_tile_s8::<32> } else { &wgmma_tile_s8::<16> };
        h.run(kernel, (m / 64, 128, (8192 + n * 128) as u32), (&ma, &mb, &mut d, k as u32)).unwrap();
        let mut want = vec![0i32; m * n];
        for i in 0..m {
            for j in 0..n {
                want[i * n + j] = (0..k).map(|x| a[i * k + x] as i32 * b[j * k + x] as i32).sum();
            }
        }
        assert_eq!(d.to_vec().unwrap(), want, "wgmma s8 m {m} n {n} k {k}");
    }
}

/// A barrier that is not a shared u64.
#[gpu_kernel]
fn barrier_in_global(x: &mut [u64]) {
    mbarrier_init(&x[0], 1);
}

/// TMA into an array parameter.
#[gpu_kernel]
fn tma_to_global(map: &TensorMap, x: &mut [u16]) {
    let bar = shared_array::<u64, 1>();
    tma_load_2d(&mut x[0], map, 0, 0, &bar[0]);
}

/// An accumulator of a length no wgmma shape has.
#[gpu_kernel]
fn wgmma_short(out: &mut [f32]) {
    let tile = shared_array::<bf16, 4096>();
    let mut acc = local_array::<f32, 3>();
    wgmma(&mut acc, &tile[0], &tile[0]);
    out[0] = acc[0];
}

/// Waits that can never complete: a barrier of two arrivals that gets one (mode 0), and
/// (mode 1) a wait on a barrier no thread arrives at while the other threads wait at
/// `sync_threads()` for it. (Parity 1 on a fresh barrier would not wait: phase 0's predecessor
/// counts as complete, as on the GPU.)
#[gpu_kernel]
fn never_completes(out: &mut [u32], mode: u32) {
    let bar = shared_array::<u64, 1>();
    let t = thread_idx_x();
    if t == 0 {
        mbarrier_init(&bar[0], 2);
        fence_proxy_async();
    }
    sync_threads();
    if mode == 0 {
        if t == 0 {
            mbarrier_arrive(&bar[0]);
        }
        mbarrier_wait(&bar[0], 0);
    } else {
        if t == 0 {
            mbarrier_wait(&bar[0], 1);
            mbarrier_wait(&bar[0], 0);
        }
        sync_threads();
    }
    out[block_idx_x() * block_dim_x() + t] = 1;
}

pub fn hopper_errors(h: &Harness) {
    // The CPU backend finds a block whose threads wait for one another forever (a GPU hangs).
    if !h.is_gpu() {
        let mut out = h.zeros::<u32>(128);
        for mode in [0u32, 1] {
            let e = h.run(&never_completes, (2, 64), (&mut out, mode)).expect_err("deadlock").to_string();
            assert!(e.contains("`never_completes` never finishes") && e.contains("wait forever"), "{e}");
        }
    }
    let expect = |r: gpujit::Result<()>, kernel: &str, text: &str| {
        let e = r.expect_err(kernel).to_string();
        assert!(e.contains(&format!("`{kernel}`")) && e.contains(text), "{kernel}: {e}");
    };
    let mut words = h.zeros::<u64>(4);
    expect(h.run(&barrier_in_global, (1, 1), (&mut words,)), "barrier_in_global", "takes a barrier, an element of a shared u64 array");
    let a = DeviceArray::from_shape(&h.dev, &[8, 64], &[0u16; 512]).unwrap();
    let map = TensorMap::tiled_2d(&a, 8, 64, 128).unwrap();
    let mut x = h.zeros::<u16>(512);
    expect(h.run(&tma_to_global, (1, 1), (&map, &mut x)), "tma_to_global", "`tma_load_2d` copies into a shared array");
    let mut out = h.zeros::<f32>(1);
    expect(h.run(&wgmma_short, (1, 128), (&mut out,)), "wgmma_short", "N / 2 f32 for m64nNk16");
    // Older GPUs: refused before codegen, naming what needs sm_90.
    let sm80 = gpujit::codegen::nvptx::NvptxTarget::sm(80).unwrap();
    let like = h.zeros::<bf16>(0);
    let e = wgmma_tile::<8>.ptx(&sm80, (&map, &map, &mut out, 64u32, 64u32, &like)).expect_err("sm_80").to_string();
    assert!(e.contains("needs sm_90"), "{e}");
    let e = tma_boxes.ptx(&sm80, (&map, &mut x, 64u32, 8u32, 1024u32)).expect_err("sm_80").to_string();
    assert!(e.contains("`tma_load_2d`") || e.contains("`mbarrier`"), "{e}");
    // The GPU launch pads dynamic shared memory (1 KiB, for the kernel to align it) only in
    // kernels with Hopper's operations and dynamic shared memory.
    let padded = tma_boxes.ir((&map, &mut x, 64u32, 8u32, 1024u32)).expect("specializes");
    assert_eq!(padded.dynamic_shared_pad(), 1024);
    let mut flags = h.zeros::<u32>(1);
    let static_only = never_completes.ir((&mut flags, 0u32)).expect("specializes");
    assert!(static_only.needs_arch().is_some_and(|(arch, _)| arch == 90));
    assert_eq!(static_only.dynamic_shared_pad(), 0);
    // The tensor map's rules.
    let bad = |r: gpujit::Result<TensorMap<'_>>, text: &str| {
        let e = r.expect_err(text).to_string();
        assert!(e.contains(text), "{e}");
    };
    bad(TensorMap::tiled_2d(&a, 8, 64, 48), "the swizzle is 0, 32, 64 or 128 bytes");
    bad(TensorMap::tiled_2d(&a, 8, 128, 128), "at most the swizzle, 128");
    bad(TensorMap::tiled_2d(&a, 300, 64, 0), "1 to 256 rows and columns");
    bad(TensorMap::tiled_2d(&a, 8, 12, 0), "a multiple of 16 bytes");
    let flat = h.zeros::<u16>(64);
    bad(TensorMap::tiled_2d(&flat, 8, 8, 0), "a 2-D map needs [rows, cols]");
    let odd = DeviceArray::from_shape(&h.dev, &[4, 12], &[0u16; 48]).unwrap();
    bad(TensorMap::tiled_2d(&odd, 4, 8, 0), "rows (24 bytes) at multiples of 16 bytes");
    let flags = DeviceArray::from_shape(&h.dev, &[2, 16], &[false; 32]).unwrap();
    bad(TensorMap::tiled_2d(&flags, 2, 16, 0), "integers and floats, not bool");
}
