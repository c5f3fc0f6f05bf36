'use strict';
// Workers that misbehave (garbage on the channel, oversized messages, a binary
// that cannot start) give worker-error and never take the manager down or lose
// another pool's messages.

const test = require('node:test');
const assert = require('node:assert/strict');
const {
  fixture, alive, waitFor, waitEvent, collectWorkers, nextMessage, createManager, startPool,
} = require('./helpers');

const GARBAGE = fixture('garbage.js');
const BIG = fixture('big.js');
const PID = fixture('pid.js');
const BURST = fixture('burst.js');

/** The healthy pool still answers, through the same manager. */
async function healthy(manager, tag) {
  const reply = nextMessage(manager, (m) => m && m.m === tag);
  manager.send(tag, PID);
  return (await reply).message;
}

test('a line that is not JSON gives worker-error ERR_WORKER_INVALID_JSON; the manager keeps working', { timeout: 30000 }, async (t) => {
  const { manager } = createManager(t, { respawnInterval: 50 });
  const up = collectWorkers(manager, 2);
  manager.add(GARBAGE);
  manager.add(PID);
  const bad = (await up).find((w) => w.script === GARBAGE).worker;
  const errored = waitEvent(manager, 'worker-error', { filter: (e, s) => s === GARBAGE });
  manager.send({ cmd: 'garbage' }, GARBAGE);
  const [err, script, , worker] = await errored;
  assert.ok(err instanceof Error, `an Error, got ${err}`);
  assert.equal(err.code, 'ERR_WORKER_INVALID_JSON');
  assert.equal(script, GARBAGE);
  assert.equal(worker, bad);
  await healthy(manager, 'after garbage');
  // The garbage pool itself still serves (the same worker, or a replacement).
  const reply = nextMessage(manager, (m) => m && m.m === 'garbage pool ok');
  manager.send('garbage pool ok', GARBAGE);
  await reply;
});

test('a message longer than maxMessageBytes gives ERR_WORKER_MESSAGE_TOO_LARGE and the worker is recycled', { timeout: 30000 }, async (t) => {
  const { manager } = createManager(t, { respawnInterval: 50, maxMessageBytes: 4096 });
  const up = collectWorkers(manager, 2);
  manager.add(BIG);
  manager.add(PID);
  const big = (await up).find((w) => w.script === BIG).worker;
  const errored = waitEvent(manager, 'worker-error', { filter: (e, s) => s === BIG });
  const replaced = collectWorkers(manager, 1, { script: BIG });
  let oversized = 0;
  manager.on('message', (m) => { if (typeof m === 'string' && m.length >= 4096) oversized++; });
  manager.send({ size: 100000 }, BIG);
  const [err] = await errored;
  assert.ok(err instanceof Error);
  assert.equal(err.code, 'ERR_WORKER_MESSAGE_TOO_LARGE');
  await waitFor(() => !alive(big.pid), 10000, `the oversized sender ${big.pid} to be recycled`);
  const [{ worker: fresh }] = await replaced;
  assert.notEqual(fresh.pid, big.pid);
  assert.equal(oversized, 0, 'the oversized message was not delivered');
  // A message under the limit still goes through.
  const small = nextMessage(manager, (m) => typeof m === 'string' && m.length === 100);
  manager.send({ size: 100 }, BIG);
  await small;
  await healthy(manager, 'after too large');
});

test('a worker that cannot be spawned gives worker-error with an Error; other pools are unaffected', { timeout: 30000 }, async (t) => {
  const { manager } = createManager(t, { respawnInterval: 50 });
  const up = collectWorkers(manager, 1, { script: PID });
  manager.add(PID);
  await up;
  manager.options = { execPath: '/nonexistent/forkfriend-test/node' };
  const errored = waitEvent(manager, 'worker-error', { filter: (e, s) => s === GARBAGE });
  manager.add(GARBAGE);
  const [err] = await errored;
  assert.ok(err instanceof Error, `an Error, got ${err}`);
  assert.equal(typeof err.code, 'string');
  await healthy(manager, 'after spawn failure');
});

/** Sends `request` to one burst.js worker; resolves with the strings and errors it caused. */
async function burst(t, request) {
  const { manager } = await startPool(t, [BURST]);
  const got = [];
  const errors = [];
  manager.on('message', (m) => got.push(m));
  manager.on('worker-error', (e) => errors.push(e));
  manager.send(request, BURST);
  const expected = request.count - (request.bad || []).length;
  await waitFor(() => got.length + errors.length >= request.count && got.length >= expected, 15000,
    () => `${request.count} results, got ${got.length} and ${errors.length} errors`);
  return { got, errors };
}

test('a burst of large results larger than one batch text arrives whole and in order', { timeout: 30000 }, async (t) => {
  // 40 × 20 KB in one write: more than fits one JSON text handed to JS (~96 KB).
  const { got, errors } = await burst(t, { count: 40, size: 20000 });
  assert.equal(errors.length, 0);
  assert.equal(got.length, 40);
  got.forEach((m, i) => {
    assert.equal(m.length, 20000);
    assert.ok(m.startsWith(`${i}:`), `result ${i} in order, got ${m.slice(0, 8)}`);
  });
});

test('bad lines inside a large burst are reported one by one; the good ones still arrive in order', { timeout: 30000 }, async (t) => {
  const bad = [7, 30]; // 'not json' and '1,2' (two JSON values on one line)
  const { got, errors } = await burst(t, { count: 40, size: 20000, bad });
  assert.equal(errors.length, 2);
  for (const e of errors) assert.equal(e.code, 'ERR_WORKER_INVALID_JSON');
  const want = [...Array(40).keys()].filter((i) => !bad.includes(i));
  assert.deepEqual(got.map((m) => Number(m.slice(0, m.indexOf(':')))), want);
});
