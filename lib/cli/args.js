'use strict'
// The command line: `forkfriend [options] <script> [args...]`, parsed with node:util's
// parseArgs. Options end at the script (or at `--`): everything after it is the workers'.

const os = require('node:os')
const { parseArgs } = require('node:util')

const USAGE = 'Usage: forkfriend [options] <script> [args...]'

const HELP = `${USAGE}

Runs <script> in N worker processes and sends them the lines of the input, one message
per line. Each answer is written as one line of output. <args> reach every worker's
process.argv. Options come before the script; \`--\` ends them.

Input and output:
  -i, --input FILE     read lines from FILE instead of stdin (progress shows % and ETA)
  -o, --output FILE    write answers to FILE instead of stdout
      --json           parse each line as JSON; write every answer as JSON

Workers:
  -n, --workers N      number of workers (default: ${os.availableParallelism()}, the CPUs here)
      --reply          one answer per message: failed messages are counted and reported
      --ordered        write answers in input order (implies --reply)
      --concurrency N  messages in flight per worker (implies --reply; default 1)
      --retries N      deliveries after a worker died with a message (implies --reply; default 3)
      --timeout MS     fail a message not answered MS ms after it was read (implies --reply)

Reporting:
      --progress       show progress on stderr (default: when stderr is a terminal)
      --no-progress    never show progress
      --stats          print a summary on stderr at the end
  -h, --help           show this help
      --version        show the version

Exit status: 0 every message was handled, 1 some failed, 2 usage error,
130 interrupted (SIGINT), 143 terminated (SIGTERM), 141 output closed early.`

const OPTIONS = {
  input: { type: 'string', short: 'i' },
  output: { type: 'string', short: 'o' },
  json: { type: 'boolean' },
  workers: { type: 'string', short: 'n' },
  reply: { type: 'boolean' },
  ordered: { type: 'boolean' },
  concurrency: { type: 'string' },
  retries: { type: 'string' },
  timeout: { type: 'string' },
  progress: { type: 'boolean' },
  'no-progress': { type: 'boolean' },
  stats: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' }
}

/** A mistake in the command line: reported with the short usage, exit status 2. */
class UsageError extends Error {
  constructor (message) {
    super(message)
    this.name = 'UsageError'
    this.code = 'ERR_FORKFRIEND_USAGE'
  }
}

/** Where our options end: at the first positional (the script) or at `--`. */
function optionsEnd (argv) {
  const { tokens } = parseArgs({ args: argv, options: OPTIONS, strict: false, allowPositionals: true, tokens: true })
  const end = tokens.find((t) => t.kind === 'positional' || t.kind === 'option-terminator')
  if (!end) return { ours: argv, rest: [] }
  const skip = end.kind === 'option-terminator' ? 1 : 0
  return { ours: argv.slice(0, end.index), rest: argv.slice(end.index + skip) }
}

function integer (values, name, min) {
  const text = values[name]
  if (text === undefined) return undefined
  const n = Number(text)
  if (text.trim() === '' || !Number.isInteger(n) || n < min) {
    throw new UsageError(`--${name} must be an integer >= ${min}, not '${text}'`)
  }
  return n
}

/** The last of --progress / --no-progress wins; undefined when neither is given. */
function progressChoice (tokens) {
  let choice
  for (const t of tokens) {
    if (t.kind !== 'option') continue
    if (t.name === 'progress') choice = true
    else if (t.name === 'no-progress') choice = false
  }
  return choice
}

/**
 * Parses `argv` (without node and the program) into what main.js runs. Throws UsageError.
 * Returns `{ help: true }` or `{ version: true }` when those were asked for.
 */
function parse (argv) {
  const { ours, rest } = optionsEnd(argv)
  let parsed
  try {
    parsed = parseArgs({ args: ours, options: OPTIONS, strict: true, allowPositionals: false, tokens: true })
  } catch (err) {
    throw new UsageError(err.message.split('\n')[0].replace(/\. To specify a positional.*$/, ''))
  }
  const { values, tokens } = parsed
  if (values.help) return { help: true }
  if (values.version) return { version: true }
  const [script, ...args] = rest
  if (script === undefined || script === '') throw new UsageError('no worker script given')
  const workers = integer(values, 'workers', 1) ?? os.availableParallelism()
  const concurrency = integer(values, 'concurrency', 1)
  const retries = integer(values, 'retries', 0)
  const timeout = integer(values, 'timeout', 1)
  const ordered = values.ordered === true
  const reply = values.reply === true || ordered || concurrency !== undefined || retries !== undefined || timeout !== undefined
  for (const name of ['input', 'output']) {
    if (values[name] === '') throw new UsageError(`--${name} needs a file name`)
  }
  return {
    script,
    args,
    input: values.input,
    output: values.output,
    json: values.json === true,
    workers,
    reply,
    ordered,
    concurrency,
    retries,
    timeout,
    progress: progressChoice(tokens),
    stats: values.stats === true
  }
}

module.exports = { parse, UsageError, USAGE, HELP }
