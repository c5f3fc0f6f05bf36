'use strict';
// Progress under a real pseudo-terminal: util-linux `script` gives the bin a terminal as its
// stderr, as a user's shell would. The line must be redrawn in place while the run goes on,
// and cleared at the end.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');
const { PKG_ROOT } = require('./helpers');
const { BIN, TAG_VAR, cliFixture, noneLeft, tmpDir, lines } = require('./cli-support');

const hasScript = spawnSync('script', ['--version']).status === 0;
const quote = (s) => `'${s.replaceAll("'", "'\\''")}'`;

/** Runs the bin with `args` under `script`; resolves with its exit code and what the terminal got. */
async function underTerminal(args) {
  const tag = `${process.pid}-pty-${Date.now()}-${Math.random()}`;
  const cmd = [process.execPath, BIN, ...args].map(quote).join(' ');
  const child = spawn('script', ['-q', '-e', '-c', cmd, '/dev/null'], {
    cwd: PKG_ROOT,
    env: { ...process.env, [TAG_VAR]: tag, COLUMNS: '200' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let screen = '';
  child.stdout.setEncoding('utf8').on('data', (d) => { screen += d; });
  const code = await new Promise((resolve) => child.on('close', resolve));
  await noneLeft(tag);
  return { code, screen };
}

test('progress on a terminal: one line redrawn with counts, % and ETA, cleared at the end', { skip: !hasScript && 'no `script` here', timeout: 60000 }, async (t) => {
  const dir = tmpDir(t);
  const input = path.join(dir, 'in.txt');
  const output = path.join(dir, 'out.txt');
  const N = 3000;
  fs.writeFileSync(input, Array.from({ length: N }, (_, i) => `${i}\n`).join(''));
  const { code, screen } = await underTerminal(['-n', '2', '-i', input, '-o', output, cliFixture('slow-echo.js'), '1']);
  assert.equal(code, 0, screen);
  assert.equal(lines(fs.readFileSync(output, 'utf8')).length, N);
  const ESC = String.fromCharCode(27);
  const line = /\[1G\[[#.]{20}\] (\d+)% ETA [\d:-]+ \| read [\d,]+ \| answered ([\d,]+) \| [\d.kM]+\/s \| workers \d \| restarts 0 \| failed 0/g;
  const drawn = [...screen.matchAll(line)].filter((m) => screen[m.index - 1] === ESC);
  const answered = new Set(drawn.map((m) => m[2]));
  assert.ok(answered.size >= 3, `the line was redrawn as the run went on (${[...answered]}):\n${JSON.stringify(screen.slice(0, 600))}`);
  assert.equal(drawn.at(-1)[2], N.toLocaleString('en-US'), 'the last drawing shows every answer');
  assert.equal(drawn.at(-1)[1], '100');
  assert.ok(!screen.includes('\n'), 'redrawn in place: no new line on the terminal');
  assert.ok(screen.endsWith('\x1b[1G\x1b[0J'), `cleared at the end: ${JSON.stringify(screen.slice(-60))}`);
});

test('--no-progress on a terminal draws nothing; --progress without one prints plain lines', { skip: !hasScript && 'no `script` here', timeout: 60000 }, async (t) => {
  const dir = tmpDir(t);
  const input = path.join(dir, 'in.txt');
  fs.writeFileSync(input, 'a\nb\n');
  const output = path.join(dir, 'out.txt');
  const quiet = await underTerminal(['--no-progress', '-n', '1', '-i', input, '-o', output, cliFixture('slow-echo.js')]);
  assert.equal(quiet.code, 0);
  assert.equal(quiet.screen, '');

  const forced = spawnSync(process.execPath, [BIN, '--progress', '-n', '1', '-i', input, cliFixture('slow-echo.js')], { encoding: 'utf8' });
  assert.equal(forced.status, 0, forced.stderr);
  assert.deepEqual(lines(forced.stdout).sort(), ['a', 'b']);
  assert.match(forced.stderr, /answered 2 \|/, 'the final numbers, as a line of text');
  assert.ok(!forced.stderr.includes(String.fromCharCode(27)), 'no terminal codes on a pipe');
});
