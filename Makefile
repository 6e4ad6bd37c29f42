# The README's two commands are `make demo` and `make test`; everything else is what they need.
# Each target installs what it needs on a fresh Debian 12 machine and is quick the second time.

PYTHON      ?= python3
VENV        := .venv
BIN         := $(VENV)/bin
LAB_PREFIX  ?= lbr

.PHONY: demo test setup deps venv stubs lint unit process integration images images-deps lock integration-images bench bench-rr bench-restart bench-cli bench-announcer bench-hold bench-dataplane bench-dataplane-throughput bench-bfd clean lab-down

demo: setup
	$(BIN)/lbroute lab demo --prefix $(LAB_PREFIX)

test: setup lint images
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
	$(BIN)/mypy lbroute rr announcer dataplane
	$(BIN)/lint-imports

unit: setup
	$(BIN)/pytest -m unit tests

process: setup
	$(BIN)/pytest -m process tests

integration: setup
	$(BIN)/pytest -m integration tests

# the three images (deploy/*.Dockerfile), tagged with a digest of what goes into them: built
# only when this tree's are missing (a few seconds to find out); a base image is made with
# debootstrap first where there is none (deploy/base-image.sh)
images: setup images-deps
	$(BIN)/python -m lbroute.lab.images build

images-deps:
	@bash setup/install-podman.sh

# the integration tests that run the LB pods and RRs from the images (also part of `test`)
integration-images: setup images
	$(BIN)/pytest -m images tests

# deploy/requirements.txt, the images' pinned Python packages, from pyproject.toml
lock: venv
	$(BIN)/python -m lbroute.lab.images lock

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

bench-hold: setup
	$(BIN)/python -m benchmarks.hold --prefix $(LAB_PREFIX)

bench-dataplane: setup
	$(BIN)/python -m benchmarks.dataplane_held --prefix $(LAB_PREFIX)

bench-dataplane-throughput: setup
	$(BIN)/python -m benchmarks.dataplane_throughput --prefix $(LAB_PREFIX)

lab-down:
	$(BIN)/lbroute lab down --prefix $(LAB_PREFIX)

clean:
	rm -rf $(VENV) lbroute/gobgp/apipb .pytest_cache .mypy_cache .ruff_cache
