#!/usr/bin/env bash
# Generates the RDB files the parse benchmark reads, into bench-data/ (or
# $REPLICANT_BENCH_DATA), unless they are already there. Each data set is written by a
# throwaway redis-server (the one on PATH, or $REPLICANT_REDIS_SERVER) on a free
# loopback port with its own temp dir and `--save ""`, filled with deterministic data
# over one pipelined connection, then SAVEd. The generator lives in
# benches/parse/datagen.rs; `cargo bench --bench parse` also runs it for missing files.
#
#   scripts/gen-bench-rdb.sh           # generate the missing files
#   scripts/gen-bench-rdb.sh --force   # delete and regenerate all of them
#
# Needs redis-server (Debian: apt-get install redis-server) and about 1.4 GB of disk.
set -euo pipefail

cd "$(dirname "$0")/.."
data="${REPLICANT_BENCH_DATA:-$PWD/bench-data}"

if [[ "${1:-}" == "--force" ]]; then
    rm -f "$data"/*.rdb "$data"/*.txt
elif [[ $# -gt 0 ]]; then
    echo "usage: $0 [--force]" >&2
    exit 2
fi

if ! command -v "${REPLICANT_REDIS_SERVER:-redis-server}" >/dev/null 2>&1; then
    echo "redis-server not found: install it (apt-get install -y redis-server) or set REPLICANT_REDIS_SERVER" >&2
    exit 1
fi

REPLICANT_BENCH_DATA="$data" cargo bench --bench parse -- --generate
ls -l "$data"/*.rdb
