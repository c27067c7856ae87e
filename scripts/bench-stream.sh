#!/usr/bin/env bash
# Live-stream benchmark (make bench-stream): how fast replicant applies a master's write
# stream, against the target's ingest limit.
#  - replicant: attached and streaming (empty snapshot), then paused (SIGSTOP) while N
#    writes are piped into the source, so that the stream waits in the master's buffers;
#    timed from SIGCONT until replicant's INFO says applied_offset equals the master's
#    offset (everything acknowledged by the target). This measures replicant and the
#    target alone, not the source's ingest.
#  - the target's ingest limit: the same N commands piped straight into a fresh target.
#  - a native replica (`redis-server --replicaof`), paused and resumed the same way,
#    timed until its master_repl_offset equals the master's.
# Commands: 40% SET of 32-byte values over N keys, 20% INCR, 20% HSET, 20% RPUSH over
# 1000 keys each. With BENCH_PIN=1 (two or more CPUs) the target and the native replica run
# on CPU 0, everything else on the others (see servers.sh). Each of the three runs RUNS times (default 3), interleaved; prints a
# Markdown row per round and the medians. Usage: [RUNS=3] scripts/bench-stream.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
RUNS=${RUNS:-3}

cargo build --release --quiet
BIN=$PWD/target/release/replicant
# shellcheck source=scripts/servers.sh
source scripts/servers.sh
now() { date +%s.%N; }

python3 - "$N" > "$WORK/stream.resp" <<'PY'
import sys
sys.path.insert(0, "scripts")
from resp import command as cmd
n = int(sys.argv[1])
out = []
value = b"v" * 32
for i in range(n):
    k = i % 10
    if k < 4:
        out.append(cmd("SET", f"key:{i}", value))
    elif k < 6:
        out.append(cmd("INCR", f"counter:{i % 1000}"))
    elif k < 8:
        out.append(cmd("HSET", f"hash:{i % 1000}", f"field:{i}", i))
    else:
        out.append(cmd("RPUSH", f"list:{i % 1000}", i))
sys.stdout.buffer.write(b"".join(out))
PY

offset() { redis-cli -p "$1" INFO replication | tr -d '\r' | sed -n "s/^$2://p"; }

cpu_of() { redis-cli -p "$1" INFO cpu | tr -d '\r' | awk -F: '/^used_cpu_(user|sys):/{s+=$2} END{print s}'; }

# replicant: sets $rep (seconds) and $rep_cpu (the target's CPU seconds meanwhile)
run_replicant() {
  local src dst admin pid master a b c0
  src=$(free_port); start_other "src$1" "$src" --repl-diskless-sync-delay 0 --repl-backlog-size 512mb
  dst=$(free_port); start_target "dst$1" "$dst"
  admin=$(free_port)
  "${OTHER_CPUS[@]}" "$BIN" sync --source "redis://127.0.0.1:$src" --target "redis://127.0.0.1:$dst" --admin "127.0.0.1:$admin" \
    --progress never 2>"$WORK/replicant$1.log" &
  pid=$!
  PIDS+=($pid)
  until [ "$(offset "$admin" phase 2>/dev/null)" = streaming ]; do sleep 0.05; done
  kill -STOP "$pid"
  redis-cli -p "$src" --pipe < "$WORK/stream.resp" >/dev/null
  master=$(offset "$src" master_repl_offset)
  c0=$(cpu_of "$dst")
  a=$(now)
  kill -CONT "$pid"
  until [ "$(offset "$admin" applied_offset)" -ge "$master" ]; do sleep 0.01; done
  b=$(now)
  rep_cpu=$(echo "$(cpu_of "$dst") - $c0" | bc)
  [ "$(redis-cli -p "$src" DEBUG DIGEST)" = "$(redis-cli -p "$dst" DEBUG DIGEST)" ] || { echo "replicant copy differs"; exit 1; }
  rep=$(echo "$b - $a" | bc)
  redis-cli -p "$admin" SHUTDOWN >/dev/null || true
  stop_server "$dst"; stop_server "$src"
}

# the target's ingest limit: sets $pipe and $pipe_cpu
run_pipe() {
  local dst a b c0
  dst=$(free_port); start_target "pipe$1" "$dst"
  c0=$(cpu_of "$dst")
  a=$(now)
  "${OTHER_CPUS[@]}" redis-cli -p "$dst" --pipe < "$WORK/stream.resp" >/dev/null
  b=$(now)
  pipe_cpu=$(echo "$(cpu_of "$dst") - $c0" | bc)
  pipe=$(echo "$b - $a" | bc)
  stop_server "$dst"
}

# native replica: sets $native
run_native() {
  local src dst pid master a b
  src=$(free_port); start_other "nsrc$1" "$src" --repl-diskless-sync-delay 0 --repl-backlog-size 512mb
  dst=$(free_port); start_target "replica$1" "$dst" --replicaof 127.0.0.1 "$src"
  until redis-cli -p "$dst" INFO replication | grep -q "master_link_status:up"; do sleep 0.05; done
  pid=$(redis-cli -p "$dst" INFO server | tr -d '\r' | sed -n 's/^process_id://p')
  kill -STOP "$pid"
  redis-cli -p "$src" --pipe < "$WORK/stream.resp" >/dev/null
  master=$(offset "$src" master_repl_offset)
  a=$(now)
  kill -CONT "$pid"
  until [ "$(offset "$dst" master_repl_offset)" -ge "$master" ]; do sleep 0.01; done
  b=$(now)
  [ "$(redis-cli -p "$src" DEBUG DIGEST)" = "$(redis-cli -p "$dst" DEBUG DIGEST)" ] || { echo "replica copy differs"; exit 1; }
  native=$(echo "$b - $a" | bc)
  stop_server "$dst"; stop_server "$src"
}

median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END{print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }

echo "| writes | replicant (stream applied) | target CPU meanwhile | redis-cli --pipe into the target | target CPU meanwhile | native replica | replicant / pipe |"
echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
reps=(); pipes=(); natives=(); ratios=()
for round in $(seq "$RUNS"); do
  run_replicant "$round"; run_pipe "$round"; run_native "$round"
  ratio=$(echo "$rep / $pipe" | bc -l)
  reps+=("$rep"); pipes+=("$pipe"); natives+=("$native"); ratios+=("$ratio")
  printf '| %s | %.2f s (%.0f/s) | %.2f s | %.2f s (%.0f/s) | %.2f s | %.2f s | %.2f× |\n' "$N" "$rep" \
    "$(echo "$N / $rep" | bc -l)" "$rep_cpu" "$pipe" "$(echo "$N / $pipe" | bc -l)" "$pipe_cpu" "$native" "$ratio"
done
printf '| median of %s | %.2f s | | %.2f s | | %.2f s | %.2f× |\n' "$RUNS" "$(median "${reps[@]}")" \
  "$(median "${pipes[@]}")" "$(median "${natives[@]}")" "$(median "${ratios[@]}")"
