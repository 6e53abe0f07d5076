#!/usr/bin/env bash
# Regenerates the routing section of docs/EVALUATION.md and docs/eval/routing_*.svg:
# trains one router on both RouterBench *_train files, then evaluates it, the
# cascades and the baselines on the *_test files. Usage (from the repo root):
#   bash bench/router/eval.sh [TOLLGATE_BIN]   (default build/tollgate)
set -euo pipefail
BIN=${1:-build/tollgate}
DATA=${TOLLGATE_DATA:-../shared/data/routerbench}
MODEL=${TOLLGATE_ROUTER_MODEL:-$(dirname "$BIN")/router.json}
"$BIN" router train "$DATA/arc_challenge_train.csv" "$DATA/mbpp_train.csv" --out "$MODEL" --strong-share 0.5
"$BIN" router eval --model "$MODEL" "$DATA/arc_challenge_test.csv" "$DATA/mbpp_test.csv" \
  --svg docs/eval --markdown docs/EVALUATION.md
