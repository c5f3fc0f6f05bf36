'use strict'
// Progress on stderr: one line, redrawn five times a second, cleared at the end. The drawing
// (cursor, line clearing, width, ETA, the non-terminal fallback) is cli-progress's; this file
// only says what the line shows. Messages logged meanwhile (bad lines, failures) go above it.

const cliProgress = require('cli-progress')

const REDRAW_MS = 200
const RATE_WINDOW = 5 // redraws the rate is averaged over (1 s)

function count (n) {
  return n.toLocaleString('en-US')
}

function rateText (perSec) {
  if (perSec >= 1e6) return `${(perSec / 1e6).toFixed(2)}M/s`
  if (perSec >= 1e4) return `${(perSec / 1e3).toFixed(1)}k/s`
  return `${Math.round(perSec)}/s`
}

function clock (seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--'
  const s = Math.round(seconds)
  const h = Math.floor(s / 3600)
  const mm = String(Math.floor((s % 3600) / 60)).padStart(2, '0')
  const ss = String(s % 60).padStart(2, '0')
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`
}

/** The text of the progress line, from the numbers `sample()` gives. */
function formatLine (s) {
  const parts = []
  if (s.fraction !== undefined) {
    const bar = '#'.repeat(Math.round(s.fraction * 20)).padEnd(20, '.')
    parts.push(`[${bar}] ${Math.floor(s.fraction * 100)}% ETA ${clock(s.eta)}`)
  }
  parts.push(`read ${count(s.read)}`, `answered ${count(s.answered)}`, rateText(s.rate),
    `workers ${s.workers}`, `restarts ${s.restarts}`, `failed ${s.failed}`)
  return parts.join(' | ')
}

class Progress {
  /**
   * `sample()` returns `{ read, answered, workers, restarts, failed, fraction? }`; `fraction`
   * (0..1) is known only when the input size is. `force`: draw on a stream that is not a
   * terminal too (one line every two seconds, as cli-progress does there).
   */
  constructor (stream, sample, { force = false } = {}) {
    this._sample = sample
    this._history = []
    this._bars = new cliProgress.MultiBar({
      stream,
      fps: 1000 / REDRAW_MS,
      clearOnComplete: true,
      hideCursor: true,
      noTTYOutput: force,
      notTTYSchedule: 2000,
      format: (options, params, payload) => formatLine(payload)
    })
    this._bar = this._bars.create(1, 0, this._numbers())
    this._timer = setInterval(() => this._bar.update(0, this._numbers()), REDRAW_MS)
    this._timer.unref()
  }

  _numbers () {
    const s = this._sample()
    const now = Date.now()
    this._history.push({ now, answered: s.answered })
    if (this._history.length > RATE_WINDOW + 1) this._history.shift()
    const first = this._history[0]
    const dt = (now - first.now) / 1000
    const rate = dt > 0 ? (s.answered - first.answered) / dt : 0
    const eta = s.fraction !== undefined && s.fraction > 0 && rate > 0
      ? (s.answered / s.fraction - s.answered) / rate
      : undefined
    return { ...s, rate, eta }
  }

  /** Prints `text` (one line) above the progress line. */
  log (text) {
    this._bars.log(`${text}\n`)
  }

  /** Draws what is logged, then clears the line for good. */
  stop () {
    clearInterval(this._timer)
    this._bar.update(0, this._numbers())
    this._bars.update()
    this._bars.stop()
  }
}

module.exports = { Progress, formatLine }
