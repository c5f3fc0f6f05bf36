//! The tasks of one running worker: a supervisor that owns the process and reaps it, a reader
//! that frames its output, and a writer that moves queued messages into its channel.

use std::io;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Notify};
use tokio::time::{sleep_until, Instant};

use crate::config::Serialization;
use crate::counters::Counters;
use crate::events::WorkerId;
use crate::pool::inner::Inner;
use crate::pool::read_side::{ReadSide, UnreadLook};
use crate::pool::state::Command;
use crate::process::child::Process;
use crate::wire::channel::{Channel, WriteWatch};
use crate::wire::framing::FrameError;
use crate::wire::gather::{read_gathered, MAX_GATHER};

/// How long a worker whose channel closed may take to exit on its own before it is ended.
const EXIT_GRACE: Duration = Duration::from_millis(50);
/// How long a dead worker's channel may stay open with nothing to read before the reader is
/// stopped (a grandchild may hold the channel open).
const DRAIN_AFTER_EXIT: Duration = Duration::from_secs(1);
/// How often a dead worker's channel is looked at while its reader drains it.
const DRAIN_POLL: Duration = Duration::from_millis(5);

/// While the consumer's thread reads a worker, how soon the core looks for output it left
/// unread; the wait doubles up to UNREAD_CHECK_MAX each time none was.
const UNREAD_CHECK: Duration = Duration::from_millis(2);
const UNREAD_CHECK_MAX: Duration = Duration::from_millis(64);

/// What the supervisor is handed for one started worker.
pub(crate) struct Parts {
    pub process: Process,
    pub channel: Arc<Channel>,
    pub wake_writer: Arc<Notify>,
    pub last_rx: Arc<AtomicU64>,
    pub commands: mpsc::Receiver<Command>,
    /// What `Command::Terminate` sends first (the pool's `killSignal`).
    pub kill_signal: i32,
    pub serialization: Serialization,
}

/// Why the reader stopped.
enum ReadEnd {
    Eof,
    TooLong(usize),
}

/// What the writer should do next.
pub(crate) enum Step {
    Write,
    Idle,
    Close,
    Gone,
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86400 * 365)
}

pub(crate) async fn supervise(inner: Arc<Inner>, id: WorkerId, parts: Parts) {
    let Parts {
        mut process,
        channel,
        wake_writer,
        last_rx,
        mut commands,
        kill_signal,
        serialization,
    } = parts;
    let channel_fd = channel.raw_fd();
    let side = Arc::new(ReadSide::new(
        id,
        serialization,
        inner.config.max_message_bytes,
        last_rx,
    ));
    inner.consumer_watches.offer(&side, channel_fd);
    let mut reader = tokio::spawn(read_loop(inner.clone(), channel.clone(), side));
    let writer = tokio::spawn(write_loop(inner.clone(), id, channel, wake_writer));
    let mut reader_done = false;
    let mut eof_grace: Option<Instant> = None;
    let mut kill_at: Option<Instant> = None;
    let status = loop {
        tokio::select! {
            status = process.wait() => break status,
            end = &mut reader, if !reader_done => {
                reader_done = true;
                if let Ok(ReadEnd::TooLong(limit)) = end {
                    let msg = format!("a message from the worker exceeded {limit} bytes");
                    inner.worker_error(id, "ERR_WORKER_MESSAGE_TOO_LARGE", msg);
                }
                eof_grace = Some(Instant::now() + EXIT_GRACE);
            }
            _ = sleep_until(eof_grace.unwrap_or_else(far_future)), if eof_grace.is_some() => {
                eof_grace = None;
                inner.channel_closed(id);
            }
            Some(cmd) = commands.recv() => match cmd {
                Command::Signal(sig) => process.signal(sig),
                Command::Terminate => {
                    if kill_at.is_none() {
                        process.signal(kill_signal);
                        kill_at = Some(Instant::now() + inner.config.kill_timeout);
                    }
                }
            },
            _ = sleep_until(kill_at.unwrap_or_else(far_future)), if kill_at.is_some() => {
                process.signal(libc::SIGKILL);
                kill_at = Some(far_future());
            }
        }
    };
    if !reader_done {
        drain_after_exit(&inner, &mut reader, channel_fd).await;
    }
    writer.abort();
    inner.on_exit(id, status);
}

/// Lets the reader take what a dead worker left in its channel, so its last results come
/// before its exit. Unread output keeps it going however long the consumer needs; but once
/// the manager has stopped nobody will read it, and a reader parked by flow control with
/// nothing unread has nothing left to take: both end at once, so the exit is reported within
/// a few ms of the process ending. A flowing reader on an open channel with nothing in it (a
/// grandchild may hold it) is given up on after `DRAIN_AFTER_EXIT`.
async fn drain_after_exit(inner: &Inner, reader: &mut tokio::task::JoinHandle<ReadEnd>, fd: i32) {
    let mut idle_since = Instant::now();
    loop {
        if inner.lock().stopped {
            reader.abort();
            return;
        }
        let mut unread: libc::c_int = 0;
        // SAFETY: FIONREAD writes one int; the reader's Arc keeps the socket open.
        let ok = unsafe { libc::ioctl(fd, libc::FIONREAD as _, &mut unread) } == 0;
        if ok && unread > 0 {
            idle_since = Instant::now();
        } else if !*inner.flowing.borrow() || idle_since.elapsed() >= DRAIN_AFTER_EXIT {
            reader.abort();
            return;
        }
        if tokio::time::timeout(DRAIN_POLL, &mut *reader).await.is_ok() {
            return;
        }
    }
}

/// Marks the read side ended however the reader stops (returning, or aborted).
struct Ending<'a>(&'a Inner, &'a ReadSide);

impl Drop for Ending<'_> {
    fn drop(&mut self) {
        self.1.end();
        self.0.consumer_watches.withdraw(self.1.id);
    }
}

async fn read_loop(inner: Arc<Inner>, channel: Arc<Channel>, side: Arc<ReadSide>) -> ReadEnd {
    let _ending = Ending(&inner, &side);
    let mut flowing = inner.flowing.subscribe();
    let mut watch = None;
    let mut unread_check = UNREAD_CHECK;
    let mut look = UnreadLook::default();
    loop {
        inner.wait_results_room(&mut flowing).await;
        if side.polled() {
            // The consumer's thread reads this worker: leave the socket to it, and look
            // now and then for output it has left (it is busy), less often while none is.
            watch = None;
            let woken = tokio::time::timeout(unread_check, side.wake_reader.notified()).await;
            if woken.is_ok() {
                if let Some(FrameError::TooLong { limit }) = side.take_broken() {
                    return ReadEnd::TooLong(limit);
                }
                unread_check = UNREAD_CHECK;
            } else {
                let unread = channel.unread();
                if !look.should_read(unread, side.consumer_read_count()) {
                    // Nothing left unread: look again soon if something is there now.
                    unread_check = if unread == 0 {
                        (unread_check * 2).min(UNREAD_CHECK_MAX)
                    } else {
                        UNREAD_CHECK
                    };
                    continue;
                }
                unread_check = UNREAD_CHECK;
                let mut lines = side.lock();
                match read_gathered(&channel, &mut lines) {
                    Ok(0) => return ReadEnd::Eof,
                    Ok(n) => {
                        if let Err(FrameError::TooLong { limit }) =
                            side.delivered(&inner, &mut lines, n)
                        {
                            return ReadEnd::TooLong(limit);
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(_) => return ReadEnd::Eof,
                }
            }
            continue;
        }
        if watch.is_none() {
            match channel.watch_reads() {
                Ok(w) => watch = Some(w),
                Err(_) => return ReadEnd::Eof,
            }
        }
        let Some(w) = &watch else { continue };
        let mut ready = tokio::select! {
            ready = w.readable() => match ready {
                Ok(ready) => ready,
                Err(_) => return ReadEnd::Eof,
            },
            _ = side.wake_reader.notified() => match side.take_broken() {
                Some(FrameError::TooLong { limit }) => return ReadEnd::TooLong(limit),
                None => continue,
            },
        };
        let mut lines = side.lock();
        let n = if inner.events.consumer_behind() && !inner.answers_make_room(side.id) {
            // JS has a batch it has not taken: what arrives now waits for it anyway. Let it
            // gather, unwatched so that the worker's writes meanwhile wake nobody (gather.rs).
            drop(lines);
            drop(ready);
            watch = None;
            let _ = tokio::time::timeout(MAX_GATHER, inner.events.wait_taken()).await;
            lines = side.lock();
            match read_gathered(&channel, &mut lines) {
                Ok(0) => return ReadEnd::Eof,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(_) => return ReadEnd::Eof,
            }
        } else {
            let buf = lines.buffer();
            let room = buf.capacity() - buf.len();
            match channel.read_into(buf) {
                Ok(0) => return ReadEnd::Eof,
                Ok(n) => {
                    // A short read emptied the socket: wait for its next write, rather than
                    // coming back to find nothing (tokio keeps readiness that arrived since).
                    if n < room {
                        ready.clear_ready();
                    }
                    n
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    ready.clear_ready();
                    continue;
                }
                Err(_) => return ReadEnd::Eof,
            }
        };
        if let Err(FrameError::TooLong { limit }) = side.delivered(&inner, &mut lines, n) {
            return ReadEnd::TooLong(limit);
        }
    }
}

async fn write_loop(inner: Arc<Inner>, id: WorkerId, channel: Arc<Channel>, wake: Arc<Notify>) {
    let mut buf = Vec::new();
    let mut watch: WriteWatch = None;
    let mut flowing = inner.flowing.subscribe();
    loop {
        match inner.take_output(id, &mut buf) {
            Step::Write => {
                // While JS takes no results, the worker gets no more input. A Node worker
                // whose reply meets a full socket queues it, and every later one, in its heap
                // until its event loop turns, and one that keeps finding input to read keeps
                // the queue: measured on echo workers, 50,000-100,000 replies waiting for
                // the rest of the run, ~150 MB heaps and ~40 % more CPU per message.
                inner.wait_results_room(&mut flowing).await;
                let counters = &inner.counters;
                let wrote = |n: usize| {
                    Counters::add(&counters.writes, 1);
                    Counters::add(&counters.written_bytes, n as u64);
                };
                if channel.write_all(&mut watch, &buf, wrote).await.is_err() {
                    return;
                }
                buf.clear();
                inner.output_written(id);
            }
            Step::Idle => {
                watch = None; // nothing to write: room on the socket must wake nobody
                wake.notified().await
            }
            Step::Close => {
                // Half-close, as the worker sees on `disconnect()`; its replies still arrive.
                channel.shutdown_write();
                return;
            }
            Step::Gone => return,
        }
    }
}
