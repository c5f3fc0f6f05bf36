'use strict'
// UTF-8 encoding of outgoing messages straight into Buffers: JSON texts, and the pieces of
// messages whose long strings the core escapes into JSON itself (see lib/pieces.js). Node's own
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

/** Starts a string for the core to escape (see `STRING_MARK` in src/wire/framing.rs). */
const STRING_MARK = 1
const STRING_HEADER = 5

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
  // A UTF-16 code unit takes at most 3 bytes in UTF-8.
  const buf = stagingFor(text.length * 3, Buffer.byteLength, text)
  encoded.buffer = buf
  encoded.length = writeUtf8(buf, text, 0)
  return encoded
}

/** Encodes a message's `pieces` (see lib/pieces.js) for the core, like encode(). */
function encodePieces (pieces) {
  const buf = stagingFor(piecesBound(pieces), piecesBytes, pieces)
  encoded.buffer = buf
  encoded.length = writePieces(buf, pieces, 0)
  return encoded
}

/** A buffer with room for `bytes(what)` bytes, of which `bound` is an upper bound. */
function stagingFor (bound, bytes, what) {
  let buf = staging
  if (bound > buf.length) {
    const need = bytes(what)
    if (need > buf.length) {
      if (need > KEEP_BYTES) buf = Buffer.allocUnsafe(need)
      else buf = staging = Buffer.allocUnsafe(grown(buf.length, need))
    }
  }
  return buf
}

/** At least the bytes writePieces() takes for `pieces`. */
function piecesBound (pieces) {
  let n = 0
  for (let i = 0; i < pieces.length; i++) n += pieces[i].length * 3
  return n + (pieces.length >> 1) * STRING_HEADER
}

/** Exactly the bytes writePieces() takes for `pieces`. */
function piecesBytes (pieces) {
  let n = 0
  for (let i = 0; i < pieces.length; i++) n += Buffer.byteLength(pieces[i])
  return n + (pieces.length >> 1) * STRING_HEADER
}

/**
 * Writes `pieces` at `buf[at]`: JSON text as it is, each string behind its header; returns
 * the bytes written.
 */
function writePieces (buf, pieces, at) {
  let n = at
  for (let i = 0; i < pieces.length; i++) {
    if (i % 2 === 0) {
      if (pieces[i].length > 0) n += writeUtf8(buf, pieces[i], n)
      continue
    }
    buf[n] = STRING_MARK
    const len = writeUtf8(buf, pieces[i], n + STRING_HEADER)
    buf.writeUInt32LE(len, n + 1)
    n += STRING_HEADER + len
  }
  return n - at
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

  /** Adds a message as pieces with strings for the core to escape (see lib/pieces.js). */
  addPieces (pieces, chars) {
    this._encodeShort()
    this._reserve(1 + piecesBound(pieces))
    if (this.length > 0) this.buffer[this.length++] = 10 // '\n'
    this.length += writePieces(this.buffer, pieces, this.length)
    this.strings = true
    this.count++
    this.chars += chars
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

module.exports = { encode, encodePieces, LineBatch }
