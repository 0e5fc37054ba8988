//! Hopper's (sm_90) operations on the GPU: `mbarrier`, the tensor memory accelerator
//! (`cp.async.bulk.tensor`), the async-proxy fence and warpgroup MMA (`wgmma`). LLVM 19 has no
//! intrinsics for most of them (TMA's and `wgmma.mma_async`'s came in LLVM 20), so all are
//! inline PTX, kept in place (side effects) with memory clobbered.

use crate::ir::BulkOp;
use crate::target::BulkAccess;
use inkwell::builder::{Builder, BuilderError};
use inkwell::module::Module;
use inkwell::types::{BasicMetadataTypeEnum, BasicType, BasicTypeEnum};
use inkwell::values::{BasicMetadataValueEnum, BasicValueEnum, IntValue, PointerValue};
use inkwell::AddressSpace;
use inkwell::IntPredicate;

/// The 128-byte swizzle mode of a `wgmma` shared-memory descriptor (bits 62-63).
const DESC_SWIZZLE_128B: u64 = 1 << 62;
/// The stride between groups of 8 rows of a 128-byte swizzled K-major tile: 1024 bytes, in
/// 16-byte units (bits 32-45).
const DESC_SBO: u64 = (1024 >> 4) << 32;
/// The leading-dimension offset, unused by swizzled K-major tiles (1 by convention; bits 16-29).
const DESC_LBO: u64 = 1 << 16;

/// Emits a Hopper operation (see [`BulkOp::is_hopper`]).
pub(super) fn hopper<'ctx>(module: &Module<'ctx>, b: &Builder<'ctx>, access: &BulkAccess<'ctx>) -> Result<(), BuilderError> {
    let cx = module.get_context();
    let i32t = cx.i32_type();
    let asm = |text: &str, constraints: &str, args: &[BasicValueEnum<'ctx>], ret: Option<BasicTypeEnum<'ctx>>| {
        let params: Vec<BasicMetadataTypeEnum<'ctx>> = args.iter().map(|a| a.get_type().into()).collect();
        let fn_type = match ret {
            Some(t) => t.fn_type(&params, false),
            None => cx.void_type().fn_type(&params, false),
        };
        let callee = cx.create_inline_asm(fn_type, text.to_string(), constraints.to_string(), true, false, None, false);
        let args: Vec<BasicMetadataValueEnum<'ctx>> = args.iter().map(|a| (*a).into()).collect();
        b.build_indirect_call(fn_type, callee, &args, "").map(|r| r.try_as_basic_value().basic())
    };
    let shared = |i: usize| shared_u32(b, access.addrs[i]);
    let v = |i: usize| -> BasicValueEnum<'ctx> { access.values[i].into() };
    match access.op {
        BulkOp::BarrierInit => {
            asm("mbarrier.init.shared::cta.b64 [$0], $1;", "r,r,~{memory}", &[shared(0)?.into(), v(0)], None)?;
        }
        BulkOp::BarrierArrive => {
            asm("mbarrier.arrive.shared::cta.b64 _, [$0];", "r,~{memory}", &[shared(0)?.into()], None)?;
        }
        BulkOp::BarrierExpectTx => {
            asm("mbarrier.arrive.expect_tx.shared::cta.b64 _, [$0], $1;", "r,r,~{memory}", &[shared(0)?.into(), v(0)], None)?;
        }
        BulkOp::BarrierWait => {
            // A loop in LLVM IR around one `try_wait` (which itself waits a while): no labels in
            // the PTX, which inlining and unrolling would repeat.
            let bar = shared(0)?;
            let f = b.get_insert_block().and_then(|bb| bb.get_parent()).unwrap_or_else(|| unreachable!("builder is positioned"));
            let (spin, done) = (cx.append_basic_block(f, "mbarrier.wait"), cx.append_basic_block(f, "mbarrier.done"));
            b.build_unconditional_branch(spin)?;
            b.position_at_end(spin);
            let text = "{ .reg .pred p; mbarrier.try_wait.parity.shared::cta.b64 p, [$1], $2; selp.u32 $0, 1, 0, p; }";
            let r = asm(text, "=r,r,r,~{memory}", &[bar.into(), v(0)], Some(i32t.into()))?;
            let ok = r.unwrap_or_else(|| unreachable!("the wait gives its predicate")).into_int_value();
            let ok = b.build_int_compare(IntPredicate::NE, ok, i32t.const_zero(), "phase.done")?;
            b.build_conditional_branch(ok, done, spin)?;
            b.position_at_end(done);
        }
        BulkOp::FenceProxyAsync => {
            asm("fence.proxy.async.shared::cta;", "~{memory}", &[], None)?;
        }
        BulkOp::TmaLoad => {
            let generic = cx.ptr_type(AddressSpace::default());
            let map = if access.addrs[1].get_type().get_address_space() == AddressSpace::default() {
                access.addrs[1]
            } else {
                b.build_address_space_cast(access.addrs[1], generic, "map")?
            };
            let map = b.build_ptr_to_int(map, cx.i64_type(), "map.addr")?;
            let text = "cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [$0], [$1, {$2, $3}], [$4];";
            asm(text, "r,l,r,r,r,~{memory}", &[shared(0)?.into(), map.into(), v(0), v(1), shared(2)?.into()], None)?;
        }
        BulkOp::WgmmaFence => {
            asm("wgmma.fence.sync.aligned;", "~{memory}", &[], None)?;
        }
        BulkOp::WgmmaCommit => {
            asm("wgmma.commit_group.sync.aligned;", "~{memory}", &[], None)?;
        }
        BulkOp::WgmmaWait(n) => {
            asm(&format!("wgmma.wait_group.sync.aligned {n};"), "~{memory}", &[], None)?;
        }
        BulkOp::Wgmma { n, input } => {
            // f32 accumulators in `f` registers, i32 (i8 inputs) in `r` ones.
            let (acc_t, reg): (BasicTypeEnum<'ctx>, &str) =
                if input.acc() == crate::types::ScalarType::I32 { (i32t.into(), "r") } else { (cx.f32_type().into(), "f") };
            let count = n / 2;
            let i64t = cx.i64_type();
            let mut accs = Vec::with_capacity(count as usize);
            for i in 0..count {
                // SAFETY (of the generated code): the lowering checked that the per-thread array
                // holds the N / 2 accumulators.
                let at = unsafe { b.build_in_bounds_gep(acc_t, access.addrs[0], &[i64t.const_int(i as u64, false)], "acc.at")? };
                accs.push(b.build_load(acc_t, at, "acc")?);
            }
            let (da, db) = (descriptor(b, access.addrs[1])?, descriptor(b, access.addrs[2])?);
            let regs: Vec<String> = (0..count).map(|i| format!("${i}")).collect();
            let (instruction, rest) = input.wgmma_ptx(n);
            let text = format!(
                "{{ .reg .pred p; setp.ne.b32 p, ${}, 0; {instruction} {{{}}}, ${}, ${}, p{rest}; }}",
                count + 2,
                regs.join(","),
                count,
                count + 1
            );
            // Outputs each, then the descriptors, the scale of D, and the accumulators' input
            // values tied to the outputs.
            let mut constraints: Vec<String> = (0..count).map(|_| format!("={reg}")).collect();
            constraints.extend(["l".to_string(), "l".to_string(), "r".to_string()]);
            constraints.extend((0..count).map(|i| i.to_string()));
            constraints.push("~{memory}".into());
            let mut args: Vec<BasicValueEnum<'ctx>> = vec![da.into(), db.into(), i32t.const_int(1, false).into()];
            args.extend(accs);
            let ret = cx.struct_type(&vec![acc_t; count as usize], false);
            let r = asm(&text, &constraints.join(","), &args, Some(ret.as_basic_type_enum()))?;
            let r = r.unwrap_or_else(|| unreachable!("wgmma gives the accumulators")).into_struct_value();
            for i in 0..count {
                let d = b.build_extract_value(r, i, "d")?;
                // SAFETY (of the generated code): as above.
                let at = unsafe { b.build_in_bounds_gep(acc_t, access.addrs[0], &[i64t.const_int(i as u64, false)], "acc.at")? };
                b.build_store(at, d)?;
            }
        }
        _ => unreachable!("not one of Hopper's operations"),
    }
    Ok(())
}

/// The 32-bit shared-window address of a shared-memory pointer.
fn shared_u32<'ctx>(b: &Builder<'ctx>, ptr: PointerValue<'ctx>) -> Result<IntValue<'ctx>, BuilderError> {
    let cx = ptr.get_type().get_context();
    let shared = AddressSpace::from(3u16);
    let p = if ptr.get_type().get_address_space() == shared {
        ptr
    } else {
        let generic = if ptr.get_type().get_address_space() == AddressSpace::default() {
            ptr
        } else {
            b.build_address_space_cast(ptr, cx.ptr_type(AddressSpace::default()), "generic")?
        };
        b.build_address_space_cast(generic, cx.ptr_type(shared), "shared")?
    };
    let wide = b.build_ptr_to_int(p, cx.i64_type(), "shared.addr")?;
    b.build_int_truncate(wide, cx.i32_type(), "shared.addr32")
}

/// The `wgmma` descriptor of a K-major, 128-byte swizzled tile whose first element is at `ptr`
/// (see [`crate::bulk::wgmma_offset`]): its address in 16-byte units, the strides, the swizzle.
fn descriptor<'ctx>(b: &Builder<'ctx>, ptr: PointerValue<'ctx>) -> Result<IntValue<'ctx>, BuilderError> {
    let cx = ptr.get_type().get_context();
    let i64t = cx.i64_type();
    let addr = b.build_int_z_extend(shared_u32(b, ptr)?, i64t, "desc.addr")?;
    let units = b.build_and(
        b.build_right_shift(addr, i64t.const_int(4, false), false, "desc.units")?,
        i64t.const_int(0x3fff, false),
        "desc.start",
    )?;
    b.build_or(units, i64t.const_int(DESC_SWIZZLE_128B | DESC_SBO | DESC_LBO, false), "desc")
}
