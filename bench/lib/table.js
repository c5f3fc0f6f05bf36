'use strict'
// Markdown tables of run.js: one per scenario, a row per impl, medians with
// min–max over the runs and the ratio of medians to the baseline.
const { median } = require('./common')

const num = (x, d) => (x == null || Number.isNaN(x) ? '–' : x.toFixed(d))
const rate = (x) => (x == null ? '–' : x >= 1000 ? `${(x / 1000).toFixed(1)}k` : String(Math.round(x)))

/** One column: median (min–max) of a numeric field, plus the × baseline ratio. */
function stat (runs, field, fmt, base) {
  const xs = runs.map((r) => r[field]).filter((x) => typeof x === 'number')
  if (!xs.length) return ['–', '–']
  const m = median(xs)
  const cell = xs.length > 1 ? `${fmt(m)} (${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))})` : fmt(m)
  const b = base && median(base.map((r) => r[field]).filter((x) => typeof x === 'number'))
  return [cell, b ? `${(m / b).toFixed(2)}×` : '–']
}

const sum = (runs, f) => runs.reduce((a, r) => a + (r[f] || 0), 0)

function columns (sc) {
  if (sc.kind === 'latency') {
    const ms = (x) => num(x, 3)
    return [
      ['p50 ms', 'p50Ms', ms],
      ['p90 ms', 'p90Ms', ms],
      ['p99 ms', 'p99Ms', ms],
      ['max ms', 'maxMs', ms],
      ['CPU µs/msg', 'cpuUsPerMsg', (x) => num(x, 2)]
    ]
  }
  if (sc.kind !== 'throughput' && sc.kind !== 'lines') {
    return [
      ['ready ms', 'readyMs', (x) => num(x, 1)],
      ['spawned ms', 'spawnMs', (x) => num(x, 1)]
    ]
  }
  const cols = [
    ...(sc.kind === 'lines' ? [['job s', 'elapsedMs', (x) => num(x / 1000, 2)]] : []),
    ['msgs/s', 'msgsPerSec', rate],
    ['CPU µs/msg', 'cpuUsPerMsg', (x) => num(x, 2)],
    ['peak RSS MB', 'peakRssMB', (x) => num(x, 1)],
    ...(sc.kind === 'throughput' ? [['worker RSS MB', 'workerRssMB', (x) => num(x, 1)]] : [])
  ]
  if (sc.rssSampleAtMs) cols.push(['backlog RSS MB', 'backlogRssMB', (x) => num(x, 1)])
  return cols
}

function render (sc, byImpl) {
  const cols = columns(sc)
  const head = ['impl', ...cols.flatMap(([t]) => [t, '×']), 'steal %', 'lost/dup/bad', 'failed runs']
  const lines = [`### ${sc.name}${describe(sc)}`, '', `| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`]
  const notes = []
  for (const [impl, runs] of Object.entries(byImpl)) {
    const ok = runs.filter((r) => !r.error)
    const base = impl === 'baseline' ? null : (byImpl.baseline || []).filter((r) => !r.error)
    const cells = cols.flatMap(([, f, fmt]) => stat(ok, f, fmt, base))
    cells.push(stat(ok, 'stealPct', (x) => num(x, 1), null)[0])
    const bad = `${sum(runs, 'lost')}/${sum(runs, 'duplicated')}/${sum(runs, 'invalid')}`
    lines.push(`| ${impl} | ${cells.join(' | ')} | ${['throughput', 'lines', 'latency'].includes(sc.kind) ? bad : '–'} | ${runs.length - ok.length}/${runs.length} |`)
    for (const r of runs) if (r.error) notes.push(`- ${impl}: ${r.error.split('\n')[0]}`)
    const busy = runs.filter((r) => r.busy).length
    if (busy) notes.push(`- ${impl}: ${busy} run(s) timed while the machine was busy with other work`)
    for (const r of runs) {
      if (r.dropped || r.workerExits || r.workerErrors || r.leftover || (r.errors && r.errors.length)) {
        notes.push(`- ${impl}: dropped ${r.dropped || 0}, worker exits ${r.workerExits || 0}, ` +
          `worker errors ${r.workerErrors || 0}, leftover workers ${r.leftover || 0}` +
          `${r.errors && r.errors.length ? `, errors: ${r.errors.join('; ')}` : ''}`)
      }
    }
  }
  const compared = compare(sc, byImpl)
  if (compared) notes.unshift(compared)
  return lines.concat(notes.length ? ['', ...new Set(notes)] : []).join('\n')
}

/** `sc.compare = [a, b]`: a's medians over b's (time per job, CPU, peak RSS). */
function compare (sc, byImpl) {
  if (!sc.compare) return null
  const [a, b] = sc.compare.map((name) => (byImpl[name] || []).filter((r) => !r.error))
  if (!a || !b || !a.length || !b.length) return null
  const ratio = (f) => {
    const x = median(a.map((r) => r[f]))
    const y = median(b.map((r) => r[f]))
    return x && y ? `${(x / y).toFixed(2)}×` : '–'
  }
  return `- ${sc.compare[0]} ÷ ${sc.compare[1]}: time ${ratio('elapsedMs')}, CPU/msg ${ratio('cpuUsPerMsg')}, peak RSS ${ratio('peakRssMB')}`
}

function describe (sc) {
  if (sc.kind === 'startup') return ` — ${sc.workers} workers, median of ${sc.iterations} per run`
  if (sc.kind === 'respawn') return ` — SIGKILL → replacement answers, median of ${sc.iterations} per run`
  if (sc.kind === 'lines') return ` — ${sc.count} lines × ${sc.size} B, file → ${sc.workers} × ${sc.worker}.js → file, whole job timed`
  if (sc.kind === 'latency') {
    const load = sc.mode === 'pingpong' ? 'one in flight' : sc.mode === 'rate' ? `${sc.rate} msgs/s offered` : 'saturated'
    const pinned = sc.cpus !== undefined ? `, pinned to CPU ${sc.cpus}` : ''
    return ` — round trip, ${load}, ${sc.count - sc.warmup} timed × ${sc.size} B, ${sc.workers} × ${sc.worker}.js${pinned}`
  }
  const args = sc.args && sc.args.length ? ` ${sc.args.join(' ')}` : ''
  return ` — ${sc.count} × ${sc.size} B, ${sc.workers} × ${sc.worker}.js${args}`
}

/** The bounded-memory check: RSS at 1M messages over RSS at 100k, per impl. */
function floodGrowth (all) {
  const pick = (name, impl, f) => median(all.filter((r) => r.scenario === name && r.impl === impl && !r.error)
    .map((r) => r[f]).filter((x) => typeof x === 'number'))
  const impls = [...new Set(all.filter((r) => r.scenario === 'flood-1m').map((r) => r.impl))]
  const rows = impls.map((impl) => {
    const ratio = (f) => {
      const a = pick('flood-100k', impl, f)
      const b = pick('flood-1m', impl, f)
      return a && b ? `${(b / a).toFixed(2)}×` : '–'
    }
    return `| ${impl} | ${ratio('backlogRssMB')} | ${ratio('peakRssMB')} |`
  })
  if (!rows.length || !all.some((r) => r.scenario === 'flood-100k')) return null
  return ['### flood growth — RSS at 1M messages ÷ RSS at 100k (1.00× = bounded)', '',
    '| impl | backlog RSS | peak RSS |', '|---|---|---|', ...rows].join('\n')
}

const steal = (r) => (r.stealPct ? `, steal ${r.stealPct}%` : '')

/** One progress line per run, for stderr. */
function brief (r) {
  if (r.error) return `ERROR ${r.error.split('\n')[0]}`
  if (r.readyMs !== undefined) return `ready ${r.readyMs} ms, spawned ${r.spawnMs} ms`
  if (r.p50Ms !== undefined) {
    return `p50 ${r.p50Ms} p90 ${r.p90Ms} p99 ${r.p99Ms} max ${r.maxMs} ms, ${r.cpuUsPerMsg} µs/msg, lost ${r.lost}, dup ${r.duplicated}${steal(r)}`
  }
  return `${r.msgsPerSec} msg/s, ${r.cpuUsPerMsg} µs/msg, ${r.peakRssMB} MB` +
    `${r.backlogRssMB !== undefined ? ` (backlog ${r.backlogRssMB} MB)` : ''}, lost ${r.lost}, dup ${r.duplicated}${steal(r)}`
}

module.exports = { render, brief, floodGrowth }
