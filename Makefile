# Two commands do all set-up: `make serve` and `make test` (see README.md).
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
STAMP := $(VENV)/.installed

.PHONY: serve test check lint typecheck unit system-deps corpus bench clean bytecode

# Every dockwatch process (the server, each CLI call, each test server) imports ~700 modules; an
# environment with PYTHONDONTWRITEBYTECODE set would compile them all from source on every start
# (a third of a server's start-up CPU). Bytecode is compiled once here, and the variable is not
# passed on to what make runs.
unexport PYTHONDONTWRITEBYTECODE

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

bytecode: $(STAMP)
	$(PY) -m compileall -q -j0 src

serve: $(STAMP) bytecode
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

# pytest-xdist workers: one per core, at most PYTEST_WORKERS (tests/conftest.py says how a test
# that must not run beside others is grouped). `make unit PYTEST_WORKERS=0` runs in one process.
NPROC := $(shell nproc 2>/dev/null || echo 1)
PYTEST_WORKERS ?= 2
WORKERS := $(shell w=$(PYTEST_WORKERS); n=$(NPROC); [ $$w -gt $$n ] && w=$$n; echo $$w)
PYTEST_ARGS ?= $(if $(filter 0,$(WORKERS)),,-n $(WORKERS) --dist loadgroup)

unit: $(STAMP) bytecode
	$(VENV)/bin/pytest $(PYTEST_ARGS)

check: lint typecheck

test: system-deps corpus $(STAMP) check unit

bench: $(STAMP) corpus
	$(PY) bench/registry.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
