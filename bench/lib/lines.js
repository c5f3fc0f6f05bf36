'use strict'
// The `lines` scenarios (issue 12): a file of lines through N echo workers into a file of
// answers, the job of `forkfriend -n N -i in.txt -o out.txt echo.js`. Shared by the impls:
// the input file (made once, in small writes so it does not raise anyone's peak RSS), the
// output file, and the check that every line came back exactly once, intact.
const fs = require('fs')
const os = require('os')
const path = require('path')
const c = require('./common')

/** `<id> xxx...` lines of about `size` bytes; each id from 0 to count-1 once. */
function inputFile (sc) {
  const file = path.join(os.tmpdir(), `forkfriend-bench-lines-${sc.count}x${sc.size}.txt`)
  if (fs.existsSync(file)) return file
  const tmp = `${file}.${process.pid}.tmp`
  const fd = fs.openSync(tmp, 'w')
  const payload = payloadOf(sc)
  for (let i = 0; i < sc.count;) {
    let chunk = ''
    for (const end = Math.min(sc.count, i + 10000); i < end; i++) chunk += `${i} ${payload}\n`
    fs.writeSync(fd, chunk)
  }
  fs.closeSync(fd)
  fs.renameSync(tmp, file)
  return file
}

function payloadOf (sc) {
  return 'x'.repeat(Math.max(1, sc.size - 8))
}

function outputFile () {
  return path.join(os.tmpdir(), `forkfriend-bench-lines-out-${process.pid}.txt`)
}

/** Reads the answers back (after the timed part): every id once, with its payload. */
function verify (sc, file) {
  const payload = payloadOf(sc)
  const seen = new Uint8Array(sc.count)
  const r = { received: 0, lost: 0, duplicated: 0, invalid: 0 }
  const fd = fs.openSync(file, 'r')
  const buf = Buffer.alloc(1 << 20)
  let rest = ''
  for (;;) {
    const n = fs.readSync(fd, buf, 0, buf.length, null)
    const text = rest + buf.toString('latin1', 0, n)
    const lines = text.split('\n')
    rest = lines.pop()
    for (const line of lines) {
      r.received++
      const space = line.indexOf(' ')
      const id = Number(line.slice(0, space))
      if (!Number.isInteger(id) || id < 0 || id >= sc.count || line.slice(space + 1) !== payload) r.invalid++
      else if (seen[id]) r.duplicated++
      else seen[id] = 1
    }
    if (n === 0) break
  }
  fs.closeSync(fd)
  if (rest !== '') { r.received++; r.invalid++ }
  r.lost = sc.count - seen.reduce((a, b) => a + b, 0)
  fs.rmSync(file, { force: true })
  return r
}

/**
 * Times `job(input, output)` (a promise that settles once the output file is complete and
 * every worker has exited), checks the output and prints the result line. The whole job is
 * timed, worker start and shutdown included, as a user of the command line sees it.
 */
async function run (sc, job) {
  const input = inputFile(sc)
  const output = outputFile()
  c.watchdog({ ...sc, stallTimeoutMs: Infinity }, null, () => ({}))
  const meter = new c.Meter(sc)
  meter.start()
  await job(input, output)
  meter.stop()
  const peakRssMB = c.peakRssMB() // before the check reads the output back
  const check = verify(sc, output)
  c.report({
    scenario: sc.name,
    msgsPerSec: Math.round((sc.count - check.lost) / (meter.elapsedMs / 1000)),
    cpuUsPerMsg: c.round(meter.cpuUs / sc.count, 2),
    peakRssMB,
    elapsedMs: c.round(meter.elapsedMs),
    ...check
  })
}

module.exports = { inputFile, outputFile, verify, run }
