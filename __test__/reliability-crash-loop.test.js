'use strict';
// Crash loops: a script that exits at once, a script path that does not exist, and (no process
// at all) an execPath that does not exist. Over 3 s the number of spawns stays within what the
// respawn policy allows, 'worker-respawn' reports growing delays and crash counts, 'worker-error'
// reports the failure, and a healthy pool of the same manager keeps answering meanwhile.
//
// The policy: a worker that dies before minUptime is a crash; the respawn after the k-th
// consecutive crash waits respawnInterval * 2^(k-1) ms (capped at maxRespawnDelay), and respawns
// of one script are at least respawnInterval apart. Spawns therefore happen at t=0 (add), then
// gaps of >= 500, 1000, 2000, ... ms with the defaults.

const test = require('node:test');
const assert = require('node:assert/strict');
const { setTimeout: sleep } = require('node:timers/promises');
const { alive, createManager, nextMessage } = require('./helpers');
const { rfixture, within } = require('./reliability-support');

const EXIT_AT_ONCE = rfixture('exit-at-once.js');
const MISSING = rfixture('no-such-worker.js');
const ECHO = rfixture('echo-pid.js');
const WINDOW_MS = 3000;
const TOLERANCE = 1;

/** Most spawns a crash loop can make in `windowMs`: one at t=0, then the minimum gaps. */
function maxSpawns(windowMs, { respawnInterval, maxRespawnDelay }) {
  let t = 0;
  let n = 1;
  for (let k = 1; ; k++) {
    t += Math.min(respawnInterval * 2 ** (k - 1), maxRespawnDelay);
    if (t > windowMs) return n;
    n++;
  }
}

/** Minimum delay the policy gives the respawn after the k-th consecutive crash. */
function minDelay(crashes, { respawnInterval, maxRespawnDelay }) {
  return Math.min(respawnInterval * 2 ** (crashes - 1), maxRespawnDelay);
}

/** Records what a crash-looping pool of `manager` does, with times relative to `t0`. */
function record(manager, script) {
  const r = { spawns: [], respawns: [], errors: [], exits: [], aborted: 0 };
  manager.on('worker', (s, args, w) => { if (s === script) r.spawns.push({ at: Date.now() - r.t0, pid: w.pid }); });
  manager.on('worker-respawn', (s, delayMs, crashes) => { if (s === script) r.respawns.push({ at: Date.now() - r.t0, delayMs, crashes }); });
  manager.on('worker-error', (e, s) => { if (s === script) r.errors.push(e instanceof Error ? { code: e.code, message: e.message } : e); });
  manager.on('worker-exit', (code, s) => { if (s === script) r.exits.push(code); });
  manager.on('worker-aborted', (s) => { if (s === script) r.aborted++; });
  return r;
}

/** Pings the echo pool every 100 ms until `until()`; returns the round-trip times. */
async function pingWhile(manager, until) {
  const rtts = [];
  for (let n = 0; !until(); n++) {
    const t0 = Date.now();
    const got = nextMessage(manager, (m) => m && m.m && m.m.ping === n, 5000);
    manager.send({ ping: n }, ECHO);
    await got;
    rtts.push(Date.now() - t0);
    await sleep(100);
  }
  return rtts;
}

function checkRespawnEvents(r, config, what) {
  assert.ok(r.respawns.length >= 1, `${what}: at least one 'worker-respawn' (${JSON.stringify(r.respawns)})`);
  r.respawns.forEach((ev, i) => {
    assert.equal(ev.crashes, i + 1, `${what}: respawn #${i + 1} reports ${i + 1} consecutive crashes (${JSON.stringify(r.respawns)})`);
    assert.ok(ev.delayMs >= minDelay(ev.crashes, config) - 1,
      `${what}: respawn after ${ev.crashes} crashes waits >= ${minDelay(ev.crashes, config)} ms (got ${ev.delayMs})`);
    assert.ok(ev.delayMs <= config.maxRespawnDelay + config.respawnInterval,
      `${what}: delay ${ev.delayMs} ms stays near the cap ${config.maxRespawnDelay}`);
    if (i > 0) assert.ok(ev.delayMs >= r.respawns[i - 1].delayMs, `${what}: delays never shrink during a crash loop (${JSON.stringify(r.respawns)})`);
  });
}

test('crash loops stay within the default policy; the manager stays responsive', { timeout: 60000 }, async (t) => {
  const { manager: exiting, pids: pidsA } = createManager(t);
  const { manager: missing, pids: pidsB } = createManager(t, { fork: { stdio: ['inherit', 'inherit', 'ignore'] } });
  const { manager: noExec } = createManager(t);
  const config = exiting.config;
  assert.equal(config.respawnInterval, 500);
  assert.equal(config.minUptime, 1000);
  assert.equal(config.maxRespawnDelay, 10000);
  const bound = maxSpawns(WINDOW_MS, config);
  t.diagnostic(`policy bound: at most ${bound} spawns in ${WINDOW_MS} ms (+${TOLERANCE} tolerance)`);

  // A healthy pool beside each loop: the same manager must keep answering.
  const echoUp = Promise.all([exiting, missing].map((m) => new Promise((resolve) => m.on('worker', (s) => { if (s === ECHO) resolve(); }))));
  exiting.add(ECHO);
  missing.add(ECHO);
  await within(echoUp, 15000, 'the echo workers');

  const a = record(exiting, EXIT_AT_ONCE);
  const b = record(missing, MISSING);
  const c = record(noExec, 'worker.js');
  const t0 = Date.now();
  a.t0 = b.t0 = c.t0 = t0;
  exiting.add(EXIT_AT_ONCE);
  missing.add(MISSING);
  noExec.options = { execPath: rfixture('no-such-node') };
  noExec.add('worker.js');
  const over = () => Date.now() - t0 >= WINDOW_MS;
  const [rttA, rttB] = await Promise.all([pingWhile(exiting, over), pingWhile(missing, over)]);
  const inWindow = (r) => r.spawns.filter((s) => s.at <= WINDOW_MS).length;
  const spawnFailures = c.errors.filter((e) => e && e.code === 'ERR_WORKER_SPAWN');

  t.diagnostic(`exit-at-once: ${inWindow(a)} spawns at ${a.spawns.map((s) => s.at).join(', ')} ms; respawns ${JSON.stringify(a.respawns)}`);
  t.diagnostic(`missing script: ${inWindow(b)} spawns at ${b.spawns.map((s) => s.at).join(', ')} ms; respawns ${JSON.stringify(b.respawns)}`);
  t.diagnostic(`missing execPath: ${spawnFailures.length} spawn failures; respawns ${JSON.stringify(c.respawns)}`);
  t.diagnostic(`echo round trips during the loops: ${rttA.length + rttB.length} pings, max ${Math.max(...rttA, ...rttB)} ms`);

  // Spawn counts within the policy's bound, and the loop does respawn.
  assert.ok(inWindow(a) <= bound + TOLERANCE, `exit-at-once: ${inWindow(a)} spawns in ${WINDOW_MS} ms <= ${bound} + ${TOLERANCE}`);
  assert.ok(inWindow(a) >= 2, `exit-at-once: it was respawned at least once (${inWindow(a)})`);
  assert.ok(inWindow(b) <= bound + TOLERANCE, `missing script: ${inWindow(b)} spawns in ${WINDOW_MS} ms <= ${bound} + ${TOLERANCE}`);
  assert.ok(inWindow(b) >= 2, `missing script: it was respawned at least once (${inWindow(b)})`);
  const failuresInWindow = c.respawns.filter((r) => r.at <= WINDOW_MS).length + 1;
  assert.ok(spawnFailures.length >= 2, `missing execPath: retried at least once (${spawnFailures.length})`);
  assert.ok(failuresInWindow <= bound + TOLERANCE, `missing execPath: ${failuresInWindow} attempts in ${WINDOW_MS} ms <= ${bound} + ${TOLERANCE}`);
  assert.equal(c.spawns.length, 0, "missing execPath: no 'worker' event");

  // Events report the loop.
  checkRespawnEvents(a, config, 'exit-at-once');
  checkRespawnEvents(b, config, 'missing script');
  checkRespawnEvents(c, config, 'missing execPath');
  assert.ok(a.errors.length >= 1 && a.errors.every((e) => e === 1), `exit-at-once: 'worker-error' reports code 1 (${JSON.stringify(a.errors)})`);
  assert.ok(a.exits.length >= 1 && a.exits.every((code) => code === 1), `exit-at-once: 'worker-exit' reports code 1 (${JSON.stringify(a.exits)})`);
  assert.ok(b.errors.length >= 1 && b.errors.every((e) => typeof e === 'number' && e !== 0), `missing script: 'worker-error' reports a non-zero code (${JSON.stringify(b.errors)})`);
  assert.ok(spawnFailures.every((e) => /no-such-node|No such file/.test(e.message)), `missing execPath: the error says why (${JSON.stringify(spawnFailures[0])})`);

  // Responsive: every ping answered (pingWhile would have thrown otherwise).
  assert.ok(rttA.length >= 3 && rttB.length >= 3, `the echo pools answered throughout (${rttA.length}, ${rttB.length} pings)`);

  for (const m of [exiting, missing, noExec]) m.stop();
  const all = [...pidsA, ...pidsB];
  await within((async () => { while (all.some(alive)) await sleep(10); })(), 5000, 'every worker to be gone after stop()');
});

test('the backoff is capped at maxRespawnDelay', { timeout: 60000 }, async (t) => {
  const config = { respawnInterval: 100, minUptime: 1000, maxRespawnDelay: 300 };
  const { manager, pids } = createManager(t, config);
  const r = record(manager, EXIT_AT_ONCE);
  r.t0 = Date.now();
  manager.add(EXIT_AT_ONCE);
  // Wait for 5 respawns (crashes 1..5: delays 100, 200, 300, 300, 300).
  await within((async () => { while (r.respawns.length < 5) await sleep(10); })(), 20000, '5 respawns');
  manager.stop();
  t.diagnostic(`respawns ${JSON.stringify(r.respawns)}; spawns at ${r.spawns.map((s) => s.at).join(', ')} ms`);
  checkRespawnEvents(r, manager.config, 'capped loop');
  const capped = r.respawns.filter((ev) => ev.crashes >= 3);
  assert.ok(capped.length >= 2);
  for (const ev of capped) assert.ok(ev.delayMs >= 299 && ev.delayMs <= 300, `delay capped at 300 ms (got ${ev.delayMs} after ${ev.crashes} crashes)`);
  // Consecutive spawns are never closer than the policy allows.
  for (let i = 1; i < r.spawns.length; i++) {
    const gap = r.spawns[i].at - r.spawns[i - 1].at;
    assert.ok(gap >= config.respawnInterval - 5, `spawns ${i - 1} -> ${i} are ${gap} ms apart (>= ${config.respawnInterval})`);
  }
  await within((async () => { while ([...pids].some(alive)) await sleep(10); })(), 5000, 'every worker to be gone after stop()');
});
