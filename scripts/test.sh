#!/usr/bin/env bash
# Command (b): install what is missing, build with AddressSanitizer and UBSan,
# and run every test (unit tests, then the integration/e2e suite against the
# real binary; the GCC build also links the layering checks of
# cmake/components.cmake). Then the second compiler: a Clang build with the
# same sanitizers and -Wthread-safety (every GUARDED_BY checked, as an error)
# runs the unit tests and the fault-injection and bad-input integration files,
# so one compiler's coroutine bugs cannot hide; and the
# libFuzzer targets run for FUZZ_SECONDS each (scripts/fuzz.sh). Every stage
# runs; the output ends with a summary of the stages, and the exit status is
# non-zero if any failed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh build-test -DTOLLGATE_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
for d in tests/integration tests/pricing; do (cd "$d" && npm ci --no-audit --no-fund --loglevel=error); done
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

stages=()
failed=0
stage() {  # stage NAME COMMAND...: runs it, records the outcome
  local name="$1" rc=0 t0=$SECONDS
  shift
  echo "=== $name"
  "$@" || rc=$?
  stages+=("$(printf '%-34s %s (%d s)' "$name" "$([[ $rc == 0 ]] && echo ok || echo "FAILED ($rc)")" $((SECONDS - t0)))")
  ((rc == 0)) || failed=1
}

stage "gcc: ctest" bash -c 'cd build-test && ctest --output-on-failure --timeout 600'

# Clang: only the two binaries the stages below run (which compiles every
# source, so the thread-safety analysis sees all of them).
clang_build() {
  cmake -S . -B build-clang -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=Debug \
    -DTOLLGATE_SANITIZE=ON >/dev/null &&
    cmake --build build-clang -j2 --target tollgate tollgate_unit_tests
}
stage "clang: build" clang_build
if [[ -x build-clang/tollgate && -x build-clang/tests/tollgate_unit_tests ]]; then
  stage "clang: unit tests" build-clang/tests/tollgate_unit_tests --gtest_brief=1
  stage "clang: faults + bad input" env TOLLGATE_BIN="$PWD/build-clang/tollgate" \
    bash tests/integration/run.sh faults.test.mjs bad_input.test.mjs
fi
stage "clang: fuzz (${FUZZ_SECONDS:-20} s per target)" bash scripts/fuzz.sh

echo
echo "=== summary"
printf '%s\n' "${stages[@]}"
exit $failed
