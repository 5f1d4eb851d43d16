# zoolog — the two commands a newcomer needs:
#   make run    build in release mode and start a node with the embedded defaults
#   make test   everything CI checks
# Both first install what a fresh Debian machine lacks (scripts/setup.sh, idempotent).

CARGO ?= cargo
ARGS ?=

.PHONY: run test setup build fmt-check clippy unit fixtures bench-codec

setup:
	@bash scripts/setup.sh

build: setup
	$(CARGO) build --release --bin zoolog

run: build
	./target/release/zoolog $(ARGS)

fmt-check:
	$(CARGO) fmt --all -- --check

clippy: setup
	$(CARGO) clippy --workspace --all-targets -- -D warnings

unit: setup
	$(CARGO) test --workspace

test: setup fmt-check clippy unit
	@echo "make test: all checks passed"

# Re-capture the golden Jute fixtures from a real Apache ZooKeeper 3.8 (see jute/tests/fixtures/README.md).
fixtures: setup
	python3 jute/tests/capture/capture.py

# Codec micro-benchmarks (criterion); not part of `make test`.
bench-codec:
	$(CARGO) bench -p zoolog-jute --bench codec
