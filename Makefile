# Storefront: `make demo` runs every pipeline on the embedded default data; `make test` runs the tests.
# Both set everything up first (virtualenv, pinned packages, Debian chromium, Dagster instance).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
export DAGSTER_HOME := $(CURDIR)/.dagster_home
export TF_CPP_MIN_LOG_LEVEL := 2
export STOREFRONT_CHROMIUM := /usr/bin/chromium

.PHONY: setup demo test ui lint bench pools clean

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

/usr/bin/chromium:
	@echo "installing Debian chromium (Playwright drives it; browser downloads are impossible here)"
	$$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get install -y -qq chromium >/dev/null

$(DAGSTER_HOME)/dagster.yaml:
	mkdir -p $(DAGSTER_HOME)
	ln -sf ../dagster.yaml $@

setup: $(BIN)/.installed /usr/bin/chromium $(DAGSTER_HOME)/dagster.yaml pools

# Pool limits live in the instance database, not in dagster.yaml.
pools: $(BIN)/.installed $(DAGSTER_HOME)/dagster.yaml
	@$(BIN)/dagster instance concurrency set browser 1 >/dev/null
	@$(BIN)/dagster instance concurrency set github 1 >/dev/null

demo: setup
	$(BIN)/storefront demo

test: setup lint
	$(BIN)/python -m pytest

ui: setup
	$(BIN)/dagster dev -m pipelines.definitions -h 127.0.0.1 -p 3000

bench: setup
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

# Style, formatting, and the layer contracts in pyproject.toml ([tool.importlinter]).
lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) .storefront .dagster_home *.egg-info
