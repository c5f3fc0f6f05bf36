//! The only napi file: converts between JS values and the core's types, nothing more.

use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use napi::bindgen_prelude::*;
use napi::sys;
use napi::threadsafe_function::ThreadsafeFunctionCallMode;
use napi::JsString;
use napi_derive::napi;

use crate::config::ReplyConfig;
use crate::config::{ForkSpec, ManagerConfig, Serialization, StdioMode};
use crate::events::{append_json, Batch, Event, Failure};
use crate::manager::{CoreError, Manager};
use crate::node_loop::LoopReads;
use crate::pool::reply::Percentiles;
use crate::wire::control::Control;
use crate::wire::framing::expand_strings;
use crate::wire::pieces::{JsonPieces, Part};

/// Manager settings, already validated by index.js (milliseconds as numbers).
#[napi(object)]
pub struct CoreConfig {
    pub respawn_interval: f64,
    pub min_uptime: f64,
    pub max_respawn_delay: f64,
    pub max_queue: u32,
    /// Negative: never.
    pub paused_worker_timeout: f64,
    pub kill_timeout: f64,
    pub end_quiet: f64,
    pub max_message_bytes: f64,
    /// Bytes; 0: no limit.
    pub max_worker_rss: f64,
    pub worker_high_water: f64,
    pub results_high_water: f64,
    /// Reply mode on (`ordered` implies it).
    pub reply: bool,
    pub ordered: bool,
    pub concurrency: u32,
    pub max_retries: u32,
    /// Negative: no timeout.
    pub timeout: f64,
}

/// How to start the workers of one script, already resolved by index.js.
#[napi(object)]
pub struct PoolSpec {
    pub exec_path: String,
    pub argv0: Option<String>,
    pub exec_argv: Vec<String>,
    pub script: String,
    pub args: Vec<String>,
    pub cwd: Option<String>,
    /// Alternating names and values.
    pub env: Vec<String>,
    /// Three of "inherit", "pipe", "ignore".
    pub stdio: Vec<String>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// A signal number, already validated.
    pub kill_signal: i32,
    /// "json" (the default) or "advanced".
    pub serialization: Option<String>,
}

/// Events since the last call, flattened: `events` holds `EVENT_STRIDE` ints per event.
/// The results they announce are taken with `takeResults()`.
#[napi(object)]
pub struct EventBatch {
    pub events: Int32Array,
    /// JSON array text of the messages announced by drop events.
    pub dropped: Option<String>,
    /// Texts referred to by index from error events.
    pub texts: Vec<String>,
    /// Reply mode: one entry per result (see `Batch::replies`); empty otherwise.
    pub replies: Float64Array,
    /// Reply mode: JSON array text of the messages announced by failed events, and their
    /// sequence numbers.
    pub failed: Option<String>,
    pub failed_seqs: Float64Array,
    /// Results of `advanced` pools: whole frames (4-byte big-endian length, then the V8
    /// serializer output), back to back, in the order of their results events.
    pub frames: Option<Buffer>,
    /// Frames of the messages announced by drop and failed events of `advanced` pools.
    pub dropped_frames: Option<Buffer>,
    pub failed_frames: Option<Buffer>,
}

/// Latency percentiles in ms.
#[napi(object)]
pub struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

/// Reply mode's figures for `getStats()`.
#[napi(object)]
pub struct ReplyFigures {
    pub in_flight: f64,
    pub retried: f64,
    pub failed: f64,
    pub timed_out: f64,
    pub wait: Latency,
    pub run: Latency,
}

fn latency(p: Percentiles) -> Latency {
    Latency {
        p50: p.p50,
        p90: p.p90,
        p99: p.p99,
        max: p.max,
    }
}

fn failure_fields(f: Failure) -> [i32; 4] {
    match f {
        Failure::Died { code, signal } => [
            1,
            code.unwrap_or(0),
            i32::from(code.is_some()),
            signal.unwrap_or(0),
        ],
        Failure::TimedOut => [2, 0, 0, 0],
        Failure::Removed => [3, 0, 0, 0],
    }
}

/// Messages a `submit` dropped from full queues, reported before the call returns.
#[napi(object)]
pub struct DroppedNow {
    pub saturated: bool,
    /// Quadruples (pool, count, broadcast as 0/1, advanced as 0/1), in drop order.
    pub runs: Int32Array,
    /// JSON array text of the dropped messages of JSON pools, in the same order.
    pub messages: String,
    /// Frames of the dropped messages of `advanced` pools, in the same order.
    pub frames: Option<Buffer>,
}

/// Ints per event in `EventBatch.events`: kind and up to six fields. The kinds and fields
/// are listed in `encode` below and read by `_onWake` in lib/manager.js.
#[napi]
pub const EVENT_STRIDE: u32 = 7;
const STRIDE: usize = EVENT_STRIDE as usize;

fn ms(v: f64) -> Duration {
    Duration::from_millis(v.max(0.0) as u64)
}

fn map_error(e: CoreError) -> Error {
    Error::new(Status::GenericFailure, format!("{}: {e}", e.code()))
}

fn stdio_mode(s: &str) -> StdioMode {
    match s {
        "pipe" => StdioMode::Pipe,
        "ignore" => StdioMode::Ignore,
        _ => StdioMode::Inherit,
    }
}

fn control_code(c: Control) -> i32 {
    match c {
        Control::Pause => 1,
        Control::Drain => 2,
        Control::End => 3,
    }
}

fn encode(event: Event, texts: &mut Vec<String>) -> [i32; STRIDE] {
    let mut text = |s: String| {
        texts.push(s);
        texts.len() as i32 - 1
    };
    let u = |v: u32| v as i32;
    match event {
        Event::Spawned {
            pool,
            worker,
            pid,
            stdio,
        } => [1, u(pool), u(worker), u(pid), stdio[0], stdio[1], stdio[2]],
        Event::SpawnFailed {
            pool,
            worker,
            message,
        } => [2, u(pool), u(worker), text(message), 0, 0, 0],
        Event::Results {
            worker,
            count,
            advanced,
        } => [3, u(worker), u(count), i32::from(advanced), 0, 0, 0],
        Event::Exit {
            pool,
            worker,
            code,
            signal,
            expected,
        } => [
            4,
            u(pool),
            u(worker),
            code.unwrap_or(0),
            i32::from(code.is_some()),
            signal.unwrap_or(0),
            i32::from(expected),
        ],
        Event::Disconnect { pool, worker } => [5, u(pool), u(worker), 0, 0, 0, 0],
        Event::WorkerError {
            pool,
            worker,
            code,
            message,
        } => [
            6,
            u(pool),
            u(worker),
            text(code.to_string()),
            text(message),
            0,
            0,
        ],
        Event::Control { worker, control } => [7, u(worker), control_code(control), 0, 0, 0, 0],
        Event::Dropped {
            pool,
            count,
            broadcast,
            advanced,
        } => [
            8,
            u(pool),
            u(count),
            i32::from(broadcast),
            i32::from(advanced),
            0,
            0,
        ],
        Event::Saturation { pool } => [9, u(pool), 0, 0, 0, 0, 0],
        Event::Respawn {
            pool,
            delay_ms,
            crashes,
        } => [10, u(pool), u(delay_ms), u(crashes), 0, 0, 0],
        Event::Aborted { pool } => [11, u(pool), 0, 0, 0, 0, 0],
        Event::WorkerReady { worker } => [12, u(worker), 0, 0, 0, 0, 0],
        Event::Finished => [13, 0, 0, 0, 0, 0, 0],
        Event::Failed {
            pool,
            failure,
            advanced,
        } => {
            let [reason, code, has_code, signal] = failure_fields(failure);
            [
                14,
                u(pool),
                reason,
                code,
                has_code,
                signal,
                i32::from(advanced),
            ]
        }
    }
}

/// The native half of a manager; `index.js` builds the public object around it.
#[napi]
pub struct Core {
    shared: Rc<Shared>,
}

/// What a Core and its direct calls into JS (see `DirectCall`) share, on the main thread.
pub struct Shared {
    manager: Manager,
    /// The results of the last batch taken, until `takeResults()` takes them.
    results: std::sync::Mutex<JsonPieces>,
    /// A batch that JS's arrays could not carry, for `takeEvents()`.
    held: std::sync::Mutex<Option<EventBatch>>,
    /// See `stringEscapes()`.
    string_escapes: AtomicU64,
    /// Workers' sockets on Node's loop, read there while JS keeps up (see `node_loop`).
    loop_reads: std::cell::RefCell<Option<LoopReads>>,
    /// The arrays JS keeps for the common batch (see `shareArrays()`).
    arrays: std::cell::RefCell<Option<WakeArrays>>,
    /// A batch's events as ints, kept between batches (see `flatten`).
    flat: std::cell::RefCell<Vec<i32>>,
}

impl std::ops::Deref for Core {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.shared
    }
}

/// JS's arrays for a batch's events, reply entries and result kinds; written in place so
/// that the common batch allocates nothing for JS.
struct WakeArrays {
    events: Int32Array,
    replies: Float64Array,
    kinds: Uint8Array,
}

impl WakeArrays {
    /// The arrays' elements, to write.
    fn slices(&mut self) -> (&mut [i32], &mut [f64], &mut [u8]) {
        // SAFETY: JS reads these arrays only after the core's call that writes them has
        // returned (the main thread runs one thing at a time), and keeps them alive while
        // they are shared (each holds a reference).
        unsafe {
            (
                self.events.as_mut(),
                self.replies.as_mut(),
                self.kinds.as_mut(),
            )
        }
    }
}

/// The shared kinds array, or none.
fn kinds_of(arrays: &mut Option<WakeArrays>) -> &mut [u8] {
    arrays.as_mut().map(|a| a.slices().2).unwrap_or(&mut [])
}

/// How a batch from JS is laid out.
#[napi]
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum BatchFormat {
    /// Newline-separated JSON texts in UTF-8.
    Json = 0,
    /// Whole frames of the `advanced` serialization, back to back.
    Frames = 1,
    /// JSON texts, some messages raw strings for the core to escape (see
    /// `wire::framing::STRING_MARK`).
    JsonWithStrings = 2,
}

#[napi]
impl Core {
    /// `onWake` is called whenever `takeEvents()` has something new: with no arguments from
    /// the core's thread; from a read on the main thread, with the batch itself (see
    /// `Shared::deliver`).
    #[napi(constructor)]
    pub fn new(env: &Env, config: CoreConfig, on_wake: Function<(), ()>) -> Result<Self> {
        let on_wake_raw = on_wake.raw();
        let tsfn = on_wake
            .build_threadsafe_function::<()>()
            .weak::<true>()
            .callee_handled::<false>()
            .build_callback(|_| Ok(()))?;
        let wake = Box::new(move || {
            tsfn.call((), ThreadsafeFunctionCallMode::NonBlocking);
        });
        let config = ManagerConfig {
            respawn_interval: ms(config.respawn_interval),
            min_uptime: ms(config.min_uptime),
            max_respawn_delay: ms(config.max_respawn_delay),
            max_queue: config.max_queue as usize,
            paused_worker_timeout: (config.paused_worker_timeout >= 0.0)
                .then(|| ms(config.paused_worker_timeout)),
            kill_timeout: ms(config.kill_timeout),
            end_quiet: ms(config.end_quiet),
            max_message_bytes: config.max_message_bytes as usize,
            max_worker_rss: (config.max_worker_rss > 0.0).then_some(config.max_worker_rss as u64),
            worker_high_water: config.worker_high_water as usize,
            results_high_water: config.results_high_water as usize,
            reply: (config.reply || config.ordered).then(|| ReplyConfig {
                ordered: config.ordered,
                concurrency: config.concurrency.max(1) as usize,
                max_retries: config.max_retries,
                timeout: (config.timeout >= 0.0).then(|| ms(config.timeout)),
            }),
        };
        let manager = Manager::new(config, wake);
        let mut uv_loop = std::ptr::null_mut();
        // SAFETY: writes the env's loop pointer into `uv_loop`.
        unsafe { napi::sys::napi_get_uv_event_loop(env.raw(), &mut uv_loop) };
        let direct = DirectCall::new(env, on_wake_raw)?;
        let shared = Rc::new_cyclic(|me: &std::rc::Weak<Shared>| {
            let me = me.clone();
            let take_now = Rc::new(move || {
                if let Some(shared) = me.upgrade() {
                    shared.deliver(&direct);
                }
            });
            Shared {
                loop_reads: std::cell::RefCell::new(LoopReads::new(
                    uv_loop.cast(),
                    &manager,
                    take_now,
                )),
                manager,
                results: Default::default(),
                held: Default::default(),
                string_escapes: AtomicU64::new(0),
                arrays: Default::default(),
                flat: Default::default(),
            }
        });
        Ok(Core { shared })
    }

    /// The arrays `takeEventsInto()` and `takeResults()` write into, and a main-thread read
    /// hands to `onWake`; shared again whenever JS replaces one.
    #[napi]
    pub fn share_arrays(&self, events: Int32Array, replies: Float64Array, kinds: Uint8Array) {
        *self.arrays.borrow_mut() = Some(WakeArrays {
            events,
            replies,
            kinds,
        });
    }

    #[napi]
    pub fn add_pool(&self, spec: PoolSpec) -> Result<u32> {
        let env = spec
            .env
            .chunks(2)
            .filter(|kv| kv.len() == 2)
            .map(|kv| (kv[0].clone(), kv[1].clone()));
        let mut stdio = [StdioMode::Inherit; 3];
        for (slot, mode) in stdio.iter_mut().zip(spec.stdio.iter()) {
            *slot = stdio_mode(mode);
        }
        let spec = ForkSpec {
            exec_path: spec.exec_path,
            argv0: spec.argv0,
            exec_argv: spec.exec_argv,
            script: spec.script,
            args: spec.args,
            cwd: spec.cwd,
            env: env.collect(),
            stdio,
            uid: spec.uid,
            gid: spec.gid,
            kill_signal: spec.kill_signal,
            serialization: match spec.serialization.as_deref() {
                Some("advanced") => Serialization::Advanced,
                _ => Serialization::Json,
            },
        };
        self.manager.add_pool(spec).map_err(map_error)
    }

    #[napi]
    pub fn add_workers(&self, pool: u32, n: u32) -> Result<()> {
        self.manager
            .add_workers(pool, n as usize)
            .map_err(map_error)
    }

    /// Returns the ids of the workers chosen.
    #[napi]
    pub fn remove_workers(&self, pool: u32, n: u32) -> Vec<u32> {
        self.manager.remove_workers(pool, n as usize)
    }

    #[napi]
    pub fn remove_worker(&self, worker: u32) {
        self.manager.remove_worker(worker)
    }

    /// `worker` < 0: every worker of the pool.
    #[napi]
    pub fn refork(&self, pool: u32, worker: i32) {
        self.manager.refork(pool, u32::try_from(worker).ok())
    }

    /// The calls JS makes for every message, as plain functions bound to this core:
    /// `submit(pool, batch, len, noDrop, format)` and, in reply mode,
    /// `call(pool, batch, len, format, timeout)` (see `Shared::submit` and `Shared::call`).
    /// They skip what a napi-rs method spends on every call to find its object and register
    /// its borrows (~0.35 µs on the bench machine, about as much as the core's own work on a
    /// small message).
    #[napi(
        ts_return_type = "{ submit(pool: number, batch: Uint8Array, len: number, noDrop: boolean, format: BatchFormat): boolean | DroppedNow; call(pool: number, batch: Uint8Array, len: number, format: BatchFormat, timeout: number): number }"
    )]
    pub fn hot_calls(&self, env: &Env) -> Result<Object<'_>> {
        let mut calls = Object::new(env)?;
        for (name, callback) in [("submit", hot_submit as RawCallback), ("call", hot_call)] {
            // SAFETY: a function made on this env with a data pointer it releases itself.
            let f = unsafe { bound_function(env.raw(), name, callback, &self.shared)? };
            // SAFETY: `f` is a value of this env.
            calls.set_named_property(name, unsafe { Unknown::from_raw_unchecked(env.raw(), f) })?;
        }
        Ok(calls)
    }

    /// Returns -1 when the worker is gone, 1 when it can take more, 0 when it is backed up.
    #[napi]
    pub fn submit_to_worker(&self, worker: u32, batch: &[u8], len: u32) -> i32 {
        match self.manager.submit_to_worker(worker, prefix(batch, len)) {
            None => -1,
            Some(ok) => i32::from(ok),
        }
    }

    /// Reply mode: aborts message `seq`; false when it is answered or failed already.
    #[napi]
    pub fn cancel(&self, seq: f64) -> bool {
        self.manager.cancel(seq as u64)
    }

    #[napi]
    pub fn worker_in_flight(&self, worker: u32) -> u32 {
        self.manager.worker_in_flight(worker) as u32
    }

    #[napi]
    pub fn reply_stats(&self) -> Option<ReplyFigures> {
        self.manager.reply_stats().map(|s| ReplyFigures {
            in_flight: s.in_flight as f64,
            retried: s.retried as f64,
            failed: s.failed as f64,
            timed_out: s.timed_out as f64,
            wait: latency(s.wait),
            run: latency(s.run),
        })
    }

    #[napi]
    pub fn is_saturated(&self, pool: u32) -> bool {
        self.manager.is_saturated(pool)
    }

    #[napi]
    pub fn signal(&self, worker: u32, signal: i32) -> bool {
        self.manager.signal(worker, signal)
    }

    #[napi]
    pub fn disconnect(&self, worker: u32) {
        self.manager.disconnect(worker)
    }

    #[napi]
    pub fn set_flowing(&self, flowing: bool) {
        self.manager.set_flowing(flowing);
        if !flowing {
            if let Some(r) = self.loop_reads.borrow_mut().as_mut() {
                r.pause();
            }
        }
    }

    /// `stall_limit` < 0: wait for workers however long they take.
    #[napi]
    pub fn finish(&self, stall_limit: f64) {
        self.manager
            .finish((stall_limit >= 0.0).then(|| ms(stall_limit)))
    }

    #[napi]
    pub fn stop(&self) {
        self.manager.stop()
    }

    #[napi]
    pub fn worker_count(&self) -> u32 {
        self.manager.worker_count() as u32
    }

    /// Data-path counters: reads, readBytes, results, wakes, submits, writes, writtenBytes,
    /// consumerReads (reads made on the main thread, counted in reads too).
    #[napi]
    pub fn counters(&self) -> Vec<f64> {
        let c = self.manager.counters();
        [
            c.reads,
            c.read_bytes,
            c.results,
            c.wakes,
            c.submits,
            c.writes,
            c.written_bytes,
            c.consumer_reads,
        ]
        .map(|v| v as f64)
        .to_vec()
    }

    /// Characters that JSON escapes added to the string messages the core encoded.
    #[napi]
    pub fn string_escapes(&self) -> f64 {
        self.string_escapes.load(Ordering::Relaxed) as f64
    }

    /// The batch `takeEventsInto()` left, or else the events since the last call.
    #[napi]
    pub fn take_events(&self) -> EventBatch {
        if let Some(held) = lock(&self.held).take() {
            return held;
        }
        let (flat, texts, batch) = self.flatten();
        whole_batch(flat, texts, batch)
    }

    /// The common batch without allocating anything for JS: its events written into the
    /// shared `events` and its reply entries into `replies`, returning how many ints of
    /// `events` it wrote. Returns -1 when the batch does not fit them or has parts they
    /// cannot carry (texts, dropped or failed messages, frames); `takeEvents()` then returns
    /// it whole. (An EventBatch object with its typed arrays costs ~10 µs of the main
    /// thread, more than the rest of a lone answer's handling.)
    #[napi]
    pub fn take_events_into(&self) -> i32 {
        let (flat, texts, batch) = self.flatten();
        self.write_batch(flat, texts, batch)
    }

    /// How many parts `takeResults()` will give (the room its `kinds` needs).
    #[napi]
    pub fn result_parts(&self) -> u32 {
        lock(&self.results).part_count() as u32
    }

    /// The results announced by the last `takeEvents()`, in order: JSON array texts (each
    /// under ~96 KiB, see pieces.rs), long string results already decoded, and results with
    /// long string values taken out. The shared `kinds[i]` is set to part i's kind: 0 an
    /// array text, 1 a string, 2 a skeleton, 3 a key (see lib/results.js); JS gives it room
    /// for `resultParts()` entries.
    #[napi]
    pub fn take_results<'env>(&self, env: &'env Env) -> Result<Vec<JsString<'env>>> {
        let results = std::mem::take(&mut *lock(&self.results));
        let mut arrays = self.arrays.borrow_mut();
        let texts = result_strings(env, &results, kinds_of(&mut arrays));
        self.manager.recycle_results(results);
        texts
    }
}

impl Shared {
    /// `submit(pool, batch, len, noDrop, format)` (see `hotCalls()`): `batch[..len]` in one
    /// of the `BatchFormat`s (see lib/encode.js), for one worker of `pool`, or of every pool
    /// of that serialization when `pool` < 0. Returns true when a target pool is saturated.
    /// Messages that overflowed a queue come back at once as a `DroppedNow` (which says
    /// whether a target is saturated too), so that JS reports them inside `send()`.
    fn submit(
        &self,
        pool: i32,
        batch: &[u8],
        no_drop: bool,
        format: BatchFormat,
    ) -> Either<bool, DroppedNow> {
        let batch = self.batch_bytes(batch, format);
        let serialization = if format == BatchFormat::Frames {
            Serialization::Advanced
        } else {
            Serialization::Json
        };
        let done = self
            .manager
            .submit(u32::try_from(pool).ok(), batch, no_drop, serialization);
        if done.dropped.is_empty() {
            return Either::A(done.saturated);
        }
        let mut runs = Vec::new();
        let mut array = Vec::new();
        let mut frames = Vec::new();
        for group in done.dropped {
            let adv = i32::from(group.advanced);
            for (msg, broadcast) in group.messages {
                if group.advanced {
                    frames.extend_from_slice(&msg);
                } else {
                    append_json(&mut array, &msg);
                }
                let n = runs.len();
                let same = n >= 4
                    && runs[n - 4] == group.pool as i32
                    && runs[n - 2] == i32::from(broadcast)
                    && runs[n - 1] == adv;
                if same {
                    runs[n - 3] += 1;
                } else {
                    runs.extend_from_slice(&[group.pool as i32, 1, i32::from(broadcast), adv]);
                }
            }
        }
        if !array.is_empty() {
            array.push(b']');
        }
        Either::B(DroppedNow {
            saturated: done.saturated,
            runs: Int32Array::new(runs),
            // Queued messages came from JS strings: always UTF-8.
            messages: String::from_utf8_lossy(&array).into_owned(),
            frames: (!frames.is_empty()).then(|| Buffer::from(frames)),
        })
    }

    /// `call(pool, batch, len, format, timeout)` (see `hotCalls()`), reply mode: queues
    /// `batch[..len]` (one message) for `pool` as a call; `timeout` < 0: the configured one.
    /// Returns its sequence number.
    fn call(&self, pool: u32, batch: &[u8], format: BatchFormat, timeout: f64) -> Result<f64> {
        let msg = self.batch_bytes(batch, format);
        let timeout = (timeout >= 0.0).then(|| ms(timeout));
        self.manager
            .call(pool, msg, timeout)
            .map(|seq| seq as f64)
            .map_err(map_error)
    }

    /// Reply mode: aborts message `seq`; false when it is answered or failed already.
    /// A batch from JS as the core keeps it (always a copy: JS reuses its buffer).
    fn batch_bytes(&self, batch: &[u8], format: BatchFormat) -> Bytes {
        if format != BatchFormat::JsonWithStrings {
            return Bytes::copy_from_slice(batch);
        }
        let (bytes, added) = expand_strings(batch);
        self.string_escapes
            .fetch_add(added as u64, Ordering::Relaxed);
        bytes
    }

    /// Takes the core's batch: its events flattened, the texts they refer to, and the rest
    /// (its results are kept for `takeResults()`).
    fn flatten(&self) -> (Vec<i32>, Vec<String>, Batch) {
        let mut batch = self.manager.take_events();
        if let Some(r) = self.loop_reads.borrow_mut().as_mut() {
            r.after_take(batch.result_count());
        }
        let mut texts = Vec::new();
        let mut flat = std::mem::take(&mut *self.flat.borrow_mut());
        flat.clear();
        flat.reserve(batch.events.len() * STRIDE);
        for event in batch.events.drain(..) {
            flat.extend_from_slice(&encode(event, &mut texts));
        }
        *lock(&self.results) = std::mem::take(&mut batch.results);
        (flat, texts, batch)
    }

    /// Writes a taken batch into the shared arrays (see `takeEventsInto()`), or holds it
    /// for `takeEvents()` and returns -1.
    fn write_batch(&self, flat: Vec<i32>, texts: Vec<String>, batch: Batch) -> i32 {
        let mut arrays = self.arrays.borrow_mut();
        let fits = arrays.as_ref().is_some_and(|a| {
            texts.is_empty()
                && batch.dropped.is_empty()
                && batch.failed.is_empty()
                && batch.failed_seqs.is_empty()
                && batch.frames.is_empty()
                && batch.dropped_frames.is_empty()
                && batch.failed_frames.is_empty()
                && flat.len() <= a.events.len()
                && batch.replies.len() <= a.replies.len()
                && flat.len() <= i32::MAX as usize
        });
        let Some(a) = arrays.as_mut().filter(|_| fits) else {
            *lock(&self.held) = Some(whole_batch(flat, texts, batch));
            return -1;
        };
        let (events, replies, _) = a.slices();
        events[..flat.len()].copy_from_slice(&flat);
        replies[..batch.replies.len()].copy_from_slice(&batch.replies);
        let n = flat.len() as i32;
        // Their memory serves the next batch.
        *self.flat.borrow_mut() = flat;
        let Batch {
            events,
            mut replies,
            ..
        } = batch;
        replies.clear();
        self.manager.recycle_lists(events, replies);
        n
    }

    /// After a read on the main thread: calls `onWake(n, parts)` with the batch already
    /// taken, as `takeEventsInto()` and `takeResults()` would give it (parts is left out
    /// when the kinds array is too short for them, and n is -1 for a batch to take whole),
    /// which saves JS two calls into the core on every answer.
    fn deliver(&self, call: &DirectCall) {
        call.call(|env| {
            let (flat, texts, batch) = self.flatten();
            let n = self.write_batch(flat, texts, batch);
            // SAFETY: values made on this env, in the caller's handle scope.
            let mut args = [unsafe { ToNapiValue::to_napi_value(env.raw(), n)? }; 2];
            let mut argc = 1;
            let results = std::mem::take(&mut *lock(&self.results));
            let mut arrays = self.arrays.borrow_mut();
            let kinds = kinds_of(&mut arrays);
            if n >= 0 && !results.is_empty() && results.part_count() <= kinds.len() {
                let parts = result_strings(env, &results, kinds)?;
                // SAFETY: as above.
                args[1] = unsafe { ToNapiValue::to_napi_value(env.raw(), parts)? };
                argc = 2;
                self.manager.recycle_results(results);
            } else {
                *lock(&self.results) = results;
            }
            Ok((args, argc))
        });
    }
}

/// A batch's results as JS strings (see `takeResults()`); `kinds[i]` gets part i's kind.
/// ASCII text (the usual case) becomes a one-byte string without UTF-8 decoding.
fn result_strings<'env>(
    env: &'env Env,
    results: &JsonPieces,
    kinds: &mut [u8],
) -> Result<Vec<JsString<'env>>> {
    results
        .parts()
        .enumerate()
        .map(|(i, part)| {
            let (kind, text) = match part {
                Part::Json { text, ascii: true } => (0, env.create_string_latin1(text)),
                // SAFETY: the core only puts validated UTF-8 in the results.
                Part::Json { text, .. } => (
                    0,
                    env.create_string(unsafe { std::str::from_utf8_unchecked(text) }),
                ),
                Part::Latin1(bytes) => (1, env.create_string_latin1(bytes)),
                Part::Utf16(units) => (1, env.create_string_utf16(units)),
                Part::Skeleton { text, ascii: true } => (2, env.create_string_latin1(text)),
                // SAFETY: as above; a skeleton is cut from such UTF-8 at token boundaries.
                Part::Skeleton { text, .. } => (
                    2,
                    env.create_string(unsafe { std::str::from_utf8_unchecked(text) }),
                ),
                Part::Key(name) => (3, env.create_string_latin1(name)),
            };
            let slot = kinds
                .get_mut(i)
                .ok_or_else(|| Error::new(Status::InvalidArg, "kinds is too short"))?;
            *slot = kind;
            text
        })
        .collect()
}

/// A JS function called from native code on the main thread with no JS on the stack (a
/// libuv callback), as Node calls its own I/O callbacks: in a handle scope and an async
/// context, so that microtasks and `nextTick`s run after it; a throw is reported as an
/// uncaught exception.
struct DirectCall {
    env: sys::napi_env,
    func: sys::napi_ref,
    context: sys::napi_async_context,
}

impl DirectCall {
    fn new(env: &Env, func: sys::napi_value) -> Result<Self> {
        let env = env.raw();
        let mut call = DirectCall {
            env,
            func: std::ptr::null_mut(),
            context: std::ptr::null_mut(),
        };
        // SAFETY: plain napi calls on the current env with values of this call.
        unsafe {
            check(sys::napi_create_reference(env, func, 1, &mut call.func))?;
            let mut name = std::ptr::null_mut();
            let label = "forkfriend";
            check(sys::napi_create_string_utf8(
                env,
                label.as_ptr().cast(),
                label.len() as isize,
                &mut name,
            ))?;
            check(sys::napi_async_init(
                env,
                std::ptr::null_mut(),
                name,
                &mut call.context,
            ))?;
        }
        Ok(call)
    }

    /// Calls the function with the arguments `args` makes (in the call's handle scope): the
    /// first `argc` of the array it returns.
    fn call(&self, args: impl FnOnce(&Env) -> Result<([sys::napi_value; 2], usize)>) {
        // SAFETY: called on the main thread outside any JS frame (see node_loop); every
        // handle made here lives in the scope opened here.
        unsafe {
            let mut scope = std::ptr::null_mut();
            if sys::napi_open_handle_scope(self.env, &mut scope) != sys::Status::napi_ok {
                return;
            }
            let env = Env::from_raw(self.env);
            let status = match args(&env) {
                Ok((argv, argc)) => {
                    let mut func = std::ptr::null_mut();
                    let mut recv = std::ptr::null_mut();
                    let mut result = std::ptr::null_mut();
                    sys::napi_get_reference_value(self.env, self.func, &mut func);
                    sys::napi_get_global(self.env, &mut recv);
                    sys::napi_make_callback(
                        self.env,
                        self.context,
                        recv,
                        func,
                        argc,
                        argv.as_ptr(),
                        &mut result,
                    )
                }
                Err(e) => {
                    let msg = format!("forkfriend: {e}");
                    let mut text = std::ptr::null_mut();
                    let mut error = std::ptr::null_mut();
                    sys::napi_create_string_utf8(
                        self.env,
                        msg.as_ptr().cast(),
                        msg.len() as isize,
                        &mut text,
                    );
                    sys::napi_create_error(self.env, std::ptr::null_mut(), text, &mut error);
                    sys::napi_throw(self.env, error);
                    sys::Status::napi_pending_exception
                }
            };
            if status == sys::Status::napi_pending_exception {
                let mut error = std::ptr::null_mut();
                sys::napi_get_and_clear_last_exception(self.env, &mut error);
                sys::napi_fatal_exception(self.env, error);
            }
            sys::napi_close_handle_scope(self.env, scope);
        }
    }
}

impl Drop for DirectCall {
    fn drop(&mut self) {
        // SAFETY: made by `new` on this env; dropped with the Core, on the main thread.
        unsafe {
            sys::napi_async_destroy(self.env, self.context);
            sys::napi_delete_reference(self.env, self.func);
        }
    }
}

/// A Node-API function callback.
type RawCallback = unsafe extern "C" fn(sys::napi_env, sys::napi_callback_info) -> sys::napi_value;

/// A JS function named `name` that runs `callback` with `shared` as its data; the function
/// holds a reference to `shared` until it is collected.
///
/// # Safety
/// On the main thread, with `env` the current env.
unsafe fn bound_function(
    env: sys::napi_env,
    name: &str,
    callback: RawCallback,
    shared: &Rc<Shared>,
) -> Result<sys::napi_value> {
    unsafe extern "C" fn release(
        _env: sys::napi_env,
        data: *mut std::ffi::c_void,
        _hint: *mut std::ffi::c_void,
    ) {
        // SAFETY: `data` is the reference `bound_function` took, released once, here.
        drop(unsafe { Rc::from_raw(data as *const Shared) });
    }
    let data = Rc::into_raw(shared.clone()) as *mut std::ffi::c_void;
    let mut f = std::ptr::null_mut();
    // SAFETY: plain napi calls on the current env; on failure the reference is released.
    unsafe {
        let made = check(sys::napi_create_function(
            env,
            name.as_ptr().cast(),
            name.len() as isize,
            Some(callback),
            data,
            &mut f,
        ))
        .and_then(|_| {
            check(sys::napi_add_finalizer(
                env,
                f,
                data,
                Some(release),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            ))
        });
        if let Err(e) = made {
            release(env, data, std::ptr::null_mut());
            return Err(e);
        }
    }
    Ok(f)
}

/// Runs a bound function's body with its `Shared` and its first N arguments (missing ones
/// are `undefined`); an error, or a panic, becomes a thrown Error.
///
/// # Safety
/// `info` is the callback info of a function made by `bound_function`.
unsafe fn with_args<const N: usize>(
    env: sys::napi_env,
    info: sys::napi_callback_info,
    body: impl FnOnce(&Shared, &[sys::napi_value; N]) -> Result<sys::napi_value>,
) -> sys::napi_value {
    let mut argc = N;
    let mut argv = [std::ptr::null_mut(); N];
    let mut data = std::ptr::null_mut();
    // SAFETY: as the caller promises; `data` is the `Shared` the function holds.
    let outcome = unsafe {
        check(sys::napi_get_cb_info(
            env,
            info,
            &mut argc,
            argv.as_mut_ptr(),
            std::ptr::null_mut(),
            &mut data,
        ))
        .and_then(|_| {
            let shared = &*(data as *const Shared);
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body(shared, &argv)))
                .unwrap_or_else(|_| Err(Error::from_reason("forkfriend: the core panicked")))
        })
    };
    match outcome {
        Ok(value) => value,
        Err(e) => {
            // SAFETY: as above.
            unsafe { throw_reason(env, &e.reason) };
            std::ptr::null_mut()
        }
    }
}

/// Throws an Error with message `reason`.
///
/// # Safety
/// On the main thread, with `env` the current env.
unsafe fn throw_reason(env: sys::napi_env, reason: &str) {
    // SAFETY: plain napi calls on the current env.
    unsafe {
        let mut text = std::ptr::null_mut();
        let mut error = std::ptr::null_mut();
        sys::napi_create_string_utf8(
            env,
            reason.as_ptr().cast(),
            reason.len() as isize,
            &mut text,
        );
        sys::napi_create_error(env, std::ptr::null_mut(), text, &mut error);
        sys::napi_throw(env, error);
    }
}

/// Argument conversions for bound functions: each reads one JS value.
mod arg {
    use super::{check, BatchFormat, Error, Result};
    use napi::sys;

    pub fn int32(env: sys::napi_env, v: sys::napi_value) -> Result<i32> {
        let mut out = 0;
        // SAFETY: `v` is a value of the current env.
        check(unsafe { sys::napi_get_value_int32(env, v, &mut out) })?;
        Ok(out)
    }

    pub fn number(env: sys::napi_env, v: sys::napi_value) -> Result<f64> {
        let mut out = 0.0;
        // SAFETY: as above.
        check(unsafe { sys::napi_get_value_double(env, v, &mut out) })?;
        Ok(out)
    }

    pub fn boolean(env: sys::napi_env, v: sys::napi_value) -> Result<bool> {
        let mut out = false;
        // SAFETY: as above.
        check(unsafe { sys::napi_get_value_bool(env, v, &mut out) })?;
        Ok(out)
    }

    pub fn format(env: sys::napi_env, v: sys::napi_value) -> Result<BatchFormat> {
        Ok(match int32(env, v)? {
            0 => BatchFormat::Json,
            1 => BatchFormat::Frames,
            2 => BatchFormat::JsonWithStrings,
            n => return Err(Error::from_reason(format!("unknown batch format {n}"))),
        })
    }

    /// The first `len` bytes of Uint8Array (or Buffer) `v`, valid while the call lasts.
    pub fn bytes<'a>(
        env: sys::napi_env,
        v: sys::napi_value,
        len: sys::napi_value,
    ) -> Result<&'a [u8]> {
        let len = int32(env, len)?.max(0) as usize;
        let mut kind = 0;
        let mut length = 0;
        let mut data = std::ptr::null_mut();
        // SAFETY: as above; a Uint8Array's data is `length` bytes, kept alive by the
        // caller's argument for the whole call.
        unsafe {
            check(sys::napi_get_typedarray_info(
                env,
                v,
                &mut kind,
                &mut length,
                &mut data,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            ))?;
            if kind != sys::TypedarrayType::uint8_array {
                return Err(Error::from_reason("batch must be a Uint8Array"));
            }
            if data.is_null() {
                return Ok(&[]);
            }
            Ok(std::slice::from_raw_parts(data.cast(), length.min(len)))
        }
    }
}

/// `submit(pool, batch, len, noDrop, format)`, see `Core::hot_calls`.
unsafe extern "C" fn hot_submit(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> sys::napi_value {
    // SAFETY: called by Node for a function made by `hot_calls`.
    unsafe {
        with_args::<5>(env, info, |shared, a| {
            let done = shared.submit(
                arg::int32(env, a[0])?,
                arg::bytes(env, a[1], a[2])?,
                arg::boolean(env, a[3])?,
                arg::format(env, a[4])?,
            );
            ToNapiValue::to_napi_value(env, done)
        })
    }
}

/// `call(pool, batch, len, format, timeout)`, see `Core::hot_calls`.
unsafe extern "C" fn hot_call(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> sys::napi_value {
    // SAFETY: as above.
    unsafe {
        with_args::<5>(env, info, |shared, a| {
            let seq = shared.call(
                arg::int32(env, a[0])?.max(0) as u32,
                arg::bytes(env, a[1], a[2])?,
                arg::format(env, a[3])?,
                arg::number(env, a[4])?,
            )?;
            ToNapiValue::to_napi_value(env, seq)
        })
    }
}

fn check(status: sys::napi_status) -> Result<()> {
    if status == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(Error::new(
            Status::GenericFailure,
            format!("napi status {status}"),
        ))
    }
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A batch as one EventBatch object, every part converted for JS.
fn whole_batch(flat: Vec<i32>, texts: Vec<String>, batch: Batch) -> EventBatch {
    let text = |v: Vec<u8>| (!v.is_empty()).then(|| String::from_utf8_lossy(&v).into_owned());
    EventBatch {
        events: Int32Array::new(flat),
        dropped: text(batch.dropped),
        texts,
        replies: Float64Array::new(batch.replies),
        failed: text(batch.failed),
        failed_seqs: Float64Array::new(batch.failed_seqs),
        frames: buffer(batch.frames),
        dropped_frames: buffer(batch.dropped_frames),
        failed_frames: buffer(batch.failed_frames),
    }
}

/// A Buffer taking over `bytes` (no copy), or None when there are none.
fn buffer(bytes: Vec<u8>) -> Option<Buffer> {
    (!bytes.is_empty()).then(|| Buffer::from(bytes))
}

/// The first `len` bytes of `bytes` (all of them if `len` is larger).
fn prefix(bytes: &[u8], len: u32) -> &[u8] {
    &bytes[..(len as usize).min(bytes.len())]
}
