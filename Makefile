# The README's two commands are `make demo` and `make test`; everything else is what they need.
# Each target installs what it needs on a fresh Debian 12 machine and is quick the second time.

PYTHON      ?= python3
VENV        := .venv
BIN         := $(VENV)/bin
LAB_PREFIX  ?= lbr

.PHONY: demo test setup deps venv stubs lint unit process integration images images-deps lock integration-images bench bench-convergence bench-traffic bench-rr bench-restart bench-cli bench-announcer bench-hold bench-dataplane bench-dataplane-throughput bench-bfd bench-faults bench-failover bench-flows bench-soak clean lab-down

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

# every benchmark once, bounded (a short version of each); each rewrites its
# files in benchmarks/results/ (`git diff --stat benchmarks/results` shows which, `git checkout`
# restores the committed runs). The bench-* targets run one with its full committed defaults.
BENCH_SET := \
	"convergence --events 30" "traffic --step 8" "scale --runs 16x250" "restart --runs 3" \
	"cli --vips 4096 --runs 5 --phase-repeats 2" "hold --runs 1 --samples 10 --latency-rounds 1" \
	"bfd --runs 5" "announcer --trials 10 --idle-seconds 10" "dataplane --runs 1" \
	"dataplane_throughput --rounds 1" "faults --runs 1" "soak --events 30" "failover --runs 1" \
	"flows --runs 1"

bench: setup
	@for b in $(BENCH_SET); do echo "== lbroute bench $$b"; $(BIN)/lbroute bench $$b || exit 1; done

bench-failover: setup
	$(BIN)/lbroute bench failover

bench-flows: setup
	$(BIN)/lbroute bench flows

bench-faults: setup
	$(BIN)/lbroute bench faults

bench-soak: setup
	$(BIN)/lbroute bench soak

bench-convergence: setup
	$(BIN)/lbroute bench convergence

bench-traffic: setup
	$(BIN)/lbroute bench traffic

bench-rr: setup
	$(BIN)/lbroute bench scale

bench-restart: setup
	$(BIN)/lbroute bench restart

bench-cli: setup
	$(BIN)/lbroute bench cli --prefix $(LAB_PREFIX)

bench-announcer: setup
	$(BIN)/lbroute bench announcer --prefix $(LAB_PREFIX)

bench-bfd: setup
	$(BIN)/lbroute bench bfd

bench-hold: setup
	$(BIN)/lbroute bench hold --prefix $(LAB_PREFIX)

bench-dataplane: setup
	$(BIN)/lbroute bench dataplane --prefix $(LAB_PREFIX)

bench-dataplane-throughput: setup
	$(BIN)/lbroute bench dataplane_throughput --prefix $(LAB_PREFIX)

lab-down:
	$(BIN)/lbroute lab down --prefix $(LAB_PREFIX)

clean:
	rm -rf $(VENV) lbroute/gobgp/apipb .pytest_cache .mypy_cache .ruff_cache
