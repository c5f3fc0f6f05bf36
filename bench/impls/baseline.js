'use strict'
// The yardstick: a careful hand-written child_process.fork manager. Round
// robin over the workers, honouring send() backpressure, respawning on exit.
// It is what an app could write itself in ~50 lines; forkfriend has to beat it.
const { fork } = require('child_process')
const c = require('../lib/common')
const latencyRun = require('../lib/latency')

const sc = c.scenario()
const script = c.workerPath(sc)
const spawn = () => fork(script, sc.args.map(String), sc.serialization ? { serialization: sc.serialization } : {})

/** Resolves at the first reply to a ping: the child is up and its channel works. */
function ready (child) {
  return new Promise((resolve) => {
    const onMessage = (m) => {
      if (m && m.ping !== undefined) {
        child.off('message', onMessage)
        resolve()
      }
    }
    child.on('message', onMessage)
    child.send({ ping: child.pid })
  })
}

function stopAll (kids) {
  const exited = kids.map((k) => (k.exitCode !== null || k.signalCode !== null
    ? null : new Promise((r) => k.once('exit', r))))
  for (const k of kids) k.kill()
  return Promise.all(exited)
}

/**
 * One child's send bookkeeping: `sent` and `done` count sends and their callbacks; a lane
 * marked `blocked` (send() returned false) calls `unblocked` once every send has completed.
 * `onSent` is one pre-bound callback per child: no closure per message.
 */
function sendLane (child, unblocked) {
  const lane = { child, sent: 0, done: 0, blocked: false }
  lane.onSent = () => {
    lane.done++
    if (lane.blocked && lane.done === lane.sent) {
      lane.blocked = false
      unblocked()
    }
  }
  return lane
}

async function throughput () {
  const kids = Array.from({ length: sc.workers }, spawn)
  await Promise.all(kids.map(ready))

  const { make, payloadLen } = c.messageFactory(sc.size, sc.binary, sc.text)
  const tally = new c.Tally(sc.count, payloadLen, sc.binary, sc.text)
  const onReply = (m) => tally.add(m)
  for (const k of kids) k.on('message', onReply)
  const unwatch = c.watchdog(sc, tally, () => ({ received: tally.received, lost: tally.lost }))

  // child.send() returns false once ~128 KiB wait in user space; the callback
  // of a send fires when its bytes reach the socket, and callbacks fire in
  // order. So a blocked child is unblocked when all its sends have completed.
  // The callback is one pre-bound function per child: no closure per message.
  const lanes = kids.map((child) => sendLane(child, () => pump()))
  let next = 0
  let rr = 0
  function pump () {
    while (next < sc.count) {
      let lane = null
      for (let tries = 0; tries < lanes.length && !lane; tries++) {
        const cand = lanes[rr]
        rr = (rr + 1) % lanes.length
        if (!cand.blocked) lane = cand
      }
      if (!lane) return // every child is backed up; an onSent resumes us
      lane.sent++
      if (!lane.child.send(make(next++), lane.onSent)) lane.blocked = true
    }
  }

  const meter = new c.Meter(sc)
  meter.start()
  pump()
  await tally.done
  meter.stop(kids.map((k) => k.pid))
  unwatch()
  const t = c.now()
  await stopAll(kids)
  c.report(c.throughputResult(sc, tally, meter, { shutdownMs: c.round(c.now() - t), leftover: 0 }))
}

async function startup () {
  c.watchdog(sc, null, () => ({}))
  const readyMs = []
  const spawnMs = []
  for (let i = 0; i < sc.iterations; i++) {
    const t0 = c.now()
    const kids = Array.from({ length: sc.workers }, spawn)
    spawnMs.push(c.now() - t0)
    await Promise.all(kids.map(ready))
    readyMs.push(c.now() - t0)
    await stopAll(kids)
  }
  c.report(c.latencyResult(sc, readyMs, spawnMs))
}

async function respawn () {
  c.watchdog(sc, null, () => ({}))
  const readyMs = []
  const spawnMs = []
  let child = spawn()
  await ready(child)
  for (let i = 0; i < sc.iterations; i++) {
    await c.sleep(sc.gapMs)
    const dead = child
    const t0 = c.now()
    // A careful manager forks the replacement as soon as 'exit' says the old
    // one is gone (no delay: the baseline has no crash-loop protection).
    const replaced = new Promise((resolve) => dead.once('exit', () => {
      child = spawn()
      spawnMs.push(c.now() - t0)
      resolve(ready(child))
    }))
    process.kill(dead.pid, 'SIGKILL')
    await replaced
    readyMs.push(c.now() - t0)
  }
  await stopAll([child])
  c.report(c.latencyResult(sc, readyMs, spawnMs))
}

/**
 * The `lines` job by hand: a file's lines round robin to the children (reading paused while
 * every child is backed up), replies gathered into 64 KiB writes to the output file.
 */
async function lines () {
  const fs = require('fs')
  const L = require('../lib/lines')
  await L.run(sc, async (input, output) => {
    const kids = Array.from({ length: sc.workers }, spawn)
    await Promise.all(kids.map(ready))
    const out = fs.openSync(output, 'w')
    let text = ''
    let replies = 0
    let allReplied
    const replied = new Promise((resolve) => { allReplied = resolve })
    const onReply = (m) => {
      text += `${m}\n`
      if (text.length >= 65536) { fs.writeSync(out, text); text = '' }
      if (++replies === sc.count) allReplied()
    }
    for (const k of kids) k.on('message', onReply)
    const source = fs.createReadStream(input, { encoding: 'utf8', highWaterMark: 256 * 1024 })
    const lanes = kids.map((child) => sendLane(child, () => source.resume()))
    let rr = 0
    let rest = ''
    source.on('data', (chunk) => {
      const parts = (rest + chunk).split('\n')
      rest = parts.pop()
      for (const line of parts) {
        const lane = lanes[rr]
        rr = (rr + 1) % lanes.length
        lane.sent++
        if (!lane.child.send(line, lane.onSent)) lane.blocked = true
      }
      if (lanes.every((l) => l.blocked)) source.pause()
    })
    await replied
    fs.writeSync(out, text)
    fs.closeSync(out)
    await stopAll(kids)
  })
}

/**
 * Latency scenarios: round robin over the children. send() is false when every
 * child is backed up (its send() returned false and its callbacks have not
 * caught up); waitDrain() resolves when one of them has.
 */
async function latency () {
  const kids = Array.from({ length: sc.workers }, spawn)
  await Promise.all(kids.map(ready))
  let rr = 0
  let drained = null
  const lanes = kids.map((child) => sendLane(child, () => {
    if (!drained) return
    const resolve = drained
    drained = null
    resolve()
  }))
  const transport = {
    send (m) {
      let lane = null
      for (let tries = 0; tries < lanes.length && !lane; tries++) {
        const cand = lanes[rr]
        rr = (rr + 1) % lanes.length
        if (!cand.blocked) lane = cand
      }
      // Open loop: a message due while every child is backed up still goes (Node queues it).
      if (!lane) lane = lanes[rr]
      lane.sent++
      if (!lane.child.send(m, lane.onSent)) lane.blocked = true
      return lanes.some((l) => !l.blocked)
    },
    waitDrain: () => new Promise((resolve) => { drained = resolve }),
    onReply (fn) { for (const k of kids) k.on('message', fn) }
  }
  const result = await latencyRun.run(sc, transport)
  const t = c.now()
  await stopAll(kids)
  c.report({ ...result, shutdownMs: c.round(c.now() - t), leftover: 0 })
}

const kinds = { throughput, startup, respawn, lines, latency }
kinds[sc.kind]().catch((e) => c.report({ scenario: sc.name, error: String(e && e.stack || e) }, 1))
