#!/usr/bin/env bash
# Runs the dashboard's browser tests in headless Chromium (node --test).
#
#   tests/browser/run.sh                       # every *.test.mjs
#   tests/browser/run.sh dashboard.test.mjs    # selected files
#   UPDATE_DOCS_SCREENSHOT=1 tests/browser/run.sh dashboard.test.mjs   # also rewrite docs/dashboard.png
#
# Needs the built binary (default <repo>/build/tollgate, or TOLLGATE_BIN),
# Debian's chromium (/usr/bin/chromium, or CHROMIUM_BIN) and the sqlite3 CLI.
# Screenshots are written to <repo>/artifacts/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

if [[ ! -d node_modules/playwright-core ]]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
export TOLLGATE_BIN="${TOLLGATE_BIN:-$(cd ../.. && pwd)/build/tollgate}"
if [[ ! -x "$TOLLGATE_BIN" ]]; then
  echo "run.sh: tollgate binary not found at $TOLLGATE_BIN (build it first or set TOLLGATE_BIN)" >&2
  exit 1
fi
export CHROMIUM_BIN="${CHROMIUM_BIN:-/usr/bin/chromium}"
[[ -x "$CHROMIUM_BIN" ]] || { echo "run.sh: chromium not found at $CHROMIUM_BIN (apt-get install chromium)" >&2; exit 1; }
command -v sqlite3 >/dev/null || { echo "run.sh: the sqlite3 CLI is required (apt-get install sqlite3)" >&2; exit 1; }

if [[ $# -gt 0 ]]; then files=("$@"); else files=(./*.test.mjs); fi
# One file at a time: each drives a browser, and CI has two cores.
exec node --test --test-concurrency=1 --test-timeout=120000 "${files[@]}"
