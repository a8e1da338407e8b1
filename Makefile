# Two commands do everything: `make run` and `make test`.
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTHON ?= python3

export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: run test install lint services browser bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## run: install, migrate the SQLite database under var/, start console, data plane and worker
run: install
	mkdir -p var
	$(BIN)/tollgate db upgrade
	$(BIN)/tollgate welcome
	$(BIN)/honcho start -f Procfile

## test: install, start PostgreSQL/Redis if needed, install Chromium if needed, lint, run every test
test: install services browser
	$(BIN)/ruff check .
	$(BIN)/pytest

services:
	@bash .ci/services

browser:
	@command -v chromium >/dev/null 2>&1 || bash .ci/chromium

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
