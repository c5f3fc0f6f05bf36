'use strict';
// Module shape: the factory, the standalone balancer, the manager's classes
// and its config defaults.

const test = require('node:test');
const assert = require('node:assert/strict');
const { Duplex } = require('node:stream');
const { EventEmitter } = require('node:events');
const forkfriend = require('..');
const { createManager } = require('./helpers');

test('the module is a factory function', { timeout: 30000 }, (t) => {
  assert.equal(typeof forkfriend, 'function');
  const { manager } = createManager(t);
  assert.equal(typeof manager.add, 'function');
  assert.equal(typeof manager.send, 'function');
});

test('new forkfriend.Manager(config) builds the same kind of manager', { timeout: 30000 }, (t) => {
  assert.equal(typeof forkfriend.Manager, 'function');
  const manager = new forkfriend.Manager({ maxQueue: 7 });
  t.after(() => manager.stop());
  assert.ok(manager instanceof Duplex);
  assert.equal(manager.config.maxQueue, 7);
});

test('forkfriend.balance picks round robin over plain objects', { timeout: 30000 }, () => {
  const a = { id: 'a' };
  const b = { id: 'b' };
  const c = { id: 'c' };
  const pool = [a, b, c];
  const picks = [];
  for (let i = 0; i < 6; i++) picks.push(forkfriend.balance(pool));
  assert.deepEqual(picks.map((p) => p.id), ['a', 'b', 'c', 'a', 'b', 'c']);
});

test('forkfriend.balance picks never-picked first, then least recently picked', { timeout: 30000 }, () => {
  // The scenario of the old package's balance test.
  const procs = [{ id: 1 }, { id: 2 }, { id: 3 }, { id: 4 }];
  assert.equal(forkfriend.balance(procs), procs[0], 'first pick is the first element');
  assert.equal(forkfriend.balance(procs), procs[1], 'second pick is the second element');
  // Only 0 and 3 available: 3 was never picked.
  assert.equal(forkfriend.balance([procs[0], procs[3]]), procs[3]);
  // Only 0 and 3 available: 0 was picked before 3.
  assert.equal(forkfriend.balance([procs[0], procs[3]]), procs[0]);
  // Everyone available again: 2 was never picked.
  assert.equal(forkfriend.balance(procs), procs[2]);
  // Then the least recently picked: 1 (picked second overall).
  assert.equal(forkfriend.balance(procs), procs[1]);
});

test('forkfriend.balance of an empty array is undefined', { timeout: 30000 }, () => {
  assert.equal(forkfriend.balance([]), undefined);
});

test('a manager is a Duplex stream in object mode and an EventEmitter', { timeout: 30000 }, (t) => {
  const { manager } = createManager(t);
  assert.ok(manager instanceof Duplex, 'instanceof stream.Duplex');
  assert.ok(manager instanceof EventEmitter, 'instanceof EventEmitter');
  assert.equal(manager.writableObjectMode, true);
  assert.equal(manager.readableObjectMode, true);
  assert.equal(typeof manager.balance, 'function');
  assert.equal(typeof manager.filter, 'function');
  assert.equal(manager.stopped, false);
});

test('manager.config has the documented defaults', { timeout: 30000 }, (t) => {
  const { manager } = createManager(t);
  assert.equal(manager.config.respawnInterval, 500);
  assert.equal(manager.config.maxQueue, 1000);
  assert.equal(manager.config.pausedWorkerTimeout, -1);
});

test('config values given are kept', { timeout: 30000 }, (t) => {
  const { manager } = createManager(t, { respawnInterval: 123, maxQueue: 45, pausedWorkerTimeout: 678 });
  assert.equal(manager.config.respawnInterval, 123);
  assert.equal(manager.config.maxQueue, 45);
  assert.equal(manager.config.pausedWorkerTimeout, 678);
});

test('lostInTheWoods is accepted as an alias of pausedWorkerTimeout', { timeout: 30000 }, (t) => {
  const { manager } = createManager(t, { lostInTheWoods: 2500 });
  assert.equal(manager.config.pausedWorkerTimeout, 2500);
});
