'use strict';
// The manager as a stream: end-to-end delivery, backpressure, no buffering of
// an unused readable side, and the classic pause/drain events.

const test = require('node:test');
const assert = require('node:assert/strict');
const { Readable, Writable } = require('node:stream');
const { pipeline } = require('node:stream/promises');
const { once } = require('node:events');
const {
  fixture, alive, waitFor, collectWorkers, nextMessage, createManager,
} = require('./helpers');

const ECHO = fixture('echo.js');
const SLOW = fixture('slow.js');
const PAUSABLE = fixture('pausable.js');

/** An object-mode Writable that hands every chunk to `onChunk`. */
function collector(onChunk) {
  return new Writable({
    objectMode: true,
    write(chunk, encoding, callback) {
      onChunk(chunk);
      callback();
    },
  });
}

/** Start one pausable worker that pauses itself at start; resolves with it once paused. */
async function pausedWorker(manager) {
  const up = collectWorkers(manager, 1);
  manager.add(PAUSABLE, ['--pause-at-start'], 1);
  const [{ worker }] = await up;
  await nextMessage(manager, (m) => m && m.paused === worker.pid);
  return worker;
}

test('100k lines piped through 4 echo workers: every result once, then no worker left', { timeout: 120000 }, async (t) => {
  const N = 100000;
  const { manager, pids } = createManager(t);
  let drops = 0;
  manager.on('drop', () => { drops++; });
  manager.add(ECHO, 4);

  const input = Readable.from((function* lines() {
    for (let i = 0; i < N; i++) yield `line ${i} of the 100k test, padded to look like a log line`;
  })());
  const seen = new Uint8Array(N);
  let results = 0;
  let bad = 0;
  const output = collector((line) => {
    results++;
    const id = typeof line === 'string' ? Number(line.split(' ')[1]) : NaN;
    if (Number.isInteger(id) && id >= 0 && id < N) seen[id]++;
    else bad++;
  });

  await pipeline(input, manager, output); // resolves on the output's 'finish'
  assert.equal(bad, 0, 'every result is one of the input lines');
  assert.equal(results, N, 'exactly one result per line');
  assert.ok(seen.every((count) => count === 1), 'every line came back exactly once');
  assert.equal(drops, 0, 'stream writes never drop');
  assert.ok(pids.size >= 4, `4 workers were forked (${pids.size})`);
  await waitFor(() => [...pids].every((pid) => !alive(pid)), 10000,
    () => `no worker alive after the output finished; alive: ${[...pids].filter(alive)}`);
});

test('write() returns false while the workers cannot take more, and nothing is dropped', { timeout: 30000 }, async (t) => {
  const { manager } = createManager(t, { maxQueue: 5 });
  let drops = 0;
  manager.on('drop', () => { drops++; });
  const results = [];
  manager.on('data', (m) => { if (m && m.m) results.push(m); });
  const worker = await pausedWorker(manager);

  // Write until write() says to wait. The bound leaves room for the writable
  // buffer plus far more than the core may hold for a paused pool of maxQueue 5.
  const limit = manager.writableHighWaterMark + 1000;
  let written = 0;
  let ok = true;
  while (ok && written < limit) ok = manager.write({ i: written++ });
  assert.equal(ok, false, `write() returned false within ${limit} writes`);

  process.kill(worker.pid, 'SIGUSR2');
  manager.end();
  await once(manager, 'end');
  assert.equal(drops, 0);
  assert.deepEqual(results.map((r) => r.m.i), [...Array(written).keys()], `all ${written} answered, in order`);
  assert.ok(results.every((r) => r.whilePaused === false));
});

test('pipe() waits for a paused worker instead of dropping (maxQueue 5)', { timeout: 60000 }, async (t) => {
  const N = 2000;
  const { manager } = createManager(t, { maxQueue: 5 });
  let drops = 0;
  manager.on('drop', () => { drops++; });
  const worker = await pausedWorker(manager);

  let produced = 0;
  const input = Readable.from((function* gen() {
    for (let i = 0; i < N; i++) { produced++; yield { i }; }
  })());
  const answered = [];
  const done = pipeline(input, manager, collector((m) => { if (m && m.m) answered.push(m); }));

  await waitFor(() => manager.writableNeedDrain, 10000, 'the manager to apply backpressure (writableNeedDrain)');
  const producedWhileBlocked = produced;
  assert.ok(producedWhileBlocked < N, `the producer was held back (${producedWhileBlocked} of ${N} produced)`);
  assert.equal(answered.length, 0, 'nothing answered while the only worker is paused');

  process.kill(worker.pid, 'SIGUSR2');
  await done;
  assert.equal(drops, 0, 'no message dropped');
  assert.equal(answered.length, N);
  const ids = new Set(answered.map((m) => m.m.i));
  assert.equal(ids.size, N, 'every message answered once');
  assert.ok(answered.every((m) => m.whilePaused === false));
});

test('a slow worker: 200 piped messages are all answered, none dropped (maxQueue 5)', { timeout: 60000 }, async (t) => {
  const N = 200;
  const { manager } = createManager(t, { maxQueue: 5 });
  let drops = 0;
  manager.on('drop', () => { drops++; });
  manager.add(SLOW, 1);
  const pad = 'p'.repeat(4096);
  const input = Readable.from((function* gen() {
    for (let i = 0; i < N; i++) yield { i, pad };
  })());
  const answered = [];
  await pipeline(input, manager, collector((m) => answered.push(m)));
  assert.equal(drops, 0);
  assert.equal(answered.length, N);
  assert.deepEqual(answered.map((m) => m.m.i).sort((a, b) => a - b), [...Array(N).keys()]);
});

test('with only message listeners the readable side buffers nothing (10k messages)', { timeout: 60000 }, async (t) => {
  const N = 10000;
  const { manager } = createManager(t);
  let drops = 0;
  manager.on('drop', () => { drops++; });
  let received = 0;
  let maxReadable = 0;
  manager.on('message', () => {
    received++;
    maxReadable = Math.max(maxReadable, manager.readableLength);
  });
  manager.add(ECHO, 2);
  for (let i = 0; i < N; i++) {
    if (!manager.send({ i })) await once(manager, 'drain');
  }
  await waitFor(() => received >= N, 30000, () => `${N} message events, got ${received}`);
  assert.equal(received, N);
  assert.equal(drops, 0);
  assert.equal(manager.readableLength, 0, 'readable buffer is empty');
  assert.equal(maxReadable, 0, 'readable buffer stayed empty throughout');
});

test("'pause' and 'drain' events when the workers back up and recover", { timeout: 30000 }, async (t) => {
  const { manager } = createManager(t);
  const events = [];
  manager.on('pause', () => events.push('pause'));
  manager.on('drain', () => events.push('drain'));
  const worker = await pausedWorker(manager);

  const replies = [];
  manager.on('message', (m) => { if (m && m.m) replies.push(m); });
  for (let i = 0; i < 3; i++) manager.send({ i }, PAUSABLE);
  await waitFor(() => events.includes('pause'), 10000, () => `a 'pause' event; events: ${events}`);
  const pauseAt = events.indexOf('pause');

  process.kill(worker.pid, 'SIGUSR2');
  await waitFor(() => events.indexOf('drain', pauseAt) > pauseAt, 10000, () => `'drain' after 'pause'; events: ${events}`);
  await waitFor(() => replies.length === 3, 10000, 'the 3 held messages to be answered');
});
