#!/usr/bin/env bash
# The PostgreSQL ledger writer's throughput: starts a throwaway PostgreSQL
# server (Debian's postgresql package, default durability settings: fsync and
# synchronous_commit on) on a free loopback port in a temporary folder, runs
# ledger_bench against it, then stops and deletes it. As root, the server runs
# as the `postgres` user (it refuses root).
# Usage: bench/ledger_bench_pg.sh path/to/ledger_bench [ROWS] [PRODUCERS]
# (TIME_CMD="/usr/bin/time -v" in the environment also times the bench process.)
set -euo pipefail
bench=${1:?usage: $0 path/to/ledger_bench [ROWS] [PRODUCERS]}
rows=${2:-500000}
producers=${3:-2}
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
dir=$(mktemp -d /tmp/tollgate-pg-bench.XXXXXX)
as=()
if [[ $(id -u) == 0 ]]; then chown postgres: "$dir"; as=(runuser -u postgres --); fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cleanup() {
  "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
"${as[@]}" "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C >"$dir/initdb.log"
"${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
  -o "-p $port -k $dir -c listen_addresses=127.0.0.1" start >/dev/null
"${as[@]}" "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres bench
${TIME_CMD:-} "$bench" "$rows" "$producers" "postgres://postgres@127.0.0.1:$port/bench"
