'use strict';
// Crash storm in reply mode: 50k messages stream through 4 echo workers while a random worker
// is SIGKILLed every 50 ms for 2 s. With ordered reply mode and retries to spare, what the
// plain crash storm (reliability-crash-storm.test.js) loses must all arrive: every message
// answered exactly once, in input order, and nothing after the readable side has ended.

const test = require('node:test');
const assert = require('node:assert/strict');
const { Readable, Writable } = require('node:stream');
const { setTimeout: sleep } = require('node:timers/promises');
const { alive, exists, waitFor, createManager } = require('./helpers');
const { rfixture, within, liveWorkers, killStorm } = require('./reliability-support');

const ECHO = rfixture('echo.js');
const TOTAL = 50000;
const BATCH = 1250; // messages per 50 ms tick: the input lasts about as long as the storm
const TICK_MS = 50;
const STORM_MS = 2000;
const POOL = 4;

test('reply-mode crash storm: 0 lost, 0 duplicated, input order, nothing after the end', { timeout: 120000 }, async (t) => {
  const { manager, pids } = createManager(t, {
    ordered: true,
    concurrency: 32, // many messages in flight on each victim: each kill redelivers a batch
    maxRetries: 1000,
    respawnInterval: 20,
    minUptime: 10,
    maxRespawnDelay: 200,
  });
  const errors = [];
  manager.on('error', (err) => errors.push(err));
  const failed = [];
  manager.on('failed', (err, message) => failed.push({ code: err.code, message }));
  const unexpected = [];
  manager.on('worker-error', (e) => { if (e && e.code === 'ERR_WORKER_UNEXPECTED_REPLY') unexpected.push(e); });

  const up = new Promise((resolve) => manager.on('worker', () => { if (liveWorkers(manager, ECHO).length === POOL) resolve(); }));
  manager.add(ECHO, POOL);
  await within(up, 15000, '4 workers up');

  const storm = killStorm(manager, ECHO, { tickMs: TICK_MS, durationMs: STORM_MS });
  const { killed, start: stormStart } = storm;

  // The input ends once the storm is over and the pool is whole again (no respawn after end).
  let produced = 0;
  const input = Readable.from((async function * () {
    const t0 = Date.now();
    for (let b = 0; b * BATCH < TOTAL; b++) {
      for (let i = b * BATCH; i < Math.min(TOTAL, (b + 1) * BATCH); i++) {
        produced++;
        yield { id: i };
      }
      const due = t0 + (b + 1) * TICK_MS - Date.now();
      if (due > 0) await sleep(due);
    }
    await storm.done;
    await waitFor(() => liveWorkers(manager, ECHO).length === POOL, 15000,
      () => `the pool to return to ${POOL} workers (has ${liveWorkers(manager, ECHO).length})`);
  })());

  let next = 0;
  let outOfOrder = 0;
  let afterEnd = 0;
  let ended = false;
  manager.on('end', () => { ended = true; });
  manager.on('data', () => { if (ended) afterEnd++; });
  let written = 0;
  const output = new Writable({
    objectMode: true,
    write (m, enc, cb) {
      written++;
      if (!m || m.id !== next) outOfOrder++;
      next = (m && Number.isInteger(m.id) ? m.id : next) + 1;
      cb();
    },
  });
  const finished = new Promise((resolve, reject) => {
    output.on('finish', resolve);
    output.on('error', reject);
  });
  input.pipe(manager).pipe(output);
  await within(finished, 90000, "the output stream's 'finish'");
  await within(new Promise((resolve) => (ended ? resolve() : manager.once('end', resolve))), 5000, "the manager's 'end'");

  const stats = manager.getStats();
  t.diagnostic(`sent ${produced}, answered ${written}, workers SIGKILLed ${killed.size}, ` +
    `redelivered ${stats.retried}, failed ${stats.failed}, stream done ${Date.now() - stormStart} ms after the storm began`);

  assert.equal(storm.over, true);
  assert.deepEqual(errors, [], "the manager never emits 'error'");
  assert.deepEqual(failed, [], 'no message ran out of retries');
  assert.deepEqual(unexpected, [], 'no answer was unexpected');
  assert.ok(killed.size >= 5, `the storm killed at least 5 workers (${killed.size})`);
  assert.ok(stats.retried > 0, 'killed workers had messages in flight that were redelivered');
  assert.equal(produced, TOTAL);
  assert.equal(written, TOTAL, 'every message answered: 0 lost, 0 duplicated');
  assert.equal(outOfOrder, 0, 'answers in input order');
  assert.equal(next, TOTAL);
  assert.equal(afterEnd, 0, 'no result after the readable side ended');

  assert.equal(manager.stopped, true);
  await waitFor(() => [...pids].every((pid) => !alive(pid)), 10000, () => `no worker alive; alive: ${[...pids].filter(alive)}`);
  await waitFor(() => [...pids].every((pid) => !exists(pid)), 5000, () => `every worker reaped; left: ${[...pids].filter(exists)}`);
});
