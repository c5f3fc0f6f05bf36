'use strict';
// Supervision: dead workers are respawned (spaced by respawnInterval), exit
// codes and signals are reported, and the worker control messages work.

const test = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const { once } = require('node:events');
const {
  fixture, alive, waitFor, waitEvent, collectWorkers, collectMessages, nextMessage, createManager, startOne, startPool,
} = require('./helpers');

const PID = fixture('pid.js');
const THROW = fixture('throw.js');
const EXIT_NOW = fixture('exit-now.js');
const END = fixture('end-on-message.js');
const PAUSABLE = fixture('pausable.js');

test('a SIGKILLed worker gives worker-exit (null, signalCode SIGKILL) and is replaced', { timeout: 30000 }, async (t) => {
  const { manager, worker } = await startOne(t, PID, { respawnInterval: 50 });

  const exited = waitEvent(manager, 'worker-exit', { filter: (code, s, a, w) => w === worker });
  const replaced = collectWorkers(manager, 1);
  process.kill(worker.pid, 'SIGKILL');

  const [code, script] = await exited;
  assert.equal(code, null, 'killed by a signal: code is null');
  assert.equal(script, PID);
  assert.equal(worker.signalCode, 'SIGKILL');
  const [{ worker: fresh }] = await replaced;
  assert.notEqual(fresh.pid, worker.pid);
  assert.ok(!alive(worker.pid));
  const reply = nextMessage(manager, (m) => m && m.m === 'after respawn');
  manager.send('after respawn', PID);
  assert.equal((await reply).message.pid, fresh.pid);
});

test('a worker killed by a signal from outside gives worker-error with the signal name', { timeout: 30000 }, async (t) => {
  const { manager, worker } = await startOne(t, PID, { respawnInterval: 50 });
  const errored = waitEvent(manager, 'worker-error', { filter: (e, s, a, w) => w === worker });
  process.kill(worker.pid, 'SIGKILL');
  const [errorOrCode, script] = await errored;
  assert.equal(errorOrCode, 'SIGKILL');
  assert.equal(script, PID);
});

test('a throwing worker gives worker-error and worker-exit with the same non-zero code', { timeout: 30000 }, async (t) => {
  const { manager, worker } = await startOne(t, THROW, { respawnInterval: 50 });
  const errored = waitEvent(manager, 'worker-error', { filter: (e, s, a, w) => w === worker });
  const exited = waitEvent(manager, 'worker-exit', { filter: (c, s, a, w) => w === worker });
  manager.send({ please: 'throw' }, THROW);

  const [errorOrCode, errScript, , errWorker] = await errored;
  const [exitCode, exitScript] = await exited;
  assert.equal(typeof errorOrCode, 'number', `worker-error got ${errorOrCode}`);
  assert.notEqual(errorOrCode, 0);
  assert.equal(exitCode, errorOrCode, 'worker-exit carries the real exit code');
  assert.equal(errScript, THROW);
  assert.equal(exitScript, THROW);
  assert.equal(errWorker, worker);
  assert.equal(worker.exitCode, exitCode);
});

test("{__forkfriend:'end'} makes the manager kill and respawn that worker", { timeout: 30000 }, async (t) => {
  const { manager, worker } = await startOne(t, END, { respawnInterval: 50 });

  const exited = waitEvent(manager, 'worker-exit', { filter: (c, s, a, w) => w === worker });
  const replaced = collectWorkers(manager, 1);
  manager.send({ cmd: 'end' }, END);
  await exited;
  await waitFor(() => !alive(worker.pid), 10000, `worker ${worker.pid} to be killed`);
  const [{ worker: fresh }] = await replaced;
  assert.notEqual(fresh.pid, worker.pid);
  const reply = nextMessage(manager, (m) => m && m.m === 'hello new');
  manager.send('hello new', END);
  assert.equal((await reply).message.pid, fresh.pid);
});

test('a paused worker gets no messages until it drains; the other worker gets them all', { timeout: 30000 }, async (t) => {
  const { manager, started } = await startPool(t, [PAUSABLE, 2], 2);
  const [x, y] = started.map((w) => w.worker);

  const pausedAck = nextMessage(manager, (m) => m && m.paused === x.pid);
  x.send({ cmd: 'pause' });
  await pausedAck;

  const replies = collectMessages(manager, 20, { filter: (m) => m && m.m && m.m.batch === 1 });
  for (let i = 0; i < 20; i++) manager.send({ batch: 1, i }, PAUSABLE);
  const got = await replies;
  assert.ok(got.every((r) => r.message.pid === y.pid), 'every message went to the worker that is not paused');
  assert.ok(got.every((r) => r.message.whilePaused === false));
  assert.deepEqual(got.map((r) => r.message.m.i).sort((p, q) => p - q), [...Array(20).keys()]);

  const drained = nextMessage(manager, (m) => m && m.drained === x.pid);
  process.kill(x.pid, 'SIGUSR2');
  await drained;
  const after = collectMessages(manager, 20, { filter: (m) => m && m.m && m.m.batch === 2 });
  for (let i = 0; i < 20; i++) manager.send({ batch: 2, i }, PAUSABLE);
  const got2 = await after;
  assert.ok(got2.some((r) => r.message.pid === x.pid), 'the drained worker gets messages again');
  assert.ok(got2.every((r) => r.message.whilePaused === false));
});

test('messages held while the only worker is paused go out when it drains, with no further send()', { timeout: 30000 }, async (t) => {
  const { manager, worker } = await startOne(t, PAUSABLE, undefined, ['--pause-at-start']);
  await nextMessage(manager, (m) => m && m.paused === worker.pid);

  const replies = collectMessages(manager, 5, { filter: (m) => m && m.m && m.m.held !== undefined });
  for (let i = 0; i < 5; i++) manager.send({ held: i }, PAUSABLE);
  process.kill(worker.pid, 'SIGUSR2'); // the worker drains; nothing else is sent
  const got = await replies;
  assert.deepEqual(got.map((r) => r.message.m.held), [0, 1, 2, 3, 4], 'all held messages, in order');
  assert.ok(got.every((r) => r.message.whilePaused === false), 'none reached the worker while it was paused');
});

test('respawns of a dying script are spaced by respawnInterval', { timeout: 60000 }, async (t) => {
  const interval = 250;
  const tolerance = 40; // event delivery jitter; the bound is a lower bound on spacing
  const { manager } = createManager(t, { respawnInterval: interval, maxRespawnDelay: 1000 });
  const times = [];
  let maxPool = 0;
  let exits = 0;
  manager.on('worker-exit', () => { exits++; });
  manager.on('worker', () => {
    times.push(performance.now());
    maxPool = Math.max(maxPool, (manager.get(EXIT_NOW) || []).length);
  });
  manager.add(EXIT_NOW);
  await waitFor(() => times.length >= 5, 30000, () => `5 spawns, got ${times.length}`);
  manager.stop();

  const gaps = times.slice(1).map((time, i) => Math.round(time - times[i]));
  t.diagnostic(`spawn gaps (ms): ${gaps.join(', ')}`);
  for (const gap of gaps) {
    assert.ok(gap >= interval - tolerance, `respawn gap ${gap} ms < ${interval} ms; gaps: ${gaps.join(', ')}`);
  }
  assert.ok(maxPool <= 1, `the pool of 1 never held more than 1 worker (max ${maxPool})`);
  assert.ok(exits >= times.length - 1, `every respawn followed an exit (${exits} exits, ${times.length} spawns)`);
});

test('worker exits are still seen while the application spawns its own children', { timeout: 30000 }, async (t) => {
  // libuv installs (and later resets) its own SIGCHLD handler when the host app
  // uses child_process; exit detection must not depend on SIGCHLD.
  const { manager, started } = await startPool(t, [PID, 2], 2, { respawnInterval: 50 });
  const [w1, w2] = started.map((w) => w.worker);

  const first = spawn(process.execPath, ['-e', '0']);
  await once(first, 'exit'); // the app's children are all gone now
  let exited = waitEvent(manager, 'worker-exit', { filter: (c, s, a, w) => w === w1 });
  process.kill(w1.pid, 'SIGKILL');
  await exited;

  const running = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 20000)']);
  t.after(() => { if (running.exitCode === null && running.signalCode === null) running.kill('SIGKILL'); });
  exited = waitEvent(manager, 'worker-exit', { filter: (c, s, a, w) => w === w2 });
  process.kill(w2.pid, 'SIGKILL');
  await exited;
  running.kill('SIGKILL');
  await once(running, 'exit');
});

test("worker-respawn announces a scheduled respawn; removing the pool first gives worker-aborted", { timeout: 30000 }, async (t) => {
  const { manager, worker } = await startOne(t, PID, { respawnInterval: 2000, maxRespawnDelay: 4000 });
  let forked = 0;
  manager.on('worker', () => { forked++; });

  const scheduled = waitEvent(manager, 'worker-respawn');
  const aborted = waitEvent(manager, 'worker-aborted', { ms: 10000 });
  process.kill(worker.pid, 'SIGKILL');
  const [script, delayMs, crashes] = await scheduled;
  assert.equal(script, PID);
  assert.ok(Number.isFinite(delayMs) && delayMs > 0, `a positive delay (${delayMs})`);
  assert.ok(Number.isInteger(crashes) && crashes >= 0, `a crash count (${crashes})`);

  manager.remove(PID); // the pool's only (dead) worker: nothing is needed any more
  assert.equal(manager.workers[PID], undefined);
  const [abortedScript] = await aborted;
  assert.equal(abortedScript, PID);
  assert.equal(forked, 0, 'the respawn did not happen');
});
