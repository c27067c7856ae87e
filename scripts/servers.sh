# Sourced by the scripts in this folder: throwaway redis-servers on free loopback ports,
# in a temporary directory, all killed (and the directory removed) when the script exits.
# Needs REDIS_SERVER set, or uses $REPLICANT_REDIS_SERVER, or redis-server.

REDIS_SERVER=${REDIS_SERVER:-${REPLICANT_REDIS_SERVER:-redis-server}}
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# With BENCH_PIN=1 the benchmarks give the target its own core, as it would have on its own
# host: TARGET_CPU runs a command on CPU 0 and OTHER_CPUS on the others (both empty by
# default, or on a single CPU).
TARGET_CPU=()
OTHER_CPUS=()
SERVER_CPU=()
if [ "${BENCH_PIN:-0}" = 1 ] && [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
  TARGET_CPU=(taskset -c 0)
  OTHER_CPUS=(taskset -c "1-$(($(nproc) - 1))")
fi

# start_server NAME PORT [redis-server options…]: starts one and waits until it answers.
# Runs under "${SERVER_CPU[@]}" when the caller sets it (e.g. SERVER_CPU=("${TARGET_CPU[@]}")).
start_server() {
  local name=$1 port=$2
  shift 2
  rm -rf "${WORK:?}/$name"
  mkdir -p "$WORK/$name"
  "${SERVER_CPU[@]}" "$REDIS_SERVER" --port "$port" --bind 127.0.0.1 --dir "$WORK/$name" --save "" --appendonly no \
    --enable-debug-command local --logfile "$WORK/$name/redis.log" "$@" &
  PIDS+=($!)
  for _ in $(seq 200); do redis-cli -p "$port" ping >/dev/null 2>&1 && return 0; sleep 0.05; done
  echo "redis-server $name did not start:"
  cat "$WORK/$name/redis.log"
  exit 1
}

# start_target / start_other NAME PORT [options…]: start_server on the target's core or the others.
start_target() { SERVER_CPU=("${TARGET_CPU[@]}"); start_server "$@"; SERVER_CPU=(); }
start_other() { SERVER_CPU=("${OTHER_CPUS[@]}"); start_server "$@"; SERVER_CPU=(); }

# stop_server PORT
stop_server() { redis-cli -p "$1" shutdown nosave >/dev/null 2>&1 || true; }
