# Mulu: `make demo` and `make test` work on a fresh clone; each creates .venv itself.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install browser demo test lint layers unit bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The portal's browser tests drive Debian's chromium with Playwright (no browser download).
CHROMIUM ?= /usr/bin/chromium
browser:
	@test -x $(CHROMIUM) || (command -v apt-get >/dev/null && \
		(apt-get install -y -q chromium >/dev/null || \
		 (apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null))) || \
		(echo "chromium missing: install Debian's chromium (apt-get install chromium)"; exit 1)

demo: install
	$(BIN)/mulu demo

lint: install
	$(BIN)/ruff check .

layers: install
	$(BIN)/lint-imports

unit: install
	$(BIN)/python -m pytest -q

test: lint layers browser unit

# bench/search runs Datasette beside Mulu: in its own virtualenv, so its dependencies never
# touch Mulu's pins.
DATASETTE_VENV ?= .venv-datasette
$(DATASETTE_VENV)/bin/datasette:
	$(PYTHON) -m venv $(DATASETTE_VENV)
	$(DATASETTE_VENV)/bin/python -m pip install --quiet datasette==0.65.5

bench: install $(DATASETTE_VENV)/bin/datasette
	$(BIN)/python -m bench.catalog
	$(BIN)/python -m bench.ingest
	$(BIN)/python -m bench.transcode
	$(BIN)/python -m bench.validate
	$(BIN)/python -m bench.freshness
	$(BIN)/python -m bench.search --datasette $(DATASETTE_VENV)/bin/datasette

clean:
	rm -rf $(VENV) $(DATASETTE_VENV) .mulu .pytest_cache
