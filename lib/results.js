'use strict'
// Parses a batch of worker output in one JSON.parse; falls back line by line only when a
// worker sent something that is not JSON.

/** Marks an entry that was not valid JSON (the raw text is kept for the error). */
class InvalidLine {
  constructor (text) {
    this.text = text
  }
}

/**
 * `pieces` are JSON array texts, "[" + lines joined by "\n," + "]" (no line contains a raw
 * newline), together holding `count` entries. Returns exactly `count` entries, in order.
 */
function parseBatch (pieces, count) {
  try {
    const parsed = pieces.length === 1 ? JSON.parse(pieces[0]) : [].concat(...pieces.map((p) => JSON.parse(p)))
    // A line such as `1,2` parses as two entries: then the lines are taken one by one.
    if (parsed.length === count) return parsed
  } catch {}
  const out = []
  for (const piece of pieces) {
    const lines = piece.slice(1, -1).split('\n')
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
