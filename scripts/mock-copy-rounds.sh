# Sourced by bench-kvrocks.sh and bench-pika.sh: the full copy from a mock master against
# the Redis full sync of the same keys. `mock_copy_rounds BENCH LABEL` starts the mock
# master of `cargo bench --bench BENCH -- serve "$DATA"` (with password `benchpass`), then
# RUNS times: `replicant sync --once` from it into a fresh redis-server (timed, peak RSS
# with /usr/bin/time when installed, N keys checked), and `replicant sync --once` from that
# redis-server into another (timed, DEBUG DIGEST compared). Prints a Markdown row per round
# and the medians. Needs N, RUNS, DATA, WORK, BIN, PIDS, OTHER_CPUS and the helpers of
# servers.sh; defines now and median.

now() { date +%s.%N; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

mock_copy_rounds() {
  local bench=$1 label=$2
  # The mock master, serving until the fd holding its standard input is closed.
  mkfifo "$WORK/hold"
  cargo bench --quiet --bench "$bench" -- serve "$DATA" < "$WORK/hold" > "$WORK/port" &
  PIDS+=($!)
  exec 4> "$WORK/hold"
  for _ in $(seq 600); do [ -s "$WORK/port" ] && break; sleep 0.1; done
  local mock; mock=$(head -1 "$WORK/port")

  local timed=()
  [ -x /usr/bin/time ] && timed=(/usr/bin/time -f %M -o "$WORK/rss")
  echo "| round | $label → Redis | keys/s | peak RSS | Redis full sync of the same keys | keys/s | ratio |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
  local copies=() redis=() ratios=() round t r a b keys copy peak rs ratio
  for round in $(seq "$RUNS"); do
    t=$(free_port); start_target "copy-$round" "$t"
    a=$(now)
    "${timed[@]}" "${OTHER_CPUS[@]}" "$BIN" sync --source "redis://:benchpass@127.0.0.1:$mock" \
      --target "redis://127.0.0.1:$t" --once --state-dir "$WORK/state-$round" --progress never \
      2>"$WORK/copy-$round.log" || { cat "$WORK/copy-$round.log"; exit 1; }
    b=$(now)
    keys=$(redis-cli -p "$t" DBSIZE)
    [ "$keys" = "$N" ] || { echo "the copy holds $keys keys, not $N"; exit 1; }
    copy=$(echo "$b - $a" | bc)
    peak=$([ -s "$WORK/rss" ] && echo "$(( $(cat "$WORK/rss") / 1024 )) MiB" || echo "?")

    r=$(free_port); start_target "redis-$round" "$r"
    a=$(now)
    "${OTHER_CPUS[@]}" "$BIN" sync --source "redis://127.0.0.1:$t" --target "redis://127.0.0.1:$r" --once \
      --progress never 2>/dev/null
    b=$(now)
    [ "$(redis-cli -p "$r" DEBUG DIGEST)" = "$(redis-cli -p "$t" DEBUG DIGEST)" ] || { echo "the Redis copy differs"; exit 1; }
    rs=$(echo "$b - $a" | bc)
    stop_server "$t"; stop_server "$r"
    ratio=$(echo "$copy / $rs" | bc -l)
    copies+=("$copy"); redis+=("$rs"); ratios+=("$ratio")
    printf '| %s | %.2f s | %.0f | %s | %.2f s | %.0f | %.2f× |\n' "$round" "$copy" "$(echo "$N / $copy" | bc -l)" \
      "$peak" "$rs" "$(echo "$N / $rs" | bc -l)" "$ratio"
  done
  printf '| median of %s (%s keys) | %.2f s | %.0f | | %.2f s | %.0f | %.2f× |\n' "$RUNS" "$N" \
    "$(median "${copies[@]}")" "$(echo "$N / $(median "${copies[@]}")" | bc -l)" "$(median "${redis[@]}")" \
    "$(echo "$N / $(median "${redis[@]}")" | bc -l)" "$(median "${ratios[@]}")"
  exec 4>&-
}
