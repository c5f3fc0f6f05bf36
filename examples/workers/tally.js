'use strict'
// A forkfriend worker with state: it counts the events of each user it sees. The counts
// are only right if every event of a user comes to the same worker.

const counts = new Map()

process.on('message', ({ user }) => {
  const count = (counts.get(user) ?? 0) + 1
  counts.set(user, count)
  process.send({ user, count, pid: process.pid })
})
