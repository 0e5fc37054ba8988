//! Source lines in the generated code (the `lineinfo` and `debug` options): line tables only,
//! from the statements' spans, so that PTX carries `.file`/`.loc` directives that map to the
//! kernel's Rust file and line for Nsight Compute (`--import-source yes`), compute-sanitizer and
//! cuda-gdb, and the CPU backend's JIT code carries DWARF line tables that LLVM's JIT registers
//! with debuggers (GDB's JIT interface), so a native backtrace through a kernel names its lines.

use crate::ast::Span;
use crate::ir;
use crate::target::Target;
use inkwell::context::Context;
use inkwell::debug_info::{
    AsDIScope, DICompileUnit, DIFlags, DIFlagsConstants, DILocation, DISubprogram, DWARFEmissionKind, DWARFSourceLanguage, DebugInfoBuilder,
};
use inkwell::module::{FlagBehavior, Module};
use inkwell::values::FunctionValue;

/// The module's line tables under construction.
pub(super) struct LineInfo<'ctx> {
    cx: &'ctx Context,
    builder: DebugInfoBuilder<'ctx>,
    unit: DICompileUnit<'ctx>,
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
            DWARFEmissionKind::LineTablesOnly,
            0,
            false,
            false,
            "",
            "",
        );
        Some(LineInfo { cx, builder, unit })
    }

    /// The scope of body `body` (the kernel or a device function), attached to `f`.
    pub(super) fn function(&self, body: &ir::Kernel, f: FunctionValue<'ctx>) -> DISubprogram<'ctx> {
        let path = if body.file.is_empty() {
            self.unit.get_file()
        } else {
            let (dir, name) = split(&body.file);
            self.builder.create_file(name, dir)
        };
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

    /// The location of a statement at `span` in `scope`.
    pub(super) fn at(&self, span: Span, scope: DISubprogram<'ctx>) -> DILocation<'ctx> {
        self.builder.create_debug_location(self.cx, span.line, span.column + 1, scope.as_debug_info_scope(), None)
    }

    pub(super) fn finish(&self) {
        self.builder.finalize();
    }
}
