# The two commands of the README: `make demo` and `make test`. Both set up .venv first.
PYTHON ?= python3
EXTRAS ?= test
PORT ?= 8000
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install demo test lint

$(BIN)/python:
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install -q --disable-pip-version-check --upgrade pip > $(VENV)/pip.log 2>&1 \
		|| { cat $(VENV)/pip.log; exit 1; }

install: $(BIN)/python
	$(BIN)/pip install -q -e '.[$(EXTRAS)]'

# One stamp per set of extras: `make demo` needs only `example`, `make test` the `test` extra.
$(VENV)/.installed-%: pyproject.toml | $(BIN)/python
	@echo "Installing .[$*] into $(VENV) (first run only)..."
	@$(BIN)/pip install -q --disable-pip-version-check -e '.[$*]' > $(VENV)/pip.log 2>&1 \
		|| { cat $(VENV)/pip.log; exit 1; }
	@touch $@

# The demo needs only the `example` extra. Quiet: the server's log goes to .venv/demo-server.log,
# and one line says where to go once the server answers (the page there walks you through it).
# --noreload: one process, which the shell stops when it exits (Ctrl-C ends it quietly).
DEMO_URL = http://127.0.0.1:$(PORT)/
demo: $(VENV)/.installed-example
	@$(BIN)/python -c "import socket; socket.create_server(('127.0.0.1', $(PORT))).close()" 2>/dev/null \
		|| { echo "Port $(PORT) is taken: try make demo PORT=8001"; exit 1; }
	@$(BIN)/python manage.py migrate --noinput -v 0
	@$(BIN)/python manage.py seed_demo -v 0 --base-url $(DEMO_URL)
	@$(BIN)/python manage.py runserver --noreload 127.0.0.1:$(PORT) > $(VENV)/demo-server.log 2>&1 & server=$$!; \
	trap 'kill $$server 2>/dev/null' EXIT; trap 'exit 0' INT TERM; \
	until $(BIN)/python -c "import urllib.request as u; u.urlopen('$(DEMO_URL)', timeout=1)" 2>/dev/null; do \
		kill -0 $$server 2>/dev/null || { cat $(VENV)/demo-server.log; exit 1; }; sleep 0.3; \
	done; \
	echo "Demo ready: open $(DEMO_URL) (admin / admin; Ctrl-C stops it)"; \
	wait $$server || { cat $(VENV)/demo-server.log; exit 1; }

# Coverage of token_admin, printed for the files not fully covered; the run fails under
# fail_under ([tool.coverage.report] in pyproject.toml). Measuring costs about 60% more CPU
# time on Python 3.11: `make test COVERAGE=` runs without it.
COVERAGE ?= --cov --cov-report=term:skip-covered
test: $(VENV)/.installed-$(EXTRAS)
	$(BIN)/pytest $(COVERAGE)

# The host configuration (tests/settings_host.py: a custom user model with a UUID key and e-mail
# login, DOT's six models swapped, German, Europe/Berlin, every URL module under /api/v2/,
# restrictive DRF defaults): the whole suite again, on SQLite, without coverage. The browser
# tests are left to `make test`; tests of the example project itself skip (it has auth.User).
.PHONY: test-host
test-host: $(VENV)/.installed-$(EXTRAS)
	$(BIN)/pytest --ds=tests.settings_host -m "not browser"

# The modules whose race tests need concurrent writers, in the host configuration on the
# database DATABASE_URL names (CI: PostgreSQL); they skip on SQLite.
HOST_RACE_TESTS = tests/test_races.py tests/test_race_windows.py tests/test_account_event_races.py \
	tests/test_account_event_mint.py tests/test_not_before_races.py tests/test_events_outbox.py \
	tests/test_events_workers.py tests/test_refresh_revoked_in_flight.py tests/test_session_cap.py \
	tests/test_redteam_findings.py
.PHONY: test-host-races
test-host-races: $(VENV)/.installed-$(EXTRAS)
	$(BIN)/pytest --ds=tests.settings_host $(HOST_RACE_TESTS)

# The hooks of .pre-commit-config.yaml, checking instead of rewriting, plus the migrations check.
# django-upgrade has no --check: it exits non-zero when it would rewrite a file (and does).
lint: $(VENV)/.installed-$(EXTRAS)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	git ls-files -z '*.py' | xargs -0 $(BIN)/django-upgrade --target-version 5.2
	$(BIN)/python manage.py makemigrations --check --dry-run
	DJANGO_SETTINGS_MODULE=tests.settings_host $(BIN)/python -m django makemigrations --check --dry-run -v 0
	$(BIN)/mypy token_admin

# The built wheel in a new project (scripts/wheel_smoke.sh): sdist and wheel, twine check, a slice
# of the suite from the sdist, then Python 3.13 + Django 6.1 + the README's quick start, checked
# over HTTP; Redis on 127.0.0.1:6379 (the quick start's cache). About a minute on a free machine.
.PHONY: wheel-smoke
wheel-smoke: $(VENV)/.installed-$(EXTRAS)
	bash scripts/wheel_smoke.sh

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

# The hot path against a stock DOT project (bench/hot_path.py): two gunicorn servers, wrk,
# 5 alternated rounds, ~3 minutes; PostgreSQL database bench_hot_path and Redis db 11
# (BENCH_HOT_DB, BENCH_HOT_REDIS_URL). BENCH_ARGS="--json FILE" or "--profile".
.PHONY: bench-hot
bench-hot: $(VENV)/.installed-$(EXTRAS)
	$(BIN)/python bench/hot_path.py $(BENCH_ARGS)

# The benches at a tiny size, so that they cannot rot (CI); about two minutes, databases of their own.
bench-smoke: $(VENV)/.installed-$(EXTRAS)
	BENCH_SCALE_DB_PREFIX=bench_smoke_scale $(BIN)/python bench/scale.py --smoke
	BENCH_DB_NAME=bench_smoke_peers $(BIN)/python bench/run.py --scale 0.01 --seconds 1 --reps 2 \
		--revoke-reps 1 --rounds 10 --admin-tokens 90
	BENCH_HOT_DB=bench_smoke_hot $(BIN)/python bench/hot_path.py --rounds 1 --seconds 1 --warmup 0 --users 5
