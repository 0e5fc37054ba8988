//! Lowering: typed IR → LLVM IR, the same for every [`Target`].
//!
//! The body function takes one parameter per argument word of the kernel's
//! [`crate::contract::ParamLayout`] (an array's data pointer in the target's global address
//! space, then its extents and strides as `i64`; a scalar's value, `bool` as `i8`), then the
//! target's extra parameters. Locals live in `alloca`s that the optimizer promotes.
//!
//! Rust semantics are kept where LLVM would otherwise leave behaviour undefined: integer
//! arithmetic wraps; shift amounts are masked to the type's width (`wrapping_shl`); integer
//! division or remainder by zero yields 0 and the dividend (Rust would panic, CUDA C gives an
//! unspecified value, LLVM calls it undefined behaviour); `MIN / -1` wraps; float → int casts
//! saturate and map NaN to 0; range loops never overflow their counter.

use crate::ast::{AtomicOp, BinOp, Builtin, UnOp};
use crate::contract::{OobRecord, ParamLayout, ParamSlots};
use crate::error::CompileError;
use crate::ir::{self, ArrayRef, Const, ParamType, Stmt, StmtKind, TypedExprKind};
use crate::target::{SpecialReg, Target};
use crate::types::ScalarType;
use inkwell::attributes::AttributeLoc;
use inkwell::basic_block::BasicBlock;
use inkwell::builder::{Builder, BuilderError};
use inkwell::context::Context;
use inkwell::intrinsics::Intrinsic;
use inkwell::module::Linkage;
use inkwell::module::Module;
use inkwell::passes::PassBuilderOptions;
use inkwell::targets::TargetMachine;
use inkwell::types::{BasicMetadataTypeEnum, BasicType, BasicTypeEnum, IntType};
use inkwell::values::{BasicValue, BasicValueEnum, FastMathFlags, FloatValue, FunctionValue, IntValue, PointerValue};
use inkwell::{AddressSpace, AtomicOrdering, FloatPredicate, IntPredicate};

/// The LLVM integer type of `bits` width (1, 8, 16, 32 or 64).
pub fn int_type(cx: &Context, bits: u32) -> IntType<'_> {
    match bits {
        1 => cx.bool_type(),
        8 => cx.i8_type(),
        16 => cx.i16_type(),
        32 => cx.i32_type(),
        _ => cx.i64_type(),
    }
}

/// The LLVM type of a value of `t` in registers (`bool` is `i1`, `f16` and `bf16` are their bits,
/// `i16`).
pub fn value_type(cx: &Context, t: ScalarType) -> BasicTypeEnum<'_> {
    match t {
        ScalarType::Bool => cx.bool_type().into(),
        ScalarType::F32 => cx.f32_type().into(),
        ScalarType::F64 => cx.f64_type().into(),
        ScalarType::Struct(d) => aggregate::struct_type(cx, d).into(),
        // `{ re, im }`, num-complex's `#[repr(C)]` layout.
        ScalarType::Complex32 | ScalarType::Complex64 => {
            let part = value_type(cx, t.component().unwrap_or(ScalarType::F64));
            cx.struct_type(&[part, part], false).into()
        }
        // 16-bit floats travel as their bits (see crate::half).
        t => int_type(cx, t.bits()).into(),
    }
}

/// The LLVM type of `t` in memory and in parameters (`bool` is `i8`).
pub fn memory_type(cx: &Context, t: ScalarType) -> BasicTypeEnum<'_> {
    match t {
        ScalarType::Bool => cx.i8_type().into(),
        t => value_type(cx, t),
    }
}

/// The LLVM parameter types of the kernel's own parameters: one per argument word of its
/// [`ParamLayout`] (an array's data pointer, then its extents and strides as `i64`).
pub fn param_types<'ctx>(cx: &'ctx Context, kernel: &ir::Kernel, arrays: AddressSpace) -> Vec<BasicMetadataTypeEnum<'ctx>> {
    let layout = ParamLayout::of(kernel);
    let mut out = Vec::with_capacity(layout.words());
    for (p, slots) in kernel.params.iter().zip(layout.params()) {
        match (p.ty, slots) {
            // A complex number: its parts, one a word.
            (ParamType::Scalar(t), _) if t.is_complex() => {
                let part = memory_type(cx, t.component().unwrap_or(t));
                out.extend([BasicMetadataTypeEnum::from(part), part.into()]);
            }
            // A struct: the words of its bytes.
            (ParamType::Scalar(ScalarType::Struct(d)), _) => {
                out.extend((0..aggregate::words_of(d.size)).map(|_| BasicMetadataTypeEnum::from(cx.i64_type())));
            }
            (ParamType::Scalar(t), _) => out.push(memory_type(cx, t).into()),
            (ParamType::Array { .. }, slots) => {
                out.push(cx.ptr_type(arrays).into());
                out.extend((1..slots.words()).map(|_| BasicMetadataTypeEnum::from(cx.i64_type())));
            }
        }
    }
    out
}

/// Emits the kernel and its device functions into a fresh module of `cx`, ready for [`optimize`].
///
/// Device functions are internal, always-inlined LLVM functions that take the target's extra
/// parameters too (the caller passes its own on) and their arrays as generic-address-space
/// pointers (the optimizer infers the real address space after inlining).
pub fn lower<'ctx>(cx: &'ctx Context, kernel: &ir::Kernel, target: &dyn Target, tm: &TargetMachine) -> Result<Module<'ctx>, CompileError> {
    lower_with(cx, kernel, target, tm, None, None)
}

/// Lowers `kernel` (or, with `lockstep`, the kernel [`lockstep::prepare`] made of it) and,
/// beside its body, the flat function of `plan` (see [`flat`]): the target's entry runs the
/// launches it can that way. Returns the module and, in lockstep, the frame's bytes a thread.
pub fn lower_host<'ctx>(
    cx: &'ctx Context,
    kernel: &ir::Kernel,
    lockstep: Option<&ir::Kernel>,
    plan: Option<&flat::Plan>,
    target: &dyn Target,
    tm: &TargetMachine,
) -> Result<(Module<'ctx>, Option<u64>), CompileError> {
    match lockstep {
        Some(prepared) => {
            let layout = lockstep::Layout::of(cx, &tm.get_target_data(), prepared);
            let bytes = layout.bytes;
            Ok((lower_with(cx, prepared, target, tm, Some(layout), plan)?, Some(bytes)))
        }
        None => Ok((lower_with(cx, kernel, target, tm, None, plan)?, None)),
    }
}

/// The string attribute that marks a body run in lockstep (its target's entry runs it once a
/// block).
pub const LOCKSTEP_ATTRIBUTE: &str = "gpujit-lockstep";

fn lower_with<'ctx>(
    cx: &'ctx Context,
    kernel: &ir::Kernel,
    target: &dyn Target,
    tm: &TargetMachine,
    mut lockstep: Option<lockstep::Layout>,
    flat: Option<&flat::Plan>,
) -> Result<Module<'ctx>, CompileError> {
    let llvm_err = |stage: &'static str, message: String| CompileError::Llvm { kernel: kernel.name.clone(), stage, message };
    if !target.inline_ptx() && kernel.uses_inline_ptx() {
        return Err(CompileError::Unsupported {
            kernel: kernel.name.clone(),
            target: if target.name() == "host" { "CPU backend" } else { target.name() },
            message: "it uses `ptx_asm!`, inline PTX, which only a GPU runs".into(),
        });
    }
    aggregate::check_layouts(cx, kernel, &tm.get_target_data())?;
    let module = cx.create_module(&kernel.name);
    module.set_triple(&tm.get_triple());
    module.set_data_layout(&tm.get_target_data().get_data_layout());
    let lines = line_info::LineInfo::new(cx, &module, kernel, target);
    let mut params = param_types(cx, kernel, target.global_address_space());
    params.extend(target.extra_params(cx));
    let fn_type = cx.void_type().fn_type(&params, false);
    let body = module.add_function(&kernel.name, fn_type, None);
    target.configure_body(cx, body);
    if lockstep.is_some() {
        body.add_attribute(AttributeLoc::Function, cx.create_string_attribute(LOCKSTEP_ATTRIBUTE, ""));
    }
    let fastmath = |f: FunctionValue<'ctx>| {
        if kernel.options.fastmath {
            // Denormals may be flushed to zero (ftz on the GPU).
            f.add_attribute(AttributeLoc::Function, cx.create_string_attribute("denormal-fp-math-f32", "preserve-sign,preserve-sign"));
        }
    };
    fastmath(body);
    // The flat function takes the body's parameters, then the blocks it stands for.
    let flat_fn = flat.map(|_| {
        let i64t = cx.i64_type();
        let mut params = param_types(cx, kernel, target.global_address_space());
        params.extend([BasicMetadataTypeEnum::from(i64t); 3]);
        params.extend(target.extra_params(cx));
        let f = module.add_function(&format!("{}{}", kernel.name, flat::FLAT_SUFFIX), cx.bool_type().fn_type(&params, false), None);
        target.configure_body(cx, f);
        fastmath(f);
        f
    });
    let kernel_fns: Vec<FunctionValue<'ctx>> = std::iter::once(body).chain(flat_fn).collect();
    if kernel.options.aligned16 || kernel.options.aligned_arrays != 0 {
        // The caller checked the arrays' data pointers (see `KernelOptions::aligned16` and
        // `aligned_arrays`).
        let align = cx.create_enum_attribute(inkwell::attributes::Attribute::get_named_enum_kind_id("align"), 16);
        for (p, slots) in ParamLayout::of(kernel).params().iter().enumerate() {
            let aligned = kernel.options.aligned16 || (p < 32 && kernel.options.aligned_arrays & (1 << p) != 0);
            if let (ParamSlots::Array { word, .. }, true) = (slots, aligned) {
                kernel_fns.iter().for_each(|f| f.add_attribute(AttributeLoc::Param(*word as u32), align));
            }
        }
    }
    // Rust's rules for `&`/`&mut` (the launch checked that no written array overlaps another):
    // array parameters are disjoint, and read-only ones are not written.
    if !kernel.options.may_alias {
        let kind = |name: &str| inkwell::attributes::Attribute::get_named_enum_kind_id(name);
        let (noalias, readonly) = (cx.create_enum_attribute(kind("noalias"), 0), cx.create_enum_attribute(kind("readonly"), 0));
        for (p, slots) in kernel.params.iter().zip(ParamLayout::of(kernel).params()) {
            if let (ParamSlots::Array { word, .. }, ir::ParamType::Array { mutable, .. }) = (slots, &p.ty) {
                for f in &kernel_fns {
                    f.add_attribute(AttributeLoc::Param(*word as u32), noalias);
                    if !mutable {
                        f.add_attribute(AttributeLoc::Param(*word as u32), readonly);
                    }
                }
            }
        }
    }
    let always = cx.create_enum_attribute(inkwell::attributes::Attribute::get_named_enum_kind_id("alwaysinline"), 0);
    let mut functions = Vec::with_capacity(kernel.functions.len());
    for (i, func) in kernel.functions.iter().enumerate() {
        let mut params = param_types(cx, func, AddressSpace::default());
        if kernel.asserts_anywhere() {
            // The flag a failed assertion sets to end the thread, the kernel's (before the
            // target's parameters, which come last).
            params.push(cx.ptr_type(AddressSpace::default()).into());
        }
        params.extend(target.extra_params(cx));
        let fn_type = match func.ret {
            Some(t) => value_type(cx, t).fn_type(&params, false),
            None => cx.void_type().fn_type(&params, false),
        };
        let f = module.add_function(&format!("gpujit_fn{i}_{}", func.name), fn_type, Some(inkwell::module::Linkage::Internal));
        f.add_attribute(AttributeLoc::Function, always);
        fastmath(f);
        functions.push(f);
    }
    // Out-of-bounds reports number a device function's arrays after the kernel's.
    let mut base = (kernel.params.len() + kernel.shared.len() + kernel.local_arrays.len()) as u32;
    // Assertions number a device function's after the kernel's (the metadata's order).
    let mut bodies = vec![(kernel, body, 0u32, 0u32, 0u32, None)];
    let numbers = std::iter::once(0u32).chain(1..=kernel.functions.len() as u32);
    let (mut assert_base, mut print_base) = (kernel.asserts.len() as u32, kernel.prints.len() as u32);
    for (func, f) in kernel.functions.iter().zip(&functions) {
        bodies.push((func, *f, base, assert_base, print_base, None));
        base += (func.params.len() + func.local_arrays.len()) as u32;
        assert_base += func.asserts.len() as u32;
        print_base += func.prints.len() as u32;
    }
    // The flat function, a second form of the kernel's body (numbered as it).
    if let (Some(f), Some(plan)) = (flat_fn, flat) {
        bodies.push((kernel, f, 0, 0, 0, Some(plan)));
    }
    let numbers = numbers.chain(std::iter::once(0));
    for ((ir_fn, f, array_base, assert_base, print_base, flat_plan), body_number) in bodies.into_iter().zip(numbers) {
        let scope = lines.as_ref().map(|li| li.function(ir_fn, f));
        let mut l = Lower {
            line: 0,
            body_number,
            lines: lines.as_ref().zip(scope),
            assert_base,
            print_base,
            exit_flag: None,
            cx,
            module: &module,
            b: cx.create_builder(),
            f,
            kernel: ir_fn,
            root: kernel,
            functions: &functions,
            array_base,
            target,
            locals: Vec::new(),
            arrays: Vec::new(),
            shared: Vec::new(),
            local_arrays: Vec::new(),
            scalars: Vec::new(),
            loops: Vec::new(),
            ls: None,
            lockstep: if std::ptr::eq(ir_fn, kernel) && flat_plan.is_none() { lockstep.take() } else { None },
            flat_plan,
            flat: None,
            unchecked: Vec::new(),
        };
        l.emit().map_err(|e| llvm_err("IR construction", e.to_string()))?;
    }
    target.finish(cx, &module, body, kernel).map_err(|e| llvm_err("IR construction", e.to_string()))?;
    // Swizzled tiles start at 1024-byte boundaries: every shared array of a kernel with Hopper's
    // operations is so aligned (the CPU backend's layout too, `ir::Kernel::shared_layout`).
    if kernel.shared_align() > ir::SHARED_ALIGN {
        let mut g = module.get_first_global();
        while let Some(global) = g {
            if global.as_pointer_value().get_type().get_address_space() == inkwell::AddressSpace::from(3u16) {
                global.set_alignment(kernel.shared_align() as u32);
            }
            g = global.get_next_global();
        }
    }
    if let Some(li) = &lines {
        li.cover_wrappers(&module, kernel);
        li.finish();
    }
    module.verify().map_err(|e| llvm_err("module verification", e.to_string()))?;
    Ok(module)
}

/// A new LLVM context whose diagnostics (warnings and remarks, such as a loop the unroller
/// could not unroll as `#[unroll]` asked) are dropped instead of printed on standard error:
/// what fails is reported through the functions' results.
pub fn new_context() -> Context {
    extern "C" fn ignore(_: inkwell::llvm_sys::prelude::LLVMDiagnosticInfoRef, _: *mut std::ffi::c_void) {}
    let cx = Context::create();
    // SAFETY: the context is live; the handler ignores its arguments and keeps no state.
    unsafe { inkwell::llvm_sys::core::LLVMContextSetDiagnosticHandler(cx.raw(), Some(ignore), std::ptr::null_mut()) };
    cx
}

/// Runs LLVM's O3 pipeline on `module` for `tm`.
pub fn optimize(module: &Module<'_>, tm: &TargetMachine, kernel: &str) -> Result<(), CompileError> {
    optimize_at(module, tm, kernel, "default<O3>")
}

/// Runs the LLVM pass pipeline `passes` (`default<O3>`, `default<O0>`) on `module` for `tm`.
pub fn optimize_at(module: &Module<'_>, tm: &TargetMachine, kernel: &str, passes: &str) -> Result<(), CompileError> {
    module.run_passes(passes, tm, PassBuilderOptions::create()).map_err(|e| CompileError::Llvm {
        kernel: kernel.to_string(),
        stage: "optimization",
        message: e.to_string(),
    })
}

type LR<T> = Result<T, BuilderError>;

mod aggregate;
mod bulk;
mod complex;
pub mod flat;
mod line_info;
pub mod lockstep;
mod math;
mod random;

pub use aggregate::words_of;

/// An array parameter as the body receives it.
struct ParamArray<'ctx> {
    ptr: PointerValue<'ctx>,
    shape: Vec<IntValue<'ctx>>,
    /// In elements; may be negative or zero.
    strides: Vec<IntValue<'ctx>>,
    /// Elements in all (the product of the extents).
    len: IntValue<'ctx>,
    contiguous: bool,
}

/// Where `continue` and `break` of an enclosing loop go.
#[derive(Copy, Clone)]
enum LoopExit<'ctx> {
    /// To these blocks (continue, break).
    Blocks(BasicBlock<'ctx>, BasicBlock<'ctx>),
    /// Out of a loop run in lockstep whose iterating threads are at this mask level.
    Lockstep(usize),
}

struct Lower<'a, 'ctx> {
    /// The line of the statement being lowered (for out-of-bounds reports).
    line: u32,
    /// This body's number: 0 for the kernel, k for device function k - 1.
    body_number: u32,
    /// The line tables and this body's scope, when the kernel carries source lines.
    lines: Option<(&'a line_info::LineInfo<'ctx>, inkwell::debug_info::DISubprogram<'ctx>)>,
    /// The number of this body's first assertion in the metadata's table.
    assert_base: u32,
    /// The number of this body's first `print!` in the metadata's table.
    print_base: u32,
    /// Where a failed assertion ends the thread: set, in a device function, so that every caller
    /// returns too (`None` when no assertion can fail).
    exit_flag: Option<PointerValue<'ctx>>,
    cx: &'ctx Context,
    module: &'a Module<'ctx>,
    b: Builder<'ctx>,
    f: FunctionValue<'ctx>,
    /// The body being lowered: the kernel or one of its device functions.
    kernel: &'a ir::Kernel,
    /// The kernel (its device functions, for calls).
    root: &'a ir::Kernel,
    /// The LLVM functions of `root.functions`.
    functions: &'a [FunctionValue<'ctx>],
    /// Where this body's arrays start in the numbering of out-of-bounds reports.
    array_base: u32,
    target: &'a dyn Target,
    locals: Vec<PointerValue<'ctx>>,
    /// Each array parameter (None for scalars).
    arrays: Vec<Option<ParamArray<'ctx>>>,
    /// Address and length of each shared array.
    shared: Vec<(PointerValue<'ctx>, IntValue<'ctx>)>,
    /// Address and length of each per-thread array.
    local_arrays: Vec<(PointerValue<'ctx>, IntValue<'ctx>)>,
    /// Value of each scalar parameter (None for arrays).
    scalars: Vec<Option<BasicValueEnum<'ctx>>>,
    /// (continue target, break target) of each enclosing loop; `None` for a loop run in
    /// lockstep (see [`lockstep`]).
    loops: Vec<LoopExit<'ctx>>,
    /// The lowering's state of a body run in lockstep.
    ls: Option<lockstep::Lockstep<'ctx>>,
    /// The frame of a body to run in lockstep, before `emit` starts it.
    lockstep: Option<lockstep::Layout>,
    /// The plan of the kernel's flat function, when this is it (see [`flat`]).
    flat_plan: Option<&'a flat::Plan>,
    /// The flat function's launch values, once its loop runs.
    flat: Option<flat::FlatState<'ctx>>,
    /// Array parameters whose accesses are proven in bounds before the loop being lowered.
    unchecked: Vec<ir::ParamId>,
}

impl<'a, 'ctx> Lower<'a, 'ctx> {
    fn emit(&mut self) -> LR<()> {
        let entry = self.cx.append_basic_block(self.f, "entry");
        self.b.position_at_end(entry);
        if self.root.asserts_anywhere() {
            self.exit_flag = Some(if std::ptr::eq(self.kernel, self.root) {
                let flag = self.b.build_alloca(self.cx.i8_type(), "exited")?;
                self.b.build_store(flag, self.cx.i8_type().const_zero())?;
                flag
            } else {
                let extra = self.target.extra_params(self.cx).len() as u32;
                self.nth_param(self.f.count_params() - extra - 1).into_pointer_value()
            });
        }
        let mut idx = 0;
        for p in &self.kernel.params {
            match p.ty {
                ParamType::Array { ndim, contiguous, .. } => {
                    let ptr = self.nth_param(idx).into_pointer_value();
                    ptr.set_name(&p.name);
                    let n = ndim as u32;
                    let shape: Vec<IntValue> = (0..n).map(|d| self.nth_param(idx + 1 + d).into_int_value()).collect();
                    let strides: Vec<IntValue> = (0..n).map(|d| self.nth_param(idx + 1 + n + d).into_int_value()).collect();
                    let mut len = shape[0];
                    for s in &shape[1..] {
                        len = self.b.build_int_nuw_mul(len, *s, "len")?;
                    }
                    self.arrays.push(Some(ParamArray { ptr, shape, strides, len, contiguous }));
                    self.scalars.push(None);
                    idx += 1 + 2 * n;
                }
                ParamType::Scalar(t @ ScalarType::Struct(d)) => {
                    let n = aggregate::words_of(d.size) as u32;
                    let words: Vec<BasicValueEnum> = (idx..idx + n).map(|i| self.nth_param(i)).collect();
                    self.arrays.push(None);
                    self.scalars.push(Some(self.struct_from_words(&words, t)?));
                    idx += n;
                }
                ParamType::Scalar(t) if t.is_complex() => {
                    let (re, im) = (self.nth_param(idx).into_float_value(), self.nth_param(idx + 1).into_float_value());
                    self.arrays.push(None);
                    self.scalars.push(Some(self.complex(t, re, im)?));
                    idx += 2;
                }
                ParamType::Scalar(t) => {
                    let mut v = self.nth_param(idx);
                    if t == ScalarType::Bool {
                        let zero = self.cx.i8_type().const_zero();
                        v = self.b.build_int_compare(IntPredicate::NE, v.into_int_value(), zero, &p.name)?.into();
                    }
                    self.arrays.push(None);
                    self.scalars.push(Some(v));
                    idx += 1;
                }
            }
        }
        // The body's first line: where a debugger's variables start.
        let first_line = self.kernel.body.first().map(|s| s.span.line).unwrap_or(0);
        // In lockstep, locals and per-thread arrays live in the frame (set a thread loop).
        let in_frame = self.lockstep.is_some();
        for local in self.kernel.locals.iter().filter(|_| !in_frame) {
            let slot = self.b.build_alloca(value_type(self.cx, local.ty), &local.name)?;
            if let Some((li, scope)) = self.lines {
                li.declare(self.kernel, scope, &local.name, local.ty, None, slot, first_line, entry);
            }
            self.locals.push(slot);
        }
        // Full debug information: each scalar parameter in a slot of its own, described.
        if let Some((li, scope)) = self.lines.filter(|(li, _)| li.full()) {
            for (i, p) in self.kernel.params.iter().enumerate() {
                if let (ParamType::Scalar(t), Some(v)) = (p.ty, self.scalars[i]) {
                    let slot = self.b.build_alloca(v.get_type(), &p.name)?;
                    self.b.build_store(slot, v)?;
                    li.declare(self.kernel, scope, &p.name, t, Some(i as u32 + 1), slot, first_line, entry);
                }
            }
        }
        let i64t = self.cx.i64_type();
        let (offsets, static_bytes) = self.kernel.shared_layout();
        for (i, (s, offset)) in self.kernel.shared.iter().zip(offsets).enumerate() {
            let entry = match s.static_len() {
                Some(n) => (self.target.shared_array(self.module, &self.b, self.f, i as u32, s.elem, n, offset)?, i64t.const_int(n, false)),
                None => {
                    let (mut ptr, mut bytes) = self.target.dynamic_shared(self.module, &self.b, self.f, static_bytes)?;
                    if self.kernel.dynamic_shared_pad() > 0 && self.target.aligns_dynamic_shared() {
                        // The GPU starts dynamic shared memory after the static arrays, 16-byte
                        // aligned: the kernel moves it up to the next 1024-byte boundary (the
                        // launch asks for that much more, `KernelMetadata::dynamic_shared_pad`).
                        let align = self.kernel.dynamic_shared_pad();
                        let at = self.b.build_ptr_to_int(ptr, i64t, "dyn.addr")?;
                        let up = self.b.build_and(
                            self.b.build_int_add(at, i64t.const_int(align - 1, false), "dyn.up")?,
                            i64t.const_int(!(align - 1), false),
                            "dyn.aligned",
                        )?;
                        let skip = self.b.build_int_sub(up, at, "dyn.skip")?;
                        // SAFETY (of the generated code): the launch added `align` bytes, of which
                        // `skip` (below `align`) are skipped.
                        ptr = unsafe { self.b.build_gep(self.cx.i8_type(), ptr, &[skip], "dyn.base")? };
                        let left = self.b.build_int_sub(bytes, skip, "dyn.left")?;
                        let pad = i64t.const_int(align, false);
                        // What the program asked for (the pad is the launch's).
                        bytes = self
                            .b
                            .build_select(
                                self.b.build_int_compare(inkwell::IntPredicate::UGE, left, pad, "dyn.has")?,
                                self.b.build_int_sub(left, self.b.build_int_sub(pad, skip, "dyn.rest")?, "dyn.asked")?,
                                i64t.const_zero(),
                                "dyn.bytes",
                            )?
                            .into_int_value();
                    }
                    let size = i64t.const_int(s.elem.size_bytes() as u64, false);
                    (ptr, self.b.build_int_unsigned_div(bytes, size, "dynlen")?)
                }
            };
            self.shared.push(entry);
        }
        for l in self.kernel.local_arrays.iter().filter(|_| !in_frame) {
            let ty = memory_type(self.cx, l.elem).array_type(l.len as u32);
            let ptr = self.b.build_alloca(ty, &l.name)?;
            // 16 bytes, so that vector accesses of per-thread arrays are aligned.
            if let Some(i) = ptr.as_instruction() {
                let _ = i.set_alignment(16);
            }
            self.local_arrays.push((ptr, i64t.const_int(l.len, false)));
        }
        if let Some(layout) = self.lockstep.take() {
            return self.ls_body(layout);
        }
        if let Some(plan) = self.flat_plan {
            return self.flat_body(plan);
        }
        self.block(&self.kernel.body)?;
        if self.open() {
            // Rust guarantees that a function returning a value returns on every path; a
            // fall-through end is unreachable.
            match self.kernel.ret {
                Some(_) => self.b.build_unreachable()?,
                None => self.b.build_return(None)?,
            };
        }
        Ok(())
    }

    fn nth_param(&self, i: u32) -> BasicValueEnum<'ctx> {
        match self.f.get_nth_param(i) {
            Some(p) => p,
            None => unreachable!("the body function was declared with every parameter"),
        }
    }

    /// Whether the current block still needs a terminator.
    fn open(&self) -> bool {
        self.b.get_insert_block().and_then(|bb| bb.get_terminator()).is_none()
    }

    fn new_block(&self, name: &str) -> BasicBlock<'ctx> {
        self.cx.append_basic_block(self.f, name)
    }

    /// A stack slot in the function's entry block: a static alloca, which the optimizer promotes
    /// to registers. (One in a loop body would be dynamic: the stack would grow each iteration,
    /// and once inlined into a loop it needs `stacksave`, which NVPTX cannot select.)
    fn entry_alloca(&self, ty: BasicTypeEnum<'ctx>, name: &str) -> LR<PointerValue<'ctx>> {
        let entry = self.f.get_first_basic_block().unwrap_or_else(|| unreachable!("the body has an entry block"));
        let b = self.cx.create_builder();
        match entry.get_first_instruction() {
            Some(first) => b.position_before(&first),
            None => b.position_at_end(entry),
        }
        b.build_alloca(ty, name)
    }

    /// After a terminator: continue emitting into a fresh, unreachable block.
    fn start_dead_block(&self) {
        let bb = self.new_block("dead");
        self.b.position_at_end(bb);
    }

    fn branch_to(&self, bb: BasicBlock<'ctx>) -> LR<()> {
        if self.open() {
            self.b.build_unconditional_branch(bb)?;
        }
        Ok(())
    }

    fn block(&mut self, stmts: &[Stmt]) -> LR<()> {
        stmts.iter().try_for_each(|s| self.stmt(s))
    }

    fn stmt(&mut self, s: &Stmt) -> LR<()> {
        self.line = s.span.line;
        if let Some((li, scope)) = self.lines {
            self.b.set_current_debug_location(li.at(s.span, scope));
        }
        match &s.kind {
            StmtKind::Assign { local, value } => {
                let v = self.expr(value)?;
                self.b.build_store(self.local(*local)?, v)?;
            }
            StmtKind::Store { array, index, value } => {
                let elem = value.ty;
                let i = self.indices(index)?;
                let v = self.expr(value)?;
                let v = self.to_memory(v, elem)?;
                let guard = self.bounds_guard(*array, &i)?;
                let addr = self.element_addr(*array, &i)?;
                let store = self.b.build_store(addr, v)?;
                let _ = store.set_alignment(elem.align_bytes() as u32);
                self.finite_check(*array, &i, v, elem, &[])?;
                if let Some((_, merge)) = guard {
                    self.b.build_unconditional_branch(merge)?;
                    self.b.position_at_end(merge);
                }
            }
            StmtKind::Assert { id, cond, values } => self.assertion(*id, cond, values)?,
            StmtKind::Asm { template, operands } => self.inline_ptx(template, operands)?,
            StmtKind::Bulk { op, operands, values } => self.bulk(*op, operands, values)?,
            StmtKind::Print { id, values } => {
                let mut words = vec![self.cx.i64_type().const_int((self.print_base + id) as u64, false)];
                words.extend(self.value_bits(values)?);
                self.target.print_record(self.module, &self.b, self.f, &words)?;
            }
            StmtKind::AssignField { local, path, value } => {
                let v = self.expr(value)?;
                let t = self.kernel.locals[*local as usize].ty;
                self.store_part(self.local(*local)?, t, path, v, value.ty)?;
            }
            StmtKind::StoreField { array, index, path, value } => {
                let i = self.indices(index)?;
                let v = self.expr(value)?;
                let guard = self.bounds_guard(*array, &i)?;
                let addr = self.element_addr(*array, &i)?;
                self.store_part(addr, self.element_type(*array), path, v, value.ty)?;
                self.finite_check(*array, &i, v, value.ty, path)?;
                if let Some((_, merge)) = guard {
                    self.b.build_unconditional_branch(merge)?;
                    self.b.position_at_end(merge);
                }
            }
            StmtKind::If { cond, then, otherwise } => {
                let c = self.expr(cond)?.into_int_value();
                let then_bb = self.new_block("then");
                let else_bb = self.new_block("else");
                let merge = self.new_block("endif");
                self.b.build_conditional_branch(c, then_bb, else_bb)?;
                self.b.position_at_end(then_bb);
                self.block(then)?;
                self.branch_to(merge)?;
                self.b.position_at_end(else_bb);
                self.block(otherwise)?;
                self.branch_to(merge)?;
                self.b.position_at_end(merge);
            }
            StmtKind::While { cond, body } => self.while_loop(cond, body, false)?,
            StmtKind::ForRange { var, start, end, step, inclusive, reverse, unroll, body } => {
                self.for_range(*var, start, end, step, *inclusive, *reverse, *unroll, body, false)?;
            }
            StmtKind::Break(n) | StmtKind::Continue(n) => {
                let brk = matches!(s.kind, StmtKind::Break(_));
                let Some(target) = self.loops.len().checked_sub(1 + *n as usize).and_then(|i| self.loops.get(i).copied()) else {
                    unreachable!("the verifier rejects break/continue outside their loop")
                };
                match target {
                    LoopExit::Blocks(cont, exit) => {
                        self.b.build_unconditional_branch(if brk { exit } else { cont })?;
                        self.start_dead_block();
                    }
                    // Out of a loop run in lockstep: the thread leaves it (break) or this
                    // iteration (continue).
                    LoopExit::Lockstep(level) => {
                        self.ls_escape(if brk { level } else { level + 1 })?;
                        self.start_dead_block();
                    }
                }
            }
            StmtKind::Return(None) if self.in_thread_loop() => {
                self.ls_escape(0)?;
                self.start_dead_block();
            }
            StmtKind::Return(value) => {
                match value {
                    Some(v) => {
                        let v = self.expr(v)?;
                        self.b.build_return(Some(&v))?
                    }
                    None => self.b.build_return(None)?,
                };
                self.start_dead_block();
            }
            StmtKind::Barrier => self.target.barrier(self.module, &self.b, self.f)?,
            StmtKind::GridBarrier => self.target.grid_barrier(self.module, &self.b, self.f)?,
            StmtKind::Fence(scope) => self.target.fence(self.module, &self.b, *scope)?,
            StmtKind::Eval(e) => {
                if !self.ls_combined_atomic(e)? {
                    self.expr(e)?;
                }
            }
        }
        Ok(())
    }

    /// `while cond { body }`; with `lockstep`, a loop the block runs once (uniform, nothing
    /// leaves it), its body lowered as lockstep statements.
    fn while_loop(&mut self, cond: &ir::TypedExpr, body: &[Stmt], lockstep: bool) -> LR<()> {
        let head = self.new_block("while.cond");
        let body_bb = self.new_block("while.body");
        let exit = self.new_block("while.end");
        self.b.build_unconditional_branch(head)?;
        self.b.position_at_end(head);
        let c = self.expr(cond)?.into_int_value();
        self.b.build_conditional_branch(c, body_bb, exit)?;
        self.b.position_at_end(body_bb);
        self.loops.push(LoopExit::Blocks(head, exit));
        if lockstep {
            self.ls_block(body)?;
        } else {
            self.block(body)?;
        }
        self.loops.pop();
        if self.open() {
            let back = self.b.build_unconditional_branch(head)?;
            if lockstep {
                self.keep_rolled(back);
            }
        }
        self.b.position_at_end(exit);
        Ok(())
    }

    /// Keeps a uniform loop of a body run in lockstep rolled: unrolled, each of its thread loops
    /// would be vectorized once an iteration, which multiplies the code (and the first launch's
    /// compile time) for little speed. A user's `#[unroll]` still holds.
    fn keep_rolled(&self, back: inkwell::values::InstructionValue<'ctx>) {
        self.loop_metadata(back, &[("llvm.loop.unroll.disable", None)]);
    }

    /// `for var in (start..end).step_by(step)`, overflow-free: after an iteration at `i`, the loop
    /// goes on iff `step < end - i` (`<=` for `..=`), computed on the unsigned distance. Reversed
    /// (`.rev()`), it starts at the last element and goes on iff `step <= i - start`.
    #[allow(clippy::too_many_arguments)]
    fn for_range(
        &mut self,
        var: u32,
        start: &ir::TypedExpr,
        end: &ir::TypedExpr,
        step: &ir::TypedExpr,
        inclusive: bool,
        reverse: bool,
        unroll: Option<u32>,
        body: &[Stmt],
        lockstep: bool,
    ) -> LR<()> {
        let t = start.ty;
        let ity = int_type(self.cx, t.bits());
        let i64t = self.cx.i64_type();
        let s = self.expr(start)?.into_int_value();
        let e = self.expr(end)?.into_int_value();
        let st = self.expr(step)?.into_int_value();
        let counter = self.entry_alloca(ity.into(), "for.counter")?;
        let first = match (reverse, inclusive) {
            (false, _) => s,
            (true, true) => e,
            // Only used when the range is not empty, so `end - 1` does not wrap.
            (true, false) => self.b.build_int_sub(e, ity.const_int(1, false), "last")?,
        };
        self.b.build_store(counter, first)?;
        let signed = t.is_signed_int();
        let pred = match (inclusive, signed) {
            (false, true) => IntPredicate::SLT,
            (false, false) => IntPredicate::ULT,
            (true, true) => IntPredicate::SLE,
            (true, false) => IntPredicate::ULE,
        };
        let nonempty = self.b.build_int_compare(pred, s, e, "for.nonempty")?;
        let step_ok = self.b.build_int_compare(IntPredicate::NE, st, i64t.const_zero(), "for.step_ok")?;
        let enter = self.b.build_and(nonempty, step_ok, "for.enter")?;
        let body_bb = self.new_block("for.body");
        let latch = self.new_block("for.latch");
        let inc = self.new_block("for.inc");
        let exit = self.new_block("for.end");
        self.b.build_conditional_branch(enter, body_bb, exit)?;

        self.b.position_at_end(body_bb);
        let i = self.b.build_load(ity, counter, "i")?;
        self.b.build_store(self.local(var)?, i)?;
        self.loops.push(LoopExit::Blocks(latch, exit));
        // A uniform loop of a body run in lockstep: its body's thread loops inside.
        if lockstep {
            self.ls_block(body)?;
        } else {
            self.block(body)?;
        }
        self.loops.pop();
        self.branch_to(latch)?;

        self.b.position_at_end(latch);
        let i = self.b.build_load(ity, counter, "i")?.into_int_value();
        let dist = if reverse { self.b.build_int_sub(i, s, "for.dist")? } else { self.b.build_int_sub(e, i, "for.dist")? };
        let dist = if t.bits() < 64 { self.b.build_int_z_extend(dist, i64t, "for.dist64")? } else { dist };
        let go_on = if inclusive || reverse { IntPredicate::ULE } else { IntPredicate::ULT };
        let more = self.b.build_int_compare(go_on, st, dist, "for.more")?;
        self.b.build_conditional_branch(more, inc, exit)?;

        self.b.position_at_end(inc);
        let st_n = if t.bits() < 64 { self.b.build_int_truncate(st, ity, "for.step")? } else { st };
        let next = if reverse { self.b.build_int_sub(i, st_n, "for.next")? } else { self.b.build_int_add(i, st_n, "for.next")? };
        self.b.build_store(counter, next)?;
        let back = self.b.build_unconditional_branch(body_bb)?;
        match unroll {
            Some(n) => self.unroll_metadata(back, n),
            None if lockstep => self.keep_rolled(back),
            None => {}
        }

        self.b.position_at_end(exit);
        Ok(())
    }

    fn array(&self, a: ArrayRef) -> (PointerValue<'ctx>, IntValue<'ctx>) {
        match a {
            ArrayRef::Param(p) => match &self.arrays[p as usize] {
                Some(x) => (x.ptr, x.len),
                None => unreachable!("the verifier checked that parameter {p} is an array"),
            },
            ArrayRef::Shared(i) => self.shared[i as usize],
            ArrayRef::Local(i) => self.local_arrays[i as usize],
        }
    }

    fn param_array(&self, p: u32) -> &ParamArray<'ctx> {
        match &self.arrays[p as usize] {
            Some(x) => x,
            None => unreachable!("the verifier checked that parameter {p} is an array"),
        }
    }

    fn element_type(&self, a: ArrayRef) -> ScalarType {
        match self.kernel.array_info(a) {
            Some((elem, _)) => elem,
            None => unreachable!("the verifier checked the array"),
        }
    }

    /// The address of `array[idx]`: row-major arithmetic on the extents for C-contiguous
    /// parameters, `Σ idx[d] * stride[d]` (signed, in elements) for strided ones.
    fn element_addr(&self, array: ArrayRef, idx: &[IntValue<'ctx>]) -> LR<PointerValue<'ctx>> {
        let (ptr, _) = self.array(array);
        let elem = self.element_type(array);
        // Offsets computed from several indices (row-major or strided) are narrowed to 32 bits
        // where they fit; a lone index is left as it is, so that neighbouring accesses stay
        // provably consecutive (vector loads).
        let multiplied = idx.len() > 1 || matches!(array, ArrayRef::Param(p) if !self.param_array(p).contiguous);
        // (Not in a flat chunk's proven loop: there 64-bit offsets keep a row's neighbouring
        // elements provably consecutive, `base + (i * n + j)`, which the narrowed
        // `zext(trunc(..))` hides from LLVM's vectorizers.)
        let proven = matches!(array, ArrayRef::Param(p) if self.unchecked.contains(&p));
        if multiplied && self.offsets32(array) && !proven {
            return self.element_addr32(ptr, elem, array, idx);
        }
        let offset = match array {
            ArrayRef::Param(p) if idx.len() > 1 || !self.param_array(p).contiguous => {
                let a = self.param_array(p);
                let mut off = idx[0];
                if a.contiguous {
                    for (d, i) in idx.iter().enumerate().skip(1) {
                        off = self.b.build_int_mul(off, a.shape[d], "rowmajor")?;
                        off = self.b.build_int_add(off, *i, "rowmajor")?;
                    }
                } else {
                    off = self.b.build_int_mul(idx[0], a.strides[0], "strided")?;
                    for (d, i) in idx.iter().enumerate().skip(1) {
                        let term = self.b.build_int_mul(*i, a.strides[d], "strided")?;
                        off = self.b.build_int_add(off, term, "strided")?;
                    }
                }
                off
            }
            _ => idx[0],
        };
        // SAFETY (of the generated code, not of this call): the indices are checked by
        // `bounds_guard` on targets that check bounds; elsewhere they are not, as in CUDA C and
        // Numba, and the documentation says so. Building the GEP itself is always sound.
        unsafe { self.b.build_gep(memory_type(self.cx, elem), ptr, &[offset], "elem") }
    }

    /// Marks the loop whose back edge is `back` for LLVM's unroller: `llvm.loop.unroll.full`
    /// (`factor` 0) or `llvm.loop.unroll.count` (the loop ID is self-referential, as LLVM wants).
    fn unroll_metadata(&self, back: inkwell::values::InstructionValue<'ctx>, factor: u32) {
        let count = self.cx.i32_type().const_int(factor as u64, false);
        match factor {
            0 => self.loop_metadata(back, &[("llvm.loop.unroll.full", None)]),
            _ => self.loop_metadata(back, &[("llvm.loop.unroll.count", Some(count))]),
        }
    }

    /// Sets the loop ID of the loop whose back edge is `back`: each option a name and an
    /// optional value (`!{!"name", value}`).
    fn loop_metadata(&self, back: inkwell::values::InstructionValue<'ctx>, options: &[(&str, Option<IntValue<'ctx>>)]) {
        use inkwell::llvm_sys::core::{
            LLVMMDNodeInContext2, LLVMMDStringInContext2, LLVMMetadataAsValue, LLVMSetMetadata, LLVMValueAsMetadata,
        };
        use inkwell::llvm_sys::debuginfo::{LLVMMetadataReplaceAllUsesWith, LLVMTemporaryMDNode};
        use inkwell::values::AsValueRef;
        let ctx = self.cx.raw();
        let kind = self.cx.get_kind_id("llvm.loop");
        // SAFETY: every handle is of this context and live; the temporary node is replaced (and
        // freed) by the loop ID it stands for before anything else can see it.
        unsafe {
            let temp = LLVMTemporaryMDNode(ctx, std::ptr::null_mut(), 0);
            let mut ops = vec![temp];
            for (name, value) in options {
                let mut option = vec![LLVMMDStringInContext2(ctx, name.as_ptr() as *const _, name.len())];
                if let Some(v) = value {
                    option.push(LLVMValueAsMetadata(v.as_value_ref()));
                }
                ops.push(LLVMMDNodeInContext2(ctx, option.as_mut_ptr(), option.len()));
            }
            let id = LLVMMDNodeInContext2(ctx, ops.as_mut_ptr(), ops.len());
            LLVMMetadataReplaceAllUsesWith(temp, id);
            LLVMSetMetadata(back.as_value_ref(), kind, LLVMMetadataAsValue(ctx, id));
        }
    }

    /// Whether `array`'s offsets fit 32 bits: shared and per-thread arrays (sizes fixed small),
    /// and a kernel's array parameters that reach fewer than 2^31 elements (the launch checked;
    /// a device function's parameters take 64 bits).
    fn offsets32(&self, array: ArrayRef) -> bool {
        match array {
            ArrayRef::Shared(_) | ArrayRef::Local(_) => true,
            ArrayRef::Param(p) => self.body_number == 0 && p < 32 && self.kernel.options.wide_arrays & (1 << p) == 0,
        }
    }

    /// [`Self::element_addr`] in 32-bit arithmetic: every in-bounds offset of the array fits (an
    /// out-of-range index is caught by the bounds check before, or is out of bounds anyway, as in
    /// CUDA C), so the indices are truncated and LLVM narrows the index computations too.
    fn element_addr32(&self, ptr: PointerValue<'ctx>, elem: ScalarType, array: ArrayRef, idx: &[IntValue<'ctx>]) -> LR<PointerValue<'ctx>> {
        let i32t = self.cx.i32_type();
        let t = |v: IntValue<'ctx>, n: &str| self.b.build_int_truncate(v, i32t, n);
        let (offset, signed) = match array {
            ArrayRef::Param(p) if idx.len() > 1 || !self.param_array(p).contiguous => {
                let a = self.param_array(p);
                if a.contiguous {
                    let mut off = t(idx[0], "i32")?;
                    for (d, i) in idx.iter().enumerate().skip(1) {
                        off = self.b.build_int_nuw_mul(off, t(a.shape[d], "n32")?, "rowmajor")?;
                        off = self.b.build_int_nuw_add(off, t(*i, "i32")?, "rowmajor")?;
                    }
                    (off, false)
                } else {
                    let mut off = self.b.build_int_nsw_mul(t(idx[0], "i32")?, t(a.strides[0], "s32")?, "strided")?;
                    for (d, i) in idx.iter().enumerate().skip(1) {
                        let term = self.b.build_int_nsw_mul(t(*i, "i32")?, t(a.strides[d], "s32")?, "strided")?;
                        off = self.b.build_int_nsw_add(off, term, "strided")?;
                    }
                    (off, true)
                }
            }
            _ => (t(idx[0], "i32")?, false),
        };
        let i64t = self.cx.i64_type();
        let offset =
            if signed { self.b.build_int_s_extend(offset, i64t, "off64")? } else { self.b.build_int_z_extend(offset, i64t, "off64")? };
        // SAFETY (of the generated code): as for `element_addr`.
        unsafe { self.b.build_gep(memory_type(self.cx, elem), ptr, &[offset], "elem") }
    }

    /// The number by which out-of-bounds reports name an array: parameters by position, then
    /// shared arrays, then per-thread arrays (see [`array_table`]).
    fn array_number(&self, a: ArrayRef) -> u32 {
        let (p, s) = (self.kernel.params.len() as u32, self.kernel.shared.len() as u32);
        self.array_base
            + match a {
                ArrayRef::Param(i) => i,
                ArrayRef::Shared(i) => p + i,
                ArrayRef::Local(i) => p + s + i,
            }
    }

    /// A device-function call: value arguments, arrays as (generic pointer, extents, strides),
    /// then this body's own extra parameters.
    fn call_fn(&mut self, func: u32, args: &[ir::CallArg]) -> LR<BasicValueEnum<'ctx>> {
        let callee = &self.root.functions[func as usize];
        let f = self.functions[func as usize];
        let i64t = self.cx.i64_type();
        let mut vals: Vec<inkwell::values::BasicMetadataValueEnum<'ctx>> = Vec::new();
        for a in args {
            match a {
                ir::CallArg::Value(v) if v.ty.is_struct() => {
                    let x = self.expr(v)?;
                    for w in self.struct_to_words(x, v.ty)? {
                        vals.push(w.into());
                    }
                }
                ir::CallArg::Value(v) if v.ty.is_complex() => {
                    // A complex number goes as its parts, as a kernel's parameter does.
                    let x = self.expr(v)?;
                    vals.push(self.complex_field(x, 0)?.into());
                    vals.push(self.complex_field(x, 1)?.into());
                }
                ir::CallArg::Value(v) => {
                    let t = v.ty;
                    let x = self.expr(v)?;
                    vals.push(self.to_memory(x, t)?.into());
                }
                ir::CallArg::Array(r) => {
                    let (ptr, len) = self.array(*r);
                    let generic = self.cx.ptr_type(AddressSpace::default());
                    let ptr = if ptr.get_type() == generic { ptr } else { self.b.build_address_space_cast(ptr, generic, "generic")? };
                    vals.push(ptr.into());
                    let (shape, strides): (Vec<IntValue>, Vec<IntValue>) = match *r {
                        ArrayRef::Param(p) => {
                            let a = self.param_array(p);
                            (a.shape.clone(), a.strides.clone())
                        }
                        ArrayRef::Shared(i) if self.kernel.shared[i as usize].dims.len() == 2 => {
                            let d = &self.kernel.shared[i as usize].dims;
                            (
                                vec![i64t.const_int(d[0], false), i64t.const_int(d[1], false)],
                                vec![i64t.const_int(d[1], false), i64t.const_int(1, false)],
                            )
                        }
                        _ => (vec![len], vec![i64t.const_int(1, false)]),
                    };
                    vals.extend(shape.into_iter().chain(strides).map(inkwell::values::BasicMetadataValueEnum::from));
                }
            }
        }
        if let Some(flag) = self.exit_flag {
            vals.push(flag.into());
        }
        let extra = self.target.extra_params(self.cx).len() as u32;
        let n = self.f.count_params();
        for i in n - extra..n {
            vals.push(self.nth_param(i).into());
        }
        let call = self.b.build_call(f, &vals, "call")?;
        let result = match (call.try_as_basic_value(), callee.ret) {
            (inkwell::values::ValueKind::Basic(v), Some(_)) => v,
            // A call of a function returning nothing is only evaluated for its effect.
            _ => self.cx.i32_type().const_zero().into(),
        };
        if let Some(flag) = self.exit_flag {
            // The callee's assertion failed: this thread is done.
            let set = self.b.build_load(self.cx.i8_type(), flag, "exited")?.into_int_value();
            let ended = self.b.build_int_compare(IntPredicate::NE, set, self.cx.i8_type().const_zero(), "ended")?;
            let (leave, go_on) = (self.new_block("assert.exit"), self.new_block("call.done"));
            self.b.build_conditional_branch(ended, leave, go_on)?;
            self.b.position_at_end(leave);
            self.end_thread()?;
            self.b.position_at_end(go_on);
        }
        Ok(result)
    }

    /// Ends the thread after a failed assertion: the kernel returns; a device function marks
    /// the thread ended and returns (its caller then returns too).
    fn end_thread(&mut self) -> LR<()> {
        if self.in_thread_loop() {
            return self.ls_escape(0);
        }
        if let (Some(flag), false) = (self.exit_flag, std::ptr::eq(self.kernel, self.root)) {
            self.b.build_store(flag, self.cx.i8_type().const_int(1, false))?;
        }
        match self.kernel.ret {
            Some(t) if !std::ptr::eq(self.kernel, self.root) => self.b.build_return(Some(&value_type(self.cx, t).const_zero()))?,
            _ => self.b.build_return(None)?,
        };
        Ok(())
    }

    /// The bits of scalar values, zero-extended to 64 (the runtime reads them by their types).
    fn value_bits(&mut self, values: &[ir::TypedExpr]) -> LR<Vec<IntValue<'ctx>>> {
        let i64t = self.cx.i64_type();
        let mut bits = Vec::with_capacity(values.len());
        for v in values {
            let x = self.expr(v)?;
            let b = match (x, v.ty) {
                (BasicValueEnum::FloatValue(f), ScalarType::F32) => {
                    let i = self.b.build_bit_cast(f, self.cx.i32_type(), "bits")?.into_int_value();
                    self.b.build_int_z_extend(i, i64t, "bits64")?
                }
                (BasicValueEnum::FloatValue(f), _) => self.b.build_bit_cast(f, i64t, "bits")?.into_int_value(),
                (BasicValueEnum::IntValue(i), _) if i.get_type().get_bit_width() < 64 => self.b.build_int_z_extend(i, i64t, "bits64")?,
                (x, _) => x.into_int_value(),
            };
            bits.push(b);
        }
        Ok(bits)
    }

    /// `ptx_asm!`: one LLVM inline-assembly call (with side effects, clobbering memory, so
    /// nothing moves across it). LLVM numbers the outputs first: each `{N}` of the template
    /// becomes that operand's LLVM number, an `inout` one an output tied to an input.
    fn inline_ptx(&mut self, template: &str, operands: &[(crate::ast::AsmDir, ir::TypedExpr)]) -> LR<()> {
        use crate::ast::AsmDir;
        let address = |d: AsmDir| matches!(d, AsmDir::Address | AsmDir::AddressMut);
        // An element's address is a 64-bit integer in the array's state space.
        let class = |d: AsmDir, t: ScalarType| if address(d) { 'l' } else { ir::ptx_register(t).unwrap_or('r') };
        let input = |d: AsmDir| matches!(d, AsmDir::In | AsmDir::Address | AsmDir::AddressMut);
        let outs: Vec<usize> = (0..operands.len()).filter(|&i| !input(operands[i].0)).collect();
        let ins: Vec<usize> = (0..operands.len()).filter(|&i| input(operands[i].0)).collect();
        let number = |i: usize| match outs.iter().position(|&o| o == i) {
            Some(n) => n,
            None => outs.len() + ins.iter().position(|&o| o == i).unwrap_or(0),
        };
        // The template: `{N}` → `$M`, braces unescaped, `$` → `$$` (checked by the macro).
        let mut asm = String::with_capacity(template.len());
        for piece in crate::asm::pieces(template, operands.len()).unwrap_or_default() {
            match piece {
                crate::asm::Piece::Text(t) => asm.push_str(&t.replace('$', "$$")),
                crate::asm::Piece::Operand(n) => asm.push_str(&format!("${}", number(n))),
            }
        }
        let mut constraints: Vec<String> = outs.iter().map(|&i| format!("={}", class(operands[i].0, operands[i].1.ty))).collect();
        let mut args: Vec<inkwell::values::BasicMetadataValueEnum<'ctx>> = Vec::new();
        let mut arg_types: Vec<BasicMetadataTypeEnum<'ctx>> = Vec::new();
        // Out-of-range addresses (with bounds checks on) skip the instructions, as a store is
        // skipped, and are reported.
        let mut guards = Vec::new();
        for &i in &ins {
            let (dir, e) = (operands[i].0, &operands[i].1);
            constraints.push(class(dir, e.ty).to_string());
            let v: BasicValueEnum<'ctx> = match (&e.kind, address(dir)) {
                (TypedExprKind::Load { array, index }, true) => {
                    let idx = self.indices(index)?;
                    if let Some(g) = self.bounds_guard(*array, &idx)? {
                        guards.push(g);
                    }
                    let addr = self.element_addr(*array, &idx)?;
                    self.b.build_ptr_to_int(addr, self.cx.i64_type(), "asm.addr")?.into()
                }
                _ => self.expr(e)?,
            };
            arg_types.push(v.get_type().into());
            args.push(v.into());
        }
        for (n, &i) in outs.iter().enumerate() {
            if operands[i].0 == AsmDir::InOut {
                constraints.push(n.to_string());
                let v = self.expr(&operands[i].1)?;
                arg_types.push(v.get_type().into());
                args.push(v.into());
            }
        }
        constraints.push("~{memory}".into());
        let out_types: Vec<BasicTypeEnum<'ctx>> = outs.iter().map(|&i| value_type(self.cx, operands[i].1.ty)).collect();
        let fn_type = match out_types.as_slice() {
            [] => self.cx.void_type().fn_type(&arg_types, false),
            [t] => t.fn_type(&arg_types, false),
            ts => self.cx.struct_type(ts, false).fn_type(&arg_types, false),
        };
        let callee = self.cx.create_inline_asm(fn_type, asm, constraints.join(","), true, false, None, false);
        let call = self.b.build_indirect_call(fn_type, callee, &args, "asm")?;
        let result = call.try_as_basic_value().basic();
        for (n, &i) in outs.iter().enumerate() {
            let TypedExprKind::Local(local) = operands[i].1.kind else { continue };
            let v = match (&result, outs.len()) {
                (Some(r), 1) => *r,
                (Some(r), _) => self.b.build_extract_value(r.into_struct_value(), n as u32, "asm.out")?,
                (None, _) => continue,
            };
            self.b.build_store(self.local(local)?, v)?;
        }
        for (_, merge) in guards.into_iter().rev() {
            self.b.build_unconditional_branch(merge)?;
            self.b.position_at_end(merge);
        }
        Ok(())
    }

    /// `assert!`: when `cond` is false, records assertion `id` and its values, and ends the
    /// thread.
    fn assertion(&mut self, id: u32, cond: &ir::TypedExpr, values: &[ir::TypedExpr]) -> LR<()> {
        let ok = self.expr(cond)?.into_int_value();
        let (fail, go_on) = (self.new_block("assert.fail"), self.new_block("assert.ok"));
        self.b.build_conditional_branch(ok, go_on, fail)?;
        self.b.position_at_end(fail);
        let i64t = self.cx.i64_type();
        let bits = self.value_bits(values)?;
        let number = i64t.const_int((self.assert_base + id) as u64, false);
        self.report_out_of_bounds(OobRecord::ASSERTION, i64t.const_zero(), number, &bits)?;
        self.end_thread()?;
        self.b.position_at_end(go_on);
        Ok(())
    }

    /// `GPUJIT_CHECK=1`'s check of a value `v` of type `vt` just stored at `path` inside
    /// element `idx` of array parameter `array`: when one of its floats is NaN or infinite, the
    /// first such is recorded (its bits, its position among the element's
    /// [`ScalarType::float_parts`] with the number of indices, the indices, the line) and the
    /// thread goes on. The test reads
    /// the exponent bits, so it holds under `fastmath` too.
    fn finite_check(&mut self, array: ArrayRef, idx: &[IntValue<'ctx>], v: BasicValueEnum<'ctx>, vt: ScalarType, path: &[u32]) -> LR<()> {
        let ArrayRef::Param(_) = array else { return Ok(()) };
        if !self.root.options.finitecheck {
            return Ok(());
        }
        let elem_parts = self.element_type(array).float_parts();
        // The stored value's parts are the element's parts under `path`, in the same order.
        let Some(first) = elem_parts.iter().position(|(p, _, _)| p.starts_with(path)) else { return Ok(()) };
        let i64t = self.cx.i64_type();
        let (mut any, mut part, mut bits): (Option<IntValue<'ctx>>, IntValue<'ctx>, IntValue<'ctx>) =
            (None, i64t.const_zero(), i64t.const_zero());
        let parts = vt.float_parts();
        for (k, (p, _, t)) in parts.iter().enumerate().rev() {
            let mut x = v;
            for &j in p {
                x = match x {
                    BasicValueEnum::StructValue(s) => self.b.build_extract_value(s, j, "part")?,
                    BasicValueEnum::ArrayValue(a) => self.b.build_extract_value(a, j, "part")?,
                    _ => unreachable!("a float part's path leads through aggregates"),
                };
            }
            let width = t.bits();
            let raw = match x {
                BasicValueEnum::FloatValue(f) => self.b.build_bit_cast(f, int_type(self.cx, width), "fbits")?.into_int_value(),
                x => x.into_int_value(),
            };
            let mask = match t {
                ScalarType::F16 => 0x7c00,
                ScalarType::BF16 => 0x7f80,
                ScalarType::F32 => 0x7f80_0000,
                _ => 0x7ff0_0000_0000_0000,
            };
            let mask = int_type(self.cx, width).const_int(mask, false);
            let exp = self.b.build_and(raw, mask, "exp")?;
            let bad = self.b.build_int_compare(IntPredicate::EQ, exp, mask, "nonfinite")?;
            let wide = if width < 64 { self.b.build_int_z_extend(raw, i64t, "fbits64")? } else { raw };
            // The part's number, with the count of indices that follow in the high half.
            let number = i64t.const_int((first + k) as u64 | ((idx.len() as u64) << 32), false);
            part = self.b.build_select(bad, number, part, "part")?.into_int_value();
            bits = self.b.build_select(bad, wide, bits, "bits")?.into_int_value();
            any = Some(match any {
                None => bad,
                Some(a) => self.b.build_or(a, bad, "nonfinite")?,
            });
        }
        let Some(any) = any else { return Ok(()) };
        let (report, go_on) = (self.new_block("nonfinite"), self.new_block("finite"));
        self.b.build_conditional_branch(any, report, go_on)?;
        self.b.position_at_end(report);
        let (line, body) = (i64t.const_int(self.line as u64, false), i64t.const_int(self.body_number as u64, false));
        let mut values = vec![line, body, bits, part];
        values.extend_from_slice(idx);
        let axis = i64t.const_int(OobRecord::NON_FINITE as u64, false);
        let last = idx.last().copied().unwrap_or_else(|| i64t.const_zero());
        self.report_out_of_bounds(self.array_number(array), last, axis, &values)?;
        self.b.build_unconditional_branch(go_on)?;
        self.b.position_at_end(go_on);
        Ok(())
    }

    /// On targets that check bounds: branches on every index being below its axis's extent,
    /// reporting (the first failing axis and its index) and skipping the access otherwise. Leaves
    /// the builder in the in-bounds block and returns (out-of-bounds block, merge block); the
    /// caller branches to the merge block after the access.
    fn bounds_guard(&self, array: ArrayRef, idx: &[IntValue<'ctx>]) -> LR<Option<(BasicBlock<'ctx>, BasicBlock<'ctx>)>> {
        if !self.target.bounds_check(self.root) || matches!(array, ArrayRef::Param(p) if self.unchecked.contains(&p)) {
            return Ok(None);
        }
        let extents: Vec<IntValue<'ctx>> = match array {
            ArrayRef::Param(p) if idx.len() > 1 => self.param_array(p).shape.clone(),
            _ => vec![self.array(array).1],
        };
        let i64t = self.cx.i64_type();
        let (mut inb, mut bad, mut axis) = (None, idx[idx.len() - 1], i64t.const_int(idx.len() as u64 - 1, false));
        for d in (0..idx.len()).rev() {
            let ok = self.b.build_int_compare(IntPredicate::ULT, idx[d], extents[d], "inbounds")?;
            inb = Some(match inb {
                None => ok,
                Some(rest) => self.b.build_and(ok, rest, "inbounds")?,
            });
            // The first failing axis wins: later axes are overridden by earlier ones.
            bad = self.b.build_select(ok, bad, idx[d], "oobindex")?.into_int_value();
            axis = self.b.build_select(ok, axis, i64t.const_int(d as u64, false), "oobaxis")?.into_int_value();
        }
        let inb = inb.unwrap_or_else(|| unreachable!("an access has at least one index"));
        if self.in_thread_loop() {
            self.ls_note_check(inb)?;
        }
        let ok = self.new_block("access");
        let oob = self.new_block("oob");
        let merge = self.new_block("access.end");
        self.b.build_conditional_branch(inb, ok, oob)?;
        self.b.position_at_end(oob);
        // Where: the statement's line and the body (0: the kernel, k: device function k - 1).
        if self.in_thread_loop() {
            self.ls_defer_fault(self.array_number(array), bad, axis, self.line as u64, self.body_number as u64)?;
        } else {
            let (line, body) = (i64t.const_int(self.line as u64, false), i64t.const_int(self.body_number as u64, false));
            self.report_out_of_bounds(self.array_number(array), bad, axis, &[line, body])?;
        }
        // The report may have added blocks: the merge's predecessor is where it ended.
        let oob_end = self.b.get_insert_block().unwrap_or(oob);
        self.b.build_unconditional_branch(merge)?;
        self.b.position_at_end(ok);
        Ok(Some((oob_end, merge)))
    }

    fn indices(&mut self, index: &[ir::TypedExpr]) -> LR<Vec<IntValue<'ctx>>> {
        index.iter().map(|i| Ok(self.expr(i)?.into_int_value())).collect()
    }

    fn to_memory(&self, v: BasicValueEnum<'ctx>, t: ScalarType) -> LR<BasicValueEnum<'ctx>> {
        Ok(if t == ScalarType::Bool { self.b.build_int_z_extend(v.into_int_value(), self.cx.i8_type(), "b2i8")?.into() } else { v })
    }

    fn special(&self, reg: SpecialReg) -> LR<IntValue<'ctx>> {
        if let Some(v) = self.ls_special(reg) {
            return Ok(v);
        }
        let v = self.target.read_special(self.module, &self.b, self.f, reg)?;
        self.b.build_int_z_extend(v, self.cx.i64_type(), "sreg64")
    }

    /// Where local `id` is: its stack slot, or in lockstep the running thread's (or, outside a
    /// thread loop, a uniform local's) place.
    fn local(&self, id: ir::LocalId) -> LR<PointerValue<'ctx>> {
        match self.ls_local(id)? {
            Some(p) => Ok(p),
            None => Ok(self.locals[id as usize]),
        }
    }

    /// Records a fault (see [`Target::report_out_of_bounds`]); in lockstep, with the running
    /// thread's indices, which the record reads from the target.
    fn report_out_of_bounds(&self, array: u32, index: IntValue<'ctx>, axis: IntValue<'ctx>, values: &[IntValue<'ctx>]) -> LR<()> {
        self.ls_publish_thread()?;
        self.flat_publish_thread()?;
        self.target.report_out_of_bounds(self.module, &self.b, self.f, array, index, axis, values)
    }

    /// A collective on evaluated operands: the target's, or in lockstep the exchange's.
    fn collective(&mut self, op: crate::ast::Collective, value: ScalarType, vals: &[BasicValueEnum<'ctx>]) -> LR<BasicValueEnum<'ctx>> {
        match self.ls_collective_word(op, value, vals)? {
            Some(v) => Ok(v),
            None => self.target.collective(self.module, &self.b, self.f, op, value, vals),
        }
    }

    fn intrinsic(&self, name: &str, types: &[BasicTypeEnum<'ctx>]) -> FunctionValue<'ctx> {
        // (Declared on first use; `llvm.fma` of f32/f64 is `fma.rn` on the GPU, `vfmadd` on the CPU.)
        match Intrinsic::find(name).and_then(|i| i.get_declaration(self.module, types)) {
            Some(f) => f,
            None => unreachable!("LLVM 19 provides the intrinsic {name}"),
        }
    }

    fn call(&self, f: FunctionValue<'ctx>, args: &[BasicValueEnum<'ctx>], name: &str) -> LR<BasicValueEnum<'ctx>> {
        let args: Vec<_> = args.iter().map(|a| (*a).into()).collect();
        match self.b.build_call(f, &args, name)?.try_as_basic_value() {
            inkwell::values::ValueKind::Basic(v) => Ok(v),
            inkwell::values::ValueKind::Instruction(_) => unreachable!("called a value-returning function"),
        }
    }

    fn expr(&mut self, e: &ir::TypedExpr) -> LR<BasicValueEnum<'ctx>> {
        let cx = self.cx;
        Ok(match &e.kind {
            TypedExprKind::Const(c) => match *c {
                Const::Bool(v) => cx.bool_type().const_int(v as u64, false).into(),
                Const::Int(bits) => {
                    let mask = if e.ty.bits() >= 64 { u64::MAX } else { (1u64 << e.ty.bits()) - 1 };
                    int_type(cx, e.ty.bits()).const_int(bits & mask, false).into()
                }
                Const::Float(v) if e.ty.is_half() => cx.i16_type().const_int(crate::half::const_bits(v, e.ty) as u64, false).into(),
                Const::Float(v) => value_type(cx, e.ty).into_float_type().const_float(v).into(),
            },
            TypedExprKind::Local(id) => match self.ls_recomputed(*id) {
                Some(def) => self.expr(&def)?,
                None => self.b.build_load(value_type(cx, e.ty), self.local(*id)?, "")?,
            },
            TypedExprKind::Param(id) => match self.scalars[*id as usize] {
                Some(v) => v,
                None => unreachable!("the verifier checked that parameter {id} is a scalar"),
            },
            TypedExprKind::Load { array, index } => {
                let i = self.indices(index)?;
                let guard = self.bounds_guard(*array, &i)?;
                let addr = self.element_addr(*array, &i)?;
                let mut v = self.b.build_load(memory_type(cx, e.ty), addr, "load")?;
                if let Some(inst) = v.as_instruction_value() {
                    let _ = inst.set_alignment(e.ty.align_bytes() as u32);
                }
                if let Some((oob, merge)) = guard {
                    let ok = self.b.get_insert_block().unwrap_or_else(|| unreachable!("builder is positioned"));
                    self.b.build_unconditional_branch(merge)?;
                    self.b.position_at_end(merge);
                    let phi = self.b.build_phi(v.get_type(), "loaded")?;
                    let zero = v.get_type().const_zero();
                    phi.add_incoming(&[(&v, ok), (&zero, oob)]);
                    v = phi.as_basic_value();
                }
                if e.ty == ScalarType::Bool {
                    let zero = cx.i8_type().const_zero();
                    self.b.build_int_compare(IntPredicate::NE, v.into_int_value(), zero, "i82b")?.into()
                } else {
                    v
                }
            }
            TypedExprKind::Len(id) => self.array(*id).1.into(),
            TypedExprKind::ArrayDim { array, axis, stride } => {
                let a = self.param_array(*array);
                if *stride {
                    a.strides[*axis as usize].into()
                } else {
                    a.shape[*axis as usize].into()
                }
            }
            TypedExprKind::Atomic { op, array, index, values } => {
                let i = self.indices(index)?;
                let vals = values.iter().map(|v| self.expr(v)).collect::<LR<Vec<_>>>()?;
                self.atomic(*op, *array, &i, &vals, e.ty)?
            }
            TypedExprKind::Special(b) => self.builtin(*b)?.into(),
            TypedExprKind::Unary(_, a) if e.ty.is_complex() => {
                let v = self.expr(a)?;
                self.complex_neg(e.ty, v)?
            }
            TypedExprKind::Unary(op, a) => {
                let v = self.expr(a)?;
                match (op, e.ty.is_float()) {
                    // The sign bit flipped, as the `half` crate's `Neg`.
                    (UnOp::Neg, true) if e.ty.is_half() => {
                        self.b.build_xor(v.into_int_value(), self.cx.i16_type().const_int(0x8000, false), "hneg")?.into()
                    }
                    (UnOp::Neg, true) => self.fast(self.b.build_float_neg(v.into_float_value(), "neg")?.into()),
                    (UnOp::Neg, false) => self.b.build_int_neg(v.into_int_value(), "neg")?.into(),
                    (UnOp::Not, _) => self.b.build_not(v.into_int_value(), "not")?.into(),
                }
            }
            TypedExprKind::Cast(a) => {
                let v = self.expr(a)?;
                self.cast(v, a.ty, e.ty)?
            }
            TypedExprKind::Call { func, args } => self.call_fn(*func, args)?,
            TypedExprKind::Collective(c, args) if e.ty.is_struct() => {
                // A shuffle of a struct: one of each 64-bit word of its bytes.
                let vals = args.iter().map(|a| self.expr(a)).collect::<LR<Vec<_>>>()?;
                let at = args.iter().position(|a| a.ty.is_struct()).unwrap_or(1);
                let mut moved = Vec::new();
                for w in self.struct_to_words(vals[at], e.ty)? {
                    let mut ops = vals.clone();
                    ops[at] = w;
                    moved.push(self.collective(*c, ScalarType::U64, &ops)?);
                }
                self.struct_from_words(&moved, e.ty)?
            }
            TypedExprKind::Collective(c, args) if e.ty.is_complex() => {
                // A shuffle of a complex number: one of each part.
                let vals = args.iter().map(|a| self.expr(a)).collect::<LR<Vec<_>>>()?;
                let at = args.iter().position(|a| a.ty.is_complex()).unwrap_or(1);
                let part = e.ty.component().unwrap_or(e.ty);
                let mut parts = [None, None];
                for (i, p) in parts.iter_mut().enumerate() {
                    let mut ops = vals.clone();
                    ops[at] = self.complex_field(vals[at], i as u32)?;
                    *p = Some(self.collective(*c, part, &ops)?.into_float_value());
                }
                let [Some(re), Some(im)] = parts else { unreachable!("both parts were shuffled") };
                self.complex(e.ty, re, im)?
            }
            TypedExprKind::Collective(c, args) => {
                let mut vals = args.iter().map(|a| self.expr(a)).collect::<LR<Vec<_>>>()?;
                let mut value = args.iter().zip(c.operands()).find(|(_, o)| o.fixed().is_none()).map(|(a, _)| a.ty).unwrap_or(e.ty);
                let half = value.is_half();
                if half {
                    // A 16-bit float moves as its bits.
                    for (v, a) in vals.iter_mut().zip(args) {
                        if a.ty.is_half() {
                            *v = self.b.build_bit_cast(*v, self.cx.i16_type(), "halfbits")?;
                        }
                    }
                    value = ScalarType::U16;
                }
                let r = self.collective(*c, value, &vals)?;
                if half && e.ty.is_half() {
                    self.b.build_bit_cast(r, value_type(self.cx, e.ty), "half")?
                } else {
                    r
                }
            }
            TypedExprKind::Math(f, args) => {
                let vals = args.iter().map(|a| self.expr(a)).collect::<LR<Vec<_>>>()?;
                if args[0].ty.is_half() {
                    self.half_math(*f, args[0].ty, &vals)?
                } else {
                    let v = self.math(*f, args[0].ty, &vals)?;
                    self.fast(v)
                }
            }
            TypedExprKind::Random { draw, seed, subsequence, drawn } => {
                let i64t = cx.i64_type();
                let load = |l: &u32| -> LR<IntValue<'ctx>> { Ok(self.b.build_load(i64t, self.local(*l)?, "rng")?.into_int_value()) };
                let (s, q, n) = (load(seed)?, load(subsequence)?, load(drawn)?);
                let v = self.random_draw(*draw, s, q, n)?;
                let next = self.b.build_int_add(n, i64t.const_int(draw.words(), false), "drawn")?;
                self.b.build_store(self.local(*drawn)?, next)?;
                v
            }
            TypedExprKind::FromBits(a) => {
                let v = self.expr(a)?;
                // A 16-bit float is its bits already.
                if e.ty.is_half() {
                    v
                } else {
                    self.b.build_bit_cast(v, value_type(cx, e.ty), "from_bits")?
                }
            }
            TypedExprKind::Binary(op, a, b) if op.is_logical() => self.logical(*op, a, b)?,
            TypedExprKind::Binary(op, a, b) if a.ty.is_complex() || b.ty.is_complex() => {
                let (x, y) = (self.expr(a)?, self.expr(b)?);
                self.complex_binary(*op, x, y, a.ty, b.ty)?
            }
            TypedExprKind::Field(a, path) => {
                let v = self.expr(a)?;
                self.extract_path(v, a.ty, path)?
            }
            TypedExprKind::Construct(args) => {
                let vals = args.iter().map(|a| Ok((self.expr(a)?, a.ty))).collect::<LR<Vec<_>>>()?;
                self.construct(e.ty, &vals)?
            }
            TypedExprKind::Complex(f, args) => {
                let vals = args.iter().map(|a| self.expr(a)).collect::<LR<Vec<_>>>()?;
                let t = if f.is_method() { args[0].ty } else { e.ty };
                self.complex_fn(*f, t, &vals)?
            }
            TypedExprKind::Binary(op, a, b) if a.ty.is_half() => {
                // In f32, rounded back: the `half` crate's arithmetic.
                let (x, y) = (self.expr(a)?, self.expr(b)?);
                let (x, y) = (self.half_to_f32(x, a.ty)?, self.half_to_f32(y, b.ty)?);
                let v = self.binary(*op, x.into(), y.into(), ScalarType::F32, ScalarType::F32)?;
                if op.is_comparison() {
                    v
                } else {
                    // Rounded after each operation, as the `half` crate: never contracted.
                    self.f32_to_half(self.fast_only(v).into_float_value(), a.ty)?
                }
            }
            TypedExprKind::Binary(op @ (BinOp::Add | BinOp::Sub), a, b) if self.contracts(e.ty) && (is_mul(a, e.ty) || is_mul(b, e.ty)) => {
                self.fused_mul_add(*op, a, b, e.ty)?
            }
            TypedExprKind::Binary(op, a, b) => {
                let x = self.expr(a)?;
                let y = self.expr(b)?;
                let v = self.binary(*op, x, y, a.ty, b.ty)?;
                self.fast(v)
            }
        })
    }

    fn builtin(&self, b: Builtin) -> LR<IntValue<'ctx>> {
        Ok(match b {
            Builtin::ThreadIdx(d) => self.special(SpecialReg::Tid(d))?,
            Builtin::BlockIdx(d) => self.special(SpecialReg::Ctaid(d))?,
            Builtin::BlockDim(d) => self.special(SpecialReg::Ntid(d))?,
            Builtin::GridDim(d) => self.special(SpecialReg::Nctaid(d))?,
            Builtin::Grid(d) => {
                let tid = self.special(SpecialReg::Tid(d))?;
                let ntid = self.special(SpecialReg::Ntid(d))?;
                let ctaid = self.special(SpecialReg::Ctaid(d))?;
                let base = self.b.build_int_nuw_mul(ctaid, ntid, "base")?;
                self.b.build_int_nuw_add(base, tid, "grid")?
            }
            Builtin::GridSize(d) => {
                let ntid = self.special(SpecialReg::Ntid(d))?;
                let nctaid = self.special(SpecialReg::Nctaid(d))?;
                self.b.build_int_nuw_mul(ntid, nctaid, "gridsize")?
            }
            Builtin::LaneId => self.special(SpecialReg::LaneId)?,
            Builtin::WarpSize => self.cx.i64_type().const_int(32, false),
        })
    }

    /// An atomic on `array[i]`, returning the old value (0 for an out-of-bounds access on targets
    /// that check bounds). Relaxed ordering, as CUDA's atomics.
    fn atomic(
        &self,
        op: AtomicOp,
        array: ArrayRef,
        i: &[IntValue<'ctx>],
        vals: &[BasicValueEnum<'ctx>],
        t: ScalarType,
    ) -> LR<BasicValueEnum<'ctx>> {
        let guard = self.bounds_guard(array, i)?;
        let addr = self.element_addr(array, i)?;
        let old = self.atomic_rmw(op, addr, vals, t)?;
        let b = &self.b;
        Ok(match guard {
            None => old,
            Some((oob, merge)) => {
                let ok = b.get_insert_block().unwrap_or_else(|| unreachable!("builder is positioned"));
                b.build_unconditional_branch(merge)?;
                b.position_at_end(merge);
                let phi = b.build_phi(old.get_type(), "atomic.old")?;
                let zero = old.get_type().const_zero();
                phi.add_incoming(&[(&old, ok), (&zero, oob)]);
                phi.as_basic_value()
            }
        })
    }

    /// The atomic `op` on the element of type `t` at `addr`, returning the old value.
    fn atomic_rmw(&self, op: AtomicOp, addr: PointerValue<'ctx>, vals: &[BasicValueEnum<'ctx>], t: ScalarType) -> LR<BasicValueEnum<'ctx>> {
        use inkwell::llvm_sys::core::LLVMBuildAtomicRMW;
        use inkwell::llvm_sys::{LLVMAtomicOrdering, LLVMAtomicRMWBinOp as Op};
        use inkwell::values::AsValueRef;
        let b = &self.b;
        Ok(if t.is_half() {
            self.half_atomic_add(addr, vals[0], t)?
        } else if op == AtomicOp::Cas {
            // cmpxchg works on integers: floats go through their bits.
            let it = int_type(self.cx, t.bits());
            let bits = |v: BasicValueEnum<'ctx>| -> LR<IntValue<'ctx>> {
                Ok(if t.is_float() { b.build_bit_cast(v, it, "bits")?.into_int_value() } else { v.into_int_value() })
            };
            let (expected, new) = (bits(vals[0])?, bits(vals[1])?);
            let pair = b.build_cmpxchg(addr, expected, new, AtomicOrdering::Monotonic, AtomicOrdering::Monotonic)?;
            let old = b.build_extract_value(pair, 0, "old")?;
            if t.is_float() {
                b.build_bit_cast(old, value_type(self.cx, t), "oldf")?
            } else {
                old
            }
        } else {
            let (float, signed) = (t.is_float(), t.is_signed_int());
            let rmw = match op {
                AtomicOp::Add if float => Op::LLVMAtomicRMWBinOpFAdd,
                AtomicOp::Add => Op::LLVMAtomicRMWBinOpAdd,
                AtomicOp::Sub if float => Op::LLVMAtomicRMWBinOpFSub,
                AtomicOp::Sub => Op::LLVMAtomicRMWBinOpSub,
                AtomicOp::Min if float => Op::LLVMAtomicRMWBinOpFMin,
                AtomicOp::Min if signed => Op::LLVMAtomicRMWBinOpMin,
                AtomicOp::Min => Op::LLVMAtomicRMWBinOpUMin,
                AtomicOp::Max if float => Op::LLVMAtomicRMWBinOpFMax,
                AtomicOp::Max if signed => Op::LLVMAtomicRMWBinOpMax,
                AtomicOp::Max => Op::LLVMAtomicRMWBinOpUMax,
                AtomicOp::And => Op::LLVMAtomicRMWBinOpAnd,
                AtomicOp::Or => Op::LLVMAtomicRMWBinOpOr,
                AtomicOp::Xor => Op::LLVMAtomicRMWBinOpXor,
                AtomicOp::Exch => Op::LLVMAtomicRMWBinOpXchg,
                AtomicOp::Cas => unreachable!("handled above"),
            };
            // SAFETY: the builder is positioned (guarded by inkwell's own calls above); `addr`
            // points to an element of type `t` and `vals[0]` has type `t`, which the verifier
            // checked is an integer or float type atomicrmw accepts for `rmw`. The result is a
            // value of type `t`, as BasicValueEnum::new expects.
            unsafe {
                let v = LLVMBuildAtomicRMW(
                    b.as_mut_ptr(),
                    rmw,
                    addr.as_value_ref(),
                    vals[0].as_value_ref(),
                    LLVMAtomicOrdering::LLVMAtomicOrderingMonotonic,
                    0,
                );
                BasicValueEnum::new(v)
            }
        })
    }

    /// A 16-bit float (its bits) widened to f32 (exact), as the target does it.
    fn half_to_f32(&self, v: BasicValueEnum<'ctx>, t: ScalarType) -> LR<FloatValue<'ctx>> {
        self.target.half_to_f32(&self.b, v.into_int_value(), t)
    }

    /// An f32 or f64 rounded to nearest even to a 16-bit float (its bits), as the target does it.
    fn f32_to_half(&self, v: FloatValue<'ctx>, t: ScalarType) -> LR<BasicValueEnum<'ctx>> {
        Ok(self.target.half_from_float(&self.b, v, t)?.into())
    }

    /// `atomic_add` on a 16-bit float: the target's instruction, else a compare-and-swap loop on
    /// the element's two bytes, the sum computed in f32 and rounded, as the non-atomic operation
    /// is. Returns the old value.
    fn half_atomic_add(&self, addr: PointerValue<'ctx>, v: BasicValueEnum<'ctx>, t: ScalarType) -> LR<BasicValueEnum<'ctx>> {
        let (b, cx) = (&self.b, self.cx);
        if let Some(old) = self.target.native_half_atomic_add(b, addr, v.into_int_value(), t)? {
            return Ok(old.into());
        }
        let i16t = cx.i16_type();
        let start = b.build_load(i16t, addr, "old0")?.into_int_value();
        if let Some(inst) = start.as_instruction_value() {
            let _ = inst.set_alignment(2);
        }
        let pre = b.get_insert_block().unwrap_or_else(|| unreachable!("builder is positioned"));
        let head = self.new_block("hadd.loop");
        let exit = self.new_block("hadd.end");
        b.build_unconditional_branch(head)?;
        b.position_at_end(head);
        let old = b.build_phi(i16t, "old")?;
        let old_bits = old.as_basic_value().into_int_value();
        let sum = b.build_float_add(self.half_to_f32(old_bits.into(), t)?, self.half_to_f32(v, t)?, "sum")?;
        let new_bits = self.f32_to_half(sum, t)?.into_int_value();
        let seen = self.target.cas16(self.module, b, addr, old_bits, new_bits)?;
        let ok = b.build_int_compare(IntPredicate::EQ, seen, old_bits, "swapped")?;
        let latch = b.get_insert_block().unwrap_or_else(|| unreachable!("builder is positioned"));
        old.add_incoming(&[(&start, pre), (&seen, latch)]);
        b.build_conditional_branch(ok, exit, head)?;
        b.position_at_end(exit);
        Ok(old_bits.into())
    }

    /// Marks a float instruction with the kernel's fast-math flags under `fastmath`: all but
    /// no-NaN and no-Inf (so NaN and infinity still propagate). Without `fastmath` no flags:
    /// which multiply-adds fuse is decided here, by the pattern `a * b ± c` ([`Self::contracts`]),
    /// the same on every target, so the CPU backend and the GPU compute the same bits (LLVM's
    /// `contract` would let each backend fuse what it finds, differently).
    fn fast(&self, v: BasicValueEnum<'ctx>) -> BasicValueEnum<'ctx> {
        let o = &self.kernel.options;
        let flags = if o.fastmath {
            FastMathFlags::AllowReassoc
                | FastMathFlags::NoSignedZeros
                | FastMathFlags::AllowReciprocal
                | FastMathFlags::AllowContract
                | FastMathFlags::ApproxFunc
        } else {
            return v;
        };
        if v.is_float_value() {
            if let Some(inst) = v.as_instruction_value() {
                // Comparisons and non-float instructions do not take the flags; ignore them.
                let _ = inst.set_fast_math_flags(flags);
            }
        }
        v
    }

    /// Whether `a * b ± c` of type `t` becomes one fused multiply-add: f32 and f64, in a kernel
    /// that contracts, on a target with fma.
    fn contracts(&self, t: ScalarType) -> bool {
        matches!(t, ScalarType::F32 | ScalarType::F64) && !self.no_contract() && self.target.fused_multiply_add()
    }

    /// Whether Rust's roundings are kept: the kernel's choice holds for the device functions it
    /// calls too (as a compiler flag does).
    fn no_contract(&self) -> bool {
        self.root.options.no_contract || self.kernel.options.no_contract
    }

    /// `a ± b` where `a` or `b` is a product, as one `llvm.fma` (operands evaluated in source
    /// order): `x * y + c`, `x * y - c` = fma(x, y, -c), `c + x * y`, `c - x * y` = fma(-x, y, c).
    fn fused_mul_add(&mut self, op: BinOp, a: &ir::TypedExpr, b: &ir::TypedExpr, t: ScalarType) -> LR<BasicValueEnum<'ctx>> {
        let product = |e: &'_ ir::TypedExpr| match &e.kind {
            TypedExprKind::Binary(BinOp::Mul, x, y) => Some((x.clone(), y.clone())),
            _ => None,
        };
        let (x, y, c, negate_product) = if is_mul(a, t) {
            let (mx, my) = product(a).unwrap_or_else(|| unreachable!("checked by is_mul"));
            let (x, y) = (self.expr(&mx)?.into_float_value(), self.expr(&my)?.into_float_value());
            let c = self.expr(b)?.into_float_value();
            let c = if op == BinOp::Sub { self.b.build_float_neg(c, "negc")? } else { c };
            (x, y, c, false)
        } else {
            let c = self.expr(a)?.into_float_value();
            let (mx, my) = product(b).unwrap_or_else(|| unreachable!("checked by is_mul"));
            let (x, y) = (self.expr(&mx)?.into_float_value(), self.expr(&my)?.into_float_value());
            (x, y, c, op == BinOp::Sub)
        };
        let x = if negate_product { self.b.build_float_neg(x, "negx")? } else { x };
        let fma = self.intrinsic("llvm.fma", &[value_type(self.cx, t)]);
        self.call(fma, &[x.into(), y.into(), c.into()], "fma")
    }

    /// As [`Self::fast`] under `fastmath` only: complex arithmetic keeps num-complex's roundings
    /// unless the kernel asks for approximate math.
    fn fast_only(&self, v: BasicValueEnum<'ctx>) -> BasicValueEnum<'ctx> {
        if self.kernel.options.fastmath {
            self.fast(v)
        } else {
            v
        }
    }

    /// A library function of the module, declared on first use.
    fn library_fn(&self, name: &str, ret: BasicTypeEnum<'ctx>, params: &[BasicMetadataTypeEnum<'ctx>]) -> FunctionValue<'ctx> {
        self.module
            .get_function(name)
            .unwrap_or_else(|| self.module.add_function(name, ret.fn_type(params, false), Some(Linkage::External)))
    }

    /// `&&` and `||` with Rust's short-circuit evaluation.
    fn logical(&mut self, op: BinOp, a: &ir::TypedExpr, b: &ir::TypedExpr) -> LR<BasicValueEnum<'ctx>> {
        let x = self.expr(a)?.into_int_value();
        let lhs_end = self.b.get_insert_block().unwrap_or_else(|| unreachable!("builder is positioned"));
        let rhs_bb = self.new_block("sc.rhs");
        let merge = self.new_block("sc.end");
        let short = op == BinOp::Or;
        if short {
            self.b.build_conditional_branch(x, merge, rhs_bb)?;
        } else {
            self.b.build_conditional_branch(x, rhs_bb, merge)?;
        }
        self.b.position_at_end(rhs_bb);
        let y = self.expr(b)?.into_int_value();
        let rhs_end = self.b.get_insert_block().unwrap_or_else(|| unreachable!("builder is positioned"));
        self.b.build_unconditional_branch(merge)?;
        self.b.position_at_end(merge);
        let phi = self.b.build_phi(self.cx.bool_type(), "sc")?;
        let shortv = self.cx.bool_type().const_int(short as u64, false);
        phi.add_incoming(&[(&shortv, lhs_end), (&y, rhs_end)]);
        Ok(phi.as_basic_value())
    }

    fn binary(
        &self,
        op: BinOp,
        x: BasicValueEnum<'ctx>,
        y: BasicValueEnum<'ctx>,
        t: ScalarType,
        rhs_t: ScalarType,
    ) -> LR<BasicValueEnum<'ctx>> {
        let b = &self.b;
        if t.is_float() {
            let (x, y) = (x.into_float_value(), y.into_float_value());
            let cmp = |p| -> LR<BasicValueEnum<'ctx>> { Ok(b.build_float_compare(p, x, y, "fcmp")?.into()) };
            return match op {
                BinOp::Add => Ok(b.build_float_add(x, y, "fadd")?.into()),
                BinOp::Sub => Ok(b.build_float_sub(x, y, "fsub")?.into()),
                BinOp::Mul => Ok(b.build_float_mul(x, y, "fmul")?.into()),
                BinOp::Div => Ok(b.build_float_div(x, y, "fdiv")?.into()),
                // Of two constants: folded here, exactly (fmod is exact), rather than left to
                // the library's code and the GPU JIT's folding of it, which rounded a tie away
                // from even on an H200 (fuzz seed 2943769267825).
                BinOp::Rem if x.get_constant().is_some() && y.get_constant().is_some() => {
                    let (a, c) = (x.get_constant().map_or(0.0, |k| k.0), y.get_constant().map_or(0.0, |k| k.0));
                    let r = if t == ScalarType::F64 { a % c } else { ((a as f32) % (c as f32)) as f64 };
                    Ok(x.get_type().const_float(r).into())
                }
                BinOp::Rem => match self.target.float_rem_function(t) {
                    // An exact fmod: `frem` lowers to `x - y * trunc(x / y)` on some targets,
                    // which is off by one multiple of `y` when the quotient rounds up.
                    Some((name, wide)) => {
                        let wt = value_type(self.cx, wide).into_float_type();
                        let (xw, yw) =
                            if wide == t { (x, y) } else { (b.build_float_ext(x, wt, "x.w")?, b.build_float_ext(y, wt, "y.w")?) };
                        let func = self.library_fn(&name, wt.into(), &[wt.into(), wt.into()]);
                        let r = self.call(func, &[xw.into(), yw.into()], "fmod")?.into_float_value();
                        let r = if wide == t { r } else { b.build_float_trunc(r, x.get_type(), "fmod.n")? };
                        Ok(r.into())
                    }
                    None => Ok(b.build_float_rem(x, y, "frem")?.into()),
                },
                BinOp::Eq => cmp(FloatPredicate::OEQ),
                BinOp::Ne => cmp(FloatPredicate::UNE),
                BinOp::Lt => cmp(FloatPredicate::OLT),
                BinOp::Le => cmp(FloatPredicate::OLE),
                BinOp::Gt => cmp(FloatPredicate::OGT),
                BinOp::Ge => cmp(FloatPredicate::OGE),
                _ => unreachable!("the verifier rejects `{}` on floats", op.symbol()),
            };
        }
        let (x, y) = (x.into_int_value(), y.into_int_value());
        let signed = t.is_signed_int();
        let cmp = |s: IntPredicate, u: IntPredicate| -> LR<BasicValueEnum<'ctx>> {
            Ok(b.build_int_compare(if signed { s } else { u }, x, y, "icmp")?.into())
        };
        Ok(match op {
            BinOp::Add => b.build_int_add(x, y, "add")?.into(),
            BinOp::Sub => b.build_int_sub(x, y, "sub")?.into(),
            BinOp::Mul => b.build_int_mul(x, y, "mul")?.into(),
            BinOp::Div | BinOp::Rem => self.int_div(op, x, y, signed)?.into(),
            BinOp::BitAnd => b.build_and(x, y, "and")?.into(),
            BinOp::BitOr => b.build_or(x, y, "or")?.into(),
            BinOp::BitXor => b.build_xor(x, y, "xor")?.into(),
            BinOp::Shl | BinOp::Shr => {
                let ity = x.get_type();
                let amount = if rhs_t.bits() > t.bits() {
                    b.build_int_truncate(y, ity, "shamt")?
                } else if rhs_t.bits() < t.bits() {
                    b.build_int_z_extend(y, ity, "shamt")?
                } else {
                    y
                };
                let amount = b.build_and(amount, ity.const_int(t.bits() as u64 - 1, false), "shmask")?;
                match (op, signed) {
                    (BinOp::Shl, _) => b.build_left_shift(x, amount, "shl")?.into(),
                    (_, true) => b.build_right_shift(x, amount, true, "ashr")?.into(),
                    (_, false) => b.build_right_shift(x, amount, false, "lshr")?.into(),
                }
            }
            BinOp::Eq => cmp(IntPredicate::EQ, IntPredicate::EQ)?,
            BinOp::Ne => cmp(IntPredicate::NE, IntPredicate::NE)?,
            BinOp::Lt => cmp(IntPredicate::SLT, IntPredicate::ULT)?,
            BinOp::Le => cmp(IntPredicate::SLE, IntPredicate::ULE)?,
            BinOp::Gt => cmp(IntPredicate::SGT, IntPredicate::UGT)?,
            BinOp::Ge => cmp(IntPredicate::SGE, IntPredicate::UGE)?,
            BinOp::And | BinOp::Or => unreachable!("logical operators are lowered by `logical`"),
        })
    }

    /// Integer `/` and `%` with defined results for a zero divisor (0 and the dividend) and for
    /// `MIN / -1` (wraps to `MIN`, remainder 0), so neither target traps.
    fn int_div(&self, op: BinOp, x: IntValue<'ctx>, y: IntValue<'ctx>, signed: bool) -> LR<IntValue<'ctx>> {
        let b = &self.b;
        let ity = x.get_type();
        let zero = ity.const_zero();
        let one = ity.const_int(1, false);
        let is_zero = b.build_int_compare(IntPredicate::EQ, y, zero, "div0")?;
        if !signed {
            let safe = b.build_select(is_zero, one, y, "safediv")?.into_int_value();
            return Ok(if op == BinOp::Div {
                let q = b.build_int_unsigned_div(x, safe, "udiv")?;
                b.build_select(is_zero, zero, q, "q")?.into_int_value()
            } else {
                let r = b.build_int_unsigned_rem(x, safe, "urem")?;
                b.build_select(is_zero, x, r, "r")?.into_int_value()
            });
        }
        let minus_one = ity.const_all_ones();
        let is_m1 = b.build_int_compare(IntPredicate::EQ, y, minus_one, "divm1")?;
        let special = b.build_or(is_zero, is_m1, "divspecial")?;
        let safe = b.build_select(special, one, y, "safediv")?.into_int_value();
        Ok(if op == BinOp::Div {
            let q = b.build_int_signed_div(x, safe, "sdiv")?;
            let neg = b.build_int_neg(x, "negx")?;
            let q = b.build_select(is_m1, neg, q, "q")?.into_int_value();
            b.build_select(is_zero, zero, q, "q0")?.into_int_value()
        } else {
            let r = b.build_int_signed_rem(x, safe, "srem")?;
            let r = b.build_select(is_m1, zero, r, "r")?.into_int_value();
            b.build_select(is_zero, x, r, "r0")?.into_int_value()
        })
    }

    /// Rust's `as` between scalar types.
    fn cast(&self, v: BasicValueEnum<'ctx>, from: ScalarType, to: ScalarType) -> LR<BasicValueEnum<'ctx>> {
        let b = &self.b;
        let to_ty = value_type(self.cx, to);
        if from == to {
            return Ok(v);
        }
        // 16-bit floats widen exactly to f32; they are rounded (to nearest even) once, from f32
        // or f64 (integers go through f64).
        if from.is_half() {
            let x = self.half_to_f32(v, from)?;
            return self.cast(x.into(), ScalarType::F32, to);
        }
        if to.is_half() {
            let wide = if matches!(from, ScalarType::F32 | ScalarType::F64) { from } else { ScalarType::F64 };
            let x = self.cast(v, from, wide)?;
            return self.f32_to_half(x.into_float_value(), to);
        }
        Ok(match (from.is_float(), to.is_float()) {
            (true, true) => {
                let ft = to_ty.into_float_type();
                if to.bits() > from.bits() {
                    b.build_float_ext(v.into_float_value(), ft, "fpext")?.into()
                } else {
                    b.build_float_trunc(v.into_float_value(), ft, "fptrunc")?.into()
                }
            }
            (true, false) => {
                let name = if to.is_signed_int() { "llvm.fptosi.sat" } else { "llvm.fptoui.sat" };
                let f = self.intrinsic(name, &[to_ty, v.get_type()]);
                self.call(f, &[v], "fp2int")?
            }
            (false, true) => {
                let ft = to_ty.into_float_type();
                if from.is_signed_int() {
                    b.build_signed_int_to_float(v.into_int_value(), ft, "si2fp")?.into()
                } else {
                    b.build_unsigned_int_to_float(v.into_int_value(), ft, "ui2fp")?.into()
                }
            }
            (false, false) => {
                let it = to_ty.into_int_type();
                let x = v.into_int_value();
                if to.bits() < from.bits() {
                    b.build_int_truncate(x, it, "trunc")?.into()
                } else if from.is_signed_int() {
                    b.build_int_s_extend(x, it, "sext")?.into()
                } else {
                    b.build_int_z_extend(x, it, "zext")?.into()
                }
            }
        })
    }
}

/// Names of the arrays by the numbers out-of-bounds reports use: each parameter (empty for
/// scalars), then each shared array, then each per-thread array.
pub fn array_table(kernel: &ir::Kernel) -> Vec<String> {
    let params = kernel.params.iter().map(|p| p.name.clone());
    let shared = kernel.shared.iter().map(|s| s.name.clone());
    let local = kernel.local_arrays.iter().map(|l| l.name.clone());
    let mut table: Vec<String> = params.chain(shared).chain(local).collect();
    for f in &kernel.functions {
        table.extend(f.params.iter().map(|p| format!("{} (in {})", p.name, f.name)));
        table.extend(f.local_arrays.iter().map(|l| format!("{} (in {})", l.name, f.name)));
    }
    table
}

/// The element types of the arrays of [`array_table`] (`None` for scalar parameters).
pub fn array_elems(kernel: &ir::Kernel) -> Vec<Option<ScalarType>> {
    let param = |p: &ir::Param| match p.ty {
        ParamType::Array { elem, .. } => Some(elem),
        ParamType::Scalar(_) => None,
    };
    let mut elems: Vec<Option<ScalarType>> = kernel.params.iter().map(param).collect();
    elems.extend(kernel.shared.iter().map(|s| Some(s.elem)));
    elems.extend(kernel.local_arrays.iter().map(|l| Some(l.elem)));
    for f in &kernel.functions {
        elems.extend(f.params.iter().map(param));
        elems.extend(f.local_arrays.iter().map(|l| Some(l.elem)));
    }
    elems
}

/// The static lengths of the arrays of [`array_table`] (`None` for parameters, whose lengths
/// come with the arguments, and for dynamic shared memory).
pub fn array_static_lens(kernel: &ir::Kernel) -> Vec<Option<u64>> {
    let mut lens: Vec<Option<u64>> = vec![None; kernel.params.len()];
    lens.extend(kernel.shared.iter().map(|s| s.static_len()));
    lens.extend(kernel.local_arrays.iter().map(|l| Some(l.len)));
    for f in &kernel.functions {
        lens.extend(f.params.iter().map(|_| None));
        lens.extend(f.local_arrays.iter().map(|l| Some(l.len)));
    }
    lens
}

/// Emits `for i in 0..n { body(i) }` on `i64` counters (used by targets for their wrappers).
pub fn counted_loop<'ctx>(
    cx: &'ctx Context,
    b: &Builder<'ctx>,
    f: FunctionValue<'ctx>,
    start: IntValue<'ctx>,
    end: IntValue<'ctx>,
    name: &str,
    body: &mut dyn FnMut(IntValue<'ctx>) -> LR<()>,
) -> LR<()> {
    let i64t = cx.i64_type();
    let pre = b.get_insert_block().unwrap_or_else(|| unreachable!("builder is positioned"));
    let head = cx.append_basic_block(f, &format!("{name}.head"));
    let body_bb = cx.append_basic_block(f, &format!("{name}.body"));
    let exit = cx.append_basic_block(f, &format!("{name}.end"));
    b.build_unconditional_branch(head)?;
    b.position_at_end(head);
    let i = b.build_phi(i64t, name)?;
    let iv = i.as_basic_value().into_int_value();
    let more = b.build_int_compare(IntPredicate::ULT, iv, end, "more")?;
    b.build_conditional_branch(more, body_bb, exit)?;
    b.position_at_end(body_bb);
    body(iv)?;
    let next = b.build_int_add(iv, i64t.const_int(1, false), "next")?;
    let latch = b.get_insert_block().unwrap_or_else(|| unreachable!("builder is positioned"));
    b.build_unconditional_branch(head)?;
    i.add_incoming(&[(&start, pre), (&next, latch)]);
    b.position_at_end(exit);
    Ok(())
}

/// The lowering on IR written as text: the Rust semantics it promises where LLVM's would leave
/// behaviour undefined, read off the LLVM IR it emits (unoptimized, so nothing is folded away).
/// Whether `e` is a product of type `t` (a candidate for a fused multiply-add).
fn is_mul(e: &ir::TypedExpr, t: ScalarType) -> bool {
    e.ty == t && matches!(e.kind, TypedExprKind::Binary(BinOp::Mul, ..))
}

#[cfg(test)]
mod tests {
    use crate::ir_text::parse;
    use crate::nvptx::NvptxTarget;
    use crate::target::Target;

    /// The unoptimized NVPTX LLVM IR of a kernel written as IR text.
    fn llvm(text: &str) -> String {
        let k = parse(text).unwrap_or_else(|e| panic!("{e}"));
        crate::verify::verify(&k).unwrap_or_else(|e| panic!("{e}"));
        let target = NvptxTarget::sm(80).expect("sm_80");
        let tm = target.target_machine().expect("NVPTX target machine");
        let cx = super::new_context();
        let module = super::lower(&cx, &k, &target, &tm).unwrap_or_else(|e| panic!("{e}"));
        module.verify().unwrap_or_else(|e| panic!("LLVM rejects the module: {e}"));
        module.print_to_string().to_string()
    }

    #[test]
    fn integer_division_by_zero_is_defined() {
        let ir = llvm("kernel k(a: i32, b: i32, out: &mut [i32]) { out[0u64] = (a / b); out[1u64] = (a % b); }");
        // The divisor is tested and replaced before `sdiv`/`srem`, which would be undefined on 0
        // (and on MIN / -1).
        assert!(ir.contains("sdiv i32") && ir.contains("srem i32"), "{ir}");
        assert!(ir.contains("icmp eq i32"), "no test of the divisor:\n{ir}");
        assert!(ir.contains("select i1"), "no replacement of the divisor:\n{ir}");
    }

    #[test]
    fn shift_amounts_are_masked() {
        let ir = llvm("kernel k(a: u32, s: u32, out: &mut [u32]) { out[0u64] = (a << s); }");
        assert!(ir.contains("and i32") && ir.contains(", 31"), "the amount is not masked to 31:\n{ir}");
        assert!(ir.contains("shl i32"), "{ir}");
    }

    #[test]
    fn float_to_int_casts_saturate() {
        let ir = llvm("kernel k(x: f32, out: &mut [i32]) { out[0u64] = (x as i32); }");
        assert!(ir.contains("llvm.fptosi.sat.i32.f32"), "{ir}");
        assert!(!ir.contains("fptosi float"), "a plain fptosi is undefined out of range:\n{ir}");
    }

    #[test]
    fn arrays_take_their_layout_words() {
        // One LLVM parameter per argument word: pointer, 2 extents, 2 strides; then the scalar.
        let ir = llvm("kernel k(a: &Array<f32, 2, strided>, n: u32) { }");
        let define = ir.lines().find(|l| l.starts_with("define")).expect("a definition");
        assert_eq!(define.matches("i64").count(), 4, "{define}");
        assert!(define.contains("ptr addrspace(1)") && define.contains("i32 %"), "{define}");
    }
}
