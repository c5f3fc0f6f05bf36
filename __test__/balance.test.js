'use strict';
// A user's own manager.balance / manager.filter replace the default balancer.

const test = require('node:test');
const assert = require('node:assert/strict');
const { fixture, collectMessages, startPool } = require('./helpers');

const PID = fixture('pid.js');

test('a replaced manager.balance decides which worker gets each message (sticky by key)', { timeout: 30000 }, async (t) => {
  const { manager, started } = await startPool(t, [PID, 3], 3);
  const byPid = started.map((w) => w.worker).sort((a, b) => a.pid - b.pid);
  const calls = [];
  manager.balance = function (workers, message) {
    calls.push(message);
    const sorted = [...workers].sort((a, b) => a.pid - b.pid);
    return sorted[message.key % sorted.length];
  };
  const replies = collectMessages(manager, 30, { filter: (m) => m && m.m && m.m.key !== undefined });
  for (let i = 0; i < 30; i++) manager.send({ key: i % 3, i }, PID);
  for (const { message } of await replies) {
    assert.equal(message.pid, byPid[message.m.key].pid, `key ${message.m.key} goes to its sticky worker`);
  }
  assert.equal(calls.length, 30, 'balance was called once per message');
  assert.deepEqual(calls[0], { key: 0, i: 0 }, 'balance got the message');
});

test('a replaced manager.filter limits the workers that can be picked', { timeout: 30000 }, async (t) => {
  const { manager, started } = await startPool(t, [PID, 3], 3);
  const workers = started.map((w) => w.worker);
  const chosen = workers[2];
  let calls = 0;
  manager.filter = function (candidates) {
    calls++;
    assert.ok(candidates.includes(chosen), 'filter gets the live workers');
    return candidates.filter((w) => w.pid === chosen.pid);
  };
  const replies = collectMessages(manager, 12, { filter: (m) => m && m.m && m.m.f !== undefined });
  for (let i = 0; i < 12; i++) manager.send({ f: i }, PID);
  const got = await replies;
  assert.ok(got.every((r) => r.message.pid === chosen.pid), 'every message went to the one worker filter kept');
  assert.ok(calls >= 1);
});

test('the default balancer spreads messages round robin over idle workers', { timeout: 30000 }, async (t) => {
  const { manager, started } = await startPool(t, [PID, 3], 3);
  const pids = started.map((w) => w.worker.pid);
  const replies = collectMessages(manager, 30, { filter: (m) => m && m.m && m.m.rr !== undefined });
  for (let i = 0; i < 30; i++) manager.send({ rr: i }, PID);
  const counts = new Map(pids.map((pid) => [pid, 0]));
  for (const { message } of await replies) counts.set(message.pid, counts.get(message.pid) + 1);
  for (const [pid, count] of counts) assert.ok(count > 0, `worker ${pid} got some of the messages (${[...counts.values()]})`);
});
