# `make demo` and `make test` do all set-up on a fresh machine with Python 3.11+.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint typecheck pytest docs thorough bench mutate clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/ticketflow demo

test: lint typecheck pytest docs package bench-quick

lint: $(STAMP)
	$(BIN)/ruff check src tests examples bench conftest.py
	$(BIN)/ruff format --check src tests examples bench conftest.py

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest

# The documentation site, built strictly (broken links or API docs fail the build).
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet -d .venv/site

# 100x the ci budget of every hypothesis test; for long local runs.
thorough: $(STAMP)
	HYPOTHESIS_PROFILE=thorough $(BIN)/pytest

# Mutation testing of the core with mutmut (niced; hours on 2 cores; CI does not run it):
# `make mutate MODULES="calendar sla"` for some modules, MUTATE_JOBS=2 for two at once.
mutate: $(STAMP)
	$(BIN)/python scripts/mutate.py $(MODULES)

bench: $(STAMP)
	for script in bench/bench_*.py; do $(BIN)/python $$script || exit 1; done

# Every bench script on small data (seconds each), so none of them rots; the numbers mean nothing.
bench-quick: $(STAMP)
	for script in bench/bench_*.py; do echo "== $$script --quick"; $(BIN)/python $$script --quick || exit 1; done

# The sdist and wheel build, and twine checks what the package index would show.
package: $(STAMP)
	rm -rf .venv/dist
	$(BIN)/python -m build --no-isolation --quiet --outdir .venv/dist . > /dev/null
	$(BIN)/twine check --strict .venv/dist/*

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis mutants .mutate
