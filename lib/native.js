'use strict'
// Loads the native addon through the generated loader (binding.js): a clone's own build
// (forkfriend.<target>.node next to it) first, else the platform package npm installed
// (forkfriend-<target>). The platform is checked first, so an unsupported one gets one
// clear error rather than the loader's chain of failed requires.

const { assertSupported, currentPlatform } = require('./platform')

function nativeMissing (cause) {
  const { platform, arch, libc } = currentPlatform()
  const pkg = `forkfriend-${platform}-${arch}-${libc === 'musl' ? 'musl' : 'gnu'}`
  const err = new Error(
    `forkfriend's native addon could not be loaded on ${platform} ${arch} (${libc}), a supported platform. ` +
    `Its prebuilt binary comes in the optional dependency ${pkg}: reinstall forkfriend without ` +
    '--no-optional or --omit=optional. In a clone of the repository, build it with `npm run build` ' +
    '(needs Rust). See err.cause for why loading failed.')
  err.code = 'ERR_FORKFRIEND_NATIVE_MISSING'
  err.cause = cause
  return err
}

function load () {
  assertSupported()
  try {
    return require('../binding.js')
  } catch (cause) {
    throw nativeMissing(cause)
  }
}

module.exports = load()
