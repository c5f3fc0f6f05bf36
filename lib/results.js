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
 * `text` is "[" + lines joined by "\n," + "]" (no line contains a raw newline).
 * Returns exactly `count` entries.
 */
function parseBatch (text, count) {
  if (!text) return []
  try {
    const parsed = JSON.parse(text)
    if (parsed.length === count) return parsed
  } catch {}
  const lines = text.slice(1, -1).split('\n')
  const out = new Array(lines.length)
  for (let i = 0; i < lines.length; i++) {
    const line = i === 0 ? lines[i] : lines[i].slice(1)
    try {
      out[i] = JSON.parse(line)
    } catch {
      out[i] = new InvalidLine(line)
    }
  }
  return out
}

module.exports = { parseBatch, InvalidLine }
