//! Constants from outside a kernel's body: module `const` items (also from other modules,
//! through `use` or a path), associated constants of user types, and const generic parameters
//! (`fn tile<const B: usize>`, launched as `tile::<128>`), wherever a literal may be, array sizes
//! included.

use super::*;

/// The tile width of the kernels below.
const TILE: usize = 32;
const SCALE: f32 = 0.5;
const OFFSET: i32 = -7;
const ENABLED: bool = true;

mod config {
    pub const ROWS: usize = 3;
    pub const HALF: gpujit::prelude::f16 = gpujit::prelude::f16::from_f32_const(1.5);
}
use config::ROWS;

struct Blocking;
impl Blocking {
    const DEPTH: u32 = 5;
}

/// Reverses each tile of `TILE` elements through a shared array sized by the constant, scaled
/// by `SCALE`; the tail tile (fewer than `TILE`) is left as is.
#[gpu_kernel]
fn tile_reverse(x: &[f32], out: &mut [f32]) {
    let mut t = shared_array::<f32, TILE>();
    let mut wide = shared_array_2d::<i32, ROWS, { TILE + 1 }>();
    let mut mine = local_array::<u32, { config::ROWS * 2 }>();
    let tid = thread_idx_x();
    let i = block_idx_x() * TILE + tid;
    let full = (block_idx_x() + 1) * TILE <= x.len();
    if full {
        t[tid] = x[i];
    }
    wide[[ROWS - 1, TILE]] = OFFSET;
    mine[ROWS * 2 - 1] = Blocking::DEPTH;
    sync_threads();
    if full && ENABLED {
        out[i] = t[TILE - 1 - tid] * SCALE + (wide[[2, 32]] + mine[5] as i32) as f32 + config::HALF.to_f32();
    } else if i < x.len() {
        out[i] = x[i];
    }
}

pub fn module_constants(h: &Harness) {
    for n in SIZES {
        let x: Vec<f32> = h.vec(n, |h| h.f64_in(-10.0, 10.0) as f32);
        let mut out = h.zeros::<f32>(n);
        h.run(&tile_reverse, LaunchConfig::new(n.div_ceil(TILE).max(1) as u32, TILE as u32), (&h.arr(&x), &mut out)).unwrap();
        let want: Vec<f32> = (0..n)
            .map(|i| {
                let base = i / TILE * TILE;
                if base + TILE <= n {
                    x[base + TILE - 1 - (i - base)] * SCALE + (OFFSET + 5) as f32 + 1.5
                } else {
                    x[i]
                }
            })
            .collect();
        assert_eq!(out.to_vec().unwrap(), want, "n = {n}");
    }
    // The sizes are the constants' values.
    let ir = tile_reverse.ir((&h.arr(&[0f32; 4]), &mut h.zeros::<f32>(4))).unwrap().to_string();
    assert!(ir.contains("t: [f32; [32]]") && ir.contains("wide: [i32; [3, 33]]") && ir.contains("mine: [u32; 6]"), "{ir}");
}

/// A block-wide sum over tiles of `B` elements, in a shared array of `B`; each tile's sum is
/// scaled by `K` (a second const generic of another type).
#[gpu_kernel]
fn tile_sum<const B: usize, const K: i64>(x: &[i64], out: &mut [i64]) {
    let mut s = shared_array::<i64, B>();
    let mut scratch = local_array::<i64, { B / 32 + 1 }>();
    let tid = thread_idx_x();
    let i = block_idx_x() * B + tid;
    s[tid] = if i < x.len() { x[i] } else { 0 };
    scratch[B / 32] = K;
    sync_threads();
    let mut stride = B / 2;
    while stride > 0 {
        if tid < stride {
            s[tid] += s[tid + stride];
        }
        sync_threads();
        stride /= 2;
    }
    if tid == 0 {
        out[block_idx_x()] = s[0] * scratch[B / 32];
    }
}

fn check_tile_sum<const B: usize, const K: i64>(h: &Harness, k: &Kernel) {
    for n in SIZES {
        let x: Vec<i64> = h.vec(n, |h| (h.next_u64() % 2001) as i64 - 1000);
        let blocks = n.div_ceil(B).max(1);
        let mut out = h.zeros::<i64>(blocks);
        h.run(k, LaunchConfig::new(blocks as u32, B as u32), (&h.arr(&x), &mut out)).unwrap();
        let want: Vec<i64> = (0..blocks).map(|b| x.iter().skip(b * B).take(B).sum::<i64>() * K).collect();
        assert_eq!(out.to_vec().unwrap(), want, "B = {B}, K = {K}, n = {n}");
    }
}

pub fn const_generic_kernels(h: &Harness) {
    check_tile_sum::<64, 1>(h, &tile_sum::<64, 1>);
    check_tile_sum::<128, -3>(h, &tile_sum::<128, -3>);
    check_tile_sum::<256, 2>(h, &tile_sum::<256, 2>);
    // One `Kernel` per instance, found again on every use; each instance its own code.
    assert!(std::ptr::eq(&*tile_sum::<64, 1>, &*tile_sum::<64, 1>));
    assert!(!std::ptr::eq(&*tile_sum::<64, 1>, &*tile_sum::<64, 2>));
    // Named for its values.
    assert_eq!(tile_sum::<128, -3>.name(), "tile_sum_128_m3");
    let x = h.arr(&[1i64; 100]);
    let mut out = h.zeros::<i64>(1);
    let ir = |k: &Kernel, out: &mut DeviceArray<i64>| k.ir((&x, out)).unwrap().to_string();
    let (a, b) = (ir(&tile_sum::<64, 1>, &mut out), ir(&tile_sum::<128, 1>, &mut out));
    assert!(a.contains("s: [i64; [64]]") && b.contains("s: [i64; [128]]"), "{a}\n{b}");
    // Through `launch!`, with a turbofish.
    if !h.is_gpu() {
        launch!(tile_sum::<128, 1>[1, 128](&x, &mut out)).unwrap();
        assert_eq!(out.to_vec().unwrap(), vec![100]);
    }
}

/// `x` times `K`, plus the sum of `K` steps of `S`: a const generic device function.
#[gpu_device]
fn scale_steps<const K: i32, const S: u32>(x: i32) -> i32 {
    let mut acc = x * K;
    for _ in 0..K {
        acc += S as i32;
    }
    acc
}

/// Calls two instances of `scale_steps`, one with the kernel's own const generic.
#[gpu_kernel]
fn const_generic_calls<const M: i32>(x: &[i32], out: &mut [i32]) {
    let i = grid(1);
    if i < x.len() {
        out[i] = scale_steps::<3, 2>(x[i]) + scale_steps::<M, 1>(x[i]);
    }
}

pub fn const_generic_device_functions(h: &Harness) {
    for n in SIZES {
        let x: Vec<i32> = h.vec(n, |h| (h.next_u64() % 1000) as i32 - 500);
        let mut out = h.zeros::<i32>(n);
        h.run(&const_generic_calls::<5>, LaunchConfig::for_elements(n, 128), (&h.arr(&x), &mut out)).unwrap();
        let want: Vec<i32> = x.iter().map(|v| scale_steps::<3, 2>(*v) + scale_steps::<5, 1>(*v)).collect();
        assert_eq!(out.to_vec().unwrap(), want, "n = {n}");
        h.run(&const_generic_calls::<3>, LaunchConfig::for_elements(n, 128), (&h.arr(&x), &mut out)).unwrap();
        let want: Vec<i32> = x.iter().map(|v| 2 * scale_steps::<3, 2>(*v) - 3).collect();
        assert_eq!(out.to_vec().unwrap(), want, "n = {n}");
    }
    // Two instances, two functions in the IR, each with its values.
    let x = h.arr(&[1i32; 4]);
    let ir = const_generic_calls::<7>.ir((&x, &mut h.zeros::<i32>(4))).unwrap().to_string();
    assert!(ir.contains("scale_steps_3_2") && ir.contains("scale_steps_7_1"), "{ir}");
}
