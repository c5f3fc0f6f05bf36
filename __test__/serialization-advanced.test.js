'use strict';
// serialization: 'advanced' (a fork option, per pool): unchanged workers get V8's
// structured-clone messages exactly as from child_process.fork(..., { serialization:
// 'advanced' }), in both directions; control messages, reply mode, drops, failures,
// worker.send(), the stream, and JSON pools beside advanced ones.

const test = require('node:test');
const assert = require('node:assert/strict');
const { fork } = require('node:child_process');
const fs = require('node:fs');
const { once } = require('node:events');
const {
  fixture, waitFor, waitEvent, collectWorkers, collectMessages, nextMessage, createManager, startOne,
} = require('./helpers');
const { advancedValues } = require('./fixtures/advanced-values');

const ECHO = fixture('echo.js');
const SENDER = fixture('advanced-sender.js');
const PAUSABLE = fixture('pausable.js');
const END_ON_MESSAGE = fixture('end-on-message.js');
const EXIT_ON_MESSAGE = fixture('exit-on-message.js');
const MODE = fixture('advanced-env.js');
const MODE_2 = fixture('advanced-env-2.js');
const ADVANCED = { fork: { serialization: 'advanced' } };

/** What child_process.fork(script, { serialization: 'advanced' }) receives: `n` messages after sending `send`. */
async function viaFork(t, script, send, n) {
  const child = fork(script, [], { serialization: 'advanced' });
  t.after(() => child.kill('SIGKILL'));
  const got = [];
  const all = new Promise((resolve, reject) => {
    child.on('message', (m) => {
      got.push(m);
      if (got.length === n) resolve(got);
    });
    child.on('exit', (code) => reject(new Error(`the forked child exited (${code}) after ${got.length} of ${n} messages`)));
  });
  for (const m of send) child.send(m);
  const result = await all;
  child.removeAllListeners('exit');
  child.kill('SIGKILL');
  await once(child, 'exit');
  return result;
}

/** NODE_CHANNEL_SERIALIZATION_MODE as the worker process was started with it. */
function channelMode(pid) {
  const env = fs.readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0');
  return env.find((kv) => kv.startsWith('NODE_CHANNEL_SERIALIZATION_MODE='))?.split('=')[1];
}

/** The wrapped values (every kind), then the top-level values child_process.send() accepts. */
function messages() {
  const wrapped = advancedValues().map(([name, v]) => ({ name, v }));
  const topLevel = advancedValues().filter(([name]) => name !== 'BigInt' && name !== 'undefined').map(([, v]) => v);
  return [...wrapped, ...topLevel];
}

function typeName(v) {
  if (v === undefined) return 'undefined';
  if (typeof v === 'bigint') return 'BigInt';
  return v.constructor.name;
}

/** Each result equals Node's own, value and type, and each wrapped value has the expected type. */
function assertSameAsFork(ours, theirs) {
  assert.equal(ours.length, theirs.length);
  for (let i = 0; i < ours.length; i++) {
    assert.deepStrictEqual(ours[i], theirs[i], `message ${i}`);
    assert.equal(Object.getPrototypeOf(ours[i]), Object.getPrototypeOf(theirs[i]), `message ${i}: same prototype`);
  }
  const expected = new Map(advancedValues().map(([name, , type]) => [name, type]));
  for (const m of ours.filter((x) => x && typeof x === 'object' && expected.has(x.name) && 'v' in x)) {
    assert.equal(typeName(m.v), expected.get(m.name), `the ${m.name} keeps its type`);
  }
  const circular = ours.find((m) => m && m.name === 'circular').v;
  assert.equal(circular.child.parent, circular, 'the circular reference is restored');
  assert.equal(circular.child.list[2], circular.child);
}

test('values sent to an unchanged echo worker come back as they do through child_process.fork', { timeout: 30000 }, async (t) => {
  const send = messages();
  const theirs = await viaFork(t, ECHO, send, send.length);
  const { manager } = await startOne(t, ECHO, ADVANCED);
  const got = collectMessages(manager, send.length);
  for (const m of send) manager.send(m, ECHO);
  assertSameAsFork((await got).map((r) => r.message), theirs);
  for (let i = 0; i < send.length; i++) {
    if (send[i]?.name === 'circular' || send[i]?.name === 'Error') continue;
    assert.deepStrictEqual(theirs[i], send[i], `Node's own channel keeps message ${i}`);
  }
});

test('values a worker sends unprompted arrive as through child_process.fork', { timeout: 30000 }, async (t) => {
  const n = advancedValues().length + 1;
  const theirs = await viaFork(t, SENDER, [], n);
  const { manager } = createManager(t, ADVANCED);
  const got = collectMessages(manager, n);
  manager.add(SENDER, 1);
  const ours = (await got).map((r) => r.message);
  assert.deepEqual(ours.at(-1), { done: true });
  assertSameAsFork(ours.slice(0, -1), theirs.slice(0, -1));
  for (const m of ours.slice(0, -1)) {
    if (m.name === 'Error') assert.equal(m.v.message, 'out of range');
  }
});

test('the stream carries advanced messages, large ones included, in order', { timeout: 30000 }, async (t) => {
  const { manager } = await startOne(t, ECHO, ADVANCED);
  const big = Buffer.alloc(3 << 20, 7);
  big[big.length - 1] = 9;
  const chunks = [...messages(), big, new Map([['big', big]]), { last: new Set([1]) }];
  const got = [];
  const done = new Promise((resolve) => manager.on('data', (m) => {
    got.push(m);
    if (got.length === chunks.length) resolve();
  }));
  for (const c of chunks) manager.write(c);
  await done;
  for (let i = 0; i < chunks.length; i++) {
    if (chunks[i]?.name === 'circular') continue;
    assert.deepStrictEqual(got[i], chunks[i], `chunk ${i}`);
  }
  assert.ok(Buffer.isBuffer(got.at(-3)) && got.at(-3).equals(big), 'a 3 MiB Buffer arrives whole');
});

test('workers of an advanced pool are told the mode; other pools stay JSON, broadcasts reach both', { timeout: 30000 }, async (t) => {
  const { manager } = createManager(t);
  const up = collectWorkers(manager, 2);
  manager.add(MODE, 1);
  manager.options = { serialization: 'advanced' }; // fork options for pools added from now on
  manager.add(MODE_2, 1);
  await up;
  const replies = collectMessages(manager, 2);
  manager.send(new Map([[1, 2]]), MODE);
  manager.send(new Map([[1, 2]]), MODE_2);
  const byScript = Object.fromEntries((await replies).map((r) => [r.script, r.message]));
  assert.equal(byScript[MODE].isMap, false);
  assert.equal(channelMode(byScript[MODE].pid), 'json');
  assert.equal(byScript[MODE_2].isMap, true);
  assert.equal(channelMode(byScript[MODE_2].pid), 'advanced');

  // One message to every pool, by send() and by the stream: each pool gets its own encoding.
  const both = collectMessages(manager, 4);
  manager.send(new Map([[3, 4]]));
  manager.write(new Map([[5, 6]]));
  const all = (await both).map((r) => [r.script, r.message.isMap]).sort();
  assert.deepEqual(all, [[MODE, false], [MODE, false], [MODE_2, true], [MODE_2, true]].sort());

  // What JSON cannot carry still fails for the JSON pool (and for a message to every pool).
  assert.throws(() => manager.send({ n: 1n }, MODE), { name: 'TypeError', code: 'ERR_FORKFRIEND_UNSERIALIZABLE' });
  assert.throws(() => manager.send({ n: 1n }), { name: 'TypeError', code: 'ERR_FORKFRIEND_UNSERIALIZABLE' });
  const answer = nextMessage(manager, (m, script) => script === MODE_2);
  manager.send({ n: 1n }, MODE_2);
  assert.equal((await answer).message.isMap, false);
});

test('what V8 cannot serialize is the same unserializable error', { timeout: 30000 }, async (t) => {
  const { manager, worker } = await startOne(t, ECHO, ADVANCED);
  for (const bad of [{ f() {} }, { s: Symbol('x') }, undefined]) {
    assert.throws(() => manager.send(bad, ECHO), { name: 'TypeError', code: 'ERR_FORKFRIEND_UNSERIALIZABLE' });
    assert.throws(() => worker.send(bad), { name: 'TypeError', code: 'ERR_FORKFRIEND_UNSERIALIZABLE' });
  }
  // The manager goes on.
  const reply = nextMessage(manager);
  manager.send(new Set(['fine']), ECHO);
  assert.deepStrictEqual((await reply).message, new Set(['fine']));
});

test('bad serialization values are refused when the pool is created', { timeout: 30000 }, async (t) => {
  for (const serialization of ['xml', 'ADVANCED', 5, true]) {
    const { manager } = createManager(t, { fork: { serialization } });
    assert.throws(() => manager.add(ECHO), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE', message: /options\.serialization/ });
  }
});

test("the worker object's send() and its 'message' events carry advanced values", { timeout: 30000 }, async (t) => {
  const { worker } = await startOne(t, ECHO, ADVANCED);
  const reply = once(worker, 'message');
  assert.equal(worker.send({ when: new Date(7), bytes: new Uint8Array([1, 2]) }), true);
  const [message] = await reply;
  assert.deepStrictEqual(message, { when: new Date(7), bytes: new Uint8Array([1, 2]) });
});

test('control messages from an advanced worker pause, drain and end it, and never leak', { timeout: 30000 }, async (t) => {
  const { manager, worker } = await startOne(t, PAUSABLE, { ...ADVANCED, maxQueue: 2 });
  const drops = [];
  manager.on('drop', (script, message) => drops.push(message));
  manager.send({ cmd: 'pause' }, PAUSABLE);
  await nextMessage(manager, (m) => m && m.paused === worker.pid);
  await waitFor(() => worker.paused > 0, 10000, 'the worker to be paused');
  const replies = collectMessages(manager, 2, { filter: (m) => m && m.m instanceof Map });
  for (let q = 0; q < 4; q++) manager.send(new Map([['q', q]]), PAUSABLE);
  // Past maxQueue the oldest are dropped, reported with their values.
  await waitFor(() => drops.length === 2, 10000, 'two drops');
  assert.deepStrictEqual(drops, [new Map([['q', 0]]), new Map([['q', 1]])]);
  worker.send({ cmd: 'drain' }); // straight to the worker, past the pool's queue
  const got = await replies;
  assert.deepStrictEqual(got.map((r) => r.message.m.get('q')), [2, 3]);
  assert.ok(got.every((r) => r.message.whilePaused === false), 'nothing reached it while it was paused');

  // {__forkfriend: 'end'}: the worker is replaced.
  const made = createManager(t, ADVANCED);
  const first = collectWorkers(made.manager, 1);
  made.manager.add(END_ON_MESSAGE, 1);
  const [{ worker: old }] = await first;
  const next = collectWorkers(made.manager, 1);
  made.manager.send({ cmd: 'end' }, END_ON_MESSAGE);
  const [{ worker: fresh }] = await next;
  assert.notEqual(fresh.pid, old.pid);
  const reply = nextMessage(made.manager, (m) => m && m.pid === fresh.pid);
  made.manager.send({ big: 2n ** 64n }, END_ON_MESSAGE);
  assert.deepStrictEqual((await reply).message.m, { big: 2n ** 64n });
});

test('reply mode: call() with a BigInt, ordered results and failed messages keep their values', { timeout: 30000 }, async (t) => {
  const { manager } = await startOne(t, ECHO, { ...ADVANCED, reply: true });
  const answer = await manager.call({ n: 2n ** 70n, at: new Date(1) });
  assert.deepStrictEqual(answer, { n: 2n ** 70n, at: new Date(1) });

  const ordered = await startOne(t, ECHO, { ...ADVANCED, ordered: true, concurrency: 4 });
  const got = [];
  const done = new Promise((resolve) => ordered.manager.on('data', (m) => {
    got.push(m);
    if (got.length === 100) resolve();
  }));
  for (let i = 0; i < 100; i++) ordered.manager.write(new Map([['i', BigInt(i)]]));
  await done;
  assert.deepStrictEqual(got.map((m) => m.get('i')), Array.from({ length: 100 }, (_, i) => BigInt(i)));

  const dying = await startOne(t, EXIT_ON_MESSAGE, { ...ADVANCED, reply: true, maxRetries: 0 });
  const failed = waitEvent(dying.manager, 'failed');
  dying.manager.send({ code: 3, tag: new Set(['x']) }, EXIT_ON_MESSAGE);
  const [err, message, script] = await failed;
  assert.equal(err.code, 'ERR_WORKER_DIED');
  assert.equal(script, EXIT_ON_MESSAGE);
  assert.deepStrictEqual(message, { code: 3, tag: new Set(['x']) });
});

test('a frame that cannot be deserialized is a worker error; one past maxMessageBytes ends the worker', { timeout: 30000 }, async (t) => {
  const BAD = fixture('bad-frame.js');
  const { manager, worker } = await startOne(t, BAD, { ...ADVANCED, maxMessageBytes: 1 << 20 });
  const errors = [];
  manager.on('worker-error', (err) => errors.push(err));
  const after = nextMessage(manager, (m) => m && m.after === 'bad');
  manager.send({ cmd: 'bad' }, BAD);
  await after;
  assert.equal(errors.length, 1);
  assert.equal(errors[0].code, 'ERR_WORKER_INVALID_MESSAGE');
  // The worker goes on.
  const echo = nextMessage(manager, (m) => m instanceof Map);
  manager.send(new Map([['still', 'here']]), BAD);
  await echo;

  const replaced = collectWorkers(manager, 1);
  manager.send({ cmd: 'huge' }, BAD);
  await waitFor(() => errors.some((e) => e.code === 'ERR_WORKER_MESSAGE_TOO_LARGE'), 10000, 'the too-large error');
  const [{ worker: fresh }] = await replaced;
  assert.notEqual(fresh.pid, worker.pid, 'the worker was replaced');
});

test('reply mode with a JSON pool and an advanced pool: every call gets its own answer', { timeout: 30000 }, async (t) => {
  const { manager } = createManager(t, { reply: true, concurrency: 8 });
  const up = collectWorkers(manager, 2);
  manager.add(MODE, 1);
  manager.options = { serialization: 'advanced' };
  manager.add(ECHO, 1);
  await up;
  const calls = [];
  for (let i = 0; i < 200; i++) {
    calls.push(manager.call(new Map([['i', i]]), { script: ECHO }).then((m) => ['advanced', i, m]));
    calls.push(manager.call({ i }, { script: MODE }).then((m) => ['json', i, m]));
  }
  for (const [kind, i, answer] of await Promise.all(calls)) {
    if (kind === 'advanced') assert.deepStrictEqual(answer, new Map([['i', i]]));
    else assert.deepStrictEqual(answer, { pid: answer.pid, isMap: false, m: { i } });
  }
});
