# Two commands for a fresh machine: `make up` (run the platform) and `make test` (pass the suite).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q
STAMP      := $(VENV)/.scis-installed
TEST_STAMP := $(VENV)/.scis-test-installed
CHROMIUM   ?= /usr/bin/chromium
ARGS       ?=

# The web UI (services/web): npm ci when package-lock.json changes, a build when any of its sources do.
WEB         := services/web
NPM         ?= npm
WEB_DEPS    := $(WEB)/node_modules/.scis-npm-ci
WEB_SOURCES := $(shell find $(WEB)/src $(WEB)/public $(WEB)/index.html $(WEB)/vite.config.ts $(WEB)/tsconfig.json $(WEB)/postcss.config.cjs $(WEB)/package-lock.json -type f 2>/dev/null | LC_ALL=C sort)
WEB_HASH    := $(shell cat $(WEB_SOURCES) /dev/null | sha256sum | cut -c1-16)
WEB_BUILD   := $(WEB)/dist/.build-$(WEB_HASH)

.PHONY: up down status install install-test system-deps lint typecheck test test-fast bench soak kind-e2e clean \
	web web-deps web-api web-test images image-deps test-images

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(PIP) install -c constraints.txt -e '.[all]'
	@touch $@

$(TEST_STAMP): $(STAMP)
	$(PIP) install -c constraints.txt -e '.[all,test]'
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
	@if ! command -v pdftotext >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils >/dev/null; \
	  elif command -v sudo >/dev/null; then sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils >/dev/null; \
	  else echo "Poppler missing: install Debian's 'poppler-utils' package for the report tests"; fi; \
	fi

$(WEB_DEPS): $(WEB)/package-lock.json
	@command -v $(NPM) >/dev/null || { echo "npm not found: the web UI needs Node 20 (see README)"; exit 1; }
	cd $(WEB) && $(NPM) ci --no-audit --no-fund
	@touch $@

$(WEB_BUILD): $(WEB_DEPS)
	cd $(WEB) && $(NPM) run build
	@touch $@

web-deps: $(WEB_DEPS)
web: $(WEB_BUILD)

# After an API change: regenerate the OpenAPI documents and the UI's typed client (tests/web checks them).
web-api: install $(WEB_DEPS)
	$(BIN)/python -m scis.api_docs $(WEB)/openapi
	cd $(WEB) && node scripts/gen-api.mjs

web-test: $(WEB_DEPS)
	cd $(WEB) && $(NPM) test

up: install web
	$(BIN)/scis up $(ARGS)

down:
	$(BIN)/scis down

status:
	$(BIN)/scis status

lint: install-test
	$(BIN)/ruff check $(wildcard services operator tests bench images)
	$(BIN)/ruff format --check $(wildcard services operator tests bench images)
	$(BIN)/mypy services $(wildcard operator/scis_operator)
	$(BIN)/lint-imports

test: install-test system-deps lint web web-test
	$(BIN)/python -m pytest -q

test-fast: install-test system-deps web
	$(BIN)/python -m pytest -q -x -m "not browser and not cluster"

bench: install-test system-deps
	$(BIN)/python -m bench

# Bounded soak, not part of `make test`: 8 lives x 200 events/s for SOAK_SECONDS (default 1200).
SOAK_SECONDS ?= 1200
soak: install-test
	SOAK_SECONDS=$(SOAK_SECONDS) $(BIN)/python -m bench.soak

# Images (images/Dockerfile) built with buildah, no daemon or registry needed: images/build.py.
image-deps:
	@if ! command -v buildah >/dev/null || ! command -v debootstrap >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq buildah debootstrap >/dev/null; \
	  elif command -v sudo >/dev/null; then sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq buildah debootstrap >/dev/null; \
	  else echo "buildah and debootstrap missing: install Debian's 'buildah' and 'debootstrap' packages"; exit 1; fi; \
	fi

images: install image-deps
	$(BIN)/python -m images.build $(ARGS)

# Slow (minutes per image on a shared machine), so not in `make test`; .ci/run calls it after.
test-images: install-test system-deps images
	$(BIN)/python -m pytest -q -m images tests/images

kind-e2e: install-test
	bash scripts/kind-e2e.sh

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache $(WEB)/node_modules $(WEB)/dist
