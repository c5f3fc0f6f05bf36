'use strict';
// Every script in examples/ runs as its own program (as a user would run it), exits with
// code 0 on its own, prints what README.md says it prints, and leaves no worker process
// behind. The code blocks of README.md that name an example file are checked against it.
//
// Finding leftovers: each run gets a unique value in an environment variable. Workers
// inherit the environment, so any live process that has the value is one of that run's
// workers (or the example itself), whoever its parent is now.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFile, spawn } = require('node:child_process');
const { PKG_ROOT, alive, waitFor, taggedPids } = require('./helpers');

const EXAMPLES = path.join(PKG_ROOT, 'examples');
const README = path.join(PKG_ROOT, 'README.md');
const TAG_VAR = 'FORKFRIEND_EXAMPLES_TEST_RUN';
let runs = 0;

/** Pids of the live processes started with `TAG_VAR=tag` in their environment. */
function tagged(tag) {
  return taggedPids(TAG_VAR, tag);
}

/**
 * Runs `node examples/<name> ...args` from the package root. Resolves with its exit code,
 * output, and the tag its processes carry; never rejects on a non-zero exit.
 */
function runExample(name, args = []) {
  const tag = `${process.pid}-${++runs}-${Date.now()}`;
  const env = { ...process.env, [TAG_VAR]: tag };
  return new Promise((resolve) => {
    // A shell example finds `node` (and `npx`) on PATH: the Node under test comes first.
    const [cmd, file] = name.endsWith('.sh') ? ['sh', path.join('examples', name)] : [process.execPath, path.join(EXAMPLES, name)];
    env.PATH = `${path.dirname(process.execPath)}${path.delimiter}${env.PATH}`;
    execFile(cmd, [file, ...args],
      { cwd: PKG_ROOT, env, timeout: 60000, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
        resolve({ code, signal: err?.signal ?? null, stdout, stderr, tag });
      });
  });
}

/** Runs an example and checks what every example must do: exit 0, leave nothing behind. */
async function runClean(name, args, { pids = () => [], report = (stderr) => stderr } = {}) {
  const run = await runExample(name, args);
  assert.equal(run.code, 0, `${name} exited with ${run.code ?? run.signal}; stderr:\n${run.stderr}`);
  assert.doesNotMatch(report(run.stderr), /\bError\b|\bfailed\b/, `${name}: no error on stderr:\n${run.stderr}`);
  const workers = pids(run);
  await waitFor(
    () => tagged(run.tag).length === 0 && workers.every((pid) => !alive(pid)),
    5000,
    () => `no process of ${name} left; alive: ${[...new Set([...tagged(run.tag), ...workers.filter(alive)])]}`,
  );
  return run;
}

/** Numbers found after `label` in `text` (e.g. the pids in "worker 123 started"). */
function numbersAfter(text, regexp) {
  return [...text.matchAll(regexp)].map((m) => Number(m[1]));
}

test('the leftover check sees a live process of a run, and stops seeing it once it is gone', async () => {
  const tag = `${process.pid}-selfcheck-${Date.now()}`;
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], {
    env: { ...process.env, [TAG_VAR]: tag },
    stdio: 'ignore',
  });
  try {
    await waitFor(() => tagged(tag).includes(child.pid), 5000, 'the tagged child to be found');
  } finally {
    child.kill('SIGKILL');
  }
  await waitFor(() => tagged(tag).length === 0, 5000, 'the killed child to be gone');
  assert.deepEqual(tagged(`${tag}-other`), []);
});

// ---- one check per example --------------------------------------------------------------

const inputLines = fs.readFileSync(path.join(EXAMPLES, 'data', 'application.log'), 'utf8')
  .split('\n').filter((line, i, all) => i < all.length - 1 || line !== '');

/** What README.md says of logs.js: one parsed result (a JSON line) per input line, in input order. */
function checkLogResults(text, stderr) {
  assert.ok(text.endsWith('\n'), 'the output ends with a newline');
  const results = text.slice(0, -1).split('\n').map((line) => JSON.parse(line));
  assert.equal(results.length, inputLines.length, 'one result per input line');
  for (const [i, result] of results.entries()) {
    const n = i + 1;
    const level = /^\S+ (DEBUG|INFO|WARN|ERROR) /.exec(inputLines[i])?.[1] ?? null;
    assert.equal(result.level, level, `the level of line ${n}, in input order`);
    if (level === null) assert.equal(result.text, inputLines[i], `the text of line ${n}`);
    else assert.ok(inputLines[i].startsWith(`${result.time} ${level}`), `the time of line ${n}, in input order`);
  }
  const pids = [...new Set(results.map((r) => r.pid))];
  assert.ok(pids.length >= 1 && pids.length <= 4, `answered by at most 4 workers: ${pids}`);
  // The summary on stderr counts the same results per worker.
  const counted = numbersAfter(stderr, /'\d+': (\d+)/g).reduce((a, b) => a + b, 0);
  assert.equal(counted, inputLines.length, `the summary counts every result:\n${stderr}`);
  return pids;
}

const checks = {
  async 'logs.js'() {
    let pids = [];
    const run = await runClean('logs.js', [], { pids: (r) => (pids = checkLogResults(r.stdout, r.stderr)) });
    assert.match(run.stderr, /^results per worker pid: \{/m);
    assert.ok(pids.length > 0);

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'forkfriend-examples-'));
    try {
      const file = path.join(dir, 'parsed.ndjson');
      const toFile = await runClean('logs.js', [file], {
        pids: (r) => checkLogResults(fs.readFileSync(file, 'utf8'), r.stderr),
      });
      assert.equal(toFile.stdout, '', 'with a file argument nothing goes to stdout');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },

  async 'send-api.js'() {
    const names = ['Ada', 'Grace', 'Linus', 'Margaret', 'Ken', 'Barbara',
      'Dennis', 'Frances', 'Edsger', 'Radia', 'Donald', 'Sophie'];
    const run = await runClean('send-api.js', [], {
      pids: (r) => numbersAfter(r.stderr, /^worker (\d+) started/gm),
    });
    const started = [...run.stderr.matchAll(/^worker (\d+) started: greeter\.js (.*)$/gm)];
    assert.equal(started.length, 4, `four workers started:\n${run.stderr}`);
    for (const m of started) assert.equal(m[2], 'Hello', 'every worker got the args of the first add()');
    const lines = run.stdout.trim().split('\n');
    assert.equal(lines.length, names.length, 'one greeting per name');
    const greeted = lines.map((line) => {
      const m = /^Hello, (\w+)! \(from worker (\d+)\)$/.exec(line);
      assert.ok(m, `a greeting: ${line}`);
      assert.ok(started.some((s) => s[1] === m[2]), `from one of the started workers: ${line}`);
      return m[1];
    });
    assert.deepEqual(greeted.sort(), [...names].sort());
  },

  async 'calls.js'() {
    // Leftover workers (the timed-out one and its replacement too) are found by the run's tag.
    const run = await runClean('calls.js', [], {});
    assert.equal(run.stdout, 'Ada: Hello, Ada!\nGrace: Hello, Grace!\nLinus: Hello, Linus!\nSlow: ERR_CALL_TIMEOUT\n',
      'each promise got its own answer, and the slow call timed out');
  },

  async 'advanced.js'() {
    const run = await runClean('advanced.js', [], {});
    assert.equal(run.stdout, [
      'zeros: 8192 bits, 1 distinct bytes, sha256 5f70bf18a0860070...',
      '  a Buffer, a Set, a Date',
      'greeting: 232 bits, 16 distinct bytes, sha256 809d9fc8f59d6cb6...',
      '  a Buffer, a Set, a Date',
      '',
    ].join('\n'), 'Buffers, Sets, BigInts and Dates made the trip as they are');
  },

  async 'jobs.js'() {
    const jobs = 40;
    const run = await runClean('jobs.js', [], {
      pids: (r) => numbersAfter(r.stderr, /^worker (\d+) started/gm),
    });
    const answers = run.stdout.trim().split('\n').map((line) => {
      const m = /^job (\d+): (\d+) \(worker (\d+)\)$/.exec(line);
      assert.ok(m, `an answer: ${line}`);
      assert.equal(Number(m[2]), Number(m[1]) ** 2, line);
      return Number(m[1]);
    });
    assert.deepEqual(answers.sort((a, b) => a - b), Array.from({ length: jobs }, (_, i) => i + 1),
      'every job answered exactly once');
    assert.match(run.stderr, new RegExp(`^done: ${jobs} answers to ${jobs} jobs$`, 'm'));
    const started = numbersAfter(run.stderr, /^worker (\d+) started/gm);
    const exited = numbersAfter(run.stderr, /^worker (\d+) exited/gm);
    assert.ok(started.length > 2, `workers that sent {__forkfriend: 'end'} were replaced:\n${run.stderr}`);
    assert.deepEqual([...exited].sort(), [...started].sort(), 'close() waited for every worker to exit');
  },

  async 'cli.sh'() {
    // (The summary's "failed 0" line is not an error.)
    const run = await runClean('cli.sh', [], { report: (stderr) => stderr.replace(/^ +failed +0$/m, '') });
    const [parsed, ...errors] = run.stdout.trim().split('\n');
    assert.equal(parsed, `parsed ${inputLines.length} lines`, 'every line of the log answered');
    const expected = inputLines.filter((line) => line.includes('ERROR')).slice(0, 3);
    assert.equal(errors.length, 3, `head -3 took three answers:\n${run.stdout}`);
    for (const [i, line] of errors.entries()) {
      const result = JSON.parse(line);
      assert.equal(result.level, 'ERROR');
      assert.ok(expected[i].startsWith(`${result.time} ERROR`), `ERROR entry ${i + 1}, in input order: ${line}`);
    }
    assert.match(run.stderr, /^forkfriend: summary$/m, '--stats printed its summary');
    assert.match(run.stderr, new RegExp(`^ +answers written +${inputLines.length}$`, 'm'));
  },

  async 'sticky.js'() {
    const run = await runClean('sticky.js', [], {
      pids: (r) => numbersAfter(r.stdout, /counted by worker (\d+)$/gm),
    });
    assert.doesNotMatch(run.stderr, /moved to another worker/);
    const lines = run.stdout.trim().split('\n');
    assert.deepEqual(lines.map((l) => l.split(':')[0]), ['alice', 'bob', 'carol', 'dave', 'erin']);
    for (const line of lines) assert.match(line, /^\w+: 6 events, counted by worker \d+$/);
  },
};

test('every example in examples/ has a check here', () => {
  const scripts = fs.readdirSync(EXAMPLES).filter((f) => f.endsWith('.js') || f.endsWith('.sh')).sort();
  assert.deepEqual(scripts, Object.keys(checks).sort());
});

for (const [name, check] of Object.entries(checks)) {
  test(`examples/${name} runs, prints what the README says, and leaves no worker behind`,
    { timeout: 120000 }, check);
}

// ---- README ------------------------------------------------------------------------------

/** The file as the README shows it: the package required by its name. */
function asInReadme(text) {
  return text.replaceAll("require('..') // in your app: require('forkfriend')", "require('forkfriend')");
}

test('README code blocks that name an example file are taken from that file', () => {
  const readme = fs.readFileSync(README, 'utf8');
  const blocks = [...readme.matchAll(/^```js\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
  const named = blocks.filter((b) => /^\/\/ examples\/\S+\.js\n/.test(b));
  assert.ok(named.length >= 2, 'the README shows the examples');
  for (const block of named) {
    const [first, ...rest] = block.split('\n');
    const file = path.join(PKG_ROOT, first.slice(3));
    assert.ok(fs.existsSync(file), `${first}: the file exists`);
    const body = rest.join('\n');
    assert.ok(asInReadme(fs.readFileSync(file, 'utf8')).includes(body),
      `the README block under "${first}" is a verbatim part of that file`);
  }
  // Every js block in the README is an example file (or part of one): nothing unrunnable.
  assert.equal(named.length, blocks.length, 'every js code block names its example file');
  // Shell blocks that name an example file are taken from it too.
  const shells = [...readme.matchAll(/^```sh\n# (examples\/\S+\.sh)\n([\s\S]*?)^```$/gm)];
  assert.ok(shells.length >= 1, 'the README shows the command line example');
  for (const [, name, body] of shells) {
    assert.ok(fs.readFileSync(path.join(PKG_ROOT, name), 'utf8').includes(body), `the README block under "# ${name}" is a verbatim part of that file`);
  }
  // Every example the README tells you to run exists, and every example is mentioned.
  const mentioned = new Set([...readme.matchAll(/(?:node|sh) (examples\/[\w-]+\.(?:js|sh))/g)].map((m) => m[1]));
  for (const m of mentioned) assert.ok(fs.existsSync(path.join(PKG_ROOT, m)), `${m} exists`);
  for (const name of Object.keys(checks)) assert.ok(mentioned.has(`examples/${name}`), `the README runs examples/${name}`);
});
