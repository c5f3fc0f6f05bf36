'use strict'
// An ordinary worker: it gets { name, data } with `data` a Buffer, and answers with a
// Buffer, a Set, a BigInt and a Date. Only the advanced serialization carries these.
const { createHash } = require('node:crypto')

process.on('message', ({ name, data }) => {
  process.send({
    name,
    digest: createHash('sha256').update(data).digest(),
    distinct: new Set(data),
    bits: BigInt(data.length) * 8n,
    checkedAt: new Date()
  })
})
