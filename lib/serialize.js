'use strict'
// The JSON text of one message, exactly as Node's IPC channel would write it (minus "\n").

const { unserializable } = require('./errors')

function serialize (message) {
  let text
  try {
    text = JSON.stringify(message)
  } catch (cause) {
    throw unserializable(cause)
  }
  if (text === undefined) throw unserializable()
  return text
}

module.exports = { serialize }
