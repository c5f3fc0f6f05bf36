'use strict';
// Programs written for 0.0.7, each run as its own process, must run unchanged and exit 0 with
// every result (issue 8): the package's own load-test shape (gzip -> gunzip -> line splitter ->
// manager, stats printed at 'end'), a hand-paused cursor piped through the manager into
// stdout and stopped from a 'data' handler, two managers feeding each other, and an endless
// source still writing into a manager that was stopped.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const zlib = require('node:zlib');
const { execFile } = require('node:child_process');
const { PKG_ROOT, fixture } = require('./helpers');

const PROGRAMS = fixture('programs');

/** Runs a program with this package's path as its first argument; resolves when it exits. */
function run(name, ...args) {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(PROGRAMS, name), PKG_ROOT, ...args], { timeout: 30000 }, (err, stdout, stderr) => {
      resolve({ code: err ? err.code : 0, signal: err?.signal ?? null, stdout, stderr });
    });
  });
}

/** Pids of processes still running the programs' worker (their parent has exited). */
function workersLeft() {
  const worker = path.join(PROGRAMS, 'upper.js');
  return fs.readdirSync('/proc').filter((e) => /^\d+$/.test(e)).filter((pid) => {
    try {
      return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(worker);
    } catch {
      return false;
    }
  });
}

test('gzip file -> gunzip -> line splitter -> manager; stats printed at the end', { timeout: 60000 }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'forkfriend-gz-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const LINES = 5000;
  const file = path.join(dir, 'access.log.gz');
  const text = Array.from({ length: LINES }, (_, i) => `GET /page/${i} 200`).join('\n') + '\n';
  fs.writeFileSync(file, zlib.gzipSync(text));
  const { code, stdout, stderr } = await run('gzip-lines.js', file);
  assert.equal(code, 0, stderr);
  const report = JSON.parse(stdout);
  assert.equal(report.results, LINES, 'every line answered');
  assert.equal(report.stats.messages, LINES);
  assert.equal(report.stats.length, text.split('\n').slice(0, -1).reduce((n, line) => n + JSON.stringify(line).length, 0));
  assert.ok(report.elapsed >= 0 && report.elapsed < 60000, `Date.now() - manager.stats.start = ${report.elapsed}`);
  assert.equal(typeof report.getStats.messagesPerMs, 'number');
  assert.deepEqual(workersLeft(), []);
});

test('a cursor paused by hand, piped through into stdout, stopped from a data handler', { timeout: 60000 }, async () => {
  const ROWS = 2000;
  const { code, stdout, stderr } = await run('cursor-client.js', String(ROWS));
  assert.equal(code, 0, stderr);
  const lines = stdout.split('\n').filter(Boolean);
  assert.equal(lines.length, ROWS, 'every row answered on stdout');
  assert.deepEqual(new Set(lines), new Set(Array.from({ length: ROWS }, (_, i) => `ROW ${i}`)));
  assert.deepEqual(workersLeft(), []);
});

test('two managers in one process, one feeding the other, both stopped by a later message', { timeout: 60000 }, async () => {
  const COUNT = 500;
  const { code, stdout, stderr } = await run('two-managers.js', String(COUNT));
  assert.equal(code, 0, stderr);
  assert.deepEqual(JSON.parse(stdout), { answers: COUNT });
  assert.deepEqual(workersLeft(), []);
});

test('an endless source still writing into a stopped manager neither crashes nor holds the program', { timeout: 60000 }, async () => {
  const { code, signal, stdout, stderr } = await run('late-writer.js');
  assert.equal(signal, null, 'the program exited on its own');
  assert.equal(code, 0, stderr);
  const report = JSON.parse(stdout);
  assert.equal(report.results, 50);
  assert.equal(report.wrote, false);
  assert.equal(report.sent, false);
  assert.ok(report.drops >= 2, 'late input is reported as dropped');
  assert.deepEqual(workersLeft(), []);
});
