# deepquant: every target sets up its own virtualenv on first use.
#   make demo   run the pipeline offline on the embedded sample
#   make test   run the test suite
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CONFIG ?= configs/sample.toml
PRICES ?=
MODEL ?= models
OUT ?= outputs
DEMO_DIR ?= runs/demo
START ?= 2017-01-01
END ?= 2026-07-31
PRICES_OPT := $(if $(PRICES),--prices $(PRICES),)

.PHONY: setup demo test lint format train infer backtest bench clean \
        docker-build docker-train docker-infer docker-test

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	@# torch first and pinned: on this machine pip takes the local CPU wheel for
	@# exactly this version; an unpinned install would pull a multi-GB CUDA build.
	$(BIN)/pip install --quiet 'torch==2.13.0'
	$(BIN)/pip install --quiet -e '.[train,infer,report,scale,dev]'
	touch $@

setup: $(VENV)/.installed

# The whole job on the embedded sample, offline: data summary, walk-forward
# training (a bundle per year), today's weights, and a 2017-2022 backtest.
demo: setup
	$(BIN)/deepquant data --config configs/sample.toml
	$(BIN)/deepquant train --config configs/sample.toml --start 2017-01-01 --end 2022-12-28 \
		--retrain-every 12 --out $(DEMO_DIR)/models
	$(BIN)/deepquant infer --config configs/sample.toml --model $(DEMO_DIR)/models \
		--out $(DEMO_DIR)/weights
	$(BIN)/deepquant backtest --config configs/sample.toml --model $(DEMO_DIR)/models \
		--start 2017-01-01 --end 2022-12-28 --out $(DEMO_DIR)/backtest
	@echo "demo outputs in $(DEMO_DIR)/: models/, weights/, backtest/report.html"

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
	$(BIN)/deepquant train --config $(CONFIG) $(PRICES_OPT) --out $(MODEL)

backtest: setup
	$(BIN)/deepquant backtest --config $(CONFIG) $(PRICES_OPT) --model $(MODEL) \
		--start $(START) --end $(END) --out $(OUT)/backtest

infer: setup
	$(BIN)/deepquant infer --config $(CONFIG) $(PRICES_OPT) --model $(MODEL) --out $(OUT)

# benchmarks/infer.py and benchmarks/backtest.py take --model (a folder of bundles): see README.
bench: setup
	$(BIN)/python benchmarks/features.py
	$(BIN)/python benchmarks/frontier.py
	$(BIN)/python benchmarks/train.py

clean:
	rm -rf runs .pytest_cache .mypy_cache .ruff_cache .hypothesis

# Containers (scripts/docker.sh; see docs/containers.md). Uses the Docker engine
# `docker` reaches, else starts a private one. CONFIG must lie under configs/
# (baked into the images at /app/configs); MODEL and OUT are host folders
# mounted at /models and /outputs. docker-test builds both images, then runs
# the container checks: pytest -m docker tests/docker (make test leaves them out).
docker-build:
	scripts/docker.sh build

docker-train:
	MODEL=$(MODEL) OUT=$(OUT) scripts/docker.sh train --config /app/$(CONFIG) --out /models

docker-infer:
	MODEL=$(MODEL) OUT=$(OUT) scripts/docker.sh infer --config /app/$(CONFIG) --model /models --out /outputs

docker-test: setup
	PYTEST=$(BIN)/pytest scripts/docker.sh test
