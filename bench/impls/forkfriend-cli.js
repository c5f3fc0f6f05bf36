'use strict'
// The command line on the `lines` job: `forkfriend -n N -i in.txt -o out.txt echo.js`, run
// in this process (lib/cli/main.js is what bin/forkfriend.js runs) so that its CPU and peak
// RSS are measured exactly as the other impls' are.
const path = require('path')
const c = require('../lib/common')

const sc = c.scenario()
const script = c.workerPath(sc)
const root = process.env.FORKFRIEND_PATH || path.join(__dirname, '..', '..')
const { main } = require(path.join(root, 'lib', 'cli', 'main.js'))

async function lines () {
  await require('../lib/lines').run(sc, async (input, output) => {
    const status = await main(['-n', String(sc.workers), '-i', input, '-o', output, script, ...sc.args.map(String)])
    if (status !== 0) throw new Error(`the command line exited with status ${status}`)
  })
}

if (sc.kind !== 'lines') c.report({ scenario: sc.name, error: 'the cli impl runs lines scenarios only' }, 64)
lines().catch((e) => c.report({ scenario: sc.name, error: String(e && e.stack || e) }, 1))
