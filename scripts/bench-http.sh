#!/usr/bin/env bash
# The HTTP layer's speed, measured with wrk (-t2 -c64) on this machine:
# an authenticated GET /api/v1/me, and a page (50 rows) of the user list in a
# workspace of 10,000 users, on SQLite and on PostgreSQL.
# Usage: scripts/bench-http.sh [duration, default 15s]
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${1:-15s}
PG_ADMIN=${GUANXI_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
PG_URL="${PG_ADMIN%/*}/guanxi_bench"
ADDR=127.0.0.1:18091

cargo build --release -p guanxi --quiet
TARGET=$(cargo metadata --format-version 1 --no-deps | sed 's/.*"target_directory":"\([^"]*\)".*/\1/')
BIN="$TARGET/release/guanxi"
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }

measure() { # label, path, token
  local out
  out=$(wrk -t2 -c64 -d"$DUR" --latency -H "Authorization: Bearer $3" "http://$ADDR$2")
  printf '%-10s %-28s %10s req/s   p99 %s\n' "$1" "$2" "$(echo "$out" | awk '/Requests\/sec/ {print $2}')" "$(echo "$out" | awk '$1 == "99%" {print $2}')"
}

run() { # label, db args...
  local label=$1; shift
  "$BIN" gen --users 10000 "$@" >/dev/null
  local token
  token=$("$BIN" token create --email admin@guanxi.example --name bench "$@")
  RUST_LOG=warn "$BIN" serve --addr "$ADDR" "$@" >/dev/null &
  local pid=$!
  for _ in $(seq 1 50); do curl -sf "http://$ADDR/readyz" >/dev/null && break; sleep 0.2; done
  measure "$label" /api/v1/me "$token"
  measure "$label" "/api/v1/users?limit=50" "$token"
  kill -TERM "$pid"; wait "$pid" || true
}

DATA=$(mktemp -d)
trap 'rm -rf "$DATA"' EXIT
run sqlite --data-dir "$DATA"
psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS guanxi_bench WITH (FORCE)" -c "CREATE DATABASE guanxi_bench" >/dev/null
run postgres --database-url "$PG_URL"
psql "$PG_ADMIN" -qc "DROP DATABASE guanxi_bench WITH (FORCE)" >/dev/null
