'use strict'
// Output: each answer on its own line, written in big chunks (one write per 64 KiB, or once
// per turn of the event loop when less is waiting) so that the output costs no syscall per
// line. The writable side holds back (and so holds back the manager) while the destination
// is full.

const { Writable } = require('node:stream')

const CHUNK_CHARS = 64 * 1024

class AnswerWriter extends Writable {
  /** `dest`: a writable byte stream (stdout or a file); `json`: every answer as JSON text. */
  constructor (dest, { json }) {
    super({ objectMode: true, highWaterMark: 1024 })
    this.dest = dest
    this.json = json
    this.answers = 0
    this._text = ''
    this._scheduled = false
    this._flushNow = () => {
      this._scheduled = false
      this._flush(null)
    }
  }

  _write (answer, encoding, callback) {
    this.answers++
    this._text += (typeof answer === 'string' && !this.json ? answer : JSON.stringify(answer)) + '\n'
    if (this._text.length >= CHUNK_CHARS) return this._flush(callback)
    if (!this._scheduled) {
      this._scheduled = true
      setImmediate(this._flushNow)
    }
    callback()
  }

  /** Writes what has gathered; `callback` runs once the destination has room again. */
  _flush (callback) {
    const text = this._text
    this._text = ''
    if (text === '' || this.dest.destroyed) return callback && callback()
    const room = this.dest.write(text)
    if (!callback) return
    if (room) callback()
    else this.dest.once('drain', callback)
  }

  _final (callback) {
    this._flush(null)
    callback()
  }
}

module.exports = { AnswerWriter }
