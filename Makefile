# Two commands on a fresh clone (see README): `make run` and `make test`.
# Each creates .venv on first use and reuses it afterwards; `make run` installs what the
# bot needs to run, `make test` adds the test and lint tools.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11 or newer is needed"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $(RUN_STAMP)

$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(TEST_STAMP) $(RUN_STAMP)

run: $(RUN_STAMP)
	$(BIN)/portpass serve --demo

test: $(TEST_STAMP)
	$(BIN)/python -m pytest

lint: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy core bot storage fakes benchmarks

bench: $(TEST_STAMP)
	$(BIN)/python benchmarks/import_bench.py
	$(BIN)/python benchmarks/import_webhooks.py
	$(BIN)/python benchmarks/verify_bench.py

clean:
	rm -rf $(VENV) build *.egg-info
