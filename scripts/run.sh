#!/usr/bin/env bash
# Command (a): install what is missing, build, and run `tollgate serve` on the
# bundled config with the SQLite ledger ./tollgate.db.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh build -DTOLLGATE_TESTS=OFF
echo "starting tollgate (Ctrl-C to stop); try:"
echo "  curl http://127.0.0.1:4000/v1/chat/completions -d '{\"model\":\"sim-small\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}'"
exec ./build/tollgate serve "$@"
