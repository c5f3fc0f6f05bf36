'use strict';
// add(), remove() and get(): pools, args, counts, and removal for good.

const test = require('node:test');
const assert = require('node:assert/strict');
const { ChildProcess } = require('node:child_process');
const {
  fixture, alive, waitFor, holdsFor, collectWorkers, collectMessages, nextMessage, createManager, startOne, poolPids, startPool, argvOf,
} = require('./helpers');

const A = fixture('a.js');
const B = fixture('b.js');
const ARGV = fixture('argv.js');
const PID = fixture('pid.js');

// Respawns, if a bug caused one, would come within maxRespawnDelay (100 ms) of
// an exit; "no respawn" is then checked over a window several times that long.
const FAST = { respawnInterval: 20, maxRespawnDelay: 100 };
const NO_RESPAWN_WINDOW = 600;

test('a/b pools: broadcast reaches one worker of each pool, targeted only that pool', { timeout: 30000 }, async (t) => {
  const { manager } = createManager(t);
  const results = [];
  manager.on('message', (m) => results.push(m));
  const workers = collectWorkers(manager, 3);

  // The old package's test: two workers of a.js, one of b.js, sent right away.
  manager.add(A);
  manager.add(A);
  manager.add(B);
  manager.send('hi');
  manager.send('ho', B);

  await waitFor(() => results.length >= 3, 15000, () => `3 results, got ${JSON.stringify(results)}`);
  // Barrier: each a-worker answers 'sync' only after anything sent to it earlier.
  const aWorkers = (await workers).filter((w) => w.script === A).map((w) => w.worker);
  assert.equal(aWorkers.length, 2);
  const syncs = collectMessages(manager, 2, { filter: (m) => typeof m === 'string' && m.startsWith('a|sync|') });
  for (const w of aWorkers) w.send('sync');
  await syncs;

  const parsed = results.filter((m) => !m.includes('|sync|')).map((m) => m.split('|'));
  for (const parts of parsed) assert.equal(parts.length, 3, `well-formed reply ${parts.join('|')}`);
  const fromA = parsed.filter((p) => p[0] === 'a').map((p) => p[1]);
  const fromB = parsed.filter((p) => p[0] === 'b').map((p) => p[1]).sort();
  assert.deepEqual(fromA, ['hi'], 'exactly one a-worker got the broadcast, and nothing else');
  assert.deepEqual(fromB, ['hi', 'ho'], 'the b-worker got the broadcast and the targeted send');
});

test('worker events fire for listeners attached after add() returns', { timeout: 30000 }, async (t) => {
  const { manager } = createManager(t);
  manager.add(PID, 2);
  const seen = [];
  manager.on('worker', (script, args, worker) => seen.push({ script, args, worker }));
  await waitFor(() => seen.length >= 2, 15000, () => `2 worker events, got ${seen.length}`);
  for (const { script, worker } of seen) {
    assert.equal(script, PID);
    assert.ok(worker instanceof ChildProcess);
    assert.equal(typeof worker.pid, 'number');
  }
  assert.notEqual(seen[0].worker.pid, seen[1].worker.pid);
});

test('add(script, args, n) gives every worker those args', { timeout: 30000 }, async (t) => {
  const { manager } = createManager(t);
  const args = ['--tag', `t${process.pid}-${Date.now()}`, 'x y'];
  const workers = collectWorkers(manager, 3);
  manager.add(ARGV, args, 3);
  const got = await workers;
  assert.equal(new Set(got.map((w) => w.worker.pid)).size, 3);
  for (const w of got) {
    assert.equal(w.script, ARGV);
    assert.deepEqual(w.args, args, "the 'worker' event carries the args");
    assert.deepEqual(await argvOf(manager, w.worker), args, 'the child process got the args');
  }
  assert.deepEqual(manager.workers[ARGV].args, args);
  assert.equal(manager.workers[ARGV].process.length, 3);
});

test('later add(script) and add(script, n) reuse the first args', { timeout: 30000 }, async (t) => {
  const { manager } = createManager(t);
  const args = ['--tag', `first-${Date.now()}`];
  const workers = collectWorkers(manager, 4);
  manager.add(ARGV, args, 1);
  manager.add(ARGV);
  manager.add(ARGV, 2); // a number in the args position is the count
  const got = await workers;
  assert.equal(manager.get(ARGV).length, 4);
  for (const w of got) {
    assert.deepEqual(await argvOf(manager, w.worker), args, `worker ${w.worker.pid} argv`);
  }
});

test('add([a, b]) adds a worker for each script', { timeout: 30000 }, async (t) => {
  const { manager, started: got } = await startPool(t, [[A, B]], 2);
  assert.deepEqual(got.map((w) => w.script).sort(), [A, B].sort());
  assert.equal(manager.get(A).length, 1);
  assert.equal(manager.get(B).length, 1);
});

test('add(script, 0) and add(script, args, 0) add nothing', { timeout: 30000 }, async (t) => {
  const { manager } = createManager(t);
  const forScript = [];
  manager.on('worker', (script) => { if (script === A) forScript.push(script); });
  manager.add(A, 0);
  manager.add(A, ['x'], 0);
  // Barrier: a worker of another script added after them.
  const other = collectWorkers(manager, 1, { script: B });
  manager.add(B);
  await other;
  assert.equal(forScript.length, 0, 'no worker forked for n = 0');
  const pool = manager.get(A);
  assert.ok(pool === undefined || pool.length === 0, `get(A) is undefined or empty, got ${pool && pool.length}`);
});

test('remove(script) removes one worker for good', { timeout: 30000 }, async (t) => {
  const { manager, started } = await startPool(t, [PID, 3], 3, FAST);
  const before = started.map((w) => w.worker.pid);
  manager.remove(PID);
  // The pool list follows the processes: it may drop the worker when it has exited.
  await waitFor(() => manager.get(PID).length === 2, 10000, () => `pool of 2, has ${poolPids(manager, PID)}`);
  const gone = before.filter((pid) => !poolPids(manager, PID).includes(pid));
  assert.equal(gone.length, 1, 'exactly one pid left the pool');
  await waitFor(() => !alive(gone[0]), 10000, `removed worker ${gone[0]} to die`);
  await holdsFor(() => manager.get(PID).length === 2, NO_RESPAWN_WINDOW, 'the removed worker was respawned');
  assert.deepEqual(poolPids(manager, PID).sort(), before.filter((p) => p !== gone[0]).sort());
});

test('remove(script, n) removes n workers for good', { timeout: 30000 }, async (t) => {
  const { manager, started } = await startPool(t, [PID, 3], 3, FAST);
  const before = started.map((w) => w.worker.pid);
  manager.remove(PID, 2);
  await waitFor(() => manager.get(PID).length === 1, 10000, () => `pool of 1, has ${poolPids(manager, PID)}`);
  const gone = before.filter((pid) => !poolPids(manager, PID).includes(pid));
  assert.equal(gone.length, 2);
  await waitFor(() => gone.every((pid) => !alive(pid)), 10000, 'both removed workers to die');
  await holdsFor(() => manager.get(PID).length === 1, NO_RESPAWN_WINDOW, 'a removed worker was respawned');
});

test('remove(script, worker) removes exactly that worker', { timeout: 30000 }, async (t) => {
  const { manager, started } = await startPool(t, [PID, 3], 3, FAST);
  const got = started.map((w) => w.worker);
  const victim = got[1];
  manager.remove(PID, victim);
  await waitFor(() => !poolPids(manager, PID).includes(victim.pid), 10000, 'the victim to leave the pool');
  assert.deepEqual(poolPids(manager, PID).sort(), [got[0].pid, got[2].pid].sort());
  await waitFor(() => !alive(victim.pid), 10000, `worker ${victim.pid} to die`);
  await holdsFor(() => manager.get(PID).length === 2, NO_RESPAWN_WINDOW, 'the removed worker was respawned');
  assert.ok(alive(got[0].pid) && alive(got[2].pid), 'the other workers are untouched');
  // The remaining workers still answer.
  const reply = nextMessage(manager, (m) => m && m.m === 'still here');
  manager.send('still here', PID);
  assert.ok([got[0].pid, got[2].pid].includes((await reply).message.pid));
});

test('removing the last worker forgets the script', { timeout: 30000 }, async (t) => {
  const { manager, started } = await startPool(t, [PID, 2], 2, FAST);
  const pids = started.map((w) => w.worker.pid);
  manager.remove(PID, 2);
  assert.equal(manager.workers[PID], undefined, 'manager.workers[script] is gone');
  assert.equal(manager.get(PID), undefined, 'get(script) is undefined');
  await waitFor(() => pids.every((pid) => !alive(pid)), 10000, 'all removed workers to die');
  await holdsFor(() => manager.workers[PID] === undefined, NO_RESPAWN_WINDOW, 'the script came back');
});

test('remove of an unknown script is a no-op', { timeout: 30000 }, async (t) => {
  const { manager, worker } = await startOne(t, PID);
  assert.doesNotThrow(() => manager.remove('/no/such/script.js'));
  assert.doesNotThrow(() => manager.remove('/no/such/script.js', 2));
  assert.doesNotThrow(() => manager.remove('/no/such/script.js', worker));
  assert.equal(manager.workers['/no/such/script.js'], undefined);
  assert.deepEqual(poolPids(manager, PID), [worker.pid], 'other pools untouched');
  assert.ok(alive(worker.pid));
});

test('get(script) returns the live worker objects of that pool', { timeout: 30000 }, async (t) => {
  const { manager } = createManager(t);
  assert.equal(manager.get(PID), undefined, 'unknown script -> undefined');
  const workers = collectWorkers(manager, 2);
  manager.add(PID, 2);
  const got = (await workers).map((w) => w.worker);
  const pool = manager.get(PID);
  assert.ok(Array.isArray(pool));
  assert.equal(pool.length, 2);
  for (const w of got) assert.ok(pool.includes(w), `get() holds the same object as the 'worker' event (${w.pid})`);
  for (const w of pool) assert.ok(manager.workers[PID].process.includes(w), 'workers[script].process holds it too');
});
