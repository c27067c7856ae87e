#!/usr/bin/env bash
# Pika benchmark (make bench-pika; docs/performance.md):
#  - the stream: binlog items decoded, rewritten and encoded as RESP commands on one core
#    (`cargo bench --bench pika -- decode`);
#  - the dump reader: a Pika 4.x dump of N mixed keys (default 1,000,000; written once with
#    the testkit's Pika writer into bench-data/pika-N) read by `read_dump` on one thread
#    (`cargo bench --bench pika -- read DIR`);
#  - the full copy: that dump served by the mock Pika master (RsyncService), fetched and
#    copied by `replicant sync --once` into a fresh redis-server; then, for comparison, the
#    Redis full sync of the same keys: `replicant sync --once` from that redis-server (which
#    now holds exactly them) into another fresh one. Both timed from start to exit; the
#    Pika copy's peak RSS measured with /usr/bin/time when it is installed.
# Each full copy runs RUNS times (default 3), interleaved; prints a Markdown row per round
# and the medians. Usage: [RUNS=3] scripts/bench-pika.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
RUNS=${RUNS:-3}
DATA=${REPLICANT_BENCH_DATA:-$PWD/bench-data}/pika-$N

cargo build --release --quiet
BIN=${CARGO_TARGET_DIR:-$PWD/target}/release/replicant
# shellcheck source=scripts/servers.sh
source scripts/servers.sh
# shellcheck source=scripts/mock-copy-rounds.sh
source scripts/mock-copy-rounds.sh

cargo bench --quiet --bench pika -- decode

if [ ! -f "$DATA/meta.txt" ]; then
  rm -rf "$DATA"; mkdir -p "$DATA"
  cargo bench --quiet --bench pika -- dump "$DATA" "$N"
fi
# Before the mock serves it: opening the dump rewrites RocksDB's own LOG/MANIFEST/OPTIONS files.
cargo bench --quiet --bench pika -- read "$DATA"

mock_copy_rounds pika "Pika dump"
