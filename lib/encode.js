'use strict'
// UTF-8 encoding of outgoing messages straight into Buffers: JSON texts, and strings the
// core escapes into JSON itself (a string message skips JSON.stringify, whose cost grows
// with the string, and more so for strings built by concatenation or slicing). Node's own
// encoder is several times faster than Node-API's string conversion (a 16 KB text: ~2 µs
// against ~20 µs on the bench machine), and long lines are encoded as they are queued,
// never joined into a string. The core copies the bytes before its call returns, so the
// buffers are reused at once.

/** Largest buffer kept for reuse by encode(); longer texts get a buffer of their own. */
const KEEP_BYTES = 4 << 20

// Buffer#utf8Write is what Buffer#write ends in, minus its argument parsing (about half the
// time for a 16 KB text); it exists in every Node version we support.
const writeUtf8 = typeof Buffer.prototype.utf8Write === 'function'
  ? (buf, text, at) => buf.utf8Write(text, at)
  : (buf, text, at) => buf.write(text, at)

/** Starts a string message for the core to escape (see `STRING_MARK` in src/wire/framing.rs). */
const STRING_MARK = 1
const STRING_HEADER = 5

/**
 * A string message long enough for the core to escape it (shorter ones are joined into one
 * text with the other short lines, which costs less than a header each), if it is
 * well-formed: lone surrogates, which UTF-8 cannot carry, take JSON.stringify's path.
 */
const STRING_CHARS = 256

function coreEscapes (message) {
  return typeof message === 'string' && message.length >= STRING_CHARS && message.isWellFormed()
}

/** A size >= need: `size` doubled as often as needed. */
function grown (size, need) {
  while (size < need) size *= 2
  return size
}

const encoded = { buffer: Buffer.allocUnsafe(64 << 10), length: 0 }
let staging = encoded.buffer

/**
 * Encodes one `text`; the bytes are encoded.buffer[0, encoded.length) until the next call.
 * JS is single-threaded, so one buffer serves every manager.
 */
function encode (text) {
  const buf = stagingFor(text, 0)
  encoded.buffer = buf
  encoded.length = writeUtf8(buf, text, 0)
  return encoded
}

/** Encodes string message `text` for the core to escape, like encode(). */
function encodeString (text) {
  const buf = stagingFor(text, STRING_HEADER)
  encoded.buffer = buf
  encoded.length = writeString(buf, text, 0)
  return encoded
}

/** A buffer with room for `text` in UTF-8 and `extra` bytes. */
function stagingFor (text, extra) {
  let buf = staging
  // A UTF-16 code unit takes at most 3 bytes in UTF-8.
  if (extra + text.length * 3 > buf.length) {
    const need = extra + Buffer.byteLength(text)
    if (need > buf.length) {
      if (need > KEEP_BYTES) buf = Buffer.allocUnsafe(need)
      else buf = staging = Buffer.allocUnsafe(grown(buf.length, need))
    }
  }
  return buf
}

/** Writes string `text` at `buf[at]` with its header; returns the bytes written. */
function writeString (buf, text, at) {
  buf[at] = STRING_MARK
  const n = writeUtf8(buf, text, at + STRING_HEADER)
  buf.writeUInt32LE(n, at + 1)
  return STRING_HEADER + n
}

/**
 * A line this long is encoded into the batch buffer as it is added; shorter ones are joined
 * first (one join and one encoding call per batch cost less than a call per short line).
 */
const ENCODE_AT_ONCE = 1024

/**
 * Newline-separated lines for one crossing into the core, encoded without ever building
 * one string of the whole batch. Its buffer stays as large as the largest batch (a caller
 * bounds that).
 */
class LineBatch {
  constructor () {
    this.buffer = Buffer.allocUnsafe(64 << 10)
    this.length = 0 // bytes encoded so far
    this.short = [] // short lines not encoded yet
    this.count = 0 // lines
    this.chars = 0 // UTF-16 code units of the lines
    this.strings = false // whether some lines are strings for the core to escape
  }

  add (line) {
    if (line.length < ENCODE_AT_ONCE) {
      this.short.push(line)
    } else {
      this._encodeShort()
      this._append(line)
    }
    this.count++
    this.chars += line.length
  }

  /** Adds a string message for the core to escape (see coreEscapes()). */
  addString (text) {
    this._encodeShort()
    this._reserve(1 + STRING_HEADER + text.length * 3)
    if (this.length > 0) this.buffer[this.length++] = 10 // '\n'
    this.length += writeString(this.buffer, text, this.length)
    this.strings = true
    this.count++
    this.chars += text.length
  }

  /** Encodes what is left: the batch is then buffer[0, length). */
  seal () {
    this._encodeShort()
    return this
  }

  clear () {
    this.length = 0
    this.short = []
    this.count = 0
    this.chars = 0
    this.strings = false
  }

  _encodeShort () {
    const lines = this.short
    if (lines.length === 0) return
    this.short = []
    this._append(lines.length === 1 ? lines[0] : lines.join('\n'))
  }

  /** Makes room for `bytes` more. */
  _reserve (bytes) {
    const need = this.length + bytes
    if (need > this.buffer.length) {
      const bigger = Buffer.allocUnsafe(grown(this.buffer.length, need))
      this.buffer.copy(bigger, 0, 0, this.length)
      this.buffer = bigger
    }
  }

  _append (text) {
    this._reserve(1 + text.length * 3)
    if (this.length > 0) this.buffer[this.length++] = 10 // '\n'
    this.length += writeUtf8(this.buffer, text, this.length)
  }
}

module.exports = { encode, encodeString, coreEscapes, LineBatch }
