'use strict'
// A forkfriend worker that looks a user up (here: makes a greeting) and answers after the
// message's `delay` ms, as a worker waiting on a database might. One answer per message,
// and with concurrency 1 (the manager's default) it holds one message at a time.

process.on('message', ({ name, delay = 0 }) => {
  setTimeout(() => process.send({ name, greeting: `Hello, ${name}!`, pid: process.pid }), delay)
})
