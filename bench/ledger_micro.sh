#!/usr/bin/env bash
# SQLite ceiling for tollgate's ledger, no C++ needed: inserts ROWS rows into a
# fresh database holding the exact `requests` table (and its indexes) of an
# existing tollgate ledger, with the same pragmas (WAL, synchronous=NORMAL) and
# batch size (one BEGIN IMMEDIATE transaction per BATCH rows). Each row is a
# copy of a real row from that ledger with a fresh random req_<24 hex> id, so
# the primary-key B-tree sees random inserts like in production.
# This measures SQLite on this disk, not tollgate's writer thread; the
# end-to-end ledger rate is measured by bench/run.sh through the gateway.
# IDS=ordered instead gives ids that grow with time (req_<24 digits>), so every
# insert appends to the right edge of the B-tree: what time-ordered request ids
# would buy.
# usage: bench/ledger_micro.sh SOURCE_LEDGER.db WORK_DIR [ROWS=200000] [BATCH=2048] [IDS=random|ordered]
# prints: rows=N seconds=S rows_per_s=R
set -euo pipefail
src=$1
work=$2
rows=${3:-200000}
batch=${4:-2048}
ids=${5:-random}
db="$work/ledger-micro.db"
sql="$work/ledger-micro.sql"
rm -f "$db" "$db-wal" "$db-shm"
schema=$(sqlite3 "$src" "SELECT sql || ';' FROM sqlite_master WHERE tbl_name = 'requests' AND sql IS NOT NULL ORDER BY type DESC;")
[ -n "$schema" ] || { echo "ledger_micro: no requests table in $src" >&2; exit 1; }
cols=$(sqlite3 "$src" "SELECT group_concat(name, ', ') FROM pragma_table_info('requests') WHERE name NOT IN ('id', 'ts_start_ms', 'ts_end_ms');")
sqlite3 "$db" "PRAGMA journal_mode=WAL;" >/dev/null
sqlite3 "$db" "$schema"
sqlite3 "$db" "ATTACH '$src' AS src; CREATE TABLE tmpl AS SELECT * FROM src.requests WHERE status = 200 LIMIT 1;"
[ "$(sqlite3 "$db" 'SELECT count(*) FROM tmpl;')" = 1 ] || { echo "ledger_micro: no successful row in $src to copy" >&2; exit 1; }
batches=$(( (rows + batch - 1) / batch ))
case $ids in
  random) id_expr() { echo "'req_' || lower(hex(randomblob(12)))"; } ;;
  ordered) id_expr() { echo "printf('req_%024d', $1 + i)"; } ;;
  *) echo "ledger_micro: IDS must be random or ordered" >&2; exit 1 ;;
esac
{
  echo "PRAGMA synchronous=NORMAL;"
  for ((b = 0; b < batches; b++)); do
    cat <<SQL
BEGIN IMMEDIATE;
INSERT INTO requests (id, ts_start_ms, ts_end_ms, $cols)
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < $batch)
SELECT $(id_expr $((b * batch))), ts_start_ms + $((b * batch)) + i, ts_end_ms + $((b * batch)) + i, $cols
FROM tmpl, c;
COMMIT;
SQL
  done
} > "$sql"
t0=$(date +%s%N)
sqlite3 "$db" < "$sql"
t1=$(date +%s%N)
n=$(sqlite3 "$db" "SELECT count(*) FROM requests;")
awk -v n="$n" -v ns="$((t1 - t0))" 'BEGIN { s = ns / 1e9; printf "rows=%d seconds=%.3f rows_per_s=%.0f\n", n, s, n / s }'
