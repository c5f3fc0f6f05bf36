'use strict'
// The promises of call(): one per sequence number the core gave the message, settled by its
// answer, its failure, an abort, or the manager stopping. Nothing else is kept here.

const { abortError } = require('./errors')

class Calls {
  constructor (cancel) {
    this._pending = new Map() // seq -> { resolve, reject, signal, onAbort }
    this._cancel = cancel // tells the core to forget a message
  }

  get size () {
    return this._pending.size
  }

  has (seq) {
    return this._pending.has(seq)
  }

  /** A promise for the answer to message `seq`. */
  add (seq, signal) {
    return new Promise((resolve, reject) => {
      const entry = { resolve, reject, signal, onAbort: null }
      if (signal) {
        entry.onAbort = () => {
          this._cancel(seq)
          this._take(seq)
          reject(abortError(signal))
        }
        signal.addEventListener('abort', entry.onAbort, { once: true })
      }
      this._pending.set(seq, entry)
    })
  }

  resolve (seq, value) {
    this._take(seq)?.resolve(value)
  }

  reject (seq, err) {
    this._take(seq)?.reject(err)
  }

  /** Rejects every pending call with a fresh error from `makeError`. */
  rejectAll (makeError) {
    for (const seq of [...this._pending.keys()]) this.reject(seq, makeError())
  }

  _take (seq) {
    const entry = this._pending.get(seq)
    if (!entry) return undefined
    this._pending.delete(seq)
    if (entry.signal) entry.signal.removeEventListener('abort', entry.onAbort)
    return entry
  }
}

module.exports = { Calls }
