//! The tasks of one running worker: a supervisor that owns the process and reaps it, a reader
//! that frames its output, and a writer that moves queued messages into its channel.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Notify};
use tokio::time::{sleep_until, Instant};

use crate::config::Serialization;
use crate::counters::Counters;
use crate::events::WorkerId;
use crate::pool::inner::Inner;
use crate::pool::state::Command;
use crate::process::child::Process;
use crate::wire::channel::{Channel, WriteWatch};
use crate::wire::framing::FrameError;
use crate::wire::gather::{read_gathered, MAX_GATHER};
use crate::wire::reader::Reader;

/// How long a worker whose channel closed may take to exit on its own before it is ended.
const EXIT_GRACE: Duration = Duration::from_millis(50);
/// How long a dead worker's channel may stay open with nothing to read before the reader is
/// stopped (a grandchild may hold the channel open).
const DRAIN_AFTER_EXIT: Duration = Duration::from_secs(1);
/// How often a dead worker's channel is looked at while its reader drains it.
const DRAIN_POLL: Duration = Duration::from_millis(5);

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
    let mut reader = tokio::spawn(read_loop(
        inner.clone(),
        id,
        channel.clone(),
        last_rx,
        serialization,
    ));
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

async fn read_loop(
    inner: Arc<Inner>,
    id: WorkerId,
    channel: Arc<Channel>,
    last_rx: Arc<AtomicU64>,
    serialization: Serialization,
) -> ReadEnd {
    let mut lines = Reader::new(serialization, inner.config.max_message_bytes);
    let mut flowing = inner.flowing.subscribe();
    let mut watch = None;
    loop {
        loop {
            let on = *flowing.borrow_and_update();
            if on {
                break;
            }
            if flowing.changed().await.is_err() {
                return ReadEnd::Eof;
            }
        }
        inner.events.wait_room().await;
        if watch.is_none() {
            match channel.watch_reads() {
                Ok(w) => watch = Some(w),
                Err(_) => return ReadEnd::Eof,
            }
        }
        let Some(w) = &watch else { continue };
        let Ok(mut ready) = w.readable().await else {
            return ReadEnd::Eof;
        };
        let n = if inner.events.consumer_behind() && !inner.answers_make_room(id) {
            // JS has a batch it has not taken: what arrives now waits for it anyway. Let it
            // gather, unwatched so that the worker's writes meanwhile wake nobody (gather.rs).
            drop(ready);
            watch = None;
            let _ = tokio::time::timeout(MAX_GATHER, inner.events.wait_taken()).await;
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
        Counters::add(&inner.counters.reads, 1);
        Counters::add(&inner.counters.read_bytes, n as u64);
        last_rx.store(inner.now_ms(), Ordering::Relaxed);
        match lines.take_complete() {
            Ok(Some(chunk)) => match serialization {
                Serialization::Json => inner.deliver(id, &chunk),
                Serialization::Advanced => inner.deliver_frames(id, &chunk),
            },
            Ok(None) => {}
            Err(FrameError::TooLong { limit }) => return ReadEnd::TooLong(limit),
        }
    }
}

async fn write_loop(inner: Arc<Inner>, id: WorkerId, channel: Arc<Channel>, wake: Arc<Notify>) {
    let mut buf = Vec::new();
    let mut watch: WriteWatch = None;
    loop {
        match inner.take_output(id, &mut buf) {
            Step::Write => {
                match channel.write_all(&mut watch, &buf).await {
                    Ok(writes) => Counters::add(&inner.counters.writes, writes),
                    Err(_) => return,
                }
                Counters::add(&inner.counters.written_bytes, buf.len() as u64);
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
