# house-price: `make run` serves the model, `make test` checks everything.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= 1

.PHONY: run test lint pytest test-browser venv clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

venv: $(VENV)/.installed

run: venv
	$(PY) -m app.train --data data/sacramento.csv --if-no-active
	HOUSE_PRICE_HOST=$(HOST) HOUSE_PRICE_PORT=$(PORT) HOUSE_PRICE_WORKERS=$(WORKERS) $(PY) -m app.serve

lint: venv
	$(VENV)/bin/ruff check app tests bench
	$(VENV)/bin/ruff format --check app tests bench
	$(VENV)/bin/mypy

pytest: venv
	$(VENV)/bin/pytest -m "not browser"

test: lint pytest

test-browser: venv
	$(VENV)/bin/pytest -m browser

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
