'use strict';
// Bad input and use after stop(): clear errors with codes, or documented
// no-ops; never a crash, a hang or a lost unrelated message.

const test = require('node:test');
const assert = require('node:assert/strict');
const forkfriend = require('..');
const { fixture, waitFor, waitEvent, nextMessage, createManager, startPool } = require('./helpers');

const ECHO = fixture('echo.js');

const badAdds = [
  { name: 'add(123)', call: (m) => m.add(123), error: { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' } },
  { name: 'add(null)', call: (m) => m.add(null), error: { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' } },
  { name: 'add({})', call: (m) => m.add({}), error: { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' } },
  { name: "add('x', -1)", call: (m) => m.add(ECHO, -1), error: { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' } },
  { name: "add('x', 1.5)", call: (m) => m.add(ECHO, 1.5), error: { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' } },
  { name: "add('x', [], -1)", call: (m) => m.add(ECHO, [], -1), error: { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' } },
  { name: "add('x', ['a', {}])", call: (m) => m.add(ECHO, ['a', {}]), error: { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' } },
];

for (const { name, call, error } of badAdds) {
  test(`${name} throws ${error.name} ${error.code} and forks nothing`, { timeout: 30000 }, (t) => {
    const { manager } = createManager(t);
    let forked = 0;
    manager.on('worker', () => { forked++; });
    assert.throws(() => call(manager), error);
    assert.equal(manager.get(ECHO), undefined, 'no pool was created');
    assert.equal(forked, 0);
  });
}

const unserializable = [
  { name: 'a circular object', value: (() => { const o = { a: 1 }; o.self = o; return o; })() },
  { name: 'a BigInt', value: 10n },
  { name: 'an object holding a BigInt', value: { n: 10n } },
  { name: 'undefined', value: undefined },
  { name: 'a function', value: () => 1 },
];

test('send() of unserializable values throws ERR_FORKFRIEND_UNSERIALIZABLE; the manager keeps working', { timeout: 30000 }, async (t) => {
  const { manager } = await startPool(t, [ECHO]);
  for (const [i, { name, value }] of unserializable.entries()) {
    for (const script of [undefined, ECHO]) {
      assert.throws(() => manager.send(value, script),
        { name: 'TypeError', code: 'ERR_FORKFRIEND_UNSERIALIZABLE' }, `send(${name}, ${script})`);
    }
    const reply = nextMessage(manager, (m) => m && m.ok === i);
    manager.send({ ok: i });
    assert.deepEqual((await reply).message, { ok: i }, `a valid message after ${name} is answered`);
  }
});

test('write() of an unserializable value fails with ERR_FORKFRIEND_UNSERIALIZABLE, never a crash', { timeout: 30000 }, async (t) => {
  const { manager } = createManager(t);
  const circular = {};
  circular.self = circular;
  const errors = [];
  manager.on('error', (err) => errors.push(err));
  let thrown = null;
  try {
    manager.write(circular);
  } catch (err) {
    thrown = err;
  }
  const err = thrown || (await waitFor(() => errors[0], 5000, "an 'error' event"));
  assert.equal(err.code, 'ERR_FORKFRIEND_UNSERIALIZABLE');
});

test('remove() of an unknown script is a no-op', { timeout: 30000 }, (t) => {
  const { manager } = createManager(t);
  assert.doesNotThrow(() => manager.remove('/not/added.js'));
  assert.deepEqual(Object.keys(manager.workers), []);
});

test("stop() twice does not throw and emits 'end' once", { timeout: 30000 }, async (t) => {
  const { manager } = await startPool(t, [ECHO]);
  let ends = 0;
  manager.on('end', () => { ends++; });
  manager.stop();
  assert.equal(manager.stopped, true);
  if (ends === 0) await waitEvent(manager, 'end', { ms: 10000 });
  assert.doesNotThrow(() => manager.stop());
  // Give any wrongly repeated 'end' (emitted on nextTick or later) a chance to show.
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
  assert.equal(ends, 1);
});

test("send() after stop() returns false and emits 'drop'", { timeout: 30000 }, async (t) => {
  const { manager } = await startPool(t, [ECHO]);
  manager.stop();
  const drops = [];
  manager.on('drop', (script, message) => drops.push({ script, message }));
  assert.equal(manager.send({ late: 1 }, ECHO), false);
  assert.equal(manager.send({ late: 2 }), false);
  await waitFor(() => drops.length >= 2, 5000, 'two drop events');
  assert.deepEqual(drops, [{ script: ECHO, message: { late: 1 } }, { script: undefined, message: { late: 2 } }]);
});

test("write() after stop() is a drop, never an 'error' event", { timeout: 30000 }, async (t) => {
  const { manager } = createManager(t);
  manager.stop();
  const errors = [];
  manager.on('error', (err) => errors.push(err));
  const dropped = waitEvent(manager, 'drop', { ms: 5000 });
  assert.equal(manager.write({ late: true }), false);
  const [script, message] = await dropped;
  assert.equal(script, undefined);
  assert.deepEqual(message, { late: true });
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(errors, []);
});

test('add() after stop() throws ERR_FORKFRIEND_STOPPED', { timeout: 30000 }, (t) => {
  const { manager } = createManager(t);
  let forked = 0;
  manager.on('worker', () => { forked++; });
  manager.stop();
  assert.throws(() => manager.add(ECHO), { code: 'ERR_FORKFRIEND_STOPPED' });
  assert.equal(forked, 0);
});

const badConfigs = [
  { config: { respawnInterval: -5 }, error: { name: 'RangeError', code: 'ERR_OUT_OF_RANGE', message: /respawnInterval/ } },
  { config: { respawnInterval: 'fast' }, error: { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE', message: /respawnInterval/ } },
  { config: { maxQueue: 'x' }, error: { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE', message: /maxQueue/ } },
  { config: { maxQueue: -1 }, error: { name: 'RangeError', code: 'ERR_OUT_OF_RANGE', message: /maxQueue/ } },
  { config: { pausedWorkerTimeout: 'never' }, error: { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE', message: /pausedWorkerTimeout/ } },
];

for (const { config, error } of badConfigs) {
  test(`forkfriend(${JSON.stringify(config)}) throws ${error.name} ${error.code}`, { timeout: 30000 }, () => {
    assert.throws(() => forkfriend(config), error);
  });
}
