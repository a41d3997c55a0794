# The two commands a newcomer needs: `make run` and `make test`.
# Both create the virtualenv and install what is missing first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NODE_STAMP := tests/support/pglite/node_modules/.installed

.PHONY: run test check install bench clean

run: $(STAMP)
	$(BIN)/semon up

test: $(STAMP) $(NODE_STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" scripts/test

check: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" scripts/check

install: $(STAMP)

# The first install takes a minute or two: each step says what it does, and
# pip and npm show their own progress (no --quiet), so it never looks stuck.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "semon needs Python 3.11 or newer"'
	@echo "==> [1/3] creating the virtualenv $(VENV)"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "==> [2/3] upgrading pip"
	$(BIN)/python -m pip install --upgrade pip
	@echo "==> [3/3] installing semon and its tools into $(VENV) (a minute or two the first time)"
	$(BIN)/python -m pip install -e '.[dev]'
	touch $@
	@echo "==> installed"

$(NODE_STAMP): tests/support/pglite/package.json tests/support/pglite/package-lock.json
	@echo "==> installing the PGlite TimescaleDB for the tests (npm ci)"
	cd tests/support/pglite && npm ci --no-audit --no-fund
	touch $@

bench: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" scripts/bench

clean:
	rm -rf $(VENV) tests/support/pglite/node_modules .mypy_cache .ruff_cache .pytest_cache
