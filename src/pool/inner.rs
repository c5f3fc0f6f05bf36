//! The state every task of one manager reaches: its config, its event queue, the flow switch
//! of the readable side, and the pools and workers behind one mutex that is never held across
//! an await. The operations on it live beside it, one file per job: `lifecycle` (workers come
//! and go), `traffic` (their output and input), `drain` (graceful ends), `memory` (the RSS
//! limit), `tasks` (each worker's tasks).

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::config::ManagerConfig;
use crate::counters::Counters;
use crate::events::{Event, EventQueue, PoolId, WorkerId};
use crate::pool::read_side::ConsumerWatches;
use crate::pool::state::State;

pub(crate) struct Inner {
    pub config: ManagerConfig,
    pub events: EventQueue,
    pub flowing: watch::Sender<bool>,
    pub counters: Arc<Counters>,
    /// Workers' read sides for the consumer's thread (see `read_side`).
    pub consumer_watches: ConsumerWatches,
    state: Mutex<State>,
    epoch: Instant,
}

impl Inner {
    pub(crate) fn new(config: ManagerConfig, events: EventQueue, counters: Arc<Counters>) -> Self {
        let (flowing, _) = watch::channel(true);
        Inner {
            config,
            events,
            flowing,
            counters,
            consumer_watches: ConsumerWatches::default(),
            state: Mutex::new(State::default()),
            epoch: Instant::now(),
        }
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

    /// Dispatches a pool's queue and reports a saturation change. What this thread writes
    /// at once makes room for more: the queue is dispatched again while that goes on.
    pub(crate) fn after_change(&self, st: &mut State, pool: PoolId) {
        loop {
            if st.dispatch(pool, self.config.worker_high_water) {
                self.events.push(Event::Saturation { pool });
            }
            let mut wrote = false;
            for id in std::mem::take(&mut st.handed) {
                let had_output = st.workers.get(&id).is_some_and(|w| !w.out.is_empty());
                if self.write_now(st, id) {
                    wrote |= had_output;
                } else if let Some(w) = st.workers.get(&id) {
                    w.wake_writer();
                }
            }
            let waiting = st
                .pools
                .get(&pool)
                .is_some_and(|p| p.saturated || !p.queue.is_empty());
            if !(wrote && waiting) {
                return;
            }
        }
    }

    /// Waits until JS may be handed results: its readable side flows (or is not in use) and
    /// its queue has room. The readers wait for this before reading workers, and the writers
    /// before feeding them, so that input follows output: a worker given messages whose
    /// answers nobody reads would answer into its own heap (see `write_loop`). `flowing` is
    /// the caller's subscription to `self.flowing`.
    pub(crate) async fn wait_results_room(&self, flowing: &mut watch::Receiver<bool>) {
        loop {
            if *flowing.borrow_and_update() {
                self.events.wait_room().await;
                if *flowing.borrow() {
                    return;
                }
            } else if flowing.changed().await.is_err() {
                return; // the sender lives as long as `self`: not reached
            }
        }
    }

    /// Whether JS may be handed results now (what `wait_results_room` waits for).
    pub(crate) fn results_room(&self) -> bool {
        *self.flowing.borrow() && self.events.has_room()
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
