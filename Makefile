# zoolog — the two commands a newcomer needs:
#   make run    build in release mode and start a node with the embedded defaults
#   make test   everything CI checks
# Both first install what a fresh Debian machine lacks (scripts/setup.sh, idempotent).

CARGO ?= cargo
# Where cargo puts its builds (honours CARGO_TARGET_DIR).
TARGET_DIR ?= $(or $(CARGO_TARGET_DIR),target)
# `make run ARGS="serve --config zoo.cfg"` runs with a config; the default is the embedded one.
ARGS ?= serve

.PHONY: run test setup build fmt-check clippy unit fixtures bench-codec bench-apply bench bench-ensemble bench-smoke nemesis

setup:
	@bash scripts/setup.sh

build: setup
	$(CARGO) build --release --bin zoolog

run: build
	$(TARGET_DIR)/release/zoolog $(ARGS)

fmt-check:
	$(CARGO) fmt --all -- --check

clippy: setup
	$(CARGO) clippy --workspace --all-targets -- -D warnings

unit: setup
	$(CARGO) test --workspace

test: setup fmt-check clippy unit bench-smoke
	@echo "make test: all checks passed"

# Re-capture the golden Jute fixtures from a real Apache ZooKeeper 3.8 (see jute/tests/fixtures/README.md).
fixtures: setup
	python3 jute/tests/capture/capture.py

# Codec micro-benchmarks (criterion); not part of `make test`.
bench-codec:
	$(CARGO) bench -p zoolog-jute --bench codec

# The apply thread's own cost per create and per setData (criterion), over a real store; not part
# of `make test`. Under callgrind it counts instructions, which do not depend on the machine's
# speed (benches/apply.rs).
bench-apply:
	$(CARGO) bench --bench apply

# Side-by-side benchmark against Apache ZooKeeper 3.8 (bench/README.md): every workload against
# both servers, A B A B over several rounds, then 1M znodes for memory and restart time. Prints
# the table; writes bench/results/{results.json,results.md,chart.png}. Takes about half an hour.
# Pass options with BENCH_ARGS, e.g. make bench BENCH_ARGS="--rounds 1 --workloads create,getData".
BENCH_ARGS ?=
bench: setup
	@bash bench/setup.sh
	$(CARGO) build --release --bin zoolog
	$(CARGO) build --release -p zoolog-bench
	$(TARGET_DIR)/release/zoolog-bench run --zoolog $(TARGET_DIR)/release/zoolog $(BENCH_ARGS)

# The ensemble mode (bench/README.md "Ensembles"): a 3-node Apache ZooKeeper ensemble against a
# 3-node zoolog ensemble, the loader's sessions spread over the nodes, fsync on; then the leader
# killed under writers, then 1M znodes: a follower restarted and a fourth node joining. About 15
# minutes. Options: make bench-ensemble BENCH_ARGS="--recovery-znodes 0 --workloads setData".
bench-ensemble: setup
	@bash bench/setup.sh
	$(CARGO) build --release --bin zoolog
	$(CARGO) build --release -p zoolog-bench
	$(TARGET_DIR)/release/zoolog-bench ensemble --zoolog $(TARGET_DIR)/release/zoolog --json bench/results/ensemble.json $(BENCH_ARGS)

# The benchmark with tiny counts against both servers (about 20 s): checks that every request got
# a correct reply, never the speed. Part of `make test`.
bench-smoke: setup
	@bash bench/setup.sh
	$(CARGO) build --bin zoolog
	$(CARGO) build -p zoolog-bench
	$(TARGET_DIR)/debug/zoolog-bench smoke --zoolog $(TARGET_DIR)/debug/zoolog

# Fault injection and history checking (nemesis/README.md): every nemesis on a 3-node and then a
# 5-node zoolog ensemble, each node in its own network namespace (about 10 minutes); prints a
# summary line per check and writes history.json + timeline.html under target/nemesis/. Exits
# non-zero on any anomaly. The Apache ZooKeeper baseline: make nemesis NEMESIS_ARGS="--target zookeeper".
# Later options win: NEMESIS_ARGS="--nodes 3 --time-limit 60 --nemesis kill,partition".
NEMESIS_ARGS ?=
nemesis: setup
	$(CARGO) build --bin zoolog
	$(CARGO) build -p zoolog-nemesis
	$(TARGET_DIR)/debug/zoolog-nemesis run --zoolog $(TARGET_DIR)/debug/zoolog --nodes 3,5 --time-limit 270 --nemesis all $(NEMESIS_ARGS)
