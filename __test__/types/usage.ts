// Compiled (not run) by `npm run lint`: index.d.ts must accept the documented API.
import forkfriend = require('../..')
import { ChildProcess } from 'node:child_process'

const manager = forkfriend({
  respawnInterval: 100,
  maxQueue: 10,
  pausedWorkerTimeout: -1,
  lostInTheWoods: 1000,
  killTimeout: 2000,
  endQuietMs: 50,
  minUptime: 500,
  maxRespawnDelay: 5000,
  maxMessageBytes: 1 << 20,
  maxWorkerRss: 256 * 1024 * 1024,
  fork: { silent: true, execArgv: [], env: { A: '1' }, cwd: new URL('file:///tmp'), stdio: ['pipe', 'inherit', 'ignore', 'ipc'], killSignal: 'SIGINT', argv0: 'w', signal: new AbortController().signal }
})
manager.options = { execPath: process.execPath }
manager.options = { serialization: 'advanced' }
// @ts-expect-error: only 'json' and 'advanced'
manager.options = { serialization: 'xml' }
manager.add('w.js', ['-a', 1, true], 3).add('w.js').add(['a.js', 'b.js'], 2)
const ok: boolean = manager.send({ a: 1 }, 'w.js') && manager.send('to every pool')
manager.remove('w.js').remove('w.js', 2)
const workers: forkfriend.Worker[] | undefined = manager.get('w.js')
if (workers && workers[0]) {
  const w = workers[0]
  const child: ChildProcess = w
  w.send({ direct: true })
  w.kill('SIGKILL')
  manager.remove('w.js', w)
  manager.refork('w.js', w)
  void child.pid
  void w.paused
  void w.buffering
}
manager.refork('w.js')
manager.on('message', (message, script, worker) => { void message; void script.length; void worker.pid })
manager.on('worker', (script, args, worker) => { void args.length; void worker.pid })
manager.on('worker-exit', (code, script) => { void (code ?? 0); void script })
manager.on('worker-error', (error) => { void error })
manager.on('worker-respawn', (script, delayMs, crashes) => { void (delayMs + crashes) })
manager.on('drop', (script, message) => { void script; void message })
manager.on('drain', () => {})
const stream = manager.getWorkerStream('w.js')
if (stream) stream.on('data', () => {})
const stats: forkfriend.Stats = manager.getStats()
void (stats.messagesPerMs + stats.percentPaused + stats.pauses)
const picked: { id: number } | undefined = forkfriend.balance([{ id: 1 }, { id: 2 }])
manager.balance = (ws) => ws[0]
manager.filter = (ws) => ws.filter((w) => !w.paused)
const stopped: boolean = manager.stopped
const interval: number = manager.config.respawnInterval
async function shutdown (): Promise<void> {
  await manager.close()
  await manager[Symbol.asyncDispose]()
  manager.stop()
}
void ok; void picked; void stopped; void interval; void shutdown
const live: forkfriend.LiveStats = manager.stats
void (Date.now() - live.start + live.messages + live.length + live.paused + live.pauses + live.drains)
const backedUp: boolean = manager.paused || manager.ended
const streams: Record<string, import('node:stream').Readable> = manager.workerStreams
const firstArgs: forkfriend.Args = manager.workers['w.js'].args
void backedUp; void streams; void firstArgs

const replying = forkfriend({ ordered: true, reply: true, concurrency: 8, maxRetries: 5, timeout: 1000 })
async function ask (): Promise<void> {
  const answer: { n: number } = await replying.call<{ n: number }>({ n: 1 }, { script: 'w.js', timeout: 50, signal: AbortSignal.timeout(100) })
  const untyped = await replying.call('x')
  void answer.n; void untyped
}
replying.on('failed', (error, message, script) => { void error.code; void error.exitCode; void message; void script.length })
const rs = replying.getStats()
void ((rs.inFlight ?? 0) + (rs.retried ?? 0) + (rs.failed ?? 0) + (rs.timedOut ?? 0) + (rs.latency?.run.p99 ?? 0) + (rs.latency?.wait.max ?? 0))
const concurrency: number = replying.config.concurrency
const ordered: boolean = replying.config.ordered
void ask; void concurrency; void ordered
