#!/usr/bin/env node
'use strict'
// `forkfriend [options] <script> [args...]`: lines of input through N workers (see --help).

const { main } = require('../lib/cli/main')

main(process.argv.slice(2)).then(
  (status) => process.exit(status),
  (err) => {
    process.stderr.write(`forkfriend: ${err && err.stack ? err.stack : err}\n`)
    process.exit(1)
  }
)
