# Two commands do all set-up: `make serve` and `make test` (see README.md).
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
STAMP := $(VENV)/.installed

.PHONY: serve test check lint typecheck unit system-deps corpus bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

serve: $(STAMP)
	$(VENV)/bin/dockwatch serve $(ARGS)

system-deps:
	./scripts/install-system-packages.sh

corpus: system-deps
	./scripts/build-corpus.sh

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

typecheck: $(STAMP)
	$(VENV)/bin/mypy

unit: $(STAMP)
	$(VENV)/bin/pytest $(PYTEST_ARGS)

check: lint typecheck

test: system-deps corpus $(STAMP) check unit

bench: $(STAMP) corpus
	$(PY) bench/registry.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
