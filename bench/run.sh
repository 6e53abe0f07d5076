#!/usr/bin/env bash
# tollgate benchmark: tollgate vs nginx as a reverse proxy in front of the same
# canned OpenAI upstream, all on loopback, in one run (about 2 minutes).
#
#   bash bench/run.sh                      # from the repo root
#   TOLLGATE_BIN=path/to/tollgate bash bench/run.sh
#
# Environment:
#   TOLLGATE_BIN       tollgate binary (default build/tollgate)
#   BENCH_DURATION     seconds per measured wrk run (default 10)
#   BENCH_WARMUP       seconds of wrk warm-up before each measured run (default 2)
#   BENCH_STREAMS      concurrent streams for the memory test (default 1000)
#   BENCH_TTFT_N       sequential streaming requests for TTFT (default 50)
#   BENCH_LEDGER_ROWS  rows for the SQLite ledger micro-benchmark (default 200000)
#   BENCH_UPSTREAM_FRAMING  length (default): the canned JSON answer carries a
#                      Content-Length; chunked: sent with chunked encoding
#   BENCH_WRITE_DOC    1 = write the table into docs/BENCHMARKS.md (default 1)
#   BENCH_KEEP         1 = keep the temp dir with configs, logs and raw outputs
#   BENCH_STRICT       1 = exit 2 when a performance target is missed
#   BENCH_PIN_LATENCY  1 (default) = run the 1-connection latency and TTFT tests with the clients and
#                      every server pinned to CPU 0 (see docs/BENCHMARKS.md); 0 = unpinned
#   BENCH_WAIT_QUIET   wait up to this many seconds for the machine to go idle
#                      (no compiler running, CPU < 15% busy) before starting (default 0)
#
# Exit status: 0 ok; 1 a correctness failure (tollgate errors, non-2xx, ledger
# rows missing, a broken stream); 2 (only with BENCH_STRICT=1) a target missed.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
BENCH="$ROOT/bench"
TOLLGATE_BIN=${TOLLGATE_BIN:-build/tollgate}
DURATION=${BENCH_DURATION:-10}
WARMUP=${BENCH_WARMUP:-2}
STREAMS=${BENCH_STREAMS:-1000}
TTFT_N=${BENCH_TTFT_N:-50}
LEDGER_ROWS=${BENCH_LEDGER_ROWS:-200000}
WRITE_DOC=${BENCH_WRITE_DOC:-1}
DOC="$ROOT/docs/BENCHMARKS.md"
PROXY_WORKERS=2
UPSTREAM_WORKERS=1
TG_THREADS=2
FRAMING=${BENCH_UPSTREAM_FRAMING:-length}
case $FRAMING in
  length) JSON_CHUNKED='' ;;
  chunked) JSON_CHUNKED="sub_filter '@@never-matches@@' ''; sub_filter_types *;" ;;
  *) echo "BENCH_UPSTREAM_FRAMING must be length or chunked" >&2; exit 1 ;;
esac

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '\n[bench] FATAL: %s\n' "$*" >&2; exit 1; }
FAILURES=()
fail() { printf '\n[bench] FAILURE: %s\n\n' "$*" >&2; FAILURES+=("$*"); }
calc() { awk "BEGIN { printf \"%.${2:-3}f\", $1 }"; }
# cond EXPR -> exit status 0 if awk expression is true
cond() { awk "BEGIN { exit !($1) }"; }

# ---------------------------------------------------------------- tools ----
missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
command -v sqlite3 >/dev/null || missing+=(sqlite3)
command -v curl >/dev/null || missing+=(curl)
if ((${#missing[@]})); then
  SUDO=
  [ "$(id -u)" -ne 0 ] && SUDO=sudo
  log "installing ${missing[*]}"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >&2 ||
    die "could not install ${missing[*]}"
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
command -v node >/dev/null || die "node (>= 18) is required for the streaming tests"
[ -x "$TOLLGATE_BIN" ] || die "tollgate binary not found at '$TOLLGATE_BIN' (build it, or set TOLLGATE_BIN)"
TOLLGATE_BIN=$(realpath "$TOLLGATE_BIN")

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)
if [ "$NOFILE" != unlimited ] && ((NOFILE < 2 * STREAMS + 512)); then
  die "open-file limit $NOFILE is too low for $STREAMS streams (need $((2 * STREAMS + 512)))"
fi

# -------------------------------------------------------- temp + cleanup ----
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tollgate-bench.XXXXXX")
chmod 755 "$WORK"
mkdir -p "$WORK/nginx-tmp"
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  if [ "${BENCH_KEEP:-0}" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_port() {  # PORT NAME PID
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    kill -0 "$3" 2>/dev/null || die "$2 exited during start-up (logs in $WORK)"
    sleep 0.1
  done
  die "$2 did not listen on port $1"
}
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
mib() { calc "$1 / 1024" 1; }

# CPU busy % over one second, from /proc/stat.
cpu_busy() {
  local a b
  a=($(head -1 /proc/stat)); sleep 1; b=($(head -1 /proc/stat))
  awk -v u=$((b[1] + b[2] + b[3] + b[6] + b[7] - a[1] - a[2] - a[3] - a[6] - a[7])) \
    -v t=$((b[1] + b[2] + b[3] + b[4] + b[5] + b[6] + b[7] - a[1] - a[2] - a[3] - a[4] - a[5] - a[6] - a[7])) \
    'BEGIN { printf "%.0f", t ? 100 * u / t : 0 }'
}
# Compilers and build tools running right now (they skew every number).
builders() {
  ps -eo comm= | awk '$1 ~ /^(cc1|cc1plus|ld|ld\.gold|ld\.lld|ninja|make|cmake|clang|clang\+\+|rustc)$/ { n[$1]++ }
    END { for (k in n) printf "%s%s x%d", (c++ ? ", " : ""), k, n[k] }'
}
NOTES=()
BUSY_PHASES=()
note_builders() {  # PHASE
  local b
  b=$(builders)
  [ -n "$b" ] && { log "WARNING: build processes running during $1: $b"; BUSY_PHASES+=("$1 ($b)"); }
}
WAIT_QUIET=${BENCH_WAIT_QUIET:-0}
BUSY_START=$(cpu_busy)
waited=0
while { [ -n "$(builders)" ] || ((BUSY_START > 15)); } && ((waited < WAIT_QUIET)); do
  ((waited == 0)) && log "waiting up to ${WAIT_QUIET}s for the machine to go idle (CPU ${BUSY_START}% busy; builders: $(builders))"
  sleep 4
  waited=$((waited + 5))
  BUSY_START=$(cpu_busy)
done
if [ -n "$(builders)" ] || ((BUSY_START > 15)); then
  log "WARNING: machine is busy before the run (CPU ${BUSY_START}%; builders: $(builders)); numbers will be skewed"
  NOTES+=("the machine was busy when the run started (CPU ${BUSY_START}% busy; build processes: $(builders))")
fi

read -r UP_PORT SSE_PORT PROXY_PORT SLOW_PORT < <(node "$BENCH/freeports.js" 4)
[ -n "${SLOW_PORT:-}" ] || die "could not pick free ports"

# ------------------------------------------------------------ upstreams ----
render() {
  sed -e "s|@WORK@|$WORK|g" -e "s|@UPSTREAM_PORT@|$UP_PORT|g" -e "s|@SSE_PORT@|$SSE_PORT|g" \
    -e "s|@PROXY_PORT@|$PROXY_PORT|g" -e "s|@PROXY_WORKERS@|$PROXY_WORKERS|g" \
    -e "s|@UPSTREAM_WORKERS@|$UPSTREAM_WORKERS|g" -e "s|@JSON_CHUNKED@|$JSON_CHUNKED|g" "$1" > "$2"
}
start_nginx() {  # NAME TEMPLATE PORT
  local conf="$WORK/nginx-$1.conf"
  render "$2" "$conf"
  "$NGINX" -t -q -p "$WORK" -e "$WORK/nginx-$1.error.log" -c "$conf" 2>"$WORK/nginx-$1.t.log" ||
    die "nginx $1 config invalid: $(cat "$WORK/nginx-$1.t.log")"
  "$NGINX" -p "$WORK" -e "$WORK/nginx-$1.error.log" -c "$conf" -g 'daemon off;' 2>>"$WORK/nginx-$1.error.log" &
  PIDS+=($!)
  wait_port "$3" "nginx $1" $!
}
log "canned upstream on :$UP_PORT (JSON) and :$SSE_PORT (SSE), nginx proxy on :$PROXY_PORT, slow SSE on :$SLOW_PORT"
start_nginx upstream "$BENCH/nginx-upstream.conf.in" "$UP_PORT"
wait_port "$SSE_PORT" "nginx upstream (SSE)" "${PIDS[-1]}"
start_nginx proxy "$BENCH/nginx-proxy.conf.in" "$PROXY_PORT"
node "$BENCH/slow_sse.js" "$SLOW_PORT" 500 20 >"$WORK/slow_sse.log" 2>&1 &
PIDS+=($!)
wait_port "$SLOW_PORT" "slow SSE upstream" $!

# ------------------------------------------------------------- tollgate ----
DB="$WORK/ledger.db"
cat >"$WORK/tollgate.yaml" <<EOF
# generated by bench/run.sh
server:
  listen: 127.0.0.1:0
  threads: $TG_THREADS
ledger:
  path: $DB
pricing:
  overrides:
    - model: bench-model
      input: 0.15
      output: 0.60
providers:
  - name: canned
    type: openai-compatible
    base_url: http://127.0.0.1:$UP_PORT/v1
    api_key: sk-bench-upstream
    max_retries: 0
  - name: canned-sse
    type: openai-compatible
    base_url: http://127.0.0.1:$SSE_PORT/v1
    api_key: sk-bench-upstream
    max_retries: 0
  - name: slow-sse
    type: openai-compatible
    base_url: http://127.0.0.1:$SLOW_PORT/v1
    api_key: sk-bench-upstream
    max_retries: 0
models:
  - name: bench-model
    deployments:
      - provider: canned
        model: bench-model
  - name: bench-stream
    deployments:
      - provider: canned-sse
        model: bench-model
  - name: bench-slow
    deployments:
      - provider: slow-sse
        model: bench-model
EOF
"$TOLLGATE_BIN" serve --config "$WORK/tollgate.yaml" --listen 127.0.0.1:0 --db "$DB" \
  >"$WORK/tollgate.out" 2>"$WORK/tollgate.err" &
TG_PID=$!
PIDS+=("$TG_PID")
TG_URL=
for _ in $(seq 100); do
  TG_URL=$(grep -o 'http://[^ ]*' "$WORK/tollgate.out" 2>/dev/null | head -1)
  [ -n "$TG_URL" ] && break
  kill -0 "$TG_PID" 2>/dev/null || die "tollgate exited during start-up: $(cat "$WORK/tollgate.err")"
  sleep 0.1
done
[ -n "$TG_URL" ] || die "tollgate did not print its listening line"
sleep 1
IDLE_RSS=$(rss_kb "$TG_PID")
log "tollgate pid $TG_PID at $TG_URL, idle RSS $(mib "$IDLE_RSS") MiB"

DIRECT_URL="http://127.0.0.1:$UP_PORT"
NGINX_URL="http://127.0.0.1:$PROXY_PORT"
TG_REQUESTS=0     # requests tollgate answered that the client saw complete
TG_SLACK=0        # requests possibly cut off when wrk stopped (at most one per connection)

ledger_count() { sqlite3 -cmd '.timeout 5000' "$DB" 'SELECT count(*) FROM requests;' 2>/dev/null || echo 0; }
# Waits until the ledger row count stops changing (rows are written in ~100 ms batches).
settle_ledger() {
  local last=-1 now stable=0
  for _ in $(seq 100); do
    now=$(ledger_count)
    if [ "$now" = "$last" ]; then ((++stable >= 3)) && break; else stable=0; fi
    last=$now
    sleep 0.1
  done
  echo "$last"
}

tg_alive() {
  kill -0 "$TG_PID" 2>/dev/null || die "tollgate died ($1): $(tail -5 "$WORK/tollgate.err" | tr "\n" " ")"
}

# ------------------------------------------------------------ smoke test ----
BODY='{"model":"bench-model","messages":[{"role":"user","content":"Say hello in five words."}],"max_tokens":16}'
for target in "direct:$DIRECT_URL" "nginx:$NGINX_URL"; do
  curl -sS -f -X POST -H 'content-type: application/json' -d "$BODY" "${target#*:}/v1/chat/completions" |
    grep -q '"object":"chat.completion"' || die "${target%%:*} did not serve the canned completion"
done
curl -sS -D "$WORK/smoke.h" -o "$WORK/smoke.b" -X POST -H 'content-type: application/json' \
  -H 'authorization: Bearer sk-bench-client-key' -d "$BODY" "$TG_URL/v1/chat/completions" ||
  die "tollgate smoke request failed"
TG_REQUESTS=$((TG_REQUESTS + 1))
head -1 "$WORK/smoke.h" | grep -q ' 200' || die "tollgate smoke request: $(head -1 "$WORK/smoke.h") $(cat "$WORK/smoke.b")"
SMOKE_COST=$(tr -d '\r' <"$WORK/smoke.h" | awk -F': ' 'tolower($1) == "x-tollgate-cost-usd" { print $2 }')
[[ "$SMOKE_COST" =~ ^[0-9.]+$ ]] || die "tollgate smoke request: x-tollgate-cost-usd is '$SMOKE_COST', expected a price"
curl -sS -N -X POST -H 'content-type: application/json' \
  -d '{"model":"bench-stream","stream":true,"messages":[{"role":"user","content":"hi"}]}' \
  "$TG_URL/v1/chat/completions" >"$WORK/smoke-stream.txt" || die "tollgate streaming smoke request failed"
TG_REQUESTS=$((TG_REQUESTS + 1))
grep -q '^data: \[DONE\]' "$WORK/smoke-stream.txt" && grep -q '^: tollgate cost_usd=[0-9.]* ' "$WORK/smoke-stream.txt" ||
  die "tollgate streaming smoke: no [DONE]/cost comment: $(cat "$WORK/smoke-stream.txt")"
grep -q '"choices":\[\],' "$WORK/smoke-stream.txt" && fail "tollgate forwarded the injected usage-only chunk"
log "smoke ok (cost per canned request: \$$SMOKE_COST)"

# ------------------------------------------------------------------ wrk ----
declare -A R
# run_wrk KEY NAME URL THREADS CONNS SECONDS -> R[KEY.requests], R[KEY.p50_us], ...
run_wrk() {
  local key=$1 name=$2 url=$3 threads=$4 conns=$5 secs=$6 out="$WORK/wrk-$1.txt" line kv before after
  [ "$name" = tollgate ] && before=$(settle_ledger)
  "${WRK_PIN[@]}" wrk -t"$threads" -c"$conns" -d"${secs}s" --timeout 5s -s "$BENCH/post.lua" "$url/v1/chat/completions" >"$out" 2>&1 ||
    die "wrk against $name failed: $(cat "$out")"
  tg_alive "during wrk $key"
  note_builders "wrk $key"
  line=$(grep '^BENCH_RESULT' "$out") || die "wrk against $name printed no summary: $(cat "$out")"
  for kv in ${line#BENCH_RESULT }; do R[$key.${kv%%=*}]=${kv#*=}; done
  R[$key.rps]=$(calc "${R[$key.requests]} / (${R[$key.duration_us]} / 1e6)" 0)
  local errs=$((R[$key.connect_err] + R[$key.read_err] + R[$key.write_err] + R[$key.timeout_err] + R[$key.status_err]))
  if grep -q 'Non-2xx' "$out" || ((errs > 0)); then
    fail "$name ($key): wrk saw errors: $(grep -E 'Non-2xx|Socket errors' "$out" | tr '\n' ' ') [$line]"
  fi
  if [ "$name" = tollgate ]; then
    TG_REQUESTS=$((TG_REQUESTS + R[$key.requests]))
    TG_SLACK=$((TG_SLACK + conns))
    local t_end
    t_end=$(date +%s%N)
    R[$key.rows_at_end]=$(( $(ledger_count) - before ))
    after=$(settle_ledger)
    R[$key.settle_ms]=$(( ($(date +%s%N) - t_end) / 1000000 ))
    R[$key.ledger_rows]=$((after - before))
    if ((R[$key.ledger_rows] < R[$key.requests] || R[$key.ledger_rows] > R[$key.requests] + conns)); then
      fail "ledger rows for $key: $((after - before)), wrk completed ${R[$key.requests]} requests (expected that, up to +$conns cut off at the end)"
    fi
  fi
  log "$(printf '%-16s %-8s %8s req  %8s req/s  p50 %6s us  p99 %6s us  errors %s' "$key" "$name" \
    "${R[$key.requests]}" "${R[$key.rps]}" "${R[$key.p50_us]}" "${R[$key.p99_us]}" "$errs")"
}

# pin_all CPUSET [LEDGER_CPU]: pins every process this script started (all
# threads, nginx workers too) to CPUSET.
# With LEDGER_CPU, tollgate threads whose name contains "ledger" (the SQLite
# writer, if it names itself) go there instead: the writer is off the request path, and on
# a shared CPU its batch commits would show up as request latency.
pin_all() {
  local pid p t
  for pid in "${PIDS[@]}"; do
    for p in $pid $(pgrep -P "$pid"); do taskset -a -p -c "$1" "$p" >/dev/null 2>&1; done
  done
  [ -n "${2:-}" ] || return 0
  for t in /proc/"$TG_PID"/task/*; do
    grep -qi ledger "$t/comm" 2>/dev/null && taskset -p -c "$2" "${t##*/}" >/dev/null 2>&1
  done
  return 0
}
PIN_LATENCY=${BENCH_PIN_LATENCY:-1}
WRK_PIN=()
if [ "$PIN_LATENCY" = 1 ] && command -v taskset >/dev/null; then
  pin_all 0 "$(($(nproc) - 1))"
  WRK_PIN=(taskset -c 0)
  LAT_MODE="wrk and all servers pinned to CPU 0"
else
  PIN_LATENCY=0
  LAT_MODE="unpinned"
fi
log "latency: 1 connection, 1 thread, ${DURATION}s each (after ${WARMUP}s warm-up), $LAT_MODE"
for t in direct nginx tollgate; do
  case $t in direct) u=$DIRECT_URL ;; nginx) u=$NGINX_URL ;; tollgate) u=$TG_URL ;; esac
  run_wrk "lat_warm_$t" "$t" "$u" 1 1 "$WARMUP"
  run_wrk "lat_$t" "$t" "$u" 1 1 "$DURATION"
done
# ----------------------------------------------------------------- TTFT ----
log "TTFT: $TTFT_N sequential streaming requests, direct vs through tollgate, $LAT_MODE"
TTFT_DIRECT=$("${WRK_PIN[@]}" node "$BENCH/ttft.js" "http://127.0.0.1:$SSE_PORT/v1/chat/completions" bench-model "$TTFT_N" 5 0) ||
  fail "TTFT direct: $TTFT_DIRECT"
TTFT_TG=$("${WRK_PIN[@]}" node "$BENCH/ttft.js" "$TG_URL/v1/chat/completions" bench-stream "$TTFT_N" 5 1) ||
  fail "TTFT through tollgate: $TTFT_TG"
TG_REQUESTS=$((TG_REQUESTS + TTFT_N + 5))
note_builders "the TTFT test"
jget() { node -e 'let o = {}; try { o = JSON.parse(process.argv[1]); } catch (e) {} const v = o[process.argv[2]]; console.log(v === null || v === undefined ? "-1" : v)' "$1" "$2"; }
TTFT_D_MED=$(calc "$(jget "$TTFT_DIRECT" median_ms)" 3)
TTFT_T_MED=$(calc "$(jget "$TTFT_TG" median_ms)" 3)
TTFT_D_P90=$(calc "$(jget "$TTFT_DIRECT" p90_ms)" 3)
TTFT_T_P90=$(calc "$(jget "$TTFT_TG" p90_ms)" 3)
log "TTFT median: direct ${TTFT_D_MED} ms, tollgate ${TTFT_T_MED} ms"

WRK_PIN=()
((PIN_LATENCY)) && pin_all "0-$(($(nproc) - 1))"
log "throughput: 50 connections, 2 threads, ${DURATION}s each (after ${WARMUP}s warm-up)"
for t in direct nginx tollgate; do
  case $t in direct) u=$DIRECT_URL ;; nginx) u=$NGINX_URL ;; tollgate) u=$TG_URL ;; esac
  run_wrk "tp_warm_$t" "$t" "$u" 2 50 "$WARMUP"
  run_wrk "tp_$t" "$t" "$u" 2 50 "$DURATION"
done
LOADED_RSS=$(rss_kb "$TG_PID")


# ------------------------------------------------------ 1,000 streams ----
log "memory: $STREAMS concurrent streams (slow upstream: a chunk every 500 ms for 10 s)"
before=$(settle_ledger)
STREAMS_OUT=$(node "$BENCH/streams.js" "$TG_URL/v1/chat/completions" bench-slow "$STREAMS" "$TG_PID" 90) ||
  fail "concurrent streams: not all $STREAMS completed: $STREAMS_OUT"
TG_REQUESTS=$((TG_REQUESTS + STREAMS))
tg_alive "during the concurrent streams"
note_builders "the concurrent-streams test"
after=$(settle_ledger)
STREAM_ROWS=$((after - before))
((STREAM_ROWS == STREAMS)) || fail "ledger rows for the $STREAMS streams: $STREAM_ROWS"
STREAMS_OK=$(jget "$STREAMS_OUT" ok)
STREAMS_MAXC=$(jget "$STREAMS_OUT" max_concurrent)
STREAMS_PEAK=$(jget "$STREAMS_OUT" peak_rss_kb)
STREAMS_ALLOPEN=$(jget "$STREAMS_OUT" rss_all_open_kb)
STREAMS_END=$(jget "$STREAMS_OUT" end_rss_kb)
log "streams: $STREAMS_OK/$STREAMS ok, max concurrent $STREAMS_MAXC, peak RSS $(mib "$STREAMS_PEAK") MiB"

# --------------------------------------------------------------- ledger ----
# Graceful stop: SIGTERM must flush every row and exit 0.
kill -TERM "$TG_PID"
wait "$TG_PID"
TG_RC=$?
((TG_RC == 0)) || fail "tollgate exited $TG_RC on SIGTERM; last stderr lines: $(tail -3 "$WORK/tollgate.err" | cut -c1-200 | tr "\n" " ")"
TOTAL_ROWS=$(ledger_count)
if ((TOTAL_ROWS < TG_REQUESTS || TOTAL_ROWS > TG_REQUESTS + TG_SLACK)); then
  fail "ledger holds $TOTAL_ROWS rows; clients completed $TG_REQUESTS requests (+ up to $TG_SLACK cut off by wrk)"
fi
BAD_ROWS=$(sqlite3 "$DB" "SELECT status || ' ' || coalesce(error_class, '-') || ': ' || count(*) FROM requests WHERE status <> 200 GROUP BY status, error_class;")
BAD_N=$(sqlite3 "$DB" "SELECT count(*) FROM requests WHERE status <> 200 AND NOT (status = 499 AND error_class = 'client_disconnect');")
CUT_N=$(sqlite3 "$DB" "SELECT count(*) FROM requests WHERE status = 499 AND error_class = 'client_disconnect';")
((BAD_N == 0)) || fail "ledger has $BAD_N failed requests: $(echo "$BAD_ROWS" | tr '\n' ';')"
((CUT_N <= TG_SLACK)) || fail "ledger has $CUT_N client disconnects, more than wrk's cut-off slack $TG_SLACK"
UNPRICED=$(sqlite3 "$DB" "SELECT count(*) FROM requests WHERE status = 200 AND cost_usd IS NULL;")
((UNPRICED == 0)) || fail "$UNPRICED successful rows have no cost"
LEDGER_COST=$(sqlite3 "$DB" "SELECT printf('%.6f', sum(cost_usd)) FROM requests;")
LEDGER_RPS=$(calc "${R[tp_tollgate.ledger_rows]} / (${R[tp_tollgate.duration_us]} / 1e6)" 0)
log "ledger: $TOTAL_ROWS rows (clients completed $TG_REQUESTS), $CUT_N cut off by wrk, total cost \$$LEDGER_COST"

log "ledger micro-benchmark: $LEDGER_ROWS rows into a fresh SQLite file with tollgate's schema"
MICRO=$(bash "$BENCH/ledger_micro.sh" "$DB" "$WORK" "$LEDGER_ROWS" 2048 random 2>&1) || fail "ledger micro-benchmark failed: $MICRO"
MICRO_RPS=$(sed -n 's/.*rows_per_s=\([0-9]*\).*/\1/p' <<<"$MICRO")
MICRO_S=$(sed -n 's/.*seconds=\([0-9.]*\).*/\1/p' <<<"$MICRO")
MICRO_N=$(sed -n 's/.*rows=\([0-9]*\).*/\1/p' <<<"$MICRO")
MICRO_ORD=$(bash "$BENCH/ledger_micro.sh" "$DB" "$WORK" "$LEDGER_ROWS" 2048 ordered 2>&1) || fail "ledger micro-benchmark (ordered ids) failed: $MICRO_ORD"
MICRO_ORD_RPS=$(sed -n 's/.*rows_per_s=\([0-9]*\).*/\1/p' <<<"$MICRO_ORD")
log "ledger micro-benchmark: $MICRO_RPS rows/s with random ids, $MICRO_ORD_RPS rows/s with time-ordered ids"

# -------------------------------------------------------------- results ----
ms() { calc "$1 / 1000" 3; }
P50_D=${R[lat_direct.p50_us]} P50_N=${R[lat_nginx.p50_us]} P50_T=${R[lat_tollgate.p50_us]}
ADD_N=$((P50_N - P50_D))
ADD_T=$((P50_T - P50_D))
if ((ADD_N > 0)); then RATIO=$(calc "$ADD_T / $ADD_N" 2); else RATIO=NaN; fi
TP_RATIO=$(calc "${R[tp_tollgate.rps]} / ${R[tp_nginx.rps]}" 2)
TTFT_ADD=$(calc "$TTFT_T_MED - $TTFT_D_MED" 3)
MISSED=()
verdict() {  # VAR EXPR MESSAGE
  if cond "$2"; then printf -v "$1" PASS; else printf -v "$1" '**FAIL**'; MISSED+=("$3"); fi
}
verdict V_LAT "\"$RATIO\" != \"NaN\" && $RATIO <= 1.5" "added p50 latency ratio $RATIO > 1.5"
verdict V_TP "$TP_RATIO >= 0.7" "throughput ratio $TP_RATIO < 0.7"
verdict V_IDLE "$IDLE_RSS < 30 * 1024" "idle RSS $(mib "$IDLE_RSS") MiB >= 30"
verdict V_STREAMS "$STREAMS_PEAK < 150 * 1024 && $STREAMS_OK == $STREAMS" "RSS with $STREAMS streams $(mib "$STREAMS_PEAK") MiB (ok $STREAMS_OK)"
verdict V_TTFT "$TTFT_ADD <= 1.0" "TTFT added $TTFT_ADD ms > 1 ms"
if ((TOTAL_ROWS >= TG_REQUESTS && TOTAL_ROWS <= TG_REQUESTS + TG_SLACK && BAD_N == 0)); then V_LEDGER=PASS; else V_LEDGER="**FAIL**"; fi

CPU=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
MEM=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
NGINX_V=$("$NGINX" -v 2>&1 | sed 's/^nginx version: //')
TG_V=$("$TOLLGATE_BIN" version 2>&1 | head -1)
TG_GIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')
[ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ] && TG_GIT="$TG_GIT+dirty"
WRK_V=$(wrk -v 2>&1 | head -1 | awk '{ print $2 }')

row3() { printf '| %s | %s | %s | %s |\n' "$1" "$2" "$3" "$4"; }
{
  echo "Run: $(date -u '+%Y-%m-%d %H:%M UTC') · machine: $(nproc) CPUs, $CPU, $MEM RAM, Linux $(uname -r)"
  echo "· $TG_V (git $TG_GIT, $TG_THREADS threads) · $NGINX_V ($PROXY_WORKERS workers as proxy, $UPSTREAM_WORKERS as canned upstream; JSON answer framing: $FRAMING, SSE: chunked)"
  echo "· wrk $WRK_V · node $(node --version) · sqlite3 $(sqlite3 --version | awk '{ print $1 }') · ${DURATION}s per wrk run after ${WARMUP}s warm-up · CPU ${BUSY_START}% busy just before the run"
  echo
  echo "| wrk, POST /v1/chat/completions | direct upstream | nginx proxy | tollgate |"
  echo "|---|---:|---:|---:|"
  row3 "p50 latency, 1 conn, $LAT_MODE (ms)" "$(ms "$P50_D")" "$(ms "$P50_N")" "$(ms "$P50_T")"
  row3 "p99 latency, 1 conn (ms)" "$(ms "${R[lat_direct.p99_us]}")" "$(ms "${R[lat_nginx.p99_us]}")" "$(ms "${R[lat_tollgate.p99_us]}")"
  row3 "added p50 vs direct (ms)" "–" "$(ms "$ADD_N")" "$(ms "$ADD_T")"
  row3 "requests/s, 1 conn" "${R[lat_direct.rps]}" "${R[lat_nginx.rps]}" "${R[lat_tollgate.rps]}"
  row3 "requests/s, 50 conns, 2 threads" "${R[tp_direct.rps]}" "${R[tp_nginx.rps]}" "${R[tp_tollgate.rps]}"
  row3 "p50 / p99 latency, 50 conns (ms)" "$(ms "${R[tp_direct.p50_us]}") / $(ms "${R[tp_direct.p99_us]}")" \
    "$(ms "${R[tp_nginx.p50_us]}") / $(ms "${R[tp_nginx.p99_us]}")" "$(ms "${R[tp_tollgate.p50_us]}") / $(ms "${R[tp_tollgate.p99_us]}")"
  row3 "wrk errors / non-2xx (all runs)" \
    "$(for k in lat_warm_direct lat_direct tp_warm_direct tp_direct; do echo $((R[$k.connect_err] + R[$k.read_err] + R[$k.write_err] + R[$k.timeout_err])) ${R[$k.status_err]}; done | awk '{ e += $1; s += $2 } END { print e " / " s }')" \
    "$(for k in lat_warm_nginx lat_nginx tp_warm_nginx tp_nginx; do echo $((R[$k.connect_err] + R[$k.read_err] + R[$k.write_err] + R[$k.timeout_err])) ${R[$k.status_err]}; done | awk '{ e += $1; s += $2 } END { print e " / " s }')" \
    "$(for k in lat_warm_tollgate lat_tollgate tp_warm_tollgate tp_tollgate; do echo $((R[$k.connect_err] + R[$k.read_err] + R[$k.write_err] + R[$k.timeout_err])) ${R[$k.status_err]}; done | awk '{ e += $1; s += $2 } END { print e " / " s }')"
  echo
  echo "| Target | Measured | Goal | Result |"
  echo "|---|---:|---:|:---:|"
  row3 "tollgate added p50 ÷ nginx added p50" "$RATIO× ($(ms "$ADD_T") vs $(ms "$ADD_N") ms)" "≤ 1.5×" "$V_LAT"
  row3 "tollgate ÷ nginx throughput, 50 conns" "$TP_RATIO× (${R[tp_tollgate.rps]} vs ${R[tp_nginx.rps]} req/s)" "≥ 0.7×" "$V_TP"
  row3 "tollgate idle RSS after start" "$(mib "$IDLE_RSS") MiB" "< 30 MiB" "$V_IDLE"
  row3 "tollgate peak RSS, $STREAMS concurrent streams" "$(mib "$STREAMS_PEAK") MiB ($STREAMS_OK/$STREAMS streams ok, $STREAMS_MAXC open at once)" "< 150 MiB" "$V_STREAMS"
  row3 "TTFT median, tollgate − direct ($TTFT_N streams, $LAT_MODE)" "$TTFT_ADD ms ($TTFT_T_MED vs $TTFT_D_MED ms)" "≤ ~1 ms" "$V_TTFT"
  row3 "ledger rows = requests served" "$TOTAL_ROWS rows for $TG_REQUESTS requests completed by the clients, + $((TOTAL_ROWS - TG_REQUESTS)) in flight when wrk stopped ($CUT_N of them logged as 499)" "equal" "$V_LEDGER"
  echo
  echo "Other observations:"
  echo
  echo "- Ledger rows sustained during the 50-connection run: **$LEDGER_RPS rows/s** (${R[tp_tollgate.ledger_rows]} rows for ${R[tp_tollgate.requests]} wrk requests; ${R[tp_tollgate.rows_at_end]} of them were already in the file when wrk exited; the count was stable ${R[tp_tollgate.settle_ms]} ms later, a figure that includes the script's ~300 ms stability check)."
  echo "- SQLite ceiling for the same schema, pragmas and 2048-row transactions (\`bench/ledger_micro.sh\`, sqlite3 CLI, no gateway): **$MICRO_RPS rows/s** ($MICRO_N rows in $MICRO_S s) with random ids; **$MICRO_ORD_RPS rows/s** with time-ordered ids (\`IDS=ordered\`, what tollgate's \`req_\` ids are: 48 bits of milliseconds then 48 random bits), which append to the primary-key B-tree instead of touching a random page per row."
  echo "- TTFT p90: direct $TTFT_D_P90 ms, tollgate $TTFT_T_P90 ms. The canned upstream sends the whole stream at once, so this is the gateway's own per-stream overhead."
  echo "- tollgate RSS: $(mib "$IDLE_RSS") MiB idle, $(mib "$LOADED_RSS") MiB after the wrk runs, $(mib "$STREAMS_ALLOPEN") MiB when all $STREAMS streams had their first chunk, $(mib "$STREAMS_END") MiB after they finished."
  echo "- Total metered cost recorded: \$$LEDGER_COST across $TOTAL_ROWS rows; every successful row priced (no unknown costs). SIGTERM exit status: $TG_RC."
  if ((${#BUSY_PHASES[@]})); then
    NOTES+=("build processes were running during ${#BUSY_PHASES[@]} measured phases, so their numbers are skewed: $(printf '%s; ' "${BUSY_PHASES[@]}" | sed 's/; $//')")
  fi
  if ((${#NOTES[@]})); then
    echo
    echo "**Measurement caveats for this run:**"
    echo
    for f in "${NOTES[@]}"; do echo "- $f"; done
  fi
  if ((${#FAILURES[@]})); then
    echo
    echo "**Correctness failures in this run:**"
    echo
    for f in "${FAILURES[@]}"; do echo "- $f"; done
  fi
} >"$WORK/results.md"

echo
cat "$WORK/results.md"
echo

if [ "$WRITE_DOC" = 1 ]; then
  if [ -f "$DOC" ] && grep -q '<!-- bench:start -->' "$DOC" && grep -q '<!-- bench:end -->' "$DOC"; then
    awk -v f="$WORK/results.md" '
      /<!-- bench:start -->/ { print; while ((getline l < f) > 0) print l; skip = 1; next }
      /<!-- bench:end -->/ { skip = 0 }
      !skip { print }' "$DOC" >"$DOC.tmp" && mv "$DOC.tmp" "$DOC"
  else
    { [ -f "$DOC" ] && cat "$DOC" && echo
      echo "## Results"; echo; echo '<!-- bench:start -->'; cat "$WORK/results.md"; echo '<!-- bench:end -->'; } >"$DOC.tmp" &&
      mv "$DOC.tmp" "$DOC"
  fi
  log "results written to ${DOC#"$ROOT"/}"
fi

if ((${#FAILURES[@]})); then
  log "${#FAILURES[@]} correctness failure(s):"
  for f in "${FAILURES[@]}"; do log "  - $f"; done
  exit 1
fi
if ((${#MISSED[@]})); then
  log "targets missed: ${MISSED[*]}"
  [ "${BENCH_STRICT:-0}" = 1 ] && exit 2
fi
log "done"
exit 0
