'use strict';
// The readable side under a consumer that stops for a while: reading from the workers stops
// while the consumer is full, and starts again when it asks for more. Regression test: a
// single 150 ms stall of the consumer used to stop the results for good. While it stalls, the
// workers get no new input either.

const test = require('node:test');
const assert = require('node:assert/strict');
const { Writable } = require('node:stream');
const { once } = require('node:events');
const { fixture, createManager } = require('./helpers');

const ECHO = fixture('echo.js');

function stallingSink(stallAt, stallMs, seen) {
  return new Writable({
    objectMode: true,
    write(chunk, encoding, callback) {
      seen.push(chunk.id);
      if (seen.length === stallAt) setTimeout(callback, stallMs);
      else callback();
    },
  });
}

for (const [label, end] of [['with more input pending', false], ['after end()', true]]) {
  test(`a consumer that stalls once still gets every result (${label})`, { timeout: 30000 }, async (t) => {
    const N = 5000;
    const { manager } = createManager(t);
    manager.add(ECHO, 1);
    const seen = [];
    const sink = stallingSink(1000, 150, seen);
    manager.pipe(sink);
    for (let i = 0; i < N; i++) manager.write({ id: i });
    if (end) {
      manager.end();
      await once(sink, 'finish');
    } else {
      while (seen.length < N) await once(manager, 'data');
    }
    assert.equal(seen.length, N);
    assert.equal(new Set(seen).size, N, 'every id exactly once');
  });
}

test('results a worker left in its channel when it exited wait for a stalled consumer', { timeout: 30000 }, async (t) => {
  // More results than the readable side holds, so reading stops while the consumer stalls;
  // then a few more, and the worker exits with those still unread in its channel.
  const FIRST = 1100;
  const TAIL = 100;
  const N = FIRST + TAIL;
  const { manager } = createManager(t);
  const exited = once(manager, 'worker-exit');
  manager.add(fixture('burst-exit.js'), 1);
  const seen = [];
  manager.pipe(new Writable({
    objectMode: true,
    write(chunk, encoding, callback) {
      seen.push(chunk.i);
      if (seen.length === 1) setTimeout(callback, 2500);
      else callback();
    },
  }));
  manager.send({ n: FIRST, tail: TAIL });
  await exited;
  while (seen.length < N) await once(manager, 'data');
  assert.equal(new Set(seen).size, N, 'every result exactly once');
});

test('while the consumer stalls, workers are not fed: input waits with the producer', { timeout: 60000 }, async (t) => {
  // A worker fed while nobody takes its answers would queue them in its own heap without
  // bound (Node's process.send() never blocks). So once the readable side is full, the
  // manager stops writing to the workers too, and the producer gets backpressure.
  const N = 20000;
  const pad = 'x'.repeat(1000);
  const { manager } = createManager(t);
  manager.add(fixture('stamped-echo.js'), 2);
  let stalledAt = 0;
  let release;
  const released = new Promise((resolve) => { release = resolve; });
  let releasedAt = 0;
  const arrivals = [];
  const seen = new Set();
  const sink = new Writable({
    objectMode: true,
    highWaterMark: 1,
    write(chunk, encoding, callback) {
      seen.add(chunk.id);
      arrivals.push(chunk.at);
      if (seen.size === 1) {
        stalledAt = Date.now();
        released.then(callback);
      } else callback();
    },
  });
  manager.pipe(sink);
  let accepted = 0;
  const producer = (async () => {
    for (let i = 0; i < N; i++) {
      if (!manager.write({ id: i, pad }, () => accepted++)) await once(manager, 'drain');
    }
    manager.end();
  })();
  // The consumer's stall is the scenario: long enough for the producer to write all N if
  // nothing held it back (it takes ~0.5 s unhindered).
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const acceptedDuringStall = accepted;
  releasedAt = Date.now();
  release();
  await producer;
  await once(sink, 'finish');
  assert.equal(seen.size, N, 'every result once');
  const fedDuringStall = arrivals.filter((at) => at > stalledAt && at < releasedAt).length;
  assert.ok(acceptedDuringStall < N / 2, `the producer was held back (${acceptedDuringStall} of ${N} accepted)`);
  assert.ok(fedDuringStall < N / 4, `${fedDuringStall} messages reached a worker during the stall`);
});
