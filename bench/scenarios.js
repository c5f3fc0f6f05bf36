'use strict'
// The scenarios of issue 3. `quick` overrides make a smoke run (--quick) that
// finishes in about a minute; the full counts are the ones the targets
// are stated for.
//
// Flood: a fast producer into ONE slow worker. A worker at 1 ms per message
// would need ~17 min for a million messages, so slow.js is slow (1 ms/msg)
// only for the first `stallMs` after its first message and then echoes at full
// speed. During that window the producer runs into the manager's limits: a
// bounded manager holds a fixed amount and stops the producer, an unbounded
// one soaks up (nearly) the whole input. Peak RSS at 100k and at 1M messages
// then tells bounded from unbounded in well under a minute per run.
// backlogRssMB is VmHWM read just before the slow phase ends (the largest
// backlog); peakRssMB covers the whole run, including the fast phase, where
// V8 grows its young generation with the allocation rate (the baseline goes
// from ~50 to ~80 MB there, backlog or not).
const FLOOD_STALL_MS = 3000

module.exports = [
  { name: 'echo-100b', kind: 'throughput', worker: 'echo', workers: 2, count: 200000, size: 100,
    quick: { count: 20000 } },
  // Reply mode (issue 11): the same echo, every message tracked until its answer; then with
  // results in input order. Baseline: the plain fork() loop of echo-100b (it has neither).
  { name: 'echo-100b-reply', kind: 'throughput', worker: 'echo', workers: 2, count: 200000, size: 100,
    config: { reply: true, concurrency: 64 }, quick: { count: 20000 } },
  { name: 'echo-100b-ordered', kind: 'throughput', worker: 'echo', workers: 2, count: 200000, size: 100,
    config: { ordered: true, concurrency: 64 }, quick: { count: 20000 } },
  { name: 'echo-16k', kind: 'throughput', worker: 'echo', workers: 2, count: 5000, size: 16384,
    quick: { count: 1000 } },
  // The main job's messages: lines of text (strings built by concatenation), which the core
  // escapes and unescapes itself (issue 10).
  { name: 'echo-16k-text', kind: 'throughput', worker: 'echo', workers: 2, count: 5000, size: 16384, text: true,
    quick: { count: 1000 } },
  { name: 'echo-100b-text', kind: 'throughput', worker: 'echo', workers: 2, count: 200000, size: 100, text: true,
    quick: { count: 20000 } },
  // serialization: 'advanced' (a fork option; the baseline forks with it too): 16 KiB Buffers
  // (which JSON cannot carry as such) and the ~100 B objects of echo-100b.
  { name: 'echo-16k-buffer-adv', kind: 'throughput', worker: 'echo', workers: 2, count: 5000, size: 16384,
    serialization: 'advanced', binary: true, impls: ['baseline', 'forkfriend-send', 'forkfriend-stream'],
    quick: { count: 1000 } },
  { name: 'echo-100b-adv', kind: 'throughput', worker: 'echo', workers: 2, count: 200000, size: 100,
    serialization: 'advanced', impls: ['baseline', 'forkfriend-send', 'forkfriend-stream'],
    quick: { count: 20000 } },
  { name: 'cpu-1w', kind: 'throughput', worker: 'cpu', workers: 1, count: 20000, size: 100,
    quick: { count: 2000 } },
  { name: 'cpu-2w', kind: 'throughput', worker: 'cpu', workers: 2, count: 20000, size: 100,
    quick: { count: 2000 } },
  { name: 'flood-100k', kind: 'throughput', worker: 'slow', args: [1, FLOOD_STALL_MS], workers: 1,
    count: 100000, size: 100, rssSampleAtMs: FLOOD_STALL_MS - 100,
    quick: { count: 20000, args: [1, 1000], rssSampleAtMs: 900 } },
  { name: 'flood-1m', kind: 'throughput', worker: 'slow', args: [1, FLOOD_STALL_MS], workers: 1,
    count: 1000000, size: 100, rssSampleAtMs: FLOOD_STALL_MS - 100, timeoutMs: 240000,
    quick: { count: 200000, args: [1, 1000], rssSampleAtMs: 900 } },
  // The command line's job (issue 12): a file of 1M lines through 2 echo workers into a file,
  // `forkfriend -n 2 -i in -o out echo.js` against the same pipeline written with the stream
  // API (and the baseline by hand). The whole job is timed, worker start and exit included.
  { name: 'cli-1m', kind: 'lines', worker: 'echo', workers: 2, count: 1000000, size: 100,
    compare: ['forkfriend-cli', 'forkfriend-stream'], quick: { count: 100000 } },
  // Latency (issue 9): round trip of each message, p50/p90/p99/max (bench/lib/latency.js).
  { name: 'lat-pingpong', kind: 'latency', mode: 'pingpong', worker: 'echo', workers: 1, count: 6000,
    warmup: 1000, size: 100, quick: { count: 2000, warmup: 500 } },
  // Reply mode's call(): each message awaited as a promise (issue 11); the baseline is the
  // plain fork() ping-pong, which cannot tie an answer to its message.
  { name: 'lat-call-pingpong', kind: 'latency', mode: 'pingpong', worker: 'echo', workers: 1, count: 6000,
    warmup: 1000, size: 100, config: { reply: true }, call: true, impls: ['baseline', 'forkfriend-send'],
    quick: { count: 2000, warmup: 500 } },
  // The same two on one CPU (manager and worker pinned there with taskset). On the bench VM a
  // round trip takes ~25 µs when the scheduler keeps manager and worker on one vCPU and ~75 µs
  // when each wake crosses to an idle one, for every impl: unpinned, a run's median says
  // where the scheduler put them. Pinned, it says what each path costs.
  { name: 'lat-pingpong-1cpu', kind: 'latency', mode: 'pingpong', worker: 'echo', workers: 1, count: 6000,
    warmup: 1000, size: 100, cpus: '0', quick: { count: 2000, warmup: 500 } },
  { name: 'lat-call-pingpong-1cpu', kind: 'latency', mode: 'pingpong', worker: 'echo', workers: 1, count: 6000,
    warmup: 1000, size: 100, config: { reply: true }, call: true, cpus: '0', impls: ['baseline', 'forkfriend-send'],
    quick: { count: 2000, warmup: 500 } },
  { name: 'lat-200', kind: 'latency', mode: 'rate', rate: 200, worker: 'echo', workers: 2, count: 1600,
    warmup: 100, size: 100, quick: { count: 400, warmup: 50 } },
  { name: 'lat-2k', kind: 'latency', mode: 'rate', rate: 2000, worker: 'echo', workers: 2, count: 12000,
    warmup: 1000, size: 100, quick: { count: 3000, warmup: 500 } },
  { name: 'lat-20k', kind: 'latency', mode: 'rate', rate: 20000, worker: 'echo', workers: 2, count: 80000,
    warmup: 10000, size: 100, quick: { count: 20000, warmup: 5000 } },
  { name: 'lat-saturated', kind: 'latency', mode: 'saturated', worker: 'echo', workers: 2, count: 100000,
    warmup: 10000, size: 100, quick: { count: 20000, warmup: 5000 } },
  // startup: add(script, 4) / four fork() calls -> each worker answered a ping.
  // Both are dominated by Node booting the worker, which on the bench machine takes either
  // ~80-90 ms or ~115-130 ms (for fork() and forkfriend alike), so a run takes 9 samples.
  { name: 'startup', kind: 'startup', worker: 'echo', workers: 4, iterations: 9,
    quick: { iterations: 2 } },
  // respawn: SIGKILL the only worker -> its replacement answered a ping. Kills
  // are 1.2 s apart so forkfriend's respawnInterval (500 ms) and minUptime
  // (1000 ms) crash backoff never apply: we time the respawn path itself.
  { name: 'respawn', kind: 'respawn', worker: 'echo', workers: 1, iterations: 9, gapMs: 1200,
    quick: { iterations: 2 } }
]
