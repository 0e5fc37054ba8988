//! Source lines in the generated code (the `lineinfo` and `debug` options): line tables only,
//! from the statements' spans, so that PTX carries `.file`/`.loc` directives that map to the
//! kernel's Rust file and line for Nsight Compute (`--import-source yes`), compute-sanitizer and
//! cuda-gdb, and the CPU backend's JIT code carries DWARF line tables that LLVM's JIT registers
//! with debuggers (GDB's JIT interface), so a native backtrace through a kernel names its lines.

use crate::ast::Span;
use crate::ir;
use crate::target::Target;
use crate::types::ScalarType;
use inkwell::basic_block::BasicBlock;
use inkwell::context::Context;
use inkwell::debug_info::{
    AsDIScope, DICompileUnit, DIFile, DIFlags, DIFlagsConstants, DILocation, DISubprogram, DWARFEmissionKind, DWARFSourceLanguage,
    DebugInfoBuilder,
};
use inkwell::module::{FlagBehavior, Module};
use inkwell::values::{AsValueRef, FunctionValue, PointerValue};

/// The module's line tables under construction.
pub(super) struct LineInfo<'ctx> {
    cx: &'ctx Context,
    builder: DebugInfoBuilder<'ctx>,
    unit: DICompileUnit<'ctx>,
    /// Full debug information (the `debug` option, on a target that describes locals): the
    /// scalar locals and parameters are described too.
    full: bool,
}

/// `path` as (directory, file name).
fn split(path: &str) -> (&str, &str) {
    match path.rsplit_once('/') {
        Some((dir, name)) => (dir, name),
        None => ("", path),
    }
}

impl<'ctx> LineInfo<'ctx> {
    /// The line tables of `kernel`'s module, when it asks for source lines, knows its file, and
    /// the target carries them.
    pub(super) fn new(cx: &'ctx Context, module: &Module<'ctx>, kernel: &ir::Kernel, target: &dyn Target) -> Option<LineInfo<'ctx>> {
        let wanted = kernel.options.lineinfo || kernel.options.debug;
        let dwarf = target.line_info().filter(|_| wanted && !kernel.file.is_empty())?;
        let full = kernel.options.debug && target.debug_locals();
        let i32t = cx.i32_type();
        module.add_basic_value_flag("Debug Info Version", FlagBehavior::Warning, i32t.const_int(3, false));
        module.add_basic_value_flag("Dwarf Version", FlagBehavior::Warning, i32t.const_int(dwarf as u64, false));
        let (dir, name) = split(&kernel.file);
        let (builder, unit) = module.create_debug_info_builder(
            true,
            DWARFSourceLanguage::Rust,
            name,
            dir,
            "gpujit",
            true,
            "",
            0,
            "",
            if full { DWARFEmissionKind::Full } else { DWARFEmissionKind::LineTablesOnly },
            0,
            false,
            false,
            "",
            "",
        );
        Some(LineInfo { cx, builder, unit, full })
    }

    /// The scope of body `body` (the kernel or a device function), attached to `f`.
    pub(super) fn function(&self, body: &ir::Kernel, f: FunctionValue<'ctx>) -> DISubprogram<'ctx> {
        let path = self.file_of(body);
        let line = body.body.first().map(|s| s.span.line).unwrap_or(0);
        let ty = self.builder.create_subroutine_type(path, None, &[], DIFlags::ZERO);
        let sp = self.builder.create_function(
            path.as_debug_info_scope(),
            &body.name,
            None,
            path,
            line,
            ty,
            false,
            true,
            line,
            DIFlags::ZERO,
            true,
        );
        f.set_subprogram(sp);
        sp
    }

    /// Gives the functions the target added around the body (the CPU backend's entries, which
    /// call it) a scope of their own at the kernel's first line, and that line to each of their
    /// instructions: so the body's lines survive its inlining into them.
    pub(super) fn cover_wrappers(&self, module: &Module<'ctx>, kernel: &ir::Kernel) {
        let file = self.unit.get_file();
        let line = kernel.body.first().map(|s| s.span.line).unwrap_or(0);
        let mut f = module.get_first_function();
        while let Some(func) = f {
            f = func.get_next_function();
            if func.count_basic_blocks() == 0 || func.get_subprogram().is_some() {
                continue;
            }
            let name = func.get_name().to_string_lossy().to_string();
            let ty = self.builder.create_subroutine_type(file, None, &[], DIFlags::ZERO);
            let sp = self.builder.create_function(
                file.as_debug_info_scope(),
                &name,
                None,
                file,
                line,
                ty,
                false,
                true,
                line,
                DIFlags::ARTIFICIAL,
                true,
            );
            func.set_subprogram(sp);
            let at = self.builder.create_debug_location(self.cx, line, 0, sp.as_debug_info_scope(), None);
            for bb in func.get_basic_block_iter() {
                let mut i = bb.get_first_instruction();
                while let Some(inst) = i {
                    inst.set_debug_location(Some(at));
                    i = inst.get_next_instruction();
                }
            }
        }
    }

    /// The file of body `body` (the kernel's or a device function's).
    fn file_of(&self, body: &ir::Kernel) -> DIFile<'ctx> {
        if body.file.is_empty() {
            self.unit.get_file()
        } else {
            let (dir, name) = split(&body.file);
            self.builder.create_file(name, dir)
        }
    }

    /// With full debug information: describes the variable `name` of type `t` kept at `slot`
    /// (a parameter when `arg` is its 1-based number), so a debugger shows it. Scalars only:
    /// 16-bit floats, complex numbers and structs are left out, as are the compiler's own
    /// locals (`__...`).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn declare(
        &self,
        body: &ir::Kernel,
        scope: DISubprogram<'ctx>,
        name: &str,
        t: ScalarType,
        arg: Option<u32>,
        slot: PointerValue<'ctx>,
        line: u32,
        block: BasicBlock<'ctx>,
    ) {
        // DWARF's base type encodings.
        const BOOLEAN: u32 = 0x02;
        const FLOAT: u32 = 0x04;
        const SIGNED: u32 = 0x05;
        const UNSIGNED: u32 = 0x07;
        if !self.full || name.is_empty() || name.starts_with("__") {
            return;
        }
        let encoding = match t {
            ScalarType::Bool => BOOLEAN,
            ScalarType::F32 | ScalarType::F64 => FLOAT,
            t if t.is_signed_int() => SIGNED,
            t if t.is_unsigned_int() => UNSIGNED,
            _ => return,
        };
        let bits = if t == ScalarType::Bool { 8 } else { t.bits() as u64 };
        let Ok(ty) = self.builder.create_basic_type(&t.to_string(), bits, encoding, DIFlags::ZERO) else { return };
        let file = self.file_of(body);
        let var = match arg {
            Some(n) => {
                self.builder.create_parameter_variable(scope.as_debug_info_scope(), name, n, file, line, ty.as_type(), true, DIFlags::ZERO)
            }
            None => self.builder.create_auto_variable(scope.as_debug_info_scope(), name, file, line, ty.as_type(), true, DIFlags::ZERO, 0),
        };
        let at = self.builder.create_debug_location(self.cx, line, 0, scope.as_debug_info_scope(), None);
        let expr = self.builder.create_expression(Vec::new());
        // LLVM 19's modules keep debug records, not intrinsic calls (inkwell's
        // `insert_declare_at_end` expects an instruction back), so the record is made here.
        // SAFETY: every handle is live and of this module's context: the builder, the slot (an
        // alloca of the function `block` belongs to), the variable, expression and location just
        // made by this builder.
        unsafe {
            inkwell::llvm_sys::debuginfo::LLVMDIBuilderInsertDeclareRecordAtEnd(
                self.builder.as_mut_ptr(),
                slot.as_value_ref(),
                var.as_mut_ptr(),
                expr.as_mut_ptr(),
                at.as_mut_ptr(),
                block.as_mut_ptr(),
            );
        }
    }

    /// Whether locals are described (full debug information).
    pub(super) fn full(&self) -> bool {
        self.full
    }

    /// The location of a statement at `span` in `scope`.
    pub(super) fn at(&self, span: Span, scope: DISubprogram<'ctx>) -> DILocation<'ctx> {
        self.builder.create_debug_location(self.cx, span.line, span.column + 1, scope.as_debug_info_scope(), None)
    }

    pub(super) fn finish(&self) {
        self.builder.finalize();
    }
}
