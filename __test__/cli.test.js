'use strict';
// The command line (issue 12), run as a user runs it: the real bin in a child process, with
// real files and pipes, real workers. Each test checks that no process of the run is left.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { fixture } = require('./helpers');
const { cliFixture, runCli, tmpDir, lines, statOf } = require('./cli-support');
const pkg = require('../package.json');

const ECHO = fixture('echo.js');
const numbered = (n) => Array.from({ length: n }, (_, i) => `line ${i + 1}`);

test('stdin to stdout: every line is one message, every answer one line', { timeout: 60000 }, async () => {
  const input = numbered(2000);
  const r = await runCli(['-n', '2', ECHO], { input: `${input.join('\n')}\n` });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '', 'nothing on stderr without --stats or a terminal');
  assert.deepEqual(lines(r.stdout).sort(), [...input].sort());
});

test('files: -i and -o; \\r\\n endings, empty lines, a last line without newline, UTF-8', { timeout: 60000 }, async (t) => {
  const dir = tmpDir(t);
  const inFile = path.join(dir, 'in.txt');
  const outFile = path.join(dir, 'out.txt');
  // A long multi-byte text: split2 must join characters cut between read chunks.
  const long = 'é'.repeat(200000);
  fs.writeFileSync(inFile, `a\r\n\r\nb\n${long}\nlast`);
  const r = await runCli(['-n', '2', '--ordered', '-i', inFile, '-o', outFile, ECHO]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '');
  assert.deepEqual(lines(fs.readFileSync(outFile, 'utf8')), ['a', '', 'b', long, 'last']);
});

test('args after the script reach every worker; options after it are the worker\'s', { timeout: 30000 }, async () => {
  const r = await runCli(['-n', '2', fixture('argv.js'), '-n', '5', '--json'], { input: 'x\ny\nz\n' });
  assert.equal(r.code, 0, r.stderr);
  const answers = lines(r.stdout).map((l) => JSON.parse(l));
  assert.equal(answers.length, 3, 'three lines, three answers: -n 5 and --json went to the workers');
  for (const a of answers) assert.deepEqual(a.argv, ['-n', '5', '--json']);
  assert.ok(new Set(answers.map((a) => a.pid)).size <= 2);
});

test('--ordered: answers in input order from workers of uneven speed', { timeout: 60000 }, async () => {
  const input = Array.from({ length: 3000 }, (_, i) => String(i));
  const r = await runCli(['-n', '3', '--ordered', '--concurrency', '4', cliFixture('uneven.js')], { input: `${input.join('\n')}\n` });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(lines(r.stdout), input.map((l) => `${l} done`));
});

test('without --ordered the same workers answer out of order (the ordered test can fail)', { timeout: 60000 }, async () => {
  const input = Array.from({ length: 3000 }, (_, i) => String(i));
  const r = await runCli(['-n', '3', '--concurrency', '4', cliFixture('uneven.js')], { input: `${input.join('\n')}\n` });
  assert.equal(r.code, 0, r.stderr);
  const out = lines(r.stdout);
  assert.deepEqual([...out].sort(), input.map((l) => `${l} done`).sort());
  assert.notDeepEqual(out, input.map((l) => `${l} done`));
});

test('--json: values in, JSON out; a bad line is reported with its number, the rest is answered, exit 1', { timeout: 30000 }, async () => {
  const input = '{"a":1}\n[1,2]\nnot json\n"text"\n\n7\n';
  const r = await runCli(['-n', '2', '--ordered', '--json', ECHO], { input });
  assert.equal(r.code, 1, r.stderr);
  assert.deepEqual(lines(r.stdout), ['{"a":1}', '[1,2]', '"text"', '7']);
  assert.match(r.stderr, /^forkfriend: line 3 is not JSON/m);
  assert.match(r.stderr, /^forkfriend: line 5 is not JSON/m, 'an empty line is not JSON either');
  assert.match(r.stderr, /^forkfriend: 2 of 6 messages failed$/m);
});

test('answers that are not strings are written as JSON text without --json', { timeout: 30000 }, async () => {
  const r = await runCli(['-n', '1', fixture('reply/poison.js')], { input: 'a\n' });
  assert.equal(r.code, 0, r.stderr);
  const [answer] = lines(r.stdout).map((l) => JSON.parse(l));
  assert.equal(answer.m, 'a');
});

test('a worker that crashes on one line, --retries 1: that line fails after 2 deaths, the others are answered', { timeout: 60000 }, async () => {
  const input = numbered(200);
  const r = await runCli(['-n', '2', '--retries', '1', '--stats', cliFixture('crash-on.js'), 'line 50'], { input: `${input.join('\n')}\n` });
  assert.equal(r.code, 1, r.stderr);
  const expected = input.filter((l) => l !== 'line 50').map((l) => l.toUpperCase());
  assert.deepEqual(lines(r.stdout).sort(), expected.sort());
  assert.match(r.stderr, /^forkfriend: a message failed \(ERR_WORKER_DIED\): line 50$/m);
  assert.match(r.stderr, /^forkfriend: 1 of 200 messages failed$/m);
  assert.equal(statOf(r.stderr, 'messages read'), 200);
  assert.equal(statOf(r.stderr, 'answers written'), 199);
  assert.equal(statOf(r.stderr, 'redelivered'), 1);
  assert.match(r.stderr, /latency in worker p50 [\d.]+ ms, p90/);
});

test('usage errors: exit 2 with the short usage', { timeout: 30000 }, async () => {
  for (const [args, message] of [
    [[], /no worker script given/],
    [['-n', '0', ECHO], /--workers must be an integer >= 1, not '0'/],
    [['--retries', 'x', ECHO], /--retries must be an integer >= 0/],
    [['--bogus', ECHO], /Unknown option '--bogus'/],
    [['-n'], /argument missing/],
    [['no-such-worker.js'], /cannot find the worker script 'no-such-worker.js'/],
  ]) {
    const r = await runCli(args, { input: '' });
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.match(r.stderr, /^Usage: forkfriend \[options\] <script> \[args\.\.\.\]$/m);
    assert.equal(r.stdout, '');
  }
  const missing = await runCli(['-i', '/nonexistent/input.txt', ECHO]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /^forkfriend: cannot read the input: ENOENT/m);
});

test('--help and --version', { timeout: 30000 }, async () => {
  const help = await runCli(['--help']);
  assert.equal(help.code, 0);
  for (const option of ['--input', '--output', '--json', '--workers', '--ordered', '--reply', '--concurrency',
    '--retries', '--timeout', '--progress', '--no-progress', '--stats', '--help', '--version']) {
    assert.ok(help.stdout.includes(option), `--help names ${option}`);
  }
  const version = await runCli(['--version']);
  assert.equal(version.code, 0);
  assert.equal(version.stdout, `${pkg.version}\n`);
});

test('a worker that hangs on a line: --timeout fails it and the run goes on', { timeout: 60000 }, async () => {
  const r = await runCli(['-n', '2', '--timeout', '300', '--json', fixture('reply/hang-on.js')], { input: '"a"\n"hang"\n"b"\n' });
  assert.equal(r.code, 1, r.stderr);
  assert.deepEqual(lines(r.stdout).map((l) => JSON.parse(l).m).sort(), ['a', 'b']);
  assert.match(r.stderr, /a message failed \(ERR_CALL_TIMEOUT\): "hang"/);
});

test('package.json names the bin; the bin is executable and runs through its shebang', { timeout: 30000 }, async () => {
  assert.equal(pkg.bin.forkfriend, 'bin/forkfriend.js');
  const bin = path.join(__dirname, '..', pkg.bin.forkfriend);
  assert.ok(fs.statSync(bin).mode & 0o111, 'executable');
  assert.match(fs.readFileSync(bin, 'utf8'), /^#!\/usr\/bin\/env node\n/);
  const r = await runCli(['-n', '1', ECHO], { direct: true, input: 'hi\n' });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'hi\n');
});
