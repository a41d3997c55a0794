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

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "semon needs Python 3.11 or newer"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

$(NODE_STAMP): tests/support/pglite/package.json tests/support/pglite/package-lock.json
	cd tests/support/pglite && npm ci --no-audit --no-fund --loglevel=error
	touch $@

bench: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" scripts/bench

clean:
	rm -rf $(VENV) tests/support/pglite/node_modules .mypy_cache .ruff_cache .pytest_cache
