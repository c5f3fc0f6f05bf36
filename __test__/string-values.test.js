'use strict';
// Objects and arrays with long string values: the core escapes those strings (lib/pieces.js).
// What a worker gets, and what comes back, must be what child_process.fork gives, with every
// property read once, toJSON and nesting left to V8, and `stats.length` unchanged.

const test = require('node:test');
const assert = require('node:assert/strict');
const { fork } = require('node:child_process');
const { once } = require('node:events');
const { fixture, collectMessages, nextMessage, waitEvent, startOne } = require('./helpers');

const ECHO = fixture('echo.js');
const LONG = 'a"b\\c\n\u0001\u2028é\u4e2d😀'.repeat(200); // every kind of escape, ~2,600 code units

/** What an echo worker forked by child_process.fork sends back for `messages`. */
async function viaFork(messages) {
  const child = fork(ECHO, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = once(child, 'exit');
  try {
    const got = [];
    const all = new Promise((resolve) => child.on('message', (m) => got.push(m) === messages.length && resolve(got)));
    for (const m of messages) child.send(m);
    return await all;
  } finally {
    child.kill('SIGKILL');
    await exited;
  }
}

/** Sends `messages` to an echo worker; resolves with the answers and the manager. */
async function viaManager(t, messages, config) {
  const { manager } = await startOne(t, ECHO, config);
  const got = collectMessages(manager, messages.length);
  for (const m of messages) manager.send(m, ECHO);
  return { answers: (await got).map((r) => r.message), manager };
}

function shapes() {
  const withGetter = { id: 'getter' };
  let reads = 0;
  Object.defineProperty(withGetter, 'p', { enumerable: true, get: () => `${++reads}:${LONG}` });
  const nullProto = Object.assign(Object.create(null), { id: 'null prototype', p: LONG });
  const ownProto = JSON.parse(`{"id":"own __proto__","__proto__":${JSON.stringify(LONG)},"q":${JSON.stringify(LONG)}}`);
  const sparse = [LONG];
  sparse[3] = LONG; // holes in between
  return {
    reads: () => reads,
    list: [
      { id: 1, p: LONG },
      { id: 2, p: LONG, q: LONG + 'x', short: 'short', n: NaN, inf: -Infinity, u: undefined, f: () => 1, nested: { p: LONG } },
      [3, LONG, null, undefined, () => 1, Symbol('s'), LONG],
      sparse,
      { '10': LONG, '2': 'two', z: LONG, '1': LONG }, // integer keys first, in order
      { id: 'date', when: new Date(0), p: LONG, buf: Buffer.from('hi') },
      { id: 'toJSON gets its key', p: LONG, v: { toJSON: (key) => `key=${key}` } },
      { id: 'toJSON of the message', p: LONG, toJSON: () => ({ replaced: LONG }) },
      { id: 'look-alike', p: LONG, hole: '\u0000forkfriend\u0001', deep: ['\u0000forkfriend\u0001'] },
      { id: 'lone surrogate', p: LONG + '\ud800', q: '\udc00' + LONG },
      { id: 'boxed', s: new String(LONG), p: LONG },
      withGetter,
      nullProto,
      ownProto,
      { id: 'short values only', p: 'x'.repeat(1023) },
    ]
  };
}

test('objects and arrays with long string values arrive as through child_process.fork', { timeout: 30000 }, async (t) => {
  const ours = shapes();
  const theirs = shapes();
  const fromFork = await viaFork(theirs.list);
  const { answers, manager } = await viaManager(t, ours.list);
  assert.deepEqual(answers, fromFork);
  assert.equal(ours.reads(), 1, 'a getter is read once, as JSON.stringify reads it');
  const chars = theirs.list.reduce((n, m) => n + JSON.stringify(m).length, 0);
  assert.equal(manager.stats.length, chars, 'stats.length: the characters of the JSON texts');
  // The long values' escapes (the quote, backslash, newline and U+0001 of each repetition)
  // were written by the core, not by V8.
  assert.ok(manager._core.stringEscapes() >= 200 * 8, `the core escaped the long values (${manager._core.stringEscapes()} characters)`);
});

test('small objects between big ones: every message arrives intact and in order', { timeout: 30000 }, async (t) => {
  // Runs of small objects make the manager stop examining objects for a while; the big
  // ones after them must arrive all the same (either way).
  const messages = [];
  for (let i = 0; i < 2000; i++) messages.push(i % 97 < 80 ? { i, p: 'x' } : { i, p: `${i}:${LONG}` });
  // Nothing may be dropped: they all wait in one queue.
  const { answers } = await viaManager(t, messages, { maxQueue: 100000 });
  assert.deepEqual(answers, messages);
});

test('reply mode and the stream take the same path', { timeout: 30000 }, async (t) => {
  const { manager } = await startOne(t, ECHO, { reply: true });
  const messages = shapes().list.filter((m) => !(m && m.id === 'getter'));
  const want = await viaFork(messages);
  const answers = await Promise.all(messages.map((m) => manager.call(m)));
  assert.deepEqual(answers, want);

  const stream = await startOne(t, ECHO);
  const got = collectMessages(stream.manager, messages.length);
  for (const m of messages) stream.manager.write(m);
  assert.deepEqual((await got).map((r) => r.message), want);
});

test('an object with a long value that cannot be serialized throws as JSON.stringify would', async (t) => {
  const { manager } = await startOne(t, ECHO);
  const cyclic = { p: LONG };
  cyclic.self = cyclic;
  for (const bad of [{ p: LONG, n: 1n }, cyclic]) {
    assert.throws(() => manager.send(bad), (err) => err instanceof TypeError && err.code === 'ERR_FORKFRIEND_UNSERIALIZABLE');
  }
  // The manager goes on.
  const got = collectMessages(manager, 1);
  manager.send({ p: LONG });
  assert.deepEqual((await got)[0].message, { p: LONG });
});

test('results with long values that JSON.parse reads its own way, or rejects, come out as JSON.parse has them', { timeout: 30000 }, async (t) => {
  const { manager } = await startOne(t, fixture('raw-line.js'));
  const literal = JSON.stringify(LONG);
  const lines = [
    `{"p":${literal},"p":1}`, // the last of a repeated key wins
    `{ "id" : 1 ,\t"p" : ${literal} }`, // whitespace between the tokens
    `{"__proto__":${literal},"q":${literal}}`, // an own property, not the prototype
    `{"\\u0070":${literal},"q":2}`, // an escaped key
    `[ ${literal} , {"a":[${literal}]} ]`,
  ];
  for (const raw of lines) {
    const got = nextMessage(manager);
    manager.send({ raw });
    const want = JSON.parse(raw);
    const { message } = await got;
    assert.deepEqual(message, want, raw.slice(0, 40));
    assert.deepEqual(Object.keys(message), Object.keys(want));
    assert.equal(Object.getPrototypeOf(message), Object.getPrototypeOf(want));
  }
  // Not JSON outside its long value: reported, and the worker goes on answering.
  const errored = waitEvent(manager, 'worker-error');
  manager.send({ raw: `{"p":${literal},"x":tru}` });
  const [err] = await errored;
  assert.equal(err.code, 'ERR_WORKER_INVALID_JSON');
  const after = nextMessage(manager);
  manager.send({ p: LONG });
  assert.deepEqual((await after).message, { p: LONG });
});
