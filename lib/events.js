'use strict'
// Turns the core's event batches into Node events: one batch per wake, results parsed with
// one JSON.parse, then each event in the order the core saw it.

const fs = require('node:fs')
const net = require('node:net')
const { EVENT_STRIDE: STRIDE } = require('./native')
const { workerError, messageFailed } = require('./errors')
const { parseBatch, InvalidLine } = require('./results')
const { readFrames, InvalidFrame } = require('./advanced')
const { Worker, signalNames } = require('./worker')

// Event kinds of the core's batches (see `encode` in src/binding.rs).
const EV = {
  SPAWNED: 1,
  SPAWN_FAILED: 2,
  RESULTS: 3,
  EXIT: 4,
  DISCONNECT: 5,
  WORKER_ERROR: 6,
  CONTROL: 7,
  DROPPED: 8,
  SATURATION: 9,
  RESPAWN: 10,
  ABORTED: 11,
  WORKER_READY: 12,
  FINISHED: 13,
  FAILED: 14
}
const CONTROL_PAUSE = 1
const CONTROL_DRAIN = 2

function pipeSocket (fd, writable) {
  if (fd < 0) return null
  return new net.Socket({ fd, readable: !writable, writable })
}

/**
 * `batch`: `events` (its first `length` ints, or all of them), `replies`, `parts` (its
 * results when the core handed them over already), and the rarer parts of an EventBatch.
 */
function handleBatch (m, batch) {
  const ev = batch.events
  const end = batch.length ?? ev.length
  let resultCount = 0
  for (let i = 0; i < end; i += STRIDE) if (ev[i] === EV.RESULTS && !ev[i + 3]) resultCount += ev[i + 2]
  // Results of JSON pools, and of `advanced` pools (frames, read one by one): two sources,
  // each taken in the order of the results events that announce them.
  const results = [resultCount > 0 ? takeResults(m, resultCount, batch.parts) : null, batch.frames ? readFrames(batch.frames) : null]
  const dropped = [batch.dropped ? JSON.parse(batch.dropped) : null, batch.droppedFrames ? readFrames(batch.droppedFrames) : null]
  const failed = [batch.failed ? JSON.parse(batch.failed) : null, batch.failedFrames ? readFrames(batch.failedFrames) : null]
  const r = [0, 0]
  const d = [0, 0]
  const fk = [0, 0]
  let replyAt = 0 // reply mode: `replies` has one entry per result of either kind
  let f = 0
  for (let i = 0; i < end; i += STRIDE) {
    switch (ev[i]) {
      case EV.RESULTS: {
        const kind = ev[i + 3]
        onResults(m, ev[i + 1], results[kind], r[kind], ev[i + 2], batch.replies, replyAt)
        r[kind] += ev[i + 2]
        replyAt += ev[i + 2]
        break
      }
      case EV.FAILED: {
        const kind = ev[i + 6]
        onFailed(m, ev, i, failed[kind][fk[kind]++], batch.failedSeqs[f])
        f++
        break
      }
      case EV.DROPPED: {
        // A message sent to every pool is reported like 0.0.7 did: without a script.
        const script = ev[i + 3] ? undefined : m._poolsById.get(ev[i + 1])?.script
        const kind = ev[i + 4]
        for (let k = 0; k < ev[i + 2]; k++) m.emit('drop', script, dropped[kind][d[kind]++])
        break
      }
      default:
        onLifecycle(m, ev, i, batch.texts)
    }
  }
  if (results[0] || results[1]) m._updateFlow()
}

/** The `count` results of JSON pools announced by this batch (`parts` if handed over). */
function takeResults (m, count, parts) {
  if (parts) return parseBatch(parts, m._partKinds, count)
  // One kind per part.
  const n = m._core.resultParts()
  if (m._partKinds.length < n) {
    m._partKinds = new Uint8Array(Math.max(n, 2 * m._partKinds.length))
    m._core.shareArrays(m._eventInts, m._replyEntries, m._partKinds)
  }
  return parseBatch(m._core.takeResults(), m._partKinds, count)
}

/** Reply mode: a message failed for good; a call rejects, a sent message is a 'failed' event. */
function onFailed (m, ev, i, message, seq) {
  const signal = ev[i + 5] ? signalNames[ev[i + 5]] ?? null : null
  const err = messageFailed(ev[i + 2], ev[i + 4] ? ev[i + 3] : null, signal, m.config.maxRetries)
  if (m._calls.has(seq)) m._calls.reject(seq, err)
  else m.emit('failed', err, message, m._poolsById.get(ev[i + 1])?.script)
}

// What `replies[k]` says of result k in reply mode (see `Batch::replies` in src/events.rs):
// > 0 answers that call, 0 is a stream result, -1 a message-only one.
const MESSAGE_ONLY = -1

function onResults (m, workerId, results, start, count, replies, replyAt) {
  const worker = m._workersById.get(workerId)
  const pool = worker?._pool
  const script = pool?.script
  const emitMessage = m.listenerCount('message') > 0
  const workerMessage = worker !== undefined && worker.listenerCount('message') > 0
  const stream = pool?.stream && pool.stream.readableFlowing !== null ? pool.stream : null
  const readable = m._readableInUse()
  for (let k = start; k < start + count; k++) {
    const message = results[k]
    if (message instanceof InvalidLine) {
      const err = workerError('ERR_WORKER_INVALID_JSON', `A worker sent a message that is not JSON: ${message.text.slice(0, 200)}`)
      m.emit('worker-error', err, script, pool?.args, worker)
      continue
    }
    if (message instanceof InvalidFrame) {
      const err = workerError('ERR_WORKER_INVALID_MESSAGE', `A worker sent a message that cannot be deserialized: ${message.error.message}`)
      m.emit('worker-error', err, script, pool?.args, worker)
      continue
    }
    const reply = replies.length > 0 ? replies[replyAt + k - start] : 0
    if (emitMessage) m.emit('message', message, script, worker)
    if (workerMessage) worker.emit('message', message)
    // An answer to call() belongs to its caller; an unexpected answer is a 'message' only.
    if (reply > 0) {
      m._calls.resolve(reply, message)
      continue
    }
    if (reply === MESSAGE_ONLY) continue
    // An object-mode stream cannot carry null (pushing it would end the stream): a worker's
    // `process.send(null)` is a 'message' event only.
    if (message === null || message === undefined) continue
    // A listener above may have stopped the manager, which ends the readable sides.
    if (stream && !stream.readableEnded && !m.stopped && !stream.push(message)) pool.streamRoom = false
    if (readable && !m._readableDone && !m.push(message)) m._readableRoom = false
  }
}

function onLifecycle (m, ev, i, texts) {
  switch (ev[i]) {
    case EV.SPAWNED: {
      // Removed in the tick it was added, but up before the removal reached the core: the
      // core ends it; JS never shows it (0.0.7 did not fork such a worker at all).
      if (m._unseen.delete(ev[i + 2])) {
        for (const fd of [ev[i + 4], ev[i + 5], ev[i + 6]]) if (fd >= 0) fs.closeSync(fd)
        break
      }
      const pool = m._poolsById.get(ev[i + 1])
      const stdio = [pipeSocket(ev[i + 4], true), pipeSocket(ev[i + 5], false), pipeSocket(ev[i + 6], false)]
      const worker = new Worker(m._core, ev[i + 2], pool, ev[i + 3], stdio)
      m._workersById.set(worker._id, worker)
      pool.workers.push(worker)
      m.emit('worker', pool.script, pool.args, worker)
      break
    }
    case EV.SPAWN_FAILED: {
      if (m._unseen.delete(ev[i + 2])) break
      const pool = m._poolsById.get(ev[i + 1])
      m.emit('worker-error', workerError('ERR_WORKER_SPAWN', texts[ev[i + 3]]), pool.script, pool.args, undefined)
      break
    }
    case EV.EXIT:
      onExit(m, ev[i + 2], ev[i + 4] ? ev[i + 3] : null, ev[i + 5] ? signalNames[ev[i + 5]] ?? null : null, ev[i + 6] === 1)
      break
    case EV.DISCONNECT: {
      const worker = m._workersById.get(ev[i + 2])
      if (!worker) break
      if (worker.connected) {
        worker.connected = false
        worker.emit('disconnect')
      }
      m.emit('worker-disconnect', worker._pool.script, worker._pool.args, worker)
      break
    }
    case EV.WORKER_ERROR: {
      const worker = m._workersById.get(ev[i + 2])
      const pool = m._poolsById.get(ev[i + 1])
      m.emit('worker-error', workerError(texts[ev[i + 3]], texts[ev[i + 4]]), pool?.script, pool?.args, worker)
      break
    }
    case EV.CONTROL: {
      const worker = m._workersById.get(ev[i + 1])
      if (!worker) break
      if (ev[i + 2] === CONTROL_PAUSE) worker.paused = Date.now()
      else if (ev[i + 2] === CONTROL_DRAIN) worker.paused = 0
      break
    }
    case EV.SATURATION: {
      const pool = m._poolsById.get(ev[i + 1])
      if (pool) pool.saturated = m._core.isSaturated(pool.id)
      m._updatePaused()
      break
    }
    case EV.RESPAWN:
      m.emit('worker-respawn', m._poolsById.get(ev[i + 1])?.script, ev[i + 2], ev[i + 3])
      break
    case EV.ABORTED:
      m.emit('worker-aborted', m._poolsById.get(ev[i + 1])?.script)
      break
    case EV.WORKER_READY: {
      const worker = m._workersById.get(ev[i + 1])
      if (worker) worker.buffering = false
      break
    }
    case EV.FINISHED:
      m._onFinished()
      break
  }
}

function onExit (m, id, code, signal, expected) {
  const worker = m._workersById.get(id)
  if (!worker) return
  m._workersById.delete(id)
  const pool = worker._pool
  const at = pool.workers.indexOf(worker)
  if (at >= 0) pool.workers.splice(at, 1)
  worker._exited(code, signal)
  m.emit('worker-exit', code, pool.script, pool.args, worker)
  if (!expected && code !== 0 && code !== null) m.emit('worker-error', code, pool.script, pool.args, worker)
  else if (!expected && signal !== null) m.emit('worker-error', signal, pool.script, pool.args, worker)
}

module.exports = { handleBatch }
