//! The manager: the public operations of the core on one manager's pools (the state they
//! act on is `pool::inner::Inner`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::config::{ForkSpec, ManagerConfig, Serialization};
use crate::counters::{Counters, Snapshot};
use crate::events::{Batch, Event, EventQueue, PoolId, WorkerId};
use crate::pool::inner::Inner;
use crate::pool::read_side::{ConsumerRead, ConsumerWatch, WatchChange};
use crate::pool::reply::{ReplyBook, ReplyStats};
use crate::pool::state::{split_batch, Leave, Pool, Queued, State};
use crate::pool::tracking;
use crate::pool::{drain, memory};
use crate::runtime::{runtime, spawn_task};
use crate::wire::frames::frames;
use crate::wire::pieces::JsonPieces;

/// Errors of the core's operations, each with a stable code for JS.
#[derive(Debug, PartialEq, Eq)]
pub enum CoreError {
    Stopped,
    UnknownPool(PoolId),
    NotReplyMode,
}

impl CoreError {
    pub fn code(&self) -> &'static str {
        match self {
            CoreError::Stopped => "ERR_FORKFRIEND_STOPPED",
            CoreError::UnknownPool(_) => "ERR_FORKFRIEND_UNKNOWN_SCRIPT",
            CoreError::NotReplyMode => "ERR_REPLY_MODE_REQUIRED",
        }
    }
}

impl std::fmt::Display for CoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CoreError::Stopped => write!(f, "the manager is stopped"),
            CoreError::UnknownPool(p) => write!(f, "no pool with id {p}"),
            CoreError::NotReplyMode => write!(f, "the manager is not in reply mode"),
        }
    }
}

/// What `submit` did with a batch.
#[derive(Debug, Default)]
pub struct Submitted {
    /// A target pool is saturated: the caller should wait for room.
    pub saturated: bool,
    /// Messages that overflowed a pool's queue just now, oldest first, per pool.
    pub dropped: Vec<DroppedNow>,
}

/// Messages dropped from one pool's queue by one `submit`.
#[derive(Debug)]
pub struct DroppedNow {
    pub pool: PoolId,
    /// The messages are whole frames of the `advanced` serialization.
    pub advanced: bool,
    /// JSON texts (no `\n`) or frames, each with whether it had been sent to every pool.
    pub messages: Vec<(Bytes, bool)>,
}

/// A handle to one manager; cloning shares it.
#[derive(Clone)]
pub struct Manager {
    inner: Arc<Inner>,
}

impl Manager {
    /// `wake` is called (from any thread) when a batch of events is ready for `take_events`.
    pub fn new(config: ManagerConfig, wake: Box<dyn Fn() + Send + Sync>) -> Manager {
        runtime();
        let counters = Arc::new(Counters::default());
        let wakes = counters.clone();
        let wake = Box::new(move || {
            Counters::add(&wakes.wakes, 1);
            wake()
        });
        let events = EventQueue::new(config.results_high_water, wake);
        let reply = config.reply.clone();
        let manager = Manager {
            inner: Arc::new(Inner::new(config, events, counters)),
        };
        if let Some(reply) = reply {
            manager.inner.lock().reply = Some(ReplyBook::new(reply));
            spawn_task(tracking::watch_timeouts(Arc::downgrade(&manager.inner)));
        }
        if let Some(limit) = manager.inner.config.max_worker_rss {
            spawn_task(memory::watch(Arc::downgrade(&manager.inner), limit));
        }
        manager
    }

    /// Creates an empty pool for a script.
    pub fn add_pool(&self, spec: ForkSpec) -> Result<PoolId, CoreError> {
        let mut st = self.inner.lock();
        if st.stopped {
            return Err(CoreError::Stopped);
        }
        let id = st.new_id();
        st.serializations.insert(id, spec.serialization);
        st.pools.insert(id, Pool::new(Arc::new(spec)));
        Ok(id)
    }

    /// Starts `n` more workers of a pool, at once.
    pub fn add_workers(&self, pool: PoolId, n: usize) -> Result<(), CoreError> {
        let mut st = self.inner.lock();
        if st.stopped {
            return Err(CoreError::Stopped);
        }
        let p = st
            .pools
            .get_mut(&pool)
            .ok_or(CoreError::UnknownPool(pool))?;
        p.desired += n;
        p.respawn.spawned_now(Instant::now());
        for _ in 0..n {
            self.inner.start_worker(&mut st, pool);
        }
        Ok(())
    }

    /// Ends `n` workers of a pool for good (the oldest first); the pool is forgotten when none
    /// is wanted. Returns the workers chosen.
    pub fn remove_workers(&self, pool: PoolId, n: usize) -> Vec<WorkerId> {
        let mut st = self.inner.lock();
        let Some(p) = st.pools.get(&pool) else {
            return Vec::new();
        };
        let chosen: Vec<WorkerId> = p
            .members
            .iter()
            .copied()
            .filter(|id| st.workers.get(id).is_some_and(|w| w.leave.is_none()))
            .take(n)
            .collect();
        self.inner.remove_chosen(&mut st, pool, &chosen, n);
        chosen
    }

    /// Ends one worker for good.
    pub fn remove_worker(&self, worker: WorkerId) {
        let mut st = self.inner.lock();
        let Some(w) = st.workers.get(&worker) else {
            return;
        };
        if w.leave.is_some() {
            return;
        }
        let pool = w.pool;
        self.inner.remove_chosen(&mut st, pool, &[worker], 1);
    }

    /// Restarts every worker of a pool (or one worker), keeping the pool's size.
    pub fn refork(&self, pool: PoolId, worker: Option<WorkerId>) {
        let mut st = self.inner.lock();
        let Some(p) = st.pools.get(&pool) else { return };
        let targets: Vec<WorkerId> = match worker {
            Some(w) => p.members.iter().copied().filter(|m| *m == w).collect(),
            None => p.members.clone(),
        };
        for id in targets {
            self.inner.end_worker(&mut st, id, Leave::Restart);
        }
        self.inner.after_change(&mut st, pool);
    }

    /// Queues serialized messages (`\n`-terminated JSON lines, or whole frames when
    /// `serialization` is advanced) for one pool, or one worker of every pool that uses
    /// `serialization`. Without `no_drop`, messages past `max_queue` are dropped oldest first;
    /// they are handed back in the result (not as events), so the caller can report them
    /// before its send returns, as 0.0.7 did.
    pub fn submit(
        &self,
        target: Option<PoolId>,
        batch: Bytes,
        no_drop: bool,
        serialization: Serialization,
    ) -> Submitted {
        let msgs = split_batch(serialization, batch);
        Counters::add(&self.inner.counters.submits, 1);
        let mut out = Submitted {
            saturated: false,
            dropped: Vec::new(),
        };
        let mut st = self.inner.lock();
        if st.stopped {
            out.saturated = true;
            return out;
        }
        let every: Vec<PoolId>;
        let targets: &[PoolId] = match &target {
            Some(p) => std::slice::from_ref(p),
            None => {
                every = st
                    .pools
                    .iter()
                    .filter(|(_, p)| p.spec.serialization == serialization)
                    .map(|(id, _)| *id)
                    .collect();
                &every
            }
        };
        let broadcast = target.is_none();
        for &pool in targets {
            if !st.pools.contains_key(&pool) {
                continue;
            }
            let State { pools, reply, .. } = &mut *st;
            let p = pools.get_mut(&pool).expect("pool exists");
            let now = reply.is_some().then(Instant::now);
            p.queue.extend(msgs.iter().map(|msg| {
                Queued {
                    msg: msg.clone(),
                    broadcast,
                    ticket: reply
                        .as_mut()
                        .zip(now)
                        .map(|(book, now)| book.ticket(false, None, now)),
                }
            }));
            self.inner.after_change(&mut st, pool);
            let p = st.pools.get_mut(&pool).expect("pool exists");
            if !no_drop && p.queue.len() > self.inner.config.max_queue {
                let excess = p.queue.len() - self.inner.config.max_queue;
                let drained: Vec<Queued> = p.queue.drain(..excess).collect();
                let messages = self
                    .inner
                    .abandon_queued(&mut st, pool, drained)
                    .into_iter()
                    .map(|q| (q.msg, q.broadcast))
                    .collect();
                out.dropped.push(DroppedNow {
                    pool,
                    advanced: st.advanced(pool),
                    messages,
                });
            }
            let p = st.pools.get_mut(&pool).expect("pool exists");
            out.saturated |= p.saturated;
        }
        out
    }

    /// Sends serialized messages to one worker, bypassing the balancer.
    /// Returns None when the worker is gone, else whether it can take more now.
    pub fn submit_to_worker(&self, worker: WorkerId, batch: &[u8]) -> Option<bool> {
        let mut st = self.inner.lock();
        let State { workers, reply, .. } = &mut *st;
        let w = workers.get_mut(&worker)?;
        if w.leave.is_some() || w.close_requested {
            return None;
        }
        if let Some(book) = reply.as_mut() {
            // Reply mode: the worker will answer these too, so they are tracked.
            let now = Instant::now();
            for msg in split_batch(w.serialization, Bytes::copy_from_slice(batch)) {
                let ticket = book.ticket(false, None, now);
                book.note_dispatched(&ticket, now);
                w.give(&msg, Some((ticket, now)));
            }
        } else {
            w.out.extend_from_slice(batch);
            let messages = match w.serialization {
                Serialization::Json => {
                    if !batch.ends_with(b"\n") {
                        w.out.push(b'\n');
                    }
                    memchr::memchr_iter(b'\n', batch).count().max(1)
                }
                Serialization::Advanced => frames(batch).count(),
            };
            w.input.note(batch.len(), messages);
        }
        // An idle worker gets them from this thread, before it returns.
        if !self.inner.write_now(&mut st, worker) {
            st.workers.get(&worker)?.wake_writer();
        }
        let w = st.workers.get_mut(&worker)?;
        let ok = !w.backed_up(self.inner.config.worker_high_water);
        if !ok {
            w.notify_ready = true;
        }
        Some(ok)
    }

    /// Reply mode: queues one message for `pool` as a call (never dropped for `max_queue`;
    /// `timeout` overrides the configured one). Returns its sequence number.
    pub fn call(
        &self,
        pool: PoolId,
        msg: Bytes,
        timeout: Option<Duration>,
    ) -> Result<u64, CoreError> {
        let mut st = self.inner.lock();
        if st.stopped {
            return Err(CoreError::Stopped);
        }
        let State { pools, reply, .. } = &mut *st;
        let book = reply.as_mut().ok_or(CoreError::NotReplyMode)?;
        let p = pools.get_mut(&pool).ok_or(CoreError::UnknownPool(pool))?;
        let ticket = book.ticket(true, timeout, Instant::now());
        let seq = ticket.seq;
        let mut released = Vec::new();
        book.skip_call(&ticket, &mut released);
        p.queue.push_back(Queued {
            msg,
            broadcast: false,
            ticket: Some(ticket),
        });
        self.inner.after_change(&mut st, pool);
        drop(st);
        self.inner.emit_released(released);
        Ok(seq)
    }

    /// Reply mode: aborts a tracked message (see `Inner::cancel`).
    pub fn cancel(&self, seq: u64) -> bool {
        self.inner.cancel(seq)
    }

    /// Reply mode: tracked messages in flight on `worker` (0 when it is gone).
    pub fn worker_in_flight(&self, worker: WorkerId) -> usize {
        self.inner
            .lock()
            .workers
            .get(&worker)
            .map_or(0, |w| w.awaiting.len())
    }

    /// Reply mode's figures; None when it is off.
    pub fn reply_stats(&self) -> Option<ReplyStats> {
        let st = self.inner.lock();
        let in_flight = Inner::in_flight(&st);
        st.reply.as_ref().map(|b| b.stats(in_flight))
    }

    /// Is the pool's queue holding messages no worker could take?
    pub fn is_saturated(&self, pool: PoolId) -> bool {
        self.inner
            .lock()
            .pools
            .get(&pool)
            .is_some_and(|p| p.saturated)
    }

    /// Sends a signal to a worker; false when it is not running.
    pub fn signal(&self, worker: WorkerId, signal: i32) -> bool {
        let st = self.inner.lock();
        match st.workers.get(&worker).and_then(|w| w.io.as_ref()) {
            Some(io) => io
                .commands
                .try_send(crate::pool::state::Command::Signal(signal))
                .is_ok(),
            None => false,
        }
    }

    /// Closes a worker's channel (like `ChildProcess.disconnect()`); it is then ended and replaced.
    pub fn disconnect(&self, worker: WorkerId) {
        let mut st = self.inner.lock();
        if let Some(w) = st.workers.get_mut(&worker) {
            w.close_requested = true;
            w.wake_writer();
        }
    }

    /// Stops or resumes reading results (backpressure from the readable side).
    pub fn set_flowing(&self, flowing: bool) {
        self.inner
            .flowing
            .send_if_modified(|f| std::mem::replace(f, flowing) != flowing);
    }

    /// End of input: deliver everything, let workers answer, close them; then `Finished`.
    /// With `stall_limit`, a worker that reads nothing for that long meanwhile is ended.
    pub fn finish(&self, stall_limit: Option<Duration>) {
        let mut st = self.inner.lock();
        if st.stopped || st.finished {
            return;
        }
        st.finishing = true;
        if stall_limit.is_some() {
            st.stall_limit = stall_limit;
        }
        drain::ensure_running(&self.inner, &mut st);
    }

    /// Stops now: queued messages are dropped, every worker is ended, nothing respawns.
    pub fn stop(&self) {
        let mut st = self.inner.lock();
        if st.stopped {
            return;
        }
        st.stopped = true;
        let pools: Vec<(PoolId, Vec<Queued>)> = st
            .pools
            .iter_mut()
            .map(|(id, p)| (*id, p.queue.drain(..).collect()))
            .collect();
        for (pool, queued) in pools {
            // Pending calls are rejected by JS when it stops; only sends are reported dropped.
            let sends = queued
                .iter()
                .filter(|q| !q.ticket.as_ref().is_some_and(|t| t.call));
            let advanced = st.advanced(pool);
            self.inner
                .events
                .push_dropped(pool, advanced, sends.map(Queued::parts));
        }
        st.pools.clear();
        for w in st.workers.values_mut() {
            w.out.clear();
            if w.leave.is_none() {
                w.leave = Some(Leave::Stop);
            }
            w.terminate();
        }
        self.inner.check_finished(&mut st);
    }

    pub fn is_flowing(&self) -> bool {
        *self.inner.flowing.borrow()
    }

    /// From now on every worker's read side is also offered to the consumer's thread
    /// (`take_watch_changes`), which may read it with `read_now` (see `pool::read_side`).
    pub fn offer_read_sides(&self) {
        self.inner.consumer_watches.enable();
    }

    /// Read sides offered and withdrawn since the last call.
    pub fn take_watch_changes(&self) -> Vec<WatchChange> {
        self.inner.consumer_watches.take()
    }

    /// Reads a worker's output now, on the consumer's thread; true: the events it made are
    /// for the caller to take at once (`take_events`), nobody was woken for them.
    pub fn read_now(&self, watch: &ConsumerWatch) -> (ConsumerRead, bool) {
        watch.side.read_now(&self.inner, &watch.fd)
    }

    /// Everything that happened since the last call.
    pub fn take_events(&self) -> Batch {
        self.inner.events.take()
    }

    /// Hands back the results of a batch JS has read, for reuse of their memory.
    pub fn recycle_results(&self, results: JsonPieces) {
        self.inner.events.recycle(results)
    }

    /// See `EventQueue::recycle_lists`.
    pub fn recycle_lists(&self, events: Vec<Event>, replies: Vec<f64>) {
        self.inner.events.recycle_lists(events, replies)
    }

    /// Data-path counters since the manager was created.
    pub fn counters(&self) -> Snapshot {
        self.inner.counters.snapshot()
    }

    /// Number of workers alive or starting (for tests and diagnostics).
    pub fn worker_count(&self) -> usize {
        self.inner.lock().workers.len()
    }
}
