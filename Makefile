# Developer and CI entry points. `make test` installs redis-server first
# (Debian/Ubuntu) because the integration tests start real servers.

CARGO ?= cargo
# Tests may point at another build with REPLICANT_REDIS_SERVER=/path/to/redis-server.
REDIS_SERVER ?= $(or $(REPLICANT_REDIS_SERVER),redis-server)
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

.DEFAULT_GOAL := build
.PHONY: build build-deps test lint soak bench bench-parse bench-check bench-sync bench-stream bench-memory bench-kvrocks bench-pika demo deps

build: build-deps
	$(CARGO) build --release

# Installs redis-server, redis-tools and redis-sentinel unless the binaries are already on PATH.
REDIS_SENTINEL ?= $(or $(REPLICANT_REDIS_SENTINEL),redis-sentinel)
# The rocksdb binding (Kvrocks checkpoints) builds RocksDB from source: a C++ compiler, and
# libclang for its bindgen step.
build-deps:
	@if command -v g++ >/dev/null 2>&1 && dpkg -s libclang-dev >/dev/null 2>&1; then :; else \
		$(SUDO) apt-get update && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y g++ libclang-dev; \
	fi

deps: build-deps
	@if command -v "$(REDIS_SERVER)" >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1 \
		&& command -v "$(REDIS_SENTINEL)" >/dev/null 2>&1; then \
		echo "using $$(command -v "$(REDIS_SERVER)") and $$(command -v "$(REDIS_SENTINEL)")"; \
	else \
		$(SUDO) apt-get update && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y redis-server redis-tools redis-sentinel && \
		($(SUDO) service redis-sentinel stop >/dev/null 2>&1 || true); \
	fi

test: deps
	$(CARGO) test --workspace

lint: build-deps
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# A live migration under seeded network faults on both links, for MINUTES of chaos, with
# the summary printed (docs/reliability.md). `make test` runs the same test for 45 s.
# SEED=n replays another fault sequence.
MINUTES ?= 5
soak: deps
	REPLICANT_SOAK_SECONDS=$$(( $(MINUTES) * 60 )) $(if $(SEED),REPLICANT_SOAK_SEED=$(SEED)) \
		$(CARGO) test --test it soak::a_live_migration_under_faults_ends_identical -- --exact --nocapture

# Every benchmark in docs/performance.md: the parser, then the full sync and the live stream
# against redis-cli --pipe and a native replica.
bench: bench-parse bench-sync bench-stream bench-memory bench-kvrocks bench-pika

bench-parse: deps
	bash scripts/gen-bench-rdb.sh
	$(CARGO) bench --bench parse

# rdb check against redis-check-rdb on the same files (uses hyperfine when installed).
bench-check: deps
	bash scripts/gen-bench-rdb.sh
	$(CARGO) bench --bench parse -- --check-vs-redis

# Full sync side by side with redis-cli --pipe and a native replica (docs/performance.md).
bench-sync: deps
	bash scripts/bench-sync.sh

bench-stream: deps
	bash scripts/bench-stream.sh

# Peak RSS of `sync --once` of a 300 MB string saved LZF-compressed vs plainly (docs/performance.md).
bench-memory: deps
	bash scripts/bench-memory.sh

# Kvrocks: WriteBatch decode + convert on one core, and the full copy of a 1M-key checkpoint
# against the Redis full sync of the same keys (docs/performance.md).
bench-kvrocks: deps
	bash scripts/bench-kvrocks.sh

# Pika: binlog items decoded and rewritten on one core, a 1M-key 4.x dump read, and the full
# copy of that dump from a mock Pika master against the Redis full sync of the same keys
# (docs/performance.md).
bench-pika: deps
	bash scripts/bench-pika.sh

demo: deps
	bash scripts/demo.sh
