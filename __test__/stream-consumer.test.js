'use strict';
// The readable side under a consumer that stops for a while: reading from the workers stops
// while the consumer is full, and starts again when it asks for more. Regression test: a
// single 150 ms stall of the consumer used to stop the results for good.

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
