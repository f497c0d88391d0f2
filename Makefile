# Delta: the two entry points are `make demo` and `make test`.
#
# Every cargo invocation uses the same target dir (outside the checkout, so a
# fresh clone reuses a warm build) and the same feature set, so nothing is
# compiled twice. The dev profile is used throughout; see the Build section
# of docs/architecture.md.

export CARGO_TARGET_DIR ?= $(HOME)/.cache/delta/target
# The node is built with its benchmarking CLI so that weights can be
# regenerated on this machine; tests use the same features.
FEATURES := --features delta-chain/runtime-benchmarks
CARGO := cargo
NODE := $(CARGO_TARGET_DIR)/debug/delta-chain
COORDINATOR := $(CARGO_TARGET_DIR)/debug/delta-coordinator
WORKER := $(CARGO_TARGET_DIR)/debug/delta-worker
BOARD := $(CARGO_TARGET_DIR)/debug/delta-board
PYTEST := python3 -m pytest -p no:cacheprovider

.PHONY: setup build sdk test test-rust test-python test-e2e demo board bench-workers bench-learning bench-sources bench-board weights \
	clean-chain-data \
	fuzz fuzz-build fuzz-seeds

setup:
	@bash scripts/setup.sh

build: setup
	$(CARGO) build --workspace $(FEATURES)

## The worker's runner-pool tests start the SDK's runner, so the SDK is
## installed first.
test-rust: build sdk
	python3 scripts/check_one_build.py
	$(CARGO) test --workspace $(FEATURES)

## The Python SDK (`delta`, with its native engine module), built by maturin
## in release mode and installed into this Python.
sdk: setup
	python3 -m pip install --quiet --disable-pip-version-check ./sdk/python

## The SDK's tests and a lint of every Python file.
test-python: sdk
	python3 -m ruff check sdk/python tests tools scripts board/jupyterhub
	$(PYTEST) sdk/python/tests -q

test-e2e: build sdk
	DELTA_CHAIN_BIN=$(NODE) DELTA_COORDINATOR_BIN=$(COORDINATOR) DELTA_WORKER_BIN=$(WORKER) DELTA_BOARD_BIN=$(BOARD) \
		$(PYTEST) tests/e2e -v

## All tests: unit, property and benchmark tests of every crate, then the
## end-to-end tests against real `delta-chain`, `delta-coordinator`,
## `delta-worker` and `delta-board` processes (and Debian's Chromium).
test: test-rust test-python test-e2e

## Start a dev chain and three hospitals' delta-workers (which register
## themselves), commit a dataset with a zero-knowledge proof, and run a
## federated statistics query through delta.Client, beside pandas on the
## pooled data; then the same query with a delta-coordinator and fresh
## workers. Fails if an answer differs from pandas.
demo: build sdk
	DELTA_CHAIN_BIN=$(NODE) DELTA_COORDINATOR_BIN=$(COORDINATOR) DELTA_WORKER_BIN=$(WORKER) \
		python3 scripts/demo.py

## Deltaboard on a local network: a coordinator, three sample hospitals'
## workers and delta-board in front of the first (http://127.0.0.1:8080),
## until Ctrl-C; prints the one-time set-up address (docs/board.md).
BOARD_PORT ?= 8080
board: build sdk
	DELTA_COORDINATOR_BIN=$(COORDINATOR) DELTA_WORKER_BIN=$(WORKER) DELTA_BOARD_BIN=$(BOARD) \
		python3 scripts/run_board.py --port $(BOARD_PORT)

## Submit-to-result time of a one-round query with 3 and 10 workers, on the
## coordinator and on a dev chain of 250 ms blocks (RUNS=3 timed runs after
## one warm-up);
## BENCH_ARGS passes more options (e.g. `--concurrent 5 --sizes 3`).
RUNS ?= 3
BENCH_ARGS ?=
bench-workers: build sdk
	DELTA_CHAIN_BIN=$(NODE) DELTA_COORDINATOR_BIN=$(COORDINATOR) DELTA_WORKER_BIN=$(WORKER) \
		python3 scripts/bench_workers.py --runs $(RUNS) $(BENCH_ARGS)

## Per-round overhead of federated learning, Delta's delta.debug beside
## Flower's simulation with and without SecAgg+ (10 members, 20 rounds, the
## digits MLP and a 1M-parameter MLP); its deployment engine (a SuperLink and
## SuperNodes on loopback) by BENCH_ARGS="--systems ...,flower-deploy,
## flower-deploy-secagg"; Flower is installed into its own venv under
## ~/.cache/delta on the first run. The ten-worker system (BENCH_ARGS=
## "--systems ...,delta-workers") runs release builds of delta-worker and
## delta-coordinator, as an operator deploys them: built here when named,
## beside the dev build the tests use (about 6 min the first time on 2
## cores).
bench-learning: sdk
	$(if $(findstring delta-workers,$(BENCH_ARGS)),$(CARGO) build --release -p delta-worker -p delta-coordinator)
	DELTA_COORDINATOR_BIN=$(CARGO_TARGET_DIR)/release/delta-coordinator \
		DELTA_WORKER_BIN=$(CARGO_TARGET_DIR)/release/delta-worker \
		python3 scripts/bench_learning.py $(BENCH_ARGS)

## Preparing a 1M-row, 10-column PostgreSQL table as a dataset beside the
## raw Arrow read of the same table (time and peak memory).
bench-sources: sdk
	python3 scripts/bench_sources.py $(BENCH_ARGS)

## Latency Deltaboard's API forwarding adds per call (delta_info,
## delta_status, delta_logs, delta_list) beside the worker's API directly,
## interleaved keep-alive calls (target: at most 5 ms at the median);
## BENCH_ARGS passes more options (e.g. `--calls 1000`).
bench-board: build sdk
	DELTA_COORDINATOR_BIN=$(COORDINATOR) DELTA_WORKER_BIN=$(WORKER) DELTA_BOARD_BIN=$(BOARD) \
		python3 scripts/bench_board.py $(BENCH_ARGS)

## Regenerate a pallet's weights.rs on this machine
## (PALLET=pallet_delta_identity, pallet_delta_task or pallet_delta_zk_verify).
PALLET ?= pallet_delta_identity
PALLET_DIR = pallets/$(subst _,-,$(subst pallet_delta_,,$(PALLET)))
weights: build
	$(NODE) benchmark pallet --chain dev --pallet $(PALLET) --extrinsic '*' \
		--steps 50 --repeat 20 --template scripts/pallet-weight-template.hbs \
		--output $(PALLET_DIR)/src/weights.rs

## Fuzz every decoder of untrusted bytes (docs/fuzzing.md): each target for
## FUZZ_SECONDS from seeds it encodes itself and the regression inputs
## under fuzz/corpus/,
## failing on any finding (its input lands in fuzz/artifacts/<target>/).
## Not part of `make test`. A workspace of its own with its own target dir:
## the instrumented build never touches the main one. cargo-fuzz runs on
## stable Rust without a sanitizer (`-s none`: coverage needs only -C flags).
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= peer_message runner_reply zk_key zk_proof zk_snarkjs ledger_json ledger_scale identity protocol
FUZZ_TARGET_DIR ?= $(HOME)/.cache/delta/fuzz-target
FUZZ_BIN = $(FUZZ_TARGET_DIR)/$(shell rustc -vV | sed -n 's/^host: //p')/release

fuzz-build:
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	CARGO_TARGET_DIR=$(FUZZ_TARGET_DIR) $(CARGO) fuzz build --fuzz-dir fuzz --target-dir $(FUZZ_TARGET_DIR) -s none

fuzz: fuzz-build
	@failed=""; for t in $(FUZZ_TARGETS); do \
		DELTA_FUZZ_SEEDS=$(FUZZ_TARGET_DIR)/corpus $(FUZZ_BIN)/$$t || exit 1; \
		mkdir -p fuzz/corpus/$$t fuzz/artifacts/$$t; \
		echo "== fuzz $$t for $(FUZZ_SECONDS) s"; \
		dict=""; if [ -f fuzz/dict/$$t.dict ]; then dict="-dict=fuzz/dict/$$t.dict"; fi; \
		if $(FUZZ_BIN)/$$t $(FUZZ_TARGET_DIR)/corpus/$$t fuzz/corpus/$$t $$dict \
			-max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
			-artifact_prefix=fuzz/artifacts/$$t/ -print_final_stats=1 >$(FUZZ_TARGET_DIR)/$$t.log 2>&1; \
		then grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb)' $(FUZZ_TARGET_DIR)/$$t.log; \
		else tail -n 40 $(FUZZ_TARGET_DIR)/$$t.log; failed="$$failed $$t"; fi; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz: findings in$$failed (inputs under fuzz/artifacts/)"; exit 1; fi; \
	echo "fuzz: no findings in $(FUZZ_TARGETS)"

