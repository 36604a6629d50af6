# softeq: all set-up goes through these targets. `make demo` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.softeq-installed
RUN_STAMP := $(VENV)/.softeq-run-installed

.PHONY: setup setup-run test test-all lint format bench demo clean

# softeq with its dev extras (tests, lint, Ray, Waymo reader).
setup: $(STAMP)

# softeq with what its command line needs (plots, progress bars): all `make demo`
# installs, some 15 s less than the dev extras on a fresh clone.
setup-run: $(RUN_STAMP)

# Re-install only when the packaging inputs change; otherwise both are no-ops.
$(RUN_STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[cli]'
	touch $(RUN_STAMP)

$(STAMP): $(RUN_STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

test: setup
	$(BIN)/python -m pytest -q

test-all: setup
	$(BIN)/python -m pytest -q -m ""

lint: setup
	$(BIN)/ruff check src tests benchmarks examples scripts
	$(BIN)/ruff format --check src tests benchmarks examples scripts

format: setup
	$(BIN)/ruff format src tests benchmarks examples scripts
	$(BIN)/ruff check --fix src tests benchmarks examples scripts

bench: setup
	$(BIN)/python benchmarks/bench_basis.py
	$(BIN)/python benchmarks/bench_step.py
	$(BIN)/python benchmarks/bench_tuner.py

# The main job: PER and the MLP on inertia with O(2)_z symmetry, each trained until
# its validation MSE stops improving (the converged preset). The two train side by
# side, one thread each (as `softeq bench` runs them, so PER's run is the grid's
# seed 0); the MLP's output follows PER's.
demo: setup-run
	@mkdir -p runs
	OMP_NUM_THREADS=1 $(BIN)/softeq train --task inertia:o2z --model mlp --seed 0 \
	    --out runs/demo-mlp > runs/demo-mlp.log 2>&1 & mlp=$$!; \
	OMP_NUM_THREADS=1 $(BIN)/softeq train --task inertia:o2z --model per --seed 0 \
	    --out runs/demo-per; status=$$?; \
	wait $$mlp || status=1; cat runs/demo-mlp.log; exit $$status

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
