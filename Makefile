# Two commands set everything up on a fresh Debian machine with Rust:
#   make bench  benchmarks the NIFs against the pure-Elixir backends (QUICK=1: under a minute)
#   make test   runs every test (cargo, ExUnit, and a new app's first run)
# make demo writes and reloads an auth directory through each NIF backend.

SHELL := /bin/bash
# File names in auth directories are UTF-8; the VM must not fall back to latin1.
export LANG := C.UTF-8
export LC_ALL := C.UTF-8
export ELIXIR_ERL_OPTIONS := +fnu

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps baileys-js test test-rust test-elixir consumer demo bench stress lint format clean

all: test

# Elixir and Erlang/OTP come from Debian; hex is never needed.
deps:
	@if ! command -v mix >/dev/null 2>&1; then \
	  echo "==> installing Elixir and Erlang/OTP from Debian"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq elixir erlang-dev >/dev/null; \
	fi
	@command -v cargo >/dev/null 2>&1 || { echo "cargo not found: install Rust (cargo >= 1.91)"; exit 1; }

test: deps test-rust test-elixir consumer

test-rust:
	cargo test --workspace --locked

# The Baileys JS harness tests need node; without it they are skipped (the
# reason is printed), so a missing node is not an error here. One harness per
# Baileys major version: test/baileys_js (6.x) and test/baileys_js7 (7.x).
baileys-js:
	@if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 && \
	    node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)'; then \
	  for h in test/baileys_js test/baileys_js7; do \
	    [ -f $$h/node_modules/baileys/package.json ] || \
	      (cd $$h && npm ci --git=/bin/false --ignore-scripts --no-audit --no-fund) || exit 1; \
	  done; \
	else \
	  echo "==> Node.js 20+ with npm not found: the Baileys JS harness tests will be skipped"; \
	fi

test-elixir: deps baileys-js
	MIX_ENV=test mix compile --warnings-as-errors
	MIX_ENV=test mix test
	MIX_ENV=bench mix compile --warnings-as-errors
	MIX_ENV=bench mix test bench/test

# A throwaway Mix app that depends on a clean clone of HEAD by path: its first
# `mix run` and its first `MIX_ENV=prod mix release` must load the NIF.
consumer: deps
	bash test/consumer/check.sh

demo: deps
	mix compile
	@dir=$$(mktemp -d) && \
	  for backend in etf json; do \
	    mix run demo/write.exs "$$dir/$$backend" $$backend && \
	    echo "==> reloading in a fresh VM" && \
	    mix run demo/read.exs "$$dir/$$backend" $$backend || exit 1; \
	  done && \
	  rm -rf "$$dir"

# Prints the table and writes bench/results/latest.json and scaling.svg
# (bench/results/quick/ with QUICK=1). No timing is ever asserted.
bench: deps
	MIX_ENV=bench mix baileys_ex_nif.bench $(if $(QUICK),--quick)
	MIX_ENV=bench mix baileys_ex_nif.bench_signal_store $(if $(QUICK),--quick)

# Long reliability runs: thousands of SIGKILLs (single keys and commits), power loss
# with many seeded reorderings, a fault at every call of a long workload, a million
# corrupt inputs, larger concurrency and scheduler runs.
stress: deps
	cargo test --workspace --locked --test crash --test faults --test commit_sigkill --test commit_power_loss -- --ignored --nocapture
	MIX_ENV=test mix compile --warnings-as-errors
	MIX_ENV=test mix test --only stress

lint: deps
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --locked -- -D warnings
	mix format --check-formatted
	MIX_ENV=test mix compile --warnings-as-errors --force

format:
	cargo fmt --all
	mix format

clean:
	cargo clean
	rm -rf _build priv/native
