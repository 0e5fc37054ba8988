//! Golden tests of the compiler, in the style of LLVM's FileCheck tests and GPUCompiler.jl's
//! `@filecheck`: each `tests/golden/<name>.rs` is a kernel (or, for `fused_*`, a program that
//! evaluates an array expression) with directives in comments:
//!
//! - `// ARGS: f32, &[f32], &mut [f32], &Array<f32, 2> strided`: the signature it is specialized
//!   for (kernels only).
//! - `// MODE: GPUJIT_CHECK=1`: compiled as the checked mode compiles every kernel.
//! - `// MODE: CPU` (programs): the generated kernel is the CPU backend's (else a GPU's: the
//!   program runs on the CPU backend, its kernels generated as for a GPU).
//! - `// IR:`, `// LLVM:`, `// PTX:`, `// PTX90:`, `// HOST:` (and `-NEXT`, `-SAME`, `-NOT`,
//!   `-COUNT-n`): FileCheck directives over gpujit's IR text, the optimized NVPTX LLVM IR
//!   (sm_80), the PTX for sm_80 and sm_90 (a kernel that needs sm_90 has sm_90's in place of
//!   sm_80's), and the CPU backend's optimized LLVM IR (for this machine's CPU).
//!
//! Besides, the whole IR text and sm_80 PTX (sm_90 for a kernel that needs it:
//! `<name>.sm_90.ptx`) are kept in `tests/golden/snapshots/` and compared
//! exactly. `GPUJIT_BLESS=1 cargo test --test cpu golden` rewrites those snapshots (review the
//! diff before committing it); the directives are written by hand and never rewritten.
//!
//! Everything here runs without a GPU.

use super::filecheck::{self, directives};
use gpujit::codegen::nvptx::NvptxTarget;
use gpujit::codegen::specialize::ArgType;
use gpujit::prelude::*;
use gpujit::{Arg, Kernel};
use std::cell::RefCell;
use std::path::PathBuf;

/// What a golden case compiles.
pub enum Subject {
    /// A kernel, specialized for the file's `ARGS`.
    Kernel(fn() -> &'static Kernel),
    /// A program whose last generated (fused) kernel is checked.
    Program(fn(&Device) -> gpujit::Result<()>),
}

pub struct Case {
    pub name: &'static str,
    pub text: &'static str,
    pub subject: Subject,
}

/// One compiled specialization's stages.
#[derive(Clone)]
pub struct Stages {
    pub ir: String,
    pub llvm: String,
    pub ptx80: String,
    pub ptx90: String,
    /// The architecture of `ptx80`: 80, or 90 for a kernel that needs sm_90.
    pub low_arch: u32,
    /// The specialized kernel, for the CPU backend's stage (`HOST:`).
    pub kernel: gpujit::codegen::ir::Kernel,
}

fn stages_of(k: &Kernel, signature: &[ArgType], checked: bool) -> Result<Stages, String> {
    if !checked {
        return stages_with(|| k.ir_for(signature), |t| k.ptx_for(t, signature));
    }
    // `GPUJIT_CHECK=1`'s options, which a process sets for every kernel.
    let ir = || {
        let mut ir = k.ir_for(signature)?;
        ir.options.boundscheck = true;
        ir.options.finitecheck = true;
        Ok(ir)
    };
    stages_with(ir, |t| Ok(gpujit::codegen::nvptx::compile_ptx(&ir()?, t, true)?))
}

fn stages_with(
    ir: impl FnOnce() -> gpujit::Result<gpujit::codegen::ir::Kernel>,
    ptx: impl Fn(&NvptxTarget) -> gpujit::Result<gpujit::codegen::nvptx::PtxOutput>,
) -> Result<Stages, String> {
    let ir = ir().map_err(|e| e.to_string())?;
    let p90 = ptx(&NvptxTarget::sm(90).expect("known arch")).map_err(|e| e.to_string())?;
    // A kernel that needs sm_90 (Hopper's operations) has no sm_80 code: its `LLVM:` and
    // `PTX:` directives and its PTX snapshot are of sm_90.
    let low_arch = if ir.needs_arch().is_some_and(|(arch, _)| arch > 80) { 90 } else { 80 };
    let p80 = if low_arch == 90 { p90.clone() } else { ptx(&NvptxTarget::sm(80).expect("known arch")).map_err(|e| e.to_string())? };
    Ok(Stages { ir: ir.to_string(), llvm: p80.llvm_ir.unwrap_or_default(), ptx80: p80.ptx, ptx90: p90.ptx, low_arch, kernel: ir })
}

thread_local! {
    /// The generated kernels launched on this thread while a program case runs.
    static RECORDING: RefCell<Option<Vec<Result<Stages, String>>>> = const { RefCell::new(None) };
}

/// Called by the CPU harness's launch hook for every generated kernel: records its stages while
/// a program case runs on this thread.
pub fn record(k: &Kernel, args: &[Arg<'_>]) {
    if RECORDING.with(|r| r.borrow().is_none()) {
        return;
    }
    let stages = stages_with(|| k.ir(args), |t| k.ptx(t, args));
    RECORDING.with(|r| r.borrow_mut().as_mut().map(|v| v.push(stages)));
}

/// Parses `ARGS:` (`f32`, `&[T]`, `&mut [T]`, `&Array<T, N>`, `&mut Array<T, N>`, each optionally
/// followed by `strided`).
fn signature(text: &str) -> Result<Vec<ArgType>, String> {
    let Some(line) = text.lines().find_map(|l| l.trim().strip_prefix("// ARGS:")) else {
        return Err("no `// ARGS:` line".into());
    };
    let mut out = Vec::new();
    // Split on commas outside `<..>`.
    let mut depth = 0;
    let mut parts = vec![String::new()];
    for c in line.chars() {
        match c {
            '<' => depth += 1,
            '>' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(String::new());
                continue;
            }
            _ => {}
        }
        parts.last_mut().expect("one part").push(c);
    }
    for p in parts.iter().map(|p| p.trim()).filter(|p| !p.is_empty()) {
        let (p, contiguous) = match p.strip_suffix("strided") {
            Some(p) => (p.trim(), false),
            None => (p, true),
        };
        let arg = if let Some(rest) = p.strip_prefix('&') {
            let (writable, rest) = match rest.trim_start().strip_prefix("mut ") {
                Some(r) => (true, r.trim()),
                None => (false, rest.trim()),
            };
            if let Some(elem) = rest.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
                ArgType::Array { elem: scalar(elem)?, writable, ndim: 1, contiguous }
            } else if let Some(inner) = rest.strip_prefix("Array<").and_then(|r| r.strip_suffix('>')) {
                let (elem, ndim) = inner.split_once(',').ok_or(format!("`{p}`: write Array<T, N>"))?;
                let ndim = ndim.trim().parse().map_err(|_| format!("`{p}`: bad N"))?;
                ArgType::Array { elem: scalar(elem)?, writable, ndim, contiguous }
            } else {
                return Err(format!("`{p}` is not an array type"));
            }
        } else {
            ArgType::Scalar(scalar(p)?)
        };
        out.push(arg);
    }
    Ok(out)
}

fn scalar(name: &str) -> Result<gpujit::codegen::ScalarType, String> {
    gpujit::codegen::ScalarType::from_rust_name(name.trim()).ok_or(format!("`{}` is not a scalar type", name.trim()))
}

fn snapshot_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/snapshots")
}

fn blessing() -> bool {
    std::env::var("GPUJIT_BLESS").is_ok_and(|v| v == "1")
}

/// Compares `actual` with the snapshot `file`, or rewrites it when blessing.
fn snapshot(file: &str, actual: &str) -> Result<(), String> {
    let path = snapshot_dir().join(file);
    if blessing() {
        std::fs::create_dir_all(snapshot_dir()).map_err(|e| e.to_string())?;
        return std::fs::write(&path, actual).map_err(|e| format!("{}: {e}", path.display()));
    }
    let Ok(expected) = std::fs::read_to_string(&path) else {
        return Err(format!("no snapshot {}: run with GPUJIT_BLESS=1 to write it", path.display()));
    };
    if expected == actual {
        return Ok(());
    }
    let (e, a): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
    let first = e.iter().zip(&a).position(|(x, y)| x != y).unwrap_or(e.len().min(a.len()));
    Err(format!(
        "{file} differs from its snapshot from line {}:\n  expected: {}\n  actual:   {}\n(GPUJIT_BLESS=1 rewrites the snapshot; review the diff)",
        first + 1,
        e.get(first).unwrap_or(&"<end>"),
        a.get(first).unwrap_or(&"<end>")
    ))
}

/// Runs one case: every directive and both snapshots.
pub fn run(case: &Case) -> Result<(), String> {
    let stages = match &case.subject {
        Subject::Kernel(k) => stages_of(k(), &signature(case.text)?, case.text.lines().any(|l| l.trim() == "// MODE: GPUJIT_CHECK=1"))?,
        Subject::Program(program) => {
            let _ = super::Harness::cpu(); // installs the launch hook that records
            RECORDING.with(|r| *r.borrow_mut() = Some(Vec::new()));
            // Generated kernels in a GPU's shape (this directive's absence: the CPU backend's).
            let cpu_shaped = case.text.lines().any(|l| l.trim() == "// MODE: CPU");
            let result = if cpu_shaped { program(&Device::cpu()) } else { gpujit::fuse::gpu_shaped(|| program(&Device::cpu())) };
            let recorded = RECORDING.with(|r| r.borrow_mut().take()).unwrap_or_default();
            result.map_err(|e| format!("the program failed: {e}"))?;
            // `// KERNEL: name`: the last launch of that kernel (else the program's last launch).
            let wanted = case.text.lines().find_map(|l| l.trim().strip_prefix("// KERNEL:")).map(str::trim);
            let picked = recorded.into_iter().rev().find(|s| wanted.map_or(true, |w| s.as_ref().map_or(true, |s| s.kernel.name == w)));
            picked.ok_or("the program launched no generated kernel (of the KERNEL directive's name)")??
        }
    };
    let mut checked = 0;
    for (prefix, output) in [("IR", &stages.ir), ("LLVM", &stages.llvm), ("PTX", &stages.ptx80), ("PTX90", &stages.ptx90)] {
        let ds = directives(case.text, prefix);
        checked += ds.len();
        filecheck::check(output, &ds).map_err(|e| format!("{prefix} {e}\n--- {prefix} output ---\n{output}"))?;
    }
    // The CPU backend's optimized LLVM IR (for this machine's CPU: directives only, no snapshot).
    let host = directives(case.text, "HOST");
    if !host.is_empty() {
        checked += host.len();
        let code = gpujit::codegen::host::compile_host(&stages.kernel, true).map_err(|e| e.to_string())?;
        let output = code.llvm_ir().unwrap_or_default();
        filecheck::check(output, &host).map_err(|e| format!("HOST {e}\n--- HOST output ---\n{output}"))?;
    }
    if checked == 0 {
        return Err("no directives: a golden case checks something".into());
    }
    // Source paths (of kernels with line information) are the checkout's: snapshots name the
    // repository `$REPO`, so that they hold in any checkout.
    // Their DWARF sections hold the path's length too: snapshots end where those begin (the
    // directives see the whole output).
    let repo = env!("CARGO_MANIFEST_DIR");
    let code: Vec<&str> = stages.ptx80.lines().take_while(|l| !(l.trim_start().starts_with(".section") && l.contains(".debug"))).collect();
    snapshot(&format!("{}.ir", case.name), &stages.ir.replace(repo, "$REPO"))?;
    snapshot(&format!("{}.sm_{}.ptx", case.name, stages.low_arch), &(code.join("\n") + "\n").replace(repo, "$REPO"))
}

macro_rules! golden_cases {
    (kernels: [$($k:ident),* $(,)?], programs: [$($p:ident),* $(,)?] $(,)?) => {
        $(
            #[allow(unused_imports, dead_code)]
            pub(crate) mod $k {
                include!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/", stringify!($k), ".rs"));
            }
        )*
        $(
            #[allow(unused_imports, dead_code)]
            mod $p {
                include!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/", stringify!($p), ".rs"));
            }
        )*
        pub const CASES: &[Case] = &[
            $(Case {
                name: stringify!($k),
                text: include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/", stringify!($k), ".rs")),
                subject: Subject::Kernel(|| &$k::$k),
            },)*
            $(Case {
                name: stringify!($p),
                text: include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/", stringify!($p), ".rs")),
                subject: Subject::Program($p::run),
            },)*
        ];
    };
}

golden_cases! {
    kernels: [
        saxpy, generic_axpy, nd_strided, shared_reduce, per_thread_array, atomics, warp_ops, math_sin, fastmath_sin, device_call,
        half_arith, control_flow, casts_and_division, bit_methods, grid_barrier, boundscheck, launch_bounds, extern_shared, grid_2d,
        fences_and_block_votes, shared_atomics_bf16, complex_mul, line_info, checked_mode, fp_contract, fp_contract_off, noalias_loads, unroll_hints,
        inline_ptx, tensor_core_ops, hopper_ops, flat_grid_stride, flat_uniform_range, flat_refused, lockstep_block_sum, lockstep_simd,
        lockstep_tile,
    ],
    programs: [fused_add, fused_add_cpu, fused_sum, fused_sum_cpu, fused_rows_cpu, fused_columns_cpu, fused_rows_broadcast_cpu, forall_closure, vectorized_map, struct_fields, vector_loads, vector_access],
}

/// Every golden case; all failures are reported together.
pub fn golden() {
    let mut failures = Vec::new();
    for case in CASES {
        if let Err(e) = run(case) {
            failures.push(format!("golden case {} (tests/golden/{}.rs): {e}", case.name, case.name));
        }
    }
    // Every file in tests/golden is a case (a forgotten one would never run).
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    for entry in std::fs::read_dir(&dir).expect("tests/golden").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(stem) = name.strip_suffix(".rs") {
            if !CASES.iter().any(|c| c.name == stem) {
                failures.push(format!("tests/golden/{name} is not listed in golden_cases!"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
