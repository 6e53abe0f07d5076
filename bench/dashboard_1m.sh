#!/usr/bin/env bash
# Times every dashboard view on a 1,000,000-row ledger and prints a markdown
# table (the "Dashboard" section of docs/BENCHMARKS.md).
#
#   bench/dashboard_1m.sh [BUILD_DIR] [--rows N] [--runs N] [--db FILE] [--no-browser]
#
# Seeds the ledger with one SQLite INSERT (tests/browser/lib/ledger.mjs),
# starts `tollgate serve` on it and measures each /api view and the whole page
# in headless Chromium (tests/browser/big_ledger.mjs). Needs node, sqlite3 and
# chromium; installs tests/browser's npm packages if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
build="build"
if [[ $# -gt 0 && "$1" != --* ]]; then build="$1"; shift; fi
export TOLLGATE_BIN="${TOLLGATE_BIN:-$PWD/$build/tollgate}"
[[ -x "$TOLLGATE_BIN" ]] || { echo "dashboard_1m.sh: no binary at $TOLLGATE_BIN (scripts/build.sh $build)" >&2; exit 1; }
if [[ ! -d tests/browser/node_modules/playwright-core ]]; then
  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
fi
mkdir -p artifacts
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
exec node tests/browser/big_ledger.mjs --json artifacts/dashboard-1m.json "$@"
