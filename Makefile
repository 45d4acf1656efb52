# deepquant: every target sets up its own virtualenv on first use.
#   make demo   run the pipeline offline on the embedded sample
#   make test   run the test suite
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CONFIG ?= configs/sample.toml
PRICES ?=
MODELS ?= models
OUT ?= outputs
DEMO_DIR ?= runs/demo
PRICES_OPT := $(if $(PRICES),--prices $(PRICES),)

.PHONY: setup demo test lint format train infer backtest bench clean \
        docker-build docker-train docker-infer docker-test

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	@# torch first and pinned: on this machine pip takes the local CPU wheel for
	@# exactly this version; an unpinned install would pull a multi-GB CUDA build.
	$(BIN)/pip install --quiet 'torch==2.13.0'
	$(BIN)/pip install --quiet -e '.[train,infer,dev]'
	touch $@

setup: $(VENV)/.installed

demo: setup
	$(BIN)/deepquant data --config configs/sample.toml

test: setup
	$(BIN)/pytest -q

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

train: setup
	$(BIN)/deepquant train --config $(CONFIG) $(PRICES_OPT) --out $(MODELS)

infer: setup
	$(BIN)/deepquant infer --config $(CONFIG) $(PRICES_OPT) --model $(MODELS) --out $(OUT)

bench: setup
	$(BIN)/python benchmarks/features.py

clean:
	rm -rf runs .pytest_cache .mypy_cache .ruff_cache .hypothesis
