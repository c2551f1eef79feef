# house-price: `make run` serves the model; `make test` is the check to run after every change,
# `make test-slow`, `make test-browser` and `make check-container` the rest of what CI runs.
# The interpreter for .venv: the first of PYTHONS that is Python 3.11 to 3.13, unless
# `make PYTHON=/path/to/python` names one.
PYTHONS := python3.11 python3.12 python3.13 python3
PYTHON ?=
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= 1

LOCK_COMPILE = $(VENV)/bin/uv pip compile pyproject.toml --universal --python-version 3.11 \
	--generate-hashes --quiet --custom-compile-command "make lock"
DCLINT = npx --yes dclint@3.1.0

.PHONY: run test test-kernels test-slow lint pytest test-browser check-container check-lock lock bench venv dev clean

SUPPORTED = -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))'
FIND_PYTHON = for p in $(or $(PYTHON),$(PYTHONS)); do \
	command -v $$p >/dev/null 2>&1 && $$p $(SUPPORTED) 2>/dev/null && { echo $$p; exit 0; }; \
	done; exit 1

# The compiled parts are built by the install: a change to their sources installs again.
$(VENV)/.installed: pyproject.toml requirements.lock $(wildcard setup.py app/*/*.c)
	@test -x $(PY) || { \
	python=$$($(FIND_PYTHON)) || { \
	echo "house-price needs Python 3.11, 3.12 or 3.13; none found among: $(or $(PYTHON),$(PYTHONS))" >&2; \
	echo "Install one of them, or name it: make PYTHON=/path/to/python3.12" >&2; exit 1; }; \
	echo "creating $(VENV) with $$python"; $$python -m venv $(VENV); }
	$(PY) -m pip install --quiet --require-hashes --no-deps -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

# The test and lint tools (the dev extra), on top of the runtime: only the targets that need them.
$(VENV)/.dev: $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

venv: $(VENV)/.installed
dev: $(VENV)/.dev

run: venv
	$(PY) -m app.train --data data/sacramento.csv --plain --if-no-active
	HOUSE_PRICE_HOST=$(HOST) HOUSE_PRICE_PORT=$(PORT) HOUSE_PRICE_WORKERS=$(WORKERS) $(PY) -m app.serve

lint: dev
	$(VENV)/bin/ruff check app tests bench
	$(VENV)/bin/ruff format --check app tests bench
	$(VENV)/bin/mypy

# What a developer runs after every change: lint, and every module's unit and API tests on both
# storage engines, over every core (pytest-xdist). The real servers, crashes, outages, fuzzing and
# large data are `test-slow`, run one at a time since several of them time what they see.
pytest: dev
	$(VENV)/bin/pytest -n auto -m "not slow and not browser and not container and not engine"

test: lint pytest

# The tests that fit, again under each other OpenBLAS kernel this CPU runs (tests/kernels.py):
# sums in another order differ in the last digits, so a file written on one kernel is checked on
# another. CI runs it after `make test`.
FITTING_TESTS = tests/domain tests/cli tests/service tests/storage/test_former_release.py
test-kernels: dev
	@kernels=$$($(PY) -m tests.kernels); \
	if [ -z "$$kernels" ]; then echo "NumPy's BLAS is not OpenBLAS, or this CPU runs one kernel only" >&2; exit 1; fi; \
	for kernel in $$kernels; do \
	echo "OpenBLAS kernel: $$(OPENBLAS_CORETYPE=$$kernel $(PY) -m tests.kernels --chosen)"; \
	OPENBLAS_CORETYPE=$$kernel $(VENV)/bin/pytest -q -n auto \
	-m "not slow and not browser and not container and not engine" $(FITTING_TESTS) || exit 1; \
	done

test-slow: dev
	$(VENV)/bin/pytest -m "slow and not browser and not container and not engine"

test-browser: dev
	$(VENV)/bin/pytest -m browser

# The image's checks: lint the Dockerfile, validate the compose file against the Compose
# Specification, check the lock, replay the Dockerfile's steps without Docker, and, when a Docker
# engine answers, build the image and run it (tests/container/test_engine.py) and run the compose
# file's two profiles with Docker Compose v2 (tests/container/test_compose.py). Under CI an
# engine must answer (.ci/run starts one).
check-container: dev check-lock
	$(VENV)/bin/hadolint Dockerfile
	$(DCLINT) docker-compose.yml --max-warnings 0
	@if docker info >/dev/null 2>&1; then \
	echo "$(VENV)/bin/pytest -m 'container or engine'"; $(VENV)/bin/pytest -m "container or engine"; \
	elif [ -n "$$CI" ]; then echo "no Docker engine answers, and CI needs one" >&2; exit 1; \
	else echo "no Docker engine answers: the image is not built (engine test not run)"; \
	$(VENV)/bin/pytest -m container; fi

# Exact versions (with hashes) of everything the image installs, from pyproject.toml.
lock: dev
	$(LOCK_COMPILE) -o requirements.lock

# Fails when requirements.lock no longer matches pyproject.toml (existing pins are kept).
check-lock: dev
	@tmp=$$(mktemp -d) && cp requirements.lock $$tmp/requirements.lock \
	&& $(LOCK_COMPILE) -o $$tmp/requirements.lock \
	&& diff -u requirements.lock $$tmp/requirements.lock \
	&& echo "requirements.lock matches pyproject.toml"; status=$$?; rm -rf $$tmp; exit $$status

# The benchmark suite (not part of `make test`): prints one table; see bench/run.py.
bench: dev
	$(PY) -m bench.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
