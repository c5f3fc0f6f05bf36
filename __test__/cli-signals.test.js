'use strict';
// The command line and the world around it: stdout closed early by `head`, and Ctrl-C (SIGINT
// to the whole process group, as a terminal sends it) once and twice. Real processes, real
// pipes, real signals; no process of a run may be left.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { PKG_ROOT, waitFor } = require('./helpers');
const { BIN, TAG_VAR, cliFixture, startCli, noneLeft, tmpDir, lines, statOf } = require('./cli-support');

const SLOW = cliFixture('slow-echo.js');

function inputFile(t, n) {
  const file = path.join(tmpDir(t), 'in.txt');
  fs.writeFileSync(file, Array.from({ length: n }, (_, i) => `line ${i + 1}\n`).join(''));
  return file;
}

test('| head -3: the run ends early and quietly (status 141, no stack trace), no worker left', { timeout: 60000 }, async (t) => {
  const N = 20000; // at 1 ms per line on 2 workers, ~10 s of work if it did not stop
  const file = inputFile(t, N);
  const tag = `${process.pid}-head-${Date.now()}`;
  const cmd = `"${process.execPath}" "${BIN}" -n 2 --stats -i "${file}" "${SLOW}" 1 | head -3; echo "status \${PIPESTATUS[0]}" >&2`;
  const child = spawn('bash', ['-c', cmd], { cwd: PKG_ROOT, env: { ...process.env, [TAG_VAR]: tag }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d) => { stdout += d; });
  child.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
  const code = await new Promise((resolve) => child.on('close', resolve));
  assert.equal(code, 0);
  assert.equal(lines(stdout).length, 3);
  assert.match(stderr, /^status 141$/m);
  assert.doesNotMatch(stderr, /Error|EPIPE|^\s+at /m, 'quiet: no error text, no stack trace');
  assert.ok(statOf(stderr, 'answers written') < N, 'it stopped instead of doing the whole job');
  await noneLeft(tag);
});

test('SIGINT to the process group: no more input, what was read is answered, exit 130', { timeout: 60000 }, async (t) => {
  const N = 5000;
  const file = inputFile(t, N);
  const run = startCli(['-n', '2', '--reply', '--stats', '-i', file, SLOW, '5'], { stdin: 'ignore', detached: true });
  t.after(() => { try { process.kill(-run.child.pid, 'SIGKILL'); } catch {} });
  await waitFor(() => run.out().length > 0, 20000, 'the first answers');
  // A terminal's Ctrl-C: every process of the group gets it, the workers too.
  process.kill(-run.child.pid, 'SIGINT');
  const r = await run.done;
  assert.equal(r.code, 130, r.stderr);
  assert.match(r.stderr, /^forkfriend: SIGINT: reading no more input, finishing what is in flight/m);
  const read = statOf(r.stderr, 'messages read');
  const out = lines(r.stdout);
  assert.ok(read < N, `it stopped reading (${read} of ${N})`);
  assert.equal(statOf(r.stderr, 'answers written'), read, 'every message read was answered');
  assert.equal(out.length, read);
  assert.equal(new Set(out).size, read, 'no answer twice');
  for (const line of out) assert.match(line, /^line \d+$/);
  assert.doesNotMatch(r.stderr, /^\s+at /m);
  await noneLeft(run.tag);
});

test('a second SIGINT stops at once: messages in flight are left unanswered, exit 130', { timeout: 60000 }, async (t) => {
  const file = inputFile(t, 2000);
  const run = startCli(['-n', '2', '--reply', '--stats', '-i', file, SLOW, '200'], { stdin: 'ignore', detached: true });
  t.after(() => { try { process.kill(-run.child.pid, 'SIGKILL'); } catch {} });
  await waitFor(() => run.out().length > 0, 20000, 'the first answers');
  process.kill(-run.child.pid, 'SIGINT');
  await waitFor(() => /finishing what is in flight/.test(run.err()), 10000, 'the first SIGINT to be seen');
  process.kill(-run.child.pid, 'SIGINT');
  const r = await run.done;
  assert.equal(r.code, 130, r.stderr);
  const read = statOf(r.stderr, 'messages read');
  const answered = statOf(r.stderr, 'answers written');
  assert.ok(answered < read, `stopped with messages in flight (${answered} of ${read} answered)`);
  assert.equal(lines(r.stdout).length, answered);
  await noneLeft(run.tag);
});

test('SIGTERM: the same graceful end, exit 143', { timeout: 60000 }, async (t) => {
  const file = inputFile(t, 5000);
  const run = startCli(['-n', '2', '--reply', '--stats', '-i', file, SLOW, '5'], { stdin: 'ignore' });
  t.after(() => { try { run.child.kill('SIGKILL'); } catch {} });
  await waitFor(() => run.out().length > 0, 20000, 'the first answers');
  run.child.kill('SIGTERM');
  const r = await run.done;
  assert.equal(r.code, 143, r.stderr);
  assert.equal(statOf(r.stderr, 'answers written'), statOf(r.stderr, 'messages read'));
  await noneLeft(run.tag);
});
