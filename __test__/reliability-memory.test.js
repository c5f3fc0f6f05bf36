'use strict';
// maxWorkerRss: a worker whose resident set grows past the limit (checked every 500 ms) is
// reported ('worker-error' ERR_WORKER_MEMORY_LIMIT) and retired gracefully: its replacement
// starts at once, it gets no new messages, it answers what it already has, and then it is
// closed. No message is lost: everything sent before, during and after is answered once.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { fork } = require('node:child_process');
const { once } = require('node:events');
const { createManager, collectWorkers, waitEvent, waitFor, alive } = require('./helpers');
const { rfixture, MiB, mb } = require('./reliability-support');
// (maxQueue 1000 > 900: nothing is dropped for lack of room.)

const BLOAT = rfixture('bloat.js');
// Above what a fresh worker of this Node version holds (from ~45 MiB on Node 20 to ~54 MiB
// on Node 26), far below what the bloat message adds (100 MiB).
const HEADROOM = 40 * MiB;

function vmRss(pid) {
  try {
    return Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024;
  } catch {
    return 0;
  }
}

/** The resident set of a fresh bloat worker that has answered one message, started by fork(). */
async function freshWorkerRss() {
  const child = fork(BLOAT, [], { stdio: 'ignore' });
  try {
    child.send({ hello: true });
    await once(child, 'message');
    return vmRss(child.pid);
  } finally {
    child.kill('SIGKILL');
    await once(child, 'exit').catch(() => {});
  }
}

test('maxWorkerRss: a worker that grows to ~100 MB is replaced and no message is lost', { timeout: 60000 }, async (t) => {
  const LIMIT = Math.ceil((await freshWorkerRss() + HEADROOM) / MiB) * MiB;
  const { manager } = createManager(t, { maxWorkerRss: LIMIT });
  assert.equal(manager.config.maxWorkerRss, LIMIT);
  const errors = [];
  manager.on('worker-error', (e, s, a, w) => errors.push({ code: e instanceof Error ? e.code : e, message: e instanceof Error ? e.message : '', pid: w?.pid }));
  let drops = 0;
  manager.on('drop', () => drops++);
  const answers = new Map(); // n -> [pids that answered]
  let bloatAnsweredBy = null;
  manager.on('message', (m) => {
    if (!m || !m.m) return;
    if (m.m.cmd === 'bloat') bloatAnsweredBy = m.pid;
    else if (m.m.n !== undefined) answers.set(m.m.n, [...(answers.get(m.m.n) || []), m.pid]);
  });

  const up = collectWorkers(manager, 1);
  manager.add(BLOAT);
  const [{ worker: old }] = await up;
  const hello = waitEvent(manager, 'message', { filter: (m) => m && m.m && m.m.hello });
  manager.send({ hello: true }, BLOAT);
  await hello;
  const baseRss = vmRss(old.pid);
  assert.ok(baseRss < LIMIT, `a fresh worker is under the limit (${mb(baseRss)})`);

  const limitHit = waitEvent(manager, 'worker-error', { filter: (e) => e && e.code === 'ERR_WORKER_MEMORY_LIMIT', ms: 15000 });
  const replacement = waitEvent(manager, 'worker', { filter: (s, a, w) => w !== old, ms: 15000 });
  const oldExit = waitEvent(manager, 'worker-exit', { filter: (c, s, a, w) => w === old, ms: 20000 });
  // 300 before the bloat, then the bloat, then 300 more that queue behind it (~2 ms each).
  // 4 KiB each, so that only part of the backlog fits in the worker's buffers and its channel:
  // the rest is still in the pool's queue when the limit is hit.
  const pad = 'p'.repeat(4096);
  let n = 0;
  for (; n < 300; n++) manager.send({ n, pad }, BLOAT);
  manager.send({ cmd: 'bloat', mb: 100 }, BLOAT);
  for (; n < 600; n++) manager.send({ n, pad }, BLOAT);

  const [err, , , errWorker] = await limitHit;
  const [, , fresh] = await replacement;
  const queuedAtLimit = 600 - answers.size;
  // Messages sent after the replacement started must all go to it.
  const firstAfter = n;
  for (; n < 900; n++) manager.send({ n, pad }, BLOAT);
  await waitFor(() => answers.size === 900 && bloatAnsweredBy !== null, 20000, () => `all 900 answered (${answers.size})`);
  const [exitCode] = await oldExit;

  t.diagnostic(`limit ${mb(LIMIT)}; fresh worker RSS ${mb(baseRss)}; error: "${err.message}"; ${queuedAtLimit} of 600 not yet answered when the limit was hit; ` +
    `old worker answered ${[...answers.values()].filter((p) => p[0] === old.pid).length}, replacement ${[...answers.values()].filter((p) => p[0] === fresh.pid).length}; old worker exit ${exitCode ?? old.signalCode}`);
  assert.equal(errWorker, old, 'the error names the bloated worker');
  assert.match(err.message, /MiB/);
  assert.notEqual(fresh.pid, old.pid);
  assert.equal(bloatAnsweredBy, old.pid, 'the bloated worker still answered the message it had');
  assert.equal(drops, 0, 'nothing dropped');
  for (let i = 0; i < 900; i++) assert.equal(answers.get(i)?.length, 1, `message ${i} answered exactly once`);
  for (let i = firstAfter; i < 900; i++) assert.equal(answers.get(i)[0], fresh.pid, `message ${i}, sent after the replacement started, went to it`);
  assert.ok(!alive(old.pid), 'the bloated worker is gone');
  assert.deepEqual(errors.filter((e) => e.code !== 'ERR_WORKER_MEMORY_LIMIT'), [], 'no other worker error');
  assert.equal(errors.filter((e) => e.code === 'ERR_WORKER_MEMORY_LIMIT').length, 1, 'reported once');
  assert.deepEqual(manager.get(BLOAT).map((w) => w.pid), [fresh.pid], 'the pool is back to one worker, the replacement');
  assert.ok(vmRss(fresh.pid) < LIMIT, 'the replacement is under the limit');
});
