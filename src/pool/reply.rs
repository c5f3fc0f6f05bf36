//! Reply mode's books: every tracked message gets a sequence number when it is submitted;
//! a worker's answers are matched to what it was given in FIFO order (nothing is added to
//! the wire); the reorder window lets results out in sequence order; and the latency
//! histograms and counters behind `getStats()`.
//!
//! The contract a worker keeps: one answer per message, in the order it received them.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use rustc_hash::FxHashSet as HashSet;

use crate::config::ReplyConfig;
pub use crate::events::Failure;
use crate::events::WorkerId;

/// Who sent a result: the worker, and whether its pool's messages are `advanced` frames.
pub type Origin = (WorkerId, bool);

/// A result let out of the reorder window, with who sent it.
pub type Released = (Origin, Bytes);

/// Sequence numbers of tracked messages, from 1, in submission order.
pub type Seq = u64;

/// Most results an ordered manager holds back while an earlier one is outstanding; messages
/// further ahead wait in their queue (so the stream stops taking input).
pub const REORDER_WINDOW: u64 = 4096;

/// Who a tracked message is and how it has fared.
#[derive(Clone, Debug)]
pub struct Ticket {
    pub seq: Seq,
    /// Sent by `call()`: its answer resolves a promise and stays off the stream.
    pub call: bool,
    /// Workers that died while it was in flight on them.
    pub tries: u32,
    pub submitted: Instant,
    pub deadline: Option<Instant>,
}

/// A tracked message handed to a worker and not answered yet.
#[derive(Debug)]
pub struct InFlight {
    /// Its JSON text (no `\n`), kept for redelivery.
    pub msg: Bytes,
    pub ticket: Ticket,
    pub dispatched: Instant,
}

/// What an answer from a worker is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// A result for the stream (and 'message'), to be emitted now.
    Stream,
    /// A result for the stream that went through the reorder window: what may leave now
    /// was added to the caller's list.
    Ordered,
    /// The answer to `call()` number `seq`.
    Call(Seq),
    /// Nothing was in flight on that worker: a 'message' only (and a worker error).
    Unexpected,
    /// Its call was aborted, or the worker's output is being thrown away: dropped.
    Discard,
}

/// Lets results out in sequence order. Every sequence number handed out must be settled
/// once: with a result, or as skipped (failed, dropped, aborted, a call).
#[derive(Debug)]
pub struct Reorder {
    next: Seq,
    held: BTreeMap<Seq, Option<Released>>,
}

impl Default for Reorder {
    fn default() -> Self {
        Reorder {
            next: 1,
            held: BTreeMap::new(),
        }
    }
}

impl Reorder {
    /// May the message `seq` be handed to a worker now? (Its result would fit the window.)
    pub fn has_room(&self, seq: Seq) -> bool {
        seq < self.next + REORDER_WINDOW
    }

    /// Settles `seq`; returns the results that may leave now, in order. With `result` and
    /// `seq` next in line, that result is the first of them (not copied into the window).
    pub fn settle(&mut self, seq: Seq, result: Option<(Origin, &[u8])>, out: &mut Vec<Released>) {
        if seq < self.next {
            return; // settled before (cannot happen twice, but never let it stall the window)
        }
        if seq > self.next {
            self.held
                .insert(seq, result.map(|(w, r)| (w, Bytes::copy_from_slice(r))));
            return;
        }
        if let Some((w, r)) = result {
            out.push((w, Bytes::copy_from_slice(r)));
        }
        self.next += 1;
        while let Some(entry) = self.held.first_entry() {
            if *entry.key() != self.next {
                break;
            }
            if let Some(r) = entry.remove() {
                out.push(r);
            }
            self.next += 1;
        }
    }

    /// Results held back because an earlier one is outstanding.
    pub fn held(&self) -> usize {
        self.held.len()
    }
}

/// Percentiles of one latency histogram, in milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

/// What `getStats()` shows of reply mode.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReplyStats {
    pub in_flight: u64,
    pub retried: u64,
    pub failed: u64,
    pub timed_out: u64,
    /// Submitted until written to a worker.
    pub wait: Percentiles,
    /// Written until answered.
    pub run: Percentiles,
}

fn histogram() -> Histogram<u64> {
    // Microseconds, 3 significant digits, growing as needed.
    Histogram::new(3).expect("valid histogram precision")
}

fn micros(d: Duration) -> u64 {
    d.as_micros().min(u64::MAX as u128) as u64
}

fn percentiles(h: &Histogram<u64>) -> Percentiles {
    if h.is_empty() {
        return Percentiles::default();
    }
    let ms = |v: u64| v as f64 / 1000.0;
    Percentiles {
        p50: ms(h.value_at_quantile(0.50)),
        p90: ms(h.value_at_quantile(0.90)),
        p99: ms(h.value_at_quantile(0.99)),
        max: ms(h.max()),
    }
}

/// Reply mode's state for one manager.
pub struct ReplyBook {
    pub config: ReplyConfig,
    next_seq: Seq,
    /// Present when results leave in input order.
    pub reorder: Option<Reorder>,
    /// Aborted calls still in flight: their answers are dropped.
    cancelled: HashSet<Seq>,
    pub retried: u64,
    pub failed: u64,
    pub timed_out: u64,
    wait: Histogram<u64>,
    run: Histogram<u64>,
}

impl ReplyBook {
    pub fn new(config: ReplyConfig) -> Self {
        ReplyBook {
            reorder: config.ordered.then(Reorder::default),
            config,
            next_seq: 1,
            cancelled: HashSet::default(),
            retried: 0,
            failed: 0,
            timed_out: 0,
            wait: histogram(),
            run: histogram(),
        }
    }

    /// A ticket for a message submitted now (`timeout` overrides the configured one).
    pub fn ticket(&mut self, call: bool, timeout: Option<Duration>, now: Instant) -> Ticket {
        let seq = self.next_seq;
        self.next_seq += 1;
        Ticket {
            seq,
            call,
            tries: 0,
            submitted: now,
            deadline: timeout.or(self.config.timeout).map(|t| now + t),
        }
    }

    /// The sequence number the next ticket will get.
    pub fn next_seq(&self) -> Seq {
        self.next_seq
    }

    /// May a message with this ticket be handed to a worker now?
    pub fn may_dispatch(&self, ticket: &Ticket) -> bool {
        ticket.call || self.reorder.as_ref().is_none_or(|r| r.has_room(ticket.seq))
    }

    pub fn note_dispatched(&mut self, ticket: &Ticket, now: Instant) {
        let _ = self
            .wait
            .record(micros(now.saturating_duration_since(ticket.submitted)));
    }

    /// An answer arrived for `entry`: what it is. Results it releases from the reorder window
    /// (this one first when it is next in line) are added to `out`.
    pub fn answered(
        &mut self,
        entry: &InFlight,
        worker: Origin,
        line: &[u8],
        now: Instant,
        out: &mut Vec<Released>,
    ) -> Answer {
        let _ = self
            .run
            .record(micros(now.saturating_duration_since(entry.dispatched)));
        let seq = entry.ticket.seq;
        if self.cancelled.remove(&seq) {
            return Answer::Discard;
        }
        if entry.ticket.call {
            return Answer::Call(seq);
        }
        match &mut self.reorder {
            Some(r) => {
                r.settle(seq, Some((worker, line)), out);
                Answer::Ordered
            }
            None => Answer::Stream,
        }
    }

    /// A tracked message will never be answered (failed, dropped, aborted): the reorder
    /// window goes on past it. Releases go to `out`.
    pub fn settled_without_result(&mut self, ticket: &Ticket, out: &mut Vec<Released>) {
        self.cancelled.remove(&ticket.seq);
        if ticket.call {
            return;
        }
        if let Some(r) = &mut self.reorder {
            r.settle(ticket.seq, None, out);
        }
    }

    /// Calls are not part of the stream: their numbers are skipped in the window at once.
    pub fn skip_call(&mut self, ticket: &Ticket, out: &mut Vec<Released>) {
        if let (true, Some(r)) = (ticket.call, &mut self.reorder) {
            r.settle(ticket.seq, None, out);
        }
    }

    /// An aborted call that is in flight: its answer will be dropped.
    pub fn cancel_in_flight(&mut self, seq: Seq) {
        self.cancelled.insert(seq);
    }

    pub fn stats(&self, in_flight: u64) -> ReplyStats {
        ReplyStats {
            in_flight,
            retried: self.retried,
            failed: self.failed,
            timed_out: self.timed_out,
            wait: percentiles(&self.wait),
            run: percentiles(&self.run),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn released(out: &[Released]) -> Vec<&[u8]> {
        out.iter().map(|(_, b)| b.as_ref()).collect()
    }

    #[test]
    fn results_leave_in_sequence_order() {
        let mut r = Reorder::default();
        let mut out = vec![];
        r.settle(2, Some(((1, false), b"two")), &mut out);
        r.settle(3, Some(((2, false), b"three")), &mut out);
        assert!(out.is_empty(), "1 is outstanding");
        assert_eq!(r.held(), 2);
        r.settle(1, Some(((2, false), b"one")), &mut out);
        assert_eq!(released(&out), vec![&b"one"[..], b"two", b"three"]);
        assert_eq!(r.held(), 0);
    }

    #[test]
    fn skipped_numbers_do_not_stall_the_window() {
        let mut r = Reorder::default();
        let mut out = vec![];
        r.settle(3, Some(((1, false), b"c")), &mut out);
        r.settle(2, None, &mut out);
        assert!(out.is_empty());
        r.settle(1, None, &mut out);
        assert_eq!(released(&out), vec![&b"c"[..]]);
        r.settle(1, Some(((1, false), b"late")), &mut out);
        assert_eq!(out.len(), 1, "a number settled twice is ignored");
    }

    #[test]
    fn the_window_bounds_how_far_ahead_messages_may_go() {
        let mut r = Reorder::default();
        assert!(r.has_room(REORDER_WINDOW));
        assert!(!r.has_room(REORDER_WINDOW + 1));
        let mut out = vec![];
        r.settle(1, None, &mut out);
        assert!(r.has_room(REORDER_WINDOW + 1));
    }

    fn book(ordered: bool) -> ReplyBook {
        ReplyBook::new(ReplyConfig {
            ordered,
            ..ReplyConfig::default()
        })
    }

    fn in_flight(t: Ticket, now: Instant) -> InFlight {
        InFlight {
            msg: Bytes::from_static(b"1"),
            ticket: t,
            dispatched: now,
        }
    }

    #[test]
    fn answers_are_told_apart() {
        let now = Instant::now();
        let mut b = book(false);
        let mut out = vec![];
        let send = b.ticket(false, None, now);
        let call = b.ticket(true, Some(Duration::from_millis(5)), now);
        assert_eq!(call.deadline, Some(now + Duration::from_millis(5)));
        let aborted = b.ticket(true, None, now);
        b.cancel_in_flight(aborted.seq);
        assert_eq!(
            b.answered(&in_flight(send, now), (1, false), b"x", now, &mut out),
            Answer::Stream
        );
        assert_eq!(
            b.answered(&in_flight(call, now), (1, false), b"x", now, &mut out),
            Answer::Call(2)
        );
        assert_eq!(
            b.answered(&in_flight(aborted, now), (1, false), b"x", now, &mut out),
            Answer::Discard
        );
        assert!(out.is_empty(), "unordered: nothing goes through the window");
    }

    #[test]
    fn ordered_calls_and_failures_are_skipped_in_the_window() {
        let now = Instant::now();
        let mut b = book(true);
        let mut out = vec![];
        let first = b.ticket(false, None, now);
        let call = b.ticket(true, None, now);
        let third = b.ticket(false, None, now);
        assert_eq!(
            b.answered(&in_flight(third, now), (1, false), b"3", now, &mut out),
            Answer::Ordered
        );
        b.skip_call(&call, &mut out);
        assert!(out.is_empty());
        b.settled_without_result(&first, &mut out);
        assert_eq!(released(&out), vec![&b"3"[..]]);
    }

    #[test]
    fn latency_percentiles_in_milliseconds() {
        let now = Instant::now();
        let mut b = book(false);
        let mut out = vec![];
        for ms in 1..=100u64 {
            let t = b.ticket(false, None, now);
            let e = InFlight {
                msg: Bytes::new(),
                ticket: t,
                dispatched: now,
            };
            b.answered(
                &e,
                (1, false),
                b"x",
                now + Duration::from_millis(ms),
                &mut out,
            );
        }
        let s = b.stats(0);
        assert!((s.run.p50 - 50.0).abs() < 0.5, "{:?}", s.run);
        assert!((s.run.max - 100.0).abs() < 0.5, "{:?}", s.run);
        assert_eq!(s.wait, Percentiles::default());
    }
}
