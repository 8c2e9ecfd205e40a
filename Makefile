# Mulu: `make demo` and `make test` work on a fresh clone; each creates .venv itself.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install browser demo test test-fast lint layers unit bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The portal's browser tests drive Debian's chromium with Playwright (no browser download).
# `make browser` installs it (as root, with apt-get); `make test` calls it only when it is missing.
CHROMIUM ?= /usr/bin/chromium
browser:
	(apt-get update -q && apt-get install -y -q chromium) >/dev/null || \
		(echo "could not install chromium: run as root, or install Debian's chromium"; exit 1)

demo: install
	$(BIN)/mulu demo

# ruff check, ruff format --check, mypy and lint-imports: see scripts/check.
lint: install
	BIN=$(BIN) scripts/check

layers: install
	$(BIN)/lint-imports

# Two workers (the machine has two cores); a module stays on one worker, so its module-scoped
# fixtures (the demo district, a served workspace) are built once. Markers: pyproject.toml.
PYTEST := $(BIN)/python -m pytest -q -n 2 --dist loadscope

unit: install
	@test -x $(CHROMIUM) || $(MAKE) browser
	$(PYTEST)

# The quick loop while editing: no slow tests, no browser, no server processes.
test-fast: install
	$(PYTEST) -m "not slow and not browser and not server and not postgresql"

test: lint unit

# bench/search runs Datasette beside Mulu: in its own virtualenv, so its dependencies never
# touch Mulu's pins.
DATASETTE_VENV ?= .venv-datasette
$(DATASETTE_VENV)/bin/datasette:
	$(PYTHON) -m venv $(DATASETTE_VENV)
	$(DATASETTE_VENV)/bin/python -m pip install --quiet datasette==0.65.5

bench: install $(DATASETTE_VENV)/bin/datasette
	$(BIN)/python -m bench.catalog
	$(BIN)/python -m bench.catalog_json
	$(BIN)/python -m bench.ingest
	$(BIN)/python -m bench.transcode
	$(BIN)/python -m bench.validate
	$(BIN)/python -m bench.freshness
	$(BIN)/python -m bench.sharing
	$(BIN)/python -m bench.search --datasette $(DATASETTE_VENV)/bin/datasette

clean:
	rm -rf $(VENV) $(DATASETTE_VENV) .mulu .pytest_cache .mypy_cache .ruff_cache
