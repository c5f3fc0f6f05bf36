'use strict'
// Errors with stable `code`s, in the style of Node's own argument errors.

const { inspect } = require('node:util')

function describe (value) {
  if (value === null || value === undefined) return String(value)
  if (typeof value === 'function') return `function ${value.name || '<anonymous>'}`
  if (typeof value === 'object') return `an instance of ${value.constructor?.name ?? 'Object'}`
  return `type ${typeof value} (${inspect(value)})`
}

function withCode (err, code) {
  err.code = code
  return err
}

/** TypeError for an argument of the wrong type. */
function invalidArgType (name, expected, value) {
  return withCode(new TypeError(`The "${name}" argument must be ${expected}. Received ${describe(value)}`), 'ERR_INVALID_ARG_TYPE')
}

/** RangeError for an argument outside its range. */
function outOfRange (name, expected, value) {
  return withCode(new RangeError(`The value of "${name}" is out of range. It must be ${expected}. Received ${inspect(value)}`), 'ERR_OUT_OF_RANGE')
}

function stopped (what) {
  return withCode(new Error(`Cannot ${what}: the manager is stopped`), 'ERR_FORKFRIEND_STOPPED')
}

function unserializable (cause, format = 'JSON') {
  const err = withCode(new TypeError(`The message cannot be serialized to ${format}${cause ? `: ${cause.message}` : ''}`), 'ERR_FORKFRIEND_UNSERIALIZABLE')
  if (cause) err.cause = cause
  return err
}

/** An error reported by the core about a worker (`code` as the core named it). */
function workerError (code, message) {
  return withCode(new Error(message), code)
}

/** TypeError for an argument whose value is not acceptable (Node's ERR_INVALID_ARG_VALUE). */
function invalidArgValue (name, why, value) {
  return withCode(new TypeError(`The argument '${name}' ${why}. Received ${inspect(value)}`), 'ERR_INVALID_ARG_VALUE')
}

/** What Node's own APIs reject with when an AbortSignal fires. */
function abortError (signal) {
  const err = new Error('The operation was aborted', { cause: signal?.reason })
  err.name = 'AbortError'
  return withCode(err, 'ABORT_ERR')
}

function managerStopped () {
  return withCode(new Error('The manager stopped before the message was answered'), 'ERR_MANAGER_STOPPED')
}

function replyModeRequired () {
  return withCode(new Error('call() needs reply mode: create the manager with { reply: true } (or ordered: true)'), 'ERR_REPLY_MODE_REQUIRED')
}

// Reasons the core gives for a failed message (see failure_fields in src/binding.rs).
const DIED = 1
const TIMED_OUT = 2

/** The error of a message that failed for good in reply mode. */
function messageFailed (reason, exitCode, signal, maxRetries) {
  if (reason === DIED) {
    const how = signal ? `signal ${signal}` : `exit code ${exitCode}`
    const err = withCode(new Error(`The message was in flight on ${maxRetries + 1} workers that died (the last one by ${how})`), 'ERR_WORKER_DIED')
    err.exitCode = exitCode
    err.signal = signal
    return err
  }
  if (reason === TIMED_OUT) return withCode(new Error('The message was not answered in time'), 'ERR_CALL_TIMEOUT')
  return withCode(new Error('The script was removed before the message was answered'), 'ERR_SCRIPT_REMOVED')
}

module.exports = {
  invalidArgType,
  invalidArgValue,
  outOfRange,
  stopped,
  unserializable,
  workerError,
  withCode,
  abortError,
  managerStopped,
  replyModeRequired,
  messageFailed
}
