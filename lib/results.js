'use strict'
// Parses a batch of worker output in one JSON.parse; falls back line by line only when a
// worker sent something that is not JSON.

/** Marks an entry that was not valid JSON (the raw text is kept for the error). */
class InvalidLine {
  constructor (text) {
    this.text = text
  }
}

/** `kinds[i]` of a part that is one string result, decoded by the core. */
const STRING = 1

/**
 * `parts` are JSON array texts, "[" + lines joined by "\n," + "]" (no line contains a raw
 * newline), and, where `kinds[i]` is STRING, string results the core decoded; together they
 * hold `count` entries. Returns exactly `count` entries, in order.
 */
function parseBatch (parts, kinds, count) {
  try {
    let parsed
    if (parts.length === 1) parsed = kinds[0] === STRING ? [parts[0]] : JSON.parse(parts[0])
    else parsed = [].concat(...parts.map((p, i) => kinds[i] === STRING ? [p] : JSON.parse(p)))
    // A line such as `1,2` parses as two entries: then the lines are taken one by one.
    if (parsed.length === count) return parsed
  } catch {}
  const out = []
  for (let p = 0; p < parts.length; p++) {
    if (kinds[p] === STRING) {
      out.push(parts[p])
      continue
    }
    const lines = parts[p].slice(1, -1).split('\n')
    for (let i = 0; i < lines.length; i++) {
      const line = i === 0 ? lines[i] : lines[i].slice(1)
      try {
        out.push(JSON.parse(line))
      } catch {
        out.push(new InvalidLine(line))
      }
    }
  }
  return out
}

module.exports = { parseBatch, InvalidLine }
