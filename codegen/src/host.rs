//! The host target: the CPU backend's machine code, JIT-compiled in process by LLVM (MCJIT).
//!
//! The body function is internal and always inlined into two entries:
//!
//! ```text
//! gpujit_host_entry(args: *const u64, dims: *const u32 /* grid x y z, block x y z */,
//!                   first: u64, end: u64, oob: *mut u64, shared: *mut u8, dynamic_shared_bytes: u64,
//!                   frame: *mut u8) -> u32 /* 1: the flat function ran them */
//! gpujit_host_thread(args: *const u64, ctx: *mut HostCtx, oob: *mut u64)
//! ```
//!
//! `args` holds 8-byte slots ([`ParamLayout`]): an array parameter takes its data pointer, then
//! its extents, then its strides; a scalar one (its value in the low bytes). The first entry runs blocks `first..end` (linear ids, x fastest),
//! each block's threads one after another; it serves kernels without barriers. The second runs one
//! thread described by a [`HostCtx`]; the runtime runs the threads of a block as fibers and the
//! kernel's `sync_threads()` calls the context's `barrier` callback, which switches to the next
//! fiber. Shared memory is a per-block buffer the runtime provides.
//!
//! Every array access is bounds-checked: a bad one is skipped (a load yields 0) and the first is
//! recorded in `oob` (`[1, array number, index, thread x y z, block x y z]`, array numbers as in
//! [`crate::lower::array_table`]), so a kernel bug cannot corrupt host memory.

use crate::ast::{Collective, Dim, FenceScope};
use crate::bulk::MmaShape;
use crate::contract::{KernelMetadata, OobRecord, ParamLayout, ParamSlots};
use crate::error::CompileError;
use crate::ir::{self, BulkOp, ParamType};
use crate::limits::MAX_ASSERT_VALUES;
use crate::lower::{self, counted_loop, memory_type};
use crate::math::MathFn;
use crate::target::{write_oob_fields, BulkAccess, SpecialReg, Target};
use crate::types::ScalarType;
use inkwell::attributes::{Attribute, AttributeLoc};
use inkwell::builder::{Builder, BuilderError};
use inkwell::context::Context;
use inkwell::execution_engine::ExecutionEngine;
use inkwell::memory_buffer::MemoryBuffer;
use inkwell::module::{Linkage, Module};
use inkwell::targets::{CodeModel, FileType, InitializationConfig, RelocMode, Target as LlvmTarget, TargetMachine};
use inkwell::types::BasicMetadataTypeEnum;
use inkwell::values::{BasicMetadataValueEnum, BasicValueEnum, FunctionValue, IntValue, PointerValue};
use inkwell::{AddressSpace, AtomicOrdering, OptimizationLevel};
use std::ffi::c_void;
use std::mem::{offset_of, size_of, ManuallyDrop};
use std::sync::Once;

/// The entry running whole blocks (kernels without barriers). It returns 1 where the kernel's
/// flat function ran the blocks' elements ([`crate::lower::flat`]), 0 where they ran block by block.
pub type HostEntry = unsafe extern "C" fn(
    args: *const u64,
    dims: *const u32,
    first_block: u64,
    end_block: u64,
    oob: *mut u64,
    shared: *mut u8,
    dynamic_shared_bytes: u64,
    frame: *mut u8,
) -> u32;

/// The entry running one thread.
pub type HostThreadEntry = unsafe extern "C" fn(args: *const u64, ctx: *mut HostCtx, oob: *mut u64);

/// What one thread of the CPU backend sees of the launch.
#[repr(C)]
#[derive(Debug)]
pub struct HostCtx {
    /// threadIdx, blockDim, blockIdx, gridDim (x, y, z each).
    pub sregs: [u32; 12],
    /// The block's shared memory: static arrays, then dynamic shared memory.
    pub shared: *mut u8,
    /// Called by `sync_threads()` with this context.
    pub barrier: Option<unsafe extern "C" fn(*mut HostCtx)>,
    /// The runtime's handle of the fiber running the thread.
    pub fiber: *mut c_void,
    pub dynamic_shared_bytes: u64,
    /// Called by warp and block collectives: `(ctx, op (index in Collective::ALL), value bits,
    /// lane or delta, mask) -> result bits`.
    pub collective: Option<unsafe extern "C" fn(*mut HostCtx, u32, u64, u64, u32) -> u64>,
    /// Called by `grid_sync()`.
    pub grid_barrier: Option<unsafe extern "C" fn(*mut HostCtx)>,
    /// Called by the warp's matrix operations (`ldmatrix`, `mma_sync`): `(ctx, op (see
    /// [`warp_matrix_code`]), the operands' addresses)`: for `ldmatrix` the fragment and this
    /// lane's row, for `mma_sync` c, a and b.
    pub warp_matrix: Option<unsafe extern "C" fn(*mut HostCtx, u64, *const *mut u8)>,
    /// Called by Hopper's operations (`mbarrier_*`, `tma_load_2d`, `wgmma`): `(ctx, op (see
    /// [`hopper_code`]), the operands' addresses then the values as 64-bit words)`.
    pub hopper: Option<unsafe extern "C" fn(*mut HostCtx, u64, *const *mut u8)>,
    /// The block's lockstep frame (a kernel run in lockstep, see [`crate::lower::lockstep`]):
    /// every thread's locals and masks, `KernelMetadata::lockstep_frame` bytes a thread.
    pub frame: *mut u8,
}

/// The code of a Hopper operation as [`HostCtx::hopper`] receives it.
pub fn hopper_code(op: BulkOp) -> u64 {
    match op {
        BulkOp::BarrierInit => 1,
        BulkOp::BarrierArrive => 2,
        BulkOp::BarrierExpectTx => 3,
        BulkOp::BarrierWait => 4,
        BulkOp::TmaLoad => 5,
        BulkOp::Wgmma { n, input } => 6 | (n as u64) << 8 | (MmaShape::ALL.iter().position(|s| *s == input).unwrap_or(0) as u64) << 24,
        _ => 0,
    }
}

/// The operation of a [`hopper_code`].
pub fn hopper_op(code: u64) -> Option<BulkOp> {
    Some(match code & 0xff {
        1 => BulkOp::BarrierInit,
        2 => BulkOp::BarrierArrive,
        3 => BulkOp::BarrierExpectTx,
        4 => BulkOp::BarrierWait,
        5 => BulkOp::TmaLoad,
        6 => BulkOp::Wgmma { n: ((code >> 8) & 0xffff) as u32, input: *MmaShape::ALL.get(((code >> 24) & 0xff) as usize)? },
        _ => return None,
    })
}

/// The code of a warp matrix operation as [`HostCtx::warp_matrix`] receives it.
pub fn warp_matrix_code(op: BulkOp) -> u64 {
    match op {
        BulkOp::LdMatrix { matrices, trans } => 1 | (matrices as u64) << 8 | (trans as u64) << 16,
        BulkOp::Mma(shape) => 2 | (MmaShape::ALL.iter().position(|s| *s == shape).unwrap_or(0) as u64) << 8,
        _ => 0,
    }
}

/// The operation of a [`warp_matrix_code`].
pub fn warp_matrix_op(code: u64) -> Option<BulkOp> {
    match code & 0xff {
        1 => Some(BulkOp::LdMatrix { matrices: ((code >> 8) & 0xff) as u32, trans: (code >> 16) & 1 == 1 }),
        2 => MmaShape::ALL.get(((code >> 8) & 0xff) as usize).map(|s| BulkOp::Mma(*s)),
        _ => None,
    }
}

const CTX_SHARED: u64 = offset_of!(HostCtx, shared) as u64;
const CTX_BARRIER: u64 = offset_of!(HostCtx, barrier) as u64;
const CTX_DYNAMIC: u64 = offset_of!(HostCtx, dynamic_shared_bytes) as u64;
const CTX_COLLECTIVE: u64 = offset_of!(HostCtx, collective) as u64;
const CTX_GRID_BARRIER: u64 = offset_of!(HostCtx, grid_barrier) as u64;
const CTX_WARP_MATRIX: u64 = offset_of!(HostCtx, warp_matrix) as u64;
const CTX_HOPPER: u64 = offset_of!(HostCtx, hopper) as u64;
const CTX_FRAME: u64 = offset_of!(HostCtx, frame) as u64;
const CTX_SIZE: u64 = size_of::<HostCtx>() as u64;

const ENTRY: &str = "gpujit_host_entry";
const THREAD_ENTRY: &str = "gpujit_host_thread";

/// The CPU backend's target.
#[derive(Copy, Clone, Debug, Default)]
pub struct HostTarget;

fn init_native() -> Result<(), String> {
    static INIT: Once = Once::new();
    let mut result = Ok(());
    INIT.call_once(|| result = LlvmTarget::initialize_native(&InitializationConfig::default()));
    result
}

/// The context parameter (second to last) and the out-of-bounds record (last) of the body.
fn ctx_params<'ctx>(body: FunctionValue<'ctx>) -> (PointerValue<'ctx>, PointerValue<'ctx>) {
    let n = body.count_params();
    match (body.get_nth_param(n - 2), body.get_nth_param(n - 1)) {
        (Some(c), Some(r)) => (c.into_pointer_value(), r.into_pointer_value()),
        _ => unreachable!("the host body takes the thread context and the record last"),
    }
}

/// The module's out-of-bounds report, `gpujit.oob_report(array_axis, index, values.., ctx, record)`
/// (cold, never inlined): claims the record if no fault claimed it before and fills it in.
fn oob_report_function<'ctx>(target: &HostTarget, module: &Module<'ctx>) -> Result<FunctionValue<'ctx>, BuilderError> {
    const NAME: &str = "gpujit.oob_report";
    if let Some(f) = module.get_function(NAME) {
        return Ok(f);
    }
    let cx = module.get_context();
    let i64t = cx.i64_type();
    let ptr = cx.ptr_type(AddressSpace::default());
    let mut params: Vec<BasicMetadataTypeEnum<'ctx>> = vec![i64t.into(); 2 + MAX_ASSERT_VALUES];
    params.extend::<[BasicMetadataTypeEnum<'ctx>; 2]>([ptr.into(), ptr.into()]);
    let f = module.add_function(NAME, cx.void_type().fn_type(&params, false), Some(Linkage::Internal));
    for attr in ["cold", "noinline", "nounwind"] {
        f.add_attribute(AttributeLoc::Function, cx.create_enum_attribute(inkwell::attributes::Attribute::get_named_enum_kind_id(attr), 0));
    }
    let b = cx.create_builder();
    let entry = cx.append_basic_block(f, "entry");
    let write = cx.append_basic_block(f, "oob.record");
    let done = cx.append_basic_block(f, "oob.done");
    b.position_at_end(entry);
    let rec = ctx_params(f).1;
    let param = |k: u32| f.get_nth_param(k).map(|p| p.into_int_value()).unwrap_or_else(|| i64t.const_zero());
    let flag = b.build_load(i64t, rec, "oobflag")?.into_int_value();
    let first = b.build_int_compare(inkwell::IntPredicate::EQ, flag, i64t.const_zero(), "oobfirst")?;
    b.build_conditional_branch(first, write, done)?;
    b.position_at_end(write);
    // Claim the record: its flag is set once, by the first bad access.
    b.build_store(rec, i64t.const_int(1, false))?;
    // The array-and-axis word comes combined (the caller's constant array, its axis shifted):
    // the shared writer fills the other fields, then the word is stored over its own.
    let values: Vec<IntValue<'ctx>> = (0..MAX_ASSERT_VALUES as u32).map(|k| param(2 + k)).collect();
    write_oob_fields(target, module, &b, f, rec, 0, param(1), i64t.const_zero(), &values)?;
    // SAFETY (of the generated code): the record is OobRecord::WORDS words; ARRAY is a field.
    let word = unsafe { b.build_in_bounds_gep(i64t, rec, &[i64t.const_int(OobRecord::ARRAY, false)], "oobfield")? };
    b.build_store(word, param(0))?;
    b.build_unconditional_branch(done)?;
    b.position_at_end(done);
    b.build_return(None)?;
    Ok(f)
}

/// The address of the byte `offset` of `base`.
fn byte_addr<'ctx>(
    b: &Builder<'ctx>,
    cx: &inkwell::context::ContextRef<'ctx>,
    base: PointerValue<'ctx>,
    offset: u64,
) -> Result<PointerValue<'ctx>, BuilderError> {
    // SAFETY (of the generated code): callers pass offsets inside the object `base` points to.
    unsafe { b.build_in_bounds_gep(cx.i8_type(), base, &[cx.i64_type().const_int(offset, false)], "field") }
}

fn ctx_field<'ctx>(
    b: &Builder<'ctx>,
    module: &Module<'ctx>,
    body: FunctionValue<'ctx>,
    offset: u64,
) -> Result<PointerValue<'ctx>, BuilderError> {
    let cx = module.get_context();
    byte_addr(b, &cx, ctx_params(body).0, offset)
}

impl HostTarget {
    /// Calls the context's callback at `field` with `code` and a list of the operands' addresses,
    /// then the values (zero-extended to 64 bits), in a slot of the entry block.
    #[allow(clippy::too_many_arguments)]
    fn call_with_operands<'ctx>(
        &self,
        module: &Module<'ctx>,
        b: &Builder<'ctx>,
        body: FunctionValue<'ctx>,
        field: u64,
        code: u64,
        addrs: &[PointerValue<'ctx>],
        values: &[IntValue<'ctx>],
    ) -> Result<(), BuilderError> {
        let cx = module.get_context();
        let (i64t, ptr) = (cx.i64_type(), cx.ptr_type(AddressSpace::default()));
        let n = (addrs.len() + values.len()) as u32;
        // In the entry block: a fixed slot, not one more on the stack per loop iteration.
        let entry = b.get_insert_block().and_then(|bb| bb.get_parent()).and_then(|f| f.get_first_basic_block());
        let at_entry = cx.create_builder();
        match entry.map(|e| (e, e.get_first_instruction())) {
            Some((_, Some(first))) => at_entry.position_before(&first),
            Some((e, None)) => at_entry.position_at_end(e),
            None => at_entry.position_at_end(b.get_insert_block().unwrap_or_else(|| unreachable!("builder is positioned"))),
        }
        let list = at_entry.build_alloca(ptr.array_type(n.max(1)), "matrix.ops")?;
        let mut items = addrs.to_vec();
        for v in values {
            let wide = b.build_int_z_extend_or_bit_cast(*v, i64t, "value")?;
            items.push(b.build_int_to_ptr(wide, ptr, "value.word")?);
        }
        for (i, a) in items.iter().enumerate() {
            // SAFETY (of the generated code): `list` has room for every operand.
            let at = unsafe { b.build_in_bounds_gep(ptr, list, &[i64t.const_int(i as u64, false)], "matrix.op")? };
            b.build_store(at, *a)?;
        }
        let callback = b.build_load(ptr, ctx_field(b, module, body, field)?, "callback")?.into_pointer_value();
        let fn_type = cx.void_type().fn_type(&[ptr.into(), i64t.into(), ptr.into()], false);
        let code = i64t.const_int(code, false);
        b.build_indirect_call(fn_type, callback, &[ctx_params(body).0.into(), code.into(), list.into()], "")?;
        Ok(())
    }

    /// Calls the callback stored at `offset` of the thread context with the context.
    fn call_back<'ctx>(
        &self,
        module: &Module<'ctx>,
        builder: &Builder<'ctx>,
        body: FunctionValue<'ctx>,
        offset: u64,
    ) -> Result<(), BuilderError> {
        let cx = module.get_context();
        let ptr = cx.ptr_type(AddressSpace::default());
        let callback = builder.build_load(ptr, ctx_field(builder, module, body, offset)?, "callback")?.into_pointer_value();
        let fn_type = cx.void_type().fn_type(&[ptr.into()], false);
        builder.build_indirect_call(fn_type, callback, &[ctx_params(body).0.into()], "")?;
        Ok(())
    }
}

impl Target for HostTarget {
    fn name(&self) -> &'static str {
        "host"
    }

    /// DWARF 4 line tables in the JIT's object, which MCJIT registers with GDB's JIT interface.
    fn line_info(&self) -> Option<u32> {
        Some(4)
    }

    /// `debug` kernels are compiled without optimization and describe their scalar locals, so
    /// gdb shows them (`info locals`).
    fn debug_locals(&self) -> bool {
        true
    }

    fn target_machine(&self) -> Result<TargetMachine, String> {
        host_machine(OptimizationLevel::Aggressive)
    }

    fn global_address_space(&self) -> AddressSpace {
        AddressSpace::default()
    }

    /// Where the host CPU has fused multiply-adds (x86-64's FMA3, every AArch64), so that a
    /// kernel's contracted results are the GPU's.
    fn fused_multiply_add(&self) -> bool {
        let features = TargetMachine::get_host_cpu_features().to_string();
        cfg!(target_arch = "aarch64") || features.split(',').any(|f| f == "+fma")
    }

    fn extra_params<'ctx>(&self, cx: &'ctx Context) -> Vec<BasicMetadataTypeEnum<'ctx>> {
        // The thread context, then the out-of-bounds record.
        vec![cx.ptr_type(AddressSpace::default()).into(), cx.ptr_type(AddressSpace::default()).into()]
    }

    fn configure_body<'ctx>(&self, cx: &'ctx Context, body: FunctionValue<'ctx>) {
        body.set_linkage(Linkage::Internal);
        let always = inkwell::attributes::Attribute::get_named_enum_kind_id("alwaysinline");
        body.add_attribute(AttributeLoc::Function, cx.create_enum_attribute(always, 0));
    }

    fn math_function(&self, f: MathFn, t: ScalarType, _fast: bool) -> Option<String> {
        f.libm_name(t)
    }

    fn bounds_check(&self, _kernel: &ir::Kernel) -> bool {
        true
    }

    fn print_record<'ctx>(
        &self,
        module: &Module<'ctx>,
        b: &Builder<'ctx>,
        body: FunctionValue<'ctx>,
        words: &[IntValue<'ctx>],
    ) -> Result<(), BuilderError> {
        // The print buffer follows the fault record in the chunk's record area; a chunk's
        // threads run one at a time, so the reservation needs no atomic.
        let cx = module.get_context();
        let i64t = cx.i64_type();
        let rec = ctx_params(body).1;
        // SAFETY (of the generated code): a kernel that prints gets a record area of
        // OobRecord::WORDS words, then the buffer (cursor and PRINT_WORDS words).
        let buffer =
            unsafe { b.build_in_bounds_gep(i64t, rec, &[i64t.const_int(crate::contract::OobRecord::WORDS as u64, false)], "printbuf")? };
        crate::target::append_print(module, b, buffer, words, |cursor, n| {
            let old = b.build_load(i64t, cursor, "print.cursor")?.into_int_value();
            b.build_store(cursor, b.build_int_add(old, n, "print.next")?)?;
            Ok(old)
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn report_out_of_bounds<'ctx>(
        &self,
        module: &Module<'ctx>,
        b: &Builder<'ctx>,
        body: FunctionValue<'ctx>,
        array: u32,
        index: IntValue<'ctx>,
        axis: IntValue<'ctx>,
        values: &[IntValue<'ctx>],
    ) -> Result<(), BuilderError> {
        // One call of a cold function the module shares: a site is one instruction that touches
        // memory rather than twenty, which keeps LLVM's alias queries in loops of many checked
        // accesses few (their cost grows with the square of the accesses).
        let cx = module.get_context();
        let i64t = cx.i64_type();
        let report = oob_report_function(self, module)?;
        let (ctx, rec) = ctx_params(body);
        let array_axis = b.build_or(
            b.build_left_shift(axis, i64t.const_int(32, false), "axis")?,
            i64t.const_int(OobRecord::array_axis(array, 0), false),
            "arrayaxis",
        )?;
        let mut args: Vec<inkwell::values::BasicMetadataValueEnum<'ctx>> = vec![array_axis.into(), index.into()];
        for k in 0..MAX_ASSERT_VALUES {
            args.push(values.get(k).copied().unwrap_or_else(|| i64t.const_zero()).into());
        }
        args.push(ctx.into());
        args.push(rec.into());
        b.build_call(report, &args, "")?;
        Ok(())
    }

    fn shared_array<'ctx>(
        &self,
        module: &Module<'ctx>,
        builder: &Builder<'ctx>,
        body: FunctionValue<'ctx>,
        _index: u32,
        _elem: ScalarType,
        _len: u64,
        offset: u64,
    ) -> Result<PointerValue<'ctx>, BuilderError> {
        let cx = module.get_context();
        let base = builder.build_load(cx.ptr_type(AddressSpace::default()), ctx_field(builder, module, body, CTX_SHARED)?, "shared")?;
        byte_addr(builder, &cx, base.into_pointer_value(), offset)
    }

    fn dynamic_shared<'ctx>(
        &self,
        module: &Module<'ctx>,
        builder: &Builder<'ctx>,
        body: FunctionValue<'ctx>,
        offset: u64,
    ) -> Result<(PointerValue<'ctx>, IntValue<'ctx>), BuilderError> {
        let cx = module.get_context();
        let base = builder.build_load(cx.ptr_type(AddressSpace::default()), ctx_field(builder, module, body, CTX_SHARED)?, "shared")?;
        let ptr = byte_addr(builder, &cx, base.into_pointer_value(), offset)?;
        let bytes = builder.build_load(cx.i64_type(), ctx_field(builder, module, body, CTX_DYNAMIC)?, "dynbytes")?;
        Ok((ptr, bytes.into_int_value()))
    }

    fn grid_barrier<'ctx>(&self, module: &Module<'ctx>, builder: &Builder<'ctx>, body: FunctionValue<'ctx>) -> Result<(), BuilderError> {
        self.call_back(module, builder, body, CTX_GRID_BARRIER)
    }

    fn barrier<'ctx>(&self, module: &Module<'ctx>, builder: &Builder<'ctx>, body: FunctionValue<'ctx>) -> Result<(), BuilderError> {
        self.call_back(module, builder, body, CTX_BARRIER)
    }

    /// Vector copies are plain (and asynchronous ones done at once); the warp's matrix
    /// operations call the runtime, which runs them across the warp's fibers.
    fn bulk<'ctx>(
        &self,
        module: &Module<'ctx>,
        b: &Builder<'ctx>,
        body: FunctionValue<'ctx>,
        access: &BulkAccess<'ctx>,
    ) -> Result<bool, BuilderError> {
        match access.op {
            BulkOp::Copy { .. } => Ok(false),
            // Copies and `wgmma` are done at once: nothing to wait for, nothing to order.
            BulkOp::AsyncCommit
            | BulkOp::AsyncWait(_)
            | BulkOp::FenceProxyAsync
            | BulkOp::WgmmaFence
            | BulkOp::WgmmaCommit
            | BulkOp::WgmmaWait(_) => Ok(true),
            BulkOp::LdMatrix { .. } | BulkOp::Mma(_) => {
                self.call_with_operands(module, b, body, CTX_WARP_MATRIX, warp_matrix_code(access.op), &access.addrs, &[])?;
                Ok(true)
            }
            _ => {
                self.call_with_operands(module, b, body, CTX_HOPPER, hopper_code(access.op), &access.addrs, &access.values)?;
                Ok(true)
            }
        }
    }

    fn collective<'ctx>(
        &self,
        module: &Module<'ctx>,
        b: &Builder<'ctx>,
        body: FunctionValue<'ctx>,
        op: Collective,
        value: ScalarType,
        args: &[BasicValueEnum<'ctx>],
    ) -> Result<BasicValueEnum<'ctx>, BuilderError> {
        let cx = module.get_context();
        let (i64t, i32t) = (cx.i64_type(), cx.i32_type());
        let (v, arg, mask) = collective_operands(module, b, op, args)?;
        let ptr = cx.ptr_type(AddressSpace::default());
        let callback = b.build_load(ptr, ctx_field(b, module, body, CTX_COLLECTIVE)?, "collective")?.into_pointer_value();
        let fn_type = i64t.fn_type(&[ptr.into(), i32t.into(), i64t.into(), i64t.into(), i32t.into()], false);
        let code = i32t.const_int(Collective::ALL.iter().position(|c| *c == op).unwrap_or(0) as u64, false);
        let call_args = [ctx_params(body).0.into(), code.into(), v.into(), arg.into(), mask.into()];
        let r = match b.build_indirect_call(fn_type, callback, &call_args, "coll")?.try_as_basic_value() {
            inkwell::values::ValueKind::Basic(r) => r.into_int_value(),
            inkwell::values::ValueKind::Instruction(_) => unreachable!("the callback returns u64"),
        };
        collective_result(b, op, value, r)
    }

    fn lockstep_frame<'ctx>(
        &self,
        module: &Module<'ctx>,
        b: &Builder<'ctx>,
        body: FunctionValue<'ctx>,
    ) -> Result<PointerValue<'ctx>, BuilderError> {
        let cx = module.get_context();
        Ok(b.build_load(cx.ptr_type(AddressSpace::default()), ctx_field(b, module, body, CTX_FRAME)?, "frame")?.into_pointer_value())
    }

    fn lockstep_context<'ctx>(&self, body: FunctionValue<'ctx>) -> Vec<PointerValue<'ctx>> {
        let (ctx, rec) = ctx_params(body);
        vec![ctx, rec]
    }

    fn write_special<'ctx>(
        &self,
        module: &Module<'ctx>,
        b: &Builder<'ctx>,
        body: FunctionValue<'ctx>,
        reg: SpecialReg,
        value: IntValue<'ctx>,
    ) -> Result<(), BuilderError> {
        let cx = module.get_context();
        let i32t = cx.i32_type();
        // SAFETY (of the generated code): sregs is [u32; 12] at the start of the context and
        // host_slot() < 12.
        let addr =
            unsafe { b.build_in_bounds_gep(i32t, ctx_params(body).0, &[cx.i64_type().const_int(reg.host_slot(), false)], "ctxslot")? };
        b.build_store(addr, b.build_int_truncate_or_bit_cast(value, i32t, "sreg32")?)?;
        Ok(())
    }

    fn fence<'ctx>(&self, _module: &Module<'ctx>, builder: &Builder<'ctx>, _scope: FenceScope) -> Result<(), BuilderError> {
        // All of a launch's threads share one memory; a sequentially consistent fence orders
        // at least as strongly as any of CUDA's scopes.
        builder.build_fence(AtomicOrdering::SequentiallyConsistent, false, "")?;
        Ok(())
    }

    fn read_special<'ctx>(
        &self,
        module: &Module<'ctx>,
        builder: &Builder<'ctx>,
        body: FunctionValue<'ctx>,
        reg: SpecialReg,
    ) -> Result<IntValue<'ctx>, BuilderError> {
        let cx = module.get_context();
        let i32t = cx.i32_type();
        if reg == SpecialReg::LaneId {
            // Lanes follow the linear thread index, x fastest, as on the GPU.
            let t = |r| self.read_special(module, builder, body, r);
            let (tx, ty, tz) = (t(SpecialReg::Tid(Dim::X))?, t(SpecialReg::Tid(Dim::Y))?, t(SpecialReg::Tid(Dim::Z))?);
            let (nx, ny) = (t(SpecialReg::Ntid(Dim::X))?, t(SpecialReg::Ntid(Dim::Y))?);
            let zy = builder.build_int_add(builder.build_int_mul(tz, ny, "zny")?, ty, "zy")?;
            let linear = builder.build_int_add(builder.build_int_mul(zy, nx, "zynx")?, tx, "linear")?;
            return builder.build_and(linear, i32t.const_int(31, false), "lane");
        }
        // SAFETY (of the generated code): sregs is [u32; 12] at the start of the context and
        // host_slot() < 12.
        let addr = unsafe {
            builder.build_in_bounds_gep(i32t, ctx_params(body).0, &[cx.i64_type().const_int(reg.host_slot(), false)], "ctxslot")?
        };
        Ok(builder.build_load(i32t, addr, "sreg")?.into_int_value())
    }

    fn finish<'ctx>(
        &self,
        cx: &'ctx Context,
        module: &Module<'ctx>,
        body: FunctionValue<'ctx>,
        kernel: &ir::Kernel,
    ) -> Result<(), BuilderError> {
        let lockstep = body.get_string_attribute(AttributeLoc::Function, lower::LOCKSTEP_ATTRIBUTE).is_some();
        emit_block_entry(cx, module, body, kernel, lockstep)?;
        // Fibers run a thread at a time what lockstep cannot.
        if kernel.synchronizes() && !lockstep {
            emit_thread_entry(cx, module, body, kernel)?;
        }
        Ok(())
    }
}

/// A collective's operands as the CPU backend exchanges them: the value (or predicate) as 64
/// bits, the lane or delta, the mask.
pub(crate) fn collective_operands<'ctx>(
    module: &Module<'ctx>,
    b: &Builder<'ctx>,
    op: Collective,
    args: &[BasicValueEnum<'ctx>],
) -> Result<(IntValue<'ctx>, IntValue<'ctx>, IntValue<'ctx>), BuilderError> {
    let cx = module.get_context();
    let (i64t, i32t) = (cx.i64_type(), cx.i32_type());
    let ops = op.operands();
    let bits = |v: BasicValueEnum<'ctx>| -> Result<IntValue<'ctx>, BuilderError> {
        let v = if v.is_float_value() {
            let it = if v.into_float_value().get_type() == cx.f32_type() { i32t } else { i64t };
            b.build_bit_cast(v, it, "bits")?.into_int_value()
        } else {
            v.into_int_value()
        };
        if v.get_type().get_bit_width() < 64 {
            b.build_int_z_extend(v, i64t, "bits64")
        } else {
            Ok(v)
        }
    };
    let value_arg = ops.iter().position(|o| o.fixed().is_none() || o.fixed() == Some(ScalarType::Bool));
    let v = match value_arg {
        Some(i) => bits(args[i])?,
        None => i64t.const_zero(),
    };
    let arg = if ops.len() == 3 { args[2].into_int_value() } else { i64t.const_zero() };
    let mask = if !op.block_wide() && !ops.is_empty() { args[0].into_int_value() } else { i32t.const_all_ones() };
    Ok((v, arg, mask))
}

/// A collective's 64-bit result as its type (`value` the value operand's).
pub(crate) fn collective_result<'ctx>(
    b: &Builder<'ctx>,
    op: Collective,
    value: ScalarType,
    r: IntValue<'ctx>,
) -> Result<BasicValueEnum<'ctx>, BuilderError> {
    let cx = r.get_type().get_context();
    let i32t = cx.i32_type();
    let t = op.result().unwrap_or(value);
    Ok(match t {
        ScalarType::F32 => b.build_bit_cast(b.build_int_truncate(r, i32t, "f32bits")?, cx.f32_type(), "f32")?,
        ScalarType::F64 => b.build_bit_cast(r, cx.f64_type(), "f64")?,
        t if t.bits() < 64 => {
            let it = match t.bits() {
                1 => cx.bool_type(),
                8 => cx.i8_type(),
                16 => cx.i16_type(),
                _ => i32t,
            };
            b.build_int_truncate(r, it, "narrow")?.into()
        }
        _ => r.into(),
    })
}

/// Loads the kernel's arguments from the slots at `args`, as the body takes them.
fn unpack_args<'ctx>(
    cx: &'ctx Context,
    b: &Builder<'ctx>,
    args: PointerValue<'ctx>,
    kernel: &ir::Kernel,
) -> Result<Vec<BasicMetadataValueEnum<'ctx>>, BuilderError> {
    let (ptr, i64t) = (cx.ptr_type(AddressSpace::default()), cx.i64_type());
    let layout = ParamLayout::of(kernel);
    let mut out: Vec<BasicMetadataValueEnum> = Vec::with_capacity(layout.words());
    let word = |b: &Builder<'ctx>, w: usize| -> Result<PointerValue<'ctx>, BuilderError> {
        // SAFETY (of the generated code): the runtime passes `layout.words()` words.
        unsafe { b.build_in_bounds_gep(i64t, args, &[i64t.const_int(w as u64, false)], "word") }
    };
    for (p, slots) in kernel.params.iter().zip(layout.params()) {
        match (p.ty, *slots) {
            (ParamType::Scalar(t), ParamSlots::Scalar { word: w }) => {
                out.push(b.build_load(memory_type(cx, t), word(b, w)?, &p.name)?.into())
            }
            (ParamType::Scalar(_), ParamSlots::Words { word: w, count }) => {
                for k in w..w + count {
                    out.push(b.build_load(i64t, word(b, k)?, "word")?.into());
                }
            }
            (ParamType::Scalar(t), ParamSlots::Complex { word: w }) => {
                // The parts, one a word.
                let part = memory_type(cx, t.component().unwrap_or(t));
                out.push(b.build_load(part, word(b, w)?, "re")?.into());
                out.push(b.build_load(part, word(b, w + 1)?, "im")?.into());
            }
            (_, slots) => {
                // The data pointer, then the extents and strides.
                out.push(b.build_load(ptr, word(b, slots.first())?, &p.name)?.into());
                for w in slots.first() + 1..slots.first() + slots.words() {
                    out.push(b.build_load(i64t, word(b, w)?, "dim")?.into());
                }
            }
        }
    }
    Ok(out)
}

fn entry_param<'ctx>(f: FunctionValue<'ctx>, i: u32) -> inkwell::values::BasicValueEnum<'ctx> {
    match f.get_nth_param(i) {
        Some(p) => p,
        None => unreachable!("the entry was declared with parameter {i}"),
    }
}

/// `gpujit_host_entry`: runs blocks `first..end`, each thread in turn (or, for a body run in
/// lockstep, each block in one call, with the block's frame).
fn emit_block_entry<'ctx>(
    cx: &'ctx Context,
    module: &Module<'ctx>,
    body: FunctionValue<'ctx>,
    kernel: &ir::Kernel,
    lockstep: bool,
) -> Result<(), BuilderError> {
    let ptr = cx.ptr_type(AddressSpace::default());
    let (i64t, i32t) = (cx.i64_type(), cx.i32_type());
    let fn_type = i32t.fn_type(&[ptr.into(), ptr.into(), i64t.into(), i64t.into(), ptr.into(), ptr.into(), i64t.into(), ptr.into()], false);
    let entry = module.add_function(ENTRY, fn_type, Some(Linkage::External));
    let b = cx.create_builder();
    b.position_at_end(cx.append_basic_block(entry, "entry"));
    let p = |i| entry_param(entry, i);
    let (args, dims) = (p(0).into_pointer_value(), p(1).into_pointer_value());
    let (first, end, oob) = (p(2).into_int_value(), p(3).into_int_value(), p(4).into_pointer_value());
    let (shared, dyn_bytes) = (p(5), p(6));
    let call_args = unpack_args(cx, &b, args, kernel)?;
    let dim = |b: &Builder<'ctx>, i: u64| -> Result<IntValue<'ctx>, BuilderError> {
        // SAFETY (of the generated code): dims is a [u32; 6].
        let a = unsafe { b.build_in_bounds_gep(i32t, dims, &[i64t.const_int(i, false)], "dim")? };
        Ok(b.build_load(i32t, a, "d")?.into_int_value())
    };
    let grid: Vec<IntValue> = (0..3).map(|i| dim(&b, i)).collect::<Result<_, _>>()?;
    let block: Vec<IntValue> = (3..6).map(|i| dim(&b, i)).collect::<Result<_, _>>()?;
    let ctx = b.build_array_alloca(cx.i8_type(), i64t.const_int(CTX_SIZE, false), "threadctx")?;
    ctx.as_instruction().map(|i| i.set_alignment(8));
    let gcx = module.get_context();
    b.build_store(byte_addr(&b, &gcx, ctx, CTX_SHARED)?, shared)?;
    b.build_store(byte_addr(&b, &gcx, ctx, CTX_BARRIER)?, ptr.const_null())?;
    b.build_store(byte_addr(&b, &gcx, ctx, CTX_DYNAMIC)?, dyn_bytes)?;
    b.build_store(byte_addr(&b, &gcx, ctx, CTX_COLLECTIVE)?, ptr.const_null())?;
    b.build_store(byte_addr(&b, &gcx, ctx, CTX_GRID_BARRIER)?, ptr.const_null())?;
    b.build_store(byte_addr(&b, &gcx, ctx, CTX_FRAME)?, p(7))?;
    let store_reg = |b: &Builder<'ctx>, reg: SpecialReg, v: IntValue<'ctx>| -> Result<(), BuilderError> {
        // SAFETY (of the generated code): sregs is [u32; 12] at the start of the context.
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
    if let Some(flat) = module.get_function(&format!("{}{}", kernel.name, lower::flat::FLAT_SUFFIX)) {
        // The flat function runs these blocks' share of the elements, where it can.
        let blocks = b.build_int_nuw_mul(gxy, wide(&b, grid[2])?, "blocks")?;
        let mut a = call_args.clone();
        a.extend([first, end, blocks].map(inkwell::values::BasicMetadataValueEnum::from));
        a.push(ctx.into());
        a.push(oob.into());
        let ran = match b.build_call(flat, &a, "flat")?.try_as_basic_value() {
            inkwell::values::ValueKind::Basic(v) => v.into_int_value(),
            inkwell::values::ValueKind::Instruction(_) => unreachable!("the flat function returns a bool"),
        };
        let (done, blocks_bb) = (cx.append_basic_block(entry, "flat.ran"), cx.append_basic_block(entry, "blocks"));
        b.build_conditional_branch(ran, done, blocks_bb)?;
        b.position_at_end(done);
        b.build_return(Some(&i32t.const_int(1, false)))?;
        b.position_at_end(blocks_bb);
    }
    counted_loop(cx, &b, entry, first, end, "blk", &mut |blk| {
        let cx_ = b.build_int_unsigned_rem(blk, gx, "cx")?;
        let rest = b.build_int_unsigned_div(blk, gx, "rest")?;
        let cy = b.build_int_unsigned_rem(rest, gy, "cy")?;
        let cz = b.build_int_unsigned_div(blk, gxy, "cz")?;
        for (d, v) in [(Dim::X, cx_), (Dim::Y, cy), (Dim::Z, cz)] {
            let v = b.build_int_truncate(v, i32t, "c32")?;
            store_reg(&b, SpecialReg::Ctaid(d), v)?;
        }
        if lockstep {
            let mut a = call_args.clone();
            a.push(ctx.into());
            a.push(oob.into());
            b.build_call(body, &a, "")?;
            return Ok(());
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
    b.build_return(Some(&i32t.const_zero()))?;
    Ok(())
}

/// `gpujit_host_thread`: runs the one thread `ctx` describes.
fn emit_thread_entry<'ctx>(
    cx: &'ctx Context,
    module: &Module<'ctx>,
    body: FunctionValue<'ctx>,
    kernel: &ir::Kernel,
) -> Result<(), BuilderError> {
    let ptr = cx.ptr_type(AddressSpace::default());
    let fn_type = cx.void_type().fn_type(&[ptr.into(), ptr.into(), ptr.into()], false);
    let entry = module.add_function(THREAD_ENTRY, fn_type, Some(Linkage::External));
    let b = cx.create_builder();
    b.position_at_end(cx.append_basic_block(entry, "entry"));
    let mut a = unpack_args(cx, &b, entry_param(entry, 0).into_pointer_value(), kernel)?;
    a.push(entry_param(entry, 1).into());
    a.push(entry_param(entry, 2).into());
    b.build_call(body, &a, "")?;
    b.build_return(None)?;
    Ok(())
}

/// This CPU's target machine, its code generated at `level`.
fn host_machine(level: OptimizationLevel) -> Result<TargetMachine, String> {
    init_native()?;
    let triple = TargetMachine::get_default_triple();
    let t = LlvmTarget::from_triple(&triple).map_err(|e| e.to_string())?;
    let cpu = TargetMachine::get_host_cpu_name().to_string();
    let features = TargetMachine::get_host_cpu_features().to_string();
    t.create_target_machine(&triple, &cpu, &features, level, RelocMode::Default, CodeModel::JITDefault)
        .ok_or_else(|| "LLVM has no target machine for this host".to_string())
}

/// A kernel compiled for the host: callable machine code and the JIT engine that owns it.
pub struct HostCode {
    entry: HostEntry,
    thread_entry: Option<HostThreadEntry>,
    meta: KernelMetadata,
    llvm_ir: Option<String>,
    // Dropped in this order by `Drop`: the engine refers into the context.
    engine: ManuallyDrop<ExecutionEngine<'static>>,
    context: ManuallyDrop<Box<Context>>,
}

// SAFETY: after construction `HostCode` is only used through its entry pointers (finalized,
// reentrant machine code that touches nothing but its arguments) and immutable data. The engine
// and context (which hold non-thread-safe reference counts) are never accessed again until
// `Drop`, which has exclusive access, so sharing or moving the value between threads cannot race.
unsafe impl Send for HostCode {}
// SAFETY: see `Send`; `&HostCode` exposes only the entry pointers and immutable data.
unsafe impl Sync for HostCode {}

impl HostCode {
    /// The entry running whole blocks; valid only for kernels without barriers.
    pub fn entry(&self) -> HostEntry {
        self.entry
    }

    /// The entry running one thread, for kernels that synchronize and do not run in lockstep
    /// (their threads run as fibers); `None` for the others.
    pub fn thread_entry(&self) -> Option<HostThreadEntry> {
        self.thread_entry
    }

    /// The compiled-kernel description: argument layout, array table, whether it synchronizes
    /// its block (its threads then run as fibers) or grid, its static shared memory.
    pub fn meta(&self) -> &KernelMetadata {
        &self.meta
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
    let context = Box::new(lower::new_context());
    // SAFETY: the context lives on the heap, so this reference stays valid while the Box exists
    // wherever it moves; `HostCode` keeps the Box and drops every value borrowing it (the engine)
    // first, and no other value created from it escapes this function.
    let cx: &'static Context = unsafe { &*(context.as_ref() as *const Context) };
    // Threads that meet (barriers, collectives, loops) run in lockstep where they can.
    let lockstep = if lower::lockstep::enabled() { lower::lockstep::prepare(kernel) } else { None };
    // A grid-stride loop over independent elements also runs as contiguous chunks.
    let flat = if lower::flat::enabled() { lower::flat::plan(kernel) } else { None };
    let (module, frame) = lower::lower_host(cx, kernel, lockstep.as_ref(), flat.as_ref(), &HostTarget, &tm)?;
    // The JIT compiles for the CPU the module's functions name (a generic x86-64 without them,
    // whose code for the optimizer's vector operations, masked loads and stores made for this
    // CPU, is scalar and slow).
    let (cpu, features) = (TargetMachine::get_host_cpu_name().to_string(), TargetMachine::get_host_cpu_features().to_string());
    // LLVM's tuning for Intel's AVX-512 CPUs prefers 256-bit vectors, against the clock
    // slowdown 512-bit ones once cost; a kernel's thread loops, data-parallel work throughout,
    // run faster with the full width (on a Sapphire Rapids core: the warp-shuffle sum 1.5×,
    // the shared-memory block sum 1.2×, BENCHMARKS.md).
    let wide = features.split(',').any(|f| f == "+avx512f");
    for f in module.get_functions().filter(|f| f.count_basic_blocks() > 0) {
        f.add_attribute(AttributeLoc::Function, cx.create_string_attribute("target-cpu", &cpu));
        f.add_attribute(AttributeLoc::Function, cx.create_string_attribute("target-features", &features));
        if wide {
            f.add_attribute(AttributeLoc::Function, cx.create_string_attribute("prefer-vector-width", "512"));
        }
    }
    // Full debug information (`debug`): unoptimized, so every variable stays where gdb looks.
    let debug = kernel.options.debug;
    // A kernel that runs flat runs its blocks one thread at a time only where the flat function
    // refuses the launch: a launch of more than one dimension, or one whose grid or bound
    // overflows the index's type. Those rare launches run the body unoptimized, which spares
    // the optimizer and the code generator a third copy of the kernel (on a column reduction,
    // about a third of its compile time).
    if flat.is_some() && !debug {
        if let Some(body) = module.get_function(&kernel.name) {
            body.remove_enum_attribute(AttributeLoc::Function, Attribute::get_named_enum_kind_id("alwaysinline"));
            for name in ["noinline", "optnone"] {
                body.add_attribute(AttributeLoc::Function, cx.create_enum_attribute(Attribute::get_named_enum_kind_id(name), 0));
            }
        }
    }
    llvm_options_for_thread_loops();
    if debug {
        lower::optimize_at(&module, &tm, &kernel.name, "default<O0>")?;
    } else {
        lower::optimize(&module, &tm, &kernel.name)?;
    }
    let llvm_ir = want_llvm_ir.then(|| module.print_to_string().to_string());
    // MCJIT resolves a missing symbol to address 0 or aborts the process: refuse the code first.
    // The symbols are those of the object generated without optimization, which calls at least
    // the functions the optimized code calls (the JIT generates that code again), in a fraction
    // of the time.
    let quick = host_machine(OptimizationLevel::None).map_err(|m| llvm("target selection", m))?;
    let object = quick.write_to_memory_buffer(&module, FileType::Object).map_err(|e| llvm("object emission", e.to_string()))?;
    let external = external_symbols(&object).map_err(|m| llvm("object inspection", m))?;
    if let Some(symbol) = external.into_iter().find(|s| !resolves_in_process(s)) {
        return Err(CompileError::UnresolvedSymbol { kernel: kernel.name.clone(), symbol });
    }
    let engine = module
        .create_jit_execution_engine(if debug { OptimizationLevel::None } else { OptimizationLevel::Aggressive })
        .map_err(|e| llvm("JIT engine creation", e.to_string()))?;
    let addr = engine.get_function_address(ENTRY).map_err(|e| llvm("JIT symbol lookup", e.to_string()))?;
    let thread_addr = match module.get_function(THREAD_ENTRY) {
        Some(_) => Some(engine.get_function_address(THREAD_ENTRY).map_err(|e| llvm("JIT symbol lookup", e.to_string()))?),
        None => None,
    };
    // SAFETY: `addr` and `thread_addr` are the finalized code of ENTRY and THREAD_ENTRY, emitted
    // above with exactly the HostEntry and HostThreadEntry signatures and the C calling convention.
    let (entry, thread_entry) =
        unsafe { (std::mem::transmute::<usize, HostEntry>(addr), thread_addr.map(|a| std::mem::transmute::<usize, HostThreadEntry>(a))) };
    let mut meta = KernelMetadata::of(kernel, Vec::new());
    meta.lockstep_frame = frame;
    meta.flat = flat.is_some();
    Ok(HostCode { entry, thread_entry, meta, llvm_ir, engine: ManuallyDrop::new(engine), context: ManuallyDrop::new(context) })
}

/// LLVM's options for the host's code, set once a process, before its first pipeline runs.
///
/// A thread loop in lockstep is `llvm.loop.parallel_accesses`, under which LLVM's vectorizer
/// checks no dependence between a loop iteration's own accesses either: grouping a thread's
/// strided accesses (interleaved groups, hoisted loads and sunk stores) moved its load of a
/// local-array element above its own store of it (the `sgemm` example's `a_reg`, once its thread
/// loops vectorized). Without interleaved groups strided accesses are gathers and scatters, in
/// program order. (The NVPTX target vectorizes no interleaved accesses either way.)
fn llvm_options_for_thread_loops() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let args = [c"gpujit".as_ptr(), c"-enable-interleaved-mem-accesses=0".as_ptr()];
        // SAFETY: two NUL-terminated strings that outlive the call; LLVM registers the option
        // in its own (static) table, which this is the only caller of this process to set.
        unsafe { inkwell::llvm_sys::support::LLVMParseCommandLineOptions(2, args.as_ptr(), std::ptr::null()) };
    });
}

/// The symbols an object file's relocations refer to that no section of it defines: what the JIT
/// must find in the process.
pub fn external_symbols(object: &MemoryBuffer) -> Result<Vec<String>, String> {
    use inkwell::llvm_sys::object::*;
    use std::ffi::CStr;
    let mut message: *mut std::ffi::c_char = std::ptr::null_mut();
    // SAFETY: the buffer outlives the binary, which only borrows it; a null context is allowed
    // (LLVM's global one); the error message, when set, is an LLVM-allocated C string freed here.
    let binary = unsafe { LLVMCreateBinary(object.as_mut_ptr(), std::ptr::null_mut(), &mut message) };
    if binary.is_null() {
        let text = if message.is_null() {
            "not an object file".to_string()
        } else {
            // SAFETY: set by LLVMCreateBinary to a NUL-terminated string we now own.
            let t = unsafe { CStr::from_ptr(message) }.to_string_lossy().into_owned();
            // SAFETY: allocated by LLVM, freed once.
            unsafe { inkwell::llvm_sys::core::LLVMDisposeMessage(message) };
            t
        };
        return Err(text);
    }
    let mut out = Vec::new();
    // SAFETY: every iterator is created from `binary`, used while it lives and disposed once; the
    // symbol names are NUL-terminated strings owned by the binary, copied before it goes.
    unsafe {
        let sections = LLVMObjectFileCopySectionIterator(binary);
        let containing = LLVMObjectFileCopySectionIterator(binary);
        while LLVMObjectFileIsSectionIteratorAtEnd(binary, sections) == 0 {
            let relocs = LLVMGetRelocations(sections);
            while LLVMIsRelocationIteratorAtEnd(sections, relocs) == 0 {
                let sym = LLVMGetRelocationSymbol(relocs);
                LLVMMoveToContainingSection(containing, sym);
                if LLVMObjectFileIsSectionIteratorAtEnd(binary, containing) != 0 {
                    let name = LLVMGetSymbolName(sym);
                    if !name.is_null() {
                        let name = CStr::from_ptr(name).to_string_lossy().into_owned();
                        if !name.is_empty() && !out.contains(&name) {
                            out.push(name);
                        }
                    }
                }
                LLVMDisposeSymbolIterator(sym);
                LLVMMoveToNextRelocation(relocs);
            }
            LLVMDisposeRelocationIterator(relocs);
            LLVMMoveToNextSection(sections);
        }
        LLVMDisposeSectionIterator(containing);
        LLVMDisposeSectionIterator(sections);
        LLVMDisposeBinary(binary);
    }
    Ok(out)
}

/// Whether the JIT can resolve `name` in this process (its executable and loaded libraries), the
/// way MCJIT does.
pub fn resolves_in_process(name: &str) -> bool {
    static LOAD: Once = Once::new();
    // SAFETY: a null path makes LLVM open the process itself for symbol searches; no error
    // message is requested.
    LOAD.call_once(|| unsafe {
        inkwell::llvm_sys::support::LLVMLoadLibraryPermanently(std::ptr::null());
    });
    let Ok(c) = std::ffi::CString::new(name) else { return false };
    // SAFETY: `c` is NUL-terminated and outlives the call, which only reads it.
    !unsafe { inkwell::llvm_sys::support::LLVMSearchForAddressOfSymbol(c.as_ptr()) }.is_null()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A call to a function no library defines is a typed error naming it, never a call to 0;
    /// calls to libm's functions resolve.
    #[test]
    fn unresolved_symbols_are_found() {
        let cx = lower::new_context();
        let module = cx.create_module("calls");
        let f32t = cx.f32_type();
        let fn_type = f32t.fn_type(&[f32t.into()], false);
        let f = module.add_function("caller", fn_type, None);
        let b = cx.create_builder();
        b.position_at_end(cx.append_basic_block(f, "entry"));
        let x = f.get_nth_param(0).expect("a parameter").into_float_value();
        let mut v = x;
        for name in ["sinf", "gpujit_no_such_symbol_anywhere"] {
            let callee = module.add_function(name, fn_type, Some(Linkage::External));
            let r = b.build_call(callee, &[v.into()], "r").expect("call").try_as_basic_value();
            v = match r {
                inkwell::values::ValueKind::Basic(r) => r.into_float_value(),
                inkwell::values::ValueKind::Instruction(_) => unreachable!(),
            };
        }
        b.build_return(Some(&v)).expect("return");
        let tm = HostTarget.target_machine().expect("host target");
        let object = tm.write_to_memory_buffer(&module, FileType::Object).expect("object");
        let ext = external_symbols(&object).expect("symbols");
        assert!(ext.contains(&"sinf".to_string()) && ext.contains(&"gpujit_no_such_symbol_anywhere".to_string()), "{ext:?}");
        assert!(resolves_in_process("sinf"));
        assert!(!resolves_in_process("gpujit_no_such_symbol_anywhere"));
        assert!(!ext.contains(&"caller".to_string()), "a defined function is not external: {ext:?}");
    }

    #[test]
    fn context_layout() {
        // The generated code reads these offsets; the runtime writes the struct.
        assert_eq!(
            (CTX_SHARED, CTX_BARRIER, CTX_DYNAMIC, CTX_COLLECTIVE, CTX_GRID_BARRIER, CTX_WARP_MATRIX, CTX_HOPPER, CTX_FRAME, CTX_SIZE),
            (48, 56, 72, 80, 88, 96, 104, 112, 120)
        );
        // Operation codes round-trip.
        for op in [BulkOp::LdMatrix { matrices: 4, trans: true }, BulkOp::LdMatrix { matrices: 1, trans: false }, BulkOp::Mma(MmaShape::S8)]
        {
            assert_eq!(warp_matrix_op(warp_matrix_code(op)), Some(op));
        }
        for op in [
            BulkOp::BarrierInit,
            BulkOp::BarrierWait,
            BulkOp::TmaLoad,
            BulkOp::Wgmma { n: 256, input: MmaShape::F16 },
            BulkOp::Wgmma { n: 8, input: MmaShape::S8 },
            BulkOp::Wgmma { n: 64, input: MmaShape::Tf32 },
        ] {
            assert_eq!(hopper_op(hopper_code(op)), Some(op));
        }
        assert_eq!(offset_of!(HostCtx, fiber), 64);
    }

    /// A kernel that refuses an unproven launch (as generated kernels do) runs flat exactly where
    /// the launch's proof holds, the proof of the whole range: so where a loop over an empty range
    /// holds the only access of an empty array (a 1 × 0 matrix-vector product), and not where
    /// the matrix is one element short, which then runs block by block and reports the fault.
    #[test]
    fn flat_runs_where_proven() {
        let text = "#[options(flat_refuse_unproven = true)]
kernel mv(a: &[f32], x: &[f32], y: &mut [f32], n: u64) {
    n_0: u64 = n;
    i_1: u64 = grid_x();
    if (i_1 < y.len()) {
        acc_2: f32 = 0.0f32;
        for j_3 in (0u64..n_0).step_by(1u64) {
            acc_2: f32 = (acc_2 + (a[((i_1 * n_0) + j_3)] * x[j_3]));
        }
        y[i_1] = acc_2;
    }
}";
        let kernel = crate::ir_text::parse(text).expect("the kernel parses");
        let code = compile_host(&kernel, false).expect("the kernel compiles");
        assert!(code.meta().flat, "the kernel has a flat plan");
        // (rows, n, the matrix's length): run flat?
        for (rows, n, len, flat) in [(1usize, 0usize, 0usize, true), (0, 5, 0, true), (3, 4, 12, true), (3, 4, 11, false), (2, 0, 0, true)]
        {
            let a: Vec<f32> = (0..len).map(|v| v as f32).collect();
            let x: Vec<f32> = (0..n).map(|v| 1.0 + v as f32).collect();
            let mut y = vec![9.0f32; rows];
            // An array's pointer, extent and stride; then `n`.
            let args = [a.as_ptr() as u64, len as u64, 1, x.as_ptr() as u64, n as u64, 1, y.as_mut_ptr() as u64, rows as u64, 1, n as u64];
            assert_eq!(ParamLayout::of(&kernel).words(), args.len());
            for (blocks, threads) in [(1u32, 64u32), (rows.div_ceil(2).max(1) as u32, 2)] {
                let dims = [blocks, 1, 1, threads, 1, 1];
                let mut record = [0u64; OobRecord::WORDS];
                let mut shared = [0u128; 1];
                // SAFETY: `args` holds the kernel's four parameters (pointer and length of each
                // live array, `n`); dims, the record and the shared buffer live through the
                // call, blocks 0..blocks lie within the grid, and the kernel runs no lockstep
                // frame.
                let ran = unsafe {
                    (code.entry())(
                        args.as_ptr(),
                        dims.as_ptr(),
                        0,
                        u64::from(blocks),
                        record.as_mut_ptr(),
                        shared.as_mut_ptr() as *mut u8,
                        0,
                        std::ptr::null_mut(),
                    )
                };
                let case = format!("{rows} x {n}, a of {len}, {blocks} blocks of {threads}");
                assert_eq!(ran == 1, flat, "run flat: {case}");
                let want: Vec<f32> =
                    (0..rows).map(|i| (0..n).fold(0.0f32, |acc, j| acc + a.get(i * n + j).copied().unwrap_or(0.0) * x[j])).collect();
                assert_eq!(y, want, "{case}");
                assert_eq!(record[0] != 0, len < rows * n, "fault recorded: {case}");
            }
        }
    }
}
