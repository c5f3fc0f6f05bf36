'use strict'
// Parses a batch of worker output: one JSON.parse per JSON array text of results; long
// strings come decoded by the core. Falls back line by line only when a worker sent
// something that is not JSON.

/** Marks an entry that was not valid JSON (the raw text is kept for the error). */
class InvalidLine {
  constructor (text) {
    this.text = text
  }
}

// `kinds[i]`, what part i is (see `takeResults()` in src/binding.rs):
/** JSON array text of one or more results. */
const ARRAY = 0
/** One string result, decoded by the core. */
const STRING = 1
/** The JSON text of one result whose long string values the core took out (null in their place). */
const SKELETON = 2
/** After a skeleton: the key (or array index) of a value taken out; the value is the next part. */
const KEY = 3

/**
 * `parts` of the kinds above hold `count` entries (array texts are "[" + lines joined by
 * "\n," + "]"; no line contains a raw newline). Returns exactly `count` entries, in order.
 */
function parseBatch (parts, kinds, count) {
  try {
    const parsed = parts.length === 1 && kinds[0] === ARRAY ? JSON.parse(parts[0]) : parseParts(parts, kinds, false)
    // A line such as `1,2` parses as two entries: then the lines are taken one by one.
    if (parsed.length === count) return parsed
  } catch {}
  return parseParts(parts, kinds, true)
}

/** Every entry of `parts`; `lineByLine` parses array texts a line at a time (no throw). */
function parseParts (parts, kinds, lineByLine) {
  let out = []
  for (let p = 0; p < parts.length; p++) {
    const kind = kinds[p]
    if (kind === STRING) {
      out.push(parts[p])
    } else if (kind === SKELETON) {
      const value = lineByLine ? parseLine(parts[p]) : JSON.parse(parts[p])
      // (`kinds` is shared and longer than `parts`: what lies past them is stale.)
      for (; p + 2 < parts.length && kinds[p + 1] === KEY; p += 2) {
        if (!(value instanceof InvalidLine)) value[parts[p + 1]] = parts[p + 2]
      }
      out.push(value)
    } else if (lineByLine) {
      const lines = parts[p].slice(1, -1).split('\n')
      for (let i = 0; i < lines.length; i++) out.push(parseLine(i === 0 ? lines[i] : lines[i].slice(1)))
    } else {
      const entries = JSON.parse(parts[p])
      out = out.length === 0 ? entries : out.concat(entries)
    }
  }
  return out
}

function parseLine (line) {
  try {
    return JSON.parse(line)
  } catch {
    return new InvalidLine(line)
  }
}

module.exports = { parseBatch, InvalidLine }
