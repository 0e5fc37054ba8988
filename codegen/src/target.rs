//! What a code-generation target is: a struct plus a few hooks that [`crate::lower`] calls.
//!
//! The lowering of the IR is the same for every target; a target decides only what differs: the
//! address space of array memory, how the body function is declared and where the thread-model
//! registers come from. [`crate::nvptx::NvptxTarget`] and [`crate::host::HostTarget`] are the two.

use crate::ast::{Collective, Dim, FenceScope};
use crate::contract::OobRecord;
use crate::ir::{self, BulkOp};
use crate::math::MathFn;
use crate::types::ScalarType;
use inkwell::builder::{Builder, BuilderError};
use inkwell::context::Context;
use inkwell::module::Module;
use inkwell::targets::TargetMachine;
use inkwell::types::BasicMetadataTypeEnum;
use inkwell::values::{BasicValueEnum, FloatValue, FunctionValue, IntValue, PointerValue};
use inkwell::{AddressSpace, AtomicOrdering};

/// A CUDA thread-model register.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SpecialReg {
    /// `threadIdx`
    Tid(Dim),
    /// `blockDim`
    Ntid(Dim),
    /// `blockIdx`
    Ctaid(Dim),
    /// `gridDim`
    Nctaid(Dim),
    /// The lane of the thread in its warp.
    LaneId,
}

impl SpecialReg {
    /// Position in the host backend's thread context (`[u32; 12]`).
    /// (`LaneId` is computed from the thread index, not stored.)
    pub fn host_slot(self) -> u64 {
        let (base, d) = match self {
            SpecialReg::Tid(d) => (0, d),
            SpecialReg::Ntid(d) => (3, d),
            SpecialReg::Ctaid(d) => (6, d),
            SpecialReg::Nctaid(d) => (9, d),
            SpecialReg::LaneId => unreachable!("the lane is computed from the thread index"),
        };
        base + match d {
            Dim::X => 0,
            Dim::Y => 1,
            Dim::Z => 2,
        }
    }
}

/// Fills the fields of an out-of-bounds record at `record` ([`OobRecord`]'s layout) after its
/// flag: the array number with the axis, the index, then the thread and block indices, read
/// through `target`. (The flag is the target's: it decides who may write the record.)
#[allow(clippy::too_many_arguments)]
pub fn write_oob_fields<'ctx>(
    target: &dyn Target,
    module: &Module<'ctx>,
    b: &Builder<'ctx>,
    body: FunctionValue<'ctx>,
    record: PointerValue<'ctx>,
    array: u32,
    index: IntValue<'ctx>,
    axis: IntValue<'ctx>,
    values: &[IntValue<'ctx>],
) -> Result<(), BuilderError> {
    let i64t = module.get_context().i64_type();
    let field = |i: u64| -> Result<PointerValue<'ctx>, BuilderError> {
        // SAFETY (of the generated code): the record is OobRecord::WORDS words and i is a field.
        unsafe { b.build_in_bounds_gep(i64t, record, &[i64t.const_int(i, false)], "oobfield") }
    };
    let shifted = b.build_left_shift(axis, i64t.const_int(32, false), "axis")?;
    let array = i64t.const_int(OobRecord::array_axis(array, 0), false);
    b.build_store(field(OobRecord::ARRAY)?, b.build_or(shifted, array, "arrayaxis")?)?;
    b.build_store(field(OobRecord::INDEX)?, index)?;
    for (k, v) in values.iter().take(OobRecord::WORDS - OobRecord::VALUES as usize).enumerate() {
        b.build_store(field(OobRecord::VALUES + k as u64)?, *v)?;
    }
    type Reg = fn(Dim) -> SpecialReg;
    let regs: [(u64, Reg); 2] = [(OobRecord::THREAD, SpecialReg::Tid), (OobRecord::BLOCK, SpecialReg::Ctaid)];
    for (first, reg) in regs {
        for (k, d) in [Dim::X, Dim::Y, Dim::Z].into_iter().enumerate() {
            let v = target.read_special(module, b, body, reg(d))?;
            b.build_store(field(first + k as u64)?, b.build_int_z_extend(v, i64t, "reg64")?)?;
        }
    }
    Ok(())
}

/// A relaxed compare-and-swap of LLVM's (`cmpxchg`); returns the value it found.
pub fn cmpxchg<'ctx>(
    b: &Builder<'ctx>,
    addr: PointerValue<'ctx>,
    expected: IntValue<'ctx>,
    new: IntValue<'ctx>,
) -> Result<IntValue<'ctx>, BuilderError> {
    let pair = b.build_cmpxchg(addr, expected, new, AtomicOrdering::Monotonic, AtomicOrdering::Monotonic)?;
    Ok(b.build_extract_value(pair, 0, "seen")?.into_int_value())
}

/// The hooks of one code-generation target.
pub trait Target {
    /// Short name used in dumps and errors (`nvptx`, `host`).
    fn name(&self) -> &'static str;

    /// A target machine for this target, used for the data layout and optimization.
    fn target_machine(&self) -> Result<TargetMachine, String>;

    /// The address space of array data passed to kernels.
    fn global_address_space(&self) -> AddressSpace;

    /// Parameters the body function takes after the kernel's own.
    fn extra_params<'ctx>(&self, cx: &'ctx Context) -> Vec<BasicMetadataTypeEnum<'ctx>>;

    /// Sets linkage, calling convention and attributes of the freshly declared body function.
    fn configure_body<'ctx>(&self, cx: &'ctx Context, body: FunctionValue<'ctx>);

    /// Emits a read of a thread-model register as an `i32`.
    fn read_special<'ctx>(
        &self,
        module: &Module<'ctx>,
        builder: &Builder<'ctx>,
        body: FunctionValue<'ctx>,
        reg: SpecialReg,
    ) -> Result<IntValue<'ctx>, BuilderError>;

    /// The library function computing `f` on `t` on this target (libm on the host, libdevice on
    /// the GPU), `fast` for the approximate variant; `None` when `f` is not a library call here.
    fn math_function(&self, f: MathFn, t: ScalarType, fast: bool) -> Option<String>;

    /// The library function computing Rust's float `%` (C's `fmod`, exact) on `t`, and the type
    /// it takes (16-bit floats are widened to it); `None`: LLVM's `frem` is exact here.
    fn float_rem_function(&self, _t: ScalarType) -> Option<(String, ScalarType)> {
        None
    }

    /// The high half of the full product of `x` and `y`, integers of one type (`mul_hi`). The
    /// default widens to twice the width, multiplies and shifts; a target may have an
    /// instruction for it.
    fn mul_hi<'ctx>(
        &self,
        module: &Module<'ctx>,
        b: &Builder<'ctx>,
        x: IntValue<'ctx>,
        y: IntValue<'ctx>,
        signed: bool,
    ) -> Result<IntValue<'ctx>, BuilderError> {
        let _ = module;
        widened_mul_hi(b, x, y, signed)
    }

    /// The bits (`i16`) of the 16-bit float `t` widened to f32 (exact). The default is integer
    /// code ([`crate::half`]), which needs no library routine on any machine.
    fn half_to_f32<'ctx>(&self, b: &Builder<'ctx>, bits: IntValue<'ctx>, t: ScalarType) -> Result<FloatValue<'ctx>, BuilderError> {
        let cx = bits.get_type().get_context();
        crate::half::widen_to_f32(b, &cx, bits, t)
    }

    /// An f32 or f64 rounded to nearest even to the 16-bit float `t` (its bits, `i16`). The
    /// default is integer code ([`crate::half`]).
    fn half_from_float<'ctx>(&self, b: &Builder<'ctx>, v: FloatValue<'ctx>, t: ScalarType) -> Result<IntValue<'ctx>, BuilderError> {
        let cx = v.get_type().get_context();
        crate::half::narrow(b, &cx, v, t)
    }

    /// `atomic_add` of the 16-bit float bits `v` to the element at `addr` as one instruction of
    /// the target, returning the old bits; `None` where it has none (a compare-and-swap loop on
    /// [`Target::cas16`] is used instead).
    fn native_half_atomic_add<'ctx>(
        &self,
        b: &Builder<'ctx>,
        addr: PointerValue<'ctx>,
        v: IntValue<'ctx>,
        t: ScalarType,
    ) -> Result<Option<IntValue<'ctx>>, BuilderError> {
        let _ = (b, addr, v, t);
        Ok(None)
    }

    /// `cond ? a : x` on the bits of two floats (integers of their width), kept a select:
    /// LLVM's NVPTX backend makes `min`/`max` of a float select whose operands are those of its
    /// comparison, which gives the wrong zero (`0.0.clamp(NAN, -0.0)`), and LLVM folds a select
    /// of bits back into one of floats. The default is LLVM's select (the CPU keeps it).
    fn select_bits<'ctx>(
        &self,
        _module: &Module<'ctx>,
        b: &Builder<'ctx>,
        cond: IntValue<'ctx>,
        a: IntValue<'ctx>,
        x: IntValue<'ctx>,
    ) -> Result<IntValue<'ctx>, BuilderError> {
        Ok(b.build_select(cond, a, x, "select")?.into_int_value())
    }

    /// A 16-bit compare-and-swap at `addr` that touches the element's two bytes only; returns
    /// the bits it found (the swap happened when they equal `expected`).
    fn cas16<'ctx>(
        &self,
        module: &Module<'ctx>,
        b: &Builder<'ctx>,
        addr: PointerValue<'ctx>,
        expected: IntValue<'ctx>,
        new: IntValue<'ctx>,
    ) -> Result<IntValue<'ctx>, BuilderError> {
        let _ = module;
        cmpxchg(b, addr, expected, new)
    }

    /// Whether every array access is checked against the array's length. An out-of-range access
    /// then does not touch memory (a load yields 0) and is reported through
    /// [`Target::report_out_of_bounds`].
    fn bounds_check(&self, kernel: &ir::Kernel) -> bool {
        kernel.options.boundscheck
    }

    /// The DWARF version of the line tables the target's code carries when a kernel asks for
    /// source lines (the `lineinfo` and `debug` options); `None`: it carries none.
    fn line_info(&self) -> Option<u32> {
        None
    }

    /// Whether `a * b + c` (and `a * b - c`, `c ± a * b`) of f32/f64 is emitted as one fused
    /// multiply-add when the kernel contracts (its default): where the machine has an fma
    /// instruction.
    fn fused_multiply_add(&self) -> bool {
        false
    }

    /// Whether the `debug` option's code describes its locals for a debugger (full debug
    /// information, compiled without optimization).
    fn debug_locals(&self) -> bool {
        false
    }

    /// Whether the target runs `ptx_asm!` (inline PTX): the GPU does, the CPU backend refuses
    /// such a kernel (`CompileError::Unsupported`).
    fn inline_ptx(&self) -> bool {
        false
    }

    /// Appends a print record (`words`: the print's number, then its values' bits) to the
    /// launch's print buffer, which the runtime reads after the launch; a record that does not
    /// fit is dropped (and counted).
    fn print_record<'ctx>(
        &self,
        module: &Module<'ctx>,
        builder: &Builder<'ctx>,
        body: FunctionValue<'ctx>,
        words: &[IntValue<'ctx>],
    ) -> Result<(), BuilderError> {
        let _ = (module, builder, body, words);
        Ok(())
    }

    /// Emits the report of an out-of-range `index` on `axis` of array number `array` (see
    /// [`crate::lower::array_table`]); only called when [`Target::bounds_check`] is true.
    /// Also records a failed assertion: `array` is then [`OobRecord::ASSERTION`], `axis` the
    /// assertion's number and `values` the values its message formats (else empty).
    #[allow(clippy::too_many_arguments)]
    fn report_out_of_bounds<'ctx>(
        &self,
        module: &Module<'ctx>,
        builder: &Builder<'ctx>,
        body: FunctionValue<'ctx>,
        array: u32,
        index: IntValue<'ctx>,
        axis: IntValue<'ctx>,
        values: &[IntValue<'ctx>],
    ) -> Result<(), BuilderError> {
        let _ = (module, builder, body, array, index, axis, values);
        Ok(())
    }

    /// The address of static shared array `index` (`len` elements of `elem`), which the shared
    /// layout puts at byte `offset` of the block's shared memory.
    #[allow(clippy::too_many_arguments)]
    fn shared_array<'ctx>(
        &self,
        module: &Module<'ctx>,
        builder: &Builder<'ctx>,
        body: FunctionValue<'ctx>,
        index: u32,
        elem: ScalarType,
        len: u64,
        offset: u64,
    ) -> Result<PointerValue<'ctx>, BuilderError>;

    /// The address and size in bytes (`i64`) of dynamic shared memory, which starts at byte
    /// `offset` of the block's shared memory.
    fn dynamic_shared<'ctx>(
        &self,
        module: &Module<'ctx>,
        builder: &Builder<'ctx>,
        body: FunctionValue<'ctx>,
        offset: u64,
    ) -> Result<(PointerValue<'ctx>, IntValue<'ctx>), BuilderError>;

    /// The target's own form of a bulk statement, after the lowering's bounds checks: `true` if
    /// it emitted one, `false` for the lowering to emit the portable form (a plain vector copy
    /// for [`BulkOp::Copy`], nothing for the asynchronous-group operations). `ldmatrix` and
    /// `mma` have no portable form: both targets emit them.
    fn bulk<'ctx>(
        &self,
        module: &Module<'ctx>,
        builder: &Builder<'ctx>,
        body: FunctionValue<'ctx>,
        access: &BulkAccess<'ctx>,
    ) -> Result<bool, BuilderError>;

    /// Whether the target's dynamic shared memory may start off a 1024-byte boundary, so that
    /// a kernel with Hopper's operations aligns it itself (the GPU: after the static arrays,
    /// 16-byte aligned; the CPU backend lays it out aligned).
    fn aligns_dynamic_shared(&self) -> bool {
        false
    }

    /// `sync_threads()`.
    fn barrier<'ctx>(&self, module: &Module<'ctx>, builder: &Builder<'ctx>, body: FunctionValue<'ctx>) -> Result<(), BuilderError>;

    /// A warp or block collective on `args` (as the IR gives them); `value` is the type of the
    /// value operand (`T` of a shuffle), or the result type when there is none.
    #[allow(clippy::too_many_arguments)]
    fn collective<'ctx>(
        &self,
        module: &Module<'ctx>,
        builder: &Builder<'ctx>,
        body: FunctionValue<'ctx>,
        op: Collective,
        value: ScalarType,
        args: &[BasicValueEnum<'ctx>],
    ) -> Result<BasicValueEnum<'ctx>, BuilderError>;

    /// A kernel run in lockstep ([`crate::lower::lockstep`], the CPU backend's): the address of
    /// the block's frame, which holds every thread's locals and masks.
    fn lockstep_frame<'ctx>(
        &self,
        _module: &Module<'ctx>,
        _b: &Builder<'ctx>,
        _body: FunctionValue<'ctx>,
    ) -> Result<PointerValue<'ctx>, BuilderError> {
        unreachable!("only the host target compiles kernels to run in lockstep")
    }

    /// A kernel run in lockstep: the body's parameters through which the target reaches its
    /// own state (the thread's registers, the fault record). Their accesses stay in the order
    /// the threads make them; a thread loop's other accesses are the threads' own.
    fn lockstep_context<'ctx>(&self, _body: FunctionValue<'ctx>) -> Vec<PointerValue<'ctx>> {
        Vec::new()
    }

    /// A kernel run in lockstep: sets the special register `reg` (a thread index) that the
    /// thread about to run reads, in device functions too.
    fn write_special<'ctx>(
        &self,
        _module: &Module<'ctx>,
        _b: &Builder<'ctx>,
        _body: FunctionValue<'ctx>,
        _reg: SpecialReg,
        _value: IntValue<'ctx>,
    ) -> Result<(), BuilderError> {
        unreachable!("only the host target compiles kernels to run in lockstep")
    }

    /// `grid_sync()`: a barrier for every thread of the grid (the launch is cooperative).
    fn grid_barrier<'ctx>(&self, module: &Module<'ctx>, builder: &Builder<'ctx>, body: FunctionValue<'ctx>) -> Result<(), BuilderError>;

    /// A memory fence of the given reach.
    fn fence<'ctx>(&self, module: &Module<'ctx>, builder: &Builder<'ctx>, scope: FenceScope) -> Result<(), BuilderError>;

    /// Called once the body is complete: emits whatever else the module needs (the host entry).
    fn finish<'ctx>(
        &self,
        cx: &'ctx Context,
        module: &Module<'ctx>,
        body: FunctionValue<'ctx>,
        kernel: &ir::Kernel,
    ) -> Result<(), BuilderError>;
}

/// What a target's [`Target::bulk`] works on.
pub struct BulkAccess<'ctx> {
    pub op: BulkOp,
    /// The element type of the arrays (of the fragment for `ldmatrix`, of A and B for `mma`).
    pub elem: ScalarType,
    /// The operands' first elements, as [`ir::StmtKind::Bulk`] orders them (for `ldmatrix`, the
    /// row of this lane, or the array's first element if this lane's was out of bounds).
    pub addrs: Vec<PointerValue<'ctx>>,
    /// Which operands are per-thread arrays (the others are global or shared memory).
    pub local: Vec<bool>,
    /// Which operands are array parameters (global memory).
    pub global: Vec<bool>,
    /// The alignment, in bytes, the accesses may assume.
    pub align: u32,
    /// The scalar operands (see [`BulkOp::values`]).
    pub values: Vec<IntValue<'ctx>>,
}

/// The high half of `x * y` by a multiply at twice the width and a shift: [`Target::mul_hi`]'s
/// default, and any target's for the widths it has no instruction for.
pub fn widened_mul_hi<'ctx>(b: &Builder<'ctx>, x: IntValue<'ctx>, y: IntValue<'ctx>, signed: bool) -> Result<IntValue<'ctx>, BuilderError> {
    let it = x.get_type();
    let bits = it.get_bit_width();
    let cx = it.get_context();
    let wide = match bits {
        8 => cx.i16_type(),
        16 => cx.i32_type(),
        32 => cx.i64_type(),
        _ => cx.i128_type(),
    };
    let ext = |v: IntValue<'ctx>| if signed { b.build_int_s_extend(v, wide, "w") } else { b.build_int_z_extend(v, wide, "w") };
    let p = b.build_int_mul(ext(x)?, ext(y)?, "p")?;
    let hi = b.build_right_shift(p, wide.const_int(bits as u64, false), false, "p.hi")?;
    b.build_int_truncate(hi, it, "mul_hi")
}

/// Appends `words` to a print buffer at `buffer` (word 0: the words reserved so far; the
/// records from word 1; [`crate::limits::PRINT_WORDS`] of them), the reservation made by
/// `reserve(cursor, n)` (which returns the cursor before it).
pub fn append_print<'ctx>(
    module: &Module<'ctx>,
    b: &Builder<'ctx>,
    buffer: PointerValue<'ctx>,
    words: &[IntValue<'ctx>],
    reserve: impl FnOnce(PointerValue<'ctx>, IntValue<'ctx>) -> Result<IntValue<'ctx>, BuilderError>,
) -> Result<(), BuilderError> {
    let cx = module.get_context();
    let i64t = cx.i64_type();
    let n = i64t.const_int(words.len() as u64, false);
    let at = reserve(buffer, n)?;
    let end = b.build_int_add(at, n, "print.end")?;
    let fits =
        b.build_int_compare(inkwell::IntPredicate::ULE, end, i64t.const_int(crate::limits::PRINT_WORDS as u64, false), "print.fits")?;
    let f = b.get_insert_block().and_then(|bb| bb.get_parent()).unwrap_or_else(|| unreachable!("builder is positioned"));
    let (write, done) = (cx.append_basic_block(f, "print.write"), cx.append_basic_block(f, "print.done"));
    b.build_conditional_branch(fits, write, done)?;
    b.position_at_end(write);
    for (k, w) in words.iter().enumerate() {
        let i = b.build_int_add(at, i64t.const_int(1 + k as u64, false), "print.word")?;
        // SAFETY (of the generated code): at + n <= PRINT_WORDS, so word 1 + at + k is inside
        // the buffer of 1 + PRINT_WORDS words.
        let addr = unsafe { b.build_in_bounds_gep(i64t, buffer, &[i], "print.addr")? };
        b.build_store(addr, *w)?;
    }
    b.build_unconditional_branch(done)?;
    b.position_at_end(done);
    Ok(())
}
