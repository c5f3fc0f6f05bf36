'use strict'
// Shared by every bench/impls/* script: the scenario, the messages, the reply
// check, the measurements and the one JSON line of output. Keeping these in
// one place is what makes the implementations comparable.
const fs = require('fs')
const path = require('path')

/** The scenario passed as JSON in argv[2] (see bench/scenarios.js). */
function scenario () {
  if (!process.argv[2]) {
    process.stderr.write('usage: node bench/impls/<impl>.js <scenario-json>\n')
    process.exit(64)
  }
  const sc = JSON.parse(process.argv[2])
  const full = { workers: 1, args: [], size: 100, timeoutMs: 120000, stallTimeoutMs: 20000, ...sc }
  // `serialization` is a fork option: forkfriend gets it in config.fork, the baseline in fork().
  if (full.serialization) full.config = { ...full.config, fork: { ...full.config?.fork, serialization: full.serialization } }
  return full
}

function workerPath (sc) {
  return path.join(__dirname, '..', 'workers', `${sc.worker}.js`)
}

// `{"id":123456,"p":"xxx"}` serializes to about `size` bytes. Every message
// shares one payload string: the producer should cost what an app's would, not
// allocate megabytes of distinct strings that dominate the RSS figure.
// With `binary` (scenarios in `serialization: 'advanced'`), the payload is one Buffer of
// `size` bytes, shared the same way.
// With `text` (the main job's lines), each message is a string, `${id}:` and the payload,
// made by concatenation as a line builder would.
function messageFactory (size, binary = false, text = false) {
  if (text) {
    const line = 'x'.repeat(Math.max(0, size - 8))
    return { payloadLen: line.length, make: (id) => id + ':' + line }
  }
  const payload = binary ? Buffer.alloc(size, 120) : 'x'.repeat(Math.max(0, size - 20))
  return { payloadLen: payload.length, make: (id) => ({ id, p: payload }) }
}

/** A `text` message as [id, payload length], or null when it is not one. */
function textParts (m) {
  const colon = typeof m === 'string' ? m.indexOf(':') : -1
  return colon > 0 ? [Number(m.slice(0, colon)), m.length - colon - 1] : null
}

/**
 * Counts replies by id so a fast wrong answer cannot win: every id must come
 * back exactly once with its payload intact. A Uint8Array keeps the check
 * itself from adding to the peak RSS (1 MB for a million ids).
 */
class Tally {
  constructor (n, payloadLen, binary = false, text = false) {
    this.n = n
    this.payloadLen = payloadLen
    this.binary = binary
    this.text = text
    this.seen = new Uint8Array(n)
    this.received = 0
    this.unique = 0
    this.duplicated = 0
    this.invalid = 0
    this.done = new Promise((resolve) => { this._resolve = resolve })
    if (n === 0) this._resolve()
  }

  add (m) {
    this.received++
    if (this.text) {
      const [id, len] = textParts(m) ?? [-1, -1]
      return this._count(id, len === this.payloadLen)
    }
    if (m === null || typeof m !== 'object') return this._count(-1, false)
    this._count(m.id, (this.binary ? Buffer.isBuffer(m.p) : typeof m.p === 'string') && m.p.length === this.payloadLen)
  }

  _count (id, intact) {
    if (!Number.isInteger(id) || id < 0 || id >= this.n || !intact) {
      this.invalid++
      return
    }
    if (this.seen[id]) {
      this.duplicated++
      return
    }
    this.seen[id] = 1
    if (++this.unique === this.n) this._resolve()
  }

  get lost () { return this.n - this.unique }
}

/**
 * Wall time and CPU of this (manager) process over the timed phase. With
 * sc.rssSampleAtMs it also reads VmHWM that long after the start: the flood
 * scenarios take it at the end of the slow worker's slow phase, when the
 * backlog is largest, before the fast phase's allocation rate grows V8's heap.
 */
class Meter {
  constructor (sc) {
    this.sc = sc || {}
    this.sampledRssMB = undefined
  }

  start () {
    this.t0 = process.hrtime.bigint()
    this.c0 = process.cpuUsage()
    if (this.sc.rssSampleAtMs) {
      this.timer = setTimeout(() => { this.sampledRssMB = peakRssMB() }, this.sc.rssSampleAtMs)
    }
  }

  /** `workerPids`: the largest peak RSS among them is kept as workerRssMB. */
  stop (workerPids = []) {
    this.elapsedMs = Number(process.hrtime.bigint() - this.t0) / 1e6
    const c = process.cpuUsage(this.c0)
    this.cpuUs = c.user + c.system
    clearTimeout(this.timer)
    const peaks = workerPids.map(peakRssMB).filter((x) => x !== null)
    this.workerRssMB = peaks.length > 0 ? Math.max(...peaks) : undefined
  }
}

/** Peak resident set (VmHWM) of this process or of `pid`, in MB; null once it is gone. */
function peakRssMB (pid = 'self') {
  let status
  try {
    status = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
  } catch {
    return null
  }
  const m = /VmHWM:\s+(\d+)\s+kB/.exec(status)
  return m ? Math.round(Number(m[1]) / 102.4) / 10 : null
}

function now () { return Number(process.hrtime.bigint()) / 1e6 }
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

function median (xs) {
  if (xs.length === 0) return null
  const s = [...xs].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2
}

const round = (x, d = 1) => (x == null ? null : Math.round(x * 10 ** d) / 10 ** d)

/** Result line of a throughput scenario. */
function throughputResult (sc, tally, meter, extra) {
  const ok = tally.unique
  return {
    scenario: sc.name,
    msgsPerSec: Math.round(ok / (meter.elapsedMs / 1000)),
    cpuUsPerMsg: round(meter.cpuUs / Math.max(ok, 1), 2),
    peakRssMB: peakRssMB(),
    backlogRssMB: meter.sampledRssMB,
    workerRssMB: meter.workerRssMB,
    received: tally.received,
    lost: tally.lost,
    duplicated: tally.duplicated,
    invalid: tally.invalid,
    elapsedMs: round(meter.elapsedMs),
    ...extra
  }
}

/**
 * Result line of a startup/respawn scenario: medians over the iterations of
 * one process (readyMs = until the first round trip, spawnMs = until the
 * worker exists: fork() returned, or forkfriend's 'worker' event).
 */
function latencyResult (sc, readyMs, spawnMs, extra) {
  return {
    scenario: sc.name,
    readyMs: round(median(readyMs), 2),
    spawnMs: round(median(spawnMs), 2),
    samplesMs: readyMs.map((x) => round(x, 2)),
    peakRssMB: peakRssMB(),
    ...extra
  }
}

/** Prints the one JSON line run.js reads, then exits (workers or not). */
function report (result, code = 0) {
  process.stdout.write(`${JSON.stringify(result)}\n`)
  process.exit(code)
}

/**
 * Fails the run instead of hanging it: no new reply for stallTimeoutMs, or the
 * whole run past timeoutMs, reports what arrived so far with an `error`.
 */
function watchdog (sc, tally, partial) {
  const started = now()
  let last = -1
  let lastChange = started
  const timer = setInterval(() => {
    const t = now()
    const count = tally ? tally.received : 0
    if (count !== last) { last = count; lastChange = t }
    let error = null
    if (t - started > sc.timeoutMs) error = `timeout after ${sc.timeoutMs} ms`
    else if (tally && t - lastChange > sc.stallTimeoutMs) error = `no reply for ${sc.stallTimeoutMs} ms`
    if (error) report({ scenario: sc.name, error, ...partial() }, 2)
  }, 250)
  return () => clearInterval(timer)
}

/** True while a process with this pid exists (a zombie counts as existing). */
function alive (pid) {
  try { process.kill(pid, 0); return true } catch (e) { return e.code === 'EPERM' }
}

/** Waits up to `ms` for the pids to vanish; returns how many are left. */
async function waitGone (pids, ms) {
  const end = now() + ms
  let left = pids.filter(alive)
  while (left.length && now() < end) {
    await sleep(20)
    left = left.filter(alive)
  }
  return left.length
}

module.exports = {
  scenario, workerPath, messageFactory, Tally, Meter, peakRssMB, now, sleep,
  median, round, throughputResult, latencyResult, report, watchdog, alive, waitGone
}
