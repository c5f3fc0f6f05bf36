'use strict'
// Which platforms forkfriend runs on, and why the current one does not. The supported list
// comes from `napi.targets` in package.json (one prebuilt platform package per target), so a
// new target needs no change here. Every target also needs Linux 5.3 or later: the core
// watches workers through pidfds (pidfd_open came in 5.3).

const { readFileSync } = require('node:fs')
const os = require('node:os')
const { napi } = require('../package.json')

const MIN_KERNEL = [5, 3]

const ARCHES = { x86_64: 'x64', aarch64: 'arm64', i686: 'ia32', armv7: 'arm', riscv64: 'riscv64', s390x: 's390x', powerpc64le: 'ppc64' }
const LIBCS = { gnu: 'glibc', gnueabihf: 'glibc', musl: 'musl', musleabihf: 'musl' }
const NAMES = { linux: 'Linux', darwin: 'macOS', win32: 'Windows', freebsd: 'FreeBSD', android: 'Android' }

/** `x86_64-unknown-linux-gnu` -> { platform: 'linux', arch: 'x64', libc: 'glibc' }; null if not a Linux triple. */
function parseTarget (triple) {
  const [cpu, , system, abi] = triple.split('-')
  if (system !== 'linux' || !ARCHES[cpu] || !LIBCS[abi]) return null
  return { platform: 'linux', arch: ARCHES[cpu], libc: LIBCS[abi] }
}

const TARGETS = (napi.targets ?? []).map(parseTarget).filter(Boolean)

function describeTarget ({ platform, arch, libc }) {
  return `${NAMES[platform]} ${arch} (${libc})`
}

/** The supported platforms in words, e.g. "Linux x64 (glibc) with kernel 5.3 or later". */
function supportedList () {
  return `${TARGETS.map(describeTarget).join(', ')} with kernel ${MIN_KERNEL.join('.')} or later`
}

/** The libc Node runs on: the way napi-rs' loader tells (ldd's text, else the report header). */
function detectLibc () {
  try {
    return readFileSync('/usr/bin/ldd', 'utf8').includes('musl') ? 'musl' : 'glibc'
  } catch {}
  const report = process.report?.getReport?.()
  if (report?.header?.glibcVersionRuntime) return 'glibc'
  const musl = report?.sharedObjects?.some((f) => f.includes('libc.musl-') || f.includes('ld-musl-'))
  return musl ? 'musl' : 'glibc'
}

/** [major, minor] of a Linux release string such as "5.15.0-91-generic"; null if unreadable. */
function kernelVersion (release) {
  const m = /^(\d+)\.(\d+)/.exec(release)
  return m ? [Number(m[1]), Number(m[2])] : null
}

function olderThan ([major, minor], [minMajor, minMinor]) {
  return major < minMajor || (major === minMajor && minor < minMinor)
}

/** The current platform as the checks see it. */
function currentPlatform () {
  const platform = process.platform
  const linux = platform === 'linux'
  return { platform, arch: process.arch, libc: linux ? detectLibc() : null, release: linux ? os.release() : null }
}

/** Why `facts` cannot run forkfriend, in words naming the platform; null if it can. */
function unsupportedReason (facts = currentPlatform()) {
  const { platform, arch, libc, release } = facts
  const name = NAMES[platform] ?? platform
  if (platform !== 'linux') return `${name} (${platform} ${arch})`
  if (!TARGETS.some((t) => t.arch === arch && t.libc === libc)) return `${name} ${arch} (${libc})`
  const kernel = kernelVersion(release)
  if (kernel && olderThan(kernel, MIN_KERNEL)) return `${name} kernel ${release}, older than ${MIN_KERNEL.join('.')} (workers are watched through pidfds)`
  return null
}

/** Throws ERR_FORKFRIEND_UNSUPPORTED_PLATFORM if this platform cannot run forkfriend. */
function assertSupported (facts) {
  const reason = unsupportedReason(facts)
  if (reason === null) return
  const err = new Error(`forkfriend does not run on ${reason}. Supported: ${supportedList()}.`)
  err.code = 'ERR_FORKFRIEND_UNSUPPORTED_PLATFORM'
  throw err
}

module.exports = { assertSupported, unsupportedReason, supportedList, currentPlatform, parseTarget, kernelVersion, TARGETS }
