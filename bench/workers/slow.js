'use strict'
// Slow worker: busy-waits argv[2] ms (default 1) per message, then echoes.
// A synchronous wait keeps the event loop blocked, so the worker stops reading
// its channel and the backlog piles up on the manager's side, as with a real
// slow consumer.
//
// argv[3] (optional): only be slow for this many ms after the first message,
// then reply at echo speed. The flood scenarios use it so a large backlog
// builds up (the manager must hold or refuse it) without waiting 1 ms for
// each of a million messages.
const msPerMsg = Number(process.argv[2] || 1)
const slowForMs = process.argv[3] === undefined ? Infinity : Number(process.argv[3])
const waitNs = BigInt(Math.round(msPerMsg * 1e6))
let slowUntil = null

process.on('message', (m) => {
  const now = process.hrtime.bigint()
  if (slowUntil === null) slowUntil = now + BigInt(Math.round(Math.min(slowForMs, 1e12) * 1e6))
  if (now < slowUntil) {
    const end = now + waitNs
    while (process.hrtime.bigint() < end) { /* spin: this worker is slow on purpose */ }
  }
  process.send(m)
})
