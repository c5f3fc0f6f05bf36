'use strict'
// UTF-8 encoding of outgoing JSON text straight into Buffers. Node's own encoder is several
// times faster than Node-API's string conversion (a 16 KB text: ~2 µs against ~20 µs on the
// bench machine), and long lines are encoded as they are queued, never joined into a string.
// The core copies the bytes before its call returns, so the buffers are reused at once.

/** Largest buffer kept for reuse by encode(); longer texts get a buffer of their own. */
const KEEP_BYTES = 4 << 20

// Buffer#utf8Write is what Buffer#write ends in, minus its argument parsing (about half the
// time for a 16 KB text); it exists in every Node version we support.
const writeUtf8 = typeof Buffer.prototype.utf8Write === 'function'
  ? (buf, text, at) => buf.utf8Write(text, at)
  : (buf, text, at) => buf.write(text, at)

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
  let buf = staging
  // A UTF-16 code unit takes at most 3 bytes in UTF-8.
  if (text.length * 3 > buf.length) {
    const need = Buffer.byteLength(text)
    if (need > buf.length) {
      if (need > KEEP_BYTES) buf = Buffer.allocUnsafe(need)
      else buf = staging = Buffer.allocUnsafe(grown(buf.length, need))
    }
  }
  encoded.buffer = buf
  encoded.length = writeUtf8(buf, text, 0)
  return encoded
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
  }

  _encodeShort () {
    const lines = this.short
    if (lines.length === 0) return
    this.short = []
    this._append(lines.length === 1 ? lines[0] : lines.join('\n'))
  }

  _append (text) {
    const need = this.length + 1 + text.length * 3
    if (need > this.buffer.length) {
      const bigger = Buffer.allocUnsafe(grown(this.buffer.length, need))
      this.buffer.copy(bigger, 0, 0, this.length)
      this.buffer = bigger
    }
    if (this.length > 0) this.buffer[this.length++] = 10 // '\n'
    this.length += writeUtf8(this.buffer, text, this.length)
  }
}

module.exports = { encode, LineBatch }
