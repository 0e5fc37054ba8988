//! Launch-time binding: a launch's argument types against a kernel's parameters, giving the
//! [`SpecKey`] of the specialization it needs. Runs on every launch, so it allocates nothing.

use crate::ast::{self, ParamKind, TypeRef};
use crate::limits::MAX_GENERICS;
use crate::types::ScalarType;
use std::fmt;

/// The concrete types bound to a kernel's type parameters: identifies one specialization.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct SpecKey {
    types: [ScalarType; MAX_GENERICS],
    len: u8,
    /// Bit `p` set: array parameter `p` is strided (not C-contiguous).
    pub(super) strided: u32,
    /// A written array argument overlaps another array argument: the specialization cannot tell
    /// LLVM that the arrays are disjoint.
    pub(super) aliased: bool,
    /// Bit `p` set: array parameter `p` reaches 2^31 elements or more from element 0, so its
    /// offsets are computed in 64 bits (the others' in 32).
    pub(super) wide: u32,
    /// Bit `p` set: array parameter `p`'s data pointer is 16-byte aligned (its neighbouring
    /// elements may then be read and written as vectors).
    pub(super) aligned: u32,
}

impl SpecKey {
    /// A key binding the kernel's type parameters, in declaration order, to `types`.
    pub fn new(types: &[ScalarType]) -> Option<SpecKey> {
        if types.len() > MAX_GENERICS {
            return None;
        }
        let mut key =
            SpecKey { types: [ScalarType::Bool; MAX_GENERICS], len: types.len() as u8, strided: 0, aliased: false, wide: 0, aligned: 0 };
        key.types[..types.len()].copy_from_slice(types);
        Some(key)
    }

    /// Whether array parameter `p` is specialized for strided (not C-contiguous) data.
    pub fn strided(&self, p: usize) -> bool {
        p < 32 && self.strided & (1 << p) != 0
    }

    pub fn types(&self) -> &[ScalarType] {
        &self.types[..self.len as usize]
    }

    /// This key for arguments that do (or do not) overlap a written array: aliased arguments
    /// get a specialization without LLVM's `noalias` facts.
    pub fn with_aliasing(mut self, aliased: bool) -> SpecKey {
        self.aliased = aliased;
        self
    }

    /// Whether the arguments overlap a written array.
    pub fn aliased(&self) -> bool {
        self.aliased
    }

    /// This key with bit `p` of `mask` set for each array parameter whose offsets need 64 bits.
    pub fn with_wide(mut self, mask: u32) -> SpecKey {
        self.wide = mask;
        self
    }

    /// The array parameters whose offsets need 64 bits, by bit.
    pub fn wide(&self) -> u32 {
        self.wide
    }

    /// This key with bit `p` of `mask` set for each array parameter whose data is 16-byte
    /// aligned.
    pub fn with_aligned(mut self, mask: u32) -> SpecKey {
        self.aligned = mask;
        self
    }

    /// The 16-byte aligned array parameters, by bit.
    pub fn aligned(&self) -> u32 {
        self.aligned
    }
}

impl fmt::Display for SpecKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.types().iter().map(|t| t.name()).collect();
        write!(f, "<{}>", names.join(", "))?;
        if self.strided != 0 {
            write!(f, " strided {:#b}", self.strided)?;
        }
        if self.aliased {
            write!(f, " aliased")?;
        }
        if self.wide != 0 {
            write!(f, " wide {:#b}", self.wide)?;
        }
        if self.aligned != 0 {
            write!(f, " aligned {:#b}", self.aligned)?;
        }
        Ok(())
    }
}

/// What a launch passes for one parameter, as far as specialization cares.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ArgType {
    Scalar(ScalarType),
    /// An array of `elem` with `ndim` dimensions; `writable` is false for read-only arrays and
    /// shared borrows; `contiguous` when C-contiguous (row-major, no gaps).
    Array {
        elem: ScalarType,
        writable: bool,
        ndim: u8,
        contiguous: bool,
    },
}

impl fmt::Display for ArgType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArgType::Scalar(t) => write!(f, "{t}"),
            ArgType::Array { elem, writable, ndim, .. } => {
                let access = if *writable { "writable" } else { "read-only" };
                write!(f, "{access} {ndim}-D array of {elem}")
            }
        }
    }
}

/// Why a launch's arguments do not fit a kernel's parameters. `param` indexes
/// [`ast::KernelSource::params`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BindError {
    Count {
        expected: usize,
        got: usize,
    },
    /// The argument is of the wrong kind or element type.
    Mismatch {
        param: usize,
        expected: String,
        got: ArgType,
    },
    /// A read-only array was passed for a `&mut [T]` parameter.
    ReadOnly {
        param: usize,
    },
    /// A type parameter was bound to two different types.
    Conflict {
        param: usize,
        generic: String,
        first: ScalarType,
        second: ScalarType,
    },
    /// The type bound to a type parameter does not satisfy its bound.
    Bound {
        param: usize,
        generic: String,
        bound: &'static str,
        got: ScalarType,
    },
    TooManyGenerics,
}

fn type_ref_text(src: &ast::KernelSource, t: &TypeRef) -> String {
    match t {
        TypeRef::Scalar(s) => s.name().to_string(),
        TypeRef::Generic(g) => src.generics.get(*g).map(|g| g.name.clone()).unwrap_or_default(),
        TypeRef::Named(n) => n.clone(),
    }
}

/// The declared type of parameter `p`, in Rust syntax (`&mut [T]`).
pub fn param_text(src: &ast::KernelSource, p: &ast::Param) -> String {
    match &p.kind {
        ParamKind::Scalar(t) => type_ref_text(src, t),
        ParamKind::Slice { elem, mutable, ndim } => {
            let m = if *mutable { "&mut " } else { "&" };
            if *ndim == 1 {
                format!("{m}[{}]", type_ref_text(src, elem))
            } else {
                format!("{m}Array<{}, {ndim}>", type_ref_text(src, elem))
            }
        }
    }
}

/// Matches `args` against the parameters of `src` and binds its type parameters.
/// Allocation-free on success: it runs on every launch.
pub fn bind(src: &ast::KernelSource, args: &[ArgType]) -> Result<SpecKey, BindError> {
    if src.generics.len() > MAX_GENERICS {
        return Err(BindError::TooManyGenerics);
    }
    if args.len() != src.params.len() {
        return Err(BindError::Count { expected: src.params.len(), got: args.len() });
    }
    let mut bound: [Option<ScalarType>; MAX_GENERICS] = [None; MAX_GENERICS];
    let mut strided = 0u32;
    for (i, (p, a)) in src.params.iter().zip(args).enumerate() {
        let (want, got) = match (&p.kind, *a) {
            (ParamKind::Scalar(t), ArgType::Scalar(g)) => (t, g),
            (ParamKind::Slice { elem, mutable, ndim }, ArgType::Array { elem: g, writable, ndim: got_ndim, contiguous }) => {
                if *mutable && !writable {
                    return Err(BindError::ReadOnly { param: i });
                }
                if *ndim != got_ndim {
                    return Err(BindError::Mismatch { param: i, expected: param_text(src, p), got: *a });
                }
                if !contiguous {
                    if i >= 32 {
                        return Err(BindError::TooManyGenerics);
                    }
                    strided |= 1 << i;
                }
                (elem, g)
            }
            _ => return Err(BindError::Mismatch { param: i, expected: param_text(src, p), got: *a }),
        };
        match want {
            TypeRef::Scalar(s) if *s == got => {}
            TypeRef::Scalar(_) | TypeRef::Named(_) => return Err(BindError::Mismatch { param: i, expected: param_text(src, p), got: *a }),
            TypeRef::Generic(g) => {
                let generic = &src.generics[*g];
                if !generic.bound.admits(got) {
                    return Err(BindError::Bound { param: i, generic: generic.name.clone(), bound: generic.bound.name(), got });
                }
                match bound[*g] {
                    None => bound[*g] = Some(got),
                    Some(first) if first == got => {}
                    Some(first) => return Err(BindError::Conflict { param: i, generic: generic.name.clone(), first, second: got }),
                }
            }
        }
    }
    let mut key =
        SpecKey { types: [ScalarType::Bool; MAX_GENERICS], len: src.generics.len() as u8, strided, aliased: false, wide: 0, aligned: 0 };
    for (slot, b) in key.types.iter_mut().zip(bound.iter()).take(src.generics.len()) {
        // A type parameter no parameter mentions cannot be inferred from the arguments; it only
        // matters for casts, where f32 (or i32 for Int bounds) is the natural default.
        *slot = b.unwrap_or(ScalarType::F32);
    }
    for (slot, g) in key.types.iter_mut().zip(&src.generics) {
        if !g.bound.admits(*slot) {
            *slot = ScalarType::I32;
        }
    }
    Ok(key)
}
