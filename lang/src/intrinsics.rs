//! The table of the functions a kernel may call, by their Rust names, with their signatures.
//!
//! It is the one definition the whole pipeline reads:
//! - `#[gpu_kernel]` recognizes calls by looking names up here ([`intrinsic`]) and checks their
//!   arity against [`Def::params`];
//! - the specializer and the verifier type collectives and atomics from [`Def::params`] and
//!   [`Def::ret`] (through [`Collective::operands`] and friends);
//! - the facade checks its host stand-ins (`gpujit::kernel_prelude`) against every entry when
//!   gpujit is built (`gpujit_macros::__check_kernel_prelude!`).
//!
//! Math methods (`x.sqrt()`) have their own table, [`crate::math::MathFn`].

use crate::ast::{AtomicOp, Builtin, Collective, Dim, FenceScope, GenericBound};
use crate::types::ScalarType;

/// A parameter or result in an intrinsic's signature.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Arg {
    /// The value type `T` the call is generic over; [`Def::value`] bounds it.
    Value,
    /// A fixed scalar type (`usize` is [`ScalarType::U64`]).
    Of(ScalarType),
    /// The array an atomic updates: a `&mut [T]` parameter or a shared array of `T`.
    Array,
    /// The literal 1, 2 or 3: a number of grid axes (`grid(2)`).
    Axes,
}

impl Arg {
    /// The fixed type, or `None` for the value type `T` (and for arrays and axis counts).
    pub fn fixed(self) -> Option<ScalarType> {
        match self {
            Arg::Of(t) => Some(t),
            _ => None,
        }
    }
}

/// What a call of the intrinsic is in the source form.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Intrinsic {
    /// A value of the thread geometry (`thread_idx_x()`, `lane_id()`).
    Builtin(Builtin),
    /// `grid(n)` or `grid_size(n)`: one value per axis (`let (x, y) = grid(2);`).
    PerAxis(PerAxis),
    /// A warp or block collective.
    Collective(Collective),
    /// An atomic read-modify-write of an array element.
    Atomic(AtomicOp),
    /// `sync_threads()`: the statement `Stmt::Barrier`.
    Barrier,
    /// `grid_sync()`: the statement `Stmt::GridBarrier`.
    GridBarrier,
    /// `threadfence*()`: the statement `Stmt::Fence`.
    Fence(FenceScope),
    /// `shared_array::<T, N>()` (1 size), `shared_array_2d::<T, R, C>()` (2),
    /// `dynamic_shared::<T>()` (0): the statement `Stmt::Shared` as a `let` initializer.
    SharedArray { sizes: usize },
    /// `local_array::<T, N>()`: the statement `Stmt::Local` as a `let` initializer.
    LocalArray,
}

/// The intrinsics that give one value per grid axis.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum PerAxis {
    Grid,
    GridSize,
}

impl PerAxis {
    /// The value along axis `d`.
    pub fn at(self, d: Dim) -> Builtin {
        match self {
            PerAxis::Grid => Builtin::Grid(d),
            PerAxis::GridSize => Builtin::GridSize(d),
        }
    }
}

/// One intrinsic: its name, what it is, and its signature.
#[derive(Copy, Clone, Debug)]
pub struct Def {
    /// The Rust name (`shfl_sync`).
    pub name: &'static str,
    pub intrinsic: Intrinsic,
    /// The parameters, in order.
    pub params: &'static [Arg],
    /// The result; `None` for a statement (it gives `()`).
    pub ret: Option<Arg>,
    /// The types [`Arg::Value`] may take (rustc's bound on the stand-in's `T`).
    pub value: GenericBound,
}

impl Def {
    /// Whether a call of it is a statement (barriers, fences, array declarations).
    pub fn is_statement(&self) -> bool {
        self.ret.is_none()
    }
}

use Arg::*;
use GenericBound as B;
use ScalarType::{Bool, I32, U32, U64};

const fn def(name: &'static str, intrinsic: Intrinsic, params: &'static [Arg], ret: Option<Arg>, value: GenericBound) -> Def {
    Def { name, intrinsic, params, ret, value }
}
const fn geometry(name: &'static str, b: Builtin) -> Def {
    def(name, Intrinsic::Builtin(b), &[], Some(Of(U64)), B::Scalar)
}
const fn collective(name: &'static str, c: Collective, params: &'static [Arg], ret: Arg, value: GenericBound) -> Def {
    def(name, Intrinsic::Collective(c), params, Some(ret), value)
}
const fn atomic(name: &'static str, op: AtomicOp, params: &'static [Arg], value: GenericBound) -> Def {
    def(name, Intrinsic::Atomic(op), params, Some(Value), value)
}
const fn statement(name: &'static str, i: Intrinsic) -> Def {
    def(name, i, &[], None, B::Scalar)
}

const SHUFFLE: &[Arg] = &[Of(U32), Value, Of(U64)];
const VOTE: &[Arg] = &[Of(U32), Of(Bool)];
const RMW: &[Arg] = &[Array, Of(U64), Value];

/// Every intrinsic function of the kernel language.
pub const INTRINSICS: &[Def] = &[
    geometry("thread_idx_x", Builtin::ThreadIdx(Dim::X)),
    geometry("thread_idx_y", Builtin::ThreadIdx(Dim::Y)),
    geometry("thread_idx_z", Builtin::ThreadIdx(Dim::Z)),
    geometry("block_idx_x", Builtin::BlockIdx(Dim::X)),
    geometry("block_idx_y", Builtin::BlockIdx(Dim::Y)),
    geometry("block_idx_z", Builtin::BlockIdx(Dim::Z)),
    geometry("block_dim_x", Builtin::BlockDim(Dim::X)),
    geometry("block_dim_y", Builtin::BlockDim(Dim::Y)),
    geometry("block_dim_z", Builtin::BlockDim(Dim::Z)),
    geometry("grid_dim_x", Builtin::GridDim(Dim::X)),
    geometry("grid_dim_y", Builtin::GridDim(Dim::Y)),
    geometry("grid_dim_z", Builtin::GridDim(Dim::Z)),
    geometry("lane_id", Builtin::LaneId),
    geometry("warp_size", Builtin::WarpSize),
    def("grid", Intrinsic::PerAxis(PerAxis::Grid), &[Axes], Some(Of(U64)), B::Scalar),
    def("grid_size", Intrinsic::PerAxis(PerAxis::GridSize), &[Axes], Some(Of(U64)), B::Scalar),
    collective_def(Collective::ShflIdx),
    collective_def(Collective::ShflUp),
    collective_def(Collective::ShflDown),
    collective_def(Collective::ShflXor),
    collective_def(Collective::Ballot),
    collective_def(Collective::Any),
    collective_def(Collective::All),
    collective_def(Collective::ActiveMask),
    collective_def(Collective::MatchAny),
    collective_def(Collective::SyncWarp),
    collective_def(Collective::SyncThreadsCount),
    collective_def(Collective::SyncThreadsAnd),
    collective_def(Collective::SyncThreadsOr),
    atomic_def(AtomicOp::Add),
    atomic_def(AtomicOp::Sub),
    atomic_def(AtomicOp::Min),
    atomic_def(AtomicOp::Max),
    atomic_def(AtomicOp::And),
    atomic_def(AtomicOp::Or),
    atomic_def(AtomicOp::Xor),
    atomic_def(AtomicOp::Exch),
    atomic_def(AtomicOp::Cas),
    statement("sync_threads", Intrinsic::Barrier),
    statement("grid_sync", Intrinsic::GridBarrier),
    statement("threadfence_block", Intrinsic::Fence(FenceScope::Block)),
    statement("threadfence", Intrinsic::Fence(FenceScope::Device)),
    statement("threadfence_system", Intrinsic::Fence(FenceScope::System)),
    statement("shared_array", Intrinsic::SharedArray { sizes: 1 }),
    statement("shared_array_2d", Intrinsic::SharedArray { sizes: 2 }),
    statement("dynamic_shared", Intrinsic::SharedArray { sizes: 0 }),
    statement("local_array", Intrinsic::LocalArray),
];

/// The intrinsic of this Rust name.
pub fn intrinsic(name: &str) -> Option<&'static Def> {
    INTRINSICS.iter().find(|d| d.name == name)
}

/// The table entry of a collective: one per variant, by an exhaustive match (a new collective
/// has no entry until it is written here, and [`INTRINSICS`] lists this same entry).
pub const fn collective_def(c: Collective) -> Def {
    match c {
        Collective::ShflIdx => collective("shfl_sync", Collective::ShflIdx, SHUFFLE, Value, B::Scalar),
        Collective::ShflUp => collective("shfl_up_sync", Collective::ShflUp, SHUFFLE, Value, B::Scalar),
        Collective::ShflDown => collective("shfl_down_sync", Collective::ShflDown, SHUFFLE, Value, B::Scalar),
        Collective::ShflXor => collective("shfl_xor_sync", Collective::ShflXor, SHUFFLE, Value, B::Scalar),
        Collective::Ballot => collective("ballot_sync", Collective::Ballot, VOTE, Of(U32), B::Scalar),
        Collective::Any => collective("any_sync", Collective::Any, VOTE, Of(Bool), B::Scalar),
        Collective::All => collective("all_sync", Collective::All, VOTE, Of(Bool), B::Scalar),
        Collective::ActiveMask => collective("active_mask", Collective::ActiveMask, &[], Of(U32), B::Scalar),
        Collective::MatchAny => collective("match_any_sync", Collective::MatchAny, &[Of(U32), Value], Of(U32), B::Int),
        Collective::SyncWarp => collective("sync_warp", Collective::SyncWarp, &[Of(U32)], Of(U32), B::Scalar),
        Collective::SyncThreadsCount => collective("sync_threads_count", Collective::SyncThreadsCount, &[Of(Bool)], Of(I32), B::Scalar),
        Collective::SyncThreadsAnd => collective("sync_threads_and", Collective::SyncThreadsAnd, &[Of(Bool)], Of(Bool), B::Scalar),
        Collective::SyncThreadsOr => collective("sync_threads_or", Collective::SyncThreadsOr, &[Of(Bool)], Of(Bool), B::Scalar),
    }
}

/// The table entry of an atomic (as [`collective_def`]).
pub const fn atomic_def(op: AtomicOp) -> Def {
    match op {
        AtomicOp::Add => atomic("atomic_add", AtomicOp::Add, RMW, B::Number),
        AtomicOp::Sub => atomic("atomic_sub", AtomicOp::Sub, RMW, B::Number),
        AtomicOp::Min => atomic("atomic_min", AtomicOp::Min, RMW, B::Number),
        AtomicOp::Max => atomic("atomic_max", AtomicOp::Max, RMW, B::Number),
        AtomicOp::And => atomic("atomic_and", AtomicOp::And, RMW, B::Int),
        AtomicOp::Or => atomic("atomic_or", AtomicOp::Or, RMW, B::Int),
        AtomicOp::Xor => atomic("atomic_xor", AtomicOp::Xor, RMW, B::Int),
        AtomicOp::Exch => atomic("atomic_exch", AtomicOp::Exch, RMW, B::Number),
        AtomicOp::Cas => atomic("atomic_cas", AtomicOp::Cas, &[Array, Of(U64), Value, Value], B::Number),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_collective_and_atomic_has_one_entry() {
        for &c in Collective::ALL {
            let n = INTRINSICS.iter().filter(|d| d.intrinsic == Intrinsic::Collective(c)).count();
            assert_eq!(n, 1, "{c:?}");
            assert_eq!(collective_def(c).intrinsic, Intrinsic::Collective(c));
        }
        for &op in AtomicOp::ALL {
            let n = INTRINSICS.iter().filter(|d| d.intrinsic == Intrinsic::Atomic(op)).count();
            assert_eq!(n, 1, "{op:?}");
            assert_eq!(atomic_def(op).intrinsic, Intrinsic::Atomic(op));
        }
    }

    #[test]
    fn names_are_unique_and_found() {
        for (i, d) in INTRINSICS.iter().enumerate() {
            assert!(INTRINSICS[..i].iter().all(|e| e.name != d.name), "{} twice", d.name);
            assert_eq!(intrinsic(d.name).map(|e| e.name), Some(d.name));
        }
        assert!(intrinsic("printf").is_none());
    }

    #[test]
    fn every_geometry_value_is_named() {
        for d in [Dim::X, Dim::Y, Dim::Z] {
            for b in [Builtin::ThreadIdx(d), Builtin::BlockIdx(d), Builtin::BlockDim(d), Builtin::GridDim(d)] {
                let def = intrinsic(&b.name()).expect("a geometry intrinsic per axis");
                assert_eq!(def.intrinsic, Intrinsic::Builtin(b));
            }
        }
    }
}
