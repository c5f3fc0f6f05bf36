'use strict';
// The places where programs written for 0.0.7 used to break (issue 8), one test each, with
// real workers: public state, late writes after stop(), args as given, worker streams ended by
// stop(), drops inside send(), a pool removed before it was up, external kills and the
// crash-loop backoff, a worker that sends null, and a prompt stop() with a parked reader.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { Writable } = require('node:stream');
const {
  fixture, alive, waitFor, waitEvent, collectWorkers, collectMessages, nextMessage,
  createManager, startOne, startPool, argvOf,
} = require('./helpers');
const { rfixture, within, liveWorkers, killQuietly } = require('./reliability-support');

const ECHO = fixture('echo.js');
const ARGV = fixture('argv.js');

/** Pids of this process's children whose command line names `script`. */
function childrenRunning(script) {
  const found = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== process.pid) continue;
      const argv = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (argv.includes(script) && alive(Number(entry))) found.push(Number(entry));
    } catch {}
  }
  return found;
}

test('manager.stats, manager.paused and manager.workerStreams exist and stay live', async (t) => {
  const before = Date.now();
  const { manager } = createManager(t);
  assert.ok(manager.stats.start >= before && manager.stats.start <= Date.now(), 'stats.start: creation time in ms');
  assert.deepEqual(Object.keys(manager.stats).sort(), ['drains', 'length', 'messages', 'paused', 'pauses', 'start']);
  assert.equal(manager.paused, false);
  assert.deepEqual(manager.workerStreams, {});

  const pausable = fixture('pausable.js');
  const up = collectWorkers(manager, 1);
  manager.add(pausable);
  const [{ worker }] = await up;
  const stream = manager.getWorkerStream(pausable);
  assert.equal(manager.workerStreams[pausable], stream, 'workerStreams[script] is the stream getWorkerStream() returns');

  const answered = collectMessages(manager, 2);
  manager.send('abc');
  manager.send({ x: 1 });
  await answered;
  assert.equal(manager.stats.messages, 2);
  assert.equal(manager.stats.length, JSON.stringify('abc').length + JSON.stringify({ x: 1 }).length, 'characters sent');

  // The only worker pauses itself: the manager is backed up once a message has to wait.
  const paused = nextMessage(manager, (m) => m && m.paused === worker.pid);
  manager.send({ cmd: 'pause' });
  await paused;
  const pauseEvent = waitEvent(manager, 'pause');
  manager.send('waits');
  await pauseEvent;
  assert.equal(manager.paused, true, 'paused while no worker can take a message');
  assert.equal(manager.stats.pauses, 1);

  const drained = waitEvent(manager, 'drain');
  process.kill(worker.pid, 'SIGUSR2'); // the worker drains itself
  await drained;
  assert.equal(manager.paused, false);
  assert.equal(manager.stats.drains, 1);
  assert.ok(manager.stats.paused >= 0 && manager.stats.paused === manager.getStats().paused, 'time paused, as getStats() reports it');
  assert.equal(manager.ended, false);
  manager.stop();
  assert.equal(manager.ended, true);
});

test('after stop(), write() and send() return false and emit drop; nothing throws or emits error', async (t) => {
  const { manager } = await startOne(t, ECHO);
  const errors = [];
  manager.on('error', (err) => errors.push(err));
  const drops = [];
  manager.on('drop', (script, message) => drops.push([script, message]));
  manager.stop();
  manager.stop(); // a no-op
  assert.equal(manager.write('late write'), false);
  assert.equal(manager.send('late send'), false);
  assert.equal(manager.send('to a pool', ECHO), false);
  assert.equal(manager.send({ big: 1n }), false, 'not even an unserializable message throws');
  let called = false;
  assert.equal(manager.write('with callback', () => { called = true; }), false);
  manager.end('at the end');
  await waitFor(() => called, 2000, 'the write callback');
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(errors, []);
  assert.deepEqual(drops.map(([, m]) => m), ['late write', 'late send', 'to a pool', { big: 1n }, 'with callback', 'at the end']);
  assert.equal(drops[2][0], ECHO);
});

test('event arguments and workers[script].args carry args as given; workers get strings', async (t) => {
  const args = ['-a', 1];
  const { manager, started } = await startPool(t, [ARGV, args, 2], 2);
  for (const s of started) {
    assert.deepEqual(s.args, ['-a', 1]);
    assert.equal(typeof s.args[1], 'number', "'worker' gets the number as a number");
  }
  assert.deepEqual(manager.workers[ARGV].args, ['-a', 1]);
  assert.deepEqual(await argvOf(manager, started[0].worker), ['-a', '1'], 'process.argv holds strings');

  const exit = waitEvent(manager, 'worker-exit');
  const error = waitEvent(manager, 'worker-error');
  process.kill(started[0].worker.pid, 'SIGKILL');
  assert.deepEqual((await exit)[2], ['-a', 1], "'worker-exit' args");
  assert.deepEqual((await error)[2], ['-a', 1], "'worker-error' args");

  const disconnecting = fixture('disconnect-on-message.js');
  const up = collectWorkers(manager, 1, { script: disconnecting });
  manager.add(disconnecting, ['-a', 1]);
  const [{ worker }] = await up;
  const disconnect = waitEvent(manager, 'worker-disconnect');
  worker.send({ cmd: 'disconnect' });
  const [script, dArgs, dWorker] = await disconnect;
  assert.equal(script, disconnecting);
  assert.equal(dWorker, worker);
  assert.deepEqual(dArgs, ['-a', 1], "'worker-disconnect' args");
});

test('stop() ends every stream getWorkerStream() handed out, read or not', async (t) => {
  const a = fixture('a.js');
  const b = fixture('b.js');
  const { manager } = await startPool(t, [[a, b]], 2);
  const streamA = manager.getWorkerStream(a); // never read
  const streamB = manager.getWorkerStream(b);
  const seen = [];
  streamB.on('data', (m) => seen.push(m));
  const answer = waitEvent(streamB, 'data');
  manager.send('hi', b);
  await answer;
  const ended = Promise.all([waitEvent(streamA, 'end', { ms: 5000 }), waitEvent(streamB, 'end', { ms: 5000 })]);
  manager.stop();
  await ended;
  assert.equal(seen.length, 1);
});

test("'drop' is emitted inside the send() that overflowed maxQueue, oldest first", async (t) => {
  const pausable = fixture('pausable.js');
  const { manager, worker } = await startOne(t, pausable, { maxQueue: 5 }, ['--pause-at-start']);
  // Its pause has been applied once its next message arrives.
  if (!worker.paused) await nextMessage(manager, (m) => m && m.paused === worker.pid);
  assert.ok(worker.paused, 'the only worker is paused');
  const drops = [];
  manager.on('drop', (script, message) => drops.push(message));
  for (let i = 0; i < 12; i++) {
    manager.send(`q${i}`, pausable);
    assert.equal(drops.length, Math.max(0, i + 1 - 5), `drops seen when send #${i + 1} returns`);
  }
  assert.deepEqual(drops, ['q0', 'q1', 'q2', 'q3', 'q4', 'q5', 'q6']);
  // The five that stayed are delivered once the worker drains.
  const rest = collectMessages(manager, 5, { filter: (m) => m && m.m !== undefined });
  process.kill(worker.pid, 'SIGUSR2');
  assert.deepEqual((await rest).map(({ message }) => message.m).sort(), ['q10', 'q11', 'q7', 'q8', 'q9']);
});

// `spinMs`: the tick goes on that long between add() and remove(), so the core has started
// the worker (and queued its start for JS) before the removal reaches it.
for (const spinMs of [0, 50]) test(`a pool removed in the tick it was added never shows a worker and leaves no process (${spinMs} ms between)`, async (t) => {
  const a = fixture('a.js');
  const b = fixture('b.js');
  const { manager } = createManager(t);
  const events = [];
  for (const name of ['worker', 'worker-exit', 'worker-error', 'worker-disconnect']) {
    manager.on(name, (...args) => events.push([name, args.find((x) => typeof x === 'string' && (x === a || x === b))]));
  }
  const answers = [];
  manager.on('message', (m, script) => answers.push([m.split('|')[0], script]));
  manager.add(a);
  manager.add(b);
  for (const until = Date.now() + spinMs; Date.now() < until;);
  manager.remove(b);
  assert.equal(manager.workers[b], undefined);
  manager.send('hi');
  await waitFor(() => answers.length === 1, 10000, "a's answer");
  await waitFor(() => childrenRunning(b).length === 0, 5000, () => `no process of b; running: ${childrenRunning(b)}`);
  // One more round trip through a: anything b did would have been reported by now.
  manager.send('again', a);
  await waitFor(() => answers.length === 2, 10000, "a's second answer");
  assert.deepEqual(answers, [['a', a], ['a', a]]);
  assert.deepEqual(events.filter(([, script]) => script === b), [], 'no event names b');
  assert.deepEqual(events.map(([name]) => name), ['worker']);
});

test('a storm of external kills does not push the pool into a crash-loop backoff', { timeout: 60000 }, async (t) => {
  const POOL = 4;
  const echo = rfixture('echo-pid.js');
  const { manager } = createManager(t, { respawnInterval: 50 });
  const respawns = [];
  manager.on('worker-respawn', (script, delayMs, crashes) => respawns.push({ delayMs, crashes }));
  const up = new Promise((resolve) => manager.on('worker', () => { if (liveWorkers(manager, echo).length === POOL) resolve(); }));
  manager.add(echo, POOL);
  await within(up, 15000, '4 workers up');

  let answers = 0;
  manager.on('message', () => answers++);
  const traffic = setInterval(() => { for (let i = 0; i < 50; i++) manager.send(i); }, 20);
  t.after(() => clearInterval(traffic));
  // A dozen SIGKILLs over about two seconds, each at a worker that is up.
  for (let k = 0; k < 12; k++) {
    const live = liveWorkers(manager, echo).filter((w) => alive(w.pid));
    if (live.length > 0) killQuietly(live[k % live.length].pid);
    await new Promise((resolve) => setTimeout(resolve, 170));
  }
  const lastKill = Date.now();
  // Back to four live workers, each answering a message sent to it alone.
  const ready = async () => {
    const live = liveWorkers(manager, echo);
    if (live.length !== POOL) return false;
    const pongs = live.map((w) => nextMessage(manager, (m) => m && m.pid === w.pid && m.m === 'ping', 3000));
    for (const w of live) w.send('ping');
    try {
      await Promise.all(pongs);
      return true;
    } catch {
      return false;
    }
  };
  await waitFor(ready, 3000, () => `4 live, ready workers within 3 s of the last kill (live: ${liveWorkers(manager, echo).length})`);
  const readyAfter = Date.now() - lastKill;
  clearInterval(traffic);
  assert.ok(readyAfter <= 3000, `ready ${readyAfter} ms after the last kill`);
  assert.ok(answers > 0, 'messages streamed through meanwhile');
  assert.ok(respawns.length >= 10, `killed workers were replaced (${respawns.length} respawns)`);
  assert.ok(respawns.every((r) => r.crashes === 0), `no kill counted as a crash: ${JSON.stringify(respawns)}`);
});

test('a script that dies on its own right after boot still backs off', { timeout: 30000 }, async (t) => {
  const { manager } = createManager(t, { respawnInterval: 50, maxRespawnDelay: 400 });
  const respawns = [];
  manager.on('worker-respawn', (script, delayMs, crashes) => respawns.push({ delayMs, crashes }));
  manager.add(rfixture('exit-at-once.js'));
  await waitFor(() => respawns.length >= 4, 15000, () => `4 respawns (got ${JSON.stringify(respawns)})`);
  assert.deepEqual(respawns.slice(0, 4).map((r) => r.crashes), [1, 2, 3, 4]);
  assert.deepEqual(respawns.slice(0, 4).map((r) => r.delayMs >= Math.min(50 * 2 ** (r.crashes - 1), 400) - 1), [true, true, true, true],
    `growing delays: ${JSON.stringify(respawns)}`);
});

test('a worker that sends null gives a message event and does not end the stream', async (t) => {
  const { manager } = await startOne(t, ECHO);
  const errors = [];
  manager.on('error', (err) => errors.push(err));
  const messages = [];
  manager.on('message', (m) => messages.push(m));
  const data = [];
  manager.on('data', (m) => data.push(m));
  manager.send(null);
  manager.send('after null');
  await waitFor(() => messages.length === 2, 10000, 'both answers');
  assert.deepEqual(messages, [null, 'after null']);
  assert.deepEqual(data, ['after null'], 'null stays off the readable side');
  assert.equal(manager.readableEnded, false);
  assert.equal(manager.stopped, false);
  manager.send('still on');
  await waitFor(() => data.length === 2, 10000, 'a later result');
  assert.deepEqual(errors, []);
});

test('stop() reports every exit promptly while the readable side is parked by flow control', { timeout: 30000 }, async (t) => {
  const { manager, started } = await startPool(t, [ECHO, 2], 2);
  // A consumer that takes one result and never asks for more: the manager's readable side
  // fills and the core stops reading the workers.
  const stuck = new Writable({ objectMode: true, highWaterMark: 1, write () {} });
  manager.pipe(stuck);
  manager.removeAllListeners('end');
  for (let i = 0; i < 2000; i++) manager.send(`m${i}`);
  await waitFor(() => manager.readableLength >= manager.readableHighWaterMark, 10000, 'the readable side to fill');
  const exits = new Map();
  manager.on('worker-exit', (code, script, args, worker) => exits.set(worker.pid, Date.now()));
  const gone = new Map();
  const pids = started.map((s) => s.worker.pid);
  const watch = setInterval(() => { for (const pid of pids) if (!gone.has(pid) && !alive(pid)) gone.set(pid, Date.now()); }, 2);
  t.after(() => clearInterval(watch));
  manager.stop();
  await waitFor(() => exits.size === pids.length, 5000, 'every worker-exit');
  clearInterval(watch);
  for (const pid of pids) {
    const late = exits.get(pid) - (gone.get(pid) ?? exits.get(pid));
    assert.ok(late < 300, `worker-exit of ${pid} came ${late} ms after the process was gone`);
  }
});
