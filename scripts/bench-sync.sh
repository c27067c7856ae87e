#!/usr/bin/env bash
# Full-sync benchmark (make bench-sync): replicant `sync --once` side by side with
#  - `replicant rdb restore` of the master's saved RDB (the same writer, the file as source);
#  - `redis-cli --pipe` of the same commands (replicant's own conversion, dumped to a
#    file beforehand): the target's ingest limit;
#  - a native replica (`redis-server --replicaof`), timed until its link is up and the
#    data loaded.
# Datasets: 2M small string keys, and 200 collections of 50k elements (lists, sets,
# sorted sets, hashes). Every run uses a fresh target; each of the four runs RUNS times
# (default 3), interleaved. Prints a Markdown row per round and the medians.
# With BENCH_PIN=1 (two or more CPUs) the target and the native replica run on CPU 0, everything
# else on the others (see servers.sh).
# Usage: [RUNS=3] scripts/bench-sync.sh [small] [collections]   (default: both)
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --quiet
BIN=$PWD/target/release/replicant
# shellcheck source=scripts/servers.sh
source scripts/servers.sh
start() { start_other "$@"; }
stop() { stop_server "$1"; }
now() { date +%s.%N; }
cpu_of() { redis-cli -p "$1" INFO cpu | tr -d '\r' | awk -F: '/^used_cpu_(user|sys):/{s+=$2} END{print s}'; }
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END{print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
RUNS=${RUNS:-3}

fill_small() { redis-cli -p "$1" DEBUG POPULATE 2000000 key 32 >/dev/null; }

fill_collections() { # 200 collections of 50k elements, 50 of each type
  python3 - "$1" <<'PY'
import sys
sys.path.insert(0, "scripts")
from resp import command as cmd
buf = []
for c in range(200):
    kind = c % 4
    for start in range(0, 50000, 1000):
        items = range(start, start + 1000)
        if kind == 0:
            buf.append(cmd("RPUSH", f"list:{c}", *[f"item-{i}" for i in items]))
        elif kind == 1:
            buf.append(cmd("SADD", f"set:{c}", *[f"member-{i}" for i in items]))
        elif kind == 2:
            args = []
            for i in items:
                args += [i * 1.5, f"m-{i}"]
            buf.append(cmd("ZADD", f"zset:{c}", *args))
        else:
            args = []
            for i in items:
                args += [f"field-{i}", f"value-{i}"]
            buf.append(cmd("HSET", f"hash:{c}", *args))
sys.stdout.buffer.write(b"".join(buf))
PY
}

measure() { # dataset-name fill-function
  local name=$1 fill=$2
  local src; src=$(free_port)
  start src "$src" --repl-diskless-sync-delay 0 --repl-backlog-size 64mb
  if [ "$fill" = fill_collections ]; then fill_collections "$src" | redis-cli -p "$src" --pipe >/dev/null; else fill_small "$src"; fi
  redis-cli -p "$src" SAVE >/dev/null
  local keys; keys=$(redis-cli -p "$src" DBSIZE)
  local digest; digest=$(redis-cli -p "$src" DEBUG DIGEST)
  "$BIN" rdb dump --mode auto --target-version 7.0 "$WORK/src/dump.rdb" > "$WORK/cmds.resp"
  local reps=() files=() pipes=() natives=() ratios=() file_ratios=()
  local round t a b c0 rep rep_cpu file pipe pipe_cpu native ratio file_ratio
  for round in $(seq "$RUNS"); do
    # replicant sync --once
    t=$(free_port); start_target "t1-$round" "$t"
    c0=$(cpu_of "$t"); a=$(now)
    "${OTHER_CPUS[@]}" "$BIN" sync --source "redis://127.0.0.1:$src" --target "redis://127.0.0.1:$t" --once 2>/dev/null
    b=$(now); rep_cpu=$(echo "$(cpu_of "$t") - $c0" | bc)
    [ "$(redis-cli -p "$t" DEBUG DIGEST)" = "$digest" ] || { echo "replicant copy differs"; exit 1; }
    rep=$(echo "$b - $a" | bc)
    stop "$t"

    # replicant rdb restore of the saved file
    t=$(free_port); start_target "t4-$round" "$t"
    a=$(now)
    "${OTHER_CPUS[@]}" "$BIN" rdb restore "$WORK/src/dump.rdb" --target "redis://127.0.0.1:$t" --progress never 2>/dev/null
    b=$(now)
    [ "$(redis-cli -p "$t" DEBUG DIGEST)" = "$digest" ] || { echo "rdb restore copy differs"; exit 1; }
    file=$(echo "$b - $a" | bc)
    stop "$t"

    # redis-cli --pipe of the same commands
    t=$(free_port); start_target "t2-$round" "$t"
    c0=$(cpu_of "$t"); a=$(now)
    "${OTHER_CPUS[@]}" redis-cli -p "$t" --pipe < "$WORK/cmds.resp" >/dev/null
    b=$(now); pipe_cpu=$(echo "$(cpu_of "$t") - $c0" | bc)
    [ "$(redis-cli -p "$t" DEBUG DIGEST)" = "$digest" ] || { echo "redis-cli copy differs"; exit 1; }
    pipe=$(echo "$b - $a" | bc)
    stop "$t"

    # native replica
    t=$(free_port)
    a=$(now)
    start_target "t3-$round" "$t" --replicaof 127.0.0.1 "$src"
    until redis-cli -p "$t" INFO replication | grep -q "master_link_status:up" \
          && redis-cli -p "$t" INFO persistence | grep -q '^loading:0'; do sleep 0.01; done
    b=$(now)
    [ "$(redis-cli -p "$t" DEBUG DIGEST)" = "$digest" ] || { echo "replica copy differs"; exit 1; }
    native=$(echo "$b - $a" | bc)
    stop "$t"
    ratio=$(echo "$rep / $pipe" | bc -l)
    file_ratio=$(echo "$file / $pipe" | bc -l)
    reps+=("$rep"); files+=("$file"); pipes+=("$pipe"); natives+=("$native"); ratios+=("$ratio")
    file_ratios+=("$file_ratio")
    printf '| %s (%s keys) | %.2f s | %.2f s | %.2f s | %.2f s | %.2f s | %.2f s | %.2f× | %.2f× |\n' "$name" "$keys" \
      "$rep" "$rep_cpu" "$file" "$pipe" "$pipe_cpu" "$native" "$ratio" "$file_ratio"
  done
  stop "$src"
  printf '| %s, median of %s | %.2f s | | %.2f s | %.2f s | | %.2f s | %.2f× | %.2f× |\n' "$name" "$RUNS" \
    "$(median "${reps[@]}")" "$(median "${files[@]}")" "$(median "${pipes[@]}")" "$(median "${natives[@]}")" \
    "$(median "${ratios[@]}")" "$(median "${file_ratios[@]}")"
}

echo "| dataset | replicant sync --once | target CPU meanwhile | replicant rdb restore | redis-cli --pipe (same commands) | target CPU meanwhile | native replica | sync / pipe | restore / pipe |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
sets=("$@"); [ ${#sets[@]} -gt 0 ] || sets=(small collections)
for set in "${sets[@]}"; do
  case $set in
    small) measure "2M small keys" fill_small ;;
    collections) measure "200 collections of 50k" fill_collections ;;
    *) echo "unknown dataset $set (small, collections)"; exit 2 ;;
  esac
done
