//! Cheap counters of the data path, for the benchmark's "where does the time go" report.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default)]
pub struct Counters {
    pub reads: AtomicU64,
    pub read_bytes: AtomicU64,
    pub results: AtomicU64,
    pub wakes: AtomicU64,
    pub submits: AtomicU64,
    pub writes: AtomicU64,
    pub written_bytes: AtomicU64,
    /// Reads made on the consumer's thread (counted in `reads` too).
    pub consumer_reads: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub reads: u64,
    pub read_bytes: u64,
    pub results: u64,
    pub wakes: u64,
    pub submits: u64,
    pub writes: u64,
    pub written_bytes: u64,
    pub consumer_reads: u64,
}

impl Counters {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> Snapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Snapshot {
            reads: get(&self.reads),
            read_bytes: get(&self.read_bytes),
            results: get(&self.results),
            wakes: get(&self.wakes),
            submits: get(&self.submits),
            writes: get(&self.writes),
            written_bytes: get(&self.written_bytes),
            consumer_reads: get(&self.consumer_reads),
        }
    }
}
