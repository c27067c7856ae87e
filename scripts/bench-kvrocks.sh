#!/usr/bin/env bash
# Kvrocks benchmark (make bench-kvrocks; docs/performance.md):
#  - the stream: WriteBatches decoded and converted to RESP commands on one core
#    (`cargo bench --bench kvrocks -- decode`);
#  - the full copy: a checkpoint of N mixed keys (default 1,000,000; written once with the
#    testkit's Kvrocks writer into bench-data/kvrocks-N) served by the mock Kvrocks master,
#    copied by `replicant sync --once` into a fresh redis-server; then, for comparison, the
#    Redis full sync of the same keys: `replicant sync --once` from that redis-server (which
#    now holds exactly them) into another fresh one. Both timed from start to exit; the
#    Kvrocks copy's peak RSS measured with /usr/bin/time when it is installed.
# Each full copy runs RUNS times (default 3), interleaved; prints a Markdown row per round
# and the medians. Usage: [RUNS=3] scripts/bench-kvrocks.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
RUNS=${RUNS:-3}
DATA=${REPLICANT_BENCH_DATA:-$PWD/bench-data}/kvrocks-$N

cargo build --release --quiet
BIN=${CARGO_TARGET_DIR:-$PWD/target}/release/replicant
# shellcheck source=scripts/servers.sh
source scripts/servers.sh
# shellcheck source=scripts/mock-copy-rounds.sh
source scripts/mock-copy-rounds.sh

cargo bench --quiet --bench kvrocks -- decode

if [ ! -f "$DATA/meta.txt" ]; then
  rm -rf "$DATA"; mkdir -p "$DATA"
  cargo bench --quiet --bench kvrocks -- checkpoint "$DATA" "$N"
fi

mock_copy_rounds kvrocks "Kvrocks checkpoint"
