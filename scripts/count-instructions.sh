#!/usr/bin/env bash
# Instructions replicant executes for a full sync (callgrind's "Collected"), the steadiest
# measure of its own CPU cost on a noisy VM: wall and CPU times move by ±30 % between runs,
# instruction counts by well under 1 %. Needs valgrind (apt-get install valgrind).
# Fills a source with KEYS small keys (DEBUG POPULATE KEYS key 32, default 200000), runs
# `replicant sync --once` under callgrind into a fresh target for each binary given
# (default: the release build), and prints the count per binary and per key.
# Usage: [KEYS=200000] scripts/count-instructions.sh [BINARY…]
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)"; exit 2; }
KEYS=${KEYS:-200000}
bins=("$@")
if [ ${#bins[@]} -eq 0 ]; then
  cargo build --release --quiet
  bins=("$PWD/target/release/replicant")
fi
# shellcheck source=scripts/servers.sh
source scripts/servers.sh
src=$(free_port)
start_server src "$src" --repl-diskless-sync-delay 0
redis-cli -p "$src" DEBUG POPULATE "$KEYS" key 32 >/dev/null
for bin in "${bins[@]}"; do
  t=$(free_port)
  start_server "t$t" "$t"
  valgrind --tool=callgrind --callgrind-out-file="$WORK/callgrind.out" "$bin" sync \
    --source "redis://127.0.0.1:$src" --target "redis://127.0.0.1:$t" --once >/dev/null 2>"$WORK/valgrind.log"
  [ "$(redis-cli -p "$t" DBSIZE)" = "$KEYS" ] || { echo "$bin: the target does not hold $KEYS keys"; exit 1; }
  n=$(grep -o 'Collected : [0-9]*' "$WORK/valgrind.log" | grep -o '[0-9]*$')
  printf '%s: %s instructions, %s per key\n' "$bin" "$n" "$((n / KEYS))"
  stop_server "$t"
done
