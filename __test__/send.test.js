'use strict';
// send(): return value, unknown scripts, the maxQueue limit; getStats();
// getWorkerStream().

const test = require('node:test');
const assert = require('node:assert/strict');
const { Readable } = require('node:stream');
const { once } = require('node:events');
const {
  fixture, waitFor, waitEvent, collectWorkers, collectMessages, nextMessage, createManager, startPool, startOne,
} = require('./helpers');

const ECHO = fixture('echo.js');
const PAUSABLE = fixture('pausable.js');
const A = fixture('a.js');
const B = fixture('b.js');

test('send() returns a boolean and the message is answered', { timeout: 30000 }, async (t) => {
  const { manager } = await startPool(t, [ECHO]);
  const targeted = nextMessage(manager, (m) => m && m.k === 'targeted');
  const r1 = manager.send({ k: 'targeted' }, ECHO);
  assert.equal(typeof r1, 'boolean');
  await targeted;
  const broadcast = nextMessage(manager, (m) => m && m.k === 'broadcast');
  const r2 = manager.send({ k: 'broadcast' });
  assert.equal(typeof r2, 'boolean');
  await broadcast;
});

test("send() to an unknown script returns true, emits 'drop' and delivers nothing", { timeout: 30000 }, async (t) => {
  const { manager } = await startPool(t, [ECHO]);
  const seen = [];
  manager.on('message', (m) => seen.push(m));
  const dropped = waitEvent(manager, 'drop');
  const typo = fixture('ecoh.js');
  assert.equal(manager.send({ lost: 1 }, typo), true);
  const [script, message] = await dropped;
  assert.equal(script, typo);
  assert.deepEqual(message, { lost: 1 });
  // Barrier: the single echo worker answers in order.
  manager.send({ sentinel: 1 }, ECHO);
  await waitFor(() => seen.some((m) => m && m.sentinel === 1), 10000, 'the sentinel reply');
  assert.ok(!seen.some((m) => m && m.lost === 1), 'the message for the unknown script reached no worker');
  assert.equal(manager.workers[typo], undefined, 'no pool was created for the unknown script');
});

test('past maxQueue the oldest held messages are dropped with drop events', { timeout: 30000 }, async (t) => {
  const { manager } = createManager(t, { maxQueue: 5 });
  const drops = [];
  manager.on('drop', (script, message) => drops.push({ script, message }));
  const up = collectWorkers(manager, 1);
  manager.add(PAUSABLE, ['--pause-at-start'], 1);
  const [{ worker }] = await up;
  await nextMessage(manager, (m) => m && m.paused === worker.pid);

  const replies = collectMessages(manager, 5, { filter: (m) => m && m.m && m.m.q !== undefined });
  const returned = [];
  for (let q = 0; q < 8; q++) returned.push(manager.send({ q }, PAUSABLE));
  await waitFor(() => drops.length >= 3, 10000, () => `3 drops, got ${drops.length}`);
  assert.deepEqual(drops, [0, 1, 2].map((q) => ({ script: PAUSABLE, message: { q } })), 'the 3 oldest were dropped, in order');
  assert.deepEqual(returned.slice(5), [false, false, false], 'send() returns false once the queue is full');

  process.kill(worker.pid, 'SIGUSR2');
  const got = await replies;
  assert.deepEqual(got.map((r) => r.message.m.q), [3, 4, 5, 6, 7], 'the 5 newest were delivered after the drain');
  assert.ok(got.every((r) => r.message.whilePaused === false));
  assert.equal(drops.length, 3, 'no further drops');
});

test('getStats() has the documented shape and sane numbers after pause/drain cycles', { timeout: 30000 }, async (t) => {
  const { manager } = createManager(t);
  let pauses = 0;
  let drains = 0;
  manager.on('pause', () => { pauses++; });
  manager.on('drain', () => { drains++; });
  const up = collectWorkers(manager, 1);
  manager.add(PAUSABLE, 1);
  const [{ worker }] = await up;

  for (let cycle = 1; cycle <= 2; cycle++) {
    const ack = nextMessage(manager, (m) => m && m.paused === worker.pid);
    worker.send({ cmd: 'pause' });
    await ack;
    const replies = collectMessages(manager, 3, { filter: (m) => m && m.m && m.m.cycle === cycle });
    for (let i = 0; i < 3; i++) manager.send({ cycle, i }, PAUSABLE);
    await waitFor(() => pauses >= cycle, 10000, () => `pause event of cycle ${cycle} (pauses=${pauses})`);
    process.kill(worker.pid, 'SIGUSR2');
    await replies;
    await waitFor(() => drains >= cycle, 10000, () => `drain event of cycle ${cycle} (drains=${drains})`);
  }

  const stats = manager.getStats();
  for (const key of ['messagesPerMs', 'bytesPerMs', 'percentPaused', 'elapsed', 'paused', 'pauses', 'drains']) {
    assert.equal(typeof stats[key], 'number', `stats.${key} is a number (${stats[key]})`);
    assert.ok(Number.isFinite(stats[key]), `stats.${key} is finite (${stats[key]})`);
    assert.ok(stats[key] >= 0, `stats.${key} >= 0 (${stats[key]})`);
  }
  assert.ok(stats.elapsed > 0);
  assert.ok(stats.percentPaused <= 100, `percentPaused ${stats.percentPaused}`);
  assert.ok(stats.paused <= stats.elapsed, 'paused time fits in elapsed time');
  assert.equal(stats.pauses, pauses, 'pauses counts the pause events');
  assert.equal(stats.drains, drains, 'drains counts the drain events');
  assert.ok(stats.pauses >= 2 && stats.drains >= 2);
});

test('getWorkerStream(script) yields only that pool\'s results; false for an unknown script', { timeout: 30000 }, async (t) => {
  const { manager } = createManager(t);
  assert.equal(manager.getWorkerStream('/no/such/script.js'), false);
  const up = collectWorkers(manager, 2);
  manager.add(A);
  manager.add(B);
  await up;
  const stream = manager.getWorkerStream(A);
  assert.ok(stream instanceof Readable, 'a Readable stream');
  const fromStream = [];
  stream.on('data', (m) => fromStream.push(m));
  const ended = once(stream, 'end');

  const all = collectMessages(manager, 20);
  for (let i = 0; i < 10; i++) manager.send(`m${i}`); // broadcast: one to each pool
  await all;
  manager.stop();
  await ended; // stop() ends the per-script streams
  assert.equal(fromStream.length, 10, `10 results from pool a, got ${JSON.stringify(fromStream)}`);
  assert.ok(fromStream.every((m) => typeof m === 'string' && m.startsWith('a|')), 'only pool a results');
  assert.deepEqual(fromStream.map((m) => m.split('|')[1]).sort(), [...Array(10).keys()].map((i) => `m${i}`).sort());
});

test('text beyond ASCII survives every path: batched, long, alone, and worker.send()', { timeout: 30000 }, async (t) => {
  const { manager, worker } = await startOne(t, ECHO);
  const sent = [
    { s: 'héllo wörld' },
    '日本語のテキスト',
    { emoji: '😀'.repeat(30000) }, // 60000 UTF-16 units, 120 KB of UTF-8: still batched
    'ü'.repeat(70000), // long enough to cross alone
    { lone: '\ud800 and \udfff' }, // JSON.stringify escapes lone surrogates
    [1, 'ß', { deep: ['€'] }],
  ];
  const got = collectMessages(manager, sent.length);
  for (const m of sent) manager.send(m, ECHO); // one tick: batches around the long one
  assert.deepEqual((await got).map((r) => r.message), sent);
  const direct = nextMessage(manager);
  worker.send({ direct: 'ñandú' });
  assert.deepEqual((await direct).message, { direct: 'ñandú' });
});

test('sends a backed-up worker cannot take at once arrive whole and in order (one per tick, 48 KiB each)', { timeout: 30000 }, async (t) => {
  // Each send crosses alone and is written from the main thread while the worker's socket has
  // room: the socket fills up while the worker is busy, so one write is taken in part (its
  // end goes to the core's writer) and later ones wait for the writer.
  const { manager } = await startOne(t, fixture('late-start.js'));
  const sent = Array.from({ length: 40 }, (_, i) => `${i}:${String.fromCharCode(97 + (i % 26)).repeat(48 * 1024)}`);
  const got = collectMessages(manager, sent.length);
  for (const m of sent) {
    manager.send(m);
    await new Promise((resolve) => setImmediate(resolve));
  }
  const answers = (await got).map((r) => r.message);
  assert.equal(answers.length, sent.length);
  for (let i = 0; i < sent.length; i++) assert.ok(answers[i] === sent[i], `message ${i} came back whole, in its place`);
});

test('an answer that arrives while the main thread is blocked is read by the core meanwhile and arrives once it is free', { timeout: 30000 }, async (t) => {
  const { manager } = await startPool(t, [ECHO]);
  // A few round trips: from then on the main thread reads this worker's socket itself.
  for (let i = 0; i < 4; i++) {
    const echoed = nextMessage(manager, (m) => m && m.k === i);
    manager.send({ k: i }, ECHO);
    await echoed;
  }
  await new Promise((resolve) => setImmediate(resolve)); // outside the handling of an answer
  // counters(): [0] every read of a worker's socket, [7] those made on the main thread.
  const coreReads = () => { const c = manager._core.counters(); return c[0] - c[7]; };
  const before = coreReads();
  const answer = nextMessage(manager, (m) => m && m.k === 'blocked');
  manager.send({ k: 'blocked' }, ECHO);
  const until = Date.now() + 500;
  while (Date.now() < until) { /* the main thread is busy: its poll of the socket cannot run */ }
  const during = coreReads();
  assert.deepEqual((await answer).message, { k: 'blocked' });
  assert.ok(during > before, `the core read the answer left unread (core reads ${before} -> ${during})`);
});
