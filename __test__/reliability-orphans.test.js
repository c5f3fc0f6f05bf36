'use strict';
// No orphans: when the process running the manager dies - SIGKILLed, or crashing on an uncaught
// exception without stopping the manager - its workers die with it, even busy ones kept alive by
// timers. And the reverse: healthy workers are NOT killed while their manager lives (the
// death signal is tied to the forking thread, which must live as long as the process).

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { spawn } = require('node:child_process');
const { once } = require('node:events');
const { PKG_ROOT, alive, exists, waitFor, holdsFor } = require('./helpers');
const { rfixture, within, killOnExit, killQuietly } = require('./reliability-support');

const PARENT = rfixture('orphan-parent.js');

function parentOf(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

/** Starts the parent app; resolves once it printed the pids of its 4 answering workers. */
async function startParent(t, mode) {
  const app = spawn(process.execPath, [PARENT, PKG_ROOT, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
  const leftovers = [app.pid];
  killOnExit(t, leftovers);
  let stderr = '';
  app.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
  let stdout = '';
  const line = new Promise((resolve, reject) => {
    app.stdout.setEncoding('utf8').on('data', (d) => {
      stdout += d;
      if (stdout.includes('\n')) resolve(stdout.slice(0, stdout.indexOf('\n')));
    });
    app.on('exit', (code, signal) => reject(new Error(`the parent exited (${code ?? signal}) before printing pids; stderr: ${stderr}`)));
  });
  const pids = JSON.parse(await within(line, 20000, "the parent's worker pids"));
  leftovers.push(...pids);
  return { app, pids, stderr: () => stderr };
}

test('SIGKILL the manager process: its 4 busy workers are gone within 1 s', { timeout: 30000 }, async (t) => {
  const { app, pids } = await startParent(t, 'stay');
  assert.equal(pids.length, 4);
  for (const pid of pids) {
    assert.ok(alive(pid), `worker ${pid} runs before the kill`);
    assert.equal(parentOf(pid), app.pid, `worker ${pid} is a child of the manager process`);
  }
  const exited = once(app, 'exit');
  const killedAt = Date.now();
  app.kill('SIGKILL');
  const [, signal] = await exited;
  assert.equal(signal, 'SIGKILL');
  await waitFor(() => pids.every((pid) => !alive(pid)), 1000,
    () => `0 workers alive 1 s after the manager was SIGKILLed; alive: ${pids.filter(alive).join(', ')}`);
  // Orphans are re-parented to PID 1; whether it reaps them is outside the manager's control.
  t.diagnostic(`all 4 workers gone ${Date.now() - killedAt} ms after SIGKILL of the manager (${pids.filter(exists).length} left as zombies)`);
});

test('the manager process dies of an uncaught exception: its workers go too', { timeout: 30000 }, async (t) => {
  const { app, pids, stderr } = await startParent(t, 'throw');
  const [code] = app.exitCode !== null ? [app.exitCode] : await once(app, 'exit');
  const diedAt = Date.now();
  assert.equal(code, 1, 'the app died of its uncaught exception');
  assert.match(stderr(), /the application crashed/);
  await waitFor(() => pids.every((pid) => !alive(pid)), 1000,
    () => `0 workers alive 1 s after the manager crashed; alive: ${pids.filter(alive).join(', ')}`);
  t.diagnostic(`all 4 workers gone within ${Date.now() - diedAt} ms of the crash`);
});

test('workers of a live manager stay up through 11 s of idling (the forking thread lives on)', { timeout: 40000 }, async (t) => {
  // PR_SET_PDEATHSIG fires when the forking THREAD exits; tokio retires idle blocking threads
  // after 10 s. 11 s of idling is the window in which that bug killed workers.
  const { app, pids } = await startParent(t, 'stay');
  await holdsFor(() => pids.every(alive), 11000, () => `every worker alive while the manager lives; dead: ${pids.filter((p) => !alive(p))}`);
  assert.equal(app.exitCode, null, 'the manager process is still up');
  const exited = once(app, 'exit');
  app.kill('SIGKILL');
  await exited;
  await waitFor(() => pids.every((pid) => !alive(pid)), 1000, () => `workers gone after the kill; alive: ${pids.filter(alive)}`);
  for (const pid of pids) killQuietly(pid);
});
