//! Ending workers gracefully: at end of input (every worker, once the queues are empty) and
//! when one worker is retired (memory limit).
//!
//! A worker's channel is half-closed once it has read everything we sent, we have read
//! everything it wrote, its output has gone quiet, and its main thread waits in its event
//! loop. Closing while replies wait in the worker's own write queue would make Node drop
//! them (it handles the end of its channel before writing); a Node worker idle in
//! `epoll_wait` with room in its channel has no such replies. A worker that never goes quiet
//! (a heartbeat, say) is closed once its input has been consumed for the kill timeout. The
//! worker closes its side when it sees the end, and the supervisor ends it after that. So
//! nothing ends a worker on a timer here, except `close()`'s stall limit.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::events::WorkerId;
use crate::pool::inner::Inner;
use crate::pool::state::{Leave, State, Worker};

/// How often the drainer looks; it only runs while something is draining.
const TICK: Duration = Duration::from_millis(10);

/// Bytes waiting in a socket queue (`SIOCOUTQ`: sent but not yet read by the peer;
/// `SIOCINQ`: received but not yet read by us). None when the ioctl fails.
fn socket_queue(fd: i32, request: libc::c_ulong) -> Option<i32> {
    let mut n: libc::c_int = 0;
    // SAFETY: both requests write one int.
    (unsafe { libc::ioctl(fd, request as _, &mut n) } == 0).then_some(n)
}

/// Where a worker's main thread is.
enum Wait {
    /// Asleep in epoll/poll/select: an idle event loop.
    EventLoop,
    /// Asleep somewhere else.
    Elsewhere,
    /// Running (or gone).
    Running,
}

/// Reads where the worker's main thread sleeps. A Node worker waiting in `epoll_wait` has
/// handled every message it read and written every reply it could: libuv would be writing,
/// not waiting, if replies were queued and the channel had room.
fn main_thread_wait(pid: u32) -> Wait {
    let Ok(wchan) = std::fs::read_to_string(format!("/proc/{pid}/wchan")) else {
        return Wait::Running;
    };
    let wchan = wchan.trim();
    if wchan.is_empty() || wchan == "0" {
        Wait::Running
    } else if wchan.contains("epoll") || wchan.contains("poll") || wchan.contains("select") {
        Wait::EventLoop
    } else {
        Wait::Elsewhere
    }
}

/// Starts the drainer unless it runs already.
pub(crate) fn ensure_running(inner: &Arc<Inner>, st: &mut State) {
    if !st.draining {
        st.draining = true;
        crate::runtime::spawn_task(run(inner.clone()));
    }
}

async fn run(inner: Arc<Inner>) {
    loop {
        tokio::time::sleep(TICK).await;
        let mut st = inner.lock();
        if !tick(&inner, &mut st, Instant::now()) {
            st.draining = false;
            return;
        }
    }
}

/// What one look at a worker decided.
enum Verdict {
    Wait,
    Close,
    Stalled,
    Terminate,
}

/// One look at every draining worker. Returns whether anything still needs the drainer.
fn tick(inner: &Arc<Inner>, st: &mut State, now: Instant) -> bool {
    let finishing = st.finishing && !st.stopped && !st.finished;
    let stall_limit = st.stall_limit;
    let busy_pools: Vec<u32> = st
        .pools
        .iter()
        .filter(|(_, p)| !p.queue.is_empty())
        .map(|(id, _)| *id)
        .collect();
    let mut any = finishing;
    let mut verdicts: Vec<(WorkerId, Verdict)> = Vec::new();
    for (id, w) in st.workers.iter_mut() {
        let finishing_member = finishing && w.leave.is_none();
        if !(w.retiring || finishing_member || w.closed_at.is_some()) {
            continue;
        }
        any = true;
        let verdict = look(
            inner,
            w,
            now,
            finishing_member && busy_pools.contains(&w.pool),
            stall_limit,
        );
        verdicts.push((*id, verdict));
    }
    for (id, verdict) in verdicts {
        match verdict {
            Verdict::Wait => {}
            Verdict::Close => {
                let w = st.workers.get_mut(&id).expect("worker");
                w.leave = Some(if w.retiring {
                    Leave::Replaced
                } else {
                    Leave::Finish
                });
                w.close_requested = true;
                w.closed_at = Some(now);
                w.wake_writer();
            }
            Verdict::Terminate => st.workers.get_mut(&id).expect("worker").terminate(),
            Verdict::Stalled => {
                let msg = "the worker stopped reading its input while the manager was closing";
                inner.worker_error_locked(st, id, "ERR_WORKER_STALLED", msg.to_string());
                // A retired worker has its replacement already.
                let why = if st.workers[&id].retiring {
                    Leave::Replaced
                } else {
                    Leave::Restart
                };
                inner.end_worker(st, id, why);
            }
        }
    }
    inner.check_finished(st);
    any
}

fn look(
    inner: &Inner,
    w: &mut Worker,
    now: Instant,
    pool_busy: bool,
    stall: Option<Duration>,
) -> Verdict {
    let Some(io) = &w.io else {
        return Verdict::Wait;
    };
    // A retired worker is bloated: it gets the kill timeout, whatever else applies.
    let stall = if w.retiring {
        Some(inner.config.kill_timeout)
    } else {
        stall
    };
    let quiet_for = inner.since_ms(io.last_rx.load(Ordering::Relaxed));
    if let Some(closed) = w.closed_at {
        let silent = quiet_for.min(now.duration_since(closed));
        let stalled = stall.is_some_and(|limit| silent >= limit);
        return if stalled && !w.terminating {
            Verdict::Terminate
        } else {
            Verdict::Wait
        };
    }
    if inner.config.reply.is_some() {
        // Reply mode knows when a worker is done: every message it was given is answered.
        let done = !pool_busy && w.awaiting.is_empty() && w.out.is_empty() && w.inflight == 0;
        return if done { Verdict::Close } else { Verdict::Wait };
    }
    let fd = io.channel.raw_fd();
    let unread_by_worker = socket_queue(fd, libc::TIOCOUTQ);
    let consumed = !pool_busy
        && w.out.is_empty()
        && w.inflight == 0
        && unread_by_worker == Some(0)
        && socket_queue(fd, libc::FIONREAD) == Some(0);
    if consumed {
        w.stall = None;
        let consumed_since = *w.consumed_since.get_or_insert(now);
        if quiet_for < inner.config.end_quiet {
            w.quiet_since = None;
        }
        let quiet_since = *w.quiet_since.get_or_insert(now);
        let quiet = quiet_for >= inner.config.end_quiet
            && now.duration_since(quiet_since) >= inner.config.end_quiet;
        let consumed_for = now.duration_since(consumed_since);
        let long = inner.config.kill_timeout;
        let close = match w.pid.map(main_thread_wait) {
            // The usual case: nothing left either way, quiet, and waiting in its event loop,
            // so its own write queue is empty and it is not in the middle of a message.
            Some(Wait::EventLoop) => quiet || consumed_for >= long,
            // Blocked elsewhere (not Node, say): give it the kill timeout.
            Some(Wait::Elsewhere) => quiet && consumed_for >= long,
            // Running: a message is still being worked on, unless close() gave up on it.
            _ => false,
        } || stall.is_some_and(|limit| quiet_for >= limit);
        return if close { Verdict::Close } else { Verdict::Wait };
    }
    w.quiet_since = None;
    w.consumed_since = None;
    let (Some(limit), Some(queued)) = (stall, unread_by_worker) else {
        return Verdict::Wait;
    };
    match w.stall {
        Some((q, since)) if q == queued => {
            if queued > 0 && now.duration_since(since) >= limit && quiet_for >= limit {
                Verdict::Stalled
            } else {
                Verdict::Wait
            }
        }
        _ => {
            w.stall = Some((queued, now));
            Verdict::Wait
        }
    }
}
