'use strict'
// The manager process's share of a message that no implementation can skip, timed with no
// worker, no socket and no manager: the bench's own loop (make the message, check its answer
// with the Tally), V8's JSON for the message and for its answer (stringify each message;
// parse the answers in batches of 64 lines, as forkfriend does) and one 'message' event per
// answer. CPU per message of the main thread, for a scenario's count and message kind.
//
//   node bench/probes/json_floor.js 200000 100        # echo-100b
//   node bench/probes/json_floor.js 200000 100 text   # echo-100b-text
//   node bench/probes/json_floor.js 5000 16384 text   # echo-16k-text
const { EventEmitter } = require('events')
const c = require('../lib/common')

const count = Number(process.argv[2] || 200000)
const size = Number(process.argv[3] || 100)
const text = process.argv[4] === 'text'
const BATCH = 64
const { make, payloadLen } = c.messageFactory(size, false, text)
const tally = new c.Tally(count, payloadLen, false, text)
const events = new EventEmitter()
events.on('message', (m) => tally.add(m))

const meter = new c.Meter({})
meter.start()
let lines = []
for (let i = 0; i < count; i++) {
  lines.push(JSON.stringify(make(i)))
  if (lines.length === BATCH || i === count - 1) {
    // The worker's answers arrive as the same lines; they become values in one parse.
    for (const answer of JSON.parse(`[${lines.join(',')}]`)) events.emit('message', answer)
    lines = []
  }
}
meter.stop()
console.log(JSON.stringify({ count, size, text, cpuUsPerMsg: c.round(meter.cpuUs / count, 2), received: tally.received }))
