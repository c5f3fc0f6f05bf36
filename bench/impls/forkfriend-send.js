'use strict'
// forkfriend through its send() API, used the way its contract asks: send
// until it returns false, then wait for 'drain'. Results arrive as 'message'
// events (the readable side is unused, so nothing is buffered for it).
const c = require('../lib/common')
const ff = require('../lib/ff')

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
  meter.stop()
  seen.freeze()
  unwatch()

  // Graceful close, bounded so a close() that never settles is reported.
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
  c.report(c.throughputResult(sc, tally, meter, extra))
}

const kinds = {
  throughput,
  startup: () => ff.startup(forkfriend, sc, script),
  respawn: () => ff.respawn(forkfriend, sc, script)
}
kinds[sc.kind]().catch((e) => c.report({ scenario: sc.name, error: String(e && e.stack || e) }, 1))
