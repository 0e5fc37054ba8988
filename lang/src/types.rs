//! Scalar element types shared by the source AST, the IR, the targets and the runtime.

use std::fmt;

/// The layout of a user struct (`#[gpu_struct]`), as kernels see it: Rust's `#[repr(C)]` layout,
/// without padding. `#[gpu_struct]` builds it in a constant from `size_of` and `offset_of!`.
/// Two are equal when their layouts are (the same one, usually: launches compare them).
// `eq` is content equality, which the derived `Hash` and `Ord` follow; comparing addresses
// first only makes the common case fast.
#[allow(clippy::derived_hash_with_manual_eq)]
#[derive(Debug, Eq, Hash, PartialOrd, Ord)]
pub struct StructDef {
    /// The struct's name as written (for errors and the IR text).
    pub name: &'static str,
    pub size: usize,
    pub align: usize,
    pub fields: &'static [FieldDef],
}

/// A field of a [`StructDef`].
#[derive(Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FieldDef {
    pub name: &'static str,
    /// A scalar, complex or struct type; of each element for an array field.
    pub ty: ScalarType,
    /// `Some(n)`: a fixed array `[ty; n]`.
    pub len: Option<usize>,
    /// Bytes from the start of the struct.
    pub offset: usize,
}

impl PartialEq for StructDef {
    fn eq(&self, other: &StructDef) -> bool {
        std::ptr::eq(self, other)
            || (self.name == other.name && self.size == other.size && self.align == other.align && self.fields == other.fields)
    }
}

impl StructDef {
    /// The field of this name and its index.
    pub fn field(&self, name: &str) -> Option<(u32, &FieldDef)> {
        self.fields.iter().enumerate().find(|(_, f)| f.name == name).map(|(i, f)| (i as u32, f))
    }
}

/// A scalar type a kernel can compute with or store in an array (and, by extension, the complex
/// types and the user structs of `#[gpu_struct]`: every type a value or an element may have).
///
/// `usize`/`isize` are the 64-bit integer types of every target gpujit supports (x86-64 hosts and
/// NVPTX64), so they are spelled [`ScalarType::U64`] and [`ScalarType::I64`] once parsed.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ScalarType {
    Bool,
    I8,
    I16,
    I32,
    I64,
    U8,
    U16,
    U32,
    U64,
    F32,
    F64,
    /// IEEE binary16 (`half::f16`).
    F16,
    /// bfloat16 (`half::bf16`).
    BF16,
    /// `num_complex::Complex<f32>` (NumPy's complex64): two f32, real part first.
    Complex32,
    /// `num_complex::Complex<f64>` (NumPy's complex128): two f64, real part first.
    Complex64,
    /// A user struct of `#[gpu_struct]`.
    Struct(&'static StructDef),
}

impl ScalarType {
    /// Every built-in type (no struct), in a stable order.
    pub const ALL: [ScalarType; 15] = [
        ScalarType::Bool,
        ScalarType::I8,
        ScalarType::I16,
        ScalarType::I32,
        ScalarType::I64,
        ScalarType::U8,
        ScalarType::U16,
        ScalarType::U32,
        ScalarType::U64,
        ScalarType::F32,
        ScalarType::F64,
        ScalarType::F16,
        ScalarType::BF16,
        ScalarType::Complex32,
        ScalarType::Complex64,
    ];

    /// Parses a Rust type name (`f32`, `usize`, ...).
    pub fn from_rust_name(name: &str) -> Option<ScalarType> {
        Some(match name {
            "bool" => ScalarType::Bool,
            "i8" => ScalarType::I8,
            "i16" => ScalarType::I16,
            "i32" => ScalarType::I32,
            "i64" | "isize" => ScalarType::I64,
            "u8" => ScalarType::U8,
            "u16" => ScalarType::U16,
            "u32" => ScalarType::U32,
            "u64" | "usize" => ScalarType::U64,
            "f32" => ScalarType::F32,
            "f16" => ScalarType::F16,
            "bf16" => ScalarType::BF16,
            "f64" => ScalarType::F64,
            "Complex32" | "Complex<f32>" => ScalarType::Complex32,
            "Complex64" | "Complex<f64>" => ScalarType::Complex64,
            _ => return None,
        })
    }

    /// The Rust spelling of the type.
    pub fn name(self) -> &'static str {
        match self {
            ScalarType::Bool => "bool",
            ScalarType::I8 => "i8",
            ScalarType::I16 => "i16",
            ScalarType::I32 => "i32",
            ScalarType::I64 => "i64",
            ScalarType::U8 => "u8",
            ScalarType::U16 => "u16",
            ScalarType::U32 => "u32",
            ScalarType::U64 => "u64",
            ScalarType::F32 => "f32",
            ScalarType::F16 => "f16",
            ScalarType::BF16 => "bf16",
            ScalarType::F64 => "f64",
            ScalarType::Complex32 => "Complex<f32>",
            ScalarType::Complex64 => "Complex<f64>",
            ScalarType::Struct(d) => d.name,
        }
    }

    /// Size in bytes of one element in memory (`bool` is one byte, as in Rust).
    pub fn size_bytes(self) -> usize {
        match self {
            ScalarType::Bool | ScalarType::I8 | ScalarType::U8 => 1,
            ScalarType::I16 | ScalarType::U16 | ScalarType::F16 | ScalarType::BF16 => 2,
            ScalarType::I32 | ScalarType::U32 | ScalarType::F32 => 4,
            ScalarType::I64 | ScalarType::U64 | ScalarType::F64 | ScalarType::Complex32 => 8,
            ScalarType::Complex64 => 16,
            ScalarType::Struct(d) => d.size,
        }
    }

    /// The alignment in bytes an element needs in memory, as Rust's: its size, but a complex
    /// number's parts' (`Complex<f32>` is 4-aligned).
    pub fn align_bytes(self) -> usize {
        match self {
            ScalarType::Struct(d) => d.align,
            t => t.component().unwrap_or(t).size_bytes(),
        }
    }

    /// Width in bits of the value (1 for `bool`).
    pub fn bits(self) -> u32 {
        match self {
            ScalarType::Bool => 1,
            t => 8 * t.size_bytes() as u32,
        }
    }

    pub fn is_float(self) -> bool {
        matches!(self, ScalarType::F32 | ScalarType::F64 | ScalarType::F16 | ScalarType::BF16)
    }

    /// The 16-bit floats, computed in f32 and rounded back (as the `half` crate does).
    pub fn is_half(self) -> bool {
        matches!(self, ScalarType::F16 | ScalarType::BF16)
    }

    pub fn is_int(self) -> bool {
        self.is_signed_int() || self.is_unsigned_int()
    }

    pub fn is_signed_int(self) -> bool {
        matches!(self, ScalarType::I8 | ScalarType::I16 | ScalarType::I32 | ScalarType::I64)
    }

    pub fn is_unsigned_int(self) -> bool {
        matches!(self, ScalarType::U8 | ScalarType::U16 | ScalarType::U32 | ScalarType::U64)
    }

    /// The unsigned integer type of the same width (`None` for `bool`): what `to_bits`,
    /// `abs_diff` and `unsigned_abs` give.
    pub fn unsigned(self) -> Option<ScalarType> {
        if self.is_complex() || self.is_struct() {
            return None;
        }
        Some(match self.bits() {
            8 => ScalarType::U8,
            16 => ScalarType::U16,
            32 => ScalarType::U32,
            64 => ScalarType::U64,
            _ => return None,
        })
    }

    /// A user struct of `#[gpu_struct]`.
    pub fn is_struct(self) -> bool {
        matches!(self, ScalarType::Struct(_))
    }

    /// The layout of a user struct.
    pub fn struct_def(self) -> Option<&'static StructDef> {
        match self {
            ScalarType::Struct(d) => Some(d),
            _ => None,
        }
    }

    /// An aggregate: a complex number or a struct (its value has fields).
    pub fn is_aggregate(self) -> bool {
        self.is_complex() || self.is_struct()
    }

    /// Field `name` of an aggregate: its index, its type (an array field's: its elements') and,
    /// for an array field, its length. A complex number's fields are `re` and `im`.
    pub fn field(self, name: &str) -> Option<(u32, ScalarType, Option<usize>)> {
        match self {
            ScalarType::Struct(d) => d.field(name).map(|(i, f)| (i, f.ty, f.len)),
            t => {
                let part = t.component()?;
                ["re", "im"].iter().position(|f| *f == name).map(|i| (i as u32, part, None))
            }
        }
    }

    /// The names of an aggregate's fields, for errors.
    pub fn field_names(self) -> Vec<&'static str> {
        match self {
            ScalarType::Struct(d) => d.fields.iter().map(|f| f.name).collect(),
            t if t.is_complex() => vec!["re", "im"],
            _ => Vec::new(),
        }
    }

    /// The floats a value of this type holds, in memory order: a float itself (an empty path),
    /// a complex number's `re` and `im`, a struct's float fields and the elements of its float
    /// array fields, into nested structs. Each is its path (as [`ScalarType::at_path`] takes
    /// it), the path as Rust writes it after the value (`.pos[2]`, `.z.re`) and its type.
    /// `GPUJIT_CHECK=1`'s check of written values names a part by its position here.
    pub fn float_parts(self) -> Vec<(Vec<u32>, String, ScalarType)> {
        fn walk(t: ScalarType, path: &mut Vec<u32>, text: &str, out: &mut Vec<(Vec<u32>, String, ScalarType)>) {
            match t {
                t if t.is_float() => out.push((path.clone(), text.to_string(), t)),
                t if t.is_complex() => {
                    for (k, name) in ["re", "im"].into_iter().enumerate() {
                        path.push(k as u32);
                        walk(t.component().unwrap_or(ScalarType::F64), path, &format!("{text}.{name}"), out);
                        path.pop();
                    }
                }
                ScalarType::Struct(d) => {
                    for (i, f) in d.fields.iter().enumerate() {
                        path.push(i as u32);
                        match f.len {
                            None => walk(f.ty, path, &format!("{text}.{}", f.name), out),
                            Some(n) => {
                                for k in 0..n {
                                    path.push(k as u32);
                                    walk(f.ty, path, &format!("{text}.{}[{k}]", f.name), out);
                                    path.pop();
                                }
                            }
                        }
                        path.pop();
                    }
                }
                _ => {}
            }
        }
        let mut out = Vec::new();
        walk(self, &mut Vec::new(), "", &mut out);
        out
    }

    /// The type at `path` inside an aggregate (a field's index, then an element's for an
    /// array field, and so on into nested structs); `None` when the path does not lead to a
    /// value (out of range, or stopping at an array field).
    pub fn at_path(self, path: &[u32]) -> Option<ScalarType> {
        let Some((&first, rest)) = path.split_first() else { return Some(self) };
        match self {
            ScalarType::Struct(d) => {
                let f = d.fields.get(first as usize)?;
                match (f.len, rest.split_first()) {
                    (None, _) => f.ty.at_path(rest),
                    (Some(n), Some((&k, rest))) if (k as usize) < n => f.ty.at_path(rest),
                    (Some(_), _) => None,
                }
            }
            t if t.is_complex() && first < 2 && rest.is_empty() => t.component(),
            _ => None,
        }
    }

    pub fn is_complex(self) -> bool {
        matches!(self, ScalarType::Complex32 | ScalarType::Complex64)
    }

    /// The type of a complex type's real and imaginary parts (`None` for the other types).
    pub fn component(self) -> Option<ScalarType> {
        match self {
            ScalarType::Complex32 => Some(ScalarType::F32),
            ScalarType::Complex64 => Some(ScalarType::F64),
            _ => None,
        }
    }

    /// The complex type whose parts are `self` (f32 or f64; `None` for the other types).
    pub fn complex(self) -> Option<ScalarType> {
        match self {
            ScalarType::F32 => Some(ScalarType::Complex32),
            ScalarType::F64 => Some(ScalarType::Complex64),
            _ => None,
        }
    }

    /// Numeric: an integer or a float (not `bool`, not complex).
    pub fn is_numeric(self) -> bool {
        self.is_int() || self.is_float()
    }
}

impl fmt::Display for ScalarType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for t in ScalarType::ALL {
            assert_eq!(ScalarType::from_rust_name(t.name()), Some(t));
        }
        assert_eq!(ScalarType::from_rust_name("usize"), Some(ScalarType::U64));
        assert_eq!(ScalarType::from_rust_name("isize"), Some(ScalarType::I64));
        assert_eq!(ScalarType::from_rust_name("String"), None);
        assert_eq!(ScalarType::from_rust_name("Complex32"), Some(ScalarType::Complex32));
        for t in ScalarType::ALL {
            assert_eq!(t.component().and_then(ScalarType::complex), t.is_complex().then_some(t));
            if let Some(c) = t.component() {
                assert_eq!(t.size_bytes(), 2 * c.size_bytes());
            }
        }
    }
}
