'use strict';
// Packaging: what `npm install forkfriend` gets. The main package and its platform package
// are packed with the real npm into tarballs, installed offline into an empty app with no
// Rust on PATH, and used there for a real round trip through a worker. Then the platform
// checks: a faked unsupported platform, and a supported one without its binary, each get
// one clear error.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const ROOT = path.resolve(__dirname, '..');
const PKG = require('../package.json');
const TARGET = 'linux-x64-gnu';
const BINARY = `forkfriend.${TARGET}.node`;
const PLATFORM_PKG = `forkfriend-${TARGET}`;

// Node's own folder, then the system's: no ~/.cargo/bin, so no cargo or rustc.
const BARE_PATH = [path.dirname(process.execPath), '/usr/bin', '/bin'].join(path.delimiter);

/** The environment without npm's lifecycle variables (npm test sets npm_config_*). */
function bareEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k)) env[k] = v;
  return { ...env, PATH: BARE_PATH, ...extra };
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 30000, killSignal: 'SIGKILL', env: bareEnv(), ...opts });
  if (r.error) throw r.error;
  return r;
}

function ok(r, what) {
  assert.equal(r.status, 0, `${what} failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

function tmpdir(t, name) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `forkfriend-${name}-`));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function findOnPath(name, PATH) {
  return PATH.split(path.delimiter).map((d) => path.join(d, name)).find((f) => fs.existsSync(f)) ?? null;
}

/** The folder of installed package `name` as Node would find it from `from`. */
function packageDir(name, from) {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', name);
    if (fs.existsSync(path.join(candidate, 'package.json'))) return candidate;
    if (dir === path.dirname(dir)) throw new Error(`${name} is not installed (from ${from})`);
  }
}

/** Folders of the runtime dependencies, transitively, as installed in the clone. */
function runtimeDependencyDirs() {
  const dirs = new Map();
  const visit = (deps, from) => {
    for (const name of Object.keys(deps ?? {})) {
      if (dirs.has(name)) continue;
      const dir = packageDir(name, from);
      dirs.set(name, dir);
      visit(JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).dependencies, dir);
    }
  };
  visit(PKG.dependencies, ROOT);
  return [...dirs.values()];
}

/** `npm pack` of each folder into `dest`; returns npm's JSON report, one entry a folder. */
function pack(dirs, dest) {
  // --ignore-scripts: `prepare` would run the release build (cargo); binding.js is built already.
  const out = ok(run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dest, ...dirs], { cwd: dest }), 'npm pack');
  return JSON.parse(out);
}

const built = fs.existsSync(path.join(ROOT, BINARY)) && fs.existsSync(path.join(ROOT, 'binding.js'));
const skip = built ? false : 'needs `npm run build` first (binding.js and the .node)';

test('the packed packages install offline without Rust and run a worker round trip', { timeout: 90000, skip }, (t) => {
  assert.equal(findOnPath('cargo', BARE_PATH), null, `cargo is findable on ${BARE_PATH}`);
  assert.equal(findOnPath('rustc', BARE_PATH), null, `rustc is findable on ${BARE_PATH}`);
  const tmp = tmpdir(t, 'pack');
  const tgz = path.join(tmp, 'tgz');
  const platformDir = path.join(tmp, TARGET);
  const app = path.join(tmp, 'app');
  for (const d of [tgz, platformDir, app]) fs.mkdirSync(d);

  // The platform package, as `napi artifacts` lays it out: its folder plus the built binary.
  for (const f of fs.readdirSync(path.join(ROOT, 'npm', TARGET))) fs.copyFileSync(path.join(ROOT, 'npm', TARGET, f), path.join(platformDir, f));
  fs.copyFileSync(path.join(ROOT, BINARY), path.join(platformDir, BINARY));
  const platformMeta = JSON.parse(fs.readFileSync(path.join(platformDir, 'package.json'), 'utf8'));
  assert.equal(platformMeta.name, PLATFORM_PKG);
  assert.equal(platformMeta.version, PKG.version);
  assert.deepEqual([platformMeta.os, platformMeta.cpu, platformMeta.libc], [['linux'], ['x64'], ['glibc']]);
  assert.equal(PKG.optionalDependencies[PLATFORM_PKG], PKG.version);

  const [main, platform] = pack([ROOT, platformDir], tgz);
  const files = main.files.map((f) => f.path);
  for (const f of ['index.js', 'index.d.ts', 'binding.js', 'binding.d.ts', 'lib/platform.js', 'lib/native.js', 'bin/forkfriend.js', 'package.json']) {
    assert.ok(files.includes(f), `the main package ships ${f}: ${files.join(', ')}`);
  }
  assert.deepEqual(files.filter((f) => f.endsWith('.node') || /^(src|target|npm|tests|__test__)\//.test(f) || /^Cargo|\.rs$/.test(f)), []);
  assert.deepEqual(platform.files.map((f) => f.path).sort(), ['README.md', BINARY, 'package.json']);

  // The registry would serve the runtime dependencies; offline, they come packed from the clone.
  const deps = pack(runtimeDependencyDirs(), tgz);
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', private: true }));
  const tarballs = [main, platform, ...deps].map((p) => path.join(tgz, p.filename));
  ok(run('npm', ['install', '--offline', '--no-audit', '--no-fund', '--cache', path.join(tmp, 'cache'), ...tarballs], { cwd: app, timeout: 60000 }), 'npm install');
  const installed = path.join(app, 'node_modules', 'forkfriend');
  assert.deepEqual(fs.readdirSync(installed).filter((f) => f.endsWith('.node') || f === 'target'), [], 'installing ran no build');

  fs.writeFileSync(path.join(app, 'worker.js'), "process.on('message', (m) => process.send(`echo ${m}`));\n");
  fs.writeFileSync(path.join(app, 'main.js'), `
    const path = require('node:path');
    const forkfriend = require('forkfriend');
    const friend = forkfriend();
    friend.add(path.join(__dirname, 'worker.js'));
    friend.on('message', (answer) => {
      const natives = Object.keys(require.cache).filter((f) => f.endsWith('.node'));
      console.log(JSON.stringify({ answer, entry: require.resolve('forkfriend'), natives }));
      friend.stop();
    });
    friend.send('ping');
  `);
  const out = JSON.parse(ok(run(process.execPath, ['main.js'], { cwd: app }), 'the app'));
  assert.equal(out.answer, 'echo ping');
  assert.equal(out.entry, path.join(installed, 'index.js'));
  assert.deepEqual(out.natives, [path.join(app, 'node_modules', PLATFORM_PKG, BINARY)]);
});

test('in the clone, the local build is preferred', { timeout: 30000, skip }, () => {
  const code = "require(process.argv[1]); console.log(JSON.stringify(Object.keys(require.cache).filter((f) => f.endsWith('.node'))))";
  const out = JSON.parse(ok(run(process.execPath, ['-e', code, ROOT]), 'require'));
  assert.deepEqual(out, [path.join(ROOT, BINARY)]);
});

// Overrides what lib/platform.js and napi's loader read: process.platform and .arch,
// os.release(), and the libc signs (ldd's text, the report header and shared objects).
const PRELOAD = `
const fs = require('node:fs');
const os = require('node:os');
const fake = JSON.parse(process.env.FORKFRIEND_FAKE);
Object.defineProperty(process, 'platform', { value: fake.platform });
Object.defineProperty(process, 'arch', { value: fake.arch });
if (fake.release) os.release = () => fake.release;
if (fake.libc === 'musl') {
  const readFileSync = fs.readFileSync;
  fs.readFileSync = function (file, ...rest) {
    return file === '/usr/bin/ldd' ? 'musl libc (x86_64)\\nVersion 1.2.4\\n' : readFileSync.call(this, file, ...rest);
  };
  const getReport = process.report.getReport;
  process.report.getReport = function (...args) {
    const report = getReport.apply(this, args);
    delete report.header.glibcVersionRuntime;
    report.sharedObjects = ['/lib/ld-musl-x86_64.so.1'];
    return report;
  };
}
`;

const FAKES = [
  { fake: { platform: 'darwin', arch: 'arm64' }, names: 'macOS (darwin arm64)' },
  { fake: { platform: 'win32', arch: 'x64' }, names: 'Windows (win32 x64)' },
  { fake: { platform: 'linux', arch: 'x64', libc: 'musl' }, names: 'Linux x64 (musl)' },
  { fake: { platform: 'linux', arch: 'arm64' }, names: 'Linux arm64 (glibc)' },
  { fake: { platform: 'linux', arch: 'x64', release: '5.2.21-generic' }, names: 'Linux kernel 5.2.21-generic, older than 5.3' },
];

test('an unsupported platform gets one error naming it and what is supported', { timeout: 60000 }, (t) => {
  const tmp = tmpdir(t, 'fake');
  const preload = path.join(tmp, 'preload.js');
  fs.writeFileSync(preload, PRELOAD);
  for (const { fake, names } of FAKES) {
    const r = run(process.execPath, ['-r', preload, '-e', 'require(process.argv[1])', path.join(ROOT, 'index.js')], {
      env: bareEnv({ FORKFRIEND_FAKE: JSON.stringify(fake) }),
    });
    const what = `${JSON.stringify(fake)}:\n${r.stderr}`;
    assert.equal(r.status, 1, what);
    assert.match(r.stderr, new RegExp(`Error: forkfriend does not run on ${names.replace(/[()]/g, '\\$&')}[^\\n]*\\. Supported: Linux x64 \\(glibc\\) with kernel 5\\.3 or later\\.\\n`), what);
    assert.match(r.stderr, /code: 'ERR_FORKFRIEND_UNSUPPORTED_PLATFORM'/, what);
    assert.doesNotMatch(r.stderr, /binding\.js|Cannot find native binding|\[cause\]/, what);
  }
});

test('a supported platform without the binary gets ERR_FORKFRIEND_NATIVE_MISSING with the cause', { timeout: 30000, skip }, (t) => {
  // The package as it would be installed with --omit=optional: no .node, no platform package.
  const copy = tmpdir(t, 'nobinary');
  for (const f of ['index.js', 'package.json', 'binding.js']) fs.copyFileSync(path.join(ROOT, f), path.join(copy, f));
  fs.cpSync(path.join(ROOT, 'lib'), path.join(copy, 'lib'), { recursive: true });
  const code = `
    try { require(process.argv[1]); } catch (err) {
      console.log(JSON.stringify({ code: err.code, message: err.message, cause: err.cause && err.cause.message }));
      process.exit(2);
    }`;
  const r = run(process.execPath, ['-e', code, copy], { env: bareEnv({ NAPI_RS_NATIVE_LIBRARY_PATH: '' }) });
  assert.equal(r.status, 2, r.stderr);
  const err = JSON.parse(r.stdout);
  assert.equal(err.code, 'ERR_FORKFRIEND_NATIVE_MISSING');
  assert.match(err.message, /linux x64 \(glibc\), a supported platform/);
  assert.match(err.message, new RegExp(`optional dependency ${PLATFORM_PKG}: reinstall forkfriend without --no-optional or --omit=optional`));
  assert.match(err.message, /npm run build/);
  assert.match(err.cause, /Cannot find native binding/);
});
