# Two commands do all the set-up from a fresh clone: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUN_DEPS := $(VENV)/.run-deps
DEV_DEPS := $(VENV)/.dev-deps
PYTEST_ARGS ?=

POSTGRES_URL ?= postgres://ziti:ziti@127.0.0.1:5432/ziti

.PHONY: run test test-postgres bench lint format clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(RUN_DEPS): requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(DEV_DEPS): requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $(RUN_DEPS) $@

## run: migrate, make the PKI and admin on first start, serve HTTPS on :1280
run: $(RUN_DEPS)
	$(BIN)/python manage.py serve

## test: the whole suite (browser tests need /usr/bin/chromium)
test: $(DEV_DEPS)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python manage.py makemigrations --check --dry-run --settings=tests.settings >/dev/null
	$(BIN)/pytest $(PYTEST_ARGS)

## test-postgres: the whole suite again on PostgreSQL (.ci/start-postgres makes one)
test-postgres: $(DEV_DEPS)
	DATABASE_URL=$(POSTGRES_URL) $(BIN)/pytest $(PYTEST_ARGS)

## bench: enrollment throughput and console at scale, against the real server
bench: $(DEV_DEPS)
	$(BIN)/python -m bench $(BENCH_ARGS)

lint: $(DEV_DEPS)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(DEV_DEPS)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
