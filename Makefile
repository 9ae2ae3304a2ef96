# Stocker: `make demo` sets up and runs the main job; `make test` sets up and passes the tests.
# The first Python 3.11+ on PATH (override: make PYTHON=/path/to/python3.12 demo).
PYTHON ?= $(shell for candidate in python3.11 python3.12 python3.13 python3; do \
	$$candidate -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
	&& echo $$candidate && break; done)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
BENCH_STAMP := $(VENV)/.bench-stamp

.PHONY: demo test lint format unit integration bench-ingest bench-panel bench-backtest bench-optimize \
	bench-research bench-bus-faults mutation clean services-down

$(STAMP): pyproject.toml constraints.txt
	@test -n "$(PYTHON)" || { echo "Stocker needs Python 3.11 or newer on PATH"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

# The peers the benchmarks compare with (vectorbt, Riskfolio-Lib): bench only, not the tests.
$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,bench]'
	@touch $(BENCH_STAMP)

demo: $(STAMP)
	$(BIN)/stocker demo

test: $(STAMP) lint
	$(BIN)/pytest -n 2 --dist loadgroup

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

unit: $(STAMP)
	$(BIN)/pytest tests/unit

integration: $(STAMP)
	$(BIN)/pytest tests/integration tests/e2e

bench-ingest: $(BENCH_STAMP)
	$(BIN)/python bench/ingest.py

bench-panel: $(BENCH_STAMP)
	$(BIN)/python bench/panel.py

bench-backtest: $(BENCH_STAMP)
	$(BIN)/python bench/backtest.py

bench-optimize: $(BENCH_STAMP)
	$(BIN)/python bench/optimize.py

bench-research: $(BENCH_STAMP)
	$(BIN)/python bench/research.py

bench-bus-faults: $(BENCH_STAMP)
	$(BIN)/python bench/bus_faults.py

# Mutation score of stocker.core (mutmut; results kept in mutants/, a rerun tries only new mutants).
mutation: $(STAMP)
	$(BIN)/python bench/mutation.py

services-down: $(STAMP)
	$(BIN)/stocker services down

clean:
	-test -x $(BIN)/stocker && STOCKER_HOME=$(CURDIR)/.stocker-test $(BIN)/stocker services down
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .stocker-test build *.egg-info
