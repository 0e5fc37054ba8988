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
            associated_constants,
            module_constants,
            const_generic_kernels,
            const_generic_device_functions,
            launch_ergonomics,
            int_arithmetic,
            float_arithmetic,
            bitwise_and_shifts,
            unary_ops,
            comparisons,
            short_circuit,
            as_casts,
            control_flow,
            range_loop_edges,
            unrolled_loops,
            thread_model_3d,
            locals_and_inference,
            launch_errors,
            specialization_errors,
            math_unary,
            math_binary,
            math_integers,
            std_int_methods,
            std_float_methods,
            unsigned_int_methods,
            complex_numbers,
            complex_arrays,
            complex_expressions,
            user_structs,
            user_struct_errors,
            user_struct_arrays_2d,
            kernel_assertions,
            deferred_reports,
            kernel_prints,
            prints_while_others_synchronize,
            line_info_kernels,
            debug_info_kernels,
            bounds_error_lines,
            checked_mode,
            user_struct_reductions,
            random_streams,
            random_known_answers,
            random_fills,
            effects_in_indices_once,
            generator_scopes,
            fastmath,
            kernel_options,
            fp_contraction,
            inline_ptx,
            inline_ptx_mma,
            vector_access,
            vector_access_checks,
            async_copies,
            mma_shapes,
            ldmatrix_fragments,
            tensor_core_gemm,
            bulk_errors,
            tma_copies,
            barrier_pipeline,
            wgmma_tiles,
            hopper_errors,
            shared_block_reverse,
            shared_reduction,
            shared_histogram,
            atomics,
            dynamic_shared_memory,
            local_arrays,
            tiled_matmul,
            register_tiled_sgemm,
            tuple_let,
            if_and_match,
            reversed_and_labeled_loops,
            grid_axes,
            warp_collectives,
            warp_shuffle_reduction,
            lane_shifts_32_and_64_bit,
            block_atomics_on_one_element,
            meeting_control_flow,
            lane_guards,
            flat_grid_stride,
            flat_one_element_a_thread,
            flat_bounds_faults,
            flat_uniform_ranges,
            flat_uniform_branches,
            flat_refused_unproven,
            strided_stencil,
            three_d_arrays,
            device_functions,
            bounds_checks,
            bounds_checks_where_threads_meet,
            half_floats,
            half_every_operation,
            differential_fuzzing,
            fuzz_regressions,
            grid_synchronization,
            device_attributes,
            broadcast_views,
            reinterpreted_views,
            aligned_vector_access,
            dlpack_conformance,
            cuda_array_interface_rules,
            cast_matrix,
            dlpack_pinned_host,
            expr_elementwise,
            expr_broadcast_strided,
            expr_dtypes,
            expr_errors,
            dynamic_expressions,
            expr_cache,
            reductions,
            matrix_reductions,
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
            aliased_arguments,
            wide_offsets,
            expressions_on_streams,
        );
    };
}

use gpujit::codegen::nvptx::NvptxTarget;
use gpujit::codegen::toolchain;
use gpujit::prelude::*;
use gpujit::runtime::launch::MAX_ARGS;
use gpujit::{Arg, Element, Error, Kernel, KernelArg, KernelArgs};
use std::cell::Cell;
use std::collections::HashSet;
use std::sync::Mutex;
// The interoperability cases' imports (also used by the runtime cases).
use gpujit::dlpack::{self, DLDataType, DLDevice, DLManagedTensor, DLManagedTensorVersioned, DLTensor, DlpackTensor};
use std::sync::atomic::{AtomicUsize, Ordering};

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
    /// On a GPU: this test's turn with the device (see [`FAULTING`]).
    _turn: Option<Turn>,
}

/// The cases whose kernels fail on purpose (assertions, bounds checks). A GPU reports a
/// kernel's failure at the device's next synchronization, whichever test asks for it: on a
/// GPU these cases run alone, the others beside one another.
pub const FAULTING: &[&str] = &[
    "kernel_assertions",
    "bounds_error_lines",
    "deferred_reports",
    "bounds_checks",
    "bounds_checks_where_threads_meet",
    "vector_access_checks",
    "checked_mode",
    "flat_bounds_faults",
    "flat_uniform_ranges",
    "flat_uniform_branches",
    "flat_refused_unproven",
    "graph_capture",
    "differential_fuzzing",
    "fuzz_regressions",
];

static GPU_TURNS: std::sync::RwLock<()> = std::sync::RwLock::new(());

enum Turn {
    Shared(#[allow(dead_code)] std::sync::RwLockReadGuard<'static, ()>),
    Alone(#[allow(dead_code)] std::sync::RwLockWriteGuard<'static, ()>),
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
        Harness::gpu_for("")
    }

    /// The GPU harness for case `case`, once it is the case's turn (see [`FAULTING`]).
    pub fn gpu_for(case: &str) -> Option<Harness> {
        let turn = if FAULTING.contains(&case) {
            Turn::Alone(GPU_TURNS.write().unwrap_or_else(|p| p.into_inner()))
        } else {
            Turn::Shared(GPU_TURNS.read().unwrap_or_else(|p| p.into_inner()))
        };
        let required = std::env::var("GPUJIT_REQUIRE_GPU").map(|v| v == "1").unwrap_or(false);
        match Device::cuda(0) {
            Ok(dev) => Some(Harness { _turn: Some(turn), ..Harness::new(dev, false) }),
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
        Harness { dev, check_ptx, rng: Cell::new(seed | 1), _turn: None }
    }

    pub fn is_gpu(&self) -> bool {
        self.dev.is_cuda()
    }

    /// Whether this device's kernels fuse `a * b + c` into one rounding by default: on a GPU,
    /// and on a CPU with fused multiply-adds, unless `GPUJIT_FP_CONTRACT=0`.
    pub fn contracts(&self) -> bool {
        std::env::var("GPUJIT_FP_CONTRACT").as_deref() != Ok("0") && (self.is_gpu() || math::host_fma())
    }

    /// `a * b + c` as a kernel computes it by default on this device ([`Harness::contracts`]).
    pub fn madd<T: MulAdd>(&self, a: T, b: T, c: T) -> T {
        if self.contracts() {
            a.fused(b, c)
        } else {
            a.rounded(b, c)
        }
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

    /// Launches `k` and waits for it, so that what a GPU reports at the next synchronization
    /// (prints, failed assertions) is this launch's result, as on the CPU backend; on the CPU
    /// harness, first checks the specialization's PTX with ptxas. (`deferred_reports` tests
    /// launches that do not wait.)
    pub fn run<'a, 's>(&self, k: &Kernel, config: impl Into<LaunchConfig<'s>>, args: impl KernelArgs<'a>) -> gpujit::Result<()> {
        let mut buf = [Arg::NONE; MAX_ARGS];
        let n = args.collect(&mut buf);
        let args = &buf[..n];
        if self.check_ptx {
            check_ptx(k, args);
        }
        k.launch(config, args)?;
        self.dev.synchronize()
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
    // The IR's text form is complete: it parses back to the same IR (spans aside).
    let text = ir.to_string();
    let back = gpujit::codegen::ir_text::parse(&text).unwrap_or_else(|e| panic!("{id}: the IR text does not parse back: {e}\n{text}"));
    assert_eq!(format!("{back:?}"), format!("{ir:?}"), "{id}: the IR text parses back to other IR:\n{text}");
    let ptxas = toolchain::find_ptxas().unwrap_or_else(|e| panic!("{e}"));
    // The lowest PTX ISA each architecture needs, and the newest both LLVM 19 and this ptxas
    // take (a GPU with a current driver gets PTX 8.5: some lowerings differ by PTX version).
    let newest = newest_sm90(&ptxas);
    let oldest = ir.needs_arch().map_or(0, |(arch, _)| arch);
    for target in [NvptxTarget::sm(80).expect("known arch"), NvptxTarget::sm(90).expect("known arch"), newest] {
        let arch = target.arch;
        if arch < oldest {
            // Refused before codegen (tested in `bulk_errors` and `hopper_errors`).
            continue;
        }
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

// The cases, by area.
mod arrays;
mod asm;
mod asserts;
mod basics;
mod bounds;
mod bulk;
mod casts;
mod checked;
mod collectives;
mod complex;
mod constants;
mod control;
mod device_fns;
mod errors;
mod flat;
mod grid_sync;
mod half_floats;
mod hopper;
mod interop;
mod math;
mod memory;
mod operators;
mod prints;
mod random;
mod std_methods;
mod structs;
pub use arrays::*;
pub use asm::*;
pub use asserts::*;
pub use basics::*;
pub use bounds::*;
pub use bulk::*;
pub use casts::*;
pub use checked::*;
pub use collectives::*;
pub use complex::*;
pub use constants::*;
pub use control::*;
pub use device_fns::*;
pub use errors::*;
pub use flat::*;
pub use grid_sync::*;
pub use half_floats::*;
pub use hopper::*;
pub use interop::*;
pub use math::*;
pub use memory::*;
pub use operators::*;
pub use prints::*;
pub use random::*;
pub use std_methods::*;
pub use structs::*;

/// `a * b + c` with one rounding or two.
pub trait MulAdd: Copy {
    fn fused(self, b: Self, c: Self) -> Self;
    fn rounded(self, b: Self, c: Self) -> Self;
}

impl MulAdd for f32 {
    fn fused(self, b: f32, c: f32) -> f32 {
        self.mul_add(b, c)
    }
    fn rounded(self, b: f32, c: f32) -> f32 {
        self * b + c
    }
}

impl MulAdd for f64 {
    fn fused(self, b: f64, c: f64) -> f64 {
        self.mul_add(b, c)
    }
    fn rounded(self, b: f64, c: f64) -> f64 {
        self * b + c
    }
}
