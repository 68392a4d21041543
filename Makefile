# The two commands of the README's quick start:
#   make demo   set up a virtualenv and run the whole flow against local simulators
#   make test   set up a virtualenv and run the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DISTS := ./core ./plugins/format_json ./plugins/webhook ./plugins/auth_basic ./testing
STAMP := $(VENV)/.installed

.PHONY: demo test setup lint clean bench

$(STAMP): Makefile core/pyproject.toml plugins/*/pyproject.toml testing/pyproject.toml requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(foreach d,$(DISTS),-e $(d)) -r requirements-dev.txt
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/writeback demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV)
