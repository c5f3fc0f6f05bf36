'use strict'
// The command line's run: input lines -> manager -> answer lines, with progress, signals,
// failures and the exit status. Each piece has its own file; this one wires them together.

const fs = require('node:fs')
const path = require('node:path')
const forkfriend = require('../../index.js')
const { parse, UsageError, USAGE, HELP } = require('./args')
const { openInput, lineSplitter } = require('./lines')
const { AnswerWriter } = require('./output')
const { Progress } = require('./progress')
const { summary } = require('./summary')
const { onInterrupt, EXIT_STATUS } = require('./signals')

const IGNORE_SIGINT = path.join(__dirname, 'ignore-sigint.js')
const OUTPUT_CLOSED = 141 // 128 + SIGPIPE, what a shell shows for a writer cut off by `head`
// A script that crashed this many times in a row before anything was answered never works.
const GIVE_UP_CRASHES = 5

function preview (message, json) {
  const text = typeof message === 'string' && !json ? message : JSON.stringify(message)
  return text.length > 80 ? `${text.slice(0, 77)}...` : text
}

/**
 * Runs the command line `argv` (without node and the program's path) and resolves with the
 * exit status. `io` is `{ stdin, stdout, stderr }` (the process's by default).
 */
async function main (argv, io = process) {
  const { stdin, stdout, stderr } = io
  let opts
  try {
    opts = parse(argv)
  } catch (err) {
    if (!(err instanceof UsageError)) throw err
    stderr.write(`forkfriend: ${err.message}\n${USAGE}\nTry 'forkfriend --help' for more.\n`)
    return 2
  }
  if (opts.help) {
    stdout.write(`${HELP}\n`)
    return 0
  }
  if (opts.version) {
    stdout.write(`${require('../../package.json').version}\n`)
    return 0
  }
  const script = path.resolve(opts.script)
  if (!isFile(script)) {
    stderr.write(`forkfriend: cannot find the worker script '${opts.script}'\n${USAGE}\n`)
    return 2
  }
  let input
  let dest
  try {
    input = openInput(opts.input, stdin)
  } catch (err) {
    stderr.write(`forkfriend: cannot read the input: ${err.message}\n`)
    return 2
  }
  try {
    dest = opts.output === undefined ? stdout : fs.createWriteStream(null, { fd: fs.openSync(opts.output, 'w') })
  } catch (err) {
    if (input.stream !== stdin) input.stream.destroy()
    stderr.write(`forkfriend: cannot write the output: ${err.message}\n`)
    return 2
  }
  return run(opts, script, input, dest, stderr)
}

function isFile (file) {
  try {
    return fs.statSync(file).isFile()
  } catch {
    return false
  }
}

async function run (opts, script, input, dest, stderr) {
  const started = Date.now()
  const manager = forkfriend({
    reply: opts.reply,
    ordered: opts.ordered,
    concurrency: opts.concurrency,
    maxRetries: opts.retries,
    timeout: opts.timeout,
    // Workers' own console.log goes to stderr: stdout carries the answers only.
    fork: { execArgv: [...process.execArgv, '--require', IGNORE_SIGINT], stdio: ['ignore', 'pipe', 'inherit'] }
  })
  let failed = 0
  let badLines = 0
  let spawned = 0
  let outcome = null // why the run ended early: a signal, the output closing, an error
  let progress = null
  const log = (text) => (progress ? progress.log(text) : stderr.write(`${text}\n`))

  const splitter = lineSplitter({
    json: opts.json,
    onBadLine (n, why) {
      badLines++
      log(`forkfriend: line ${n} is not JSON (${why})`)
    }
  })
  const writer = new AnswerWriter(dest, { json: opts.json })

  manager.on('worker', (s, a, worker) => {
    spawned++
    if (worker.stdout) worker.stdout.pipe(stderr, { end: false })
  })
  manager.on('failed', (err, message) => {
    failed++
    log(`forkfriend: a message failed (${err.code}): ${preview(message, opts.json)}`)
  })
  manager.on('worker-respawn', (s, delay, crashes) => {
    if (crashes >= GIVE_UP_CRASHES && writer.answers === 0 && !outcome) {
      log(`forkfriend: the worker script crashed ${crashes} times in a row before answering anything; giving up`)
      endNow(1)
    }
  })
  manager.on('error', (err) => {
    log(`forkfriend: ${err.message}`)
    endNow(1)
  })

  let inputStopped = false
  function stopInput () {
    if (inputStopped) return
    inputStopped = true
    splitter.unpipe(manager)
    input.stream.unpipe(splitter)
    input.stream.destroy()
    if (!manager.writableEnded) manager.end()
  }
  function endNow (status) {
    outcome = outcome ?? status
    stopInput()
    manager.stop()
  }

  const removeSignals = onInterrupt({
    graceful (signal) {
      outcome = outcome ?? EXIT_STATUS[signal]
      log(`forkfriend: ${signal}: reading no more input, finishing what is in flight (${signal} again stops at once)`)
      stopInput()
    },
    now (signal) {
      endNow(EXIT_STATUS[signal])
    }
  })
  dest.on('error', (err) => {
    if (err.code !== 'EPIPE') log(`forkfriend: cannot write the output: ${err.message}`)
    endNow(err.code === 'EPIPE' ? OUTPUT_CLOSED : 1)
  })
  input.stream.on('error', (err) => {
    log(`forkfriend: cannot read the input: ${err.message}`)
    outcome = outcome ?? 1
    stopInput()
  })

  if (opts.progress ?? stderr.isTTY === true) {
    progress = new Progress(stderr, () => sample(), { force: opts.progress === true })
  }
  function sample () {
    const answered = writer.answers
    const s = {
      read: manager.stats.messages + badLines,
      answered,
      workers: manager.get(script)?.length ?? 0,
      restarts: Math.max(0, spawned - opts.workers),
      failed: failed + badLines
    }
    if (input.size !== undefined) {
      // Lines answered of the lines read, times the share of the input read.
      const read = Math.max(1, splitter.lines)
      const share = input.size === 0 || splitter.writableFinished ? 1 : Math.min(1, splitter.chars / input.size)
      s.fraction = Math.min(1, (answered / read) * share)
    }
    return s
  }

  manager.add(script, opts.args, opts.workers)
  input.stream.pipe(splitter).pipe(manager).pipe(writer)
  await new Promise((resolve) => writer.on('finish', resolve))
  await manager.close() // every worker has exited
  await flushed(dest)
  removeSignals()
  if (progress) progress.stop()

  const read = manager.stats.messages + badLines
  const failures = failed + badLines
  if (opts.stats) {
    const run = { read, answered: writer.answers, failed: failures, badLines, wallMs: Date.now() - started, restarts: Math.max(0, spawned - opts.workers) }
    stderr.write(`${summary(run, manager.getStats())}\n`)
  }
  if (failures > 0 && outcome !== OUTPUT_CLOSED) stderr.write(`forkfriend: ${failures} of ${read} messages failed\n`)
  if (outcome !== null) return outcome
  return failures > 0 ? 1 : 0
}

/** Resolves once everything written to `dest` has left the process. */
function flushed (dest) {
  if (dest.destroyed || dest.writableEnded) return Promise.resolve()
  if (dest instanceof fs.WriteStream) {
    return new Promise((resolve) => {
      dest.once('close', resolve)
      dest.end()
    })
  }
  return new Promise((resolve) => dest.write('', () => resolve()))
}

module.exports = { main }
