#!/usr/bin/env bash
# Runs tollgate's integration / end-to-end suite (Node >= 20, `node --test`).
#
#   tests/integration/run.sh                 # all *.test.mjs files
#   tests/integration/run.sh sim.test.mjs    # selected files
#
# Needs the built binary (default <repo>/build/tollgate; override with
# TOLLGATE_BIN=/path/to/tollgate) and the sqlite3 + openssl CLIs on PATH.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

if [[ ! -d node_modules ]]; then
  npm ci --no-audit --no-fund
fi

export TOLLGATE_BIN="${TOLLGATE_BIN:-$(cd ../.. && pwd)/build/tollgate}"
if [[ ! -x "$TOLLGATE_BIN" ]]; then
  echo "run.sh: tollgate binary not found at $TOLLGATE_BIN (build it first or set TOLLGATE_BIN)" >&2
  exit 1
fi
for tool in sqlite3 openssl; do
  command -v "$tool" >/dev/null || { echo "run.sh: '$tool' CLI is required (apt-get install $tool)" >&2; exit 1; }
done

if [[ $# -gt 0 ]]; then files=("$@"); else files=(./*.test.mjs); fi
# Two test files at a time (the CI machine has 2 cores). Node 20 applies
# --test-timeout to each file as a whole as well as to each test in it, and a
# file of the sanitizer build can take 25 s with another file beside it, so the
# bound is 120 s: a hang still cannot stall CI, and a slow file is not a failure.
exec node --test --test-concurrency=2 --test-timeout=120000 "${files[@]}"
