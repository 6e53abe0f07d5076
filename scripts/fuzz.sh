#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, Clang: docs/HARDENING.md) and runs each
# for a bounded time from its seed corpus, then prints what each reached.
#
# Usage: scripts/fuzz.sh [TARGET...]        (default: every target)
# Environment:
#   FUZZ_SECONDS    seconds per target (default 20: what CI runs)
#   FUZZ_BUILD_DIR  build folder (default build-fuzz)
#   FUZZ_ARGS       extra libFuzzer flags (e.g. "-max_len=65536")
#   FUZZ_ASAN_OPTIONS  ASAN_OPTIONS for the fuzzers (default abort_on_error=1:detect_leaks=1)
#
# The repository's seeds (fuzz/corpus/<target>/) are only read; what the
# fuzzer adds goes to $FUZZ_BUILD_DIR/fuzz-corpus/<target>/ and is reused by
# the next run. A crash, leak, timeout or sanitizer report stops that target,
# leaves its reproducer in $FUZZ_BUILD_DIR/fuzz-artifacts/<target>/ and makes
# the script fail after the other targets ran. Replay one with
#   $FUZZ_BUILD_DIR/<target>_fuzzer <reproducer>
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${FUZZ_BUILD_DIR:-build-fuzz}"
secs="${FUZZ_SECONDS:-20}"
all=(http_request request_json sse_stream usage config importer)
targets=("$@")
((${#targets[@]})) || targets=("${all[@]}")
for t in "${targets[@]}"; do
  [[ " ${all[*]} " == *" $t "* ]] || { echo "fuzz.sh: unknown target '$t' (have: ${all[*]})" >&2; exit 2; }
done
command -v clang++ >/dev/null || { echo "fuzz.sh: clang++ not found (scripts/install-deps.sh installs it)" >&2; exit 2; }

cmake -S . -B "$dir" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=Debug \
  -DTOLLGATE_FUZZ=ON -DTOLLGATE_TESTS=OFF >/dev/null
cmake --build "$dir" -j2 --target "${targets[@]/%/_fuzzer}"

# The fuzzers' own sanitizer settings, whatever the caller exported (scripts/test.sh
# turns leak detection off for the server; here a leak is a finding).
export ASAN_OPTIONS="${FUZZ_ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
summary=()
failed=()
for t in "${targets[@]}"; do
  corpus="$dir/fuzz-corpus/$t"
  artifacts="$dir/fuzz-artifacts/$t"
  log="$dir/fuzz-$t.log"
  mkdir -p "$corpus" "$artifacts"
  echo "== $t: ${secs} s"
  rc=0
  # shellcheck disable=SC2086
  "$dir/${t}_fuzzer" -max_total_time="$secs" -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" ${FUZZ_ARGS:-} "$corpus" "fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
  # libFuzzer's last status line ("#N DONE cov: C ft: F corp: U/S ...") and final stats.
  status=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1 || true)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$status")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$status")
  corp=$(sed -n 's/.* corp: \([^ ]*\).*/\1/p' <<<"$status")
  result=ok
  if ((rc != 0)); then
    result="FAILED (exit $rc; log $log)"
    failed+=("$t")
    grep -E 'ERROR: |runtime error:|SUMMARY:|Test unit written to' "$log" | head -8 || true
  fi
  summary+=("$(printf '%-13s %10s %8s %7s %7s %10s  %s' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$result")")
done

echo
printf '%-13s %10s %8s %7s %7s %10s  %s\n' target execs exec/s cov ft corpus result
printf '%s\n' "${summary[@]}"
if ((${#failed[@]})); then
  echo "fuzz.sh: ${failed[*]} failed; reproducers in $dir/fuzz-artifacts/" >&2
  exit 1
fi
