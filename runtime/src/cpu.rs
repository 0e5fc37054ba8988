//! The CPU backend: runs a JIT-compiled host entry over the whole grid with CUDA's semantics.
//!
//! Blocks are split into contiguous ranges, one per worker thread (`GPUJIT_CPU_THREADS`, default
//! the number of cores); each range runs its blocks in order and each block its threads in order.
//! Launches are synchronous: when `launch` returns, the kernel has finished. Every array access
//! is bounds-checked; the first out-of-range access is reported as an error after the launch.

use gpujit_codegen::host::{HostEntry, OOB_RECORD_LEN};

/// Launches below this many threads in all run on the calling thread alone.
const INLINE_THREADS: u64 = 1 << 14;

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

/// The first out-of-bounds access of a launch: array parameter, index, thread and block.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct OobRecord {
    pub array: u32,
    pub index: u64,
    pub thread: [u32; 3],
    pub block: [u32; 3],
}

/// Runs `entry` over `grid` × `block` with the packed argument slots `args`.
///
/// # Safety
/// `entry` must be the entry of a host module compiled for a kernel whose parameters match the
/// slots in `args` (array data pointers valid for their lengths, writable where the kernel writes).
pub(crate) unsafe fn launch(entry: HostEntry, args: &[u64], grid: [u32; 3], block: [u32; 3]) -> Option<OobRecord> {
    let blocks = grid.iter().map(|&g| g as u64).product::<u64>();
    let threads_per_block = block.iter().map(|&b| b as u64).product::<u64>();
    let dims = [grid[0], grid[1], grid[2], block[0], block[1], block[2]];
    let n = workers() as u64;
    let run = |first: u64, end: u64| -> [u64; OOB_RECORD_LEN] {
        let mut record = [0u64; OOB_RECORD_LEN];
        // SAFETY: the caller guarantees that entry matches args; dims and record are live arrays
        // of the lengths the entry reads and writes; [first, end) lies within the grid.
        unsafe { entry(args.as_ptr(), dims.as_ptr(), first, end, record.as_mut_ptr()) };
        record
    };
    let records: Vec<[u64; OOB_RECORD_LEN]> = if n <= 1 || blocks < 2 || blocks * threads_per_block < INLINE_THREADS {
        vec![run(0, blocks)]
    } else {
        let chunk = blocks.div_ceil(n);
        std::thread::scope(|s| {
            let handles: Vec<_> = (1..n)
                .map(|w| (w * chunk, ((w + 1) * chunk).min(blocks)))
                .filter(|(a, b)| a < b)
                .map(|(a, b)| s.spawn(move || run(a, b)))
                .collect();
            let mut out = vec![run(0, chunk.min(blocks))];
            // A worker cannot panic (it only calls JIT code), so join never returns Err; an
            // unexpected one is treated as a worker that recorded nothing.
            out.extend(handles.into_iter().filter_map(|h| h.join().ok()));
            out
        })
    };
    records.iter().find(|r| r[0] != 0).map(|r| OobRecord {
        array: r[1] as u32,
        index: r[2],
        thread: [r[3] as u32, r[4] as u32, r[5] as u32],
        block: [r[6] as u32, r[7] as u32, r[8] as u32],
    })
}
