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
# 1000 keys each. Prints a Markdown table row. Usage: scripts/bench-stream.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}

cargo build --release --quiet
BIN=$PWD/target/release/replicant
# shellcheck source=scripts/servers.sh
source scripts/servers.sh
now() { date +%s.%N; }

python3 - "$N" > "$WORK/stream.resp" <<'PY'
import sys
n = int(sys.argv[1])
out = []
def cmd(*args):
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(parts)
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

# replicant
SRC=$(free_port); start_server src "$SRC" --repl-diskless-sync-delay 0 --repl-backlog-size 512mb
DST=$(free_port); start_server dst "$DST"
ADMIN=$(free_port)
"$BIN" sync --source "redis://127.0.0.1:$SRC" --target "redis://127.0.0.1:$DST" --admin "127.0.0.1:$ADMIN" \
  --progress never 2>"$WORK/replicant.log" &
REP=$!
PIDS+=($REP)
until [ "$(offset "$ADMIN" phase 2>/dev/null)" = streaming ]; do sleep 0.05; done
kill -STOP "$REP"
redis-cli -p "$SRC" --pipe < "$WORK/stream.resp" >/dev/null
master=$(offset "$SRC" master_repl_offset)
a=$(now)
kill -CONT "$REP"
until [ "$(offset "$ADMIN" applied_offset)" -ge "$master" ]; do sleep 0.01; done
b=$(now)
[ "$(redis-cli -p "$SRC" DEBUG DIGEST)" = "$(redis-cli -p "$DST" DEBUG DIGEST)" ] || { echo "replicant copy differs"; exit 1; }
rep=$(echo "$b - $a" | bc)
redis-cli -p "$ADMIN" SHUTDOWN >/dev/null || true
stop_server "$DST"; stop_server "$SRC"

# the target's ingest limit
DST=$(free_port); start_server pipe "$DST"
a=$(now)
redis-cli -p "$DST" --pipe < "$WORK/stream.resp" >/dev/null
b=$(now)
pipe=$(echo "$b - $a" | bc)
stop_server "$DST"

# native replica
SRC=$(free_port); start_server src2 "$SRC" --repl-diskless-sync-delay 0 --repl-backlog-size 512mb
DST=$(free_port); start_server replica "$DST" --replicaof 127.0.0.1 "$SRC"
until redis-cli -p "$DST" INFO replication | grep -q "master_link_status:up"; do sleep 0.05; done
NATIVE=$(redis-cli -p "$DST" INFO server | tr -d '\r' | sed -n 's/^process_id://p')
kill -STOP "$NATIVE"
redis-cli -p "$SRC" --pipe < "$WORK/stream.resp" >/dev/null
master=$(offset "$SRC" master_repl_offset)
a=$(now)
kill -CONT "$NATIVE"
until [ "$(offset "$DST" master_repl_offset)" -ge "$master" ]; do sleep 0.01; done
b=$(now)
[ "$(redis-cli -p "$SRC" DEBUG DIGEST)" = "$(redis-cli -p "$DST" DEBUG DIGEST)" ] || { echo "replica copy differs"; exit 1; }
native=$(echo "$b - $a" | bc)

echo "| writes | replicant (stream applied) | redis-cli --pipe into the target | native replica | replicant / pipe |"
echo "| ---: | ---: | ---: | ---: | ---: |"
printf '| %s | %.2f s (%.0f/s) | %.2f s (%.0f/s) | %.2f s | %.2f× |\n' "$N" "$rep" "$(echo "$N / $rep" | bc -l)" \
  "$pipe" "$(echo "$N / $pipe" | bc -l)" "$native" "$(echo "$rep / $pipe" | bc -l)"
