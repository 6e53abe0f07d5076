#!/usr/bin/env bash
# Governed requests per second of one tollgate replica with its budget and
# rate-limit counters in Redis (counters.url) against the same replica with
# in-process counters, in one run on this machine: a canned OpenAI upstream
# (nginx), a Redis server (redis-server), and tollgate in front, all on
# loopback. Governed = auth on, one virtual key with its own budget and rate
# limit, a global budget and a per-model rate limit: every request runs the
# rate script and the reserve script, and settles after. The two modes
# alternate (BENCH_PAIRS pairs) so that drift on a shared machine hits both.
#
#   TOLLGATE_BIN=build-rel/tollgate bash bench/counters_bench.sh
#
# Environment: BENCH_DURATION (s per wrk run, default 10), BENCH_PAIRS
# (default 2), BENCH_CONNS (default 50). Prints a Markdown table.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH="$ROOT/bench"
TOLLGATE_BIN=${TOLLGATE_BIN:-$ROOT/build-rel/tollgate}
DURATION=${BENCH_DURATION:-10}
PAIRS=${BENCH_PAIRS:-2}
CONNS=${BENCH_CONNS:-50}
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
for tool in wrk redis-server "$NGINX" "$TOLLGATE_BIN"; do
  command -v "$tool" >/dev/null || { echo "counters_bench: $tool is missing (scripts/install-deps.sh --bench)" >&2; exit 1; }
done
WORK=$(mktemp -d /tmp/tollgate-counters-bench.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
log() { printf '[counters-bench] %s\n' "$*" >&2; }
wait_port() {
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "counters_bench: nothing listens on $1 (logs in $WORK)" >&2
  exit 1
}

read -r UP_PORT SSE_PORT REDIS_PORT TG_PORT < <(node "$BENCH/freeports.js" 4)
mkdir -p "$WORK/nginx-tmp"
sed -e "s|@WORK@|$WORK|g" -e "s|@UPSTREAM_PORT@|$UP_PORT|g" -e "s|@SSE_PORT@|$SSE_PORT|g" \
  -e "s|@UPSTREAM_WORKERS@|1|g" -e "s|@JSON_CHUNKED@||g" "$BENCH/nginx-upstream.conf.in" >"$WORK/upstream.conf"
"$NGINX" -p "$WORK" -e "$WORK/nginx.error.log" -c "$WORK/upstream.conf" -g 'daemon off;' 2>>"$WORK/nginx.error.log" &
PIDS+=($!)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK" \
  --logfile "$WORK/redis.log" &
PIDS+=($!)
wait_port "$UP_PORT"
wait_port "$REDIS_PORT"

# run MODE -> "requests_per_s p50_ms p99_ms non2xx"
run() {
  local mode=$1 dir="$WORK/$1" counters=""
  rm -rf "$dir" && mkdir -p "$dir"
  [[ $mode == redis ]] && counters="counters:
  url: redis://127.0.0.1:$REDIS_PORT
  key_prefix: \"bench$RANDOM:\""
  cat >"$dir/tollgate.yaml" <<YAML
server:
  listen: 127.0.0.1:$TG_PORT
  threads: 2
ledger:
  path: $dir/ledger.db
auth:
  enabled: true
  master_key: bench-master-key-0123456789
$counters
pricing:
  overrides:
    - model: bench-model
      input: 0.15
      output: 0.60
budgets:
  - name: everyone
    scope: global
    window: monthly
    limit_usd: 1000000
rate_limits:
  - model: bench-model
    rpm: 100000000
    tpm: 100000000000
providers:
  - name: canned
    type: openai-compatible
    base_url: http://127.0.0.1:$UP_PORT/v1
    api_key: sk-bench-upstream
    max_retries: 0
models:
  - name: bench-model
    deployments:
      - provider: canned
        model: bench-model
YAML
  local key
  key=$("$TOLLGATE_BIN" keys create --config "$dir/tollgate.yaml" --name bench --budget-usd 1000000 \
    --budget-window monthly --rpm 100000000 --format json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).secret))')
  "$TOLLGATE_BIN" serve --config "$dir/tollgate.yaml" >"$dir/out.log" 2>"$dir/err.log" &
  local pid=$!
  wait_port "$TG_PORT"
  BENCH_KEY=$key wrk -t2 -c"$CONNS" -d2s -s "$BENCH/post.lua" "http://127.0.0.1:$TG_PORT/v1/chat/completions" >/dev/null 2>&1
  BENCH_KEY=$key wrk -t2 -c"$CONNS" -d"${DURATION}s" --timeout 5s -s "$BENCH/post.lua" \
    "http://127.0.0.1:$TG_PORT/v1/chat/completions" >"$dir/wrk.txt" 2>&1
  local non2xx
  non2xx=$(awk '/Non-2xx/ { print $NF }' "$dir/wrk.txt")
  kill "$pid" && wait "$pid" 2>/dev/null || true
  awk -v n="${non2xx:-0}" '/^BENCH_RESULT/ {
      for (i = 2; i <= NF; i++) { split($i, kv, "="); r[kv[1]] = kv[2] }
      printf "%.0f %.2f %.2f %s\n", r["requests"] / (r["duration_us"] / 1e6), r["p50_us"] / 1000, r["p99_us"] / 1000, n
    }' "$dir/wrk.txt"
}

declare -A SUM
rows=()
for pair in $(seq "$PAIRS"); do
  for mode in local redis; do
    read -r rps p50 p99 bad < <(run "$mode")
    log "pair $pair $mode: $rps req/s, p50 $p50 ms, p99 $p99 ms, non-2xx $bad"
    [[ $bad == 0 ]] || { echo "counters_bench: $mode answered $bad non-2xx responses (logs in $WORK/$mode)" >&2; exit 1; }
    rows+=("| $pair | $mode | $rps | $p50 | $p99 |")
    SUM[$mode]=$(( ${SUM[$mode]:-0} + rps ))
  done
done
echo "| pair | counters | req/s | p50 ms | p99 ms |"
echo "|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
awk -v l="${SUM[local]}" -v r="${SUM[redis]}" 'BEGIN { printf "\nRedis / in-process requests per second: %.2f\n", r / l }'
