//! Grid-stride loops and one-element-a-thread kernels, which the CPU backend runs flat
//! (contiguous chunks of the elements, `gpujit_codegen::lower::flat`), beside kernels of the
//! same shapes that it must not run so (each iteration depends on the thread's earlier ones).

use super::*;
use gpujit::codegen::lower::flat;

#[gpu_kernel(boundscheck)]
fn flat_while(x: &[f32], y: &[f32], out: &mut [f32], a: f32) {
    let mut i = grid(1);
    while i < out.len() {
        out[i] = a * x[i] + y[i];
        i += grid_size(1);
    }
}

#[gpu_kernel]
fn flat_for(x: &[i64], out: &mut [i64]) {
    let start = block_idx_x() * block_dim_x() + thread_idx_x();
    for i in (start..out.len()).step_by(block_dim_x() * grid_dim_x()) {
        let v = x[i] * 3;
        out[i] = v - 1;
    }
}

/// A 32-bit index, a uniform prelude, groups of two elements an iteration, a read at any index
/// (a gather, checked in the loop) and a pure device function.
#[gpu_kernel(boundscheck)]
fn flat_pairs(x: &[u32], idx: &[u32], out: &mut [u32], pairs: u32) {
    let step = grid_size(1) as u32;
    let half = pairs;
    let mut p = grid(1) as u32;
    while p < half {
        let base = 2 * p as usize;
        let g = x[idx[base] as usize];
        out[base] = mix(g, p);
        out[base + 1] = x[base + 1] ^ p;
        p += step;
    }
}

#[gpu_device]
fn mix(v: u32, k: u32) -> u32 {
    let mut h = v ^ k;
    for _ in 0..3 {
        h = h.wrapping_mul(0x9E37_79B1).rotate_left(5);
    }
    h
}

/// A signed index and bound (a negative bound runs nothing).
#[gpu_kernel]
fn flat_signed(out: &mut [f64], n: i32) {
    let mut i = grid(1) as i32;
    while i < n {
        out[i as usize] = (i as f64).sqrt() - 2.0 * i as f64;
        i += grid_size(1) as i32;
    }
}

#[gpu_kernel]
fn flat_guarded(x: &[f32], out: &mut [f32]) {
    let i = grid(1);
    if i < out.len() {
        let v = x[i];
        out[i] = if v > 0.0 { v.sqrt() } else { -v };
    }
}

#[gpu_kernel]
fn flat_early_return(x: &[f32], out: &mut [f32]) {
    let i = grid(1);
    if i >= out.len() {
        return;
    }
    out[i] = x[i] * 0.5 + 1.0;
}

/// No guard: every thread of the grid takes an element (past the array's end, a fault).
#[gpu_kernel(boundscheck)]
fn flat_unguarded(x: &[f32], out: &mut [f32]) {
    let i = grid(1);
    out[i] = x[i] + 1.0;
}

/// Four elements an iteration through a loop over a constant range: the writes `4 * p + k`
/// (`k < 4`) are the iteration's own, so the loop runs flat, and the reads' bounds (`x` at a
/// product of two loops' variables too) are proven once a chunk.
#[gpu_kernel(boundscheck)]
fn flat_quads(x: &[f32], out: &mut [f32], quads: usize) {
    let mut p = grid(1);
    while p < quads {
        let base = 4 * p;
        for k in 0..4 {
            let mut v = x[base + k] * 2.0;
            for j in 0..=1usize {
                v += x[base + j * k];
            }
            out[base + k] = v + k as f32;
        }
        p += grid_size(1);
    }
}

/// Five elements an iteration four apart: iteration `p` writes element `4 * p + 4`, which
/// iteration `p + 1` writes too, so the order of the iterations shows.
#[gpu_kernel]
fn overlapping_quads(out: &mut [i64], quads: usize) {
    let mut p = grid(1);
    while p < quads {
        for k in 0..5 {
            out[4 * p + k] = (p * 10 + k) as i64;
        }
        p += grid_size(1);
    }
}

/// A running sum a thread: each iteration reads what the previous one left in `acc`.
#[gpu_kernel]
fn carried_sum(x: &[i64], out: &mut [i64]) {
    let mut i = grid(1);
    let mut acc = 0i64;
    while i < out.len() {
        acc += x[i];
        out[i] = acc;
        i += grid_size(1);
    }
}

/// The same through memory: an iteration reads the element the thread's previous one wrote.
#[gpu_kernel]
fn carried_in_memory(x: &[i64], out: &mut [i64]) {
    let mut i = grid(1);
    while i < out.len() {
        let gs = grid_size(1);
        let prev = if i >= gs { out[i - gs] } else { 0 };
        out[i] = x[i] + prev;
        i += grid_size(1);
    }
}

/// One thread's prefix sum: element i + 1 from element i.
#[gpu_kernel]
fn neighbour_prefix(x: &[i64], out: &mut [i64]) {
    let mut i = grid(1);
    while i + 1 < out.len() {
        out[i + 1] = out[i] + x[i + 1];
        i += grid_size(1);
    }
}

/// `y = A x` for a row-major `A` of `y.len()` rows of `n`: row `i` at `a[i * n..]`, a multiple
/// of the index by a value known only at the launch, in a loop over a range the launch sets.
#[gpu_kernel(boundscheck)]
fn mat_vec(a: &[f32], x: &[f32], y: &mut [f32], n: usize) {
    let i = grid(1);
    if i < y.len() {
        let mut acc = 0.0f32;
        for j in 0..n {
            acc = a[i * n + j].mul_add(x[j], acc);
        }
        y[i] = acc;
    }
}

/// The sums of a matrix's rows, a grid-stride loop over them: the row from the index, the
/// column from a loop to the matrix's extent.
#[gpu_kernel]
fn row_sums_2d(m: &Array<f32, 2>, out: &mut [f32]) {
    let mut i = grid(1);
    while i < out.len() {
        let mut acc = 0.0f32;
        for j in 0..m.shape(1) {
            acc += m[[i, j]];
        }
        out[i] = acc;
        i += grid_size(1);
    }
}

/// Whether the CPU backend runs `k` on `args` flat.
fn planned<'a>(k: &Kernel, args: impl KernelArgs<'a>) -> bool {
    let mut buf = [Arg::NONE; MAX_ARGS];
    let n = args.collect(&mut buf);
    let ir = k.ir(&buf[..n]).unwrap_or_else(|e| panic!("{}: {e}", k.name()));
    flat::plan(&ir).is_some()
}

pub fn flat_grid_stride(h: &Harness) {
    for n in SIZES {
        let x: Vec<f32> = h.vec(n, |h| h.f64_in(-2.0, 2.0) as f32);
        let y: Vec<f32> = h.vec(n, |h| h.f64_in(-2.0, 2.0) as f32);
        let xi: Vec<i64> = h.vec(n, |h| (h.next_u64() % 2001) as i64 - 1000);
        // Grids smaller and larger than the elements, 1-D and 2-D blocks (run as launched).
        for (grid, block) in [(1usize, (1usize, 1usize)), (3, (64, 1)), (8, (256, 1)), (40, (128, 1)), (2, (32, 3))] {
            let what = format!("n = {n}, grid {grid}, block {block:?}");
            let (dx, dy) = (h.arr(&x), h.arr(&y));
            let mut out = h.arr(&vec![9.0f32; n]);
            h.run(&flat_while, (grid, block), (&dx, &dy, &mut out, 1.5f32)).unwrap();
            let want: Vec<f32> = x.iter().zip(&y).map(|(a, b)| h.madd(1.5, *a, *b)).collect();
            assert_eq!(out.to_vec().unwrap(), want, "flat_while, {what}");
            let mut oi = h.arr(&vec![5i64; n]);
            h.run(&flat_for, (grid, block), (&h.arr(&xi), &mut oi)).unwrap();
            assert_eq!(oi.to_vec().unwrap(), xi.iter().map(|v| v * 3 - 1).collect::<Vec<_>>(), "flat_for, {what}");
            // The running sums stay per thread: thread t's elements t, t + threads, ...
            let threads = grid * block.0 * block.1;
            let per_thread = |i: usize| (i % threads.max(1)..=i).step_by(threads).map(|j| xi[j]).sum::<i64>();
            if block.1 == 1 {
                let mut o = h.zeros::<i64>(n);
                h.run(&carried_sum, (grid, block), (&h.arr(&xi), &mut o)).unwrap();
                assert_eq!(o.to_vec().unwrap(), (0..n).map(per_thread).collect::<Vec<_>>(), "carried_sum, {what}");
                let mut o = h.zeros::<i64>(n);
                h.run(&carried_in_memory, (grid, block), (&h.arr(&xi), &mut o)).unwrap();
                assert_eq!(o.to_vec().unwrap(), (0..n).map(per_thread).collect::<Vec<_>>(), "carried_in_memory, {what}");
            }
            for bound in [n as i32, n as i32 / 2, -5] {
                let mut sig = h.arr(&vec![3.0f64; n]);
                h.run(&flat_signed, (grid, block), (&mut sig, bound)).unwrap();
                let want: Vec<f64> = (0..n).map(|i| if (i as i32) < bound { (i as f64).sqrt() - 2.0 * i as f64 } else { 3.0 }).collect();
                assert_eq!(sig.to_vec().unwrap(), want, "flat_signed, bound {bound}, {what}");
            }
        }
        // Loops over constant ranges inside the grid-stride loop.
        let q = n / 4;
        let want: Vec<f32> = (0..n)
            .map(|i| {
                if i >= 4 * q {
                    return -1.0;
                }
                let (base, k) = (i / 4 * 4, i % 4);
                let mut v = x[base + k] * 2.0;
                for j in 0..=1 {
                    v += x[base + j * k];
                }
                v + k as f32
            })
            .collect();
        for (grid, block) in [(1usize, 1usize), (3, 64), (40, 128)] {
            let mut out = h.arr(&vec![-1.0f32; n]);
            h.run(&flat_quads, (grid, block), (&h.arr(&x), &mut out, q)).unwrap();
            assert_eq!(out.to_vec().unwrap(), want, "flat_quads, n = {n}, grid {grid} x {block}");
        }
        // One thread, iterations in order: each overwrites the element its predecessor wrote
        // last.
        if n >= 5 {
            let q = (n - 1) / 4;
            let mut o = h.zeros::<i64>(n);
            h.run(&overlapping_quads, (1, 1), (&mut o, q)).unwrap();
            let want: Vec<i64> = (0..n)
                .map(|i| {
                    if i <= 4 * q {
                        if i % 4 == 0 && i / 4 == q {
                            (q - 1) as i64 * 10 + 4
                        } else {
                            (i / 4 * 10 + i % 4) as i64
                        }
                    } else {
                        0
                    }
                })
                .collect();
            assert_eq!(o.to_vec().unwrap(), want, "overlapping_quads, n = {n}");
        }
        // One thread's prefix sum depends on the order of its iterations.
        let mut o = h.arr(&xi);
        h.run(&neighbour_prefix, (1, 1), (&h.arr(&xi), &mut o)).unwrap();
        let prefix: Vec<i64> = xi
            .iter()
            .scan(0, |s, v| {
                *s += v;
                Some(*s)
            })
            .collect();
        assert_eq!(o.to_vec().unwrap(), prefix, "neighbour_prefix, n = {n}");
        // Pairs, a gather and a device function, on 32-bit indices.
        let m = n / 2 * 2;
        let xu: Vec<u32> = h.vec(m, |h| h.next_u64() as u32);
        let idx: Vec<u32> = h.vec(m, |h| (h.next_u64() % m.max(1) as u64) as u32);
        for grid in [1usize, 5, 64] {
            let mut out = h.zeros::<u32>(m);
            h.run(&flat_pairs, (grid, 128), (&h.arr(&xu), &h.arr(&idx), &mut out, (m / 2) as u32)).unwrap();
            let mix = |v: u32, k: u32| (0..3).fold(v ^ k, |h, _| h.wrapping_mul(0x9E37_79B1).rotate_left(5));
            let want: Vec<u32> =
                (0..m).map(|j| if j % 2 == 0 { mix(xu[idx[j] as usize], (j / 2) as u32) } else { xu[j] ^ (j / 2) as u32 }).collect();
            assert_eq!(out.to_vec().unwrap(), want, "flat_pairs, n = {m}, grid {grid}");
        }
    }
    if !h.is_gpu() {
        let (x, mut o, mut oi) = (h.arr(&[1.0f32; 4]), h.zeros::<f32>(4), h.zeros::<i64>(4));
        let xi = h.arr(&[1i64; 4]);
        let (xu, mut ou) = (h.arr(&[1u32; 4]), h.zeros::<u32>(4));
        assert!(planned(&flat_while, (&x, &x, &mut o, 1.0f32)), "flat_while runs flat");
        assert!(planned(&flat_for, (&xi, &mut oi)), "flat_for runs flat");
        assert!(planned(&flat_pairs, (&xu, &xu, &mut ou, 2u32)), "flat_pairs runs flat");
        assert!(planned(&flat_signed, (&mut h.zeros::<f64>(4), 4i32)), "flat_signed runs flat");
        assert!(planned(&flat_guarded, (&x, &mut o)), "flat_guarded runs flat");
        assert!(planned(&flat_early_return, (&x, &mut o)), "flat_early_return runs flat");
        assert!(planned(&flat_unguarded, (&x, &mut o)), "flat_unguarded runs flat");
        assert!(planned(&flat_quads, (&x, &mut o, 1usize)), "flat_quads runs flat");
        assert!(!planned(&overlapping_quads, (&mut oi, 1usize)), "overlapping_quads must not run flat");
        assert!(!planned(&carried_sum, (&xi, &mut oi)), "carried_sum must not run flat");
        assert!(!planned(&carried_in_memory, (&xi, &mut oi)), "carried_in_memory must not run flat");
        assert!(!planned(&neighbour_prefix, (&xi, &mut oi)), "neighbour_prefix must not run flat");
    }
}

pub fn flat_one_element_a_thread(h: &Harness) {
    for n in SIZES {
        let x: Vec<f32> = h.vec(n, |h| h.f64_in(-2.0, 2.0) as f32);
        for block in [1usize, 64, 256] {
            let grid = n.div_ceil(block).max(1) + 1; // a block more than the elements
            let dx = h.arr(&x);
            let mut out = h.arr(&vec![7.0f32; n]);
            h.run(&flat_guarded, (grid, block), (&dx, &mut out)).unwrap();
            let want: Vec<f32> = x.iter().map(|v| if *v > 0.0 { v.sqrt() } else { -v }).collect();
            assert_eq!(out.to_vec().unwrap(), want, "flat_guarded, n = {n}, block {block}");
            h.run(&flat_early_return, (grid, block), (&dx, &mut out)).unwrap();
            assert_eq!(out.to_vec().unwrap(), x.iter().map(|v| v * 0.5 + 1.0).collect::<Vec<_>>(), "flat_early_return, n = {n}");
            // Fewer threads than elements: the rest stay as they were.
            let few = (n / 3).clamp(1, 1024);
            let mut part = h.arr(&vec![7.0f32; n]);
            h.run(&flat_early_return, (1, few), (&dx, &mut part)).unwrap();
            let want: Vec<f32> = (0..n).map(|i| if i < few { x[i] * 0.5 + 1.0 } else { 7.0 }).collect();
            assert_eq!(part.to_vec().unwrap(), want, "flat_early_return, {few} threads, n = {n}");
        }
    }
}

/// Faults in a kernel run flat name the thread and block that own the element, as the grid's
/// (on a GPU, the kernels check bounds with `boundscheck`).
pub fn flat_bounds_faults(h: &Harness) {
    for n in [1usize, 100, 1000, 4099] {
        let x: Vec<f32> = h.vec(n, |h| h.f64_in(-1.0, 1.0) as f32);
        // Past the end of both arrays: the grid's first thread past them.
        let mut out = h.zeros::<f32>(n);
        let block = 64;
        let e = h.run(&flat_unguarded, (n / block + 2, block), (&h.arr(&x), &mut out)).unwrap_err();
        // On the CPU backend the first element past the end; a GPU's report may be any's.
        match &e {
            Error::OutOfBounds { kernel, array, index, len, tx, bx, .. } => {
                assert_eq!((kernel.as_str(), array.as_str(), *len), ("flat_unguarded", "x", n as u64), "{e}");
                assert!(*index >= n as u64 && (h.is_gpu() || *index == n as u64), "{e}");
                assert_eq!(*bx as u64 * block as u64 + *tx as u64, *index, "the thread: {e}");
            }
            other => panic!("expected OutOfBounds, got {other}"),
        }
        // A shorter input than the loop's bound: its first element past the end; the elements
        // before it are written.
        let short = n / 2;
        let mut out = h.arr(&vec![4.0f32; n]);
        let (dx, dy) = (h.arr(&x[..short]), h.arr(&x));
        let e = h.run(&flat_while, (3, 32), (&dx, &dy, &mut out, 2.0f32)).unwrap_err();
        match &e {
            Error::OutOfBounds { array, index, len, tx, bx, .. } => {
                assert_eq!((array.as_str(), *len), ("x", short as u64), "{e}");
                assert!(*index >= short as u64 && *index < n as u64 && (h.is_gpu() || *index == short as u64), "{e}");
                assert_eq!(*bx as u64 * 32 + *tx as u64, *index % 96, "the thread of element {index}: {e}");
            }
            other => panic!("expected OutOfBounds, got {other}"),
        }
        let got = out.to_vec().unwrap();
        for i in 0..short {
            assert_eq!(got[i], h.madd(2.0, x[i], x[i]), "flat_while[{i}] before the fault, n = {n}");
        }
        // A loop over a constant range reading past the end: the chunk's proof fails, and
        // the checked loop reports the first element past the end.
        let q = n.div_ceil(4);
        let mut out = h.arr(&vec![0.0f32; 4 * q + 4]);
        let e = h.run(&flat_quads, (2, 64), (&h.arr(&x), &mut out, q + 1)).unwrap_err();
        match &e {
            Error::OutOfBounds { kernel, array, index, len, .. } => {
                assert_eq!((kernel.as_str(), array.as_str(), *len), ("flat_quads", "x", n as u64), "{e}");
                assert!(*index >= n as u64 && (h.is_gpu() || *index == n as u64), "{e}");
            }
            other => panic!("expected OutOfBounds, got {other}"),
        }
        // A gather past the end.
        let m = n / 2 * 2;
        if m > 0 {
            let idx: Vec<u32> = (0..m as u32).map(|j| if j == 0 { m as u32 + 3 } else { j }).collect();
            let mut o = h.zeros::<u32>(m);
            let xu = h.arr(&vec![1u32; m]);
            let e = h.run(&flat_pairs, (2, 64), (&xu, &h.arr(&idx), &mut o, (m / 2) as u32)).unwrap_err();
            match &e {
                Error::OutOfBounds { array, index, .. } => assert_eq!((array.as_str(), *index), ("x", m as u64 + 3), "{e}"),
                other => panic!("expected OutOfBounds, got {other}"),
            }
        }
    }
}

/// Loops over ranges the launch sets, and indices that multiply the element's by a value it sets
/// (`a[i * n + j]`, `m[[i, j]]` for `j < m.shape(1)`): the CPU backend proves them in bounds
/// once a chunk from the values, and the checked loop still reports an access past the end.
pub fn flat_uniform_ranges(h: &Harness) {
    for (rows, n) in [(0usize, 5usize), (1, 0), (1, 1), (37, 1), (100, 33), (257, 64), (1000, 17)] {
        let a: Vec<f32> = h.vec(rows * n, |h| h.f64_in(-1.0, 1.0) as f32);
        let x: Vec<f32> = h.vec(n, |h| h.f64_in(-1.0, 1.0) as f32);
        let (da, dx) = (h.arr(&a), h.arr(&x));
        let want: Vec<f32> = (0..rows).map(|i| (0..n).fold(0.0f32, |acc, j| a[i * n + j].mul_add(x[j], acc))).collect();
        for block in [32usize, 256] {
            let mut y = h.arr(&vec![9.0f32; rows]);
            h.run(&mat_vec, (rows.div_ceil(block).max(1), block), (&da, &dx, &mut y, n)).unwrap();
            assert_eq!(y.to_vec().unwrap(), want, "mat_vec {rows} x {n}, block {block}");
        }
        let dm = DeviceArray::from_shape(&h.dev, &[rows, n], &a).unwrap();
        let mut sums = h.arr(&vec![9.0f32; rows]);
        h.run(&row_sums_2d, (3, 64), (&dm, &mut sums)).unwrap();
        let want: Vec<f32> = (0..rows).map(|i| a[i * n..(i + 1) * n].iter().fold(0.0f32, |s, v| s + v)).collect();
        assert_eq!(sums.to_vec().unwrap(), want, "row_sums_2d {rows} x {n}");
        if rows > 0 && n > 0 {
            // A matrix one element short: the last row's last element is past its end.
            let mut y = h.zeros::<f32>(rows);
            let short = h.arr(&a[..rows * n - 1]);
            let e = h.run(&mat_vec, (rows.div_ceil(64), 64), (&short, &dx, &mut y, n)).unwrap_err();
            match &e {
                Error::OutOfBounds { kernel, array, index, len, tx, bx, .. } => {
                    assert_eq!(
                        (kernel.as_str(), array.as_str(), *index, *len),
                        ("mat_vec", "a", (rows * n - 1) as u64, (rows * n - 1) as u64),
                        "{e}"
                    );
                    assert_eq!(*bx as usize * 64 + *tx as usize, rows - 1, "the thread: {e}");
                }
                other => panic!("expected OutOfBounds, got {other}"),
            }
        }
    }
    if h.is_gpu() {
        return;
    }
    // Both kernels run flat, with every array's accesses proven (none checked one by one).
    let (da, dx, mut y) = (h.arr(&[1.0f32; 12]), h.arr(&[1.0f32; 4]), h.zeros::<f32>(3));
    let dm = DeviceArray::from_shape(&h.dev, &[3, 4], &[1.0f32; 12]).unwrap();
    assert_eq!(proven_params(&mat_vec, (&da, &dx, &mut y, 4usize)), Some(3), "mat_vec: the arrays proven before a chunk");
    assert_eq!(proven_params(&row_sums_2d, (&dm, &mut y)), Some(2), "row_sums_2d: the arrays proven before a chunk");
}

/// Accesses under a condition the launch sets (`odd`): the CPU backend proves each in bounds
/// only where its condition holds (`x` may be too short for the branch not taken).
#[gpu_kernel(boundscheck)]
fn pick(x: &[f32], y: &mut [f32], odd: u32) {
    let i = grid(1);
    if i < y.len() {
        if odd == 1 {
            y[i] = x[2 * i + 1];
        } else {
            y[i] = x[i];
        }
    }
}

/// Branches the launch chooses: the accesses of the branch not taken need not be in bounds for
/// the chunk to run proven; those of the branch taken still report a fault.
pub fn flat_uniform_branches(h: &Harness) {
    for n in [0usize, 1, 2, 127, 129, 1000, 4099] {
        let x: Vec<f32> = h.vec(2 * n, |h| h.f64_in(-1.0, 1.0) as f32);
        // `x` as long as `y`: x[2 * i + 1] would be past its end for half the elements.
        let (short, long) = (h.arr(&x[..n]), h.arr(&x));
        for block in [32usize, 256] {
            let grid = n.div_ceil(block).max(1);
            let mut y = h.arr(&vec![9.0f32; n]);
            h.run(&pick, (grid, block), (&short, &mut y, 0u32)).unwrap();
            assert_eq!(y.to_vec().unwrap(), x[..n], "pick n = {n}, block {block}, even");
            h.run(&pick, (grid, block), (&long, &mut y, 1u32)).unwrap();
            let want: Vec<f32> = (0..n).map(|i| x[2 * i + 1]).collect();
            assert_eq!(y.to_vec().unwrap(), want, "pick n = {n}, block {block}, odd");
            if n > 0 {
                // One element short: the last thread's element is past the end.
                let e = h.run(&pick, (grid, block), (&h.arr(&x[..2 * n - 1]), &mut y, 1u32)).unwrap_err();
                match &e {
                    Error::OutOfBounds { array, index, len, .. } => {
                        assert_eq!((array.as_str(), *index, *len), ("x", (2 * n - 1) as u64, (2 * n - 1) as u64), "{e}")
                    }
                    other => panic!("expected OutOfBounds, got {other}"),
                }
            }
        }
    }
    if h.is_gpu() {
        return;
    }
    // Every access of both arrays is under the launch's condition.
    let (x, mut y) = (h.arr(&[1.0f32; 8]), h.zeros::<f32>(4));
    let mut buf = [Arg::NONE; MAX_ARGS];
    let n = (&x, &mut y, 1u32).collect(&mut buf);
    let ir = pick.ir(&buf[..n]).unwrap();
    let plan = flat::plan(&ir).expect("pick runs flat");
    let guarded: Vec<usize> = plan.proven.iter().map(|(_, a)| a.iter().filter(|a| a.guards.len() == 1).count()).collect();
    assert_eq!(guarded, [2, 2], "pick: each array's two accesses, each under one condition");
}

/// A neighbour read under a condition that differs between threads: where `x` is as long as
/// `y`, the bounds proof fails (it counts `x[i + 1]` at the last element) though no access is
/// past the end. `y` is read and written, so an element run twice would show.
#[gpu_kernel(boundscheck)]
fn neighbour_add(x: &[f32], y: &mut [f32]) {
    let i = grid(1);
    if i < y.len() {
        let mut next = 0.0f32;
        if i + 1 < x.len() {
            next = x[i + 1];
        }
        y[i] = y[i] + (x[i] + next);
    }
}

/// `kernel` as generated kernels are compiled: where the flat proof fails, the flat function
/// refuses the launch and the grid runs it (`KernelOptions::flat_refuse_unproven`).
fn refusing(kernel: &Kernel) -> Kernel {
    let mut src = kernel.source().clone();
    src.options.flat_refuse_unproven = true;
    Kernel::new(src)
}

/// Kernels that refuse a launch their proof fails for (as generated kernels do) give the
/// results of those that run a checked loop instead, on every worker alike: each element once,
/// whether the proof holds (`x` one longer than `y`) or not; and a fault past the end is still
/// reported, naming the element's thread.
pub fn flat_refused_unproven(h: &Harness) {
    let refuse_add = refusing(&neighbour_add);
    let refuse_unguarded = refusing(&flat_unguarded);
    for n in [0usize, 1, 2, 255, 1000, 100_003] {
        let x: Vec<f32> = h.vec(n + 1, |h| h.f64_in(-1.0, 1.0) as f32);
        let y0: Vec<f32> = h.vec(n, |h| h.f64_in(-1.0, 1.0) as f32);
        for (len, proven) in [(n + 1, true), (n, false)] {
            let want: Vec<f32> = (0..n).map(|i| y0[i] + (x[i] + if i + 1 < len { x[i + 1] } else { 0.0 })).collect();
            let dx = h.arr(&x[..len]);
            let plain: &Kernel = &neighbour_add;
            for (k, name) in [(plain, "checked loop"), (&refuse_add, "refused")] {
                for block in [64usize, 256] {
                    let mut y = h.arr(&y0);
                    h.run(k, (n.div_ceil(block).max(1), block), (&dx, &mut y)).unwrap();
                    assert_eq!(y.to_vec().unwrap(), want, "neighbour_add ({name}), n = {n}, proven {proven}, block {block}");
                }
            }
        }
        if n > 0 {
            let block = 64;
            let mut out = h.zeros::<f32>(n);
            let e = h.run(&refuse_unguarded, (n / block + 2, block), (&h.arr(&x[..n]), &mut out)).unwrap_err();
            match &e {
                Error::OutOfBounds { kernel, array, index, len, tx, bx, .. } => {
                    assert_eq!((kernel.as_str(), array.as_str(), *len), ("flat_unguarded", "x", n as u64), "{e}");
                    assert!(*index >= n as u64, "{e}");
                    assert_eq!(*bx as u64 * block as u64 + *tx as u64, *index, "the thread: {e}");
                }
                other => panic!("expected OutOfBounds, got {other}"),
            }
        }
    }
    if h.is_gpu() {
        return;
    }
    let (x, mut y) = (h.arr(&[1.0f32; 4]), h.zeros::<f32>(4));
    assert_eq!(proven_params(&refuse_add, (&x, &mut y)), Some(2), "neighbour_add: both arrays proven");
}

/// The number of array parameters the CPU backend's flat plan for `k` proves in bounds before a
/// chunk (`None`: not run flat).
fn proven_params<'a>(k: &Kernel, args: impl KernelArgs<'a>) -> Option<usize> {
    let mut buf = [Arg::NONE; MAX_ARGS];
    let n = args.collect(&mut buf);
    let ir = k.ir(&buf[..n]).unwrap_or_else(|e| panic!("{}: {e}", k.name()));
    flat::plan(&ir).map(|p| p.proven.len())
}
