'use strict'
// forkfriend through its send() API, used the way its contract asks: send
// until it returns false, then wait for 'drain'. Results arrive as 'message'
// events (the readable side is unused, so nothing is buffered for it).
const c = require('../lib/common')
const ff = require('../lib/ff')
const latencyRun = require('../lib/latency')

const { sc, script, forkfriend } = ff.context()

async function throughput () {
  const { manager, workers, seen, make, tally } = await ff.throughputRun(forkfriend, sc, script)
  manager.on('message', (m) => tally.add(m))
  const unwatch = c.watchdog(sc, tally, () => ({ received: tally.received, lost: tally.lost, ...seen.summary() }))

  let next = 0
  function pump () {
    while (next < sc.count) {
      if (!manager.send(make(next++), script)) {
        manager.once('drain', pump)
        return
      }
    }
  }

  const meter = new c.Meter(sc)
  meter.start()
  pump()
  await tally.done
  meter.stop(workers.map((w) => w.pid))
  seen.freeze()
  unwatch()

  await ff.closeAndReport(manager, workers, script, c.throughputResult(sc, tally, meter, {}), seen)
}

/** Latency scenarios: send() to the pool, replies as 'message' events. */
async function latency () {
  const { manager, workers } = await ff.startPool(forkfriend, sc, script)
  const seen = ff.watchEvents(manager)
  const result = await latencyRun.run(sc, sc.call ? callTransport(manager) : {
    send: (m) => manager.send(m, script),
    waitDrain: () => new Promise((resolve) => manager.once('drain', resolve)),
    onReply: (fn) => manager.on('message', fn)
  })
  seen.freeze()
  await ff.closeAndReport(manager, workers, script, result, seen)
}

/**
 * Reply mode's `await manager.call(message)`: the answer is what the promise resolves to.
 * Calls are not bound by maxQueue, so the transport never asks the loop to wait.
 */
function callTransport (manager) {
  let reply = null
  return {
    send (m) {
      manager.call(m).then(reply, (err) => { throw err })
      return true
    },
    waitDrain: () => Promise.resolve(),
    onReply (fn) { reply = fn }
  }
}

const kinds = {
  throughput,
  latency,
  startup: () => ff.startup(forkfriend, sc, script),
  respawn: () => ff.respawn(forkfriend, sc, script)
}
kinds[sc.kind]().catch((e) => c.report({ scenario: sc.name, error: String(e && e.stack || e) }, 1))
