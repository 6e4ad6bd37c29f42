# The README's two commands are `make demo` and `make test`; everything else is what they need.
# Each target installs what it needs on a fresh Debian 12 machine and is quick the second time.

PYTHON      ?= python3
VENV        := .venv
BIN         := $(VENV)/bin
LAB_PREFIX  ?= lbr

.PHONY: demo test setup deps venv stubs lint unit process integration bench bench-rr bench-restart bench-cli bench-announcer bench-bfd clean lab-down

demo: setup
	$(BIN)/lbroute lab demo --prefix $(LAB_PREFIX)

test: setup lint
	$(BIN)/pytest tests

setup: deps venv stubs

deps:
	@bash setup/install-debian-deps.sh

venv: $(BIN)/.installed
$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

# every time: generate.py compares a digest of its inputs (the protos behind /opt/lbroute/gobgp)
# and rewrites nothing when they are unchanged, so a new gobgpd gets new stubs
stubs: $(BIN)/.installed
	@$(BIN)/python protos/generate.py

lint: venv stubs
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy lbroute rr announcer
	$(BIN)/lint-imports

unit: setup
	$(BIN)/pytest -m unit tests

process: setup
	$(BIN)/pytest -m process tests

integration: setup
	$(BIN)/pytest -m integration tests

bench: setup
	$(BIN)/python -m benchmarks.convergence

bench-rr: setup
	$(BIN)/python -m benchmarks.rr_scale

bench-restart: setup
	$(BIN)/python -m benchmarks.rr_restart

bench-cli: setup
	$(BIN)/python -m benchmarks.cli_vips --prefix $(LAB_PREFIX)

bench-announcer: setup
	$(BIN)/python -m benchmarks.announcer --prefix $(LAB_PREFIX)

bench-bfd: setup
	$(BIN)/python -m benchmarks.bfd

lab-down:
	$(BIN)/lbroute lab down --prefix $(LAB_PREFIX)

clean:
	rm -rf $(VENV) lbroute/gobgp/apipb .pytest_cache .mypy_cache .ruff_cache
