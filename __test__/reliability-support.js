'use strict';
// Small helpers shared by the reliability-*.test.js suites (not a test file itself).
// Like helpers.js, nothing here sleeps for correctness: waits are on events or bounded polls.

const path = require('node:path');
const { alive } = require('./helpers');

const RELIABILITY = path.join(__dirname, 'fixtures', 'reliability');

/** Absolute path of a fixture in fixtures/reliability/. */
function rfixture(...parts) {
  return path.join(RELIABILITY, ...parts);
}

/** Rejects with a clear message if `promise` has not settled within `ms`. */
function within(promise, ms, what) {
  let timer;
  const timeout = new Promise((resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Workers of `script` that have not exited, according to the manager. */
function liveWorkers(manager, script) {
  return (manager.get(script) || []).filter((w) => w.exitCode === null && w.signalCode === null);
}

/** SIGKILL a pid if it is still there; never throws. */
function killQuietly(pid) {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {}
}

/**
 * Every `tickMs`, SIGKILLs one random worker of `script` that the manager still lists as
 * running, for `durationMs` or until stop(). Returns { killed (a Set of pids), livePerTick
 * (killable workers seen at each tick), start (Date.now() of its start), stop(), done (a
 * promise, settled when the storm is over) }.
 */
function killStorm(manager, script, { tickMs, durationMs }) {
  const storm = { killed: new Set(), livePerTick: [], start: Date.now(), over: false };
  storm.stop = () => { storm.over = true; };
  storm.done = (async () => {
    while (!storm.over && Date.now() - storm.start < durationMs) {
      const candidates = liveWorkers(manager, script).filter((w) => !storm.killed.has(w.pid));
      storm.livePerTick.push(candidates.length);
      if (candidates.length > 0) {
        const victim = candidates[Math.floor(Math.random() * candidates.length)];
        storm.killed.add(victim.pid);
        killQuietly(victim.pid);
      }
      await new Promise((resolve) => setTimeout(resolve, tickMs));
    }
    storm.over = true;
  })();
  return storm;
}

/** Registers on `t` a last-resort SIGKILL of every pid in `pids` (for test-made processes). */
function killOnExit(t, pids) {
  t.after(() => {
    for (const pid of pids) if (alive(pid)) killQuietly(pid);
  });
}

const MiB = 1024 * 1024;

/**
 * Samples this process's RSS every `every` ms until stop() is called; stop() returns
 * { baseline, peak, last, samples } in bytes (baseline = the first sample).
 */
function sampleRss(every = 20) {
  const first = process.memoryUsage().rss;
  let peak = first;
  let last = first;
  let samples = 1;
  const timer = setInterval(() => {
    last = process.memoryUsage().rss;
    samples++;
    if (last > peak) peak = last;
  }, every);
  return {
    stop() {
      clearInterval(timer);
      last = process.memoryUsage().rss;
      if (last > peak) peak = last;
      return { baseline: first, peak, last, samples };
    },
  };
}

const mb = (bytes) => `${(bytes / MiB).toFixed(1)} MiB`;

module.exports = {
  killStorm, RELIABILITY, rfixture, within, liveWorkers, killQuietly, killOnExit, sampleRss, MiB, mb };
