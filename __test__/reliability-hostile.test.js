'use strict';
// Hostile workers: malformed JSON and invalid UTF-8 on the channel, a line of 300 MB, a flood of
// results nobody reads, and a worker that is not Node at all. The manager reports worker errors,
// recycles the worker when it must, stays up with bounded memory (its RSS is this test
// process's RSS, reported with t.diagnostic), and other workers and pools keep working.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { Writable } = require('node:stream');
const { setTimeout: sleep } = require('node:timers/promises');
const { createManager, collectWorkers, collectMessages, nextMessage, waitEvent, alive, waitFor } = require('./helpers');
const { rfixture, within, sampleRss, MiB, mb } = require('./reliability-support');

const GARBAGE = rfixture('garbage.js');
const HUGE = rfixture('huge-line.js');
const FLOOD = rfixture('flood.js');
const ECHO = rfixture('echo-pid.js');
const SH_ECHO = rfixture('sh-echo.sh');

/** Collects 'worker-error' codes (or exit codes/signals) per script. */
function workerErrors(manager) {
  const list = [];
  manager.on('worker-error', (e, script, args, worker) => list.push({ code: e instanceof Error ? e.code : e, message: e instanceof Error ? e.message : '', script, pid: worker?.pid }));
  return list;
}

/** Resolves once `manager` answers a message on `script` (an echo-pid pool). */
async function answers(manager, script, tag) {
  const got = nextMessage(manager, (m) => m && m.m && m.m.tag === tag, 10000);
  manager.send({ tag }, script);
  return (await got).message;
}

function vmRss(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

test('(a) malformed JSON and invalid UTF-8 are worker errors; the valid messages and other pools are unaffected', { timeout: 30000 }, async (t) => {
  const { manager } = createManager(t);
  const errors = workerErrors(manager);
  const exits = [];
  manager.on('worker-exit', (code, script, args, w) => exits.push(w.pid));
  const up = collectWorkers(manager, 2);
  manager.add(GARBAGE);
  manager.add(ECHO);
  const byScript = Object.fromEntries((await up).map((w) => [w.script, w.worker]));

  const valid = collectMessages(manager, 100, { filter: (m) => m && m.ok !== undefined });
  manager.send({ cmd: 'garbage', n: 100 }, GARBAGE);
  const got = await valid;
  assert.deepEqual(got.map((g) => g.message.ok), [...Array(100).keys()], 'the 100 valid messages all arrive, in order');
  assert.ok(got.every((g) => g.worker === byScript[GARBAGE]));

  await waitFor(() => errors.filter((e) => e.code === 'ERR_WORKER_INVALID_JSON').length >= 2 &&
    errors.some((e) => e.code === 'ERR_WORKER_INVALID_MESSAGE'), 10000, () => `the worker errors (${JSON.stringify(errors)})`);
  t.diagnostic(`worker-error events: ${JSON.stringify(errors)}`);
  for (const e of errors) {
    assert.ok(['ERR_WORKER_INVALID_JSON', 'ERR_WORKER_INVALID_MESSAGE'].includes(e.code), `unexpected worker error ${JSON.stringify(e)}`);
    assert.equal(e.script, GARBAGE);
    assert.equal(e.pid, byScript[GARBAGE].pid, "the error names the worker");
  }
  assert.ok(errors.some((e) => e.message.includes('not json')), 'the error shows the offending text');

  // The garbage worker keeps running and answering; the other pool never noticed.
  assert.equal((await answers(manager, GARBAGE, 'after')).pid, byScript[GARBAGE].pid);
  for (let i = 0; i < 20; i++) assert.equal((await answers(manager, ECHO, `echo ${i}`)).pid, byScript[ECHO].pid);
  assert.deepEqual(exits, [], 'no worker exited');
});

for (const limit of [8 * MiB, undefined]) {
  const label = limit ? `maxMessageBytes ${mb(limit)}` : 'the default maxMessageBytes (64 MiB)';
  test(`(b) a 300 MB line with ${label}: ERR_WORKER_MESSAGE_TOO_LARGE, worker replaced, RSS bounded`, { timeout: 60000 }, async (t) => {
    const { manager } = createManager(t, limit ? { maxMessageBytes: limit } : undefined);
    const max = manager.config.maxMessageBytes;
    const errors = workerErrors(manager);
    const up = collectWorkers(manager, 2);
    manager.add(HUGE);
    manager.add(ECHO);
    const byScript = Object.fromEntries((await up).map((w) => [w.script, w.worker]));
    const old = byScript[HUGE];

    const rss = sampleRss(10);
    const startedAt = Date.now();
    const tooLarge = waitEvent(manager, 'worker-error', { filter: (e) => e && e.code === 'ERR_WORKER_MESSAGE_TOO_LARGE', ms: 30000 });
    const exited = waitEvent(manager, 'worker-exit', { filter: (c, s, a, w) => w === old, ms: 30000 });
    const replaced = waitEvent(manager, 'worker', { filter: (s, a, w) => s === HUGE && w !== old, ms: 30000 });
    manager.send({ cmd: 'huge', mb: 300 }, HUGE);
    const [err, , , errWorker] = await tooLarge;
    const detectedMs = Date.now() - startedAt;
    await exited;
    const [, , fresh] = await replaced;
    const figures = rss.stop();

    assert.equal(errWorker, old, 'the error names the worker');
    assert.match(err.message, new RegExp(String(max)));
    assert.ok(old.exitCode !== null || old.signalCode !== null, 'the old worker is gone');
    assert.notEqual(fresh.pid, old.pid);
    assert.equal((await answers(manager, HUGE, 'fresh')).pid, fresh.pid, 'the replacement answers');
    assert.equal((await answers(manager, ECHO, 'echo')).pid, byScript[ECHO].pid, 'the other pool is unaffected');
    assert.deepEqual(errors.filter((e) => e.code !== 'ERR_WORKER_MESSAGE_TOO_LARGE' && e.code !== 'SIGTERM'), [], 'no other worker error');

    const growth = figures.peak - figures.baseline;
    const bound = 2 * max + 50 * MiB;
    t.diagnostic(`limit ${mb(max)}: detected after ${detectedMs} ms; manager RSS baseline ${mb(figures.baseline)}, peak ${mb(figures.peak)} (+${mb(growth)}), ` +
      `end ${mb(figures.last)}; bound +${mb(bound)}; old worker exit ${old.exitCode ?? old.signalCode}`);
    assert.ok(growth < bound, `manager RSS grew by ${mb(growth)}, less than 2 x ${mb(max)} + 50 MiB`);
  });
}

/** A Writable that takes one chunk and then never calls back: a consumer that stopped reading. */
function stuckConsumer() {
  return new Writable({ objectMode: true, highWaterMark: 16, write() {} });
}

const FLOOD_MS = 3000;
const consumers = {
  'piped into a Writable that never calls back': (manager) => manager.pipe(stuckConsumer()),
  "'data' attached, then pause()": (manager) => { manager.on('data', () => {}); manager.pause(); },
  "only 'message' listeners (readable side unused)": () => {},
};

for (const [how, attach] of Object.entries(consumers)) {
  test(`(c) a result flood, results ${how}: the manager's RSS stays bounded and another pool works`, { timeout: 60000 }, async (t) => {
    const { manager } = createManager(t);
    const { manager: other } = createManager(t);
    const errors = [];
    manager.on('error', (e) => errors.push(e));
    let results = 0;
    manager.on('message', (m) => { if (m && m.seq !== undefined) results++; });
    const up = Promise.all([collectWorkers(manager, 1), collectWorkers(other, 1)]);
    manager.add(FLOOD);
    other.add(ECHO);
    const [[{ worker: flooder }]] = await up;
    attach(manager);

    const rss = sampleRss(20);
    const workerRssStart = vmRss(flooder.pid);
    manager.send({ cmd: 'flood' }, FLOOD);
    const t0 = Date.now();
    const rtts = [];
    let pings = 0;
    while (Date.now() - t0 < FLOOD_MS) {
      const s = Date.now();
      await answers(other, ECHO, `ping ${pings++}`);
      rtts.push(Date.now() - s);
      await sleep(100);
    }
    const figures = rss.stop();
    const workerRssEnd = vmRss(flooder.pid);
    const growth = figures.peak - figures.baseline;
    t.diagnostic(`results taken by the manager in ${FLOOD_MS} ms: ${results}; manager RSS baseline ${mb(figures.baseline)}, ` +
      `peak ${mb(figures.peak)} (+${mb(growth)}), end ${mb(figures.last)}; flooding worker RSS ${mb(workerRssStart)} -> ${mb(workerRssEnd)}; ` +
      `other manager: ${pings} pings, max round trip ${Math.max(...rtts)} ms`);

    assert.deepEqual(errors, []);
    assert.ok(results > 0, 'the flood started');
    assert.ok(alive(flooder.pid), 'the flooding worker is left alone (flooding is not an error)');
    assert.ok(growth < 64 * MiB, `manager RSS grew by ${mb(growth)} (< 64 MiB) during the flood`);
    assert.ok(pings >= 3, `the other pool answered throughout (${pings} pings)`);
  });
}

test('(d) a worker that is not Node (a shell script): garbage is a worker error, its echoes arrive', { timeout: 30000, skip: !fs.existsSync('/bin/sh') && 'no /bin/sh' }, async (t) => {
  const { manager } = createManager(t, { fork: { execPath: '/bin/sh', execArgv: [] } });
  const errors = workerErrors(manager);
  const up = collectWorkers(manager, 1);
  manager.add(SH_ECHO);
  const [{ worker }] = await up;
  const replies = collectMessages(manager, 20, { filter: (m) => m && m.n !== undefined });
  for (let n = 0; n < 20; n++) manager.send({ n, text: 'a "quoted" $(value); `x`' }, SH_ECHO);
  const got = await replies;
  assert.deepEqual(got.map((g) => g.message.n), [...Array(20).keys()]);
  assert.ok(got.every((g) => g.worker === worker && g.message.text === 'a "quoted" $(value); `x`'));
  await waitFor(() => errors.length > 0, 5000, 'the worker error for the greeting');
  assert.equal(errors[0].code, 'ERR_WORKER_INVALID_JSON');
  assert.match(errors[0].message, /hello from sh/);
  const exited = waitEvent(manager, 'worker-exit', { ms: 10000 });
  await within(manager.close(), 15000, 'close() of the shell worker');
  const [code] = await exited;
  assert.equal(code, 0, 'the shell worker saw the channel close and exited by itself');
});
