//! The one path from the core to JS: events are gathered into a batch, and JS is woken
//! once per batch (not per event) to take it. Worker results travel as JSON array texts
//! (one per ~96 KiB, see pieces.rs) so that JS parses a batch with one `JSON.parse` each.

use std::sync::Mutex;

use tokio::sync::Notify;

use crate::wire::control::Control;
use crate::wire::pieces::JsonPieces;

pub type PoolId = u32;
pub type WorkerId = u32;

/// Something the app should hear about.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A worker process started. `stdio` holds the manager's ends of piped streams (or -1).
    Spawned {
        pool: PoolId,
        worker: WorkerId,
        pid: u32,
        stdio: [i32; 3],
    },
    /// A worker could not be started at all.
    SpawnFailed {
        pool: PoolId,
        worker: WorkerId,
        message: String,
    },
    /// `count` results of `worker` come next in the batch's results array (`advanced`:
    /// in its frames).
    Results {
        worker: WorkerId,
        count: u32,
        advanced: bool,
    },
    /// The worker process is gone and reaped. `expected` when the manager ended it.
    Exit {
        pool: PoolId,
        worker: WorkerId,
        code: Option<i32>,
        signal: Option<i32>,
        expected: bool,
    },
    /// The worker closed its channel while alive; the manager is ending it.
    Disconnect { pool: PoolId, worker: WorkerId },
    /// The worker misbehaved (bad output, too long a line, paused too long).
    WorkerError {
        pool: PoolId,
        worker: WorkerId,
        code: &'static str,
        message: String,
    },
    /// The worker sent a pause/drain/end control message.
    Control { worker: WorkerId, control: Control },
    /// `count` messages of `pool` were dropped; they come next in the batch's dropped array.
    /// `broadcast` when they had been sent to every pool; `advanced`: they are frames.
    Dropped {
        pool: PoolId,
        count: u32,
        broadcast: bool,
        advanced: bool,
    },
    /// The pool's queue went from empty to non-empty or back; ask the core for the truth.
    Saturation { pool: PoolId },
    /// A respawn of the pool's script is scheduled.
    Respawn {
        pool: PoolId,
        delay_ms: u32,
        crashes: u32,
    },
    /// A scheduled (re)spawn was no longer needed when its time came.
    Aborted { pool: PoolId },
    /// A worker that was backed up for direct sends can take messages again.
    WorkerReady { worker: WorkerId },
    /// No worker is left: end of input is complete (every message delivered), or the
    /// manager was stopped and every worker has exited.
    Finished,
    /// Reply mode: a tracked message failed for good. Its JSON text comes next in the
    /// batch's `failed` array (`advanced`: in `failed_frames`), and its sequence number in
    /// `failed_seqs`.
    Failed {
        pool: PoolId,
        failure: Failure,
        advanced: bool,
    },
}

/// Why a tracked message (reply mode) failed for good.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// It was in flight on `max_retries + 1` workers that died; how the last one ended.
    Died {
        code: Option<i32>,
        signal: Option<i32>,
    },
    TimedOut,
    /// Its script was removed before it was answered.
    Removed,
}

/// What JS takes in one go. Both arrays are valid UTF-8: worker lines are validated as they
/// are read, and dropped messages came from JS strings.
#[derive(Debug, Default)]
pub struct Batch {
    pub events: Vec<Event>,
    /// The results, as JSON array texts.
    pub results: JsonPieces,
    /// The results of `advanced` pools: whole frames (length prefix included), back to back.
    pub frames: Vec<u8>,
    /// Dropped and failed messages of `advanced` pools, as frames back to back.
    pub dropped_frames: Vec<u8>,
    pub failed_frames: Vec<u8>,
    /// A JSON array text of dropped messages, like `results`.
    pub dropped: Vec<u8>,
    /// Reply mode: one entry per result, in order: the sequence number of the `call()` it
    /// answers, 0 for a stream result, -1 for a message-only one (an unexpected answer).
    /// Empty outside reply mode (every result is a stream result).
    pub replies: Vec<f64>,
    /// Reply mode: JSON array text of failed messages, and their sequence numbers.
    pub failed: Vec<u8>,
    pub failed_seqs: Vec<f64>,
}

impl Batch {
    fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// How many results (of every worker) the batch holds.
    pub fn result_count(&self) -> usize {
        self.events
            .iter()
            .map(|e| match e {
                Event::Results { count, .. } => *count as usize,
                _ => 0,
            })
            .sum()
    }

    /// Counts `n` results just added for `worker`: consecutive results of one worker share
    /// one event.
    fn note_results(&mut self, worker: WorkerId, n: u32, advanced: bool) {
        if n == 0 {
            return;
        }
        match self.events.last_mut() {
            Some(Event::Results {
                worker: w, count, ..
            }) if *w == worker => *count += n,
            _ => self.events.push(Event::Results {
                worker,
                count: n,
                advanced,
            }),
        }
    }

    /// Results of both kinds waiting for JS, in bytes.
    fn result_bytes(&self) -> usize {
        self.results.len() + self.frames.len()
    }
}

/// Appends one JSON text to an array text under construction.
pub fn append_json(array: &mut Vec<u8>, json: &[u8]) {
    array.extend_from_slice(if array.is_empty() { b"[" } else { b"\n," });
    array.extend_from_slice(json);
}

fn close_array(array: &mut Vec<u8>) {
    if !array.is_empty() {
        array.push(b']');
    }
}

struct Pending {
    batch: Batch,
    woken: bool,
    /// Memory of an earlier batch's results, handed back by JS for the next batch.
    spare: Option<JsonPieces>,
    /// Likewise its lists of events and of reply entries (see `recycle_lists`).
    spare_lists: Option<(Vec<Event>, Vec<f64>)>,
}

/// Gathers events and wakes JS once per batch. Bounded: readers wait for room.
pub struct EventQueue {
    pending: Mutex<Pending>,
    taken: Notify,
    wake: Box<dyn Fn() + Send + Sync>,
    high_water: usize,
}

impl EventQueue {
    pub fn new(high_water: usize, wake: Box<dyn Fn() + Send + Sync>) -> Self {
        EventQueue {
            pending: Mutex::new(Pending {
                batch: Batch::default(),
                woken: false,
                spare: None,
                spare_lists: None,
            }),
            taken: Notify::new(),
            wake,
            high_water,
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut Batch) -> R) -> R {
        let mut p = self.pending.lock().unwrap();
        let r = f(&mut p.batch);
        let wake = !p.woken && !p.batch.is_empty();
        if wake {
            p.woken = true;
        }
        drop(p);
        if wake {
            (self.wake)();
        }
        r
    }

    pub fn push(&self, event: Event) {
        self.with(|b| b.events.push(event));
    }

    /// Adds results of one worker.
    pub fn push_results<'a>(&self, worker: WorkerId, lines: impl IntoIterator<Item = &'a [u8]>) {
        self.with(|b| {
            let mut n = 0u32;
            for line in lines {
                b.results.push(line);
                n += 1;
            }
            b.note_results(worker, n, false);
        });
    }

    /// Adds results of one worker of an `advanced` pool: whole frames.
    pub fn push_frames<'a>(&self, worker: WorkerId, frames: impl IntoIterator<Item = &'a [u8]>) {
        self.with(|b| {
            let mut n = 0u32;
            for frame in frames {
                b.frames.extend_from_slice(frame);
                n += 1;
            }
            b.note_results(worker, n, true);
        });
    }

    /// Reply mode: adds results of one worker, each with its `replies` entry (`advanced`:
    /// they are frames).
    pub fn push_answers<'a>(
        &self,
        worker: WorkerId,
        advanced: bool,
        answers: impl IntoIterator<Item = (&'a [u8], f64)>,
    ) {
        self.with(|b| {
            let mut n = 0u32;
            for (msg, reply) in answers {
                if advanced {
                    b.frames.extend_from_slice(msg);
                } else {
                    b.results.push(msg);
                }
                b.replies.push(reply);
                n += 1;
            }
            b.note_results(worker, n, advanced);
        });
    }

    /// Reply mode: a tracked message failed for good.
    pub fn push_failed(
        &self,
        pool: PoolId,
        advanced: bool,
        seq: u64,
        msg: &[u8],
        failure: Failure,
    ) {
        self.with(|b| {
            if advanced {
                b.failed_frames.extend_from_slice(msg);
            } else {
                append_json(&mut b.failed, msg);
            }
            b.failed_seqs.push(seq as f64);
            b.events.push(Event::Failed {
                pool,
                failure,
                advanced,
            });
        });
    }

    /// Adds messages dropped from a pool: (JSON text or frame, broadcast).
    /// Consecutive messages of the same kind share one event.
    pub fn push_dropped<'a>(
        &self,
        pool: PoolId,
        advanced: bool,
        messages: impl IntoIterator<Item = (&'a [u8], bool)>,
    ) {
        self.with(|b| {
            for (m, broadcast) in messages {
                if advanced {
                    b.dropped_frames.extend_from_slice(m);
                } else {
                    append_json(&mut b.dropped, m);
                }
                match b.events.last_mut() {
                    Some(Event::Dropped {
                        pool: p,
                        count,
                        broadcast: bc,
                        ..
                    }) if *p == pool && *bc == broadcast => *count += 1,
                    _ => b.events.push(Event::Dropped {
                        pool,
                        count: 1,
                        broadcast,
                        advanced,
                    }),
                }
            }
        });
    }

    /// Waits until the results waiting for JS are below the high-water mark.
    pub async fn wait_room(&self) {
        loop {
            let notified = self.taken.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.pending.lock().unwrap().batch.result_bytes() < self.high_water {
                return;
            }
            notified.await;
        }
    }

    /// Whether readers may add results now (what `wait_room` waits for).
    pub fn has_room(&self) -> bool {
        self.pending.lock().unwrap().batch.result_bytes() < self.high_water
    }

    /// The consumer's own thread is about to add events and then take them itself: what
    /// it adds wakes nobody. Returns the hold for `release_wake`.
    pub fn hold_wake(&self) -> bool {
        std::mem::replace(&mut self.pending.lock().unwrap().woken, true)
    }

    /// Ends a `hold_wake`: true when the batch has events, which the caller takes now;
    /// false (and nothing is held any more) when it has none.
    pub fn release_wake(&self, hold: bool) -> bool {
        let mut p = self.pending.lock().unwrap();
        if p.batch.is_empty() {
            p.woken = hold;
            return false;
        }
        true
    }

    /// True while JS has been woken for a batch it has not taken yet, that is while Node's
    /// main thread is behind: anything added now waits for it anyway.
    pub fn consumer_behind(&self) -> bool {
        self.pending.lock().unwrap().woken
    }

    /// Waits until JS takes the batch it was woken for; at once if it is not behind.
    pub async fn wait_taken(&self) {
        let notified = self.taken.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if !self.consumer_behind() {
            return;
        }
        notified.await;
    }

    /// Hands everything gathered so far to JS.
    pub fn take(&self) -> Batch {
        let mut p = self.pending.lock().unwrap();
        let mut batch = std::mem::take(&mut p.batch);
        if let Some(spare) = p.spare.take() {
            p.batch.results = spare;
        }
        if let Some((events, replies)) = p.spare_lists.take() {
            p.batch.events = events;
            p.batch.replies = replies;
        }
        p.woken = false;
        drop(p);
        self.taken.notify_waiters();
        batch.results.close();
        close_array(&mut batch.dropped);
        close_array(&mut batch.failed);
        batch
    }

    /// Takes back the results of a batch JS has read, so that the next batch reuses their
    /// memory instead of growing a new buffer (and faulting its pages in) every time.
    pub fn recycle(&self, mut results: JsonPieces) {
        if results.capacity() > 2 * self.high_water {
            return;
        }
        results.clear();
        self.pending.lock().unwrap().spare = Some(results);
    }

    /// Takes back a taken batch's (emptied) lists of events and reply entries, for the same
    /// reason: a lone answer's batch then allocates nothing.
    pub fn recycle_lists(&self, events: Vec<Event>, replies: Vec<f64>) {
        const KEEP: usize = 1024;
        if events.is_empty()
            && replies.is_empty()
            && events.capacity().max(replies.capacity()) <= KEEP
        {
            self.pending.lock().unwrap().spare_lists = Some((events, replies));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    fn queue() -> (EventQueue, Arc<AtomicUsize>) {
        let wakes = Arc::new(AtomicUsize::new(0));
        let w = wakes.clone();
        (
            EventQueue::new(
                64,
                Box::new(move || {
                    w.fetch_add(1, Ordering::SeqCst);
                }),
            ),
            wakes,
        )
    }

    #[test]
    fn one_wake_per_batch() {
        let (q, wakes) = queue();
        q.push(Event::Finished);
        q.push(Event::Aborted { pool: 1 });
        q.push_results(3, [&b"1"[..]]);
        assert_eq!(wakes.load(Ordering::SeqCst), 1);
        assert_eq!(q.take().events.len(), 3);
        q.push(Event::Finished);
        assert_eq!(wakes.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn results_form_one_json_array_and_merge_per_worker() {
        let (q, _) = queue();
        q.push_results(1, [&b"{\"a\":1}"[..], &b"2"[..]]);
        q.push_results(1, [&b"\"x\""[..]]);
        q.push_results(2, [&b"null"[..]]);
        let b = q.take();
        let pieces: Vec<&[u8]> = b.results.pieces().collect();
        assert_eq!(pieces, vec![&b"[{\"a\":1}\n,2\n,\"x\"\n,null]"[..]]);
        assert_eq!(
            b.events,
            vec![
                Event::Results {
                    worker: 1,
                    count: 3,
                    advanced: false
                },
                Event::Results {
                    worker: 2,
                    count: 1,
                    advanced: false
                }
            ]
        );
        let parsed: serde_json::Value = serde_json::from_slice(pieces[0]).unwrap();
        assert_eq!(parsed.as_array().unwrap().len(), 4);
        q.recycle(b.results);
        q.push_results(3, [&b"5"[..]]);
        let again = q.take();
        assert_eq!(
            again.results.pieces().collect::<Vec<_>>(),
            vec![&b"[5]"[..]]
        );
    }

    #[test]
    fn dropped_messages_form_one_json_array() {
        let (q, _) = queue();
        q.push_dropped(
            7,
            false,
            [(&b"1"[..], false), (&b"2"[..], false), (&b"3"[..], true)],
        );
        let b = q.take();
        assert_eq!(b.dropped, b"[1\n,2\n,3]");
        assert_eq!(
            b.events,
            vec![
                Event::Dropped {
                    pool: 7,
                    count: 2,
                    broadcast: false,
                    advanced: false
                },
                Event::Dropped {
                    pool: 7,
                    count: 1,
                    broadcast: true,
                    advanced: false
                }
            ]
        );
    }

    #[tokio::test]
    async fn the_consumer_is_behind_from_its_wake_until_it_takes_the_batch() {
        let (q, _) = queue();
        let q = Arc::new(q);
        assert!(!q.consumer_behind(), "nothing was handed over yet");
        let idle = std::time::Duration::from_secs(1);
        tokio::time::timeout(idle, q.wait_taken())
            .await
            .expect("an idle consumer is not waited for");
        q.push_results(1, [&b"1"[..]]);
        assert!(q.consumer_behind());
        let waiter = tokio::spawn({
            let q = q.clone();
            async move { q.wait_taken().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        q.push_results(1, [&b"2"[..]]);
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "more results do not end the wait");
        assert!(!q.take().results.is_empty());
        tokio::time::timeout(idle, waiter).await.unwrap().unwrap();
        assert!(!q.consumer_behind());
    }

    #[tokio::test]
    async fn readers_wait_for_room_until_js_takes() {
        let (q, _) = queue();
        let q = Arc::new(q);
        let big = [b'1'; 100];
        q.push_results(1, [&big[..]]);
        let waiter = tokio::spawn({
            let q = q.clone();
            async move { q.wait_room().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        q.take();
        tokio::time::timeout(std::time::Duration::from_secs(1), waiter)
            .await
            .unwrap()
            .unwrap();
    }
}
