#!/usr/bin/env bash
# `make demo`: replicant end to end on local servers. Starts a source redis-server, fills
# it with every kind of value, saves an RDB, checks it, shows it as JSON, restores it into
# a second redis-server; then runs replicant as a daemon with an admin port, attaches it
# to the live source with REPLICAOF, shows INFO and metrics while writes go on, proves
# each copy identical with DEBUG DIGEST, and stops it with SHUTDOWN (final checkpoint).
set -euo pipefail
cd "$(dirname "$0")/.."

REDIS_SERVER=${REPLICANT_REDIS_SERVER:-redis-server}
command -v "$REDIS_SERVER" >/dev/null || { echo "redis-server is missing: run make deps" >&2; exit 1; }
command -v redis-cli >/dev/null || { echo "redis-cli is missing: run make deps" >&2; exit 1; }

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# The debug profile and the very build `make test` makes (every target of the workspace:
# build scripts then see the same features): RocksDB (a C++ dependency of the Kvrocks and
# Pika sources) is built once, not once more for another feature set or profile.
say "Building replicant"
cargo test --workspace --no-run --quiet
BIN=target/debug/replicant

# shellcheck source=scripts/servers.sh
source scripts/servers.sh

SRC=$(free_port); start_server source "$SRC" --repl-diskless-sync-delay 0
DST=$(free_port); start_server target "$DST"
src() { redis-cli -p "$SRC" "$@" >/dev/null; }

say "Filling the source (port $SRC) with every type, TTLs, several databases, a stream with a group"
src DEBUG POPULATE 200000 key 64
for i in $(seq 1 300); do echo "RPUSH biglist item-$i-$(printf '%0200d' "$i")"; done | redis-cli -p "$SRC" >/dev/null
src HSET user:1 name "Ada Lovelace" born 1815 note "binary-safe: \r\n"
src ZADD board 1.5 alice -inf bob +inf carol 3 dave
src SADD tags redis valkey kvrocks pika
src SADD ints 1 2 3 65536 4294967296
src SET session:1 token PX 3600000
src -n 3 SET "other:db" "in database 3"
src XADD events '*' type signup user 1
src XADD events '*' type login user 1
src XGROUP CREATE events mailer 0
redis-cli -p "$SRC" XREADGROUP GROUP mailer worker-1 COUNT 1 STREAMS events '>' >/dev/null
src FUNCTION LOAD "#!lua name=demo
redis.register_function('hello', function() return 'hi' end)"
src SAVE
RDB="$WORK/source/dump.rdb"
ls -l "$RDB"

say "replicant rdb check $RDB"
$BIN rdb check "$RDB"

say "replicant rdb dump --format json (a few lines)"
$BIN rdb dump --format json "$RDB" | grep -E '"key":"(board|user:1|events|session:1)"' | cut -c1-200

say "replicant rdb restore into the target (port $DST)"
$BIN rdb restore "$RDB" --target "redis://127.0.0.1:$DST"

say "Comparing source and target"
for db in 0 3; do
  echo "db $db: source $(redis-cli -p "$SRC" -n $db DBSIZE) keys, target $(redis-cli -p "$DST" -n $db DBSIZE) keys"
done
A=$(redis-cli -p "$SRC" DEBUG DIGEST); B=$(redis-cli -p "$DST" DEBUG DIGEST)
echo "DEBUG DIGEST source $A"
echo "DEBUG DIGEST target $B"
echo "TTL of session:1 on the target: $(redis-cli -p "$DST" PTTL session:1) ms"
if [ "$A" = "$B" ]; then
  say "The target is identical to the source (values, TTLs, streams, every database)."
else
  echo "MISMATCH"; exit 1
fi

LIVE=$(free_port); start_server live "$LIVE"
ADMIN=$(free_port); METRICS=$(free_port)
say "replicant as a daemon: admin port $ADMIN, metrics on $METRICS, checkpoint in $WORK/state"
echo "\$ replicant sync --target redis://127.0.0.1:$LIVE --admin 127.0.0.1:$ADMIN --metrics 127.0.0.1:$METRICS --state-dir $WORK/state"
$BIN sync --target "redis://127.0.0.1:$LIVE" --admin "127.0.0.1:$ADMIN" --metrics "127.0.0.1:$METRICS" \
  --state-dir "$WORK/state" --shards 4 > "$WORK/sync.log" 2>&1 &
SYNC=$!
PIDS+=($SYNC)
for _ in $(seq 100); do redis-cli -p "$ADMIN" PING >/dev/null 2>&1 && break; sleep 0.1; done
admin() { redis-cli -p "$ADMIN" "$@"; }
show_info() { admin INFO replication | tr -d '\r' | grep -E "^(role|master_host|master_port|master_link_status|phase|master_repl_offset|applied_offset|lag_bytes|rdb_bytes|rdb_keys):" | paste -sd' ' | sed 's/^/  /'; }

say "Attach it slaveof-style: redis-cli -p $ADMIN REPLICAOF 127.0.0.1 $SRC"
admin REPLICAOF 127.0.0.1 "$SRC"
echo "INFO replication while the snapshot is copied and 9000 writes go on:"
(for i in $(seq 1 3000); do echo "INCR visits"; echo "RPUSH feed event-$i"; echo "HSET user:1 seen $i"; done \
  | redis-cli -p "$SRC" > /dev/null) &
WRITER=$!
while kill -0 "$WRITER" 2>/dev/null; do show_info; sleep 0.5; done
redis-cli -p "$SRC" EXPIRE feed 86400 > /dev/null
for _ in $(seq 600); do
  admin INFO replication | tr -d '\r' | grep -q '^phase:streaming' &&
    [ "$(admin INFO replication | tr -d '\r' | grep -E '^lag_bytes:')" = "lag_bytes:0" ] && break
  sleep 0.1
done
echo "caught up:"; show_info
echo "the source sees replicant as a replica:"
redis-cli -p "$SRC" INFO replication | grep -E "^(connected_slaves|slave0)" | sed 's/^/  /'
echo "Prometheus (curl http://127.0.0.1:$METRICS/metrics), a few lines:"
exec 3<>"/dev/tcp/127.0.0.1/$METRICS"; printf 'GET /metrics HTTP/1.1\r\nHost: demo\r\n\r\n' >&3
grep -E "^replicant_(lag_bytes|applied_offset|commands_applied_total|shard_in_flight)" <&3 | head -6 | sed 's/^/  /'; exec 3<&-
say "SHUTDOWN through the admin port: drain, final checkpoint, exit"
admin SHUTDOWN || true
wait "$SYNC" || { echo "replicant did not stop cleanly"; cat "$WORK/sync.log"; exit 1; }
echo "checkpoint ($WORK/state/checkpoint.json):"; sed 's/^/  /' "$WORK/state/checkpoint.json"
echo "(while it ran, each streamed batch was one transaction with a replicant:applied:N marker,"
echo " so a restart even after kill -9 applies nothing twice; a clean stop deletes the markers)"
A=$(redis-cli -p "$SRC" DEBUG DIGEST); B=$(redis-cli -p "$LIVE" DEBUG DIGEST)
echo "DEBUG DIGEST source $A"
echo "DEBUG DIGEST live   $B"
if [ "$A" = "$B" ]; then
  say "The live copy caught up: identical to the source, writes included. A restart resumes from the checkpoint."
else
  echo "MISMATCH"; cat "$WORK/sync.log"; exit 1
fi
