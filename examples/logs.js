'use strict'
// The main example: a log file, split into lines, parsed by 4 worker processes, the parsed
// lines written in the order of the file.
//
//   node examples/logs.js                  parsed lines on stdout, one JSON object each
//   node examples/logs.js parsed.ndjson    parsed lines in a file
//
// A one-line summary goes to stderr. The program ends on its own once every line is parsed.

const fs = require('node:fs')
const path = require('node:path')
const { Transform, pipeline } = require('node:stream')
const forkfriend = require('..') // in your app: require('forkfriend')

const input = path.join(__dirname, 'data', 'application.log')
const output = process.argv[2] ? fs.createWriteStream(process.argv[2]) : process.stdout

// Text in, one message per line out. Each chunk written to the manager is one message.
function splitLines () {
  let rest = ''
  return new Transform({
    decodeStrings: false,
    readableObjectMode: true,
    transform (text, encoding, callback) {
      const lines = (rest + text).split('\n')
      rest = lines.pop()
      for (const line of lines) this.push(line)
      callback()
    },
    flush (callback) {
      if (rest !== '') this.push(rest)
      callback()
    }
  })
}

// Results in, one JSON text per line out; counts the results of each worker on the way.
const perWorker = {}
const toJsonLines = new Transform({
  writableObjectMode: true,
  transform (result, encoding, callback) {
    perWorker[result.pid] = (perWorker[result.pid] ?? 0) + 1
    callback(null, JSON.stringify(result) + '\n')
  }
})

// ordered: results leave in input order, whichever worker finishes first.
// concurrency: up to 8 lines in flight on each worker, so none waits for the next line.
const manager = forkfriend({ ordered: true, concurrency: 8 })
manager.add(path.join(__dirname, 'workers', 'parse-line.js'), 4)

pipeline(
  fs.createReadStream(input, 'utf8'),
  splitLines(),
  manager, // one message per line in, one result per line out, in the same order
  toJsonLines,
  output,
  (err) => {
    if (err) {
      console.error('failed:', err)
      process.exitCode = 1
      return
    }
    // Every result is written and every worker has exited.
    console.error('results per worker pid:', perWorker)
  }
)
