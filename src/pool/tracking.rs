//! Reply mode at work: matching a worker's answers to what it was given, redelivering what a
//! dead worker had not answered, failing what ran out of retries or time, and keeping the
//! reorder window settled for every message that will never have a result.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use crate::config::Serialization;
use crate::events::{Failure, PoolId, WorkerId};
use crate::pool::inner::Inner;
use crate::pool::reply::{Answer, InFlight, Released, Seq, Ticket};
use crate::pool::state::{Leave, Queued, State};

/// How often deadlines are looked at while timeouts are possible.
const TIMEOUT_TICK: Duration = Duration::from_millis(5);

/// The `replies` entry JS reads for a result (see `Batch::replies`).
fn reply_code(answer: Answer) -> f64 {
    match answer {
        Answer::Call(seq) => seq as f64,
        Answer::Unexpected => -1.0,
        _ => 0.0,
    }
}

impl Inner {
    /// Results released by the reorder window, in order.
    pub(crate) fn emit_released(&self, released: Vec<Released>) {
        let mut run: Vec<&[u8]> = Vec::new();
        let mut run_worker = None;
        for (w, line) in &released {
            if run_worker != Some(*w) && !run.is_empty() {
                let (worker, advanced) = run_worker.expect("run has a worker");
                self.events
                    .push_answers(worker, advanced, run.drain(..).map(|l| (l, 0.0)));
            }
            run_worker = Some(*w);
            run.push(line);
        }
        if let Some((worker, advanced)) = run_worker {
            self.events
                .push_answers(worker, advanced, run.into_iter().map(|l| (l, 0.0)));
        }
    }

    /// Answers read from worker `id`, in order (reply mode).
    pub(crate) fn answers(&self, id: WorkerId, lines: &[&[u8]]) {
        let mut st = self.lock();
        let State { workers, reply, .. } = &mut *st;
        let (Some(w), Some(book)) = (workers.get_mut(&id), reply.as_mut()) else {
            return;
        };
        if w.discard_output {
            return;
        }
        let now = Instant::now();
        let advanced = w.serialization == Serialization::Advanced;
        let mut now_out: Vec<(&[u8], f64)> = Vec::new();
        let mut released = Vec::new();
        let mut unexpected = 0usize;
        for line in lines {
            let Some(entry) = w.awaiting.pop_front() else {
                unexpected += 1;
                now_out.push((*line, reply_code(Answer::Unexpected)));
                continue;
            };
            w.untaken = w.untaken.min(w.awaiting.len());
            let answer = book.answered(&entry, (id, advanced), line, now, &mut released);
            match answer {
                Answer::Stream | Answer::Call(_) | Answer::Unexpected => {
                    now_out.push((*line, reply_code(answer)))
                }
                Answer::Ordered | Answer::Discard => {}
            }
            if !released.is_empty() {
                // Keep the order: what was waiting for JS goes first.
                self.events.push_answers(id, advanced, now_out.drain(..));
                self.emit_released(std::mem::take(&mut released));
            }
        }
        self.events.push_answers(id, advanced, now_out);
        let pool = w.pool;
        if unexpected > 0 {
            let msg =
                format!("{unexpected} answer(s) from the worker with no message in flight on it");
            self.worker_error_locked(&st, id, "ERR_WORKER_UNEXPECTED_REPLY", msg);
        }
        // A worker with room again may take queued messages.
        self.after_change(&mut st, pool);
    }

    /// A tracked message failed for good.
    pub(crate) fn fail(
        &self,
        st: &mut State,
        pool: PoolId,
        msg: &[u8],
        ticket: &Ticket,
        failure: Failure,
    ) {
        let advanced = st.advanced(pool);
        let Some(book) = st.reply.as_mut() else {
            return;
        };
        book.failed += 1;
        if failure == Failure::TimedOut {
            book.timed_out += 1;
        }
        let mut released = Vec::new();
        book.settled_without_result(ticket, &mut released);
        self.events
            .push_failed(pool, advanced, ticket.seq, msg, failure);
        self.emit_released(released);
    }

    /// Messages taken out of a pool's queue without being sent (maxQueue, removal): tracked
    /// sends are settled and reported as drops, calls fail. Returns the untracked and
    /// tracked sends to report as dropped.
    pub(crate) fn abandon_queued(
        &self,
        st: &mut State,
        pool: PoolId,
        queued: Vec<Queued>,
    ) -> Vec<Queued> {
        let mut dropped = Vec::with_capacity(queued.len());
        let mut released = Vec::new();
        for q in queued {
            match &q.ticket {
                Some(t) if t.call => self.fail(st, pool, &q.msg, t, Failure::Removed),
                Some(t) => {
                    if let Some(book) = st.reply.as_mut() {
                        book.settled_without_result(t, &mut released);
                    }
                    dropped.push(q);
                }
                None => dropped.push(q),
            }
        }
        self.emit_released(released);
        dropped
    }

    /// A worker is gone with `awaiting` unanswered: each goes back to the front of its pool's
    /// queue, in order, or fails once it has been on `max_retries + 1` workers that died.
    /// `counts` when the death was not the manager's doing.
    pub(crate) fn redeliver(
        &self,
        st: &mut State,
        pool: PoolId,
        awaiting: Vec<InFlight>,
        counts: bool,
        code: Option<i32>,
        signal: Option<i32>,
    ) {
        let Some(max_retries) = st.reply.as_ref().map(|b| b.config.max_retries) else {
            return;
        };
        let mut back: Vec<Queued> = Vec::new();
        let mut removed: Vec<Queued> = Vec::new();
        for mut entry in awaiting {
            if counts {
                entry.ticket.tries += 1;
            }
            if entry.ticket.tries > max_retries {
                self.fail(
                    st,
                    pool,
                    &entry.msg,
                    &entry.ticket,
                    Failure::Died { code, signal },
                );
                continue;
            }
            if counts {
                if let Some(book) = st.reply.as_mut() {
                    book.retried += 1;
                }
            }
            let q = Queued {
                msg: entry.msg,
                broadcast: false,
                ticket: Some(entry.ticket),
            };
            if st.pools.contains_key(&pool) && !st.stopped {
                back.push(q);
            } else {
                removed.push(q);
            }
        }
        if let Some(p) = st.pools.get_mut(&pool) {
            for q in back.into_iter().rev() {
                p.queue.push_front(q);
            }
        }
        if !removed.is_empty() {
            let dropped = self.abandon_queued(st, pool, removed);
            let advanced = st.advanced(pool);
            self.events
                .push_dropped(pool, advanced, dropped.iter().map(Queued::parts));
        }
    }

    /// Aborts a tracked message: a queued one is never sent; an answer to one in flight is
    /// dropped. Returns false when `seq` is neither (answered or failed already).
    pub(crate) fn cancel(&self, seq: Seq) -> bool {
        let mut st = self.lock();
        let State {
            pools,
            workers,
            reply,
            ..
        } = &mut *st;
        let Some(book) = reply.as_mut() else {
            return false;
        };
        let queued = pools.values_mut().find_map(|p| {
            let at = p
                .queue
                .iter()
                .position(|q| q.ticket.as_ref().is_some_and(|t| t.seq == seq))?;
            p.queue.remove(at)
        });
        if let Some(ticket) = queued.and_then(|q| q.ticket) {
            let mut released = Vec::new();
            book.settled_without_result(&ticket, &mut released);
            drop(st);
            self.emit_released(released);
            return true;
        }
        let in_flight = workers
            .values()
            .any(|w| w.awaiting.iter().any(|e| e.ticket.seq == seq));
        if in_flight {
            book.cancel_in_flight(seq);
        }
        in_flight
    }

    /// Fails what passed its deadline: queued messages at once; a message in flight also
    /// ends its worker, whose other messages go to other workers (no retry counted) and
    /// whose later output is thrown away.
    pub(crate) fn sweep_timeouts(self: &Arc<Self>, now: Instant) {
        let mut st = self.lock();
        if st.reply.is_none() || st.stopped {
            return;
        }
        let late = |t: &Ticket| t.deadline.is_some_and(|d| d <= now);
        let pools: Vec<PoolId> = st.pools.keys().copied().collect();
        for pool in pools {
            let p = st.pools.get_mut(&pool).expect("pool");
            if !p.queue.iter().any(|q| q.ticket.as_ref().is_some_and(late)) {
                continue;
            }
            let (expired, kept): (Vec<Queued>, Vec<Queued>) = p
                .queue
                .drain(..)
                .partition(|q| q.ticket.as_ref().is_some_and(late));
            p.queue.extend(kept);
            for q in expired {
                self.fail(
                    &mut st,
                    pool,
                    &q.msg,
                    q.ticket.as_ref().expect("tracked"),
                    Failure::TimedOut,
                );
            }
        }
        let stuck: Vec<WorkerId> = st
            .workers
            .iter()
            .filter(|(_, w)| !w.discard_output && w.awaiting.iter().any(|e| late(&e.ticket)))
            .map(|(id, _)| *id)
            .collect();
        for id in stuck {
            let w = st.workers.get_mut(&id).expect("worker");
            let pool = w.pool;
            w.discard_output = true;
            w.out.clear();
            w.untaken = 0;
            let awaiting: Vec<InFlight> = w.awaiting.drain(..).collect();
            let (expired, others): (Vec<InFlight>, Vec<InFlight>) =
                awaiting.into_iter().partition(|e| late(&e.ticket));
            for e in expired {
                self.fail(&mut st, pool, &e.msg, &e.ticket, Failure::TimedOut);
            }
            self.redeliver(&mut st, pool, others, false, None, None);
            let msg = "a message was not answered in time; the worker is replaced".to_string();
            self.worker_error_locked(&st, id, "ERR_CALL_TIMEOUT", msg);
            self.end_worker(&mut st, id, Leave::Restart);
            self.after_change(&mut st, pool);
        }
    }

    /// Tracked messages in flight on workers.
    pub(crate) fn in_flight(st: &State) -> u64 {
        st.workers.values().map(|w| w.awaiting.len() as u64).sum()
    }
}

/// Looks at deadlines for as long as the manager exists.
pub(crate) async fn watch_timeouts(inner: Weak<Inner>) {
    loop {
        tokio::time::sleep(TIMEOUT_TICK).await;
        let Some(inner) = inner.upgrade() else { return };
        if inner.lock().stopped {
            return;
        }
        inner.sweep_timeouts(Instant::now());
    }
}
