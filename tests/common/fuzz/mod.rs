//! Differential fuzzing of the compiler: random kernels ([`generate`]) run on the CPU backend
//! and, on a GPU machine, on the GPU, each result compared with an independent interpreter
//! ([`oracle`]) of the semantics the README documents ([`value`]).
//!
//! Deterministic from a seed (printed; `GPUJIT_FUZZ_SEED` repeats it); `GPUJIT_FUZZ_KERNELS` sets
//! how many. A failing kernel is shrunk ([`shrink`]) and printed as Rust source ([`print`]).

pub mod generate;
pub mod oracle;
pub mod print;
pub mod regressions;
pub mod value;

use super::Harness;
use generate::{Case, Tol};
use gpujit::codegen::ast::{Block, Callee, ExprKind, KernelSource, SourceExpr, Stmt};
use gpujit::prelude::*;
use gpujit::runtime::{Arg, ExternalArray};
use gpujit::Kernel;
use std::cell::RefCell;
use value::V;

/// splitmix64.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

thread_local! {
    /// The device functions of the kernel being compiled on this thread: `Callee::source` is a
    /// plain function, so generated sources are reached through these slots.
    static SLOTS: RefCell<Vec<&'static KernelSource>> = const { RefCell::new(Vec::new()) };
}

fn slot<const K: usize>() -> &'static KernelSource {
    SLOTS.with(|s| s.borrow()[K])
}

const SLOT_FNS: [fn() -> &'static KernelSource; 3] = [slot::<0>, slot::<1>, slot::<2>];

/// The kernel for `case`, its device functions registered in this thread's slots; with
/// `lockstep_all`, every loop and `if` of it runs in lockstep on the CPU backend.
fn kernel(case: &Case, lockstep_all: bool) -> Kernel {
    let leaked: Vec<&'static KernelSource> = case.devices.iter().map(|d| &*Box::leak(Box::new(d.clone()))).collect();
    let mut src = case.source.clone();
    src.options.lockstep_all = lockstep_all;
    src.callees =
        leaked.iter().zip(SLOT_FNS).map(|(d, f)| Callee { name: Box::leak(d.name.clone().into_boxed_str()), source: f }).collect();
    SLOTS.with(|s| *s.borrow_mut() = leaked);
    Kernel::new(src)
}

/// The CPU-backend runs of kernels it runs flat (`gpujit_codegen::lower::flat`), for the summary.
static FLAT_RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The cases checked so far (a sample of them also runs with `lockstep_all`).
static LOCKSTEP_RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Kernels whose oracle run read out of range (bounds-check mode), for the summary.
static OOB_KERNELS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// What the generated kernels used, counted over a campaign (by their Rust form).
const FEATURES: [(&str, &str); 16] = [
    ("if", "if "),
    ("for", " in ("),
    ("while", "while "),
    ("loop", "loop {"),
    ("break/continue", "break '"),
    ("local arrays", "local_array"),
    ("shared memory + barrier", "sync_threads();"),
    ("warp shuffles", "shfl_"),
    ("votes/ballots", "_sync(4294967295u32, ("),
    ("atomics", "atomic_"),
    ("device functions", "#[gpu_device]"),
    ("f16", ": f16"),
    ("bf16", ": bf16"),
    ("boundscheck", "boundscheck"),
    ("grid-stride loop", "+= grid_size(1)"),
    ("affine window", "wv ^="),
];

/// Why a case failed.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// A backend's result differs from the oracle's.
    Mismatch(String),
    /// The kernel did not compile or launch (the generator makes only valid kernels).
    Error(String),
}

impl Failure {
    fn same_kind(&self, o: &Failure) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(o)
    }
}

/// Buffers of 8-byte words holding an array's elements (so every element type is aligned).
fn to_words(a: &[V]) -> Vec<u64> {
    let size = a.first().map(|v| v.t.size_bytes()).unwrap_or(1);
    let mut bytes = Vec::with_capacity(a.len() * size + 8);
    for v in a {
        bytes.extend_from_slice(&v.b.to_le_bytes()[..size]);
    }
    bytes.resize(bytes.len().div_ceil(8).max(1) * 8, 0);
    bytes.chunks(8).map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8]))).collect()
}

fn from_words(w: &[u64], t: gpujit::codegen::ScalarType, n: usize) -> Vec<V> {
    let size = t.size_bytes();
    let bytes: Vec<u8> = w.iter().flat_map(|x| x.to_le_bytes()).collect();
    (0..n)
        .map(|i| {
            let mut b = [0u8; 8];
            b[..size].copy_from_slice(&bytes[i * size..(i + 1) * size]);
            V::new(t, u64::from_le_bytes(b))
        })
        .collect()
}

/// Runs `case` on `dev`: the launch's result and every array afterwards.
fn run_on(dev: &Device, k: &Kernel, case: &Case, check_ptx: bool) -> (gpujit::Result<()>, Vec<Vec<V>>) {
    let bufs: Vec<DeviceArray<u64>> =
        case.arrays.iter().map(|a| DeviceArray::from_slice(dev, &to_words(&a.data)).expect("allocate")).collect();
    let result = {
        let mut views = Vec::new();
        for (a, b) in case.arrays.iter().zip(&bufs) {
            let addr = b.address();
            // SAFETY: the buffer holds `a.data.len()` elements of `a.elem` (it was made from
            // them) and outlives the views, which live only for this launch.
            let view = unsafe { ExternalArray::from_raw_parts(dev, a.elem, addr, &[a.data.len()], None, !a.mutable) }.expect("view");
            views.push(view);
        }
        let mut args: Vec<Arg<'_>> = Vec::new();
        let (mut vi, mut si) = (views.iter_mut(), case.scalars.iter());
        for is_array in &case.order {
            if *is_array {
                let (v, a) = (vi.next().expect("an array"), &case.arrays[args.iter().filter(|a| !matches!(a, Arg::Scalar { .. })).count()]);
                args.push(if a.mutable { gpujit::KernelArg::into_arg(v) } else { gpujit::KernelArg::into_arg(&*v) });
            } else {
                let (_, s) = si.next().expect("a scalar");
                args.push(Arg::Scalar { ty: s.t, bits: s.b as u128 });
            }
        }
        if check_ptx {
            super::check_ptx(k, &args);
        }
        if !dev.is_cuda() && k.ir(&args[..]).is_ok_and(|ir| gpujit::codegen::lower::flat::plan(&ir).is_some()) {
            FLAT_RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        k.launch((case.grid, case.block), &args[..])
    };
    let out = case.arrays.iter().zip(&bufs).map(|(a, b)| from_words(&b.to_vec().expect("read back"), a.elem, a.data.len())).collect();
    (result, out)
}

/// Compares one backend's run with the oracle's.
fn compare(what: &str, case: &Case, want: &oracle::Outcome, got: (gpujit::Result<()>, Vec<Vec<V>>), gpu: bool) -> Result<(), Failure> {
    let (result, arrays) = got;
    match (&result, want.oob.is_empty()) {
        (Ok(()), true) => {}
        (Err(gpujit::Error::OutOfBounds { array, index, .. }), false) => {
            if !want.oob.iter().any(|(a, i)| a == array && i == index) {
                return Err(Failure::Mismatch(format!("{what}: reported {array}[{index}] out of bounds; the oracle's: {:?}", want.oob)));
            }
        }
        (Ok(()), false) => return Err(Failure::Mismatch(format!("{what}: no out-of-bounds error; the oracle read {:?}", want.oob))),
        (Err(e), _) => return Err(Failure::Error(format!("{what}: {e}"))),
    }
    for (k, a) in case.arrays.iter().enumerate() {
        if !a.mutable {
            continue;
        }
        for (i, (g, w)) in arrays[k].iter().zip(&want.arrays[k]).enumerate() {
            let ok = match a.tol {
                _ if g.b == w.b => true,
                _ if a.elem.is_float() && g.is_nan() && w.is_nan() => true,
                Tol::Exact => false,
                Tol::Ulps(cpu, gpu_ulps) => value::ulps(*g, *w) <= if gpu { gpu_ulps } else { cpu },
            };
            if !ok {
                return Err(Failure::Mismatch(format!(
                    "{what}: {}[{i}] ({}) = {:#x}, the oracle's {:#x} ({:?})",
                    a.name,
                    a.elem.name(),
                    g.b,
                    w.b,
                    a.tol
                )));
            }
        }
    }
    Ok(())
}

/// Runs `case` on every device and compares each with the oracle. (The oracle runs only
/// kernels that compiled, so a shrinking step that broke the program is a compile error.)
pub fn check(devices: &[Device], case: &Case, check_ptx: bool) -> Result<(), Failure> {
    let k = kernel(case, false);
    let mut runs = Vec::new();
    for dev in devices {
        let got = run_on(dev, &k, case, check_ptx && !dev.is_cuda());
        let what = if dev.is_cuda() { "GPU" } else { "CPU backend" };
        if let Err(e) = &got.0 {
            if !matches!(e, gpujit::Error::OutOfBounds { .. }) {
                return Err(Failure::Error(format!("{what}: {e}")));
            }
        }
        runs.push((what, dev.is_cuda(), got));
        if !dev.is_cuda() && LOCKSTEP_RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 4 == 0 {
            // One case in four again on the CPU backend, every loop and `if` in lockstep
            // (masks, escapes, loops run while any thread iterates), which kernels take only
            // where threads meet. (Its compile time keeps it to a sample.)
            let all = kernel(case, true);
            let got = run_on(dev, &all, case, false);
            if let Err(e) = &got.0 {
                if !matches!(e, gpujit::Error::OutOfBounds { .. }) {
                    return Err(Failure::Error(format!("CPU backend in lockstep: {e}")));
                }
            }
            runs.push(("CPU backend in lockstep", false, got));
        }
    }
    // The oracle as each device computes: fused multiply-adds on a GPU and on a CPU with fma.
    let oracle = |fuse: bool| match std::panic::catch_unwind(|| oracle::run(case, fuse)) {
        Ok(w) => Ok(w),
        Err(p) => {
            let why = p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default();
            Err(Failure::Error(format!("the oracle could not run the kernel: {why}")))
        }
    };
    let mut wants: [Option<oracle::Outcome>; 2] = [None, None];
    for (what, gpu, got) in runs {
        let fuse = gpu || crate::common::math::host_fma();
        if wants[fuse as usize].is_none() {
            let w = oracle(fuse)?;
            if !w.oob.is_empty() {
                OOB_KERNELS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            wants[fuse as usize] = Some(w);
        }
        let want = wants[fuse as usize].as_ref().unwrap_or_else(|| unreachable!("computed above"));
        compare(what, case, want, got, gpu)?;
    }
    Ok(())
}

/// Statements a shrinking step keeps, so the kernel stays in bounds and race-free on a GPU: the
/// thread's indices, the guards of the output writes, shared memory and its barrier, and the
/// collectives.
fn protected(s: &Stmt) -> bool {
    match s {
        Stmt::Let { name, init, .. } => {
            matches!(name.as_str(), "i" | "t" | "j")
                || gpujit::codegen::random::state_local_of(name).is_some()
                || matches!(init, Some(SourceExpr { kind: ExprKind::Collective(..), .. }))
        }
        Stmt::If { cond: SourceExpr { kind: ExprKind::Binary(gpujit::codegen::ast::BinOp::Lt, a, b), .. }, .. } => {
            a.kind == ExprKind::Var("i".into()) && matches!(b.kind, ExprKind::Len(_))
        }
        Stmt::Assign { place: gpujit::codegen::ast::Place::Index { array, .. }, .. } => array.starts_with("sh"),
        Stmt::Shared { .. } | Stmt::Barrier(_) | Stmt::Local { .. } => true,
        // The loop filling a per-thread array.
        Stmt::For { var, .. } => var.starts_with('q'),
        Stmt::Eval(SourceExpr { kind: ExprKind::Collective(..), .. }) => true,
        _ => false,
    }
}

/// Every way to drop one statement of a block tree (recursively), or to replace an if by its
/// body.
fn block_variants(b: &Block) -> Vec<Block> {
    let mut out = Vec::new();
    for (i, s) in b.stmts.iter().enumerate() {
        if !protected(s) {
            let mut without = b.clone();
            without.stmts.remove(i);
            out.push(without);
        }
        let inner: Vec<Block> = match s {
            Stmt::If { then, .. } if !protected(s) => vec![then.clone()],
            _ => vec![],
        };
        for body in inner {
            let mut inlined = b.clone();
            inlined.stmts.splice(i..=i, body.stmts);
            out.push(inlined);
        }
        let nested: Vec<Stmt> = match s {
            Stmt::If { cond, then, otherwise, span } => {
                let mut v: Vec<Stmt> = block_variants(then)
                    .into_iter()
                    .map(|t| Stmt::If { cond: cond.clone(), then: t, otherwise: otherwise.clone(), span: *span })
                    .collect();
                if let Some(o) = otherwise {
                    v.push(Stmt::If { cond: cond.clone(), then: then.clone(), otherwise: None, span: *span });
                    v.extend(block_variants(o).into_iter().map(|o| Stmt::If {
                        cond: cond.clone(),
                        then: then.clone(),
                        otherwise: Some(o),
                        span: *span,
                    }));
                }
                v
            }
            Stmt::While { cond, body, label, span } => block_variants(body)
                .into_iter()
                .map(|b| Stmt::While { cond: cond.clone(), body: b, label: label.clone(), span: *span })
                .collect(),
            Stmt::For { var, range, body, label, span, id } => block_variants(body)
                .into_iter()
                .map(|b| Stmt::For { var: var.clone(), range: range.clone(), body: b, label: label.clone(), span: *span, id: *id })
                .collect(),
            _ => vec![],
        };
        for n in nested {
            let mut v = b.clone();
            v.stmts[i] = n;
            out.push(v);
        }
    }
    out
}

/// Sub-expressions of `e` that could replace it (its operands), and literals.
fn expr_variants(e: &SourceExpr) -> Vec<SourceExpr> {
    let mut out = Vec::new();
    match &e.kind {
        ExprKind::Unary(_, a) | ExprKind::Cast(a, _) => out.push((**a).clone()),
        ExprKind::Binary(_, a, b) => {
            out.push((**a).clone());
            out.push((**b).clone());
        }
        ExprKind::Math(_, args) | ExprKind::Call(_, args) => out.extend(args.iter().cloned()),
        _ => {}
    }
    out
}

/// Applies `f` to every expression of the statements (pre-order), giving each variant in turn.
fn each_expr_variant(b: &Block, out: &mut Vec<Block>) {
    fn walk_expr(e: &SourceExpr, rebuild: &dyn Fn(SourceExpr) -> Block, out: &mut Vec<Block>) {
        for v in expr_variants(e) {
            out.push(rebuild(v));
        }
        let kids: Vec<(usize, &SourceExpr)> = match &e.kind {
            ExprKind::Unary(_, a) | ExprKind::Cast(a, _) => vec![(0, &**a)],
            ExprKind::Binary(_, a, b) => vec![(0, &**a), (1, &**b)],
            ExprKind::Math(_, args) | ExprKind::Call(_, args) => args.iter().enumerate().collect(),
            _ => vec![],
        };
        for (k, kid) in kids {
            let with = |new: SourceExpr| -> SourceExpr {
                let mut e2 = e.clone();
                match &mut e2.kind {
                    ExprKind::Unary(_, a) | ExprKind::Cast(a, _) => **a = new,
                    ExprKind::Binary(_, a, b) => {
                        if k == 0 {
                            **a = new
                        } else {
                            **b = new
                        }
                    }
                    ExprKind::Math(_, args) | ExprKind::Call(_, args) => args[k] = new,
                    _ => {}
                }
                e2
            };
            walk_expr(kid, &|new| rebuild(with(new)), out);
        }
    }
    for (i, s) in b.stmts.iter().enumerate() {
        let set = |new: SourceExpr| -> Block {
            let mut b2 = b.clone();
            match &mut b2.stmts[i] {
                Stmt::Let { init: Some(e), .. } => *e = new,
                Stmt::Assign { value, .. } => *value = new,
                Stmt::If { cond, .. } => *cond = new,
                _ => {}
            }
            b2
        };
        match s {
            _ if protected(s) && !matches!(s, Stmt::Assign { .. }) => {}
            Stmt::Let { init: Some(e), .. } | Stmt::Assign { value: e, .. } | Stmt::If { cond: e, .. } => walk_expr(e, &set, out),
            _ => {}
        }
        if let Stmt::If { cond, then, otherwise, span } = s {
            let mut inner = Vec::new();
            each_expr_variant(then, &mut inner);
            for t in inner {
                let mut b2 = b.clone();
                b2.stmts[i] = Stmt::If { cond: cond.clone(), then: t, otherwise: otherwise.clone(), span: *span };
                out.push(b2);
            }
        }
    }
}

/// A smaller case that fails the same way, found greedily.
pub fn shrink(devices: &[Device], case: &Case, failure: &Failure) -> Case {
    let mut best = case.clone();
    let mut rounds = 0;
    loop {
        rounds += 1;
        let mut candidates: Vec<Case> = Vec::new();
        for b in block_variants(&best.source.body) {
            let mut c = best.clone();
            c.source.body = b;
            candidates.push(c);
        }
        let mut ev = Vec::new();
        each_expr_variant(&best.source.body, &mut ev);
        for b in ev {
            let mut c = best.clone();
            c.source.body = b;
            candidates.push(c);
        }
        for k in 0..best.devices.len() {
            for b in block_variants(&best.devices[k].body) {
                let mut c = best.clone();
                c.devices[k].body = b;
                candidates.push(c);
            }
        }
        if best.grid > 1 {
            let mut c = best.clone();
            c.grid = 1;
            candidates.push(c);
        }
        let before = best.clone();
        for c in candidates {
            let still = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(devices, &c, false)));
            if let Ok(Err(f)) = still {
                if f.same_kind(failure) {
                    best = c;
                    break;
                }
            }
        }
        if rounds > 400 || print::rust(&best) == print::rust(&before) {
            return best;
        }
    }
}

/// Runs `count` random kernels from `seed` on `devices`; returns the (shrunk) failures.
pub fn campaign(devices: &[Device], seed: u64, count: u64, check_ptx_every: u64) -> (u64, Vec<(u64, Failure, String)>) {
    let mut failures = Vec::new();
    let mut ran = 0;
    let mut seen = [0u64; FEATURES.len()];
    for k in 0..count {
        let s = seed.wrapping_add(k.wrapping_mul(0x9E37_79B9));
        let case = generate::generate(s);
        ran += 1;
        let text = print::rust(&case);
        for (n, (_, needle)) in FEATURES.iter().enumerate() {
            seen[n] += text.contains(needle) as u64;
        }
        let ptx = check_ptx_every > 0 && k % check_ptx_every == 0;
        if let Err(f) = check(devices, &case, ptx) {
            eprintln!("fuzz: kernel {k} (seed {s}) failed: {f:?}; shrinking");
            if std::env::var("GPUJIT_FUZZ_SHRINK").is_ok_and(|v| v == "0") {
                failures.push((s, f, print::rust(&case)));
                continue;
            }
            let small = shrink(devices, &case, &f);
            let why = check(devices, &small, false).err().unwrap_or(f);
            failures.push((s, why, print::rust(&small)));
            if failures.len() >= 5 {
                break;
            }
        }
    }
    let counts: Vec<String> = FEATURES.iter().zip(seen).map(|((name, _), n)| format!("{name} {n}")).collect();
    eprintln!(
        "fuzz: kernels using: {}; reading out of range: {}; CPU-backend runs flat: {}",
        counts.join(", "),
        OOB_KERNELS.load(std::sync::atomic::Ordering::Relaxed),
        FLAT_RUNS.load(std::sync::atomic::Ordering::Relaxed)
    );
    (ran, failures)
}

/// The fuzzing case of the shared suite: on the CPU harness the CPU backend against the oracle
/// (500 kernels, every 25th's PTX through ptxas); on the GPU harness the GPU and the CPU backend
/// against it.
pub fn differential_fuzzing(h: &Harness) {
    let count = std::env::var("GPUJIT_FUZZ_KERNELS").ok().and_then(|s| s.parse().ok()).unwrap_or(500);
    let seed = std::env::var("GPUJIT_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| h.next_u64());
    let devices = if h.is_gpu() { vec![h.dev.clone(), Device::cpu()] } else { vec![h.dev.clone()] };
    eprintln!("fuzz: {count} kernels from seed {seed} (GPUJIT_FUZZ_SEED={seed} repeats them) on {} device(s)", devices.len());
    let started = std::time::Instant::now();
    let every = std::env::var("GPUJIT_FUZZ_PTX_EVERY").ok().and_then(|s| s.parse().ok()).unwrap_or(25);
    let (ran, failures) = campaign(&devices, seed, count, if h.is_gpu() { 0 } else { every });
    eprintln!("fuzz: {ran} kernels generated and run in {:.1} s; {} mismatch(es)", started.elapsed().as_secs_f64(), failures.len());
    for (s, f, src) in &failures {
        eprintln!("fuzz: seed {s}: {f:?}\n{src}");
    }
    assert!(failures.is_empty(), "{} fuzzed kernel(s) disagree with the oracle (shrunk sources above)", failures.len());
    // About one kernel in ten takes the CPU backend's flat form: a campaign this long has some.
    let flat = FLAT_RUNS.load(std::sync::atomic::Ordering::Relaxed);
    assert!(count < 200 || flat > 0, "no fuzzed kernel ran flat on the CPU backend in {count}");
}
