'use strict'
// forkfriend: a worker-process manager with a native core.
// `require('forkfriend')(config)` returns a manager; see README.md and index.d.ts.

const { Manager } = require('./lib/manager')
const { Worker } = require('./lib/worker')
const balance = require('./lib/balance')

/** Creates a manager (a Duplex stream in object mode). */
function forkfriend (config) {
  return new Manager(config)
}

forkfriend.Manager = Manager
forkfriend.Worker = Worker
forkfriend.balance = balance
forkfriend.forkfriend = forkfriend
forkfriend.default = forkfriend

module.exports = forkfriend
