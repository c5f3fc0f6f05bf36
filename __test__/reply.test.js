'use strict';
// Reply mode (issue 11) with real workers: call() and its errors, ordered output, timeouts
// that recycle a stuck worker, poison messages, aborts, the concurrency limit seen from inside
// the worker, exact end of input, and a worker that breaks the one-answer contract.

const test = require('node:test');
const assert = require('node:assert/strict');
const { Readable, Writable } = require('node:stream');
const { pipeline } = require('node:stream/promises');
const forkfriend = require('..');
const { fixture, waitFor, waitEvent, createManager, startPool } = require('./helpers');
const { liveWorkers } = require('./reliability-support');

const ECHO = fixture('echo.js');
const reply = (name) => fixture(`reply/${name}`);

test('call() resolves with the answer; argument errors are clear', async (t) => {
  const { manager } = await startPool(t, [ECHO, 2], 2, { reply: true });
  assert.deepEqual(await manager.call({ a: 1 }), { a: 1 });
  const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => manager.call(`m${i}`, { script: ECHO })));
  assert.deepEqual(answers, Array.from({ length: 200 }, (_, i) => `m${i}`), 'each call gets its own answer');
  assert.throws(() => manager.call(1, { script: 'nope.js' }), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
  assert.throws(() => manager.call(1, { timeout: -1 }), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => manager.call(1, { signal: {} }), { code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => manager.call(10n), { code: 'ERR_FORKFRIEND_UNSERIALIZABLE' });
  const b = fixture('b.js');
  manager.add(b);
  assert.throws(() => manager.call('which?'), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE', message: /2 scripts/ });
  const stats = manager.getStats();
  assert.equal(stats.inFlight, 0);
  assert.equal(stats.failed, 0);
  for (const k of ['wait', 'run']) {
    assert.deepEqual(Object.keys(stats.latency[k]), ['p50', 'p90', 'p99', 'max']);
    assert.ok(stats.latency[k].max >= stats.latency[k].p50);
  }
});

test('call() needs reply mode', (t) => {
  const { manager } = createManager(t);
  assert.throws(() => manager.call('x'), { code: 'ERR_REPLY_MODE_REQUIRED' });
  assert.throws(() => forkfriend({ concurrency: 0 }), { code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => forkfriend({ ordered: 'yes' }), { code: 'ERR_INVALID_ARG_TYPE' });
  assert.equal(forkfriend({ ordered: true }).config.reply, true, 'ordered implies reply');
});

test('ordered: results leave in input order across workers of uneven speed', { timeout: 60000 }, async (t) => {
  const { manager } = await startPool(t, [reply('uneven.js'), 3], 3, { ordered: true, concurrency: 4 });
  const N = 3000;
  const out = [];
  await pipeline(
    Readable.from(Array.from({ length: N }, (_, i) => i)),
    manager,
    new Writable({ objectMode: true, write (r, enc, cb) { out.push(r.m); cb(); } }),
  );
  assert.equal(out.length, N);
  assert.ok(out.every((m, i) => m === i), 'input order');
});

test('concurrency: 1 keeps one message in flight per worker, seen from inside it', { timeout: 60000 }, async (t) => {
  const { manager } = await startPool(t, [reply('one-at-a-time.js'), 2], 2, { reply: true });
  const answers = await Promise.all(Array.from({ length: 300 }, (_, i) => manager.call(i)));
  assert.equal(answers.length, 300);
  assert.deepEqual([...new Set(answers.map((a) => a.overlap))], [1]);
  assert.equal(new Set(answers.map((a) => a.pid)).size, 2, 'both workers took part');
});

test('a stuck message times out, its worker is replaced, its other messages are answered', { timeout: 60000 }, async (t) => {
  const script = reply('hang-on.js');
  const { manager, started } = await startPool(t, [script, 2], 2, { reply: true, concurrency: 4, killTimeout: 500 });
  const errors = [];
  manager.on('worker-error', (e) => errors.push(e.code ?? e));
  const stuck = manager.call('hang', { timeout: 300 });
  // Queued behind it on the same worker (concurrency 4) and elsewhere.
  const others = Array.from({ length: 20 }, (_, i) => manager.call(`o${i}`));
  await assert.rejects(stuck, { code: 'ERR_CALL_TIMEOUT' });
  const answered = await Promise.all(others);
  assert.deepEqual(answered.map((a) => a.m), Array.from({ length: 20 }, (_, i) => `o${i}`));
  assert.ok(errors.includes('ERR_CALL_TIMEOUT'));
  await waitFor(() => liveWorkers(manager, script).length === 2 &&
    liveWorkers(manager, script).some((w) => !started.some((s) => s.worker.pid === w.pid)), 10000, 'the pool back to 2 with a fresh worker');
  assert.equal(manager.getStats().timedOut, 1);
});

test('a poison message fails after maxRetries + 1 deaths; everything else is answered', { timeout: 60000 }, async (t) => {
  const script = reply('poison.js');
  const { manager } = await startPool(t, [script, 2], 2, { reply: true, maxRetries: 2, respawnInterval: 20, maxRespawnDelay: 200 });
  const exits = [];
  manager.on('worker-exit', (code) => exits.push(code));
  const poisoned = manager.call('poison');
  const fine = Array.from({ length: 50 }, (_, i) => manager.call(i));
  const err = await poisoned.then(() => null, (e) => e);
  assert.equal(err.code, 'ERR_WORKER_DIED');
  assert.equal(err.exitCode, 3);
  assert.match(err.message, /3 workers/);
  assert.deepEqual((await Promise.all(fine)).map((a) => a.m), Array.from({ length: 50 }, (_, i) => i));
  assert.equal(exits.filter((c) => c === 3).length, 3, 'it ran on exactly 3 workers');

  // The same through the stream side: a 'failed' event, and the output goes on past it.
  const failed = waitEvent(manager, 'failed');
  const data = [];
  manager.on('data', (d) => data.push(d.m));
  manager.write('poison');
  manager.write('after');
  const [e, message, s] = await failed;
  assert.equal(e.code, 'ERR_WORKER_DIED');
  assert.equal(message, 'poison');
  assert.equal(s, script);
  await waitFor(() => data.includes('after'), 15000, "'after' on the stream");
  assert.ok(!data.includes('poison'));
  assert.ok(manager.getStats().retried >= 4);
});

test('abort before write: never sent; abort in flight: answer dropped; stop() rejects the rest', { timeout: 30000 }, async (t) => {
  const { manager } = await startPool(t, [reply('seen.js')], 1, { reply: true });
  const messages = [];
  manager.on('message', (m) => messages.push(m));
  const slow = manager.call({ wait: 300 });
  await waitFor(() => manager.getStats().inFlight === 1, 5000, 'the slow call in flight');
  const queued = new AbortController();
  const never = manager.call('never sent', { signal: queued.signal });
  queued.abort();
  await assert.rejects(never, { name: 'AbortError', code: 'ABORT_ERR' });
  const aborted = AbortSignal.abort();
  await assert.rejects(manager.call('not even queued', { signal: aborted }), { name: 'AbortError' });

  const inFlight = new AbortController();
  const dropped = manager.call({ wait: 50 }, { signal: inFlight.signal });
  assert.deepEqual(await slow, { waited: 300 });
  inFlight.abort();
  await assert.rejects(dropped, { name: 'AbortError' });
  const seen = await manager.call('seen?');
  assert.deepEqual(seen, [{ wait: 300 }, { wait: 50 }, 'seen?'], "the queued call never reached the worker");
  assert.ok(!messages.some((m) => m && m.waited === 50), 'the aborted answer was dropped');

  const pending = [manager.call({ wait: 5000 }), manager.call('queued')];
  manager.stop();
  for (const p of pending) await assert.rejects(p, { code: 'ERR_MANAGER_STOPPED' });
  await assert.rejects(manager.call('late'), { code: 'ERR_MANAGER_STOPPED' });
});

test('an answer with nothing in flight is a worker-error; correlation goes on', { timeout: 30000 }, async (t) => {
  const { manager } = await startPool(t, [reply('seen.js')], 1, { reply: true });
  const error = waitEvent(manager, 'worker-error');
  const extra = waitEvent(manager, 'message', { filter: (m) => m === 'unsolicited' });
  assert.equal(await manager.call('extra'), 'answer');
  const [err] = await error;
  assert.equal(err.code, 'ERR_WORKER_UNEXPECTED_REPLY');
  await extra;
  assert.deepEqual(await Promise.all([manager.call(1), manager.call(2)]), [1, 2]);
});

test('end of input waits for answers that come later than endQuietMs', { timeout: 30000 }, async (t) => {
  const { manager } = await startPool(t, [reply('later.js'), ['300'], 2], 2, { reply: true, concurrency: 8, endQuietMs: 50 });
  const out = [];
  await pipeline(
    Readable.from(Array.from({ length: 40 }, (_, i) => i)),
    manager,
    new Writable({ objectMode: true, write (r, enc, cb) { out.push(r); cb(); } }),
  );
  assert.deepEqual(out.sort((a, b) => a - b), Array.from({ length: 40 }, (_, i) => i));
});
