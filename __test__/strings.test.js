'use strict';
// Strings through JSON pools: every string JSON.stringify accepts (control characters,
// quotes, U+2028/U+2029, Latin-1, CJK, astral code points, lone surrogates, JSON look-alikes,
// newlines; from empty to 200 KiB and one of 1 MiB, with lengths around 256, 1 KiB, 4 KiB
// and 64 KiB by code units, JSON chars and UTF-8 bytes) arrives exactly as through
// child_process.fork: by send(), by the worker itself, by the stream, nested in objects,
// arrays and keys, by call(), and in order. The corpus is deterministic (fixtures/strings.js);
// FORKFRIEND_STRINGS_SEED picks another seed, and every failure names the seed.

const test = require('node:test');
const assert = require('node:assert/strict');
const { fork } = require('node:child_process');
const { once } = require('node:events');
const { Readable, Writable } = require('node:stream');
const { pipeline } = require('node:stream/promises');
const { fixture, collectMessages, startOne } = require('./helpers');
const { corpus, measureOf, BOUNDARIES, LONGEST, HUGE } = require('./fixtures/strings');

const ECHO = fixture('echo.js');
const STRINGS = fixture('strings.js');
const SEED = process.env.FORKFRIEND_STRINGS_SEED === undefined ? 0x5eed2028 : Number(process.env.FORKFRIEND_STRINGS_SEED) >>> 0;
const CORPUS = corpus(SEED);
const NAMES = CORPUS.map(([name]) => name);
const SENT = CORPUS.map(([, s]) => s);
// Nothing may be dropped: the whole corpus waits in one queue.
const CONFIG = { maxQueue: 100000 };

const hexUnits = (s, from, to) => s.slice(Math.max(0, from), to).split('').map((c) => c.charCodeAt(0).toString(16).padStart(4, '0')).join(' ');

/** A test whose failures name the corpus seed, to run it again with FORKFRIEND_STRINGS_SEED. */
function seeded(fn) {
  return async (t) => {
    try {
      await fn(t);
    } catch (err) {
      if (err && typeof err.message === 'string') err.message += ` [corpus seed 0x${SEED.toString(16)}: FORKFRIEND_STRINGS_SEED=${SEED}]`;
      throw err;
    }
  };
}

/** Fails, naming the first differing code unit, unless `got` is the string `want`. */
function sameString(got, want, what) {
  if (got === want) return;
  if (typeof got !== 'string') assert.fail(`${what}: got ${got === null ? 'null' : `a ${typeof got}`}, not a string`);
  let at = 0;
  while (at < got.length && at < want.length && got.charCodeAt(at) === want.charCodeAt(at)) at++;
  assert.fail(`${what}: ${got.length} code units, wanted ${want.length}; first difference at ${at}: ` +
    `got [${hexUnits(got, at - 4, at + 6)}], wanted [${hexUnits(want, at - 4, at + 6)}]`);
}

/** Deep equality of JSON values, strings compared with sameString (no diff of 200 KiB strings). */
function sameValue(got, want, what) {
  if (typeof want === 'string') return sameString(got, want, what);
  if (Array.isArray(want)) {
    assert.ok(Array.isArray(got), `${what}: an array`);
    assert.equal(got.length, want.length, `${what}: its length`);
    want.forEach((w, i) => sameValue(got[i], w, `${what}[${i}]`));
    return;
  }
  if (want !== null && typeof want === 'object') {
    assert.ok(got !== null && typeof got === 'object' && !Array.isArray(got), `${what}: an object`);
    assert.equal(Object.getPrototypeOf(got), Object.prototype, `${what}: a plain object`);
    const keys = Object.keys(got);
    const wantKeys = Object.keys(want);
    assert.equal(keys.length, wantKeys.length, `${what}: its number of keys`);
    wantKeys.forEach((k, i) => {
      sameString(keys[i], k, `${what}: key ${i}`);
      sameValue(got[k], want[k], `${what}.${k.length > 20 ? `<key ${i}>` : k}`);
    });
    return;
  }
  assert.equal(got, want, what);
}

/** Each result is what child_process.fork gave and what was sent. */
function assertAll(ours, theirs, sent, how) {
  assert.equal(ours.length, sent.length, `${how}: every message is answered`);
  assert.equal(theirs.length, sent.length);
  for (let i = 0; i < sent.length; i++) {
    const what = `${how}, message ${i} (${NAMES[i % NAMES.length]})`;
    sameValue(theirs[i], sent[i], `child_process.fork keeps ${what}`);
    sameValue(ours[i], theirs[i], `${what}, against child_process.fork`);
    sameValue(ours[i], sent[i], `${what}, against what was sent`);
  }
}

/** What a child_process.fork(script) child sends back: `n` messages after it is sent `send`. */
async function viaFork(script, send, n) {
  const child = fork(script, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = once(child, 'exit');
  let early;
  try {
    const got = [];
    const all = new Promise((resolve, reject) => {
      child.on('message', (m) => {
        got.push(m);
        if (got.length === n) resolve(got);
      });
      early = (code, signal) => reject(new Error(`the forked child exited (${code ?? signal}) after ${got.length} of ${n} messages`));
      child.on('exit', early);
    });
    for (const m of send) child.send(m);
    return await all;
  } finally {
    child.off('exit', early);
    child.kill('SIGKILL');
    await exited;
  }
}

// The echo through Node's own channel, computed once for the tests that compare with it.
let forkEcho;
const echoedByFork = () => (forkEcho ??= viaFork(ECHO, SENT, SENT.length));

test('the corpus has what it must have', seeded(() => {
  const all = SENT.join('');
  for (let c = 0; c < 0x20; c++) assert.ok(SENT.includes(String.fromCharCode(c)), `control character ${c} alone`);
  for (const c of ['"', '\\', '/', '\x7f', '\u2028', '\u2029', '\u4e2d', '\u{1f600}', '\n', '\r\n']) assert.ok(all.includes(c), JSON.stringify(c));
  for (let c = 0x80; c <= 0xff; c++) assert.ok(all.includes(String.fromCharCode(c)), `Latin-1 ${c}`);
  assert.ok(SENT.includes(''));
  for (const s of ['\ud800', '\udc00', '\udc00\ud800', 'a\ud800', '\ud800a', 'a\udc00b', '[1,2]', '{"a":1}', '"quoted"']) assert.ok(SENT.includes(s), JSON.stringify(s));
  const lone = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
  assert.ok(SENT.some((s) => s.length > 1000 && lone.test(s.slice(0, 1)) && lone.test(s.slice(-1))), 'lone surrogates at both ends of long strings');
  assert.ok(SENT.some((s) => s.length > 64 * 1024 && lone.test(s.slice(1000, -1000))), 'lone surrogates inside long strings');
  for (const measure of ['units', 'json', 'bytes']) {
    const sizes = new Set(SENT.map((s) => measureOf(s, measure)));
    for (const b of BOUNDARIES) {
      for (let d = -1; d <= 1; d++) assert.ok(sizes.has(b + d), `a string of ${b + d} ${measure}`);
    }
  }
  assert.ok(SENT.some((s) => s.length === LONGEST && /^a+"$/.test(s)), 'a long clean run with one escape at the end');
  assert.equal(Math.max(...SENT.map((s) => s.length)), HUGE);
  assert.ok(SENT.filter((s) => s.length > 100 * 1024 && s.length <= LONGEST).length >= 10, 'long strings');
  assert.deepEqual(corpus(SEED), CORPUS, 'the corpus is deterministic');
}));

test('send(): every string comes back from an echo worker as through child_process.fork', { timeout: 30000 }, seeded(async (t) => {
  const theirs = await echoedByFork();
  const { manager } = await startOne(t, ECHO, CONFIG);
  const drops = [];
  manager.on('drop', (script, m) => drops.push(m));
  const got = collectMessages(manager, SENT.length);
  for (const s of SENT) manager.send(s, ECHO);
  const results = await got;
  assert.deepEqual(drops, []);
  assert.ok(results.every((r) => r.script === ECHO));
  assertAll(results.map((r) => r.message), theirs, SENT, 'send()');
  // Strings escaped by the core count the characters of their JSON text all the same.
  const chars = SENT.reduce((sum, s) => sum + JSON.stringify(s).length, 0);
  assert.equal(manager.stats.length, chars, 'stats.length: the characters of the JSON texts sent');
  assert.equal(manager.stats.messages, SENT.length);
}));

test('a worker gets exactly the strings sent, in order (checked inside the worker)', { timeout: 30000 }, seeded(async (t) => {
  const { manager } = await startOne(t, STRINGS, CONFIG);
  const got = collectMessages(manager, SENT.length);
  manager.send({ expect: SEED }, STRINGS);
  for (const s of SENT) manager.send(s, STRINGS);
  const verdicts = (await got).map((r) => r.message);
  verdicts.forEach((v, i) => {
    assert.equal(v.i, i, 'in order');
    assert.ok(v.ok, `the worker got message ${i} (${NAMES[i]}) wrong: ${JSON.stringify(v)}`);
  });
}));

test('strings a worker sends arrive as through child_process.fork', { timeout: 30000 }, seeded(async (t) => {
  const n = SENT.length + 1;
  const theirs = await viaFork(STRINGS, [{ corpus: SEED }], n);
  const { manager } = await startOne(t, STRINGS, CONFIG);
  const got = collectMessages(manager, n);
  manager.send({ corpus: SEED }, STRINGS);
  const ours = (await got).map((r) => r.message);
  assert.deepEqual(ours.at(-1), { done: SENT.length });
  assert.deepEqual(theirs.at(-1), { done: SENT.length });
  assertAll(ours.slice(0, -1), theirs.slice(0, -1), SENT, 'from the worker');
}));

test('the stream: write() in, the readable side and getWorkerStream() out, to the end of input', { timeout: 30000 }, seeded(async (t) => {
  const theirs = await echoedByFork();
  const { manager } = await startOne(t, ECHO, CONFIG);
  const own = [];
  manager.getWorkerStream(ECHO).on('data', (m) => own.push(m));
  const out = [];
  await pipeline(
    Readable.from(SENT),
    manager,
    new Writable({ objectMode: true, write (m, enc, cb) { out.push(m); cb(); } }),
  );
  assertAll(out, theirs, SENT, 'the readable side');
  assertAll(own, theirs, SENT, 'getWorkerStream()');
}));

test('strings nested in objects and arrays, and as keys, come back as through child_process.fork', { timeout: 30000 }, seeded(async (t) => {
  const shapes = [];
  SENT.forEach((s, i) => {
    shapes.push({ s }, [s, s]);
    // Keys too, for the strings up to 64 KiB + 1.
    if (s.length <= 64 * 1024 + 1) shapes.push({ [s]: i, list: [{ v: s }, null, s.length] });
  });
  const theirs = await viaFork(ECHO, shapes, shapes.length);
  const { manager } = await startOne(t, ECHO, CONFIG);
  const got = collectMessages(manager, shapes.length);
  for (const m of shapes) manager.send(m, ECHO);
  const ours = (await got).map((r) => r.message);
  assert.equal(ours.length, shapes.length);
  for (let i = 0; i < shapes.length; i++) {
    sameValue(theirs[i], shapes[i], `child_process.fork keeps shape ${i}`);
    sameValue(ours[i], theirs[i], `shape ${i}, against child_process.fork`);
    sameValue(ours[i], shapes[i], `shape ${i}, against what was sent`);
  }
}));

test('reply mode: call() resolves with exactly each string', { timeout: 30000 }, seeded(async (t) => {
  const theirs = await echoedByFork();
  const { manager } = await startOne(t, ECHO, { ...CONFIG, reply: true });
  const answers = await Promise.all(SENT.map((s) => manager.call(s)));
  assertAll(answers, theirs, SENT, 'call()');
  // One at a time too: each call alone on the wire.
  for (const i of [0, 1, SENT.indexOf('\ud800'), SENT.length - 2, SENT.length - 1]) {
    sameString(await manager.call(SENT[i]), SENT[i], `call() alone, message ${i} (${NAMES[i]})`);
  }

  // The stream in reply mode: results matched to their messages, in input order.
  const ordered = await startOne(t, ECHO, { ...CONFIG, ordered: true, concurrency: 4 });
  const out = [];
  await pipeline(
    Readable.from(SENT),
    ordered.manager,
    new Writable({ objectMode: true, write (m, enc, cb) { out.push(m); cb(); } }),
  );
  assertAll(out, theirs, SENT, 'ordered: true, the stream');
}));

test('order: short and long strings interleaved keep their order, in one tick or spread over many', { timeout: 30000 }, seeded(async (t) => {
  const { manager, worker } = await startOne(t, ECHO, CONFIG);
  const sizes = [0, 1, 255, 256, 257, 1023, 1024, 1025, 4095, 4096, 4097, 65535, 65536, 65537, 128 * 1024, LONGEST];
  const order = [];
  for (let i = 0; i < 300; i++) {
    // Every string is told apart by its number; a long one after a short one and the reverse,
    // well-formed or with lone surrogates (which may take another path), each size with each body.
    const size = sizes[(i * 7) % sizes.length];
    const body = ['a', '"\n', '\u4e2d\u{1f600}', '\ud800\u4e2d', '\u00e9'][i % 5];
    const head = `${i}:`;
    order.push((head + body.repeat(Math.ceil(size / body.length))).slice(0, Math.max(size, head.length)));
  }
  const check = (results, how) => results.forEach((r, i) => sameString(r.message, order[i], `${how}, message ${i}`));

  let got = collectMessages(manager, order.length);
  for (const s of order) manager.send(s, ECHO);
  check(await got, 'send() in one tick');

  got = collectMessages(manager, order.length);
  for (let i = 0; i < order.length; i++) {
    manager.send(order[i], ECHO);
    if (i % 5 === 4) await new Promise(setImmediate);
  }
  check(await got, 'send() over many ticks');

  got = collectMessages(manager, order.length);
  for (const s of order) manager.write(s);
  check(await got, 'write()');

  got = collectMessages(manager, order.length);
  for (const s of order) worker.send(s);
  check(await got, 'worker.send()');
}));
