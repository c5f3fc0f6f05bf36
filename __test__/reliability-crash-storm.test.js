'use strict';
// Crash storm: 50k messages stream through 4 echo workers (pipe in, pipe out) while a random
// worker is SIGKILLed every 50 ms for 5 s. The manager must not throw or emit 'error', the pool
// must come back to 4, the stream must complete, and the messages lost with killed workers are
// reported (received ids are unique and a subset of what was sent).
//
// Respawn policy here: respawnInterval 20 ms, minUptime 10 ms. Respawns of ONE script are spaced
// by >= respawnInterval, and all 4 workers are the same script, so the pool can regain at most
// one worker per 20 ms (50/s) against 20 kills/s: it keeps up. A worker killed within 10 ms of
// its start counts as a crash, backing off 20 * 2^(crashes-1) ms, capped by maxRespawnDelay.

const test = require('node:test');
const assert = require('node:assert/strict');
const { Readable, Writable } = require('node:stream');
const { setTimeout: sleep } = require('node:timers/promises');
const { alive, exists, waitFor, createManager } = require('./helpers');
const { rfixture, within, liveWorkers, killStorm } = require('./reliability-support');

const ECHO = rfixture('echo.js');
const TOTAL = 50000;
const BATCH = 500; // messages per 50 ms tick: the stream lasts about as long as the storm
const TICK_MS = 50;
const STORM_MS = 5000;
const POOL = 4;

test('crash storm: SIGKILL a random worker every 50 ms while 50k messages stream through', { timeout: 90000 }, async (t) => {
  const { manager, pids } = createManager(t, { respawnInterval: 20, minUptime: 10, maxRespawnDelay: 200 });
  const errors = [];
  manager.on('error', (err) => errors.push(err));
  const exits = [];
  manager.on('worker-exit', (code, script, args, worker) => exits.push({ pid: worker.pid, code, signal: worker.signalCode }));
  const workerErrors = [];
  manager.on('worker-error', (e) => workerErrors.push(e instanceof Error ? e.code : e));
  const respawns = [];
  manager.on('worker-respawn', (script, delayMs, crashes) => respawns.push({ delayMs, crashes }));
  let drops = 0;
  manager.on('drop', () => drops++);

  const up = new Promise((resolve) => manager.on('worker', () => { if (liveWorkers(manager, ECHO).length === POOL) resolve(); }));
  manager.add(ECHO, POOL);
  await within(up, 15000, '4 workers up');

  // The storm: every 50 ms, SIGKILL one random worker the manager still lists as running.
  let produced = 0;
  const storm = killStorm(manager, ECHO, { tickMs: TICK_MS, durationMs: STORM_MS });
  const { killed, livePerTick, start: stormStart } = storm;

  // Input: 100 batches of 500, one batch per tick; the input ends only once the storm is over
  // and the pool is back to 4 (at end of input the manager no longer respawns).
  let recoveredAt = 0;
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
    storm.stop();
    await storm.done;
    await waitFor(
      () => liveWorkers(manager, ECHO).length === POOL && liveWorkers(manager, ECHO).every((w) => w.connected),
      15000,
      () => `the pool to return to ${POOL} workers (has ${liveWorkers(manager, ECHO).length})`,
    );
    recoveredAt = Date.now();
  })());

  const received = new Set();
  let duplicates = 0;
  let outOfRange = 0;
  const output = new Writable({
    objectMode: true,
    write(m, enc, cb) {
      if (!m || !Number.isInteger(m.id) || m.id < 0 || m.id >= TOTAL) outOfRange++;
      else if (received.has(m.id)) duplicates++;
      else received.add(m.id);
      cb();
    },
  });

  const finished = new Promise((resolve, reject) => {
    output.on('finish', resolve);
    output.on('error', reject);
  });
  input.pipe(manager).pipe(output);
  await within(finished, 60000, "the output stream's 'finish'");
  const elapsed = Date.now() - stormStart;

  const lost = produced - received.size;
  t.diagnostic(`sent ${produced}, received ${received.size}, lost to killed workers ${lost} (${(100 * lost / produced).toFixed(2)}%)`);
  t.diagnostic(`workers SIGKILLed ${killed.size}, worker-exit events ${exits.length}, respawns scheduled ${respawns.length}, ` +
    `max crashes ${Math.max(0, ...respawns.map((r) => r.crashes))}, max delay ${Math.max(0, ...respawns.map((r) => r.delayMs))} ms, ` +
    `drops ${drops}, stream done in ${elapsed} ms (pool back to ${POOL} ${recoveredAt - stormStart} ms after the storm began)`);
  t.diagnostic(`killable workers seen at each of the ${livePerTick.length} storm ticks: ${livePerTick.join('')}`);
  const otherErrors = workerErrors.filter((c) => c !== 'SIGKILL');
  if (otherErrors.length) t.diagnostic(`worker-error other than SIGKILL: ${JSON.stringify(otherErrors)}`);

  assert.deepEqual(errors, [], "the manager never emits 'error'");
  assert.equal(produced, TOTAL, 'every message was written into the manager');
  // 100 ticks in 5 s when the machine is idle; fewer when the event loop is starved (shared CPU).
  assert.ok(killed.size >= 10, `the storm killed at least 10 workers (${killed.size} in ${livePerTick.length} ticks)`);
  assert.ok(recoveredAt > 0, 'the pool returned to 4 workers after the storm');
  assert.equal(duplicates, 0, 'every received id is unique');
  assert.equal(outOfRange, 0, 'every result is one of the messages sent');
  assert.ok(lost < produced, `lost (${lost}) is less than sent (${produced})`);
  assert.ok(received.size > 0);
  // Every kill was seen as an exit by signal.
  const exitedPids = new Set(exits.map((e) => e.pid));
  for (const pid of killed) assert.ok(exitedPids.has(pid), `'worker-exit' seen for killed pid ${pid}`);
  for (const e of exits.filter((e) => killed.has(e.pid))) {
    assert.equal(e.code, null, `killed worker ${e.pid} exits with code null`);
    assert.equal(e.signal, 'SIGKILL', `killed worker ${e.pid} has signalCode SIGKILL`);
  }
  // End of input stopped the manager: no worker is left, and every one was reaped.
  assert.equal(manager.stopped, true);
  await waitFor(() => [...pids].every((pid) => !alive(pid)), 10000, () => `no worker alive; alive: ${[...pids].filter(alive)}`);
  await waitFor(() => [...pids].every((pid) => !exists(pid)), 5000, () => `every worker reaped; left: ${[...pids].filter(exists)}`);
});
