'use strict'
// Validation of the manager's config and of fork options, before anything reaches the core.

const { fileURLToPath } = require('node:url')
const { invalidArgType, invalidArgValue, outOfRange } = require('./errors')
const { signalNumber } = require('./signals')

const DEFAULTS = Object.freeze({
  respawnInterval: 500,
  maxQueue: 1000,
  pausedWorkerTimeout: -1,
  lostInTheWoods: -1,
  killTimeout: 5000,
  endQuietMs: 100,
  minUptime: 1000,
  maxRespawnDelay: 10000,
  maxMessageBytes: 64 * 1024 * 1024,
  maxWorkerRss: 0,
  reply: false,
  ordered: false,
  concurrency: 1,
  maxRetries: 3,
  timeout: -1
})

// Tuned internally (see bench/); not part of the documented config.
const WORKER_HIGH_WATER = 128 * 1024
const RESULTS_HIGH_WATER = 1024 * 1024

function number (config, name, { min = 0, integer = false, allowMinusOne = false } = {}) {
  const value = config[name]
  if (value === undefined || value === null) return DEFAULTS[name]
  if (typeof value !== 'number' || Number.isNaN(value)) throw invalidArgType(`config.${name}`, 'of type number', value)
  if (allowMinusOne && value === -1) return -1
  if (value < min || !Number.isFinite(value) || (integer && !Number.isInteger(value))) {
    const what = `${integer ? 'an integer' : 'a finite number'} >= ${min}${allowMinusOne ? ' (or -1)' : ''}`
    throw outOfRange(`config.${name}`, what, value)
  }
  return value
}

function boolean (config, name) {
  const value = config[name]
  if (value === undefined || value === null) return DEFAULTS[name]
  if (typeof value !== 'boolean') throw invalidArgType(`config.${name}`, 'of type boolean', value)
  return value
}

/** Returns a complete, validated config object (what `manager.config` shows). */
function normalizeConfig (config) {
  if (config === undefined || config === null) config = {}
  if (typeof config !== 'object') throw invalidArgType('config', 'of type object', config)
  const pausedKey = config.pausedWorkerTimeout !== undefined ? 'pausedWorkerTimeout' : 'lostInTheWoods'
  const paused = number(config, pausedKey, { allowMinusOne: true })
  if (config.fork !== undefined && (config.fork === null || typeof config.fork !== 'object')) {
    throw invalidArgType('config.fork', 'of type object', config.fork)
  }
  const ordered = boolean(config, 'ordered')
  const timeout = config.timeout === undefined || config.timeout === null ? -1 : number(config, 'timeout', { min: 1 })
  return {
    respawnInterval: number(config, 'respawnInterval'),
    maxQueue: number(config, 'maxQueue', { integer: true }),
    pausedWorkerTimeout: paused,
    lostInTheWoods: paused,
    killTimeout: number(config, 'killTimeout'),
    endQuietMs: number(config, 'endQuietMs'),
    minUptime: number(config, 'minUptime'),
    maxRespawnDelay: number(config, 'maxRespawnDelay'),
    maxMessageBytes: number(config, 'maxMessageBytes', { integer: true, min: 1 }),
    maxWorkerRss: number(config, 'maxWorkerRss', { integer: true }),
    // Reply mode (`ordered` implies it); `timeout` -1: none.
    reply: boolean(config, 'reply') || ordered,
    ordered,
    concurrency: number(config, 'concurrency', { integer: true, min: 1 }),
    maxRetries: number(config, 'maxRetries', { integer: true }),
    timeout,
    fork: config.fork ? { ...config.fork } : {}
  }
}

/** The numbers the core takes. */
function coreConfig (c) {
  return {
    respawnInterval: c.respawnInterval,
    minUptime: c.minUptime,
    maxRespawnDelay: c.maxRespawnDelay,
    maxQueue: c.maxQueue,
    pausedWorkerTimeout: c.pausedWorkerTimeout,
    killTimeout: c.killTimeout,
    endQuiet: c.endQuietMs,
    maxMessageBytes: c.maxMessageBytes,
    maxWorkerRss: c.maxWorkerRss,
    workerHighWater: WORKER_HIGH_WATER,
    resultsHighWater: RESULTS_HIGH_WATER,
    reply: c.reply,
    ordered: c.ordered,
    concurrency: c.concurrency,
    maxRetries: c.maxRetries,
    timeout: c.timeout
  }
}

const STDIO_MODES = new Set(['inherit', 'pipe', 'ignore'])

function stdioModes (options) {
  const { stdio, silent } = options
  if (stdio === undefined || stdio === null) return silent ? ['pipe', 'pipe', 'pipe'] : ['inherit', 'inherit', 'inherit']
  if (typeof stdio === 'string') {
    if (!STDIO_MODES.has(stdio)) throw invalidArgType('options.stdio', 'one of "inherit", "pipe", "ignore" or an array of them', stdio)
    return [stdio, stdio, stdio]
  }
  if (!Array.isArray(stdio)) throw invalidArgType('options.stdio', 'a string or an array', stdio)
  const modes = stdio.filter((s) => s !== 'ipc').slice(0, 3)
  while (modes.length < 3) modes.push('inherit')
  for (const m of modes) {
    if (!STDIO_MODES.has(m)) throw invalidArgType('options.stdio', 'an array of "inherit", "pipe", "ignore" (and "ipc")', stdio)
  }
  return modes
}

function stringArray (name, value) {
  if (value === undefined || value === null) return undefined
  if (!Array.isArray(value)) throw invalidArgType(name, 'an array', value)
  return value.map((v, i) => {
    if (typeof v === 'string') return v
    if (typeof v === 'number' || typeof v === 'boolean') return String(v)
    throw invalidArgType(`${name}[${i}]`, 'a string or a number', v)
  })
}

const SERIALIZATIONS = ['json', 'advanced']

function serialization (value) {
  if (value === undefined || value === null) return 'json'
  if (!SERIALIZATIONS.includes(value)) throw invalidArgValue('options.serialization', "must be one of: 'json', 'advanced'", value)
  return value
}

/** Everything the core needs to start workers of `script`, as `child_process.fork` would. */
function poolSpec (script, args, options) {
  const env = options.env ?? process.env
  if (typeof env !== 'object') throw invalidArgType('options.env', 'of type object', env)
  const flatEnv = []
  for (const [k, v] of Object.entries(env)) {
    if (v !== undefined) flatEnv.push(k, String(v))
  }
  const execPath = options.execPath ?? process.execPath
  if (typeof execPath !== 'string') throw invalidArgType('options.execPath', 'of type string', execPath)
  const cwd = options.cwd ?? undefined
  if (cwd !== undefined && typeof cwd !== 'string' && !(cwd instanceof URL)) throw invalidArgType('options.cwd', 'of type string', cwd)
  const argv0 = options.argv0 ?? undefined
  if (argv0 !== undefined && typeof argv0 !== 'string') throw invalidArgType('options.argv0', 'of type string', argv0)
  const signal = options.signal ?? undefined
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw invalidArgType('options.signal', 'an AbortSignal', signal)
  for (const id of ['uid', 'gid']) {
    if (options[id] !== undefined && !Number.isInteger(options[id])) throw invalidArgType(`options.${id}`, 'an integer', options[id])
  }
  return {
    execPath,
    argv0,
    execArgv: stringArray('options.execArgv', options.execArgv) ?? process.execArgv,
    script,
    args,
    cwd: cwd instanceof URL ? fileURLToPath(cwd) : cwd,
    env: flatEnv,
    stdio: stdioModes(options),
    uid: options.uid,
    gid: options.gid,
    killSignal: signalNumber(options.killSignal ?? undefined, 'options.killSignal'),
    serialization: serialization(options.serialization)
  }
}

module.exports = { DEFAULTS, normalizeConfig, coreConfig, poolSpec, stringArray }
