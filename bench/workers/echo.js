'use strict'
// Echo worker: replies with the message unchanged. An ordinary Node worker,
// exactly what a forkfriend 0.0.7 user would have written.
process.on('message', (m) => process.send(m))
