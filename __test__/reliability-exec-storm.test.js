'use strict';
// Child exits are always observed: while the host app runs 200 concurrent child_process.exec
// calls (libuv installs its own SIGCHLD handler and reaps its own children), workers of the
// manager are SIGKILLed and respawned. Every kill must show up as a 'worker-exit', every
// killed worker must be reaped (no zombie) and replaced, and the host's execs must all succeed.
// Then, with the host's children gone (libuv resets SIGCHLD), kills must still be seen.

const test = require('node:test');
const assert = require('node:assert/strict');
const { exec } = require('node:child_process');
const { promisify } = require('node:util');
const { setTimeout: sleep } = require('node:timers/promises');
const { exists, waitFor, createManager, collectMessages } = require('./helpers');
const { rfixture, within, liveWorkers } = require('./reliability-support');

const execAsync = promisify(exec);
const ECHO = rfixture('echo-pid.js');
const POOL = 4;
const EXECS = 200;
const KILLS = 10;

/** Waits until the pool has POOL running workers and each of them answers a ping. */
async function poolAnswers(manager, label) {
  await waitFor(() => liveWorkers(manager, ECHO).length === POOL, 15000,
    () => `the pool back to ${POOL} workers ${label} (has ${liveWorkers(manager, ECHO).length})`);
  const workers = liveWorkers(manager, ECHO);
  const got = collectMessages(manager, POOL, { filter: (m) => m && m.m && m.m.ping === label, ms: 15000 });
  for (const w of workers) w.send({ ping: label });
  const answers = await got;
  assert.deepEqual(new Set(answers.map((a) => a.message.pid)), new Set(workers.map((w) => w.pid)), `every worker answers ${label}`);
  return workers.map((w) => w.pid);
}

test('200 concurrent exec() calls in the host while workers are SIGKILLed and respawned', { timeout: 90000 }, async (t) => {
  const { manager } = createManager(t, { respawnInterval: 20, minUptime: 10 });
  const exits = new Map();
  manager.on('worker-exit', (code, script, args, worker) => exits.set(worker.pid, { code, signal: worker.signalCode }));
  const errors = [];
  manager.on('error', (err) => errors.push(err));
  manager.add(ECHO, POOL);
  const before = await poolAnswers(manager, 'before');

  // The host's children: 200 execs at once, each through /bin/sh as exec does. Their exits are
  // spread over ~1 s (sleep 0 .. 0.95 s; every 8th runs node instead) so that they keep exiting,
  // and libuv keeps reaping, while the workers are killed.
  let pending = EXECS;
  const command = (i) => (i % 8 === 0 ? `${JSON.stringify(process.execPath)} -e 0` : i % 20 === 0 ? 'true' : `sleep ${(i % 20) * 0.05}`);
  const execs = Array.from({ length: EXECS }, (_, i) => execAsync(command(i))
    .then(() => ({ ok: true }), (err) => ({ ok: false, err: err.message }))
    .finally(() => pending--));

  // Meanwhile: SIGKILL 10 workers, one every 30 ms (only workers the manager lists as running).
  const killed = [];
  const pendingAtKill = [];
  while (killed.length < KILLS) {
    const candidates = liveWorkers(manager, ECHO).filter((w) => !killed.includes(w.pid));
    if (candidates.length > 0) {
      const victim = candidates[Math.floor(Math.random() * candidates.length)];
      killed.push(victim.pid);
      pendingAtKill.push(pending);
      process.kill(victim.pid, 'SIGKILL');
    }
    await sleep(30);
  }
  const results = await within(Promise.all(execs), 60000, 'the 200 execs');
  t.diagnostic(`execs still running at each kill: ${pendingAtKill.join(', ')}`);

  const failed = results.filter((r) => !r.ok);
  assert.deepEqual(failed, [], 'every exec() of the host succeeded');
  assert.ok(pendingAtKill.filter((p) => p > 0).length >= 3, `kills overlapped the execs (${pendingAtKill})`);

  await waitFor(() => killed.every((pid) => exits.has(pid)), 10000,
    () => `'worker-exit' for every killed pid; missing: ${killed.filter((pid) => !exits.has(pid))}`);
  for (const pid of killed) assert.deepEqual(exits.get(pid), { code: null, signal: 'SIGKILL' }, `worker ${pid} exit`);
  await waitFor(() => killed.every((pid) => !exists(pid)), 5000, () => `every killed worker reaped; zombies: ${killed.filter(exists)}`);
  const after = await poolAnswers(manager, 'after the storm');
  for (const pid of after) assert.ok(!killed.includes(pid) && exits.get(pid) === undefined, `worker ${pid} is a live replacement`);
  t.diagnostic(`killed ${killed.length} workers; the pool went ${before.join(',')} -> ${after.join(',')}`);

  // The host has no children left now; exits must still be seen.
  const late = liveWorkers(manager, ECHO).slice(0, 2).map((w) => w.pid);
  for (const pid of late) process.kill(pid, 'SIGKILL');
  await waitFor(() => late.every((pid) => exits.has(pid)), 10000,
    () => `'worker-exit' after the host's children are gone; missing: ${late.filter((pid) => !exits.has(pid))}`);
  await waitFor(() => late.every((pid) => !exists(pid)), 5000, () => `reaped: ${late.filter(exists)}`);
  await poolAnswers(manager, 'at the end');
  assert.equal(exits.size, KILLS + late.length, 'no worker exited except the killed ones');
  assert.deepEqual(errors, []);
});
