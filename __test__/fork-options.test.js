'use strict';
// Fork options (config.fork, or manager.options set before add()): what each option of
// child_process.fork() does for a pool's workers - honoured as fork() would, or warned about.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { fixture, collectWorkers, nextMessage, createManager, waitEvent, waitFor } = require('./helpers');

const ENV = fixture('env.js');

async function report(manager, script = ENV) {
  const up = collectWorkers(manager, 1);
  manager.add(script);
  const [{ worker }] = await up;
  const reply = nextMessage(manager, (m) => m && m.pid === worker.pid);
  worker.send('report');
  return (await reply).message;
}

test('by default a worker runs the same node binary, in the same cwd, with the same env', { timeout: 30000 }, async (t) => {
  process.env.FORKFRIEND_TEST_VALUE = `inherited-${Date.now()}`;
  t.after(() => { delete process.env.FORKFRIEND_TEST_VALUE; });
  const { manager } = createManager(t);
  const r = await report(manager);
  assert.equal(r.execPath, process.execPath);
  assert.equal(r.cwd, process.cwd());
  assert.equal(r.env, process.env.FORKFRIEND_TEST_VALUE);
});

test('config.fork sets cwd, env and execArgv of the workers', { timeout: 30000 }, async (t) => {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'forkfriend-cwd-')));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const value = `configured-${Date.now()}`;
  const { manager } = createManager(t, {
    fork: {
      cwd: dir,
      env: { ...process.env, FORKFRIEND_TEST_VALUE: value },
      execArgv: ['--max-old-space-size=123'],
    },
  });
  const r = await report(manager);
  assert.equal(r.cwd, dir);
  assert.equal(r.env, value);
  assert.deepEqual(r.execArgv, ['--max-old-space-size=123']);
});

test('manager.options set before add() are used as fork options', { timeout: 30000 }, async (t) => {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'forkfriend-opt-')));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const { manager } = createManager(t);
  manager.options = { cwd: dir, env: { FORKFRIEND_TEST_VALUE: 'from-options', PATH: process.env.PATH } };
  const r = await report(manager);
  assert.equal(r.cwd, dir);
  assert.equal(r.env, 'from-options');
});

test('a bare execPath is looked up on the PATH of the worker environment', { timeout: 30000 }, async (t) => {
  const { manager } = createManager(t);
  manager.options = {
    execPath: path.basename(process.execPath),
    env: { PATH: `/nonexistent/forkfriend-test:${path.dirname(process.execPath)}`, FORKFRIEND_TEST_VALUE: 'bare' },
  };
  const r = await report(manager);
  assert.equal(r.execPath, fs.realpathSync(process.execPath));
  assert.equal(r.env, 'bare');
});

test('a cwd that does not exist is an ERR_WORKER_SPAWN worker-error naming the cause', { timeout: 30000 }, async (t) => {
  const { manager } = createManager(t, { respawnInterval: 50 });
  manager.options = { cwd: '/nonexistent/forkfriend-test-cwd' };
  const errored = waitEvent(manager, 'worker-error');
  manager.add(ENV);
  const [err] = await errored;
  assert.ok(err instanceof Error);
  assert.equal(err.code, 'ERR_WORKER_SPAWN');
  assert.match(err.message, /No such file or directory/);
});

/** The real uid of every thread of this process, from /proc (each thread has its own). */
function threadUids() {
  return fs.readdirSync('/proc/self/task').map((tid) => {
    const status = fs.readFileSync(`/proc/self/task/${tid}/status`, 'utf8');
    return Number(status.match(/^Uid:\s+(\d+)/m)[1]);
  });
}

test('uid and gid run a worker as another user while every thread of the manager keeps its own', {
  timeout: 30000,
  skip: process.getuid() !== 0 && 'needs root to switch users',
}, async (t) => {
  const nobody = 65534;
  // The checkout may sit in a directory only root can enter: the worker runs a copy.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'forkfriend-uid-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.chmodSync(dir, 0o755);
  const script = path.join(dir, 'env.js');
  fs.copyFileSync(ENV, script);
  fs.chmodSync(script, 0o644);
  // So may the node binary (a line fetched into the checkout's .cache/): then a copy runs.
  let execPath = process.execPath;
  if (spawnSync(execPath, ['--version'], { uid: nobody, gid: nobody }).status !== 0) {
    execPath = path.join(dir, 'node');
    fs.copyFileSync(process.execPath, execPath);
    fs.chmodSync(execPath, 0o755);
  }
  const { manager } = createManager(t);
  // Workers are started from threads that share the manager's memory until exec: switching
  // users there must touch the child only.
  manager.options = { uid: nobody, gid: nobody, cwd: dir, execPath };
  const r = await report(manager, script);
  assert.equal(r.uid, nobody);
  assert.equal(r.gid, nobody);
  assert.equal(process.getuid(), 0);
  assert.deepEqual([...new Set(threadUids())], [0]);
});

test('argv0 becomes the worker\'s process.argv0, as with fork()', { timeout: 30000 }, async (t) => {
  const { manager } = createManager(t, { fork: { argv0: 'forkfriend-test-argv0' } });
  const r = await report(manager);
  assert.equal(r.argv0, 'forkfriend-test-argv0');
  assert.equal(r.execPath, process.execPath);
});

/** Removes the one worker of a new pool and resolves with how it ended. */
async function endedBy(t, fork) {
  const { manager } = createManager(t, { fork });
  const up = collectWorkers(manager, 1);
  manager.add(ENV);
  const [{ worker }] = await up;
  const exited = waitEvent(manager, 'worker-exit');
  manager.remove(ENV, worker);
  const [code] = await exited;
  return { code, signal: worker.signalCode };
}

test('killSignal is the signal that ends the workers the manager stops (default SIGTERM)', { timeout: 30000 }, async (t) => {
  assert.deepEqual(await endedBy(t, {}), { code: null, signal: 'SIGTERM' });
  assert.deepEqual(await endedBy(t, { killSignal: 'SIGINT' }), { code: null, signal: 'SIGINT' });
  assert.deepEqual(await endedBy(t, { killSignal: 1 }), { code: null, signal: 'SIGHUP' });
});

test('an unknown killSignal fails add() with ERR_UNKNOWN_SIGNAL and starts nothing', (t) => {
  const { manager } = createManager(t);
  for (const killSignal of ['SIGBOGUS', 0, 999, 1.5, {}, 'toString']) {
    manager.options = { killSignal };
    assert.throws(() => manager.add(ENV), (err) => err instanceof TypeError && err.code === 'ERR_UNKNOWN_SIGNAL' && /options\.killSignal/.test(err.message));
    assert.equal(manager.get(ENV), undefined);
  }
});

test('aborting the fork option signal removes the workers of that pool for good', { timeout: 30000 }, async (t) => {
  const { manager } = createManager(t, { respawnInterval: 0 });
  const controller = new AbortController();
  manager.options = { signal: controller.signal };
  const up = collectWorkers(manager, 2);
  manager.add(ENV, 2);
  const workers = (await up).map((w) => w.worker);
  const exits = [];
  manager.on('worker-exit', (code, script, args, worker) => exits.push(worker.pid));
  let restarted = 0;
  manager.on('worker', () => { restarted += 1; });
  const gone = waitFor(() => exits.length === 2, 10000, 'both workers to exit');
  controller.abort();
  await gone;
  assert.deepEqual(exits.sort(), workers.map((w) => w.pid).sort());
  assert.equal(manager.get(ENV), undefined, 'the pool is gone');
  assert.equal(restarted, 0, 'no replacement was started');

  // A signal already aborted: add() starts nothing.
  manager.options = { signal: AbortSignal.abort() };
  manager.add(ENV);
  assert.equal(manager.get(ENV), undefined);
  assert.equal(restarted, 0);
  manager.options = { signal: 'abort' };
  assert.throws(() => manager.add(ENV), { code: 'ERR_INVALID_ARG_TYPE', message: /options\.signal/ });
});

/** Collects process warnings while `fn` runs. */
async function warningsDuring(fn) {
  const seen = [];
  const on = (w) => seen.push(w);
  process.on('warning', on);
  try {
    await fn();
    // 'warning' is emitted on the next tick after emitWarning().
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('warning', on);
  }
  return seen.map((w) => ({ code: w.code, option: w.message.match(/fork option "(\w+)"/)?.[1] }));
}

test('fork options that cannot apply, and unknown ones, are each warned about once per manager', { timeout: 30000 }, async (t) => {
  const fork = { detached: true, timeout: 1000, shell: '/bin/sh', bogusOption: 1, anotherOne: 'x' };
  const first = createManager(t, { fork }).manager;
  const warned = await warningsDuring(async () => {
    const up = collectWorkers(first, 2);
    first.add(ENV);
    first.add(fixture('echo.js')); // a second pool with the same options: no second warning
    await up;
  });
  assert.deepEqual(warned.sort((a, b) => a.option.localeCompare(b.option)), [
    { code: 'FORKFRIEND_FORK_OPTION_UNKNOWN', option: 'anotherOne' },
    { code: 'FORKFRIEND_FORK_OPTION_UNKNOWN', option: 'bogusOption' },
    { code: 'FORKFRIEND_FORK_OPTION_DETACHED', option: 'detached' },
    { code: 'FORKFRIEND_FORK_OPTION_SHELL', option: 'shell' },
    { code: 'FORKFRIEND_FORK_OPTION_TIMEOUT', option: 'timeout' },
  ]);
  // Not detached: the worker is in the manager's session, and it answers as usual.
  const r = await report(first);
  assert.equal(r.cwd, process.cwd());

  const again = await warningsDuring(() => { createManager(t, { fork: { detached: true } }).manager.add(ENV); });
  assert.deepEqual(again, [{ code: 'FORKFRIEND_FORK_OPTION_DETACHED', option: 'detached' }], 'another manager warns again');
});

test('honoured options and the off values of inapplicable ones raise no warning', { timeout: 30000 }, async (t) => {
  const { manager } = createManager(t);
  const warned = await warningsDuring(async () => {
    manager.options = {
      cwd: process.cwd(), env: process.env, execPath: process.execPath, execArgv: [], argv0: 'node', stdio: 'inherit',
      silent: false, killSignal: 'SIGTERM', signal: new AbortController().signal, serialization: 'json',
      windowsHide: true, windowsVerbatimArguments: true, detached: false, timeout: 0, shell: false,
    };
    await report(manager);
  });
  assert.deepEqual(warned, []);
});
