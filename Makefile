# softeq: all set-up goes through these targets. `make demo` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.softeq-installed

.PHONY: setup test test-all lint format bench demo clean

setup: $(STAMP)

# Re-install only when the packaging inputs change; otherwise `make setup` is a no-op.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

test: setup
	$(BIN)/python -m pytest -q

test-all: setup
	$(BIN)/python -m pytest -q -m ""

lint: setup
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/ruff format --check src tests benchmarks examples

format: setup
	$(BIN)/ruff format src tests benchmarks examples
	$(BIN)/ruff check --fix src tests benchmarks examples

bench: setup
	$(BIN)/python benchmarks/bench_basis.py
	$(BIN)/python benchmarks/bench_step.py

demo: setup
	$(BIN)/python examples/symmetry_core_demo.py
	$(BIN)/python examples/soft_penalty_training.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
