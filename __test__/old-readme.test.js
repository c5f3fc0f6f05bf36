'use strict';
// The two examples of the old forkfriend 0.0.7 README run unchanged. Each runs
// as its own application in a temp folder, where node_modules/forkfriend (and
// node_modules/friend, the name the second example requires) point at this
// package, and node_modules/line-stream is the real package if installed here,
// else a small local line splitter.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFile } = require('node:child_process');
const { promisify } = require('node:util');
const { PKG_ROOT, fixture, alive, waitFor } = require('./helpers');

const crypto = require('node:crypto');

const EXAMPLES = fixture('old-readme');
// SHA-256 of the code lines (see codeLines) of the two js blocks of the 0.0.7 README, taken
// from that README once: the fixtures must stay those examples, and the README itself is
// not part of this repository.
const README_EXAMPLES = {
  'stream-example.js': '99178fbdd60925e4267db0ea2ba35c19fb285103d75fa1b081d56c0539b62cfb',
  'send-example.js': 'c1f974bb3f054ce3a067a0857b160a17f12a884ed2c913ad93d4210bb409207b',
};

/** A temp app folder with the package aliases and the given fixture files. */
function makeApp(t, files) {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'forkfriend-readme-')));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const alias = (name, target) => {
    fs.mkdirSync(path.join(dir, 'node_modules', name), { recursive: true });
    fs.writeFileSync(path.join(dir, 'node_modules', name, 'index.js'),
      `module.exports = require(${JSON.stringify(target)});\n`);
  };
  alias('forkfriend', PKG_ROOT);
  alias('friend', PKG_ROOT);
  const realLineStream = path.join(PKG_ROOT, 'node_modules', 'line-stream');
  alias('line-stream', fs.existsSync(realLineStream) ? realLineStream : path.join(EXAMPLES, 'line-splitter.js'));
  for (const file of files) fs.copyFileSync(path.join(EXAMPLES, file), path.join(dir, file));
  return dir;
}

/** Pids of the processes whose working directory is `dir`. */
function processesIn(dir) {
  const found = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.readlinkSync(`/proc/${entry}/cwd`) === dir && alive(Number(entry))) found.push(Number(entry));
    } catch {
      // the process is gone, or not ours to look at
    }
  }
  return found;
}

async function runApp(dir, script) {
  try {
    return await promisify(execFile)(process.execPath, [script], { cwd: dir, timeout: 60000 });
  } catch (err) {
    const how = err.killed ? 'was killed after the 60 s timeout' : `exited with code ${err.code}, signal ${err.signal}`;
    throw new Error(`${script} ${how}; stderr: ${err.stderr}`);
  }
}

test('the stream example: every log line is processed, and the app exits on its own', { timeout: 90000 }, async (t) => {
  const dir = makeApp(t, ['stream-example.js', 'worker.js']);
  const N = 3000;
  const lines = [];
  for (let i = 0; i < N; i++) lines.push(`2013-05-0${1 + (i % 9)}T12:00:00Z INFO request ${i} GET /item/${i * 7} 200`);
  fs.writeFileSync(path.join(dir, 'application.log'), lines.join('\n') + '\n');

  const { stderr } = await runApp(dir, 'stream-example.js');
  assert.doesNotMatch(stderr, /Error/, `no error on stderr: ${stderr}`);
  const out = fs.readFileSync(path.join(dir, 'processed.log'), 'utf8');
  assert.ok(out.endsWith('\n'));
  const got = out.slice(0, -1).split('\n');
  assert.equal(got.length, N, 'one processed line per input line');
  assert.deepEqual(got.sort(), lines.map((l) => `processed ${l}`).sort());
  await waitFor(() => processesIn(dir).length === 0, 10000, () => `no worker left in ${dir}: ${processesIn(dir)}`);
});

test('the send example: it runs and exits on its own, leaving no worker behind', { timeout: 90000 }, async (t) => {
  const dir = makeApp(t, ['send-example.js', 'somefriend.js']);
  const { stderr } = await runApp(dir, 'send-example.js');
  assert.doesNotMatch(stderr, /Error/, `no error on stderr: ${stderr}`);
  const pidsFile = path.join(dir, 'pids.log');
  const pids = fs.existsSync(pidsFile)
    ? fs.readFileSync(pidsFile, 'utf8').split('\n').filter(Boolean).map(Number) : [];
  await waitFor(() => pids.every((pid) => !alive(pid)) && processesIn(dir).length === 0, 10000,
    () => `no worker left: ${processesIn(dir)}`);
});

/** Code lines of a snippet without full-line // comments, blank lines or indentation. */
function codeLines(text) {
  return text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('//'));
}

test('the example fixtures are the README examples, comments aside', { timeout: 30000 }, () => {
  for (const [file, digest] of Object.entries(README_EXAMPLES)) {
    const code = codeLines(fs.readFileSync(path.join(EXAMPLES, file), 'utf8')).join('\n');
    assert.equal(crypto.createHash('sha256').update(code).digest('hex'), digest, `${file} is the README example`);
  }
});
