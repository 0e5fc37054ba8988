//! The GPU's bulk instructions: cache-hinted vector accesses (inline PTX: LLVM has no cache
//! operators on plain loads), `cp.async`, `ldmatrix` and `mma.sync` (LLVM 19's NVVM intrinsics).

use crate::ast::CacheHint;
use crate::bulk::MmaShape;
use crate::ir::BulkOp;
use crate::target::BulkAccess;
use crate::types::ScalarType;
use inkwell::builder::{Builder, BuilderError};
use inkwell::intrinsics::Intrinsic;
use inkwell::module::Module;
use inkwell::types::{BasicMetadataTypeEnum, BasicType, BasicTypeEnum};
use inkwell::values::{BasicMetadataValueEnum, BasicValueEnum, PointerValue};
use inkwell::AddressSpace;

/// A call of an NVVM intrinsic by name, with its result (if any).
type IntrinsicCall<'a, 'ctx> = dyn Fn(&str, &[BasicValueEnum<'ctx>]) -> Result<Option<BasicValueEnum<'ctx>>, BuilderError> + 'a;

const SHARED: u16 = 3;
const GLOBAL: u16 = 1;

/// Emits `access` (see [`crate::target::Target::bulk`]); `false` for a plain vector copy, which
/// the lowering emits as LLVM vector loads and stores.
pub(super) fn bulk<'ctx>(module: &Module<'ctx>, b: &Builder<'ctx>, access: &BulkAccess<'ctx>) -> Result<bool, BuilderError> {
    let cx = module.get_context();
    let call = |name: &str, args: &[BasicValueEnum<'ctx>]| -> Result<Option<BasicValueEnum<'ctx>>, BuilderError> {
        // `ldmatrix` is overloaded on its pointer (`.p3`); the others are not.
        let overload: Vec<BasicTypeEnum<'ctx>> = if name.contains("ldmatrix") { vec![args[0].get_type()] } else { Vec::new() };
        let f = match Intrinsic::find(name).and_then(|i| i.get_declaration(module, &overload)) {
            Some(f) => f,
            None => unreachable!("LLVM 19 provides {name}"),
        };
        let args: Vec<BasicMetadataValueEnum> = args.iter().map(|a| (*a).into()).collect();
        Ok(b.build_call(f, &args, "")?.try_as_basic_value().basic())
    };
    let addrs = &access.addrs;
    match access.op {
        BulkOp::Copy { hint: CacheHint::Default, asynchronous: false, .. } => Ok(false),
        BulkOp::Copy { count, hint, asynchronous: false } => {
            let bytes = access.elem.size_bytes() as u32 * count;
            // Loads when the source is global memory (the destination a per-thread array).
            let load = access.global.get(1).copied().unwrap_or(false);
            // (The default hint has no operator: matched above, a plain vector access.)
            let Some(op) = (if load { hint.load_operator() } else { hint.store_operator() }) else { return Ok(false) };
            hinted(module, b, addrs, bytes, load, op)?;
            Ok(true)
        }
        BulkOp::Copy { count, asynchronous: true, .. } => {
            let bytes = access.elem.size_bytes() as u32 * count;
            // L2 only (`.cg`) for 16 bytes, as CUTLASS does; `.cg` takes no other size.
            let kind = if bytes == 16 { "cg" } else { "ca" };
            let dst = to_space(b, addrs[0], SHARED)?;
            let src = to_space(b, addrs[1], GLOBAL)?;
            call(&format!("llvm.nvvm.cp.async.{kind}.shared.global.{bytes}"), &[dst.into(), src.into()])?;
            Ok(true)
        }
        BulkOp::AsyncCommit => {
            call("llvm.nvvm.cp.async.commit.group", &[])?;
            Ok(true)
        }
        BulkOp::AsyncWait(n) => {
            call("llvm.nvvm.cp.async.wait.group", &[cx.i32_type().const_int(n as u64, false).into()])?;
            Ok(true)
        }
        BulkOp::LdMatrix { matrices, trans } => {
            let row = to_space(b, addrs[1], SHARED)?;
            let name = format!("llvm.nvvm.ldmatrix.sync.aligned.m8n8.x{matrices}{}.b16", if trans { ".trans" } else { "" });
            let r = call(&name, &[row.into()])?.unwrap_or_else(|| unreachable!("ldmatrix gives registers"));
            store_words(b, addrs[0], &words_of(b, r, matrices)?)?;
            Ok(true)
        }
        BulkOp::Mma(shape) => {
            mma(module, b, shape, addrs, &call)?;
            Ok(true)
        }
        _ => {
            super::hopper::hopper(module, b, access)?;
            Ok(true)
        }
    }
}

/// `ptr` in address space `space` (cast from the generic one where it is not there already).
fn to_space<'ctx>(b: &Builder<'ctx>, ptr: PointerValue<'ctx>, space: u16) -> Result<PointerValue<'ctx>, BuilderError> {
    let target = AddressSpace::from(space);
    if ptr.get_type().get_address_space() == target {
        return Ok(ptr);
    }
    let generic = if ptr.get_type().get_address_space() == AddressSpace::default() {
        ptr
    } else {
        b.build_address_space_cast(ptr, ptr.get_type().get_context().ptr_type(AddressSpace::default()), "generic")?
    };
    b.build_address_space_cast(generic, generic.get_type().get_context().ptr_type(target), "space")
}

/// The 32-bit words of an intrinsic's result (one, or a struct of 2 or 4).
fn words_of<'ctx>(b: &Builder<'ctx>, r: BasicValueEnum<'ctx>, n: u32) -> Result<Vec<BasicValueEnum<'ctx>>, BuilderError> {
    if n == 1 {
        return Ok(vec![r]);
    }
    (0..n).map(|i| b.build_extract_value(r.into_struct_value(), i, "word")).collect()
}

/// Stores 32-bit (or any) values one after another from `ptr` on.
fn store_words<'ctx>(b: &Builder<'ctx>, ptr: PointerValue<'ctx>, words: &[BasicValueEnum<'ctx>]) -> Result<(), BuilderError> {
    for (i, w) in words.iter().enumerate() {
        let t = w.get_type();
        let i64t = ptr.get_type().get_context().i64_type();
        // SAFETY (of the generated code): the verifier checked that the per-thread array holds
        // every word written.
        let at = unsafe { b.build_in_bounds_gep(t, ptr, &[i64t.const_int(i as u64, false)], "word.at")? };
        b.build_store(at, *w)?;
    }
    Ok(())
}

/// Loads `n` values of type `t` one after another from `ptr` on.
fn load_words<'ctx>(
    b: &Builder<'ctx>,
    ptr: PointerValue<'ctx>,
    t: BasicTypeEnum<'ctx>,
    n: u32,
) -> Result<Vec<BasicValueEnum<'ctx>>, BuilderError> {
    let i64t = ptr.get_type().get_context().i64_type();
    (0..n)
        .map(|i| {
            // SAFETY (of the generated code): as in `store_words`.
            let at = unsafe { b.build_in_bounds_gep(t, ptr, &[i64t.const_int(i as u64, false)], "word.at")? };
            b.build_load(t, at, "word")
        })
        .collect()
}

/// A vector load (`ld.cg.v4.b32 {..}, [a]`) or store (`st.cs.v4.b32 [a], {..}`) with a cache
/// operator, on the generic address of the global operand; the per-thread side is read or
/// written as 32-bit words (16-bit for 2 bytes).
fn hinted<'ctx>(
    module: &Module<'ctx>,
    b: &Builder<'ctx>,
    addrs: &[PointerValue<'ctx>],
    bytes: u32,
    load: bool,
    op: &str,
) -> Result<(), BuilderError> {
    let cx = module.get_context();
    let (word, width, reg): (BasicTypeEnum<'ctx>, &str, &str) =
        if bytes >= 4 { (cx.i32_type().into(), "b32", "r") } else { (cx.i16_type().into(), "b16", "h") };
    let n = bytes / if bytes >= 4 { 4 } else { 2 };
    let vec = if n > 1 { format!(".v{n}") } else { String::new() };
    let generic = cx.ptr_type(AddressSpace::default());
    let (mem, local) = if load { (addrs[1], addrs[0]) } else { (addrs[0], addrs[1]) };
    let mem = if mem.get_type().get_address_space() == AddressSpace::default() {
        mem
    } else {
        b.build_address_space_cast(mem, generic, "generic")?
    };
    let list = |from: u32| {
        let regs: Vec<String> = (from..from + n).map(|i| format!("${i}")).collect();
        if n > 1 {
            format!("{{{}}}", regs.join(","))
        } else {
            regs.join(",")
        }
    };
    if load {
        let asm = format!("ld.{op}{vec}.{width} {}, [${n}];", list(0));
        let mut constraints: Vec<String> = (0..n).map(|_| format!("={reg}")).collect();
        constraints.push("l".into());
        let ret: BasicTypeEnum<'ctx> = if n == 1 { word } else { cx.struct_type(&vec![word; n as usize], false).into() };
        let fn_type = ret.fn_type(&[generic.into()], false);
        let callee = cx.create_inline_asm(fn_type, asm, constraints.join(","), true, false, None, false);
        let r = b.build_indirect_call(fn_type, callee, &[mem.into()], "ld.hinted")?;
        let r = r.try_as_basic_value().basic().unwrap_or_else(|| unreachable!("the load gives registers"));
        store_words(b, local, &words_of(b, r, n)?)
    } else {
        let asm = format!("st.{op}{vec}.{width} [$0], {};", list(1));
        let mut constraints = vec!["l".to_string()];
        constraints.extend((0..n).map(|_| reg.to_string()));
        constraints.push("~{memory}".into());
        let mut params: Vec<BasicMetadataTypeEnum<'ctx>> = vec![generic.into()];
        params.extend((0..n).map(|_| BasicMetadataTypeEnum::from(word)));
        let fn_type = cx.void_type().fn_type(&params, false);
        let callee = cx.create_inline_asm(fn_type, asm, constraints.join(","), true, false, None, false);
        let mut args: Vec<BasicMetadataValueEnum<'ctx>> = vec![mem.into()];
        args.extend(load_words(b, local, word, n)?.into_iter().map(BasicMetadataValueEnum::from));
        b.build_indirect_call(fn_type, callee, &args, "")?;
        Ok(())
    }
}

/// `mma.sync` on per-thread fragments: A's and B's elements packed into 32-bit registers as the
/// PTX ISA lays them out (the first element in the low bits), C's loaded, D stored over C.
fn mma<'ctx>(
    module: &Module<'ctx>,
    b: &Builder<'ctx>,
    shape: MmaShape,
    addrs: &[PointerValue<'ctx>],
    call: &IntrinsicCall<'_, 'ctx>,
) -> Result<(), BuilderError> {
    let cx = module.get_context();
    let [la, lb, _] = shape.lens();
    let bytes = shape.input().size_bytes() as u64;
    let (wa, wb) = ((la * bytes / 4) as u32, (lb * bytes / 4) as u32);
    let i32t = cx.i32_type();
    let (a, bw) = (load_words(b, addrs[1], i32t.into(), wa)?, load_words(b, addrs[2], i32t.into(), wb)?);
    let acc: BasicTypeEnum<'ctx> = if shape.acc() == ScalarType::I32 { i32t.into() } else { cx.f32_type().into() };
    let c = load_words(b, addrs[0], acc, 4)?;
    let halves = |w: &BasicValueEnum<'ctx>| b.build_bit_cast(*w, cx.f16_type().vec_type(2), "f16x2");
    let (a, bw): (Vec<_>, Vec<_>) = if shape == MmaShape::F16 {
        (a.iter().map(halves).collect::<Result<_, _>>()?, bw.iter().map(halves).collect::<Result<_, _>>()?)
    } else {
        (a, bw)
    };
    let name = match shape {
        MmaShape::F16 => "llvm.nvvm.mma.m16n8k16.row.col.f32.f32",
        MmaShape::Bf16 => "llvm.nvvm.mma.m16n8k16.row.col.bf16",
        MmaShape::Tf32 => "llvm.nvvm.mma.m16n8k8.row.col.tf32",
        MmaShape::S8 => "llvm.nvvm.mma.m16n8k32.row.col.s8",
    };
    let args: Vec<BasicValueEnum<'ctx>> = a.into_iter().chain(bw).chain(c).collect();
    let d = call(name, &args)?.unwrap_or_else(|| unreachable!("mma gives the D fragment"));
    store_words(b, addrs[0], &words_of(b, d, 4)?)
}
