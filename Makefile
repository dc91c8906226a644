# Two commands for a fresh machine: `make up` (run the platform) and `make test` (pass the suite).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q
STAMP      := $(VENV)/.scis-installed
TEST_STAMP := $(VENV)/.scis-test-installed
CHROMIUM   ?= /usr/bin/chromium

.PHONY: up down status install install-test system-deps lint typecheck test test-fast bench soak kind-e2e clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(PIP) install -c constraints.txt -e .
	@touch $@

$(TEST_STAMP): $(STAMP)
	$(PIP) install -c constraints.txt -e '.[test]'
	@touch $@

install: $(STAMP)
install-test: $(TEST_STAMP)

# Debian's Chromium for browser capture (Playwright cannot download browsers here).
system-deps:
	@if [ ! -x $(CHROMIUM) ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  elif command -v sudo >/dev/null; then sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "Chromium missing at $(CHROMIUM): install Debian's 'chromium' package for browser capture"; fi; \
	fi

up: install
	$(BIN)/scis up

down:
	$(BIN)/scis down

status:
	$(BIN)/scis status

lint: install-test
	$(BIN)/ruff check $(wildcard services operator tests bench)
	$(BIN)/mypy services $(wildcard operator/scis_operator)
	$(BIN)/lint-imports

test: install-test system-deps lint
	$(BIN)/python -m pytest -q

test-fast: install-test
	$(BIN)/python -m pytest -q -x -m "not browser and not cluster"

bench: install-test system-deps
	$(BIN)/python -m bench

# Bounded soak, not part of `make test`: 8 lives x 200 events/s for SOAK_SECONDS (default 1200).
SOAK_SECONDS ?= 1200
soak: install-test
	SOAK_SECONDS=$(SOAK_SECONDS) $(BIN)/python -m bench.soak

kind-e2e: install-test
	bash scripts/kind-e2e.sh

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
