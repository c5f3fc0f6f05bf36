//! The manager: the public operations of the core, and the reactions to what workers do.
//! All state sits behind one mutex that is never held across an await.

use std::io;
use std::os::fd::IntoRawFd;
use std::process::ExitStatus;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{mpsc, watch, Notify};

use crate::config::{ForkSpec, ManagerConfig};
use crate::control::{classify, Control, LineKind};
use crate::counters::{Counters, Snapshot};
use crate::events::{Batch, Event, EventQueue, PoolId, WorkerId};
use crate::framing::{lines, split_messages};
use crate::respawn::RespawnPolicy;
use crate::spawner::{Spawned, Spawner};
use crate::state::{Leave, Pool, Queued, State, Worker, WorkerIo};
use crate::{drain, memory, worker};

/// Errors of the core's operations, each with a stable code for JS.
#[derive(Debug, PartialEq, Eq)]
pub enum CoreError {
    Stopped,
    UnknownPool(PoolId),
}

impl CoreError {
    pub fn code(&self) -> &'static str {
        match self {
            CoreError::Stopped => "ERR_FORKFRIEND_STOPPED",
            CoreError::UnknownPool(_) => "ERR_FORKFRIEND_UNKNOWN_SCRIPT",
        }
    }
}

impl std::fmt::Display for CoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CoreError::Stopped => write!(f, "the manager is stopped"),
            CoreError::UnknownPool(p) => write!(f, "no pool with id {p}"),
        }
    }
}

/// Runs a task on the core's runtime.
pub(crate) fn spawn_task<F>(task: F)
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    runtime().runtime.spawn(task);
}

struct Runtime {
    runtime: tokio::runtime::Runtime,
    spawner: Spawner,
}

/// One tokio runtime and one spawning thread serve every manager of the process.
fn runtime() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("forkfriend-io")
            .enable_all()
            .build()
            .expect("tokio runtime");
        let spawner = Spawner::start(runtime.handle().clone()).expect("spawning thread");
        Runtime { runtime, spawner }
    })
}

pub(crate) struct Inner {
    pub config: ManagerConfig,
    pub events: EventQueue,
    pub flowing: watch::Sender<bool>,
    pub counters: Arc<Counters>,
    state: Mutex<State>,
    epoch: Instant,
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
        let (flowing, _) = watch::channel(true);
        let manager = Manager {
            inner: Arc::new(Inner {
                config,
                events,
                flowing,
                counters,
                state: Mutex::new(State::default()),
                epoch: Instant::now(),
            }),
        };
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

    /// Queues serialized messages (`\n`-terminated JSON lines) for one pool, or one worker
    /// of every pool. Returns whether a target pool is saturated (the caller should wait).
    /// Without `no_drop`, messages past `max_queue` are dropped oldest first.
    pub fn submit(&self, target: Option<PoolId>, batch: Bytes, no_drop: bool) -> bool {
        let msgs = split_messages(batch);
        Counters::add(&self.inner.counters.submits, 1);
        let mut st = self.inner.lock();
        if st.stopped {
            return true;
        }
        let targets: Vec<PoolId> = match target {
            Some(p) => vec![p],
            None => st.pools.keys().copied().collect(),
        };
        let mut saturated = false;
        for pool in targets {
            let Some(p) = st.pools.get_mut(&pool) else {
                continue;
            };
            let broadcast = target.is_none();
            p.queue.extend(msgs.iter().map(|msg| Queued {
                msg: msg.clone(),
                broadcast,
            }));
            self.inner.after_change(&mut st, pool);
            let p = st.pools.get_mut(&pool).expect("pool exists");
            if !no_drop && p.queue.len() > self.inner.config.max_queue {
                let excess = p.queue.len() - self.inner.config.max_queue;
                let dropped: Vec<Queued> = p.queue.drain(..excess).collect();
                self.inner
                    .events
                    .push_dropped(pool, dropped.iter().map(Queued::parts));
            }
            saturated |= p.saturated;
        }
        saturated
    }

    /// Sends serialized messages to one worker, bypassing the balancer.
    /// Returns None when the worker is gone, else whether it can take more now.
    pub fn submit_to_worker(&self, worker: WorkerId, batch: &[u8]) -> Option<bool> {
        let mut st = self.inner.lock();
        let w = st.workers.get_mut(&worker)?;
        if w.leave.is_some() || w.close_requested {
            return None;
        }
        w.out.extend_from_slice(batch);
        if !batch.ends_with(b"\n") {
            w.out.push(b'\n');
        }
        w.wake_writer();
        let ok = !w.backed_up(self.inner.config.worker_high_water);
        if !ok {
            w.notify_ready = true;
        }
        Some(ok)
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
                .try_send(crate::state::Command::Signal(signal))
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
            self.inner
                .events
                .push_dropped(pool, queued.iter().map(Queued::parts));
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

    /// Everything that happened since the last call.
    pub fn take_events(&self) -> Batch {
        self.inner.events.take()
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

impl Drop for Inner {
    fn drop(&mut self) {
        // Whoever holds the last handle is gone: no worker may outlive it.
        if let Ok(st) = self.state.get_mut() {
            for w in st.workers.values() {
                if let Some(pid) = w.pid {
                    // SAFETY: plain kill(2); the supervisor still owns (has not reaped) the child.
                    unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
                }
            }
        }
    }
}

impl Inner {
    /// Pids of running workers that are not on their way out.
    pub(crate) fn running_pids(&self) -> Vec<(WorkerId, u32)> {
        let st = self.lock();
        st.workers
            .iter()
            .filter(|(_, w)| w.io.is_some() && w.leave.is_none() && !w.retiring)
            .filter_map(|(id, w)| w.pid.map(|p| (*id, p)))
            .collect()
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    pub(crate) fn since_ms(&self, ms: u64) -> Duration {
        Duration::from_millis(self.now_ms().saturating_sub(ms))
    }

    fn policy(&self) -> RespawnPolicy {
        RespawnPolicy {
            interval: self.config.respawn_interval,
            min_uptime: self.config.min_uptime,
            max_delay: self.config.max_respawn_delay,
        }
    }

    /// Dispatches a pool's queue and reports a saturation change.
    pub(crate) fn after_change(&self, st: &mut State, pool: PoolId) {
        if st.dispatch(pool, self.config.worker_high_water) {
            self.events.push(Event::Saturation { pool });
        }
    }

    fn start_worker(self: &Arc<Self>, st: &mut State, pool: PoolId) {
        let id = st.new_id();
        let Some(p) = st.pools.get_mut(&pool) else {
            return;
        };
        p.members.push(id);
        let spec = p.spec.clone();
        st.workers.insert(id, Worker::starting(pool));
        let inner = self.clone();
        spawn_task(async move {
            let result = runtime().spawner.spawn(spec).await;
            inner.install(id, result);
        });
    }

    fn install(self: &Arc<Self>, id: WorkerId, result: io::Result<Spawned>) {
        let spawned = match result {
            Ok(s) => s,
            Err(e) => return self.spawn_failed(id, e),
        };
        let Spawned {
            child,
            pid,
            channel,
            stdio,
        } = spawned;
        let channel = match tokio::net::UnixStream::from_std(channel) {
            Ok(c) => Arc::new(c),
            Err(e) => {
                // SAFETY: the child is ours and unreaped; the supervisor below reaps it.
                unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
                drop(child);
                return self.spawn_failed(id, e);
            }
        };
        let stdio = stdio.map(|fd| fd.map_or(-1, |fd| fd.into_raw_fd()));
        let (commands, command_rx) = mpsc::channel(16);
        let wake_writer = Arc::new(Notify::new());
        let last_rx = Arc::new(AtomicU64::new(self.now_ms()));
        let io = WorkerIo {
            channel: channel.clone(),
            wake_writer: wake_writer.clone(),
            commands,
            last_rx: last_rx.clone(),
        };
        let parts = worker::Parts {
            child,
            channel,
            wake_writer,
            last_rx,
            commands: command_rx,
        };
        let mut st = self.lock();
        let pool = match st.workers.get_mut(&id) {
            Some(w) => {
                w.pid = Some(pid);
                w.started = Instant::now();
                w.io = Some(io);
                if w.leave.is_some() {
                    w.terminate();
                }
                w.wake_writer();
                self.events.push(Event::Spawned {
                    pool: w.pool,
                    worker: id,
                    pid,
                    stdio,
                });
                Some(w.pool)
            }
            None => {
                // Not ours any more: never leave it running. The supervisor still reaps it.
                // SAFETY: plain kill(2) on our own unreaped child.
                unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
                None
            }
        };
        spawn_task(worker::supervise(self.clone(), id, parts));
        if let Some(pool) = pool {
            self.after_change(&mut st, pool);
        }
    }

    fn spawn_failed(self: &Arc<Self>, id: WorkerId, error: io::Error) {
        let mut st = self.lock();
        let Some(w) = st.workers.remove(&id) else {
            return;
        };
        let message = format!("cannot start worker: {error}");
        self.events.push(Event::SpawnFailed {
            pool: w.pool,
            worker: id,
            message,
        });
        if let Some(p) = st.pools.get_mut(&w.pool) {
            p.members.retain(|m| *m != id);
        }
        if w.leave.is_none() {
            self.maybe_respawn(&mut st, w.pool, Duration::ZERO);
        }
        self.check_finished(&mut st);
    }

    /// Marks a worker as leaving, takes back its unsent messages, and ends it.
    pub(crate) fn end_worker(&self, st: &mut State, id: WorkerId, why: Leave) {
        let Some(w) = st.workers.get_mut(&id) else {
            return;
        };
        if w.leave.is_some() {
            return;
        }
        w.leave = Some(why);
        st.reclaim(id);
        st.workers.get_mut(&id).expect("worker").terminate();
    }

    fn remove_chosen(&self, st: &mut State, pool: PoolId, chosen: &[WorkerId], n: usize) {
        for id in chosen {
            self.end_worker(st, *id, Leave::Remove);
        }
        let Some(p) = st.pools.get_mut(&pool) else {
            return;
        };
        p.desired = p.desired.saturating_sub(n.max(chosen.len()));
        if p.desired == 0 {
            let p = st.pools.remove(&pool).expect("pool");
            let queued: Vec<Queued> = p.queue.into_iter().collect();
            self.events
                .push_dropped(pool, queued.iter().map(Queued::parts));
        } else {
            self.after_change(st, pool);
        }
    }

    /// Schedules a replacement when the pool still wants one.
    fn maybe_respawn(self: &Arc<Self>, st: &mut State, pool: PoolId, uptime: Duration) {
        let finishing = st.finishing;
        if st.stopped {
            return;
        }
        let active = st.active_members(pool);
        let Some(p) = st.pools.get_mut(&pool) else {
            return;
        };
        if active + p.scheduled >= p.desired || (finishing && p.queue.is_empty()) {
            return;
        }
        let now = Instant::now();
        let plan = p.respawn.schedule(&self.policy(), now, uptime);
        p.scheduled += 1;
        let delay = plan.at.saturating_duration_since(now);
        self.events.push(Event::Respawn {
            pool,
            delay_ms: delay.as_millis().min(u32::MAX as u128) as u32,
            crashes: plan.crashes,
        });
        let inner = self.clone();
        runtime().runtime.spawn(async move {
            tokio::time::sleep_until(plan.at.into()).await;
            inner.respawn_due(pool);
        });
    }

    fn respawn_due(self: &Arc<Self>, pool: PoolId) {
        let mut st = self.lock();
        let (stopped, finishing) = (st.stopped, st.finishing);
        let active = st.active_members(pool);
        let needed = match st.pools.get_mut(&pool) {
            Some(p) => {
                p.scheduled -= 1;
                !stopped && active < p.desired && !(finishing && p.queue.is_empty())
            }
            None => false,
        };
        if needed {
            self.start_worker(&mut st, pool);
        } else {
            self.events.push(Event::Aborted { pool });
            self.check_finished(&mut st);
        }
    }

    /// A worker process is gone and its channel read to the end.
    pub(crate) fn on_exit(self: &Arc<Self>, id: WorkerId, status: io::Result<ExitStatus>) {
        use std::os::unix::process::ExitStatusExt;
        let mut st = self.lock();
        st.reclaim(id);
        let Some(w) = st.workers.remove(&id) else {
            return;
        };
        let (code, signal) = match &status {
            Ok(s) => (s.code(), s.signal()),
            Err(_) => (None, None),
        };
        let expected = w.terminating || w.leave.is_some();
        self.events.push(Event::Exit {
            pool: w.pool,
            worker: id,
            code,
            signal,
            expected,
        });
        let stopped = st.stopped;
        if let Some(p) = st.pools.get_mut(&w.pool) {
            p.members.retain(|m| *m != id);
            match w.leave {
                Some(Leave::Restart) if !stopped => {
                    p.respawn.forget_crashes();
                    self.start_worker(&mut st, w.pool);
                }
                Some(_) => {}
                None => self.maybe_respawn(&mut st, w.pool, w.started.elapsed()),
            }
            self.after_change(&mut st, w.pool);
        }
        self.check_finished(&mut st);
    }

    /// The reader reached the end of a worker's channel while the worker lives on.
    /// Returns whether the manager should end the worker now.
    pub(crate) fn channel_closed(&self, id: WorkerId) {
        let mut st = self.lock();
        let Some(w) = st.workers.get_mut(&id) else {
            return;
        };
        if w.leave != Some(Leave::Finish) && w.leave != Some(Leave::Stop) {
            self.events.push(Event::Disconnect {
                pool: w.pool,
                worker: id,
            });
        }
        w.close_requested = true;
        w.terminate();
        st.reclaim(id);
    }

    pub(crate) fn worker_error(&self, id: WorkerId, code: &'static str, message: String) {
        let st = self.lock();
        self.worker_error_locked(&st, id, code, message);
    }

    pub(crate) fn worker_error_locked(
        &self,
        st: &State,
        id: WorkerId,
        code: &'static str,
        message: String,
    ) {
        if let Some(w) = st.workers.get(&id) {
            self.events.push(Event::WorkerError {
                pool: w.pool,
                worker: id,
                code,
                message,
            });
        }
    }

    /// Retires a worker gracefully: its replacement starts now, it gets no new messages, and
    /// its channel closes once it has answered what it has (or after the kill timeout).
    pub(crate) fn retire(self: &Arc<Self>, id: WorkerId) {
        let mut st = self.lock();
        let Some(w) = st.workers.get_mut(&id) else {
            return;
        };
        if w.retiring || w.leave.is_some() {
            return;
        }
        w.retiring = true;
        w.retiring_since = Some(Instant::now());
        let pool = w.pool;
        st.reclaim(id);
        if !st.stopped && st.pools.contains_key(&pool) {
            self.start_worker(&mut st, pool);
        }
        drain::ensure_running(self, &mut st);
        self.after_change(&mut st, pool);
    }

    /// Ends a misbehaving worker and starts a fresh one.
    pub(crate) fn recycle(&self, id: WorkerId) {
        let mut st = self.lock();
        self.end_worker(&mut st, id, Leave::Restart);
        if let Some(pool) = st.workers.get(&id).map(|w| w.pool) {
            self.after_change(&mut st, pool);
        }
    }

    /// Complete lines read from a worker: results go to JS, control messages act here, in
    /// line order (a result sent after a pause must not reach JS before the pause took effect).
    pub(crate) fn deliver(self: &Arc<Self>, id: WorkerId, chunk: &[u8]) {
        let utf8 = std::str::from_utf8(chunk).is_ok();
        let mut results: Vec<&[u8]> = Vec::new();
        let mut invalid = 0usize;
        for line in lines(chunk) {
            if !utf8 && std::str::from_utf8(line).is_err() {
                invalid += 1;
                continue;
            }
            match classify(line) {
                LineKind::Result => results.push(line),
                LineKind::Control(c) => {
                    self.events.push_results(id, results.drain(..));
                    self.on_control(id, c);
                }
                LineKind::Internal => {}
            }
        }
        Counters::add(&self.counters.results, results.len() as u64);
        self.events.push_results(id, results);
        if invalid > 0 {
            let msg = format!("{invalid} message(s) from the worker were not valid UTF-8");
            self.worker_error(id, "ERR_WORKER_INVALID_MESSAGE", msg);
        }
    }

    fn on_control(self: &Arc<Self>, id: WorkerId, control: Control) {
        let mut st = self.lock();
        let Some(w) = st.workers.get_mut(&id) else {
            return;
        };
        let pool = w.pool;
        self.events.push(Event::Control {
            worker: id,
            control,
        });
        match control {
            Control::Pause => {
                w.paused = true;
                w.pause_gen += 1;
                if let Some(limit) = self.config.paused_worker_timeout {
                    let gen = w.pause_gen;
                    let inner = self.clone();
                    runtime().runtime.spawn(async move {
                        tokio::time::sleep(limit).await;
                        inner.pause_expired(id, gen, limit);
                    });
                }
            }
            Control::Drain => w.paused = false,
            Control::End => self.end_worker(&mut st, id, Leave::Restart),
        }
        self.after_change(&mut st, pool);
    }

    fn pause_expired(&self, id: WorkerId, gen: u32, limit: Duration) {
        let still = self
            .lock()
            .workers
            .get(&id)
            .is_some_and(|w| w.paused && w.pause_gen == gen);
        if still {
            let msg = format!("worker stayed paused longer than {} ms", limit.as_millis());
            self.worker_error(id, "ERR_WORKER_PAUSED_TIMEOUT", msg);
            self.recycle(id);
        }
    }

    /// The writer takes everything queued for a worker; None when it should stop.
    pub(crate) fn take_output(&self, id: WorkerId, buf: &mut Vec<u8>) -> worker::Step {
        let mut st = self.lock();
        let Some(w) = st.workers.get_mut(&id) else {
            return worker::Step::Gone;
        };
        if !w.out.is_empty() {
            std::mem::swap(&mut w.out, buf);
            w.inflight = buf.len();
            worker::Step::Write
        } else if w.close_requested {
            worker::Step::Close
        } else {
            worker::Step::Idle
        }
    }

    /// The writer finished writing a batch to the socket.
    pub(crate) fn output_written(&self, id: WorkerId) {
        let mut st = self.lock();
        let Some(w) = st.workers.get_mut(&id) else {
            return;
        };
        w.inflight = 0;
        let pool = w.pool;
        if w.notify_ready && !w.backed_up(self.config.worker_high_water) {
            w.notify_ready = false;
            self.events.push(Event::WorkerReady { worker: id });
        }
        self.after_change(&mut st, pool);
    }

    /// Reports `Finished` once no worker is left: after end of input (and no respawn is
    /// pending), or after `stop()`.
    pub(crate) fn check_finished(&self, st: &mut State) {
        if st.finished || !(st.finishing || st.stopped) || !st.workers.is_empty() {
            return;
        }
        if !st.stopped && st.pools.values().any(|p| p.scheduled > 0) {
            return;
        }
        st.finished = true;
        self.events.push(Event::Finished);
    }
}
