'use strict';
// Shared helpers for the node:test suites. Everything here waits on real events
// or polls a real condition with a deadline; nothing sleeps for correctness.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const PKG_ROOT = path.resolve(__dirname, '..');
const FIXTURES = path.join(__dirname, 'fixtures');

/** Absolute path of a worker fixture. */
function fixture(name) {
  return path.join(FIXTURES, name);
}

/** The process state letter from /proc (R, S, Z, ...), or null if the pid is gone. */
function procState(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return null;
  }
}

/**
 * True while `pid` is a running process. A zombie counts as dead: it runs no
 * code any more (orphans re-parented to a PID 1 that does not reap stay zombies).
 */
function alive(pid) {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if (err.code === 'ESRCH') return false;
    if (err.code !== 'EPERM') throw err;
  }
  return procState(pid) !== 'Z';
}

/** True while the pid still exists at all, zombie or not (i.e. not reaped yet). */
function exists(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code !== 'ESRCH';
  }
}

const tick = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Poll `cond` (sync or async) every 10 ms until it returns a truthy value, which
 * is returned. Rejects after `ms` with a message built from `what` (a string or
 * a function, called at timeout time so it can describe the current state).
 */
async function waitFor(cond, ms = 10000, what = 'condition') {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await cond();
    if (value) return value;
    if (Date.now() > deadline) {
      const desc = typeof what === 'function' ? what() : what;
      throw new Error(`timed out after ${ms} ms waiting for ${desc}`);
    }
    await tick(10);
  }
}

/**
 * Assert that `cond` stays truthy for `ms`. Used only to check that something
 * does NOT happen (e.g. no respawn after remove), where no event can be awaited;
 * the window is always several times the longest delay the config allows.
 */
async function holdsFor(cond, ms, what) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!(await cond())) {
      throw new Error(`condition broke before ${ms} ms: ${typeof what === 'function' ? what() : what}`);
    }
    await tick(10);
  }
}

/**
 * Resolve with the arguments of the first `event` on `emitter` whose arguments
 * pass `filter`; reject after `ms`.
 */
function waitEvent(emitter, event, { filter = () => true, ms = 15000 } = {}) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, on);
      reject(new Error(`timed out after ${ms} ms waiting for '${event}'`));
    }, ms);
    function on(...args) {
      if (!filter(...args)) return;
      clearTimeout(timer);
      emitter.off(event, on);
      resolve(args);
    }
    emitter.on(event, on);
  });
}

/**
 * Collect the next `n` 'worker' events (optionally only for `script`), as
 * [{ script, args, worker }]. Attach right after add(): events are async.
 */
function collectWorkers(manager, n, { script, ms = 15000 } = {}) {
  return new Promise((resolve, reject) => {
    const got = [];
    const timer = setTimeout(() => {
      manager.off('worker', on);
      reject(new Error(`timed out after ${ms} ms: got ${got.length} of ${n} 'worker' events`));
    }, ms);
    function on(s, args, worker) {
      if (script !== undefined && s !== script) return;
      got.push({ script: s, args, worker });
      if (got.length === n) {
        clearTimeout(timer);
        manager.off('worker', on);
        resolve(got);
      }
    }
    manager.on('worker', on);
  });
}

/**
 * Collect the next `n` 'message' events whose message passes `filter`, as
 * [{ message, script, worker }].
 */
function collectMessages(manager, n, { filter = () => true, ms = 15000 } = {}) {
  return new Promise((resolve, reject) => {
    const got = [];
    const timer = setTimeout(() => {
      manager.off('message', on);
      reject(new Error(`timed out after ${ms} ms: got ${got.length} of ${n} messages`));
    }, ms);
    function on(message, script, worker) {
      if (!filter(message, script, worker)) return;
      got.push({ message, script, worker });
      if (got.length === n) {
        clearTimeout(timer);
        manager.off('message', on);
        resolve(got);
      }
    }
    manager.on('message', on);
  });
}

/** The first matching 'message' event, as { message, script, worker }. */
async function nextMessage(manager, filter = () => true, ms = 15000) {
  const [first] = await collectMessages(manager, 1, { filter, ms });
  return first;
}

/**
 * Create a manager whose cleanup is registered on `t`: at the end of the test
 * it is stopped and every worker pid it ever forked must be dead (and reaped),
 * and no control message may have leaked out as a result.
 * Returns { manager, pids } where pids is the live Set of forked pids.
 */
function createManager(t, config) {
  const forkfriend = require('..');
  const manager = config === undefined ? forkfriend() : forkfriend(config);
  const pids = new Set();
  const leaked = [];
  manager.on('worker', (script, args, worker) => pids.add(worker.pid));
  manager.on('message', (message) => {
    if (message && typeof message === 'object' && '__forkfriend' in message) leaked.push(message);
  });
  t.after(async () => {
    for (const script of Object.keys(manager.workers || {})) {
      for (const worker of manager.workers[script].process || []) pids.add(worker.pid);
    }
    manager.stop();
    await waitFor(
      () => [...pids].every((pid) => !alive(pid)),
      10000,
      () => `every worker to die after stop(); alive: ${[...pids].filter(alive).join(', ')}`,
    );
    // Workers are children of this process: the manager must also reap them.
    await waitFor(
      () => [...pids].every((pid) => !exists(pid)),
      5000,
      () => `every worker to be reaped; zombies: ${[...pids].filter(exists).join(', ')}`,
    );
    assert.deepEqual(leaked, [], 'control messages must never be emitted as results');
  });
  return { manager, pids };
}

/**
 * A manager (cleaned up with `t`) on which `manager.add(...addArgs)` has brought up `count`
 * workers. Resolves with what createManager returns plus `started`: those workers'
 * `{ script, args, worker }`, in the order they came up.
 */
async function startPool(t, addArgs, count = 1, config) {
  const made = createManager(t, config);
  const up = collectWorkers(made.manager, count);
  made.manager.add(...addArgs);
  return { ...made, started: await up };
}

/** startPool() with one worker of `script` (started with `args` if given): adds `worker`. */
async function startOne(t, script, config, args) {
  const { started, ...made } = await startPool(t, args ? [script, args, 1] : [script], 1, config);
  return { ...made, worker: started[0].worker };
}

/** Asks one argv.js worker for its argv directly (worker.send) and returns it. */
async function argvOf(manager, worker) {
  const reply = nextMessage(manager, (m) => m && m.pid === worker.pid);
  worker.send('argv?');
  return (await reply).message.argv;
}

/** Pids of the live workers of `script` according to manager.get(). */
function poolPids(manager, script) {
  const pool = manager.get(script);
  return pool ? pool.map((w) => w.pid) : [];
}

/**
 * Pids of the live processes whose environment has `name=value`. Workers inherit the
 * environment, so a value unique to one run finds all of that run's processes, whoever
 * their parent is now.
 */
function taggedPids(name, value) {
  const needle = Buffer.from(`\0${name}=${value}\0`);
  const found = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let environ;
    try {
      environ = fs.readFileSync(`/proc/${entry}/environ`);
    } catch {
      continue; // gone already, or not ours to read
    }
    const padded = Buffer.concat([Buffer.from('\0'), environ, Buffer.from('\0')]);
    if (padded.includes(needle) && alive(Number(entry))) found.push(Number(entry));
  }
  return found;
}

module.exports = {
  taggedPids,
  startOne,
  startPool,
  argvOf,
  PKG_ROOT,
  FIXTURES,
  fixture,
  alive,
  exists,
  procState,
  waitFor,
  holdsFor,
  waitEvent,
  collectWorkers,
  collectMessages,
  nextMessage,
  createManager,
  poolPids,
};
