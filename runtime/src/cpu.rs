//! The CPU backend: runs a JIT-compiled host kernel over the whole grid with CUDA's semantics.
//!
//! Blocks are split into contiguous ranges, one per worker thread (`GPUJIT_CPU_THREADS`, default
//! the number of cores; the threads are a pool kept for the process). Each worker owns a buffer for its block's shared memory. A kernel without
//! barriers runs each block's threads one after another in compiled code; one that is a
//! grid-stride loop over independent elements runs, on a 1-D launch, a contiguous chunk of its
//! elements a worker (`gpujit_codegen::lower::flat`). A kernel whose threads meet runs a block in
//! lockstep (`gpujit_codegen::lower::lockstep`), or, where lockstep cannot express it, each
//! block's threads as fibers (stackful coroutines): the barrier suspends the calling fiber, and
//! once every thread of the block has reached it (or finished), all resume. Launches are synchronous: when `launch` returns, the kernel has finished. Every
//! array access is bounds-checked; the first out-of-range access is reported after the launch.

use corosensei::stack::DefaultStack;
use corosensei::{Coroutine, CoroutineResult, Yielder};
use gpujit_codegen::contract::OobRecord;
use gpujit_codegen::host::{HostCode, HostCtx};
use std::ffi::c_void;

/// Host memory of CPU-backend arrays is written by launches (under `&mut` borrows) and by graph
/// replays (which hold no borrows). A replay takes this lock for writing; launches and copies
/// take it for reading, so a replay never overlaps another use of host memory, as stream order
/// keeps a GPU's graph launches apart from other work.
static HOST_MEMORY: std::sync::RwLock<()> = std::sync::RwLock::new(());

pub(crate) fn host_memory_read() -> std::sync::RwLockReadGuard<'static, ()> {
    HOST_MEMORY.read().unwrap_or_else(|p| p.into_inner())
}

pub(crate) fn host_memory_write() -> std::sync::RwLockWriteGuard<'static, ()> {
    HOST_MEMORY.write().unwrap_or_else(|p| p.into_inner())
}

thread_local! {
    /// The lockstep frame of the launches this OS thread runs (see `KernelMetadata::lockstep_frame`).
    static FRAME: std::cell::RefCell<Vec<u128>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Launches below this many threads in all run on the calling thread alone.
const INLINE_THREADS: u64 = 1 << 14;

/// Stack of one fiber: kernel code keeps its locals in registers and small frames.
const FIBER_STACK: usize = 64 * 1024;

/// The CPU backend's worker threads.
pub(crate) fn worker_count() -> usize {
    workers()
}

fn workers() -> usize {
    static N: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *N.get_or_init(|| {
        std::env::var("GPUJIT_CPU_THREADS")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|n| *n > 0)
            .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1))
    })
}

/// The threads that run a launch's chunks of blocks (`workers()` of them), made at the first
/// launch that needs them and kept for the process: a launch wakes them rather than starting
/// threads (tens of microseconds each), and each keeps its lockstep frame and fiber stacks from
/// launch to launch. `None` if the threads could not be made.
fn pool() -> Option<&'static rayon::ThreadPool> {
    static POOL: std::sync::OnceLock<Option<rayon::ThreadPool>> = std::sync::OnceLock::new();
    POOL.get_or_init(|| rayon::ThreadPoolBuilder::new().num_threads(workers()).thread_name(|i| format!("gpujit-cpu-{i}")).build().ok())
        .as_ref()
}

/// Why a CPU launch could not run.
#[derive(Debug)]
pub(crate) enum CpuError {
    /// A fiber stack could not be allocated.
    Stack(String),
    /// A cooperative grid larger than the CPU backend runs at once.
    TooLarge(String),
    /// The threads of a block wait for one another forever.
    Deadlock(String),
    /// The compiled code lacks what this launch needs (a defect of gpujit, not of the kernel).
    Internal(String),
}

/// The most threads a cooperative launch (a kernel calling `grid_sync()`) may have on the CPU
/// backend, which runs them all at once as fibers.
pub(crate) const MAX_COOPERATIVE_THREADS: u64 = 8192;

type Record = [u64; OobRecord::WORDS];

/// A chunk's record area: the fault record, then (for a kernel that prints) the print buffer,
/// its cursor and [`gpujit_codegen::limits::PRINT_WORDS`] words. Kernels that do not print take
/// no allocation.
enum Area {
    Record(Record),
    Printing(Vec<u64>),
}

impl Area {
    fn new(prints: bool) -> Area {
        if prints {
            Area::Printing(vec![0; OobRecord::WORDS + 1 + gpujit_codegen::limits::PRINT_WORDS])
        } else {
            Area::Record([0; OobRecord::WORDS])
        }
    }

    fn as_mut_ptr(&mut self) -> *mut u64 {
        match self {
            Area::Record(r) => r.as_mut_ptr(),
            Area::Printing(v) => v.as_mut_ptr(),
        }
    }

    fn record(&self) -> Option<OobRecord> {
        match self {
            Area::Record(r) => OobRecord::decode(r),
            Area::Printing(v) => v.get(..OobRecord::WORDS).and_then(|w| <&Record>::try_from(w).ok()).and_then(OobRecord::decode),
        }
    }

    /// Writes the chunk's prints.
    fn emit_prints(&self, meta: &gpujit_codegen::contract::KernelMetadata) {
        if let Area::Printing(v) = self {
            let reserved = v[OobRecord::WORDS];
            let words = &v[OobRecord::WORDS + 1..];
            crate::print::emit(meta, reserved, &words[..(reserved as usize).min(words.len())]);
        }
    }
}

/// Runs `code` over `grid` × `block` with the packed argument slots `args` and
/// `dynamic_shared_bytes` of dynamic shared memory a block.
///
/// # Safety
/// `code` must be compiled for a kernel whose parameters match the slots in `args` (array data
/// pointers valid for their lengths, writable where the kernel writes).
pub(crate) unsafe fn launch(
    code: &HostCode,
    args: &[u64],
    grid: [u32; 3],
    block: [u32; 3],
    dynamic_shared_bytes: u64,
) -> Result<Option<OobRecord>, CpuError> {
    let blocks = grid.iter().map(|&g| g as u64).product::<u64>();
    let threads_per_block = block.iter().map(|&b| b as u64).product::<u64>();
    let shared_bytes = code.meta().static_shared_bytes + dynamic_shared_bytes;
    let n = workers() as u64;
    if code.meta().cooperative && blocks * threads_per_block > MAX_COOPERATIVE_THREADS {
        return Err(CpuError::TooLarge(format!(
            "a kernel calling grid_sync() runs every thread of its grid at once; the CPU backend takes at most {MAX_COOPERATIVE_THREADS} threads, this grid has {}",
            blocks * threads_per_block
        )));
    }
    let prints = !code.meta().prints.is_empty();
    let run = |first: u64, end: u64| -> Result<Area, CpuError> {
        let mut record = Area::new(prints);
        if code.meta().uses_barrier && code.meta().lockstep_frame.is_none() {
            // SAFETY: forwarded from the caller.
            unsafe { run_fibers(code, args, grid, block, first, end, shared_bytes, dynamic_shared_bytes, &mut record)? };
        } else {
            // 16-byte aligned, as the shared layout assumes.
            let mut shared = vec![0u128; shared_bytes.div_ceil(16) as usize];
            // A kernel run in lockstep keeps its threads' locals and masks in a frame: the
            // bytes it asks a thread, for every thread of a block (16-byte aligned).
            // It is this OS thread's, kept from launch to launch (a launch allocates nothing).
            // Padded before and after (`LOCKSTEP_FRAME_PAD`).
            let pad = gpujit_codegen::contract::LOCKSTEP_FRAME_PAD;
            let frame_bytes = code.meta().lockstep_frame.map_or(0, |b| b * threads_per_block + 2 * pad);
            let mut frame = FRAME.with(|f| std::mem::take(&mut *f.borrow_mut()));
            if frame.len() < frame_bytes.div_ceil(16) as usize {
                frame.resize(frame_bytes.div_ceil(16) as usize, 0);
            }
            let start = if code.meta().lockstep_frame.is_some() { (pad / 16) as usize } else { 0 };
            let dims = [grid[0], grid[1], grid[2], block[0], block[1], block[2]];
            // SAFETY: the caller guarantees that the code matches args; dims, the record, the
            // shared buffer and the frame are live arrays of the sizes the entry reads and
            // writes; [first, end) lies within the grid.
            // (It returns whether the flat function ran these blocks, which changes nothing here.)
            let _ran_flat = unsafe {
                (code.entry())(
                    args.as_ptr(),
                    dims.as_ptr(),
                    first,
                    end,
                    record.as_mut_ptr(),
                    shared.as_mut_ptr() as *mut u8,
                    dynamic_shared_bytes,
                    frame.as_mut_ptr().wrapping_add(start) as *mut u8,
                )
            };
            FRAME.with(|f| *f.borrow_mut() = frame);
        }
        Ok(record)
    };
    let together = code.meta().cooperative;
    let mut first_oob = None;
    let mut note = |r: Area| {
        // Each chunk's prints, in block order.
        r.emit_prints(code.meta());
        if first_oob.is_none() {
            first_oob = r.record();
        }
    };
    // A kernel run in lockstep or flat may loop over many elements a thread (a grid-stride
    // loop): with a large array argument, its blocks go to the workers however few threads
    // they have.
    let loops = code.meta().lockstep_frame.is_some() || code.meta().flat;
    let small = blocks * threads_per_block < INLINE_THREADS && (!loops || largest_array(code, args) < INLINE_THREADS * 16);
    if together || n <= 1 || blocks < 2 || small {
        // On the calling thread, allocating nothing (unless the kernel has shared memory).
        note(run(0, blocks)?);
    } else {
        // A worker only calls JIT code and the fiber scheduler, neither of which panics; a
        // panic would be a bug and is reported as a missing record.
        let guarded = |first: u64, end: u64| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(first, end)))
                .unwrap_or_else(|_| Err(CpuError::Stack("a worker thread panicked".into())))
        };
        // Worker w of k runs the w-th of k contiguous chunks of blocks.
        let chunk = |w: u64, k: u64| (w * blocks.div_ceil(k), ((w + 1) * blocks.div_ceil(k)).min(blocks));
        let records: Vec<Result<Area, CpuError>> = match pool() {
            Some(pool) => pool
                .broadcast(|w| {
                    let (first, end) = chunk(w.index() as u64, w.num_threads() as u64);
                    (first < end).then(|| guarded(first, end))
                })
                .into_iter()
                .flatten()
                .collect(),
            // Without a pool (its threads could not be made): threads for this launch alone.
            None => std::thread::scope(|s| {
                let handles: Vec<_> =
                    (1..n).map(|w| chunk(w, n)).filter(|(a, b)| a < b).map(|(a, b)| s.spawn(move || guarded(a, b))).collect();
                let (first, end) = chunk(0, n);
                let mut out = vec![guarded(first, end)];
                out.extend(
                    handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err(CpuError::Stack("a worker thread panicked".into())))),
                );
                out
            }),
        };
        for r in records {
            note(r?);
        }
    }
    Ok(first_oob)
}

/// The most elements an array argument of a launch has.
fn largest_array(code: &HostCode, args: &[u64]) -> u64 {
    use gpujit_codegen::contract::ParamSlots;
    let mut most = 0;
    for p in code.meta().layout.params() {
        if let ParamSlots::Array { word, ndim } = *p {
            let extents = args.get(word + 1..word + 1 + ndim as usize).unwrap_or(&[]);
            most = most.max(extents.iter().fold(1u64, |n, e| n.saturating_mul(*e)));
        }
    }
    most
}

/// What a thread's context points to (`HostCtx::fiber`) while it runs as a fiber.
struct FiberSlot {
    yielder: *const Yielder<(), ()>,
    block: *mut BlockState,
    grid: *mut GridState,
    thread: usize,
}

/// The exchange area of a block's collectives: one value a thread, and which threads finished.
struct BlockState {
    values: Vec<u64>,
    done: Vec<bool>,
    /// The warp-matrix operation each thread is in (its code; 0: none), so that a lane elsewhere
    /// (diverged, at another collective) is not read as a partner.
    matrix: Vec<u64>,
    /// `sync_threads()`: the threads arrived in this generation, and the live ones (not
    /// finished), as the grid barrier counts them; a thread waiting on an `mbarrier` meanwhile
    /// suspends round after round without arriving.
    arrived: usize,
    generation: u64,
    live: usize,
    /// The block's shared memory (1024-byte aligned), which the Hopper operations check their
    /// accesses against.
    shared: (*mut u8, usize),
}

/// Suspends the fiber running `ctx`'s thread until the next round.
///
/// # Safety
/// `ctx` must be the context of a thread running as a fiber (its `fiber` set by `run_fibers`).
unsafe fn suspend(ctx: *mut HostCtx) {
    // SAFETY: run_fibers points `fiber` at this thread's FiberSlot, whose Yielder belongs to the
    // coroutine running now and lives while it runs.
    unsafe {
        let slot = (*ctx).fiber as *const FiberSlot;
        (*(*slot).yielder).suspend(());
    }
}

/// The barrier callback the kernel calls through its context: counts the arrival and suspends
/// the calling fiber (round after round) until every live thread of the block has arrived.
/// Every thread suspends at least once, so threads that meet at each barrier stay in step.
unsafe extern "C" fn fiber_barrier(ctx: *mut HostCtx) {
    // SAFETY: only fibers have this callback in their context; the block state outlives them
    // and they run one at a time on one OS thread.
    unsafe {
        let slot = (*ctx).fiber as *const FiberSlot;
        let block = (*slot).block;
        let mine = (*block).generation;
        (*block).arrived += 1;
        if (*block).arrived >= (*block).live {
            (*block).arrived = 0;
            (*block).generation += 1;
        }
        suspend(ctx);
        while std::ptr::read_volatile(&(*block).generation) == mine {
            if !spin(ctx) {
                break;
            }
        }
    }
}

/// Hopper's operations (`mbarrier_*`, `tma_load_2d`, `wgmma`), for the thread running `ctx`.
unsafe extern "C" fn fiber_hopper(ctx: *mut HostCtx, code: u64, ops: *const *mut u8) {
    // SAFETY: only fibers have this callback; the block state outlives them.
    unsafe {
        let slot = (*ctx).fiber as *const FiberSlot;
        let (block, t) = ((*slot).block, (*slot).thread);
        let shared = (*block).shared;
        let mut first = true;
        crate::hopper::run(code, ops, t, shared, &mut || {
            if std::mem::take(&mut first) {
                suspend(ctx);
                true
            } else {
                spin(ctx)
            }
        });
    }
}

/// The collective callback: publish this thread's value, wait for the round in which every
/// thread of the warp (or block) has published, compute the result from the published values,
/// and wait once more so that no value is overwritten before all have read. Lanes that have
/// finished, or lie past the end of a partial warp, do not take part.
unsafe extern "C" fn fiber_collective(ctx: *mut HostCtx, op: u32, value: u64, arg: u64, mask: u32) -> u64 {
    use gpujit_codegen::ast::Collective as C;
    // SAFETY: only fibers have this callback; their slot and block state outlive the block's
    // fibers, which run one at a time on one OS thread, so these accesses never overlap.
    unsafe {
        let slot = (*ctx).fiber as *const FiberSlot;
        let (block, t) = ((*slot).block, (*slot).thread);
        (&mut *block).values[t] = value;
        suspend(ctx);
        let st = &*block;
        let op = C::ALL.get(op as usize).copied().unwrap_or(C::SyncWarp);
        let (base, lane) = (t / 32 * 32, (t % 32) as u64);
        let live = |l: u64| -> bool { base + (l as usize) < st.values.len() && !st.done[base + l as usize] };
        let member = |l: u64| live(l) && mask & (1 << l) != 0;
        let of = |l: u64| if live(l) { st.values[base + l as usize] } else { value };
        let lanes = |f: &dyn Fn(u64) -> bool| (0..32u64).filter(|l| f(*l)).fold(0u64, |m, l| m | 1 << l);
        let result = match op {
            C::ShflIdx => of(arg % 32),
            C::ShflUp => {
                if arg <= lane {
                    of(lane - arg)
                } else {
                    value
                }
            }
            C::ShflDown => {
                if lane + arg < 32 {
                    of(lane + arg)
                } else {
                    value
                }
            }
            C::ShflXor => of(lane ^ (arg % 32)),
            C::Ballot => lanes(&|l| member(l) && of(l) != 0),
            C::Any => (lanes(&|l| member(l) && of(l) != 0) != 0) as u64,
            C::All => (lanes(&|l| member(l) && of(l) == 0) == 0) as u64,
            C::ActiveMask => lanes(&|l| live(l)),
            C::MatchAny => lanes(&|l| member(l) && of(l) == value),
            C::SyncWarp => 0,
            C::SyncThreadsCount | C::SyncThreadsAnd | C::SyncThreadsOr => {
                let alive = st.values.iter().zip(&st.done).filter(|(_, d)| !**d);
                let (n, yes) = alive.fold((0u64, 0u64), |(n, y), (v, _)| (n + 1, y + (*v != 0) as u64));
                match op {
                    C::SyncThreadsCount => yes,
                    C::SyncThreadsAnd => (yes == n) as u64,
                    _ => (yes > 0) as u64,
                }
            }
        };
        suspend(ctx);
        result
    }
}

/// The warp-matrix callback (`ldmatrix`, `mma_sync`): publish this lane's operands, wait for the
/// round in which the warp's lanes have published theirs, compute this lane's part from them,
/// and wait once more so that no lane changes a fragment before all have read it. Lanes that
/// have finished, or lie past the end of a partial warp, take part with zeros.
unsafe extern "C" fn fiber_warp_matrix(ctx: *mut HostCtx, code: u64, ops: *const *mut u8) {
    use gpujit_codegen::ir::BulkOp;
    // SAFETY: only fibers have this callback; the block state outlives the block's fibers,
    // which run one at a time on one OS thread. A published lane's operands live on its stack,
    // which stays as it is while that fiber is suspended in this call.
    unsafe {
        let slot = (*ctx).fiber as *const FiberSlot;
        let (block, t) = ((*slot).block, (*slot).thread);
        (&mut *block).values[t] = ops as u64;
        (&mut *block).matrix[t] = code;
        suspend(ctx);
        let st = &*block;
        let (base, lane) = (t / 32 * 32, t % 32);
        let mut warp: [Option<crate::warp_matrix::Operands>; 32] = [None; 32];
        for (l, w) in warp.iter_mut().enumerate() {
            if base + l < st.values.len() && !st.done[base + l] && st.matrix[base + l] == code {
                *w = Some(st.values[base + l] as crate::warp_matrix::Operands);
            }
        }
        match gpujit_codegen::host::warp_matrix_op(code) {
            Some(BulkOp::LdMatrix { matrices, trans }) => crate::warp_matrix::ldmatrix(&warp, lane, matrices, trans),
            Some(BulkOp::Mma(shape)) => crate::warp_matrix::mma(&warp, lane, shape),
            _ => {}
        }
        suspend(ctx);
        (&mut *block).matrix[t] = 0;
    }
}

/// Where a grid's threads meet at `grid_sync()`.
struct GridState {
    arrived: usize,
    generation: u64,
    /// Threads that have not finished.
    live: usize,
    /// Fibers of this round that only looked again at what they wait for (a barrier's
    /// generation, an `mbarrier`'s phase) and suspended once more. A round of nothing else
    /// changes nothing: the batch can never finish.
    spins: usize,
    /// Found so: waits give up, and the launch fails.
    deadlock: bool,
}

/// Suspends the fiber running `ctx` once more in a wait that found nothing changed; `false`
/// once the batch is known never to finish (the wait gives up).
///
/// # Safety
/// As [`suspend`].
unsafe fn spin(ctx: *mut HostCtx) -> bool {
    // SAFETY: the caller's guarantee; the grid state outlives the batch's fibers.
    unsafe {
        let grid = (*((*ctx).fiber as *const FiberSlot)).grid;
        if (*grid).deadlock {
            return false;
        }
        (*grid).spins += 1;
        suspend(ctx);
        !std::ptr::read_volatile(&(*grid).deadlock)
    }
}

/// The grid-barrier callback: counts the arrival, and waits (suspending round after round) until
/// every live thread of the grid has arrived.
unsafe extern "C" fn fiber_grid_barrier(ctx: *mut HostCtx) {
    // SAFETY: only fibers of a cooperative launch have this callback; the grid state outlives
    // them and they run one at a time on one OS thread.
    unsafe {
        let slot = (*ctx).fiber as *const FiberSlot;
        let grid = (*slot).grid;
        let mine = (*grid).generation;
        (*grid).arrived += 1;
        if (*grid).arrived == (*grid).live {
            (*grid).arrived = 0;
            (*grid).generation += 1;
        }
        // Other fibers bump the generation while this one is suspended.
        let mut first = true;
        while std::ptr::read_volatile(&(*grid).generation) == mine {
            if std::mem::take(&mut first) {
                suspend(ctx);
            } else if !spin(ctx) {
                break;
            }
        }
    }
}

/// Runs blocks `first..end` with each block's threads as fibers that meet at barriers and
/// collectives. A cooperative launch (`grid_sync()`) runs all the blocks together; otherwise
/// one block after another.
#[allow(clippy::too_many_arguments)]
unsafe fn run_fibers(
    code: &HostCode,
    args: &[u64],
    grid: [u32; 3],
    block: [u32; 3],
    first: u64,
    end: u64,
    shared_bytes: u64,
    dynamic_shared_bytes: u64,
    record: &mut Area,
) -> Result<(), CpuError> {
    let threads = block.iter().map(|&b| b as usize).product::<usize>();
    let batch = if code.meta().cooperative { (end - first) as usize } else { 1 };
    // Stacks come from this thread's pool (mapping and unmapping one costs system calls) and go
    // back to it at the end.
    let mut stacks: Vec<DefaultStack> = STACKS.with(|p| {
        let mut p = p.borrow_mut();
        let keep = p.len().saturating_sub(threads * batch);
        p.split_off(keep)
    });
    while stacks.len() < threads * batch {
        stacks.push(DefaultStack::new(FIBER_STACK).map_err(|e| CpuError::Stack(format!("cannot allocate a fiber stack: {e}")))?);
    }
    let Some(entry) = code.thread_entry() else {
        return Err(CpuError::Internal("the kernel was compiled without the entry its fibers run".into()));
    };
    let (args_ptr, record_ptr) = (args.as_ptr() as usize, record.as_mut_ptr() as usize);
    let mut blk = first;
    while blk < end {
        let blocks: Vec<u64> = (blk..end.min(blk + batch as u64)).collect();
        blk += blocks.len() as u64;
        // Per block: shared memory (16-byte aligned; at least 16 bytes, so that an `ldmatrix`
        // row read at element 0 after a failed bounds check stays inside) and the exchange area
        // of collectives.
        // (1024 bytes more, so that the buffer can start at a 1024-byte boundary: Hopper's
        // swizzled tiles are laid out on such boundaries.)
        let words = shared_bytes.div_ceil(16).max(1) as usize;
        let mut shared: Vec<Vec<u128>> = blocks.iter().map(|_| vec![0u128; words + 64]).collect();
        let aligned: Vec<*mut u8> = shared
            .iter_mut()
            .map(|b| {
                let p = b.as_mut_ptr() as *mut u8;
                // SAFETY: the offset is below 1024, within the 64 extra words.
                unsafe { p.add(p.align_offset(1024)) }
            })
            .collect();
        let mut states: Vec<BlockState> = aligned
            .iter()
            .map(|&p| BlockState {
                values: vec![0; threads],
                done: vec![false; threads],
                matrix: vec![0; threads],
                arrived: 0,
                generation: 0,
                live: threads,
                shared: (p, 16 * words),
            })
            .collect();
        let mut grid_state = GridState { arrived: 0, generation: 0, live: threads * blocks.len(), spins: 0, deadlock: false };
        let grid_addr = &mut grid_state as *mut GridState as usize;
        let mut ctxs: Vec<HostCtx> = Vec::with_capacity(threads * blocks.len());
        for (k, b) in blocks.iter().enumerate() {
            let (gx, gy) = (grid[0] as u64, grid[1] as u64);
            let ctaid = [(b % gx) as u32, ((b / gx) % gy) as u32, (b / (gx * gy)) as u32];
            for t in 0..threads {
                let (bx, by) = (block[0] as usize, block[1] as usize);
                let tid = [(t % bx) as u32, ((t / bx) % by) as u32, (t / (bx * by)) as u32];
                ctxs.push(HostCtx {
                    sregs: [tid[0], tid[1], tid[2], block[0], block[1], block[2], ctaid[0], ctaid[1], ctaid[2], grid[0], grid[1], grid[2]],
                    shared: aligned[k],
                    barrier: Some(fiber_barrier),
                    fiber: std::ptr::null_mut(),
                    dynamic_shared_bytes,
                    collective: Some(fiber_collective),
                    grid_barrier: Some(fiber_grid_barrier),
                    warp_matrix: Some(fiber_warp_matrix),
                    hopper: Some(fiber_hopper),
                    frame: std::ptr::null_mut(),
                });
            }
        }
        let mut fibers = Vec::with_capacity(ctxs.len());
        for (n, ctx) in ctxs.iter_mut().enumerate() {
            let ctx_addr = ctx as *mut HostCtx as usize;
            let state_addr = &mut states[n / threads] as *mut BlockState as usize;
            let t = n % threads;
            let stack = stacks.pop().unwrap_or_else(|| unreachable!("one stack per thread"));
            fibers.push(Coroutine::with_stack(stack, move |yielder: &Yielder<(), ()>, ()| {
                let ctx = ctx_addr as *mut HostCtx;
                let slot = FiberSlot { yielder, block: state_addr as *mut BlockState, grid: grid_addr as *mut GridState, thread: t };
                // SAFETY: `ctx` points into `ctxs`, the block state into `states` and the grid
                // state to `grid_state`, all of which outlive every fiber of the batch (they all
                // finish below before any is touched again); `slot` lives on this fiber's stack
                // while the thread runs; args, the shared buffers and the record outlive the
                // launch; the entry matches the arguments (the caller's guarantee).
                unsafe {
                    (*ctx).fiber = &slot as *const FiberSlot as *mut c_void;
                    entry(args_ptr as *const u64, ctx, record_ptr as *mut u64);
                }
            }));
        }
        // Rounds: each live fiber runs to its next barrier, collective step or end.
        loop {
            let mut waiting = 0usize;
            // SAFETY: no fiber is running.
            unsafe { (*(grid_addr as *mut GridState)).spins = 0 };
            for (n, f) in fibers.iter_mut().enumerate().filter(|(_, f)| !f.done()) {
                match f.resume(()) {
                    CoroutineResult::Yield(()) => waiting += 1,
                    // SAFETY: no fiber is running, so nothing else accesses the states now.
                    CoroutineResult::Return(()) => unsafe {
                        let st = &mut *(&mut states[n / threads] as *mut BlockState);
                        st.done[n % threads] = true;
                        st.live -= 1;
                        // The last threads still missing at a block barrier may have finished.
                        if st.arrived > 0 && st.arrived >= st.live {
                            st.arrived = 0;
                            st.generation += 1;
                        }
                        let g = &mut *(grid_addr as *mut GridState);
                        g.live -= 1;
                        // The last threads still missing at a grid barrier may have finished.
                        if g.arrived > 0 && g.arrived == g.live {
                            g.arrived = 0;
                            g.generation += 1;
                        }
                    },
                }
            }
            if waiting == 0 {
                break;
            }
            // SAFETY: no fiber is running.
            let g = unsafe { &mut *(grid_addr as *mut GridState) };
            if g.spins == waiting && !g.deadlock {
                // Every fiber only looked again: let their waits give up, run them to the end.
                g.deadlock = true;
            }
        }
        let deadlock = grid_state.deadlock;
        stacks.extend(fibers.into_iter().map(|f| f.into_stack()));
        drop((ctxs, states, shared, grid_state));
        if deadlock {
            return Err(CpuError::Deadlock(format!(
                "its threads wait forever (block {}): each waits on an `mbarrier` phase or at a barrier that no other thread can complete (a wrong parity, a missing arrival, `expect_tx` bytes that never come)",
                blocks[0]
            )));
        }
    }
    STACKS.with(|p| {
        let mut p = p.borrow_mut();
        let room = MAX_POOLED_STACKS.saturating_sub(p.len());
        p.extend(stacks.into_iter().take(room));
    });
    Ok(())
}

thread_local! {
    /// Fiber stacks kept for this thread's next launches.
    static STACKS: std::cell::RefCell<Vec<DefaultStack>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The most fiber stacks a thread keeps (a block of 1024 threads; 64 MiB of address space, of
/// which only the pages a kernel touched are memory).
const MAX_POOLED_STACKS: usize = 1024;
