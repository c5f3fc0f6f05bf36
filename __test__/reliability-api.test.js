'use strict';
// Bad API input, table-driven: every case is either a TypeError/RangeError with a stable
// err.code that names the argument, or the no-op lib/manager.js documents - never a crash,
// a hang, or a stray process. Also: calls after stop(), during close() and after close().

const test = require('node:test');
const assert = require('node:assert/strict');
const { Writable } = require('node:stream');
const forkfriend = require('..');
const {
  createManager, collectWorkers, nextMessage, waitEvent, alive, exists, waitFor, startPool,
} = require('./helpers');
const { rfixture, within } = require('./reliability-support');

const ECHO = rfixture('echo-pid.js');
const OTHER = rfixture('echo.js');
const UNKNOWN = rfixture('never-added.js');

const circular = () => {
  const o = { a: 1 };
  o.self = o;
  return o;
};

/** assert.throws with the class, the code and (when given) the argument name in the message. */
function throwsLike(fn, { type, code, mentions }) {
  assert.throws(fn, (err) => {
    assert.ok(err instanceof type, `expected a ${type.name}, got ${err && err.constructor && err.constructor.name}: ${err && err.message}`);
    assert.equal(err.code, code, `err.code (${err.message})`);
    if (mentions) assert.ok(err.message.includes(mentions), `the message names "${mentions}": ${err.message}`);
    return true;
  });
}

const T = TypeError;
const R = RangeError;
const ARG = 'ERR_INVALID_ARG_TYPE';
const RANGE = 'ERR_OUT_OF_RANGE';
const UNSER = 'ERR_FORKFRIEND_UNSERIALIZABLE';

test('config: bad values throw, naming the key', { timeout: 10000 }, async (t) => {
  const bad = [
    ['a string config', 'x', T, ARG, 'config'],
    ['a number config', 42, T, ARG, 'config'],
    ['respawnInterval as a string', { respawnInterval: '1' }, T, ARG, 'config.respawnInterval'],
    ['respawnInterval NaN', { respawnInterval: NaN }, T, ARG, 'config.respawnInterval'],
    ['respawnInterval negative', { respawnInterval: -1 }, R, RANGE, 'config.respawnInterval'],
    ['respawnInterval Infinity', { respawnInterval: Infinity }, R, RANGE, 'config.respawnInterval'],
    ['maxQueue fractional', { maxQueue: 1.5 }, R, RANGE, 'config.maxQueue'],
    ['maxQueue negative', { maxQueue: -1 }, R, RANGE, 'config.maxQueue'],
    ['pausedWorkerTimeout -2', { pausedWorkerTimeout: -2 }, R, RANGE, 'config.pausedWorkerTimeout'],
    ['lostInTheWoods as a string', { lostInTheWoods: 'x' }, T, ARG, 'config.lostInTheWoods'],
    ['killTimeout negative', { killTimeout: -5 }, R, RANGE, 'config.killTimeout'],
    ['endQuietMs as a string', { endQuietMs: '100' }, T, ARG, 'config.endQuietMs'],
    ['minUptime negative', { minUptime: -1 }, R, RANGE, 'config.minUptime'],
    ['maxRespawnDelay as a boolean', { maxRespawnDelay: true }, T, ARG, 'config.maxRespawnDelay'],
    ['maxMessageBytes 0', { maxMessageBytes: 0 }, R, RANGE, 'config.maxMessageBytes'],
    ['maxMessageBytes fractional', { maxMessageBytes: 1.5 }, R, RANGE, 'config.maxMessageBytes'],
    ['maxWorkerRss negative', { maxWorkerRss: -1 }, R, RANGE, 'config.maxWorkerRss'],
    ['maxWorkerRss as a string', { maxWorkerRss: '60M' }, T, ARG, 'config.maxWorkerRss'],
    ['fork as a string', { fork: 'x' }, T, ARG, 'config.fork'],
    ['fork null', { fork: null }, T, ARG, 'config.fork'],
  ];
  for (const [name, config, type, code, mentions] of bad) {
    await t.test(name, () => throwsLike(() => forkfriend(config), { type, code, mentions }));
  }
  const fine = [undefined, null, {}, { pausedWorkerTimeout: -1 }, { lostInTheWoods: -1 }, { respawnInterval: 0 }, { unknownKey: 1 }];
  for (const config of fine) {
    await t.test(`accepts ${JSON.stringify(config)}`, () => {
      const m = forkfriend(config);
      assert.equal(m.stopped, false);
      m.stop();
    });
  }
});

test('add/remove/send/refork/get/getWorkerStream/write/worker methods on a live manager', { timeout: 60000 }, async (t) => {
  const { manager, pids } = createManager(t);
  const up = collectWorkers(manager, 2);
  manager.add(ECHO);
  manager.add(OTHER);
  const byScript = Object.fromEntries((await up).map((w) => [w.script, w.worker]));
  const echoWorker = byScript[ECHO];
  const otherWorker = byScript[OTHER];
  const spawned = [];
  manager.on('worker', (s, a, w) => spawned.push(`${s}:${w.pid}`));
  const exits = [];
  manager.on('worker-exit', (c, s, a, w) => exits.push(w.pid));
  const drops = [];
  manager.on('drop', (s, m) => drops.push({ s, m }));
  const streamErrors = [];
  manager.on('error', (e) => streamErrors.push(e));

  const throwing = [
    ['add() without a script', () => manager.add(), T, ARG, 'script'],
    ["add('')", () => manager.add(''), T, ARG, 'script'],
    ['add(42)', () => manager.add(42), T, ARG, 'script'],
    ['add(null)', () => manager.add(null), T, ARG, 'script'],
    ['add({})', () => manager.add({}), T, ARG, 'script'],
    ["add(script, 'x') - args not an array", () => manager.add(ECHO, 'x'), T, ARG, 'args'],
    ['add(script, {}) - args an object', () => manager.add(ECHO, {}), T, ARG, 'args'],
    ['add(script, [{}]) - an arg that is an object', () => manager.add(ECHO, [{}]), T, ARG, 'args[0]'],
    ['add(script, [null])', () => manager.add(ECHO, [null]), T, ARG, 'args[0]'],
    ['add(script, -1)', () => manager.add(ECHO, -1), R, RANGE, '"n"'],
    ['add(script, 1.5)', () => manager.add(ECHO, 1.5), R, RANGE, '"n"'],
    ['add(script, NaN)', () => manager.add(ECHO, NaN), R, RANGE, '"n"'],
    ['add(script, Infinity)', () => manager.add(ECHO, Infinity), R, RANGE, '"n"'],
    ["add(script, [], '2')", () => manager.add(ECHO, [], '2'), T, ARG, '"n"'],
    ['add(script, [], -1)', () => manager.add(ECHO, [], -1), R, RANGE, '"n"'],
    ["remove(script, 'x')", () => manager.remove(ECHO, 'x'), T, ARG, '"n"'],
    ['remove(script, -1)', () => manager.remove(ECHO, -1), R, RANGE, '"n"'],
    ['remove(script, 1.5)', () => manager.remove(ECHO, 1.5), R, RANGE, '"n"'],
    ['remove(script, {}) - not a worker', () => manager.remove(ECHO, {}), T, ARG, '"n"'],
    ['send(message, 42)', () => manager.send({ a: 1 }, 42), T, ARG, 'script'],
    ['send(message, {})', () => manager.send({ a: 1 }, {}), T, ARG, 'script'],
    ['send(circular)', () => manager.send(circular(), ECHO), T, UNSER],
    ['send(BigInt)', () => manager.send(10n, ECHO), T, UNSER],
    ['send(undefined)', () => manager.send(undefined, ECHO), T, UNSER],
    ['send(a function)', () => manager.send(() => {}, ECHO), T, UNSER],
    ['send(a symbol)', () => manager.send(Symbol('s'), ECHO), T, UNSER],
    ['send(an object whose toJSON throws)', () => manager.send({ toJSON() { throw new Error('boom'); } }, ECHO), T, UNSER],
    ['broadcast send(circular)', () => manager.send(circular()), T, UNSER],
    ["refork(script, 'x')", () => manager.refork(ECHO, 'x'), T, ARG, 'worker'],
    ['refork(script, {})', () => manager.refork(ECHO, {}), T, ARG, 'worker'],
    ['write(null)', () => manager.write(null), T, 'ERR_STREAM_NULL_VALUES'],
    ["worker.kill('SIGNOPE')", () => echoWorker.kill('SIGNOPE'), T, 'ERR_UNKNOWN_SIGNAL'],
    ['worker.kill(12345)', () => echoWorker.kill(12345), T, 'ERR_UNKNOWN_SIGNAL'],
    ['worker.send(circular)', () => echoWorker.send(circular()), T, UNSER],
  ];
  for (const [name, fn, type, code, mentions] of throwing) {
    await t.test(name, () => throwsLike(fn, { type, code, mentions }));
  }
  await t.test('a bad fork option fails add() and creates nothing', () => {
    for (const [options, mentions] of [[{ stdio: 'bogus' }, 'options.stdio'], [{ execPath: 42 }, 'options.execPath'],
      [{ execArgv: '--x' }, 'options.execArgv'], [{ env: 'x' }, 'options.env'], [{ uid: 'x' }, 'options.uid'], [{ cwd: 42 }, 'options.cwd']]) {
      manager.options = options;
      throwsLike(() => manager.add(UNKNOWN), { type: T, code: ARG, mentions });
      assert.equal(manager.get(UNKNOWN), undefined, `${mentions}: no pool created`);
    }
    manager.options = undefined;
  });

  // Documented no-ops (lib/manager.js: unknown script -> no-op / undefined / false).
  await t.test('remove/refork of an unknown script are no-ops returning the manager', () => {
    for (const s of [UNKNOWN, undefined, 42]) {
      assert.equal(manager.remove(s), manager);
      assert.equal(manager.refork(s), manager);
    }
  });
  await t.test('remove(script, 0) and remove(script, worker of another pool) are no-ops', () => {
    assert.equal(manager.remove(ECHO, 0), manager);
    assert.equal(manager.remove(ECHO, otherWorker), manager);
    assert.equal(manager.refork(ECHO, otherWorker), manager);
    assert.deepEqual(manager.get(ECHO).map((w) => w.pid), [echoWorker.pid]);
    assert.deepEqual(manager.get(OTHER).map((w) => w.pid), [otherWorker.pid]);
  });
  await t.test('get/getWorkerStream of an unknown script: undefined / false', () => {
    for (const s of [UNKNOWN, undefined, 42, null]) {
      assert.equal(manager.get(s), undefined);
      assert.equal(manager.getWorkerStream(s), false);
    }
  });
  await t.test("send to an unknown script returns true and emits 'drop'", () => {
    const n = drops.length;
    assert.equal(manager.send({ typo: 1 }, UNKNOWN), true);
    assert.deepEqual(drops.slice(n), [{ s: UNKNOWN, m: { typo: 1 } }]);
  });
  await t.test('add(new script, 0) adds nothing: no pool, and a send to it is a drop', async () => {
    manager.add(UNKNOWN, 0);
    assert.equal(manager.get(UNKNOWN), undefined);
    assert.equal(manager.workers[UNKNOWN], undefined);
    const n = drops.length;
    assert.equal(manager.send({ to: 'empty pool' }, UNKNOWN), true);
    assert.deepEqual(drops.slice(n), [{ s: UNKNOWN, m: { to: 'empty pool' } }]);
  });
  await t.test('worker.send() after the worker is gone: false and ERR_IPC_CHANNEL_CLOSED to the callback', async () => {
    const gone = waitEvent(manager, 'worker-exit', { filter: (c, s, a, w) => w === otherWorker });
    const replaced = waitEvent(manager, 'worker', { filter: (s) => s === OTHER });
    otherWorker.kill('SIGKILL');
    await gone;
    let cbErr;
    const called = new Promise((resolve) => {
      assert.equal(otherWorker.send({ late: true }, (err) => { cbErr = err; resolve(); }), false);
    });
    await called;
    assert.equal(cbErr && cbErr.code, 'ERR_IPC_CHANNEL_CLOSED');
    await replaced;
  });
  await t.test('worker.disconnect() twice: the second throws ERR_IPC_DISCONNECTED', async () => {
    const [w] = manager.get(OTHER);
    const replaced = waitEvent(manager, 'worker', { filter: (s, a, nw) => s === OTHER && nw !== w });
    w.disconnect();
    assert.throws(() => w.disconnect(), (err) => err.code === 'ERR_IPC_DISCONNECTED');
    await replaced;
  });

  // None of the bad calls touched the ECHO pool: same worker, still answering; no stray process.
  const answer = nextMessage(manager, (m) => m && m.m && m.m.still === 'here');
  manager.send({ still: 'here' }, ECHO);
  assert.equal((await answer).message.pid, echoWorker.pid);
  assert.ok(!exits.includes(echoWorker.pid));
  assert.deepEqual(spawned.filter((s) => !s.startsWith(OTHER)), [], 'no worker was started by a bad call');
  assert.deepEqual(streamErrors, [], "no 'error' event");
  assert.deepEqual([...pids].filter((pid) => alive(pid) && !manager.get(ECHO).concat(manager.get(OTHER)).some((w) => w.pid === pid)), [], 'no untracked live process');
});

test('write() of a value JSON cannot encode is an error event on the stream (and ends the manager)', { timeout: 20000 }, async (t) => {
  for (const [name, value] of [['circular', circular()], ['undefined', undefined], ['BigInt', 1n]]) {
    await t.test(name, async () => {
      const { manager, pids } = await startPool(t, [ECHO]);
      const errored = waitEvent(manager, 'error', { ms: 5000 });
      let cbErr;
      manager.write(value, (err) => { cbErr = err; });
      const [err] = await errored;
      assert.ok(err instanceof TypeError);
      assert.equal(err.code, UNSER);
      assert.equal(cbErr && cbErr.code, UNSER);
      await waitFor(() => [...pids].every((pid) => !alive(pid)), 10000, 'the workers to be ended');
      assert.equal(manager.stopped, true, 'the destroyed stream stopped the manager');
    });
  }
});

/** Every public call on a manager that is stopped (or closed): a clear error or a no-op. */
async function afterEnd(t, manager, pids, label) {
  const spawned = [];
  manager.on('worker', (s, a, w) => spawned.push(w.pid));
  const drops = [];
  manager.on('drop', (s, m) => drops.push({ s, m }));
  let ends = 0;
  manager.on('end', () => ends++);
  await t.test(`${label}: add() throws ERR_FORKFRIEND_STOPPED`, () => {
    assert.throws(() => manager.add(ECHO), (err) => err instanceof Error && err.code === 'ERR_FORKFRIEND_STOPPED');
    assert.throws(() => manager.add(UNKNOWN, 2), (err) => err.code === 'ERR_FORKFRIEND_STOPPED');
    throwsLike(() => manager.add(42), { type: T, code: ARG }); // argument errors still come first
  });
  await t.test(`${label}: send() returns false and emits 'drop', even for what JSON cannot encode`, () => {
    assert.equal(manager.send({ late: 1 }, ECHO), false);
    assert.equal(manager.send({ late: 2 }), false);
    const bad = circular();
    assert.equal(manager.send(bad), false, 'nothing sent after the end can throw');
    assert.deepEqual(drops.map((d) => d.m), [{ late: 1 }, { late: 2 }, bad]);
  });
  await t.test(`${label}: remove/refork are no-ops; get/getWorkerStream answer`, () => {
    assert.equal(manager.refork(ECHO), manager);
    assert.equal(manager.remove(ECHO), manager);
    const pool = manager.get(ECHO);
    assert.ok(pool === undefined || pool.every((w) => w.exitCode !== null || w.signalCode !== null || !alive(w.pid)), 'get() lists no running worker');
    const ws = manager.getWorkerStream(ECHO);
    assert.ok(ws === false || ws.readableEnded || ws._readableState.ended, 'a worker stream of a stopped manager is ended');
  });
  await t.test(`${label}: write() returns false, emits 'drop' and calls back without an error`, async () => {
    const errors = [];
    const onError = (err) => errors.push(err.code);
    manager.on('error', onError);
    let cbErr = 'not called';
    let wrote;
    await within(new Promise((resolve) => { wrote = manager.write({ late: 3 }, (err) => { cbErr = err; resolve(); }); }), 5000, "write()'s callback");
    await new Promise((resolve) => setImmediate(resolve));
    manager.off('error', onError);
    assert.equal(wrote, false);
    assert.equal(cbErr, undefined);
    assert.deepEqual(drops.at(-1).m, { late: 3 });
    assert.deepEqual(errors, [], "no 'error' event: an app without a listener would die of it");
  });
  await t.test(`${label}: stop() again is a no-op and close() resolves`, async () => {
    manager.stop();
    await within(manager.close(), 2000, 'close() of a stopped manager');
    assert.equal(ends, 0, "no second 'end'");
  });
  assert.deepEqual(spawned, [], `${label}: nothing was spawned`);
  await waitFor(() => [...pids].every((pid) => !exists(pid)), 10000, () => `${label}: every worker gone and reaped (left: ${[...pids].filter(exists)})`);
}

test('calls after stop()', { timeout: 30000 }, async (t) => {
  const { manager, pids } = await startPool(t, [ECHO]);
  const ended = waitEvent(manager, 'end', { ms: 5000 });
  manager.stop();
  await ended;
  await afterEnd(t, manager, pids, 'after stop()');
});

test('calls after close()', { timeout: 30000 }, async (t) => {
  const { manager, pids } = await startPool(t, [ECHO]);
  const ended = waitEvent(manager, 'end', { ms: 10000 });
  await within(manager.close(), 10000, 'close()');
  await ended;
  await afterEnd(t, manager, pids, 'after close()');
});

test('calls during close(): send() is refused with a drop; add() leaves no process behind', { timeout: 30000 }, async (t) => {
  const { manager, pids } = await startPool(t, [ECHO]);
  const drops = [];
  manager.on('drop', (s, m) => drops.push(m));
  const spawned = [];
  manager.on('worker', (s, a, w) => spawned.push(w.pid));
  const closing = manager.close();
  assert.equal(manager.send({ during: 1 }, ECHO), false, 'send() during close() is refused');
  assert.deepEqual(drops, [{ during: 1 }]);
  let addResult;
  try {
    manager.add(OTHER);
    addResult = 'accepted';
  } catch (err) {
    addResult = err.code;
  }
  await within(closing, 10000, 'close()');
  t.diagnostic(`add() during close(): ${addResult}; workers started during close(): ${spawned.length}`);
  assert.deepEqual([...pids].filter(exists), [], 'no worker left when close() resolved');
});

test("stop() from inside a 'message' listener while the readable side is piped emits no 'error'", { timeout: 20000 }, async (t) => {
  const { manager } = createManager(t);
  const errors = [];
  manager.on('error', (e) => errors.push(e.code));
  manager.pipe(new Writable({ objectMode: true, write(c, e, cb) { cb(); } }));
  const up = collectWorkers(manager, 1);
  manager.add(ECHO);
  await up;
  const closed = waitEvent(manager, 'close', { ms: 5000 });
  let stopped = false;
  manager.on('message', () => {
    if (!stopped) {
      stopped = true;
      manager.stop();
    }
  });
  for (let i = 0; i < 200; i++) manager.send({ i }, ECHO); // answers arrive in batches
  await closed;
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(stopped, true);
  assert.deepEqual(errors, [], "stop() inside a 'message' listener must not make the stream emit 'error'");
});
