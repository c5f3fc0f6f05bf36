'use strict'
// Reply mode with the send API: call() returns a promise of the message's own answer.
//
//   node examples/calls.js
//
// The answers go to stdout; a call that takes too long fails with ERR_CALL_TIMEOUT.

const path = require('node:path')
const forkfriend = require('..') // in your app: require('forkfriend')

async function main () {
  const manager = forkfriend({ reply: true, timeout: 5000 })
  manager.add(path.join(__dirname, 'workers', 'lookup.js'), 2)

  // Each promise gets the answer to its own message, whichever worker took it.
  const names = ['Ada', 'Grace', 'Linus']
  const answers = await Promise.all(names.map((name) => manager.call({ name })))
  for (const { name, greeting } of answers) console.log(`${name}: ${greeting}`)

  // This one would take 10 s: its own timeout fails it after 200 ms, and the stuck worker is
  // replaced.
  try {
    await manager.call({ name: 'Slow', delay: 10000 }, { timeout: 200 })
  } catch (err) {
    console.log(`Slow: ${err.code}`)
  }

  // Exact end: close() resolves once every message is answered and the workers have exited.
  await manager.close()
}

main()
