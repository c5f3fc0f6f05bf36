//! What flows through a running worker: its output (results and control messages) and its
//! input (what the writer task takes from its buffer).

use std::sync::Arc;
use std::time::Duration;

use crate::counters::Counters;
use crate::events::{Event, WorkerId};
use crate::pool::inner::Inner;
use crate::pool::state::{Leave, State};
use crate::pool::tasks;
use crate::runtime::spawn_task;
use crate::wire::control::{classify, classify_frame, Control, LineKind};
use crate::wire::frames::{frames, payload};
use crate::wire::framing::lines;

/// Most output `write_now` writes from the caller's thread (an empty socket takes it whole).
const WRITE_NOW_MAX: usize = 64 << 10;

impl Inner {
    /// Complete lines read from a worker: results go to JS, control messages act here, in
    /// line order (a result sent after a pause must not reach JS before the pause took effect).
    pub(crate) fn deliver(self: &Arc<Self>, id: WorkerId, chunk: &[u8]) {
        let utf8 = std::str::from_utf8(chunk).is_ok();
        let mut invalid = 0usize;
        let valid = lines(chunk).filter(|line| {
            let ok = utf8 || std::str::from_utf8(line).is_ok();
            invalid += usize::from(!ok);
            ok
        });
        self.route(id, valid.map(|line| (line, classify(line))), false);
        if invalid > 0 {
            let msg = format!("{invalid} message(s) from the worker were not valid UTF-8");
            self.worker_error(id, "ERR_WORKER_INVALID_MESSAGE", msg);
        }
    }

    /// Complete frames read from a worker of an `advanced` pool, handled as `deliver`
    /// handles lines. Results stay whole frames (JS deserializes them).
    pub(crate) fn deliver_frames(self: &Arc<Self>, id: WorkerId, chunk: &[u8]) {
        let kinds = frames(chunk).map(|frame| (frame, classify_frame(payload(frame))));
        self.route(id, kinds, true);
    }

    /// Sends a worker's messages on in order: results in runs to JS, control messages acted on
    /// between them, Node's internal ones nowhere.
    fn route<'a>(
        self: &Arc<Self>,
        id: WorkerId,
        messages: impl Iterator<Item = (&'a [u8], LineKind)>,
        as_frames: bool,
    ) {
        let mut results: Vec<&[u8]> = Vec::new();
        for (message, kind) in messages {
            match kind {
                LineKind::Result => results.push(message),
                LineKind::Control(c) => {
                    self.push_results_of(id, &mut results, as_frames);
                    self.on_control(id, c);
                }
                LineKind::Internal => {}
            }
        }
        self.push_results_of(id, &mut results, as_frames);
    }

    /// Results go to JS as they are (lines, or frames of an advanced pool), or in reply mode
    /// matched to what the worker was given.
    fn push_results_of(&self, id: WorkerId, results: &mut Vec<&[u8]>, as_frames: bool) {
        if results.is_empty() {
            return;
        }
        Counters::add(&self.counters.results, results.len() as u64);
        if self.config.reply.is_some() {
            self.answers(id, results);
            results.clear();
        } else if as_frames {
            self.events.push_frames(id, results.drain(..));
        } else {
            self.events.push_results(id, results.drain(..));
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
                    spawn_task(async move {
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
    pub(crate) fn take_output(&self, id: WorkerId, buf: &mut Vec<u8>) -> tasks::Step {
        let mut st = self.lock();
        let Some(w) = st.workers.get_mut(&id) else {
            return tasks::Step::Gone;
        };
        if !w.rest.is_empty() {
            // Counted in `inflight` since `write_now` left it.
            std::mem::swap(&mut w.rest, buf);
            tasks::Step::Write
        } else if !w.out.is_empty() {
            w.fit_input_window();
            std::mem::swap(&mut w.out, buf);
            w.inflight = buf.len();
            w.untaken = 0;
            tasks::Step::Write
        } else if w.close_requested {
            tasks::Step::Close
        } else {
            tasks::Step::Idle
        }
    }

    /// Writes a worker's queued output at once from the calling thread (JS's, in a send)
    /// when nothing else is on its way to it (its writer is idle). A message to an idle
    /// worker then reaches it without waking the core's thread first (one thread hop less
    /// on every round trip). What the socket does not take goes to the writer as `rest`
    /// (a part of a line must never stay behind in `out`). True when nothing is left for
    /// the writer; false when the caller must wake it.
    pub(crate) fn write_now(&self, st: &mut State, id: WorkerId) -> bool {
        let Some(w) = st.workers.get_mut(&id) else {
            return true;
        };
        if w.out.is_empty() {
            return true;
        }
        if w.out.len() > WRITE_NOW_MAX || w.inflight > 0 || w.close_requested {
            return false;
        }
        if !self.results_room() {
            return false; // the writer holds it until JS takes results (`write_loop`)
        }
        w.fit_input_window();
        let Some(io) = &w.io else { return false };
        let written = match io.channel.send_now(&w.out) {
            Ok(n) => n,
            // No room (or an error the writer will meet too): the writer has it all.
            Err(_) => return false,
        };
        if written == 0 {
            return false;
        }
        Counters::add(&self.counters.writes, 1);
        Counters::add(&self.counters.written_bytes, written as u64);
        w.untaken = 0;
        if written < w.out.len() {
            w.rest.clear();
            w.rest.extend_from_slice(&w.out[written..]);
            w.inflight = w.rest.len();
            w.out.clear();
            return false;
        }
        w.out.clear();
        if w.notify_ready && !w.backed_up(self.config.worker_high_water) {
            w.notify_ready = false;
            self.events.push(Event::WorkerReady { worker: id });
        }
        true
    }

    /// Reply mode, while messages wait in the worker's pool for room: each answer read frees
    /// room for the next message, so the worker's output is read at once even while JS is
    /// behind (gathering would leave the worker idle, its in-flight messages all answered).
    pub(crate) fn answers_make_room(&self, id: WorkerId) -> bool {
        let st = self.lock();
        st.reply.is_some()
            && st
                .workers
                .get(&id)
                .and_then(|w| st.pools.get(&w.pool))
                .is_some_and(|p| !p.queue.is_empty())
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
}
