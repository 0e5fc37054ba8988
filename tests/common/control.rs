//! Control flow, the thread model, locals and inference, `if`/`match` as values.

use super::*;

// ---------------------------------------------------------------------------------------------
// Control flow.

#[gpu_kernel]
fn control(x: &[i32], out: &mut [i64]) {
    let i = grid(1);
    if i >= x.len() {
        return;
    }
    let v = x[i];
    let mut acc: i64 = 0;
    // if / else if / else
    if v < -100 {
        acc += 1;
    } else if v < 0 {
        acc += 2;
    } else if v == 0 {
        acc += 3;
    } else {
        acc += 4;
    }
    // while with continue and break
    let mut k = 0;
    while k < 50 {
        k += 1;
        if k % 3 == 0 {
            continue;
        }
        if k as i32 > v % 40 + 20 {
            break;
        }
        acc += k as i64;
    }
    // loop with break
    let mut m = v;
    let mut steps = 0i64;
    loop {
        if m % 7 == 0 || steps > 20 {
            break;
        }
        m = m / 2 + 1;
        steps += 1;
    }
    acc = acc * 100 + steps;
    // inclusive, stepped and nested ranges; shadowing; a nested block
    for a in 1..=3 {
        for b in (a..10).step_by(a as usize + 1) {
            acc += (a * b) as i64;
        }
    }
    {
        let acc2 = acc * 3;
        acc = acc2 - acc * 2 + 1;
    }
    // an empty range runs nothing, a reversed one too
    for _ in 5..5 {
        acc += 1000000;
    }
    for _ in 7..3 {
        acc += 1000000;
    }
    out[i] = acc;
}

fn control_ref(v: i32) -> i64 {
    let mut acc: i64 = if v < -100 {
        1
    } else if v < 0 {
        2
    } else if v == 0 {
        3
    } else {
        4
    };
    let mut k = 0;
    while k < 50 {
        k += 1;
        if k % 3 == 0 {
            continue;
        }
        if k > v % 40 + 20 {
            break;
        }
        acc += k as i64;
    }
    let mut m = v;
    let mut steps = 0i64;
    loop {
        if m % 7 == 0 || steps > 20 {
            break;
        }
        m = m / 2 + 1;
        steps += 1;
    }
    acc = acc * 100 + steps;
    for a in 1..=3 {
        for b in (a..10).step_by(a as usize + 1) {
            acc += (a * b) as i64;
        }
    }
    acc + 1
}

pub fn control_flow(h: &Harness) {
    for n in SIZES {
        let x: Vec<i32> = h.vec(n, |h| match h.next_u64() % 5 {
            0 => 0,
            1 => -((h.next_u64() % 300) as i32),
            _ => (h.next_u64() % 100_000) as i32 - 50_000,
        });
        let mut out = h.zeros::<i64>(n);
        h.run(&control, (n / 32 + 2, 32), (&h.arr(&x), &mut out)).unwrap();
        assert_eq!(out.to_vec().unwrap(), x.iter().map(|v| control_ref(*v)).collect::<Vec<_>>());
    }
}

/// Range loops at the edges of their type: the counter must neither overflow nor loop forever.
#[gpu_kernel]
fn range_edges(out: &mut [i64]) {
    let mut a: i64 = 0;
    for v in 250u8..=255 {
        a += v as i64;
    }
    let mut b: i64 = 0;
    for v in (-128i8..127).step_by(50) {
        b += v as i64;
    }
    let mut c: i64 = 0;
    for v in (0u8..=255).step_by(100) {
        c += v as i64;
    }
    let mut d: i64 = 0;
    for v in (9223372036854775797i64..=9223372036854775807).step_by(4) {
        d += v - 9223372036854775797;
    }
    let mut e: i64 = 0;
    for _ in (0..10).step_by(0) {
        e += 1;
    }
    if grid(1) == 0 {
        out[0] = a;
        out[1] = b;
        out[2] = c;
        out[3] = d;
        out[4] = e;
    }
}

pub fn range_loop_edges(h: &Harness) {
    let mut out = h.zeros::<i64>(5);
    h.run(&range_edges, (1, 1), (&mut out,)).unwrap();
    let a: i64 = (250u8..=255).map(|v| v as i64).sum();
    let b: i64 = (-128i8..127).step_by(50).map(|v| v as i64).sum();
    let c: i64 = (0u8..=255).step_by(100).map(|v| v as i64).sum();
    let d: i64 = (i64::MAX - 10..=i64::MAX).step_by(4).map(|v| v - (i64::MAX - 10)).sum();
    assert_eq!(out.to_vec().unwrap(), vec![a, b, c, d, 0]);
}

// ---------------------------------------------------------------------------------------------
// The thread model: 3-D grids and blocks.

#[gpu_kernel]
fn thread_ids(out: &mut [u32]) {
    let tx = thread_idx_x();
    let ty = thread_idx_y();
    let tz = thread_idx_z();
    let bx = block_idx_x();
    let by = block_idx_y();
    let bz = block_idx_z();
    let block_id = bx + grid_dim_x() * (by + grid_dim_y() * bz);
    let threads = block_dim_x() * block_dim_y() * block_dim_z();
    let linear = block_id * threads + tx + block_dim_x() * (ty + block_dim_y() * tz);
    if linear < out.len() {
        out[linear] = (tx + 16 * ty + 256 * tz + 4096 * bx + 65536 * by + 1048576 * bz) as u32;
    }
}

pub fn thread_model_3d(h: &Harness) {
    let (grid, block) = ([3usize, 2, 2], [5usize, 3, 2]);
    let total = grid.iter().product::<usize>() * block.iter().product::<usize>();
    let mut out = h.zeros::<u32>(total);
    h.run(&thread_ids, ((grid[0], grid[1], grid[2]), (block[0], block[1], block[2])), (&mut out,)).unwrap();
    let mut want = vec![0u32; total];
    for bz in 0..grid[2] {
        for by in 0..grid[1] {
            for bx in 0..grid[0] {
                for tz in 0..block[2] {
                    for ty in 0..block[1] {
                        for tx in 0..block[0] {
                            let block_id = bx + grid[0] * (by + grid[1] * bz);
                            let linear = block_id * 30 + tx + block[0] * (ty + block[1] * tz);
                            want[linear] = (tx + 16 * ty + 256 * tz + 4096 * bx + 65536 * by + 1048576 * bz) as u32;
                        }
                    }
                }
            }
        }
    }
    assert_eq!(out.to_vec().unwrap(), want);
}

// ---------------------------------------------------------------------------------------------
// Locals: literal inference from later use, `mut` parameters, compound assignment on elements.

#[gpu_kernel]
fn dot_rows(x: &[f32], y: &[f32], width: usize, mut scale: f32, out: &mut [f32]) {
    let row = grid(1);
    if row * width >= x.len() || width == 0 {
        return;
    }
    let mut acc = 0.0; // inferred as f32 from its use below
    let mut j = 0;
    while j < width {
        acc += x[row * width + j] * y[row * width + j];
        j += 1;
    }
    scale *= 2.0;
    out[row] += acc * scale;
}

pub fn locals_and_inference(h: &Harness) {
    for rows in [0usize, 1, 7, 130] {
        let width = 1 + (h.next_u64() % 9) as usize;
        let n = rows * width;
        let x = h.vec(n, |h| h.f64_in(-1.0, 1.0) as f32);
        let y = h.vec(n, |h| h.f64_in(-1.0, 1.0) as f32);
        let init = h.vec(rows, |h| h.f64_in(-1.0, 1.0) as f32);
        let mut out = h.arr(&init);
        h.run(&dot_rows, LaunchConfig::for_elements(rows, 32), (&h.arr(&x), &h.arr(&y), width, 0.5f32, &mut out)).unwrap();
        let got = out.to_vec().unwrap();
        for r in 0..rows {
            let mut acc = 0.0f32;
            for j in 0..width {
                acc += x[r * width + j] * y[r * width + j];
            }
            let want = init[r] + acc;
            assert!((got[r] - want).abs() <= 1e-5 * want.abs().max(1.0), "row {r}: {} vs {want}", got[r]);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// `if`/`match` as values, `match` statements, reversed and labeled loops, grid(2)/grid(3).

#[gpu_kernel]
fn classify(x: &[i32], out: &mut [i64]) {
    let i = grid(1);
    if i >= x.len() {
        return;
    }
    let v = x[i];
    let sign = if v < 0 {
        -1
    } else if v == 0 {
        0
    } else {
        1
    };
    let class: i64 = match v {
        0 => 100,
        1 | 2 | 3 => 200,
        -5..=-1 => 300,
        4..10 => {
            let t = v as i64;
            400 + t
        }
        n if n % 2 == 0 => 500,
        n => 600 + (n % 7) as i64,
    };
    let mut acc = class * 10 + sign as i64;
    match v % 3 {
        0 => acc += 1,
        1 => {
            acc *= 2;
        }
        _ => {}
    }
    acc += if v > 50 { 7 } else { 3 };
    out[i] = acc;
}

fn classify_ref(v: i32) -> i64 {
    let sign = v.signum();
    let class: i64 = match v {
        0 => 100,
        1..=3 => 200,
        -5..=-1 => 300,
        4..10 => 400 + v as i64,
        n if n % 2 == 0 => 500,
        n => 600 + (n % 7) as i64,
    };
    let mut acc = class * 10 + sign as i64;
    match v % 3 {
        0 => acc += 1,
        1 => acc *= 2,
        _ => {}
    }
    acc + if v > 50 { 7 } else { 3 }
}

pub fn if_and_match(h: &Harness) {
    for n in SIZES {
        let x: Vec<i32> = h.vec(n, |h| (h.next_u64() % 200) as i32 - 100);
        let mut out = h.zeros::<i64>(n);
        h.run(&classify, LaunchConfig::for_elements(n, 64), (&h.arr(&x), &mut out)).unwrap();
        assert_eq!(out.to_vec().unwrap(), x.iter().map(|v| classify_ref(*v)).collect::<Vec<_>>());
    }
}

#[gpu_kernel]
fn loops2(n: i32, out: &mut [i64]) {
    if grid(1) != 0 {
        return;
    }
    let mut a: i64 = 0;
    for i in (0..n).rev() {
        a = a * 3 + i as i64;
    }
    let mut b: i64 = 0;
    for i in (-3..=n).rev().step_by(4) {
        b = b * 5 + i as i64;
    }
    let mut c: i64 = 0;
    for i in (250u8..=255).rev() {
        c = c * 2 + i as i64;
    }
    let mut d: i64 = 0;
    'outer: for i in 0..n {
        let mut j = 0;
        'inner: while j < n {
            j += 1;
            if (i + j) % 5 == 0 {
                continue 'outer;
            }
            if j > i {
                break 'inner;
            }
            if i * j > 40 {
                break 'outer;
            }
            d += (i * 10 + j) as i64;
        }
        d += 1000;
    }
    out[0] = a;
    out[1] = b;
    out[2] = c;
    out[3] = d;
}

fn loops2_ref(n: i32) -> Vec<i64> {
    let a = (0..n).rev().fold(0i64, |a, i| a * 3 + i as i64);
    let b = (-3..=n).rev().step_by(4).fold(0i64, |b, i| b * 5 + i as i64);
    let c = (250u8..=255).rev().fold(0i64, |c, i| c * 2 + i as i64);
    let mut d: i64 = 0;
    'outer: for i in 0..n {
        let mut j = 0;
        'inner: while j < n {
            j += 1;
            if (i + j) % 5 == 0 {
                continue 'outer;
            }
            if j > i {
                break 'inner;
            }
            if i * j > 40 {
                break 'outer;
            }
            d += (i * 10 + j) as i64;
        }
        d += 1000;
    }
    vec![a, b, c, d]
}

pub fn reversed_and_labeled_loops(h: &Harness) {
    for n in [0, 1, 7, 13, 20] {
        let mut out = h.zeros::<i64>(4);
        h.run(&loops2, (1, 32), (n, &mut out)).unwrap();
        assert_eq!(out.to_vec().unwrap(), loops2_ref(n), "n = {n}");
    }
}

#[gpu_kernel]
fn grid_tuples(out: &mut [u64], lanes: &mut [u64]) {
    let (x, y, z) = grid(3);
    let (sx, sy, _) = grid_size(3);
    let (x2, y2) = grid(2);
    let linear = x + sx * (y + sy * z);
    if linear < out.len() && x2 == x && y2 == y {
        out[linear] = (x + 1000 * y + 1000000 * z) as u64;
        lanes[linear] = (lane_id() + 100 * warp_size()) as u64;
    }
}

pub fn grid_axes(h: &Harness) {
    let (grid, block) = ([3u32, 2, 2], [8u32, 4, 2]);
    let size = [grid[0] * block[0], grid[1] * block[1], grid[2] * block[2]].map(|v| v as usize);
    let total = size[0] * size[1] * size[2];
    let (mut out, mut lanes) = (h.zeros::<u64>(total), h.zeros::<u64>(total));
    h.run(&grid_tuples, ((grid[0], grid[1], grid[2]), (block[0], block[1], block[2])), (&mut out, &mut lanes)).unwrap();
    let mut want = vec![0u64; total];
    let mut want_lanes = vec![0u64; total];
    for z in 0..size[2] {
        for y in 0..size[1] {
            for x in 0..size[0] {
                let linear = x + size[0] * (y + size[1] * z);
                want[linear] = (x + 1000 * y + 1000000 * z) as u64;
                let (tx, ty, tz) = (x % 8, y % 4, z % 2);
                want_lanes[linear] = ((tx + 8 * (ty + 4 * tz)) % 32 + 3200) as u64;
            }
        }
    }
    assert_eq!(out.to_vec().unwrap(), want);
    assert_eq!(lanes.to_vec().unwrap(), want_lanes);
}

/// A loop of run-time length unrolled by 4, with `continue`, `break`, a step and a reversed
/// range inside.
#[gpu_kernel]
fn unrolled_by_four(x: &[u32], limit: u32, out: &mut [u32]) {
    let i = grid(1);
    if i < out.len() {
        let mut acc = 0u32;
        #[unroll(4)]
        for k in (0..x.len()).step_by(1 + i % 3) {
            if x[k] % 5 == 0 {
                continue;
            }
            if acc > limit {
                break;
            }
            acc = acc.wrapping_mul(31).wrapping_add(x[k]);
        }
        #[unroll(3)]
        for k in (0..i % 7).rev() {
            acc ^= k as u32;
        }
        out[i] = acc;
    }
}

/// `#[unroll]` and `#[unroll(n)]`: the same results as the plain loops.
pub fn unrolled_loops(h: &Harness) {
    for tiles in [0usize, 1, 3, 70] {
        let a: Vec<f32> = h.vec(tiles * 64, |h| h.f64_in(-1.0, 1.0) as f32);
        let b: Vec<f32> = h.vec(64, |h| h.f64_in(-1.0, 1.0) as f32);
        let mut out = h.zeros::<f32>(tiles * 64);
        // The golden case's 8x8 register tile (`unroll_hints`), run against plain Rust.
        h.run(&super::golden::unroll_hints::unroll_hints, (tiles.div_ceil(32).max(1), 32), (&h.arr(&a), &h.arr(&b), &mut out)).unwrap();
        let mut want = vec![0.0f32; tiles * 64];
        for i in 0..tiles {
            for k in 0..8 {
                for r in 0..8 {
                    for q in 0..8 {
                        let c = &mut want[i * 64 + r * 8 + q];
                        *c = h.madd(a[i * 64 + r * 8 + k], b[k * 8 + q], *c);
                    }
                }
            }
        }
        assert_eq!(out.to_vec().unwrap(), want, "{tiles} tiles");
    }
    for n in SIZES {
        let x: Vec<u32> = h.vec(n, |h| (h.next_u64() % 100) as u32);
        let limit = (h.next_u64() % 1_000_000_000) as u32;
        let mut out = h.zeros::<u32>(n);
        h.run(&unrolled_by_four, (n.div_ceil(64).max(1), 64), (&h.arr(&x), limit, &mut out)).unwrap();
        let want: Vec<u32> = (0..n)
            .map(|i| {
                let mut acc = 0u32;
                for k in (0..n).step_by(1 + i % 3) {
                    if x[k] % 5 == 0 {
                        continue;
                    }
                    if acc > limit {
                        break;
                    }
                    acc = acc.wrapping_mul(31).wrapping_add(x[k]);
                }
                for k in (0..i % 7).rev() {
                    acc ^= k as u32;
                }
                acc
            })
            .collect();
        assert_eq!(out.to_vec().unwrap(), want, "n={n}");
    }
}
