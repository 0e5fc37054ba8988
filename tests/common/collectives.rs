//! Warp and block collectives.

use super::*;

// ---------------------------------------------------------------------------------------------
// Warp and block collectives.

#[gpu_kernel]
fn collectives(x: &[i32], out: &mut [i64], fx: &mut [f64], bx: &mut [bool]) {
    let i = grid(1);
    let lane = lane_id();
    let full = 0xffffffffu32;
    let mut v = 0;
    if i < x.len() {
        v = x[i];
    }
    let idx = shfl_sync(full, v, (lane + 3) % 32);
    let up = shfl_up_sync(full, v, 1);
    let down = shfl_down_sync(full, v, 2);
    let xor = shfl_xor_sync(full, v, 5);
    let ballot = ballot_sync(full, v > 0);
    let any = any_sync(full, v > 100);
    let all = all_sync(full, v > -50);
    let matched = match_any_sync(full, v % 4);
    let active = active_mask();
    let count = sync_threads_count(v > 0);
    let and = sync_threads_and(v > -90);
    let or = sync_threads_or(v > 95);
    let f = shfl_xor_sync(full, v as f64 * 0.5, 1);
    let b = shfl_down_sync(full, v > 0, 1);
    let base = 12 * i;
    out[base] = idx as i64;
    out[base + 1] = up as i64;
    out[base + 2] = down as i64;
    out[base + 3] = xor as i64;
    out[base + 4] = ballot as i64;
    out[base + 5] = any as i64;
    out[base + 6] = all as i64;
    out[base + 7] = matched as i64;
    out[base + 8] = active as i64;
    out[base + 9] = count as i64;
    out[base + 10] = and as i64;
    out[base + 11] = or as i64;
    fx[i] = f;
    bx[i] = b;
}

pub fn warp_collectives(h: &Harness) {
    let block = 96usize; // three full warps
    for n in [1usize, 100, 1000] {
        let blocks = n.div_ceil(block);
        let total = blocks * block;
        let x: Vec<i32> = h.vec(n, |h| (h.next_u64() % 201) as i32 - 100);
        let (mut out, mut fx, mut bx) = (h.zeros::<i64>(12 * total), h.zeros::<f64>(total), h.zeros::<bool>(total));
        h.run(&collectives, (blocks, block), (&h.arr(&x), &mut out, &mut fx, &mut bx)).unwrap();
        let (out, fx, bx) = (out.to_vec().unwrap(), fx.to_vec().unwrap(), bx.to_vec().unwrap());
        let v = |i: usize| if i < n { x[i] } else { 0 };
        for i in 0..total {
            let (w, lane) = (i / 32 * 32, i % 32);
            let at = |l: usize| v(w + l);
            let lanes = |f: &dyn Fn(usize) -> bool| (0..32).filter(|l| f(*l)).fold(0u32, |m, l| m | 1 << l);
            let b0 = i / block * block;
            let block_vals: Vec<i32> = (b0..b0 + block).map(v).collect();
            let want: [i64; 12] = [
                at((lane + 3) % 32) as i64,
                if lane >= 1 { at(lane - 1) } else { at(lane) } as i64,
                if lane + 2 < 32 { at(lane + 2) } else { at(lane) } as i64,
                at(lane ^ 5) as i64,
                lanes(&|l| at(l) > 0) as i64,
                (0..32).any(|l| at(l) > 100) as i64,
                (0..32).all(|l| at(l) > -50) as i64,
                lanes(&|l| at(l) % 4 == at(lane) % 4) as i64,
                0xffffffffu32 as i64,
                block_vals.iter().filter(|v| **v > 0).count() as i64,
                block_vals.iter().all(|v| *v > -90) as i64,
                block_vals.iter().any(|v| *v > 95) as i64,
            ];
            assert_eq!(&out[12 * i..12 * i + 12], &want, "thread {i} (n = {n})");
            assert_eq!(fx[i], at(lane ^ 1) as f64 * 0.5, "f64 shuffle, thread {i}");
            assert_eq!(bx[i], if lane + 1 < 32 { at(lane + 1) } else { at(lane) } > 0, "bool shuffle, thread {i}");
        }
    }
}

/// Block sum with warp shuffles: a butterfly in each warp, then warp 0 reduces the warps'
/// partial sums from shared memory, and one atomic a block adds to the total.
#[gpu_kernel]
fn warp_block_sum<T: Number>(x: &[T], total: &mut [T]) {
    let mut partial = shared_array::<T, 32>();
    let i = grid(1);
    let lane = lane_id();
    let warp = thread_idx_x() / 32;
    let zero = total[0] - total[0];
    let mut v = zero;
    if i < x.len() {
        v = x[i];
    }
    let mut offset = 16;
    while offset > 0 {
        v += shfl_xor_sync(0xffffffff, v, offset);
        offset /= 2;
    }
    if lane == 0 {
        partial[warp] = v;
    }
    sync_threads();
    if warp == 0 {
        let warps = block_dim_x() / 32;
        let mut s = zero;
        if lane < warps {
            s = partial[lane];
        }
        let mut offset = 16;
        while offset > 0 {
            s += shfl_down_sync(0xffffffff, s, offset);
            offset /= 2;
        }
        if lane == 0 {
            atomic_add(total, 0, s);
        }
    }
}

pub fn warp_shuffle_reduction(h: &Harness) {
    for n in SIZES {
        let x: Vec<i64> = h.vec(n, |h| (h.next_u64() % 2_000_001) as i64 - 1_000_000);
        let mut total = h.zeros::<i64>(1);
        h.run(&warp_block_sum, (n.div_ceil(256).max(1), 256), (&h.arr(&x), &mut total)).unwrap();
        assert_eq!(total.to_vec().unwrap(), vec![x.iter().sum::<i64>()], "i64, n = {n}");
        let xf: Vec<f32> = h.vec(n, |h| h.f64_in(-1.0, 1.0) as f32);
        let mut total = h.zeros::<f32>(1);
        h.run(&warp_block_sum, (n.div_ceil(128).max(1), 128), (&h.arr(&xf), &mut total)).unwrap();
        let want: f64 = xf.iter().map(|v| *v as f64).sum();
        let got = total.to_vec().unwrap()[0] as f64;
        assert!((got - want).abs() < 1e-3 * (n as f64).sqrt().max(1.0), "f32 sum {got} vs {want}, n = {n}");
    }
}

/// Lane shifts up and down by a delta the same for every thread (`d`) and by one that differs
/// by thread (up to 36, past the warp), each warp's members those of its own warp.
#[gpu_kernel]
fn lane_shifts<T: Number>(x: &[T], d: usize, out: &mut [T]) {
    let i = grid(1);
    let lane = lane_id();
    let mut v = x[0];
    if i < x.len() {
        v = x[i];
    }
    let e = (lane * 7 + d) % 37;
    let members = active_mask();
    out[4 * i] = shfl_up_sync(members, v, d);
    out[4 * i + 1] = shfl_down_sync(members, v, d);
    out[4 * i + 2] = shfl_up_sync(members, v, e);
    out[4 * i + 3] = shfl_down_sync(members, v, e);
}

/// `lane_shifts` on 32- and 64-bit values in blocks whose last warp is partial: a thread takes
/// its source's value where the source lane is in its warp (a thread of the block), else keeps
/// its own. (A source lane past a partial warp's end is not a member: the result there is
/// undefined on a GPU, and not checked.)
pub fn lane_shifts_of<T: Element + Copy + PartialEq + std::fmt::Debug>(h: &Harness, of: fn(i32) -> T) {
    for (n, block) in [(1usize, 40usize), (37, 40), (1000, 40), (1000, 96), (4099, 256)] {
        let blocks = n.div_ceil(block);
        let total = blocks * block;
        let x: Vec<T> = h.vec(n, |h| of((h.next_u64() % 2001) as i32 - 1000));
        let xs = h.arr(&x);
        for d in [0usize, 1, 5, 16, 31, 32, 40] {
            let mut out = h.zeros::<T>(4 * total);
            h.run(&lane_shifts, (blocks, block), (&xs, d, &mut out)).unwrap();
            let out = out.to_vec().unwrap();
            let v = |i: usize| if i < n { x[i] } else { x[0] };
            for i in 0..total {
                let (lane, first) = (i % block % 32, i / block * block);
                let end = first + block;
                let e = (lane * 7 + d) % 37;
                // Some(source) where defined: the source thread's value, or the thread's own.
                let up = |k: usize| Some(if k <= lane { v(i - k) } else { v(i) });
                let down = |k: usize| match (lane + k < 32, i + k < end) {
                    (false, _) => Some(v(i)),
                    (true, true) => Some(v(i + k)),
                    (true, false) => None,
                };
                for (slot, want) in [up(d), down(d), up(e), down(e)].into_iter().enumerate() {
                    if let Some(want) = want {
                        assert_eq!(out[4 * i + slot], want, "thread {i}, shift {slot}, d = {d}, n = {n}, block {block}");
                    }
                }
            }
        }
    }
}

pub fn lane_shifts_32_and_64_bit(h: &Harness) {
    lane_shifts_of::<i32>(h, |v| v);
    lane_shifts_of::<f32>(h, |v| v as f32 * 0.5);
    lane_shifts_of::<i64>(h, |v| v as i64 * 3_000_000_000);
    lane_shifts_of::<f64>(h, |v| v as f64 * 0.25);
}

/// Every thread's atomics on one element of each array (its index the same for the block's
/// threads), after a barrier: on the CPU backend the block makes each one atomic, except those
/// on `mixed` (an add and a min, which do not commute) and `seen` (also read in the stretch).
#[gpu_kernel]
#[allow(clippy::too_many_arguments)]
fn block_atomics(
    x: &[i64],
    sums: &mut [i64],
    mins: &mut [i64],
    maxs: &mut [u32],
    bits: &mut [u32],
    f64s: &mut [f64],
    f32s: &mut [f32],
    mixed: &mut [i64],
    seen: &mut [i64],
) {
    let mut positive = shared_array::<i64, 1>();
    if thread_idx_x() == 0 {
        positive[0] = 0;
    }
    sync_threads();
    let i = grid(1);
    let mut v = 0i64;
    if i < x.len() {
        v = x[i];
    }
    let slot = block_idx_x() % 3;
    atomic_add(sums, slot, v);
    atomic_sub(sums, 3 + slot, v);
    atomic_min(mins, 0, v);
    atomic_min(mins, 1, -v);
    atomic_max(maxs, 0, v as u32);
    atomic_and(bits, 0, v as u32 | 0xffff_0000);
    atomic_add(f64s, 0, v as f64 * 0.5);
    atomic_sub(f32s, slot, v as f32 * 0.25);
    atomic_add(mixed, 0, v);
    atomic_min(mixed, 1, v);
    if v > 0 {
        atomic_add(&mut positive, 0, 1i64);
    }
    sync_threads();
    if thread_idx_x() == 0 {
        atomic_add(seen, 0, positive[0]);
    }
    atomic_add(seen, 1, 1i64);
    if seen[2] != 0 {
        atomic_add(seen, 3, 1i64);
    }
    // A stretch of its own for each of or and xor: a barrier between.
    sync_threads();
    atomic_or(bits, 1, 1u32 << (v & 31) as u32);
    sync_threads();
    atomic_xor(bits, 2, v as u32);
}

/// One atomic a thread on an element its parameter names (the same for all), after a barrier;
/// bounds-checked on a GPU too.
#[gpu_kernel(boundscheck)]
fn block_atomic_at(x: &[i64], out: &mut [i64], at: usize) {
    sync_threads();
    let i = grid(1);
    let mut v = 0i64;
    if i < x.len() {
        v = x[i];
    }
    atomic_add(out, at, v);
}

pub fn block_atomics_on_one_element(h: &Harness) {
    for (n, block) in [(0usize, 64usize), (1, 64), (1000, 96), (4099, 256)] {
        let blocks = n.div_ceil(block).max(1);
        let x: Vec<i64> = h.vec(n, |h| (h.next_u64() % 2001) as i64 - 1000);
        let v = |i: usize| if i < n { x[i] } else { 0 };
        let all = 0..blocks * block;
        let (mut sums, mut mins, mut maxs) = (h.zeros::<i64>(6), h.arr(&[i64::MAX, i64::MAX]), h.zeros::<u32>(1));
        let (mut bits, mut f64s, mut f32s) = (h.arr(&[u32::MAX, 0, 0]), h.zeros::<f64>(1), h.zeros::<f32>(3));
        let (mut mixed, mut seen) = (h.arr(&[0, i64::MAX]), h.zeros::<i64>(4));
        let args = (&h.arr(&x), &mut sums, &mut mins, &mut maxs, &mut bits, &mut f64s, &mut f32s, &mut mixed, &mut seen);
        h.run(&block_atomics, (blocks, block), args).unwrap();
        let (mut want_sums, mut want_bits, mut want_f32) = ([0i64; 6], [u32::MAX, 0, 0], [0f32; 3]);
        for i in all.clone() {
            let slot = i / block % 3;
            want_sums[slot] += v(i);
            want_sums[3 + slot] -= v(i);
            want_bits[0] &= v(i) as u32 | 0xffff_0000;
            want_bits[1] |= 1u32 << (v(i) & 31);
            want_bits[2] ^= v(i) as u32;
            want_f32[slot] -= v(i) as f32 * 0.25;
        }
        let min = all.clone().map(v).min().unwrap_or(i64::MAX);
        assert_eq!(sums.to_vec().unwrap(), want_sums, "add and sub, n = {n}");
        assert_eq!(mins.to_vec().unwrap(), vec![min, all.clone().map(|i| -v(i)).min().unwrap_or(i64::MAX)], "min, n = {n}");
        assert_eq!(maxs.to_vec().unwrap(), vec![all.clone().map(|i| v(i) as u32).max().unwrap_or(0)], "unsigned max, n = {n}");
        assert_eq!(bits.to_vec().unwrap(), want_bits, "and, or, xor, n = {n}");
        // Sums of halves and quarters of small integers: exact in any order.
        assert_eq!(f64s.to_vec().unwrap(), vec![all.clone().map(|i| v(i) as f64 * 0.5).sum::<f64>()], "f64, n = {n}");
        assert_eq!(f32s.to_vec().unwrap(), want_f32.to_vec(), "f32, n = {n}");
        assert_eq!(mixed.to_vec().unwrap(), vec![all.clone().map(v).sum::<i64>(), min], "n = {n}");
        let positive = all.clone().filter(|&i| v(i) > 0).count() as i64;
        assert_eq!(seen.to_vec().unwrap(), vec![positive, all.len() as i64, 0, 0], "n = {n}");
    }
    // A bad index: every thread's fault (one of them reported); the sum is not written.
    let n = 300;
    let x: Vec<i64> = h.vec(n, |h| (h.next_u64() % 2001) as i64 - 1000);
    let mut out = h.zeros::<i64>(2);
    h.run(&block_atomic_at, (3, 128), (&h.arr(&x), &mut out, 1usize)).unwrap();
    assert_eq!(out.to_vec().unwrap(), vec![0, x.iter().sum::<i64>()]);
    let mut out = h.zeros::<i64>(2);
    match h.run(&block_atomic_at, (3, 128), (&h.arr(&x), &mut out, 2usize)).unwrap_err() {
        Error::OutOfBounds { kernel, array, index, len, .. } => {
            assert_eq!((kernel.as_str(), array.as_str(), index, len), ("block_atomic_at", "out", 2, 2));
        }
        other => panic!("expected OutOfBounds, got {other}"),
    }
    assert_eq!(out.to_vec().unwrap(), vec![0, 0]);
}

// ---------------------------------------------------------------------------------------------
// Control flow around meeting points (on the CPU backend, lockstep execution: masks, loops run
// while any thread iterates, `continue`/`break`/`return` out of them).

/// A block-stride loop over tiles of 64 with two barriers an iteration (the tile is read
/// reversed, another thread's element), then `continue`s that differ by thread.
#[gpu_kernel]
fn staged_reverse(x: &[f32], out: &mut [f32], skip: f32) {
    let mut tile = shared_array::<f32, 64>();
    let t = thread_idx_x();
    let mut base = block_idx_x() * block_dim_x();
    while base < x.len() {
        let i = base + t;
        tile[t] = if i < x.len() { x[i] } else { 0.0 };
        sync_threads();
        let v = tile[block_dim_x() - 1 - t];
        sync_threads();
        base += grid_size(1);
        if i >= x.len() {
            continue;
        }
        if v > skip {
            out[i] = -1.0;
            continue;
        }
        out[i] = v * 2.0;
    }
}

/// A range loop stepped by the block's size, a warp reduction in a branch, a `break` in the
/// strided loop and an early `return` of the warps past the data.
#[gpu_kernel]
fn strided_warp_sum(x: &[i64], total: &mut [i64], stop: i64) {
    let t = thread_idx_x();
    let lane = lane_id();
    let mut acc = 0i64;
    for j in (t..x.len()).step_by(block_dim_x()) {
        if x[j] == stop {
            break;
        }
        acc += x[j];
    }
    // Whole warps past the data leave (their sums are 0).
    if t / 32 * 32 > x.len() {
        return;
    }
    let mut offset = 16;
    while offset > 0 {
        acc += shfl_down_sync(0xffffffff, acc, offset);
        offset /= 2;
    }
    if lane == 0 {
        atomic_add(total, 0, acc);
    }
}

/// Guards on the x index against uniform bounds in 2-D blocks, between barriers: `tx < k`,
/// `tx == k`, a bound past the block (on the CPU backend, thread loops over the admitted x).
#[gpu_kernel]
fn guarded_rows(out: &mut [u32], k: usize) {
    let tx = thread_idx_x();
    let cell = block_idx_x() * block_dim_x() * block_dim_y() + thread_idx_y() * block_dim_x() + tx;
    sync_threads();
    if tx < k {
        out[cell] += 1;
    }
    sync_threads();
    if tx == k {
        out[cell] += 10;
    }
    sync_threads();
    if tx < k + 100 {
        out[cell] += 100;
    }
}

pub fn meeting_control_flow(h: &Harness) {
    for k in [0usize, 3, 7, 8, 20] {
        let (bx, by, grid) = (8usize, 3usize, 2usize);
        let mut out = h.zeros::<u32>(grid * bx * by);
        h.run(&guarded_rows, (grid, (bx, by)), (&mut out, k)).unwrap();
        let want: Vec<u32> =
            (0..grid * bx * by).map(|c| c % bx).map(|tx| (tx < k) as u32 + 10 * (tx == k) as u32 + 100 * (tx < k + 100) as u32).collect();
        assert_eq!(out.to_vec().unwrap(), want, "guarded_rows, k = {k}");
    }
    for n in SIZES {
        let x: Vec<f32> = h.vec(n, |h| h.f64_in(-1.0, 1.0) as f32);
        let mut out = h.arr(&vec![7.0f32; n]);
        for grid in [1, 3] {
            h.run(&staged_reverse, (grid, 64), (&h.arr(&x), &mut out, 0.5f32)).unwrap();
            let want: Vec<f32> = (0..n)
                .map(|i| {
                    let (b, t) = (i / 64 * 64, i % 64);
                    let v = x.get(b + 63 - t).copied().unwrap_or(0.0);
                    if v > 0.5 {
                        -1.0
                    } else {
                        v * 2.0
                    }
                })
                .collect();
            assert_eq!(out.to_vec().unwrap(), want, "staged_reverse, n = {n}, {grid} block(s)");
        }
        let xi: Vec<i64> = h.vec(n, |h| (h.next_u64() % 2001) as i64 - 1000);
        let stop = xi.get(n / 2).copied().unwrap_or(5000);
        for block in [32, 96, 256] {
            let mut total = h.zeros::<i64>(1);
            h.run(&strided_warp_sum, (1, block), (&h.arr(&xi), &mut total, stop)).unwrap();
            // Thread t sums its elements t, t + block, ... up to the first equal to `stop`.
            let want: i64 = (0..block).map(|t| (t..n).step_by(block).map(|j| xi[j]).take_while(|v| *v != stop).sum::<i64>()).sum();
            assert_eq!(total.to_vec().unwrap(), vec![want], "strided_warp_sum, n = {n}, block {block}");
        }
    }
}

/// One lane of each warp writes, after a barrier (on the CPU backend, in lockstep a thread loop
/// that visits only that lane's threads: a warp runs across a block's rows when the x extent is
/// not a multiple of 32).
#[gpu_kernel]
fn lane_writers(k: usize, out: &mut [u32]) {
    let t = thread_idx_y() * block_dim_x() + thread_idx_x();
    let g = block_idx_x() * block_dim_x() * block_dim_y() + t;
    sync_threads();
    if lane_id() == k {
        out[g] = t as u32 + 1;
    }
}

pub fn lane_guards(h: &Harness) {
    for (block, blocks) in [((20u32, 3u32), 3u32), ((64, 1), 2), ((7, 5), 1)] {
        let per = (block.0 * block.1) as usize;
        for k in [0usize, 5, 27, 31, 40] {
            let mut out = h.zeros::<u32>(per * blocks as usize);
            h.run(&lane_writers, LaunchConfig::new(blocks, block), (k, &mut out)).unwrap();
            let want: Vec<u32> = (0..per * blocks as usize).map(|g| if (g % per) % 32 == k { (g % per) as u32 + 1 } else { 0 }).collect();
            assert_eq!(out.to_vec().unwrap(), want, "block {block:?}, lane {k}");
        }
    }
}
