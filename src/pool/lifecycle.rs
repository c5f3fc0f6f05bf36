//! How workers come and go: starting them, installing a started process, ending them,
//! respawning by the policy, and reacting to their exit.

use std::io;
use std::os::fd::IntoRawFd;
use std::process::ExitStatus;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{mpsc, Notify};

use crate::config::Serialization;
use crate::events::{Event, PoolId, WorkerId};
use crate::pool::drain;
use crate::pool::inner::Inner;
use crate::pool::respawn::{killed_from_outside, Death, RespawnPolicy};
use crate::pool::state::{Leave, Queued, State, Worker, WorkerIo};
use crate::pool::tasks;
use crate::process::spawner::Spawned;
use crate::runtime::{runtime, spawn_task};
use crate::wire::channel::Channel;

impl Inner {
    pub(crate) fn policy(&self) -> RespawnPolicy {
        RespawnPolicy {
            interval: self.config.respawn_interval,
            min_uptime: self.config.min_uptime,
            max_delay: self.config.max_respawn_delay,
        }
    }

    pub(crate) fn start_worker(self: &Arc<Self>, st: &mut State, pool: PoolId) {
        let id = st.new_id();
        let Some(p) = st.pools.get_mut(&pool) else {
            return;
        };
        p.members.push(id);
        let spec = p.spec.clone();
        st.workers
            .insert(id, Worker::starting(pool, spec.serialization));
        let inner = self.clone();
        spawn_task(async move {
            let serialization = spec.serialization;
            let kill_signal = spec.kill_signal;
            let result = runtime().spawner.spawn(spec).await;
            inner.install(id, serialization, kill_signal, result);
        });
    }

    fn install(
        self: &Arc<Self>,
        id: WorkerId,
        serialization: Serialization,
        kill_signal: i32,
        result: io::Result<Spawned>,
    ) {
        let spawned = match result {
            Ok(s) => s,
            Err(e) => return self.spawn_failed(id, e),
        };
        let Spawned {
            process,
            pid,
            channel,
            stdio,
        } = spawned;
        let channel = match Channel::new(channel) {
            Ok(c) => Arc::new(c),
            Err(e) => {
                drop(process); // killed and reaped
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
        let parts = tasks::Parts {
            process,
            channel,
            wake_writer,
            last_rx,
            commands: command_rx,
            kill_signal,
            serialization,
        };
        let mut st = self.lock();
        let pool = match st.workers.get_mut(&id) {
            Some(w) => {
                w.pid = Some(pid);
                w.started = Instant::now();
                w.io = Some(io);
                if matches!(w.leave, Some(Leave::Remove | Leave::Stop)) {
                    // Removed (or stopped) before it was up: 0.0.7 never forked such a
                    // worker, so it is killed without a word to JS.
                    w.unseen = true;
                    parts.process.signal(libc::SIGKILL);
                    for fd in stdio.into_iter().filter(|fd| *fd >= 0) {
                        // SAFETY: these fds were just made for this worker and are owned here.
                        unsafe { libc::close(fd) };
                    }
                } else {
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
                }
                Some(w.pool)
            }
            None => {
                // Not ours any more: never leave it running. The supervisor still reaps it.
                parts.process.signal(libc::SIGKILL);
                None
            }
        };
        spawn_task(tasks::supervise(self.clone(), id, parts));
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
            self.maybe_respawn(&mut st, w.pool, Death::at_start());
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

    pub(crate) fn remove_chosen(
        &self,
        st: &mut State,
        pool: PoolId,
        chosen: &[WorkerId],
        n: usize,
    ) {
        for id in chosen {
            self.end_worker(st, *id, Leave::Remove);
        }
        let Some(p) = st.pools.get_mut(&pool) else {
            return;
        };
        p.desired = p.desired.saturating_sub(n.max(chosen.len()));
        if p.desired == 0 {
            let p = st.pools.remove(&pool).expect("pool");
            let queued = self.abandon_queued(st, pool, p.queue.into_iter().collect());
            let advanced = st.advanced(pool);
            self.events
                .push_dropped(pool, advanced, queued.iter().map(Queued::parts));
        } else {
            self.after_change(st, pool);
        }
    }

    /// Schedules a replacement when the pool still wants one.
    fn maybe_respawn(self: &Arc<Self>, st: &mut State, pool: PoolId, death: Death) {
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
        let plan = p.respawn.schedule(&self.policy(), now, death);
        p.scheduled += 1;
        let delay = plan.at.saturating_duration_since(now);
        self.events.push(Event::Respawn {
            pool,
            delay_ms: delay.as_millis().min(u32::MAX as u128) as u32,
            crashes: plan.crashes,
        });
        let inner = self.clone();
        runtime().runtime.spawn(async move {
            // The timer wheel rounds every sleep up to its next millisecond tick: a respawn
            // that is due now does not wait for one.
            if !delay.is_zero() {
                tokio::time::sleep_until(plan.at.into()).await;
            }
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
        if !w.unseen {
            self.events.push(Event::Exit {
                pool: w.pool,
                worker: id,
                code,
                signal,
                expected,
            });
        }
        let stopped = st.stopped;
        if !w.awaiting.is_empty() && !stopped {
            let counts = !expected && !w.discard_output;
            let awaiting = w.awaiting.into_iter().collect();
            self.redeliver(&mut st, w.pool, awaiting, counts, code, signal);
        }
        if let Some(p) = st.pools.get_mut(&w.pool) {
            p.members.retain(|m| *m != id);
            match w.leave {
                Some(Leave::Restart) if !stopped => {
                    p.respawn.forget_crashes();
                    self.start_worker(&mut st, w.pool);
                }
                Some(_) => {}
                None => {
                    let death = Death {
                        uptime: w.started.elapsed(),
                        killed: signal.is_some_and(killed_from_outside),
                    };
                    self.maybe_respawn(&mut st, w.pool, death)
                }
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
        if w.leave != Some(Leave::Finish) && w.leave != Some(Leave::Stop) && !w.unseen {
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
        if let Some(w) = st.workers.get(&id).filter(|w| !w.unseen) {
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
}
