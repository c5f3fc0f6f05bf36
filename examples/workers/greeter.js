'use strict'
// A forkfriend worker that greets every name it is sent. The greeting is its first
// argument: the manager starts it as `node greeter.js Hello`.

const greeting = process.argv[2] || 'Hi'

process.on('message', (name) => {
  process.send(`${greeting}, ${name}!`)
})
