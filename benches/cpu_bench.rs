//! The CPU backend beside plain Rust in one process (issue 18's table): 2^24 f32 elements, the
//! best of several launches, plain Rust single-threaded and on all cores (`std::thread::scope`).
//!
//! ```text
//! cargo bench --bench cpu_bench
//! GPUJIT_CPU_LOCKSTEP=0 cargo bench --bench cpu_bench   # without lockstep execution
//! ```
//!
//! Each line ends with the kernel's first launch, which compiles it.

use gpujit::prelude::*;
use std::time::Instant;

const N: usize = 1 << 24;

/// `out[i] = x[i] + y[i]`, one element a thread.
#[gpu_kernel]
fn add_one(x: &[f32], y: &[f32], out: &mut [f32]) {
    let i = grid(1);
    if i < out.len() {
        out[i] = x[i] + y[i];
    }
}

/// The same as Numba's grid-stride loop (the README's `add`).
#[gpu_kernel]
fn add_stride(x: &[f32], y: &[f32], out: &mut [f32]) {
    let mut i = grid(1);
    while i < out.len() {
        out[i] = x[i] + y[i];
        i += grid_size(1);
    }
}

/// A block's sum in shared memory, a tree with `sync_threads()` between levels; one atomic a
/// block.
#[gpu_kernel]
fn block_sum(x: &[f32], total: &mut [f32]) {
    let mut s = shared_array::<f32, 256>();
    let t = thread_idx_x();
    let i = grid(1);
    s[t] = if i < x.len() { x[i] } else { 0.0 };
    sync_threads();
    let mut half = 128;
    while half > 0 {
        if t < half {
            s[t] += s[t + half];
        }
        sync_threads();
        half /= 2;
    }
    if t == 0 {
        atomic_add(total, 0, s[0]);
    }
}

/// A warp's sum by shuffles, one atomic a warp.
#[gpu_kernel]
fn warp_sum(x: &[f32], total: &mut [f32]) {
    let i = grid(1);
    let mut v = if i < x.len() { x[i] } else { 0.0 };
    let mut offset = 16;
    while offset > 0 {
        v += shfl_down_sync(0xffffffff, v, offset);
        offset /= 2;
    }
    if lane_id() == 0 {
        atomic_add(total, 0, v);
    }
}

/// C = A·B with 16×16 tiles staged in shared memory.
#[gpu_kernel]
fn tiled_matmul(a: &[f32], b: &[f32], c: &mut [f32], n: usize) {
    let mut ta = shared_array_2d::<f32, 16, 16>();
    let mut tb = shared_array_2d::<f32, 16, 16>();
    let (tx, ty) = (thread_idx_x(), thread_idx_y());
    let (row, col) = (block_idx_y() * 16 + ty, block_idx_x() * 16 + tx);
    let mut acc = 0.0f32;
    let mut k0 = 0;
    while k0 < n {
        ta[[ty, tx]] = if row < n && k0 + tx < n { a[row * n + k0 + tx] } else { 0.0 };
        tb[[ty, tx]] = if k0 + ty < n && col < n { b[(k0 + ty) * n + col] } else { 0.0 };
        sync_threads();
        for kk in 0..16 {
            acc += ta[[ty, kk]] * tb[[kk, tx]];
        }
        sync_threads();
        k0 += 16;
    }
    if row < n && col < n {
        c[row * n + col] = acc;
    }
}

thread_local! {
    /// The time of the last `best`'s first run: for a kernel, its first launch (compiling).
    static FIRST: std::cell::Cell<f64> = const { std::cell::Cell::new(0.0) };
}

/// The fastest of `reps` runs, in seconds (after one warm-up run, whose time `FIRST` keeps).
fn best(reps: usize, mut f: impl FnMut()) -> f64 {
    let t = Instant::now();
    f();
    FIRST.with(|c| c.set(t.elapsed().as_secs_f64()));
    (0..reps)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::MAX, f64::min)
}

/// `f(range)` over `0..n` split into one contiguous chunk a core.
fn on_cores(n: usize, f: impl Fn(std::ops::Range<usize>) + Sync) {
    let cores = std::thread::available_parallelism().map(|c| c.get()).unwrap_or(1);
    let chunk = n.div_ceil(cores);
    std::thread::scope(|s| {
        for c in 0..cores {
            let f = &f;
            s.spawn(move || f(c * chunk..((c + 1) * chunk).min(n)));
        }
    });
}

/// One line of the table; `ours` the kernel's best (its first launch, with the compile, is
/// `FIRST`, as `ours` is the last argument `best` computed).
fn row(name: &str, ours: f64, one: f64, all: f64) {
    println!(
        "{name:<40} gpujit {:9.3} ms   plain 1 thread {:9.3} ms   all cores {:9.3} ms   ÷ all cores {:5.2}   ÷ 1 thread {:5.2}   first launch {:7.1} ms",
        ours * 1e3,
        one * 1e3,
        all * 1e3,
        all / ours,
        one / ours,
        FIRST.with(|c| c.get()) * 1e3
    );
}

fn main() -> gpujit::Result<()> {
    let dev = Device::cpu();
    println!("device: {}", dev.name());
    let hx: Vec<f32> = (0..N).map(|i| (i % 1000) as f32 / 1000.0 - 0.5).collect();
    let hy: Vec<f32> = (0..N).map(|i| (i % 777) as f32 / 777.0 + 0.25).collect();
    let (x, y) = (DeviceArray::from_slice(&dev, &hx)?, DeviceArray::from_slice(&dev, &hy)?);
    let mut out = DeviceArray::<f32>::zeros(&dev, N)?;
    let mut ho = vec![0f32; N];
    // Plain Rust writes through a raw pointer from each core's chunk (disjoint ranges).
    let optr = ho.as_mut_ptr() as usize;
    let add_chunk = |r: std::ops::Range<usize>| {
        // SAFETY: each call writes its own range of `ho`, which outlives the scope.
        let o = unsafe { std::slice::from_raw_parts_mut((optr as *mut f32).add(r.start), r.len()) };
        for ((o, a), b) in o.iter_mut().zip(&hx[r.clone()]).zip(&hy[r]) {
            *o = a + b;
        }
    };
    let one = best(5, || add_chunk(0..N));
    let all = best(5, || on_cores(N, add_chunk));
    row("add, one element a thread", best(5, || launch!(add_one[N.div_ceil(256), 256](&x, &y, &mut out)).expect("launch")), one, all);
    row("add, grid-stride 8 x 256", best(2, || launch!(add_stride[8, 256](&x, &y, &mut out)).expect("launch")), one, all);
    row("(expr(&x) + &y).eval_into", best(5, || (expr(&x) + &y).eval_into(&mut out).expect("eval")), one, all);

    let five = |r: std::ops::Range<usize>| {
        // SAFETY: as above.
        let o = unsafe { std::slice::from_raw_parts_mut((optr as *mut f32).add(r.start), r.len()) };
        for ((o, &a), &b) in o.iter_mut().zip(&hx[r.clone()]).zip(&hy[r]) {
            *o = (-a * a * 0.5).exp() * b.sin() + (a * b).abs().sqrt();
        }
    };
    let (one, all) = (best(3, || five(0..N)), best(3, || on_cores(N, five)));
    let half = 0.5f32;
    row(
        "exp(-x*x/2)*sin(y) + sqrt(abs(x*y))",
        best(3, || ((-expr(&x) * &x * half).exp() * expr(&y).sin() + (expr(&x) * &y).abs().sqrt()).eval_into(&mut out).expect("eval")),
        one,
        all,
    );

    let sums = std::sync::Mutex::new(0f64);
    let one = best(5, || {
        std::hint::black_box(hx.iter().sum::<f32>());
    });
    let all = best(5, || {
        on_cores(N, |r| {
            let s: f32 = hx[r].iter().sum();
            if let Ok(mut t) = sums.lock() {
                *t += s as f64;
            }
        })
    });
    row(
        "expr(&x).sum().value()",
        best(5, || {
            std::hint::black_box(expr(&x).sum().value().expect("sum"));
        }),
        one,
        all,
    );

    let mut total = DeviceArray::<f32>::zeros(&dev, 1)?;
    row(
        "block sum, shared memory + sync_threads",
        best(2, || launch!(block_sum[N.div_ceil(256), 256](&x, &mut total)).expect("launch")),
        one,
        all,
    );
    row("warp-shuffle sum", best(2, || launch!(warp_sum[N.div_ceil(256), 256](&x, &mut total)).expect("launch")), one, all);

    // Axis reductions of a 4096 x 4096 view of x: a sum per row (contiguous), per column
    // (strided), and the position of each row's largest element.
    let side = 1usize << 12;
    let x2 = DeviceArray::from_shape(&dev, &[side, side], &hx)?;
    let mut rows_out = DeviceArray::<f32>::zeros(&dev, side)?;
    let mut hr = vec![0f32; side];
    let rptr = hr.as_mut_ptr() as usize;
    let row_sums = |r: std::ops::Range<usize>| {
        // SAFETY: each call writes its own range of `hr`.
        let o = unsafe { std::slice::from_raw_parts_mut((rptr as *mut f32).add(r.start), r.len()) };
        for (o, i) in o.iter_mut().zip(r) {
            *o = hx[i * side..(i + 1) * side].iter().sum();
        }
    };
    let (one, all) = (best(5, || row_sums(0..side)), best(5, || on_cores(side, row_sums)));
    row("sum over axis 1 (rows), 4096^2", best(5, || expr(&x2).sum().axis(1).eval_into(&mut rows_out).expect("sum")), one, all);
    // Columns: plain Rust adds row after row into the sums of its range of columns.
    let col_sums = |c: std::ops::Range<usize>| {
        // SAFETY: each call writes its own range of `hr`.
        let o = unsafe { std::slice::from_raw_parts_mut((rptr as *mut f32).add(c.start), c.len()) };
        o.iter_mut().for_each(|v| *v = 0.0);
        for i in 0..side {
            for (o, v) in o.iter_mut().zip(&hx[i * side + c.start..i * side + c.end]) {
                *o += v;
            }
        }
    };
    let (one, all) = (best(5, || col_sums(0..side)), best(5, || on_cores(side, col_sums)));
    row("sum over axis 0 (columns), 4096^2", best(5, || expr(&x2).sum().axis(0).eval_into(&mut rows_out).expect("sum")), one, all);
    // A broadcast row beside the matrix: the sums of x - v along columns.
    let hv: Vec<f32> = (0..side).map(|c| c as f32 / side as f32).collect();
    let v = DeviceArray::from_slice(&dev, &hv)?;
    let centred_col_sums = |c: std::ops::Range<usize>| {
        // SAFETY: each call writes its own range of `hr`.
        let o = unsafe { std::slice::from_raw_parts_mut((rptr as *mut f32).add(c.start), c.len()) };
        o.iter_mut().for_each(|v| *v = 0.0);
        for i in 0..side {
            for ((o, x), v) in o.iter_mut().zip(&hx[i * side + c.start..i * side + c.end]).zip(&hv[c.clone()]) {
                *o += x - v;
            }
        }
    };
    let (one, all) = (best(5, || centred_col_sums(0..side)), best(5, || on_cores(side, centred_col_sums)));
    row("(x - row).sum() over axis 0, 4096^2", best(5, || (expr(&x2) - &v).sum().axis(0).eval_into(&mut rows_out).expect("sum")), one, all);
    let mut arg_out = DeviceArray::<usize>::zeros(&dev, side)?;
    let mut ha = vec![0usize; side];
    let aptr = ha.as_mut_ptr() as usize;
    let row_argmax = |r: std::ops::Range<usize>| {
        // SAFETY: each call writes its own range of `ha`.
        let o = unsafe { std::slice::from_raw_parts_mut((aptr as *mut usize).add(r.start), r.len()) };
        for (o, i) in o.iter_mut().zip(r) {
            let (mut best, mut at) = (f32::NEG_INFINITY, 0);
            for (j, &v) in hx[i * side..(i + 1) * side].iter().enumerate() {
                if v > best {
                    (best, at) = (v, j);
                }
            }
            *o = at;
        }
    };
    let (one, all) = (best(5, || row_argmax(0..side)), best(5, || on_cores(side, row_argmax)));
    row("argmax over axis 1, 4096^2", best(5, || expr(&x2).argmax().axis(1).eval_into(&mut arg_out).expect("argmax")), one, all);
    // The position of the largest element of all 2^24.
    let argmax = |r: std::ops::Range<usize>| {
        let (mut best, mut at) = (f32::NEG_INFINITY, r.start);
        for (j, &v) in hx[r.clone()].iter().enumerate() {
            if v > best {
                (best, at) = (v, r.start + j);
            }
        }
        (best, at)
    };
    let one = best(5, || {
        std::hint::black_box(argmax(0..N));
    });
    let all = best(5, || {
        let found = std::sync::Mutex::new((f32::NEG_INFINITY, 0usize));
        on_cores(N, |r| {
            let (v, at) = argmax(r);
            if let Ok(mut f) = found.lock() {
                if v > f.0 || (v == f.0 && at < f.1) {
                    *f = (v, at);
                }
            }
        });
        std::hint::black_box(found);
    });
    row(
        "expr(&x).argmax().value()",
        best(5, || {
            std::hint::black_box(expr(&x).argmax().value().expect("argmax"));
        }),
        one,
        all,
    );
    std::hint::black_box((&hr, &ha));

    let n = 256usize;
    let (ha, hb) = (hx[..n * n].to_vec(), hy[..n * n].to_vec());
    let (da, db) = (DeviceArray::from_slice(&dev, &ha)?, DeviceArray::from_slice(&dev, &hb)?);
    let mut dc = DeviceArray::<f32>::zeros(&dev, n * n)?;
    let mut hc = vec![0f32; n * n];
    let cptr = hc.as_mut_ptr() as usize;
    let ikj = |rows: std::ops::Range<usize>| {
        // SAFETY: each call writes its own rows of `hc`.
        let c = unsafe { std::slice::from_raw_parts_mut((cptr as *mut f32).add(rows.start * n), rows.len() * n) };
        c.iter_mut().for_each(|v| *v = 0.0);
        for (li, i) in rows.enumerate() {
            for k in 0..n {
                let aik = ha[i * n + k];
                for j in 0..n {
                    c[li * n + j] += aik * hb[k * n + j];
                }
            }
        }
    };
    let (one, all) = (best(3, || ikj(0..n)), best(3, || on_cores(n, ikj)));
    row(
        "16x16 tiled matmul 256^3 (vs ikj)",
        best(2, || launch!(tiled_matmul[(n / 16, n / 16), (16, 16)](&da, &db, &mut dc, n)).expect("launch")),
        one,
        all,
    );
    std::hint::black_box((ho, hc, sums));
    Ok(())
}
