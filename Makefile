# Storefront: `make demo` runs every pipeline on the embedded default data; `make test` runs the tests.
# Both set everything up first (virtualenv, pinned packages, Debian chromium, Dagster instance).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
export DAGSTER_HOME := $(CURDIR)/.dagster_home
export TF_CPP_MIN_LOG_LEVEL := 2
export STOREFRONT_CHROMIUM := /usr/bin/chromium

.PHONY: setup demo test ui lint bench pools clean postgresql dotenv

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

/usr/bin/chromium:
	@echo "installing Debian chromium (Playwright drives it; browser downloads are impossible here)"
	$$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get install -y -qq chromium >/dev/null

# The PostgreSQL test starts a throwaway server from Debian's binaries; under CI=true it fails without them.
postgresql:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  echo "installing Debian postgresql (the PostgreSQL test starts a throwaway server)"; \
	  $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get install -y -qq postgresql >/dev/null; }

$(DAGSTER_HOME)/dagster.yaml:
	mkdir -p $(DAGSTER_HOME)
	ln -sf ../dagster.yaml $@

# Dagster loads `.env` from the working directory for every `dagster`/`dg` command: run from the repo root
# without DAGSTER_HOME they use this instance. `${DAGSTER_HOME:-...}` keeps an exported one (tests use their own).
dotenv:
	@grep -qs '^DAGSTER_HOME=' .env || echo 'DAGSTER_HOME=$${DAGSTER_HOME:-$(DAGSTER_HOME)}' >> .env

setup: $(BIN)/.installed /usr/bin/chromium postgresql $(DAGSTER_HOME)/dagster.yaml dotenv pools

# Pool limits live in the instance database, not in dagster.yaml.
pools: $(BIN)/.installed $(DAGSTER_HOME)/dagster.yaml
	@$(BIN)/dagster instance concurrency set browser 1 >/dev/null
	@$(BIN)/dagster instance concurrency set github 1 >/dev/null

demo: setup
	$(BIN)/storefront demo

# Tests run on every core (pytest-xdist); tests sharing one cluster carry the same `xdist_group`.
test: setup lint
	$(BIN)/python -m pytest -n auto --dist loadgroup

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
	sed -i '/^DAGSTER_HOME=/d' .env 2>/dev/null || true
