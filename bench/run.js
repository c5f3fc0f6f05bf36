#!/usr/bin/env node
'use strict'
// Benchmark driver (`npm run bench`). Each (impl, scenario, run) is its own
// Node process, so JIT state, heap growth and leftover workers of one run can
// not colour the next; runs alternate between impls (A B C A B C ...) so slow
// drifts of a noisy machine hit every impl alike. See bench/README.md.
const { spawn, spawnSync } = require('child_process')
const fs = require('fs')
const os = require('os')
const path = require('path')
const table = require('./lib/table')

const USAGE = `usage: node bench/run.js [--runs N] [--only s1,s2] [--impl i1,i2] [--quick] [--write] [--json FILE]
  --runs N     runs per (impl, scenario), alternating impls (default 3)
  --only LIST  scenarios by name (${require('./scenarios').map((s) => s.name).join(', ')})
  --impl LIST  implementations (baseline, forkfriend-send, forkfriend-stream, forkfriend-cli)
  --quick      smaller counts: a smoke test, not figures to quote
  --write      write the tables to bench/RESULTS.md
  --json FILE  write every run's raw result line to FILE`

const ALL_KINDS = ['throughput', 'latency', 'startup', 'respawn']
// The stream impl would time startup/respawn exactly as the send impl does. `lines` is the
// command line's job (a file of lines through workers into a file), which the send impl
// does not do.
const IMPLS = [
  { name: 'baseline', kinds: [...ALL_KINDS, 'lines'] },
  { name: 'forkfriend-send', kinds: ALL_KINDS, addon: true },
  { name: 'forkfriend-stream', kinds: ['throughput', 'lines', 'latency'], addon: true },
  { name: 'forkfriend-cli', kinds: ['lines'], addon: true }
]

function parseArgs (argv) {
  const o = { runs: 3, only: null, impl: null, quick: false, write: false, json: null }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const val = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`)
      return argv[++i]
    }
    if (a === '--runs') o.runs = Number(val())
    else if (a === '--only') o.only = val().split(',')
    else if (a === '--impl') o.impl = val().split(',')
    else if (a === '--quick') o.quick = true
    else if (a === '--write') o.write = true
    else if (a === '--json') o.json = val()
    else if (a === '--help' || a === '-h') { console.log(USAGE); process.exit(0) } else throw new Error(`unknown option ${a}`)
  }
  if (!Number.isInteger(o.runs) || o.runs < 1) throw new Error('--runs must be a positive integer')
  return o
}

function scenarios (opts) {
  const all = require('./scenarios')
  const unknown = (opts.only || []).filter((n) => !all.some((s) => s.name === n))
  if (unknown.length) throw new Error(`unknown scenario ${unknown.join(', ')}`)
  return all
    .filter((s) => !opts.only || opts.only.includes(s.name))
    .map(({ quick, ...s }) => (opts.quick ? { ...s, ...quick } : s))
}

function implementations (opts) {
  const unknown = (opts.impl || []).filter((n) => !IMPLS.some((i) => i.name === n))
  if (unknown.length) throw new Error(`unknown impl ${unknown.join(', ')}`)
  const chosen = IMPLS.filter((i) => !opts.impl || opts.impl.includes(i.name))
  const pkg = process.env.FORKFRIEND_PATH || path.join(__dirname, '..')
  const probe = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(pkg)})`], { encoding: 'utf8' })
  if (probe.status === 0) return chosen
  const first = (probe.stderr || '').split('\n').find((l) => /Error/.test(l)) || `exit ${probe.status}`
  console.error(`forkfriend does not load (${first.trim()}): running the baseline only`)
  return chosen.filter((i) => !i.addon)
}

/** All cores' time so far (/proc/stat, in ticks): idle (with iowait), stolen, total. */
function cpuTimes () {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number)
  return { idle: f[3] + (f[4] || 0), steal: f[7] || 0, total: f.reduce((a, b) => a + b, 0) }
}

/** The share of the time between two cpuTimes() spent on `field`. */
function share (a, b, field) {
  return b.total === a.total ? 0 : (b[field] - a[field]) / (b.total - a.total)
}

// Share of all cores busy over `ms`. Taken between runs, when none of our processes are
// running, so it is someone else's load.
async function busyFraction (ms) {
  const a = cpuTimes()
  await new Promise((resolve) => setTimeout(resolve, ms))
  return 1 - share(a, cpuTimes(), 'idle')
}

// A compiler or a test run on the other core would halve the workers' share:
// wait until no rustc/cargo runs and the machine is < 25% busy; at most 30 min
// in total per invocation, then time anyway and mark the runs `busy`.
// pgrep -x matches process names; -f would also match unrelated command lines
// that merely mention cargo paths.
let waitBudgetMs = 30 * 60 * 1000
async function waitForIdleMachine () {
  const building = () => spawnSync('pgrep', ['-x', 'rustc|cargo|cc1|ld'], { encoding: 'utf8' }).stdout.trim() !== ''
  let said = false
  for (;;) {
    const t = Date.now()
    const why = building() ? 'a build (rustc/cargo) is running' : (await busyFraction(500)) > 0.25 ? 'the machine is busy' : null
    if (!why) return false
    if (waitBudgetMs <= 0) {
      if (!said) console.error(`warning: ${why}; out of waiting time, timing anyway`)
      return true
    }
    if (!said) console.error(`${why}; waiting before timing...`)
    said = true
    await new Promise((resolve) => setTimeout(resolve, 2000))
    waitBudgetMs -= Date.now() - t
  }
}

/** Whether `taskset` (util-linux) can pin a run to CPUs here. */
let tasksetWorks = null
function canPin () {
  if (tasksetWorks === null) tasksetWorks = spawnSync('taskset', ['-c', '0', 'true']).status === 0
  return tasksetWorks
}

/** Runs one impl on one scenario in a fresh process; resolves to its result line. */
function runOne (impl, sc) {
  const file = path.join(__dirname, 'impls', `${impl}.js`)
  const argv = [process.execPath, file, JSON.stringify(sc)]
  // `cpus`: the run and the workers it starts (which inherit the affinity) on those CPUs.
  if (sc.cpus !== undefined && !canPin()) {
    return Promise.resolve({ impl, error: 'taskset is not available to pin the run to CPUs' })
  }
  if (sc.cpus !== undefined) argv.unshift('taskset', '-c', sc.cpus)
  // Own process group, so a hung run can be killed together with its workers.
  const child = spawn(argv[0], argv.slice(1), { detached: true, stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', (d) => { out += d })
  const limitMs = (sc.timeoutMs || 120000) + 30000
  const timer = setTimeout(() => {
    try { process.kill(-child.pid, 'SIGKILL') } catch { /* already gone */ }
  }, limitMs)
  return new Promise((resolve) => child.on('close', (code, signal) => {
    clearTimeout(timer)
    const line = out.trim().split('\n').pop()
    let res
    try { res = JSON.parse(line) } catch { res = { error: `no result (exit ${code ?? signal})` } }
    if (signal === 'SIGKILL') res.error = `killed after ${limitMs} ms`
    // Workers left behind by a crashed run would steal CPU from the next one.
    try { process.kill(-child.pid, 'SIGKILL') } catch { /* group empty */ }
    resolve({ impl, ...res })
  }))
}

async function main () {
  const opts = parseArgs(process.argv.slice(2))
  console.error(`socket limits: ${socketLimits()}`)
  const scs = scenarios(opts)
  const impls = implementations(opts)
  const all = []
  const sections = []
  for (const sc of scs) {
    const mine = impls.filter((i) => i.kinds.includes(sc.kind) && (!sc.impls || sc.impls.includes(i.name)))
    // Made before any run, so that no run pays for it (or counts it in its peak RSS).
    if (sc.kind === 'lines') require('./lib/lines').inputFile(sc)
    const byImpl = Object.fromEntries(mine.map((i) => [i.name, []]))
    for (let r = 1; r <= opts.runs; r++) {
      for (const impl of mine) {
        let res
        for (let attempt = 1; ; attempt++) {
          const busy = await waitForIdleMachine()
          const before = codeStamp()
          const times = cpuTimes()
          res = await runOne(impl.name, sc)
          // On a virtual machine, time the host gave to others while our vCPUs had work: it
          // delays wake-ups, so latency figures are only comparable at similar steal.
          res.stealPct = Math.round(1000 * share(times, cpuTimes(), 'steal')) / 10
          if (busy) res.busy = true
          if (impl.addon) res.build = before
          if (!impl.addon || codeStamp() === before || attempt === 3) break
          console.error(`[${sc.name}] ${impl.name} ${r}/${opts.runs}: the package changed during the run; repeating it`)
        }
        byImpl[impl.name].push(res)
        all.push({ run: r, ...res, scenario: sc.name })
        console.error(`[${sc.name}] ${impl.name} ${r}/${opts.runs}: ${table.brief(res)}`)
      }
    }
    const text = table.render(sc, byImpl)
    sections.push(text)
    console.log(`${text}\n`)
  }
  const growth = table.floodGrowth(all)
  if (growth) { sections.push(growth); console.log(`${growth}\n`) }
  if (opts.json) fs.writeFileSync(opts.json, `${all.map((r) => JSON.stringify(r)).join('\n')}\n`)
  const builds = new Set(all.map((r) => r.build).filter(Boolean))
  if (builds.size > 1) {
    const note = `**Warning:** the package was rebuilt during this run (${builds.size} versions measured); the figures mix them.`
    sections.unshift(note)
    console.error(note)
  }
  if (opts.write) writeResults(opts, sections)
  // Non-zero when any reply was lost, duplicated or wrong, or a run failed.
  process.exitCode = all.some((r) => r.error || r.lost || r.duplicated || r.invalid) ? 1 : 0
}

// Newest mtime of the package's code (addon binary, loader, JS shim): a
// change between the start and the end of a run means it measured a rebuild
// in progress (e.g. new JS against the old binary), so the run is repeated.
function codeStamp () {
  const root = process.env.FORKFRIEND_PATH || path.join(__dirname, '..')
  const files = []
  const add = (dir, test) => {
    try {
      for (const f of fs.readdirSync(dir)) if (test(f)) files.push(path.join(dir, f))
    } catch { /* no such dir */ }
  }
  add(root, (f) => f.endsWith('.node') || f.endsWith('.js'))
  add(path.join(root, 'lib'), (f) => f.endsWith('.js'))
  const times = files.map((f) => { try { return fs.statSync(f).mtimeMs } catch { return 0 } })
  return times.length ? new Date(Math.max(...times)).toISOString() : null
}

// Which code was measured: the commit (and whether the tree differed from it)
// and when the addon binary was built.
function buildInfo () {
  if (process.env.FORKFRIEND_PATH) return `FORKFRIEND_PATH=${process.env.FORKFRIEND_PATH}`
  const root = path.join(__dirname, '..')
  const git = (args) => spawnSync('git', args, { cwd: root, encoding: 'utf8' }).stdout.trim()
  const head = git(['rev-parse', '--short', 'HEAD']) || 'no commit'
  const dirty = git(['status', '--porcelain', '--untracked-files=no']) ? ' + uncommitted changes' : ''
  const node = fs.readdirSync(root).find((f) => f.endsWith('.node'))
  const built = node ? `, ${node} built ${fs.statSync(path.join(root, node)).mtime.toISOString()}` : ', no addon binary'
  return `git ${head}${dirty}${built}`
}

// A worker's socket room depends on these (the kernel caps a requested SO_SNDBUF at
// wmem_max; a stock kernel has 212992, this VM more), and so does how soon a saturated
// echo worker's replies overflow it: figures are comparable only at the same limits.
function socketLimits () {
  const read = (name) => {
    try {
      return fs.readFileSync(`/proc/sys/net/core/${name}`, 'utf8').trim()
    } catch {
      return 'unknown'
    }
  }
  return `net.core.wmem_max ${read('wmem_max')}, wmem_default ${read('wmem_default')}`
}

function writeResults (opts, sections) {
  const cpu = (fs.readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/) || [])[1]
  const head = [
    '# Benchmark results',
    '',
    `- date: ${new Date().toISOString()}`,
    `- node: ${process.version}`,
    `- cpu: ${cpu || 'unknown'}, ${os.cpus().length} cores`,
    `- socket limits: ${socketLimits()}`,
    `- forkfriend: ${buildInfo()}`,
    `- command: \`node bench/run.js ${process.argv.slice(2).join(' ')}\``,
    `- ${opts.runs} run(s) per impl and scenario, alternating; median (min–max); ` +
      '× = ratio of medians to the baseline; CPU is the manager process only;',
    '  bench/README.md says what each column measures.',
    ''
  ]
  fs.writeFileSync(path.join(__dirname, 'RESULTS.md'), `${head.join('\n')}\n${sections.join('\n\n')}\n`)
  console.error('wrote bench/RESULTS.md')
}

main().catch((e) => {
  console.error(e.message)
  console.error(USAGE)
  process.exit(2)
})
