#!/usr/bin/env bash
# Peak memory of a full sync of one big string (make bench-memory): replicant `sync --once`
# of a SIZE_MB string (default 300) that the master saves LZF-compressed
# (`rdbcompression yes`, Redis's default) against the same string saved plainly
# (`rdbcompression no`), for a disk-based and a diskless sync. Each run copies into a
# fresh target under `/usr/bin/time -v`; the value on the target must be the master's
# (`DEBUG DIGEST-VALUE`, and STRLEN). Prints the peak RSS of each run and, per sync
# mode, the compressed run's excess over the plain one; exits 1 when that is more than
# MAX_DIFF_MIB (default 10) or a copy differs.
#
# The value is text lines with a counter and a repeated tail, which LZF brings to about
# 7 % (a 21 MB block for 300 MiB): before the parser streamed compressed strings, that
# block had to sit whole in the input buffer and the 300 MiB whole in scratch.
#
# Usage: [SIZE_MB=300] [MAX_DIFF_MIB=10] [MODES="disk diskless"] [BIN=path/to/replicant] \
#          scripts/bench-memory.sh
# Without BIN it builds and uses target/release/replicant.
# Needs redis-server, redis-cli, python3 and GNU time (Debian: apt-get install time).
set -euo pipefail
cd "$(dirname "$0")/.."

SIZE_MB=${SIZE_MB:-300}
MAX_DIFF_MIB=${MAX_DIFF_MIB:-10}
MODES=${MODES:-disk diskless}
if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet
  BIN=$PWD/target/release/replicant
fi
if [ ! -x /usr/bin/time ]; then
  echo "GNU time is needed: apt-get install -y time" >&2
  exit 1
fi
# shellcheck source=scripts/servers.sh
source scripts/servers.sh
KEY=big

# The value: SIZE_MB MiB of lines "<chunk>:<line> <fixed text>\n", written to a file.
python3 - "$SIZE_MB" "$WORK/value.bin" <<'PY'
import sys
size = int(sys.argv[1]) << 20
tail = b" the quick brown fox jumps over the lazy dog, again and again\n"
with open(sys.argv[2], "wb") as f:
    written, chunk = 0, 0
    while written < size:
        block = b"".join(b"%05d:%06d%s" % (chunk, i, tail) for i in range(16384))
        block = block[: size - written]
        f.write(block)
        written += len(block)
        chunk += 1
PY

src=$(free_port)
start_server src "$src" --repl-diskless-sync-delay 0 --proto-max-bulk-len 1gb --client-query-buffer-limit 2gb
redis-cli -p "$src" -x SET "$KEY" < "$WORK/value.bin" >/dev/null
rm -f "$WORK/value.bin"
len=$(redis-cli -p "$src" STRLEN "$KEY")
digest=$(redis-cli -p "$src" DEBUG DIGEST-VALUE "$KEY")
echo "source: $(redis-server --version | awk '{print $3}'), key '$KEY' of $len bytes; replicant: $BIN"
echo

# run MODE COMPRESSION: one sync into a fresh target; sets PEAK (KiB) and SECS.
run() {
  local mode=$1 comp=$2 t
  redis-cli -p "$src" CONFIG SET rdbcompression "$comp" >/dev/null
  redis-cli -p "$src" CONFIG SET repl-diskless-sync "$([ "$mode" = diskless ] && echo yes || echo no)" >/dev/null
  t=$(free_port)
  start_server "t-$mode-$comp" "$t" --proto-max-bulk-len 1gb
  /usr/bin/time -v -o "$WORK/time.txt" "$BIN" sync --source "redis://127.0.0.1:$src" \
    --target "redis://127.0.0.1:$t" --once --progress never 2>"$WORK/sync.log" \
    || { echo "sync failed (rdbcompression $comp, $mode sync):" >&2; tail -20 "$WORK/sync.log" >&2; exit 1; }
  PEAK=$(awk -F': ' '/Maximum resident set size/{print $2}' "$WORK/time.txt")
  SECS=$(awk -F': ' '/Elapsed \(wall clock\)/{print $2}' "$WORK/time.txt" \
    | awk -F: '{s=0; for(i=1;i<=NF;i++) s=s*60+$i; print s}')
  if [ "$(redis-cli -p "$t" STRLEN "$KEY")" != "$len" ] \
     || [ "$(redis-cli -p "$t" DEBUG DIGEST-VALUE "$KEY")" != "$digest" ]; then
    echo "the copy of '$KEY' differs from the source (rdbcompression $comp, $mode sync)" >&2
    exit 1
  fi
  stop_server "$t"
}

# The snapshot's size with each setting, from a saved RDB.
rdb_size() {
  redis-cli -p "$src" CONFIG SET rdbcompression "$1" >/dev/null
  redis-cli -p "$src" SAVE >/dev/null
  stat -c %s "$WORK/src/dump.rdb"
}
size_yes=$(rdb_size yes)
size_no=$(rdb_size no)
rm -f "$WORK/src/dump.rdb"

mib() { echo "scale=1; $1 / 1024" | bc; }
fail=0
echo "| sync | rdbcompression | RDB size | peak RSS | wall time |"
echo "| --- | --- | ---: | ---: | ---: |"
summary=()
for mode in $MODES; do
  run "$mode" yes
  peak_yes=$PEAK secs_yes=$SECS
  run "$mode" no
  peak_no=$PEAK secs_no=$SECS
  printf '| %s | yes | %s MiB | %s MiB | %.1f s |\n' "$mode" "$(mib $((size_yes / 1024)))" "$(mib "$peak_yes")" "$secs_yes"
  printf '| %s | no | %s MiB | %s MiB | %.1f s |\n' "$mode" "$(mib $((size_no / 1024)))" "$(mib "$peak_no")" "$secs_no"
  diff_kib=$((peak_yes - peak_no))
  summary+=("$mode sync: peak RSS compressed - plain = $(mib "$diff_kib") MiB (limit $MAX_DIFF_MIB MiB)")
  if [ "$diff_kib" -gt $((MAX_DIFF_MIB * 1024)) ]; then fail=1; fi
done
echo
printf '%s\n' "${summary[@]}"
echo "values identical on the target: yes"
if [ "$fail" = 1 ]; then
  echo "FAIL: a compressed string costs more than $MAX_DIFF_MIB MiB over the same string stored plainly" >&2
  exit 1
fi
