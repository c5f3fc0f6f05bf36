'use strict';
// Helpers of the cli*.test.js suites (not a test file itself): run the real bin as a user
// would (a child process with real files and pipes), and find the processes a run left.
//
// Each run gets a unique value in an environment variable; workers inherit the environment,
// so any live process that has the value belongs to that run, whoever its parent is now.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { PKG_ROOT, waitFor, taggedPids } = require('./helpers');

const BIN = path.join(PKG_ROOT, 'bin', 'forkfriend.js');
const CLI_FIXTURES = path.join(__dirname, 'fixtures', 'cli');
const TAG_VAR = 'FORKFRIEND_CLI_TEST_RUN';
let runs = 0;

function cliFixture(name) {
  return path.join(CLI_FIXTURES, name);
}

/** Pids of the live processes started with `TAG_VAR=tag` in their environment. */
function tagged(tag) {
  return taggedPids(TAG_VAR, tag);
}

function newTag() {
  return `${process.pid}-${++runs}-${Date.now()}`;
}

/**
 * Starts the bin with `args`; `input` (a string) is written to its stdin
 * and closed, or stdin is left to `options.stdin`. Returns the child, its tag, and `done`:
 * a promise of { code, signal, stdout, stderr }.
 */
function startCli(args, { input, stdin = 'pipe', detached = false, direct = false } = {}) {
  const tag = newTag();
  // `direct`: the bin itself is executed (through its shebang), as npx or a shell would.
  const child = spawn(direct ? BIN : process.execPath, direct ? args : [BIN, ...args], {
    cwd: PKG_ROOT,
    env: { ...process.env, [TAG_VAR]: tag },
    stdio: [stdin, 'pipe', 'pipe'],
    detached,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d) => { stdout += d; });
  child.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
  if (input !== undefined) child.stdin.end(input);
  const done = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, tag, done, out: () => stdout, err: () => stderr };
}

/** Runs the bin to its end and checks that no process of the run is left. */
async function runCli(args, options) {
  const run = startCli(args, options);
  const result = await run.done;
  await noneLeft(run.tag);
  return result;
}

async function noneLeft(tag) {
  await waitFor(() => tagged(tag).length === 0, 5000, () => `no process of the run left; alive: ${tagged(tag)}`);
}

/** A temporary directory, removed after the test. */
function tmpDir(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'forkfriend-cli-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Lines of a text that ends with a newline (none for ''). */
function lines(text) {
  if (text === '') return [];
  if (!text.endsWith('\n')) throw new Error(`output does not end with a newline: ${JSON.stringify(text.slice(-40))}`);
  return text.slice(0, -1).split('\n');
}

/** The number after `label` in a --stats summary. */
function statOf(stderr, label) {
  const m = new RegExp(`^  ${label} +(\\d+)$`, 'm').exec(stderr);
  if (!m) throw new Error(`no "${label}" in the summary:\n${stderr}`);
  return Number(m[1]);
}

module.exports = { BIN, TAG_VAR, cliFixture, tagged, startCli, runCli, noneLeft, tmpDir, lines, statOf };
