'use strict';
// Worker objects serve code written for ChildProcess: pid, send, kill, state
// properties, events, and stdio (silent and inherited).

const test = require('node:test');
const assert = require('node:assert/strict');
const { ChildProcess, execFile } = require('node:child_process');
const { once } = require('node:events');
const { promisify } = require('node:util');
const {
  PKG_ROOT, fixture, alive, waitFor, waitEvent, collectWorkers, nextMessage, createManager, startPool, startOne,
} = require('./helpers');

const PID = fixture('pid.js');
const LOG = fixture('log.js');
const EXIT = fixture('exit-on-message.js');
const DISCONNECT = fixture('disconnect-on-message.js');

async function oneWorker(t, script, config) {
  const { manager, worker } = await startOne(t, script, config);
  return { manager, worker };
}

test('a worker is a ChildProcess with a numeric pid of a live process', { timeout: 30000 }, async (t) => {
  const { worker } = await oneWorker(t, PID);
  assert.ok(worker instanceof ChildProcess);
  assert.ok(Number.isInteger(worker.pid) && worker.pid > 0, `pid ${worker.pid}`);
  assert.notEqual(worker.pid, process.pid);
  assert.ok(alive(worker.pid));
  assert.equal(worker.connected, true);
  assert.equal(worker.killed, false);
  assert.equal(worker.exitCode, null);
  assert.equal(worker.signalCode, null);
});

test('worker.send() reaches that worker; its reply is a message event on it and on the manager', { timeout: 30000 }, async (t) => {
  const { manager, started } = await startPool(t, [PID, 3], 3);
  const workers = started.map((w) => w.worker);
  for (const [i, w] of workers.entries()) {
    const onWorker = once(w, 'message');
    const onManager = nextMessage(manager, (m) => m && m.m && m.m.direct === i);
    assert.equal(typeof w.send({ direct: i }), 'boolean');
    const [fromWorker] = await onWorker;
    const { message, script, worker } = await onManager;
    assert.deepEqual(fromWorker, { pid: w.pid, m: { direct: i } });
    assert.equal(message.pid, w.pid, 'answered by the worker it was sent to');
    assert.equal(script, PID);
    assert.equal(worker, w, "the manager's 'message' event passes the same worker object");
  }
});

test("worker.kill() gives an 'exit' event (null, 'SIGTERM') and updates the state", { timeout: 30000 }, async (t) => {
  const { worker } = await oneWorker(t, PID, { respawnInterval: 50 });
  const exit = once(worker, 'exit');
  assert.equal(worker.kill(), true);
  assert.equal(worker.killed, true, 'killed is true once the signal was sent');
  const [code, signal] = await exit;
  assert.equal(code, null);
  assert.equal(signal, 'SIGTERM');
  assert.equal(worker.exitCode, null);
  assert.equal(worker.signalCode, 'SIGTERM');
  assert.equal(worker.connected, false);
  assert.ok(!alive(worker.pid));
});

test("worker.kill('SIGKILL') sends that signal", { timeout: 30000 }, async (t) => {
  const { worker } = await oneWorker(t, PID, { respawnInterval: 50 });
  const exit = once(worker, 'exit');
  worker.kill('SIGKILL');
  assert.deepEqual(await exit, [null, 'SIGKILL']);
  assert.equal(worker.signalCode, 'SIGKILL');
});

test("a worker exiting by itself gives 'exit' (code, null) and exitCode", { timeout: 30000 }, async (t) => {
  const { worker } = await oneWorker(t, EXIT, { respawnInterval: 50 });
  const exit = once(worker, 'exit');
  worker.send({ code: 7 });
  assert.deepEqual(await exit, [7, null]);
  assert.equal(worker.exitCode, 7);
  assert.equal(worker.signalCode, null);
  assert.equal(worker.killed, false);
  assert.equal(worker.connected, false);
});

test("worker.disconnect() closes the channel: a 'disconnect' event on the worker, then it exits", { timeout: 30000 }, async (t) => {
  const { worker } = await oneWorker(t, PID, { respawnInterval: 50 });
  const events = [];
  worker.on('disconnect', () => events.push('disconnect'));
  worker.on('exit', () => events.push('exit'));
  worker.disconnect();
  // ChildProcess emits 'disconnect' (on the next tick) once the channel is closed.
  await waitFor(() => events.includes('disconnect'), 10000, () => `a 'disconnect' event on the worker; events: ${events}`);
  assert.equal(worker.connected, false);
  await waitFor(() => !alive(worker.pid), 10000, `worker ${worker.pid} to be gone`);
});

test('a worker that closes its own channel is killed by the manager and replaced', { timeout: 30000 }, async (t) => {
  // The fixture keeps running after process.disconnect(): only a kill ends it.
  const { manager, worker } = await oneWorker(t, DISCONNECT, { respawnInterval: 50 });
  const disconnected = waitEvent(manager, 'worker-disconnect', { filter: (s, a, w) => w === worker });
  const replaced = collectWorkers(manager, 1);
  worker.send({ cmd: 'disconnect' });
  const [script] = await disconnected;
  assert.equal(script, DISCONNECT);
  await waitFor(() => !alive(worker.pid), 10000, `the manager to kill ${worker.pid}`);
  const [{ worker: fresh }] = await replaced;
  assert.notEqual(fresh.pid, worker.pid);
});

async function readUntil(stream, needle) {
  let text = '';
  for await (const chunk of stream) {
    text += chunk;
    if (text.includes(needle)) return text;
  }
  return text;
}

test('fork { silent: true } in config gives a readable worker.stdout with its console.log', { timeout: 30000 }, async (t) => {
  const { manager, worker } = await oneWorker(t, LOG, { fork: { silent: true } });
  assert.ok(worker.stdout, 'worker.stdout is a stream');
  assert.equal(typeof worker.stdout.on, 'function');
  const token = `silent-${process.pid}-${Date.now()}`;
  const seen = readUntil(worker.stdout, `LOG-MARKER ${token}`);
  manager.send(token, LOG);
  assert.ok((await seen).includes(`LOG-MARKER ${token}`));
});

test('manager.options = { silent: true } set before add() works too', { timeout: 30000 }, async (t) => {
  const { manager } = createManager(t);
  manager.options = { silent: true };
  const up = collectWorkers(manager, 1);
  manager.add(LOG);
  const [{ worker }] = await up;
  assert.ok(worker.stdout, 'worker.stdout is a stream');
  const token = `options-${Date.now()}`;
  const seen = readUntil(worker.stdout, `LOG-MARKER ${token}`);
  manager.send(token, LOG);
  assert.ok((await seen).includes(`LOG-MARKER ${token}`));
});

test('without silent, worker.stdout is null', { timeout: 30000 }, async (t) => {
  const { worker } = await oneWorker(t, PID);
  assert.equal(worker.stdout, null);
  assert.equal(worker.stderr, null);
  assert.equal(worker.stdin, null);
});

test("without silent, a worker's console.log reaches the parent's stdout", { timeout: 30000 }, async () => {
  // Node marks fds 0-2 close-on-exec; a worker spawned with "inherit" must still
  // get them. Run a small app in its own process and capture its stdout.
  const token = `inherit-${process.pid}-${Date.now()}`;
  const { stdout, stderr } = await promisify(execFile)(
    process.execPath, [fixture('parent-log.js'), PKG_ROOT, token], { timeout: 20000 },
  );
  assert.ok(stdout.includes(`LOG-MARKER ${token}`),
    `stdout of the app should hold the worker's line; stdout=${JSON.stringify(stdout)} stderr=${JSON.stringify(stderr)}`);
});
