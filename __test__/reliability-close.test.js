'use strict';
// Graceful close(): it stops accepting, delivers what is queued, lets workers answer, closes their
// channels, then SIGTERM (250 ms after the channel closed) and SIGKILL after killTimeout. A worker
// that ignores SIGTERM therefore costs about killTimeout, and is SIGKILLed; a worker that stops
// reading while the manager closes is reported as ERR_WORKER_STALLED and ended. close() resolves
// once no worker is left, is idempotent, is Symbol.asyncDispose, and stop() cuts it short.

const test = require('node:test');
const assert = require('node:assert/strict');
const {
  createManager, collectWorkers, collectMessages, nextMessage, alive, exists, waitFor, startPool,
} = require('./helpers');
const { rfixture, within } = require('./reliability-support');

const ECHO = rfixture('echo-pid.js');
const HANG = rfixture('hang.js');
const BUSY_HANG = rfixture('busy-hang.js');
const KILL_TIMEOUT = 1000;
// After the last answer: endQuietMs (100) of quiet, checked on a 10 ms tick, twice over; the
// channel is closed; SIGTERM 250 ms later; SIGKILL killTimeout after that.
const SLACK = 2000;

function exitsOf(manager) {
  const exits = new Map();
  manager.on('worker-exit', (code, script, args, w) => exits.set(w.pid, { code, signal: w.signalCode }));
  return exits;
}

test('close() with a hung worker (ignores SIGTERM, stays up) resolves after about killTimeout, the worker SIGKILLed', { timeout: 30000 }, async (t) => {
  const { manager, pids } = createManager(t, { killTimeout: KILL_TIMEOUT });
  const exits = exitsOf(manager);
  const up = collectWorkers(manager, 1);
  manager.add(HANG);
  const [{ worker }] = await up;
  const answered = collectMessages(manager, 10, { filter: (m) => m && m.m && m.m.n !== undefined });
  for (let n = 0; n < 10; n++) manager.send({ n }, HANG);

  const started = Date.now();
  await within(manager.close(), 15000, 'close() to resolve');
  const took = Date.now() - started;
  t.diagnostic(`close() took ${took} ms with killTimeout ${KILL_TIMEOUT} ms`);

  assert.equal((await answered).length, 10, 'the hung worker answered everything first');
  assert.ok(took >= KILL_TIMEOUT, `close() waited for the kill timeout (${took} ms)`);
  assert.ok(took < KILL_TIMEOUT + SLACK, `close() took ${took} ms, about killTimeout`);
  assert.deepEqual(exits.get(worker.pid), { code: null, signal: 'SIGKILL' }, "'worker-exit' with code null, the worker SIGKILLed");
  assert.equal(worker.signalCode, 'SIGKILL');
  assert.deepEqual([...pids].filter(exists), [], 'no worker left (nor unreaped) when close() resolved');
});

test('close() while a worker spins without reading: ERR_WORKER_STALLED, then SIGKILL; close() still resolves', { timeout: 30000 }, async (t) => {
  const { manager, pids } = createManager(t, { killTimeout: KILL_TIMEOUT });
  const exits = exitsOf(manager);
  const errors = [];
  manager.on('worker-error', (e, s, a, w) => errors.push({ code: e instanceof Error ? e.code : e, pid: w?.pid }));
  const spawned = [];
  manager.on('worker', (s, a, w) => spawned.push(w.pid));
  const up = collectWorkers(manager, 1);
  manager.add(BUSY_HANG);
  const [{ worker }] = await up;
  const first = nextMessage(manager, (m) => m && m.m && m.m.n === 0);
  manager.send({ n: 0 }, BUSY_HANG);
  await first;
  // These are written to its channel but never read: it spins from now on.
  for (let n = 1; n <= 5; n++) manager.send({ n }, BUSY_HANG);

  const started = Date.now();
  await within(manager.close(), 20000, 'close() to resolve');
  const took = Date.now() - started;
  t.diagnostic(`close() took ${took} ms; worker errors ${JSON.stringify(errors)}; workers spawned ${spawned.length} (${spawned.length - 1} during close())`);

  assert.ok(errors.some((e) => e.code === 'ERR_WORKER_STALLED' && e.pid === worker.pid), `ERR_WORKER_STALLED for the spinning worker (${JSON.stringify(errors)})`);
  assert.deepEqual(exits.get(worker.pid), { code: null, signal: 'SIGKILL' }, 'the spinning worker was SIGKILLed');
  assert.ok(took >= KILL_TIMEOUT, `close() waited (${took} ms)`);
  assert.ok(took < 2 * KILL_TIMEOUT + SLACK, `close() took ${took} ms: stall limit + kill timeout`);
  assert.deepEqual([...pids].filter(exists), [], 'no worker left when close() resolved');
});

test('close() delivers every queued message: send 1000, close(), 1000 results, no process left', { timeout: 30000 }, async (t) => {
  const { manager, pids } = await startPool(t, [ECHO, 4], 4);
  const seen = new Set();
  let drops = 0;
  manager.on('message', (m) => { if (m && m.m && m.m.n !== undefined) seen.add(m.m.n); });
  manager.on('drop', () => drops++);
  const exits = exitsOf(manager);
  for (let n = 0; n < 1000; n++) manager.send({ n }, ECHO);
  const started = Date.now();
  await within(manager.close(), 15000, 'close() to resolve');
  t.diagnostic(`close() with 1000 queued took ${Date.now() - started} ms`);
  assert.equal(drops, 0);
  assert.equal(seen.size, 1000, `1000 results before close() resolved (${seen.size})`);
  assert.equal(manager.stopped, true);
  assert.deepEqual([...pids].filter(exists), [], 'no worker left (nor unreaped) when close() resolved');
  for (const [pid, e] of exits) assert.deepEqual(e, { code: 0, signal: null }, `worker ${pid} exited by itself once its channel closed`);
  assert.equal(exits.size, 4);
});

test('Symbol.asyncDispose closes gracefully (what `await using` calls)', { timeout: 30000 }, async (t) => {
  const { manager, pids } = await startPool(t, [ECHO, 2], 2);
  const answered = collectMessages(manager, 100, { filter: (m) => m && m.m && m.m.n !== undefined });
  for (let n = 0; n < 100; n++) manager.send({ n }, ECHO);
  const disposed = manager[Symbol.asyncDispose]();
  assert.ok(disposed instanceof Promise);
  await within(disposed, 15000, 'asyncDispose to resolve');
  assert.equal((await answered).length, 100);
  assert.equal(manager.stopped, true);
  assert.deepEqual([...pids].filter(alive), []);
});

test('close() twice returns the same promise, and a settled one after it resolved', { timeout: 30000 }, async (t) => {
  const { manager, pids } = await startPool(t, [ECHO]);
  const a = manager.close();
  const b = manager.close();
  assert.equal(a, b, 'the same promise');
  await within(a, 15000, 'close()');
  const c = manager.close();
  const settled = await Promise.race([c.then(() => 'resolved'), new Promise((resolve) => setImmediate(resolve, 'pending'))]);
  assert.equal(settled, 'resolved', 'close() after close() is already resolved');
  assert.deepEqual([...pids].filter(alive), []);
  manager.stop(); // a no-op now
});

test('stop() during close() resolves it at once', { timeout: 30000 }, async (t) => {
  const { manager, pids } = createManager(t, { killTimeout: KILL_TIMEOUT });
  const up = collectWorkers(manager, 2);
  manager.add(ECHO);
  manager.add(HANG);
  await up;
  let ended = 0;
  manager.on('end', () => ended++);
  const closing = manager.close();
  const started = Date.now();
  manager.stop();
  await within(closing, 1000, 'close() to resolve after stop()');
  // close() documents "resolves once no worker is left"; stop() resolves it at once instead.
  t.diagnostic(`close() resolved ${Date.now() - started} ms after stop(), with ${[...pids].filter(alive).length} of ${pids.size} workers still alive`);
  assert.equal(manager.stopped, true);
  // stop() ends workers now; the SIGTERM-ignoring one takes the kill timeout.
  await waitFor(() => [...pids].every((pid) => !alive(pid)), KILL_TIMEOUT + SLACK, () => `workers gone: ${[...pids].filter(alive)}`);
  await waitFor(() => ended === 1, 2000, "'end' once");
});
