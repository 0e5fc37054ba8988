//! The on-disk kernel cache: the PTX and the driver-compiled cubin of every GPU specialization,
//! kept across processes, so a new process loads its kernels without compiling them.
//!
//! - **Key**: the full text of the specialized IR (its options included), the target
//!   architecture and PTX version, the driver version and gpujit's version. An entry's file name
//!   is a hash of the key, and the entry holds the key itself, so a collision is a miss.
//! - **Integrity**: an entry is one file with a magic number, its length fields and a checksum of
//!   the whole. A truncated or corrupt entry is detected on load, removed and rebuilt.
//! - **Concurrency**: an entry is written to a temporary file and renamed into place (atomic on
//!   one file system), so processes sharing the directory see whole entries or none.
//! - **Size**: after each store, the least recently used entries (by modification time, which a
//!   load refreshes) are removed until the directory is below 80% of its bound.
//!
//! Environment: `GPUJIT_CACHE=off` (or `0`) disables it; `GPUJIT_CACHE_DIR` moves it (default
//! `$XDG_CACHE_HOME/gpujit`, else `$HOME/.cache/gpujit`); `GPUJIT_CACHE_MAX_MB` bounds it
//! (default 1024). The CPU backend's JIT code is not cached (it compiles in milliseconds). The
//! compiler keeps its pruned copy of libdevice in the same directory.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::SystemTime;

const MAGIC: &[u8; 8] = b"GPUJITK\0";
const FORMAT: u32 = 1;
const SUFFIX: &str = "gjk";

/// What the cache keeps for one specialization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheEntry {
    /// The cubin the driver's JIT produced for the device.
    pub cubin: Vec<u8>,
    /// The PTX it was compiled from.
    pub ptx: String,
    /// The JIT's information log (registers, spills).
    pub info: String,
}

/// A directory of cache entries.
#[derive(Debug)]
pub struct DiskCache {
    dir: PathBuf,
    max_bytes: u64,
}

/// Loads that found their entry, and stores, in this process (for tests and logs).
static HITS: AtomicU64 = AtomicU64::new(0);
static STORES: AtomicU64 = AtomicU64::new(0);

/// `(hits, stores)` of the disk cache in this process so far.
pub fn stats() -> (u64, u64) {
    (HITS.load(Ordering::Relaxed), STORES.load(Ordering::Relaxed))
}

impl DiskCache {
    /// A cache in `dir` (created when needed) bounded to `max_bytes`.
    pub fn open(dir: impl Into<PathBuf>, max_bytes: u64) -> DiskCache {
        DiskCache { dir: dir.into(), max_bytes }
    }

    /// The process's cache as the environment configures it; `None` when `GPUJIT_CACHE=off`.
    pub fn global() -> Option<&'static DiskCache> {
        static GLOBAL: OnceLock<Option<DiskCache>> = OnceLock::new();
        GLOBAL
            .get_or_init(|| {
                let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
                if env("GPUJIT_CACHE").is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "off" | "0" | "false" | "no")) {
                    return None;
                }
                let dir = env("GPUJIT_CACHE_DIR").map(PathBuf::from).or_else(|| {
                    env("XDG_CACHE_HOME")
                        .map(|d| Path::new(&d).join("gpujit"))
                        .or_else(|| env("HOME").map(|h| Path::new(&h).join(".cache/gpujit")))
                })?;
                let mb = env("GPUJIT_CACHE_MAX_MB").and_then(|v| v.parse::<u64>().ok()).unwrap_or(1024);
                // The compiler keeps its pruned libdevice there too.
                gpujit_codegen::nvptx::set_libdevice_cache_dir(dir.clone());
                Some(DiskCache::open(dir, mb.saturating_mul(1 << 20)))
            })
            .as_ref()
    }

    /// The directory holding the entries.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{:016x}.{SUFFIX}", fnv1a(key.as_bytes(), 0xcbf2_9ce4_8422_2325)))
    }

    /// The entry stored under `key`, if there is a whole one. A damaged entry is removed.
    pub fn load(&self, key: &str) -> Option<CacheEntry> {
        let path = self.path(key);
        let bytes = fs::read(&path).ok()?;
        match decode(&bytes) {
            Some((stored_key, entry)) if stored_key == key => {
                // Refresh the modification time: eviction removes the least recently used.
                if let Ok(f) = fs::File::options().append(true).open(&path) {
                    let _ = f.set_modified(SystemTime::now());
                }
                HITS.fetch_add(1, Ordering::Relaxed);
                Some(entry)
            }
            // Another key with the same hash: a miss, overwritten by the next store.
            Some(_) => None,
            None => {
                crate::log::compile(format_args!("removing damaged cache entry {}", path.display()));
                let _ = fs::remove_file(&path);
                None
            }
        }
    }

    /// Stores `entry` under `key`, then keeps the directory within its bound. Failures (a
    /// read-only or full disk) only cost the next process a compile, so they are not errors.
    pub fn store(&self, key: &str, entry: &CacheEntry) {
        if fs::create_dir_all(&self.dir).is_err() {
            return;
        }
        let path = self.path(key);
        let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        let tmp = path.with_extension(format!("tmp.{}.{nanos}", std::process::id()));
        let written = fs::File::create(&tmp).and_then(|mut f| f.write_all(&encode(key, entry))).and_then(|_| fs::rename(&tmp, &path));
        if written.is_err() {
            let _ = fs::remove_file(&tmp);
            return;
        }
        STORES.fetch_add(1, Ordering::Relaxed);
        self.evict();
    }

    /// The bytes the entries take.
    pub fn size_bytes(&self) -> u64 {
        self.entries().iter().map(|e| e.1).sum()
    }

    /// Removes every entry.
    pub fn clear(&self) {
        for (path, _, _) in self.entries() {
            let _ = fs::remove_file(path);
        }
    }

    /// `(path, bytes, modified)` of each entry.
    fn entries(&self) -> Vec<(PathBuf, u64, SystemTime)> {
        let Ok(dir) = fs::read_dir(&self.dir) else { return Vec::new() };
        dir.filter_map(|e| e.ok())
            .filter(|e| e.path().extension().is_some_and(|x| x == SUFFIX))
            .filter_map(|e| {
                let m = e.metadata().ok()?;
                Some((e.path(), m.len(), m.modified().unwrap_or(SystemTime::UNIX_EPOCH)))
            })
            .collect()
    }

    /// Removes the least recently used entries while the directory exceeds its bound.
    fn evict(&self) {
        let mut entries = self.entries();
        let mut total: u64 = entries.iter().map(|e| e.1).sum();
        if total <= self.max_bytes {
            return;
        }
        entries.sort_by_key(|e| e.2);
        let target = self.max_bytes / 5 * 4;
        for (path, bytes, _) in entries {
            if total <= target {
                break;
            }
            if fs::remove_file(&path).is_ok() {
                total -= bytes;
            }
        }
    }
}

/// FNV-1a, 64 bits: the file name of a key and the checksum of an entry.
fn fnv1a(bytes: &[u8], seed: u64) -> u64 {
    let mut h = seed;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

const CHECKSUM_SEED: u64 = 0x84f2_1c3a_9d6e_5b07;

fn encode(key: &str, e: &CacheEntry) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + key.len() + e.cubin.len() + e.ptx.len() + e.info.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT.to_le_bytes());
    for part in [key.as_bytes(), &e.cubin, e.ptx.as_bytes(), e.info.as_bytes()] {
        out.extend_from_slice(&(part.len() as u64).to_le_bytes());
        out.extend_from_slice(part);
    }
    let sum = fnv1a(&out, CHECKSUM_SEED);
    out.extend_from_slice(&sum.to_le_bytes());
    out
}

/// The key and entry of a whole, intact file; `None` for anything else.
fn decode(bytes: &[u8]) -> Option<(String, CacheEntry)> {
    let body_len = bytes.len().checked_sub(8)?;
    let (body, sum) = bytes.split_at(body_len);
    if u64::from_le_bytes(sum.try_into().ok()?) != fnv1a(body, CHECKSUM_SEED) {
        return None;
    }
    let rest = body.strip_prefix(MAGIC)?;
    let (format, mut rest) = rest.split_at_checked(4)?;
    if u32::from_le_bytes(format.try_into().ok()?) != FORMAT {
        return None;
    }
    let mut parts = Vec::with_capacity(4);
    for _ in 0..4 {
        let (len, tail) = rest.split_at_checked(8)?;
        let len = usize::try_from(u64::from_le_bytes(len.try_into().ok()?)).ok()?;
        let (part, tail) = tail.split_at_checked(len)?;
        parts.push(part);
        rest = tail;
    }
    if !rest.is_empty() {
        return None;
    }
    let text = |b: &[u8]| String::from_utf8(b.to_vec()).ok();
    Some((text(parts[0])?, CacheEntry { cubin: parts[1].to_vec(), ptx: text(parts[2])?, info: text(parts[3])? }))
}
