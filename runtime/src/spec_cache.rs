//! The specializations of one kernel, read on every launch without a lock or an atomic
//! read-modify-write: an immutable snapshot behind an atomic pointer, replaced (copy on write)
//! when a compile adds an entry. Every snapshot is kept until the cache is dropped, so a
//! reference read from one stays valid as long as the cache is borrowed. Compiles are rare, so
//! the snapshots' memory stays small.

use std::marker::PhantomData;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::Mutex;

/// One published snapshot.
type Snapshot<K, V> = Box<Vec<(K, V)>>;

pub(crate) struct SpecCache<K, V> {
    /// The newest snapshot (null: none yet).
    current: AtomicPtr<Vec<(K, V)>>,
    /// Every snapshot published, oldest first; also serializes inserts.
    snapshots: Mutex<Vec<Snapshot<K, V>>>,
    /// Readers on several threads share `&V` and `&K`: Sync only for Sync keys and values.
    _shared: PhantomData<Vec<(K, V)>>,
}

impl<K: PartialEq + Clone, V: Clone> SpecCache<K, V> {
    pub(crate) fn new() -> SpecCache<K, V> {
        SpecCache { current: AtomicPtr::new(std::ptr::null_mut()), snapshots: Mutex::new(Vec::new()), _shared: PhantomData }
    }

    fn snapshot(&self) -> &[(K, V)] {
        let p = self.current.load(Ordering::Acquire);
        if p.is_null() {
            return &[];
        }
        // SAFETY: a non-null pointer was stored by `insert` after the snapshot was fully built
        // (Release, paired with the Acquire above), and points into a Box that `snapshots` owns
        // until the cache is dropped, which cannot happen while `&self` is borrowed. Snapshots are
        // never mutated after publication.
        unsafe { &*p }
    }

    pub(crate) fn get(&self, key: &K) -> Option<&V> {
        self.snapshot().iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Adds `value` for `key` unless another thread added one first; the entry kept.
    pub(crate) fn insert(&self, key: K, value: V) -> &V {
        let mut snapshots = self.snapshots.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(i) = self.snapshot().iter().position(|(k, _)| *k == key) {
            return &self.snapshot()[i].1;
        }
        let mut next = Box::new(self.snapshot().to_vec());
        next.push((key, value));
        let p: *mut Vec<(K, V)> = &mut *next;
        // The Box moves into the list; its heap allocation (where `p` points) does not move.
        snapshots.push(next);
        self.current.store(p, Ordering::Release);
        drop(snapshots);
        let snap = self.snapshot();
        &snap[snap.len() - 1].1
    }
}
