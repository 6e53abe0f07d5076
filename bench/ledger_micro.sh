#!/usr/bin/env bash
# SQLite ceiling for tollgate's ledger, no C++ needed: inserts ROWS rows into a
# fresh database with the exact schema of an existing tollgate ledger (copied
# with .schema), the same pragmas (WAL, synchronous=NORMAL) and the same batch
# size (one BEGIN IMMEDIATE transaction per BATCH rows, random 24-hex ids like
# req_<hex> so the primary-key B-tree sees random inserts).
# This measures SQLite on this disk, not tollgate's writer thread; the
# end-to-end ledger rate is measured by bench/run.sh through the gateway.
# usage: bench/ledger_micro.sh SOURCE_LEDGER.db WORK_DIR [ROWS=200000] [BATCH=2048]
# prints: rows=N seconds=S rows_per_s=R
set -euo pipefail
src=$1
work=$2
rows=${3:-200000}
batch=${4:-2048}
db="$work/ledger-micro.db"
sql="$work/ledger-micro.sql"
rm -f "$db" "$db-wal" "$db-shm"
schema=$(sqlite3 "$src" .schema)
[ -n "$schema" ] || { echo "ledger_micro: no schema in $src" >&2; exit 1; }
sqlite3 "$db" "PRAGMA journal_mode=WAL;" >/dev/null
sqlite3 "$db" "$schema"
batches=$(( (rows + batch - 1) / batch ))
{
  echo "PRAGMA synchronous=NORMAL;"
  for ((b = 0; b < batches; b++)); do
    base=$((1700000000000 + b * batch))
    cat <<SQL
BEGIN IMMEDIATE;
INSERT INTO requests (id, ts_start_ms, ts_end_ms, endpoint, api_key, user, project, tags,
  requested_model, served_model, provider, status, error_class, input_tokens, cache_read_tokens,
  cache_write_5m_tokens, cache_write_1h_tokens, output_tokens, reasoning_tokens, input_cost_usd,
  cache_read_cost_usd, cache_write_cost_usd, output_cost_usd, reasoning_cost_usd, cost_usd,
  latency_ms, ttft_ms, streamed, estimated, retries, fallbacks, price_version)
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < $batch)
SELECT 'req_' || lower(hex(randomblob(12))), $base + i, $base + i + 3, 'chat.completions',
  'key_0123456789ab', 'bench', 'bench-project', 'a,b', 'bench-model', 'bench-model', 'canned', 200, NULL,
  14, 0, 0, 0, 9, 0, 0.0000021, 0, 0, 0.0000054, 0, 0.0000075, 0.42, NULL, 0, 0, 0, 0, 'bench'
FROM c;
COMMIT;
SQL
  done
} > "$sql"
t0=$(date +%s%N)
sqlite3 "$db" < "$sql"
t1=$(date +%s%N)
n=$(sqlite3 "$db" "SELECT count(*) FROM requests;")
awk -v n="$n" -v ns="$((t1 - t0))" 'BEGIN { s = ns / 1e9; printf "rows=%d seconds=%.3f rows_per_s=%.0f\n", n, s, n / s }'
