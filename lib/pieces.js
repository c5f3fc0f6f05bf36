'use strict'
// A message as pieces of JSON text with its long strings left raw for the core to escape:
// `[json, string, json, string, ..., json]` (strings at the odd indices). The core writes
// each string as `JSON.stringify` would (see `expand_strings` in src/wire/framing.rs), so
// V8's stringifier, whose cost grows with the string (~24 µs for 16 KiB on Node 20, more for
// strings built by concatenation), never sees them. A string message is `['', s, '']`; an
// object or array with long string values is its JSON text with those values cut out.

const { serialize } = require('./serialize')

/**
 * A string this long is escaped by the core (shorter ones cost less in V8 than the extra
 * piece), if it is well-formed: lone surrogates, which UTF-8 cannot carry, stay with V8.
 */
const STRING_CHARS = 256
/** A string value inside an object or array is cut out from this length. */
const VALUE_CHARS = 1024

/** Stands in for a value that is cut out; found again in the JSON text by its quoted form. */
const HOLE = '\u0000forkfriend\u0001'
const HOLE_JSON = JSON.stringify(HOLE)

/** Objects without long values in a row before the next ones are left to V8 unexamined. */
const MAX_SKIP = 64

function isLongString (value, chars) {
  return typeof value === 'string' && value.length >= chars && value.isWellFormed()
}

/**
 * Splits messages into pieces. Examining an object costs ~0.05 µs, so after an object
 * without long values the next 1, 3, 7, ... (at most MAX_SKIP) go to V8 unexamined, and an
 * object with long values makes it examine every object again. Skipping only costs speed.
 */
class Splitter {
  constructor () {
    this.skip = 0 // objects to leave unexamined after the next miss
    this.left = 0 // objects still to leave unexamined
  }

  /** `message`'s pieces, or null when it goes to V8 whole. May throw as serialize() does. */
  pieces (message) {
    if (typeof message === 'string') return isLongString(message, STRING_CHARS) ? ['', message, ''] : null
    if (typeof message !== 'object' || message === null) return null
    if (this.left > 0) {
      this.left--
      return null
    }
    const pieces = valuePieces(message)
    if (pieces === null) {
      this.skip = Math.min(MAX_SKIP, this.skip * 2 + 1)
      this.left = this.skip
    } else {
      this.skip = 0
    }
    return pieces
  }
}

/**
 * The pieces of a plain object or array with long string values at its top level, or null.
 * Each property is read once, as JSON.stringify reads it; a copy with HOLE in place of the
 * long strings is stringified by V8 (so nested values, toJSON and the rest are V8's).
 */
function valuePieces (message) {
  let copy
  const cuts = [] // key (or index), long string, key, long string, ...
  if (Array.isArray(message)) {
    if (Object.getPrototypeOf(message) !== Array.prototype || message.toJSON !== undefined) return null
    const n = message.length
    copy = new Array(n)
    for (let i = 0; i < n; i++) place(copy, i, message[i], cuts)
  } else {
    const proto = Object.getPrototypeOf(message)
    if ((proto !== Object.prototype && proto !== null) || message.toJSON !== undefined) return null
    const keys = Object.keys(message)
    copy = {}
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]
      // Assigning it would set the copy's prototype, not a property.
      if (key === '__proto__') return null
      place(copy, key, message[key], cuts)
    }
  }
  if (cuts.length === 0) return null
  const text = serialize(copy)
  const pieces = holesAt(text, cuts)
  if (pieces !== null) return pieces
  // Some other value is HOLE's text itself: the copy gets its strings back.
  for (let i = 0; i < cuts.length; i += 2) copy[cuts[i]] = cuts[i + 1]
  return [serialize(copy)]
}

/** Sets `copy[key]` to `value`, or to HOLE for a long string, noted in `cuts`. */
function place (copy, key, value, cuts) {
  if (isLongString(value, VALUE_CHARS)) {
    copy[key] = HOLE
    cuts.push(key, value)
  } else {
    copy[key] = value
  }
}

/** `text` cut at each HOLE into pieces around the strings of `cuts`, or null unless it holds exactly those. */
function holesAt (text, cuts) {
  const pieces = []
  let from = 0
  for (let i = 1; i < cuts.length; i += 2) {
    const at = text.indexOf(HOLE_JSON, from)
    if (at < 0) return null
    pieces.push(text.slice(from, at), cuts[i])
    from = at + HOLE_JSON.length
  }
  if (text.indexOf(HOLE_JSON, from) >= 0) return null
  pieces.push(text.slice(from))
  return pieces
}

/** Characters of the JSON text of `pieces` before the core's escapes. */
function piecesChars (pieces) {
  let n = pieces.length - 1 // two quotes per string
  for (let i = 0; i < pieces.length; i++) n += pieces[i].length
  return n
}

module.exports = { Splitter, piecesChars }
