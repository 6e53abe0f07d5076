#!/usr/bin/env bash
# Installs everything tollgate needs to build, run and test on Debian 12, as
# root. Safe to re-run: it installs only what is missing.
set -euo pipefail

PKGS=(
  build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev
  libboost-dev libssl-dev libsqlite3-dev libyaml-cpp-dev rapidjson-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev libhnswlib-dev
  libpq-dev postgresql libhiredis-dev redis-server nginx-light
  sqlite3 openssl ca-certificates nodejs npm chromium
)
if [[ "${1:-}" == "--bench" ]]; then PKGS+=(wrk); fi

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# node/npm may come from elsewhere on a developer machine; accept them if present.
if command -v node >/dev/null && command -v npm >/dev/null; then
  tmp=(); for p in "${missing[@]}"; do [[ "$p" == nodejs || "$p" == npm ]] || tmp+=("$p"); done; missing=("${tmp[@]}")
fi
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
