# The two commands of the README: `make demo` and `make test`. Both set up .venv first.
PYTHON ?= python3
EXTRAS ?= test
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install demo test lint

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install -q -e '.[$(EXTRAS)]'

$(VENV)/.installed-$(EXTRAS): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[$(EXTRAS)]'
	touch $@

demo: $(VENV)/.installed-$(EXTRAS)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py runserver 127.0.0.1:8000

test: $(VENV)/.installed-$(EXTRAS)
	$(BIN)/pytest

lint: $(VENV)/.installed-$(EXTRAS)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/mypy token_admin

# Benchmarks: PostgreSQL on 127.0.0.1:5432 and Redis db 9; ~10 minutes.
# BENCH_ARGS="--scale 0.1" for a quick run; wrk comes from Debian (apt-get install wrk).
.PHONY: bench
bench: $(VENV)/.installed-$(EXTRAS)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

# Scale benchmark: 20,000 vs 1,000,000 tokens on PostgreSQL, ~10 minutes the
# first time (seeding), less with BENCH_ARGS=--keep-db. BENCH_ARGS="--json" or "--explain".
.PHONY: bench-scale bench-smoke
bench-scale: $(VENV)/.installed-$(EXTRAS)
	$(BIN)/python bench/scale.py $(BENCH_ARGS)

# Both benches at a tiny size, so that they cannot rot (CI); under a minute, databases of their own.
bench-smoke: $(VENV)/.installed-$(EXTRAS)
	BENCH_SCALE_DB_PREFIX=bench_smoke_scale $(BIN)/python bench/scale.py --smoke
	BENCH_DB_NAME=bench_smoke_peers $(BIN)/python bench/run.py --scale 0.01 --seconds 1 --reps 2 \
		--revoke-reps 1 --rounds 10 --admin-tokens 90
