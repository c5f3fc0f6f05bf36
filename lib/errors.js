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

function unserializable (cause) {
  const err = withCode(new TypeError(`The message cannot be serialized to JSON${cause ? `: ${cause.message}` : ''}`), 'ERR_FORKFRIEND_UNSERIALIZABLE')
  if (cause) err.cause = cause
  return err
}

/** An error reported by the core about a worker (`code` as the core named it). */
function workerError (code, message) {
  return withCode(new Error(message), code)
}

module.exports = { invalidArgType, outOfRange, stopped, unserializable, workerError, withCode }
