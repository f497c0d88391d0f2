# Delta: the two entry points are `make demo` and `make test`.
#
# Every cargo invocation uses the same target dir (outside the checkout, so a
# fresh clone reuses a warm build) and the same feature set, so nothing is
# compiled twice. The dev profile is used throughout; see docs/build.md.

export CARGO_TARGET_DIR ?= $(HOME)/.cache/delta/target
# The node is built with its benchmarking CLI so that weights can be
# regenerated on this machine; tests use the same features.
FEATURES := --features delta-chain/runtime-benchmarks
CARGO := cargo
NODE := $(CARGO_TARGET_DIR)/debug/delta-chain
COORDINATOR := $(CARGO_TARGET_DIR)/debug/delta-coordinator
PYTEST := python3 -m pytest -p no:cacheprovider

.PHONY: setup build sdk test test-rust test-python test-e2e demo weights clean-chain-data

setup:
	@bash scripts/setup.sh

build: setup
	$(CARGO) build --workspace $(FEATURES)

test-rust: build
	$(CARGO) test --workspace $(FEATURES)

## The Python SDK (`delta`, with its native engine module), built by maturin
## in release mode and installed into this Python.
sdk: setup
	python3 -m pip install --quiet --disable-pip-version-check ./sdk/python

## The SDK's tests and a lint of every Python file.
test-python: sdk
	python3 -m ruff check sdk/python tests tools scripts
	$(PYTEST) sdk/python/tests -q

test-e2e: build
	DELTA_CHAIN_BIN=$(NODE) DELTA_COORDINATOR_BIN=$(COORDINATOR) $(PYTEST) tests/e2e -v

## All tests: unit, property and benchmark tests of every crate, then the
## end-to-end tests against real `delta-chain` processes.
test: test-rust test-python test-e2e

## Start a dev chain, register sample data holders, commit a dataset with a
## proof, stop; then a federated query through the engine beside pandas.
demo: build sdk
	DELTA_CHAIN_BIN=$(NODE) python3 scripts/demo.py

## Regenerate a pallet's weights.rs on this machine
## (PALLET=pallet_delta_identity, pallet_delta_task or pallet_delta_zk_verify).
PALLET ?= pallet_delta_identity
PALLET_DIR = pallets/$(subst _,-,$(subst pallet_delta_,,$(PALLET)))
weights: build
	$(NODE) benchmark pallet --chain dev --pallet $(PALLET) --extrinsic '*' \
		--steps 50 --repeat 20 --template scripts/pallet-weight-template.hbs \
		--output $(PALLET_DIR)/src/weights.rs
