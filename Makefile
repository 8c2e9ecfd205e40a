# Mulu: `make demo` and `make test` work on a fresh clone; each creates .venv itself.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install demo test lint layers unit bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/mulu demo

lint: install
	$(BIN)/ruff check .

layers: install
	$(BIN)/lint-imports

unit: install
	$(BIN)/python -m pytest -q

test: lint layers unit

bench: install
	$(BIN)/python -m bench.catalog
	$(BIN)/python -m bench.ingest
	$(BIN)/python -m bench.transcode

clean:
	rm -rf $(VENV) .mulu .pytest_cache
