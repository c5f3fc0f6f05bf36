'use strict'
// Signal names and numbers, accepted as Node's own kill() accepts them.

const { constants: { signals } } = require('node:os')

const signalNames = Object.fromEntries(Object.entries(signals).map(([name, num]) => [num, name]))

/**
 * The number of `signal` ('SIGINT' or 2); `undefined` is SIGTERM. Anything else throws a
 * TypeError with code ERR_UNKNOWN_SIGNAL, naming `what` when given.
 */
function signalNumber (signal, what) {
  if (signal === undefined) return signals.SIGTERM
  if (typeof signal === 'number' && Number.isInteger(signal) && signalNames[signal]) return signal
  if (typeof signal === 'string' && Object.hasOwn(signals, signal)) return signals[signal]
  const err = new TypeError(`Unknown signal${what ? ` for "${what}"` : ''}: ${signal}`)
  err.code = 'ERR_UNKNOWN_SIGNAL'
  throw err
}

module.exports = { signalNumber, signalNames }
