# `make run` sets up a virtual environment with the runtime requirements only and starts the worker
# (the demo when there is no .env); `make test` adds the test tools and runs the whole suite. Both
# work on a fresh machine with Python 3.11+, and stop at once with a clear message on an older one.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTHON_CHECK := import sys; sys.exit(0 if sys.version_info >= (3, 11) else "error: feedbot needs \
	Python 3.11 or newer, but $(PYTHON) is Python " + sys.version.split()[0] + "; install python3.11 \
	and run e.g. make PYTHON=python3.11 run")

.PHONY: run test lint format bench clean lock audit

# Installs come from the lock files (every transitive dependency pinned with its hashes; pip
# refuses anything else). requirements*.txt are the hand-edited inputs: `make lock` rebuilds the
# locks from them.
# --no-compile leaves bytecode to the first import, which compiles only the modules a command
# uses. pip itself is upgraded first, from its own lock (requirements-pip.lock): pip 26 weighs
# the index's tens of thousands of candidate files in half the time of the pip 23 that Python
# 3.11's venv bundles (11.1 s against 5.5 s for requirements.lock, upgrade included: 6.8 s).
PIP := $(BIN)/pip
PIP_FLAGS := --quiet --disable-pip-version-check --no-compile

$(BIN)/.runtime: requirements-pip.lock requirements.lock
	@$(PYTHON) -c '$(PYTHON_CHECK)'
	$(PYTHON) -m venv $(VENV)
	$(PIP) install $(PIP_FLAGS) --require-hashes -r requirements-pip.lock
	$(PIP) install $(PIP_FLAGS) --require-hashes -r requirements.lock
	touch $@

$(BIN)/.installed: $(BIN)/.runtime requirements-dev.lock
	$(PIP) install $(PIP_FLAGS) --require-hashes -r requirements-dev.lock
	touch $@

run: $(BIN)/.runtime
	$(BIN)/python main.py run

test: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -n 2 -q

lint: $(BIN)/.installed
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: $(BIN)/.installed
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

bench: $(BIN)/.installed
	$(BIN)/python -m benchmarks.run

# Known vulnerabilities in the locked dependencies (needs the network: pip-audit asks PyPI's
# advisory database). pip-audit is a tool, not a dependency: it gets its own environment.
audit:
	$(PYTHON) -m venv .cache/audit
	.cache/audit/bin/pip install --quiet --disable-pip-version-check pip-audit
	.cache/audit/bin/pip-audit --strict --disable-pip --require-hashes -r requirements.lock
	.cache/audit/bin/pip-audit --strict --disable-pip --require-hashes -r requirements-dev.lock

# Rebuild the locks after editing requirements*.txt (needs the network).
LOCK_FLAGS := --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url \
	--no-emit-find-links
lock:
	$(PYTHON) -m venv .cache/lock
	.cache/lock/bin/pip install --quiet --disable-pip-version-check pip-tools
	.cache/lock/bin/pip-compile $(LOCK_FLAGS) -o requirements-pip.lock requirements-pip.txt
	.cache/lock/bin/pip-compile $(LOCK_FLAGS) -o requirements.lock requirements.txt
	.cache/lock/bin/pip-compile $(LOCK_FLAGS) -c requirements.lock -o requirements-dev.lock \
		requirements-dev.txt

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
