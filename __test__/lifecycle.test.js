'use strict';
// Lifecycle guards: paused workers time out, and workers never outlive a
// manager process that is SIGKILLed.

const test = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const { once } = require('node:events');
const {
  PKG_ROOT, fixture, alive, waitFor, waitEvent, collectWorkers, nextMessage, startOne,
} = require('./helpers');

const PAUSABLE = fixture('pausable.js');

test('a worker paused longer than pausedWorkerTimeout is killed and respawned', { timeout: 30000 }, async (t) => {
  const timeout = 400;
  const { manager, worker } = await startOne(t, PAUSABLE, { pausedWorkerTimeout: timeout, respawnInterval: 50 }, ['--pause-at-start']);
  const exited = waitEvent(manager, 'worker-exit', { filter: (c, s, a, w) => w === worker });
  await nextMessage(manager, (m) => m && m.paused === worker.pid);
  const pausedAt = performance.now();
  const replaced = collectWorkers(manager, 1);
  await exited;
  const waited = performance.now() - pausedAt;
  assert.ok(waited >= timeout - 100, `killed after ${Math.round(waited)} ms, not before ${timeout} ms`);
  await waitFor(() => !alive(worker.pid), 10000, `worker ${worker.pid} to be dead`);
  const [{ worker: fresh }] = await replaced;
  assert.notEqual(fresh.pid, worker.pid);
});

test('lostInTheWoods works like pausedWorkerTimeout', { timeout: 30000 }, async (t) => {
  const { manager, worker } = await startOne(t, PAUSABLE, { lostInTheWoods: 300, respawnInterval: 50 }, ['--pause-at-start']);
  await waitEvent(manager, 'worker-exit', { filter: (c, s, a, w) => w === worker });
  await waitFor(() => !alive(worker.pid), 10000, `worker ${worker.pid} to be dead`);
});

test('workers die with a manager process that is SIGKILLed', { timeout: 30000 }, async (t) => {
  const app = spawn(process.execPath, [fixture('parent-orphan.js'), PKG_ROOT], { stdio: ['ignore', 'pipe', 'inherit'] });
  let pids = [];
  t.after(() => {
    // Only if the assertion below failed: do not leave the orphans running.
    for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
    if (app.exitCode === null && app.signalCode === null) app.kill('SIGKILL');
  });
  let out = '';
  app.stdout.setEncoding('utf8');
  app.stdout.on('data', (chunk) => { out += chunk; });
  await waitFor(() => out.includes('\n'), 15000, 'the app to print its worker pids');
  pids = JSON.parse(out.split('\n')[0]);
  assert.equal(pids.length, 2);
  assert.ok(pids.every(alive), 'workers are running');
  const exited = once(app, 'exit');
  app.kill('SIGKILL');
  await exited;
  await waitFor(() => pids.every((pid) => !alive(pid)), 10000,
    () => `the workers of the killed app to die; alive: ${pids.filter(alive)}`);
});
