#!/usr/bin/env bash
# Command (b): install what is missing, build with AddressSanitizer and UBSan,
# and run every test (unit tests, then the integration/e2e suite against the
# real binary). The output ends with ctest's summary.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh build-test -DTOLLGATE_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
for d in tests/integration tests/pricing; do (cd "$d" && npm ci --no-audit --no-fund --loglevel=error); done
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
cd build-test
ctest --output-on-failure --timeout 600
