#!/usr/bin/env bash
# Two builds of guanxi side by side: each generates its own workspace of
# 10,000 users (SQLite), serves it, and wrk alternates between them
# (../shared/ceilings/ratio.sh: A then B, CYCLES times) on an authenticated
# GET /api/v1/me and a page of the user list. Prints the ratio A/B per cycle
# and its median: a change's cost on the request path, free of the machine's
# drift between minutes.
# Usage: scripts/bench-http-ab.sh BIN_A BIN_B [cycles, default 3] [seconds, default 10]
set -euo pipefail
A_BIN=$(realpath "$1"); B_BIN=$(realpath "$2"); CYCLES=${3:-3}; SECS=${4:-10}
RATIO="$(cd "$(dirname "$0")/../.." && pwd)/shared/ceilings/ratio.sh"
[ -x "$RATIO" ] || { echo "needs $RATIO" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }
WORK=$(mktemp -d)
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null || true; rm -rf "$WORK"' EXIT

start() { # name, binary, port: generates, serves, writes the token
  local name=$1 bin=$2 port=$3
  "$bin" gen --users 10000 --data-dir "$WORK/$name" >/dev/null
  "$bin" token create --email admin@guanxi.example --name bench --data-dir "$WORK/$name" >"$WORK/$name.token"
  RUST_LOG=warn "$bin" serve --addr "127.0.0.1:$port" --data-dir "$WORK/$name" >/dev/null 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.2; done
}
script() { # name, path: a wrk script sending the path with the name's token
  printf 'local h = {["Authorization"] = "Bearer %s"}\nrequest = function() return wrk.format("GET", "%s", h) end\n' \
    "$(cat "$WORK/$1.token")" "$2" >"$WORK/$1-$3.lua"
  echo "$WORK/$1-$3.lua"
}
start a "$A_BIN" 18101
start b "$B_BIN" 18102
for which in "me /api/v1/me" "users /api/v1/users?limit=50"; do
  set -- $which
  echo "== $2 (A: $A_BIN, B: $B_BIN)"
  "$RATIO" "$CYCLES" "$SECS" "-s $(script a "$2" "$1") http://127.0.0.1:18101" "-s $(script b "$2" "$1") http://127.0.0.1:18102"
done
