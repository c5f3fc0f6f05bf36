#!/bin/sh
# examples/cli.sh: the command line on the bundled log file. Run it from the package root
# with `sh examples/cli.sh`; in a project that depends on forkfriend, `npx forkfriend` is
# the same program.
set -e
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# Every line of the log through 4 workers, answers in input order, a summary on stderr:
npx forkfriend -n 4 --ordered --stats -i examples/data/application.log -o "$out/parsed.ndjson" \
  examples/workers/parse-line.js
echo "parsed $(wc -l < "$out/parsed.ndjson") lines"

# In a pipeline: the first three ERROR entries; the rest of the run stops once head is done.
grep ERROR examples/data/application.log | npx forkfriend -n 2 --ordered examples/workers/parse-line.js | head -3
