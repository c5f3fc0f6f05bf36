'use strict'
// UTF-8 encoding of outgoing JSON text into one reused buffer. Node's own encoder is several
// times faster than Node-API's string conversion (a 16 KB text: ~2 µs against ~20 µs on the
// bench machine). The core copies the bytes before its call returns, so the buffer is free
// again at once; JS is single-threaded, so one buffer serves every manager.

/** Largest buffer kept for reuse; longer texts get a buffer of their own. */
const KEEP_BYTES = 4 << 20

// Buffer#utf8Write is what Buffer#write(text, 0) ends in, minus its argument parsing (about
// half the time for a 16 KB text); it exists in every Node version we support.
const writeUtf8 = typeof Buffer.prototype.utf8Write === 'function'
  ? (buf, text) => buf.utf8Write(text, 0)
  : (buf, text) => buf.write(text, 0)

const encoded = { buffer: Buffer.allocUnsafe(64 << 10), length: 0 }
let staging = encoded.buffer

/** Encodes `text`; the bytes are encoded.buffer[0, encoded.length) until the next call. */
function encode (text) {
  let buf = staging
  // A UTF-16 code unit takes at most 3 bytes in UTF-8.
  if (text.length * 3 > buf.length) {
    const need = Buffer.byteLength(text)
    if (need > buf.length) {
      if (need > KEEP_BYTES) {
        buf = Buffer.allocUnsafe(need)
      } else {
        let size = buf.length
        while (size < need) size *= 2
        buf = staging = Buffer.allocUnsafe(size)
      }
    }
  }
  encoded.buffer = buf
  encoded.length = writeUtf8(buf, text)
  return encoded
}

module.exports = { encode }
