# `make run` sets up a virtual environment with the runtime requirements only and starts the worker
# (the demo when there is no .env); `make test` adds the test tools and runs the whole suite. Both
# work on a fresh machine with Python 3.11+, and stop at once with a clear message on an older one.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTHON_CHECK := import sys; sys.exit(0 if sys.version_info >= (3, 11) else "error: feedbot needs \
	Python 3.11 or newer, but $(PYTHON) is Python " + sys.version.split()[0] + "; install python3.11 \
	and run e.g. make PYTHON=python3.11 run")

.PHONY: run test lint format bench clean

$(BIN)/.runtime: requirements.txt
	@$(PYTHON) -c '$(PYTHON_CHECK)'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(BIN)/.installed: $(BIN)/.runtime requirements-dev.txt
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
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

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
