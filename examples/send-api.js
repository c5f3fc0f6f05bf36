'use strict'
// The send API: no streams. Four greeter workers, names in with send(), greetings out as
// 'message' events, and stop() once every greeting is in.
//
//   node examples/send-api.js
//
// Greetings go to stdout, the workers' start-up lines to stderr.

const path = require('node:path')
const forkfriend = require('..') // in your app: require('forkfriend')

const greeter = path.join(__dirname, 'workers', 'greeter.js')
const names = ['Ada', 'Grace', 'Linus', 'Margaret', 'Ken', 'Barbara',
  'Dennis', 'Frances', 'Edsger', 'Radia', 'Donald', 'Sophie']

const friend = forkfriend()

// Three workers, each started as `node greeter.js Hello`...
friend.add(greeter, ['Hello'], 3)
// ...and one more. It gets the same args: the first ones given for a script are kept.
friend.add(greeter)

// 'worker' events come after add() returns, so listening here still sees all four.
friend.on('worker', (script, args, worker) => {
  console.error(`worker ${worker.pid} started: ${path.basename(script)} ${args.join(' ')}`)
})

let answers = 0
friend.on('message', (message, script, worker) => {
  console.log(`${message} (from worker ${worker.pid})`)
  if (++answers === names.length) {
    // All done: end the workers now, so the program can exit.
    friend.stop()
  }
})

// Names arrive one at a time, as work often does. send() queues a message and returns
// false when you should wait for 'drain' before sending more. Here that happens at
// once: no worker is up yet to take the first name.
let next = 0
function sendNext () {
  if (next === names.length) return
  if (friend.send(names[next++], greeter)) setTimeout(sendNext, 10)
  else friend.once('drain', sendNext)
}
sendNext()
