# Heartbeat: `make demo` and `make test` are the two commands; everything else supports them.
SHELL := /bin/bash
PY ?= $(shell for p in python3.13 python3.12 python3.11 python3; do command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
PACKAGES := heartbeat_core heartbeat_cli heartbeat_web heartbeat_mcp heartbeat_demo

.PHONY: install demo test test-fast test-slow test-db test-e2e coverage-summary lint format typecheck bench clean

$(STAMP): pyproject.toml
	@if [ -z "$(PY)" ]; then echo "make: Python 3.11+ is required (python3.11 or newer on PATH)" >&2; exit 1; fi
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

## The whole product on this machine: embedded Postgres, demo world, ingest, compute, cockpit + MCP.
demo: install
	$(BIN)/heartbeat demo $(DEMO_ARGS)

## Every test but the end-to-end ones, slow suites included (real Postgres; headless Chromium where
## installable), then one line of line coverage per package.
test: install
	@echo '$(BIN)/pytest -q -m "not e2e" --cov --cov-report= $(PYTEST_ARGS)'
	@status=0; $(BIN)/pytest -q -m "not e2e" --cov --cov-report= $(PYTEST_ARGS) || status=$$?; \
	$(MAKE) -s coverage-summary; exit $$status

test-fast: install
	$(BIN)/pytest -q -m "not slow and not e2e" $(PYTEST_ARGS)

test-slow: install
	$(BIN)/pytest -q -m "slow and not e2e" $(PYTEST_ARGS)

## End to end through the installed `heartbeat` command (marker e2e): heavy suites live here, not in `make test`.
test-e2e: install
	$(BIN)/pytest -q -m e2e $(PYTEST_ARGS)

## The last `make test`'s line coverage, one figure per package (`.venv/bin/coverage report` has the per-file
## table). Commands the tests run as subprocesses are not measured, hence the CLI's low figure.
coverage-summary:
	@line=""; for p in $(PACKAGES); do \
		line="$$line $$p $$($(BIN)/coverage report --include="$$p/*" --format=total)%,"; done; \
	echo "coverage:$$line total $$($(BIN)/coverage report --format=total)%"

## The database-facing tests against HEARTBEAT_TEST_DATABASE_URL (an external server).
test-db: install
	@test -n "$$HEARTBEAT_TEST_DATABASE_URL" || { echo "make: set HEARTBEAT_TEST_DATABASE_URL" >&2; exit 2; }
	$(BIN)/pytest -q -m "not browser and not e2e" $(PYTEST_ARGS)

## Import contract (the layers of CONTRACTS.md, in pyproject.toml), ruff with complexity, format, mypy on every package.
lint: install
	$(BIN)/lint-imports
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install
	@for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .import_linter_cache .coverage test-artifacts
