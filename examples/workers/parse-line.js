'use strict'
// A forkfriend worker: it gets one log line per message, a string, and answers with the
// parsed line: one answer per message, in the order the messages came. It is a plain Node script; nothing here is specific to forkfriend.

const LINE = /^(\S+) (DEBUG|INFO|WARN|ERROR) +\[([\w-]+)\] (.*)$/
const REQUEST = /^(GET|POST|PUT|DELETE|PATCH) (\S+) (\d{3}) (\d+)ms$/

function parse (text) {
  const line = LINE.exec(text)
  // Not a log entry (for example a stack trace line under an ERROR).
  if (!line) return { level: null, text }
  const [, time, level, component, message] = line
  const result = { time, level, component, message }
  const request = REQUEST.exec(message)
  if (request) {
    result.method = request[1]
    result.path = request[2]
    result.status = Number(request[3])
    result.ms = Number(request[4])
  }
  return result
}

process.on('message', (text) => {
  process.send({ pid: process.pid, ...parse(text) })
})
