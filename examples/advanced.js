'use strict'
// serialization: 'advanced': Buffers, Maps, Sets, BigInts and Dates cross to the workers and
// back as they are, as with child_process.fork(script, { serialization: 'advanced' }).
//
//   node examples/advanced.js

const path = require('node:path')
const forkfriend = require('..') // in your app: require('forkfriend')

async function main () {
  const manager = forkfriend({ reply: true, fork: { serialization: 'advanced' } })
  manager.add(path.join(__dirname, 'workers', 'digest.js'), 2)

  const files = new Map([
    ['zeros', Buffer.alloc(1024)],
    ['greeting', Buffer.from('hello, advanced serialization')]
  ])
  for (const [name, data] of files) {
    const { digest, distinct, bits, checkedAt } = await manager.call({ name, data })
    const hex = digest.toString('hex').slice(0, 16)
    console.log(`${name}: ${bits} bits, ${distinct.size} distinct bytes, sha256 ${hex}...`)
    console.log(`  a ${digest.constructor.name}, a ${distinct.constructor.name}, a ${checkedAt.constructor.name}`)
  }
  await manager.close()
}

main()
