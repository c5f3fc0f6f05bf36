'use strict'
// The fate of every option child_process.fork() takes, for the workers of a supervised pool:
// honoured as fork() would (see poolSpec in ./options), or warned about once per manager.

/** Options fork() takes whose behaviour the pool keeps (validated in poolSpec). */
const HONOURED = new Set([
  'cwd', 'env', 'execPath', 'execArgv', 'argv0', 'stdio', 'silent', 'uid', 'gid',
  'serialization', 'killSignal', 'signal',
  // Windows-only: fork() ignores them on Linux as well.
  'windowsHide', 'windowsVerbatimArguments'
])

/** Options that cannot apply to a supervised pool: why, and what to use instead. */
const NOT_APPLIED = {
  detached: 'workers always die with their manager (a detached worker would outlive it unsupervised)',
  timeout: 'a pool restarts workers that exit; use the manager option `timeout` (reply mode) to limit how long one message may take',
  shell: 'child_process.fork() does not support it either'
}

/** The code of the warning about fork option `name`: FORKFRIEND_FORK_OPTION_<NAME>. */
function warningCode (name) {
  return `FORKFRIEND_FORK_OPTION_${name.toUpperCase()}`
}

/**
 * The warnings the fork options of a new pool call for, as [code, message] pairs: one per
 * option that cannot apply, and one per name fork() does not know.
 */
function forkOptionWarnings (options) {
  const out = []
  for (const name of Object.keys(options)) {
    const value = options[name]
    if (HONOURED.has(name) || value === undefined) continue
    if (Object.hasOwn(NOT_APPLIED, name)) {
      // Their off values (detached: false, timeout: 0) are what the pool does anyway.
      if (value) out.push([warningCode(name), `forkfriend ignores the fork option "${name}": ${NOT_APPLIED[name]}`])
    } else {
      out.push(['FORKFRIEND_FORK_OPTION_UNKNOWN', `forkfriend ignores the fork option "${name}": child_process.fork() has no such option`])
    }
  }
  return out
}

module.exports = { forkOptionWarnings, warningCode, HONOURED, NOT_APPLIED }
