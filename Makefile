# liqmap: the two quick-start commands are `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: lock run test test-slow rehearse test-lowest docker-test demo lint typecheck bench backtest clean

# Installs the versions CI tested: requirements-dev.lock pins every package (runtime pins = requirements.lock,
# which the Docker image installs). `make lock` regenerates both from pyproject.toml with uv.
$(STAMP): pyproject.toml requirements-dev.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c requirements-dev.lock -e '.[dev]'
	touch $(STAMP)

lock: $(STAMP)
	$(BIN)/pip install --quiet uv
	$(BIN)/python -m uv pip compile pyproject.toml --python-version 3.11 --python-platform linux -o requirements.lock
	$(BIN)/python -m uv pip compile pyproject.toml --extra dev --python-version 3.11 --python-platform linux \
	  -o requirements-dev.lock

## Set up and run the bot (offline on the synthetic market unless LIQMAP_SOURCE says otherwise).
run: $(STAMP)
	$(BIN)/liqmap run

## Set up, lint, type-check and run the test suite (a few minutes; the slower suites have their own targets).
test: $(STAMP)
	$(BIN)/ruff check bot tests
	$(BIN)/mypy
	$(BIN)/pytest -m "not slow" --ignore=tests/rehearsal

## Real processes over time: replay as live, SIGKILL and resume, replicas, a PostgreSQL restart.
test-slow: $(STAMP)
	$(BIN)/pytest -m slow --ignore=tests/rehearsal

## Rehearsals: whole `liqmap run` processes on the virtual clock over real data, under faults.
rehearse: $(STAMP)
	$(BIN)/pytest tests/rehearsal -s

## The dependency floors: the lowest allowed versions, installed in .venv-lowest, against a fast subset.
test-lowest:
	bash .ci/lowest.sh

## Build the image and run it and the compose file for real (root; installs Docker when missing).
docker-test:
	bash .ci/docker.sh

## Offline end-to-end run on a seeded synthetic market: prints clusters, writes the README images.
## A fixed as-of time keeps the images reproducible; run `liqmap demo --out out` for the current time.
## Then, when ../shared/data is beside the repo, a short replay of a recorded crash day to the console (alerts included).
REPLAY_DEMO ?= ../shared/data/okx-btc-2026-03
demo: $(STAMP)
	$(BIN)/liqmap demo --out docs/images --at 2026-06-01T00:00Z
	@if [ -d "$(REPLAY_DEMO)" ]; then $(BIN)/liqmap demo --replay "$(REPLAY_DEMO)" --hours 12; \
	else echo "(replay demo skipped: $(REPLAY_DEMO) not found; set REPLAY_DEMO=DIR)"; fi

lint: $(STAMP)
	$(BIN)/ruff check bot tests
	$(BIN)/ruff format --check bot tests

typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/liqmap bench --json

backtest: $(STAMP)
	@for d in ../shared/data/*/; do \
	  if [ -f "$$d/liquidations.csv" ] || [ -f "$$d/liquidation_bars.csv" ]; then \
	    echo "== $$d"; $(BIN)/liqmap backtest --data "$$d" --halves || exit 1; fi; \
	  if [ ! -f "$$d/liquidations.csv" ] && [ -f "$$d/liquidation_bars.csv" ]; then \
	    echo "== $$d (estimated prices)"; $(BIN)/liqmap backtest --data "$$d" --estimate-prices || exit 1; fi; \
	done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache out
