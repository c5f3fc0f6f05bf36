//! One worker's output as two threads may read it: the core's reader task, and the thread
//! that consumes the events (Node's main thread), which reads a worker's socket itself while
//! it is idle, so that an answer reaches it with one thread wake instead of two (the core's,
//! then the consumer's).
//!
//! Both read through the same `Reader` under one lock held from the read until its lines are
//! delivered, so a worker's messages keep their order whoever reads them. While the
//! consumer's thread watches a socket, the core's task does not (the worker's writes wake
//! only the consumer, as with Node's own channel); it looks now and then whether output is
//! left unread (a main thread busy in a long computation) and reads it then. It stays the
//! reader of last resort: it handles the end of the stream and frame errors, and it reads
//! alone whenever the consumer is behind.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::config::Serialization;
use crate::counters::Counters;
use crate::events::WorkerId;
use crate::pool::inner::Inner;
use crate::wire::channel::read_fd_upto;
use crate::wire::framing::FrameError;
use crate::wire::reader::Reader;

/// Most bytes in one read on the consumer's thread (a buffer's worth, as the core reads).
const READ_MAX: usize = 64 << 10;
/// Most bytes the consumer's thread reads in one go.
const CONSUMER_READ_MAX: usize = 256 << 10;

pub(crate) struct ReadSide {
    pub id: WorkerId,
    serialization: Serialization,
    reader: Mutex<Reader>,
    last_rx: Arc<AtomicU64>,
    /// The core's reader has stopped: nobody reads this worker any more.
    ended: AtomicBool,
    /// The consumer's thread is watching the socket now: the core's reader leaves it alone.
    polled: AtomicBool,
    /// A frame error met by the consumer's thread, for the core's reader to act on.
    broken: Mutex<Option<FrameError>>,
    /// Reads made by the consumer's thread so far (see `UnreadLook`).
    consumer_reads: AtomicU64,
    pub wake_reader: Notify,
}

/// The core's looks at a socket the consumer's thread watches. Output seen unread at one
/// look may be on its way to that thread (woken, not yet running); seen at two looks in a
/// row with no read by that thread between them, it was left by a busy thread, and the
/// core reads it. (Reading at the first look raced the consumer's thread for answers that
/// had just arrived, and an answer the core took reached JS through a slower wake.)
#[derive(Default)]
pub(crate) struct UnreadLook {
    /// The consumer's read count when output was last seen unread.
    seen_at: Option<u64>,
}

impl UnreadLook {
    /// `unread`: bytes waiting now; `reads`: the consumer's reads so far. True: read now.
    pub fn should_read(&mut self, unread: usize, reads: u64) -> bool {
        let left = unread > 0 && self.seen_at == Some(reads);
        self.seen_at = (unread > 0 && !left).then_some(reads);
        left
    }
}

/// What a read on the consumer's thread came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsumerRead {
    /// Read and delivered what was there.
    Read,
    /// The core's reader holds the lock right now: it will deliver what is there.
    Busy,
    /// Results may not be read now (the readable side is paused or JS's queue is full):
    /// stop watching until the consumer catches up.
    Held,
    /// End of stream, an error, or the reader has ended: stop watching for good.
    Closed,
}

/// A worker's read side handed to the consumer's thread, with its own descriptor of the
/// socket (so the core closing its own never leaves a stale number registered elsewhere).
pub struct ConsumerWatch {
    pub worker: WorkerId,
    pub fd: OwnedFd,
    pub(crate) side: Arc<ReadSide>,
}

impl ConsumerWatch {
    /// The consumer's thread starts or stops watching the socket. When it stops, the
    /// core's reader is woken to take over.
    pub fn set_polled(&self, on: bool) {
        if self.side.polled.swap(on, Ordering::AcqRel) && !on {
            self.side.wake_reader.notify_one();
        }
    }
}

/// A change the consumer's thread applies to what it watches.
pub enum WatchChange {
    Start(ConsumerWatch),
    End(WorkerId),
}

impl ReadSide {
    pub(crate) fn new(
        id: WorkerId,
        serialization: Serialization,
        max_message: usize,
        last_rx: Arc<AtomicU64>,
    ) -> Self {
        ReadSide {
            id,
            serialization,
            reader: Mutex::new(Reader::new(serialization, max_message)),
            last_rx,
            ended: AtomicBool::new(false),
            polled: AtomicBool::new(false),
            broken: Mutex::new(None),
            consumer_reads: AtomicU64::new(0),
            wake_reader: Notify::new(),
        }
    }

    /// The reader, for the core's task.
    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, Reader> {
        self.reader.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// After `n` bytes were read into `reader`: counts them and delivers its complete
    /// messages. Called with the lock held.
    pub(crate) fn delivered(
        &self,
        inner: &Arc<Inner>,
        reader: &mut Reader,
        n: usize,
    ) -> Result<(), FrameError> {
        Counters::add(&inner.counters.reads, 1);
        Counters::add(&inner.counters.read_bytes, n as u64);
        self.last_rx.store(inner.now_ms(), Ordering::Relaxed);
        if let Some(chunk) = reader.take_complete()? {
            match self.serialization {
                Serialization::Json => inner.deliver(self.id, &chunk),
                Serialization::Advanced => inner.deliver_frames(self.id, &chunk),
            }
        }
        Ok(())
    }

    /// How many reads the consumer's thread has made of this socket.
    pub(crate) fn consumer_read_count(&self) -> u64 {
        self.consumer_reads.load(Ordering::Relaxed)
    }

    /// Whether the consumer's thread watches the socket now.
    pub(crate) fn polled(&self) -> bool {
        self.polled.load(Ordering::Acquire)
    }

    /// The core's reader stops (whatever the reason).
    pub(crate) fn end(&self) {
        self.ended.store(true, Ordering::Release);
    }

    /// A frame error the consumer's thread met, once.
    pub(crate) fn take_broken(&self) -> Option<FrameError> {
        self.broken.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    /// Reads what the worker has written, on the consumer's thread, and delivers it. With
    /// true, events are waiting for the caller to take them now (nobody was woken for them).
    pub(crate) fn read_now(&self, inner: &Arc<Inner>, fd: &OwnedFd) -> (ConsumerRead, bool) {
        if !inner.results_room() {
            return (ConsumerRead::Held, false);
        }
        let Ok(mut reader) = self.reader.try_lock() else {
            return (ConsumerRead::Busy, false);
        };
        if self.ended.load(Ordering::Acquire) {
            return (ConsumerRead::Closed, false);
        }
        let hold = inner.events.hold_wake();
        let read = self.read_all(inner, fd, &mut reader);
        let take = inner.events.release_wake(hold);
        (read.unwrap_or(ConsumerRead::Read), take)
    }

    /// `read_now`'s reads: None while the socket stays open.
    fn read_all(
        &self,
        inner: &Arc<Inner>,
        fd: &OwnedFd,
        reader: &mut Reader,
    ) -> Option<ConsumerRead> {
        let mut total = 0;
        while total < CONSUMER_READ_MAX {
            // Each read is delivered before the next, as the core's reader does: a message
            // too long for the limit is then caught before it is whole.
            let buffer = reader.buffer();
            let asked = READ_MAX.min(buffer.capacity() - buffer.len());
            let n = match read_fd_upto(fd.as_raw_fd(), buffer, READ_MAX) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return None,
                Err(_) => break,
            };
            total += n;
            Counters::add(&inner.counters.consumer_reads, 1);
            self.consumer_reads.fetch_add(1, Ordering::Relaxed);
            if let Err(e) = self.delivered(inner, reader, n) {
                *self.broken.lock().unwrap_or_else(|e| e.into_inner()) = Some(e);
                self.wake_reader.notify_one();
                return Some(ConsumerRead::Closed);
            }
            if n < asked {
                // The socket is empty now, most likely: the poll says when it is not.
                return None;
            }
        }
        if total >= CONSUMER_READ_MAX {
            return None;
        }
        // End of stream or an error: the core's reader (woken when the watch stops) sees it
        // too and acts on it.
        Some(ConsumerRead::Closed)
    }
}

/// The read sides a manager hands to its consumer's thread, once it asked for them.
#[derive(Default)]
pub(crate) struct ConsumerWatches {
    enabled: AtomicBool,
    changes: Mutex<Vec<WatchChange>>,
}

impl ConsumerWatches {
    pub(crate) fn enable(&self) {
        self.enabled.store(true, Ordering::Release);
    }

    fn push(&self, change: WatchChange) {
        self.changes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(change);
    }

    /// A worker's reader starts: its side is offered to the consumer's thread, with a
    /// descriptor of its own for the socket `fd`.
    pub(crate) fn offer(&self, side: &Arc<ReadSide>, fd: i32) {
        if !self.enabled.load(Ordering::Acquire) {
            return;
        }
        // SAFETY: F_DUPFD_CLOEXEC on an open descriptor returns a new one we own.
        let dup = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
        if dup < 0 {
            return; // the core's reader alone reads this worker
        }
        // SAFETY: `dup` is a fresh descriptor nobody else owns.
        let fd = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(dup) };
        self.push(WatchChange::Start(ConsumerWatch {
            worker: side.id,
            fd,
            side: side.clone(),
        }));
    }

    /// A worker's reader has ended: the consumer's thread stops watching it.
    pub(crate) fn withdraw(&self, id: WorkerId) {
        if self.enabled.load(Ordering::Acquire) {
            self.push(WatchChange::End(id));
        }
    }

    pub(crate) fn take(&self) -> Vec<WatchChange> {
        std::mem::take(&mut *self.changes.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Results in one batch up to which the consumer counts as keeping up.
const KEEPING_UP: usize = 4;
/// Results in one batch from which the consumer counts as behind.
const BEHIND: usize = 32;

/// Whether the consumer's thread should read workers itself. It should while it keeps up
/// (each batch it takes holds a few results: it is mostly waiting), so that an answer
/// wakes it directly; not while it is behind (big batches), when reading on the core's
/// thread, in parallel with JS, and crossing in big batches costs it less. Between the two
/// marks the last decision stands, so a load near one of them does not flip it every batch.
#[derive(Debug, Default)]
pub struct Handover {
    consumer_reads: bool,
}

impl Handover {
    /// After the consumer took a batch of `results`: the new decision, if it changed.
    pub fn after_take(&mut self, results: usize, flowing: bool) -> Option<bool> {
        let want = if !flowing || results >= BEHIND {
            false
        } else if results <= KEEPING_UP {
            true
        } else {
            self.consumer_reads
        };
        (want != self.consumer_reads).then(|| {
            self.consumer_reads = want;
            want
        })
    }

    /// The readable side stopped: no reads on the consumer's thread until it takes again.
    pub fn pause(&mut self) -> bool {
        std::mem::replace(&mut self.consumer_reads, false)
    }

    pub fn consumer_reads(&self) -> bool {
        self.consumer_reads
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_taken_from_the_consumer_only_when_it_left_it() {
        let mut look = UnreadLook::default();
        assert!(!look.should_read(0, 0), "nothing there");
        assert!(
            !look.should_read(100, 0),
            "just arrived: the consumer may be on its way"
        );
        assert!(look.should_read(100, 0), "still there, no read since: left");
        assert!(
            !look.should_read(100, 0),
            "after a read by the core, it counts afresh"
        );
        assert!(
            !look.should_read(100, 1),
            "the consumer read in between: it is alive"
        );
        assert!(!look.should_read(0, 1), "gone");
        assert!(!look.should_read(100, 1), "seen once again");
        assert!(look.should_read(50, 1));
    }

    #[test]
    fn the_consumer_reads_while_it_keeps_up_and_hands_over_when_behind() {
        let mut h = Handover::default();
        assert_eq!(
            h.after_take(1, true),
            Some(true),
            "one answer: it was waiting"
        );
        assert_eq!(
            h.after_take(KEEPING_UP + 1, true),
            None,
            "between the marks: unchanged"
        );
        assert_eq!(
            h.after_take(BEHIND, true),
            Some(false),
            "behind: the core reads"
        );
        assert_eq!(h.after_take(BEHIND - 1, true), None, "still not keeping up");
        assert_eq!(h.after_take(0, true), Some(true));
        assert_eq!(
            h.after_take(0, false),
            Some(false),
            "paused: nobody reads results"
        );
        assert_eq!(h.after_take(0, true), Some(true));
        assert!(h.pause());
        assert!(!h.consumer_reads());
    }
}
