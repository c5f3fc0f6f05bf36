'use strict'
// forkfriend through its stream API: Readable.from(messages).pipe(manager)
// .pipe(counting Writable). No explicit close: ending the input must deliver
// every result, end the readable side (so the Writable finishes) and stop the
// workers.
const { Readable, Writable } = require('stream')
const c = require('../lib/common')
const ff = require('../lib/ff')
const latencyRun = require('../lib/latency')

const { sc, script, forkfriend } = ff.context()

async function throughput () {
  const { manager, workers, seen, make, tally } = await ff.throughputRun(forkfriend, sc, script)
  let phase = 'results'
  const unwatch = c.watchdog(sc, tally, () => ({
    received: tally.received, lost: tally.lost, phase, ...seen.summary()
  }))

  function* messages () {
    for (let i = 0; i < sc.count; i++) yield make(i)
  }
  const sink = new Writable({
    objectMode: true,
    write (m, _enc, cb) {
      tally.add(m)
      cb()
    }
  })
  const finished = new Promise((resolve) => sink.on('finish', () => resolve('finish')))

  const meter = new c.Meter(sc)
  meter.start()
  const source = Readable.from(messages())
  // After the input ends, workers that are done may be closed: not a failure.
  source.on('end', () => seen.freeze())
  source.pipe(manager).pipe(sink)
  // Throughput is timed to the last result, like the baseline; the wait for
  // the end of the stream is reported separately as shutdownMs.
  const first = await Promise.race([tally.done.then(() => 'results'), finished])
  meter.stop(workers.map((w) => w.pid))
  phase = 'all results in; waiting for the readable side to end'
  const t = c.now()
  if (first === 'results') await finished
  unwatch()
  const shutdownMs = c.round(c.now() - t)
  const leftover = await c.waitGone(workers.map((w) => w.pid), 8000)
  c.report(c.throughputResult(sc, tally, meter, { shutdownMs, leftover, ...seen.summary() }))
}

/**
 * The `lines` job as an app would write it with the stream API: file -> split2 -> manager ->
 * one text line per answer -> file. It is what the command line does, without the command line.
 */
async function lines () {
  const fs = require('fs')
  const { Transform } = require('stream')
  const { pipeline } = require('stream/promises')
  const split2 = require('split2')
  await require('../lib/lines').run(sc, async (input, output) => {
    const manager = forkfriend()
    manager.add(script, sc.workers)
    await pipeline(
      fs.createReadStream(input, { highWaterMark: 256 * 1024 }),
      split2('\n'),
      manager,
      new Transform({ writableObjectMode: true, transform (answer, _enc, cb) { cb(null, `${answer}\n`) } }),
      fs.createWriteStream(output)
    )
    await manager.close()
  })
}

/**
 * Latency scenarios: each message is one write() to the manager, its result is a 'data'
 * event of the readable side; end() at the end must deliver the rest and stop the workers.
 */
async function latency () {
  const { manager, workers } = await ff.startPool(forkfriend, sc, script)
  const seen = ff.watchEvents(manager)
  const result = await latencyRun.run(sc, {
    send: (m) => manager.write(m),
    waitDrain: () => new Promise((resolve) => manager.once('drain', resolve)),
    onReply: (fn) => manager.on('data', fn)
  })
  seen.freeze()
  const t = c.now()
  const ended = new Promise((resolve) => manager.once('end', resolve))
  manager.end()
  await ended
  const shutdownMs = c.round(c.now() - t)
  const leftover = await c.waitGone(workers.map((w) => w.pid), 8000)
  c.report({ ...result, shutdownMs, leftover, ...seen.summary() })
}

const kinds = { throughput, lines, latency }
if (!kinds[sc.kind]) {
  c.report({ scenario: sc.name, error: 'stream impl runs throughput, lines and latency scenarios only' }, 64)
}
kinds[sc.kind]().catch((e) => c.report({ scenario: sc.name, error: String(e && e.stack || e) }, 1))
