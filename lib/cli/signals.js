'use strict'
// SIGINT and SIGTERM: the first one asks for a graceful end (stop reading, finish what is in
// flight), a second one for an end at once. Either way the exit status says which signal it
// was (128 + its number).

const EXIT_STATUS = { SIGINT: 130, SIGTERM: 143 }

/**
 * Calls `graceful(signal)` on the first SIGINT/SIGTERM and `now(signal)` on the next one.
 * Returns a function that removes the handlers.
 */
function onInterrupt ({ graceful, now }) {
  let seen = 0
  const handler = (signal) => {
    seen++
    if (seen === 1) graceful(signal)
    else now(signal)
  }
  process.on('SIGINT', handler)
  process.on('SIGTERM', handler)
  return () => {
    process.off('SIGINT', handler)
    process.off('SIGTERM', handler)
  }
}

module.exports = { onInterrupt, EXIT_STATUS }
