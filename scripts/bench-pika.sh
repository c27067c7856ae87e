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
now() { date +%s.%N; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

cargo bench --quiet --bench pika -- decode

if [ ! -f "$DATA/meta.txt" ]; then
  rm -rf "$DATA"; mkdir -p "$DATA"
  cargo bench --quiet --bench pika -- dump "$DATA" "$N"
fi
# Before the mock serves it: opening the dump rewrites RocksDB's own LOG/MANIFEST/OPTIONS files.
cargo bench --quiet --bench pika -- read "$DATA"

# The mock master, serving until the fd holding its standard input is closed.
mkfifo "$WORK/hold"
cargo bench --quiet --bench pika -- serve "$DATA" < "$WORK/hold" > "$WORK/port" &
PIDS+=($!)
exec 4> "$WORK/hold"
for _ in $(seq 600); do [ -s "$WORK/port" ] && break; sleep 0.1; done
PK=$(head -1 "$WORK/port")

TIMED=()
[ -x /usr/bin/time ] && TIMED=(/usr/bin/time -f %M -o "$WORK/rss")
echo "| round | Pika dump → Redis | keys/s | peak RSS | Redis full sync of the same keys | keys/s | Pika / Redis |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
pks=(); rss=(); ratios=()
for round in $(seq "$RUNS"); do
  t=$(free_port); start_target "pk-$round" "$t"
  a=$(now)
  "${TIMED[@]}" "${OTHER_CPUS[@]}" "$BIN" sync --source "redis://:benchpass@127.0.0.1:$PK" --target "redis://127.0.0.1:$t" \
    --once --state-dir "$WORK/state-$round" --progress never 2>"$WORK/pk-$round.log" \
    || { cat "$WORK/pk-$round.log"; exit 1; }
  b=$(now)
  keys=$(redis-cli -p "$t" DBSIZE)
  [ "$keys" = "$N" ] || { echo "the Pika copy holds $keys keys, not $N"; exit 1; }
  pk=$(echo "$b - $a" | bc)
  peak=$([ -s "$WORK/rss" ] && echo "$(( $(cat "$WORK/rss") / 1024 )) MiB" || echo "?")

  r=$(free_port); start_target "redis-$round" "$r"
  a=$(now)
  "${OTHER_CPUS[@]}" "$BIN" sync --source "redis://127.0.0.1:$t" --target "redis://127.0.0.1:$r" --once \
    --progress never 2>/dev/null
  b=$(now)
  [ "$(redis-cli -p "$r" DEBUG DIGEST)" = "$(redis-cli -p "$t" DEBUG DIGEST)" ] || { echo "the Redis copy differs"; exit 1; }
  rs=$(echo "$b - $a" | bc)
  stop_server "$t"; stop_server "$r"
  ratio=$(echo "$pk / $rs" | bc -l)
  pks+=("$pk"); rss+=("$rs"); ratios+=("$ratio")
  printf '| %s | %.2f s | %.0f | %s | %.2f s | %.0f | %.2f× |\n' "$round" "$pk" "$(echo "$N / $pk" | bc -l)" \
    "$peak" "$rs" "$(echo "$N / $rs" | bc -l)" "$ratio"
done
printf '| median of %s (%s keys) | %.2f s | %.0f | | %.2f s | %.0f | %.2f× |\n' "$RUNS" "$N" "$(median "${pks[@]}")" \
  "$(echo "$N / $(median "${pks[@]}")" | bc -l)" "$(median "${rss[@]}")" "$(echo "$N / $(median "${rss[@]}")" | bc -l)" \
  "$(median "${ratios[@]}")"
exec 4>&-
