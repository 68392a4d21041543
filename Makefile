# The two commands of the README's quick start:
#   make demo   set up a virtualenv and run the whole flow against local simulators
#   make test   set up a virtualenv and run the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Kerberos needs gssapi and krb5, which compile against MIT Kerberos' headers
# (Debian: libkrb5-dev); without them `windows` still works through NTLM.
KERBEROS := $(if $(shell command -v krb5-config 2>/dev/null),[kerberos],)
DISTS := ./core[postgresql] ./plugins/format_json ./plugins/format_soap ./plugins/webhook \
	./plugins/bc ./plugins/nav ./plugins/auth_basic ./plugins/auth_windows$(KERBEROS) \
	./plugins/auth_oauth2 ./plugins/auth_entra ./testing ./server
STAMP := $(VENV)/.installed

.PHONY: demo test setup lint clean bench

$(STAMP): Makefile core/pyproject.toml plugins/*/pyproject.toml testing/pyproject.toml \
		server/pyproject.toml requirements-dev.txt
	@echo "make: creating the virtualenv $(VENV) (once; 'make clean' removes it)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@echo "make: installing writeback, its plugins and the test tools into $(VENV) (a few minutes the first time)"
	$(BIN)/python -m pip install --progress-bar on $(foreach d,$(DISTS),-e $(d)) -r requirements-dev.txt
	@echo "make: installed; next time this step is skipped"
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/writeback demo

# Three test processes: most tests wait on subprocesses and sockets, so on two
# cores the suite takes about half as long as in one process.
TEST_PROCESSES ?= 3
test: $(STAMP)
	$(BIN)/python -m pytest -q -n $(TEST_PROCESSES)

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV)
