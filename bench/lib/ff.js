'use strict'
// forkfriend side of the harness, shared by the send and stream impls: load
// the package, bring a pool up, and the startup/respawn scenarios (those do not
// depend on how messages are fed, so only forkfriend-send runs them).
const path = require('path')
const c = require('./common')

/**
 * The package under test: the repository root, as an app would require it.
 * FORKFRIEND_PATH points the same harness at another checkout or build, to
 * compare commits.
 */
function load () {
  return require(process.env.FORKFRIEND_PATH || path.join(__dirname, '..', '..'))
}

/**
 * Creates a manager, adds sc.workers workers and resolves once each one has
 * answered a ping, so the timed phase measures the data path, not forking.
 * Pings go through worker.send() so that each worker gets exactly one.
 */
function startPool (forkfriend, sc, script) {
  const manager = forkfriend(sc.config || {})
  const workers = []
  let answered = 0
  return new Promise((resolve) => {
    const onWorker = (_s, _a, w) => {
      workers.push(w)
      w.send({ ping: w.pid })
    }
    const onMessage = (m) => {
      if (!m || m.ping === undefined || ++answered < sc.workers) return
      manager.off('worker', onWorker)
      manager.off('message', onMessage)
      resolve({ manager, workers })
    }
    manager.on('worker', onWorker)
    manager.on('message', onMessage)
    manager.add(script, sc.args.map(String), sc.workers)
  })
}

/**
 * Counts lifecycle events. Worker exits count until freeze(): the impl
 * freezes them when workers may legitimately go (end of input, close()).
 * Drops, worker errors and stream errors count for the whole run.
 */
function watchEvents (manager) {
  const seen = { dropped: 0, workerExits: 0, workerErrors: 0 }
  const errors = []
  let frozen = false
  manager.on('drop', () => seen.dropped++)
  manager.on('worker-exit', () => { if (!frozen) seen.workerExits++ })
  manager.on('worker-error', () => seen.workerErrors++)
  manager.on('error', (e) => errors.push(String((e && e.message) || e)))
  return {
    freeze () { frozen = true },
    summary: () => ({ ...seen, errors })
  }
}

/** add(script, n) -> n 'worker' events (spawnMs) -> n pings answered (readyMs). */
async function startup (forkfriend, sc, script) {
  c.watchdog(sc, null, () => ({}))
  const readyMs = []
  const spawnMs = []
  for (let i = 0; i < sc.iterations; i++) {
    const manager = forkfriend()
    const pids = []
    let t0
    await new Promise((resolve) => {
      let answered = 0
      manager.on('worker', (_s, _a, w) => {
        pids.push(w.pid)
        if (pids.length === sc.workers) spawnMs.push(c.now() - t0)
        w.send({ ping: w.pid })
      })
      manager.on('message', (m) => {
        if (m && m.ping !== undefined && ++answered === sc.workers) resolve()
      })
      t0 = c.now()
      manager.add(script, sc.workers)
    })
    readyMs.push(c.now() - t0)
    manager.stop()
    await c.waitGone(pids, 3000) // no overlap with the next iteration
  }
  c.report(c.latencyResult(sc, readyMs, spawnMs))
}

/** SIGKILL the worker from outside -> 'worker' for its replacement -> ping answered. */
async function respawn (forkfriend, sc, script) {
  const readyMs = []
  const spawnMs = []
  const delays = []
  c.watchdog(sc, null, () => ({ samplesMs: readyMs }))
  const { manager, workers } = await startPool(forkfriend, { ...sc, workers: 1 }, script)
  manager.on('worker-respawn', (_s, delayMs) => delays.push(delayMs))
  let current = workers[0]
  for (let i = 0; i < sc.iterations; i++) {
    await c.sleep(sc.gapMs)
    const dead = current
    const t0 = c.now()
    const replaced = new Promise((resolve) => {
      const onWorker = (_s, _a, w) => {
        if (w.pid === dead.pid) return
        manager.off('worker', onWorker)
        spawnMs.push(c.now() - t0)
        current = w
        const onMessage = (m) => {
          if (!m || m.ping !== w.pid) return
          manager.off('message', onMessage)
          resolve()
        }
        manager.on('message', onMessage)
        w.send({ ping: w.pid })
      }
      manager.on('worker', onWorker)
    })
    process.kill(dead.pid, 'SIGKILL')
    await replaced
    readyMs.push(c.now() - t0)
  }
  manager.stop()
  c.report(c.latencyResult(sc, readyMs, spawnMs, { respawnDelaysMs: delays }))
}

/**
 * What every forkfriend throughput run starts with: a pool whose workers have answered,
 * an event watcher, the message factory and the reply tally.
 */
async function throughputRun (forkfriend, sc, script) {
  const { manager, workers } = await startPool(forkfriend, sc, script)
  const seen = watchEvents(manager)
  const { make, payloadLen } = c.messageFactory(sc.size, sc.binary, sc.text)
  const tally = new c.Tally(sc.count, payloadLen, sc.binary, sc.text)
  return { manager, workers, seen, make, tally }
}

/**
 * Graceful close, bounded so a close() that never settles is reported; then prints
 * `result` with the shutdown time, leftover workers and the events seen.
 */
async function closeAndReport (manager, workers, script, result, seen) {
  const t = c.now()
  const pids = new Set(workers.map((w) => w.pid))
  for (const w of manager.get(script) || []) pids.add(w.pid)
  const closed = await Promise.race([
    manager.close().then(() => 'ok', (e) => `close() rejected: ${e && e.message}`),
    c.sleep(15000).then(() => 'close() did not settle in 15 s')
  ])
  const shutdownMs = c.round(c.now() - t)
  const leftover = await c.waitGone([...pids], 2000)
  const extra = { shutdownMs, leftover, ...seen.summary() }
  if (closed !== 'ok') extra.error = closed
  c.report({ ...result, ...extra })
}

/** The scenario (from argv), its worker script, and the package under test. */
function context () {
  const sc = c.scenario()
  return { sc, script: c.workerPath(sc), forkfriend: load() }
}

module.exports = { context, load, startPool, watchEvents, startup, respawn, throughputRun, closeAndReport }
