'use strict'
// --stats: what the run did, printed on stderr at the end.

function ms (x) {
  return `${x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : Math.round(x)} ms`
}

/**
 * `run`: `{ read, answered, failed, badLines, wallMs, restarts }`; `stats`: the manager's
 * getStats() (its `latency` is there in reply mode only).
 */
function summary (run, stats) {
  const seconds = run.wallMs / 1000
  const rate = seconds > 0 ? Math.round(run.answered / seconds) : 0
  const lines = [
    'forkfriend: summary',
    `  messages read   ${run.read}`,
    `  answers written ${run.answered}`,
    `  failed          ${run.failed}${run.badLines ? ` (${run.badLines} bad input lines)` : ''}`,
    `  worker restarts ${run.restarts}`,
    `  wall time       ${seconds.toFixed(2)} s`,
    `  rate            ${rate} answers/s`
  ]
  if (stats.latency) {
    if (stats.retried) lines.push(`  redelivered     ${stats.retried}`)
    if (stats.timedOut) lines.push(`  timed out       ${stats.timedOut}`)
    for (const [name, what] of [['wait', 'queued'], ['run', 'in worker']]) {
      const p = stats.latency[name]
      lines.push(`  latency ${what.padEnd(9)} p50 ${ms(p.p50)}, p90 ${ms(p.p90)}, p99 ${ms(p.p99)}, max ${ms(p.max)}`)
    }
  }
  return lines.join('\n')
}

module.exports = { summary }
