//! Lowering of user structs (`#[gpu_struct]`): a value is an LLVM struct of its fields' memory
//! types (an array field an LLVM array), in registers as in memory, laid out as Rust's
//! `#[repr(C)]` (checked against the struct's own offsets before anything is emitted). A field is
//! read by `extractvalue` along its constant path and written in place through a GEP, so a store
//! to `a[i].v` writes only `v`. By value, a struct travels as the 64-bit words of its bytes: the
//! kernel's parameters (see [`crate::contract::ParamSlots::Words`]) and device functions'.

use super::{memory_type, value_type, Lower, LR};
use crate::error::CompileError;
use crate::ir;
use crate::types::{ScalarType, StructDef};
use inkwell::context::Context;
use inkwell::targets::TargetData;
use inkwell::types::{BasicType, BasicTypeEnum, StructType};
use inkwell::values::{BasicValueEnum, PointerValue};
use inkwell::IntPredicate;

/// The LLVM type of a struct (value and memory alike).
pub(super) fn struct_type<'ctx>(cx: &'ctx Context, d: &StructDef) -> StructType<'ctx> {
    let fields: Vec<BasicTypeEnum<'ctx>> = d
        .fields
        .iter()
        .map(|f| {
            let t = memory_type(cx, f.ty);
            match f.len {
                Some(n) => t.array_type(n as u32).into(),
                None => t,
            }
        })
        .collect();
    cx.struct_type(&fields, false)
}

/// The 64-bit words a struct of `size` bytes travels in.
pub fn words_of(size: usize) -> usize {
    size.div_ceil(8)
}

/// Checks that LLVM lays out every struct `kernel` names as Rust did (`#[repr(C)]`): the same
/// size and field offsets.
pub(super) fn check_layouts(cx: &Context, kernel: &ir::Kernel, data: &TargetData) -> Result<(), CompileError> {
    let mut all = ir::structs_of(kernel);
    for f in &kernel.functions {
        all.extend(ir::structs_of(f));
    }
    for d in all {
        let st = struct_type(cx, d);
        let size = data.get_abi_size(&st) as usize;
        let offsets_agree = d.fields.iter().enumerate().all(|(i, f)| data.offset_of_element(&st, i as u32) == Some(f.offset as u64));
        if size != d.size || !offsets_agree {
            return Err(CompileError::Verify {
                kernel: kernel.name.clone(),
                message: format!("the layout of struct `{}` differs between Rust ({} bytes) and the target ({size} bytes)", d.name, d.size),
                ir: String::new(),
            });
        }
    }
    Ok(())
}

impl<'a, 'ctx> Lower<'a, 'ctx> {
    /// The part of aggregate value `v` (of type `t`) at `path`, as a value of its type.
    pub(super) fn extract_path(&self, v: BasicValueEnum<'ctx>, t: ScalarType, path: &[u32]) -> LR<BasicValueEnum<'ctx>> {
        let mut cur = v;
        for &i in path {
            cur = match cur {
                BasicValueEnum::StructValue(s) => self.b.build_extract_value(s, i, "field")?,
                BasicValueEnum::ArrayValue(a) => self.b.build_extract_value(a, i, "elem")?,
                other => other,
            };
        }
        match t.at_path(path) {
            // A bool field is a byte in memory.
            Some(ScalarType::Bool) => {
                Ok(self.b.build_int_compare(IntPredicate::NE, cur.into_int_value(), self.cx.i8_type().const_zero(), "field.b")?.into())
            }
            _ => Ok(cur),
        }
    }

    /// The struct of type `t` from its field values in order (an array field's elements).
    pub(super) fn construct(&self, t: ScalarType, args: &[(BasicValueEnum<'ctx>, ScalarType)]) -> LR<BasicValueEnum<'ctx>> {
        let Some(d) = t.struct_def() else { unreachable!("the verifier checked that a struct value is of a struct") };
        let st = struct_type(self.cx, d);
        let mut agg: BasicValueEnum<'ctx> = st.get_undef().into();
        let mut next = args.iter();
        for (j, f) in d.fields.iter().enumerate() {
            let field = match f.len {
                None => {
                    let (v, vt) = next.next().copied().unwrap_or_else(|| unreachable!("the verifier counted the fields"));
                    self.to_memory(v, vt)?
                }
                Some(n) => {
                    let at = memory_type(self.cx, f.ty).array_type(n as u32);
                    let mut arr = at.get_undef();
                    for k in 0..n {
                        let (v, vt) = next.next().copied().unwrap_or_else(|| unreachable!("the verifier counted the fields"));
                        let v = self.to_memory(v, vt)?;
                        arr = self.b.build_insert_value(arr, v, k as u32, "elem")?.into_array_value();
                    }
                    arr.into()
                }
            };
            agg = self.b.build_insert_value(agg.into_struct_value(), field, j as u32, "field")?.into_struct_value().into();
        }
        Ok(agg)
    }

    /// The address of the part at `path` of the aggregate of type `t` at `base`.
    pub(super) fn part_addr(&self, base: PointerValue<'ctx>, t: ScalarType, path: &[u32]) -> LR<PointerValue<'ctx>> {
        let i32t = self.cx.i32_type();
        let mut idx = vec![i32t.const_zero()];
        idx.extend(path.iter().map(|&i| i32t.const_int(i as u64, false)));
        // SAFETY (of the generated code): the path was checked against the type by the verifier,
        // so the address is inside the aggregate.
        unsafe { self.b.build_in_bounds_gep(value_type(self.cx, t), base, &idx, "part") }
    }

    /// Stores `v` (of type `vt`) to the part at `path` of the aggregate of type `t` at `base`.
    pub(super) fn store_part(
        &self,
        base: PointerValue<'ctx>,
        t: ScalarType,
        path: &[u32],
        v: BasicValueEnum<'ctx>,
        vt: ScalarType,
    ) -> LR<()> {
        let addr = self.part_addr(base, t, path)?;
        let v = self.to_memory(v, vt)?;
        let store = self.b.build_store(addr, v)?;
        let _ = store.set_alignment(vt.align_bytes() as u32);
        Ok(())
    }

    /// A struct value as the words of its bytes.
    pub(super) fn struct_to_words(&self, v: BasicValueEnum<'ctx>, t: ScalarType) -> LR<Vec<BasicValueEnum<'ctx>>> {
        let n = words_of(t.size_bytes());
        let words = self.cx.i64_type().array_type(n as u32);
        let slot = self.entry_alloca(words.into(), "words")?;
        let _ = slot.as_instruction().map(|i| i.set_alignment(8));
        self.b.build_store(slot, words.const_zero())?;
        self.b.build_store(slot, v)?;
        let i64t = self.cx.i64_type();
        (0..n)
            .map(|k| {
                // SAFETY (of the generated code): k < n, inside the words' slot.
                let at = unsafe { self.b.build_in_bounds_gep(i64t, slot, &[i64t.const_int(k as u64, false)], "word")? };
                self.b.build_load(i64t, at, "word")
            })
            .collect()
    }

    /// The struct of type `t` whose bytes are `words`.
    pub(super) fn struct_from_words(&self, words: &[BasicValueEnum<'ctx>], t: ScalarType) -> LR<BasicValueEnum<'ctx>> {
        let n = words.len();
        let ty = self.cx.i64_type().array_type(n as u32);
        let slot = self.entry_alloca(ty.into(), "words")?;
        let _ = slot.as_instruction().map(|i| i.set_alignment(8));
        let i64t = self.cx.i64_type();
        for (k, w) in words.iter().enumerate() {
            // SAFETY (of the generated code): k < n, inside the words' slot.
            let at = unsafe { self.b.build_in_bounds_gep(i64t, slot, &[i64t.const_int(k as u64, false)], "word")? };
            self.b.build_store(at, *w)?;
        }
        self.b.build_load(value_type(self.cx, t), slot, "struct")
    }
}
