'use strict';
// Isolation: a worker inherits only its stdio and its own IPC channel (a socket on fd 3) - never
// another worker's channel or any other fd of the manager process. Node itself opens a few fds
// in every process (epoll, eventfd, its signal/async pipes, /dev/null); those are measured on
// the same fixture started by child_process.fork() in the same test, and a worker may hold no
// more of each kind than that baseline. And no shell is involved: paths and args with spaces,
// quotes, `;` and `$(...)` reach the worker literally.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { fork } = require('node:child_process');
const { once } = require('node:events');
const { collectMessages, waitFor, alive, startPool, startOne } = require('./helpers');
const { rfixture, within, killOnExit } = require('./reliability-support');

const FDS = rfixture('fds.js');
const ARGV = rfixture('dir with space', 'argv;echo.js');

/** 'pipe:[123]' -> 'pipe', 'anon_inode:[eventfd]' stays, paths stay. */
function kind(target) {
  return target.replace(/^(socket|pipe):\[\d+\]$/, '$1');
}

/** 'pipe:[123]' -> 'pipe:[123]'; null for targets that do not name one object. */
function inodeOf(target) {
  return /^(socket|pipe):\[\d+\]$/.test(target) ? target : null;
}

function countKinds(fds, from) {
  const counts = new Map();
  for (const [fd, target] of Object.entries(fds)) {
    if (Number(fd) < from) continue;
    counts.set(kind(target), (counts.get(kind(target)) || 0) + 1);
  }
  return counts;
}

function ownFds() {
  const fds = {};
  for (const name of fs.readdirSync('/proc/self/fd')) {
    try {
      fds[name] = fs.readlinkSync(`/proc/self/fd/${name}`);
    } catch {}
  }
  return fds;
}

test("a worker's /proc/self/fd lists only its stdio, its own channel and Node's own fds", { timeout: 30000 }, async (t) => {
  // Baseline: the same fixture started by Node's own fork(), kept open while the workers start.
  const baselineChild = fork(FDS, [], { execArgv: [] });
  killOnExit(t, [baselineChild.pid]);
  baselineChild.send('list');
  const [baseline] = await within(once(baselineChild, 'message'), 15000, "the fork() baseline's fd list");

  const { manager, started } = await startPool(t, [FDS, 3], 3, { fork: { execArgv: [] } });
  const workers = started.map((w) => w.worker);
  // Ask only once all 3 are running, so each could have inherited the others' channels.
  const replies = collectMessages(manager, 3, { filter: (m) => m && m.m === 'list' });
  for (const w of workers) w.send('list');
  const lists = (await replies).map((r) => r.message);
  const host = ownFds();
  baselineChild.disconnect();
  await once(baselineChild, 'exit');

  const hostObjects = new Set(Object.entries(host).filter(([fd]) => Number(fd) > 2).map(([, tg]) => inodeOf(tg)).filter(Boolean));
  const baseKinds = countKinds(baseline.fds, 4);
  t.diagnostic(`fork() baseline fds: ${JSON.stringify(baseline.fds)}`);
  t.diagnostic(`worker fds: ${JSON.stringify(lists[0].fds)}`);

  const channels = new Set();
  const seen = new Map(); // object -> worker pid that holds it
  for (const { pid, fds } of lists) {
    for (const fd of ['0', '1', '2']) {
      assert.equal(fds[fd], host[fd], `worker ${pid}: fd ${fd} is the manager's stdio (inherited)`);
    }
    assert.match(fds['3'] ?? '', /^socket:\[\d+\]$/, `worker ${pid}: fd 3 is its channel`);
    assert.ok(!channels.has(fds['3']), `worker ${pid}: its channel is its own`);
    channels.add(fds['3']);
    const sockets = Object.values(fds).filter((tg) => tg.startsWith('socket:'));
    const baseSockets = Object.values(baseline.fds).filter((tg) => tg.startsWith('socket:'));
    assert.equal(sockets.length, baseSockets.length, `worker ${pid}: as many sockets as a fork() child (${sockets}) - no other worker's channel`);
    // Nothing beyond Node's own fds, kind by kind.
    for (const [k, n] of countKinds(fds, 4)) {
      assert.ok(n <= (baseKinds.get(k) || 0), `worker ${pid}: ${n} fd(s) of kind ${k}, a fork() child has ${baseKinds.get(k) || 0} (${JSON.stringify(fds)})`);
    }
    // No open object shared with the manager process or another worker (0-2 excepted).
    for (const [fd, target] of Object.entries(fds)) {
      const obj = inodeOf(target);
      if (Number(fd) < 3 || !obj) continue;
      assert.ok(!hostObjects.has(obj), `worker ${pid}: fd ${fd} (${target}) is also open in the manager process: leaked`);
      assert.ok(!seen.has(obj) || seen.get(obj) === pid, `worker ${pid}: fd ${fd} (${target}) is also open in worker ${seen.get(obj)}`);
      seen.set(obj, pid);
    }
  }
  const extra = Object.entries(baseline.fds).filter(([fd, tg]) => Number(fd) > 3 && !lists[0].fds[fd]);
  if (extra.length) t.diagnostic(`the fork() child also held ${JSON.stringify(Object.fromEntries(extra))}, which a worker does not`);
});

test('script path, execPath, cwd and args with spaces, quotes, ; and $(...) are passed literally', { timeout: 30000 }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "forkfriend 'exec' dir; "));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const execPath = path.join(dir, 'node "bin" $(x)');
  fs.symlinkSync(process.execPath, execPath);
  const sentinel = path.join(dir, 'shell-ran');
  const args = ['a b', '"q"', "it's", 'x;rm -rf /tmp/nothing', '$(echo hi)', '`echo hi`', `; touch ${JSON.stringify(sentinel)}`,
    `$(touch ${JSON.stringify(sentinel)})`, '*', '', ' leading and trailing ', 'new\nline', '\\back\\slash', '--inspect', '|', '&&', '>out'];
  const cwd = path.dirname(ARGV);

  const { manager, worker } = await startOne(t, ARGV, { fork: { execPath, execArgv: [], cwd } }, args);
  const reply = collectMessages(manager, 1, { filter: (m) => m && m.m === 'argv' });
  worker.send('argv');
  const [{ message }] = await reply;

  assert.equal(message.script, ARGV, 'the script path arrives as given');
  assert.deepEqual(message.args, args, 'every arg arrives literally');
  assert.equal(message.cwd, cwd, 'the cwd with a space is used as given');
  const cmdline = fs.readFileSync(`/proc/${worker.pid}/cmdline`, 'utf8').split('\0').slice(0, -1);
  assert.deepEqual(cmdline, [execPath, ARGV, ...args], 'the exec argv is exactly execPath, script, args (no shell)');
  assert.equal(fs.existsSync(sentinel), false, 'nothing was run by a shell');
  assert.deepEqual(manager.workers[ARGV].args, args);
  manager.stop();
  await waitFor(() => !alive(worker.pid), 5000, 'the worker to end');
});
