'use strict';
// refork(): restart a pool, or one worker, with new processes.

const test = require('node:test');
const assert = require('node:assert/strict');
const { fixture, alive, waitFor, collectWorkers, createManager, poolPids, argvOf } = require('./helpers');

const ARGV = fixture('argv.js');

test('refork(script) replaces every worker: new pids, same pool size and args', { timeout: 30000 }, async (t) => {
  const { manager } = createManager(t);
  const args = ['--refork', String(Date.now())];
  const first = collectWorkers(manager, 3);
  manager.add(ARGV, args, 3);
  const oldPids = (await first).map((w) => w.worker.pid);

  const second = collectWorkers(manager, 3);
  manager.refork(ARGV);
  const fresh = await second;
  const newPids = fresh.map((w) => w.worker.pid);

  assert.equal(new Set(newPids).size, 3);
  for (const pid of newPids) assert.ok(!oldPids.includes(pid), `new pid ${pid} is not an old one`);
  await waitFor(() => oldPids.every((pid) => !alive(pid)), 10000, 'the old workers to die');
  await waitFor(() => poolPids(manager, ARGV).length === 3 && poolPids(manager, ARGV).every((p) => newPids.includes(p)),
    10000, () => `the pool to hold exactly the new pids; has ${poolPids(manager, ARGV)}`);
  assert.deepEqual(manager.workers[ARGV].args, args);
  for (const { args: evArgs, worker } of fresh) {
    assert.deepEqual(evArgs, args);
    assert.deepEqual(await argvOf(manager, worker), args);
  }
});

test('refork(script, worker) replaces only that worker', { timeout: 30000 }, async (t) => {
  const { manager } = createManager(t);
  const args = ['--one'];
  const first = collectWorkers(manager, 3);
  manager.add(ARGV, args, 3);
  const workers = (await first).map((w) => w.worker);
  const victim = workers[0];
  const others = workers.slice(1).map((w) => w.pid);

  const second = collectWorkers(manager, 1);
  manager.refork(ARGV, victim);
  const [fresh] = await second;
  assert.notEqual(fresh.worker.pid, victim.pid);
  assert.ok(!others.includes(fresh.worker.pid));
  await waitFor(() => !alive(victim.pid), 10000, `worker ${victim.pid} to die`);
  await waitFor(() => poolPids(manager, ARGV).length === 3, 10000, 'the pool to be back at 3');
  assert.deepEqual(poolPids(manager, ARGV).sort(), [...others, fresh.worker.pid].sort());
  for (const pid of others) assert.ok(alive(pid), `untouched worker ${pid} still alive`);
  assert.deepEqual(await argvOf(manager, fresh.worker), args);
});
