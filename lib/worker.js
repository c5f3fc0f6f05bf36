'use strict'
// Worker objects: what `worker` events, `get()` and `workers[script].process` hand out.
// They serve code written for ChildProcess without owning a libuv process handle.

const { EventEmitter } = require('node:events')
const { ChildProcess } = require('node:child_process')
const { invalidArgType, withCode } = require('./errors')
const { serialize } = require('./serialize')
const { encode } = require('./encode')
const { frame } = require('./advanced')

const { signalNumber, signalNames } = require('./signals')

class Worker extends EventEmitter {
  constructor (core, id, pool, pid, stdio) {
    super()
    this._core = core
    this._id = id
    this._pool = pool
    this.pid = pid
    this.connected = true
    this.killed = false
    this.exitCode = null
    this.signalCode = null
    this.spawnfile = pool.spec.execPath
    this.spawnargs = [pool.spec.execPath, ...pool.spec.execArgv, pool.spec.script, ...pool.spec.args]
    this.stdin = stdio[0]
    this.stdout = stdio[1]
    this.stderr = stdio[2]
    this.stdio = [stdio[0], stdio[1], stdio[2], null]
    /** Date.now() of the worker's `{__forkfriend:'pause'}`, 0 when it takes messages. */
    this.paused = 0
    /** True while messages sent straight to it wait for its channel. */
    this.buffering = false
  }

  /** Sends a message to this worker only. Returns false when it is backed up or gone. */
  send (message, ...rest) {
    const callback = typeof rest[rest.length - 1] === 'function' ? rest[rest.length - 1] : undefined
    const data = this._pool.advanced ? frame(message) : serialize(message)
    const state = this.connected ? this._submit(data) : -1
    if (state < 0) {
      const err = withCode(new Error('Channel closed'), 'ERR_IPC_CHANNEL_CLOSED')
      if (callback) process.nextTick(callback, err)
      else if (this.listenerCount('error') > 0) process.nextTick(() => this.emit('error', err))
      return false
    }
    if (callback) process.nextTick(callback, null)
    if (state === 0) this.buffering = true
    return state === 1
  }

  /**
   * Hands one JSON line (or, in an `advanced` pool, one frame) to the core for this
   * worker: -1 gone, 0 backed up, 1 ok.
   */
  _submit (data) {
    if (typeof data !== 'string') return this._core.submitToWorker(this._id, data, data.length)
    const { buffer, length } = encode(data)
    return this._core.submitToWorker(this._id, buffer, length)
  }

  /** Sends a signal (default SIGTERM). Returns whether it was delivered. */
  kill (signal) {
    const ok = this._core.signal(this._id, signalNumber(signal))
    if (ok) this.killed = true
    return ok
  }

  /** Closes this worker's channel; the manager then ends and replaces it. */
  disconnect () {
    if (!this.connected) {
      throw withCode(new Error('IPC channel is already disconnected'), 'ERR_IPC_DISCONNECTED')
    }
    this.connected = false
    this._core.disconnect(this._id)
    process.nextTick(() => this.emit('disconnect'))
  }

  // The manager keeps the event loop alive for its workers as a whole.
  ref () {}
  unref () {}

  spawn () {
    throw invalidArgType('worker', 'a ChildProcess started by child_process', this)
  }

  /** Called by the manager when the process is gone. */
  _exited (code, signal) {
    this.connected = false
    this.exitCode = code
    this.signalCode = signal
    this.emit('exit', code, signal)
    this.emit('close', code, signal)
  }
}

// `worker instanceof ChildProcess` holds, and ChildProcess helpers reach these objects.
Object.setPrototypeOf(Worker.prototype, ChildProcess.prototype)

module.exports = { Worker, signalNames }
