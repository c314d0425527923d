# Two commands for a fresh machine with Python 3.11+: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DAGSTER_HOME ?= $(CURDIR)/data/dagster_home
UI_PORT ?= 3000
PYTEST_WORKERS ?= 2

.PHONY: install demo test lint ui bench clean chromium

$(STAMP): pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp dagster.yaml $(DAGSTER_HOME)/dagster.yaml

demo: install $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/quant-assets demo

chromium:
	sh scripts/ensure-chromium.sh

lint: install
	$(BIN)/ruff check quant_assets quant_assets_tests bench

test: install lint chromium
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile --durations=15

ui: install $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p $(UI_PORT)

bench: install
	$(BIN)/python bench/raw.py
	$(BIN)/python bench/metrics.py
	$(BIN)/python bench/pipeline.py
	$(BIN)/python bench/dagster_floor.py

clean:
	rm -rf $(VENV) data/landing data/dagster_home data/*.duckdb
