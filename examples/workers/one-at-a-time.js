'use strict'
// A forkfriend worker that works on one job at a time and uses the control messages:
//   {__forkfriend: 'pause'}  hold my messages, I am busy
//   {__forkfriend: 'drain'}  I can take messages again
//   {__forkfriend: 'end'}    replace me with a fresh worker
// Control messages are read by the manager; they never show up as results.

const JOBS_PER_WORKER = 5 // then ask for a fresh process, as a leaky worker might

const waiting = [] // jobs that arrived before the manager saw the pause
let busy = false
let done = 0

process.on('message', (job) => {
  waiting.push(job)
  if (!busy) {
    busy = true
    process.send({ __forkfriend: 'pause' })
    work()
  }
})

function work () {
  const job = waiting.shift()
  // Stand-in for slow asynchronous work (a request, a query, a file).
  setTimeout(() => {
    process.send({ id: job.id, square: job.n * job.n, pid: process.pid })
    done++
    // Timers run before I/O: setImmediate lets jobs that arrived meanwhile in first.
    setImmediate(next)
  }, 20)
}

function next () {
  if (waiting.length > 0) return work()
  busy = false
  if (done >= JOBS_PER_WORKER) {
    // Still paused, and every job sent before the manager saw the pause has arrived
    // and is done: nothing is on its way here, so ending this process loses nothing.
    process.send({ __forkfriend: 'end' })
  } else {
    process.send({ __forkfriend: 'drain' })
  }
}
