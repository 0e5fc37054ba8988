//! The kernel suite shared by the CPU harness (`tests/cpu.rs`) and the GPU harness
//! (`tests/gpu.rs`): each case runs kernels on the harness's device with fresh random inputs
//! (sizes 0 and not multiples of the block) and compares with plain Rust.
//!
//! On the CPU harness every specialization a case launches is also compiled to PTX for sm_80 and
//! sm_90 and assembled by `ptxas`, so every test kernel's PTX is checked without a GPU.

#![allow(dead_code)]

/// Calls `$suite!(case, ...)` with every case of this module: each harness turns them into tests.
macro_rules! for_each_case {
    ($suite:ident) => {
        $suite!(
            add_grid_stride,
            axpy_generic,
            scalar_params,
            int_arithmetic,
            float_arithmetic,
            bitwise_and_shifts,
            unary_ops,
            comparisons,
            short_circuit,
            as_casts,
            control_flow,
            range_loop_edges,
            thread_model_3d,
            locals_and_inference,
            launch_errors,
            specialization_errors,
            math_unary,
            math_binary,
            math_integers,
            fastmath,
            kernel_options,
            shared_block_reverse,
            shared_reduction,
            shared_histogram,
            atomics,
            dynamic_shared_memory,
            local_arrays,
            tiled_matmul,
            tuple_let,
            if_and_match,
            reversed_and_labeled_loops,
            grid_axes,
            warp_collectives,
            warp_shuffle_reduction,
            strided_stencil,
            three_d_arrays,
            device_functions,
            bounds_checks,
            half_floats,
            half_every_operation,
            differential_fuzzing,
            fuzz_regressions,
            grid_synchronization,
            broadcast_views,
            dlpack_conformance,
            cuda_array_interface_rules,
            cast_matrix,
            dlpack_pinned_host,
            expr_elementwise,
            expr_broadcast_strided,
            expr_dtypes,
            expr_errors,
            expr_cache,
            reductions,
            user_reductions,
            vectorized_functions,
            vectorized_outputs,
            forall_closures,
            launch_allocates_nothing,
            concurrent_launches,
            disk_cache_entries,
            introspection,
            first_launch,
            streams_and_events,
            graph_capture,
            expressions_on_streams,
        );
    };
}

use gpujit::codegen::nvptx::NvptxTarget;
use gpujit::codegen::toolchain;
use gpujit::prelude::*;
use gpujit::runtime::launch::MAX_ARGS;
use gpujit::{Arg, Element, Error, Kernel, KernelArgs};
use std::cell::Cell;
use std::collections::HashSet;
use std::sync::Mutex;

pub mod filecheck;
mod fused;
pub mod fuzz;
pub mod golden;
mod halfs;
mod runtime;
pub use fused::*;
pub use fuzz::differential_fuzzing;
pub use fuzz::regressions::fuzz_regressions;
pub use halfs::*;
pub use runtime::*;

#[global_allocator]
static ALLOCATOR: runtime::CountingAllocator = runtime::CountingAllocator;

/// Sizes every elementwise case runs: empty, tiny, around and off block multiples.
pub const SIZES: [usize; 6] = [0, 1, 127, 129, 1000, 4099];

pub struct Harness {
    pub dev: Device,
    check_ptx: bool,
    rng: Cell<u64>,
}

impl Harness {
    pub fn cpu() -> Harness {
        // Kernels generated for expressions get their PTX checked too.
        gpujit::fuse::set_launch_hook(Some(check_ptx));
        Harness::new(Device::cpu(), true)
    }

    /// The GPU harness, or `None` (skip) when there is no GPU. With `GPUJIT_REQUIRE_GPU=1` a
    /// missing GPU fails the test instead.
    pub fn gpu() -> Option<Harness> {
        let required = std::env::var("GPUJIT_REQUIRE_GPU").map(|v| v == "1").unwrap_or(false);
        match Device::cuda(0) {
            Ok(dev) => Some(Harness::new(dev, false)),
            Err(e) if required => panic!("GPUJIT_REQUIRE_GPU=1 but no GPU can be used: {e}"),
            Err(e) => {
                eprintln!("skipping GPU test: {e} (set GPUJIT_REQUIRE_GPU=1 to fail instead)");
                None
            }
        }
    }

    fn new(dev: Device, check_ptx: bool) -> Harness {
        let seed = std::env::var("GPUJIT_TEST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
            let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1);
            t ^ (std::process::id() as u64).rotate_left(32)
        });
        eprintln!("random seed {seed} (GPUJIT_TEST_SEED={seed} repeats this run)");
        Harness { dev, check_ptx, rng: Cell::new(seed | 1) }
    }

    pub fn is_gpu(&self) -> bool {
        self.dev.is_cuda()
    }

    /// xorshift64*: fresh inputs every run, reproducible from the printed seed.
    pub fn next_u64(&self) -> u64 {
        let mut x = self.rng.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng.set(x);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A float in [lo, hi).
    pub fn f64_in(&self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64)
    }

    pub fn vec<T>(&self, n: usize, mut f: impl FnMut(&Harness) -> T) -> Vec<T> {
        (0..n).map(|_| f(self)).collect()
    }

    pub fn arr<T: Element>(&self, data: &[T]) -> DeviceArray<T> {
        DeviceArray::from_slice(&self.dev, data).expect("allocate")
    }

    pub fn zeros<T: Element>(&self, n: usize) -> DeviceArray<T> {
        DeviceArray::zeros(&self.dev, n).expect("allocate")
    }

    /// Launches `k`; on the CPU harness, first checks the specialization's PTX with ptxas.
    pub fn run<'a, 's>(&self, k: &Kernel, config: impl Into<LaunchConfig<'s>>, args: impl KernelArgs<'a>) -> gpujit::Result<()> {
        let mut buf = [Arg::NONE; MAX_ARGS];
        let n = args.collect(&mut buf);
        let args = &buf[..n];
        if self.check_ptx {
            check_ptx(k, args);
        }
        k.launch(config, args)
    }
}

thread_local! {
    /// Set by a test that must not run the PTX check on its thread (it counts allocations); a
    /// thread-local switch, so other tests running meanwhile keep theirs.
    pub static SKIP_PTX_CHECKS: Cell<bool> = const { Cell::new(false) };
}

/// Compiles `k` for `args`' types to PTX for sm_80 and sm_90 and assembles it with ptxas (once
/// per kernel and signature). Fails when ptxas is missing: the test command installs it.
fn check_ptx(k: &Kernel, args: &[Arg<'_>]) {
    golden::record(k, args);
    if SKIP_PTX_CHECKS.with(Cell::get) {
        return;
    }
    static SEEN: Mutex<Option<HashSet<String>>> = Mutex::new(None);
    let Ok(ir) = k.ir(args) else { return }; // a launch meant to fail type checks
    let id = format!("{}{}", ir.name, ir.signature());
    if !SEEN.lock().unwrap().get_or_insert_with(HashSet::new).insert(id.clone()) {
        return;
    }
    let ptxas = toolchain::find_ptxas().unwrap_or_else(|e| panic!("{e}"));
    // The lowest PTX ISA each architecture needs, and the newest both LLVM 19 and this ptxas
    // take (a GPU with a current driver gets PTX 8.5: some lowerings differ by PTX version).
    let newest = newest_sm90(&ptxas);
    for target in [NvptxTarget::sm(80).expect("known arch"), NvptxTarget::sm(90).expect("known arch"), newest] {
        let arch = target.arch;
        let out = k.ptx(&target, args).unwrap_or_else(|e| panic!("{id}: PTX for sm_{arch}: {e}"));
        assert!(out.ptx.contains(&format!(".entry {}", ir.name)), "{id}: no kernel entry in the PTX:\n{}", out.ptx);
        let report = toolchain::ptxas_check(&ptxas, &out.ptx, arch)
            .unwrap_or_else(|log| panic!("{id}: ptxas sm_{arch} rejected the PTX:\n{log}\n{}", out.ptx));
        assert_eq!(report.spill_stores, 0, "{id}: spills on sm_{arch}:\n{}", report.log);
    }
}

/// sm_90 with the newest PTX ISA that LLVM 19 emits and `ptxas` (its `release X.Y`) assembles.
fn newest_sm90(ptxas: &std::path::Path) -> NvptxTarget {
    static NEWEST: std::sync::OnceLock<NvptxTarget> = std::sync::OnceLock::new();
    *NEWEST.get_or_init(|| {
        let out = std::process::Command::new(ptxas).arg("--version").output().map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
        let release = out.ok().and_then(|t| {
            let v = t.split("release ").nth(1)?.split(',').next()?.to_string();
            let (major, minor) = v.split_once('.')?;
            Some(major.trim().parse::<u32>().ok()? * 1000 + minor.trim().parse::<u32>().ok()? * 10)
        });
        // As a driver of the same version would: the newest PTX it JIT-compiles.
        NvptxTarget::for_device(9, 0, release.unwrap_or(12000)).expect("sm_90 under a CUDA 12 toolkit")
    })
}

fn assert_close(got: &[f64], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let ok = g == w || (g.is_nan() && w.is_nan()) || (g - w).abs() <= tol * w.abs().max(1.0);
        assert!(ok, "{what}[{i}]: got {g}, want {w}");
    }
}

// ---------------------------------------------------------------------------------------------
// The Numba `add` kernel (grid-stride loop) and saxpy.

#[gpu_kernel]
fn add(x: &[f32], y: &[f32], out: &mut [f32]) {
    let start = grid(1);
    let stride = grid_size(1);
    for i in (start..x.len()).step_by(stride) {
        out[i] = x[i] + y[i];
    }
}

pub fn add_grid_stride(h: &Harness) {
    for n in SIZES {
        let x = h.vec(n, |h| h.f64_in(-100.0, 100.0) as f32);
        let y = h.vec(n, |h| h.f64_in(-100.0, 100.0) as f32);
        let (dx, dy) = (h.arr(&x), h.arr(&y));
        let mut out = h.zeros::<f32>(n);
        // A fixed small grid: the stride loop must cover every element.
        h.run(&add, (3, 64), (&dx, &dy, &mut out)).unwrap();
        let want: Vec<f32> = x.iter().zip(&y).map(|(a, b)| a + b).collect();
        assert_eq!(out.to_vec().unwrap(), want, "n = {n}");
    }
}

#[gpu_kernel]
fn axpy<T: Float>(a: T, x: &[T], y: &mut [T]) {
    let i = grid(1);
    if i < x.len() {
        y[i] = a * x[i] + y[i];
    }
}

pub fn axpy_generic(h: &Harness) {
    for n in SIZES {
        let a = h.f64_in(-3.0, 3.0);
        let x = h.vec(n, |h| h.f64_in(-1e3, 1e3));
        let y = h.vec(n, |h| h.f64_in(-1e3, 1e3));
        // f64
        let dx = h.arr(&x);
        let mut dy = h.arr(&y);
        h.run(&axpy, LaunchConfig::for_elements(n, 128), (a, &dx, &mut dy)).unwrap();
        let got = dy.to_vec().unwrap();
        let want: Vec<f64> = x.iter().zip(&y).map(|(x, y)| a.mul_add(*x, *y)).collect();
        let want_sep: Vec<f64> = x.iter().zip(&y).map(|(x, y)| a * x + y).collect();
        // The GPU may contract a*x+y into an fma; either rounding is correct.
        for i in 0..n {
            assert!(got[i] == want[i] || got[i] == want_sep[i], "f64 axpy[{i}]: {} vs {}", got[i], want_sep[i]);
        }
        // f32, same kernel: a second specialization.
        let (a32, x32, y32): (f32, Vec<f32>, Vec<f32>) =
            (a as f32, x.iter().map(|v| *v as f32).collect(), y.iter().map(|v| *v as f32).collect());
        let dx = h.arr(&x32);
        let mut dy = h.arr(&y32);
        h.run(&axpy, LaunchConfig::for_elements(n, 256), (a32, &dx, &mut dy)).unwrap();
        let got = dy.to_vec().unwrap();
        for i in 0..n {
            let (f, s) = (a32.mul_add(x32[i], y32[i]), a32 * x32[i] + y32[i]);
            assert!(got[i] == f || got[i] == s, "f32 axpy[{i}]: {} vs {s}", got[i]);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Scalar parameters of every type.

#[gpu_kernel]
fn fill<T: Scalar>(v: T, out: &mut [T]) {
    let i = grid(1);
    if i < out.len() {
        out[i] = v;
    }
}

fn fill_one<T: Element + PartialEq + std::fmt::Debug>(h: &Harness, v: T) {
    for n in [0usize, 1, 300] {
        let mut out = h.zeros::<T>(n);
        h.run(&fill, LaunchConfig::for_elements(n, 128), (v, &mut out)).unwrap();
        assert_eq!(out.to_vec().unwrap(), vec![v; n], "fill {v:?}");
    }
}

pub fn scalar_params(h: &Harness) {
    fill_one(h, h.next_u64() as i32);
    fill_one(h, h.next_u64() as i64);
    fill_one(h, h.next_u64() as u32);
    fill_one(h, h.next_u64());
    fill_one(h, h.next_u64() as usize);
    fill_one(h, h.next_u64() as i8);
    fill_one(h, h.next_u64() as u16);
    fill_one(h, h.f64_in(-1e6, 1e6) as f32);
    fill_one(h, h.f64_in(-1e300, 1e300));
    fill_one(h, true);
    fill_one(h, false);
}

// ---------------------------------------------------------------------------------------------
// Arithmetic on every numeric type, with Rust's wrapping semantics.

#[gpu_kernel]
fn arith<T: Number>(x: &[T], y: &[T], sum: &mut [T], diff: &mut [T], prod: &mut [T], quot: &mut [T], rem: &mut [T]) {
    let i = grid(1);
    if i < x.len() {
        let a = x[i];
        let b = y[i];
        sum[i] = a + b;
        diff[i] = a - b;
        prod[i] = a * b;
        quot[i] = a / b;
        rem[i] = a % b;
    }
}

macro_rules! int_arith {
    ($h:expr, $($t:ty),*) => {$({
        let h: &Harness = $h;
        for n in SIZES {
            let x: Vec<$t> = h.vec(n, |h| h.next_u64() as $t);
            // Small divisors, zero and -1 included, to reach the special cases.
            let y: Vec<$t> = h.vec(n, |h| match h.next_u64() % 4 { 0 => (h.next_u64() % 5) as $t, 1 => (0 as $t).wrapping_sub(1), _ => h.next_u64() as $t });
            let (dx, dy) = (h.arr(&x), h.arr(&y));
            let mut outs: Vec<DeviceArray<$t>> = (0..5).map(|_| h.zeros::<$t>(n)).collect();
            let [s, d, p, q, r] = &mut outs[..] else { unreachable!() };
            h.run(&arith, LaunchConfig::for_elements(n, 128), (&dx, &dy, s, d, p, q, r)).unwrap();
            let div = |a: $t, b: $t| if b == 0 { 0 } else { a.wrapping_div(b) };
            let rem = |a: $t, b: $t| if b == 0 { a } else { a.wrapping_rem(b) };
            let want: [Vec<$t>; 5] = [
                x.iter().zip(&y).map(|(a, b)| a.wrapping_add(*b)).collect(),
                x.iter().zip(&y).map(|(a, b)| a.wrapping_sub(*b)).collect(),
                x.iter().zip(&y).map(|(a, b)| a.wrapping_mul(*b)).collect(),
                x.iter().zip(&y).map(|(a, b)| div(*a, *b)).collect(),
                x.iter().zip(&y).map(|(a, b)| rem(*a, *b)).collect(),
            ];
            for (k, (o, w)) in outs.iter().zip(&want).enumerate() {
                assert_eq!(&o.to_vec().unwrap(), w, "{} op {k}, n = {n}", stringify!($t));
            }
        }
    })*};
}

pub fn int_arithmetic(h: &Harness) {
    int_arith!(h, i8, i16, i32, i64, u8, u16, u32, u64);
}

pub fn float_arithmetic(h: &Harness) {
    for n in SIZES {
        let mut x = h.vec(n, |h| h.f64_in(-1e3, 1e3));
        let mut y = h.vec(n, |h| if h.next_u64() % 8 == 0 { 0.0 } else { h.f64_in(-50.0, 50.0) });
        if n > 1 {
            // f32 `%` where x / y rounds up to an integer: `x - y * trunc(x / y)` gives 0, fmod
            // (Rust's `%`) 0.0154795.
            (x[1], y[1]) = (470.14597f32 as f64, -0.015485704f32 as f64);
        }
        let check = |outs: Vec<Vec<f64>>, tol_rem: f64, what: &str| {
            let want: [Vec<f64>; 5] = [
                x.iter().zip(&y).map(|(a, b)| a + b).collect(),
                x.iter().zip(&y).map(|(a, b)| a - b).collect(),
                x.iter().zip(&y).map(|(a, b)| a * b).collect(),
                x.iter().zip(&y).map(|(a, b)| a / b).collect(),
                x.iter().zip(&y).map(|(a, b)| a % b).collect(),
            ];
            for k in 0..4 {
                assert_close(&outs[k], &want[k], 1e-6, &format!("{what} op {k}"));
            }
            assert_close(&outs[4], &want[4], tol_rem, &format!("{what} rem"));
        };
        // f64: +-*/ exact on both backends; % exact on the CPU (fmod), within rounding on the GPU.
        let (dx, dy) = (h.arr(&x), h.arr(&y));
        let mut o: Vec<DeviceArray<f64>> = (0..5).map(|_| h.zeros(n)).collect();
        let [s, d, p, q, r] = &mut o[..] else { unreachable!() };
        h.run(&arith, LaunchConfig::for_elements(n, 256), (&dx, &dy, s, d, p, q, r)).unwrap();
        let outs: Vec<Vec<f64>> = o.iter().map(|a| a.to_vec().unwrap()).collect();
        check(outs, if h.is_gpu() { 1e-9 } else { 0.0 }, "f64");
        // f32, compared in f64 against the f32 operations.
        let (x32, y32): (Vec<f32>, Vec<f32>) = (x.iter().map(|v| *v as f32).collect(), y.iter().map(|v| *v as f32).collect());
        let (dx, dy) = (h.arr(&x32), h.arr(&y32));
        let mut o: Vec<DeviceArray<f32>> = (0..5).map(|_| h.zeros(n)).collect();
        let [s, d, p, q, r] = &mut o[..] else { unreachable!() };
        h.run(&arith, LaunchConfig::for_elements(n, 256), (&dx, &dy, s, d, p, q, r)).unwrap();
        let got: Vec<Vec<f32>> = o.iter().map(|a| a.to_vec().unwrap()).collect();
        let want: [Vec<f32>; 5] = [
            x32.iter().zip(&y32).map(|(a, b)| a + b).collect(),
            x32.iter().zip(&y32).map(|(a, b)| a - b).collect(),
            x32.iter().zip(&y32).map(|(a, b)| a * b).collect(),
            x32.iter().zip(&y32).map(|(a, b)| a / b).collect(),
            x32.iter().zip(&y32).map(|(a, b)| a % b).collect(),
        ];
        for k in 0..5 {
            let tol = if k == 4 && h.is_gpu() { 1e-4 } else { 0.0 };
            let g: Vec<f64> = got[k].iter().map(|v| *v as f64).collect();
            let w: Vec<f64> = want[k].iter().map(|v| *v as f64).collect();
            assert_close(&g, &w, tol, &format!("f32 op {k}"));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Bitwise operators and shifts (amounts masked as wrapping_shl/shr do), unary operators.

#[gpu_kernel]
fn bits<T: Int>(x: &[T], y: &[T], s: &[u32], and: &mut [T], or: &mut [T], xor: &mut [T], shl: &mut [T], shr: &mut [T], not: &mut [T]) {
    let i = grid(1);
    if i < x.len() {
        and[i] = x[i] & y[i];
        or[i] = x[i] | y[i];
        xor[i] = x[i] ^ y[i];
        shl[i] = x[i] << s[i];
        let mut v = x[i];
        v >>= s[i];
        shr[i] = v;
        not[i] = !x[i];
    }
}

macro_rules! bit_ops {
    ($h:expr, $($t:ty),*) => {$({
        let h: &Harness = $h;
        for n in SIZES {
            let x: Vec<$t> = h.vec(n, |h| h.next_u64() as $t);
            let y: Vec<$t> = h.vec(n, |h| h.next_u64() as $t);
            let s: Vec<u32> = h.vec(n, |h| (h.next_u64() % 200) as u32);
            let (dx, dy, ds) = (h.arr(&x), h.arr(&y), h.arr(&s));
            let mut o: Vec<DeviceArray<$t>> = (0..6).map(|_| h.zeros::<$t>(n)).collect();
            let [a, b, c, d, e, f] = &mut o[..] else { unreachable!() };
            h.run(&bits, LaunchConfig::for_elements(n, 128), (&dx, &dy, &ds, a, b, c, d, e, f)).unwrap();
            let want: [Vec<$t>; 6] = [
                x.iter().zip(&y).map(|(a, b)| a & b).collect(),
                x.iter().zip(&y).map(|(a, b)| a | b).collect(),
                x.iter().zip(&y).map(|(a, b)| a ^ b).collect(),
                x.iter().zip(&s).map(|(a, s)| a.wrapping_shl(*s)).collect(),
                x.iter().zip(&s).map(|(a, s)| a.wrapping_shr(*s)).collect(),
                x.iter().map(|a| !a).collect(),
            ];
            for (k, (o, w)) in o.iter().zip(&want).enumerate() {
                assert_eq!(&o.to_vec().unwrap(), w, "{} bit op {k}, n = {n}", stringify!($t));
            }
        }
    })*};
}

pub fn bitwise_and_shifts(h: &Harness) {
    bit_ops!(h, i8, i16, i32, i64, u8, u16, u32, u64);
}

#[gpu_kernel]
fn negate(x: &[i32], f: &[f64], b: &[bool], nx: &mut [i32], nf: &mut [f64], nb: &mut [bool]) {
    let i = grid(1);
    if i < x.len() {
        nx[i] = -x[i];
        nf[i] = -f[i];
        nb[i] = !b[i];
    }
}

pub fn unary_ops(h: &Harness) {
    for n in SIZES {
        let x: Vec<i32> = h.vec(n, |h| if h.next_u64() % 10 == 0 { i32::MIN } else { h.next_u64() as i32 });
        let f = h.vec(n, |h| h.f64_in(-1e9, 1e9));
        let b = h.vec(n, |h| h.next_u64() % 2 == 0);
        let (dx, df, db) = (h.arr(&x), h.arr(&f), h.arr(&b));
        let (mut nx, mut nf, mut nb) = (h.zeros::<i32>(n), h.zeros::<f64>(n), h.zeros::<bool>(n));
        h.run(&negate, LaunchConfig::for_elements(n, 64), (&dx, &df, &db, &mut nx, &mut nf, &mut nb)).unwrap();
        assert_eq!(nx.to_vec().unwrap(), x.iter().map(|v| v.wrapping_neg()).collect::<Vec<_>>());
        assert_eq!(nf.to_vec().unwrap(), f.iter().map(|v| -v).collect::<Vec<_>>());
        assert_eq!(nb.to_vec().unwrap(), b.iter().map(|v| !v).collect::<Vec<_>>());
    }
}

// ---------------------------------------------------------------------------------------------
// Comparisons (NaN included) and short-circuit logic.

#[gpu_kernel]
fn compare<T: Number>(x: &[T], y: &[T], out: &mut [u8]) {
    let i = grid(1);
    if i < x.len() {
        let a = x[i];
        let b = y[i];
        let mut m = 0u8;
        if a == b {
            m |= 1;
        }
        if a != b {
            m |= 2;
        }
        if a < b {
            m |= 4;
        }
        if a <= b {
            m |= 8;
        }
        if a > b {
            m |= 16;
        }
        if a >= b {
            m |= 32;
        }
        if (a < b && b != a) || !(a >= b) {
            m |= 64;
        }
        out[i] = m;
    }
}

#[allow(clippy::neg_cmp_op_on_partial_ord)] // NaN semantics are what is tested
fn cmp_mask<T: PartialOrd>(a: T, b: T) -> u8 {
    let mut m = 0u8;
    for (bit, c) in [a == b, a != b, a < b, a <= b, a > b, a >= b, (a < b && b != a) || !(a >= b)].into_iter().enumerate() {
        if c {
            m |= 1 << bit;
        }
    }
    m
}

pub fn comparisons(h: &Harness) {
    for n in SIZES {
        let x = h.vec(n, |h| match h.next_u64() % 6 {
            0 => f32::NAN,
            1 => 1.5,
            _ => h.f64_in(-2.0, 2.0) as f32,
        });
        let y = h.vec(n, |h| match h.next_u64() % 6 {
            0 => f32::NAN,
            1 => 1.5,
            _ => h.f64_in(-2.0, 2.0) as f32,
        });
        let mut out = h.zeros::<u8>(n);
        h.run(&compare, LaunchConfig::for_elements(n, 128), (&h.arr(&x), &h.arr(&y), &mut out)).unwrap();
        assert_eq!(out.to_vec().unwrap(), x.iter().zip(&y).map(|(a, b)| cmp_mask(*a, *b)).collect::<Vec<_>>(), "f32");
        let xi: Vec<i64> = h.vec(n, |h| (h.next_u64() % 5) as i64 - 2);
        let yi: Vec<i64> = h.vec(n, |h| (h.next_u64() % 5) as i64 - 2);
        let mut out = h.zeros::<u8>(n);
        h.run(&compare, LaunchConfig::for_elements(n, 128), (&h.arr(&xi), &h.arr(&yi), &mut out)).unwrap();
        assert_eq!(out.to_vec().unwrap(), xi.iter().zip(&yi).map(|(a, b)| cmp_mask(*a, *b)).collect::<Vec<_>>(), "i64");
        let xu: Vec<u16> = h.vec(n, |h| (h.next_u64() % 3) as u16 * 30000);
        let yu: Vec<u16> = h.vec(n, |h| (h.next_u64() % 3) as u16 * 30000);
        let mut out = h.zeros::<u8>(n);
        h.run(&compare, LaunchConfig::for_elements(n, 128), (&h.arr(&xu), &h.arr(&yu), &mut out)).unwrap();
        assert_eq!(out.to_vec().unwrap(), xu.iter().zip(&yu).map(|(a, b)| cmp_mask(*a, *b)).collect::<Vec<_>>(), "u16");
    }
}

/// Threads past the end test `i < n` first: without short-circuit evaluation, `x[i]` would be
/// read out of bounds (an error on the CPU backend).
#[gpu_kernel]
fn positive_or_flagged(x: &[f32], flag: &[bool], out: &mut [i32]) {
    let i = grid(1);
    let n = x.len();
    if i < n && x[i] > 0.0 || i < n && flag[i] {
        out[i] = 1;
    } else if i < n {
        out[i] = -1;
    }
}

pub fn short_circuit(h: &Harness) {
    for n in SIZES {
        let x = h.vec(n, |h| h.f64_in(-1.0, 1.0) as f32);
        let flag = h.vec(n, |h| h.next_u64() % 3 == 0);
        let mut out = h.zeros::<i32>(n);
        // Many more threads than elements.
        h.run(&positive_or_flagged, (n / 64 + 3, 64), (&h.arr(&x), &h.arr(&flag), &mut out)).unwrap();
        let want: Vec<i32> = x.iter().zip(&flag).map(|(v, f)| if *v > 0.0 || *f { 1 } else { -1 }).collect();
        assert_eq!(out.to_vec().unwrap(), want);
    }
}

// ---------------------------------------------------------------------------------------------
// `as` casts with Rust's semantics (saturating float → int, NaN → 0, truncation, extension).

#[gpu_kernel]
fn casts_from_float(
    f: &[f32],
    d: &[f64],
    f_i32: &mut [i32],
    f_u8: &mut [u8],
    d_i64: &mut [i64],
    d_u32: &mut [u32],
    d_f32: &mut [f32],
    f_f64: &mut [f64],
) {
    let k = grid(1);
    if k < f.len() {
        f_i32[k] = f[k] as i32;
        f_u8[k] = f[k] as u8;
        d_i64[k] = d[k] as i64;
        d_u32[k] = d[k] as u32;
        d_f32[k] = d[k] as f32;
        f_f64[k] = f[k] as f64;
    }
}

#[gpu_kernel]
fn casts_from_int(
    i: &[i32],
    u: &[u64],
    b: &[bool],
    s: &[i8],
    i_f32: &mut [f32],
    u_f64: &mut [f64],
    u_i8: &mut [i8],
    s_u64: &mut [u64],
    b_i32: &mut [i32],
    i_usize: &mut [usize],
) {
    let k = grid(1);
    if k < i.len() {
        i_f32[k] = i[k] as f32;
        u_f64[k] = u[k] as f64;
        u_i8[k] = u[k] as i8;
        s_u64[k] = s[k] as u64;
        b_i32[k] = b[k] as i32;
        i_usize[k] = i[k] as usize;
    }
}

fn eq_bits<T: PartialEq + std::fmt::Debug>(got: Vec<T>, want: Vec<T>, what: &str, same: impl Fn(&T, &T) -> bool) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (k, (g, w)) in got.iter().zip(&want).enumerate() {
        assert!(same(g, w), "{what}[{k}]: got {g:?}, want {w:?}");
    }
}

pub fn as_casts(h: &Harness) {
    let special = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1e30, -1e30, 255.9, 256.0, -0.9, -1.0, 2147483647.0, 4294967296.0];
    for n in SIZES {
        let d: Vec<f64> =
            h.vec(n, |h| if h.next_u64() % 4 == 0 { special[(h.next_u64() % special.len() as u64) as usize] } else { h.f64_in(-5e9, 5e9) });
        let f: Vec<f32> = d.iter().map(|v| if v.abs() > 1e20 || v.is_nan() { *v as f32 } else { (*v / 1e7) as f32 }).collect();
        let (mut o1, mut o2, mut o3, mut o4, mut o5, mut o6) =
            (h.zeros::<i32>(n), h.zeros::<u8>(n), h.zeros::<i64>(n), h.zeros::<u32>(n), h.zeros::<f32>(n), h.zeros::<f64>(n));
        h.run(
            &casts_from_float,
            LaunchConfig::for_elements(n, 128),
            (&h.arr(&f), &h.arr(&d), &mut o1, &mut o2, &mut o3, &mut o4, &mut o5, &mut o6),
        )
        .unwrap();
        assert_eq!(o1.to_vec().unwrap(), f.iter().map(|v| *v as i32).collect::<Vec<_>>(), "f32 as i32");
        assert_eq!(o2.to_vec().unwrap(), f.iter().map(|v| *v as u8).collect::<Vec<_>>(), "f32 as u8");
        assert_eq!(o3.to_vec().unwrap(), d.iter().map(|v| *v as i64).collect::<Vec<_>>(), "f64 as i64");
        assert_eq!(o4.to_vec().unwrap(), d.iter().map(|v| *v as u32).collect::<Vec<_>>(), "f64 as u32");
        let nan_eq32 = |a: &f32, b: &f32| a == b || (a.is_nan() && b.is_nan());
        let nan_eq64 = |a: &f64, b: &f64| a == b || (a.is_nan() && b.is_nan());
        eq_bits(o5.to_vec().unwrap(), d.iter().map(|v| *v as f32).collect(), "f64 as f32", nan_eq32);
        eq_bits(o6.to_vec().unwrap(), f.iter().map(|v| *v as f64).collect(), "f32 as f64", nan_eq64);

        let i: Vec<i32> = h.vec(n, |h| h.next_u64() as i32);
        let u: Vec<u64> = h.vec(n, |h| h.next_u64());
        let b: Vec<bool> = h.vec(n, |h| h.next_u64() % 2 == 1);
        let s: Vec<i8> = h.vec(n, |h| h.next_u64() as i8);
        let (mut p1, mut p2, mut p3, mut p4, mut p5, mut p6) =
            (h.zeros::<f32>(n), h.zeros::<f64>(n), h.zeros::<i8>(n), h.zeros::<u64>(n), h.zeros::<i32>(n), h.zeros::<usize>(n));
        h.run(
            &casts_from_int,
            LaunchConfig::for_elements(n, 128),
            (&h.arr(&i), &h.arr(&u), &h.arr(&b), &h.arr(&s), &mut p1, &mut p2, &mut p3, &mut p4, &mut p5, &mut p6),
        )
        .unwrap();
        assert_eq!(p1.to_vec().unwrap(), i.iter().map(|v| *v as f32).collect::<Vec<_>>(), "i32 as f32");
        assert_eq!(p2.to_vec().unwrap(), u.iter().map(|v| *v as f64).collect::<Vec<_>>(), "u64 as f64");
        assert_eq!(p3.to_vec().unwrap(), u.iter().map(|v| *v as i8).collect::<Vec<_>>(), "u64 as i8");
        assert_eq!(p4.to_vec().unwrap(), s.iter().map(|v| *v as u64).collect::<Vec<_>>(), "i8 as u64");
        assert_eq!(p5.to_vec().unwrap(), b.iter().map(|v| *v as i32).collect::<Vec<_>>(), "bool as i32");
        assert_eq!(p6.to_vec().unwrap(), i.iter().map(|v| *v as usize).collect::<Vec<_>>(), "i32 as usize");
    }
}

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
// Errors: typed, naming the kernel and the argument, and nothing runs.

pub fn launch_errors(h: &Harness) {
    let x = h.arr(&[1.0f32, 2.0, 3.0]);
    let y = h.arr(&[1.0f32, 2.0, 3.0]);
    let xi = h.arr(&[1i32, 2, 3]);
    let mut out = h.arr(&[7.0f32; 3]);

    let e = h.run(&add, (1, 32), (&xi, &y, &mut out)).unwrap_err();
    assert!(matches!(&e, Error::ArgType { kernel, param, position: 1, .. } if kernel == "add" && param == "x"), "{e}");
    assert!(e.to_string().contains("&[f32]") && e.to_string().contains("i32"), "{e}");

    let e = h.run(&add, (1, 32), (&x, &y)).unwrap_err();
    assert!(matches!(e, Error::ArgCount { expected: 3, got: 2, .. }), "{e}");

    let e = h.run(&add, (1, 32), (&x, &y, &out)).unwrap_err();
    assert!(matches!(&e, Error::ReadOnly { param, position: 3, .. } if param == "out"), "{e}");

    let e = h.run(&add, (1, 32), (&x, 2.0f32, &mut out)).unwrap_err();
    assert!(matches!(&e, Error::ArgType { param, .. } if param == "y"), "{e}");

    let limit = h.dev.max_threads_per_block();
    let e = h.run(&add, (1, limit + 1), (&x, &y, &mut out)).unwrap_err();
    assert!(matches!(&e, Error::LaunchConfig { kernel, .. } if kernel == "add"), "{e}");
    let e = h.run(&add, (1, (32, 32, 2)), (&x, &y, &mut out)).unwrap_err();
    assert!(matches!(e, Error::LaunchConfig { .. }), "{e}");
    let e = h.run(&add, (1, 0), (&x, &y, &mut out)).unwrap_err();
    assert!(matches!(e, Error::LaunchConfig { .. }), "{e}");
    let e = h.run(&add, (-1, 32), (&x, &y, &mut out)).unwrap_err();
    assert!(matches!(e, Error::LaunchConfig { .. }), "{e}");

    // A generic kernel: T bound to two types, and a bound that excludes the type.
    let xd = h.arr(&[1.0f64, 2.0, 3.0]);
    let mut yf = h.arr(&[0.0f32; 3]);
    let e = h.run(&axpy, (1, 32), (1.0f64, &xd, &mut yf)).unwrap_err();
    assert!(matches!(&e, Error::Generic { param, .. } if param == "y"), "{e}");
    let mut yi = h.arr(&[0i32; 3]);
    let e = h.run(&axpy, (1, 32), (1i32, &xi, &mut yi)).unwrap_err();
    assert!(e.to_string().contains("Float") && e.to_string().contains("i32"), "{e}");

    // Nothing ran: `out` is untouched.
    assert_eq!(out.to_vec().unwrap(), vec![7.0; 3]);

    // An empty grid is not an error: nothing to run.
    h.run(&add, (0, 32), (&x, &y, &mut out)).unwrap();
    assert_eq!(out.to_vec().unwrap(), vec![7.0; 3]);
}

#[gpu_kernel]
fn self_rem<T: Number>(x: &[T], out: &mut [T]) {
    let i = grid(1);
    if i < x.len() {
        out[i] = x[i] % x[i];
    }
}

pub fn specialization_errors(h: &Harness) {
    // bool does not satisfy the Number bound: binding fails before anything compiles.
    let b = h.arr(&[true, false]);
    let mut o = h.arr(&[false, false]);
    let e = h.run(&self_rem, (1, 32), (&b, &mut o)).unwrap_err();
    assert!(matches!(&e, Error::Generic { .. }) && e.to_string().contains("Number"), "{e}");
}

// ---------------------------------------------------------------------------------------------
// Math methods: accuracy in ulp against a reference (f32: the f64 result rounded; f64: the host's
// libm through Rust's methods).

/// Distance in units in the last place between two f32 (0 for equal values and for two NaNs).
pub fn ulps32(a: f32, b: f32) -> u64 {
    if a == b || (a.is_nan() && b.is_nan()) {
        return 0;
    }
    if a.is_nan() || b.is_nan() {
        return u64::MAX;
    }
    let ord = |x: f32| {
        let b = x.to_bits();
        if b & 0x8000_0000 != 0 {
            -((b & 0x7fff_ffff) as i64)
        } else {
            b as i64
        }
    };
    ord(a).abs_diff(ord(b))
}

pub fn ulps64(a: f64, b: f64) -> u64 {
    if a == b || (a.is_nan() && b.is_nan()) {
        return 0;
    }
    if a.is_nan() || b.is_nan() {
        return u64::MAX;
    }
    let ord = |x: f64| {
        let b = x.to_bits();
        if b & (1 << 63) != 0 {
            -((b & !(1 << 63)) as i128)
        } else {
            b as i128
        }
    };
    ord(a).abs_diff(ord(b)) as u64
}

#[gpu_kernel]
fn unary_math<T: Float>(which: u32, x: &[T], out: &mut [T]) {
    let i = grid(1);
    if i >= x.len() {
        return;
    }
    let v = x[i];
    let mut r = v;
    if which == 0 {
        r = v.sqrt();
    } else if which == 1 {
        r = v.exp();
    } else if which == 2 {
        r = v.exp2();
    } else if which == 3 {
        r = v.ln();
    } else if which == 4 {
        r = v.log2();
    } else if which == 5 {
        r = v.log10();
    } else if which == 6 {
        r = v.sin();
    } else if which == 7 {
        r = v.cos();
    } else if which == 8 {
        r = v.tan();
    } else if which == 9 {
        r = v.asin();
    } else if which == 10 {
        r = v.acos();
    } else if which == 11 {
        r = v.atan();
    } else if which == 12 {
        r = v.sinh();
    } else if which == 13 {
        r = v.cosh();
    } else if which == 14 {
        r = v.tanh();
    } else if which == 15 {
        r = v.abs();
    } else if which == 16 {
        r = v.floor();
    } else if which == 17 {
        r = v.ceil();
    } else if which == 18 {
        r = v.round();
    } else if which == 19 {
        r = v.trunc();
    } else if which == 20 {
        r = v.cbrt();
    } else if which == 21 {
        r = v.recip();
    } else if which == 22 {
        r = v.signum();
    } else if which == 23 {
        r = v.erf();
    } else if which == 24 {
        r = v.erfc();
    }
    out[i] = r;
}

#[gpu_kernel]
fn binary_math<T: Float>(which: u32, x: &[T], y: &[T], k: &[i32], out: &mut [T]) {
    let i = grid(1);
    if i < x.len() {
        let a = x[i];
        let b = y[i];
        if which == 0 {
            out[i] = a.powf(b);
        } else if which == 1 {
            out[i] = a.atan2(b);
        } else if which == 2 {
            out[i] = a.hypot(b);
        } else if which == 3 {
            out[i] = a.copysign(b);
        } else if which == 4 {
            out[i] = a.min(b);
        } else if which == 5 {
            out[i] = a.max(b);
        } else if which == 6 {
            out[i] = a.powi(k[i]);
        } else {
            out[i] = a.mul_add(b, a);
        }
    }
}

/// (name, input range, reference in f64, ulp bound: libdevice's documented maximum on the GPU;
/// on the CPU backend the larger of it and 2)
type Unary = (&'static str, (f64, f64), fn(f64) -> f64, u64);

fn erf64(x: f64) -> f64 {
    gpujit::kernel_prelude::Float::erf(x)
}
fn erfc64(x: f64) -> f64 {
    gpujit::kernel_prelude::Float::erfc(x)
}

const UNARY: [Unary; 25] = [
    ("sqrt", (-1.0, 1e6), f64::sqrt, 1),
    ("exp", (-80.0, 80.0), f64::exp, 2),
    ("exp2", (-120.0, 120.0), f64::exp2, 2),
    ("ln", (-1.0, 1e6), f64::ln, 2),
    ("log2", (1e-3, 1e6), f64::log2, 2),
    ("log10", (1e-3, 1e6), f64::log10, 2),
    ("sin", (-100.0, 100.0), f64::sin, 2),
    ("cos", (-100.0, 100.0), f64::cos, 2),
    ("tan", (-1.5, 1.5), f64::tan, 4),
    ("asin", (-1.0, 1.0), f64::asin, 4),
    ("acos", (-1.0, 1.0), f64::acos, 4),
    ("atan", (-1e3, 1e3), f64::atan, 2),
    ("sinh", (-80.0, 80.0), f64::sinh, 3),
    ("cosh", (-80.0, 80.0), f64::cosh, 2),
    ("tanh", (-10.0, 10.0), f64::tanh, 2),
    ("abs", (-1e3, 1e3), f64::abs, 0),
    ("floor", (-1e3, 1e3), f64::floor, 0),
    ("ceil", (-1e3, 1e3), f64::ceil, 0),
    ("round", (-1e3, 1e3), f64::round, 0),
    ("trunc", (-1e3, 1e3), f64::trunc, 0),
    ("cbrt", (-1e6, 1e6), f64::cbrt, 4), // glibc documents up to 4 ulp for cbrt
    ("recip", (-1e3, 1e3), f64::recip, 1),
    ("signum", (-1e3, 1e3), f64::signum, 0),
    ("erf", (-5.0, 5.0), erf64, 2),
    ("erfc", (-5.0, 9.0), erfc64, 5), // CUDA documents 4 ulp for erfcf, 5 for erfc
];

fn math_inputs(h: &Harness, n: usize, range: (f64, f64)) -> Vec<f64> {
    let special: [f64; 8] = [0.0, -0.0, 0.5, -0.5, 1.5, -2.5, 1.0, -1.0];
    h.vec(
        n,
        |h| if h.next_u64() % 8 == 0 { special[(h.next_u64() % 8) as usize].clamp(range.0, range.1) } else { h.f64_in(range.0, range.1) },
    )
}

pub fn math_unary(h: &Harness) {
    let n = 1000;
    let mut worst = Vec::new();
    for (which, (name, range, reference, gpu_ulps)) in UNARY.iter().enumerate() {
        let x = math_inputs(h, n, *range);
        // f32: against the f64 result rounded to f32. The CPU backend calls the host's libm.
        let x32: Vec<f32> = x.iter().map(|v| *v as f32).collect();
        let mut out = h.zeros::<f32>(n);
        h.run(&unary_math, LaunchConfig::for_elements(n, 128), (which as u32, &h.arr(&x32), &mut out)).unwrap();
        let tol32 = if h.is_gpu() { *gpu_ulps } else { (*gpu_ulps).max(2) };
        let mut max32 = 0;
        for (i, g) in out.to_vec().unwrap().iter().enumerate() {
            let want = reference(x32[i] as f64) as f32;
            let u = ulps32(*g, want);
            assert!(u <= tol32, "f32 {name}({}) = {g}, want {want} ({u} ulp > {tol32})", x32[i]);
            max32 = max32.max(u);
        }
        // f64: against Rust's methods on the host (the JIT may bind another libm build than Rust's
        // std does, e.g. compiler-builtins' `cbrt`, so the CPU backend too gets 2 ulp).
        let mut out = h.zeros::<f64>(n);
        h.run(&unary_math, LaunchConfig::for_elements(n, 128), (which as u32, &h.arr(&x), &mut out)).unwrap();
        let tol64 = if h.is_gpu() { *gpu_ulps } else { (*gpu_ulps).max(2) };
        let mut max64 = 0;
        for (i, g) in out.to_vec().unwrap().iter().enumerate() {
            let want = reference(x[i]);
            let u = ulps64(*g, want);
            assert!(u <= tol64, "f64 {name}({}) = {g}, want {want} ({u} ulp > {tol64})", x[i]);
            max64 = max64.max(u);
        }
        worst.push(format!("{name} {max32}/{max64}"));
    }
    eprintln!("max ulp (f32/f64) on {}: {}", h.dev.name(), worst.join(", "));
}

pub fn math_binary(h: &Harness) {
    let n = 777;
    type Binary = (&'static str, fn(f64, f64, i32) -> f64, u64);
    let ops: [Binary; 8] = [
        ("powf", |a, b, _| a.powf(b), 4),
        ("atan2", |a, b, _| a.atan2(b), 3),
        ("hypot", |a, b, _| a.hypot(b), 2),
        ("copysign", |a, b, _| a.copysign(b), 0),
        ("min", |a, b, _| a.min(b), 0),
        ("max", |a, b, _| a.max(b), 0),
        ("powi", |a, _, k| a.powi(k), 4),
        ("mul_add", |a, b, _| a.mul_add(b, a), 0),
    ];
    for (which, (name, reference, gpu_ulps)) in ops.iter().enumerate() {
        let x =
            h.vec(
                n,
                |h| if h.next_u64() % 9 == 0 { f64::NAN } else { h.f64_in(0.01, 20.0) * if h.next_u64() % 3 == 0 { -1.0 } else { 1.0 } },
            );
        let y = h.vec(n, |h| if h.next_u64() % 9 == 0 { f64::NAN } else { h.f64_in(-8.0, 8.0) });
        let k: Vec<i32> = h.vec(n, |h| (h.next_u64() % 21) as i32 - 10);
        let (x32, y32): (Vec<f32>, Vec<f32>) = (x.iter().map(|v| *v as f32).collect(), y.iter().map(|v| *v as f32).collect());
        let mut out = h.zeros::<f32>(n);
        h.run(&binary_math, LaunchConfig::for_elements(n, 128), (which as u32, &h.arr(&x32), &h.arr(&y32), &h.arr(&k), &mut out)).unwrap();
        // powi's f32 result is computed by repeated multiplication in f32, both on the host and by libdevice.
        let tol32 = if h.is_gpu() {
            *gpu_ulps
        } else if *name == "powi" {
            8
        } else {
            2
        };
        for (i, g) in out.to_vec().unwrap().iter().enumerate() {
            let want = if *name == "powi" { x32[i].powi(k[i]) } else { reference(x32[i] as f64, y32[i] as f64, k[i]) as f32 };
            let tol = if *name == "powi" && h.is_gpu() { 8 } else { tol32 };
            assert!(ulps32(*g, want) <= tol, "f32 {name}({}, {}, {}) = {g}, want {want}", x32[i], y32[i], k[i]);
        }
        let mut out = h.zeros::<f64>(n);
        h.run(&binary_math, LaunchConfig::for_elements(n, 128), (which as u32, &h.arr(&x), &h.arr(&y), &h.arr(&k), &mut out)).unwrap();
        let tol64 = if h.is_gpu() { *gpu_ulps } else { 2 };
        for (i, g) in out.to_vec().unwrap().iter().enumerate() {
            let want = reference(x[i], y[i], k[i]);
            assert!(ulps64(*g, want) <= tol64, "f64 {name}({}, {}, {}) = {g}, want {want}", x[i], y[i], k[i]);
        }
    }
}

#[gpu_kernel]
fn int_math(x: &[i32], y: &[i32], u: &[u8], v: &[u8], out: &mut [i32], uo: &mut [u8]) {
    let i = grid(1);
    if i < x.len() {
        out[4 * i] = x[i].abs();
        out[4 * i + 1] = x[i].min(y[i]);
        out[4 * i + 2] = x[i].max(y[i]);
        out[4 * i + 3] = x[i].signum();
        uo[2 * i] = u[i].min(v[i]);
        uo[2 * i + 1] = u[i].max(v[i]);
    }
}

pub fn math_integers(h: &Harness) {
    for n in SIZES {
        let x: Vec<i32> = h.vec(n, |h| if h.next_u64() % 10 == 0 { i32::MIN } else { h.next_u64() as i32 });
        let y: Vec<i32> = h.vec(n, |h| h.next_u64() as i32);
        let (u, v): (Vec<u8>, Vec<u8>) = (h.vec(n, |h| h.next_u64() as u8), h.vec(n, |h| h.next_u64() as u8));
        let mut out = h.zeros::<i32>(4 * n);
        let mut uo = h.zeros::<u8>(2 * n);
        h.run(&int_math, LaunchConfig::for_elements(n, 128), (&h.arr(&x), &h.arr(&y), &h.arr(&u), &h.arr(&v), &mut out, &mut uo)).unwrap();
        let want: Vec<i32> = (0..n).flat_map(|i| [x[i].wrapping_abs(), x[i].min(y[i]), x[i].max(y[i]), x[i].signum()]).collect();
        assert_eq!(out.to_vec().unwrap(), want);
        let want: Vec<u8> = (0..n).flat_map(|i| [u[i].min(v[i]), u[i].max(v[i])]).collect();
        assert_eq!(uo.to_vec().unwrap(), want);
    }
}

#[gpu_kernel(fastmath)]
fn fast_sin_exp(x: &[f32], s: &mut [f32], e: &mut [f32]) {
    let i = grid(1);
    if i < x.len() {
        s[i] = x[i].sin();
        e[i] = (x[i] * 0.5).exp() / 2.0;
    }
}

/// `fastmath`: approximate functions within their documented error.
pub fn fastmath(h: &Harness) {
    let n = 4099;
    let x = h.vec(n, |h| h.f64_in(-std::f64::consts::PI, std::f64::consts::PI) as f32);
    let (mut s, mut e) = (h.zeros::<f32>(n), h.zeros::<f32>(n));
    h.run(&fast_sin_exp, LaunchConfig::for_elements(n, 256), (&h.arr(&x), &mut s, &mut e)).unwrap();
    for (i, (sv, ev)) in s.to_vec().unwrap().iter().zip(e.to_vec().unwrap()).enumerate() {
        let xs = x[i] as f64;
        assert!((*sv as f64 - xs.sin()).abs() < 2e-6, "fast sin({xs}) = {sv}");
        let want = (xs * 0.5).exp() / 2.0;
        assert!(((ev as f64 - want) / want).abs() < 2e-6, "fast exp({xs}) = {ev}, want {want}");
    }
}

#[gpu_kernel(launch_bounds = 128, max_registers = 32)]
fn bounded(x: &mut [f32]) {
    let i = grid(1);
    if i < x.len() {
        x[i] += 1.0;
    }
}

/// `launch_bounds` and `max_registers` reach the PTX; a larger block is refused before launch.
pub fn kernel_options(h: &Harness) {
    let mut x = h.arr(&[1.0f32; 300]);
    h.run(&bounded, LaunchConfig::for_elements(300, 128), (&mut x,)).unwrap();
    assert_eq!(x.to_vec().unwrap(), vec![2.0; 300]);
    let e = h.run(&bounded, LaunchConfig::for_elements(300, 256), (&mut x,)).unwrap_err();
    assert!(matches!(&e, Error::LaunchConfig { .. }) && e.to_string().contains("launch_bounds = 128"), "{e}");
    assert_eq!(x.to_vec().unwrap(), vec![2.0; 300]);
    let target = NvptxTarget::sm(90).unwrap();
    let ptx = bounded.ptx(&target, (&mut x,)).unwrap().ptx;
    assert!(ptx.contains(".maxntid 128, 1, 1") && ptx.contains(".maxnreg 32"), "{ptx}");
    let ptx = fast_sin_exp.ptx(&target, (&x, &mut h.zeros::<f32>(1), &mut h.zeros::<f32>(1))).unwrap().ptx;
    assert!(ptx.contains("sin.approx.ftz.f32") && ptx.contains("ex2.approx.ftz.f32"), "{ptx}");
}

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

// ---------------------------------------------------------------------------------------------
// N-D strided arrays.

/// The 5-point Laplacian on any 2-D layout.
#[gpu_kernel]
fn laplacian(u: &Array<f32, 2>, out: &mut Array<f32, 2>) {
    let (j, i) = grid(2);
    let (rows, cols) = (u.shape(0), u.shape(1));
    if i >= 1 && j >= 1 && i + 1 < rows && j + 1 < cols {
        out[[i, j]] = u[[i - 1, j]] + u[[i + 1, j]] + u[[i, j - 1]] + u[[i, j + 1]] - 4.0 * u[[i, j]];
    }
}

fn laplacian_ref(u: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; rows * cols];
    for i in 1..rows.saturating_sub(1) {
        for j in 1..cols.saturating_sub(1) {
            out[i * cols + j] =
                u[(i - 1) * cols + j] + u[(i + 1) * cols + j] + u[i * cols + j - 1] + u[i * cols + j + 1] - 4.0 * u[i * cols + j];
        }
    }
    out
}

fn grid_2d(rows: usize, cols: usize) -> ((usize, usize), (usize, usize)) {
    ((cols.div_ceil(16).max(1), rows.div_ceil(8).max(1)), (16, 8))
}

pub fn strided_stencil(h: &Harness) {
    let (r0, c0) = (80usize, 90usize);
    let data = h.vec(r0 * c0, |h| h.f64_in(-1.0, 1.0) as f32);
    let u = DeviceArray::from_shape(&h.dev, &[r0, c0], &data).unwrap();
    // C-contiguous.
    let mut out = DeviceArray::<f32>::zeros_shape(&h.dev, &[r0, c0]).unwrap();
    let (g, b) = grid_2d(r0, c0);
    h.run(&laplacian, (g, b), (&u, &mut out)).unwrap();
    assert_eq!(out.to_vec().unwrap(), laplacian_ref(&data, r0, c0), "contiguous");
    // A transposed view (strides (1, 90)).
    let ut = u.view().t();
    let logical = ut.to_vec().unwrap();
    let mut out = DeviceArray::<f32>::zeros_shape(&h.dev, &[c0, r0]).unwrap();
    let (g, b) = grid_2d(c0, r0);
    h.run(&laplacian, (g, b), (ut, &mut out)).unwrap();
    assert_eq!(out.to_vec().unwrap(), laplacian_ref(&logical, c0, r0), "transposed");
    // Rows 3..70 every 2nd, columns backwards from 79 to 5 every 3rd (negative stride); written
    // into a strided view of a larger output.
    let us = u.view().slice(0, 3..70, 2).unwrap().slice(1, 5..80, -3).unwrap();
    let (rows, cols) = (us.shape()[0], us.shape()[1]);
    let logical = us.to_vec().unwrap();
    let mut big = DeviceArray::<f32>::zeros_shape(&h.dev, &[2 * rows, cols + 7]).unwrap();
    let mut target = big.view_mut().slice(0, 0..2 * rows, 2).unwrap().slice(1, 7..cols + 7, 1).unwrap();
    let (g, b) = grid_2d(rows, cols);
    h.run(&laplacian, (g, b), (&us, &mut target)).unwrap();
    assert_eq!(target.to_vec().unwrap(), laplacian_ref(&logical, rows, cols), "sliced, negative stride");
    // The other rows of `big` stay untouched.
    let all = big.to_vec().unwrap();
    assert!((0..rows).all(|r| all[(2 * r + 1) * (cols + 7)..(2 * r + 2) * (cols + 7)].iter().all(|v| *v == 0.0)));
}

/// Sums a 3-D array over its first two axes, and reports its strides.
#[gpu_kernel]
fn sum_planes(a: &Array<i64, 3>, out: &mut [i64], strides: &mut [i64]) {
    let k = grid(1);
    if k < a.shape(2) {
        let mut s = 0;
        for i in 0..a.shape(0) {
            for j in 0..a.shape(1) {
                s += a[[i, j, k]];
            }
        }
        out[k] = s;
    }
    if k == 0 {
        strides[0] = a.stride(0) as i64;
        strides[1] = a.stride(1) as i64;
        strides[2] = a.stride(2) as i64;
        strides[3] = a.len() as i64;
    }
}

pub fn three_d_arrays(h: &Harness) {
    let (n0, n1, n2) = (5usize, 7usize, 11usize);
    let data: Vec<i64> = h.vec(n0 * n1 * n2, |h| (h.next_u64() % 1000) as i64);
    let a = DeviceArray::from_shape(&h.dev, &[n0, n1, n2], &data).unwrap();
    let (mut out, mut strides) = (h.zeros::<i64>(n2), h.zeros::<i64>(4));
    h.run(&sum_planes, LaunchConfig::for_elements(n2, 32), (&a, &mut out, &mut strides)).unwrap();
    let want: Vec<i64> = (0..n2).map(|k| (0..n0 * n1).map(|ij| data[ij * n2 + k]).sum()).collect();
    assert_eq!(out.to_vec().unwrap(), want);
    assert_eq!(strides.to_vec().unwrap(), vec![(n1 * n2) as i64, n2 as i64, 1, (n0 * n1 * n2) as i64]);
    // Axes permuted (2, 0, 1): a strided specialization of the same kernel.
    let p = a.view().permuted(&[1, 2, 0]).unwrap();
    let (mut out, mut strides) = (h.zeros::<i64>(n0), h.zeros::<i64>(4));
    h.run(&sum_planes, LaunchConfig::for_elements(n0, 32), (&p, &mut out, &mut strides)).unwrap();
    let want: Vec<i64> = (0..n0).map(|i| data[i * n1 * n2..(i + 1) * n1 * n2].iter().sum()).collect();
    assert_eq!(out.to_vec().unwrap(), want);
    assert_eq!(strides.to_vec().unwrap(), vec![n2 as i64, 1, (n1 * n2) as i64, (n0 * n1 * n2) as i64]);
    let ir = sum_planes.ir((&p, &mut out, &mut strides)).unwrap().to_string();
    assert!(ir.contains("a: &Array<i64, 3, strided>"), "{ir}");
    // A 1-D array for a 3-D parameter: a typed error naming the parameter.
    let flat = h.arr(&data);
    let e = h.run(&sum_planes, (1, 32), (&flat, &mut out, &mut strides)).unwrap_err();
    assert!(matches!(&e, Error::ArgType { param, .. } if param == "a"), "{e}");
    assert!(e.to_string().contains("&Array<i64, 3>") && e.to_string().contains("1-D"), "{e}");
}

// ---------------------------------------------------------------------------------------------
// Device functions.

#[gpu_device]
pub fn clamp_to<T: Float>(v: T, lo: T, hi: T) -> T {
    if v < lo {
        lo
    } else if v > hi {
        hi
    } else {
        v
    }
}

#[gpu_device]
fn square_clamped(x: f64) -> f64 {
    clamp_to(x * x, 0.0, 1.0)
}

#[gpu_device]
fn dot3(a: &[f32], b: &[f32], base: usize) -> f32 {
    let mut s = 0.0;
    for k in 0..3 {
        s += a[base + k] * b[base + k];
    }
    s
}

#[gpu_device]
fn first_square_above(v: i32) -> i32 {
    for i in 0..100 {
        if i * i > v {
            return i;
        }
    }
    -1
}

#[gpu_device]
fn scale_row(m: &mut Array<f32, 2>, row: usize, k: f32) {
    for j in 0..m.shape(1) {
        m[[row, j]] *= k;
    }
}

#[gpu_device]
fn warp_total(v: i64) -> i64 {
    let mut s = v;
    let mut offset = 16;
    while offset > 0 {
        s += shfl_xor_sync(0xffffffff, s, offset);
        offset /= 2;
    }
    s
}

#[gpu_kernel]
fn device_calls(x: &[f32], out: &mut [f32], d: &[f64], dout: &mut [f64], v: &[i32], vout: &mut [i32], dots: &mut [f32]) {
    let i = grid(1);
    if i < x.len() {
        out[i] = clamp_to(x[i], -0.5, 0.5);
        dout[i] = square_clamped(d[i]);
        vout[i] = first_square_above(v[i]);
    }
    if i + 3 <= x.len() {
        dots[i] = dot3(x, x, i);
    }
}

#[gpu_kernel]
fn device_rows(m: &mut Array<f32, 2>, k: f32) {
    let r = grid(1);
    if r < m.shape(0) {
        scale_row(m, r, k + r as f32);
    }
}

#[gpu_kernel]
fn device_warp_sums(x: &[i64], out: &mut [i64]) {
    let i = grid(1);
    let mut v = 0;
    if i < x.len() {
        v = x[i];
    }
    let t = warp_total(v);
    if i < x.len() {
        out[i] = t;
    }
}

pub fn device_functions(h: &Harness) {
    // Device functions stay ordinary Rust functions.
    assert_eq!(clamp_to(2.0f32, 0.0, 1.0), 1.0);
    assert_eq!(first_square_above(10), 4);
    for n in SIZES {
        let x = h.vec(n, |h| h.f64_in(-1.0, 1.0) as f32);
        let d = h.vec(n, |h| h.f64_in(-2.0, 2.0));
        let v: Vec<i32> = h.vec(n, |h| (h.next_u64() % 12000) as i32 - 100);
        let (mut out, mut dout, mut vout, mut dots) = (h.zeros::<f32>(n), h.zeros::<f64>(n), h.zeros::<i32>(n), h.zeros::<f32>(n));
        h.run(
            &device_calls,
            LaunchConfig::for_elements(n, 128),
            (&h.arr(&x), &mut out, &h.arr(&d), &mut dout, &h.arr(&v), &mut vout, &mut dots),
        )
        .unwrap();
        let clamped: Vec<f32> = x.iter().map(|v| v.clamp(-0.5, 0.5)).collect();
        assert_eq!(out.to_vec().unwrap(), clamped);
        assert_eq!(dout.to_vec().unwrap(), d.iter().map(|v| (v * v).clamp(0.0, 1.0)).collect::<Vec<_>>());
        assert_eq!(vout.to_vec().unwrap(), v.iter().map(|v| first_square_above(*v)).collect::<Vec<_>>());
        let got = dots.to_vec().unwrap();
        for i in 0..n.saturating_sub(2) {
            let want: f32 = (0..3).map(|k| x[i + k] * x[i + k]).sum();
            assert!((got[i] - want).abs() <= 1e-6, "dot3 at {i}: {} vs {want}", got[i]);
        }
    }
    // An array argument that is a strided view; a call as a statement.
    let (rows, cols) = (9usize, 13usize);
    let data = h.vec(rows * cols, |h| h.f64_in(-1.0, 1.0) as f32);
    let mut m = DeviceArray::from_shape(&h.dev, &[rows, cols], &data).unwrap();
    let mut t = m.view_mut().t();
    h.run(&device_rows, LaunchConfig::for_elements(cols, 32), (&mut t, 2.0f32)).unwrap();
    let got = m.to_vec().unwrap();
    for r in 0..rows {
        for c in 0..cols {
            assert_eq!(got[r * cols + c], data[r * cols + c] * (2.0 + c as f32), "[{r}][{c}]");
        }
    }
    // A device function with warp shuffles.
    for n in [1usize, 100, 1000] {
        let x: Vec<i64> = h.vec(n, |h| (h.next_u64() % 1000) as i64);
        let mut out = h.zeros::<i64>(n);
        h.run(&device_warp_sums, (n.div_ceil(64), 64), (&h.arr(&x), &mut out)).unwrap();
        let want: Vec<i64> = (0..n).map(|i| (i / 32 * 32..i / 32 * 32 + 32).map(|j| if j < n { x[j] } else { 0 }).sum()).collect();
        assert_eq!(out.to_vec().unwrap(), want, "n = {n}");
    }
}

// ---------------------------------------------------------------------------------------------
// Bounds checks: always on the CPU backend, with `boundscheck` on the GPU.

#[gpu_kernel(boundscheck)]
fn shifted_copy(x: &[f32], out: &mut [f32]) {
    let i = grid(1);
    if i < out.len() {
        out[i] = x[i + 1];
    }
}

pub fn bounds_checks(h: &Harness) {
    let n = 1000;
    let x = h.vec(n, |h| h.f64_in(-1.0, 1.0) as f32);
    let dx = h.arr(&x);
    let mut out = h.zeros::<f32>(n);
    let e = h.run(&shifted_copy, LaunchConfig::for_elements(n, 128), (&dx, &mut out)).unwrap_err();
    match &e {
        Error::OutOfBounds { kernel, array, axis, index, len, shape, tx, bx, .. } => {
            assert_eq!((kernel.as_str(), array.as_str(), *axis, *index, *len), ("shifted_copy", "x", 0, 1000, 1000), "{e}");
            assert_eq!(shape, &vec![1000], "{e}");
            assert_eq!((*bx as usize) * 128 + *tx as usize, 999, "the thread: {e}");
        }
        other => panic!("expected OutOfBounds, got {other}"),
    }
    // In-bounds threads did their work; the bad access was skipped.
    let got = out.to_vec().unwrap();
    assert_eq!(&got[..n - 1], &x[1..]);
    // The record was cleared: a correct launch of the same kernel succeeds.
    let mut short = h.zeros::<f32>(n - 1);
    h.run(&shifted_copy, LaunchConfig::for_elements(n - 1, 128), (&dx, &mut short)).unwrap();
    assert_eq!(short.to_vec().unwrap(), x[1..].to_vec());
}

// ---------------------------------------------------------------------------------------------
// f16 and bf16: computed in f32 and rounded to nearest even, as the `half` crate does.

#[gpu_kernel]
fn half_ops<T: Float>(x: &[T], y: &[T], out: &mut [T], cmp: &mut [u8]) {
    let i = grid(1);
    if i < x.len() {
        let (a, b) = (x[i], y[i]);
        out[6 * i] = a + b;
        out[6 * i + 1] = a - b;
        out[6 * i + 2] = a * b;
        out[6 * i + 3] = a / b;
        out[6 * i + 4] = -a;
        out[6 * i + 5] = a.abs().sqrt();
        let mut c = 0u8;
        if a < b {
            c |= 1;
        }
        if a == b {
            c |= 2;
        }
        cmp[i] = c;
    }
}

macro_rules! check_half_ops {
    ($h:expr, $t:ty) => {{
        let h: &Harness = $h;
        for n in SIZES {
            let x: Vec<$t> = h.vec(n, |h| <$t>::from_f32(h.f64_in(-100.0, 100.0) as f32));
            let y: Vec<$t> =
                h.vec(n, |h| if h.next_u64() % 7 == 0 { <$t>::from_f32(0.0) } else { <$t>::from_f32(h.f64_in(-3.0, 3.0) as f32) });
            let (mut out, mut cmp) = (h.zeros::<$t>(6 * n), h.zeros::<u8>(n));
            h.run(&half_ops, LaunchConfig::for_elements(n, 128), (&h.arr(&x), &h.arr(&y), &mut out, &mut cmp)).unwrap();
            let got = out.to_vec().unwrap();
            for i in 0..n {
                let (a, b) = (x[i], y[i]);
                let want = [a + b, a - b, a * b, a / b, -a, <$t>::from_f32(a.to_f32().abs().sqrt())];
                for k in 0..6 {
                    let (g, w) = (got[6 * i + k], want[k]);
                    assert!(
                        g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan()),
                        "{} op {k} on ({a}, {b}): {g} vs {w}",
                        stringify!($t)
                    );
                }
            }
            let want_cmp: Vec<u8> = x.iter().zip(&y).map(|(a, b)| (a < b) as u8 | ((a == b) as u8) << 1).collect();
            assert_eq!(cmp.to_vec().unwrap(), want_cmp);
        }
    }};
}

#[gpu_kernel]
fn half_convert(x: &[f32], hx: &mut [f16], bx: &mut [bf16], back: &mut [f64]) {
    let i = grid(1);
    if i < x.len() {
        hx[i] = f16::from_f32(x[i]);
        bx[i] = bf16::from_f32(x[i]);
        back[2 * i] = hx[i].to_f64();
        back[2 * i + 1] = bx[i].to_f32() as f64;
    }
}

#[gpu_kernel]
fn half_atomics(x: &[f16], y: &[bf16], totals_h: &mut [f16], totals_b: &mut [bf16], shuffled: &mut [f16]) {
    let i = grid(1);
    let mut v = f16::from_f32(0.0);
    if i < x.len() {
        v = x[i];
        atomic_add(totals_h, 0, x[i]);
        atomic_add(totals_b, 0, y[i]);
    }
    let s = shfl_xor_sync(0xffffffff, v, 1);
    if i < x.len() {
        shuffled[i] = s;
    }
}

pub fn half_floats(h: &Harness) {
    check_half_ops!(h, f16);
    check_half_ops!(h, bf16);
    // Conversions: specials, overflow, subnormals and ties round to nearest even.
    let special = [f32::NAN, f32::INFINITY, -f32::INFINITY, 70000.0, -1e-7, 6e-8, 1.0 + 1.0 / 2048.0, 1.0 + 3.0 / 2048.0, 3.0e38, -0.0];
    let n = 2000;
    let x: Vec<f32> = (0..n)
        .map(|i| if i < special.len() { special[i] } else { (h.f64_in(-1.0, 1.0) * 10f64.powi((h.next_u64() % 12) as i32 - 6)) as f32 })
        .collect();
    let (mut hx, mut bx, mut back) = (h.zeros::<f16>(n), h.zeros::<bf16>(n), h.zeros::<f64>(2 * n));
    h.run(&half_convert, LaunchConfig::for_elements(n, 256), (&h.arr(&x), &mut hx, &mut bx, &mut back)).unwrap();
    let (hx, bx, back) = (hx.to_vec().unwrap(), bx.to_vec().unwrap(), back.to_vec().unwrap());
    for i in 0..n {
        let (wh, wb) = (f16::from_f32(x[i]), bf16::from_f32(x[i]));
        assert!(hx[i].to_bits() == wh.to_bits() || (hx[i].is_nan() && wh.is_nan()), "f16::from_f32({}) = {} vs {}", x[i], hx[i], wh);
        assert!(bx[i].to_bits() == wb.to_bits() || (bx[i].is_nan() && wb.is_nan()), "bf16::from_f32({}) = {} vs {}", x[i], bx[i], wb);
        let (b0, b1) = (back[2 * i], back[2 * i + 1]);
        assert!(b0 == wh.to_f64() || (b0.is_nan() && wh.is_nan()), "f16 → f64");
        assert!(b1 == wb.to_f64() || (b1.is_nan() && wb.is_nan()), "bf16 → f64");
    }
    // Atomic add (exact: small integers) and shuffles.
    let n = 100;
    let xs: Vec<f16> = h.vec(n, |h| f16::from_f32((h.next_u64() % 3) as f32));
    let ys: Vec<bf16> = h.vec(n, |h| bf16::from_f32((h.next_u64() % 3) as f32));
    let (mut th, mut tb, mut sh) = (h.zeros::<f16>(1), h.zeros::<bf16>(1), h.zeros::<f16>(n));
    h.run(&half_atomics, (4, 32), (&h.arr(&xs), &h.arr(&ys), &mut th, &mut tb, &mut sh)).unwrap();
    assert_eq!(th.to_vec().unwrap()[0].to_f32(), xs.iter().map(|v| v.to_f32()).sum::<f32>());
    assert_eq!(tb.to_vec().unwrap()[0].to_f32(), ys.iter().map(|v| v.to_f32()).sum::<f32>());
    let want: Vec<f16> = (0..n).map(|i| if (i ^ 1) < n { xs[i ^ 1] } else { f16::from_f32(0.0) }).collect();
    assert_eq!(sh.to_vec().unwrap(), want);
}

// ---------------------------------------------------------------------------------------------
// Grid synchronization (cooperative launch).

#[gpu_kernel]
fn grid_phases(x: &[i64], tmp: &mut [i64], out: &mut [i64]) {
    let i = grid(1);
    let n = x.len();
    if i < n {
        tmp[i] = x[i] * 2;
    }
    grid_sync();
    // Read what threads of other blocks wrote before the barrier.
    if i < n {
        out[i] = tmp[n - 1 - i] + 1;
    }
    grid_sync();
    if i < n {
        tmp[i] = out[(i + 37) % n];
    }
}

pub fn grid_synchronization(h: &Harness) {
    for n in [1usize, 300, 1000] {
        let x: Vec<i64> = h.vec(n, |h| (h.next_u64() % 1000) as i64);
        let (mut tmp, mut out) = (h.zeros::<i64>(n), h.zeros::<i64>(n));
        h.run(&grid_phases, (8, 128), (&h.arr(&x), &mut tmp, &mut out)).unwrap();
        let want_out: Vec<i64> = (0..n).map(|i| x[n - 1 - i] * 2 + 1).collect();
        assert_eq!(out.to_vec().unwrap(), want_out, "n = {n}");
        assert_eq!(tmp.to_vec().unwrap(), (0..n).map(|i| want_out[(i + 37) % n]).collect::<Vec<_>>(), "n = {n}");
    }
    // A grid too large to be resident at once is refused before launching.
    let x = h.arr(&[1i64; 4]);
    let (mut tmp, mut out) = (h.zeros::<i64>(4), h.zeros::<i64>(4));
    let e = h.run(&grid_phases, (1_000_000, 1024), (&x, &mut tmp, &mut out)).unwrap_err();
    assert!(matches!(&e, Error::LaunchConfig { kernel, .. } if kernel == "grid_phases") && e.to_string().contains("grid_sync"), "{e}");
}

#[gpu_kernel]
fn add_2d(a: &Array<f32, 2>, b: &Array<f32, 2>, out: &mut Array<f32, 2>) {
    let (j, i) = grid(2);
    if i < out.shape(0) && j < out.shape(1) {
        out[[i, j]] = a[[i, j]] + b[[i, j]];
    }
}

/// Broadcasting: a row and a column repeated across a matrix through zero strides.
pub fn broadcast_views(h: &Harness) {
    let (rows, cols) = (37usize, 53usize);
    let row = h.vec(cols, |h| h.f64_in(-1.0, 1.0) as f32);
    let col = h.vec(rows, |h| h.f64_in(-1.0, 1.0) as f32);
    let (r, c) = (h.arr(&row), DeviceArray::from_shape(&h.dev, &[rows, 1], &col).unwrap());
    let rb = r.view().broadcast_to(&[rows, cols]).unwrap();
    let cb = c.view().broadcast_to(&[rows, cols]).unwrap();
    assert_eq!(rb.layout().strides, vec![0, 1]);
    assert_eq!(cb.layout().strides, vec![1, 0]);
    let mut out = DeviceArray::<f32>::zeros_shape(&h.dev, &[rows, cols]).unwrap();
    h.run(&add_2d, ((cols.div_ceil(16), rows.div_ceil(8)), (16, 8)), (&rb, &cb, &mut out)).unwrap();
    let want: Vec<f32> = (0..rows * cols).map(|k| row[k % cols] + col[k / cols]).collect();
    assert_eq!(out.to_vec().unwrap(), want);
    assert!(r.view().broadcast_to(&[rows, cols + 1]).is_err(), "extents must match or be 1");
}

// ---------------------------------------------------------------------------------------------
// Interoperability: DLPack and the CUDA Array Interface.

use gpujit::dlpack::{self, DLDataType, DLDevice, DLManagedTensor, DLManagedTensorVersioned, DLTensor, DlpackTensor};
use std::sync::atomic::{AtomicUsize, Ordering};

#[gpu_kernel]
fn copy_2d(a: &Array<f32, 2>, out: &mut Array<f32, 2>) {
    let (j, i) = grid(2);
    if i < a.shape(0) && j < a.shape(1) {
        out[[i, j]] = a[[i, j]];
    }
}

/// A hand-made DLPack tensor over borrowed memory whose deleter counts its calls.
struct TestTensor {
    shape: Vec<i64>,
    strides: Option<Vec<i64>>,
    deleted: &'static AtomicUsize,
}

unsafe extern "C" fn count_versioned(p: *mut DLManagedTensorVersioned) {
    // SAFETY: made by `versioned` below from Boxes; called once by the importer.
    unsafe {
        let m = Box::from_raw(p);
        let t = Box::from_raw(m.manager_ctx as *mut TestTensor);
        t.deleted.fetch_add(1, Ordering::SeqCst);
    }
}

unsafe extern "C" fn count_legacy(p: *mut DLManagedTensor) {
    // SAFETY: as above.
    unsafe {
        let m = Box::from_raw(p);
        let t = Box::from_raw(m.manager_ctx as *mut TestTensor);
        t.deleted.fetch_add(1, Ordering::SeqCst);
    }
}

#[allow(clippy::too_many_arguments)]
fn tensor(
    data: u64,
    device: DLDevice,
    dtype: DLDataType,
    shape: &[i64],
    strides: Option<&[i64]>,
    byte_offset: u64,
    deleted: &'static AtomicUsize,
) -> (Box<TestTensor>, DLTensor) {
    let mut t = Box::new(TestTensor { shape: shape.to_vec(), strides: strides.map(|s| s.to_vec()), deleted });
    let dl = DLTensor {
        data: data as *mut std::ffi::c_void,
        device,
        ndim: shape.len() as i32,
        dtype,
        shape: t.shape.as_mut_ptr(),
        strides: t.strides.as_mut().map(|s| s.as_mut_ptr()).unwrap_or(std::ptr::null_mut()),
        byte_offset,
    };
    (t, dl)
}

fn versioned(t: (Box<TestTensor>, DLTensor), major: u32, flags: u64) -> *mut DLManagedTensorVersioned {
    Box::into_raw(Box::new(DLManagedTensorVersioned {
        version: dlpack::DLPackVersion { major, minor: 0 },
        manager_ctx: Box::into_raw(t.0) as *mut std::ffi::c_void,
        deleter: Some(count_versioned),
        flags,
        dl_tensor: t.1,
    }))
}

pub fn dlpack_conformance(h: &Harness) {
    static DELETED: AtomicUsize = AtomicUsize::new(0);
    let count = || DELETED.load(Ordering::SeqCst);
    let f32t = DLDataType { code: dlpack::type_code::FLOAT, bits: 32, lanes: 1 };
    let data: Vec<f32> = (0..24).map(|v| v as f32).collect();
    // Our array, exported: its memory is what the hand-made tensors below describe.
    let exported = DeviceArray::from_shape(&h.dev, &[4, 6], &data).unwrap().into_dlpack();
    // SAFETY: `exported` is a valid tensor made just above; it is freed at the end of the test.
    let (base, device) = unsafe { ((*exported).dl_tensor.data as u64, (*exported).dl_tensor.device) };
    let expect_dev = if h.is_gpu() { dlpack::device_type::CUDA } else { dlpack::device_type::CPU };
    assert_eq!(device.device_type, expect_dev);

    let run = |m: *mut DLManagedTensorVersioned, rows: usize, cols: usize| -> Vec<f32> {
        // SAFETY: `m` is a valid tensor owned by the import from here on.
        let t = unsafe { DlpackTensor::from_versioned(m) }.unwrap();
        let a = t.array().unwrap();
        assert_eq!(a.shape(), &[rows, cols]);
        let mut out = DeviceArray::<f32>::zeros_shape(&h.dev, &[rows, cols]).unwrap();
        h.run(&copy_2d, ((cols.max(1), rows.max(1)), (1, 1)), (&a, &mut out)).unwrap();
        out.to_vec().unwrap()
    };
    let before = count();
    // NULL strides: compact row-major.
    assert_eq!(run(versioned(tensor(base, device, f32t, &[4, 6], None, 0, &DELETED), 1, 0), 4, 6), data);
    // Transposed (F-order view).
    let want: Vec<f32> = (0..24).map(|k| data[(k % 4) * 6 + k / 4]).collect();
    assert_eq!(run(versioned(tensor(base, device, f32t, &[6, 4], Some(&[1, 6]), 0, &DELETED), 1, 0), 6, 4), want);
    // A byte offset: rows 1..4.
    assert_eq!(run(versioned(tensor(base, device, f32t, &[3, 6], None, 24, &DELETED), 1, 0), 3, 6), data[6..].to_vec());
    // Negative strides: rows reversed, element 0 at the last row.
    let want: Vec<f32> = (0..24).map(|k| data[(3 - k / 6) * 6 + k % 6]).collect();
    assert_eq!(run(versioned(tensor(base, device, f32t, &[4, 6], Some(&[-6, 1]), 72, &DELETED), 1, 0), 4, 6), want);
    // A broadcast axis (stride 0) and size-1 axes with odd strides.
    let want: Vec<f32> = (0..18).map(|k| data[k % 6]).collect();
    assert_eq!(run(versioned(tensor(base, device, f32t, &[3, 6], Some(&[0, 1]), 0, &DELETED), 1, 0), 3, 6), want);
    assert_eq!(count() - before, 5, "each import's deleter ran once");

    // 0-d: one element.
    let m = versioned(tensor(base + 8, device, f32t, &[], None, 0, &DELETED), 1, 0);
    // SAFETY: as above.
    let t = unsafe { DlpackTensor::from_versioned(m) }.unwrap();
    assert_eq!(t.array().unwrap().shape(), &[1]);
    drop(t);
    // Zero-size, with a NULL data pointer.
    let m = versioned(tensor(0, device, f32t, &[0, 6], None, 0, &DELETED), 1, 0);
    // SAFETY: as above.
    let t = unsafe { DlpackTensor::from_versioned(m) }.unwrap();
    let a = t.array().unwrap();
    let mut out = DeviceArray::<f32>::zeros_shape(&h.dev, &[0, 6]).unwrap();
    h.run(&copy_2d, ((0, 0), (1, 1)), (&a, &mut out)).unwrap();
    drop(t);
    // Read-only: refused for a written parameter, and nothing is written.
    let m = versioned(tensor(base, device, f32t, &[4, 6], None, 0, &DELETED), 1, dlpack::FLAG_READ_ONLY);
    // SAFETY: as above.
    let t = unsafe { DlpackTensor::from_versioned(m) }.unwrap();
    let mut ro = t.array().unwrap();
    let src = DeviceArray::from_shape(&h.dev, &[4, 6], &[-1.0f32; 24]).unwrap();
    let e = h.run(&copy_2d, ((6, 4), (1, 1)), (&src, &mut ro)).unwrap_err();
    assert!(matches!(&e, Error::ReadOnly { param, .. } if param == "out"), "{e}");
    drop(t);
    assert_eq!(count() - before, 8);

    // Refused imports still run the deleter exactly once.
    let bad_lanes = DLDataType { code: dlpack::type_code::FLOAT, bits: 32, lanes: 4 };
    let m = versioned(tensor(base, device, bad_lanes, &[4, 6], None, 0, &DELETED), 1, 0);
    // SAFETY: as above.
    let t = unsafe { DlpackTensor::from_versioned(m) }.unwrap();
    assert!(t.array().unwrap_err().to_string().contains("lanes"));
    drop(t);
    let m = versioned(tensor(base, DLDevice { device_type: 7, device_id: 0 }, f32t, &[4, 6], None, 0, &DELETED), 1, 0);
    // SAFETY: as above.
    let t = unsafe { DlpackTensor::from_versioned(m) }.unwrap();
    assert!(t.array().unwrap_err().to_string().contains("device type 7"));
    drop(t);
    let m = versioned(tensor(base, device, f32t, &[4, 6], None, 0, &DELETED), 2, 0);
    // SAFETY: as above.
    let e = unsafe { DlpackTensor::from_versioned(m) }.err().expect("major version 2 is refused");
    assert!(e.to_string().contains("major version 2"), "{e}");
    assert_eq!(count() - before, 11, "refused imports ran their deleters");

    // Legacy DLManagedTensor.
    let t = tensor(base, device, f32t, &[2, 6], None, 48, &DELETED);
    let legacy = Box::into_raw(Box::new(DLManagedTensor {
        dl_tensor: t.1,
        manager_ctx: Box::into_raw(t.0) as *mut std::ffi::c_void,
        deleter: Some(count_legacy),
    }));
    // SAFETY: as above.
    let t = unsafe { DlpackTensor::from_legacy(legacy) }.unwrap();
    let a = t.array().unwrap();
    let mut out = DeviceArray::<f32>::zeros_shape(&h.dev, &[2, 6]).unwrap();
    h.run(&copy_2d, ((6, 2), (1, 1)), (&a, &mut out)).unwrap();
    assert_eq!(out.to_vec().unwrap(), data[12..].to_vec());
    drop(t);
    assert_eq!(count() - before, 12);

    // Our export, consumed by our own import (a round trip), and freed by its deleter.
    // SAFETY: `exported` came from `into_dlpack`; the import owns it from here on.
    let t = unsafe { DlpackTensor::from_versioned(exported) }.unwrap();
    let a = t.array().unwrap();
    let mut out = DeviceArray::<f32>::zeros_shape(&h.dev, &[4, 6]).unwrap();
    h.run(&copy_2d, ((6, 4), (1, 1)), (&a, &mut out)).unwrap();
    assert_eq!(out.to_vec().unwrap(), data);
    drop(t);

    // Every dtype maps both ways.
    for t in gpujit::codegen::ScalarType::ALL {
        assert_eq!(dlpack::scalar_type(dlpack::dl_data_type(t)).unwrap(), t);
        assert_eq!(gpujit::cai::parse_typestr(&gpujit::cai::typestr(t)).unwrap(), t);
    }
}

pub fn cuda_array_interface_rules(h: &Harness) {
    use gpujit::cai::{parse_typestr, CudaArrayInterface};
    use gpujit::codegen::ScalarType as S;
    assert_eq!(parse_typestr("<f4").unwrap(), S::F32);
    assert_eq!(parse_typestr("|b1").unwrap(), S::Bool);
    assert_eq!(parse_typestr("<V2").unwrap(), S::BF16);
    assert_eq!(parse_typestr("|u1").unwrap(), S::U8);
    assert_eq!(parse_typestr(">i1").unwrap(), S::I8, "byte order does not matter for one byte");
    assert!(parse_typestr(">f4").unwrap_err().to_string().contains("big-endian"));
    assert!(parse_typestr("<c8").is_err(), "complex is not supported");
    let cai = CudaArrayInterface {
        shape: vec![4, 6],
        typestr: "<f4".into(),
        data: (0, false),
        strides: Some(vec![4, 16]),
        version: 3,
        mask: None,
        stream: None,
    };
    let (elem, layout) = cai.layout().unwrap();
    assert_eq!((elem, layout.strides.clone()), (S::F32, vec![1, 4]), "byte strides become element strides");
    let bad = |c: CudaArrayInterface, what: &str| assert!(c.layout().unwrap_err().to_string().contains(what), "{what}");
    bad(CudaArrayInterface { strides: Some(vec![4, 6]), ..cai.clone() }, "multiple of the item size");
    bad(CudaArrayInterface { mask: Some(Box::new(cai.clone())), ..cai.clone() }, "mask");
    bad(CudaArrayInterface { version: 4, ..cai.clone() }, "version 4");
    bad(CudaArrayInterface { stream: Some(0), ..cai.clone() }, "stream");
    if !h.is_gpu() {
        // The interface describes device memory.
        let a = h.arr(&[1.0f32]);
        assert!(a.cuda_array_interface().is_err());
        return;
    }
    // Our export, imported back; and stream ordering after a slow producer on another stream.
    let n = 1 << 20;
    let stream = h.dev.new_stream().unwrap();
    let mut produced = h.zeros::<f32>(n);
    h.run(&slow_fill, (n.div_ceil(256), 256, &stream), (&mut produced, 20_000u32)).unwrap();
    let mut cai = produced.cuda_array_interface().unwrap();
    assert_eq!((cai.version, cai.typestr.as_str(), cai.shape.clone()), (3, "<f4", vec![n]));
    cai.stream = Some(stream.as_raw());
    // SAFETY: `produced` outlives the import and nothing else writes it meanwhile.
    let ext = unsafe { cai.import() }.unwrap();
    assert_eq!(ext.producer_stream(), Some(stream.as_raw()));
    let mut copy = h.zeros::<f32>(n);
    // Launched on a second stream, which does not order with the producer's by itself: only the
    // event gpujit records on the producer's stream makes it wait.
    let consumer = h.dev.new_stream().unwrap();
    h.run(&copy_1d, LaunchConfig::for_elements(n, 256).stream(&consumer), (&ext, &mut copy)).unwrap();
    consumer.synchronize().unwrap();
    let got = copy.to_vec().unwrap();
    assert!(got.iter().enumerate().all(|(i, v)| *v == (i % 1000) as f32 + 0.5), "the consumer saw unfinished data");
}

/// A deliberately slow producer: each thread spins before writing its value.
#[gpu_kernel]
fn slow_fill(out: &mut [f32], iters: u32) {
    let i = grid(1);
    let mut x = 0u32;
    for k in 0..iters {
        x = x * 1664525 + 1013904223 + k;
    }
    if i < out.len() {
        // The branch keeps the loop from being optimized away (x is never 7 for these iters).
        if x == 7 {
            out[i] = -1.0;
        } else {
            out[i] = (i % 1000) as f32 + 0.5;
        }
    }
}

#[gpu_kernel]
fn copy_1d(a: &[f32], out: &mut [f32]) {
    let i = grid(1);
    if i < a.len() {
        out[i] = a[i];
    }
}

// ---------------------------------------------------------------------------------------------
// `as` between every pair of primitive scalar types, against Rust's own `as`.

macro_rules! cast_kernel {
    ($name:ident, $from:ty) => {
        #[gpu_kernel]
        fn $name(
            x: &[$from],
            o_b: &mut [bool],
            o_i8: &mut [i8],
            o_i16: &mut [i16],
            o_i32: &mut [i32],
            o_i64: &mut [i64],
            o_u8: &mut [u8],
            o_u16: &mut [u16],
            o_u32: &mut [u32],
            o_u64: &mut [u64],
            o_f32: &mut [f32],
            o_f64: &mut [f64],
        ) {
            let i = grid(1);
            if i < x.len() {
                let v = x[i];
                o_b[i] = v == v;
                o_i8[i] = v as i8;
                o_i16[i] = v as i16;
                o_i32[i] = v as i32;
                o_i64[i] = v as i64;
                o_u8[i] = v as u8;
                o_u16[i] = v as u16;
                o_u32[i] = v as u32;
                o_u64[i] = v as u64;
                o_f32[i] = v as f32;
                o_f64[i] = v as f64;
            }
        }
    };
}
cast_kernel!(cast_from_i8, i8);
cast_kernel!(cast_from_i16, i16);
cast_kernel!(cast_from_i32, i32);
cast_kernel!(cast_from_i64, i64);
cast_kernel!(cast_from_u8, u8);
cast_kernel!(cast_from_u16, u16);
cast_kernel!(cast_from_u32, u32);
cast_kernel!(cast_from_u64, u64);
cast_kernel!(cast_from_f32, f32);
cast_kernel!(cast_from_f64, f64);

#[gpu_kernel]
fn cast_from_bool(
    x: &[bool],
    o_i8: &mut [i8],
    o_i16: &mut [i16],
    o_i32: &mut [i32],
    o_i64: &mut [i64],
    o_u8: &mut [u8],
    o_u16: &mut [u16],
    o_u32: &mut [u32],
    o_u64: &mut [u64],
) {
    let i = grid(1);
    if i < x.len() {
        let v = x[i];
        o_i8[i] = v as i8;
        o_i16[i] = v as i16;
        o_i32[i] = v as i32;
        o_i64[i] = v as i64;
        o_u8[i] = v as u8;
        o_u16[i] = v as u16;
        o_u32[i] = v as u32;
        o_u64[i] = v as u64;
    }
}

macro_rules! check_casts_from {
    ($h:expr, $kernel:ident, $from:ty, $gen:expr) => {{
        let h: &Harness = $h;
        let n = 3000;
        let gen: &dyn Fn(&Harness, usize) -> $from = &$gen;
        let x: Vec<$from> = (0..n).map(|i| gen(h, i)).collect();
        let mut o_b = h.zeros::<bool>(n);
        let (mut o_i8, mut o_i16, mut o_i32, mut o_i64) = (h.zeros::<i8>(n), h.zeros::<i16>(n), h.zeros::<i32>(n), h.zeros::<i64>(n));
        let (mut o_u8, mut o_u16, mut o_u32, mut o_u64) = (h.zeros::<u8>(n), h.zeros::<u16>(n), h.zeros::<u32>(n), h.zeros::<u64>(n));
        let (mut o_f32, mut o_f64) = (h.zeros::<f32>(n), h.zeros::<f64>(n));
        h.run(
            &$kernel,
            LaunchConfig::for_elements(n, 128),
            (
                &h.arr(&x),
                &mut o_b,
                &mut o_i8,
                &mut o_i16,
                &mut o_i32,
                &mut o_i64,
                &mut o_u8,
                &mut o_u16,
                &mut o_u32,
                &mut o_u64,
                &mut o_f32,
                &mut o_f64,
            ),
        )
        .unwrap();
        let what = stringify!($from);
        assert_eq!(o_i8.to_vec().unwrap(), x.iter().map(|v| *v as i8).collect::<Vec<_>>(), "{what} as i8");
        assert_eq!(o_i16.to_vec().unwrap(), x.iter().map(|v| *v as i16).collect::<Vec<_>>(), "{what} as i16");
        assert_eq!(o_i32.to_vec().unwrap(), x.iter().map(|v| *v as i32).collect::<Vec<_>>(), "{what} as i32");
        assert_eq!(o_i64.to_vec().unwrap(), x.iter().map(|v| *v as i64).collect::<Vec<_>>(), "{what} as i64");
        assert_eq!(o_u8.to_vec().unwrap(), x.iter().map(|v| *v as u8).collect::<Vec<_>>(), "{what} as u8");
        assert_eq!(o_u16.to_vec().unwrap(), x.iter().map(|v| *v as u16).collect::<Vec<_>>(), "{what} as u16");
        assert_eq!(o_u32.to_vec().unwrap(), x.iter().map(|v| *v as u32).collect::<Vec<_>>(), "{what} as u32");
        assert_eq!(o_u64.to_vec().unwrap(), x.iter().map(|v| *v as u64).collect::<Vec<_>>(), "{what} as u64");
        let same32 = |a: &f32, b: &f32| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
        let same64 = |a: &f64, b: &f64| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
        for (i, (g, w)) in o_f32.to_vec().unwrap().iter().zip(x.iter().map(|v| *v as f32)).enumerate() {
            assert!(same32(g, &w), "{what} as f32 at {i}: {g} vs {w}");
        }
        for (i, (g, w)) in o_f64.to_vec().unwrap().iter().zip(x.iter().map(|v| *v as f64)).enumerate() {
            assert!(same64(g, &w), "{what} as f64 at {i}: {g} vs {w}");
        }
        #[allow(clippy::eq_op)]
        let want_b: Vec<bool> = x.iter().map(|v| *v == *v).collect();
        assert_eq!(o_b.to_vec().unwrap(), want_b, "{what} == itself");
    }};
}

/// Integers: random bits plus the extremes; floats: random magnitudes across the ranges of every
/// integer type, plus NaN, infinities, ±0, values just past each bound, and halves.
pub fn cast_matrix(h: &Harness) {
    macro_rules! int_gen {
        ($t:ty) => {
            |h: &Harness, i: usize| match i % 7 {
                0 => <$t>::MIN,
                1 => <$t>::MAX,
                2 => 0,
                _ => h.next_u64() as $t,
            }
        };
    }
    check_casts_from!(h, cast_from_i8, i8, int_gen!(i8));
    check_casts_from!(h, cast_from_i16, i16, int_gen!(i16));
    check_casts_from!(h, cast_from_i32, i32, int_gen!(i32));
    check_casts_from!(h, cast_from_i64, i64, int_gen!(i64));
    check_casts_from!(h, cast_from_u8, u8, int_gen!(u8));
    check_casts_from!(h, cast_from_u16, u16, int_gen!(u16));
    check_casts_from!(h, cast_from_u32, u32, int_gen!(u32));
    check_casts_from!(h, cast_from_u64, u64, int_gen!(u64));
    let special: [f64; 16] = [
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        0.0,
        -0.0,
        0.5,
        -0.5,
        127.5,
        128.0,
        -129.0,
        255.5,
        256.0,
        65536.0,
        4294967296.0,
        9.3e18,
        1.9e19,
    ];
    let float_gen = move |h: &Harness, i: usize| -> f64 {
        if i < special.len() {
            special[i]
        } else {
            let mag = 10f64.powf(h.f64_in(-2.0, 20.0));
            if h.next_u64() % 2 == 0 {
                mag
            } else {
                -mag
            }
        }
    };
    check_casts_from!(h, cast_from_f64, f64, float_gen);
    check_casts_from!(h, cast_from_f32, f32, move |h: &Harness, i: usize| float_gen(h, i) as f32);
    // bool → integers.
    let n = 300;
    let x: Vec<bool> = h.vec(n, |h| h.next_u64() % 2 == 0);
    let (mut a, mut b, mut c, mut d) = (h.zeros::<i8>(n), h.zeros::<i16>(n), h.zeros::<i32>(n), h.zeros::<i64>(n));
    let (mut e, mut f, mut g, mut k) = (h.zeros::<u8>(n), h.zeros::<u16>(n), h.zeros::<u32>(n), h.zeros::<u64>(n));
    h.run(
        &cast_from_bool,
        LaunchConfig::for_elements(n, 128),
        (&h.arr(&x), &mut a, &mut b, &mut c, &mut d, &mut e, &mut f, &mut g, &mut k),
    )
    .unwrap();
    assert_eq!(a.to_vec().unwrap(), x.iter().map(|v| *v as i8).collect::<Vec<_>>());
    assert_eq!(d.to_vec().unwrap(), x.iter().map(|v| *v as i64).collect::<Vec<_>>());
    assert_eq!(e.to_vec().unwrap(), x.iter().map(|v| *v as u8).collect::<Vec<_>>());
    assert_eq!(k.to_vec().unwrap(), x.iter().map(|v| *v as u64).collect::<Vec<_>>());
    assert_eq!(b.to_vec().unwrap(), x.iter().map(|v| *v as i16).collect::<Vec<_>>());
    assert_eq!(c.to_vec().unwrap(), x.iter().map(|v| *v as i32).collect::<Vec<_>>());
    assert_eq!(f.to_vec().unwrap(), x.iter().map(|v| *v as u16).collect::<Vec<_>>());
    assert_eq!(g.to_vec().unwrap(), x.iter().map(|v| *v as u32).collect::<Vec<_>>());
}

/// A DLPack CUDAHost (page-locked host) tensor is used in place by kernels on the CPU and on a
/// GPU, read and written, beside device arrays. On a GPU machine the memory is really pinned
/// (`cuMemHostAlloc`); on the CPU harness plain host memory stands in for it.
pub fn dlpack_pinned_host(h: &Harness) {
    static DELETED: AtomicUsize = AtomicUsize::new(0);
    let f32t = DLDataType { code: dlpack::type_code::FLOAT, bits: 32, lanes: 1 };
    let pinned_dev = DLDevice { device_type: dlpack::device_type::CUDA_HOST, device_id: 0 };
    for n in [0usize, 1, 1000, 4099] {
        let data: Vec<f32> = h.vec(n, |h| h.f64_in(-10.0, 10.0) as f32);
        let mut plain = vec![0.0f32; n.max(1)];
        let ptr: *mut f32 = if h.is_gpu() {
            let ctx = cudarc::driver::CudaContext::new(0).unwrap();
            ctx.bind_to_thread().unwrap();
            // SAFETY: a context is current; the allocation is freed below, after its last use.
            // Flags: portable (1) and device-mapped (2).
            unsafe { cudarc::driver::result::malloc_host(n.max(1) * 4, 3) }.unwrap() as *mut f32
        } else {
            plain.as_mut_ptr()
        };
        // SAFETY: ptr holds n.max(1) f32s, used only through this slice until the imports below.
        unsafe { std::slice::from_raw_parts_mut(ptr, n) }.copy_from_slice(&data);
        let m = versioned(tensor(ptr as u64, pinned_dev, f32t, &[n as i64], None, 0, &DELETED), 1, 0);
        // SAFETY: `m` is a valid tensor owned by the import from here on.
        let t = unsafe { DlpackTensor::from_versioned(m) }.unwrap();
        let a = t.array().unwrap();
        assert!(a.is_pinned());
        // Read in place into a device array of the harness's device.
        let mut out = h.zeros::<f32>(n);
        h.run(&copy_1d, LaunchConfig::for_elements(n, 128), (&a, &mut out)).unwrap();
        assert_eq!(out.to_vec().unwrap(), data);
        drop(t);
        // Written in place from a device array.
        let m = versioned(tensor(ptr as u64, pinned_dev, f32t, &[n as i64], None, 0, &DELETED), 1, 0);
        // SAFETY: as above.
        let t = unsafe { DlpackTensor::from_versioned(m) }.unwrap();
        let mut w = t.array().unwrap();
        let src: Vec<f32> = data.iter().map(|v| v * 2.0).collect();
        h.run(&copy_1d, LaunchConfig::for_elements(n, 128), (&h.arr(&src), &mut w)).unwrap();
        h.dev.synchronize().unwrap();
        drop(t);
        // SAFETY: the kernels that used the memory have finished (synchronized above).
        assert_eq!(unsafe { std::slice::from_raw_parts(ptr, n) }, &src[..]);
        if h.is_gpu() {
            // SAFETY: allocated by malloc_host above; no longer used.
            unsafe { cudarc::driver::result::free_host(ptr as *mut std::ffi::c_void) }.unwrap();
        }
        drop(plain);
    }
    // A launch whose only arrays are pinned runs on the default device.
    let data = [1.0f32, 2.0, 3.0];
    let mut src = data;
    let mut dst = [0.0f32; 3];
    if !h.is_gpu() {
        let ma = versioned(tensor(src.as_mut_ptr() as u64, pinned_dev, f32t, &[3], None, 0, &DELETED), 1, 0);
        let mb = versioned(tensor(dst.as_mut_ptr() as u64, pinned_dev, f32t, &[3], None, 0, &DELETED), 1, 0);
        // SAFETY: as above.
        let (ta, tb) = unsafe { (DlpackTensor::from_versioned(ma).unwrap(), DlpackTensor::from_versioned(mb).unwrap()) };
        let (a, mut b) = (ta.array().unwrap(), tb.array().unwrap());
        copy_1d.launch(LaunchConfig::for_elements(3, 32), (&a, &mut b)).unwrap();
        drop((ta, tb));
        assert_eq!(dst, data);
    }
}
