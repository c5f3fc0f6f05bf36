// Type definitions for forkfriend (hand-written; the generated binding.d.ts types only the
// internal native class).

import { Duplex, Readable } from 'node:stream'
import { ChildProcess } from 'node:child_process'

declare namespace forkfriend {
  /** How a worker is started; the same choices as `child_process.fork`. */
  interface ForkOptions {
    /** Node binary for workers. Default: `process.execPath`. */
    execPath?: string
    /** Node flags for workers. Default: `process.execArgv`. */
    execArgv?: string[]
    /** Working directory of workers. Default: the manager's. */
    cwd?: string | URL
    /** Environment of workers. Default: `process.env`. */
    env?: NodeJS.ProcessEnv
    /** Pipe the worker's stdin/stdout/stderr to `worker.stdin/stdout/stderr` instead of sharing the manager's. */
    silent?: boolean
    /** `'inherit' | 'pipe' | 'ignore'` for all three streams, or one per stream (an `'ipc'` entry is ignored). */
    stdio?: StdioMode | Array<StdioMode | 'ipc'>
    uid?: number
    gid?: number
    /**
     * How messages cross the worker's channel, as in `child_process.fork`. `'json'` (default);
     * `'advanced'`: V8's structured clone (Buffer, typed arrays, Map, Set, Date, BigInt,
     * RegExp, Error, undefined, circular objects survive). Per pool; workers need no change.
     */
    serialization?: 'json' | 'advanced'
  }

  type StdioMode = 'inherit' | 'pipe' | 'ignore'

  /** Worker args as given to `add()`. */
  type Args = Array<string | number | boolean>

  interface Config {
    /** Minimum milliseconds between (re)spawns of one script. Default 500. */
    respawnInterval?: number
    /** Messages held per script while no worker can take them; past it the oldest is dropped ('drop'). Default 1000. */
    maxQueue?: number
    /** A worker paused by its own `{__forkfriend: 'pause'}` longer than this (ms) is recycled. -1 (default): never. */
    pausedWorkerTimeout?: number
    /** Alias of `pausedWorkerTimeout`. */
    lostInTheWoods?: number
    /** Milliseconds between SIGTERM and SIGKILL when the manager ends a worker. Default 5000. */
    killTimeout?: number
    /** End of input: a worker's output must be quiet this long (ms) before its channel is closed. Default 100. */
    endQuietMs?: number
    /** A worker that dies sooner than this (ms) after it started counts as a crash. Default 1000. */
    minUptime?: number
    /** Cap (ms) of the exponential respawn backoff of a crash loop. Default 10000. */
    maxRespawnDelay?: number
    /** Longest message (bytes) a worker may send; longer ones are a 'worker-error' and the worker is recycled. Default 64 MiB. */
    maxMessageBytes?: number
    /** A worker whose resident memory exceeds this many bytes is retired gracefully: a replacement starts, it gets no new messages and is closed once it answered ('worker-error' ERR_WORKER_MEMORY_LIMIT). 0 (default): no limit. */
    maxWorkerRss?: number
    /** Reply mode: each message gets exactly one answer, tied to it (needed for `call()`). Default false. */
    reply?: boolean
    /** Results leave the readable side in input order (bounded reorder window). Implies `reply`. Default false. */
    ordered?: boolean
    /** Reply mode: most messages in flight on one worker (an integer >= 1). Default 1. */
    concurrency?: number
    /** Reply mode: resends of a message whose worker died; it fails (ERR_WORKER_DIED) after `maxRetries + 1` deaths. Default 3. */
    maxRetries?: number
    /** Reply mode: ms a message written to a worker may wait for its answer; then it fails (ERR_CALL_TIMEOUT) and the worker is replaced. Default none (-1 in `manager.config`). */
    timeout?: number
    /** Fork options for every worker (`manager.options`, set later, takes precedence). */
    fork?: ForkOptions
  }

  /** The config as the manager uses it (every key filled in). */
  interface ResolvedConfig extends Required<Omit<Config, 'fork'>> {
    fork: ForkOptions
  }

  interface Stats {
    /** Messages sent per millisecond since the manager was created. */
    messagesPerMs: number
    /** Serialized bytes sent per millisecond. */
    bytesPerMs: number
    /** Share of the elapsed time spent paused (workers backed up), 0-100. */
    percentPaused: number
    /** Milliseconds since the manager was created. */
    elapsed: number
    /** Milliseconds spent paused. */
    paused: number
    /** Number of 'pause' events. */
    pauses: number
    /** Number of 'drain' events. */
    drains: number
    /** Reply mode only: messages written to a worker and not answered yet. */
    inFlight?: number
    /** Reply mode only: messages sent again because their worker died. */
    retried?: number
    /** Reply mode only: messages that failed for good. */
    failed?: number
    /** Reply mode only: failed messages that timed out. */
    timedOut?: number
    /** Reply mode only: ms queued until written to a worker (`wait`), and written until answered (`run`). */
    latency?: { wait: Percentiles, run: Percentiles }
  }

  /** Latency percentiles in milliseconds, over the manager's life. */
  interface Percentiles {
    p50: number
    p90: number
    p99: number
    max: number
  }

  /** Options of `manager.call()`. */
  interface CallOptions {
    /** The script whose workers take the message; may be left out when the manager has one script. */
    script?: string
    /** ms to wait for the answer once written to a worker; overrides `config.timeout`. */
    timeout?: number
    /** Aborting it rejects the call with an AbortError (code ABORT_ERR). */
    signal?: AbortSignal
  }

  /** The error of a message that failed in reply mode. */
  interface MessageError extends Error {
    code: 'ERR_WORKER_DIED' | 'ERR_CALL_TIMEOUT' | 'ERR_SCRIPT_REMOVED'
    /** ERR_WORKER_DIED: exit code of the last worker that died with it (null if a signal ended it). */
    exitCode?: number | null
    /** ERR_WORKER_DIED: the signal that ended the last worker, or null. */
    signal?: string | null
  }

  /** `manager.stats`: the live counters 0.0.7 kept (`getStats()` derives its rates from them). */
  interface LiveStats {
    /** `Date.now()` when the manager was created. */
    start: number
    /** Messages accepted by `send()`/`write()`. */
    messages: number
    /** Characters of their JSON texts. */
    length: number
    /** Milliseconds spent backed up, added at each 'drain'. */
    paused: number
    /** Number of 'pause' events. */
    pauses: number
    /** Number of 'drain' events. */
    drains: number
  }

  /** A worker process. Serves code written for `ChildProcess` (`instanceof ChildProcess` holds). */
  interface Worker extends ChildProcess {
    readonly pid: number
    /** `Date.now()` of the worker's pause control message, 0 while it takes messages. */
    paused: number
    /** True while messages sent straight to it wait for its channel. */
    buffering: boolean
    /** Closes its channel; the manager then ends and replaces it. */
    disconnect (): void
  }

  interface WorkerPool {
    /** Live worker objects of the script. */
    process: Worker[]
    /** The args every worker of the script gets, as given to the first `add()` (numbers stay numbers; workers see strings). */
    args: Args
  }

  // `filter` is the manager's worker filter (0.0.7 API), not Readable's iterator helper;
  // `on` is re-declared below with the manager's events.
  interface Manager extends Omit<Duplex, 'filter' | 'on'> {
    readonly config: ResolvedConfig
    /** True once stop(), close() or end of input has finished. */
    readonly stopped: boolean
    readonly workers: Record<string, WorkerPool>
    /** Live counters, as 0.0.7 kept them. */
    readonly stats: LiveStats
    /** True while the workers are backed up (between 'pause' and 'drain'). */
    readonly paused: boolean
    /** True once input has ended or the manager stopped. */
    readonly ended: boolean
    /** The streams `getWorkerStream()` handed out, by script. */
    readonly workerStreams: Record<string, Readable>
    /** Fork options applied to scripts added from now on (0.0.7 style). */
    options?: ForkOptions

    /** Adds `n` (default 1) workers of `script`. The first `args` given for a script are used by all its workers. */
    add (script: string | string[], args?: Args, n?: number): this
    add (script: string | string[], n?: number): this
    /** Removes one worker, `n` workers, or the given worker, for good. Unknown script: no-op. */
    remove (script: string, which?: number | Worker): this
    /** The live workers of `script`. */
    get (script: string): Worker[] | undefined
    /**
     * Sends to one worker of `script`, or to one worker of every pool. Returns false when the
     * caller should wait for 'drain'. Messages that overflow `maxQueue` are reported ('drop')
     * before it returns. Throws a TypeError (code ERR_FORKFRIEND_UNSERIALIZABLE) for a message
     * JSON cannot encode. After `stop()` it returns false and emits 'drop', and never throws.
     */
    send (message: unknown, script?: string): boolean
    /**
     * Reply mode: a promise of the answer to `message`. Rejects with a MessageError, an
     * AbortError (ABORT_ERR) or ERR_MANAGER_STOPPED; throws ERR_REPLY_MODE_REQUIRED without reply mode.
     */
    call<T = any> (message: unknown, options?: CallOptions): Promise<T>
    /** Stops now: workers are ended, nothing respawns, queued messages are dropped ('drop'). Emits 'end'. */
    stop (): void
    /** Graceful: delivers everything queued, lets workers answer, then ends them. */
    close (): Promise<void>
    [Symbol.asyncDispose] (): Promise<void>
    /** Restarts every worker of `script`, or only `worker`; new pids, same pool size and args. */
    refork (script: string, worker?: Worker): this
    /** A readable stream of `script`'s results alone, or false for an unknown script. */
    getWorkerStream (script: string): Readable | false
    getStats (): Stats
    /** Picks the worker for a message among available ones; replace it for custom balancing. */
    balance (workers: Worker[], message: unknown): Worker | undefined
    /** Returns the workers that may take a message now; replaceable. */
    filter (workers: Worker[]): Worker[]

    on (event: 'message', listener: (message: any, script: string, worker: Worker) => void): this
    on (event: 'data', listener: (message: any) => void): this
    on (event: 'worker', listener: (script: string, args: Args, worker: Worker) => void): this
    on (event: 'worker-exit', listener: (code: number | null, script: string, args: Args, worker: Worker) => void): this
    on (event: 'worker-disconnect', listener: (script: string, args: Args, worker: Worker) => void): this
    on (event: 'worker-error', listener: (error: Error | number | string, script: string, args: Args, worker: Worker | undefined) => void): this
    on (event: 'worker-aborted', listener: (script: string) => void): this
    on (event: 'worker-respawn', listener: (script: string, delayMs: number, crashes: number) => void): this
    on (event: 'drop', listener: (script: string | undefined, message: any) => void): this
    /** Reply mode: a message from `send()`/`write()` failed for good; it gives no result. */
    on (event: 'failed', listener: (error: MessageError, message: any, script: string) => void): this
    on (event: 'pause' | 'drain' | 'end' | 'finish' | 'close', listener: () => void): this
    on (event: 'error', listener: (error: Error) => void): this
    on (event: string | symbol, listener: (...args: any[]) => void): this
  }
}

/** Creates a manager: a Duplex stream (object mode) that forks, balances and respawns workers. */
declare function forkfriend (config?: forkfriend.Config): forkfriend.Manager

declare namespace forkfriend {
  /** The manager class (`forkfriend(config)` is `new Manager(config)`). */
  const Manager: { new (config?: Config): Manager, prototype: Manager }
  /** The class of worker objects. */
  const Worker: { prototype: Worker }
  /** The default balancer on its own: the least recently picked element (never-picked first). */
  function balance<T extends object> (workers: T[]): T | undefined
}

export = forkfriend

