//! The NVPTX target: PTX text for the CUDA driver.
//!
//! The kernel is the body function itself, with external linkage and the `ptx_kernel` calling
//! convention; array pointers are in the global address space (`ld.global`/`st.global`) and the
//! thread-model registers are the `llvm.nvvm.read.ptx.sreg.*` intrinsics.

use crate::ast::{Collective, Dim, FenceScope};
use crate::contract::KernelMetadata;
use crate::error::CompileError;
use crate::ir;
use crate::lower;
use crate::math::MathFn;
use crate::target::{write_oob_fields, BulkAccess, SpecialReg, Target};
use crate::toolchain;
use crate::types::ScalarType;
use inkwell::builder::{Builder, BuilderError};
use inkwell::context::Context;
use inkwell::intrinsics::Intrinsic;
use inkwell::module::{FlagBehavior, Linkage, Module};
use inkwell::passes::PassBuilderOptions;
use inkwell::targets::{CodeModel, FileType, InitializationConfig, RelocMode, Target as LlvmTarget, TargetMachine, TargetTriple};
use inkwell::types::{BasicMetadataTypeEnum, BasicType, BasicTypeEnum};
use inkwell::values::{BasicMetadataValueEnum, BasicValue};
use inkwell::values::{BasicValueEnum, FloatValue, FunctionValue, IntValue, PointerValue};
use inkwell::{AddressSpace, AtomicOrdering, IntPredicate, OptimizationLevel};
use std::sync::Once;

mod bulk;
mod hopper;

/// LLVM's calling-convention id of `ptx_kernel`.
const PTX_KERNEL_CC: u32 = 71;

/// The GPU architectures LLVM 19's NVPTX backend knows, with the lowest PTX ISA version each needs.
const ARCHS: &[(u32, u32)] = &[
    (50, 40),
    (52, 41),
    (53, 42),
    (60, 50),
    (61, 50),
    (62, 50),
    (70, 60),
    (72, 61),
    (75, 63),
    (80, 70),
    (86, 71),
    (87, 74),
    (89, 78),
    (90, 78),
];

/// The newest PTX ISA version LLVM 19 emits.
const MAX_PTX: u32 = 85;

/// Which GPU and PTX ISA version to generate code for.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct NvptxTarget {
    /// `sm_XX` as a number: 80 for `sm_80`.
    pub arch: u32,
    /// PTX ISA version as a number: 78 for PTX 7.8.
    pub ptx_version: u32,
}

impl NvptxTarget {
    /// LLVM's NVPTX target machine for this target at code generation level `level`.
    /// `debug` kernels take `None`: at any other level the backend's own IR passes (SROA among
    /// them) move locals out of their stack slots into registers, and the DWARF then has no
    /// location for them (cuda-gdb's `<optimized out>`).
    pub fn machine_at(&self, level: OptimizationLevel) -> Result<TargetMachine, String> {
        self.machine_for(level, false)
    }

    /// [`NvptxTarget::machine_at`], for the architecture-specific variant (`sm_90a`) when
    /// `accelerated`.
    pub fn machine_for(&self, level: OptimizationLevel, accelerated: bool) -> Result<TargetMachine, String> {
        static INIT: Once = Once::new();
        INIT.call_once(|| LlvmTarget::initialize_nvptx(&InitializationConfig::default()));
        let triple = TargetTriple::create("nvptx64-nvidia-cuda");
        let t = LlvmTarget::from_triple(&triple).map_err(|e| e.to_string())?;
        let cpu = if accelerated { format!("{}a", self.cpu()) } else { self.cpu() };
        t.create_target_machine(&triple, &cpu, &self.features(), level, RelocMode::Default, CodeModel::Default)
            .ok_or_else(|| format!("LLVM has no NVPTX target machine for {cpu} {}", self.features()))
    }

    /// The best target for a device of compute capability `major.minor` under a driver reporting
    /// `driver_version` (`cuDriverGetVersion`, e.g. 12080). Architectures newer than LLVM knows get
    /// the newest known one, whose PTX the driver JIT-compiles forward. `None` when the driver is
    /// too old for any architecture the device can run.
    pub fn for_device(major: u32, minor: u32, driver_version: u32) -> Option<NvptxTarget> {
        let cc = major * 10 + minor;
        let driver_ptx = ptx_for_driver(driver_version).min(MAX_PTX);
        ARCHS
            .iter()
            .rev()
            .find(|(arch, need)| *arch <= cc && *need <= driver_ptx)
            .map(|(arch, _)| NvptxTarget { arch: *arch, ptx_version: driver_ptx })
    }

    /// A target for `sm_{arch}` with the lowest PTX version that architecture needs (for tests and
    /// ahead-of-time checks with `ptxas`).
    pub fn sm(arch: u32) -> Option<NvptxTarget> {
        ARCHS.iter().find(|(a, _)| *a == arch).map(|(a, need)| NvptxTarget { arch: *a, ptx_version: *need })
    }

    pub fn cpu(&self) -> String {
        format!("sm_{}", self.arch)
    }

    pub fn features(&self) -> String {
        format!("+ptx{}", self.ptx_version)
    }
}

/// The newest PTX ISA version a driver of this version JIT-compiles.
fn ptx_for_driver(v: u32) -> u32 {
    let (major, minor) = (v / 1000, (v % 1000) / 10);
    match major {
        0..=10 => 63,
        11 => 70 + minor.min(8),
        12 => 80 + minor.min(9),
        _ => 90,
    }
}

impl Target for NvptxTarget {
    /// PTX's `.file`/`.loc`, for Nsight Compute, compute-sanitizer and cuda-gdb, which read
    /// DWARF 2 line tables.
    fn line_info(&self) -> Option<u32> {
        Some(2)
    }

    /// `fma.rn.f32`/`.f64`, as nvcc contracts.
    fn fused_multiply_add(&self) -> bool {
        true
    }

    /// With `debug`: unoptimized code whose DWARF describes the kernel's scalar parameters and
    /// locals, and a `.target` asking the driver for code compiled for debugging (cuda-gdb).
    fn debug_locals(&self) -> bool {
        true
    }

    /// `ptx_asm!` is LLVM inline assembly in PTX.
    fn inline_ptx(&self) -> bool {
        true
    }

    fn name(&self) -> &'static str {
        "nvptx"
    }

    fn target_machine(&self) -> Result<TargetMachine, String> {
        self.machine_at(OptimizationLevel::Aggressive)
    }

    fn global_address_space(&self) -> AddressSpace {
        AddressSpace::from(1u16)
    }

    fn extra_params<'ctx>(&self, _cx: &'ctx Context) -> Vec<BasicMetadataTypeEnum<'ctx>> {
        Vec::new()
    }

    fn half_to_f32<'ctx>(&self, b: &Builder<'ctx>, bits: IntValue<'ctx>, t: ScalarType) -> Result<FloatValue<'ctx>, BuilderError> {
        let cx = bits.get_type().get_context();
        if t != ScalarType::F16 {
            return crate::half::widen_to_f32(b, &cx, bits, t);
        }
        // cvt.f32.f16
        let h = b.build_bit_cast(bits, cx.f16_type(), "f16")?.into_float_value();
        b.build_float_ext(h, cx.f32_type(), "f16tof32")
    }

    fn half_from_float<'ctx>(&self, b: &Builder<'ctx>, v: FloatValue<'ctx>, t: ScalarType) -> Result<IntValue<'ctx>, BuilderError> {
        let cx = v.get_type().get_context();
        if t != ScalarType::F16 {
            return crate::half::narrow(b, &cx, v, t);
        }
        // cvt.rn.f16.f32 / cvt.rn.f16.f64: rounded once, to nearest even.
        let h = b.build_float_trunc(v, cx.f16_type(), "tof16")?;
        Ok(b.build_bit_cast(h, cx.i16_type(), "f16bits")?.into_int_value())
    }

    /// `mul.hi` of 32- and 64-bit integers through NVVM's intrinsics (a widened multiply of a
    /// masked operand is otherwise left a 64-bit multiply, several instructions); narrower
    /// types take the default.
    fn mul_hi<'ctx>(
        &self,
        module: &Module<'ctx>,
        b: &Builder<'ctx>,
        x: IntValue<'ctx>,
        y: IntValue<'ctx>,
        signed: bool,
    ) -> Result<IntValue<'ctx>, BuilderError> {
        let name = match (x.get_type().get_bit_width(), signed) {
            (32, true) => "llvm.nvvm.mulhi.i",
            (32, false) => "llvm.nvvm.mulhi.ui",
            (64, true) => "llvm.nvvm.mulhi.ll",
            (64, false) => "llvm.nvvm.mulhi.ull",
            _ => return crate::target::widened_mul_hi(b, x, y, signed),
        };
        let f = match Intrinsic::find(name).and_then(|i| i.get_declaration(module, &[])) {
            Some(f) => f,
            None => unreachable!("LLVM 19's NVPTX backend provides {name}"),
        };
        match b.build_call(f, &[x.into(), y.into()], "mul_hi")?.try_as_basic_value() {
            inkwell::values::ValueKind::Basic(v) => Ok(v.into_int_value()),
            inkwell::values::ValueKind::Instruction(_) => unreachable!("{name} returns a value"),
        }
    }

    fn native_half_atomic_add<'ctx>(
        &self,
        b: &Builder<'ctx>,
        addr: PointerValue<'ctx>,
        v: IntValue<'ctx>,
        t: ScalarType,
    ) -> Result<Option<IntValue<'ctx>>, BuilderError> {
        use inkwell::llvm_sys::core::LLVMBuildAtomicRMW;
        use inkwell::llvm_sys::{LLVMAtomicOrdering, LLVMAtomicRMWBinOp};
        use inkwell::values::AsValueRef;
        // atom.add.noftz.f16 (sm_70, PTX 6.3) and atom.add.noftz.bf16 (sm_90, PTX 7.8): LLVM 19
        // selects these for an atomicrmw fadd of that type instead of a wider CAS loop.
        let native = match t {
            ScalarType::F16 => self.arch >= 70 && self.ptx_version >= 63,
            ScalarType::BF16 => self.arch >= 90 && self.ptx_version >= 78,
            _ => false,
        };
        if !native {
            return Ok(None);
        }
        let cx = v.get_type().get_context();
        let ht = if t == ScalarType::F16 { cx.f16_type() } else { cx.bf16_type() };
        let val = b.build_bit_cast(v, ht, "hval")?;
        // SAFETY: the builder is positioned (the bitcast above was built through it); `addr`
        // points to a 2-byte element of type `ht` and `val` has type `ht`, which atomicrmw fadd
        // accepts. The result has type `ht`, as BasicValueEnum::new expects.
        let old = unsafe {
            BasicValueEnum::new(LLVMBuildAtomicRMW(
                b.as_mut_ptr(),
                LLVMAtomicRMWBinOp::LLVMAtomicRMWBinOpFAdd,
                addr.as_value_ref(),
                val.as_value_ref(),
                LLVMAtomicOrdering::LLVMAtomicOrderingMonotonic,
                0,
            ))
        };
        Ok(Some(b.build_bit_cast(old, cx.i16_type(), "oldbits")?.into_int_value()))
    }

    fn cas16<'ctx>(
        &self,
        module: &Module<'ctx>,
        b: &Builder<'ctx>,
        addr: PointerValue<'ctx>,
        expected: IntValue<'ctx>,
        new: IntValue<'ctx>,
    ) -> Result<IntValue<'ctx>, BuilderError> {
        let cx = module.get_context();
        if self.arch < 70 || self.ptx_version < 63 {
            // No 16-bit CAS before sm_70: LLVM's CAS loop on the aligned 4-byte word around it.
            return crate::target::cmpxchg(b, addr, expected, new);
        }
        // atom.cas.b16 (sm_70, PTX 6.3) on the generic address: two bytes, whatever the space.
        let generic = b.build_address_space_cast(addr, cx.ptr_type(AddressSpace::default()), "generic")?;
        let args = [generic.into(), expected.into(), new.into()];
        one_instruction(b, cx.i16_type(), &args, "atom.cas.b16 $0, [$1], $2, $3;", "=h,l,h,h,~{memory}", true, "cas16")
    }

    fn math_function(&self, f: MathFn, t: ScalarType, fast: bool) -> Option<String> {
        f.libdevice_name(t, fast)
    }

    /// `selp` in inline PTX, which no combine sees through.
    fn select_bits<'ctx>(
        &self,
        module: &Module<'ctx>,
        b: &Builder<'ctx>,
        cond: IntValue<'ctx>,
        a: IntValue<'ctx>,
        x: IntValue<'ctx>,
    ) -> Result<IntValue<'ctx>, BuilderError> {
        let cx = module.get_context();
        let it = a.get_type();
        let (reg, width) = match it.get_bit_width() {
            16 => ("h", 16),
            32 => ("r", 32),
            _ => ("l", 64),
        };
        let c = b.build_int_z_extend(cond, cx.i32_type(), "cond")?;
        let template = format!("{{ .reg .pred p; setp.ne.b32 p, $3, 0; selp.b{width} $0, $1, $2, p; }}");
        one_instruction(b, it, &[a.into(), x.into(), c.into()], &template, &format!("={reg},{reg},{reg},r"), false, "selp")
    }

    fn float_rem_function(&self, t: ScalarType) -> Option<(String, ScalarType)> {
        match t {
            ScalarType::F64 => Some(("__nv_fmod".into(), ScalarType::F64)),
            _ => Some(("__nv_fmodf".into(), ScalarType::F32)),
        }
    }

    fn configure_body<'ctx>(&self, _cx: &'ctx Context, body: FunctionValue<'ctx>) {
        body.set_linkage(Linkage::External);
        body.set_call_conventions(PTX_KERNEL_CC);
    }

    fn shared_array<'ctx>(
        &self,
        module: &Module<'ctx>,
        _builder: &Builder<'ctx>,
        _body: FunctionValue<'ctx>,
        index: u32,
        elem: ScalarType,
        len: u64,
        _offset: u64,
    ) -> Result<PointerValue<'ctx>, BuilderError> {
        // One addrspace(3) global an array: ptxas lays out the block's shared memory.
        let cx = module.get_context();
        // A complex array: twice as many of its parts; a struct array: its bytes.
        let (elem, len) = match (elem.component(), elem) {
            (Some(part), _) => (part, 2 * len),
            (None, ScalarType::Struct(d)) => (ScalarType::U8, d.size as u64 * len),
            (None, _) => (elem, len),
        };
        let elem_ty: inkwell::types::BasicTypeEnum = match elem.size_bytes() {
            _ if elem == ScalarType::F32 => cx.f32_type().into(),
            _ if elem == ScalarType::F64 => cx.f64_type().into(),
            1 => cx.i8_type().into(),
            2 => cx.i16_type().into(),
            4 => cx.i32_type().into(),
            _ => cx.i64_type().into(),
        };
        let ty = elem_ty.array_type(len as u32);
        let g = module.add_global(ty, Some(AddressSpace::from(3u16)), &format!("gpujit_shared_{index}"));
        g.set_linkage(Linkage::Internal);
        g.set_initializer(&ty.get_undef());
        g.set_alignment(ir::SHARED_ALIGN as u32);
        Ok(g.as_pointer_value())
    }

    fn aligns_dynamic_shared(&self) -> bool {
        true
    }

    fn dynamic_shared<'ctx>(
        &self,
        module: &Module<'ctx>,
        builder: &Builder<'ctx>,
        _body: FunctionValue<'ctx>,
        _offset: u64,
    ) -> Result<(PointerValue<'ctx>, IntValue<'ctx>), BuilderError> {
        // `extern __shared__`: a zero-length external addrspace(3) array. Static shared arrays are
        // separate globals, so it starts at the beginning of the dynamic part.
        let cx = module.get_context();
        let name = "gpujit_dynamic_shared";
        let g = match module.get_global(name) {
            Some(g) => g,
            None => {
                let g = module.add_global(cx.i8_type().array_type(0), Some(AddressSpace::from(3u16)), name);
                g.set_linkage(Linkage::External);
                g.set_alignment(ir::SHARED_ALIGN as u32);
                g
            }
        };
        // %dynamic_smem_size has no LLVM 19 intrinsic: read it with inline PTX.
        let fn_type = cx.i32_type().fn_type(&[], false);
        let asm = cx.create_inline_asm(fn_type, "mov.u32 $0, %dynamic_smem_size;".into(), "=r".into(), false, false, None, false);
        let bytes = match builder.build_indirect_call(fn_type, asm, &[], "dynsmem")?.try_as_basic_value() {
            inkwell::values::ValueKind::Basic(v) => v.into_int_value(),
            inkwell::values::ValueKind::Instruction(_) => unreachable!("the asm returns i32"),
        };
        let bytes = builder.build_int_z_extend(bytes, cx.i64_type(), "dynbytes")?;
        Ok((g.as_pointer_value(), bytes))
    }

    fn collective<'ctx>(
        &self,
        module: &Module<'ctx>,
        b: &Builder<'ctx>,
        _body: FunctionValue<'ctx>,
        op: Collective,
        value: ScalarType,
        args: &[BasicValueEnum<'ctx>],
    ) -> Result<BasicValueEnum<'ctx>, BuilderError> {
        let cx = module.get_context();
        let i32t = cx.i32_type();
        let call =
            |name: &str, overload: &[BasicTypeEnum<'ctx>], a: &[BasicValueEnum<'ctx>]| -> Result<BasicValueEnum<'ctx>, BuilderError> {
                let f = match Intrinsic::find(name).and_then(|i| i.get_declaration(module, overload)) {
                    Some(f) => f,
                    None => unreachable!("LLVM 19 provides {name}"),
                };
                let a: Vec<BasicMetadataValueEnum> = a.iter().map(|v| (*v).into()).collect();
                match b.build_call(f, &a, "")?.try_as_basic_value() {
                    inkwell::values::ValueKind::Basic(v) => Ok(v),
                    inkwell::values::ValueKind::Instruction(_) => Ok(i32t.const_zero().into()),
                }
            };
        let pred32 = |p: BasicValueEnum<'ctx>| b.build_int_z_extend(p.into_int_value(), i32t, "pred");
        Ok(match op {
            Collective::ShflIdx | Collective::ShflUp | Collective::ShflDown | Collective::ShflXor => {
                let kind = match op {
                    Collective::ShflIdx => "idx",
                    Collective::ShflUp => "up",
                    Collective::ShflDown => "down",
                    _ => "bfly",
                };
                let clamp = i32t.const_int(if op == Collective::ShflUp { 0 } else { 0x1f }, false);
                // `shfl` reads 5 bits of its lane operand. For `up` and `down` a delta of 32 or
                // more reaches no lane, so the thread keeps its own value (as on the CPU backend):
                // a delta of exactly 32, read as 0, gives that. An index and a xor mask wrap
                // (`% 32`) on both backends, as the hardware does.
                let d = args[2].into_int_value();
                let d = match op {
                    Collective::ShflUp | Collective::ShflDown => {
                        let i64t = cx.i64_type();
                        let far = b.build_int_compare(inkwell::IntPredicate::UGE, d, i64t.const_int(32, false), "far")?;
                        b.build_select(far, i64t.const_int(32, false), d, "delta")?.into_int_value()
                    }
                    _ => d,
                };
                let lane = b.build_int_truncate(d, i32t, "lane")?;
                let mask = args[0];
                let shfl32 = |v: BasicValueEnum<'ctx>, f32: bool| -> Result<BasicValueEnum<'ctx>, BuilderError> {
                    let name = format!("llvm.nvvm.shfl.sync.{kind}.{}", if f32 { "f32" } else { "i32" });
                    call(&name, &[], &[mask, v, lane.into(), clamp.into()])
                };
                let v = args[1];
                match value {
                    ScalarType::F32 => shfl32(v, true)?,
                    t if t.bits() == 64 => {
                        let i64t = cx.i64_type();
                        let bits = if t.is_float() { b.build_bit_cast(v, i64t, "bits")?.into_int_value() } else { v.into_int_value() };
                        let lo = b.build_int_truncate(bits, i32t, "lo")?;
                        let hi = b.build_int_truncate(b.build_right_shift(bits, i64t.const_int(32, false), false, "hi64")?, i32t, "hi")?;
                        let lo = shfl32(lo.into(), false)?.into_int_value();
                        let hi = shfl32(hi.into(), false)?.into_int_value();
                        let lo = b.build_int_z_extend(lo, i64t, "lo64")?;
                        let hi = b.build_left_shift(b.build_int_z_extend(hi, i64t, "hi64")?, i64t.const_int(32, false), "hishift")?;
                        let joined = b.build_or(lo, hi, "joined")?;
                        if t.is_float() {
                            b.build_bit_cast(joined, cx.f64_type(), "f64")?
                        } else {
                            joined.into()
                        }
                    }
                    t if t.bits() == 32 => shfl32(v, false)?,
                    _ => {
                        // bool, 8- and 16-bit integers ride in the low bits of an i32.
                        let wide = b.build_int_z_extend(v.into_int_value(), i32t, "wide")?;
                        let got = shfl32(wide.into(), false)?.into_int_value();
                        b.build_int_truncate(got, v.into_int_value().get_type(), "narrow")?.into()
                    }
                }
            }
            Collective::Ballot => call("llvm.nvvm.vote.ballot.sync", &[], &[args[0], args[1]])?,
            Collective::Any => call("llvm.nvvm.vote.any.sync", &[], &[args[0], args[1]])?,
            Collective::All => call("llvm.nvvm.vote.all.sync", &[], &[args[0], args[1]])?,
            Collective::ActiveMask => call("llvm.nvvm.activemask", &[], &[])?,
            Collective::MatchAny => {
                let name = if value.bits() == 64 { "llvm.nvvm.match.any.sync.i64" } else { "llvm.nvvm.match.any.sync.i32" };
                call(name, &[], &[args[0], args[1]])?
            }
            Collective::SyncWarp => {
                call("llvm.nvvm.bar.warp.sync", &[], &[args[0]])?;
                i32t.const_zero().into()
            }
            Collective::SyncThreadsCount => call("llvm.nvvm.barrier0.popc", &[], &[pred32(args[0])?.into()])?,
            Collective::SyncThreadsAnd | Collective::SyncThreadsOr => {
                let name = if op == Collective::SyncThreadsAnd { "llvm.nvvm.barrier0.and" } else { "llvm.nvvm.barrier0.or" };
                let r = call(name, &[], &[pred32(args[0])?.into()])?.into_int_value();
                b.build_int_compare(inkwell::IntPredicate::NE, r, i32t.const_zero(), "vote")?.into()
            }
        })
    }

    fn grid_barrier<'ctx>(&self, module: &Module<'ctx>, b: &Builder<'ctx>, body: FunctionValue<'ctx>) -> Result<(), BuilderError> {
        // A generation barrier in global memory: after a block barrier, one leader a block adds
        // to the arrival count; the last to arrive resets it and bumps the generation, the others
        // wait for the generation to change. The cooperative launch guarantees every block is
        // resident, so the wait ends.
        let cx = module.get_context();
        let (i32t, i64t) = (cx.i32_type(), cx.i64_type());
        let state = match module.get_global(GRID_BARRIER) {
            Some(g) => g,
            None => {
                let ty = i32t.array_type(2);
                let g = module.add_global(ty, Some(AddressSpace::from(1u16)), GRID_BARRIER);
                g.set_linkage(Linkage::External);
                g.set_initializer(&ty.const_zero());
                g.set_alignment(8);
                g
            }
        }
        .as_pointer_value();
        // SAFETY (of the generated code): the state is [u32; 2].
        let count = unsafe { b.build_in_bounds_gep(i32t, state, &[i64t.const_int(0, false)], "count")? };
        // SAFETY (of the generated code): as above.
        let generation = unsafe { b.build_in_bounds_gep(i32t, state, &[i64t.const_int(1, false)], "generation")? };
        self.barrier(module, b, body)?;
        let sreg = |r| self.read_special(module, b, body, r);
        let (tx, ty, tz) = (sreg(SpecialReg::Tid(Dim::X))?, sreg(SpecialReg::Tid(Dim::Y))?, sreg(SpecialReg::Tid(Dim::Z))?);
        let any = b.build_or(b.build_or(tx, ty, "t")?, tz, "t")?;
        let leader = b.build_int_compare(IntPredicate::EQ, any, i32t.const_zero(), "leader")?;
        let lead = cx.append_basic_block(body, "gridsync.lead");
        let last = cx.append_basic_block(body, "gridsync.last");
        let wait = cx.append_basic_block(body, "gridsync.wait");
        let done = cx.append_basic_block(body, "gridsync.done");
        b.build_conditional_branch(leader, lead, done)?;
        b.position_at_end(lead);
        let (gx, gy, gz) = (sreg(SpecialReg::Nctaid(Dim::X))?, sreg(SpecialReg::Nctaid(Dim::Y))?, sreg(SpecialReg::Nctaid(Dim::Z))?);
        let blocks = b.build_int_mul(b.build_int_mul(gx, gy, "g")?, gz, "blocks")?;
        let seen = b.build_load(i32t, generation, "gen")?;
        if let Some(i) = seen.as_instruction_value() {
            let _ = i.set_volatile(true);
        }
        self.fence(module, b, FenceScope::Device)?;
        let old = b.build_atomicrmw(inkwell::AtomicRMWBinOp::Add, count, i32t.const_int(1, false), AtomicOrdering::Monotonic)?;
        let is_last = b.build_int_compare(IntPredicate::EQ, old, b.build_int_sub(blocks, i32t.const_int(1, false), "n1")?, "last")?;
        b.build_conditional_branch(is_last, last, wait)?;
        b.position_at_end(last);
        b.build_atomicrmw(inkwell::AtomicRMWBinOp::Xchg, count, i32t.const_zero(), AtomicOrdering::Monotonic)?;
        self.fence(module, b, FenceScope::Device)?;
        b.build_atomicrmw(inkwell::AtomicRMWBinOp::Add, generation, i32t.const_int(1, false), AtomicOrdering::Monotonic)?;
        b.build_unconditional_branch(done)?;
        b.position_at_end(wait);
        let now = b.build_load(i32t, generation, "gen.now")?;
        if let Some(i) = now.as_instruction_value() {
            let _ = i.set_volatile(true);
        }
        let same = b.build_int_compare(IntPredicate::EQ, now.into_int_value(), seen.into_int_value(), "same")?;
        b.build_conditional_branch(same, wait, done)?;
        b.position_at_end(done);
        self.fence(module, b, FenceScope::Device)?;
        self.barrier(module, b, body)
    }

    fn bulk<'ctx>(
        &self,
        module: &Module<'ctx>,
        builder: &Builder<'ctx>,
        _body: FunctionValue<'ctx>,
        access: &BulkAccess<'ctx>,
    ) -> Result<bool, BuilderError> {
        bulk::bulk(module, builder, access)
    }

    fn barrier<'ctx>(&self, module: &Module<'ctx>, builder: &Builder<'ctx>, _body: FunctionValue<'ctx>) -> Result<(), BuilderError> {
        call_void(module, builder, "llvm.nvvm.barrier0")
    }

    fn fence<'ctx>(&self, module: &Module<'ctx>, builder: &Builder<'ctx>, scope: FenceScope) -> Result<(), BuilderError> {
        let name = match scope {
            FenceScope::Block => "llvm.nvvm.membar.cta",
            FenceScope::Device => "llvm.nvvm.membar.gl",
            FenceScope::System => "llvm.nvvm.membar.sys",
        };
        call_void(module, builder, name)
    }

    fn print_record<'ctx>(
        &self,
        module: &Module<'ctx>,
        b: &Builder<'ctx>,
        _body: FunctionValue<'ctx>,
        words: &[IntValue<'ctx>],
    ) -> Result<(), BuilderError> {
        let buffer = print_buffer(module);
        crate::target::append_print(module, b, buffer, words, |cursor, n| {
            let old = b.build_atomicrmw(inkwell::AtomicRMWBinOp::Add, cursor, n, AtomicOrdering::Monotonic)?;
            Ok(old)
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn report_out_of_bounds<'ctx>(
        &self,
        module: &Module<'ctx>,
        b: &Builder<'ctx>,
        _body: FunctionValue<'ctx>,
        array: u32,
        index: IntValue<'ctx>,
        axis: IntValue<'ctx>,
        values: &[IntValue<'ctx>],
    ) -> Result<(), BuilderError> {
        // The first bad access of a launch claims the record with a compare-and-swap on its flag,
        // then fills it; the runtime reads it after the launch.
        let cx = module.get_context();
        let i64t = cx.i64_type();
        let record = oob_record(module);
        let claimed =
            b.build_cmpxchg(record, i64t.const_zero(), i64t.const_int(1, false), AtomicOrdering::Monotonic, AtomicOrdering::Monotonic)?;
        let won = b.build_extract_value(claimed, 1, "won")?.into_int_value();
        let f = b.get_insert_block().and_then(|bb| bb.get_parent()).unwrap_or_else(|| unreachable!("builder is positioned"));
        let write = cx.append_basic_block(f, "oob.record");
        let done = cx.append_basic_block(f, "oob.done");
        b.build_conditional_branch(won, write, done)?;
        b.position_at_end(write);
        write_oob_fields(self, module, b, f, record, array, index, axis, values)?;
        b.build_unconditional_branch(done)?;
        b.position_at_end(done);
        Ok(())
    }

    fn read_special<'ctx>(
        &self,
        module: &Module<'ctx>,
        builder: &Builder<'ctx>,
        _body: FunctionValue<'ctx>,
        reg: SpecialReg,
    ) -> Result<IntValue<'ctx>, BuilderError> {
        let (kind, d) = match reg {
            SpecialReg::Tid(d) => ("tid", Some(d)),
            SpecialReg::Ntid(d) => ("ntid", Some(d)),
            SpecialReg::Ctaid(d) => ("ctaid", Some(d)),
            SpecialReg::Nctaid(d) => ("nctaid", Some(d)),
            SpecialReg::LaneId => ("laneid", None),
        };
        let name = match d {
            Some(d) => format!("llvm.nvvm.read.ptx.sreg.{kind}.{}", d.name()),
            None => format!("llvm.nvvm.read.ptx.sreg.{kind}"),
        };
        let f = match Intrinsic::find(&name).and_then(|i| i.get_declaration(module, &[])) {
            Some(f) => f,
            None => unreachable!("LLVM 19 provides {name}"),
        };
        match builder.build_call(f, &[], kind)?.try_as_basic_value() {
            inkwell::values::ValueKind::Basic(v) => Ok(v.into_int_value()),
            inkwell::values::ValueKind::Instruction(_) => unreachable!("{name} returns i32"),
        }
    }

    fn finish<'ctx>(
        &self,
        cx: &'ctx Context,
        module: &Module<'ctx>,
        body: FunctionValue<'ctx>,
        kernel: &ir::Kernel,
    ) -> Result<(), BuilderError> {
        // Launch bounds and the register limit, as LLVM 19's NVPTX backend reads them.
        let o = &kernel.options;
        let mut md: Vec<BasicMetadataValueEnum> = vec![body.as_global_value().as_pointer_value().into()];
        for (key, value) in [("maxntidx", o.max_threads_per_block), ("minctasm", o.min_blocks_per_sm), ("maxnreg", o.max_registers)] {
            if let Some(v) = value {
                md.push(cx.metadata_string(key).into());
                md.push(cx.i32_type().const_int(v as u64, false).into());
            }
        }
        if md.len() > 1 {
            let _ = module.add_global_metadata("nvvm.annotations", &cx.metadata_node(&md));
        }
        Ok(())
    }
}

/// The global name of the state of `grid_sync()` (arrival count, generation).
pub const GRID_BARRIER: &str = "gpujit_grid_barrier";

/// The global name of the out-of-bounds record of kernels compiled with bounds checks.
pub const OOB_RECORD: &str = "gpujit_oob_record";
/// The global of the print buffer a kernel that prints defines.
pub const PRINT_BUFFER: &str = "gpujit_print_buffer";

/// The module's out-of-bounds record (`[u64; 9]` in global memory, zero at load).
/// The launch's print buffer (see [`crate::target::append_print`]), defined on first use.
fn print_buffer<'ctx>(module: &Module<'ctx>) -> PointerValue<'ctx> {
    let g = match module.get_global(PRINT_BUFFER) {
        Some(g) => g,
        None => {
            let cx = module.get_context();
            let ty = cx.i64_type().array_type(1 + crate::limits::PRINT_WORDS as u32);
            let g = module.add_global(ty, Some(AddressSpace::from(1u16)), PRINT_BUFFER);
            g.set_linkage(Linkage::External);
            g.set_initializer(&ty.const_zero());
            g.set_alignment(8);
            g
        }
    };
    g.as_pointer_value()
}

fn oob_record<'ctx>(module: &Module<'ctx>) -> PointerValue<'ctx> {
    let g = match module.get_global(OOB_RECORD) {
        Some(g) => g,
        None => {
            let cx = module.get_context();
            let ty = cx.i64_type().array_type(crate::contract::OobRecord::WORDS as u32);
            let g = module.add_global(ty, Some(AddressSpace::from(1u16)), OOB_RECORD);
            g.set_linkage(Linkage::External);
            g.set_initializer(&ty.const_zero());
            g.set_alignment(8);
            g
        }
    };
    g.as_pointer_value()
}

/// Calls a void NVVM intrinsic without operands.
fn call_void<'ctx>(module: &Module<'ctx>, builder: &Builder<'ctx>, name: &str) -> Result<(), BuilderError> {
    let f = match Intrinsic::find(name).and_then(|i| i.get_declaration(module, &[])) {
        Some(f) => f,
        None => unreachable!("LLVM 19 provides {name}"),
    };
    builder.build_call(f, &[], "")?;
    Ok(())
}

/// Links libdevice into `module` when the kernel calls one of its functions (`__nv_*`), then makes
/// everything but the kernel internal and drops what is unused, so the optimizer and PTX see only
/// the functions the kernel needs.
fn link_libdevice_if_used<'ctx>(
    cx: &'ctx Context,
    module: &Module<'ctx>,
    kernel: &ir::Kernel,
    tm: &TargetMachine,
) -> Result<(), CompileError> {
    let needed: Vec<String> = module
        .get_functions()
        .filter(|f| f.count_basic_blocks() == 0 && f.get_name().to_bytes().starts_with(b"__nv_"))
        .map(|f| f.get_name().to_string_lossy().into_owned())
        .collect();
    if needed.is_empty() {
        return Ok(());
    }
    let llvm = |stage: &'static str, message: String| CompileError::Llvm { kernel: kernel.name.clone(), stage, message };
    for lib in libdevice_parts(cx, &needed, kernel, tm)? {
        lib.set_triple(&tm.get_triple());
        lib.set_data_layout(&tm.get_target_data().get_data_layout());
        module.link_in_module(lib).map_err(|e| llvm("libdevice linking", e.to_string()))?;
    }
    for f in module.get_functions() {
        if f.count_basic_blocks() > 0 && f.get_name().to_bytes() != kernel.name.as_bytes() {
            f.set_linkage(Linkage::Internal);
        }
    }
    let ftz = kernel.options.fastmath as u64;
    module.add_basic_value_flag("nvvm-reflect-ftz", FlagBehavior::Override, cx.i32_type().const_int(ftz, false));
    module.run_passes("globaldce", tm, PassBuilderOptions::create()).map_err(|e| llvm("libdevice pruning", e.to_string()))
}

/// libdevice, pruned: one piece a function (the function and its callees, which are internal),
/// as bitcode, cut from the "math piece" (every function the math methods call, about 100 with
/// their callees, 66 kB). Parsing all of libdevice takes about 20 ms, the math piece 2 ms, a
/// function's piece a fraction of one; all of them are kept on disk beside the kernel cache
/// ([`set_libdevice_cache_dir`]), so most processes never parse libdevice itself and a new math
/// kernel parses only the pieces it calls.
static FUNCTION_PIECES: std::sync::Mutex<Vec<(String, std::sync::Arc<Vec<u8>>)>> = std::sync::Mutex::new(Vec::new());
static MATH_PIECE: std::sync::Mutex<Option<std::sync::Arc<Vec<u8>>>> = std::sync::Mutex::new(None);
static PIECE_DIR: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
static FULL_PARSES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// How many times this process parsed all of libdevice (0 when pieces on disk served).
pub fn libdevice_full_parses() -> usize {
    FULL_PARSES.load(std::sync::atomic::Ordering::Relaxed)
}

/// Where to keep the pruned libdevice pieces across processes (the runtime passes its disk
/// cache's directory; the first call wins).
pub fn set_libdevice_cache_dir(dir: std::path::PathBuf) {
    let _ = PIECE_DIR.set(dir);
}

/// Every libdevice function the math methods and `%` may call.
fn math_names() -> Vec<String> {
    let mut names = vec!["__nv_fmodf".to_string(), "__nv_fmod".to_string()];
    for f in MathFn::ALL {
        for t in [ScalarType::F32, ScalarType::F64] {
            for fast in [false, true] {
                if let Some(n) = f.libdevice_name(t, fast) {
                    if !names.contains(&n) {
                        names.push(n);
                    }
                }
            }
        }
    }
    names
}

fn fnv(bytes: impl IntoIterator<Item = u8>) -> u64 {
    bytes.into_iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3))
}

/// The disk file of a piece (`function`, or the math piece for `None`) made from the libdevice
/// at `path` by this compiler.
fn piece_file(path: &std::path::Path, function: Option<&str>) -> Option<std::path::PathBuf> {
    let dir = PIECE_DIR.get()?;
    let meta = std::fs::metadata(path).ok()?;
    let mtime = meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos());
    let id = format!("{} {} {mtime} {}", path.display(), meta.len(), crate::COMPILER_ID);
    let name = match function {
        Some(f) => format!("libdevice-{:016x}-{f}.bc", fnv(id.bytes())),
        None => format!("libdevice-{:016x}.bc", fnv(id.bytes())),
    };
    Some(dir.join(name))
}

/// A piece's bitcode from disk, if whole (an 8-byte checksum ends the file); a damaged file is
/// removed.
fn read_piece(file: &std::path::Path) -> Option<Vec<u8>> {
    let mut bytes = std::fs::read(file).ok()?;
    let body = bytes.len().checked_sub(8)?;
    let sum = u64::from_le_bytes(bytes[body..].try_into().ok()?);
    if sum != fnv(bytes[..body].iter().copied()) {
        let _ = std::fs::remove_file(file);
        return None;
    }
    bytes.truncate(body);
    Some(bytes)
}

/// Writes a piece (to a temporary name, then renamed: readers see all of it or nothing).
fn write_piece(file: Option<&std::path::Path>, bits: &[u8]) {
    let Some(file) = file else { return };
    let Some(dir) = file.parent() else { return };
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    let mut out = bits.to_vec();
    out.extend_from_slice(&fnv(bits.iter().copied()).to_le_bytes());
    let tmp = file.with_extension(format!("tmp.{}", std::process::id()));
    if std::fs::write(&tmp, &out).and_then(|_| std::fs::rename(&tmp, file)).is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
}

/// `module` pruned to the functions `keep` (external) and what they call (internal), as bitcode.
fn prune(module: &Module<'_>, keep: &[String], tm: &TargetMachine) -> Result<Vec<u8>, String> {
    for f in module.get_functions() {
        let name = f.get_name().to_string_lossy();
        if f.count_basic_blocks() > 0 && !keep.iter().any(|m| *m == name) {
            f.set_linkage(Linkage::Internal);
        }
    }
    // Tables too: two pieces linked into one kernel may each hold a copy.
    for g in module.get_globals() {
        if !g.is_declaration() {
            g.set_linkage(Linkage::Internal);
        }
    }
    module.run_passes("globaldce", tm, PassBuilderOptions::create()).map_err(|e| e.to_string())?;
    Ok(module.write_bitcode_to_memory().as_slice().to_vec())
}

/// Modules in `cx` that together define every function of `needed`: one piece each.
fn libdevice_parts<'ctx>(
    cx: &'ctx Context,
    needed: &[String],
    kernel: &ir::Kernel,
    tm: &TargetMachine,
) -> Result<Vec<Module<'ctx>>, CompileError> {
    let llvm = |stage: &'static str, message: String| CompileError::Llvm { kernel: kernel.name.clone(), stage, message };
    let mut modules = Vec::new();
    for name in needed {
        let bits = function_piece(name, kernel, tm)?;
        let buf = inkwell::memory_buffer::MemoryBuffer::create_from_memory_range_copy(&bits, name);
        modules.push(Module::parse_bitcode_from_buffer(&buf, cx).map_err(|e| llvm("libdevice piece parsing", e.to_string()))?);
    }
    Ok(modules)
}

/// The piece of libdevice function `name`: from memory, from disk, or cut from the math piece
/// (itself from memory, disk, or all of libdevice).
fn function_piece(name: &str, kernel: &ir::Kernel, tm: &TargetMachine) -> Result<std::sync::Arc<Vec<u8>>, CompileError> {
    let llvm = |stage: &'static str, message: String| CompileError::Llvm { kernel: kernel.name.clone(), stage, message };
    if let Some((_, bits)) = FUNCTION_PIECES.lock().unwrap_or_else(|p| p.into_inner()).iter().find(|(n, _)| n == name) {
        return Ok(bits.clone());
    }
    let path = toolchain::find_libdevice().map_err(|message| CompileError::Toolchain { kernel: kernel.name.clone(), message })?;
    let file = piece_file(&path, Some(name));
    let keep = [name.to_string()];
    let cx = lower::new_context();
    let bits = match file.as_deref().and_then(read_piece) {
        Some(bits) => bits,
        None => {
            let source = if math_names().iter().any(|m| m == name) {
                let math = math_piece(&path, tm).map_err(|m| llvm("libdevice pruning", m))?;
                let buf = inkwell::memory_buffer::MemoryBuffer::create_from_memory_range_copy(&math, "libdevice math piece");
                Module::parse_bitcode_from_buffer(&buf, &cx).map_err(|e| llvm("libdevice piece parsing", e.to_string()))?
            } else {
                FULL_PARSES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Module::parse_bitcode_from_path(&path, &cx).map_err(|e| llvm("libdevice parsing", format!("{}: {e}", path.display())))?
            };
            let bits = prune(&source, &keep, tm).map_err(|m| llvm("libdevice pruning", m))?;
            write_piece(file.as_deref(), &bits);
            bits
        }
    };
    let bits = std::sync::Arc::new(bits);
    FUNCTION_PIECES.lock().unwrap_or_else(|p| p.into_inner()).push((name.to_string(), bits.clone()));
    Ok(bits)
}

/// libdevice pruned to every function the math methods call.
fn math_piece(path: &std::path::Path, tm: &TargetMachine) -> Result<std::sync::Arc<Vec<u8>>, String> {
    let mut cached = MATH_PIECE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(bits) = &*cached {
        return Ok(bits.clone());
    }
    let file = piece_file(path, None);
    let bits = match file.as_deref().and_then(read_piece) {
        Some(bits) => bits,
        None => {
            FULL_PARSES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let cx = lower::new_context();
            let lib = Module::parse_bitcode_from_path(path, &cx).map_err(|e| format!("{}: {e}", path.display()))?;
            let bits = prune(&lib, &math_names(), tm)?;
            write_piece(file.as_deref(), &bits);
            bits
        }
    };
    let bits = std::sync::Arc::new(bits);
    *cached = Some(bits.clone());
    Ok(bits)
}

/// The result of compiling a kernel for NVPTX.
#[derive(Clone, Debug)]
pub struct PtxOutput {
    /// The PTX module text.
    pub ptx: String,
    /// The optimized LLVM IR, when asked for.
    pub llvm_ir: Option<String>,
    /// The compiled-kernel description: the entry's name, the argument layout, the globals the
    /// module defines ([`OOB_RECORD`], ...: the only ones the runtime may look up in the loaded
    /// module), whether it needs a cooperative launch.
    pub meta: KernelMetadata,
}

/// Drops the `debug` option of the `.target` directive, which LLVM writes whenever the module
/// has line tables. It asks ptxas for code compiled for debugging (as `-G`: a saxpy then takes 28
/// registers instead of 8), and ptxas 12.9 crashes on a `bf16` atomic add under it. Without it,
/// ptxas and the driver still build the line table from the `.loc`/`.file` directives (as
/// `nvcc -lineinfo`'s PTX has them), so `lineinfo` changes no instruction.
pub fn optimized_with_lines(ptx: &str) -> String {
    let mut out = String::with_capacity(ptx.len());
    for line in ptx.lines() {
        match line.strip_prefix(".target ").and_then(|t| t.strip_suffix(", debug")) {
            Some(arch) => {
                out.push_str(".target ");
                out.push_str(arch);
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// Whether PTX asks for code compiled for debugging (`.target sm_XX, debug`: the `debug`
/// option's kernels), which the driver's JIT then builds with device debug information.
pub fn compiled_for_debugging(ptx: &str) -> bool {
    ptx.lines().any(|l| l.starts_with(".target ") && l.ends_with(", debug"))
}

/// Rewrites each `neg.s16` and `abs.s16` as the 32-bit instruction on the sign-extended value,
/// truncated back. ptxas keeps 16-bit values in 32-bit registers and takes these two results
/// as in range, but for `i16::MIN` (and `i8::MIN`, which LLVM widens to 16 bits) they are
/// +32768: an H200 then gave `(-MIN) / 127` as 258 and `MIN.abs().signum()` as 1 (fuzz seeds
/// 257480270603 and 233590347680). Wherever LLVM forms them (`-x`, `0 - x`, `x.abs()`, a
/// division's magic numbers), the wrapped 16-bit value is what the kernel gets.
pub fn widen_16bit_neg_abs(ptx: &str) -> String {
    let mut out = String::with_capacity(ptx.len() + 256);
    for line in ptx.lines() {
        let t = line.trim_start();
        let op = ["neg.s16", "abs.s16"].into_iter().find(|op| t.starts_with(op) && t[op.len()..].starts_with(char::is_whitespace));
        let operands = op.and_then(|op| t[op.len()..].trim().strip_suffix(';')).map(|r| r.split(',').map(str::trim).collect::<Vec<_>>());
        match (op, operands.as_deref()) {
            (Some(op), Some([d, a])) if d.starts_with('%') => {
                let wide = if op.starts_with("neg") { "neg.s32" } else { "abs.s32" };
                out.push_str(&format!(
                    "\t{{ .reg .s32 %gpujit_w; cvt.s32.s16 %gpujit_w, {a}; {wide} %gpujit_w, %gpujit_w; cvt.u16.u32 {d}, %gpujit_w; }}\n"
                ));
            }
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

/// The global variables a PTX module defines (`.global` declarations at module scope, not
/// `.extern` ones), by name.
pub fn ptx_globals(ptx: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in ptx.lines().map(str::trim) {
        let mut words = line.split_whitespace().peekable();
        if words.peek() == Some(&".visible") || words.peek() == Some(&".weak") {
            words.next();
        }
        if words.next() != Some(".global") {
            continue;
        }
        // `.align 8 .b8 name[72];`: the first word that is neither a directive nor a number.
        let name = words.find(|w| !w.starts_with('.') && !w.starts_with(|c: char| c.is_ascii_digit()));
        if let Some(name) = name {
            let end = name.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '$')).unwrap_or(name.len());
            if end > 0 {
                out.push(name[..end].to_string());
            }
        }
    }
    out
}

/// Compiles a specialized kernel to PTX.
pub fn compile_ptx(kernel: &ir::Kernel, target: &NvptxTarget, want_llvm_ir: bool) -> Result<PtxOutput, CompileError> {
    let llvm = |stage: &'static str, message: String| CompileError::Llvm { kernel: kernel.name.clone(), stage, message };
    // `debug`: unoptimized, every variable where the debugger looks, and PTX compiled for
    // debugging; otherwise optimized, line tables (if any) without changing the code. Debug
    // sections need PTX ISA 7.5 (drivers from CUDA 11.5).
    if let Some((arch, what)) = kernel.needs_arch().filter(|(arch, _)| *arch > target.arch) {
        return Err(CompileError::Unsupported {
            kernel: kernel.name.clone(),
            target: "GPU",
            message: format!("it uses {what}, which needs sm_{arch} or newer; this device is sm_{}", target.arch),
        });
    }
    // `wgmma` exists on sm_90a alone; Hopper's other operations need PTX ISA 8.0.
    let wgmma = kernel.uses_wgmma();
    if wgmma && target.arch != 90 {
        return Err(CompileError::Unsupported {
            kernel: kernel.name.clone(),
            target: "GPU",
            message: format!("it uses `wgmma`, which exists on sm_90 (Hopper) alone; this device is sm_{}", target.arch),
        });
    }
    let hopper = kernel.needs_arch().is_some_and(|(arch, _)| arch >= 90);
    let hopper_target = NvptxTarget { ptx_version: target.ptx_version.max(80), ..*target };
    let target = if hopper { &hopper_target } else { target };
    let debug = kernel.options.debug && !kernel.file.is_empty();
    let debug_target = NvptxTarget { ptx_version: target.ptx_version.max(75), ..*target };
    let target = if debug { &debug_target } else { target };
    let level = if debug { OptimizationLevel::None } else { OptimizationLevel::Aggressive };
    let tm = target.machine_for(level, wgmma).map_err(|m| llvm("target selection", m))?;
    let cx = lower::new_context();
    let module = lower::lower(&cx, kernel, target, &tm)?;
    link_libdevice_if_used(&cx, &module, kernel, &tm)?;
    if debug {
        lower::optimize_at(&module, &tm, &kernel.name, "default<O0>")?;
    } else {
        lower::optimize(&module, &tm, &kernel.name)?;
    }
    let llvm_ir = want_llvm_ir.then(|| module.print_to_string().to_string());
    let buf = tm.write_to_memory_buffer(&module, FileType::Assembly).map_err(|e| llvm("PTX emission", e.to_string()))?;
    let ptx = widen_16bit_neg_abs(String::from_utf8_lossy(buf.as_slice()).trim_end_matches('\0'));
    let ptx = if debug { ptx } else { optimized_with_lines(&ptx) };
    let meta = KernelMetadata::of(kernel, ptx_globals(&ptx));
    Ok(PtxOutput { ptx, llvm_ir, meta })
}

/// A call of inline PTX `template` (operands `$1..` the arguments, `$0` the result of type
/// `ret`) with LLVM constraints `constraints`; `effects`: it has side effects (memory).
fn one_instruction<'ctx>(
    b: &Builder<'ctx>,
    ret: inkwell::types::IntType<'ctx>,
    args: &[inkwell::values::BasicMetadataValueEnum<'ctx>],
    template: &str,
    constraints: &str,
    effects: bool,
    name: &str,
) -> Result<IntValue<'ctx>, BuilderError> {
    let cx = ret.get_context();
    let params: Vec<inkwell::types::BasicMetadataTypeEnum> = args
        .iter()
        .map(|a| match a {
            inkwell::values::BasicMetadataValueEnum::IntValue(v) => v.get_type().into(),
            inkwell::values::BasicMetadataValueEnum::PointerValue(v) => v.get_type().into(),
            _ => unreachable!("inline PTX operands here are integers and pointers"),
        })
        .collect();
    let fn_type = ret.fn_type(&params, false);
    let asm = cx.create_inline_asm(fn_type, template.to_string(), constraints.to_string(), effects, false, None, false);
    match b.build_indirect_call(fn_type, asm, args, name)?.try_as_basic_value() {
        inkwell::values::ValueKind::Basic(v) => Ok(v.into_int_value()),
        inkwell::values::ValueKind::Instruction(_) => unreachable!("the inline PTX returns a value"),
    }
}
