//! The manager's bookkeeping: pools, workers, queues, and handing queued messages to workers.
//! Pure data and decisions; no I/O happens here (`dispatch` lists the workers it gave
//! output to in `handed`; `Inner::after_change` writes it or wakes their writers).

use std::collections::VecDeque;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use rustc_hash::FxHashMap as HashMap;
use tokio::sync::{mpsc, Notify};

use crate::config::{ForkSpec, Serialization};
use crate::events::{PoolId, WorkerId};
use crate::pool::balance::{least_recent, PickClock};
use crate::pool::input_window::InputWindow;
use crate::pool::reply::{InFlight, ReplyBook, Ticket};
use crate::pool::respawn::RespawnState;
use crate::wire::frames::split_frames;
use crate::wire::framing::split_messages;

/// Splits a batch of serialized messages as its pool's channel frames them.
pub fn split_batch(serialization: Serialization, batch: Bytes) -> Vec<Bytes> {
    match serialization {
        Serialization::Json => split_messages(batch),
        Serialization::Advanced => split_frames(batch),
    }
}

/// What a worker's supervisor task can be asked to do.
#[derive(Debug, Clone, Copy)]
pub enum Command {
    Signal(i32),
    /// SIGTERM now, SIGKILL after the kill timeout.
    Terminate,
}

/// Why the manager is ending a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leave {
    /// Removed for good.
    Remove,
    /// Restart at once (refork, `end` control message, recycling).
    Restart,
    /// End of input: the worker answered everything.
    Finish,
    /// The manager stopped.
    Stop,
    /// Retired gracefully after its replacement was started: no respawn.
    Replaced,
}

/// The live parts of a running worker that tasks share.
pub struct WorkerIo {
    pub channel: Arc<crate::wire::channel::Channel>,
    pub wake_writer: Arc<Notify>,
    pub commands: mpsc::Sender<Command>,
    /// Milliseconds since the manager's epoch of the last byte read from the worker.
    pub last_rx: Arc<AtomicU64>,
}

pub struct Worker {
    pub pool: PoolId,
    /// How its pool's channel frames messages.
    pub serialization: Serialization,
    pub pid: Option<u32>,
    /// None while the process is being started.
    pub io: Option<WorkerIo>,
    /// Serialized messages not yet taken by the writer task.
    pub out: Vec<u8>,
    /// Bytes the writer task is writing right now (`rest` included).
    pub inflight: usize,
    /// The end of a write from JS's thread that the socket did not take whole: the writer
    /// writes it before anything in `out` (its messages count as taken).
    pub rest: Vec<u8>,
    /// Paused by its own control message.
    pub paused: bool,
    pub pause_gen: u32,
    pub last_pick: u64,
    pub started: Instant,
    pub leave: Option<Leave>,
    /// The manager has sent it SIGTERM/SIGKILL.
    pub terminating: bool,
    /// The writer should half-close the channel once `out` is written.
    pub close_requested: bool,
    /// A direct send found it backed up: tell JS when it drains.
    pub notify_ready: bool,
    /// Draining: since when its output has been quiet, and since when its input consumed.
    pub quiet_since: Option<Instant>,
    pub consumed_since: Option<Instant>,
    /// Being retired gracefully (memory limit): no new messages, channel closed once done.
    pub retiring: bool,
    pub retiring_since: Option<Instant>,
    /// When the drainer closed its channel.
    pub closed_at: Option<Instant>,
    /// Stall watch while closing: (bytes it had not read, since when unchanged).
    pub stall: Option<(i32, Instant)>,
    /// Removed or stopped before its process was up: JS never hears of it (no events).
    pub unseen: bool,
    /// Reply mode: tracked messages handed to it and not answered, oldest first.
    pub awaiting: VecDeque<InFlight>,
    /// How many of the last `awaiting` entries are still in `out` (not taken by the writer).
    pub untaken: usize,
    /// Being replaced after a timeout: whatever it still sends is thrown away (its other
    /// messages have gone to other workers).
    pub discard_output: bool,
    /// How much of its input may wait unread in its socket.
    pub input: InputWindow,
}

impl Worker {
    pub fn starting(pool: PoolId, serialization: Serialization) -> Self {
        Worker {
            pool,
            serialization,
            pid: None,
            io: None,
            out: Vec::new(),
            inflight: 0,
            rest: Vec::new(),
            paused: false,
            pause_gen: 0,
            last_pick: 0,
            started: Instant::now(),
            leave: None,
            terminating: false,
            close_requested: false,
            notify_ready: false,
            quiet_since: None,
            consumed_since: None,
            retiring: false,
            retiring_since: None,
            closed_at: None,
            stall: None,
            unseen: false,
            awaiting: VecDeque::new(),
            untaken: 0,
            discard_output: false,
            input: InputWindow::default(),
        }
    }

    pub fn backed_up(&self, high_water: usize) -> bool {
        self.out.len() + self.inflight >= high_water
    }

    /// Can the balancer give it a message? (`concurrency`: reply mode's in-flight limit.)
    pub fn available(&self, high_water: usize, concurrency: Option<usize>) -> bool {
        self.io.is_some()
            && !self.paused
            && !self.retiring
            && self.leave.is_none()
            && !self.close_requested
            && !self.discard_output
            && !self.backed_up(high_water)
            && concurrency.is_none_or(|c| self.awaiting.len() < c)
    }

    /// Hands it one message (a JSON text, or a whole frame): its bytes go to `out`, and a
    /// tracked one is awaited.
    pub fn give(&mut self, msg: &Bytes, tracked: Option<(Ticket, Instant)>) {
        self.out.extend_from_slice(msg);
        let json = self.serialization == Serialization::Json;
        if json {
            self.out.push(b'\n');
        }
        self.input.note(msg.len() + usize::from(json), 1);
        if let Some((ticket, now)) = tracked {
            self.awaiting.push_back(InFlight {
                msg: msg.clone(),
                ticket,
                dispatched: now,
            });
            self.untaken += 1;
        }
    }

    /// Sizes its socket's room for input to what it was given lately (`input_window`).
    pub fn fit_input_window(&mut self) {
        if let Some(io) = &self.io {
            self.input.fit(&io.channel);
        }
    }

    pub fn wake_writer(&self) {
        if let Some(io) = &self.io {
            io.wake_writer.notify_one();
        }
    }

    /// Asks its supervisor to end it.
    pub fn terminate(&mut self) {
        self.terminating = true;
        if let Some(io) = &self.io {
            let _ = io.commands.try_send(Command::Terminate);
        }
    }
}

/// A message waiting in a pool's queue.
#[derive(Debug, Clone)]
pub struct Queued {
    /// One JSON text (no `\n`), or one whole frame in an `advanced` pool.
    pub msg: Bytes,
    /// Sent to every pool (reported as such when dropped).
    pub broadcast: bool,
    /// Reply mode: the message is tracked.
    pub ticket: Option<Ticket>,
}

impl Queued {
    pub fn parts(&self) -> (&[u8], bool) {
        (&self.msg, self.broadcast)
    }
}

pub struct Pool {
    pub spec: Arc<ForkSpec>,
    /// Workers wanted.
    pub desired: usize,
    /// Workers running or being started, in start order.
    pub members: Vec<WorkerId>,
    /// Respawns waiting for their time.
    pub scheduled: usize,
    pub queue: VecDeque<Queued>,
    pub saturated: bool,
    pub clock: PickClock,
    pub respawn: RespawnState,
}

impl Pool {
    pub fn new(spec: Arc<ForkSpec>) -> Self {
        Pool {
            spec,
            desired: 0,
            members: Vec::new(),
            scheduled: 0,
            queue: VecDeque::new(),
            saturated: false,
            clock: PickClock::default(),
            respawn: RespawnState::default(),
        }
    }

    /// Puts unsent serialized messages back at the front of the queue, in order.
    pub fn requeue_front(&mut self, unsent: Vec<u8>) {
        let msgs = split_batch(self.spec.serialization, Bytes::from(unsent));
        for msg in msgs.into_iter().rev() {
            self.queue.push_front(Queued {
                msg,
                broadcast: false,
                ticket: None,
            });
        }
    }
}

#[derive(Default)]
pub struct State {
    pub pools: HashMap<PoolId, Pool>,
    pub workers: HashMap<WorkerId, Worker>,
    pub next_id: u32,
    pub stopped: bool,
    pub finishing: bool,
    pub finished: bool,
    /// While closing, a worker that reads nothing for this long is stalled (close() only).
    pub stall_limit: Option<std::time::Duration>,
    /// The drainer task runs.
    pub draining: bool,
    /// Reply mode's books; None when it is off.
    pub reply: Option<ReplyBook>,
    /// Workers `dispatch` gave output to, whose writers are not woken yet.
    pub handed: Vec<WorkerId>,
    /// The serialization of every pool ever created (a removed pool's messages may still be
    /// reported as dropped or failed).
    pub serializations: HashMap<PoolId, Serialization>,
}

impl State {
    /// Workers of a pool that count towards its size (not leaving, not being retired).
    pub fn active_members(&self, pool: PoolId) -> usize {
        let Some(p) = self.pools.get(&pool) else {
            return 0;
        };
        p.members
            .iter()
            .filter(|id| {
                self.workers
                    .get(id)
                    .is_some_and(|w| w.leave.is_none() && !w.retiring)
            })
            .count()
    }

    /// Are the pool's messages frames of the `advanced` serialization?
    pub fn advanced(&self, pool: PoolId) -> bool {
        self.serializations.get(&pool) == Some(&Serialization::Advanced)
    }

    pub fn new_id(&mut self) -> u32 {
        self.next_id += 1;
        self.next_id
    }

    /// Hands queued messages of a pool to its available workers: least recently picked first,
    /// or in reply mode the one with the fewest in flight (ties: least recently picked).
    /// Returns whether the pool's saturation (queue non-empty) changed.
    pub fn dispatch(&mut self, pool_id: PoolId, high_water: usize) -> bool {
        let State {
            pools,
            workers,
            reply,
            handed,
            ..
        } = self;
        let Some(pool) = pools.get_mut(&pool_id) else {
            return false;
        };
        let concurrency = reply.as_ref().map(|r| r.config.concurrency);
        // Read once, and only for tracked messages (reply mode).
        let mut clock = None;
        while let Some(front) = pool.queue.front() {
            if let (Some(book), Some(t)) = (reply.as_ref(), &front.ticket) {
                if !book.may_dispatch(t) {
                    break; // ordered: its result would not fit the reorder window yet
                }
            }
            let pick = least_recent(pool.members.iter().filter_map(|id| {
                let w = workers.get(id)?;
                let load = w.awaiting.len() as u64;
                w.available(high_water, concurrency)
                    .then_some((*id, (load << 40) | w.last_pick.min((1 << 40) - 1)))
            }));
            let Some(id) = pick else { break };
            let w = workers.get_mut(&id).expect("member is a worker");
            let msg = pool.queue.pop_front().expect("queue is not empty");
            let tracked = msg.ticket.map(|t| {
                let now = *clock.get_or_insert_with(Instant::now);
                if let Some(book) = reply.as_mut() {
                    book.note_dispatched(&t, now);
                }
                (t, now)
            });
            w.give(&msg.msg, tracked);
            w.last_pick = pool.clock.tick();
            // The caller writes its output or wakes its writer (`Inner::after_change`).
            if !handed.contains(&id) {
                handed.push(id);
            }
        }
        // Saturated as soon as messages wait; unsaturated again only once a worker has room
        // for a good batch, so a busy pool does not flip (and wake JS) once per message.
        let saturated = if !pool.queue.is_empty() {
            true
        } else if pool.saturated {
            !pool.members.iter().any(|id| {
                workers.get(id).is_some_and(|w| {
                    w.available(high_water, concurrency)
                        && w.out.len() + w.inflight <= high_water / 4
                })
            })
        } else {
            false
        };
        let changed = saturated != pool.saturated;
        pool.saturated = saturated;
        changed
    }

    /// Takes a worker's unsent output back into its pool's queue (in reply mode with the
    /// tickets of those messages; what the writer has taken stays awaited).
    pub fn reclaim(&mut self, worker: WorkerId) {
        let State { pools, workers, .. } = self;
        let Some(w) = workers.get_mut(&worker) else {
            return;
        };
        if w.out.is_empty() {
            return;
        }
        let unsent = std::mem::take(&mut w.out);
        let Some(pool) = pools.get_mut(&w.pool) else {
            return;
        };
        if w.untaken == 0 {
            return pool.requeue_front(unsent);
        }
        // Reply mode: `out` holds exactly the last `untaken` awaited messages.
        let from = w.awaiting.len() - w.untaken;
        w.untaken = 0;
        for entry in w.awaiting.drain(from..).rev() {
            pool.queue.push_front(Queued {
                msg: entry.msg,
                broadcast: false,
                ticket: Some(entry.ticket),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::StdioMode;

    fn spec() -> Arc<ForkSpec> {
        Arc::new(ForkSpec {
            exec_path: "node".into(),
            argv0: None,
            exec_argv: vec![],
            script: "w.js".into(),
            args: vec![],
            cwd: None,
            env: vec![],
            stdio: [StdioMode::Inherit; 3],
            uid: None,
            gid: None,
            kill_signal: libc::SIGTERM,
            serialization: Default::default(),
        })
    }

    /// A pool with `n` workers that look running (their io is never used by dispatch).
    fn state_with_workers(n: usize) -> (State, Vec<WorkerId>) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let _g = rt.enter();
        let mut st = State::default();
        st.pools.insert(1, Pool::new(spec()));
        let mut ids = vec![];
        for _ in 0..n {
            let id = st.new_id();
            let mut w = Worker::starting(1, Serialization::Json);
            let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
            a.set_nonblocking(true).unwrap();
            let (tx, _rx) = mpsc::channel(1);
            w.io = Some(WorkerIo {
                channel: Arc::new(crate::wire::channel::Channel::new(a).unwrap()),
                wake_writer: Arc::new(Notify::new()),
                commands: tx,
                last_rx: Arc::new(AtomicU64::new(0)),
            });
            st.workers.insert(id, w);
            st.pools.get_mut(&1).unwrap().members.push(id);
            ids.push(id);
        }
        (st, ids)
    }

    fn queue(st: &mut State, msgs: &[&str]) {
        let q = &mut st.pools.get_mut(&1).unwrap().queue;
        for m in msgs {
            q.push_back(Queued {
                msg: Bytes::from(m.to_string()),
                broadcast: false,
                ticket: None,
            });
        }
    }

    #[test]
    fn round_robin_across_available_workers() {
        let (mut st, ids) = state_with_workers(2);
        queue(&mut st, &["1", "2", "3"]);
        assert!(!st.dispatch(1, 1 << 20));
        assert_eq!(st.workers[&ids[0]].out, b"1\n3\n");
        assert_eq!(st.workers[&ids[1]].out, b"2\n");
    }

    #[test]
    fn paused_workers_get_nothing_and_full_pools_saturate() {
        let (mut st, ids) = state_with_workers(2);
        st.workers.get_mut(&ids[1]).unwrap().paused = true;
        queue(&mut st, &["1", "2", "3"]);
        // Room for two messages of 2 bytes on the one available worker.
        assert!(st.dispatch(1, 4));
        assert_eq!(st.workers[&ids[0]].out, b"1\n2\n");
        assert!(st.pools[&1].saturated);
        st.workers.get_mut(&ids[1]).unwrap().paused = false;
        assert!(
            !st.dispatch(1, 4),
            "the queue is empty, but no worker has room for a batch"
        );
        assert_eq!(st.workers[&ids[1]].out, b"3\n");
        assert!(st.pools[&1].saturated);
        // The writer took worker 0's messages: now it has room.
        st.workers.get_mut(&ids[0]).unwrap().out.clear();
        assert!(st.dispatch(1, 4));
        assert!(!st.pools[&1].saturated);
    }

    #[test]
    fn reclaimed_output_goes_back_to_the_front_in_order() {
        let (mut st, ids) = state_with_workers(1);
        queue(&mut st, &["1", "2"]);
        st.dispatch(1, 1 << 20);
        queue(&mut st, &["3"]);
        st.workers.get_mut(&ids[0]).unwrap().leave = Some(Leave::Remove);
        st.reclaim(ids[0]);
        let q: Vec<_> = st.pools[&1].queue.iter().map(|q| q.msg.to_vec()).collect();
        assert_eq!(q, vec![b"1".to_vec(), b"2".to_vec(), b"3".to_vec()]);
        assert!(st.workers[&ids[0]].out.is_empty());
    }
}
