'use strict';
// Fork options (config.fork, or manager.options set before add()): cwd, env,
// execArgv, and the default node binary.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { fixture, collectWorkers, nextMessage, createManager, waitEvent } = require('./helpers');

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
  const { manager } = createManager(t);
  // Workers are started from threads that share the manager's memory until exec: switching
  // users there must touch the child only.
  manager.options = { uid: nobody, gid: nobody, cwd: dir };
  const r = await report(manager, script);
  assert.equal(r.uid, nobody);
  assert.equal(r.gid, nobody);
  assert.equal(process.getuid(), 0);
  assert.deepEqual([...new Set(threadUids())], [0]);
});
