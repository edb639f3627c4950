# Two set-up commands on a fresh machine: `make serve` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Installed-once stamps: the install is editable, so only a changed pyproject.toml (dependencies, entry
# points) needs pip again; without them every `make serve` reinstalled the package (18.7 s to listening).
STAMP := $(VENV)/.digipath-installed
STAMP_DEV := $(VENV)/.digipath-installed-dev

.PHONY: serve test lint install install-dev clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

# the dev extra includes everything the plain install has
$(STAMP_DEV): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP) $@

install: $(STAMP)

install-dev: $(STAMP_DEV)

## install and run the main job: the API on SQLite + a local MLflow store, bootstrapped with models.
## exec: the server replaces the recipe's shell and stops cleanly (exit 0) on Ctrl-C or SIGTERM
serve: install
	exec $(BIN)/digipath serve

## install with the dev extra and run the whole suite
test: install-dev
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

lint: install-dev
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .digipath .pytest_cache
