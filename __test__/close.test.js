'use strict';
// close(): the graceful stop delivers what is queued and lets workers answer
// before ending them; also reachable as Symbol.asyncDispose.

const test = require('node:test');
const assert = require('node:assert/strict');
const { fixture, alive, startPool } = require('./helpers');

const ECHO = fixture('echo.js');
const SLOW = fixture('slow.js');

test('close() delivers every queued message, waits for the answers, then ends the workers', { timeout: 60000 }, async (t) => {
  const { manager, pids } = await startPool(t, [SLOW, 2], 2);
  const answered = new Set();
  manager.on('message', (m) => { if (m && m.m && m.m.n !== undefined) answered.add(m.m.n); });
  let drops = 0;
  manager.on('drop', () => { drops++; });
  for (let n = 0; n < 300; n++) manager.send({ n }, SLOW);
  await manager.close();
  assert.equal(drops, 0);
  assert.equal(answered.size, 300, `all 300 answered before close() resolved (${answered.size})`);
  assert.equal(manager.stopped, true);
  const left = [...pids].filter(alive);
  assert.deepEqual(left, [], 'no worker alive once close() resolved');
});

test('Symbol.asyncDispose closes the manager', { timeout: 30000 }, async (t) => {
  const { manager, pids } = await startPool(t, [ECHO]);
  assert.equal(typeof manager[Symbol.asyncDispose], 'function');
  await manager[Symbol.asyncDispose]();
  assert.equal(manager.stopped, true);
  assert.deepEqual([...pids].filter(alive), []);
});
