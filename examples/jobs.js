'use strict'
// Slow jobs with workers that take one at a time (see workers/one-at-a-time.js), then a
// graceful close(): it waits for every answer before it ends the workers.
//
//   node examples/jobs.js
//
// Answers go to stdout, the workers' comings and goings to stderr.

const path = require('node:path')
const { setTimeout: sleep } = require('node:timers/promises')
const forkfriend = require('..') // in your app: require('forkfriend')

const JOBS = 40
const script = path.join(__dirname, 'workers', 'one-at-a-time.js')

async function main () {
  // At the end of input, a worker counts as done once it has read all its jobs and has
  // sent nothing for endQuietMs (default 100). These workers keep jobs of their own
  // (`waiting`), so allow a longer silence between two answers.
  const manager = forkfriend({ endQuietMs: 500 })
  manager.on('worker', (script, args, worker) => console.error(`worker ${worker.pid} started`))
  manager.on('worker-exit', (code, script, args, worker) => {
    console.error(`worker ${worker.pid} exited with code ${code}`)
  })
  let answers = 0
  manager.on('message', (answer) => {
    answers++
    console.log(`job ${answer.id}: ${answer.square} (worker ${answer.pid})`)
  })

  manager.add(script, 2)
  // A new job every 8 ms, faster than two workers at 20 ms a job can keep up with.
  // Jobs wait in the manager while both workers are paused; none is dropped as long as
  // no more than maxQueue (default 1000) are waiting.
  for (let id = 1; id <= JOBS; id++) {
    manager.send({ id, n: id })
    await sleep(8)
  }

  // Delivers every queued job, waits for the answers, then ends the workers.
  await manager.close()
  console.error(`done: ${answers} answers to ${JOBS} jobs`)
  if (answers !== JOBS) process.exitCode = 1
}

main().catch((err) => {
  console.error(err)
  process.exitCode = 1
})
