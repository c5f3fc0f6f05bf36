'use strict'
// Custom balancing: every event of one user goes to the same worker, because the
// workers keep per-user state (see workers/tally.js).
//
//   node examples/sticky.js

const path = require('node:path')
const forkfriend = require('..') // in your app: require('forkfriend')

const WORKERS = 3
const tally = path.join(__dirname, 'workers', 'tally.js')
const users = ['alice', 'bob', 'carol', 'dave', 'erin']
const events = []
for (let i = 0; i < 30; i++) events.push({ user: users[(i * 7) % users.length], seq: i })

function hash (text) {
  let h = 0
  for (const c of text) h = (h * 31 + c.charCodeAt(0)) >>> 0
  return h
}

const friend = forkfriend()

// Replaces the default balancer (least recently used) for this manager. It is given the
// workers that can take a message now, and returns the one that gets it.
friend.balance = function (workers, message) {
  return workers[hash(message.user) % workers.length]
}

const last = {} // user -> { count, pid } of the latest answer
let answers = 0
friend.on('message', ({ user, count, pid }) => {
  if (last[user] && last[user].pid !== pid) console.error(`${user} moved to another worker`)
  last[user] = { count, pid }
  if (++answers < events.length) return
  for (const user of users) console.log(`${user}: ${last[user].count} events, counted by worker ${last[user].pid}`)
  friend.stop()
})

// The choice above depends on the set of workers, so wait until all of them are up.
// (Messages sent while no worker is up wait in a queue, and the default balancer hands
// them out later.)
let up = 0
friend.on('worker', () => {
  if (++up === WORKERS) for (const event of events) friend.send(event)
})
friend.add(tally, WORKERS)
