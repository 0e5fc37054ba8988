//! The host target: the CPU backend's machine code, JIT-compiled in process by LLVM (MCJIT).
//!
//! The body function is internal and always inlined into an entry wrapper that runs whole blocks
//! of a launch with CUDA's semantics, one thread after another:
//!
//! ```text
//! entry(args: *const u64, dims: *const u32 /* grid x y z, block x y z */, first: u64, end: u64,
//!       oob: *mut u64 /* [u64; OOB_RECORD_LEN] */)
//! ```
//!
//! `args` holds 8-byte slots: an array parameter takes two (data pointer, length), a scalar one
//! (its value in the low bytes). Blocks `first..end` (linear ids, x fastest) run in order; the
//! runtime spreads block ranges over its worker threads. The thread-model registers come from a
//! per-call context (`[u32; 12]`: tid, ntid, ctaid, nctaid), which the optimizer keeps in registers.
//! Every array access is bounds-checked: a bad one is skipped (a load yields 0) and the first is
//! recorded in `oob`, so a kernel bug cannot corrupt host memory.

use crate::ast::Dim;
use crate::error::CompileError;
use crate::ir::{self, ParamType};
use crate::lower::{self, counted_loop, memory_type};
use crate::math::MathFn;
use crate::target::{SpecialReg, Target};
use crate::types::ScalarType;
use inkwell::attributes::AttributeLoc;
use inkwell::builder::{Builder, BuilderError};
use inkwell::context::Context;
use inkwell::execution_engine::ExecutionEngine;
use inkwell::module::{Linkage, Module};
use inkwell::targets::{CodeModel, InitializationConfig, RelocMode, Target as LlvmTarget, TargetMachine};
use inkwell::types::BasicMetadataTypeEnum;
use inkwell::values::{BasicMetadataValueEnum, FunctionValue, IntValue};
use inkwell::{AddressSpace, OptimizationLevel};
use std::mem::ManuallyDrop;
use std::sync::Once;

/// The signature of a compiled host entry.
pub type HostEntry = unsafe extern "C" fn(args: *const u64, dims: *const u32, first_block: u64, end_block: u64, oob: *mut u64);

/// Length of the out-of-bounds record an entry fills on its first bad access: `[1, array
/// parameter index, element index, thread x, y, z, block x, y, z]`; all zero when none happened.
pub const OOB_RECORD_LEN: usize = 9;

/// The name of the entry wrapper in the host module.
const ENTRY: &str = "gpujit_host_entry";

/// The CPU backend's target.
#[derive(Copy, Clone, Debug, Default)]
pub struct HostTarget;

fn init_native() -> Result<(), String> {
    static INIT: Once = Once::new();
    let mut result = Ok(());
    INIT.call_once(|| result = LlvmTarget::initialize_native(&InitializationConfig::default()));
    result
}

impl Target for HostTarget {
    fn name(&self) -> &'static str {
        "host"
    }

    fn target_machine(&self) -> Result<TargetMachine, String> {
        init_native()?;
        let triple = TargetMachine::get_default_triple();
        let t = LlvmTarget::from_triple(&triple).map_err(|e| e.to_string())?;
        let cpu = TargetMachine::get_host_cpu_name().to_string();
        let features = TargetMachine::get_host_cpu_features().to_string();
        t.create_target_machine(&triple, &cpu, &features, OptimizationLevel::Aggressive, RelocMode::Default, CodeModel::JITDefault)
            .ok_or_else(|| "LLVM has no target machine for this host".to_string())
    }

    fn global_address_space(&self) -> AddressSpace {
        AddressSpace::default()
    }

    fn extra_params<'ctx>(&self, cx: &'ctx Context) -> Vec<BasicMetadataTypeEnum<'ctx>> {
        // The thread context, then the out-of-bounds record.
        vec![cx.ptr_type(AddressSpace::default()).into(), cx.ptr_type(AddressSpace::default()).into()]
    }

    fn bounds_check(&self) -> bool {
        true
    }

    fn math_function(&self, f: MathFn, t: ScalarType, _fast: bool) -> Option<String> {
        f.libm_name(t)
    }

    fn report_out_of_bounds<'ctx>(
        &self,
        module: &Module<'ctx>,
        b: &Builder<'ctx>,
        body: FunctionValue<'ctx>,
        array: u32,
        index: IntValue<'ctx>,
    ) -> Result<(), BuilderError> {
        let cx = module.get_context();
        let i64t = cx.i64_type();
        let n = body.count_params();
        let (Some(ctx), Some(rec)) = (body.get_nth_param(n - 2), body.get_nth_param(n - 1)) else {
            unreachable!("the host body takes the thread context and the record last")
        };
        let (ctx, rec) = (ctx.into_pointer_value(), rec.into_pointer_value());
        let flag = b.build_load(i64t, rec, "oobflag")?.into_int_value();
        let first = b.build_int_compare(inkwell::IntPredicate::EQ, flag, i64t.const_zero(), "oobfirst")?;
        let write = cx.append_basic_block(body, "oob.record");
        let done = cx.append_basic_block(body, "oob.done");
        b.build_conditional_branch(first, write, done)?;
        b.position_at_end(write);
        let field = |i: u64| -> Result<_, BuilderError> {
            // SAFETY (of the generated code): the record is [u64; OOB_RECORD_LEN] and i < 9.
            unsafe { b.build_in_bounds_gep(i64t, rec, &[i64t.const_int(i, false)], "oobfield") }
        };
        b.build_store(field(0)?, i64t.const_int(1, false))?;
        b.build_store(field(1)?, i64t.const_int(array as u64, false))?;
        b.build_store(field(2)?, index)?;
        let regs = [
            SpecialReg::Tid(Dim::X),
            SpecialReg::Tid(Dim::Y),
            SpecialReg::Tid(Dim::Z),
            SpecialReg::Ctaid(Dim::X),
            SpecialReg::Ctaid(Dim::Y),
            SpecialReg::Ctaid(Dim::Z),
        ];
        for (k, reg) in regs.into_iter().enumerate() {
            // SAFETY (of the generated code): the context is [u32; 12] and host_slot() < 12.
            let a = unsafe { b.build_in_bounds_gep(cx.i32_type(), ctx, &[i64t.const_int(reg.host_slot(), false)], "ctxslot")? };
            let v = b.build_load(cx.i32_type(), a, "reg")?.into_int_value();
            let v = b.build_int_z_extend(v, i64t, "reg64")?;
            b.build_store(field(3 + k as u64)?, v)?;
        }
        b.build_unconditional_branch(done)?;
        b.position_at_end(done);
        Ok(())
    }

    fn configure_body<'ctx>(&self, cx: &'ctx Context, body: FunctionValue<'ctx>) {
        body.set_linkage(Linkage::Internal);
        let always = inkwell::attributes::Attribute::get_named_enum_kind_id("alwaysinline");
        body.add_attribute(AttributeLoc::Function, cx.create_enum_attribute(always, 0));
    }

    fn read_special<'ctx>(
        &self,
        module: &Module<'ctx>,
        builder: &Builder<'ctx>,
        body: FunctionValue<'ctx>,
        reg: SpecialReg,
    ) -> Result<IntValue<'ctx>, BuilderError> {
        let cx = module.get_context();
        let ctx_ptr = match body.get_nth_param(body.count_params() - 2) {
            Some(p) => p.into_pointer_value(),
            None => unreachable!("the host body takes the thread context second to last"),
        };
        let i32t = cx.i32_type();
        // SAFETY (of the generated code): the context is a [u32; 12] and host_slot() < 12.
        let addr = unsafe { builder.build_in_bounds_gep(i32t, ctx_ptr, &[cx.i64_type().const_int(reg.host_slot(), false)], "ctxslot")? };
        Ok(builder.build_load(i32t, addr, "sreg")?.into_int_value())
    }

    fn finish<'ctx>(
        &self,
        cx: &'ctx Context,
        module: &Module<'ctx>,
        body: FunctionValue<'ctx>,
        kernel: &ir::Kernel,
    ) -> Result<(), BuilderError> {
        let ptr = cx.ptr_type(AddressSpace::default());
        let i64t = cx.i64_type();
        let i32t = cx.i32_type();
        let fn_type = cx.void_type().fn_type(&[ptr.into(), ptr.into(), i64t.into(), i64t.into(), ptr.into()], false);
        let entry = module.add_function(ENTRY, fn_type, Some(Linkage::External));
        let b = cx.create_builder();
        b.position_at_end(cx.append_basic_block(entry, "entry"));
        let param = |i: u32| match entry.get_nth_param(i) {
            Some(p) => p,
            None => unreachable!("entry has five parameters"),
        };
        let (args, dims) = (param(0).into_pointer_value(), param(1).into_pointer_value());
        let (first, end) = (param(2).into_int_value(), param(3).into_int_value());
        let oob = param(4).into_pointer_value();

        // Unpack the argument slots once.
        let mut call_args: Vec<BasicMetadataValueEnum> = Vec::new();
        let mut slot = 0u64;
        let mut slot_addr = |b: &Builder<'ctx>| -> Result<_, BuilderError> {
            // SAFETY (of the generated code): the runtime passes one slot per value unpacked here.
            let a = unsafe { b.build_in_bounds_gep(i64t, args, &[i64t.const_int(slot, false)], "slot")? };
            slot += 1;
            Ok(a)
        };
        for p in &kernel.params {
            match p.ty {
                ParamType::Array { .. } => {
                    let a = slot_addr(&b)?;
                    call_args.push(b.build_load(ptr, a, &p.name)?.into());
                    let a = slot_addr(&b)?;
                    call_args.push(b.build_load(i64t, a, "len")?.into());
                }
                ParamType::Scalar(t) => {
                    let a = slot_addr(&b)?;
                    call_args.push(b.build_load(memory_type(cx, t), a, &p.name)?.into());
                }
            }
        }
        let dim = |b: &Builder<'ctx>, i: u64| -> Result<IntValue<'ctx>, BuilderError> {
            // SAFETY (of the generated code): dims is a [u32; 6].
            let a = unsafe { b.build_in_bounds_gep(i32t, dims, &[i64t.const_int(i, false)], "dim")? };
            Ok(b.build_load(i32t, a, "d")?.into_int_value())
        };
        let grid: Vec<IntValue> = (0..3).map(|i| dim(&b, i)).collect::<Result<_, _>>()?;
        let block: Vec<IntValue> = (3..6).map(|i| dim(&b, i)).collect::<Result<_, _>>()?;
        let ctx = b.build_array_alloca(i32t, i32t.const_int(12, false), "threadctx")?;
        let store_reg = |b: &Builder<'ctx>, reg: SpecialReg, v: IntValue<'ctx>| -> Result<(), BuilderError> {
            // SAFETY (of the generated code): host_slot() < 12, the context's length.
            let a = unsafe { b.build_in_bounds_gep(i32t, ctx, &[i64t.const_int(reg.host_slot(), false)], "ctxslot")? };
            b.build_store(a, v)?;
            Ok(())
        };
        for (d, (g, bl)) in [Dim::X, Dim::Y, Dim::Z].into_iter().zip(grid.iter().zip(&block)) {
            store_reg(&b, SpecialReg::Nctaid(d), *g)?;
            store_reg(&b, SpecialReg::Ntid(d), *bl)?;
        }
        let wide = |b: &Builder<'ctx>, v: IntValue<'ctx>| b.build_int_z_extend(v, i64t, "w");
        let gx = wide(&b, grid[0])?;
        let gy = wide(&b, grid[1])?;
        let gxy = b.build_int_nuw_mul(gx, gy, "gxy")?;
        let (bx, by, bz) = (wide(&b, block[0])?, wide(&b, block[1])?, wide(&b, block[2])?);
        let zero = i64t.const_zero();
        counted_loop(cx, &b, entry, first, end, "blk", &mut |blk| {
            let cx_ = b.build_int_unsigned_rem(blk, gx, "cx")?;
            let rest = b.build_int_unsigned_div(blk, gx, "rest")?;
            let cy = b.build_int_unsigned_rem(rest, gy, "cy")?;
            let cz = b.build_int_unsigned_div(blk, gxy, "cz")?;
            for (d, v) in [(Dim::X, cx_), (Dim::Y, cy), (Dim::Z, cz)] {
                let v = b.build_int_truncate(v, i32t, "c32")?;
                store_reg(&b, SpecialReg::Ctaid(d), v)?;
            }
            counted_loop(cx, &b, entry, zero, bz, "tz", &mut |tz| {
                store_reg(&b, SpecialReg::Tid(Dim::Z), b.build_int_truncate(tz, i32t, "t32")?)?;
                counted_loop(cx, &b, entry, zero, by, "ty", &mut |ty| {
                    store_reg(&b, SpecialReg::Tid(Dim::Y), b.build_int_truncate(ty, i32t, "t32")?)?;
                    counted_loop(cx, &b, entry, zero, bx, "tx", &mut |tx| {
                        store_reg(&b, SpecialReg::Tid(Dim::X), b.build_int_truncate(tx, i32t, "t32")?)?;
                        let mut a = call_args.clone();
                        a.push(ctx.into());
                        a.push(oob.into());
                        b.build_call(body, &a, "")?;
                        Ok(())
                    })
                })
            })
        })?;
        b.build_return(None)?;
        Ok(())
    }
}

/// A kernel compiled for the host: callable machine code and the JIT engine that owns it.
pub struct HostCode {
    entry: HostEntry,
    llvm_ir: Option<String>,
    // Dropped in this order by `Drop`: the engine refers into the context.
    engine: ManuallyDrop<ExecutionEngine<'static>>,
    context: ManuallyDrop<Box<Context>>,
}

// SAFETY: after construction `HostCode` is only used through `entry`, a pointer to finalized,
// reentrant machine code that touches nothing but its arguments. The engine and context (which
// hold non-thread-safe reference counts) are never accessed again until `Drop`, which has
// exclusive access, so sharing or moving the value between threads cannot race on them.
unsafe impl Send for HostCode {}
// SAFETY: see `Send`; `&HostCode` exposes only the entry pointer and an immutable string.
unsafe impl Sync for HostCode {}

impl HostCode {
    /// The entry point; see the module documentation for its contract.
    pub fn entry(&self) -> HostEntry {
        self.entry
    }

    /// The optimized LLVM IR, when asked for at compile time.
    pub fn llvm_ir(&self) -> Option<&str> {
        self.llvm_ir.as_deref()
    }
}

impl Drop for HostCode {
    fn drop(&mut self) {
        // SAFETY: each field is dropped exactly once, the engine (which borrows the context)
        // before the context it borrows.
        unsafe {
            ManuallyDrop::drop(&mut self.engine);
            ManuallyDrop::drop(&mut self.context);
        }
    }
}

/// Compiles a specialized kernel to host machine code.
pub fn compile_host(kernel: &ir::Kernel, want_llvm_ir: bool) -> Result<HostCode, CompileError> {
    let llvm = |stage: &'static str, message: String| CompileError::Llvm { kernel: kernel.name.clone(), stage, message };
    let tm = HostTarget.target_machine().map_err(|m| llvm("target selection", m))?;
    let context = Box::new(Context::create());
    // SAFETY: the context lives on the heap, so this reference stays valid while the Box exists
    // wherever it moves; `HostCode` keeps the Box and drops every value borrowing it (the engine)
    // first, and no other value created from it escapes this function.
    let cx: &'static Context = unsafe { &*(context.as_ref() as *const Context) };
    let module = lower::lower(cx, kernel, &HostTarget, &tm)?;
    lower::optimize(&module, &tm, &kernel.name)?;
    let llvm_ir = want_llvm_ir.then(|| module.print_to_string().to_string());
    let engine =
        module.create_jit_execution_engine(OptimizationLevel::Aggressive).map_err(|e| llvm("JIT engine creation", e.to_string()))?;
    let addr = engine.get_function_address(ENTRY).map_err(|e| llvm("JIT symbol lookup", e.to_string()))?;
    // SAFETY: `addr` is the finalized code of ENTRY, a function emitted above with exactly the
    // HostEntry signature and the C calling convention.
    let entry: HostEntry = unsafe { std::mem::transmute::<usize, HostEntry>(addr) };
    Ok(HostCode { entry, llvm_ir, engine: ManuallyDrop::new(engine), context: ManuallyDrop::new(context) })
}
