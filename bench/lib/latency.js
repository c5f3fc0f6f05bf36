'use strict'
// The latency scenarios, shared by every impl: each impl only says how to send
// one message and how replies reach it (a `transport`), so the load pattern,
// the clock and the histogram are the same for all of them.
//
// Modes (sc.mode):
// - pingpong:  one message in flight: send, wait for its reply, send the next.
// - rate:      open loop at sc.rate msgs/s. Messages are sent when they are due,
//              not after the previous reply; a 1 ms timer sends every message
//              due by then (Node's timers fire at 1 ms granularity, so 2,000/s
//              go out in pairs and 20,000/s in bursts of ~20, for every impl).
// - saturated: send until the transport says stop, wait for it to drain, go on
//              (the throughput scenario's loop), timing every message.
// Round trip = from the send() call to the reply's event, on this process's
// monotonic clock. The first sc.warmup messages are not recorded.
const hdr = require('hdr-histogram-js')
const c = require('./common')

/** A histogram of round trips in microseconds (1 µs .. 100 s, 3 significant digits). */
function histogram () {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 1e8, numberOfSignificantValueDigits: 3 })
}

/**
 * Runs sc against `transport`:
 *   send(message) -> boolean   false: wait for waitDrain() before sending more
 *   waitDrain() -> Promise     resolves when the transport can take messages again
 *   onReply(fn)                fn(message) for every reply
 * Resolves to the result line (without the impl's extra fields).
 */
async function run (sc, transport) {
  const { make, payloadLen } = c.messageFactory(sc.size, sc.binary, sc.text)
  const tally = new c.Tally(sc.count, payloadLen, sc.binary, sc.text)
  const sentAt = new Float64Array(sc.count)
  const hist = histogram()
  let onEach = null
  transport.onReply((m) => {
    tally.add(m)
    const id = m && m.id
    if (Number.isInteger(id) && id >= sc.warmup && id < sc.count) {
      hist.recordValue(Math.max(1, Math.round((c.now() - sentAt[id]) * 1000)))
    }
    if (onEach) onEach(id)
  })
  const unwatch = c.watchdog(sc, tally, () => ({ received: tally.received, lost: tally.lost }))
  const send = (id) => {
    sentAt[id] = c.now()
    return transport.send(make(id))
  }

  const meter = new c.Meter(sc)
  meter.start()
  if (sc.mode === 'pingpong') {
    let next = 0
    onEach = (id) => { if (id === next - 1 && next < sc.count) send(next++) }
    send(next++)
  } else if (sc.mode === 'rate') {
    const t0 = c.now()
    const periodMs = 1000 / sc.rate
    let next = 0
    const tick = () => {
      const t = c.now()
      while (next < sc.count && t0 + next * periodMs <= t) send(next++)
      if (next < sc.count) setTimeout(tick, Math.max(0, t0 + next * periodMs - c.now()))
    }
    tick()
  } else if (sc.mode === 'saturated') {
    let next = 0
    const pump = () => {
      while (next < sc.count) {
        if (!send(next++)) {
          transport.waitDrain().then(pump)
          return
        }
      }
    }
    pump()
  } else {
    throw new Error(`unknown latency mode ${sc.mode}`)
  }
  await tally.done
  meter.stop()
  unwatch()
  const ms = (p) => c.round(hist.getValueAtPercentile(p) / 1000, 3)
  return {
    scenario: sc.name,
    p50Ms: ms(50),
    p90Ms: ms(90),
    p99Ms: ms(99),
    maxMs: c.round(hist.maxValue / 1000, 3),
    samples: hist.totalCount,
    msgsPerSec: Math.round(tally.unique / (meter.elapsedMs / 1000)),
    cpuUsPerMsg: c.round(meter.cpuUs / Math.max(tally.unique, 1), 2),
    received: tally.received,
    lost: tally.lost,
    duplicated: tally.duplicated,
    invalid: tally.invalid,
    elapsedMs: c.round(meter.elapsedMs)
  }
}

module.exports = { run }
