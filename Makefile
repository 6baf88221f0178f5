# Trip booking suite: every entry point a user needs. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: help install tools protos lint test test-fast up demo bench chaos clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

install: $(STAMP) ## Create .venv with every dependency pinned (idempotent)

$(STAMP): pyproject.toml requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[dev]'
	touch $(STAMP)

tools: ## Debian's promtool (package prometheus) and docker-compose, which the deploy/ tests use; root + apt-get only
	@missing=""; \
	command -v promtool >/dev/null || missing="$$missing prometheus"; \
	command -v docker-compose >/dev/null || missing="$$missing docker-compose"; \
	[ -z "$$missing" ] && exit 0; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "make tools: installing Debian's$$missing"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -qq --no-install-recommends $$missing >/dev/null 2>&1 || \
		{ apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null; }; \
	else \
		echo "make tools:$$missing missing (needs root and apt-get); the tests that use them are skipped"; \
	fi

protos: $(STAMP) ## Regenerate generated/ from protos/ (byte for byte)
	$(PY) scripts/gen_protos.py

lint: $(STAMP) ## ruff, ruff format, mypy and buf lint
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/buf lint

test: $(STAMP) tools ## The whole suite: starts its own Temporal and services; needs PostgreSQL at 127.0.0.1:5432 (ALLOW_NO_POSTGRES=1 skips those tests)
	$(VENV)/bin/pytest

test-fast: $(STAMP) ## The tests that need neither a Temporal server nor PostgreSQL
	ALLOW_NO_POSTGRES=1 $(VENV)/bin/pytest -m "not temporal and not postgres"

up: $(STAMP) ## The whole stack in the foreground; Ctrl-C stops it
	$(PY) -m scripts.stack

demo: $(STAMP) ## Book a confirmed trip and a compensated one, print both
	$(PY) -m scripts.demo

bench: $(STAMP) ## BookTrip against the direct baseline, side by side
	$(PY) -m scripts.bench

chaos: $(STAMP) ## Trips under injected faults, then every invariant checked (ARGS="--trips 1000 --seed 7")
	$(PY) -m scripts.chaos $(ARGS)

clean: ## Remove local state (var/) and caches
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
