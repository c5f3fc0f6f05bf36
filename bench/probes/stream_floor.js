'use strict'
// What the stream API's own machinery costs, with no worker and no manager: the bench's
// stream pipeline (Readable.from(generator) -> object-mode Duplex -> counting Writable)
// around an in-process PassThrough with the manager's buffer sizes. CPU per message of the
// main process over the run, for a scenario's count and message kind. The sink only counts
// (the bench's reply check would flatten the concatenated lines, which a worker's answers
// are not), so this is the floor the stream API adds to what send() costs.
//
//   node bench/probes/stream_floor.js 5000 16384 text
//   node bench/probes/stream_floor.js 200000 100
const { Readable, Writable, PassThrough } = require('stream')
const c = require('../lib/common')

const count = Number(process.argv[2] || 5000)
const size = Number(process.argv[3] || 16384)
const text = process.argv[4] === 'text'
const { make } = c.messageFactory(size, false, text)
let received = 0

function * messages () {
  for (let i = 0; i < count; i++) yield make(i)
}
const sink = new Writable({
  objectMode: true,
  write (m, _enc, cb) {
    received++
    cb()
  }
})
const middle = new PassThrough({ objectMode: true, readableHighWaterMark: 64, writableHighWaterMark: 64 })
const meter = new c.Meter({})
meter.start()
Readable.from(messages()).pipe(middle).pipe(sink)
sink.on('finish', () => {
  meter.stop()
  console.log(JSON.stringify({ count, size, text, cpuUsPerMsg: c.round(meter.cpuUs / count), received }))
})
