//! Operations on several elements at once ([`crate::ast::Stmt::Bulk`]): their names in the
//! kernel language, and the warp-matrix shapes with their fragment layouts.
//!
//! The layouts are the PTX ISA's ("Matrix fragments for mma.m16n8k*", "ldmatrix"): the one
//! definition that the CPU backend runs lane by lane, the documentation states and the tests
//! check against the GPU.

use crate::ast::{BulkKind, CacheHint};
use crate::types::ScalarType;

/// The free functions of [`BulkKind`]s, by their Rust names, with the matrices an `ldmatrix`
/// form loads (PTX `.x1`, `.x2`, `.x4`; 0 for the others).
pub const FUNCTIONS: &[(&str, BulkKind, u32)] = &[
    ("cp_async", BulkKind::CopyAsync, 0),
    ("cp_async_commit", BulkKind::AsyncCommit, 0),
    ("cp_async_wait", BulkKind::AsyncWait, 0),
    ("ldmatrix_x1", BulkKind::LdMatrix, 1),
    ("ldmatrix_x2", BulkKind::LdMatrix, 2),
    ("ldmatrix_x4", BulkKind::LdMatrix, 4),
    ("ldmatrix_x1_trans", BulkKind::LdMatrixTrans, 1),
    ("ldmatrix_x2_trans", BulkKind::LdMatrixTrans, 2),
    ("ldmatrix_x4_trans", BulkKind::LdMatrixTrans, 4),
    ("mma_sync", BulkKind::Mma, 0),
    ("mbarrier_init", BulkKind::BarrierInit, 0),
    ("mbarrier_arrive", BulkKind::BarrierArrive, 0),
    ("mbarrier_arrive_expect_tx", BulkKind::BarrierArriveExpectTx, 0),
    ("mbarrier_wait", BulkKind::BarrierWait, 0),
    ("fence_proxy_async", BulkKind::FenceProxyAsync, 0),
    ("tma_load_2d", BulkKind::TmaLoad, 0),
    ("wgmma_fence", BulkKind::WgmmaFence, 0),
    ("wgmma_commit", BulkKind::WgmmaCommit, 0),
    ("wgmma_wait", BulkKind::WgmmaWait, 0),
    ("wgmma", BulkKind::Wgmma, 0),
];

impl BulkKind {
    /// The array operands and scalar values a statement of this kind has in the source form,
    /// and the values' type.
    pub fn arity(self) -> (usize, usize, ScalarType) {
        let (operands, values) = match self {
            BulkKind::Load => (1, 0),
            BulkKind::Store | BulkKind::CopyAsync | BulkKind::LdMatrix | BulkKind::LdMatrixTrans => (2, 0),
            BulkKind::Mma | BulkKind::Wgmma => (3, 0),
            BulkKind::TmaLoad => (3, 2),
            BulkKind::AsyncCommit | BulkKind::AsyncWait | BulkKind::FenceProxyAsync => (0, 0),
            BulkKind::WgmmaFence | BulkKind::WgmmaCommit | BulkKind::WgmmaWait => (0, 0),
            BulkKind::BarrierArrive => (1, 0),
            BulkKind::BarrierInit | BulkKind::BarrierArriveExpectTx | BulkKind::BarrierWait => (1, 1),
        };
        // TMA's coordinates are i32; a barrier's count, bytes and parity u32.
        (operands, values, if self == BulkKind::TmaLoad { ScalarType::I32 } else { ScalarType::U32 })
    }
}

/// The bulk operation a free function of this name is, and its count (see [`FUNCTIONS`]).
pub fn function(name: &str) -> Option<(BulkKind, u32)> {
    FUNCTIONS.iter().find(|(n, ..)| *n == name).map(|(_, k, c)| (*k, *c))
}

/// The array methods: `x.load::<N>(i)`, `x.store_cs::<N>(i, &v)`, ... (kind and cache hint).
pub fn method(name: &str) -> Option<(BulkKind, CacheHint)> {
    let (kind, rest) = if let Some(r) = name.strip_prefix("load") {
        (BulkKind::Load, r)
    } else if let Some(r) = name.strip_prefix("store") {
        (BulkKind::Store, r)
    } else {
        return None;
    };
    CacheHint::ALL.iter().find(|h| h.suffix() == rest).map(|h| (kind, *h))
}

/// The largest access one vector instruction makes, in bytes.
pub const MAX_VECTOR_BYTES: u64 = 16;

/// Whether `n` elements of `elem` are one vector access: 1, 2, 4, 8 or 16 elements of 2 to 16
/// bytes in all, of integers or floats.
pub fn vector_allowed(elem: ScalarType, n: u64) -> bool {
    let bytes = elem.size_bytes() as u64 * n;
    n.is_power_of_two() && bytes.is_power_of_two() && (2..=MAX_VECTOR_BYTES).contains(&bytes) && (elem.is_int() || elem.is_float())
}

/// The byte sizes `cp_async` copies (PTX `cp.async.{ca,cg}.shared.global`).
pub fn async_copy_allowed(elem: ScalarType, n: u64) -> bool {
    matches!(elem.size_bytes() as u64 * n, 4 | 8 | 16) && elem != ScalarType::Bool
}

/// A warp-level matrix multiply-accumulate shape and its input type (`mma.sync.aligned.m16n8kK`,
/// A row-major, B column-major).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum MmaShape {
    /// m16n8k16, f16 inputs, f32 accumulators.
    F16,
    /// m16n8k16, bf16 inputs, f32 accumulators.
    Bf16,
    /// m16n8k8, tf32 inputs (f32 values, of which the tensor cores use the top 19 bits), f32
    /// accumulators.
    Tf32,
    /// m16n8k32, i8 inputs, i32 accumulators.
    S8,
}

impl MmaShape {
    pub const ALL: &'static [MmaShape] = &[MmaShape::F16, MmaShape::Bf16, MmaShape::Tf32, MmaShape::S8];

    /// The shape that per-thread arrays of these element types and lengths are the fragments
    /// of: `a` and `b` of `input`, `c` of `acc`.
    pub fn of(input: ScalarType, a: u64, b: u64, acc: ScalarType, c: u64) -> Option<MmaShape> {
        let shape = match input {
            ScalarType::F16 => MmaShape::F16,
            ScalarType::BF16 => MmaShape::Bf16,
            ScalarType::F32 => MmaShape::Tf32,
            ScalarType::I8 => MmaShape::S8,
            _ => return None,
        };
        (shape.lens() == [a, b, c] && shape.acc() == acc).then_some(shape)
    }

    /// (M, N, K).
    pub fn mnk(self) -> (usize, usize, usize) {
        match self {
            MmaShape::F16 | MmaShape::Bf16 => (16, 8, 16),
            MmaShape::Tf32 => (16, 8, 8),
            MmaShape::S8 => (16, 8, 32),
        }
    }

    /// The input element type.
    pub fn input(self) -> ScalarType {
        match self {
            MmaShape::F16 => ScalarType::F16,
            MmaShape::Bf16 => ScalarType::BF16,
            MmaShape::Tf32 => ScalarType::F32,
            MmaShape::S8 => ScalarType::I8,
        }
    }

    /// The accumulator element type.
    pub fn acc(self) -> ScalarType {
        match self {
            MmaShape::S8 => ScalarType::I32,
            _ => ScalarType::F32,
        }
    }

    /// Elements a lane holds of A, B and C (M·K/32, K·N/32, M·N/32).
    pub fn lens(self) -> [u64; 3] {
        let (m, n, k) = self.mnk();
        [(m * k / 32) as u64, (k * n / 32) as u64, (m * n / 32) as u64]
    }

    /// The PTX instruction.
    pub fn ptx(self) -> &'static str {
        match self {
            MmaShape::F16 => "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32",
            MmaShape::Bf16 => "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32",
            MmaShape::Tf32 => "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32",
            MmaShape::S8 => "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32",
        }
    }

    /// (row, column) in A (M×K) of element `i` of lane `lane`'s A fragment.
    pub fn a_at(self, lane: usize, i: usize) -> (usize, usize) {
        let (g, t) = (lane / 4, lane % 4);
        match self {
            MmaShape::F16 | MmaShape::Bf16 => (g + 8 * ((i >> 1) & 1), t * 2 + (i & 1) + 8 * (i >> 2)),
            MmaShape::Tf32 => (g + 8 * (i & 1), t + 4 * (i >> 1)),
            MmaShape::S8 => (g + 8 * ((i >> 2) & 1), t * 4 + (i & 3) + 16 * (i >> 3)),
        }
    }

    /// (row, column) in B (K×N) of element `i` of lane `lane`'s B fragment.
    pub fn b_at(self, lane: usize, i: usize) -> (usize, usize) {
        let (g, t) = (lane / 4, lane % 4);
        match self {
            MmaShape::F16 | MmaShape::Bf16 => (t * 2 + (i & 1) + 8 * (i >> 1), g),
            MmaShape::Tf32 => (t + 4 * i, g),
            MmaShape::S8 => (t * 4 + (i & 3) + 16 * (i >> 2), g),
        }
    }

    /// (row, column) in C and D (M×N) of element `i` of lane `lane`'s accumulator fragment.
    pub fn c_at(self, lane: usize, i: usize) -> (usize, usize) {
        (lane / 4 + 8 * (i >> 1), (lane % 4) * 2 + (i & 1))
    }
}

/// `ldmatrix` with a fragment of `len` 16-bit elements: the matrices it loads (x1, x2 or x4 for
/// 2, 4 or 8 elements).
pub fn ldmatrix_count(len: u64) -> Option<u32> {
    match len {
        2 => Some(1),
        4 => Some(2),
        8 => Some(4),
        _ => None,
    }
}

/// `ldmatrix`: fragment element `e` of lane `lane` is (matrix, row, column) of the 8×8 matrices
/// the lanes' addresses give (matrix j's row r starts at the address of lane 8j + r); `.trans`
/// swaps row and column.
pub fn ldmatrix_at(lane: usize, e: usize, trans: bool) -> (usize, usize, usize) {
    let (matrix, row, col) = (e / 2, lane / 4, (lane % 4) * 2 + (e & 1));
    if trans {
        (matrix, col, row)
    } else {
        (matrix, row, col)
    }
}

/// The swizzle of Hopper's shared-memory tiles (TMA's `CU_TENSOR_MAP_SWIZZLE_*`, `wgmma`'s
/// descriptor modes): where the byte at `offset` of a tile lands. The tile starts at a
/// 1024-byte boundary and its rows are `bytes` (32, 64 or 128) long; each 16-byte chunk of a
/// row moves to chunk `chunk ^ (row % (bytes / 16))` (CUTLASS's `Swizzle<B, 4, 3>`). 0: none.
pub fn swizzle(offset: u64, bytes: u32) -> u64 {
    let mask = match bytes {
        32 => 1,
        64 => 3,
        128 => 7,
        _ => return offset,
    };
    offset ^ (((offset >> 7) & mask) << 4)
}

/// The swizzles a tensor map and `wgmma` use: none, 32, 64 or 128 bytes.
pub const SWIZZLES: &[u32] = &[0, 32, 64, 128];

/// The layout of `wgmma`'s operands in shared memory (both K-major, 128-byte swizzle: what a
/// [`swizzle`]d TMA box of 128-byte rows holds): byte `byte` (below 32: one K step) of row
/// `row` of a tile (A: 64 rows; B: N rows, Bᵀ stored) is at this byte offset from the tile's
/// first element. Rows are 128 bytes apart in groups of 8, the groups 1024 bytes apart; the
/// swizzle applies to the offset from the 1024-byte boundary at or below the first element
/// (`base`, its offset from that boundary: 0, 32, 64 or 96 for the four K steps of a slice).
pub fn wgmma_offset(base: u64, row: usize, byte: usize) -> u64 {
    let plain = base + (row / 8) as u64 * 1024 + (row % 8) as u64 * 128 + byte as u64;
    swizzle(plain, 128)
}

/// The input types of `wgmma` (by their `mma_sync` shapes' names): K of one instruction is 32
/// bytes of them (16 f16 or bf16, 8 tf32, 32 i8); f32 accumulators, i32 for i8.
pub fn wgmma_input(elem: ScalarType) -> Option<MmaShape> {
    match elem {
        ScalarType::BF16 => Some(MmaShape::Bf16),
        ScalarType::F16 => Some(MmaShape::F16),
        ScalarType::F32 => Some(MmaShape::Tf32),
        ScalarType::I8 => Some(MmaShape::S8),
        _ => None,
    }
}

impl MmaShape {
    /// K of one `wgmma` of these inputs (32 bytes of them).
    pub fn wgmma_k(self) -> usize {
        32 / self.input().size_bytes()
    }

    /// The PTX of a `wgmma` of these inputs for N: the instruction and the arguments after
    /// the descriptors and the scale of D (A's and B's scales, and for 16-bit inputs their
    /// transposes: none).
    pub fn wgmma_ptx(self, n: u32) -> (String, &'static str) {
        match self {
            MmaShape::Bf16 => (format!("wgmma.mma_async.sync.aligned.m64n{n}k16.f32.bf16.bf16"), ", 1, 1, 0, 0"),
            MmaShape::F16 => (format!("wgmma.mma_async.sync.aligned.m64n{n}k16.f32.f16.f16"), ", 1, 1, 0, 0"),
            MmaShape::Tf32 => (format!("wgmma.mma_async.sync.aligned.m64n{n}k8.f32.tf32.tf32"), ", 1, 1"),
            MmaShape::S8 => (format!("wgmma.mma_async.sync.aligned.m64n{n}k32.s32.s8.s8"), ""),
        }
    }

    /// The IR text's name of the input type.
    pub fn input_name(self) -> &'static str {
        match self {
            MmaShape::Bf16 => "bf16",
            MmaShape::F16 => "f16",
            MmaShape::Tf32 => "tf32",
            MmaShape::S8 => "s8",
        }
    }
}

/// The N of `wgmma`'s m64nNk16 for an accumulator of `len` f32 a thread (N / 2 of them): 8 to
/// 256 in steps of 8.
pub fn wgmma_n(len: u64) -> Option<u32> {
    let n = 2 * len;
    (n % 8 == 0 && (8..=256).contains(&n)).then_some(n as u32)
}

/// (row, column) in D (64×N) of accumulator element `i` of thread `t` (0 to 127) of the
/// warpgroup: warp `t / 32` holds rows 16w..16w + 16, laid out as `mma_sync`'s m16n8
/// accumulators side by side (`acc[4j..4j + 4]` columns 8j..8j + 8).
pub fn wgmma_d_at(t: usize, i: usize) -> (usize, usize) {
    let (warp, lane) = (t / 32, t % 32);
    let (j, e) = (i / 4, i % 4);
    (16 * warp + lane / 4 + 8 * (e >> 1), 8 * j + (lane % 4) * 2 + (e & 1))
}

/// The CPU backend's tensor map: 16 words, as `TensorMap` builds them (the GPU's are the
/// driver's opaque 128 bytes).
pub mod tensor_map {
    /// Word 0 of a CPU tensor map.
    pub const MAGIC: u64 = 0x6770_756a_6974_746d;
    /// The words: magic, data address, element bytes, columns, rows, row pitch (bytes), box
    /// columns, box rows, swizzle bytes.
    pub const ADDRESS: usize = 1;
    pub const ELEM_BYTES: usize = 2;
    pub const COLS: usize = 3;
    pub const ROWS: usize = 4;
    pub const PITCH: usize = 5;
    pub const BOX_COLS: usize = 6;
    pub const BOX_ROWS: usize = 7;
    pub const SWIZZLE: usize = 8;
    /// Words in a map (128 bytes, the driver's `CUtensorMap`).
    pub const WORDS: usize = 16;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every element of each matrix is held by exactly one (lane, element) of its fragments.
    #[test]
    fn fragments_cover_each_matrix_once() {
        for &s in MmaShape::ALL {
            let (m, n, k) = s.mnk();
            let [la, lb, lc] = s.lens().map(|l| l as usize);
            let mut seen = [vec![0u8; m * k], vec![0u8; k * n], vec![0u8; m * n]];
            for lane in 0..32 {
                (0..la).for_each(|i| seen[0][s.a_at(lane, i).0 * k + s.a_at(lane, i).1] += 1);
                (0..lb).for_each(|i| seen[1][s.b_at(lane, i).0 * n + s.b_at(lane, i).1] += 1);
                (0..lc).for_each(|i| seen[2][s.c_at(lane, i).0 * n + s.c_at(lane, i).1] += 1);
            }
            assert!(seen.iter().all(|v| v.iter().all(|&c| c == 1)), "{s:?}");
            assert_eq!(MmaShape::of(s.input(), la as u64, lb as u64, s.acc(), lc as u64), Some(s));
        }
        assert_eq!(MmaShape::of(ScalarType::BF16, 8, 4, ScalarType::F64, 4), None);
    }

    /// The accumulator layout covers D once; the swizzle permutes 16-byte chunks within each
    /// 1024-byte block.
    #[test]
    fn wgmma_layouts() {
        for n in [8usize, 64, 256] {
            let mut seen = vec![0u8; 64 * n];
            for t in 0..128 {
                for i in 0..n / 2 {
                    let (r, c) = wgmma_d_at(t, i);
                    seen[r * n + c] += 1;
                }
            }
            assert!(seen.iter().all(|&c| c == 1), "{n}");
        }
        assert_eq!(wgmma_n(128), Some(256));
        assert_eq!(wgmma_n(3), None);
        for bytes in [32u32, 64, 128] {
            let mut seen = vec![false; 1024];
            for o in (0..1024).step_by(16) {
                let s = swizzle(o, bytes);
                assert!(s < 1024 && !seen[s as usize]);
                seen[s as usize] = true;
            }
        }
        // Row 1's first chunk is chunk 1; row 0 stays.
        assert_eq!(swizzle(128, 128), 128 + 16);
        assert_eq!(swizzle(16, 128), 16);
        assert_eq!(wgmma_offset(32, 9, 6), swizzle(32 + 1024 + 128 + 6, 128));
        assert_eq!([MmaShape::Bf16.wgmma_k(), MmaShape::Tf32.wgmma_k(), MmaShape::S8.wgmma_k()], [16, 8, 32]);
    }

    #[test]
    fn names() {
        assert_eq!(method("load_cs"), Some((BulkKind::Load, CacheHint::Streaming)));
        assert_eq!(method("store"), Some((BulkKind::Store, CacheHint::Default)));
        assert_eq!(method("loader"), None);
        assert_eq!(function("mma_sync"), Some((BulkKind::Mma, 0)));
        assert_eq!(function("ldmatrix_x2_trans"), Some((BulkKind::LdMatrixTrans, 2)));
        assert!(vector_allowed(ScalarType::F32, 4) && !vector_allowed(ScalarType::F32, 8) && !vector_allowed(ScalarType::U8, 1));
        assert!(vector_allowed(ScalarType::BF16, 8) && vector_allowed(ScalarType::F64, 2) && !vector_allowed(ScalarType::F32, 3));
    }
}
