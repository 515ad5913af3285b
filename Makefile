# codedrop: the two quickstart commands (`make run`, `make test`) and the checks CI runs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint check bench setup dev clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@ $(VENV)/.installed

setup: $(VENV)/.installed
dev: $(VENV)/.installed-dev

## run: set up and run the service on the embedded default (SQLite, no Redis/S3/bot tokens)
run: $(VENV)/.installed
	$(BIN)/codedrop run --host $(HOST) --port $(PORT)

## test: set up and run the whole test suite (SQLite and MariaDB, real Redis and S3 server)
test: $(VENV)/.installed-dev
	$(BIN)/pytest

## lint: ruff (lint + format check), mypy, and the models-vs-migrations check
lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	CODEDROP_DATABASE_URL=sqlite://:memory: $(BIN)/codedrop check-migrations

check: lint test

## bench: the claim/upload benchmark on MariaDB (see README, Performance)
bench: $(VENV)/.installed-dev
	$(BIN)/python -m bench.claims

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
