'use strict'
// The manager: a Duplex stream and EventEmitter around the native core. It validates input,
// batches messages into the core, and keeps the JS view of pools and workers (lib/events.js
// applies the core's events to it).

const { Duplex, Readable } = require('node:stream')
const { Core, EVENT_STRIDE, BatchFormat } = require('./native')
const { normalizeConfig, coreConfig, poolSpec, stringArray } = require('./options')
const { forkOptionWarnings } = require('./fork-options')
const { invalidArgType, invalidArgValue, outOfRange, stopped, abortError, managerStopped, replyModeRequired } = require('./errors')
const { Calls } = require('./calls')
const { serialize } = require('./serialize')
const { encode, encodePieces, LineBatch } = require('./encode')
const { Splitter, piecesChars } = require('./pieces')
const { frame, readFrames, FrameBatch, HEADER } = require('./advanced')
const { Worker } = require('./worker')
const { handleBatch } = require('./events')
const defaultBalance = require('./balance')

const BROADCAST = -1
// Messages (or bytes of them) gathered before one crossing into the core: a send() loop
// flushes at this size; otherwise a batch goes when the handling of a batch of results
// ends, or in doubling runs within a tick (see _burstDue()).
const BATCH_MESSAGES = 512
const BATCH_CHARS = 256 * 1024
// A message this long crosses alone: batching it would only grow the batch buffer.
const ALONE_CHARS = 64 * 1024
// Messages each side of the stream buffers before it pushes back. 256 kept up to 4 MB of
// 16 KiB lines alive in the writable buffer, long enough for V8 to promote them (major GCs):
// 64 cost 14 % less CPU per 16 KiB line and 20 % less peak RSS, and no throughput on 100 B
// messages (7 alternated runs each).
const STREAM_BUFFER = 64

/** Ends a readable side; 'end' is emitted even when nobody reads it (0.0.7 did so on stop). */
function endStream (stream) {
  stream.push(null)
  if (stream.readableFlowing === null) stream.resume()
}

function checkCount (name, n) {
  if (typeof n !== 'number') throw invalidArgType(name, 'of type number', n)
  if (!Number.isInteger(n) || n < 0) throw outOfRange(name, 'an integer >= 0', n)
  return n
}

class Manager extends Duplex {
  constructor (config) {
    const cfg = normalizeConfig(config)
    super({ objectMode: true, writableHighWaterMark: STREAM_BUFFER, readableHighWaterMark: STREAM_BUFFER, allowHalfOpen: true })
    this.config = cfg
    this.stopped = false
    /** Public: `workers[script] = { process: [worker objects], args }`. */
    this.workers = {}
    /** Public: `workerStreams[script]` is the stream `getWorkerStream(script)` handed out. */
    this.workerStreams = {}
    /** Fork options set after creation (0.0.7 style); merged over `config.fork`. */
    this.options = undefined
    this._warned = new Set() // fork-option warnings already emitted by this manager
    this._core = new Core(coreConfig(cfg), (n, parts) => this._onWake(n, parts))
    // submit() and call(): the core's entry points for every message (see hotCalls()).
    const hot = this._core.hotCalls()
    this._coreSubmit = hot.submit
    this._coreCall = hot.call
    this._pools = new Map() // script -> pool
    this._flowing = true // what the core was last told (it starts flowing)
    this._poolsById = new Map() // id -> pool (kept for late events)
    this._workersById = new Map()
    // The arrays the core writes a batch into (see shareArrays() in src/binding.rs): its
    // events; reply mode's entry per result (outside it none: an empty array); the kind of
    // each part of its results.
    this._eventInts = new Int32Array(EVENT_STRIDE * 1024)
    this._replyEntries = new Float64Array(cfg.reply ? 8192 : 0)
    this._partKinds = new Uint8Array(1024)
    this._core.shareArrays(this._eventInts, this._replyEntries, this._partKinds)
    // Workers removed before their start reached JS: started in the core, never shown.
    this._unseen = new Set()
    this._pending = new LineBatch() // serialized lines waiting for one crossing
    this._splitter = new Splitter() // cuts long strings out of messages for the core
    this._pendingFrames = new FrameBatch() // the same for `advanced` pools: whole frames
    // Which serializations the pools use: a message to every pool is serialized for each.
    this._hasJson = false
    this._hasAdvanced = false
    this._pendingTarget = undefined
    this._pendingNoDrop = false
    this._flushScheduled = false
    this._handlingWake = false // see _onWake
    this._burstRun = 1 // see _burstDue()
    this._paused = false
    this._writeCallback = null
    this._finalCallback = null
    this._closing = false
    this._readableDone = false
    this._readableRoom = true
    this._keepAlive = null
    /**
     * Public, kept live as 0.0.7 kept it: messages accepted, `length` in characters of their
     * JSON text, `paused` ms spent backed up (added at each drain), pause and drain counts.
     */
    this._sentChars = 0 // stats.length, less what the core's string escapes added
    const manager = this
    this.stats = {
      paused: 0,
      messages: 0,
      // Characters of the JSON texts sent: string messages are escaped in the core, which
      // counts the characters its escapes add.
      get length () { return manager._sentChars + manager._core.stringEscapes() },
      set length (value) { manager._sentChars = value - manager._core.stringEscapes() },
      start: Date.now(),
      pauses: 0,
      drains: 0
    }
    this._pauseStart = 0
    this._stoppedPromise = new Promise((resolve) => { this._resolveStopped = resolve })
    /** Reply mode: the promises of call(), by the core's sequence number. */
    this._calls = new Calls((seq) => this._core.cancel(seq))
  }

  // ---- pools -------------------------------------------------------------------------

  /**
   * Adds `n` workers of `script` (default 1). `args` only count the first time a script is
   * added; later calls reuse them. An array of scripts adds each.
   */
  add (script, args, n) {
    if (Array.isArray(script)) {
      for (const s of script) this.add(s, args, n)
      return this
    }
    if (typeof script !== 'string' || script === '') throw invalidArgType('script', 'a non-empty string', script)
    if (typeof args === 'number') {
      n = args
      args = undefined
    }
    const argv = stringArray('args', args)
    n = n === undefined ? 1 : checkCount('n', n)
    if (this.stopped) throw stopped('add workers')
    if (n === 0) return this
    // Events and `workers[script].args` show the args as given; workers get strings.
    let pool = this._pools.get(script)
    if (!pool) {
      const options = { ...this.config.fork, ...(this.options || {}) }
      pool = this._createPool(script, args ? [...args] : [], argv ?? [], options)
      // Like fork() with an aborted signal, but nothing is started at all.
      if (options.signal?.aborted) {
        this._forgetPool(pool)
        return this
      }
    }
    this._core.addWorkers(pool.id, n)
    pool.desired += n
    this._holdOpen()
    return this
  }

  _createPool (script, args, argv, options) {
    const spec = poolSpec(script, argv, options)
    for (const [code, message] of forkOptionWarnings(options)) {
      if (this._warned.has(message)) continue
      this._warned.add(message)
      process.emitWarning(message, { code })
    }
    const id = this._core.addPool(spec)
    const advanced = spec.serialization === 'advanced'
    const pool = { id, script, args, spec, advanced, desired: 0, workers: [], saturated: false, stream: null, unlisten: null }
    if (options.signal) pool.unlisten = this._removeOnAbort(pool, options.signal)
    this._pools.set(script, pool)
    this._noteSerializations()
    this._poolsById.set(id, pool)
    this.workers[script] = { process: pool.workers, args }
    return pool
  }

  /** Removes one worker, `n` workers, or the given worker of `script`, for good. */
  remove (script, which) {
    const pool = this._pools.get(script)
    if (!pool) return this
    let n = 1
    let chosen
    if (which instanceof Worker) {
      if (which._pool !== pool || !pool.workers.includes(which)) return this
      this._core.removeWorker(which._id)
      chosen = [which._id]
    } else {
      if (which !== undefined) n = checkCount('n', which)
      if (n === 0) return this
      chosen = this._core.removeWorkers(pool.id, n)
    }
    // Removed workers leave the pool's list now; they stay tracked until they have exited.
    for (const id of chosen) {
      const at = pool.workers.findIndex((w) => w._id === id)
      if (at >= 0) pool.workers.splice(at, 1)
      else this._unseen.add(id)
    }
    pool.desired = Math.max(0, pool.desired - n)
    if (pool.desired === 0) this._forgetPool(pool)
    return this
  }

  /** The fork option `signal`: aborting it removes every worker of the pool, for good. */
  _removeOnAbort (pool, signal) {
    const onAbort = () => {
      if (this._pools.get(pool.script) === pool) this.remove(pool.script, pool.desired)
    }
    signal.addEventListener('abort', onAbort, { once: true })
    return () => signal.removeEventListener('abort', onAbort)
  }

  _noteSerializations () {
    this._hasJson = false
    this._hasAdvanced = false
    for (const p of this._pools.values()) {
      if (p.advanced) this._hasAdvanced = true
      else this._hasJson = true
    }
  }

  _forgetPool (pool) {
    pool.unlisten?.()
    this._pools.delete(pool.script)
    this._noteSerializations()
    delete this.workers[pool.script]
    delete this.workerStreams[pool.script]
    if (pool.stream) endStream(pool.stream)
    if (this._pools.size === 0) this._letGo()
  }

  /** The live workers of `script`, or undefined. */
  get (script) {
    return this._pools.get(script)?.workers
  }

  /** Restarts every worker of `script`, or just `worker`; the pool keeps its size and args. */
  refork (script, worker) {
    const pool = this._pools.get(script)
    if (!pool) return this
    if (worker !== undefined && !(worker instanceof Worker)) throw invalidArgType('worker', 'a worker of this manager', worker)
    this._core.refork(pool.id, worker ? worker._id : -1)
    return this
  }

  /** A readable stream of the results of `script`'s workers alone, or false if unknown. */
  getWorkerStream (script) {
    const pool = this._pools.get(script)
    if (!pool) return false
    if (!pool.stream) {
      pool.streamRoom = true
      pool.stream = new Readable({
        objectMode: true,
        highWaterMark: 1024,
        read: () => {
          pool.streamRoom = true
          this._updateFlow()
        }
      })
      this.workerStreams[script] = pool.stream
      if (this.stopped) endStream(pool.stream)
    }
    return pool.stream
  }

  // ---- sending -----------------------------------------------------------------------

  /**
   * Sends `message` to one worker of `script`'s pool, or to one worker of every pool.
   * Returns false when the caller should wait for 'drain'.
   */
  send (message, script) {
    if (script !== undefined && script !== null && typeof script !== 'string') {
      throw invalidArgType('script', 'of type string', script)
    }
    if (this.stopped || this.writableEnded) {
      // Stopped, or closing: no new work is accepted (and nothing is thrown, as in 0.0.7).
      this.emit('drop', script, message)
      return false
    }
    let target = BROADCAST
    let pool = null
    if (script !== undefined && script !== null) {
      pool = this._pools.get(script)
      if (!pool) {
        serialize(message) // an unserializable message throws all the same
        this.emit('drop', script, message)
        return true
      }
      target = pool.id
    } else if (this._pools.size === 0) {
      serialize(message)
      this.emit('drop', script, message)
      return true
    }
    const direct = !this._customBalancing()
    const { line, pieces, bytes } = this._serializeFor(pool, message, direct)
    this._count(line, pieces, bytes)
    if (!direct) {
      this._route(target, message, line, bytes, false)
    } else {
      this._queue(target, line, bytes, false, pieces)
      // Batch while workers take messages; when none can, the caller needs an exact answer.
      const ready = pool ? this._poolReady(pool) : this._targetReady(BROADCAST)
      if (this._batchFull() || !ready || this._burstDue()) this._flush()
    }
    return pool ? !pool.saturated : !this._targetSaturated(BROADCAST)
  }

  /**
   * Reply mode: sends `message` to one worker of `script` (which may be left out when there
   * is one script) and resolves with its answer. Rejects with ERR_WORKER_DIED,
   * ERR_CALL_TIMEOUT, an AbortError, or ERR_MANAGER_STOPPED.
   */
  call (message, options = {}) {
    if (!this.config.reply) throw replyModeRequired()
    if (options === null || typeof options !== 'object') throw invalidArgType('options', 'of type object', options)
    const { script, timeout, signal } = options
    if (timeout !== undefined && (typeof timeout !== 'number' || !(timeout >= 1) || !Number.isFinite(timeout))) {
      throw typeof timeout === 'number' ? outOfRange('options.timeout', 'a finite number >= 1', timeout) : invalidArgType('options.timeout', 'of type number', timeout)
    }
    if (signal !== undefined && !(signal instanceof AbortSignal)) throw invalidArgType('options.signal', 'an AbortSignal', signal)
    let pool
    if (script === undefined) {
      if (this._pools.size !== 1 && !this.stopped) {
        throw invalidArgValue('options.script', `must name a script when the manager has ${this._pools.size} scripts`, script)
      }
      pool = this._pools.values().next().value
    } else {
      if (typeof script !== 'string') throw invalidArgType('options.script', 'of type string', script)
      pool = this._pools.get(script)
      if (!pool && !this.stopped) throw invalidArgValue('options.script', 'is not a script of this manager', script)
    }
    if (signal?.aborted) return Promise.reject(abortError(signal))
    if (this.stopped || !pool) return Promise.reject(managerStopped())
    const { line, pieces, bytes } = this._serializeFor(pool, message, true)
    // Messages sent before this one reach the core first (ordered output follows that order).
    this._flush()
    let seq
    if (pieces !== null) {
      const { buffer, length } = encodePieces(pieces)
      seq = this._coreCall(pool.id, buffer, length, BatchFormat.JsonWithStrings, timeout ?? -1)
    } else if (line !== null) {
      const { buffer, length } = encode(line)
      seq = this._coreCall(pool.id, buffer, length, BatchFormat.Json, timeout ?? -1)
    } else {
      seq = this._coreCall(pool.id, bytes, bytes.length, BatchFormat.Frames, timeout ?? -1)
    }
    this._count(line, pieces, bytes)
    return this._calls.add(seq, signal)
  }

  /**
   * `message` serialized for `pool` (or for every pool when null): for JSON pools its JSON
   * text (`line`), or, when `direct` allows it and it has long strings, its pieces with
   * those strings left for the core (`pieces`, see lib/pieces.js); its frame for `advanced`
   * ones (`bytes`); null where not needed.
   */
  _serializeFor (pool, message, direct) {
    const json = pool ? !pool.advanced : this._hasJson
    const advanced = pool ? pool.advanced : this._hasAdvanced
    const pieces = json && direct ? this._splitter.pieces(message) : null
    const line = json && pieces === null ? serialize(message) : null
    return { line, pieces, bytes: advanced ? frame(message) : null }
  }

  /** Counts a message sent in `stats` (see `stats.length`). */
  _count (line, pieces, bytes) {
    this.stats.messages++
    this._sentChars += line !== null ? line.length : pieces !== null ? piecesChars(pieces) : bytes.length - HEADER
  }

  _batchFull () {
    const count = this._pending.count + this._pendingFrames.count
    return count >= BATCH_MESSAGES || this._pending.chars + this._pendingFrames.length >= BATCH_CHARS
  }

  _customBalancing () {
    return this.balance !== Manager.prototype.balance || this.filter !== Manager.prototype.filter
  }

  /**
   * Queues a message for one crossing: its JSON `line` or its `pieces`, and/or its frame
   * (`bytes`).
   */
  _queue (target, line, bytes, noDrop, pieces) {
    const chars = line !== null ? line.length : pieces !== null ? piecesChars(pieces) : 0
    if (chars >= ALONE_CHARS || (bytes !== null && bytes.length >= ALONE_CHARS)) {
      this._flush()
      let saturated = false
      if (line !== null) saturated = this._submit(target, line, noDrop)
      if (pieces !== null) saturated = this._submitPieces(target, pieces, noDrop)
      if (bytes !== null) saturated = this._submitFrames(target, bytes, bytes.length, noDrop) || saturated
      this._noteSaturation(target, saturated)
      return
    }
    const pending = this._pending.count + this._pendingFrames.count
    if ((this._pendingTarget !== target || this._pendingNoDrop !== noDrop) && pending > 0) this._flush()
    this._pendingTarget = target
    this._pendingNoDrop = noDrop
    if (line !== null) this._pending.add(line)
    if (pieces !== null) this._pending.addPieces(pieces, chars)
    if (bytes !== null) this._pendingFrames.add(bytes)
    // While a batch of results is handled, what its handlers send is flushed when it ends
    // (see _onWake); at other times in runs (see _burstDue()), the rest at the next tick.
    if (!this._flushScheduled && !this._handlingWake) {
      this._flushScheduled = true
      process.nextTick(() => {
        this._flushScheduled = false
        this._burstRun = 1
        this._flush()
      })
    }
  }

  /**
   * Outside the handling of a batch of results, the sends of one tick go in doubling runs
   * (1, 2, 4, ... messages): the first reaches a worker at once, later ones while the rest
   * are serialized, in log2(n) crossings. (Batching a whole burst of 20 made its median
   * round trip ~30 % longer than fork()'s at 20,000 msgs/s.)
   */
  _burstDue () {
    if (this._handlingWake || this._pending.count + this._pendingFrames.count < this._burstRun) return false
    this._burstRun *= 2
    return true
  }

  /** Hands the gathered lines (and frames) to the core in one call (per serialization). */
  _flush () {
    const batch = this._pending
    const frames = this._pendingFrames
    if (batch.count === 0 && frames.count === 0) return false
    if (this.stopped) {
      batch.clear()
      frames.clear()
      return false
    }
    let saturated = false
    if (batch.count > 0) {
      batch.seal()
      const format = batch.strings ? BatchFormat.JsonWithStrings : BatchFormat.Json
      const done = this._coreSubmit(this._pendingTarget, batch.buffer, batch.length, this._pendingNoDrop, format)
      batch.clear()
      saturated = this._afterSubmit(done)
    }
    if (frames.count > 0) {
      saturated = this._submitFrames(this._pendingTarget, frames.buffer, frames.length, this._pendingNoDrop) || saturated
      frames.clear()
    }
    this._noteSaturation(this._pendingTarget, saturated)
    return saturated
  }

  /** Hands newline-separated JSON text to the core; true when a target pool is saturated. */
  _submit (target, text, noDrop) {
    const { buffer, length } = encode(text)
    return this._afterSubmit(this._coreSubmit(target, buffer, length, noDrop, BatchFormat.Json))
  }

  /** Hands one message as pieces to the core, which escapes their strings. */
  _submitPieces (target, pieces, noDrop) {
    const { buffer, length } = encodePieces(pieces)
    return this._afterSubmit(this._coreSubmit(target, buffer, length, noDrop, BatchFormat.JsonWithStrings))
  }

  /** Hands whole frames `buffer[0, length)` to the core, for `advanced` pools. */
  _submitFrames (target, buffer, length, noDrop) {
    return this._afterSubmit(this._coreSubmit(target, buffer, length, noDrop, BatchFormat.Frames))
  }

  /**
   * The core answers a submit with `saturated`, or, when queues overflowed, with the
   * messages it dropped: they are reported now, inside the send() that overflowed.
   */
  _afterSubmit (done) {
    if (typeof done === 'boolean') return done
    const { runs, messages, frames } = done
    // Quadruples: pool, count, sent to every pool, advanced (its messages are frames).
    const dropped = [messages ? JSON.parse(messages) : [], frames ? readFrames(frames) : []]
    const at = [0, 0]
    for (let i = 0; i < runs.length; i += 4) {
      // A message sent to every pool is reported like 0.0.7 did: without a script.
      const script = runs[i + 2] ? undefined : this._poolsById.get(runs[i])?.script
      const kind = runs[i + 3]
      for (let k = 0; k < runs[i + 1]; k++) this.emit('drop', script, dropped[kind][at[kind]++])
    }
    return done.saturated
  }

  _noteSaturation (target, saturated) {
    if (target === BROADCAST) {
      if (saturated) for (const pool of this._pools.values()) pool.saturated = this._core.isSaturated(pool.id)
    } else {
      const pool = this._poolsById.get(target)
      if (pool) pool.saturated = saturated
    }
    this._updatePaused()
  }

  /** Does every target pool have a worker that, as far as JS knows, takes messages now? */
  _targetReady (target) {
    if (target !== BROADCAST) return this._poolReady(this._poolsById.get(target))
    for (const pool of this._pools.values()) if (!this._poolReady(pool)) return false
    return true
  }

  _poolReady (pool) {
    if (!pool || pool.saturated) return false
    for (const w of pool.workers) if (!w.paused && !w.buffering && w.connected) return true
    return false
  }

  _targetSaturated (target) {
    if (target !== BROADCAST) return this._poolsById.get(target)?.saturated ?? false
    for (const pool of this._pools.values()) if (pool.saturated) return true
    return false
  }

  /** The path with a user-supplied balance/filter: JS picks each message's worker. */
  _route (target, message, line, bytes, noDrop) {
    const pools = target === BROADCAST ? [...this._pools.values()] : [this._poolsById.get(target)]
    let saturated = false
    for (const pool of pools) {
      const available = this.filter(pool.workers)
      const worker = available && available.length ? this.balance(available, message) : undefined
      const data = pool.advanced ? bytes : line
      const state = worker instanceof Worker ? worker._submit(data) : -1
      if (state === 0) worker.buffering = true
      if (state < 0) {
        const full = pool.advanced ? this._submitFrames(pool.id, bytes, bytes.length, noDrop) : this._submit(pool.id, line, noDrop)
        saturated = full || saturated
      }
    }
    if (saturated || this._paused) this._noteSaturation(target, saturated)
    return saturated
  }

  /** Picks a worker for a message; replace it on the instance for sticky balancing etc. */
  balance (workers, message) {
    return defaultBalance(workers)
  }

  /** Keeps the workers that can take a message now; replaceable on the instance. */
  filter (workers) {
    const c = this.config.reply ? this.config.concurrency : 0
    return workers.filter((w) => !w.paused && !w.buffering && w.connected && (c === 0 || this._core.workerInFlight(w._id) < c))
  }

  // ---- the stream --------------------------------------------------------------------

  /**
   * After stop() a write is dropped ('drop', false) instead of failing: a source that is
   * still producing when the app stops the manager must not crash it (0.0.7 returned false).
   */
  write (chunk, encoding, callback) {
    if (!this.stopped) return super.write(chunk, encoding, callback)
    this.emit('drop', undefined, chunk)
    const cb = typeof encoding === 'function' ? encoding : callback
    if (typeof cb === 'function') process.nextTick(cb)
    return false
  }

  end (chunk, encoding, callback) {
    if (!this.stopped || typeof chunk === 'function' || chunk === undefined || chunk === null) {
      return super.end(chunk, encoding, callback)
    }
    this.write(chunk)
    return super.end(encoding, callback)
  }

  _write (chunk, encoding, callback) {
    if (this.stopped) {
      // Written before stop(), still waiting in the stream's buffer: dropped with it.
      this.emit('drop', undefined, chunk)
      return callback()
    }
    let line, pieces, bytes
    try {
      if (this._pools.size === 0) serialize(chunk)
      else ({ line, pieces, bytes } = this._serializeFor(null, chunk, !this._customBalancing()))
    } catch (err) {
      return callback(err)
    }
    if (this._pools.size === 0) {
      this.emit('drop', undefined, chunk)
      return callback()
    }
    this._count(line, pieces, bytes)
    if (this._customBalancing()) {
      this._route(BROADCAST, chunk, line, bytes, true)
    } else {
      // Same batching as send(), but a stream write is never dropped.
      this._queue(BROADCAST, line, bytes, true, pieces)
      if (this._batchFull() || !this._targetReady(BROADCAST) || this._burstDue()) this._flush()
    }
    if (this._paused && this._targetSaturated(BROADCAST)) this._writeCallback = callback
    else callback()
  }

  _final (callback) {
    this._flush()
    if (this.stopped) return callback()
    this._finalCallback = callback
    // close() bounds the wait for workers that stopped reading; a plain end() waits for all.
    this._core.finish(this._closing ? this.config.killTimeout : -1)
  }

  _read () {
    this._readableRoom = true
    this._updateFlow()
  }

  _destroy (err, callback) {
    this.stop()
    callback(err)
  }

  /** Is anyone consuming the readable side (pipe, 'data', 'readable', iteration)? */
  _readableInUse () {
    return this.readableFlowing !== null
  }

  /** Reads from workers only while every consumer in use has room. */
  // A readable side has room until a push() says it is full, and again once it asks for
  // more with _read(). (Its length is no guide: _read() is called before the chunk being
  // read leaves the buffer.)
  _updateFlow () {
    let room = !this._readableInUse() || this._readableRoom
    for (const pool of this._poolsById.values()) {
      const s = pool.stream
      if (room && s && s.readableFlowing !== null && !pool.streamRoom) room = false
    }
    // Only a change crosses into the core (this runs after every batch of results).
    if (room !== this._flowing) {
      this._flowing = room
      this._core.setFlowing(room)
    }
  }

  _updatePaused () {
    const saturated = this._targetSaturated(BROADCAST)
    if (saturated && !this._paused) {
      this._paused = true
      this.stats.pauses++
      this._pauseStart = Date.now()
      this.emit('pause')
    } else if (!saturated && this._paused) {
      this._paused = false
      this.stats.drains++
      this.stats.paused += Date.now() - this._pauseStart
      const cb = this._writeCallback
      this._writeCallback = null
      if (cb) cb()
      this.emit('drain')
    }
  }

  // ---- lifecycle ---------------------------------------------------------------------

  /** Stops now: every worker is ended, nothing respawns, queued messages are dropped. */
  stop () {
    if (this.stopped) return
    this._flush()
    this._core.stop()
    this._shutDown()
    this._calls.rejectAll(managerStopped)
    const cb = this._writeCallback
    this._writeCallback = null
    if (cb) cb()
    if (!this.writableEnded && !this.destroyed) this.end()
  }

  /** Both ways of stopping end the readable sides and release a pending end(). */
  _shutDown () {
    this.stopped = true
    for (const pool of this._poolsById.values()) if (pool.stream) endStream(pool.stream)
    this._endReadable()
    const final = this._finalCallback
    this._finalCallback = null
    if (final) final()
  }

  /**
   * Graceful close: no more input; everything queued is delivered, workers answer and are
   * ended (SIGTERM, then SIGKILL after `killTimeout`). Resolves once no worker is left,
   * also when stop() ends things sooner.
   */
  close () {
    if (!this.stopped && !this.destroyed) {
      this._closing = true
      if (!this.writableEnded) this.end()
      else if (this._finalCallback) this._core.finish(this.config.killTimeout)
    }
    return this._stoppedPromise
  }

  /** Statistics since the manager was created. */
  getStats () {
    const s = this.stats
    const elapsed = Math.max(1, Date.now() - s.start)
    const paused = s.paused + (this._paused ? Date.now() - this._pauseStart : 0)
    const stats = {
      messagesPerMs: s.messages / elapsed,
      bytesPerMs: s.length / elapsed,
      percentPaused: (paused * 100) / elapsed,
      elapsed,
      paused,
      pauses: s.pauses,
      drains: s.drains
    }
    const reply = this.config.reply ? this._core.replyStats() : null
    if (reply) {
      const { inFlight, retried, failed, timedOut, wait, run } = reply
      Object.assign(stats, { inFlight, retried, failed, timedOut, latency: { wait: { ...wait }, run: { ...run } } })
    }
    return stats
  }

  _endReadable () {
    this._readableDone = true
    endStream(this)
  }

  /** True while the workers are backed up (0.0.7's `through` stream had this flag). */
  get paused () {
    return this._paused
  }

  /** True once input has ended or the manager stopped (0.0.7's `through` flag). */
  get ended () {
    return this.stopped || this.writableEnded
  }

  _holdOpen () {
    if (!this._keepAlive && !this.stopped) this._keepAlive = setInterval(() => {}, 1 << 30)
  }

  _letGo () {
    if (this._keepAlive) clearInterval(this._keepAlive)
    this._keepAlive = null
  }

  /** The core has no worker left: after end of input, or after stop(). */
  _onFinished () {
    if (!this.stopped) {
      this._core.stop()
      this._shutDown()
    }
    this._calls.rejectAll(managerStopped)
    this._letGo()
    this._resolveStopped()
  }

  // ---- events from the core ----------------------------------------------------------

  /**
   * A batch is ready. From a read on the main thread the core has already written it into
   * the shared arrays (`n` ints of events, or -1: take it whole) with its results' `parts`
   * (left out when they did not fit); from the core's thread it comes with no arguments.
   */
  _onWake (n, parts) {
    this._handlingWake = true
    try {
      if (n === undefined) n = this._core.takeEventsInto()
      if (n < 0) handleBatch(this, this._core.takeEvents())
      else handleBatch(this, { events: this._eventInts, length: n, replies: this._replyEntries, parts })
    } finally {
      this._handlingWake = false
      // What the handlers sent goes now, without a tick of its own.
      if (this._pending.count + this._pendingFrames.count > 0) this._flush()
    }
  }

}

// `await using manager = forkfriend()` where the runtime has explicit resource management.
if (Symbol.asyncDispose) {
  Manager.prototype[Symbol.asyncDispose] = function () {
    return this.close()
  }
}

module.exports = { Manager }
